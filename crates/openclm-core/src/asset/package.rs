//! An HTML5 presentation package (a zip of slides) checked whole: safe names, no bomb, every
//! entry a web type, and its manifest, before a single byte of it is stored.

use std::io::{Cursor, Read};

use sha2::{Digest, Sha256};
use zip::{CompressionMethod, ZipArchive};

use super::MANIFEST_PATH;
use super::{AssetError, Limits, Manifest, MediaType, Problem, check_entry, printable, sniff};

/// A package that passed [`check_package`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Every file (folders are not listed), in path order.
    pub files: Vec<PackageFile>,
    pub manifest: Manifest,
    /// SHA-256, lowercase hex, over the manifest's canonical JSON and every file's path and
    /// bytes in path order: any byte changed anywhere changes it.
    pub content_hash: String,
}

/// One file of a package: its path inside the zip (checked safe), its type, its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    pub path: String,
    pub media_type: MediaType,
    pub bytes: Vec<u8>,
}

/// An entry as the central directory describes it, checked before anything is inflated.
struct Listed {
    index: usize,
    path: String,
    declared_size: u64,
}

/// Checks an uploaded presentation package and returns its files and manifest. The zip's
/// central directory is checked first (names, count, declared sizes and ratios, overlaps), so a bomb is
/// refused without being inflated; entries are then inflated one at a time, each stopped one
/// byte past its declared size.
pub fn check_package(bytes: &[u8], limits: &Limits) -> Result<Package, AssetError> {
    let whole = |problem| AssetError::Package { problem };
    let size = bytes.len() as u64;
    if size > limits.max_upload_bytes {
        return Err(whole(Problem::TooLarge {
            size,
            limit: limits.max_upload_bytes,
        }));
    }
    if sniff(bytes) != Some(MediaType::Zip) {
        return Err(whole(Problem::NotAZip));
    }
    let mut archive =
        ZipArchive::new(Cursor::new(bytes)).map_err(|e| whole(Problem::Corrupt(e.to_string())))?;
    if archive.len() > limits.max_entries {
        return Err(whole(Problem::TooManyEntries {
            count: archive.len(),
            limit: limits.max_entries,
        }));
    }
    if archive.has_duplicate_names() {
        return Err(whole(Problem::Corrupt(
            "two entries have the same name".into(),
        )));
    }

    let listed = list_entries(&archive, limits)?;
    // Entries that share bytes are how the densest bombs multiply one compressed kernel; no zip
    // tool writes them.
    match archive.has_overlapping_entries() {
        Ok(false) => {}
        Ok(true) => return Err(whole(Problem::Overlapping)),
        Err(e) => return Err(whole(Problem::Corrupt(e.to_string()))),
    }
    let mut files = Vec::with_capacity(listed.len());
    for entry in listed {
        let refuse = |problem| AssetError::Entry {
            path: entry.path.clone(),
            problem,
        };
        let bytes = inflate(&mut archive, &entry).map_err(refuse)?;
        let media_type = check_entry(&entry.path, &bytes).map_err(refuse)?;
        files.push(PackageFile {
            path: entry.path,
            media_type,
            bytes,
        });
    }
    if files.is_empty() {
        return Err(whole(Problem::Empty));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let manifest_error = |reason| AssetError::Entry {
        path: MANIFEST_PATH.to_owned(),
        problem: Problem::Manifest(reason),
    };
    let manifest = match files.iter().find(|f| f.path == MANIFEST_PATH) {
        Some(file) => Manifest::parse(&file.bytes).map_err(manifest_error)?,
        None => Manifest::from_files(&files),
    };
    manifest.validate(&files, limits).map_err(manifest_error)?;
    let content_hash = content_hash(&manifest, &files);
    Ok(Package {
        files,
        manifest,
        content_hash,
    })
}

/// The files to inflate, from the central directory alone: every name safe and unique, no
/// symlink, no encryption, and the declared sizes and ratios within the limits.
fn list_entries(
    archive: &ZipArchive<Cursor<&[u8]>>,
    limits: &Limits,
) -> Result<Vec<Listed>, AssetError> {
    let mut listed = Vec::new();
    let mut names = rustc_hash::FxHashSet::default();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_data(index)
            .map_err(|e| AssetError::Package {
                problem: Problem::Corrupt(e.to_string()),
            })?;
        let raw = entry.name_raw();
        let path = check_path(raw, limits.max_path_bytes).map_err(|reason| AssetError::Entry {
            path: printable(raw),
            problem: Problem::UnsafePath(reason),
        })?;
        let refuse = |problem| AssetError::Entry {
            path: path.clone(),
            problem,
        };
        if !names.insert(path.trim_end_matches('/').to_lowercase()) {
            return Err(refuse(Problem::Duplicate));
        }
        if entry.is_symlink() {
            return Err(refuse(Problem::Symlink));
        }
        if entry.encrypted() {
            return Err(refuse(Problem::Encrypted));
        }
        if entry.is_dir() {
            continue;
        }
        if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(refuse(Problem::UnsupportedCompression));
        }
        let declared_size = entry.size();
        if declared_size > limits.ratio_free_bytes {
            let ratio = declared_size / entry.compressed_size().max(1);
            if ratio > limits.max_ratio {
                return Err(refuse(Problem::RatioTooHigh {
                    ratio,
                    limit: limits.max_ratio,
                }));
            }
        }
        total = total.saturating_add(declared_size);
        if total > limits.max_package_inflated_bytes {
            return Err(AssetError::Package {
                problem: Problem::InflatesTooLarge {
                    size: total,
                    limit: limits.max_package_inflated_bytes,
                },
            });
        }
        listed.push(Listed {
            index,
            path,
            declared_size,
        });
    }
    Ok(listed)
}

/// Inflates one entry, reading at most one byte past its declared size, so a header that lies
/// costs no more memory than the truth would have.
fn inflate(archive: &mut ZipArchive<Cursor<&[u8]>>, entry: &Listed) -> Result<Vec<u8>, Problem> {
    let file = archive
        .by_index(entry.index)
        .map_err(|e| Problem::Corrupt(e.to_string()))?;
    let declared = entry.declared_size;
    // The declared size is already within the package limit; the first allocation is still
    // kept modest, so that a header which overstates costs nothing until bytes arrive.
    let mut bytes = Vec::with_capacity(declared.min(1 << 20) as usize);
    file.take(declared.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| {
            // The `zip` crate stops a stream itself one byte past the declared size, with this
            // error; the `take` above is the same bound, kept so that it never depends on that.
            if e.to_string().contains("larger than its declared") {
                Problem::InflatesPastDeclared { declared }
            } else {
                Problem::Corrupt(e.to_string())
            }
        })?;
    if bytes.len() as u64 > declared {
        return Err(Problem::InflatesPastDeclared { declared });
    }
    if (bytes.len() as u64) < declared {
        return Err(Problem::Corrupt(format!(
            "inflates to {} of the {declared} bytes its header declares",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The entry name as a safe relative path (a folder keeps its trailing `/`), or why it is not.
fn check_path(raw: &[u8], max_bytes: usize) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("is empty");
    }
    if raw.len() > max_bytes {
        return Err("is over the length limit");
    }
    if raw.contains(&0) {
        return Err("holds a NUL byte");
    }
    let name = std::str::from_utf8(raw).map_err(|_| "is not UTF-8")?;
    if name.chars().any(char::is_control) {
        return Err("holds a control character");
    }
    if name.contains('\\') {
        return Err("holds a backslash");
    }
    if name.starts_with('/') {
        return Err("is absolute");
    }
    if name.contains(':') {
        return Err("names a drive or a stream (':')");
    }
    let relative = name.strip_suffix('/').unwrap_or(name);
    for segment in relative.split('/') {
        match segment {
            "" => return Err("has an empty segment"),
            "." => return Err("has a '.' segment"),
            ".." => return Err("climbs out of the package ('..')"),
            _ => {}
        }
    }
    Ok(name.to_owned())
}

/// SHA-256 over a version tag, the manifest's canonical JSON, then each file's path and bytes
/// in path order, every part prefixed with its length so no two packages can run together.
fn content_hash(manifest: &Manifest, files: &[PackageFile]) -> String {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    part(b"openclm-package-v1");
    part(&manifest.canonical_json());
    for file in files {
        part(file.path.as_bytes());
        part(&file.bytes);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn only_plain_relative_names_are_safe_paths() {
        for safe in ["index.html", "slides/02.html", "img/", "a b/é.png"] {
            assert_eq!(check_path(safe.as_bytes(), 255).as_deref(), Ok(safe));
        }
        let unsafe_names: [&[u8]; 12] = [
            b"",
            b"../evil.html",
            b"slides/../../evil.html",
            b"/etc/passwd",
            b"..\\evil.html",
            b"C:/Windows/evil.html",
            b"a\0.html",
            b"a//b.html",
            b"./a.html",
            b"a\n.html",
            b"\xff.html",
            &[b'a'; 256],
        ];
        for name in unsafe_names {
            assert!(check_path(name, 255).is_err(), "{name:?}");
        }
    }
}
