//! The PostgreSQL backend, for shared deployments: any number of `openclm serve` nodes on one
//! database. It keeps no state of its own between calls (no cache, no unindexed tail), so what one
//! node writes, every node reads at once; concurrency is the database's business, settled by
//! unique keys, `ON CONFLICT` and transaction-scoped advisory locks.

mod activity;
mod blobs;
mod campaign;
mod delivery;
mod export;
mod governance;
mod identity;
mod ingest;
mod kpi;
mod master;
mod suggest;
mod tls;

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use openclm_core::consent::{ConsentRecord, ConsentState};
use openclm_core::content::{Content, ContentKind, ContentStatus};
use openclm_core::engine::model::Counts;
use openclm_core::engine::reward::RewardConfig;
use openclm_core::hcp::ExternalId;
use openclm_core::state::HcpState;
use openclm_core::suggest::{Feedback, Rep, Suggestion, Week};
use openclm_core::{Channel, Event, EventType, FieldError, Hcp, HcpId, Timestamp};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::Row;

use crate::transfer::{Cell, Digester, TABLES, TableDigest};
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
use governance::AuditLock;
use openclm_core::audit::{AuditEntry, NewAudit};
use openclm_core::auth::User;
use openclm_core::campaign::Campaign;
use openclm_core::pv::Triage;
use openclm_core::state::StateConfig;

/// Migrations, in order. Append only: a released migration never changes.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "content_specialties",
        include_str!("../../migrations/postgres/0002_content_specialties.sql"),
    ),
    (
        3,
        "decisions",
        include_str!("../../migrations/postgres/0003_decisions.sql"),
    ),
    (
        4,
        "suggestions",
        include_str!("../../migrations/postgres/0004_suggestions.sql"),
    ),
    (
        5,
        "campaigns",
        include_str!("../../migrations/postgres/0005_campaigns.sql"),
    ),
    (
        6,
        "campaign_kpis",
        include_str!("../../migrations/postgres/0006_campaign_kpis.sql"),
    ),
    (
        7,
        "governance",
        include_str!("../../migrations/postgres/0007_governance.sql"),
    ),
    (
        8,
        "activity",
        include_str!("../../migrations/postgres/0008_activity.sql"),
    ),
    (
        9,
        "suggestions_by_hcp",
        include_str!("../../migrations/postgres/0009_suggestions_by_hcp.sql"),
    ),
    (
        10,
        "anonymous_visitors",
        include_str!("../../migrations/postgres/0010_anonymous_visitors.sql"),
    ),
    (
        11,
        "deliveries",
        include_str!("../../migrations/postgres/0011_deliveries.sql"),
    ),
    (
        12,
        "held_events_by_age",
        include_str!("../../migrations/postgres/0012_held_events_by_age.sql"),
    ),
    (
        13,
        "fold_quarantine",
        include_str!("../../migrations/postgres/0013_fold_quarantine.sql"),
    ),
    (
        14,
        "blobs",
        include_str!("../../migrations/postgres/0014_blobs.sql"),
    ),
];

/// Advisory lock held while migrations run, so that nodes starting together apply each once.
const MIGRATION_LOCK: i64 = 0x6f63_6c6d_0001;
/// Advisory lock serializing HCP master-data writes (and stub creation) across nodes, so that
/// the check "this external id belongs to nobody else" and the write that relies on it are one.
const MASTER_DATA_LOCK: i64 = 0x6f63_6c6d_0002;

/// Connections kept per node.
const POOL_SIZE: usize = 16;
/// How long a request waits for a free connection before failing.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// The PostgreSQL store. Cheap to clone; all clones share one connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// What counts as the outcome of a decision.
    rewards: std::sync::Arc<RewardConfig>,
    /// How events are read into HCP state, KPIs and activity: responses by `rewards`.
    state: std::sync::Arc<StateConfig>,
    /// What adverse-event screening looks for, fixed when the store is opened.
    screener: std::sync::Arc<openclm_core::pv::Screener>,
    /// The migrations this open applied (a fresh database gets its whole schema here).
    applied_at_open: std::sync::Arc<Vec<i64>>,
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db?options=...`),
    /// applies pending migrations, and keeps a pool of connections.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, RewardConfig::default()).await
    }

    /// Connects, crediting decisions by these reward rules.
    pub async fn open_with(url: &str, rules: impl Into<crate::IngestRules>) -> Result<Self> {
        let crate::IngestRules { rewards, pv } = rules.into();
        let screener = std::sync::Arc::new(openclm_core::pv::Screener::new(&pv));
        let tls = tls::split_url(url)?;
        let mut config = tokio_postgres::Config::from_str(&tls.url)
            .map_err(|e| StoreError::Location(format!("database_url: {e}")))?;
        config.ssl_mode(tls.ssl_mode());
        // Acknowledged means durable, whatever the server's default for this setting; and the
        // server's notices ("already exists, skipping") are not worth a log line each.
        const SESSION: &str = "-c synchronous_commit=on -c client_min_messages=warning";
        let options = match config.get_options() {
            Some(given) => format!("{given} {SESSION}"),
            None => SESSION.to_owned(),
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("openclm");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let manager = Manager::from_config(
            config,
            tls.connector()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Location(format!("database_url: {e}")))?;
        let mut store = Self {
            pool,
            state: std::sync::Arc::new(rewards.state_config()),
            rewards: std::sync::Arc::new(rewards),
            screener,
            applied_at_open: Default::default(),
        };
        store.applied_at_open = std::sync::Arc::new(store.apply_migrations().await?);
        Ok(store)
    }

    /// The migration versions opening this store applied, oldest first.
    pub fn applied_at_open(&self) -> &[i64] {
        &self.applied_at_open
    }

    /// Whether this store's connections to the server are encrypted.
    pub async fn tls_in_use(&self) -> Result<bool> {
        let client = self.client().await?;
        Ok(client
            .query_opt(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?
            .is_some_and(|r| r.get::<_, bool>(0)))
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::Unavailable(other.to_string()),
        })
    }

    async fn apply_migrations(&self) -> Result<Vec<i64>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
        let newest: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if newest > known {
            return Err(StoreError::Corrupt(format!(
                "the database is at schema version {newest}, newer than this openclm knows ({known}); upgrade openclm"
            )));
        }
        let mut applied = Vec::new();
        for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > newest) {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&version, &name],
            )
            .await?;
            applied.push(version);
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// Writes the rows of one table in PostgreSQL's COPY text format, inside `tx`.
    pub(crate) async fn copy_rows(
        tx: &deadpool_postgres::Transaction<'_>,
        table: &str,
        columns: &str,
        data: bytes::Bytes,
    ) -> Result<()> {
        use futures_util::SinkExt;
        let sink = tx
            .copy_in(&format!("COPY {table} ({columns}) FROM STDIN"))
            .await?;
        futures_util::pin_mut!(sink);
        sink.send(data).await?;
        sink.finish().await?;
        Ok(())
    }

    /// Copies a whole SQLite deployment into this (empty) database in one transaction: all or
    /// nothing. Keys are kept, so timeline cursors and references stay valid. Before committing,
    /// every table's digest is compared with the source's (taken from the snapshot copied); any
    /// difference rolls the copy back. The activity rollup comes with the events it has folded;
    /// the others are folded here as if new. (Campaign KPIs are not copied but folded anew.)
    pub async fn copy_from_sqlite(
        &self,
        source: &std::path::Path,
        mut progress: impl FnMut(&'static str, u64) + Send,
    ) -> Result<Vec<TableDigest>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MASTER_DATA_LOCK])
            .await?;
        for spec in TABLES {
            let any: bool = tx
                .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {})", spec.name), &[])
                .await?
                .get(0);
            if any {
                return Err(StoreError::Invalid(FieldError::new(
                    "to",
                    format!(
                        "the target database already holds {}; copy only into an empty database",
                        spec.name
                    ),
                )));
            }
        }
        let (chunks, mut received) = tokio::sync::mpsc::channel(4);
        let path = source.to_owned();
        let reader =
            tokio::task::spawn_blocking(move || crate::sqlite::read_for_copy(&path, chunks));
        while let Some((table, rows, data)) = received.recv().await {
            let spec = TABLES
                .iter()
                .find(|t| t.name == table)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown table {table}")))?;
            Self::copy_rows(&tx, spec.name, &spec.column_list(), data).await?;
            progress(table, rows);
        }
        let source = reader.await.map_err(|_| StoreError::Closed)??;
        activity::continue_after_copy(&tx, source.activity_folded_upto).await?;
        let expected = source.digests;
        for spec in TABLES {
            if let Some(column) = spec.generated {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                            COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)",
                        table = spec.name
                    ),
                    &[],
                )
                .await?;
            }
        }
        let copied = digests_in(&tx).await?;
        for (want, got) in expected.iter().zip(&copied) {
            if want != got {
                return Err(StoreError::Corrupt(format!(
                    "{}: the copy holds {} rows (sha256 {}) but the source {} rows (sha256 {}); nothing was copied",
                    want.table, got.rows, got.sha256, want.rows, want.sha256
                )));
            }
        }
        tx.commit().await?;
        Ok(copied)
    }
}

/// Runs `f` again when PostgreSQL aborted its transaction for a deadlock or a serialization
/// failure: both are outcomes of concurrency, not of the request, and a retry succeeds.
pub(crate) async fn retrying<T, F, Fut>(mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Err(StoreError::Postgres(e)) if attempt < 8 && is_transient(&e) => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "transaction retried");
                tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
            }
            other => return other,
        }
    }
}

fn is_transient(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// The columns [`read_decision`] reads, from `decisions d JOIN hcps h`.
const DECISION_COLUMNS: &str = "d.decision_id, h.id, d.made_at, d.model_version, d.chosen_content,
    d.chosen_channel, d.propensity, d.body, d.node_global, d.node_segment, d.node_hcp,
    d.delivered_at, d.rewarded_at, d.reserved_until, d.campaign_id, d.campaign_wave,
    d.campaign_arm";

fn read_decision(r: &tokio_postgres::Row) -> Result<DecisionRecord> {
    let channel: Option<i16> = r.get(5);
    let nodes = match (
        r.get::<_, Option<i64>>(8),
        r.get::<_, Option<i64>>(9),
        r.get::<_, Option<i64>>(10),
    ) {
        (Some(g), Some(s), Some(h)) => Some([g as u64, s as u64, h as u64]),
        _ => None,
    };
    let time = |i| r.get::<_, Option<i64>>(i).map(Timestamp::from_millis);
    Ok(DecisionRecord {
        decision_id: r.get(0),
        hcp_id: r.get(1),
        made_at: Timestamp::from_millis(r.get(2)),
        model_version: r.get(3),
        chosen_content: r.get(4),
        chosen_channel: channel.and_then(|c| Channel::from_code(c.into())),
        propensity: r.get(6),
        nodes,
        delivered_at: time(11),
        rewarded_at: time(12),
        reserved_until: time(13),
        body: serde_json::from_str(r.get(7)).map_err(|e| corrupt("decisions.body", e))?,
        campaign: match (
            r.get::<_, Option<String>>(14),
            r.get::<_, Option<i64>>(15),
            r.get::<_, Option<i64>>(16),
        ) {
            (Some(campaign_id), Some(wave), Some(arm)) => Some(CampaignTag {
                campaign_id,
                wave: wave as u32,
                arm: arm as u32,
            }),
            _ => None,
        },
    })
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn json_list(what: &str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn page_limit(page: &PageRequest) -> usize {
    page.limit.clamp(1, 1000)
}

const HCP_COLUMNS: &str =
    "hcp_key, id, name, specialty, country, territory, segments, email, restricted_products";

/// The external ids of these HCPs, by system then id, in one query.
async fn external_ids_of(
    client: &impl GenericClient,
    keys: &[i64],
) -> Result<HashMap<i64, Vec<ExternalId>>> {
    let mut external: HashMap<i64, Vec<ExternalId>> = HashMap::new();
    if !keys.is_empty() {
        let stmt = client
            .prepare_cached(
                "SELECT hcp_key, system, external_id FROM hcp_external_ids
                 WHERE hcp_key = ANY($1) ORDER BY hcp_key, system, external_id",
            )
            .await?;
        for r in client.query(&stmt, &[&keys]).await? {
            external.entry(r.get(0)).or_default().push(ExternalId {
                system: r.get(1),
                id: r.get(2),
            });
        }
    }
    Ok(external)
}

/// Reads HCP rows and their external ids (one query for all of them).
async fn read_hcps(client: &impl GenericClient, rows: Vec<Row>) -> Result<Vec<Hcp>> {
    let keys: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut external = external_ids_of(client, &keys).await?;
    rows.into_iter()
        .map(|r| {
            let key: i64 = r.get(0);
            let id: String = r.get(1);
            Ok(Hcp {
                id: HcpId::parse("id", &id).map_err(|e| corrupt("hcps.id", e))?,
                name: r.get(2),
                specialty: r.get(3),
                country: r.get(4),
                territory: r.get(5),
                segments: json_list("hcps.segments", r.get(6))?,
                email: r.get(7),
                external_ids: external.remove(&key).unwrap_or_default(),
                restricted_products: json_list("hcps.restricted_products", r.get(8))?,
            })
        })
        .collect()
}

const CONTENT_COLUMNS: &str = "id, title, kind, product, topics, language, countries, version, \
     status, approval_code, approved_at, valid_from, expires_at, specialties, mlr";

fn read_content(r: &Row, now: Timestamp) -> Result<Content> {
    let ts = |i: usize| r.get::<_, Option<i64>>(i).map(Timestamp::from_millis);
    let mut content = Content {
        id: r.get(0),
        title: r.get(1),
        kind: ContentKind::parse("kind", r.get(2)).map_err(|e| corrupt("content.kind", e))?,
        product: r.get(3),
        topics: json_list("content.topics", r.get(4))?,
        language: r.get(5),
        countries: json_list("content.countries", r.get(6))?,
        specialties: json_list("content.specialties", r.get(13))?,
        version: u32::try_from(r.get::<_, i64>(7)).map_err(|e| corrupt("content.version", e))?,
        status: ContentStatus::parse("status", r.get(8))
            .map_err(|e| corrupt("content.status", e))?,
        approval_code: r.get(9),
        approved_at: ts(10),
        valid_from: ts(11),
        expires_at: ts(12),
        mlr: serde_json::from_str(r.get(14)).map_err(|e| corrupt("content.mlr", e))?,
    };
    content.status = content.status_at(now);
    Ok(content)
}

fn stored_event(r: &Row, hcp_id: &str) -> Result<StoredEvent> {
    let channel: i16 = r.get(4);
    let kind: i16 = r.get(5);
    Ok(StoredEvent {
        seq: r.get(0),
        event_id: r.get(1),
        hcp_id: hcp_id.to_owned(),
        occurred_at: Timestamp::from_millis(r.get(2)),
        received_at: Timestamp::from_millis(r.get(3)),
        channel: Channel::from_code(channel.into())
            .ok_or_else(|| corrupt("events.channel", channel))?,
        kind: EventType::from_code(kind.into()).ok_or_else(|| corrupt("events.type", kind))?,
        source: r.get(6),
        event: serde_json::from_str(r.get(7)).map_err(|e| corrupt("events.payload", e))?,
    })
}

fn api_key_row(r: &Row) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: r.get(0),
        hash: r.get(1),
        role: r.get(2),
        label: r.get(3),
        created_at: Timestamp::from_millis(r.get(4)),
        revoked_at: r.get::<_, Option<i64>>(5).map(Timestamp::from_millis),
    }
}

/// A read-only transaction that sees one snapshot of the database for all its statements.
async fn snapshot(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>> {
    Ok(client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// The HCP key of a non-stub HCP by its OpenCLM id.
async fn hcp_key_of(client: &impl GenericClient, id: &HcpId) -> Result<Option<i64>> {
    let stmt = client
        .prepare_cached("SELECT hcp_key FROM hcps WHERE id = $1 AND NOT is_stub")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&id.as_str()])
        .await?
        .map(|r| r.get(0)))
}

/// Events folded into KPIs per transaction.
const KPI_BATCH: usize = 20_000;

impl PgStore {
    /// Folds every finished event not yet counted, batch by batch.
    async fn catch_up_kpis(&self) -> Result<()> {
        while crate::Campaigns::fold_kpis(self, KPI_BATCH).await? == KPI_BATCH {}
        Ok(())
    }
}

/// Events folded into the activity rollup per transaction.
const ACTIVITY_BATCH: usize = 20_000;

impl PgStore {
    /// Folds every finished event not yet in the activity rollup, batch by batch.
    async fn catch_up_activity(&self) -> Result<()> {
        while crate::Reporting::fold_activity(self, ACTIVITY_BATCH).await? == ACTIVITY_BATCH {}
        Ok(())
    }
}

impl crate::store::Maintenance for PgStore {
    async fn migrate(&self) -> Result<Vec<i64>> {
        self.apply_migrations().await
    }

    async fn check_writable(&self) -> Result<()> {
        // A standby, or a server or role set to default_transaction_read_only, refuses writes.
        let client = self.client().await?;
        let read_only: String = client
            .query_one("SHOW transaction_read_only", &[])
            .await?
            .get(0);
        if read_only == "on" {
            return Err(StoreError::Unavailable(
                "the database is read-only (transaction_read_only is on)".into(),
            ));
        }
        Ok(())
    }

    async fn counts(&self) -> Result<StoreCounts> {
        let client = self.client().await?;
        let r = client
            .query_one(
                "SELECT (SELECT COUNT(*) FROM hcps WHERE NOT is_stub),
                        (SELECT COUNT(*) FROM content),
                        (SELECT COUNT(*) FROM events),
                        (SELECT COUNT(*) FROM consent_records),
                        (SELECT COUNT(*) FROM api_keys)",
                &[],
            )
            .await?;
        let n = |i: usize| r.get::<_, i64>(i) as u64;
        Ok(StoreCounts {
            hcps: n(0),
            content: n(1),
            events: n(2),
            consent_records: n(3),
            api_keys: n(4),
        })
    }

    async fn check_integrity(&self) -> Result<IntegrityReport> {
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let single = async |sql: &str| -> Result<i64> { Ok(tx.query_one(sql, &[]).await?.get(0)) };
        let mut problems = Vec::new();
        let repeated = single(
            "SELECT COUNT(*) FROM (SELECT event_id FROM events GROUP BY event_id HAVING COUNT(*) > 1) r",
        )
        .await?;
        if repeated > 0 {
            problems.push(format!("{repeated} event ids are stored more than once"));
        }
        let orphans = single(
            "SELECT COUNT(*) FROM events e LEFT JOIN hcps h ON h.hcp_key = e.hcp_key WHERE h.hcp_key IS NULL",
        )
        .await?;
        if orphans > 0 {
            problems.push(format!("{orphans} events name no stored HCP"));
        }
        let invalid_indexes = single(
            "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
             WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
               AND NOT i.indisvalid",
        )
        .await?;
        if invalid_indexes > 0 {
            problems.push(format!(
                "{invalid_indexes} indexes are invalid (an interrupted CREATE INDEX CONCURRENTLY?)"
            ));
        }
        tx.commit().await?;
        Ok(IntegrityReport { problems })
    }

    async fn table_digests(&self) -> Result<Vec<TableDigest>> {
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let digests = digests_in(&tx).await?;
        tx.commit().await?;
        Ok(digests)
    }
}

impl crate::store::Events for PgStore {
    async fn ingest(
        &self,
        events: Vec<Event>,
        unknown_hcp: UnknownHcpPolicy,
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>> {
        if events.is_empty() {
            return Ok(vec![]);
        }
        let batch = ingest::Batch::new(events, &self.rewards, &self.screener);
        retrying(|| ingest::write(self, &batch, unknown_hcp, now)).await
    }

    async fn timeline(
        &self,
        hcp: HcpId,
        filter: TimelineFilter,
        page: PageRequest,
    ) -> Result<Option<Page<StoredEvent>>> {
        let before = match page.cursor.as_deref() {
            Some(c) => cursor::decode_pair(c)?,
            None => (i64::MAX, i64::MAX),
        };
        let limit = page_limit(&page);
        let client = self.client().await?;
        let Some(hcp_key) = hcp_key_of(&client, &hcp).await? else {
            return Ok(None);
        };
        let channel = filter.channel.map(|c| c.code() as i16);
        let kind = filter.kind.map(|k| k.code() as i16);
        let stmt = client
            .prepare_cached(
                "SELECT seq, event_id, occurred_at, received_at, channel, type, source, payload
                 FROM events
                 WHERE hcp_key = $1 AND (occurred_at, seq) < ($2, $3)
                   AND ($4::smallint IS NULL OR channel = $4) AND ($5::smallint IS NULL OR type = $5)
                 ORDER BY occurred_at DESC, seq DESC LIMIT $6",
            )
            .await?;
        let rows = client
            .query(
                &stmt,
                &[
                    &hcp_key,
                    &before.0,
                    &before.1,
                    &channel,
                    &kind,
                    &(limit as i64 + 1),
                ],
            )
            .await?;
        let items = rows
            .iter()
            .map(|r| stored_event(r, hcp.as_str()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Page::from_overfetch(items, limit, |last| {
            cursor::encode_pair(last.occurred_at.millis(), last.seq)
        })))
    }

    async fn consent_history(&self, hcp: HcpId) -> Result<Option<Vec<ConsentRecord>>> {
        let client = self.client().await?;
        let Some(hcp_key) = hcp_key_of(&client, &hcp).await? else {
            return Ok(None);
        };
        let stmt = client
            .prepare_cached(
                "SELECT channel, purpose, state, source, event_id, changed_at, evidence, notice_version
                 FROM consent_records
                 WHERE hcp_key = $1 ORDER BY changed_at, id",
            )
            .await?;
        let records = client
            .query(&stmt, &[&hcp_key])
            .await?
            .iter()
            .map(|r| {
                let channel: i16 = r.get(0);
                Ok(ConsentRecord {
                    channel: Channel::from_code(channel.into())
                        .ok_or_else(|| corrupt("consent_records.channel", channel))?,
                    purpose: r.get(1),
                    state: ConsentState::parse("state", r.get(2))
                        .map_err(|e| corrupt("consent_records.state", e))?,
                    source: r.get(3),
                    event_id: r.get(4),
                    changed_at: Timestamp::from_millis(r.get(5)),
                    evidence: r.get(6),
                    notice_version: r.get(7),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(records))
    }

    async fn hcp_state(&self, hcp: HcpId) -> Result<Option<HcpState>> {
        // Folded from the HCP's events on every read: exact whichever node stored them, and no
        // cost on the ingest path.
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let Some(hcp_key) = hcp_key_of(&tx, &hcp).await? else {
            return Ok(None);
        };
        let stmt = tx
            .prepare_cached(
                "SELECT payload, content_id FROM events WHERE hcp_key = $1 ORDER BY seq",
            )
            .await?;
        let rows = tx.query(&stmt, &[&hcp_key]).await?;
        let mut content_ids: Vec<&str> = rows.iter().filter_map(|r| r.get(1)).collect();
        content_ids.sort_unstable();
        content_ids.dedup();
        let stmt = tx
            .prepare_cached("SELECT id, topics FROM content WHERE id = ANY($1)")
            .await?;
        let topics: std::collections::HashMap<String, Vec<String>> = tx
            .query(&stmt, &[&content_ids])
            .await?
            .iter()
            .map(|r| {
                let list: Vec<String> = serde_json::from_str(r.get(1)).unwrap_or_default();
                (r.get(0), list)
            })
            .collect();
        let mut state = HcpState::default();
        crate::rows::fold_payloads(
            &mut state,
            rows.iter().map(|r| r.get::<_, &str>(0)),
            &topics,
            &self.state,
        );
        tx.commit().await?;
        Ok(Some(state))
    }

    async fn export_events(
        &self,
        after_seq: i64,
        received_since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<crate::ExportEvent>> {
        let client = self.client().await?;
        export::events(&client, after_seq, received_since, limit).await
    }
}

impl crate::store::Identity for PgStore {
    async fn hcps_by_email(&self, emails: Vec<String>) -> Result<Vec<(String, HcpId)>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT email, id FROM hcps WHERE NOT is_stub AND email = ANY($1)
                 ORDER BY email, id",
            )
            .await?;
        client
            .query(&stmt, &[&emails])
            .await?
            .iter()
            .map(|r| Ok((r.get(0), crate::rows::stored_hcp_id(r.get(1))?)))
            .collect()
    }

    async fn hcp_by_external_id(&self, system: String, id: String) -> Result<Option<Hcp>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {HCP_COLUMNS} FROM hcps WHERE NOT is_stub AND hcp_key =
                 (SELECT hcp_key FROM hcp_external_ids WHERE system = $1 AND external_id = $2)"
            ))
            .await?;
        let rows = client.query(&stmt, &[&system, &id]).await?;
        Ok(read_hcps(&client, rows).await?.pop())
    }

    async fn resolve_anonymous(
        &self,
        source: String,
        anonymous_ids: Vec<String>,
    ) -> Result<Vec<(String, String)>> {
        let client = self.client().await?;
        identity::resolve(&client, &source, &anonymous_ids).await
    }

    async fn park_anonymous(
        &self,
        source: String,
        events: Vec<crate::ParkedEvent>,
        limits: crate::HoldLimits,
        now: Timestamp,
    ) -> Result<Vec<crate::Parked>> {
        let mut client = self.client().await?;
        identity::park(&mut client, &source, &events, limits, now).await
    }

    async fn link_anonymous(
        &self,
        source: String,
        anonymous_id: String,
        user_id: String,
        now: Timestamp,
    ) -> Result<Vec<crate::ParkedEvent>> {
        let mut client = self.client().await?;
        identity::link(&mut client, &source, &anonymous_id, &user_id, now).await
    }

    async fn unpark(
        &self,
        source: String,
        anonymous_id: String,
        event_ids: Vec<String>,
    ) -> Result<usize> {
        let client = self.client().await?;
        identity::unpark(&client, &source, &anonymous_id, &event_ids).await
    }
}

impl crate::store::MasterData for PgStore {
    async fn put_hcps(
        &self,
        hcps: Vec<Hcp>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<std::result::Result<Upserted, FieldError>>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MASTER_DATA_LOCK])
                .await?;
            let held = governance::AuditLock::take(&tx).await?;
            let ids: Vec<&str> = hcps.iter().map(|h| h.id.as_str()).collect();
            let stmt = tx
                .prepare_cached(&format!(
                    "SELECT {HCP_COLUMNS} FROM hcps WHERE id = ANY($1) AND NOT is_stub"
                ))
                .await?;
            let rows = tx.query(&stmt, &[&ids]).await?;
            let mut old: HashMap<String, Hcp> = read_hcps(&tx, rows)
                .await?
                .into_iter()
                .map(|h| (h.id.as_str().to_owned(), h))
                .collect();
            // Identifiers of erased HCPs are refused before anything is written.
            let keys: Vec<Vec<(String, String)>> =
                hcps.iter().map(crate::rows::suppression_keys).collect();
            let hashes: Vec<&str> = keys.iter().flatten().map(|(_, h)| h.as_str()).collect();
            let found: std::collections::HashSet<String> = tx
                .query(
                    "SELECT hash FROM suppressions WHERE hash = ANY($1)",
                    &[&hashes],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let refused: Vec<Option<String>> = keys
                .iter()
                .map(|k| {
                    k.iter()
                        .find(|(_, h)| found.contains(h))
                        .map(|(f, _)| f.clone())
                })
                .collect();
            let admitted: Vec<Hcp> = hcps
                .iter()
                .zip(&refused)
                .filter(|(_, r)| r.is_none())
                .map(|(h, _)| h.clone())
                .collect();
            let mut written = master::put_hcps(&tx, &admitted, now).await?.into_iter();
            let results: Vec<std::result::Result<Upserted, FieldError>> = refused
                .iter()
                .map(|r| match r {
                    Some(field) => Err(crate::rows::suppressed_error(field)),
                    None => written.next().unwrap_or(Ok(Upserted::Updated)),
                })
                .collect();
            let mut audit = Vec::new();
            for (hcp, result) in hcps.iter().zip(&results) {
                if result.is_ok() {
                    let before = old.remove(hcp.id.as_str());
                    audit.extend(crate::audit::hcp_change(&actor, before.as_ref(), hcp));
                    // A later item of the batch with the same id changes this one.
                    old.insert(hcp.id.as_str().to_owned(), hcp.clone());
                }
            }
            governance::append_audit(&tx, &held, audit, now).await?;
            tx.commit().await?;
            Ok(results)
        })
        .await
    }

    async fn get_hcp(&self, id: HcpId) -> Result<Option<Hcp>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {HCP_COLUMNS} FROM hcps WHERE id = $1 AND NOT is_stub"
            ))
            .await?;
        let rows = client.query(&stmt, &[&id.as_str()]).await?;
        Ok(read_hcps(&client, rows).await?.pop())
    }

    async fn list_hcps(&self, filter: HcpFilter, page: PageRequest) -> Result<Page<Hcp>> {
        let after = page
            .cursor
            .as_deref()
            .map(cursor::decode_text)
            .transpose()?;
        let limit = page_limit(&page);
        let mut client = self.client().await?;
        // One snapshot for the page and its external ids.
        let tx = snapshot(&mut client).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {HCP_COLUMNS} FROM hcps
                 WHERE NOT is_stub AND ($1::text IS NULL OR territory = $1)
                   AND ($2::text IS NULL OR specialty = $2) AND ($3::text IS NULL OR country = $3)
                   AND ($4::text IS NULL OR id > $4)
                 ORDER BY id LIMIT $5"
            ))
            .await?;
        let rows = tx
            .query(
                &stmt,
                &[
                    &filter.territory,
                    &filter.specialty.map(|s| s.to_lowercase()),
                    &filter.country.map(|c| c.to_uppercase()),
                    &after,
                    &(limit as i64 + 1),
                ],
            )
            .await?;
        let items = read_hcps(&tx, rows).await?;
        tx.commit().await?;
        Ok(Page::from_overfetch(items, limit, |last| {
            last.id.to_string()
        }))
    }

    async fn put_content(
        &self,
        items: Vec<Content>,
        actor: String,
        now: Timestamp,
    ) -> Result<Vec<Upserted>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // Taken first, so the old value each entry records is the one this write replaces.
            let held = AuditLock::take(&tx).await?;
            let mut results = Vec::with_capacity(items.len());
            let mut audit = Vec::with_capacity(items.len());
            for c in &items {
                let old = governance::read_content_for_update(&tx, &c.id, now).await?;
                governance::write_content(&tx, c, now).await?;
                if c.status != ContentStatus::Approved {
                    let why = format!("content {} is {}", c.id, c.status);
                    suggest::cancel_for_content(&tx, &c.id, &why, now).await?;
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
            governance::append_audit(&tx, &held, audit, now).await?;
            tx.commit().await?;
            Ok(results)
        })
        .await
    }

    async fn get_content(&self, id: String, now: Timestamp) -> Result<Option<Content>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {CONTENT_COLUMNS} FROM content WHERE id = $1"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id])
            .await?
            .map(|r| read_content(&r, now))
            .transpose()
    }

    async fn list_content(
        &self,
        filter: ContentFilter,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<Content>> {
        let after = page
            .cursor
            .as_deref()
            .map(cursor::decode_text)
            .transpose()?;
        let limit = page_limit(&page);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                // Approved content past its expiry counts as expired.
                "SELECT {CONTENT_COLUMNS} FROM content
                 WHERE ($2::text = '' OR $2 = CASE
                        WHEN status = 'approved' AND expires_at <= $1 THEN 'expired'
                        ELSE status END)
                   AND ($3::text IS NULL OR product = $3) AND ($4::text IS NULL OR id > $4)
                 ORDER BY id LIMIT $5"
            ))
            .await?;
        let status = filter.status.map_or("", |s| s.as_str());
        let rows = client
            .query(
                &stmt,
                &[
                    &now.millis(),
                    &status,
                    &filter.product,
                    &after,
                    &(limit as i64 + 1),
                ],
            )
            .await?;
        let items = rows
            .iter()
            .map(|r| read_content(r, now))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |last| last.id.clone()))
    }

    async fn put_rep(&self, rep: Rep, now: Timestamp) -> Result<Upserted> {
        let client = self.client().await?;
        suggest::put_rep(&client, &rep, now).await
    }

    async fn get_rep(&self, rep_id: String) -> Result<Option<Rep>> {
        let client = self.client().await?;
        suggest::get_rep(&client, &rep_id).await
    }

    async fn export_hcps(
        &self,
        after: Option<String>,
        updated_since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<crate::ExportHcp>> {
        let client = self.client().await?;
        export::hcps(&client, after, updated_since, limit).await
    }
}

impl crate::store::Access for PgStore {
    async fn create_api_key(
        &self,
        key: ApiKeyRecord,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<()> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = AuditLock::take(&tx).await?;
            tx.execute(
                "INSERT INTO api_keys (key_id, hash, role, label, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&key.key_id, &key.hash, &key.role, &key.label, &key.created_at.millis()],
            )
            .await?;
            governance::append_audit(&tx, &held, vec![audit.clone()], now).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn find_api_key(&self, key_id: String) -> Result<Option<ApiKeyRecord>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT key_id, hash, role, label, created_at, revoked_at FROM api_keys WHERE key_id = $1",
            )
            .await?;
        Ok(client
            .query_opt(&stmt, &[&key_id])
            .await?
            .as_ref()
            .map(api_key_row))
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let client = self.client().await?;
        Ok(client
            .query(
                "SELECT key_id, hash, role, label, created_at, revoked_at FROM api_keys
                 ORDER BY created_at, key_id",
                &[],
            )
            .await?
            .iter()
            .map(api_key_row)
            .collect())
    }

    async fn revoke_api_key(
        &self,
        key_id: String,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<bool> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = AuditLock::take(&tx).await?;
            let changed = tx
                .execute(
                    "UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL",
                    &[&key_id, &now.millis()],
                )
                .await?;
            if changed > 0 {
                governance::append_audit(&tx, &held, vec![audit.clone()], now).await?;
            }
            tx.commit().await?;
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
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = AuditLock::take(&tx).await?;
            let created =
                governance::create_user(&tx, &held, &user, &password_hash, audit.clone()).await?;
            tx.commit().await?;
            Ok(created)
        })
        .await
    }

    async fn find_user(&self, user_id: String) -> Result<Option<UserRecord>> {
        let client = self.client().await?;
        governance::find_user(&client, &user_id).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let client = self.client().await?;
        governance::list_users(&client).await
    }

    async fn disable_user(&self, user_id: String, audit: NewAudit, now: Timestamp) -> Result<bool> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = AuditLock::take(&tx).await?;
            let done = governance::disable_user(&tx, &held, &user_id, audit.clone(), now).await?;
            tx.commit().await?;
            Ok(done)
        })
        .await
    }

    async fn record_login(&self, user_id: String, succeeded: bool, now: Timestamp) -> Result<bool> {
        let client = self.client().await?;
        governance::record_login(&client, &user_id, succeeded, now).await
    }

    async fn create_session(
        &self,
        token_hash: String,
        user_id: String,
        now: Timestamp,
    ) -> Result<()> {
        let client = self.client().await?;
        governance::create_session(&client, &token_hash, &user_id, now).await
    }

    async fn touch_session(
        &self,
        token_hash: String,
        now: Timestamp,
        limits: SessionLimits,
    ) -> Result<Option<User>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let user = governance::touch_session(&tx, &token_hash, now, limits).await?;
            tx.commit().await?;
            Ok(user)
        })
        .await
    }

    async fn end_session(&self, token_hash: String, now: Timestamp) -> Result<bool> {
        let client = self.client().await?;
        governance::end_session(&client, &token_hash, now).await
    }
}

impl crate::store::Governance for PgStore {
    async fn append_audit(&self, entries: Vec<NewAudit>, now: Timestamp) -> Result<()> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = AuditLock::take(&tx).await?;
            governance::append_audit(&tx, &held, entries.clone(), now).await?;
            tx.commit().await?;
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
        let client = self.client().await?;
        governance::audit_entries(&client, record.as_deref(), after_seq, limit).await
    }

    async fn transition_content(
        &self,
        content: Content,
        expected: (ContentStatus, String),
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<(bool, WithdrawalEffect)>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = AuditLock::take(&tx).await?;
            let done =
                governance::transition_content(&tx, &held, &content, &expected, audit.clone(), now)
                    .await?;
            tx.commit().await?;
            Ok(done)
        })
        .await
    }

    async fn send_history(&self, filter: SendFilter, limit: usize) -> Result<Vec<SendRecord>> {
        let client = self.client().await?;
        governance::send_history(&client, &filter, limit).await
    }

    async fn ae_cases(&self, filter: AeFilter) -> Result<Vec<AeCase>> {
        let client = self.client().await?;
        governance::ae_cases(&client, &filter).await
    }

    async fn get_ae_case(&self, case_id: String) -> Result<Option<AeCase>> {
        let client = self.client().await?;
        governance::get_ae_case(&client, &case_id).await
    }

    async fn ae_case_counts(&self, now: Timestamp) -> Result<AeCounts> {
        let client = self.client().await?;
        governance::ae_case_counts(&client, now).await
    }

    async fn triage_ae_case(
        &self,
        case_id: String,
        triage: Triage,
        by: String,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<bool>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = AuditLock::take(&tx).await?;
            let done =
                governance::triage_ae_case(&tx, &held, &case_id, &triage, &by, audit.clone(), now)
                    .await?;
            tx.commit().await?;
            Ok(done)
        })
        .await
    }

    async fn mark_ae_alerted(&self, case_ids: Vec<String>, now: Timestamp) -> Result<()> {
        let client = self.client().await?;
        governance::mark_ae_alerted(&client, &case_ids, now).await
    }

    async fn open_ae_case(&self, case: crate::NewAeCase, now: Timestamp) -> Result<bool> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = governance::AuditLock::take(&tx).await?;
            let opened = tx
                .execute(
                    "INSERT INTO ae_cases (case_id, event_id, hcp_key, source, field, received_at,
                        due_at, text, findings, status)
                     SELECT $1, $2, hcp_key, $3, $4, $5, $6, $7, $8, 'open' FROM hcps WHERE id = $9
                     ON CONFLICT (case_id) DO NOTHING",
                    &[
                        &case.case_id,
                        &case.event_id,
                        &case.source,
                        &case.field,
                        &now.millis(),
                        &openclm_core::pv::due_at(now, case.due_hours).millis(),
                        &case.text,
                        &case.findings,
                        &case.hcp.as_str(),
                    ],
                )
                .await?
                > 0;
            if opened {
                tx.execute(
                    "INSERT INTO screening_counts (source, screened, flagged) VALUES ($1, 1, 1)
                     ON CONFLICT (source) DO UPDATE SET
                        screened = screening_counts.screened + 1,
                        flagged = screening_counts.flagged + 1",
                    &[&case.source],
                )
                .await?;
                let audit = crate::audit::case_opened(&case.source, &case.case_id, &case.event_id);
                governance::append_audit(&tx, &held, vec![audit], now).await?;
            }
            tx.commit().await?;
            Ok(opened)
        })
        .await
    }

    async fn screening_report(&self) -> Result<Vec<SourceScreening>> {
        let client = self.client().await?;
        governance::screening_report(&client).await
    }

    async fn suppressed(&self, hashes: Vec<String>) -> Result<Vec<String>> {
        let client = self.client().await?;
        governance::suppressed(&client, &hashes).await
    }

    async fn erase_hcp(
        &self,
        hcp: HcpId,
        pseudonym: String,
        suppress: Vec<String>,
        audit: NewAudit,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let report =
                governance::erase_hcp(&tx, &hcp, &pseudonym, &suppress, audit.clone(), now).await?;
            tx.commit().await?;
            Ok(report)
        })
        .await
    }
}

impl crate::store::Decisions for PgStore {
    async fn model_nodes(&self, keys: Vec<u64>) -> Result<Vec<(u64, Counts)>> {
        // Keys are stored as the i64 with the same bits.
        let keys: Vec<i64> = keys.into_iter().map(|k| k as i64).collect();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT node_key, trials, successes FROM model_counts WHERE node_key = ANY($1)",
            )
            .await?;
        Ok(client
            .query(&stmt, &[&keys])
            .await?
            .iter()
            .map(|r| {
                (
                    r.get::<_, i64>(0) as u64,
                    Counts {
                        trials: r.get(1),
                        successes: r.get(2),
                    },
                )
            })
            .collect())
    }

    async fn add_model_counts(&self, increments: Vec<(u64, Counts)>) -> Result<()> {
        let mut increments = increments;
        // One order on every node: concurrent additions wait on each other in one direction.
        increments.sort_by_key(|(k, _)| *k as i64);
        let keys: Vec<i64> = increments.iter().map(|(k, _)| *k as i64).collect();
        let trials: Vec<f64> = increments.iter().map(|(_, c)| c.trials).collect();
        let successes: Vec<f64> = increments.iter().map(|(_, c)| c.successes).collect();
        retrying(|| async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "INSERT INTO model_counts (node_key, trials, successes)
                     SELECT k, SUM(t), SUM(s)
                     FROM unnest($1::int8[], $2::float8[], $3::float8[]) AS u(k, t, s)
                     GROUP BY k ORDER BY k
                     ON CONFLICT (node_key) DO UPDATE
                     SET trials = model_counts.trials + excluded.trials,
                         successes = model_counts.successes + excluded.successes",
                )
                .await?;
            client.execute(&stmt, &[&keys, &trials, &successes]).await?;
            Ok(())
        })
        .await
    }

    async fn log_decisions(&self, decisions: Vec<DecisionRecord>) -> Result<Vec<bool>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let logged = suggest::insert_decisions(&tx, &decisions).await?;
        governance::record_sends(&tx, &decisions, &logged).await?;
        delivery::enqueue(&tx, &decisions, &logged).await?;
        tx.commit().await?;
        Ok(logged)
    }

    async fn get_decision(&self, decision_id: String) -> Result<Option<DecisionRecord>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM decisions d JOIN hcps h ON h.hcp_key = d.hcp_key
             WHERE d.decision_id = $1"
        );
        let stmt = client.prepare_cached(&sql).await?;
        client
            .query_opt(&stmt, &[&decision_id])
            .await?
            .map(|r| read_decision(&r))
            .transpose()
    }

    async fn list_decisions(
        &self,
        filter: DecisionFilter,
        page: PageRequest,
    ) -> Result<Page<DecisionRecord>> {
        let after = page
            .cursor
            .as_deref()
            .map(cursor::decode_text)
            .transpose()?;
        let limit = page_limit(&page);
        let client = self.client().await?;
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM decisions d JOIN hcps h ON h.hcp_key = d.hcp_key
             WHERE ($1::text IS NULL OR d.campaign_id = $1)
               AND ($2::bigint IS NULL OR d.made_at >= $2)
               AND ($3::bigint IS NULL OR d.made_at < $3)
               AND ($4::text IS NULL OR d.decision_id > $4)
             ORDER BY d.decision_id LIMIT $5"
        );
        let stmt = client.prepare_cached(&sql).await?;
        let items = client
            .query(
                &stmt,
                &[
                    &filter.campaign_id,
                    &filter.since.map(Timestamp::millis),
                    &filter.until.map(Timestamp::millis),
                    &after,
                    &(limit as i64 + 1),
                ],
            )
            .await?
            .iter()
            .map(read_decision)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |last| {
            last.decision_id.clone()
        }))
    }

    async fn planned_touches(&self, hcp: HcpId, now: Timestamp) -> Result<Vec<PlannedTouch>> {
        let client = self.client().await?;
        let Some(hcp_key) = hcp_key_of(&client, &hcp).await? else {
            return Ok(Vec::new());
        };
        suggest::planned_touches(&client, hcp_key, now).await
    }
}

impl crate::store::Campaigns for PgStore {
    async fn put_campaign(
        &self,
        campaign: Campaign,
        actor: String,
        now: Timestamp,
    ) -> Result<Upserted> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let held = governance::AuditLock::take(&tx).await?;
            let old = campaign::get(&tx, &campaign.id).await?;
            let saved = campaign::put(&tx, &campaign, now).await?;
            let entry = crate::audit::campaign_change(&actor, old.as_ref(), &campaign);
            governance::append_audit(&tx, &held, vec![entry], now).await?;
            tx.commit().await?;
            Ok(saved)
        })
        .await
    }

    async fn get_campaign(&self, campaign_id: String) -> Result<Option<Campaign>> {
        let client = self.client().await?;
        campaign::get(&client, &campaign_id).await
    }

    async fn list_campaigns(&self) -> Result<Vec<Campaign>> {
        let client = self.client().await?;
        campaign::list(&client).await
    }

    async fn save_wave(&self, wave: NewWave) -> Result<(WaveRecord, bool)> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let saved = campaign::save_wave(&tx, &wave).await?;
            tx.commit().await?;
            Ok(saved)
        })
        .await
    }

    async fn list_waves(&self, campaign_id: String) -> Result<Vec<WaveRecord>> {
        let client = self.client().await?;
        campaign::list_waves(&client, &campaign_id).await
    }

    async fn campaign_groups(&self, campaign_id: String) -> Result<Vec<(i64, u64)>> {
        let client = self.client().await?;
        campaign::groups(&client, &campaign_id).await
    }

    async fn fold_kpis(&self, batch: usize) -> Result<usize> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let read = kpi::fold_pending(&tx, &self.state, batch).await?;
            tx.commit().await?;
            Ok(read)
        })
        .await
    }

    async fn campaign_slices(&self, filter: KpiFilter) -> Result<Vec<SliceRow>> {
        self.catch_up_kpis().await?;
        let client = self.client().await?;
        kpi::slices(&client, &filter).await
    }

    async fn campaign_moments(&self, campaign_id: String) -> Result<Vec<GroupMoments>> {
        self.catch_up_kpis().await?;
        let client = self.client().await?;
        kpi::moments(&client, &campaign_id).await
    }

    async fn wave_members(&self, campaign_id: String, wave: u32) -> Result<Vec<WaveMemberRow>> {
        self.catch_up_kpis().await?;
        let client = self.client().await?;
        campaign::wave_members(&client, &campaign_id, wave).await
    }
}

impl crate::store::Reporting for PgStore {
    async fn fold_activity(&self, batch: usize) -> Result<usize> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let read = activity::fold_pending(&tx, &self.state, batch).await?;
            tx.commit().await?;
            Ok(read)
        })
        .await
    }

    async fn quarantined_events(&self, limit: usize) -> Result<Vec<crate::QuarantinedEvent>> {
        self.catch_up_kpis().await?;
        self.catch_up_activity().await?;
        let client = self.client().await?;
        kpi::quarantined(&client, limit).await
    }

    async fn activity(&self, from_day: i64, to_day: i64) -> Result<crate::Activity> {
        self.catch_up_activity().await?;
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let activity = activity::read(&tx, from_day, to_day).await?;
        tx.commit().await?;
        Ok(activity)
    }

    async fn content_activity(
        &self,
        content_id: Option<String>,
    ) -> Result<Vec<crate::ContentActivity>> {
        self.catch_up_activity().await?;
        let client = self.client().await?;
        activity::read_content(&client, content_id.as_deref()).await
    }

    async fn record_simulation(&self, run: crate::SimulationRun) -> Result<()> {
        let client = self.client().await?;
        activity::record_simulation(&client, &run).await
    }

    async fn last_simulation(&self) -> Result<Option<crate::SimulationRun>> {
        let client = self.client().await?;
        activity::last_simulation(&client).await
    }
}

impl crate::store::RepPlans for PgStore {
    async fn save_plan(&self, plan: NewPlan) -> Result<Vec<Suggestion>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let stored = suggest::save_plan(&tx, &plan).await?;
            tx.commit().await?;
            Ok(stored)
        })
        .await
    }

    async fn get_plan(&self, rep_id: String, week: Week) -> Result<Option<Vec<Suggestion>>> {
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let plan = suggest::get_plan(&tx, &rep_id, week).await?;
        tx.commit().await?;
        Ok(plan)
    }

    async fn list_suggestions(&self, filter: SuggestionFilter) -> Result<Vec<Suggestion>> {
        let client = self.client().await?;
        suggest::list(&client, &filter).await
    }

    async fn get_suggestion(&self, suggestion_id: String) -> Result<Option<Suggestion>> {
        let client = self.client().await?;
        suggest::get(&client, &suggestion_id).await
    }

    async fn suggestion_feedback(
        &self,
        suggestion_id: String,
        feedback: Feedback,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<Suggestion, FieldError>>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let result = suggest::feedback(&tx, &suggestion_id, &feedback, now).await?;
            tx.commit().await?;
            Ok(result)
        })
        .await
    }

    async fn cancel_suggestions(
        &self,
        cancellations: Vec<(String, String)>,
        now: Timestamp,
    ) -> Result<usize> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let cancelled = suggest::cancel(&tx, &cancellations, now).await?;
            tx.commit().await?;
            Ok(cancelled)
        })
        .await
    }
}

impl crate::store::Deliveries for PgStore {
    async fn claim_deliveries(&self, claim: crate::DeliveryClaim) -> Result<Vec<crate::Delivery>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let claimed = delivery::claim(&tx, &claim).await?;
            tx.commit().await?;
            Ok(claimed)
        })
        .await
    }

    async fn finish_delivery(
        &self,
        delivery_id: String,
        lease_token: String,
        outcome: crate::DeliveryOutcome,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<crate::Delivery, FieldError>>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let done = delivery::finish(&tx, &delivery_id, &lease_token, &outcome, now).await?;
            tx.commit().await?;
            Ok(done)
        })
        .await
    }

    async fn get_delivery(&self, delivery_id: String) -> Result<Option<crate::Delivery>> {
        let client = self.client().await?;
        delivery::get(&client, &delivery_id).await
    }

    async fn list_deliveries(
        &self,
        filter: crate::DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<crate::Delivery>> {
        let client = self.client().await?;
        delivery::list(&client, &filter, &page).await
    }

    async fn retry_delivery(
        &self,
        delivery_id: String,
        now: Timestamp,
    ) -> Result<Option<std::result::Result<crate::Delivery, FieldError>>> {
        retrying(|| async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let done = delivery::retry(&tx, &delivery_id, now).await?;
            tx.commit().await?;
            Ok(done)
        })
        .await
    }

    async fn delivery_counts(&self) -> Result<Vec<crate::DeliveryCount>> {
        let client = self.client().await?;
        delivery::counts(&client).await
    }
}

/// The digest of every table as `tx` sees them.
async fn digests_in(tx: &deadpool_postgres::Transaction<'_>) -> Result<Vec<TableDigest>> {
    let mut digests = Vec::with_capacity(TABLES.len());
    for spec in TABLES {
        // Integer keys need no collation; text keys compare byte-wise, as in SQLite.
        let order = spec
            .key
            .iter()
            .map(|k| {
                if spec.text_key {
                    format!("{k} COLLATE \"C\"")
                } else {
                    (*k).to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {order}",
            spec.column_list(),
            spec.name
        );
        let mut digest = Digester::new(spec.name);
        let portal = tx.bind(sql.as_str(), &[]).await?;
        loop {
            let rows = tx.query_portal(&portal, spec.rows_per_fetch()).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                digest.row(&cells(row)?);
            }
        }
        digests.push(digest.finish());
    }
    Ok(digests)
}

/// A row as cells of the logical schema.
fn cells(row: &Row) -> Result<Vec<Cell>> {
    use tokio_postgres::types::Type;
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let cell = match *column.type_() {
            Type::INT8 => row.get::<_, Option<i64>>(i).map(Cell::Int),
            Type::INT4 => row.get::<_, Option<i32>>(i).map(|v| Cell::Int(v.into())),
            Type::INT2 => row.get::<_, Option<i16>>(i).map(|v| Cell::Int(v.into())),
            Type::FLOAT8 => row.get::<_, Option<f64>>(i).map(Cell::Real),
            Type::BOOL => row.get::<_, Option<bool>>(i).map(|v| Cell::Int(v.into())),
            Type::TEXT | Type::VARCHAR => row.get::<_, Option<String>>(i).map(Cell::Text),
            Type::BYTEA => row.get::<_, Option<Vec<u8>>>(i).map(Cell::Bytes),
            ref other => return Err(corrupt(column.name(), format!("unexpected type {other}"))),
        };
        out.push(cell.unwrap_or(Cell::Null));
    }
    Ok(out)
}

/// `url` with its sessions' `search_path` set to `schema`: one database can hold several
/// OpenCLM deployments (or test runs), each in a schema of its own.
pub fn url_with_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// One connection outside any pool, with the URL's TLS settings, and the task driving it.
async fn connect_once(url: &str) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let tls = tls::split_url(url)?;
    let mut config = tokio_postgres::Config::from_str(&tls.url)
        .map_err(|e| StoreError::Location(format!("database_url: {e}")))?;
    config.ssl_mode(tls.ssl_mode());
    let (client, connection) = config.connect(tls.connector()?).await?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, driver))
}

fn check_schema_name(schema: &str) -> Result<()> {
    if schema.is_empty()
        || !schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(StoreError::Invalid(FieldError::new(
            "schema",
            "must be lower-case letters, digits and underscores",
        )));
    }
    Ok(())
}

/// Creates `schema` in the database at `url` unless it exists.
pub async fn create_schema(url: &str, schema: &str) -> Result<()> {
    check_schema_name(schema)?;
    execute_once(url, &format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await
}

/// Drops `schema` and everything in it from the database at `url`.
pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
    check_schema_name(schema)?;
    execute_once(url, &format!("DROP SCHEMA {schema} CASCADE")).await
}

async fn execute_once(url: &str, sql: &str) -> Result<()> {
    let (client, driver) = connect_once(url).await?;
    client.batch_execute(sql).await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}
