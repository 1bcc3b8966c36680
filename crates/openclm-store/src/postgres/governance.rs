//! Governance in PostgreSQL: accounts and sessions, the audit chain, content lifecycle steps, the
//! send history, adverse-event cases and erasure. Every change writes its audit entry in its
//! own transaction, as in SQLite.
//!
//! Several nodes append to one chain, so each entry must follow the newest committed one: an
//! audited transaction takes [`AuditLock`] before it touches any row and holds it until it ends.
//! Taken before any row lock, the lock's holder never waits for a transaction that waits for it.

use deadpool_postgres::GenericClient;
use openclm_core::audit::{AuditEntry, GENESIS, NewAudit};
use openclm_core::auth::{LOCKOUT_MS, MAX_FAILED_LOGINS, Role, User};
use openclm_core::content::{Content, ContentStatus};
use openclm_core::pv::{AeStatus, Triage};
use openclm_core::{Channel, HcpId, Timestamp};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{
    CONTENT_COLUMNS, MASTER_DATA_LOCK, corrupt, json_list, read_content, suggest, to_json,
};
use crate::{
    AeCase, AeCounts, AeFilter, DecisionRecord, ErasureReport, Result, SendFilter, SendRecord,
    SessionLimits, SourceScreening, UserRecord, WithdrawalEffect,
};

type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// Advisory lock key of the audit chain, the same on every node.
const AUDIT_CHAIN_LOCK: i64 = 0x6f70_656e_636c_6d01;

/// Held by a transaction that may append to the audit trail; [`append_audit`] asks for it so
/// that no entry is chained without it.
pub(super) struct AuditLock(());

impl AuditLock {
    pub(super) async fn take(tx: &Tx<'_>) -> Result<Self> {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_CHAIN_LOCK])
            .await?;
        Ok(Self(()))
    }
}

/// Appends `entries` after the newest entry, in the caller's transaction.
pub(super) async fn append_audit(
    tx: &Tx<'_>,
    _held: &AuditLock,
    entries: Vec<NewAudit>,
    now: Timestamp,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev) = tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?
        .map_or((0, GENESIS.to_owned()), |r| (r.get::<_, i64>(0), r.get(1)));
    let stmt = tx
        .prepare_cached(
            "INSERT INTO audit_log (seq, at, actor, action, record, old_value, new_value, reason,
                prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await?;
    for new in entries {
        seq += 1;
        let e = AuditEntry::chain(new, seq, now, &prev);
        tx.execute(
            &stmt,
            &[
                &e.seq,
                &e.at.millis(),
                &e.actor,
                &e.action,
                &e.record,
                &e.old_value,
                &e.new_value,
                &e.reason,
                &e.prev_hash,
                &e.hash,
            ],
        )
        .await?;
        prev = e.hash;
    }
    Ok(())
}

pub(super) async fn audit_entries(
    client: &impl GenericClient,
    record: Option<&str>,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<AuditEntry>> {
    let stmt = client
        .prepare_cached(
            "SELECT seq, at, actor, action, record, old_value, new_value, reason, prev_hash, hash
             FROM audit_log WHERE seq > $1 AND ($2::text IS NULL OR record = $2)
             ORDER BY seq LIMIT $3",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&after_seq, &record, &(limit as i64)])
        .await?
        .iter()
        .map(|r| AuditEntry {
            seq: r.get(0),
            at: Timestamp::from_millis(r.get(1)),
            actor: r.get(2),
            action: r.get(3),
            record: r.get(4),
            old_value: r.get(5),
            new_value: r.get(6),
            reason: r.get(7),
            prev_hash: r.get(8),
            hash: r.get(9),
        })
        .collect())
}

const USER_COLUMNS: &str = "user_id, display_name, role, territories, password_hash, created_at,
    disabled_at, failed_logins, locked_until";

fn read_user(r: &Row) -> Result<UserRecord> {
    Ok(UserRecord {
        user: User {
            user_id: r.get(0),
            display_name: r.get(1),
            role: Role::parse("role", r.get(2)).map_err(|e| corrupt("users.role", e))?,
            territories: json_list("users.territories", r.get(3))?,
            created_at: Timestamp::from_millis(r.get(5)),
            disabled_at: r.get::<_, Option<i64>>(6).map(Timestamp::from_millis),
        },
        password_hash: r.get(4),
        failed_logins: r.get::<_, i32>(7) as u32,
        locked_until: r.get::<_, Option<i64>>(8).map(Timestamp::from_millis),
    })
}

pub(super) async fn create_user(
    tx: &Tx<'_>,
    held: &AuditLock,
    user: &User,
    password_hash: &str,
    audit: NewAudit,
) -> Result<bool> {
    let inserted = tx
        .execute(
            "INSERT INTO users (user_id, display_name, role, territories, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id) DO NOTHING",
            &[
                &user.user_id,
                &user.display_name,
                &user.role.as_str(),
                &to_json(&user.territories),
                &password_hash,
                &user.created_at.millis(),
            ],
        )
        .await?;
    if inserted > 0 {
        append_audit(tx, held, vec![audit], user.created_at).await?;
    }
    Ok(inserted > 0)
}

pub(super) async fn find_user(
    client: &impl GenericClient,
    user_id: &str,
) -> Result<Option<UserRecord>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&user_id])
        .await?
        .as_ref()
        .map(read_user)
        .transpose()
}

pub(super) async fn list_users(client: &impl GenericClient) -> Result<Vec<User>> {
    // Byte-wise, as SQLite orders text.
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY user_id COLLATE \"C\""
        ))
        .await?;
    client
        .query(&stmt, &[])
        .await?
        .iter()
        .map(|r| read_user(r).map(|u| u.user))
        .collect()
}

pub(super) async fn disable_user(
    tx: &Tx<'_>,
    held: &AuditLock,
    user_id: &str,
    audit: NewAudit,
    now: Timestamp,
) -> Result<bool> {
    let exists = tx
        .query_opt("SELECT 1 FROM users WHERE user_id = $1", &[&user_id])
        .await?
        .is_some();
    if !exists {
        return Ok(false);
    }
    let changed = tx
        .execute(
            "UPDATE users SET disabled_at = $2 WHERE user_id = $1 AND disabled_at IS NULL",
            &[&user_id, &now.millis()],
        )
        .await?;
    if changed == 0 {
        // Already disabled: nothing changes, so nothing is audited.
        return Ok(true);
    }
    tx.execute(
        "UPDATE sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL",
        &[&user_id, &now.millis()],
    )
    .await?;
    append_audit(tx, held, vec![audit], now).await?;
    Ok(true)
}

pub(super) async fn record_login(
    client: &impl GenericClient,
    user_id: &str,
    succeeded: bool,
    now: Timestamp,
) -> Result<bool> {
    if succeeded {
        client
            .execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        return Ok(true);
    }
    // One statement: concurrent attempts each count, and none passes a lock another set.
    let counted = client
        .execute(
            "UPDATE users SET failed_logins = failed_logins + 1,
                locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3::int8 ELSE NULL END
             WHERE user_id = $1 AND disabled_at IS NULL
               AND (locked_until IS NULL OR locked_until <= $4)",
            &[
                &user_id,
                &(MAX_FAILED_LOGINS as i32),
                &(now.millis() + LOCKOUT_MS),
                &now.millis(),
            ],
        )
        .await?;
    Ok(counted > 0)
}

pub(super) async fn create_session(
    client: &impl GenericClient,
    token_hash: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<()> {
    client
        .execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at)
             VALUES ($1, $2, $3, $3)",
            &[&token_hash, &user_id, &now.millis()],
        )
        .await?;
    Ok(())
}

pub(super) async fn touch_session(
    tx: &Tx<'_>,
    token_hash: &str,
    now: Timestamp,
    limits: SessionLimits,
) -> Result<Option<User>> {
    // Locked so that a logout or expiry on another node and this use are one after the other.
    // The user row is read without a lock: disabling locks it before the sessions, and this
    // order would be the reverse.
    let found = tx
        .query_opt(
            "SELECT user_id, created_at, last_seen_at, ended_at FROM sessions
             WHERE token_hash = $1 FOR UPDATE",
            &[&token_hash],
        )
        .await?;
    let Some(row) = found else {
        return Ok(None);
    };
    if row.get::<_, Option<i64>>(3).is_some() {
        return Ok(None);
    }
    let (user_id, created, last_seen): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let user = find_user(tx, &user_id).await?.map(|u| u.user);
    let live = limits.live(created, last_seen, now.millis())
        && user.as_ref().is_some_and(|u| u.disabled_at.is_none());
    if !live {
        end_session(tx, token_hash, now).await?;
        return Ok(None);
    }
    // A busy session writes its use at most every `touch_every_ms`, as on SQLite.
    if !limits.needs_touch(last_seen, now.millis()) {
        return Ok(user);
    }
    tx.execute(
        "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE token_hash = $1",
        &[&token_hash, &now.millis()],
    )
    .await?;
    Ok(user)
}

pub(super) async fn end_session(
    client: &impl GenericClient,
    token_hash: &str,
    now: Timestamp,
) -> Result<bool> {
    Ok(client
        .execute(
            "UPDATE sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
            &[&token_hash, &now.millis()],
        )
        .await?
        > 0)
}

/// Inserts or replaces a content item, its MLR record included.
pub(super) async fn write_content(tx: &Tx<'_>, c: &Content, now: Timestamp) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO content (id, title, kind, product, topics, language, countries,
                version, status, approval_code, approved_at, valid_from, expires_at, updated_at,
                specialties, mlr, author)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, kind = excluded.kind,
                product = excluded.product, topics = excluded.topics,
                language = excluded.language, countries = excluded.countries,
                version = excluded.version, status = excluded.status,
                approval_code = excluded.approval_code, approved_at = excluded.approved_at,
                valid_from = excluded.valid_from, expires_at = excluded.expires_at,
                updated_at = excluded.updated_at, specialties = excluded.specialties,
                mlr = excluded.mlr, author = excluded.author",
        )
        .await?;
    let mlr = serde_json::to_string(&c.mlr).unwrap_or_else(|_| "{}".into());
    let params: [&(dyn ToSql + Sync); 17] = [
        &c.id,
        &c.title,
        &c.kind.as_str(),
        &c.product,
        &to_json(&c.topics),
        &c.language,
        &to_json(&c.countries),
        &i64::from(c.version),
        &c.status.as_str(),
        &c.approval_code,
        &c.approved_at.map(Timestamp::millis),
        &c.valid_from.map(Timestamp::millis),
        &c.expires_at.map(Timestamp::millis),
        &now.millis(),
        &to_json(&c.specialties),
        &mlr,
        &c.mlr.author,
    ];
    tx.execute(&stmt, &params).await?;
    Ok(())
}

/// The stored item, locked until the transaction ends.
pub(super) async fn read_content_for_update(
    tx: &Tx<'_>,
    id: &str,
    now: Timestamp,
) -> Result<Option<Content>> {
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {CONTENT_COLUMNS} FROM content WHERE id = $1 FOR UPDATE"
        ))
        .await?;
    tx.query_opt(&stmt, &[&id])
        .await?
        .map(|r| read_content(&r, now))
        .transpose()
}

pub(super) async fn transition_content(
    tx: &Tx<'_>,
    held: &AuditLock,
    content: &Content,
    expected: &(ContentStatus, String),
    audit: NewAudit,
    now: Timestamp,
) -> Result<Option<(bool, WithdrawalEffect)>> {
    let Some(stored) = read_content_for_update(tx, &content.id, now).await? else {
        return Ok(None);
    };
    if stored.status != expected.0 || stored.content_hash() != expected.1 {
        return Ok(Some((false, WithdrawalEffect::default())));
    }
    write_content(tx, content, now).await?;
    let mut effect = WithdrawalEffect::default();
    if content.status != ContentStatus::Approved {
        let why = format!("content {} is {}", content.id, content.status);
        effect.suggestions_cancelled =
            suggest::cancel_for_content(tx, &content.id, &why, now).await? as u64;
        // Undelivered decisions stop holding a place and can no longer be delivered as such.
        effect.sends_cancelled = tx
            .execute(
                "UPDATE decisions SET reserved_until = $2
                 WHERE chosen_content = $1 AND delivered_at IS NULL
                   AND (reserved_until IS NULL OR reserved_until > $2)",
                &[&content.id, &now.millis()],
            )
            .await?;
        super::delivery::cancel_for_content(tx, &content.id, &why, now).await?;
    }
    append_audit(tx, held, vec![audit], now).await?;
    Ok(Some((true, effect)))
}

/// Records the sends of newly logged decisions: the chosen content's current version.
pub(super) async fn record_sends(
    tx: &Tx<'_>,
    decisions: &[DecisionRecord],
    logged: &[bool],
) -> Result<()> {
    let ids: Vec<&str> = decisions
        .iter()
        .zip(logged)
        .filter(|(d, ok)| **ok && d.chosen_content.is_some())
        .map(|(d, _)| d.decision_id.as_str())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO sends (decision_id, hcp_key, content_id, content_version, content_hash,
                channel, sent_at)
             SELECT d.decision_id, d.hcp_key, c.id, c.version,
                COALESCE((c.mlr::jsonb)->>'approved_hash', ''), d.chosen_channel, d.made_at
             FROM decisions d JOIN content c ON c.id = d.chosen_content
             WHERE d.decision_id = ANY($1) AND d.chosen_channel IS NOT NULL
             ON CONFLICT (decision_id) DO NOTHING",
        )
        .await?;
    tx.execute(&stmt, &[&ids]).await?;
    Ok(())
}

pub(super) async fn send_history(
    client: &impl GenericClient,
    filter: &SendFilter,
    limit: usize,
) -> Result<Vec<SendRecord>> {
    let stmt = client
        .prepare_cached(
            "SELECT s.decision_id, h.id, s.content_id, s.content_version, s.content_hash,
                s.channel, s.sent_at
             FROM sends s JOIN hcps h ON h.hcp_key = s.hcp_key
             WHERE ($1::text IS NULL OR s.content_id = $1) AND ($2::text IS NULL OR h.id = $2)
             ORDER BY s.sent_at, s.decision_id COLLATE \"C\" LIMIT $3",
        )
        .await?;
    client
        .query(
            &stmt,
            &[
                &filter.content_id,
                &filter.hcp.as_ref().map(HcpId::as_str),
                &(limit as i64),
            ],
        )
        .await?
        .iter()
        .map(|r| {
            let channel: i16 = r.get(5);
            Ok(SendRecord {
                decision_id: r.get(0),
                hcp_id: r.get(1),
                content_id: r.get(2),
                content_version: u32::try_from(r.get::<_, i32>(3))
                    .map_err(|e| corrupt("sends.content_version", e))?,
                content_hash: r.get(4),
                channel: Channel::from_code(channel.into())
                    .ok_or_else(|| corrupt("sends.channel", channel))?,
                sent_at: Timestamp::from_millis(r.get(6)),
            })
        })
        .collect()
}

const AE_COLUMNS: &str = "a.case_id, a.event_id, h.id, a.source, a.field, a.received_at,
    a.due_at, a.text, a.findings, a.status, a.triaged_by, a.triaged_at, a.external_ref,
    a.triage_note, a.alerted_at";

fn read_ae(r: &Row) -> Result<AeCase> {
    let ts = |i: usize| r.get::<_, Option<i64>>(i).map(Timestamp::from_millis);
    Ok(AeCase {
        case_id: r.get(0),
        event_id: r.get(1),
        hcp_id: r.get(2),
        source: r.get(3),
        field: r.get(4),
        received_at: Timestamp::from_millis(r.get(5)),
        due_at: Timestamp::from_millis(r.get(6)),
        text: r.get(7),
        findings: serde_json::from_str(r.get(8)).unwrap_or_default(),
        status: AeStatus::parse("status", r.get(9)).map_err(|e| corrupt("ae_cases.status", e))?,
        triaged_by: r.get(10),
        triaged_at: ts(11),
        external_ref: r.get(12),
        triage_note: r.get(13),
        alerted_at: ts(14),
    })
}

pub(super) async fn ae_cases(
    client: &impl GenericClient,
    filter: &AeFilter,
) -> Result<Vec<AeCase>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {AE_COLUMNS} FROM ae_cases a JOIN hcps h ON h.hcp_key = a.hcp_key
             WHERE ($1::text IS NULL OR a.status = $1) AND ($2::bigint IS NULL OR a.due_at < $2)
               AND (NOT $3 OR a.alerted_at IS NULL) AND ($4::text IS NULL OR a.source = $4)
               AND ($5::text IS NULL OR EXISTS (
                     SELECT 1 FROM jsonb_array_elements_text(a.findings::jsonb -> 'products') p
                     WHERE lower(p) = lower($5)))
             ORDER BY a.due_at, a.case_id COLLATE \"C\"
             LIMIT $6 OFFSET $7"
        ))
        .await?;
    client
        .query(
            &stmt,
            &[
                &filter.status.map(AeStatus::as_str),
                &filter.due_before.map(Timestamp::millis),
                &filter.not_alerted,
                &filter.source,
                &filter.product,
                &filter.limit.map(i64::from),
                &i64::try_from(filter.offset).unwrap_or(i64::MAX),
            ],
        )
        .await?
        .iter()
        .map(read_ae)
        .collect()
}

pub(super) async fn ae_case_counts(
    client: &impl GenericClient,
    now: Timestamp,
) -> Result<AeCounts> {
    let stmt = client
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE status = 'open'),
                    count(*) FILTER (WHERE status = 'open' AND due_at < $1),
                    count(*) FILTER (WHERE status <> 'open')
             FROM ae_cases",
        )
        .await?;
    let row = client.query_one(&stmt, &[&now.millis()]).await?;
    Ok(AeCounts {
        open: row.get::<_, i64>(0) as u64,
        overdue: row.get::<_, i64>(1) as u64,
        triaged: row.get::<_, i64>(2) as u64,
    })
}

pub(super) async fn get_ae_case(
    client: &impl GenericClient,
    case_id: &str,
) -> Result<Option<AeCase>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {AE_COLUMNS} FROM ae_cases a JOIN hcps h ON h.hcp_key = a.hcp_key
             WHERE a.case_id = $1"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&case_id])
        .await?
        .as_ref()
        .map(read_ae)
        .transpose()
}

pub(super) async fn triage_ae_case(
    tx: &Tx<'_>,
    held: &AuditLock,
    case_id: &str,
    triage: &Triage,
    by: &str,
    audit: NewAudit,
    now: Timestamp,
) -> Result<Option<bool>> {
    let status: Option<String> = tx
        .query_opt(
            "SELECT status FROM ae_cases WHERE case_id = $1 FOR UPDATE",
            &[&case_id],
        )
        .await?
        .map(|r| r.get(0));
    match status.as_deref() {
        None => return Ok(None),
        Some("open") => {}
        Some(_) => return Ok(Some(false)),
    }
    tx.execute(
        "UPDATE ae_cases SET status = $2, triaged_by = $3, triaged_at = $4, external_ref = $5,
            triage_note = $6
         WHERE case_id = $1 AND status = 'open'",
        &[
            &case_id,
            &triage.status.as_str(),
            &by,
            &now.millis(),
            &triage.external_ref,
            &triage.note,
        ],
    )
    .await?;
    append_audit(tx, held, vec![audit], now).await?;
    Ok(Some(true))
}

pub(super) async fn mark_ae_alerted(
    client: &impl GenericClient,
    case_ids: &[String],
    now: Timestamp,
) -> Result<()> {
    client
        .execute(
            "UPDATE ae_cases SET alerted_at = $2 WHERE case_id = ANY($1) AND alerted_at IS NULL",
            &[&case_ids, &now.millis()],
        )
        .await?;
    Ok(())
}

pub(super) async fn screening_report(client: &impl GenericClient) -> Result<Vec<SourceScreening>> {
    let stmt = client
        .prepare_cached(
            "SELECT s.source, s.screened, s.flagged,
                (SELECT COUNT(*) FROM ae_cases a
                 WHERE a.source = s.source AND a.status = 'ae_forwarded'),
                (SELECT COUNT(*) FROM ae_cases a WHERE a.source = s.source AND a.status <> 'open')
             FROM screening_counts s ORDER BY s.source COLLATE \"C\"",
        )
        .await?;
    Ok(client
        .query(&stmt, &[])
        .await?
        .iter()
        .map(|r| SourceScreening {
            source: r.get(0),
            screened: r.get::<_, i64>(1) as u64,
            flagged: r.get::<_, i64>(2) as u64,
            forwarded: r.get::<_, i64>(3) as u64,
            acknowledged: r.get::<_, i64>(4) as u64,
        })
        .collect())
}

pub(super) async fn suppressed(
    client: &impl GenericClient,
    hashes: &[String],
) -> Result<Vec<String>> {
    let stmt = client
        .prepare_cached("SELECT hash FROM suppressions WHERE hash = ANY($1)")
        .await?;
    let found: std::collections::HashSet<String> = client
        .query(&stmt, &[&hashes])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(hashes
        .iter()
        .filter(|h| found.contains(*h))
        .cloned()
        .collect())
}

/// The HCP's id, name, email and external ids, as erasure looks for them in what it keeps.
async fn hcp_identifiers(tx: &Tx<'_>, hcp_key: i64) -> Result<crate::rows::Identifiers> {
    let row = tx
        .query_one(
            "SELECT id, name, email FROM hcps WHERE hcp_key = $1",
            &[&hcp_key],
        )
        .await?;
    let mut values: Vec<String> = vec![row.get(0), row.get(1)];
    values.extend(row.get::<_, Option<String>>(2));
    for r in tx
        .query(
            "SELECT external_id FROM hcp_external_ids WHERE hcp_key = $1",
            &[&hcp_key],
        )
        .await?
    {
        values.push(r.get(0));
    }
    Ok(crate::rows::Identifiers::new(
        values.iter().map(String::as_str),
    ))
}

pub(super) async fn erase_hcp(
    tx: &Tx<'_>,
    hcp: &HcpId,
    pseudonym: &str,
    suppress: &[String],
    audit: NewAudit,
    now: Timestamp,
) -> Result<Option<ErasureReport>> {
    // Erasure is a master-data write: ingest, which holds this lock shared, cannot add an event
    // for the HCP under its old id between the redaction and the commit.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MASTER_DATA_LOCK])
        .await?;
    let held = AuditLock::take(tx).await?;
    let Some(hcp_key) = super::hcp_key_of(tx, hcp).await? else {
        return Ok(None);
    };
    let mut report = ErasureReport {
        pseudonym: pseudonym.to_owned(),
        ..ErasureReport::default()
    };
    let identifiers = hcp_identifiers(tx, hcp_key).await?;
    let events = tx
        .query(
            "SELECT seq, payload FROM events WHERE hcp_key = $1 ORDER BY seq",
            &[&hcp_key],
        )
        .await?;
    let seqs: Vec<i64> = events.iter().map(|r| r.get(0)).collect();
    let payloads: Vec<String> = events
        .iter()
        .map(|r| crate::rows::redact_payload(r.get(1), pseudonym, &identifiers))
        .collect();
    tx.execute(
        "UPDATE events e SET payload = u.payload
         FROM unnest($1::int8[], $2::text[]) AS u(seq, payload) WHERE e.seq = u.seq",
        &[&seqs, &payloads],
    )
    .await?;
    report.events_redacted = seqs.len() as u64;
    // Logged decisions quote the HCP's id in their bodies.
    tx.execute(
        "UPDATE decisions SET body = replace(body, $2, $3) WHERE hcp_key = $1",
        &[
            &hcp_key,
            &serde_json::Value::from(hcp.as_str()).to_string(),
            &serde_json::Value::from(pseudonym).to_string(),
        ],
    )
    .await?;
    // A tracking source's anonymous ids linked to the HCP would tie a device to them, and the
    // events still held for those ids (refused when released) carry its pages and address.
    tx.execute(
        "DELETE FROM anonymous_events WHERE (source, anonymous_id) IN
         (SELECT l.source, l.anonymous_id FROM anonymous_links l
          JOIN hcp_external_ids x ON x.system = l.source AND x.external_id = l.user_id
          WHERE x.hcp_key = $1)",
        &[&hcp_key],
    )
    .await?;
    tx.execute(
        "DELETE FROM anonymous_links WHERE (source, user_id) IN
         (SELECT system, external_id FROM hcp_external_ids WHERE hcp_key = $1)",
        &[&hcp_key],
    )
    .await?;
    report.external_ids_removed = tx
        .execute(
            "DELETE FROM hcp_external_ids WHERE hcp_key = $1",
            &[&hcp_key],
        )
        .await?;
    report.consent_records_removed = tx
        .execute(
            "DELETE FROM consent_records WHERE hcp_key = $1",
            &[&hcp_key],
        )
        .await?;
    // No cached state to drop: PostgreSQL folds an HCP's state from its (now redacted) events
    // on every read.
    // What is kept is a key for aggregates and PV cases, not master data: like a stub, it is
    // listed, planned and decided for by no one.
    tx.execute(
        "UPDATE hcps SET id = $2, name = '', email = NULL, segments = '[]', is_stub = TRUE,
            updated_at = $3
         WHERE hcp_key = $1",
        &[&hcp_key, &pseudonym, &now.millis()],
    )
    .await?;
    // Reps' notes about the HCP go; their open suggestions are cancelled.
    tx.execute(
        "UPDATE suggestions SET note = NULL,
            status = CASE WHEN status IN ('pending', 'accepted') THEN 'cancelled' ELSE status END,
            cancelled_because = CASE WHEN status IN ('pending', 'accepted')
                THEN 'the HCP was erased' ELSE cancelled_because END,
            updated_at = $2
         WHERE hcp_key = $1",
        &[&hcp_key, &now.millis()],
    )
    .await?;
    report.suppressions_added = tx
        .execute(
            "INSERT INTO suppressions (hash, reason, added_at)
             SELECT h, 'erased', $2 FROM unnest($1::text[]) WITH ORDINALITY AS u(h, n)
             ORDER BY n
             ON CONFLICT (hash) DO NOTHING",
            &[&suppress, &now.millis()],
        )
        .await?;
    report.ae_cases_kept = tx
        .query_one(
            "SELECT COUNT(*) FROM ae_cases WHERE hcp_key = $1",
            &[&hcp_key],
        )
        .await?
        .get::<_, i64>(0) as u64;
    append_audit(tx, &held, vec![audit.new_value(&report)], now).await?;
    Ok(Some(report))
}
