//! SQLite's outbound delivery queue: enqueueing with the decision, leases, outcomes, the dead
//! letters. The write lock (IMMEDIATE transactions) keeps two claimers from leasing one item.

use openclm_core::delivery::{DeliveryStatus, delivered_by_system};
use openclm_core::{Channel, FieldError, Timestamp};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::delivery::{Transition, check_retry, finish_transition, to_counts};
use crate::{
    Delivery, DeliveryClaim, DeliveryCount, DeliveryFilter, DeliveryOutcome, Page, PageRequest,
    Result, StoreError, cursor,
};

const COLUMNS: &str = "d.delivery_id, d.decision_id, h.id, d.channel, d.content_id, d.campaign_id,
    d.status, d.attempts, d.due_at, d.lease_token, d.last_error, d.created_at, d.updated_at";

fn read(r: &Row<'_>) -> rusqlite::Result<(Delivery, i64, String)> {
    Ok((
        Delivery {
            delivery_id: r.get(0)?,
            decision_id: r.get(1)?,
            hcp_id: r.get(2)?,
            channel: Channel::Email,
            content_id: r.get(4)?,
            campaign_id: r.get(5)?,
            status: DeliveryStatus::Pending,
            attempts: r.get::<_, i64>(7)? as u32,
            due_at: Timestamp::from_millis(r.get(8)?),
            lease_token: r.get(9)?,
            last_error: r.get(10)?,
            created_at: Timestamp::from_millis(r.get(11)?),
            updated_at: Timestamp::from_millis(r.get(12)?),
        },
        r.get(3)?,
        r.get(6)?,
    ))
}

/// Completes a row read by [`read`] with its parsed channel and status.
fn finish_row((mut d, channel, status): (Delivery, i64, String)) -> Result<Delivery> {
    d.channel = Channel::from_code(channel)
        .ok_or_else(|| StoreError::Corrupt(format!("delivery channel code {channel}")))?;
    d.status = DeliveryStatus::parse("status", &status)
        .map_err(|_| StoreError::Corrupt(format!("delivery status {status:?}")))?;
    Ok(d)
}

/// Queues the deliveries of newly logged decisions, in the caller's transaction.
pub(super) fn enqueue(
    tx: &Connection,
    decisions: &[crate::DecisionRecord],
    logged: &[bool],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (delivery_id, decision_id, hcp_key, channel, content_id,
            campaign_id, status, attempts, due_at, created_at, updated_at)
         SELECT 'dlv_' || decision_id, decision_id, hcp_key, chosen_channel, chosen_content,
            campaign_id, 'pending', 0, made_at, made_at, made_at
         FROM decisions
         WHERE decision_id = ?1 AND chosen_content IS NOT NULL AND chosen_channel IS NOT NULL
         ON CONFLICT DO NOTHING",
    )?;
    for (d, &ok) in decisions.iter().zip(logged) {
        if ok && d.chosen_content.is_some() && d.chosen_channel.is_some_and(delivered_by_system) {
            insert.execute([&d.decision_id])?;
        }
    }
    Ok(())
}

/// Cancels the pending deliveries of content that is no longer approved, in the caller's
/// transaction. A leased item keeps its lease: its sender may have sent it already, and its
/// answer under that lease must still be heard (see [`crate::LeaseAnswer`]).
pub(super) fn cancel_for_content(
    tx: &Connection,
    content_id: &str,
    why: &str,
    now: Timestamp,
) -> Result<usize> {
    Ok(tx.execute(
        "UPDATE deliveries SET status = 'cancelled', last_error = ?2,
            updated_at = ?3
         WHERE content_id = ?1 AND status = 'pending'",
        params![content_id, why, now.millis()],
    )?)
}

fn get(conn: &Connection, id: &str) -> Result<Option<Delivery>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM deliveries d JOIN hcps h ON h.hcp_key = d.hcp_key
         WHERE d.delivery_id = ?1"
    ))?
    .query_row([id], read)
    .optional()?
    .map(finish_row)
    .transpose()
}

pub(super) fn get_delivery(conn: &Connection, id: &str) -> Result<Option<Delivery>> {
    get(conn, id)
}

pub(super) fn claim(conn: &mut Connection, claim: &DeliveryClaim) -> Result<Vec<Delivery>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let channels =
        serde_json::to_string(&claim.channels.iter().map(|c| c.code()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
    let now = claim.now.millis();
    // A lease that ran out after the last attempt allowed: nobody answered in time, ever.
    tx.prepare_cached(
        "UPDATE deliveries SET status = 'dead', last_error = 'lease_expired',
            lease_token = NULL, updated_at = ?1
         WHERE status = 'pending' AND due_at <= ?1 AND attempts >= ?2
           AND channel IN (SELECT value FROM json_each(?3))",
    )?
    .execute(params![now, i64::from(claim.max_attempts), channels])?;
    let ids = tx
        .prepare_cached(
            "SELECT delivery_id FROM deliveries
             WHERE status = 'pending' AND due_at <= ?1
               AND channel IN (SELECT value FROM json_each(?2))
             ORDER BY due_at, delivery_id LIMIT ?3",
        )?
        .query_map(params![now, channels, claim.limit as i64], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut lease = tx.prepare_cached(
        "UPDATE deliveries SET attempts = attempts + 1, lease_token = ?2, due_at = ?3,
            updated_at = ?4
         WHERE delivery_id = ?1",
    )?;
    let mut claimed = Vec::with_capacity(ids.len());
    for id in &ids {
        lease.execute(params![id, claim.token, now + claim.lease_ms, now])?;
        claimed.extend(get(&tx, id)?);
    }
    drop(lease);
    tx.commit()?;
    Ok(claimed)
}

pub(super) fn finish(
    conn: &mut Connection,
    id: &str,
    token: &str,
    outcome: &DeliveryOutcome,
    now: Timestamp,
) -> Result<Option<std::result::Result<Delivery, FieldError>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(current) = get(&tx, id)? else {
        return Ok(None);
    };
    let Transition { status, error, due } = match finish_transition(&current, token, outcome) {
        Ok(Some(change)) => change,
        Ok(None) => return Ok(Some(Ok(current))),
        Err(e) => return Ok(Some(Err(e))),
    };
    tx.prepare_cached(
        "UPDATE deliveries SET status = ?2, last_error = COALESCE(?3, last_error),
            due_at = ?4,
            -- A delivered item keeps its lease, so a repeated answer under it is recognised.
            lease_token = CASE WHEN ?2 = 'delivered' THEN lease_token END, updated_at = ?5
         WHERE delivery_id = ?1",
    )?
    .execute(params![
        id,
        status.as_str(),
        error,
        due.millis(),
        now.millis()
    ])?;
    let stored = get(&tx, id)?;
    tx.commit()?;
    Ok(stored.map(Ok))
}

pub(super) fn retry(
    conn: &mut Connection,
    id: &str,
    now: Timestamp,
) -> Result<Option<std::result::Result<Delivery, FieldError>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(current) = get(&tx, id)? else {
        return Ok(None);
    };
    if let Err(e) = check_retry(&current) {
        return Ok(Some(Err(e)));
    }
    tx.prepare_cached(
        "UPDATE deliveries SET status = 'pending', attempts = 0, due_at = ?2,
            lease_token = NULL, updated_at = ?2
         WHERE delivery_id = ?1",
    )?
    .execute(params![id, now.millis()])?;
    let stored = get(&tx, id)?;
    tx.commit()?;
    Ok(stored.map(Ok))
}

pub(super) fn list(
    conn: &Connection,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    let after = page
        .cursor
        .as_deref()
        .map(cursor::decode_text)
        .transpose()?;
    let limit = page.limit.clamp(1, 1000);
    let items = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM deliveries d JOIN hcps h ON h.hcp_key = d.hcp_key
             WHERE (?1 IS NULL OR d.status = ?1) AND (?2 IS NULL OR d.channel = ?2)
               AND (?3 IS NULL OR d.delivery_id > ?3)
             ORDER BY d.delivery_id LIMIT ?4"
        ))?
        .query_map(
            params![
                filter.status.map(DeliveryStatus::as_str),
                filter.channel.map(Channel::code),
                after,
                limit as i64 + 1
            ],
            read,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .map(finish_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |last| {
        last.delivery_id.clone()
    }))
}

pub(super) fn counts(conn: &Connection) -> Result<Vec<DeliveryCount>> {
    let rows = conn
        .prepare_cached(
            "SELECT status, channel, COUNT(*) FROM deliveries GROUP BY status, channel",
        )?
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    to_counts(rows)
}
