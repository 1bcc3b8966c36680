//! PostgreSQL's export pages: events by `seq`, HCPs by id, each page one short read.

use deadpool_postgres::GenericClient;
use openclm_core::{Channel, EventType, Timestamp};

use super::{corrupt, external_ids_of, json_list};
use crate::export::export_limit;
use crate::{ExportEvent, ExportHcp, Result};

pub(super) async fn events(
    client: &impl GenericClient,
    after_seq: i64,
    received_since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<ExportEvent>> {
    // Walks the primary key from the cursor; received_at has no index, so a whole export reads
    // the table once, whatever `received_since` skips.
    let stmt = client
        .prepare_cached(
            "SELECT e.seq, e.event_id, h.id, e.occurred_at, e.received_at, e.channel, e.type,
                    e.source, e.content_id, e.campaign_id, e.decision_id, e.rep_id, e.payload
             FROM events e JOIN hcps h ON h.hcp_key = e.hcp_key
             WHERE e.seq > $1 AND ($2::bigint IS NULL OR e.received_at >= $2)
             ORDER BY e.seq LIMIT $3",
        )
        .await?;
    let since = received_since.map(Timestamp::millis);
    let rows = client
        .query(&stmt, &[&after_seq, &since, &export_limit(limit)])
        .await?;
    rows.iter()
        .map(|r| {
            let channel: i16 = r.get(5);
            let kind: i16 = r.get(6);
            Ok(ExportEvent {
                seq: r.get(0),
                event_id: r.get(1),
                hcp_id: r.get(2),
                occurred_at: Timestamp::from_millis(r.get(3)),
                received_at: Timestamp::from_millis(r.get(4)),
                channel: Channel::from_code(channel.into())
                    .ok_or_else(|| corrupt("events.channel", channel))?,
                kind: EventType::from_code(kind.into())
                    .ok_or_else(|| corrupt("events.type", kind))?,
                source: r.get(7),
                content_id: r.get(8),
                campaign_id: r.get(9),
                decision_id: r.get(10),
                rep_id: r.get(11),
                payload: r.get(12),
            })
        })
        .collect()
}

pub(super) async fn hcps(
    client: &impl GenericClient,
    after: Option<String>,
    updated_since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<ExportHcp>> {
    let stmt = client
        .prepare_cached(
            "SELECT hcp_key, id, name, specialty, country, territory, segments, email,
                    restricted_products, is_stub, created_at, updated_at
             FROM hcps WHERE ($1::text IS NULL OR id > $1) AND ($2::bigint IS NULL OR updated_at >= $2)
             ORDER BY id LIMIT $3",
        )
        .await?;
    let since = updated_since.map(Timestamp::millis);
    let rows = client
        .query(&stmt, &[&after, &since, &export_limit(limit)])
        .await?;
    let keys: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let mut external = external_ids_of(client, &keys).await?;
    rows.iter()
        .map(|r| {
            let key: i64 = r.get(0);
            Ok(ExportHcp {
                id: r.get(1),
                name: r.get(2),
                specialty: r.get(3),
                country: r.get(4),
                territory: r.get(5),
                segments: json_list("hcps.segments", r.get(6))?,
                email: r.get(7),
                external_ids: external.remove(&key).unwrap_or_default(),
                restricted_products: json_list("hcps.restricted_products", r.get(8))?,
                is_stub: r.get(9),
                created_at: Timestamp::from_millis(r.get(10)),
                updated_at: Timestamp::from_millis(r.get(11)),
            })
        })
        .collect()
}
