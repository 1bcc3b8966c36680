//! The store a database URL names: SQLite for a path or `sqlite://…`, PostgreSQL for
//! `postgres://…`. One concrete type for the binary and the server, so both are built once.

use openclm_core::engine::reward::RewardConfig;

use crate::{PgStore, Result, SqliteStore, is_postgres_url};

/// Either backend.
#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens the database `url` names, applying pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, RewardConfig::default()).await
    }

    /// Opens the database `url` names, ingesting by these rules (reward rules, screening).
    pub async fn open_with(url: &str, rules: impl Into<crate::IngestRules>) -> Result<Self> {
        let rules = rules.into();
        if is_postgres_url(url) {
            Ok(Self::Postgres(PgStore::open_with(url, rules).await?))
        } else {
            Ok(Self::Sqlite(SqliteStore::open_with(url, rules)?))
        }
    }

    /// The backend's name, for messages.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The migration versions opening this store applied, oldest first.
    pub fn applied_at_open(&self) -> &[i64] {
        match self {
            Self::Sqlite(s) => s.applied_at_open(),
            Self::Postgres(s) => s.applied_at_open(),
        }
    }

    /// Brings every lookup structure up to date with the stored events now. SQLite merges its
    /// unindexed tail; PostgreSQL indexes each event as it commits, so there is nothing to do.
    pub async fn merge_index(&self) -> Result<usize> {
        match self {
            Self::Sqlite(s) => s.merge_index().await,
            Self::Postgres(_) => Ok(0),
        }
    }
}
