//! Governance in SQLite: accounts and sessions, the audit chain, content lifecycle steps, the
//! send history, adverse-event cases and erasure. Every change writes its audit entry in its
//! own transaction.

use openclm_core::audit::{AuditEntry, GENESIS, NewAudit};
use openclm_core::auth::{LOCKOUT_MS, MAX_FAILED_LOGINS, Role, User};
use openclm_core::content::{Content, ContentStatus};
use openclm_core::pv::{AeStatus, Triage};
use openclm_core::{Channel, FieldError, HcpId, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use super::{CONTENT_COLUMNS, corrupt, json_list, read_content, suggest, to_json};
use crate::{
    AeCase, AeCounts, AeFilter, ErasureReport, Result, SendFilter, SendRecord, SessionLimits,
    SourceScreening, UserRecord, WithdrawalEffect,
};

/// Appends `entries` after the newest entry, in the caller's (write) transaction.
pub(super) fn append_audit(tx: &Connection, entries: Vec<NewAudit>, now: Timestamp) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev) = tx
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .optional()?
        .unwrap_or((0, GENESIS.to_owned()));
    let mut insert = tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, record, old_value, new_value, reason,
            prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for new in entries {
        seq += 1;
        let e = AuditEntry::chain(new, seq, now, &prev);
        insert.execute(params![
            e.seq,
            e.at.millis(),
            e.actor,
            e.action,
            e.record,
            e.old_value,
            e.new_value,
            e.reason,
            e.prev_hash,
            e.hash
        ])?;
        prev = e.hash;
    }
    Ok(())
}

pub(super) fn audit_entries(
    conn: &Connection,
    record: Option<String>,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, actor, action, record, old_value, new_value, reason, prev_hash, hash
         FROM audit_log WHERE seq > ?1 AND (?2 IS NULL OR record = ?2) ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![after_seq, record, limit as i64], |r| {
        Ok(AuditEntry {
            seq: r.get(0)?,
            at: Timestamp::from_millis(r.get(1)?),
            actor: r.get(2)?,
            action: r.get(3)?,
            record: r.get(4)?,
            old_value: r.get(5)?,
            new_value: r.get(6)?,
            reason: r.get(7)?,
            prev_hash: r.get(8)?,
            hash: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn read_user(r: &rusqlite::Row) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        user: User {
            user_id: r.get(0)?,
            display_name: r.get(1)?,
            role: Role::parse("role", &r.get::<_, String>(2)?).map_err(corrupt("users.role"))?,
            territories: json_list(&r.get::<_, String>(3)?)?,
            created_at: Timestamp::from_millis(r.get(5)?),
            disabled_at: r.get::<_, Option<i64>>(6)?.map(Timestamp::from_millis),
        },
        password_hash: r.get(4)?,
        failed_logins: r.get::<_, i64>(7)? as u32,
        locked_until: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_millis),
    })
}

const USER_COLUMNS: &str = "user_id, display_name, role, territories, password_hash, created_at,
    disabled_at, failed_logins, locked_until";

pub(super) fn create_user(
    tx: &Connection,
    user: &User,
    password_hash: &str,
    audit: NewAudit,
) -> Result<bool> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO users (user_id, display_name, role, territories, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (user_id) DO NOTHING",
        )?
        .execute(params![
            user.user_id,
            user.display_name,
            user.role.as_str(),
            to_json(&user.territories),
            password_hash,
            user.created_at.millis()
        ])?;
    if inserted > 0 {
        append_audit(tx, vec![audit], user.created_at)?;
    }
    Ok(inserted > 0)
}

pub(super) fn find_user(conn: &Connection, user_id: &str) -> Result<Option<UserRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1"
        ))?
        .query_row([user_id], read_user)
        .optional()?)
}

pub(super) fn list_users(conn: &Connection) -> Result<Vec<User>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY user_id"
        ))?
        .query_map([], read_user)?
        .map(|r| r.map(|u| u.user))
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn disable_user(
    tx: &Connection,
    user_id: &str,
    audit: NewAudit,
    now: Timestamp,
) -> Result<bool> {
    if find_user(tx, user_id)?.is_none() {
        return Ok(false);
    }
    let changed = tx.execute(
        "UPDATE users SET disabled_at = ?2 WHERE user_id = ?1 AND disabled_at IS NULL",
        params![user_id, now.millis()],
    )?;
    if changed == 0 {
        // Already disabled: nothing changes, so nothing is audited.
        return Ok(true);
    }
    tx.execute(
        "UPDATE sessions SET ended_at = ?2 WHERE user_id = ?1 AND ended_at IS NULL",
        params![user_id, now.millis()],
    )?;
    append_audit(tx, vec![audit], now)?;
    Ok(true)
}

pub(super) fn record_login(
    conn: &Connection,
    user_id: &str,
    succeeded: bool,
    now: Timestamp,
) -> Result<bool> {
    if succeeded {
        conn.execute(
            "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE user_id = ?1",
            [user_id],
        )?;
        return Ok(true);
    }
    // One statement: concurrent attempts each count, and none passes a lock another set.
    let counted = conn.execute(
        "UPDATE users SET failed_logins = failed_logins + 1,
            locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE NULL END
         WHERE user_id = ?1 AND disabled_at IS NULL
           AND (locked_until IS NULL OR locked_until <= ?4)",
        params![
            user_id,
            MAX_FAILED_LOGINS,
            now.millis() + LOCKOUT_MS,
            now.millis()
        ],
    )?;
    Ok(counted > 0)
}

pub(super) fn create_session(
    conn: &Connection,
    token_hash: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<()> {
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
        params![token_hash, user_id, now.millis()],
    )?;
    Ok(())
}

/// The session's user when it is live and its last use was recorded within
/// `SessionLimits::touch_every_ms`: then a request needs no write (and does not queue behind the
/// ingest writer) to stay signed in.
pub(super) fn recently_used_session(
    conn: &Connection,
    token_hash: &str,
    now: Timestamp,
    limits: SessionLimits,
) -> Result<Option<User>> {
    let found = conn
        .prepare_cached(
            "SELECT user_id, created_at, last_seen_at FROM sessions
             WHERE token_hash = ?1 AND ended_at IS NULL",
        )?
        .query_row([token_hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()?;
    let Some((user_id, created, last_seen)) = found else {
        return Ok(None);
    };
    let fresh = !limits.needs_touch(last_seen, now.millis())
        && limits.live(created, last_seen, now.millis());
    if !fresh {
        return Ok(None);
    }
    Ok(find_user(conn, &user_id)?
        .map(|u| u.user)
        .filter(|u| u.disabled_at.is_none()))
}

pub(super) fn touch_session(
    tx: &Connection,
    token_hash: &str,
    now: Timestamp,
    limits: SessionLimits,
) -> Result<Option<User>> {
    let found = tx
        .prepare_cached(
            "SELECT s.user_id, s.created_at, s.last_seen_at, s.ended_at FROM sessions s
             WHERE s.token_hash = ?1",
        )?
        .query_row([token_hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()?;
    let Some((user_id, created, last_seen, ended)) = found else {
        return Ok(None);
    };
    if ended.is_some() {
        return Ok(None);
    }
    let user = find_user(tx, &user_id)?.map(|u| u.user);
    let live = limits.live(created, last_seen, now.millis())
        && user.as_ref().is_some_and(|u| u.disabled_at.is_none());
    if !live {
        end_session(tx, token_hash, now)?;
        return Ok(None);
    }
    if !limits.needs_touch(last_seen, now.millis()) {
        return Ok(user);
    }
    tx.execute(
        "UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?2) WHERE token_hash = ?1",
        params![token_hash, now.millis()],
    )?;
    Ok(user)
}

pub(super) fn end_session(conn: &Connection, token_hash: &str, now: Timestamp) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE sessions SET ended_at = ?2 WHERE token_hash = ?1 AND ended_at IS NULL",
        params![token_hash, now.millis()],
    )? > 0)
}

/// Writes the content's MLR columns as well as its fields.
pub(super) fn write_content_mlr(tx: &Connection, c: &Content) -> Result<()> {
    tx.prepare_cached("UPDATE content SET mlr = ?2, author = ?3 WHERE id = ?1")?
        .execute(params![
            c.id,
            serde_json::to_string(&c.mlr).unwrap_or_else(|_| "{}".into()),
            c.mlr.author
        ])?;
    Ok(())
}

pub(super) fn read_content_at(
    tx: &Connection,
    id: &str,
    now: Timestamp,
) -> Result<Option<Content>> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT {CONTENT_COLUMNS} FROM content WHERE id = ?1"
        ))?
        .query_row([id], |r| read_content(r, now))
        .optional()?)
}

pub(super) fn transition_content(
    tx: &Connection,
    content: &Content,
    expected: &(ContentStatus, String),
    audit: NewAudit,
    now: Timestamp,
) -> Result<Option<(bool, WithdrawalEffect)>> {
    let Some(stored) = read_content_at(tx, &content.id, now)? else {
        return Ok(None);
    };
    if stored.status != expected.0 || stored.content_hash() != expected.1 {
        return Ok(Some((false, WithdrawalEffect::default())));
    }
    super::upsert_content_row(tx, content, now)?;
    write_content_mlr(tx, content)?;
    let mut effect = WithdrawalEffect::default();
    if content.status != ContentStatus::Approved {
        let why = format!("content {} is {}", content.id, content.status);
        effect.suggestions_cancelled =
            suggest::cancel_for_content(tx, &content.id, &why, now)? as u64;
        // Undelivered decisions stop holding a place and can no longer be delivered as such.
        effect.sends_cancelled = tx.execute(
            "UPDATE decisions SET reserved_until = ?2
             WHERE chosen_content = ?1 AND delivered_at IS NULL
               AND (reserved_until IS NULL OR reserved_until > ?2)",
            params![content.id, now.millis()],
        )? as u64;
        super::delivery::cancel_for_content(tx, &content.id, &why, now)?;
    }
    append_audit(tx, vec![audit], now)?;
    Ok(Some((true, effect)))
}

/// Records the sends of newly logged decisions: the chosen content's current version.
pub(super) fn record_sends(
    tx: &Connection,
    decisions: &[crate::DecisionRecord],
    logged: &[bool],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO sends (decision_id, hcp_key, content_id, content_version, content_hash,
            channel, sent_at)
         SELECT d.decision_id, d.hcp_key, c.id, c.version,
            COALESCE(json_extract(c.mlr, '$.approved_hash'), ''), d.chosen_channel, d.made_at
         FROM decisions d JOIN content c ON c.id = d.chosen_content
         WHERE d.decision_id = ?1 AND d.chosen_channel IS NOT NULL
         ON CONFLICT (decision_id) DO NOTHING",
    )?;
    for (d, &ok) in decisions.iter().zip(logged) {
        if ok && d.chosen_content.is_some() {
            insert.execute([&d.decision_id])?;
        }
    }
    Ok(())
}

pub(super) fn send_history(
    conn: &Connection,
    filter: &SendFilter,
    limit: usize,
) -> Result<Vec<SendRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.decision_id, h.id, s.content_id, s.content_version, s.content_hash, s.channel,
            s.sent_at
         FROM sends s JOIN hcps h ON h.hcp_key = s.hcp_key
         WHERE (?1 IS NULL OR s.content_id = ?1) AND (?2 IS NULL OR h.id = ?2)
         ORDER BY s.sent_at, s.decision_id LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            filter.content_id,
            filter.hcp.as_ref().map(HcpId::as_str),
            limit as i64
        ],
        |r| {
            Ok(SendRecord {
                decision_id: r.get(0)?,
                hcp_id: r.get(1)?,
                content_id: r.get(2)?,
                content_version: r.get(3)?,
                content_hash: r.get(4)?,
                channel: Channel::from_code(r.get(5)?).ok_or_else(|| {
                    corrupt("sends.channel")(FieldError::new("channel", "unknown code"))
                })?,
                sent_at: Timestamp::from_millis(r.get(6)?),
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

const AE_COLUMNS: &str = "a.case_id, a.event_id, h.id, a.source, a.field, a.received_at,
    a.due_at, a.text, a.findings, a.status, a.triaged_by, a.triaged_at, a.external_ref,
    a.triage_note, a.alerted_at";

fn read_ae(r: &rusqlite::Row) -> rusqlite::Result<AeCase> {
    let ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp::from_millis))
    };
    Ok(AeCase {
        case_id: r.get(0)?,
        event_id: r.get(1)?,
        hcp_id: r.get(2)?,
        source: r.get(3)?,
        field: r.get(4)?,
        received_at: Timestamp::from_millis(r.get(5)?),
        due_at: Timestamp::from_millis(r.get(6)?),
        text: r.get(7)?,
        findings: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
        status: AeStatus::parse("status", &r.get::<_, String>(9)?)
            .map_err(corrupt("ae_cases.status"))?,
        triaged_by: r.get(10)?,
        triaged_at: ts(11)?,
        external_ref: r.get(12)?,
        triage_note: r.get(13)?,
        alerted_at: ts(14)?,
    })
}

pub(super) fn ae_cases(conn: &Connection, filter: &AeFilter) -> Result<Vec<AeCase>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {AE_COLUMNS} FROM ae_cases a JOIN hcps h ON h.hcp_key = a.hcp_key
         WHERE (?1 IS NULL OR a.status = ?1) AND (?2 IS NULL OR a.due_at < ?2)
           AND (?3 = 0 OR a.alerted_at IS NULL) AND (?4 IS NULL OR a.source = ?4)
           AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(a.findings, '$.products') p
                                      WHERE lower(p.value) = lower(?5)))
         ORDER BY a.due_at, a.case_id
         LIMIT ?6 OFFSET ?7"
    ))?;
    let rows = stmt.query_map(
        params![
            filter.status.map(AeStatus::as_str),
            filter.due_before.map(Timestamp::millis),
            filter.not_alerted,
            filter.source,
            filter.product,
            filter.limit.map_or(-1, i64::from),
            i64::try_from(filter.offset).unwrap_or(i64::MAX),
        ],
        read_ae,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn ae_case_counts(conn: &Connection, now: Timestamp) -> Result<AeCounts> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(status = 'open'), 0),
                    COALESCE(SUM(status = 'open' AND due_at < ?1), 0),
                    COALESCE(SUM(status <> 'open'), 0)
             FROM ae_cases",
        )?
        .query_row([now.millis()], |r| {
            Ok(AeCounts {
                open: r.get::<_, i64>(0)? as u64,
                overdue: r.get::<_, i64>(1)? as u64,
                triaged: r.get::<_, i64>(2)? as u64,
            })
        })?)
}

pub(super) fn get_ae_case(conn: &Connection, case_id: &str) -> Result<Option<AeCase>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {AE_COLUMNS} FROM ae_cases a JOIN hcps h ON h.hcp_key = a.hcp_key
             WHERE a.case_id = ?1"
        ))?
        .query_row([case_id], read_ae)
        .optional()?)
}

pub(super) fn triage_ae_case(
    tx: &Connection,
    case_id: &str,
    triage: &Triage,
    by: &str,
    audit: NewAudit,
    now: Timestamp,
) -> Result<Option<bool>> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM ae_cases WHERE case_id = ?1")?
        .query_row([case_id], |r| r.get(0))
        .optional()?;
    match status.as_deref() {
        None => return Ok(None),
        Some("open") => {}
        Some(_) => return Ok(Some(false)),
    }
    tx.execute(
        "UPDATE ae_cases SET status = ?2, triaged_by = ?3, triaged_at = ?4, external_ref = ?5,
            triage_note = ?6
         WHERE case_id = ?1 AND status = 'open'",
        params![
            case_id,
            triage.status.as_str(),
            by,
            now.millis(),
            triage.external_ref,
            triage.note
        ],
    )?;
    append_audit(tx, vec![audit], now)?;
    Ok(Some(true))
}

pub(super) fn mark_ae_alerted(tx: &Connection, case_ids: &[String], now: Timestamp) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE ae_cases SET alerted_at = ?2 WHERE case_id = ?1 AND alerted_at IS NULL",
    )?;
    for id in case_ids {
        stmt.execute(params![id, now.millis()])?;
    }
    Ok(())
}

pub(super) fn open_ae_case(
    tx: &Connection,
    case: &crate::NewAeCase,
    now: Timestamp,
) -> Result<bool> {
    let opened = tx.execute(
        "INSERT INTO ae_cases (case_id, event_id, hcp_key, source, field, received_at, due_at,
            text, findings, status)
         SELECT ?1, ?2, hcp_key, ?3, ?4, ?5, ?6, ?7, ?8, 'open' FROM hcps WHERE id = ?9
         ON CONFLICT (case_id) DO NOTHING",
        params![
            case.case_id,
            case.event_id,
            case.source,
            case.field,
            now.millis(),
            openclm_core::pv::due_at(now, case.due_hours).millis(),
            case.text,
            case.findings,
            case.hcp.as_str()
        ],
    )? > 0;
    if opened {
        tx.execute(
            "INSERT INTO screening_counts (source, screened, flagged) VALUES (?1, 1, 1)
             ON CONFLICT (source) DO UPDATE SET screened = screened + 1, flagged = flagged + 1",
            [&case.source],
        )?;
        let audit = crate::audit::case_opened(&case.source, &case.case_id, &case.event_id);
        append_audit(tx, vec![audit], now)?;
    }
    Ok(opened)
}

pub(super) fn screening_report(conn: &Connection) -> Result<Vec<SourceScreening>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.source, s.screened, s.flagged,
            (SELECT COUNT(*) FROM ae_cases a WHERE a.source = s.source AND a.status = 'ae_forwarded'),
            (SELECT COUNT(*) FROM ae_cases a WHERE a.source = s.source AND a.status <> 'open')
         FROM screening_counts s ORDER BY s.source",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SourceScreening {
            source: r.get(0)?,
            screened: r.get::<_, i64>(1)? as u64,
            flagged: r.get::<_, i64>(2)? as u64,
            forwarded: r.get::<_, i64>(3)? as u64,
            acknowledged: r.get::<_, i64>(4)? as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn suppressed(conn: &Connection, hashes: &[String]) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM suppressions WHERE hash = ?1")?;
    let mut found = Vec::new();
    for h in hashes {
        if stmt.query_row([h], |_| Ok(())).optional()?.is_some() {
            found.push(h.clone());
        }
    }
    Ok(found)
}

/// The HCP's id, name, email and external ids, as erasure looks for them in what it keeps.
fn hcp_identifiers(tx: &Connection, hcp_key: i64) -> Result<crate::rows::Identifiers> {
    let (id, name, email): (String, String, Option<String>) = tx.query_row(
        "SELECT id, name, email FROM hcps WHERE hcp_key = ?1",
        [hcp_key],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut values = vec![id, name];
    values.extend(email);
    let mut stmt =
        tx.prepare_cached("SELECT external_id FROM hcp_external_ids WHERE hcp_key = ?1")?;
    for x in stmt.query_map([hcp_key], |r| r.get::<_, String>(0))? {
        values.push(x?);
    }
    Ok(crate::rows::Identifiers::new(
        values.iter().map(String::as_str),
    ))
}

pub(super) fn erase_hcp(
    tx: &Connection,
    hcp: &HcpId,
    pseudonym: &str,
    suppress: &[String],
    audit: NewAudit,
    now: Timestamp,
) -> Result<Option<ErasureReport>> {
    let Some(hcp_key) = super::hcp_key_of(tx, hcp)? else {
        return Ok(None);
    };
    let mut report = ErasureReport {
        pseudonym: pseudonym.to_owned(),
        ..ErasureReport::default()
    };
    let identifiers = hcp_identifiers(tx, hcp_key)?;
    let mut events = Vec::new();
    {
        let mut stmt = tx.prepare_cached("SELECT seq, payload FROM events WHERE hcp_key = ?1")?;
        let rows = stmt.query_map([hcp_key], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            events.push(row?);
        }
    }
    {
        let mut update = tx.prepare_cached("UPDATE events SET payload = ?2 WHERE seq = ?1")?;
        for (seq, payload) in &events {
            update.execute(params![
                seq,
                crate::rows::redact_payload(payload, pseudonym, &identifiers)
            ])?;
        }
    }
    report.events_redacted = events.len() as u64;
    // Logged decisions quote the HCP's id in their bodies.
    tx.execute(
        "UPDATE decisions SET body = replace(body, ?2, ?3) WHERE hcp_key = ?1",
        params![
            hcp_key,
            serde_json::Value::from(hcp.as_str()).to_string(),
            serde_json::Value::from(pseudonym).to_string()
        ],
    )?;
    // A tracking source's anonymous ids linked to the HCP would tie a device to them, and the
    // events still held for those ids (refused when released) carry its pages and address.
    tx.execute(
        "DELETE FROM anonymous_events WHERE (source, anonymous_id) IN
         (SELECT l.source, l.anonymous_id FROM anonymous_links l
          JOIN hcp_external_ids x ON x.system = l.source AND x.external_id = l.user_id
          WHERE x.hcp_key = ?1)",
        [hcp_key],
    )?;
    tx.execute(
        "DELETE FROM anonymous_links WHERE (source, user_id) IN
         (SELECT system, external_id FROM hcp_external_ids WHERE hcp_key = ?1)",
        [hcp_key],
    )?;
    report.external_ids_removed =
        tx.execute("DELETE FROM hcp_external_ids WHERE hcp_key = ?1", [hcp_key])? as u64;
    report.consent_records_removed =
        tx.execute("DELETE FROM consent_records WHERE hcp_key = ?1", [hcp_key])? as u64;
    tx.execute("DELETE FROM hcp_state WHERE hcp_key = ?1", [hcp_key])?;
    // The ingest writer caches id → HCP; a new generation makes it forget the erased ids.
    tx.execute(
        "UPDATE store_meta SET value = value + 1 WHERE name = 'hcp_generation'",
        [],
    )?;
    // What is kept is a key for aggregates and PV cases, not master data: like a stub, it is
    // listed, planned and decided for by no one.
    tx.execute(
        "UPDATE hcps SET id = ?2, name = '', email = NULL, segments = '[]', is_stub = 1,
            updated_at = ?3
         WHERE hcp_key = ?1",
        params![hcp_key, pseudonym, now.millis()],
    )?;
    // Reps' notes about the HCP go; their open suggestions are cancelled.
    tx.execute(
        "UPDATE suggestions SET note = NULL,
            status = CASE WHEN status IN ('pending', 'accepted') THEN 'cancelled' ELSE status END,
            cancelled_because = CASE WHEN status IN ('pending', 'accepted')
                THEN 'the HCP was erased' ELSE cancelled_because END,
            updated_at = ?2
         WHERE hcp_key = ?1",
        params![hcp_key, now.millis()],
    )?;
    let mut add = tx.prepare_cached(
        "INSERT INTO suppressions (hash, reason, added_at) VALUES (?1, 'erased', ?2)
         ON CONFLICT (hash) DO NOTHING",
    )?;
    for h in suppress {
        report.suppressions_added += add.execute(params![h, now.millis()])? as u64;
    }
    report.ae_cases_kept = tx.query_row(
        "SELECT COUNT(*) FROM ae_cases WHERE hcp_key = ?1",
        [hcp_key],
        |r| r.get::<_, i64>(0),
    )? as u64;
    append_audit(tx, vec![audit.new_value(&report)], now)?;
    Ok(Some(report))
}
