//! The embedded SQLite backend: one database file in WAL mode, one writer thread for events, and a
//! small pool of connections for reads and master-data writes.

mod activity;
mod blobs;
mod campaign;
mod delivery;
mod export;
mod governance;
mod identity;
mod kpi;
mod suggest;
mod tail;
mod writer;

use openclm_core::consent::{ConsentRecord, ConsentState};
use openclm_core::content::{Content, ContentKind, ContentStatus};
use openclm_core::engine::model::Counts;
use openclm_core::engine::reward::RewardConfig;
use openclm_core::hcp::ExternalId;
use openclm_core::state::{HcpState, StateConfig};
use openclm_core::suggest::{Feedback, Rep, Suggestion, Week};
use openclm_core::{Channel, Event, EventType, FieldError, Hcp, HcpId, Timestamp};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, RwLock};

use crate::rows::EventRow;
use crate::transfer::{Cell, Digester, TABLES, TableDigest, TableSpec, copy_text_row};
use crate::{
    AeCase, AeCounts, AeFilter, ErasureReport, SendFilter, SendRecord, SessionLimits,
    SourceScreening, UserRecord, WithdrawalEffect,
};
use crate::{
    ApiKeyRecord, ContentFilter, DecisionRecord, HcpFilter, IngestOutcome, IntegrityReport,
    NewPlan, Page, PageRequest, PlannedTouch, Result, StoreCounts, StoreError, StoredEvent,
    SuggestionFilter, TimelineFilter, UnknownHcpPolicy, Upserted, cursor,
};
use crate::{
    CampaignTag, DecisionFilter, GroupMoments, KpiFilter, NewWave, SliceRow, WaveMemberRow,
    WaveRecord,
};
use openclm_core::audit::{AuditEntry, NewAudit};
use openclm_core::auth::User;
use openclm_core::campaign::Campaign;
use openclm_core::pv::Triage;
use tail::Tail;
use writer::{IngestJob, Writer};

/// Migrations, in order. Append only: a released migration never changes.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "content_specialties",
        include_str!("../../migrations/sqlite/0002_content_specialties.sql"),
    ),
    (
        3,
        "hcp_state",
        include_str!("../../migrations/sqlite/0003_hcp_state.sql"),
    ),
    (
        4,
        "decisions",
        include_str!("../../migrations/sqlite/0004_decisions.sql"),
    ),
    (
        5,
        "suggestions",
        include_str!("../../migrations/sqlite/0005_suggestions.sql"),
    ),
    (
        6,
        "campaigns",
        include_str!("../../migrations/sqlite/0006_campaigns.sql"),
    ),
    (
        7,
        "campaign_kpis",
        include_str!("../../migrations/sqlite/0007_campaign_kpis.sql"),
    ),
    (
        8,
        "governance",
        include_str!("../../migrations/sqlite/0008_governance.sql"),
    ),
    (
        9,
        "activity",
        include_str!("../../migrations/sqlite/0009_activity.sql"),
    ),
    (
        10,
        "suggestions_by_hcp",
        include_str!("../../migrations/sqlite/0010_suggestions_by_hcp.sql"),
    ),
    (
        11,
        "anonymous_visitors",
        include_str!("../../migrations/sqlite/0011_anonymous_visitors.sql"),
    ),
    (
        12,
        "deliveries",
        include_str!("../../migrations/sqlite/0012_deliveries.sql"),
    ),
    (
        13,
        "held_events_by_age",
        include_str!("../../migrations/sqlite/0013_held_events_by_age.sql"),
    ),
    (
        14,
        "fold_quarantine",
        include_str!("../../migrations/sqlite/0014_fold_quarantine.sql"),
    ),
    (
        15,
        "blobs",
        include_str!("../../migrations/sqlite/0015_blobs.sql"),
    ),
];

/// The columns [`read_decision`] reads, from `decisions d JOIN hcps h`.
const DECISION_COLUMNS: &str = "d.decision_id, h.id, d.made_at, d.model_version, d.chosen_content,
    d.chosen_channel, d.propensity, d.body, d.node_global, d.node_segment, d.node_hcp,
    d.delivered_at, d.rewarded_at, d.reserved_until, d.campaign_id, d.campaign_wave,
    d.campaign_arm";

/// A decision row, with its body still as text.
fn read_decision(r: &rusqlite::Row<'_>) -> rusqlite::Result<(DecisionRecord, String)> {
    let nodes = match (
        r.get::<_, Option<i64>>(8)?,
        r.get::<_, Option<i64>>(9)?,
        r.get::<_, Option<i64>>(10)?,
    ) {
        (Some(g), Some(s), Some(h)) => Some([g as u64, s as u64, h as u64]),
        _ => None,
    };
    let time = |i| -> rusqlite::Result<Option<Timestamp>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp::from_millis))
    };
    let record = DecisionRecord {
        decision_id: r.get(0)?,
        hcp_id: r.get(1)?,
        made_at: Timestamp::from_millis(r.get(2)?),
        model_version: r.get(3)?,
        chosen_content: r.get(4)?,
        chosen_channel: r.get::<_, Option<i64>>(5)?.and_then(Channel::from_code),
        propensity: r.get(6)?,
        nodes,
        delivered_at: time(11)?,
        rewarded_at: time(12)?,
        reserved_until: time(13)?,
        body: serde_json::Value::Null,
        campaign: match (
            r.get::<_, Option<String>>(14)?,
            r.get::<_, Option<i64>>(15)?,
            r.get::<_, Option<i64>>(16)?,
        ) {
            (Some(campaign_id), Some(wave), Some(arm)) => Some(CampaignTag {
                campaign_id,
                wave: wave as u32,
                arm: arm as u32,
            }),
            _ => None,
        },
    };
    Ok((record, r.get::<_, String>(7)?))
}

fn with_body((mut record, body): (DecisionRecord, String)) -> Result<DecisionRecord> {
    record.body = serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(format!("decisions.body: {e}")))?;
    Ok(record)
}

/// Events folded into KPIs per transaction.
const KPI_BATCH: usize = 20_000;

/// Folds every stored event not yet counted, batch by batch.
fn catch_up_kpis(conn: &mut Connection, config: &StateConfig) -> Result<()> {
    while kpi::fold_pending(conn, config, KPI_BATCH)? == KPI_BATCH {}
    Ok(())
}

/// Events folded into the activity rollup per transaction.
const ACTIVITY_BATCH: usize = 20_000;

/// Folds every stored event not yet in the activity rollup, batch by batch.
fn catch_up_activity(conn: &mut Connection, config: &StateConfig) -> Result<()> {
    while activity::fold_pending(conn, config, ACTIVITY_BATCH)? == ACTIVITY_BATCH {}
    Ok(())
}

/// The embedded SQLite store. Cheap to clone; all clones share one writer and one pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// What counts as the outcome of a decision, fixed when the store is opened.
    rewards: RewardConfig,
    /// How events are read into HCP state, KPIs and activity: responses by `rewards`.
    state: StateConfig,
    /// What adverse-event screening looks for, fixed when the store is opened.
    screener: Arc<openclm_core::pv::Screener>,
    jobs: SyncSender<IngestJob>,
    idle: Mutex<Vec<Connection>>,
    tail: Arc<RwLock<Tail>>,
    /// Tells the checkpoint thread to end.
    stop: Arc<AtomicBool>,
    /// The migrations this open applied (a fresh database gets its whole schema here).
    applied_at_open: Vec<i64>,
    /// Set when a write was refused for a cause outside OpenCLM (read-only, disk full, I/O);
    /// cleared by the next write that succeeds.
    write_refused: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

fn checkpoint_until(conn: Connection, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(CHECKPOINT_EVERY);
        // PASSIVE never blocks writers or readers; what it cannot copy now, it copies next time.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; it will be retried");
        }
    }
}

/// Copies the whole write-ahead log into the database file and empties the log, so that bytes a
/// change overwrote (an erasure's) are gone from both files when the change is answered. A
/// checkpoint cannot pass a reader still on an older snapshot; it is retried until the readers
/// have moved on, for a few seconds at most.
fn truncate_wal(conn: &Connection) -> Result<()> {
    const ATTEMPTS: u32 = 200;
    for _ in 0..ATTEMPTS {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    Err(StoreError::Unavailable(
        "the write-ahead log could not be checkpointed: readers held it for too long".into(),
    ))
}

/// Parses `sqlite://PATH`, `sqlite:PATH` or a plain path.
pub fn sqlite_path(url: &str) -> PathBuf {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(path)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`, applies migrations and starts the writer.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(url, RewardConfig::default())
    }

    /// Opens the database, crediting decisions by these reward rules. A database that cannot
    /// be written (read-only file or directory, full disk) is refused here, naming its path,
    /// rather than failing every write later.
    pub fn open_with(url: &str, rules: impl Into<crate::IngestRules>) -> Result<Self> {
        let path = sqlite_path(url);
        if path.as_os_str().is_empty() {
            return Err(StoreError::Location("the database path is empty".into()));
        }
        Self::open_path(path.clone(), rules.into()).map_err(|e| {
            if e.cannot_write() {
                StoreError::Location(format!(
                    "{}: the database cannot be written ({e}); make the file and its directory \
                     writable by this user and check the disk has space",
                    path.display()
                ))
            } else {
                e
            }
        })
    }

    fn open_path(path: PathBuf, rules: crate::IngestRules) -> Result<Self> {
        let crate::IngestRules { rewards, pv } = rules;
        let screener = Arc::new(openclm_core::pv::Screener::new(&pv));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Location(format!("{}: {e}", dir.display())))?;
        }
        let mut conn = connect(&path, 65_536)?;
        // SQLite opens a file it may not write read-only without a word; every write would
        // then fail. A real write (the header's user_version, unchanged) also finds a
        // directory where the WAL cannot be written.
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(StoreError::Database(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
                Some("the file is read-only for this user".into()),
            )));
        }
        probe_write(&conn)?;
        let applied_at_open = apply_migrations(&mut conn)?;
        let tail = Arc::new(RwLock::new(Tail::default()));
        tail::catch_up(&tail, &conn)?;
        // The writer never checkpoints: copying the WAL back into the database (and its fsync)
        // happens on a thread of its own, off the ingest path.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        let stop = Arc::new(AtomicBool::new(false));
        let checkpointer = connect(&path, 2_048)?;
        let stop_checkpoints = stop.clone();
        std::thread::Builder::new()
            .name("openclm-checkpoint".into())
            .spawn(move || checkpoint_until(checkpointer, &stop_checkpoints))
            .map_err(|e| {
                StoreError::Location(format!("cannot start the checkpoint thread: {e}"))
            })?;
        let (jobs, rx) = sync_channel::<IngestJob>(64);
        let write_refused = Arc::new(AtomicBool::new(false));
        let writer = Writer::new(
            conn,
            path.clone(),
            write_refused.clone(),
            tail.clone(),
            rewards.window_ms(),
        );
        std::thread::Builder::new()
            .name("openclm-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Location(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                state: rewards.state_config(),
                rewards,
                screener,
                jobs,
                idle: Mutex::new(Vec::new()),
                tail,
                stop,
                applied_at_open,
                write_refused,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The migration versions opening this store applied, oldest first.
    pub fn applied_at_open(&self) -> &[i64] {
        &self.inner.applied_at_open
    }

    /// Runs `f` on a pooled connection on the blocking thread pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.idle.lock().ok().and_then(|mut idle| idle.pop());
            let mut conn = match pooled {
                Some(c) => c,
                None => connect(&inner.path, 4_096)?,
            };
            let result = f(&mut conn, &inner);
            // A connection that met a refused write, or was opened while the file was
            // read-only, would keep failing after the cause is gone: it is not kept.
            let refused = matches!(&result, Err(e) if e.cannot_write());
            if refused {
                inner.write_refused.store(true, Ordering::SeqCst);
            }
            let reusable = !refused && !conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true);
            if reusable
                && let Ok(mut idle) = inner.idle.lock()
                && idle.len() < 8
            {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    /// Merges the unindexed tail into the lookup tables now (the writer also does so by itself).
    pub async fn merge_index(&self) -> Result<usize> {
        self.with_conn(|conn, inner| writer::merge_tail(conn, &inner.tail))
            .await
    }
}

/// Whether SQLite refused a write for a cause outside OpenCLM that may pass.
pub(crate) fn cannot_write(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(
        error.sqlite_error_code(),
        Some(C::ReadOnly | C::SystemIoFailure | C::CannotOpen | C::DiskFull | C::PermissionDenied)
    )
}

/// A real, durable write that changes nothing: the header's `user_version`, set to itself.
pub(crate) fn probe_write(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    conn.execute_batch(&format!("PRAGMA user_version = {version}"))?;
    Ok(())
}

fn connect(path: &Path, cache_kib: i64) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA cache_size = -{cache_kib};"
    ))?;
    Ok(conn)
}

fn apply_migrations(conn: &mut Connection) -> Result<Vec<i64>> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: bool = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !done {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at)
                 VALUES (?1, ?2, datetime('now'))",
                params![version, name],
            )?;
            applied.push(version);
        }
        tx.commit()?;
    }
    let newest: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if newest > known {
        return Err(StoreError::Corrupt(format!(
            "the database is at schema version {newest}, newer than this openclm knows ({known}); upgrade openclm"
        )));
    }
    Ok(applied)
}

pub(crate) fn meta_get(conn: &Connection, name: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM store_meta WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?)
}

fn corrupt(what: &str) -> impl Fn(FieldError) -> rusqlite::Error + '_ {
    move |e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("{what}: {e}").into(),
        )
    }
}

fn json_list(text: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

const HCP_COLUMNS: &str =
    "hcp_key, id, name, specialty, country, territory, segments, email, restricted_products";

/// An HCP's external ids, by system then id.
fn external_ids_of(conn: &Connection, hcp_key: i64) -> rusqlite::Result<Vec<ExternalId>> {
    conn.prepare_cached(
        "SELECT system, external_id FROM hcp_external_ids WHERE hcp_key = ?1 ORDER BY system, external_id",
    )?
    .query_map([hcp_key], |r| {
        Ok(ExternalId {
            system: r.get(0)?,
            id: r.get(1)?,
        })
    })?
    .collect()
}

fn read_hcp(conn: &Connection, row: &rusqlite::Row) -> rusqlite::Result<Hcp> {
    let hcp_key: i64 = row.get(0)?;
    let id: String = row.get(1)?;
    let external_ids = external_ids_of(conn, hcp_key)?;
    Ok(Hcp {
        id: HcpId::parse("id", &id).map_err(corrupt("hcps.id"))?,
        name: row.get(2)?,
        specialty: row.get(3)?,
        country: row.get(4)?,
        territory: row.get(5)?,
        segments: json_list(&row.get::<_, String>(6)?)?,
        email: row.get(7)?,
        external_ids,
        restricted_products: json_list(&row.get::<_, String>(8)?)?,
    })
}

/// Inserts or replaces a content item's fields (not its MLR record).
fn upsert_content_row(tx: &Connection, c: &Content, now: Timestamp) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO content (id, title, kind, product, topics, language, countries, version,
            status, approval_code, approved_at, valid_from, expires_at, updated_at,
            specialties)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, kind = excluded.kind,
            product = excluded.product, topics = excluded.topics, language = excluded.language,
            countries = excluded.countries, version = excluded.version, status = excluded.status,
            approval_code = excluded.approval_code, approved_at = excluded.approved_at,
            valid_from = excluded.valid_from, expires_at = excluded.expires_at,
            updated_at = excluded.updated_at, specialties = excluded.specialties",
    )?
    .execute(params![
        c.id,
        c.title,
        c.kind.as_str(),
        c.product,
        to_json(&c.topics),
        c.language,
        to_json(&c.countries),
        c.version,
        c.status.as_str(),
        c.approval_code,
        c.approved_at.map(Timestamp::millis),
        c.valid_from.map(Timestamp::millis),
        c.expires_at.map(Timestamp::millis),
        now.millis(),
        to_json(&c.specialties),
    ])?;
    Ok(())
}

const CONTENT_COLUMNS: &str =
    "id, title, kind, product, topics, language, countries, version, status,
    approval_code, approved_at, valid_from, expires_at, specialties, mlr";

fn read_content(row: &rusqlite::Row, now: Timestamp) -> rusqlite::Result<Content> {
    let ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(Timestamp::from_millis))
    };
    let mut content = Content {
        id: row.get(0)?,
        title: row.get(1)?,
        kind: ContentKind::parse("kind", &row.get::<_, String>(2)?)
            .map_err(corrupt("content.kind"))?,
        product: row.get(3)?,
        topics: json_list(&row.get::<_, String>(4)?)?,
        language: row.get(5)?,
        countries: json_list(&row.get::<_, String>(6)?)?,
        specialties: json_list(&row.get::<_, String>(13)?)?,
        version: row.get(7)?,
        status: ContentStatus::parse("status", &row.get::<_, String>(8)?)
            .map_err(corrupt("content.status"))?,
        approval_code: row.get(9)?,
        approved_at: ts(10)?,
        valid_from: ts(11)?,
        expires_at: ts(12)?,
        mlr: serde_json::from_str(&row.get::<_, String>(14)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(14, rusqlite::types::Type::Text, Box::new(e))
        })?,
    };
    content.status = content.status_at(now);
    Ok(content)
}

fn page_limit(page: &PageRequest) -> usize {
    page.limit.clamp(1, 1000)
}

impl crate::store::Maintenance for SqliteStore {
    async fn migrate(&self) -> Result<Vec<i64>> {
        self.with_conn(|conn, _| apply_migrations(conn)).await
    }

    async fn check_writable(&self) -> Result<()> {
        if !self.inner.write_refused.load(Ordering::SeqCst) {
            return Ok(());
        }
        // The last write was refused: try a real one on a fresh connection (a pooled one may
        // have been opened read-only), and report healthy again as soon as it passes.
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let probe = connect(&inner.path, 64).and_then(|conn| {
                if conn.is_readonly(rusqlite::MAIN_DB)? {
                    return Err(StoreError::Unavailable("read-only".into()));
                }
                probe_write(&conn)
            });
            match probe {
                Ok(()) => {
                    inner.write_refused.store(false, Ordering::SeqCst);
                    Ok(())
                }
                Err(e) => {
                    tracing::warn!(error = %e, path = %inner.path.display(), "the database still cannot be written");
                    Err(StoreError::Unavailable(
                        "the database cannot be written".into(),
                    ))
                }
            }
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    async fn counts(&self) -> Result<StoreCounts> {
        self.with_conn(|conn, _| {
            let tx = conn.transaction()?;
            let count = |sql: &str| -> Result<u64> {
                Ok(tx.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
            };
            let counts = StoreCounts {
                hcps: count("SELECT COUNT(*) FROM hcps WHERE is_stub = 0")?,
                content: count("SELECT COUNT(*) FROM content")?,
                events: count("SELECT COUNT(*) FROM events")?,
                consent_records: count("SELECT COUNT(*) FROM consent_records")?,
                api_keys: count("SELECT COUNT(*) FROM api_keys")?,
            };
            tx.commit()?;
            Ok(counts)
        })
        .await
    }

    async fn check_integrity(&self) -> Result<IntegrityReport> {
        self.with_conn(|conn, _| {
            let tx = conn.transaction()?;
            let mut problems: Vec<String> = tx
                .prepare("PRAGMA integrity_check")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|line| line != "ok")
                .collect();
            let single = |sql: &str| -> Result<i64> { Ok(tx.query_row(sql, [], |r| r.get(0))?) };
            let repeated = single(
                "SELECT COUNT(*) FROM (SELECT event_id FROM events GROUP BY event_id HAVING COUNT(*) > 1)",
            )?;
            if repeated > 0 {
                problems.push(format!("{repeated} event ids are stored more than once"));
            }
            let upto = meta_get(&tx, "indexed_upto")?;
            let below = single(&format!("SELECT COUNT(*) FROM events WHERE seq <= {upto}"))?;
            for table in ["event_keys", "hcp_timeline"] {
                let indexed = single(&format!("SELECT COUNT(*) FROM {table} WHERE seq <= {upto}"))?;
                if indexed != below {
                    problems.push(format!(
                        "{table} holds {indexed} events up to seq {upto}; events holds {below}"
                    ));
                }
            }
            let orphans = single(
                "SELECT COUNT(*) FROM events e LEFT JOIN hcps h ON h.hcp_key = e.hcp_key WHERE h.hcp_key IS NULL",
            )?;
            if orphans > 0 {
                problems.push(format!("{orphans} events name no stored HCP"));
            }
            tx.commit()?;
            Ok(IntegrityReport { problems })
        })
        .await
    }

    async fn table_digests(&self) -> Result<Vec<TableDigest>> {
        self.with_conn(|conn, _| digests(conn)).await
    }
}

impl crate::store::Events for SqliteStore {
    async fn ingest(
        &self,
        events: Vec<Event>,
        unknown_hcp: UnknownHcpPolicy,
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>> {
        if events.is_empty() {
            return Ok(vec![]);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = IngestJob {
            events: events
                .into_iter()
                .map(|e| EventRow::new(e, &self.inner.rewards, &self.inner.screener))
                .collect(),
            policy: unknown_hcp,
            now,
            reply,
        };
        let jobs = self.inner.jobs.clone();
        // The queue is bounded: a full queue pushes back on the request, off the async threads.
        tokio::task::spawn_blocking(move || jobs.send(job))
            .await
            .map_err(|_| StoreError::Closed)?
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn timeline(
        &self,
        hcp: HcpId,
        filter: TimelineFilter,
        page: PageRequest,
    ) -> Result<Option<Page<StoredEvent>>> {
        self.with_conn(move |conn, inner| {
            let before = match page.cursor.as_deref() {
                Some(c) => cursor::decode_pair(c)?,
                None => (i64::MAX, i64::MAX),
            };
            let limit = page_limit(&page);
            tail::catch_up(&inner.tail, conn)?;
            // The tail is read under its lock for the whole read, so a merge cannot drop entries
            // this snapshot does not yet see in the index.
            let tail = tail::read(&inner.tail);
            let tx = conn.transaction()?;
            let Some(hcp_key) = hcp_key_of(&tx, &hcp)? else {
                return Ok(None);
            };
            let channel = filter.channel.map(Channel::code);
            let kind = filter.kind.map(EventType::code);
            let mut found: Vec<(i64, i64)> = tx
                .prepare_cached(
                    "SELECT occurred_at, seq FROM hcp_timeline
                     WHERE hcp_key = ?1 AND (occurred_at < ?2 OR (occurred_at = ?2 AND seq < ?3))
                       AND (?4 IS NULL OR channel = ?4) AND (?5 IS NULL OR type = ?5)
                     ORDER BY occurred_at DESC, seq DESC LIMIT ?6",
                )?
                .query_map(
                    params![hcp_key, before.0, before.1, channel, kind, limit as i64 + 1],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect::<rusqlite::Result<_>>()?;
            found.extend(
                tail.of_hcp(hcp_key)
                    .filter(|e| (e.occurred_at, e.seq) < before)
                    .filter(|e| channel.is_none_or(|c| c == e.channel))
                    .filter(|e| kind.is_none_or(|k| k == e.kind))
                    .map(|e| (e.occurred_at, e.seq)),
            );
            found.sort_unstable_by(|a, b| b.cmp(a));
            found.dedup();
            let mut items = Vec::with_capacity(limit);
            let mut fetch = tx.prepare_cached(
                "SELECT seq, event_id, occurred_at, received_at, channel, type, source, payload
                 FROM events WHERE seq = ?1",
            )?;
            let mut next_cursor = None;
            for (occurred_at, seq) in found {
                if items.len() == limit {
                    next_cursor = Some(cursor::encode_pair(
                        items
                            .last()
                            .map_or(occurred_at, |e: &StoredEvent| e.occurred_at.millis()),
                        items.last().map_or(seq, |e: &StoredEvent| e.seq),
                    ));
                    break;
                }
                // An event committed after this snapshot began is left for the next read.
                let Some(event) = fetch
                    .query_row([seq], |r| stored_event(r, hcp.as_str()))
                    .optional()?
                else {
                    continue;
                };
                items.push(event);
            }
            drop(fetch);
            tx.commit()?;
            Ok(Some(Page { items, next_cursor }))
        })
        .await
    }

    async fn consent_history(&self, hcp: HcpId) -> Result<Option<Vec<ConsentRecord>>> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction()?;
            let Some(hcp_key) = hcp_key_of(&tx, &hcp)? else {
                return Ok(None);
            };
            let records = tx
                .prepare_cached(
                    "SELECT channel, purpose, state, source, event_id, changed_at, evidence, notice_version
                 FROM consent_records
                     WHERE hcp_key = ?1 ORDER BY changed_at, id",
                )?
                .query_map([hcp_key], |r| {
                    Ok(ConsentRecord {
                        channel: Channel::from_code(r.get(0)?).ok_or_else(|| {
                            corrupt("consent_records.channel")(FieldError::new("channel", "unknown code"))
                        })?,
                        purpose: r.get(1)?,
                        state: ConsentState::parse("state", &r.get::<_, String>(2)?)
                            .map_err(corrupt("consent_records.state"))?,
                        source: r.get(3)?,
                        event_id: r.get(4)?,
                        changed_at: Timestamp::from_millis(r.get(5)?),
                        evidence: r.get(6)?,
                        notice_version: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(Some(records))
        })
        .await
    }

    async fn hcp_state(&self, hcp: HcpId) -> Result<Option<HcpState>> {
        self.with_conn(move |conn, inner| {
            tail::catch_up(&inner.tail, conn)?;
            let folded = {
                // The tail is read under its lock for the whole read, as for timelines.
                let tail = tail::read(&inner.tail);
                let tx = conn.transaction()?;
                let Some(hcp_key) = hcp_key_of(&tx, &hcp)? else {
                    return Ok(None);
                };
                let cached: Option<(String, i64)> = tx
                    .prepare_cached("SELECT state, upto_seq FROM hcp_state WHERE hcp_key = ?1")?
                    .query_row([hcp_key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let (mut state, upto) = match cached {
                    None => (HcpState::default(), 0),
                    Some((text, upto)) => match serde_json::from_str::<HcpState>(&text) {
                        // A state folded by another version of the fold is folded anew.
                        Ok(state) if state.fold_version == openclm_core::state::FOLD_VERSION => {
                            (state, upto)
                        }
                        Ok(_) => (HcpState::default(), 0),
                        Err(e) => {
                            tracing::warn!(hcp_key, error = %e, "unreadable cached HCP state; folding it anew");
                            (HcpState::default(), 0)
                        }
                    },
                };
                // Events are committed in `seq` order (one writer at a time), so everything
                // after the cache's watermark is exactly what it lacks.
                let mut seqs: Vec<i64> = tx
                    .prepare_cached("SELECT seq FROM hcp_timeline WHERE hcp_key = ?1 AND seq > ?2")?
                    .query_map(params![hcp_key, upto], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                seqs.extend(tail.of_hcp(hcp_key).filter(|e| e.seq > upto).map(|e| e.seq));
                seqs.sort_unstable();
                seqs.dedup();
                let mut payloads = Vec::with_capacity(seqs.len());
                let mut topics: HashMap<String, Vec<String>> = HashMap::new();
                let mut newest = upto;
                {
                    let mut fetch = tx.prepare_cached(
                        "SELECT payload, content_id FROM events WHERE seq = ?1",
                    )?;
                    let mut topics_of =
                        tx.prepare_cached("SELECT topics FROM content WHERE id = ?1")?;
                    for seq in seqs {
                        let Some((payload, content_id)) = fetch
                            .query_row([seq], |r| {
                                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                            })
                            .optional()?
                        else {
                            // Committed after this snapshot began: left for the next read.
                            continue;
                        };
                        if let Some(id) = content_id
                            && !topics.contains_key(&id)
                        {
                            let list: Option<String> =
                                topics_of.query_row([&id], |r| r.get(0)).optional()?;
                            let list = list
                                .and_then(|l| serde_json::from_str(&l).ok())
                                .unwrap_or_default();
                            topics.insert(id, list);
                        }
                        payloads.push(payload);
                        newest = newest.max(seq);
                    }
                }
                crate::rows::fold_payloads(
                    &mut state,
                    payloads.iter().map(String::as_str),
                    &topics,
                    &inner.state,
                );
                tx.commit()?;
                (hcp_key, state, upto, newest)
            };
            let (hcp_key, state, upto, newest) = folded;
            if newest > upto {
                // Best effort: a cache that is not written back is folded again next time.
                let written = serde_json::to_string(&state)
                    .map_err(|e| e.to_string())
                    .and_then(|text| {
                        conn.prepare_cached(
                            "INSERT INTO hcp_state (hcp_key, state, events, upto_seq, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (hcp_key) DO UPDATE SET state = excluded.state,
                                events = excluded.events, upto_seq = excluded.upto_seq,
                                updated_at = excluded.updated_at
                             WHERE excluded.upto_seq >= hcp_state.upto_seq",
                        )
                        .and_then(|mut stmt| {
                            stmt.execute(params![
                                hcp_key,
                                text,
                                state.events as i64,
                                newest,
                                state.newest.map_or(0, Timestamp::millis)
                            ])
                        })
                        .map_err(|e| e.to_string())
                    });
                if let Err(e) = written {
                    tracing::debug!(hcp_key, error = %e, "HCP state cache not written back");
                }
            }
            Ok(Some(state))
        })
        .await
    }

    async fn export_events(
        &self,
        after_seq: i64,
        received_since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<crate::ExportEvent>> {
        self.with_conn(move |conn, _| export::events(conn, after_seq, received_since, limit))
            .await
    }
}

impl crate::store::Identity for SqliteStore {
    async fn hcp_by_external_id(&self, system: String, id: String) -> Result<Option<Hcp>> {
        self.with_conn(move |conn, _| {
            let sql = format!(
                "SELECT {HCP_COLUMNS} FROM hcps WHERE is_stub = 0 AND hcp_key =
                 (SELECT hcp_key FROM hcp_external_ids WHERE system = ?1 AND external_id = ?2)"
            );
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([system.as_str(), id.as_str()], |r| read_hcp(conn, r))
                .optional()?)
        })
        .await
    }

    async fn resolve_anonymous(
        &self,
        source: String,
        anonymous_ids: Vec<String>,
    ) -> Result<Vec<(String, String)>> {
        self.with_conn(move |conn, _| identity::resolve(conn, &source, &anonymous_ids))
            .await
    }

    async fn park_anonymous(
        &self,
        source: String,
        events: Vec<crate::ParkedEvent>,
        limits: crate::HoldLimits,
        now: Timestamp,
    ) -> Result<Vec<crate::Parked>> {
        self.with_conn(move |conn, _| identity::park(conn, &source, &events, limits, now))
            .await
    }

    async fn link_anonymous(
        &self,
        source: String,
        anonymous_id: String,
        user_id: String,
        now: Timestamp,
    ) -> Result<Vec<crate::ParkedEvent>> {
        self.with_conn(move |conn, _| identity::link(conn, &source, &anonymous_id, &user_id, now))
            .await
    }

    async fn unpark(
        &self,
        source: String,
        anonymous_id: String,
        event_ids: Vec<String>,
    ) -> Result<usize> {
        self.with_conn(move |conn, _| identity::unpark(conn, &source, &anonymous_id, &event_ids))
            .await
    }

    async fn hcps_by_email(&self, emails: Vec<String>) -> Result<Vec<(String, HcpId)>> {
        self.with_conn(move |conn, _| {
            let list = serde_json::Value::from(emails).to_string();
            let mut stmt = conn.prepare_cached(
                "SELECT email, id FROM hcps
                 WHERE is_stub = 0 AND email IN (SELECT value FROM json_each(?1))
                 ORDER BY email, id",
            )?;
            let pairs = stmt
                .query_map([list], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            pairs
                .into_iter()
                .map(|(email, id)| Ok((email, crate::rows::stored_hcp_id(&id)?)))
                .collect()
        })
        .await
    }
}

impl crate::store::MasterData for SqliteStore {
    async fn put_hcps(
        &self,
        hcps: Vec<Hcp>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<std::result::Result<Upserted, FieldError>>> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut results = Vec::with_capacity(hcps.len());
            let mut audit = Vec::new();
            let sql = format!("SELECT {HCP_COLUMNS} FROM hcps WHERE id = ?1 AND is_stub = 0");
            for hcp in &hcps {
                let old = tx
                    .prepare_cached(&sql)?
                    .query_row([hcp.id.as_str()], |r| read_hcp(&tx, r))
                    .optional()?;
                let mut suppressed = None;
                for (field, hash) in crate::rows::suppression_keys(hcp) {
                    if !governance::suppressed(&tx, &[hash])?.is_empty() {
                        suppressed = Some(field);
                        break;
                    }
                }
                let result = match suppressed {
                    Some(field) => Err(crate::rows::suppressed_error(&field)),
                    None => put_hcp(&tx, hcp, now)?,
                };
                if result.is_ok() {
                    audit.extend(crate::audit::hcp_change(&actor, old.as_ref(), hcp));
                }
                results.push(result);
            }
            governance::append_audit(&tx, audit, now)?;
            tx.execute(
                "UPDATE store_meta SET value = value + 1 WHERE name = 'hcp_generation'",
                [],
            )?;
            tx.commit()?;
            Ok(results)
        })
        .await
    }

    async fn get_hcp(&self, id: HcpId) -> Result<Option<Hcp>> {
        self.with_conn(move |conn, _| {
            let sql = format!("SELECT {HCP_COLUMNS} FROM hcps WHERE id = ?1 AND is_stub = 0");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([id.as_str()], |r| read_hcp(conn, r))
                .optional()?)
        })
        .await
    }

    async fn list_hcps(&self, filter: HcpFilter, page: PageRequest) -> Result<Page<Hcp>> {
        self.with_conn(move |conn, _| {
            let after = page.cursor.as_deref().map(cursor::decode_text).transpose()?;
            let limit = page_limit(&page);
            let sql = format!(
                "SELECT {HCP_COLUMNS} FROM hcps
                 WHERE is_stub = 0 AND (?1 IS NULL OR territory = ?1) AND (?2 IS NULL OR specialty = ?2)
                   AND (?3 IS NULL OR country = ?3) AND (?4 IS NULL OR id > ?4)
                 ORDER BY id LIMIT ?5"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let items = stmt
                .query_map(
                    params![
                        filter.territory,
                        filter.specialty.map(|s| s.to_lowercase()),
                        filter.country.map(|c| c.to_uppercase()),
                        after,
                        limit as i64 + 1
                    ],
                    |r| read_hcp(conn, r),
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page::from_overfetch(items, limit, |last| last.id.to_string()))
        })
        .await
    }

    async fn put_content(
        &self,
        items: Vec<Content>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<Upserted>> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut results = Vec::with_capacity(items.len());
            let mut audit = Vec::with_capacity(items.len());
            for c in &items {
                let old = governance::read_content_at(&tx, &c.id, now)?;
                upsert_content_row(&tx, c, now)?;
                governance::write_content_mlr(&tx, c)?;
                if c.status != ContentStatus::Approved {
                    let why = format!("content {} is {}", c.id, c.status);
                    suggest::cancel_for_content(&tx, &c.id, &why, now)?;
                }
                let action = if old.is_some() { "update" } else { "create" };
                let mut entry = NewAudit::new(&actor, action, format!("content/{}", c.id));
                if let Some(old) = &old {
                    entry = entry.old(old);
                }
                audit.push(entry.new_value(c));
                results.push(if old.is_some() {
                    Upserted::Updated
                } else {
                    Upserted::Created
                });
            }
            governance::append_audit(&tx, audit, now)?;
            tx.commit()?;
            Ok(results)
        })
        .await
    }

    async fn get_content(&self, id: String, now: Timestamp) -> Result<Option<Content>> {
        self.with_conn(move |conn, _| {
            let sql = format!("SELECT {CONTENT_COLUMNS} FROM content WHERE id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([&id], |r| read_content(r, now))
                .optional()?)
        })
        .await
    }

    async fn list_content(
        &self,
        filter: ContentFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<Content>> {
        self.with_conn(move |conn, _| {
            let after = page
                .cursor
                .as_deref()
                .map(cursor::decode_text)
                .transpose()?;
            let limit = page_limit(&page);
            // Approved content past its expiry counts as expired.
            let status_clause = match filter.status {
                None => "1",
                Some(ContentStatus::Approved) => {
                    "status = 'approved' AND (expires_at IS NULL OR expires_at > :now)"
                }
                Some(ContentStatus::Expired) => {
                    "(status = 'expired' OR (status = 'approved' AND expires_at <= :now))"
                }
                Some(_) => "status = :status",
            };
            let sql = format!(
                "SELECT {CONTENT_COLUMNS} FROM content
                 WHERE {status_clause} AND (:product IS NULL OR product = :product)
                   AND (:after IS NULL OR id > :after)
                 ORDER BY id LIMIT :limit"
            );
            let mut stmt = conn.prepare(&sql)?;
            // Bind only the names this statement uses.
            let status = filter.status.map_or("", |s| s.as_str());
            let values: [(&str, &dyn rusqlite::ToSql); 5] = [
                (":now", &now.millis()),
                (":status", &status),
                (":product", &filter.product),
                (":after", &after),
                (":limit", &(limit as i64 + 1)),
            ];
            let bound: Vec<(&str, &dyn rusqlite::ToSql)> = values
                .into_iter()
                .filter(|(name, _)| sql.contains(name))
                .collect();
            let items = stmt
                .query_map(bound.as_slice(), |r| read_content(r, now))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page::from_overfetch(items, limit, |last| last.id.clone()))
        })
        .await
    }

    async fn put_rep(&self, rep: Rep, now: Timestamp) -> Result<Upserted> {
        self.with_conn(move |conn, _| suggest::put_rep(conn, &rep, now))
            .await
    }

    async fn get_rep(&self, rep_id: String) -> Result<Option<Rep>> {
        self.with_conn(move |conn, _| suggest::get_rep(conn, &rep_id))
            .await
    }

    async fn export_hcps(
        &self,
        after: Option<String>,
        updated_since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<crate::ExportHcp>> {
        self.with_conn(move |conn, _| export::hcps(conn, after, updated_since, limit))
            .await
    }
}

impl crate::store::Access for SqliteStore {
    async fn create_api_key(
        &self,
        key: ApiKeyRecord,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<()> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO api_keys (key_id, hash, role, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.key_id, key.hash, key.role, key.label, key.created_at.millis()],
            )?;
            governance::append_audit(&tx, vec![audit], now)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn find_api_key(&self, key_id: String) -> Result<Option<ApiKeyRecord>> {
        self.with_conn(move |conn, _| {
            Ok(conn
                .prepare_cached(
                    "SELECT key_id, hash, role, label, created_at, revoked_at FROM api_keys WHERE key_id = ?1",
                )?
                .query_row([key_id], api_key_row)
                .optional()?)
        })
        .await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        self.with_conn(|conn, _| {
            Ok(conn
                .prepare_cached(
                    "SELECT key_id, hash, role, label, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id",
                )?
                .query_map([], api_key_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        key_id: String,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<bool> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE key_id = ?1 AND revoked_at IS NULL",
                params![key_id, now.millis()],
            )?;
            if changed > 0 {
                governance::append_audit(&tx, vec![audit], now)?;
            }
            tx.commit()?;
            Ok(changed > 0)
        })
        .await
    }

    async fn create_user(
        &self,
        user: User,
        password_hash: String,
        audit: NewAudit,
    ) -> Result<bool> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let created = governance::create_user(&tx, &user, &password_hash, audit)?;
            tx.commit()?;
            Ok(created)
        })
        .await
    }

    async fn find_user(&self, user_id: String) -> Result<Option<UserRecord>> {
        self.with_conn(move |conn, _| governance::find_user(conn, &user_id))
            .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.with_conn(|conn, _| governance::list_users(conn)).await
    }

    async fn disable_user(&self, user_id: String, audit: NewAudit, now: Timestamp) -> Result<bool> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = governance::disable_user(&tx, &user_id, audit, now)?;
            tx.commit()?;
            Ok(done)
        })
        .await
    }

    async fn record_login(&self, user_id: String, succeeded: bool, now: Timestamp) -> Result<bool> {
        self.with_conn(move |conn, _| governance::record_login(conn, &user_id, succeeded, now))
            .await
    }

    async fn create_session(
        &self,
        token_hash: String,
        user_id: String,
        now: Timestamp,
    ) -> Result<()> {
        self.with_conn(move |conn, _| governance::create_session(conn, &token_hash, &user_id, now))
            .await
    }

    async fn touch_session(
        &self,
        token_hash: String,
        now: Timestamp,
        limits: SessionLimits,
    ) -> Result<Option<User>> {
        self.with_conn(move |conn, _| {
            if let Some(user) = governance::recently_used_session(conn, &token_hash, now, limits)? {
                return Ok(Some(user));
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let user = governance::touch_session(&tx, &token_hash, now, limits)?;
            tx.commit()?;
            Ok(user)
        })
        .await
    }

    async fn end_session(&self, token_hash: String, now: Timestamp) -> Result<bool> {
        self.with_conn(move |conn, _| governance::end_session(conn, &token_hash, now))
            .await
    }
}

impl crate::store::Governance for SqliteStore {
    async fn append_audit(&self, entries: Vec<NewAudit>, now: Timestamp) -> Result<()> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            governance::append_audit(&tx, entries, now)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn audit_entries(
        &self,
        record: Option<String>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>> {
        self.with_conn(move |conn, _| governance::audit_entries(conn, record, after_seq, limit))
            .await
    }

    async fn transition_content(
        &self,
        content: Content,
        expected: (ContentStatus, String),
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<(bool, WithdrawalEffect)>> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = governance::transition_content(&tx, &content, &expected, audit, now)?;
            tx.commit()?;
            Ok(done)
        })
        .await
    }

    async fn send_history(&self, filter: SendFilter, limit: usize) -> Result<Vec<SendRecord>> {
        self.with_conn(move |conn, _| governance::send_history(conn, &filter, limit))
            .await
    }

    async fn ae_cases(&self, filter: AeFilter) -> Result<Vec<AeCase>> {
        self.with_conn(move |conn, _| governance::ae_cases(conn, &filter))
            .await
    }

    async fn get_ae_case(&self, case_id: String) -> Result<Option<AeCase>> {
        self.with_conn(move |conn, _| governance::get_ae_case(conn, &case_id))
            .await
    }

    async fn ae_case_counts(&self, now: Timestamp) -> Result<AeCounts> {
        self.with_conn(move |conn, _| governance::ae_case_counts(conn, now))
            .await
    }

    async fn triage_ae_case(
        &self,
        case_id: String,
        triage: Triage,
        by: String,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<bool>> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = governance::triage_ae_case(&tx, &case_id, &triage, &by, audit, now)?;
            tx.commit()?;
            Ok(done)
        })
        .await
    }

    async fn mark_ae_alerted(&self, case_ids: Vec<String>, now: Timestamp) -> Result<()> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            governance::mark_ae_alerted(&tx, &case_ids, now)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn open_ae_case(&self, case: crate::NewAeCase, now: Timestamp) -> Result<bool> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let opened = governance::open_ae_case(&tx, &case, now)?;
            tx.commit()?;
            Ok(opened)
        })
        .await
    }

    async fn screening_report(&self) -> Result<Vec<SourceScreening>> {
        self.with_conn(|conn, _| governance::screening_report(conn))
            .await
    }

    async fn suppressed(&self, hashes: Vec<String>) -> Result<Vec<String>> {
        self.with_conn(move |conn, _| governance::suppressed(conn, &hashes))
            .await
    }

    async fn erase_hcp(
        &self,
        hcp: HcpId,
        pseudonym: String,
        suppress: Vec<String>,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let report = governance::erase_hcp(&tx, &hcp, &pseudonym, &suppress, audit, now)?;
            tx.commit()?;
            if report.is_some() {
                truncate_wal(conn)?;
            }
            Ok(report)
        })
        .await
    }
}

impl crate::store::Decisions for SqliteStore {
    async fn model_nodes(&self, keys: Vec<u64>) -> Result<Vec<(u64, Counts)>> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction()?;
            let mut found = Vec::with_capacity(keys.len());
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT trials, successes FROM model_counts WHERE node_key = ?1",
                )?;
                for key in keys {
                    // Keys are stored as the i64 with the same bits.
                    if let Some(counts) = stmt
                        .query_row([key as i64], |r| {
                            Ok(Counts {
                                trials: r.get(0)?,
                                successes: r.get(1)?,
                            })
                        })
                        .optional()?
                    {
                        found.push((key, counts));
                    }
                }
            }
            tx.commit()?;
            Ok(found)
        })
        .await
    }

    async fn add_model_counts(&self, increments: Vec<(u64, Counts)>) -> Result<()> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO model_counts (node_key, trials, successes) VALUES (?1, ?2, ?3)
                     ON CONFLICT (node_key) DO UPDATE SET trials = trials + excluded.trials,
                        successes = successes + excluded.successes",
                )?;
                for (key, c) in increments {
                    stmt.execute(params![key as i64, c.trials, c.successes])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn log_decisions(&self, decisions: Vec<DecisionRecord>) -> Result<Vec<bool>> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let logged = suggest::insert_decisions(&tx, &decisions)?;
            governance::record_sends(&tx, &decisions, &logged)?;
            delivery::enqueue(&tx, &decisions, &logged)?;
            tx.commit()?;
            Ok(logged)
        })
        .await
    }

    async fn get_decision(&self, decision_id: String) -> Result<Option<DecisionRecord>> {
        self.with_conn(move |conn, _| {
            let sql = format!(
                "SELECT {DECISION_COLUMNS} FROM decisions d JOIN hcps h ON h.hcp_key = d.hcp_key
                 WHERE d.decision_id = ?1"
            );
            conn.prepare_cached(&sql)?
                .query_row([&decision_id], read_decision)
                .optional()?
                .map(with_body)
                .transpose()
        })
        .await
    }

    async fn list_decisions(
        &self,
        filter: DecisionFilter,
        page: PageRequest,
    ) -> Result<Page<DecisionRecord>> {
        self.with_conn(move |conn, _| {
            let after = page
                .cursor
                .as_deref()
                .map(cursor::decode_text)
                .transpose()?;
            let limit = page_limit(&page);
            let sql = format!(
                "SELECT {DECISION_COLUMNS} FROM decisions d JOIN hcps h ON h.hcp_key = d.hcp_key
                 WHERE (?1 IS NULL OR d.campaign_id = ?1) AND (?2 IS NULL OR d.made_at >= ?2)
                   AND (?3 IS NULL OR d.made_at < ?3) AND (?4 IS NULL OR d.decision_id > ?4)
                 ORDER BY d.decision_id LIMIT ?5"
            );
            let rows = conn
                .prepare_cached(&sql)?
                .query_map(
                    params![
                        filter.campaign_id,
                        filter.since.map(Timestamp::millis),
                        filter.until.map(Timestamp::millis),
                        after,
                        limit as i64 + 1
                    ],
                    read_decision,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let items = rows
                .into_iter()
                .map(with_body)
                .collect::<Result<Vec<_>>>()?;
            Ok(Page::from_overfetch(items, limit, |last| {
                last.decision_id.clone()
            }))
        })
        .await
    }

    async fn planned_touches(&self, hcp: HcpId, now: Timestamp) -> Result<Vec<PlannedTouch>> {
        self.with_conn(move |conn, _| {
            let Some(hcp_key) = hcp_key_of(conn, &hcp)? else {
                return Ok(Vec::new());
            };
            suggest::planned_touches(conn, hcp_key, now)
        })
        .await
    }
}

impl crate::store::Campaigns for SqliteStore {
    async fn put_campaign(
        &self,
        campaign: Campaign,
        actor: String,
        now: Timestamp,
    ) -> Result<Upserted> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let old = campaign::get(&tx, &campaign.id)?;
            let saved = campaign::put(&tx, &campaign, now)?;
            let entry = crate::audit::campaign_change(&actor, old.as_ref(), &campaign);
            governance::append_audit(&tx, vec![entry], now)?;
            tx.commit()?;
            Ok(saved)
        })
        .await
    }

    async fn get_campaign(&self, campaign_id: String) -> Result<Option<Campaign>> {
        self.with_conn(move |conn, _| campaign::get(conn, &campaign_id))
            .await
    }

    async fn list_campaigns(&self) -> Result<Vec<Campaign>> {
        self.with_conn(move |conn, _| campaign::list(conn)).await
    }

    async fn save_wave(&self, wave: NewWave) -> Result<(WaveRecord, bool)> {
        self.with_conn(move |conn, _| campaign::save_wave(conn, &wave))
            .await
    }

    async fn list_waves(&self, campaign_id: String) -> Result<Vec<WaveRecord>> {
        self.with_conn(move |conn, _| campaign::list_waves(conn, &campaign_id))
            .await
    }

    async fn campaign_groups(&self, campaign_id: String) -> Result<Vec<(i64, u64)>> {
        self.with_conn(move |conn, _| campaign::groups(conn, &campaign_id))
            .await
    }

    async fn fold_kpis(&self, batch: usize) -> Result<usize> {
        self.with_conn(move |conn, inner| kpi::fold_pending(conn, &inner.state, batch))
            .await
    }

    async fn campaign_slices(&self, filter: KpiFilter) -> Result<Vec<SliceRow>> {
        self.with_conn(move |conn, inner| {
            catch_up_kpis(conn, &inner.state)?;
            kpi::slices(conn, &filter)
        })
        .await
    }

    async fn campaign_moments(&self, campaign_id: String) -> Result<Vec<GroupMoments>> {
        self.with_conn(move |conn, inner| {
            catch_up_kpis(conn, &inner.state)?;
            kpi::moments(conn, &campaign_id)
        })
        .await
    }

    async fn wave_members(&self, campaign_id: String, wave: u32) -> Result<Vec<WaveMemberRow>> {
        self.with_conn(move |conn, inner| {
            catch_up_kpis(conn, &inner.state)?;
            campaign::wave_members(conn, &campaign_id, wave)
        })
        .await
    }
}

impl crate::store::Reporting for SqliteStore {
    async fn fold_activity(&self, batch: usize) -> Result<usize> {
        self.with_conn(move |conn, inner| activity::fold_pending(conn, &inner.state, batch))
            .await
    }

    async fn quarantined_events(&self, limit: usize) -> Result<Vec<crate::QuarantinedEvent>> {
        self.with_conn(move |conn, inner| {
            catch_up_kpis(conn, &inner.state)?;
            catch_up_activity(conn, &inner.state)?;
            kpi::quarantined(conn, limit)
        })
        .await
    }

    async fn activity(&self, from_day: i64, to_day: i64) -> Result<crate::Activity> {
        self.with_conn(move |conn, inner| {
            catch_up_activity(conn, &inner.state)?;
            activity::read(conn, from_day, to_day)
        })
        .await
    }

    async fn content_activity(
        &self,
        content_id: Option<String>,
    ) -> Result<Vec<crate::ContentActivity>> {
        self.with_conn(move |conn, inner| {
            catch_up_activity(conn, &inner.state)?;
            activity::read_content(conn, content_id.as_deref())
        })
        .await
    }

    async fn record_simulation(&self, run: crate::SimulationRun) -> Result<()> {
        self.with_conn(move |conn, _| activity::record_simulation(conn, &run))
            .await
    }

    async fn last_simulation(&self) -> Result<Option<crate::SimulationRun>> {
        self.with_conn(|conn, _| activity::last_simulation(conn))
            .await
    }
}

impl crate::store::RepPlans for SqliteStore {
    async fn save_plan(&self, plan: NewPlan) -> Result<Vec<Suggestion>> {
        self.with_conn(move |conn, _| suggest::save_plan(conn, &plan))
            .await
    }

    async fn get_plan(&self, rep_id: String, week: Week) -> Result<Option<Vec<Suggestion>>> {
        self.with_conn(move |conn, _| suggest::get_plan(conn, &rep_id, week))
            .await
    }

    async fn list_suggestions(&self, filter: SuggestionFilter) -> Result<Vec<Suggestion>> {
        self.with_conn(move |conn, _| suggest::list(conn, &filter))
            .await
    }

    async fn get_suggestion(&self, suggestion_id: String) -> Result<Option<Suggestion>> {
        self.with_conn(move |conn, _| suggest::get(conn, &suggestion_id))
            .await
    }

    async fn suggestion_feedback(
        &self,
        suggestion_id: String,
        feedback: Feedback,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<Suggestion, FieldError>>> {
        self.with_conn(move |conn, _| suggest::feedback(conn, &suggestion_id, &feedback, now))
            .await
    }

    async fn cancel_suggestions(
        &self,
        cancellations: Vec<(String, String)>,
        now: Timestamp,
    ) -> Result<usize> {
        self.with_conn(move |conn, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let cancelled = suggest::cancel(&tx, &cancellations, now)?;
            tx.commit()?;
            Ok(cancelled)
        })
        .await
    }
}

impl crate::store::Deliveries for SqliteStore {
    async fn claim_deliveries(&self, claim: crate::DeliveryClaim) -> Result<Vec<crate::Delivery>> {
        self.with_conn(move |conn, _| delivery::claim(conn, &claim))
            .await
    }

    async fn finish_delivery(
        &self,
        delivery_id: String,
        lease_token: String,
        outcome: crate::DeliveryOutcome,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<crate::Delivery, FieldError>>> {
        self.with_conn(move |conn, _| {
            delivery::finish(conn, &delivery_id, &lease_token, &outcome, now)
        })
        .await
    }

    async fn get_delivery(&self, delivery_id: String) -> Result<Option<crate::Delivery>> {
        self.with_conn(move |conn, _| delivery::get_delivery(conn, &delivery_id))
            .await
    }

    async fn list_deliveries(
        &self,
        filter: crate::DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<crate::Delivery>> {
        self.with_conn(move |conn, _| delivery::list(conn, &filter, &page))
            .await
    }

    async fn retry_delivery(
        &self,
        delivery_id: String,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<crate::Delivery, FieldError>>> {
        self.with_conn(move |conn, _| delivery::retry(conn, &delivery_id, now))
            .await
    }

    async fn delivery_counts(&self) -> Result<Vec<crate::DeliveryCount>> {
        self.with_conn(move |conn, _| delivery::counts(conn)).await
    }
}

/// Writes one HCP inside the caller's transaction. An external id owned by another HCP is the
/// client's error and writes nothing; one owned by a stub (made when events arrived before the
/// master data) makes the stub this HCP, so its events stay with it.
fn put_hcp(
    tx: &Connection,
    hcp: &Hcp,
    now: Timestamp,
) -> Result<std::result::Result<Upserted, FieldError>> {
    let existing: Option<(i64, bool)> = tx
        .prepare_cached("SELECT hcp_key, is_stub FROM hcps WHERE id = ?1")?
        .query_row([hcp.id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let mut owner = tx.prepare_cached(
        "SELECT h.hcp_key, h.id, h.is_stub FROM hcp_external_ids x JOIN hcps h ON h.hcp_key = x.hcp_key
         WHERE x.system = ?1 AND x.external_id = ?2 AND x.hcp_key <> ?3",
    )?;
    let mut adopted: Option<i64> = None;
    for (i, x) in hcp.external_ids.iter().enumerate() {
        let other: Option<(i64, String, bool)> = owner
            .query_row(params![x.system, x.id, existing.map_or(-1, |e| e.0)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        match other {
            None => {}
            Some((stub, _, true)) if existing.is_none() && adopted.is_none_or(|a| a == stub) => {
                adopted = Some(stub);
            }
            Some((_, other_id, is_stub)) => {
                let owner = if is_stub {
                    format!(
                        "a stub HCP ({other_id}) made from events before its master data; \
                         only a new HCP id can take it over, merging into an existing HCP is not supported"
                    )
                } else {
                    format!("HCP {other_id}")
                };
                return Ok(Err(FieldError::new(
                    format!("external_ids[{i}]"),
                    format!("{}:{} already belongs to {owner}", x.system, x.id),
                )));
            }
        }
    }
    // One parameter list for both statements: the insert leaves ?1 (the key) unused.
    let target = existing.or(adopted.map(|stub| (stub, true)));
    let values = params![
        target.map(|t| t.0),
        hcp.id.as_str(),
        hcp.name,
        hcp.specialty,
        hcp.country,
        hcp.territory,
        to_json(&hcp.segments),
        hcp.email,
        now.millis(),
        to_json(&hcp.restricted_products)
    ];
    let (hcp_key, was_stub) = match target {
        Some((k, was_stub)) => {
            tx.prepare_cached(
                "UPDATE hcps SET id = ?2, name = ?3, specialty = ?4, country = ?5, territory = ?6,
                    segments = ?7, email = ?8, is_stub = 0, updated_at = ?9,
                    restricted_products = ?10 WHERE hcp_key = ?1",
            )?
            .execute(values)?;
            (k, was_stub)
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO hcps (id, name, specialty, country, territory, segments, email,
                    created_at, updated_at, restricted_products)
                 VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
            )?
            .execute(values)?;
            (tx.last_insert_rowid(), false)
        }
    };
    // The external ids given replace those held, except a stub's, which events already use.
    if !was_stub {
        tx.prepare_cached("DELETE FROM hcp_external_ids WHERE hcp_key = ?1")?
            .execute([hcp_key])?;
    }
    let mut add = tx.prepare_cached(
        "INSERT OR IGNORE INTO hcp_external_ids (system, external_id, hcp_key) VALUES (?1, ?2, ?3)",
    )?;
    for x in &hcp.external_ids {
        add.execute(params![x.system, x.id, hcp_key])?;
    }
    Ok(Ok(if existing.is_some() {
        Upserted::Updated
    } else {
        Upserted::Created
    }))
}

/// The key of a non-stub HCP by its OpenCLM id.
fn hcp_key_of(conn: &Connection, id: &HcpId) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT hcp_key FROM hcps WHERE id = ?1 AND is_stub = 0")?
        .query_row([id.as_str()], |r| r.get::<_, i64>(0))
        .optional()?)
}

fn stored_event(r: &rusqlite::Row, hcp_id: &str) -> rusqlite::Result<StoredEvent> {
    let bad = |what: &str| corrupt(what)(FieldError::new(what, "unknown code"));
    Ok(StoredEvent {
        seq: r.get(0)?,
        event_id: r.get(1)?,
        hcp_id: hcp_id.to_owned(),
        occurred_at: Timestamp::from_millis(r.get(2)?),
        received_at: Timestamp::from_millis(r.get(3)?),
        channel: Channel::from_code(r.get(4)?).ok_or_else(|| bad("events.channel"))?,
        kind: EventType::from_code(r.get(5)?).ok_or_else(|| bad("events.type"))?,
        source: r.get(6)?,
        event: serde_json::from_str(&r.get::<_, String>(7)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
        })?,
    })
}

fn api_key_row(r: &rusqlite::Row) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        key_id: r.get(0)?,
        hash: r.get(1)?,
        role: r.get(2)?,
        label: r.get(3)?,
        created_at: Timestamp::from_millis(r.get(4)?),
        revoked_at: r.get::<_, Option<i64>>(5)?.map(Timestamp::from_millis),
    })
}

/// A row of the logical schema as cells.
fn cells(row: &rusqlite::Row, width: usize) -> rusqlite::Result<Vec<Cell>> {
    use rusqlite::types::ValueRef;
    (0..width)
        .map(|i| match row.get_ref(i)? {
            ValueRef::Null => Ok(Cell::Null),
            ValueRef::Integer(v) => Ok(Cell::Int(v)),
            ValueRef::Real(v) => Ok(Cell::Real(v)),
            ValueRef::Text(t) => Ok(Cell::Text(
                std::str::from_utf8(t)
                    .map_err(rusqlite::Error::Utf8Error)?
                    .to_owned(),
            )),
            ValueRef::Blob(b) => Ok(Cell::Bytes(b.to_vec())),
        })
        .collect()
}

fn select_all(spec: &TableSpec) -> String {
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        spec.column_list(),
        spec.name,
        spec.key.join(", ")
    )
}

fn digests(conn: &mut Connection) -> Result<Vec<TableDigest>> {
    let tx = conn.transaction()?;
    let mut out = Vec::with_capacity(TABLES.len());
    for spec in TABLES {
        let mut digest = Digester::new(spec.name);
        let mut stmt = tx.prepare(&select_all(spec))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            digest.row(&cells(row, spec.columns.len())?);
        }
        out.push(digest.finish());
    }
    tx.commit()?;
    Ok(out)
}

/// A chunk of one table's rows in PostgreSQL's COPY text format: (table, rows, data).
pub(crate) type CopyChunk = (&'static str, u64, bytes::Bytes);

/// What a copy read of its source, besides the rows.
pub(crate) struct CopiedSnapshot {
    /// Every table's digest.
    pub digests: Vec<TableDigest>,
    /// The last event (seq) the copied activity rollup holds.
    pub activity_folded_upto: i64,
}

/// Reads every table of the database at `path` from one snapshot, in key order, hands the rows
/// over in chunks, and returns the digests of what it read. The database is opened read-only and
/// must be at the schema version this build knows.
pub(crate) fn read_for_copy(
    path: &Path,
    chunks: tokio::sync::mpsc::Sender<CopyChunk>,
) -> Result<CopiedSnapshot> {
    if !path.exists() {
        return Err(StoreError::Invalid(FieldError::new(
            "from",
            format!("{} does not exist", path.display()),
        )));
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    let version: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(|_| {
            StoreError::Invalid(FieldError::new(
                "from",
                format!("{} is not an OpenCLM database", path.display()),
            ))
        })?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if version != known {
        return Err(StoreError::Invalid(FieldError::new(
            "from",
            format!(
                "the database is at schema version {version}; this openclm copies version {known} (run openclm migrate on it first)"
            ),
        )));
    }
    const CHUNK_BYTES: usize = 4 << 20;
    let mut digests = Vec::with_capacity(TABLES.len());
    for spec in TABLES {
        let mut digest = Digester::new(spec.name);
        let mut stmt = tx.prepare(&select_all(spec))?;
        let mut rows = stmt.query([])?;
        let mut data = Vec::with_capacity(CHUNK_BYTES + 4096);
        let mut count = 0u64;
        let send = |data: &mut Vec<u8>, count: &mut u64| -> Result<()> {
            let chunk = bytes::Bytes::from(std::mem::take(data));
            chunks
                .blocking_send((spec.name, std::mem::take(count), chunk))
                .map_err(|_| StoreError::Closed)
        };
        while let Some(row) = rows.next()? {
            let row = cells(row, spec.columns.len())?;
            digest.row(&row);
            copy_text_row(&mut data, &row);
            count += 1;
            if data.len() >= CHUNK_BYTES {
                send(&mut data, &mut count)?;
            }
        }
        if count > 0 {
            send(&mut data, &mut count)?;
        }
        digests.push(digest.finish());
    }
    let activity_folded_upto = meta_get(&tx, "activity_folded_upto")?;
    tx.commit()?;
    Ok(CopiedSnapshot {
        digests,
        activity_folded_upto,
    })
}
