//! The database itself: migrations, whether it can be written now, row counts, integrity and
//! the digests that compare two databases.

use serde::Serialize;

use crate::{Result, TableDigest};

/// Row counts, for reports and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreCounts {
    pub hcps: u64,
    pub content: u64,
    pub events: u64,
    pub consent_records: u64,
    pub api_keys: u64,
}

/// What an integrity check found; empty `problems` means sound.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IntegrityReport {
    pub problems: Vec<String>,
}

crate::store::store_trait! {
    /// The database itself: migrations, whether it can be written now, row counts, integrity and
    /// the digests that compare two databases.
    pub trait Maintenance {
        /// Applies pending migrations; returns the versions applied now.
        async fn migrate(&self) -> Result<Vec<i64>>;

        /// Whether the database can be written now: `Err` with
        /// [`StoreError::Unavailable`](crate::StoreError::Unavailable) naming the cause when it
        /// cannot. Cheap while writes succeed; after a write was refused it probes with a real
        /// write, so that it turns healthy again once the cause is gone.
        async fn check_writable(&self) -> Result<()>;

        async fn counts(&self) -> Result<StoreCounts>;
        /// Checks the database's own integrity and OpenCLM's invariants (each event once, indexes
        /// whole).
        async fn check_integrity(&self) -> Result<IntegrityReport>;

        /// Row count and content hash of every table of the logical schema, from one snapshot:
        /// equal on two databases exactly when they hold the same data.
        async fn table_digests(&self) -> Result<Vec<TableDigest>>;
    }
}
