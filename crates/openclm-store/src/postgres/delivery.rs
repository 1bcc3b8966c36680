//! PostgreSQL's outbound delivery queue: enqueueing with the decision, leases taken with
//! `FOR UPDATE SKIP LOCKED` (so several nodes never lease one item at once), outcomes, the dead
//! letters.

use deadpool_postgres::GenericClient;
use openclm_core::delivery::{DeliveryStatus, delivered_by_system};
use openclm_core::{Channel, FieldError, Timestamp};
use tokio_postgres::Row;

use crate::delivery::{Transition, check_retry, finish_transition, to_counts};
use crate::{
    Delivery, DeliveryClaim, DeliveryCount, DeliveryFilter, DeliveryOutcome, Page, PageRequest,
    Result, StoreError, cursor,
};

const COLUMNS: &str = "d.delivery_id, d.decision_id, h.id, d.channel, d.content_id, d.campaign_id,
    d.status, d.attempts, d.due_at, d.lease_token, d.last_error, d.created_at, d.updated_at";

fn read(r: &Row) -> Result<Delivery> {
    let channel: i16 = r.get(3);
    let status: String = r.get(6);
    Ok(Delivery {
        delivery_id: r.get(0),
        decision_id: r.get(1),
        hcp_id: r.get(2),
        channel: Channel::from_code(channel.into())
            .ok_or_else(|| StoreError::Corrupt(format!("delivery channel code {channel}")))?,
        content_id: r.get(4),
        campaign_id: r.get(5),
        status: DeliveryStatus::parse("status", &status)
            .map_err(|_| StoreError::Corrupt(format!("delivery status {status:?}")))?,
        attempts: r.get::<_, i64>(7) as u32,
        due_at: Timestamp::from_millis(r.get(8)),
        lease_token: r.get(9),
        last_error: r.get(10),
        created_at: Timestamp::from_millis(r.get(11)),
        updated_at: Timestamp::from_millis(r.get(12)),
    })
}

/// Queues the deliveries of newly logged decisions, in the caller's transaction.
pub(super) async fn enqueue(
    client: &impl GenericClient,
    decisions: &[crate::DecisionRecord],
    logged: &[bool],
) -> Result<()> {
    let ids: Vec<&str> = decisions
        .iter()
        .zip(logged)
        .filter(|(d, ok)| {
            **ok && d.chosen_content.is_some() && d.chosen_channel.is_some_and(delivered_by_system)
        })
        .map(|(d, _)| d.decision_id.as_str())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let stmt = client
        .prepare_cached(
            "INSERT INTO deliveries (delivery_id, decision_id, hcp_key, channel, content_id,
                campaign_id, status, attempts, due_at, created_at, updated_at)
             SELECT 'dlv_' || decision_id, decision_id, hcp_key, chosen_channel, chosen_content,
                campaign_id, 'pending', 0, made_at, made_at, made_at
             FROM decisions
             WHERE decision_id = ANY($1::text[]) AND chosen_content IS NOT NULL
               AND chosen_channel IS NOT NULL
             ORDER BY decision_id
             ON CONFLICT DO NOTHING",
        )
        .await?;
    client.execute(&stmt, &[&ids]).await?;
    Ok(())
}

/// Cancels the pending deliveries of content that is no longer approved, in the caller's
/// transaction. A leased item keeps its lease: its sender may have sent it already, and its
/// answer under that lease must still be heard (see [`crate::LeaseAnswer`]).
pub(super) async fn cancel_for_content(
    client: &impl GenericClient,
    content_id: &str,
    why: &str,
    now: Timestamp,
) -> Result<u64> {
    Ok(client
        .execute(
            "UPDATE deliveries SET status = 'cancelled', last_error = $2,
                updated_at = $3
             WHERE content_id = $1 AND status = 'pending'",
            &[&content_id, &why, &now.millis()],
        )
        .await?)
}

pub(super) async fn get(client: &impl GenericClient, id: &str) -> Result<Option<Delivery>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM deliveries d JOIN hcps h ON h.hcp_key = d.hcp_key
             WHERE d.delivery_id = $1"
        ))
        .await?;
    client
        .query_opt(&stmt, &[&id])
        .await?
        .map(|r| read(&r))
        .transpose()
}

/// Takes the row lock of one delivery, so an outcome and a claim never interleave.
async fn get_for_update(client: &impl GenericClient, id: &str) -> Result<Option<Delivery>> {
    let locked = client
        .query_opt(
            "SELECT 1 FROM deliveries WHERE delivery_id = $1 FOR UPDATE",
            &[&id],
        )
        .await?;
    match locked {
        Some(_) => get(client, id).await,
        None => Ok(None),
    }
}

pub(super) async fn claim(
    client: &impl GenericClient,
    claim: &DeliveryClaim,
) -> Result<Vec<Delivery>> {
    let channels: Vec<i16> = claim.channels.iter().map(|c| c.code() as i16).collect();
    let now = claim.now.millis();
    // A lease that ran out after the last attempt allowed: nobody answered in time, ever.
    client
        .execute(
            "UPDATE deliveries SET status = 'dead', last_error = 'lease_expired',
                lease_token = NULL, updated_at = $1
             WHERE delivery_id IN (
                SELECT delivery_id FROM deliveries
                WHERE status = 'pending' AND due_at <= $1 AND attempts >= $2
                  AND channel = ANY($3::int2[])
                FOR UPDATE SKIP LOCKED)",
            &[&now, &i64::from(claim.max_attempts), &channels],
        )
        .await?;
    let stmt = client
        .prepare_cached(&format!(
            "WITH due AS (
                SELECT delivery_id FROM deliveries
                WHERE status = 'pending' AND due_at <= $1 AND channel = ANY($2::int2[])
                ORDER BY due_at, delivery_id LIMIT $3
                FOR UPDATE SKIP LOCKED
             ), leased AS (
                UPDATE deliveries SET attempts = deliveries.attempts + 1, lease_token = $4,
                    due_at = $5, updated_at = $1
                FROM due WHERE deliveries.delivery_id = due.delivery_id
                RETURNING deliveries.*
             )
             SELECT {COLUMNS} FROM leased d JOIN hcps h ON h.hcp_key = d.hcp_key
             ORDER BY d.delivery_id"
        ))
        .await?;
    client
        .query(
            &stmt,
            &[
                &now,
                &channels,
                &(claim.limit as i64),
                &claim.token,
                &(now + claim.lease_ms),
            ],
        )
        .await?
        .iter()
        .map(read)
        .collect()
}

pub(super) async fn finish(
    client: &impl GenericClient,
    id: &str,
    token: &str,
    outcome: &DeliveryOutcome,
    now: Timestamp,
) -> Result<Option<std::result::Result<Delivery, FieldError>>> {
    let Some(current) = get_for_update(client, id).await? else {
        return Ok(None);
    };
    let Transition { status, error, due } = match finish_transition(&current, token, outcome) {
        Ok(Some(change)) => change,
        Ok(None) => return Ok(Some(Ok(current))),
        Err(e) => return Ok(Some(Err(e))),
    };
    client
        .execute(
            "UPDATE deliveries SET status = $2, last_error = COALESCE($3, last_error),
                due_at = $4,
            -- A delivered item keeps its lease, so a repeated answer under it is recognised.
            lease_token = CASE WHEN $2 = 'delivered' THEN lease_token END, updated_at = $5
             WHERE delivery_id = $1",
            &[&id, &status.as_str(), &error, &due.millis(), &now.millis()],
        )
        .await?;
    Ok(get(client, id).await?.map(Ok))
}

pub(super) async fn retry(
    client: &impl GenericClient,
    id: &str,
    now: Timestamp,
) -> Result<Option<std::result::Result<Delivery, FieldError>>> {
    let Some(current) = get_for_update(client, id).await? else {
        return Ok(None);
    };
    if let Err(e) = check_retry(&current) {
        return Ok(Some(Err(e)));
    }
    client
        .execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, due_at = $2,
                lease_token = NULL, updated_at = $2
             WHERE delivery_id = $1",
            &[&id, &now.millis()],
        )
        .await?;
    Ok(get(client, id).await?.map(Ok))
}

pub(super) async fn list(
    client: &impl GenericClient,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    let after = page
        .cursor
        .as_deref()
        .map(cursor::decode_text)
        .transpose()?;
    let limit = page.limit.clamp(1, 1000);
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM deliveries d JOIN hcps h ON h.hcp_key = d.hcp_key
             WHERE ($1::text IS NULL OR d.status = $1)
               AND ($2::int2 IS NULL OR d.channel = $2)
               AND ($3::text IS NULL OR d.delivery_id > $3)
             ORDER BY d.delivery_id LIMIT $4"
        ))
        .await?;
    let items = client
        .query(
            &stmt,
            &[
                &filter.status.map(DeliveryStatus::as_str),
                &filter.channel.map(|c| c.code() as i16),
                &after,
                &(limit as i64 + 1),
            ],
        )
        .await?
        .iter()
        .map(read)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |last| {
        last.delivery_id.clone()
    }))
}

pub(super) async fn counts(client: &impl GenericClient) -> Result<Vec<DeliveryCount>> {
    let rows = client
        .query(
            "SELECT status, channel, COUNT(*) FROM deliveries GROUP BY status, channel",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                i64::from(r.get::<_, i16>(1)),
                r.get::<_, i64>(2),
            )
        })
        .collect();
    to_counts(rows)
}
