//! Event ingest into PostgreSQL: one transaction per batch, a handful of set-wise statements
//! whatever its size, and deduplication settled by the unique key on `event_id`, so that two
//! nodes receiving the same event at the same moment store it once.
//!
//! The outcome of each event is the one the SQLite backend gives: a copy of an event stored
//! before (or earlier in the batch) is a duplicate or a conflict whether or not its HCP can be
//! resolved now; otherwise an unknown HCP rejects the event or, by policy, becomes a stub.

use openclm_core::{FieldError, HcpId, Timestamp};
use std::collections::{HashMap, HashSet};

use super::{MASTER_DATA_LOCK, PgStore};
use crate::rows::EventRow;
use crate::{IngestOutcome, Result, UnknownHcpPolicy};
use openclm_core::Event;

/// A batch flattened once, reused by every attempt of its transaction.
pub(crate) struct Batch {
    rows: Vec<EventRow>,
}

impl Batch {
    pub fn new(events: Vec<Event>) -> Self {
        Self {
            rows: events.into_iter().map(EventRow::from).collect(),
        }
    }
}

/// What happened to one event id of the batch (all its copies).
enum Fate {
    /// Its first resolvable copy, at this index, is to be inserted.
    Insert(usize),
    /// No copy names a known HCP.
    Unresolved,
}

pub(crate) async fn write(
    store: &PgStore,
    batch: &Batch,
    policy: UnknownHcpPolicy,
    now: Timestamp,
) -> Result<Vec<IngestOutcome>> {
    let rows = &batch.rows;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    if policy == UnknownHcpPolicy::CreateStub {
        // Stubs are master data: no HCP write of another node may interleave with ours.
        tx.execute(
            "SELECT pg_advisory_xact_lock_shared($1)",
            &[&MASTER_DATA_LOCK],
        )
        .await?;
    }

    // 1. The HCP each (source, id) pair names, where known.
    let mut pairs: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.source.as_str(), r.hcp.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut hcps = resolve(&tx, &pairs).await?;

    // 2. Copies of one event id, in batch order.
    let mut copies: HashMap<&str, Vec<usize>> = HashMap::with_capacity(rows.len());
    let mut order: Vec<&str> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        copies
            .entry(r.event_id.as_str())
            .or_insert_with(|| {
                order.push(r.event_id.as_str());
                Vec::new()
            })
            .push(i);
    }
    let resolved = |hcps: &HashMap<(&str, &str), i64>, i: usize| {
        hcps.contains_key(&(rows[i].source.as_str(), rows[i].hcp.as_str()))
    };

    // 3. An id with an unresolvable copy may be stored already: then every copy is judged
    //    against what is stored, before any stub is made for it.
    let doubtful: Vec<&str> = order
        .iter()
        .copied()
        .filter(|id| copies[id].iter().any(|&i| !resolved(&hcps, i)))
        .collect();
    let mut stored = stored_payloads(&tx, &doubtful).await?;
    if policy == UnknownHcpPolicy::CreateStub {
        let wanted: Vec<(&str, &str)> = order
            .iter()
            .filter(|id| !stored.contains_key(**id))
            .flat_map(|id| copies[id].iter())
            .filter(|&&i| !resolved(&hcps, i))
            .map(|&i| (rows[i].source.as_str(), rows[i].hcp.as_str()))
            .filter(|(_, hcp)| HcpId::parse("hcp", hcp).is_ok())
            .collect();
        create_stubs(&tx, &wanted, now, &mut hcps).await?;
    }

    // 4. Insert the first resolvable copy of every id not known to be stored.
    let mut fates: HashMap<&str, Fate> = HashMap::with_capacity(order.len());
    let mut to_insert: Vec<usize> = Vec::new();
    for &id in &order {
        if stored.contains_key(id) {
            continue;
        }
        match copies[id].iter().copied().find(|&i| resolved(&hcps, i)) {
            Some(i) => {
                fates.insert(id, Fate::Insert(i));
                to_insert.push(i);
            }
            None => {
                fates.insert(id, Fate::Unresolved);
            }
        }
    }
    // A fixed order of unique-key insertions across nodes: no two batches wait on each other.
    to_insert.sort_unstable_by(|&a, &b| rows[a].event_id.cmp(&rows[b].event_id));
    let inserted = insert_events(&tx, rows, &to_insert, &hcps, now).await?;
    let skipped: Vec<&str> = to_insert
        .iter()
        .map(|&i| rows[i].event_id.as_str())
        .filter(|id| !inserted.contains(*id))
        .collect();
    // Stored meanwhile by another request or node: judge against what it stored.
    stored.extend(stored_payloads(&tx, &skipped).await?);
    let consents: Vec<usize> = (0..rows.len())
        .filter(|&i| {
            rows[i].consent.is_some()
                && inserted.contains(rows[i].event_id.as_str())
                && matches!(fates.get(rows[i].event_id.as_str()), Some(Fate::Insert(f)) if *f == i)
        })
        .collect();
    insert_consents(&tx, rows, &consents, &hcps, now).await?;
    tx.commit().await?;

    // 5. One outcome per event, in batch order.
    let judge = |reference: &str, i: usize| {
        if reference == rows[i].payload {
            IngestOutcome::Duplicate
        } else {
            IngestOutcome::Conflict
        }
    };
    let mut outcomes = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let id = r.event_id.as_str();
        let outcome = if let Some(payload) = stored.get(id) {
            judge(payload, i)
        } else {
            match fates.get(id) {
                Some(Fate::Insert(first)) if *first == i => IngestOutcome::Accepted,
                Some(Fate::Insert(first)) if *first < i => judge(&rows[*first].payload, i),
                _ => IngestOutcome::Rejected(unknown_hcp(r)),
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn unknown_hcp(r: &EventRow) -> FieldError {
    if let Err(e) = HcpId::parse("hcp", &r.hcp) {
        return e;
    }
    FieldError::new(
        "hcp",
        format!(
            "no HCP is known as {:?} in source {:?}; register it first (PUT /v1/hcps/{{id}} or openclm import hcps)",
            r.hcp, r.source
        ),
    )
}

type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// Finds the HCP of each pair: by external id in that source, else by OpenCLM id. A stub reached
/// by its OpenCLM id gets that route as an external id, so it still leads there once master data
/// adopts (and renames) the stub.
async fn resolve<'a>(
    tx: &Tx<'_>,
    pairs: &[(&'a str, &'a str)],
) -> Result<HashMap<(&'a str, &'a str), i64>> {
    let systems: Vec<&str> = pairs.iter().map(|p| p.0).collect();
    let ids: Vec<&str> = pairs.iter().map(|p| p.1).collect();
    let stmt = tx
        .prepare_cached(
            "SELECT k.n, x.hcp_key
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(system, external_id, n)
             JOIN hcp_external_ids x ON x.system = k.system AND x.external_id = k.external_id",
        )
        .await?;
    let mut found = HashMap::with_capacity(pairs.len());
    for row in tx.query(&stmt, &[&systems, &ids]).await? {
        let n: i64 = row.get(0);
        found.insert(pairs[n as usize - 1], row.get::<_, i64>(1));
    }
    let missing: Vec<&str> = pairs
        .iter()
        .filter(|p| !found.contains_key(*p))
        .map(|p| p.1)
        .collect();
    if missing.is_empty() {
        return Ok(found);
    }
    let stmt = tx
        .prepare_cached("SELECT id, hcp_key, is_stub FROM hcps WHERE id = ANY($1)")
        .await?;
    let mut by_id: HashMap<String, (i64, bool)> = HashMap::new();
    for row in tx.query(&stmt, &[&missing]).await? {
        by_id.insert(row.get(0), (row.get(1), row.get(2)));
    }
    let mut routes: Vec<(&str, &str, i64)> = Vec::new();
    for &pair in pairs {
        if found.contains_key(&pair) {
            continue;
        }
        if let Some(&(key, is_stub)) = by_id.get(pair.1) {
            found.insert(pair, key);
            if is_stub {
                routes.push((pair.0, pair.1, key));
            }
        }
    }
    add_routes(tx, &routes).await?;
    Ok(found)
}

async fn add_routes(tx: &Tx<'_>, routes: &[(&str, &str, i64)]) -> Result<()> {
    if routes.is_empty() {
        return Ok(());
    }
    let systems: Vec<&str> = routes.iter().map(|r| r.0).collect();
    let ids: Vec<&str> = routes.iter().map(|r| r.1).collect();
    let keys: Vec<i64> = routes.iter().map(|r| r.2).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO hcp_external_ids (system, external_id, hcp_key)
             SELECT * FROM unnest($1::text[], $2::text[], $3::int8[])
             ON CONFLICT DO NOTHING",
        )
        .await?;
    tx.execute(&stmt, &[&systems, &ids, &keys]).await?;
    Ok(())
}

/// Makes a stub HCP (named by the id the source used) for each pair, or finds the one another
/// node made at the same moment.
async fn create_stubs<'a>(
    tx: &Tx<'_>,
    wanted: &[(&'a str, &'a str)],
    now: Timestamp,
    hcps: &mut HashMap<(&'a str, &'a str), i64>,
) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = wanted.iter().map(|p| p.1).collect();
    ids.sort_unstable();
    ids.dedup();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO hcps (id, name, specialty, country, is_stub, created_at, updated_at)
             SELECT id, '', 'unknown', 'ZZ', TRUE, $2, $2 FROM unnest($1::text[]) AS t(id)
             ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    tx.execute(&stmt, &[&ids, &now.millis()]).await?;
    let stmt = tx
        .prepare_cached("SELECT id, hcp_key FROM hcps WHERE id = ANY($1)")
        .await?;
    let keys: HashMap<String, i64> = tx
        .query(&stmt, &[&ids])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut routes = Vec::with_capacity(wanted.len());
    for &pair in wanted {
        if let Some(&key) = keys.get(pair.1) {
            hcps.insert(pair, key);
            routes.push((pair.0, pair.1, key));
        }
    }
    routes.sort_unstable();
    routes.dedup();
    add_routes(tx, &routes).await
}

/// The stored payload of each of `ids` that is stored.
async fn stored_payloads(tx: &Tx<'_>, ids: &[&str]) -> Result<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let stmt = tx
        .prepare_cached("SELECT event_id, payload FROM events WHERE event_id = ANY($1)")
        .await?;
    Ok(tx
        .query(&stmt, &[&ids])
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Inserts the rows at `picked` (one per event id); returns the ids inserted now.
async fn insert_events(
    tx: &Tx<'_>,
    rows: &[EventRow],
    picked: &[usize],
    hcps: &HashMap<(&str, &str), i64>,
    now: Timestamp,
) -> Result<HashSet<String>> {
    if picked.is_empty() {
        return Ok(HashSet::new());
    }
    let take = |f: fn(&EventRow) -> &str| picked.iter().map(|&i| f(&rows[i])).collect::<Vec<_>>();
    let take_opt =
        |f: fn(&EventRow) -> Option<&str>| picked.iter().map(|&i| f(&rows[i])).collect::<Vec<_>>();
    let event_ids = take(|r| &r.event_id);
    let hcp_keys: Vec<i64> = picked
        .iter()
        .map(|&i| hcps[&(rows[i].source.as_str(), rows[i].hcp.as_str())])
        .collect();
    let occurred: Vec<i64> = picked.iter().map(|&i| rows[i].occurred_at).collect();
    let channels: Vec<i16> = picked.iter().map(|&i| rows[i].channel as i16).collect();
    let kinds: Vec<i16> = picked.iter().map(|&i| rows[i].kind as i16).collect();
    let sources = take(|r| &r.source);
    let content = take_opt(|r| r.content_id.as_deref());
    let campaigns = take_opt(|r| r.campaign_id.as_deref());
    let decisions = take_opt(|r| r.decision_id.as_deref());
    let reps = take_opt(|r| r.rep_id.as_deref());
    let payloads = take(|r| &r.payload);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO events (event_id, hcp_key, occurred_at, received_at, channel, type, source,
                content_id, campaign_id, decision_id, rep_id, payload)
             SELECT e.event_id, e.hcp_key, e.occurred_at, $12, e.channel, e.type, e.source,
                e.content_id, e.campaign_id, e.decision_id, e.rep_id, e.payload
             FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int2[], $5::int2[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
                AS e(event_id, hcp_key, occurred_at, channel, type, source,
                     content_id, campaign_id, decision_id, rep_id, payload)
             ON CONFLICT ON CONSTRAINT events_event_id_unique DO NOTHING
             RETURNING event_id",
        )
        .await?;
    let inserted = tx
        .query(
            &stmt,
            &[
                &event_ids,
                &hcp_keys,
                &occurred,
                &channels,
                &kinds,
                &sources,
                &content,
                &campaigns,
                &decisions,
                &reps,
                &payloads,
                &now.millis(),
            ],
        )
        .await?;
    Ok(inserted.into_iter().map(|r| r.get(0)).collect())
}

/// Records the consent changes the events at `picked` carry, in batch order.
async fn insert_consents(
    tx: &Tx<'_>,
    rows: &[EventRow],
    picked: &[usize],
    hcps: &HashMap<(&str, &str), i64>,
    now: Timestamp,
) -> Result<()> {
    if picked.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::new();
    let mut channels = Vec::new();
    let mut purposes = Vec::new();
    let mut states = Vec::new();
    let mut sources = Vec::new();
    let mut event_ids = Vec::new();
    let mut changed = Vec::new();
    for &i in picked {
        let r = &rows[i];
        let Some((state, purpose)) = &r.consent else {
            continue;
        };
        keys.push(hcps[&(r.source.as_str(), r.hcp.as_str())]);
        channels.push(r.channel as i16);
        purposes.push(purpose.as_str());
        states.push(state.as_str());
        sources.push(r.source.as_str());
        event_ids.push(r.event_id.as_str());
        changed.push(r.occurred_at);
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO consent_records
                (hcp_key, channel, purpose, state, source, event_id, changed_at, recorded_at)
             SELECT c.hcp_key, c.channel, c.purpose, c.state, c.source, c.event_id, c.changed_at, $8
             FROM unnest($1::int8[], $2::int2[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::int8[]) WITH ORDINALITY
                AS c(hcp_key, channel, purpose, state, source, event_id, changed_at, n)
             ORDER BY c.n",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &keys,
            &channels,
            &purposes,
            &states,
            &sources,
            &event_ids,
            &changed,
            &now.millis(),
        ],
    )
    .await?;
    Ok(())
}
