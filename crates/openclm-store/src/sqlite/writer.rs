//! The single writer of events: group commit and the background index merge.
//!
//! Requests hand their batches to one thread, which takes every batch waiting at that moment into
//! one transaction (so concurrent requests share one commit and its fsync) and answers each only
//! after the commit. Between groups it merges the unindexed tail into the lookup tables in sorted
//! order, which touches each index page once per merge instead of once per event.

use openclm_core::{FieldError, Timestamp};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use rustc_hash::FxHashMap as HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::oneshot;

use super::meta_get;
use super::tail::{self, Tail, TailEntry};
use crate::rows::{Candidate, EventRow, attribute, candidates_since, credit};
use crate::{IngestOutcome, Result, StoreError, UnknownHcpPolicy};
use openclm_core::engine::reward::Outcome;

/// How long the writer waits before retrying a failed merge.
const MERGE_RETRY: Duration = Duration::from_secs(5);
/// At most this many events share one transaction.
const GROUP_MAX_EVENTS: usize = 50_000;
/// A merge of the tail into the lookup tables starts once it holds this many events ...
const MERGE_AT_EVENTS: usize = 500_000;
/// ... or once the writer has been idle this long with anything in it.
const MERGE_WHEN_IDLE: Duration = Duration::from_millis(500);

pub(crate) struct IngestJob {
    pub events: Vec<EventRow>,
    pub policy: UnknownHcpPolicy,
    pub now: Timestamp,
    pub reply: oneshot::Sender<Result<Vec<IngestOutcome>>>,
}

pub(crate) struct Writer {
    conn: Connection,
    /// The database file, to reopen the connection after a refused write.
    path: std::path::PathBuf,
    /// Set while writes are refused for a cause outside OpenCLM (read-only, disk full, I/O);
    /// shared with the store, whose health check reads it.
    write_refused: Arc<AtomicBool>,
    /// The connection met a refused write: it is reopened before the next write, since a
    /// connection opened or left read-only stays so after the cause is gone.
    reopen: bool,
    /// The attribution window of the store's reward rules, in milliseconds.
    window: i64,
    tail: Arc<RwLock<Tail>>,
    /// source -> id in source -> hcp_key; dropped whenever HCP master data changes.
    hcp_cache: HcpCache,
    hcp_generation: i64,
    merge: Option<Merge>,
    /// After a failed merge step, no new attempt before this moment.
    merge_paused_until: Option<std::time::Instant>,
    /// Whether the page cache was released since the last write.
    cache_released: bool,
}

type HcpCache = HashMap<String, HashMap<String, i64>>;

fn cached(cache: &HcpCache, source: &str, id: &str) -> Option<i64> {
    cache.get(source).and_then(|ids| ids.get(id)).copied()
}

/// One event accepted in the transaction under way.
struct Pending {
    entry: TailEntry,
    event_id: String,
    payload: String,
}

impl Writer {
    pub fn new(
        conn: Connection,
        path: std::path::PathBuf,
        write_refused: Arc<AtomicBool>,
        tail: Arc<RwLock<Tail>>,
        window: i64,
    ) -> Self {
        Self {
            conn,
            path,
            write_refused,
            reopen: false,
            tail,
            window,
            hcp_cache: HashMap::default(),
            hcp_generation: -1,
            merge: None,
            merge_paused_until: None,
            cache_released: false,
        }
    }

    pub fn run(mut self, jobs: Receiver<IngestJob>) {
        loop {
            // While a merge is under way, its steps run between groups without waiting.
            let wait = if self.merge.is_some() {
                Duration::ZERO
            } else {
                MERGE_WHEN_IDLE
            };
            let idle = match jobs.recv_timeout(wait) {
                Ok(first) => {
                    self.cache_released = false;
                    self.write_waiting(first, &jobs);
                    false
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.merge.is_none() && !self.merge_due(true) && !self.cache_released {
                        // Idle with nothing to merge: hand memory back until the next burst.
                        if let Err(e) = self.conn.execute_batch("PRAGMA shrink_memory;") {
                            tracing::warn!(error = %e, "could not release the page cache");
                        }
                        tail::write(&self.tail).release_spare();
                        self.cache_released = true;
                    }
                    true
                }
                Err(RecvTimeoutError::Disconnected) => {
                    while self.merge.is_some() || self.merge_due(true) {
                        if !self.advance_merge() {
                            break;
                        }
                    }
                    return;
                }
            };
            if (self.merge.is_some() && self.merge_paused_until.is_none()) || self.merge_due(idle) {
                self.advance_merge();
            }
        }
    }

    /// Writes `first` and every batch already waiting behind it in one transaction.
    fn write_waiting(&mut self, first: IngestJob, jobs: &Receiver<IngestJob>) {
        let mut group = vec![first];
        let mut count = group[0].events.len();
        while count < GROUP_MAX_EVENTS {
            match jobs.try_recv() {
                Ok(job) => {
                    count += job.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        self.reopen_if_refused();
        match self.write_group(&group) {
            Ok(outcomes) => {
                self.write_refused.store(false, Ordering::SeqCst);
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = group.len(), "event write failed; rolled back");
                self.hcp_cache.clear();
                let refused = e.cannot_write();
                if refused {
                    self.write_refused.store(true, Ordering::SeqCst);
                    self.reopen = true;
                }
                for job in group {
                    let _ = job.reply.send(Err(if refused {
                        StoreError::Unavailable("the database cannot be written now".into())
                    } else {
                        StoreError::Corrupt("the write was rolled back".into())
                    }));
                }
            }
        }
    }

    /// After a refused write, a fresh connection for the next one; if none can be opened yet,
    /// the old one is kept and the next write tries again.
    fn reopen_if_refused(&mut self) {
        if !self.reopen {
            return;
        }
        match super::connect(&self.path, 65_536).and_then(|conn| {
            conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
            Ok(conn)
        }) {
            Ok(conn) => {
                self.conn = conn;
                self.reopen = false;
            }
            Err(e) => tracing::warn!(error = %e, "cannot reopen the database for writing yet"),
        }
    }

    fn merge_due(&self, idle: bool) -> bool {
        if self
            .merge_paused_until
            .is_some_and(|until| std::time::Instant::now() < until)
        {
            return false;
        }
        let held = tail::read(&self.tail).len();
        held >= MERGE_AT_EVENTS || (idle && held > 0)
    }

    /// Starts a merge if none is under way, then runs one step of it; false if that failed.
    fn advance_merge(&mut self) -> bool {
        let merge = match self.merge.take() {
            Some(m) => m,
            None => Merge::of(&tail::read(&self.tail)),
        };
        match merge.step(&mut self.conn, &self.tail) {
            Ok(Some(rest)) => {
                self.merge = Some(rest);
                self.merge_paused_until = None;
                true
            }
            Ok(None) => {
                self.merge_paused_until = None;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "index merge failed; retrying in {MERGE_RETRY:?}");
                if e.cannot_write() {
                    self.write_refused.store(true, Ordering::SeqCst);
                    self.reopen = true;
                }
                self.merge_paused_until = Some(std::time::Instant::now() + MERGE_RETRY);
                false
            }
        }
    }

    fn write_group(&mut self, group: &[IngestJob]) -> Result<Vec<Vec<IngestOutcome>>> {
        let Writer {
            conn,
            tail: shared_tail,
            hcp_cache,
            hcp_generation,
            window,
            ..
        } = self;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let indexed_upto = meta_get(&tx, "indexed_upto")?;
        let generation = meta_get(&tx, "hcp_generation")?;
        if generation != *hcp_generation {
            hcp_cache.clear();
            *hcp_generation = generation;
        }
        tail::write(shared_tail).catch_up(&tx, indexed_upto)?;

        let mut pending: Vec<Pending> = Vec::new();
        let mut outcomes_named: Vec<Named> = Vec::new();
        let mut pending_by_key: HashMap<i64, Vec<usize>> = HashMap::default();
        let mut new_hcps = HcpCache::default();
        let mut results = Vec::with_capacity(group.len());
        {
            let tail = tail::read(shared_tail);
            let mut find_indexed =
                tx.prepare_cached("SELECT seq FROM event_keys WHERE event_key = ?1")?;
            let mut fetch =
                tx.prepare_cached("SELECT event_id, payload FROM events WHERE seq = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (event_key, event_id, hcp_key, occurred_at, received_at,
                    channel, type, source, content_id, campaign_id, decision_id, rep_id, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let mut insert_consent = tx.prepare_cached(
                "INSERT INTO consent_records
                    (hcp_key, channel, purpose, state, source, event_id, changed_at, recorded_at,
                     evidence, notice_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut insert_case = tx.prepare_cached(
                "INSERT INTO ae_cases (case_id, event_id, hcp_key, source, field, received_at,
                    due_at, text, findings, status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open')
                 ON CONFLICT (case_id) DO NOTHING",
            )?;
            let mut count_screened = tx.prepare_cached(
                "INSERT INTO screening_counts (source, screened, flagged) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source) DO UPDATE SET screened = screened + excluded.screened,
                    flagged = flagged + excluded.flagged",
            )?;
            let mut hcp_id_of = tx.prepare_cached("SELECT id FROM hcps WHERE hcp_key = ?1")?;
            for job in group {
                let mut audit = Vec::new();
                let mut outcomes = Vec::with_capacity(job.events.len());
                for event in &job.events {
                    let key = event.key;
                    let payload = event.payload.as_str();

                    // An earlier copy: in this transaction, in the tail, or in the index.
                    let mut earlier: Option<bool> = None;
                    for &i in pending_by_key.get(&key).into_iter().flatten() {
                        if pending[i].event_id == event.event_id {
                            earlier =
                                Some(openclm_core::event::same_copy(&pending[i].payload, payload));
                        }
                    }
                    if earlier.is_none() {
                        let mut seqs: Vec<i64> = tail.seqs_with_key(key).collect();
                        seqs.extend(
                            find_indexed
                                .query_map([key], |r| r.get::<_, i64>(0))?
                                .collect::<rusqlite::Result<Vec<_>>>()?,
                        );
                        for seq in seqs {
                            let Some((id, stored)) = fetch
                                .query_row([seq], |r| {
                                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                                })
                                .optional()?
                            else {
                                // Events are never deleted; a lookup naming a missing one is
                                // stale and must not block the events that hash alike.
                                tracing::warn!(seq, "a lookup names an event that is not stored");
                                continue;
                            };
                            if id == event.event_id {
                                earlier = Some(openclm_core::event::same_copy(&stored, payload));
                                break;
                            }
                        }
                    }
                    match earlier {
                        Some(true) => {
                            outcomes.push(IngestOutcome::Duplicate);
                            continue;
                        }
                        Some(false) => {
                            outcomes.push(IngestOutcome::Conflict);
                            continue;
                        }
                        None => {}
                    }

                    let hcp_key = match resolve_hcp(hcp_cache, &tx, event, job, &mut new_hcps)? {
                        Ok(k) => k,
                        Err(e) => {
                            outcomes.push(IngestOutcome::Rejected(e));
                            continue;
                        }
                    };
                    insert.execute(params![
                        key,
                        event.event_id,
                        hcp_key,
                        event.occurred_at,
                        job.now.millis(),
                        event.channel,
                        event.kind,
                        event.source,
                        event.content_id,
                        event.campaign_id,
                        event.decision_id,
                        event.rep_id,
                        payload,
                    ])?;
                    let seq = tx.last_insert_rowid();
                    if !event.consent.is_empty() {
                        let hcp_id: String = hcp_id_of.query_row([hcp_key], |r| r.get(0))?;
                        audit.extend(event.consent.iter().map(|c| {
                            crate::audit::consent_change(&hcp_id, &event.source, &event.event_id, c)
                        }));
                    }
                    for c in &event.consent {
                        insert_consent.execute(params![
                            hcp_key,
                            c.channel,
                            c.purpose,
                            c.state.as_str(),
                            event.source,
                            event.event_id,
                            event.occurred_at,
                            job.now.millis(),
                            c.evidence,
                            c.notice_version,
                        ])?;
                    }
                    // Day zero is when OpenCLM received the text, whatever the event's own date.
                    for f in &event.flagged {
                        audit.push(crate::audit::case_opened(
                            &event.source,
                            &f.case_id,
                            &event.event_id,
                        ));
                        insert_case.execute(params![
                            f.case_id,
                            event.event_id,
                            hcp_key,
                            event.source,
                            f.field,
                            job.now.millis(),
                            openclm_core::pv::due_at(job.now, f.due_hours).millis(),
                            f.text,
                            f.findings,
                        ])?;
                    }
                    if event.screened > 0 {
                        count_screened.execute(params![
                            event.source,
                            event.screened,
                            event.flagged.len()
                        ])?;
                    }
                    if let Some(outcome) = event.outcome {
                        outcomes_named.push(Named {
                            decision: event.decision_id.as_deref(),
                            content: event.content_id.as_deref(),
                            outcome,
                            at: event.occurred_at,
                            hcp_key,
                            channel: event.channel,
                        });
                    }
                    pending_by_key.entry(key).or_default().push(pending.len());
                    pending.push(Pending {
                        entry: TailEntry {
                            seq,
                            key,
                            hcp_key,
                            occurred_at: event.occurred_at,
                            channel: event.channel,
                            kind: event.kind,
                        },
                        event_id: event.event_id.clone(),
                        payload: payload.to_owned(),
                    });
                    outcomes.push(IngestOutcome::Accepted);
                }
                super::governance::append_audit(&tx, audit, job.now)?;
                results.push(outcomes);
            }
        }
        credit_decisions(&tx, &outcomes_named, *window)?;
        tx.commit()?;
        let mut tail = tail::write(shared_tail);
        for p in &pending {
            tail.push(p.entry);
        }
        for (source, ids) in new_hcps {
            hcp_cache.entry(source).or_default().extend(ids);
        }
        Ok(results)
    }
}

/// An accepted event that reports an outcome: of the decision it names, else of the latest
/// decision for its HCP, content and channel within the attribution window.
struct Named<'a> {
    decision: Option<&'a str>,
    content: Option<&'a str>,
    outcome: Outcome,
    at: i64,
    hcp_key: i64,
    channel: i64,
}

/// Credits the outcomes of decisions that the events just stored report, in the same transaction:
/// a trial for the first delivery, a success for the first response within the window.
fn credit_decisions(tx: &Connection, named: &[Named], window: i64) -> Result<()> {
    if named.is_empty() {
        return Ok(());
    }
    // Only an outcome of the decision's own HCP on the chosen channel credits it.
    let mut read = tx.prepare_cached(
        "SELECT made_at, delivered_at, rewarded_at, node_global, node_segment, node_hcp
         FROM decisions WHERE decision_id = ?1 AND node_global IS NOT NULL
            AND hcp_key = ?2 AND chosen_channel = ?3 AND dismissed_at IS NULL",
    )?;
    let mut mark = tx.prepare_cached(
        "UPDATE decisions SET delivered_at = ?2, rewarded_at = ?3 WHERE decision_id = ?1",
    )?;
    let mut add = tx.prepare_cached(
        "INSERT INTO model_counts (node_key, trials, successes) VALUES (?1, ?2, ?3)
         ON CONFLICT (node_key) DO UPDATE SET trials = trials + excluded.trials,
            successes = successes + excluded.successes",
    )?;
    type Row = (i64, Option<i64>, Option<i64>, i64, i64, i64);
    let mut candidates = candidates_by_content(tx, named, window)?;
    // In time order (batch order among equals), as the PostgreSQL backend does.
    let mut order: Vec<&Named> = named.iter().collect();
    order.sort_by_key(|n| n.at);
    for n in order {
        let (outcome, at) = (n.outcome, n.at);
        let decision = match (n.decision, n.content) {
            (Some(d), _) => d.to_owned(),
            (None, Some(content)) => {
                match attribute(
                    &candidates,
                    n.hcp_key,
                    content,
                    n.channel,
                    outcome,
                    at,
                    window,
                ) {
                    Some(i) => candidates[i].decision_id.clone(),
                    None => continue,
                }
            }
            (None, None) => continue,
        };
        let decision = decision.as_str();
        let found: Option<Row> = read
            .query_row(params![decision, n.hcp_key, n.channel], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .optional()?;
        let Some((made_at, delivered, rewarded, g, s, h)) = found else {
            continue;
        };
        let Some(c) = credit(outcome, at, made_at, (delivered, rewarded), window) else {
            continue;
        };
        mark.execute(params![decision, c.delivered_at, c.rewarded_at])?;
        if let Some(known) = candidates.iter_mut().find(|k| k.decision_id == decision) {
            known.delivered = c.delivered_at.is_some();
            known.rewarded = c.rewarded_at.is_some();
        }
        for node in [g, s, h] {
            add.execute(params![node, c.trials, c.successes])?;
        }
    }
    Ok(())
}

/// The decisions that outcomes naming content but no decision may belong to, in one query: those
/// of their HCPs made since the earliest outcome's window opened.
fn candidates_by_content(tx: &Connection, named: &[Named], window: i64) -> Result<Vec<Candidate>> {
    let unnamed: Vec<&Named> = named
        .iter()
        .filter(|n| n.decision.is_none() && n.content.is_some())
        .collect();
    let Some(since) = candidates_since(unnamed.iter().map(|n| n.at), window) else {
        return Ok(Vec::new());
    };
    let mut keys: Vec<i64> = unnamed.iter().map(|n| n.hcp_key).collect();
    keys.sort_unstable();
    keys.dedup();
    let keys = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into());
    let mut stmt = tx.prepare_cached(
        "SELECT decision_id, hcp_key, chosen_content, chosen_channel, made_at,
            delivered_at IS NOT NULL, rewarded_at IS NOT NULL
         FROM decisions
         WHERE hcp_key IN (SELECT value FROM json_each(?1)) AND made_at >= ?2
            AND chosen_content IS NOT NULL AND chosen_channel IS NOT NULL
            AND node_global IS NOT NULL AND dismissed_at IS NULL",
    )?;
    let found = stmt
        .query_map(params![keys, since], |r| {
            Ok(Candidate {
                decision_id: r.get(0)?,
                hcp_key: r.get(1)?,
                content: r.get(2)?,
                channel: r.get(3)?,
                made_at: r.get(4)?,
                delivered: r.get(5)?,
                rewarded: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

/// Finds the OpenCLM HCP an event names; the inner error is the client's.
fn resolve_hcp(
    hcp_cache: &HcpCache,
    tx: &Connection,
    event: &EventRow,
    job: &IngestJob,
    new_hcps: &mut HcpCache,
) -> Result<Result<i64, FieldError>> {
    if let Some(k) = cached(hcp_cache, &event.source, &event.hcp)
        .or_else(|| cached(new_hcps, &event.source, &event.hcp))
    {
        return Ok(Ok(k));
    }
    let mut found: Option<i64> = tx
        .prepare_cached(
            "SELECT hcp_key FROM hcp_external_ids WHERE system = ?1 AND external_id = ?2",
        )?
        .query_row(params![event.source, event.hcp], |r| r.get(0))
        .optional()?;
    if found.is_none() {
        let by_own_id: Option<(i64, bool)> = tx
            .prepare_cached("SELECT hcp_key, is_stub FROM hcps WHERE id = ?1")?
            .query_row([&event.hcp], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((k, is_stub)) = by_own_id {
            if is_stub {
                // Every route to a stub is an explicit external id, so that when master data
                // adopts the stub (and renames it) later events still find it.
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO hcp_external_ids (system, external_id, hcp_key)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![event.source, event.hcp, k])?;
            }
            found = Some(k);
        }
    }
    let key = match (found, job.policy) {
        (Some(k), _) => k,
        (None, UnknownHcpPolicy::Reject) => {
            return Ok(Err(FieldError::new(
                "hcp",
                format!(
                    "no HCP is known as {:?} in source {:?}; register it first (PUT /v1/hcps/{{id}} or openclm import hcps)",
                    event.hcp, event.source
                ),
            )));
        }
        (None, UnknownHcpPolicy::CreateStub) => {
            let id = match openclm_core::HcpId::parse("hcp", &event.hcp) {
                Ok(id) => id,
                Err(e) => return Ok(Err(e)),
            };
            // An erased HCP's id does not make a new HCP either.
            let hash = openclm_core::privacy::suppression_hash(
                openclm_core::privacy::SuppressedId::ExternalId,
                &event.hcp,
            );
            if tx
                .prepare_cached("SELECT 1 FROM suppressions WHERE hash = ?1")?
                .query_row([hash], |_| Ok(()))
                .optional()?
                .is_some()
            {
                return Ok(Err(crate::rows::suppressed_error("hcp")));
            }
            tx.prepare_cached(
                "INSERT INTO hcps (id, name, specialty, country, is_stub, created_at, updated_at)
                     VALUES (?1, '', 'unknown', 'ZZ', 1, ?2, ?2)",
            )?
            .execute(params![id.as_str(), job.now.millis()])?;
            let k = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO hcp_external_ids (system, external_id, hcp_key) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![event.source, event.hcp, k])?;
            k
        }
    };
    new_hcps
        .entry(event.source.clone())
        .or_default()
        .insert(event.hcp.clone(), key);
    Ok(Ok(key))
}

/// A merge of the tail into the lookup tables, run in steps of [`MERGE_STEP_ROWS`] rows so that
/// ingest transactions are not held up behind one long transaction. Rows are written in key order,
/// so each index page is touched once per merge however the steps fall.
pub(crate) struct Merge {
    by_key: Vec<TailEntry>,
    by_hcp: Vec<TailEntry>,
    done_keys: usize,
    done_hcps: usize,
    upto: i64,
}

/// Rows written per merge step.
const MERGE_STEP_ROWS: usize = 40_000;

impl Merge {
    pub fn of(tail: &Tail) -> Self {
        let mut by_key = tail.snapshot();
        by_key.sort_unstable_by_key(|e| (e.key, e.seq));
        let mut by_hcp = by_key.clone();
        by_hcp.sort_unstable_by_key(|e| (e.hcp_key, e.occurred_at, e.seq));
        Self {
            by_key,
            by_hcp,
            done_keys: 0,
            done_hcps: 0,
            upto: tail.max_seq(),
        }
    }

    /// Writes the next rows in one transaction; returns what is left, or `None` once finished.
    pub fn step(mut self, conn: &mut Connection, tail: &RwLock<Tail>) -> Result<Option<Self>> {
        if self.by_key.is_empty() {
            return Ok(None);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut budget = MERGE_STEP_ROWS;
        {
            let mut keys = tx.prepare_cached(
                "INSERT OR IGNORE INTO event_keys (event_key, seq) VALUES (?1, ?2)",
            )?;
            for e in self.by_key[self.done_keys..].iter().take(budget) {
                keys.execute([e.key, e.seq])?;
                self.done_keys += 1;
                budget -= 1;
            }
            let mut timeline = tx.prepare_cached(
                "INSERT OR IGNORE INTO hcp_timeline (hcp_key, occurred_at, seq, channel, type)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in self.by_hcp[self.done_hcps..].iter().take(budget) {
                timeline.execute([e.hcp_key, e.occurred_at, e.seq, e.channel, e.kind])?;
                self.done_hcps += 1;
            }
        }
        let finished = self.done_keys == self.by_key.len() && self.done_hcps == self.by_hcp.len();
        if finished {
            // Another process may have merged further already: the mark never moves back.
            tx.execute(
                "UPDATE store_meta SET value = MAX(value, ?1) WHERE name = 'indexed_upto'",
                [self.upto],
            )?;
        }
        tx.commit()?;
        if !finished {
            return Ok(Some(self));
        }
        tail::write(tail).trim(self.upto);
        tracing::debug!(
            events = self.by_key.len(),
            upto = self.upto,
            "merged the tail into the lookup tables"
        );
        Ok(None)
    }
}

/// Merges every held tail event into the lookup tables now, step by step.
pub(crate) fn merge_tail(conn: &mut Connection, tail: &RwLock<Tail>) -> Result<usize> {
    // Catch up first, so events another process appended are merged too.
    tail::catch_up(tail, conn)?;
    let mut merge = Merge::of(&tail::read(tail));
    let merged = merge.by_key.len();
    loop {
        match merge.step(conn, tail)? {
            Some(rest) => merge = rest,
            None => return Ok(merged),
        }
    }
}
