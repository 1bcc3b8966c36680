//! SQLite's export pages: events by `seq`, HCPs by id, each page one short read.

use openclm_core::{Channel, EventType, FieldError, Timestamp};
use rusqlite::{Connection, params};

use super::{corrupt, external_ids_of, json_list};
use crate::export::export_limit;
use crate::{ExportEvent, ExportHcp, Result};

pub(super) fn events(
    conn: &Connection,
    after_seq: i64,
    received_since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<ExportEvent>> {
    // No index on received_at: the page walks the primary key from the cursor, so a whole
    // export reads the table once, whatever `received_since` skips.
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.event_id, h.id, e.occurred_at, e.received_at, e.channel, e.type,
                e.source, e.content_id, e.campaign_id, e.decision_id, e.rep_id, e.payload
         FROM events e JOIN hcps h ON h.hcp_key = e.hcp_key
         WHERE e.seq > ?1 AND (?2 IS NULL OR e.received_at >= ?2)
         ORDER BY e.seq LIMIT ?3",
    )?;
    let bad = |what: &str| corrupt(what)(FieldError::new(what, "unknown code"));
    let rows = stmt.query_map(
        params![
            after_seq,
            received_since.map(Timestamp::millis),
            export_limit(limit)
        ],
        |r| {
            Ok(ExportEvent {
                seq: r.get(0)?,
                event_id: r.get(1)?,
                hcp_id: r.get(2)?,
                occurred_at: Timestamp::from_millis(r.get(3)?),
                received_at: Timestamp::from_millis(r.get(4)?),
                channel: Channel::from_code(r.get(5)?).ok_or_else(|| bad("events.channel"))?,
                kind: EventType::from_code(r.get(6)?).ok_or_else(|| bad("events.type"))?,
                source: r.get(7)?,
                content_id: r.get(8)?,
                campaign_id: r.get(9)?,
                decision_id: r.get(10)?,
                rep_id: r.get(11)?,
                payload: r.get(12)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn hcps(
    conn: &Connection,
    after: Option<String>,
    updated_since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<ExportHcp>> {
    let mut stmt = conn.prepare_cached(
        "SELECT hcp_key, id, name, specialty, country, territory, segments, email,
                restricted_products, is_stub, created_at, updated_at
         FROM hcps WHERE (?1 IS NULL OR id > ?1) AND (?2 IS NULL OR updated_at >= ?2)
         ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            after,
            updated_since.map(Timestamp::millis),
            export_limit(limit)
        ],
        |r| {
            let key: i64 = r.get(0)?;
            let hcp = ExportHcp {
                id: r.get(1)?,
                name: r.get(2)?,
                specialty: r.get(3)?,
                country: r.get(4)?,
                territory: r.get(5)?,
                segments: json_list(&r.get::<_, String>(6)?)?,
                email: r.get(7)?,
                external_ids: Vec::new(),
                restricted_products: json_list(&r.get::<_, String>(8)?)?,
                is_stub: r.get::<_, i64>(9)? != 0,
                created_at: Timestamp::from_millis(r.get(10)?),
                updated_at: Timestamp::from_millis(r.get(11)?),
            };
            Ok((key, hcp))
        },
    )?;
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (key, mut hcp) in rows {
        hcp.external_ids = external_ids_of(conn, key)?;
        out.push(hcp);
    }
    Ok(out)
}
