//! The database itself: migrations, whether it can be written now, row counts, integrity and
//! the digests that compare two databases.

use crate::IntegrityReport;
use crate::Result;
use crate::StoreCounts;
use crate::TableDigest;

crate::store::store_trait! {
    /// The database itself: migrations, whether it can be written now, row counts, integrity and
    /// the digests that compare two databases.
    pub trait Maintenance {
        /// Applies pending migrations; returns the versions applied now.
        async fn migrate(&self) -> Result<Vec<i64>>;

        /// Whether the database can be written now: `Err` with [`StoreError::Unavailable`](crate::StoreError::Unavailable) naming
        /// the cause when it cannot. Cheap while writes succeed; after a write was refused it probes
        /// with a real write, so that it turns healthy again once the cause is gone.
        async fn check_writable(&self) -> Result<()>;

        async fn counts(&self) -> Result<StoreCounts>;
        /// Checks the database's own integrity and OpenCLM's invariants (each event once, indexes whole).
        async fn check_integrity(&self) -> Result<IntegrityReport>;

        /// Row count and content hash of every table of the logical schema, from one snapshot: equal
        /// on two databases exactly when they hold the same data.
        async fn table_digests(&self) -> Result<Vec<TableDigest>>;
    }
}
