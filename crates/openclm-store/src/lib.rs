//! OpenCLM's storage: [`Store`], the operations every backend implements (one trait per domain,
//! each in its own module of `store/` with the types it speaks), the embedded SQLite backend and
//! the PostgreSQL backend for shared deployments.

mod activity;
mod any;
mod audit;
mod blob;
mod delivery;
mod export;
mod kpi;
mod postgres;
mod rows;
mod sqlite;
mod store;
pub mod transfer;

use openclm_core::FieldError;
use serde::Serialize;

pub use any::AnyStore;
pub use delivery::{LeaseAnswer, answer_lease};
pub use export::{ExportEvent, ExportHcp, MAX_EXPORT_PAGE};
pub use postgres::{PgStore, create_schema, drop_schema, is_postgres_url, url_with_schema};
pub use sqlite::{SqliteStore, sqlite_path};
/// The domain traits, [`Store`] that combines them, and the types each speaks.
pub use store::*;
pub use transfer::TableDigest;

/// Errors a store reports. Only [`StoreError::Invalid`] is the client's doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request conflicts with what is stored (e.g. an external id owned by another HCP).
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database cannot be reached now (no free connection, server down).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("database location: {0}")]
    Location(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether the database refused a write for a cause outside OpenCLM that may pass: a
    /// read-only file, directory or file system, a full disk, an I/O error, a read-only
    /// PostgreSQL transaction or server. Such a failure is "unavailable", not corrupt data.
    pub fn cannot_write(&self) -> bool {
        match self {
            StoreError::Database(e) => sqlite::cannot_write(e),
            StoreError::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
            }
            _ => false,
        }
    }
}

/// A page of results and the cursor for the next one, if any.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from rows read asking for one more than `limit`: an extra row says a next page
    /// exists, which starts after the last item kept (`cursor_of` names it). The same keyset
    /// paging on both backends.
    pub(crate) fn from_overfetch(
        mut items: Vec<T>,
        limit: usize,
        cursor_of: impl FnOnce(&T) -> String,
    ) -> Self {
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor_of)
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub limit: usize,
}

/// Whether an upsert made a new record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
}

/// What callers holding a concrete store import to call any of its operations:
/// `use openclm_store::prelude::*;`.
pub mod prelude {
    pub use crate::AnyStore;
    pub use crate::store::{
        Access, Blobs, Campaigns, Decisions, Deliveries, Events, Governance, Identity, Maintenance,
        MasterData, RepPlans, Reporting, Store,
    };
}

/// Cursor text for keyset pagination: opaque to clients, checked when read back.
pub(crate) mod cursor {
    use openclm_core::FieldError;

    pub fn encode_pair(a: i64, b: i64) -> String {
        format!("{a}_{b}")
    }

    pub fn decode_pair(text: &str) -> Result<(i64, i64), FieldError> {
        text.split_once('_')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| FieldError::new("cursor", "is not a cursor this server issued"))
    }

    pub fn decode_text(text: &str) -> Result<String, FieldError> {
        openclm_core::hcp::parse_identifier("cursor", text)
    }
}
