//! Anonymous visitors in SQLite: links from a tracking source's anonymous ids to the user ids it
//! identifies them by, and the events held until then.

use openclm_core::Timestamp;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::{HoldLimits, Parked, ParkedEvent, Result};

pub(super) fn resolve(
    conn: &Connection,
    source: &str,
    anonymous_ids: &[String],
) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id FROM anonymous_links WHERE source = ?1 AND anonymous_id = ?2",
    )?;
    let mut found = Vec::new();
    for id in anonymous_ids {
        let mut rows = stmt.query(params![source, id])?;
        if let Some(row) = rows.next()? {
            found.push((id.clone(), row.get(0)?));
        }
    }
    Ok(found)
}

/// Holds the events of visitors not linked yet. The write lock taken first orders this after or
/// before any link of the same visitor, never between its read and its release.
pub(super) fn park(
    conn: &mut Connection,
    source: &str,
    events: &[ParkedEvent],
    limits: HoldLimits,
    now: Timestamp,
) -> Result<Vec<Parked>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached("DELETE FROM anonymous_events WHERE source = ?1 AND received_at < ?2")?
        .execute(params![source, now.millis() - limits.max_age_ms])?;
    let mut parked = Vec::with_capacity(events.len());
    {
        let mut held = tx.prepare_cached(
            "SELECT count(*) FROM anonymous_events WHERE source = ?1 AND anonymous_id = ?2",
        )?;
        let mut linked = tx.prepare_cached(
            "SELECT user_id FROM anonymous_links WHERE source = ?1 AND anonymous_id = ?2",
        )?;
        let mut stmt = tx.prepare_cached(
            "INSERT INTO anonymous_events (source, anonymous_id, event_id, received_at, payload)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?;
        for e in events {
            let mut rows = linked.query(params![source, e.anonymous_id])?;
            if let Some(row) = rows.next()? {
                parked.push(Parked::Linked(row.get(0)?));
                continue;
            }
            drop(rows);
            let count: i64 = held.query_row(params![source, e.anonymous_id], |r| r.get(0))?;
            if count >= i64::from(limits.per_visitor) {
                parked.push(Parked::Full);
                continue;
            }
            let n = stmt.execute(params![
                source,
                e.anonymous_id,
                e.event_id,
                now.millis(),
                e.payload
            ])?;
            parked.push(if n == 1 {
                Parked::Held
            } else {
                Parked::AlreadyHeld
            });
        }
    }
    tx.commit()?;
    Ok(parked)
}

pub(super) fn link(
    conn: &mut Connection,
    source: &str,
    anonymous_id: &str,
    user_id: &str,
    now: Timestamp,
) -> Result<Vec<ParkedEvent>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(
        "INSERT INTO anonymous_links (source, anonymous_id, user_id, linked_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (source, anonymous_id) DO UPDATE
         SET user_id = excluded.user_id, linked_at = excluded.linked_at
         WHERE anonymous_links.user_id <> excluded.user_id",
    )?
    .execute(params![source, anonymous_id, user_id, now.millis()])?;
    let held = held(&tx, source, anonymous_id)?;
    tx.commit()?;
    Ok(held)
}

fn held(conn: &Connection, source: &str, anonymous_id: &str) -> Result<Vec<ParkedEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT event_id, payload FROM anonymous_events
         WHERE source = ?1 AND anonymous_id = ?2 ORDER BY received_at, event_id",
    )?;
    let rows = stmt.query_map(params![source, anonymous_id], |r| {
        Ok(ParkedEvent {
            anonymous_id: anonymous_id.to_owned(),
            event_id: r.get(0)?,
            payload: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn unpark(
    conn: &mut Connection,
    source: &str,
    anonymous_id: &str,
    event_ids: &[String],
) -> Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut removed = 0;
    {
        let mut stmt = tx.prepare_cached(
            "DELETE FROM anonymous_events
             WHERE source = ?1 AND anonymous_id = ?2 AND event_id = ?3",
        )?;
        for id in event_ids {
            removed += stmt.execute(params![source, anonymous_id, id])?;
        }
    }
    tx.commit()?;
    Ok(removed)
}
