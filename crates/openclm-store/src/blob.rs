//! What both backends' blob storage shares: the checks of what is stored and asked for, the key
//! of some bytes, and the verification of bytes read back. The backends only read and write rows.

use openclm_core::FieldError;
use sha2::{Digest, Sha256};

use crate::{Blob, BlobKey, MAX_BLOB_BYTES, NewBlob, Result, StoreError};

/// The longest media type kept.
const MAX_MEDIA_TYPE_CHARS: usize = 255;

/// A blob checked for storage, with its key.
pub(crate) struct KeyedBlob {
    pub sha256: BlobKey,
    pub media_type: String,
    pub bytes: bytes::Bytes,
}

impl KeyedBlob {
    /// The size as both backends store it.
    pub fn size(&self) -> i64 {
        // At most MAX_BLOB_BYTES, so it fits.
        self.bytes.len() as i64
    }
}

/// Checks every blob before any is stored and keys each by the SHA-256 of its bytes.
pub(crate) fn keyed(blobs: Vec<NewBlob>) -> Result<Vec<KeyedBlob>> {
    for (i, blob) in blobs.iter().enumerate() {
        if blob.bytes.len() > MAX_BLOB_BYTES {
            return Err(StoreError::Invalid(FieldError::new(
                format!("blobs[{i}].bytes"),
                format!(
                    "is {} bytes, more than the {} a blob may hold",
                    blob.bytes.len(),
                    MAX_BLOB_BYTES
                ),
            )));
        }
        check_media_type(&blob.media_type)
            .map_err(|e| StoreError::Invalid(e.within(&format!("blobs[{i}]"))))?;
    }
    Ok(blobs
        .into_iter()
        .map(|blob| KeyedBlob {
            sha256: sha256_hex(&blob.bytes),
            media_type: blob.media_type,
            bytes: blob.bytes,
        })
        .collect())
}

fn check_media_type(media_type: &str) -> std::result::Result<(), FieldError> {
    let well_formed = media_type.len() <= MAX_MEDIA_TYPE_CHARS
        && media_type.split_once('/').is_some_and(|(kind, subtype)| {
            !kind.is_empty()
                && !subtype.is_empty()
                && !subtype.contains('/')
                && media_type.bytes().all(|b| b.is_ascii_graphic())
        });
    if well_formed {
        Ok(())
    } else {
        Err(FieldError::new(
            "media_type",
            format!(
                "must be a type/subtype of at most {MAX_MEDIA_TYPE_CHARS} visible ASCII characters"
            ),
        ))
    }
}

/// Checks that `key` is a SHA-256 in lowercase hex; the error names `field`.
pub(crate) fn check_key(field: &str, key: &str) -> Result<()> {
    if key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(StoreError::Invalid(FieldError::new(
            field,
            "is not a SHA-256 in lowercase hex (64 characters 0-9, a-f)",
        )))
    }
}

/// Checks every key asked for and drops repeats, keeping the first of each.
pub(crate) fn checked_keys(keys: Vec<String>) -> Result<Vec<String>> {
    let mut unique = Vec::with_capacity(keys.len());
    for (i, key) in keys.into_iter().enumerate() {
        check_key(&format!("sha256[{i}]"), &key)?;
        if !unique.contains(&key) {
            unique.push(key);
        }
    }
    Ok(unique)
}

/// A blob read back, once its bytes are shown to be the ones its key names.
pub(crate) fn verified(
    sha256: String,
    media_type: String,
    size: i64,
    bytes: Vec<u8>,
) -> Result<Blob> {
    let actual = sha256_hex(&bytes);
    if actual != sha256 {
        return Err(StoreError::Corrupt(format!(
            "blob {sha256}: the stored bytes hash to {actual}"
        )));
    }
    if u64::try_from(size).ok() != Some(bytes.len() as u64) {
        return Err(StoreError::Corrupt(format!(
            "blob {sha256}: recorded as {size} bytes but {} are stored",
            bytes.len()
        )));
    }
    Ok(Blob {
        sha256,
        media_type,
        size: bytes.len() as u64,
        bytes: bytes.into(),
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(media_type: &str, bytes: &'static [u8]) -> NewBlob {
        NewBlob {
            media_type: media_type.into(),
            bytes: bytes::Bytes::from_static(bytes),
        }
    }

    #[test]
    fn blobs_are_keyed_by_the_sha256_of_their_bytes() {
        let keyed = keyed(vec![blob("text/plain", b"abc")]).unwrap();
        assert_eq!(
            keyed[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(keyed[0].size(), 3);
    }

    #[test]
    fn media_types_must_be_type_and_subtype() {
        for bad in [
            "",
            "text",
            "text/",
            "/plain",
            "text/plain/x",
            "text /plain",
            "tëxt/plain",
        ] {
            let e = keyed(vec![blob("image/png", b""), blob(bad, b"x")])
                .err()
                .unwrap();
            assert!(
                matches!(&e, StoreError::Invalid(f) if f.field == "blobs[1].media_type"),
                "{bad:?}: {e}"
            );
        }
        assert!(keyed(vec![blob("application/vnd.openclm+zip", b"x")]).is_ok());
    }

    #[test]
    fn keys_must_be_lowercase_hex_sha256() {
        let good = "a".repeat(64);
        assert!(check_key("sha256", &good).is_ok());
        for bad in [
            "a".repeat(63),
            "a".repeat(65),
            "A".repeat(64),
            "g".repeat(64),
        ] {
            assert!(
                matches!(check_key("sha256", &bad), Err(StoreError::Invalid(f)) if f.field == "sha256")
            );
        }
        let keys = checked_keys(vec![good.clone(), "b".repeat(64), good.clone()]).unwrap();
        assert_eq!(keys, vec![good, "b".repeat(64)]);
    }

    #[test]
    fn bytes_that_do_not_hash_to_their_key_are_corrupt() {
        let key = sha256_hex(b"abc");
        assert!(verified(key.clone(), "text/plain".into(), 3, b"abc".to_vec()).is_ok());
        let e = verified(key.clone(), "text/plain".into(), 3, b"abd".to_vec()).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)));
        let e = verified(key, "text/plain".into(), 4, b"abc".to_vec()).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt(_)));
    }
}
