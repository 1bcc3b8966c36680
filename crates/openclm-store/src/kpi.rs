//! Folding stored events into campaign KPIs, the same way on both backends: each backend reads
//! a batch of events after its cursor with what the fold needs (live campaigns, memberships,
//! campaign decisions, segments), calls [`fold`], and writes the sums back with the cursor in one
//! transaction, so every event is counted exactly once.

use std::collections::HashMap;

use openclm_core::campaign::Campaign;
use openclm_core::measure::kpi::{Counts, Relation, contribution};
use openclm_core::state::{Observation, StateConfig};
use openclm_core::{Channel, Event, EventType, FieldError, Timestamp};
use serde::Serialize;

use crate::StoreError;

const DAY_MS: i64 = 86_400_000;

/// A campaign whose first wave has run, with its measurement window.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub campaign: Campaign,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A decision made for a campaign wave, as linking needs it.
#[derive(Debug, Clone)]
pub(crate) struct CampaignDecision {
    pub decision_id: String,
    pub hcp_key: i64,
    pub campaign_id: String,
    pub wave: i64,
    pub arm: i64,
    pub content: Option<String>,
    pub channel: Option<Channel>,
    pub made_at: i64,
    pub delivered_at: Option<i64>,
}

/// One stored event to fold.
pub(crate) struct Stored {
    pub seq: i64,
    pub hcp_key: i64,
    pub event: Event,
}

/// A stored event a fold leaves out, and why (see [`crate::QuarantinedEvent`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SetAside {
    pub seq: i64,
    pub event_id: Option<String>,
    pub reason: String,
}

impl SetAside {
    fn of(event: &Event, seq: i64, reason: String) -> Self {
        Self {
            seq,
            event_id: Some(event.event_id.clone()),
            reason,
        }
    }
}

impl Stored {
    /// A stored event read back for folding, or, when its payload no longer parses as an event
    /// (e.g. a number beyond a bound added after it was stored), what to set aside instead: the
    /// fold goes on past it.
    pub fn parse(seq: i64, hcp_key: i64, payload: &str) -> Result<Self, SetAside> {
        let value: serde_json::Value = serde_json::from_str(payload).map_err(|_| SetAside {
            seq,
            event_id: None,
            reason: "its stored payload is not JSON".into(),
        })?;
        // The id, bounded, for people to find the event by; nothing else of the payload.
        let event_id = value
            .get("event_id")
            .and_then(serde_json::Value::as_str)
            .map(|id| id.chars().take(openclm_core::event::MAX_ID_LEN).collect());
        match Event::from_json(value) {
            Ok(event) => Ok(Self {
                seq,
                hcp_key,
                event,
            }),
            Err(e) => Err(SetAside {
                seq,
                event_id,
                reason: format!("it no longer parses: {e}"),
            }),
        }
    }
}

/// The reason to set an event aside when writing what it adds failed for a reason of the data
/// (a number out of range, a value refused by a constraint, stored sums that cannot be read),
/// or `None` when the failure says nothing about the event (the database is unavailable, busy,
/// or the connection broke): then the batch fails and is folded again later. The reason never
/// holds the database's own text, which may quote values.
pub(crate) fn data_error_reason(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Invalid(f) => Some(format!("what it adds could not be kept: {f}")),
        StoreError::Corrupt(_) => {
            Some("the stored sums it adds to cannot be read (corrupt rows)".into())
        }
        StoreError::Database(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Some("the database refused what it adds (a constraint failed)".into())
        }
        StoreError::Database(
            rusqlite::Error::ToSqlConversionFailure(_)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..),
        ) => Some("the database refused what it adds (a value out of range)".into()),
        StoreError::Postgres(e) => {
            let code = e.code()?.code();
            if code.starts_with("22") {
                Some(format!(
                    "the database refused what it adds (a value out of range, SQLSTATE {code})"
                ))
            } else if code.starts_with("23") {
                Some(format!(
                    "the database refused what it adds (a constraint failed, SQLSTATE {code})"
                ))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Refuses a sum that is not a finite number, naming it, before it reaches a table (where it
/// would become a JSON null or a refused row).
pub(crate) fn finite(field: &str, value: f64) -> Result<(), StoreError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(StoreError::Invalid(FieldError::new(
            field,
            "would not be a finite number",
        )))
    }
}

/// Refuses counts holding a sum that is not a finite number, naming the table.
pub(crate) fn finite_counts(table: &str, counts: &Counts) -> Result<(), StoreError> {
    if counts.is_finite() {
        Ok(())
    } else {
        Err(StoreError::Invalid(FieldError::new(
            format!("{table}.counts"),
            "would not be a finite number",
        )))
    }
}

impl MemberTotals {
    /// Refuses totals that are not finite numbers.
    pub fn check_finite(&self) -> Result<(), StoreError> {
        finite("campaign_hcp.outcome_units", self.outcome_units)
    }
}

impl MomentDelta {
    /// Refuses sums that are not finite numbers.
    pub fn check_finite(&self) -> Result<(), StoreError> {
        finite("campaign_group_moments.responses", self.responses)?;
        finite("campaign_group_moments.responses_sq", self.responses_sq)?;
        finite("campaign_group_moments.outcome", self.outcome)?;
        finite("campaign_group_moments.outcome_sq", self.outcome_sq)
    }
}

/// Everything a batch's fold reads.
pub(crate) struct FoldInput<'a> {
    pub events: &'a [Stored],
    pub live: &'a [Live],
    /// (campaign, HCP) → group.
    pub members: &'a HashMap<(String, i64), i64>,
    pub decisions: &'a [CampaignDecision],
    /// HCP → (specialty, country).
    pub segments: &'a HashMap<i64, (String, String)>,
    /// (campaign, HCP) → the waves that treated them and when each ran, in run order.
    pub waves: &'a HashMap<(String, i64), Vec<(i64, i64)>>,
}

/// What a KPI fold reads besides the events, owned: the live campaigns, and the batch's HCPs'
/// memberships, campaign decisions, segments and waves. Each backend opens it with its own
/// queries (for the HCPs [`FoldContext::hcp_keys`] names) and folds through it, so what a batch
/// adds is decided here alone.
pub(crate) struct FoldContext {
    pub live: Vec<Live>,
    /// (campaign, HCP) → group.
    pub members: HashMap<(String, i64), i64>,
    pub decisions: Vec<CampaignDecision>,
    /// HCP → (specialty, country).
    pub segments: HashMap<i64, (String, String)>,
    /// (campaign, HCP) → the waves that treated them and when each ran, in run order.
    pub waves: HashMap<(String, i64), Vec<(i64, i64)>>,
}

impl FoldContext {
    /// A context for these live campaigns, the batch's rows still to read.
    pub fn new(live: Vec<Live>) -> Self {
        Self {
            live,
            members: HashMap::new(),
            decisions: Vec::new(),
            segments: HashMap::new(),
            waves: HashMap::new(),
        }
    }

    /// The HCPs of a batch, sorted, each once: whose rows the context reads.
    pub fn hcp_keys(events: &[Stored]) -> Vec<i64> {
        let mut keys: Vec<i64> = events.iter().map(|e| e.hcp_key).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Adds a wave that treated an HCP; called in the waves' run order.
    pub fn add_wave(&mut self, campaign_id: String, hcp_key: i64, wave: i64, ran_at: i64) {
        self.waves
            .entry((campaign_id, hcp_key))
            .or_default()
            .push((wave, ran_at));
    }

    /// Folds `events` (a whole batch, or one of its events) with what the context holds.
    pub fn fold(&self, events: &[Stored], config: &StateConfig) -> FoldOutput {
        fold(
            &FoldInput {
                events,
                live: &self.live,
                members: &self.members,
                decisions: &self.decisions,
                segments: &self.segments,
                waves: &self.waves,
            },
            config,
        )
    }
}

/// How a fold's batch is written so that an event whose sums cannot be written is set aside
/// rather than stopping the fold, the same on both backends, which run the statements it names
/// and the write it asks for:
///
/// ```text
/// while let Some(attempt) = guard.next_attempt() {
///     run(attempt.begin());
///     let written = write(attempt.range());
///     run(attempt.end(written.is_ok()));
///     guard.record(written)?;
/// }
/// guard.set_aside()
/// ```
///
/// The whole batch is written first, under a savepoint. When that fails for a reason of the data
/// (one event's numbers refused, say), it is rolled back and the events are written one at a
/// time, each under a savepoint of its own: an event whose write fails so is set aside and the
/// rest are counted. Any other failure (the database busy or gone, a deadlock) fails the whole
/// batch, to be folded again.
pub(crate) struct GuardedWrite<'a> {
    events: &'a [Stored],
    next: Option<Attempt>,
    set_aside: Vec<SetAside>,
}

/// One write a [`GuardedWrite`] asks for: the whole batch, or the event at an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    Batch,
    One(usize),
}

impl Attempt {
    /// The savepoint statement to run before the write.
    pub fn begin(self) -> &'static str {
        match self {
            Attempt::Batch => "SAVEPOINT fold_batch",
            Attempt::One(_) => "SAVEPOINT fold_one",
        }
    }

    /// The statement to run after the write: the savepoint released, or rolled back first when
    /// the write failed.
    pub fn end(self, written: bool) -> &'static str {
        match (self, written) {
            (Attempt::Batch, true) => "RELEASE SAVEPOINT fold_batch",
            (Attempt::Batch, false) => {
                "ROLLBACK TO SAVEPOINT fold_batch; RELEASE SAVEPOINT fold_batch"
            }
            (Attempt::One(_), true) => "RELEASE SAVEPOINT fold_one",
            (Attempt::One(_), false) => {
                "ROLLBACK TO SAVEPOINT fold_one; RELEASE SAVEPOINT fold_one"
            }
        }
    }
}

impl<'a> GuardedWrite<'a> {
    pub fn new(events: &'a [Stored]) -> Self {
        Self {
            events,
            next: Some(Attempt::Batch),
            set_aside: Vec::new(),
        }
    }

    /// The next write to make, if any.
    pub fn next_attempt(&self) -> Option<Attempt> {
        self.next
    }

    /// The events the next write folds.
    pub fn range(&self, attempt: Attempt) -> std::ops::Range<usize> {
        match attempt {
            Attempt::Batch => 0..self.events.len(),
            Attempt::One(i) => i..i + 1,
        }
    }

    /// Records how the write of [`GuardedWrite::next_attempt`] went (the events it set aside,
    /// or its error); an error when the failure says nothing about the events, which fails the
    /// batch.
    pub fn record(&mut self, written: Result<Vec<SetAside>, StoreError>) -> Result<(), StoreError> {
        let Some(attempt) = self.next else {
            return Ok(());
        };
        let following = |i: usize| (i + 1 < self.events.len()).then_some(Attempt::One(i + 1));
        match (attempt, written) {
            (Attempt::Batch, Ok(set_aside)) => {
                self.set_aside.extend(set_aside);
                self.next = None;
            }
            (Attempt::Batch, Err(e)) => {
                if data_error_reason(&e).is_none() {
                    return Err(e);
                }
                tracing::warn!(
                    events = self.events.len(),
                    "a fold's batch could not be written; folding its events one at a time"
                );
                self.next = (!self.events.is_empty()).then_some(Attempt::One(0));
            }
            (Attempt::One(i), Ok(set_aside)) => {
                self.set_aside.extend(set_aside);
                self.next = following(i);
            }
            (Attempt::One(i), Err(e)) => {
                let Some(reason) = data_error_reason(&e) else {
                    return Err(e);
                };
                let one = &self.events[i];
                self.set_aside.push(SetAside {
                    seq: one.seq,
                    event_id: Some(one.event.event_id.clone()),
                    reason,
                });
                self.next = following(i);
            }
        }
        Ok(())
    }

    /// The events set aside, once no write is left to make.
    pub fn set_aside(self) -> Vec<SetAside> {
        self.set_aside
    }
}

/// What a batch adds to one treated HCP's outcome of one wave.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct WaveDelta {
    pub delivered: i64,
    pub opened: i64,
    pub engaged: i64,
    pub responses: i64,
    pub first_delivered_at: Option<i64>,
}

/// The key of a slice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SliceKey {
    pub campaign_id: String,
    pub day: i64,
    pub group: i64,
    pub wave: i64,
    pub channel: Channel,
    pub content_id: String,
    pub specialty: String,
    pub country: String,
}

/// What a batch adds to one member's totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MemberDelta {
    pub group: i64,
    pub counts: Counts,
    pub first_delivered_at: Option<i64>,
    pub first_response_at: Option<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct FoldOutput {
    pub slices: HashMap<SliceKey, Counts>,
    pub members: HashMap<(String, i64), MemberDelta>,
    /// (campaign, wave, HCP) → what the batch adds.
    pub waves: HashMap<(String, i64, i64), WaveDelta>,
    /// Events whose contribution is not finite: left out, to be set aside.
    pub set_aside: Vec<SetAside>,
}

fn earliest(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// The batch's campaign decisions, indexed the two ways events find them.
struct Decisions<'a> {
    by_id: HashMap<&'a str, &'a CampaignDecision>,
    /// (HCP, content, channel) → decisions, oldest first.
    by_item: HashMap<(i64, &'a str, Channel), Vec<&'a CampaignDecision>>,
}

impl<'a> Decisions<'a> {
    fn new(decisions: &'a [CampaignDecision]) -> Self {
        let mut by_id = HashMap::with_capacity(decisions.len());
        let mut by_item: HashMap<(i64, &str, Channel), Vec<&CampaignDecision>> = HashMap::new();
        for d in decisions {
            by_id.insert(d.decision_id.as_str(), d);
            if let (Some(content), Some(channel)) = (&d.content, d.channel) {
                by_item
                    .entry((d.hcp_key, content.as_str(), channel))
                    .or_default()
                    .push(d);
            }
        }
        for list in by_item.values_mut() {
            list.sort_by(|a, b| (a.made_at, &a.decision_id).cmp(&(b.made_at, &b.decision_id)));
        }
        Self { by_id, by_item }
    }

    /// The campaign decision an event belongs to: the one it names, else the latest for its
    /// HCP, content and channel made before it (a day's leeway for coarse clocks) within its
    /// campaign's attribution window.
    fn link(
        &self,
        event: &Event,
        hcp_key: i64,
        windows: &HashMap<&str, i64>,
    ) -> Option<&'a CampaignDecision> {
        let at = event.occurred_at.millis();
        if let Some(id) = &event.decision_id {
            return self
                .by_id
                .get(id.as_str())
                .copied()
                .filter(|d| d.hcp_key == hcp_key);
        }
        let content = event.content_id.as_deref()?;
        self.by_item
            .get(&(hcp_key, content, event.channel))?
            .iter()
            .rev()
            .find(|d| {
                d.made_at <= at + DAY_MS
                    && windows
                        .get(d.campaign_id.as_str())
                        .is_some_and(|w| at - d.made_at <= *w)
            })
            .copied()
    }
}

/// Folds a batch of events into slice and member sums.
pub(crate) fn fold(input: &FoldInput<'_>, config: &StateConfig) -> FoldOutput {
    let mut out = FoldOutput::default();
    let decisions = Decisions::new(input.decisions);
    let live: HashMap<&str, &Live> = input
        .live
        .iter()
        .map(|l| (l.campaign.id.as_str(), l))
        .collect();
    let windows: HashMap<&str, i64> = input
        .live
        .iter()
        .map(|l| (l.campaign.id.as_str(), l.campaign.attribution_window_ms()))
        .collect();
    // Per HCP: their campaigns (with their group) and the waves that treated them.
    let mut memberships: HashMap<i64, Vec<(&str, i64)>> = HashMap::new();
    for ((campaign, hcp), group) in input.members {
        if live.contains_key(campaign.as_str()) {
            memberships
                .entry(*hcp)
                .or_default()
                .push((campaign.as_str(), *group));
        }
    }
    for list in memberships.values_mut() {
        list.sort_unstable();
    }
    let no_waves: Vec<(i64, i64)> = Vec::new();
    'events: for stored in input.events {
        let event = &stored.event;
        let at = event.occurred_at.millis();
        let hcp = stored.hcp_key;
        let linked = decisions.link(event, hcp, &windows);
        let mine = memberships.get(&hcp).map(Vec::as_slice).unwrap_or_default();
        // The campaigns this event may count for: the HCP's, and the linked decision's.
        let mut campaigns: Vec<&str> = mine.iter().map(|(c, _)| *c).collect();
        if let Some(d) = linked
            && !campaigns.contains(&d.campaign_id.as_str())
            && live.contains_key(d.campaign_id.as_str())
        {
            campaigns.push(d.campaign_id.as_str());
        }
        if campaigns.is_empty() {
            continue;
        }
        let proxy = Observation::of(event, config).proxy;
        // What the event adds to each campaign, all checked before any is added: an event
        // counts whole or not at all.
        let mut adds = Vec::with_capacity(campaigns.len());
        for campaign_id in campaigns {
            let Some(live) = live.get(campaign_id) else {
                continue;
            };
            let campaign = &live.campaign;
            let member = mine
                .iter()
                .find(|(c, _)| *c == campaign_id)
                .map(|(_, g)| *g);
            let in_window = at >= live.start.millis() && at < live.end.millis();
            let decision = linked.filter(|d| d.campaign_id == campaign_id);
            let named = event.campaign_id.as_deref() == Some(campaign_id);
            let is_linked = decision.is_some() || (named && member.is_some());
            let is_member = member.is_some() && in_window;
            if !is_linked && !is_member {
                continue;
            }
            let machine_open = event.kind == EventType::Opened
                && (proxy
                    || decision
                        .and_then(|d| d.delivered_at)
                        .is_some_and(|d| at >= d && at - d < config.machine_open_within_ms));
            let relation = Relation {
                linked: is_linked,
                member: is_member,
                machine_open,
            };
            let counts = contribution(event, campaign, relation, config);
            if counts.is_empty() {
                continue;
            }
            if !counts.is_finite() {
                out.set_aside.push(SetAside::of(
                    event,
                    stored.seq,
                    "what it adds to a campaign is not a finite number".into(),
                ));
                continue 'events;
            }
            adds.push((campaign_id, member, decision, counts));
        }
        for (campaign_id, member, decision, counts) in adds {
            let group = member.or(decision.map(|d| d.arm)).unwrap_or(0);
            let (specialty, country) = input.segments.get(&hcp).cloned().unwrap_or_default();
            let key = SliceKey {
                campaign_id: campaign_id.to_owned(),
                day: at.div_euclid(DAY_MS),
                group,
                wave: decision.map_or(0, |d| d.wave),
                channel: event.channel,
                content_id: event.content_id.clone().unwrap_or_default(),
                specialty,
                country,
            };
            out.slices.entry(key).or_default().add(&counts);
            // The wave: the linked touch's; a member's other responses go to the latest wave
            // that treated them before the response.
            let waves = input
                .waves
                .get(&(campaign_id.to_owned(), hcp))
                .unwrap_or(&no_waves);
            let wave = match decision {
                Some(d) => Some(d.wave),
                None => waves
                    .iter()
                    .rev()
                    .find(|(_, ran)| *ran <= at)
                    .map(|(w, _)| *w),
            };
            if let Some(w) = wave.filter(|w| waves.iter().any(|(x, _)| x == w)) {
                let d = out
                    .waves
                    .entry((campaign_id.to_owned(), w, hcp))
                    .or_default();
                if decision.is_some() {
                    d.delivered += counts.delivered as i64;
                    d.opened += counts.opened_human as i64;
                    d.engaged += counts.engaged as i64;
                    if counts.delivered > 0 {
                        d.first_delivered_at = earliest(d.first_delivered_at, at);
                    }
                }
                d.responses += counts.responses as i64;
            }
            if let Some(group) = member {
                let delta = out
                    .members
                    .entry((campaign_id.to_owned(), hcp))
                    .or_insert_with(|| MemberDelta {
                        group,
                        ..MemberDelta::default()
                    });
                delta.counts.add(&counts);
                if counts.delivered > 0 {
                    delta.first_delivered_at = earliest(delta.first_delivered_at, at);
                }
                if counts.responses > 0 {
                    delta.first_response_at = earliest(delta.first_response_at, at);
                }
            }
        }
    }
    out
}

/// A member's running totals, as `campaign_hcp` keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct MemberTotals {
    pub touches: i64,
    pub delivered: i64,
    pub opened: i64,
    pub engaged: i64,
    pub responses: i64,
    pub outcome_units: f64,
    pub first_delivered_at: Option<i64>,
    pub first_response_at: Option<i64>,
}

impl MemberTotals {
    pub fn plus(&self, d: &MemberDelta) -> Self {
        let c = &d.counts;
        let min = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Self {
            touches: self.touches + c.touches as i64,
            delivered: self.delivered + c.delivered as i64,
            opened: self.opened + c.opened_human as i64,
            engaged: self.engaged + c.engaged as i64,
            responses: self.responses + c.responses as i64,
            outcome_units: self.outcome_units + c.outcome_units,
            first_delivered_at: min(self.first_delivered_at, d.first_delivered_at),
            first_response_at: min(self.first_response_at, d.first_response_at),
        }
    }
}

/// What a change of one member's totals adds to their group's sums.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct MomentDelta {
    pub reached: i64,
    pub responders: i64,
    pub responses: f64,
    pub responses_sq: f64,
    pub outcome: f64,
    pub outcome_sq: f64,
    pub touches: i64,
}

impl MomentDelta {
    pub fn between(old: &MemberTotals, new: &MemberTotals) -> Self {
        let (ro, rn) = (old.responses as f64, new.responses as f64);
        Self {
            reached: i64::from(old.delivered == 0 && new.delivered > 0),
            responders: i64::from(old.responses == 0 && new.responses > 0),
            responses: rn - ro,
            responses_sq: rn * rn - ro * ro,
            outcome: new.outcome_units - old.outcome_units,
            outcome_sq: new.outcome_units.powi(2) - old.outcome_units.powi(2),
            touches: new.touches - old.touches,
        }
    }

    pub fn add(&mut self, o: &MomentDelta) {
        self.reached += o.reached;
        self.responders += o.responders;
        self.responses += o.responses;
        self.responses_sq += o.responses_sq;
        self.outcome += o.outcome;
        self.outcome_sq += o.outcome_sq;
        self.touches += o.touches;
    }
}

/// The campaigns whose measurement has begun: a wave has run. The window opens at the first
/// wave's scheduled time or its run, whichever came first, and closes an attribution window after
/// the last wave's scheduled time or its latest run, whichever comes last.
pub(crate) fn live(campaigns: Vec<Campaign>, runs: &HashMap<String, (i64, i64)>) -> Vec<Live> {
    campaigns
        .into_iter()
        .filter_map(|campaign| {
            let (first, last) = *runs.get(&campaign.id)?;
            let scheduled = campaign.waves.first().map_or(first, |w| w.at.millis());
            let end = campaign
                .ends_at()
                .millis()
                .max(last + campaign.attribution_window_ms());
            Some(Live {
                start: Timestamp::from_millis(scheduled.min(first)),
                end: Timestamp::from_millis(end),
                campaign,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(seq: i64) -> Stored {
        let event = json!({"event_id": format!("e{seq}"), "hcp": "h",
            "occurred_at": "2026-01-05T10:00:00Z", "source": "crm", "channel": "email",
            "type": "opened"});
        Stored {
            seq,
            hcp_key: 1,
            event: Event::from_json(event).unwrap(),
        }
    }

    /// Drives a guarded write the way the backends do, failing the write of any slice that
    /// holds an event of `refused` with `error`; returns the writes made and what was set aside.
    fn drive(
        events: &[Stored],
        refused: &[i64],
        error: fn() -> StoreError,
    ) -> (Vec<Attempt>, Result<Vec<SetAside>, StoreError>) {
        let mut guard = GuardedWrite::new(events);
        let mut attempts = Vec::new();
        while let Some(attempt) = guard.next_attempt() {
            attempts.push(attempt);
            let slice = &events[guard.range(attempt)];
            let written = if slice.iter().any(|e| refused.contains(&e.seq)) {
                Err(error())
            } else {
                Ok(Vec::new())
            };
            if let Err(e) = guard.record(written) {
                return (attempts, Err(e));
            }
        }
        (attempts, Ok(guard.set_aside()))
    }

    fn refused_value() -> StoreError {
        StoreError::Invalid(FieldError::new("responses", "is not a finite number"))
    }

    #[test]
    fn a_batch_that_writes_is_written_once() {
        let events: Vec<Stored> = (1..=3).map(stored).collect();
        let (attempts, set_aside) = drive(&events, &[], refused_value);
        assert_eq!(attempts, [Attempt::Batch]);
        assert_eq!(set_aside.unwrap(), []);
    }

    #[test]
    fn a_refused_event_is_set_aside_and_the_others_written_one_at_a_time() {
        let events: Vec<Stored> = (1..=3).map(stored).collect();
        let (attempts, set_aside) = drive(&events, &[2], refused_value);
        assert_eq!(
            attempts,
            [
                Attempt::Batch,
                Attempt::One(0),
                Attempt::One(1),
                Attempt::One(2)
            ]
        );
        let set_aside = set_aside.unwrap();
        assert_eq!(set_aside.len(), 1);
        assert_eq!(set_aside[0].seq, 2);
        assert_eq!(set_aside[0].event_id.as_deref(), Some("e2"));
        assert!(set_aside[0].reason.contains("responses"), "{set_aside:?}");
    }

    #[test]
    fn a_failure_that_says_nothing_about_the_events_fails_the_batch() {
        let events: Vec<Stored> = (1..=3).map(stored).collect();
        let (attempts, set_aside) = drive(&events, &[2], || StoreError::Closed);
        assert_eq!(attempts, [Attempt::Batch]);
        assert!(matches!(set_aside, Err(StoreError::Closed)));
    }

    #[test]
    fn savepoints_are_released_and_rolled_back_by_name() {
        assert_eq!(Attempt::Batch.begin(), "SAVEPOINT fold_batch");
        assert_eq!(
            Attempt::One(3).end(false),
            "ROLLBACK TO SAVEPOINT fold_one; RELEASE SAVEPOINT fold_one"
        );
        assert_eq!(Attempt::One(3).end(true), "RELEASE SAVEPOINT fold_one");
    }
}
