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
use crate::rows::{Candidate, EventRow, attribute, candidates_since, credit};
use crate::{IngestOutcome, Result, UnknownHcpPolicy};
use openclm_core::Event;
use openclm_core::engine::reward::{Outcome, RewardConfig};

/// A batch flattened once, reused by every attempt of its transaction.
pub(crate) struct Batch {
    rows: Vec<EventRow>,
    /// The attribution window, in milliseconds.
    window: i64,
}

impl Batch {
    pub fn new(
        events: Vec<Event>,
        rewards: &RewardConfig,
        screener: &openclm_core::pv::Screener,
    ) -> Self {
        Self {
            rows: events
                .into_iter()
                .map(|e| EventRow::new(e, rewards, screener))
                .collect(),
            window: rewards.window_ms(),
        }
    }
}

pub(crate) async fn write(
    store: &PgStore,
    batch: &Batch,
    policy: UnknownHcpPolicy,
    now: Timestamp,
) -> Result<Vec<IngestOutcome>> {
    let rows = &batch.rows;
    let mut client = store.client().await?;
    // Each statement sees what other nodes committed before it: a skipped insert is then
    // followed by a read that finds the winning row.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
        .start()
        .await?;
    // Routes to stubs and stubs themselves are master data: no HCP write of another node may
    // interleave with ours.
    tx.execute(
        "SELECT pg_advisory_xact_lock_shared($1)",
        &[&MASTER_DATA_LOCK],
    )
    .await?;
    // A batch that may write audit entries takes the audit chain's lock now, before any row
    // lock, in the same order as every other audited transaction.
    let audit_lock = if rows
        .iter()
        .any(|r| !r.consent.is_empty() || !r.flagged.is_empty())
    {
        Some(super::governance::AuditLock::take(&tx).await?)
    } else {
        None
    };

    // 1. The HCP each (source, id) pair names, where known.
    let mut pairs: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.source.as_str(), r.hcp.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let (mut hcps, mut routes) = resolve(&tx, &pairs).await?;
    let pair = |i: usize| (rows[i].source.as_str(), rows[i].hcp.as_str());
    // An erased HCP's id does not make a new HCP either.
    let suppressed = if policy == UnknownHcpPolicy::CreateStub {
        suppressed_ids(&tx, rows, &hcps).await?
    } else {
        std::collections::HashSet::new()
    };

    // 2. Copies of one event id, in batch order, and the copy that would be stored: the first
    //    whose HCP is known, or, by policy, can be a stub.
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
    let storable = |i: usize| {
        hcps.contains_key(&pair(i))
            || (policy == UnknownHcpPolicy::CreateStub
                && HcpId::parse("hcp", &rows[i].hcp).is_ok()
                && !suppressed.contains(rows[i].hcp.as_str()))
    };
    let candidate: HashMap<&str, Option<usize>> = order
        .iter()
        .map(|&id| (id, copies[id].iter().copied().find(|&i| storable(i))))
        .collect();

    // 3. Every copy of a stored event is judged against what is stored, whether or not its HCP
    //    can be resolved now, and no stub is made for it.
    let doubtful: Vec<&str> = order
        .iter()
        .copied()
        .filter(|id| candidate[id].is_none_or(|i| !hcps.contains_key(&pair(i))))
        .collect();
    let mut stored = stored_payloads(&tx, &doubtful).await?;
    let wanted: Vec<(&str, &str)> = order
        .iter()
        .filter(|id| !stored.contains_key(**id))
        .filter_map(|id| candidate[id])
        .map(pair)
        .filter(|p| !hcps.contains_key(p))
        .collect();
    create_stubs(&tx, &wanted, now, &mut hcps, &mut routes).await?;

    // 4. Insert the candidate copy of every id not known to be stored.
    let to_insert: Vec<usize> = order
        .iter()
        .filter(|id| !stored.contains_key(**id))
        .filter_map(|id| candidate[id])
        .collect();
    let inserted = insert_events(&tx, rows, &to_insert, &hcps, now).await?;
    let skipped: Vec<&str> = to_insert
        .iter()
        .map(|&i| rows[i].event_id.as_str())
        .filter(|id| !inserted.contains(*id))
        .collect();
    // Stored meanwhile by another request or node: judge against what it stored.
    let winners = stored_payloads(&tx, &skipped).await?;
    if let Some(lost) = skipped.iter().find(|id| !winners.contains_key(**id)) {
        return Err(crate::StoreError::Corrupt(format!(
            "event {lost:?} was neither inserted nor found stored"
        )));
    }
    stored.extend(winners);
    let accepted: Vec<usize> = to_insert
        .iter()
        .copied()
        .filter(|&i| inserted.contains(rows[i].event_id.as_str()))
        .collect();
    // A stub reached by its OpenCLM id gets that route as an external id, so that it still
    // leads there once master data adopts (and renames) the stub.
    let mut new_routes: Vec<(&str, &str, i64)> = accepted
        .iter()
        .filter_map(|&i| routes.get(&pair(i)).map(|&key| (pair(i).0, pair(i).1, key)))
        .collect();
    new_routes.sort_unstable();
    new_routes.dedup();
    add_routes(&tx, &new_routes).await?;
    credit_decisions(&tx, rows, &accepted, &hcps, batch.window).await?;
    let consents: Vec<usize> = accepted
        .iter()
        .copied()
        .filter(|&i| !rows[i].consent.is_empty())
        .collect();
    insert_consents(&tx, rows, &consents, &hcps, now).await?;
    let screened: Vec<usize> = accepted
        .iter()
        .copied()
        .filter(|&i| rows[i].screened > 0)
        .collect();
    open_ae_cases(&tx, rows, &screened, &hcps, now).await?;
    if let Some(held) = &audit_lock {
        audit_ingest(&tx, held, rows, &accepted, &hcps, now).await?;
    }
    tx.commit().await?;

    // 5. One outcome per event, in batch order.
    let judge = |reference: &str, i: usize| {
        if openclm_core::event::same_copy(reference, &rows[i].payload) {
            IngestOutcome::Duplicate
        } else {
            IngestOutcome::Conflict
        }
    };
    let outcomes = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let id = r.event_id.as_str();
            if let Some(payload) = stored.get(id) {
                return judge(payload, i);
            }
            match candidate[id] {
                Some(c) if c == i => IngestOutcome::Accepted,
                Some(c) if c < i => judge(&rows[c].payload, i),
                _ if suppressed.contains(r.hcp.as_str()) => {
                    IngestOutcome::Rejected(crate::rows::suppressed_error("hcp"))
                }
                _ => IngestOutcome::Rejected(unknown_hcp(r, policy)),
            }
        })
        .collect();
    Ok(outcomes)
}

/// The ids of unresolved HCPs that are on the suppression list.
async fn suppressed_ids<'a>(
    tx: &Tx<'_>,
    rows: &'a [EventRow],
    known: &HashMap<(&str, &str), i64>,
) -> Result<std::collections::HashSet<&'a str>> {
    let unknown: Vec<&str> = rows
        .iter()
        .filter(|r| !known.contains_key(&(r.source.as_str(), r.hcp.as_str())))
        .map(|r| r.hcp.as_str())
        .collect();
    if unknown.is_empty() {
        return Ok(Default::default());
    }
    let hashes: Vec<String> = unknown
        .iter()
        .map(|id| {
            openclm_core::privacy::suppression_hash(
                openclm_core::privacy::SuppressedId::ExternalId,
                id,
            )
        })
        .collect();
    let found: std::collections::HashSet<String> = tx
        .query(
            "SELECT hash FROM suppressions WHERE hash = ANY($1)",
            &[&hashes],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(unknown
        .into_iter()
        .zip(hashes)
        .filter(|(_, h)| found.contains(h))
        .map(|(id, _)| id)
        .collect())
}

fn unknown_hcp(r: &EventRow, policy: UnknownHcpPolicy) -> FieldError {
    if policy == UnknownHcpPolicy::CreateStub
        && let Err(e) = HcpId::parse("hcp", &r.hcp)
    {
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

/// A map from (source, id) pairs of the batch to HCP keys.
type PairKeys<'a> = HashMap<(&'a str, &'a str), i64>;

/// Finds the HCP of each pair: by external id in that source, else by OpenCLM id. Also returns
/// the pairs that reached a stub by its OpenCLM id, whose route is to be recorded.
async fn resolve<'a>(
    tx: &Tx<'_>,
    pairs: &[(&'a str, &'a str)],
) -> Result<(PairKeys<'a>, PairKeys<'a>)> {
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
        if let Some(&pair) = usize::try_from(n - 1).ok().and_then(|n| pairs.get(n)) {
            found.insert(pair, row.get::<_, i64>(1));
        }
    }
    let mut routes = HashMap::new();
    let missing: Vec<&str> = pairs
        .iter()
        .filter(|p| !found.contains_key(*p))
        .map(|p| p.1)
        .collect();
    if missing.is_empty() {
        return Ok((found, routes));
    }
    let stmt = tx
        .prepare_cached("SELECT id, hcp_key, is_stub FROM hcps WHERE id = ANY($1)")
        .await?;
    let mut by_id: HashMap<String, (i64, bool)> = HashMap::new();
    for row in tx.query(&stmt, &[&missing]).await? {
        by_id.insert(row.get(0), (row.get(1), row.get(2)));
    }
    for &pair in pairs {
        if found.contains_key(&pair) {
            continue;
        }
        if let Some(&(key, is_stub)) = by_id.get(pair.1) {
            found.insert(pair, key);
            if is_stub {
                routes.insert(pair, key);
            }
        }
    }
    Ok((found, routes))
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
/// node made at the same moment; its route is recorded with the event that needed it.
async fn create_stubs<'a>(
    tx: &Tx<'_>,
    wanted: &[(&'a str, &'a str)],
    now: Timestamp,
    hcps: &mut PairKeys<'a>,
    routes: &mut PairKeys<'a>,
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
    for &pair in wanted {
        if let Some(&key) = keys.get(pair.1) {
            hcps.insert(pair, key);
            routes.insert(pair, key);
        }
    }
    Ok(())
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

/// Inserts the rows at `picked` (one per event id, in batch order); returns the ids inserted now.
/// Sequence numbers follow batch order, as in SQLite; the rows themselves go in in `event_id`
/// order, the same on every node, so that two batches sharing ids wait on each other in one
/// direction only.
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
            "WITH e AS (
                SELECT nextval('events_seq_seq') AS seq, u.*
                FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int2[], $5::int2[],
                    $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
                    AS u(event_id, hcp_key, occurred_at, channel, type, source,
                         content_id, campaign_id, decision_id, rep_id, payload)
             )
             INSERT INTO events (seq, event_id, hcp_key, occurred_at, received_at, channel, type,
                source, content_id, campaign_id, decision_id, rep_id, payload)
             SELECT e.seq, e.event_id, e.hcp_key, e.occurred_at, $12, e.channel, e.type, e.source,
                e.content_id, e.campaign_id, e.decision_id, e.rep_id, e.payload
             FROM e ORDER BY e.event_id
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
    let mut evidence = Vec::new();
    let mut notices = Vec::new();
    for &i in picked {
        let r = &rows[i];
        for c in &r.consent {
            keys.push(hcps[&(r.source.as_str(), r.hcp.as_str())]);
            channels.push(c.channel as i16);
            purposes.push(c.purpose.as_str());
            states.push(c.state.as_str());
            sources.push(r.source.as_str());
            event_ids.push(r.event_id.as_str());
            changed.push(r.occurred_at);
            evidence.push(c.evidence.as_deref());
            notices.push(c.notice_version.as_deref());
        }
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO consent_records
                (hcp_key, channel, purpose, state, source, event_id, changed_at, recorded_at,
                 evidence, notice_version)
             SELECT c.hcp_key, c.channel, c.purpose, c.state, c.source, c.event_id, c.changed_at,
                $8, c.evidence, c.notice_version
             FROM unnest($1::int8[], $2::int2[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::int8[], $9::text[], $10::text[]) WITH ORDINALITY
                AS c(hcp_key, channel, purpose, state, source, event_id, changed_at, evidence,
                    notice_version, n)
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
            &evidence,
            &notices,
        ],
    )
    .await?;
    Ok(())
}

/// Audits the consent changes and PV cases of the accepted events at `picked`, under the audit
/// chain's lock the batch took first.
async fn audit_ingest(
    tx: &Tx<'_>,
    held: &super::governance::AuditLock,
    rows: &[EventRow],
    picked: &[usize],
    hcps: &HashMap<(&str, &str), i64>,
    now: Timestamp,
) -> Result<()> {
    let audited: Vec<&EventRow> = picked
        .iter()
        .map(|&i| &rows[i])
        .filter(|r| !r.consent.is_empty() || !r.flagged.is_empty())
        .collect();
    if audited.is_empty() {
        return Ok(());
    }
    let keys: Vec<i64> = audited
        .iter()
        .map(|r| hcps[&(r.source.as_str(), r.hcp.as_str())])
        .collect();
    let ids: HashMap<i64, String> = tx
        .query(
            "SELECT hcp_key, id FROM hcps WHERE hcp_key = ANY($1)",
            &[&keys],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut entries = Vec::new();
    for (r, key) in audited.iter().zip(&keys) {
        let hcp_id = ids.get(key).map_or("", String::as_str);
        entries.extend(
            r.consent
                .iter()
                .map(|c| crate::audit::consent_change(hcp_id, &r.source, &r.event_id, c)),
        );
        entries.extend(
            r.flagged
                .iter()
                .map(|f| crate::audit::case_opened(&r.source, &f.case_id, &r.event_id)),
        );
    }
    super::governance::append_audit(tx, held, entries, now).await
}

/// Opens a PV case for each flagged text of the events at `picked` and counts what was
/// screened per source, in the events' transaction. Day zero is the receipt time, `now`.
async fn open_ae_cases(
    tx: &Tx<'_>,
    rows: &[EventRow],
    picked: &[usize],
    hcps: &HashMap<(&str, &str), i64>,
    now: Timestamp,
) -> Result<()> {
    if picked.is_empty() {
        return Ok(());
    }
    let mut per_source: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
    let (mut ids, mut events, mut keys, mut sources, mut fields) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut dues, mut texts, mut findings) = (Vec::new(), Vec::new(), Vec::new());
    for &i in picked {
        let r = &rows[i];
        let counts = per_source.entry(r.source.as_str()).or_default();
        counts.0 += i64::from(r.screened);
        counts.1 += r.flagged.len() as i64;
        for f in &r.flagged {
            ids.push(f.case_id.as_str());
            events.push(r.event_id.as_str());
            keys.push(hcps[&(r.source.as_str(), r.hcp.as_str())]);
            sources.push(r.source.as_str());
            fields.push(f.field.as_str());
            dues.push(openclm_core::pv::due_at(now, f.due_hours).millis());
            texts.push(f.text.as_str());
            findings.push(f.findings.as_str());
        }
    }
    if !ids.is_empty() {
        tx.execute(
            "INSERT INTO ae_cases (case_id, event_id, hcp_key, source, field, received_at, due_at,
                text, findings, status)
             SELECT c.case_id, c.event_id, c.hcp_key, c.source, c.field, $9, c.due_at, c.text,
                c.findings, 'open'
             FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::int8[],
                $7::text[], $8::text[])
                AS c(case_id, event_id, hcp_key, source, field, due_at, text, findings)
             ON CONFLICT (case_id) DO NOTHING",
            &[
                &ids,
                &events,
                &keys,
                &sources,
                &fields,
                &dues,
                &texts,
                &findings,
                &now.millis(),
            ],
        )
        .await?;
    }
    let (names, counts): (Vec<&str>, Vec<(i64, i64)>) = per_source.into_iter().unzip();
    let (screened, flagged): (Vec<i64>, Vec<i64>) = counts.into_iter().unzip();
    tx.execute(
        "INSERT INTO screening_counts (source, screened, flagged)
         SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[])
         ON CONFLICT (source) DO UPDATE SET screened = screening_counts.screened + excluded.screened,
            flagged = screening_counts.flagged + excluded.flagged",
        &[&names, &screened, &flagged],
    )
    .await?;
    Ok(())
}

/// An accepted event reporting an outcome: (decision id, content id, outcome, when, HCP key,
/// channel code).
type Reported<'a> = (Option<&'a str>, Option<&'a str>, Outcome, i64, i64, i16);

/// The decisions that outcomes naming content but no decision may belong to: those of their
/// HCPs made since the earliest outcome's window opened (read without locks; the crediting
/// locks and rereads the ones it uses).
async fn candidates_by_content(
    tx: &Tx<'_>,
    reported: &[Reported<'_>],
    window: i64,
) -> Result<Vec<Candidate>> {
    let unnamed: Vec<&Reported> = reported
        .iter()
        .filter(|r| r.0.is_none() && r.1.is_some())
        .collect();
    let Some(since) = candidates_since(unnamed.iter().map(|r| r.3), window) else {
        return Ok(Vec::new());
    };
    let mut keys: Vec<i64> = unnamed.iter().map(|r| r.4).collect();
    keys.sort_unstable();
    keys.dedup();
    let stmt = tx
        .prepare_cached(
            "SELECT decision_id, hcp_key, chosen_content, chosen_channel, made_at,
                delivered_at IS NOT NULL, rewarded_at IS NOT NULL
             FROM decisions
             WHERE hcp_key = ANY($1) AND made_at >= $2 AND chosen_content IS NOT NULL
                AND chosen_channel IS NOT NULL AND node_global IS NOT NULL
                AND dismissed_at IS NULL",
        )
        .await?;
    Ok(tx
        .query(&stmt, &[&keys, &since])
        .await?
        .iter()
        .map(|r| Candidate {
            decision_id: r.get(0),
            hcp_key: r.get(1),
            content: r.get(2),
            channel: i64::from(r.get::<_, i16>(3)),
            made_at: r.get(4),
            delivered: r.get(5),
            rewarded: r.get(6),
        })
        .collect())
}

/// Credits the outcomes of decisions that the events just inserted report: a trial for the first
/// delivery, a success for the first response within the window, and only an outcome of the
/// decision's own HCP on the chosen channel. The decisions are locked together in id order and
/// the increments applied in one statement in key order, so nodes crediting at once wait on each
/// other in one direction only.
async fn credit_decisions(
    tx: &Tx<'_>,
    rows: &[EventRow],
    accepted: &[usize],
    hcps: &HashMap<(&str, &str), i64>,
    window: i64,
) -> Result<()> {
    let reported: Vec<Reported> = accepted
        .iter()
        .filter_map(|&i| {
            let r = &rows[i];
            let hcp_key = *hcps.get(&(r.source.as_str(), r.hcp.as_str()))?;
            Some((
                r.decision_id.as_deref(),
                r.content_id.as_deref(),
                r.outcome?,
                r.occurred_at,
                hcp_key,
                r.channel as i16,
            ))
        })
        .collect();
    if reported.is_empty() {
        return Ok(());
    }
    let mut candidates = candidates_by_content(tx, &reported, window).await?;
    // Every decision an outcome may credit is locked, in id order, and read afresh.
    let mut ids: Vec<&str> = reported.iter().filter_map(|r| r.0).collect();
    ids.extend(candidates.iter().map(|c| c.decision_id.as_str()));
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare_cached(
            "SELECT decision_id, made_at, delivered_at, rewarded_at, node_global, node_segment,
                node_hcp, hcp_key, chosen_channel
             FROM decisions WHERE decision_id = ANY($1) AND node_global IS NOT NULL
                AND dismissed_at IS NULL
             ORDER BY decision_id FOR UPDATE",
        )
        .await?;
    type Locked = (i64, Option<i64>, Option<i64>, [i64; 3], i64, Option<i16>);
    let mut decisions: HashMap<String, Locked> = tx
        .query(&stmt, &[&ids])
        .await?
        .into_iter()
        .map(|r| {
            (
                r.get(0),
                (
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    [r.get(4), r.get(5), r.get(6)],
                    r.get(7),
                    r.get(8),
                ),
            )
        })
        .collect();
    candidates.retain(|c| decisions.contains_key(&c.decision_id));
    for c in &mut candidates {
        if let Some(d) = decisions.get(&c.decision_id) {
            c.delivered = d.1.is_some();
            c.rewarded = d.2.is_some();
        }
    }
    let mut increments: std::collections::BTreeMap<i64, (f64, f64)> = Default::default();
    let mut marks: Vec<(String, Option<i64>, Option<i64>)> = Vec::new();
    // In time order (batch order among equals), as the SQLite backend does.
    let mut order: Vec<usize> = (0..reported.len()).collect();
    order.sort_by_key(|&i| (reported[i].3, i));
    for i in order {
        let (named, content, outcome, at, hcp_key, channel) = reported[i];
        let decision: String = match (named, content) {
            (Some(d), _) => d.to_owned(),
            (None, Some(content)) => {
                let found = attribute(
                    &candidates,
                    hcp_key,
                    content,
                    channel.into(),
                    outcome,
                    at,
                    window,
                );
                match found {
                    Some(c) => candidates[c].decision_id.clone(),
                    None => continue,
                }
            }
            (None, None) => continue,
        };
        let Some(d) = decisions.get_mut(&decision) else {
            continue;
        };
        if d.4 != hcp_key || d.5 != Some(channel) {
            continue;
        }
        let Some(c) = credit(outcome, at, d.0, (d.1, d.2), window) else {
            continue;
        };
        d.1 = c.delivered_at;
        d.2 = c.rewarded_at;
        for node in d.3 {
            let e = increments.entry(node).or_default();
            e.0 += c.trials;
            e.1 += c.successes;
        }
        if let Some(known) = candidates.iter_mut().find(|k| k.decision_id == decision) {
            known.delivered = c.delivered_at.is_some();
            known.rewarded = c.rewarded_at.is_some();
        }
        marks.push((decision, c.delivered_at, c.rewarded_at));
    }
    let mark = tx
        .prepare_cached(
            "UPDATE decisions SET delivered_at = $2, rewarded_at = $3 WHERE decision_id = $1",
        )
        .await?;
    for (decision, delivered, rewarded) in marks {
        tx.execute(&mark, &[&decision, &delivered, &rewarded])
            .await?;
    }
    if increments.is_empty() {
        return Ok(());
    }
    let keys: Vec<i64> = increments.keys().copied().collect();
    let trials: Vec<f64> = increments.values().map(|v| v.0).collect();
    let successes: Vec<f64> = increments.values().map(|v| v.1).collect();
    let add = tx
        .prepare_cached(
            "INSERT INTO model_counts (node_key, trials, successes)
             SELECT * FROM unnest($1::int8[], $2::float8[], $3::float8[]) AS u(k, t, s)
             ORDER BY k
             ON CONFLICT (node_key) DO UPDATE
             SET trials = model_counts.trials + excluded.trials,
                 successes = model_counts.successes + excluded.successes",
        )
        .await?;
    tx.execute(&add, &[&keys, &trials, &successes]).await?;
    Ok(())
}
