//! Asset bytes kept in the database, content-addressed: each blob is stored under the SHA-256 of
//! its bytes, the same key an S3-compatible object store uses.

use openclm_core::Timestamp;

use crate::Result;

/// The largest blob a store keeps, in bytes (256 MiB).
pub const MAX_BLOB_BYTES: usize = 256 << 20;

/// Bytes to store, with the media type they were checked to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlob {
    pub media_type: String,
    pub bytes: bytes::Bytes,
}

/// The SHA-256 of a blob's bytes, lowercase hex: the key it is stored and read under.
pub type BlobKey = String;

/// A stored blob, its bytes verified against its key when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub sha256: BlobKey,
    pub media_type: String,
    pub size: u64,
    pub bytes: bytes::Bytes,
}

crate::store::store_trait! {
    /// Asset bytes kept in the database, content-addressed by their SHA-256.
    pub trait Blobs {
        /// Stores each blob under the SHA-256 of its bytes and returns the keys, in order, all in
        /// one transaction. The same bytes stored again are one blob: the media type first stored
        /// with them stays. Nothing is stored when one blob is refused: over
        /// [`MAX_BLOB_BYTES`] (the error names `blobs[i].bytes`) or with a media type that is not
        /// `type/subtype` (`blobs[i].media_type`).
        async fn put_blobs(&self, blobs: Vec<NewBlob>, now: Timestamp) -> Result<Vec<BlobKey>>;
        /// The blob stored under `sha256`. The error names `sha256` when it is not 64 lowercase
        /// hex characters; [`StoreError::Corrupt`](crate::StoreError::Corrupt) when the bytes
        /// read do not hash to it.
        async fn get_blob(&self, sha256: String) -> Result<Option<Blob>>;
        /// Which of these keys are stored, in the order asked, each once. The error names
        /// `sha256[i]` when a key is not 64 lowercase hex characters.
        async fn blob_exists(&self, sha256: Vec<String>) -> Result<Vec<BlobKey>>;
    }
}
