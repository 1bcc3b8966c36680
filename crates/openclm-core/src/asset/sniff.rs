//! What a file is, read from its bytes (magic numbers and text shape), never from its name.

use std::fmt;

/// A kind of file OpenCLM tells apart by content. Executables are recognised so they can be
/// refused by name; they are never accepted anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    Pdf,
    Png,
    Jpeg,
    Gif,
    Webp,
    Mp4,
    Webm,
    Zip,
    Woff,
    Woff2,
    Html,
    Svg,
    Json,
    /// UTF-8 text with no stronger shape. Whether it is CSS, JavaScript or plain text is then
    /// decided by the file's extension, which must agree (see `check_file`).
    Text,
    Css,
    Javascript,
    Executable(ExecutableKind),
}

/// The executable formats `sniff` recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutableKind {
    /// `MZ`: a Windows program or library (.exe, .dll, .scr).
    WindowsPe,
    /// `\x7fELF`: a Linux or Unix program.
    Elf,
    /// A macOS program (any of the four Mach-O magics).
    MachO,
    /// `CA FE BA BE`: a Java class, or a macOS universal binary, which share the magic.
    JavaClassOrUniversalMachO,
    /// `#!`: a script for an interpreter.
    Script,
    /// `\0asm`: a WebAssembly module.
    WebAssembly,
    /// `dex\n`: an Android program.
    AndroidDex,
    /// `D0 CF 11 E0`: an OLE compound file (.msi installers, macro-bearing Office files).
    CompoundFile,
}

impl MediaType {
    /// The MIME type OpenCLM serves the file as.
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Png => "image/png",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Gif => "image/gif",
            MediaType::Webp => "image/webp",
            MediaType::Mp4 => "video/mp4",
            MediaType::Webm => "video/webm",
            MediaType::Zip => "application/zip",
            MediaType::Woff => "font/woff",
            MediaType::Woff2 => "font/woff2",
            MediaType::Html => "text/html",
            MediaType::Svg => "image/svg+xml",
            MediaType::Json => "application/json",
            MediaType::Text => "text/plain",
            MediaType::Css => "text/css",
            MediaType::Javascript => "text/javascript",
            MediaType::Executable(_) => "application/octet-stream",
        }
    }

    /// Other MIME names clients commonly declare for the same type.
    pub(crate) fn mime_aliases(self) -> &'static [&'static str] {
        match self {
            MediaType::Jpeg => &["image/jpg", "image/pjpeg"],
            MediaType::Zip => &["application/x-zip-compressed", "application/x-zip"],
            MediaType::Javascript => &["application/javascript", "application/x-javascript"],
            MediaType::Woff => &["application/font-woff"],
            MediaType::Mp4 => &["video/x-m4v"],
            _ => &[],
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaType::Executable(kind) => write!(f, "{kind}"),
            other => f.write_str(other.mime()),
        }
    }
}

impl fmt::Display for ExecutableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExecutableKind::WindowsPe => "a Windows executable (PE)",
            ExecutableKind::Elf => "a Linux executable (ELF)",
            ExecutableKind::MachO => "a macOS executable (Mach-O)",
            ExecutableKind::JavaClassOrUniversalMachO => {
                "a Java class or macOS universal executable"
            }
            ExecutableKind::Script => "a script (#!)",
            ExecutableKind::WebAssembly => "a WebAssembly module",
            ExecutableKind::AndroidDex => "an Android executable (DEX)",
            ExecutableKind::CompoundFile => "an OLE compound file (installer or macro document)",
        })
    }
}

/// Magic numbers at offset 0, executables first so that nothing else can claim them.
const MAGICS: &[(&[u8], MediaType)] = &[
    (b"MZ", MediaType::Executable(ExecutableKind::WindowsPe)),
    (b"\x7fELF", MediaType::Executable(ExecutableKind::Elf)),
    (
        b"\xfe\xed\xfa\xce",
        MediaType::Executable(ExecutableKind::MachO),
    ),
    (
        b"\xfe\xed\xfa\xcf",
        MediaType::Executable(ExecutableKind::MachO),
    ),
    (
        b"\xce\xfa\xed\xfe",
        MediaType::Executable(ExecutableKind::MachO),
    ),
    (
        b"\xcf\xfa\xed\xfe",
        MediaType::Executable(ExecutableKind::MachO),
    ),
    (
        b"\xca\xfe\xba\xbe",
        MediaType::Executable(ExecutableKind::JavaClassOrUniversalMachO),
    ),
    (b"#!", MediaType::Executable(ExecutableKind::Script)),
    (b"\0asm", MediaType::Executable(ExecutableKind::WebAssembly)),
    (b"dex\n", MediaType::Executable(ExecutableKind::AndroidDex)),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        MediaType::Executable(ExecutableKind::CompoundFile),
    ),
    (b"%PDF-", MediaType::Pdf),
    (b"\x89PNG\r\n\x1a\n", MediaType::Png),
    (b"\xff\xd8\xff", MediaType::Jpeg),
    (b"GIF87a", MediaType::Gif),
    (b"GIF89a", MediaType::Gif),
    (b"PK\x03\x04", MediaType::Zip),
    (b"PK\x05\x06", MediaType::Zip),
    (b"wOFF", MediaType::Woff),
    (b"wOF2", MediaType::Woff2),
];

/// The ISO base media brands that are MP4 video (not HEIC or AVIF images, which share `ftyp`).
const MP4_BRANDS: &[&[u8; 4]] = &[
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ",
    b"M4VH", b"M4VP", b"dash", b"mmp4", b"MSNV",
];

/// The media type of `bytes` by content alone, or `None` when it is none OpenCLM knows.
/// Text is recognised only as valid UTF-8 without control characters; its finer kind (HTML,
/// SVG, JSON) comes from its shape, and CSS and JavaScript come back as `Text`.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    if let Some((_, media_type)) = MAGICS.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some(*media_type);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some(MediaType::Webp);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        return MP4_BRANDS
            .iter()
            .any(|known| known.as_slice() == brand)
            .then_some(MediaType::Mp4);
    }
    if bytes.starts_with(b"\x1a\x45\xdf\xa3") {
        // EBML: WebM only when its header names the `webm` doctype (plain Matroska is not served).
        let head = &bytes[..bytes.len().min(64)];
        return head
            .windows(4)
            .any(|w| w == b"webm")
            .then_some(MediaType::Webm);
    }
    sniff_text(bytes)
}

fn sniff_text(bytes: &[u8]) -> Option<MediaType> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).ok()?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
    {
        return None;
    }
    let body = text.trim_start();
    if body.starts_with('<') {
        let head: String = body.chars().take(4096).collect::<String>().to_lowercase();
        let html = ["<!doctype html", "<html", "<head", "<body"]
            .iter()
            .any(|tag| head.contains(tag));
        if head.contains("<svg") && !html {
            return Some(MediaType::Svg);
        }
        if html {
            return Some(MediaType::Html);
        }
    }
    if (body.starts_with('{') || body.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(body).is_ok()
    {
        return Some(MediaType::Json);
    }
    Some(MediaType::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_formats_are_told_by_their_magic() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(MediaType::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some(MediaType::Png));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some(MediaType::Jpeg));
        assert_eq!(sniff(b"GIF89a\x01\0"), Some(MediaType::Gif));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(MediaType::Webp));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42\0\0\0\0"), Some(MediaType::Mp4));
        assert_eq!(sniff(b"\0\0\0\x18ftypheic\0\0\0\0"), None);
        assert_eq!(
            sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"),
            Some(MediaType::Webm)
        );
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), Some(MediaType::Zip));
        assert_eq!(sniff(b"wOF2\0\x01\0\0"), Some(MediaType::Woff2));
        assert_eq!(sniff(&[0x00, 0x01, 0x02, 0xff]), None);
    }

    #[test]
    fn executables_are_recognised_as_such() {
        let exe = |kind| Some(MediaType::Executable(kind));
        assert_eq!(sniff(b"MZ\x90\0\x03"), exe(ExecutableKind::WindowsPe));
        assert_eq!(sniff(b"\x7fELF\x02\x01"), exe(ExecutableKind::Elf));
        assert_eq!(sniff(b"\xcf\xfa\xed\xfe\x07"), exe(ExecutableKind::MachO));
        assert_eq!(
            sniff(b"\xca\xfe\xba\xbe\0\0\0\x34"),
            exe(ExecutableKind::JavaClassOrUniversalMachO)
        );
        assert_eq!(sniff(b"#!/bin/sh\nrm -rf /\n"), exe(ExecutableKind::Script));
        assert_eq!(sniff(b"\0asm\x01\0\0\0"), exe(ExecutableKind::WebAssembly));
    }

    #[test]
    fn text_is_told_by_its_shape() {
        assert_eq!(
            sniff(b"\xef\xbb\xbf  <!DOCTYPE html><html><body>Hi</body></html>"),
            Some(MediaType::Html)
        );
        assert_eq!(
            sniff(br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>"#),
            Some(MediaType::Svg)
        );
        assert_eq!(sniff(br#" {"slides": []} "#), Some(MediaType::Json));
        assert_eq!(sniff(b"body { color: red }"), Some(MediaType::Text));
        assert_eq!(sniff(b"{ not json"), Some(MediaType::Text));
        assert_eq!(sniff(b"text with a \x07 bell"), None);
    }
}
