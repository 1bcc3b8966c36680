//! Anonymous visitors in PostgreSQL: links from a tracking source's anonymous ids to the user ids
//! it identifies them by, and the events held until then.

use deadpool_postgres::GenericClient;
use openclm_core::Timestamp;

use crate::{HoldLimits, Parked, ParkedEvent, Result};

pub(super) async fn resolve(
    client: &impl GenericClient,
    source: &str,
    anonymous_ids: &[String],
) -> Result<Vec<(String, String)>> {
    let rows = client
        .query(
            "SELECT anonymous_id, user_id FROM anonymous_links
             WHERE source = $1 AND anonymous_id = ANY($2)",
            &[&source, &anonymous_ids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Serializes holds and links of one visitor: without it, a hold could read "not linked", a link
/// commit and release what was held, and the hold then keep its event for good.
async fn lock_visitors(
    tx: &deadpool_postgres::Transaction<'_>,
    source: &str,
    anonymous_ids: &[&str],
) -> Result<()> {
    let mut keys: Vec<String> = anonymous_ids
        .iter()
        .map(|id| format!("{source}\n{id}"))
        .collect();
    // One order for every transaction, so two never wait on each other's locks.
    keys.sort();
    keys.dedup();
    for key in keys {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
            &[&key],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn park(
    client: &mut deadpool_postgres::Object,
    source: &str,
    events: &[ParkedEvent],
    limits: HoldLimits,
    now: Timestamp,
) -> Result<Vec<Parked>> {
    let tx = client.transaction().await?;
    let ids: Vec<&str> = events.iter().map(|e| e.anonymous_id.as_str()).collect();
    lock_visitors(&tx, source, &ids).await?;
    tx.execute(
        "DELETE FROM anonymous_events WHERE source = $1 AND received_at < $2",
        &[&source, &(now.millis() - limits.max_age_ms)],
    )
    .await?;
    let held = tx
        .prepare_cached(
            "SELECT count(*) FROM anonymous_events WHERE source = $1 AND anonymous_id = $2",
        )
        .await?;
    let linked = tx
        .prepare_cached(
            "SELECT user_id FROM anonymous_links WHERE source = $1 AND anonymous_id = $2",
        )
        .await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO anonymous_events (source, anonymous_id, event_id, received_at, payload)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .await?;
    let mut parked = Vec::with_capacity(events.len());
    for e in events {
        if let Some(row) = tx.query_opt(&linked, &[&source, &e.anonymous_id]).await? {
            parked.push(Parked::Linked(row.get(0)));
            continue;
        }
        let count: i64 = tx
            .query_one(&held, &[&source, &e.anonymous_id])
            .await?
            .get(0);
        if count >= i64::from(limits.per_visitor) {
            parked.push(Parked::Full);
            continue;
        }
        let n = tx
            .execute(
                &stmt,
                &[
                    &source,
                    &e.anonymous_id,
                    &e.event_id,
                    &now.millis(),
                    &e.payload,
                ],
            )
            .await?;
        parked.push(if n == 1 {
            Parked::Held
        } else {
            Parked::AlreadyHeld
        });
    }
    tx.commit().await?;
    Ok(parked)
}

pub(super) async fn link(
    client: &mut deadpool_postgres::Object,
    source: &str,
    anonymous_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<Vec<ParkedEvent>> {
    let tx = client.transaction().await?;
    lock_visitors(&tx, source, &[anonymous_id]).await?;
    tx.execute(
        "INSERT INTO anonymous_links (source, anonymous_id, user_id, linked_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (source, anonymous_id) DO UPDATE
         SET user_id = excluded.user_id, linked_at = excluded.linked_at
         WHERE anonymous_links.user_id <> excluded.user_id",
        &[&source, &anonymous_id, &user_id, &now.millis()],
    )
    .await?;
    let rows = tx
        .query(
            "SELECT event_id, payload FROM anonymous_events
             WHERE source = $1 AND anonymous_id = $2 ORDER BY received_at, event_id",
            &[&source, &anonymous_id],
        )
        .await?;
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|r| ParkedEvent {
            anonymous_id: anonymous_id.to_owned(),
            event_id: r.get(0),
            payload: r.get(1),
        })
        .collect())
}

pub(super) async fn unpark(
    client: &impl GenericClient,
    source: &str,
    anonymous_id: &str,
    event_ids: &[String],
) -> Result<usize> {
    let n = client
        .execute(
            "DELETE FROM anonymous_events
             WHERE source = $1 AND anonymous_id = $2 AND event_id = ANY($3)",
            &[&source, &anonymous_id, &event_ids],
        )
        .await?;
    Ok(n as usize)
}
