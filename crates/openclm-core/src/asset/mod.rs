//! Checking an uploaded asset before anything is stored: what the bytes are, whether OpenCLM
//! accepts them, and, for an HTML5 presentation package, whether the zip is safe to unpack.
//!
//! Everything here is pure: the functions read only the bytes they are given, and refuse by
//! returning an [`AssetError`] that names the file (or the entry inside a package) and the reason.
//! No input makes them panic.
//!
//! # The rules
//! - **Type by content, never by name.** [`sniff`] reads magic numbers and the shape of text. The
//!   name's extension and the type the client declared must then agree with it: an `.exe` named
//!   `.png` is refused as the executable it is.
//! - **No executables anywhere.** Windows, Linux and macOS programs, Java classes, WebAssembly,
//!   Android DEX, OLE compound files and `#!` scripts are recognised and refused.
//! - **What an upload may be** ([`check_file`]): PDF, PNG, JPEG, GIF, WebP, MP4, WebM, or a zip
//!   (a presentation package, then checked whole by [`check_package`]).
//! - **What a package may hold**: HTML, CSS, JavaScript, JSON, plain text, SVG, the image and
//!   video types above, PDF, and WOFF/WOFF2 fonts. HTML, scripts and SVG exist only inside
//!   packages, which are served under a strict Content-Security-Policy.
//! - **SVG** is accepted only inside packages, and even there is refused when it holds a script,
//!   an event-handler attribute (`onload=`…), a `javascript:` link, `<foreignObject>`, an entity
//!   declaration, or any reference outside itself (an `href`, `src` or `url(…)` that is not a
//!   `#fragment` or an inline raster image). The check reads the text conservatively: an SVG it
//!   cannot vouch for is refused, not repaired.
//! - **Zip-slip**: an entry name that is absolute, climbs with `..`, holds a backslash, a colon
//!   (drive letters, streams), a NUL or another control character, an empty or `.` segment, or is
//!   longer than [`Limits::max_path_bytes`], is refused; so are two names equal but for case,
//!   symbolic links, encrypted entries and compression other than stored or deflate.
//! - **Zip bombs** are refused without inflating them: the entry count, the total declared
//!   inflated size and each entry's compression ratio are checked from the central directory
//!   first, and entries that share bytes (overlapping entries, the densest bombs) are refused;
//!   then every entry is inflated with a hard byte limit of its declared size, so a header
//!   that lies about the size is caught after at most one byte more than it claimed.
//!
//! # The limits' defaults ([`Limits::default`])
//! 200 MiB per upload; 500 MiB inflated per package; 2,000 entries; a compression ratio of at
//! most 100:1 for any entry that inflates past 1 MiB; entry paths of at most 255 bytes; at most
//! 500 slides.

mod manifest;
mod package;
mod sniff;
mod svg;
#[cfg(test)]
mod testzip;

pub use manifest::{MANIFEST_PATH, Manifest, Slide};
pub use package::{Package, PackageFile, check_package};
pub use sniff::{ExecutableKind, MediaType, sniff};

use sha2::{Digest, Sha256};

use crate::FieldError;

/// How much an upload may weigh and what a package may expand to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes one upload (a file or a whole zipped package) may have.
    pub max_upload_bytes: u64,
    /// The most bytes a package's entries may inflate to, together.
    pub max_package_inflated_bytes: u64,
    /// The most entries (files and folders) a package's zip may list.
    pub max_entries: usize,
    /// The highest compression ratio (inflated : compressed) an entry may have…
    pub max_ratio: u64,
    /// …once it inflates to more than this many bytes (small, repetitive files compress well).
    pub ratio_free_bytes: u64,
    /// The longest entry path, in bytes.
    pub max_path_bytes: usize,
    /// The most slides a package's manifest may list.
    pub max_slides: usize,
}

const MIB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_upload_bytes: 200 * MIB,
            max_package_inflated_bytes: 500 * MIB,
            max_entries: 2_000,
            max_ratio: 100,
            ratio_free_bytes: MIB,
            max_path_bytes: 255,
            max_slides: 500,
        }
    }
}

/// An upload that passed [`check_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFile {
    pub name: String,
    pub media_type: MediaType,
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

/// Why an upload was refused, and what was refused: the upload itself (by its name), one entry
/// of a package (by its path inside the zip), or the package as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetError {
    #[error("{name} {problem}")]
    Upload { name: String, problem: Problem },
    #[error("{path} in the package {problem}")]
    Entry { path: String, problem: Problem },
    #[error("the package {problem}")]
    Package { problem: Problem },
}

impl AssetError {
    pub fn problem(&self) -> &Problem {
        match self {
            AssetError::Upload { problem, .. }
            | AssetError::Entry { problem, .. }
            | AssetError::Package { problem } => problem,
        }
    }
}

impl From<AssetError> for FieldError {
    /// The field is the entry's path for an entry of a package, and `file` otherwise.
    fn from(error: AssetError) -> Self {
        match error {
            AssetError::Entry { path, problem } => FieldError::new(path, problem.to_string()),
            other => FieldError::new("file", other.to_string()),
        }
    }
}

/// The reason an asset is refused, worded to follow the name of what is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("is {size} bytes, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("is not a type OpenCLM recognises by its content")]
    Unrecognised,
    #[error("is {0} by its content, whatever its name says; executables are never accepted")]
    Executable(ExecutableKind),
    #[error("is {0}, which is not accepted as an upload on its own (only inside a package)")]
    NotAnUpload(MediaType),
    #[error("is {0}, which a presentation package may not hold")]
    NotInPackage(MediaType),
    #[error("has no extension, and needs one that agrees with its content")]
    NoExtension,
    #[error("has an extension OpenCLM does not accept (.{0})")]
    UnknownExtension(String),
    #[error("is named .{extension} but its content is {media_type}")]
    ExtensionMismatch {
        extension: String,
        media_type: MediaType,
    },
    #[error("was declared as {declared:?} but its content is {media_type}")]
    DeclaredMismatch {
        declared: String,
        media_type: MediaType,
    },
    #[error("is an SVG that {0}")]
    UnsafeSvg(&'static str),
    #[error("is not a zip archive")]
    NotAZip,
    #[error("is not a readable zip: {0}")]
    Corrupt(String),
    #[error("is not a safe path: it {0}")]
    UnsafePath(&'static str),
    #[error("is named twice (names are compared ignoring case)")]
    Duplicate,
    #[error("is a symbolic link, which a package may not hold")]
    Symlink,
    #[error("is encrypted")]
    Encrypted,
    #[error("uses a compression method other than stored or deflate")]
    UnsupportedCompression,
    #[error("lists {count} entries, over the limit of {limit}")]
    TooManyEntries { count: usize, limit: usize },
    #[error("would inflate to {size} bytes, over the limit of {limit}")]
    InflatesTooLarge { size: u64, limit: u64 },
    #[error("compresses {ratio}:1, over the limit of {limit}:1")]
    RatioTooHigh { ratio: u64, limit: u64 },
    #[error("has entries that share their bytes (an overlapping zip bomb)")]
    Overlapping,
    #[error("inflates past the {declared} bytes its header declares")]
    InflatesPastDeclared { declared: u64 },
    #[error("holds no files")]
    Empty,
    #[error("is not a valid manifest: {0}")]
    Manifest(String),
}

/// Checks one uploaded file: its size, that its content is a type OpenCLM accepts as an upload,
/// and that its name's extension and the `declared_type` (a MIME type; parameters such as
/// `; charset=…` are ignored) agree with that content. A zip passes here as
/// [`MediaType::Zip`]; [`check_package`] then checks what it holds.
pub fn check_file(
    name: &str,
    declared_type: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<CheckedFile, AssetError> {
    let refuse = |problem| AssetError::Upload {
        name: printable(name.as_bytes()),
        problem,
    };
    let size = bytes.len() as u64;
    if size > limits.max_upload_bytes {
        return Err(refuse(Problem::TooLarge {
            size,
            limit: limits.max_upload_bytes,
        }));
    }
    let sniffed = sniff(bytes).ok_or_else(|| refuse(Problem::Unrecognised))?;
    if let MediaType::Executable(kind) = sniffed {
        return Err(refuse(Problem::Executable(kind)));
    }
    let media_type = named_type(name, sniffed).map_err(refuse)?;
    if !is_upload_type(media_type) {
        return Err(refuse(Problem::NotAnUpload(media_type)));
    }
    let declared = declared_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if declared != media_type.mime() && !media_type.mime_aliases().contains(&declared.as_str()) {
        return Err(refuse(Problem::DeclaredMismatch {
            declared: printable(declared_type.as_bytes()),
            media_type,
        }));
    }
    Ok(CheckedFile {
        name: name.to_owned(),
        media_type,
        size,
        sha256: hex::encode(Sha256::digest(bytes)),
    })
}

/// Checks one file inside a package: its content is a type a package may hold, agreeing with
/// its extension, and an SVG is safe. Returns the type it is served as.
fn check_entry(path: &str, bytes: &[u8]) -> Result<MediaType, Problem> {
    let sniffed = sniff(bytes).ok_or(Problem::Unrecognised)?;
    if let MediaType::Executable(kind) = sniffed {
        return Err(Problem::Executable(kind));
    }
    let media_type = named_type(path, sniffed)?;
    if matches!(media_type, MediaType::Zip) {
        return Err(Problem::NotInPackage(media_type));
    }
    if media_type == MediaType::Svg {
        svg::check(bytes).map_err(Problem::UnsafeSvg)?;
    }
    Ok(media_type)
}

fn is_upload_type(media_type: MediaType) -> bool {
    use MediaType::*;
    matches!(media_type, Pdf | Png | Jpeg | Gif | Webp | Mp4 | Webm | Zip)
}

/// The type a file is served as, given its name and its sniffed content, when the two agree.
/// Text without a stronger shape takes its kind (an HTML fragment, CSS, JavaScript, plain text)
/// from the name.
fn named_type(name: &str, sniffed: MediaType) -> Result<MediaType, Problem> {
    use MediaType::*;
    let extension = name
        .rsplit_once('.')
        .map(|(stem, ext)| (stem, ext.to_ascii_lowercase()))
        .filter(|(stem, _)| !stem.is_empty() && !stem.ends_with('/'))
        .map(|(_, ext)| ext)
        .ok_or(Problem::NoExtension)?;
    let named = match extension.as_str() {
        "pdf" => Pdf,
        "png" => Png,
        "jpg" | "jpeg" => Jpeg,
        "gif" => Gif,
        "webp" => Webp,
        "mp4" | "m4v" => Mp4,
        "webm" => Webm,
        "zip" => Zip,
        "woff" => Woff,
        "woff2" => Woff2,
        "html" | "htm" => Html,
        "svg" => Svg,
        "json" => Json,
        "txt" => Text,
        "css" => Css,
        "js" | "mjs" => Javascript,
        _ => return Err(Problem::UnknownExtension(printable(extension.as_bytes()))),
    };
    let agrees = match (named, sniffed) {
        // HTML may leave out `<html>`, `<head>` and `<body>`, so a fragment sniffs as text.
        (Html | Css | Javascript | Text, Text) => true,
        (Javascript | Json | Text, Json) => true,
        (named, sniffed) => named == sniffed,
    };
    if agrees {
        Ok(named)
    } else {
        Err(Problem::ExtensionMismatch {
            extension,
            media_type: sniffed,
        })
    }
}

/// A name fit for an error message: lossily decoded, control characters escaped, cut to 200
/// characters.
fn printable(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out: String = text
        .chars()
        .take(200)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
