//! The living state of one HCP, learned from their events: engagement by channel and topic
//! (recency-weighted), touches and their rolling windows, responses per touch (a response as
//! [`crate::response`] defines it, the same as rewards and KPIs), dwell depth, the moments they
//! engage, opt-outs, and machine opens told apart from human ones.
//!
//! [`HcpState::apply`] folds one event in. The fold is order-independent (decayed sums are kept
//! relative to a reference time and rescaled; windows keep timestamps; the rest are counts,
//! minima and maxima), so events arriving late or from several nodes give the same state as
//! events in order, and replaying an HCP's events rebuilds it exactly. One exception: an open is
//! judged a machine's by the deliveries seen before it, so an open folded in before its own
//! delivery event is judged by its user agent and address only.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::consent::{ConsentState, DEFAULT_PURPOSE};
use crate::event::{Details, Event, EventType};
use crate::response::{DEFAULT_ENGAGED_DWELL_MS, DEFAULT_RESPONSES, ResponseRule};
use crate::{Channel, Timestamp};

const DAY_MS: i64 = 86_400_000;
/// Touches remembered (the most recent), for caps and gaps: enough for any window a rule names.
const TOUCHES_REMEMBERED: usize = 100;
/// Deliveries remembered, for telling machine opens.
const DELIVERIES_REMEMBERED: usize = 50;
/// Reactions remembered, for telling which sends were opened.
const REACTIONS_REMEMBERED: usize = 200;
/// The version of the fold: a state folded by another version is folded anew.
pub const FOLD_VERSION: u32 = 4;
/// Outbound items remembered, newest last, for "opened 4 of the last 5" explanations.
const SENDS_REMEMBERED: usize = 20;

/// How events are read into state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateConfig {
    /// Half-life of engagement, in days: an interaction this old weighs half a fresh one.
    pub half_life_days: f64,
    /// An email "opened" this soon after its delivery was opened by a machine (a scanner or a
    /// privacy proxy fetching images), not a person.
    pub machine_open_within_ms: i64,
    /// User-agent fragments of privacy proxies and scanners (compared case-insensitively).
    pub machine_user_agents: Vec<String>,
    /// IP address prefixes of privacy proxies (e.g. "17." for Apple's relays), matched against
    /// an event's `ip` field.
    pub machine_ip_prefixes: Vec<String>,
    /// Dwell at or above this, in milliseconds, counts as engaged reading, and makes a slide or
    /// page view a response (`[rewards] engaged_dwell_ms`).
    pub engaged_dwell_ms: i64,
    /// Event types that count as a response (`[rewards] responses`).
    #[serde(default = "default_responses")]
    pub responses: Vec<EventType>,
}

fn default_responses() -> Vec<EventType> {
    DEFAULT_RESPONSES.to_vec()
}

impl StateConfig {
    /// What counts as a response.
    pub fn response_rule(&self) -> ResponseRule<'_> {
        ResponseRule {
            kinds: &self.responses,
            engaged_dwell_ms: self.engaged_dwell_ms,
        }
    }
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            half_life_days: 30.0,
            machine_open_within_ms: 10_000,
            machine_user_agents: [
                "googleimageproxy",
                "yahoomailproxy",
                "apple mail privacy",
                "mimecast",
                "barracuda",
                "proofpoint",
                "microsoft office protection",
            ]
            .map(String::from)
            .to_vec(),
            machine_ip_prefixes: vec!["17.".into()],
            engaged_dwell_ms: DEFAULT_ENGAGED_DWELL_MS,
            responses: default_responses(),
        }
    }
}

/// A recency-weighted sum: `value` as of `as_of`; earlier or later contributions are rescaled by
/// the decay between the two times, so the order they arrive in does not matter.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Decayed {
    pub value: f64,
    pub as_of: i64,
}

impl Decayed {
    fn add(&mut self, weight: f64, at: i64, half_life_ms: f64) {
        if self.value == 0.0 || at > self.as_of {
            self.value = self.value * decay(at - self.as_of, half_life_ms) + weight;
            self.as_of = at.max(self.as_of);
        } else {
            self.value += weight * decay(self.as_of - at, half_life_ms);
        }
    }

    /// The sum as of `now`.
    pub fn at(&self, now: Timestamp, half_life_ms: f64) -> f64 {
        self.value * decay(now.millis() - self.as_of, half_life_ms)
    }
}

fn decay(elapsed_ms: i64, half_life_ms: f64) -> f64 {
    (0.5f64).powf(elapsed_ms.max(0) as f64 / half_life_ms)
}

/// One brand-initiated contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touch {
    pub at: Timestamp,
    pub channel: Channel,
    pub content_id: Option<String>,
}

/// One item sent to the HCP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendRecord {
    pub at: Timestamp,
    pub channel: Channel,
    pub content_id: String,
    pub topics: Vec<String>,
}

/// A person's reaction to an item, kept to tell which sends were opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub at: Timestamp,
    pub content_id: String,
    pub clicked: bool,
}

/// A send and what the HCP did with it.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome<'a> {
    pub send: &'a SendRecord,
    /// Opened by a person (machine opens never count).
    pub opened: bool,
    pub clicked: bool,
}

/// Per-channel counts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ChannelCounts {
    pub touches: u32,
    /// Responses by the one definition ([`crate::response`]): never an open, a view only from
    /// the engaged dwell.
    pub responses: u32,
    /// Any reaction of a person (an engagement): responses, and opens and short views too.
    #[serde(default)]
    pub engagements: u32,
    pub human_opens: u32,
    pub machine_opens: u32,
    pub clicks: u32,
    pub last_touch: Option<Timestamp>,
    pub last_response: Option<Timestamp>,
}

/// Everything OpenCLM has learned about one HCP from their events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HcpState {
    /// Events folded in.
    pub events: u64,
    /// The newest event time seen.
    pub newest: Option<Timestamp>,
    pub engagement: BTreeMap<Channel, Decayed>,
    pub topic_engagement: BTreeMap<String, Decayed>,
    pub channels: BTreeMap<Channel, ChannelCounts>,
    /// Touches of the last 30 days (before `newest`), oldest first.
    pub touches: Vec<Touch>,
    /// Recent items sent, oldest first.
    pub sends: Vec<SendRecord>,
    /// Reactions to items since the oldest remembered send.
    pub reactions: Vec<Reaction>,
    /// Recent deliveries (content id, channel, time), for telling machine opens.
    pub deliveries: Vec<(String, Channel, Timestamp)>,
    pub dwell_events: u32,
    pub dwell_ms_total: i64,
    pub engaged_dwells: u32,
    /// Engagements by UTC hour of day and by weekday (Monday = 0).
    pub engaged_hours: [u32; 24],
    pub engaged_weekdays: [u32; 7],
    /// Per channel, the latest promotional opt-out (unsubscribe or withdrawal) and the latest
    /// grant: the later of the two decides, whatever order they arrived in.
    pub opt_outs: BTreeMap<Channel, OptChanges>,
    /// The fold version that made this state ([`FOLD_VERSION`]).
    pub fold_version: u32,
}

/// The latest opt-out and opt-in of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OptChanges {
    pub last_out: Option<Timestamp>,
    pub last_in: Option<Timestamp>,
}

impl OptChanges {
    /// When the HCP opted out, if that is the latest word (an opt-out wins a tie).
    pub fn opted_out(&self) -> Option<Timestamp> {
        match (self.last_out, self.last_in) {
            (Some(out), Some(grant)) if grant > out => None,
            (out, _) => out,
        }
    }
}

/// What the state needs of one event, taken on the request's thread so that whoever folds it in
/// (a store's writer) needs neither the parsed JSON nor the configuration's user-agent lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub at: Timestamp,
    pub channel: Channel,
    pub kind: EventType,
    pub content_id: Option<String>,
    pub dwell_ms: Option<i64>,
    /// The new consent state and its purpose, for a consent change.
    pub consent: Option<(ConsentState, String)>,
    /// A privacy proxy's user agent or address made this open, or the sender flagged it a
    /// machine's (`machine_open: true`).
    pub proxy: bool,
}

impl Observation {
    pub fn of(event: &Event, config: &StateConfig) -> Self {
        let proxy = event.kind == EventType::Opened && {
            let agent = match &event.details {
                Details::Opened {
                    user_agent: Some(agent),
                } => agent.to_lowercase(),
                _ => String::new(),
            };
            let by_agent = !agent.is_empty()
                && config
                    .machine_user_agents
                    .iter()
                    .any(|m| agent.contains(&m.to_lowercase()));
            let by_address = event
                .payload
                .get("ip")
                .and_then(|v| v.as_str())
                .is_some_and(|ip| {
                    config
                        .machine_ip_prefixes
                        .iter()
                        .any(|p| ip.starts_with(p.as_str()))
                });
            // The sender's own verdict (SendGrid's `sg_machine_open`, kept as `machine_open`).
            let flagged = event.payload.get("machine_open") == Some(&serde_json::Value::Bool(true));
            by_agent || by_address || flagged
        };
        Self {
            at: event.occurred_at,
            channel: event.channel,
            kind: event.kind,
            content_id: event.content_id.clone(),
            dwell_ms: dwell_of(event),
            consent: match &event.details {
                Details::ConsentChanged { state, purpose, .. } => Some((*state, purpose.clone())),
                _ => None,
            },
            proxy,
        }
    }
}

/// What an event is, for the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRole {
    /// A contact the brand initiated (sent, delivered, a call).
    Touch,
    /// A person reacted or engaged: a response, or a lesser sign (an open, a short view) that
    /// still says the channel reached them.
    Engagement,
    /// An open by a machine: recorded, never counted as engagement.
    MachineOpen,
    /// Anything else (consent, prescriptions, bounces).
    Other,
}

impl HcpState {
    /// Folds one event in. `topics` are the topics of the event's content, if any.
    pub fn apply_event(
        &mut self,
        event: &Event,
        topics: &[String],
        config: &StateConfig,
    ) -> EventRole {
        self.apply(&Observation::of(event, config), topics, config)
    }

    /// Folds one observed event in. `topics` are the topics of the event's content, if any.
    pub fn apply(
        &mut self,
        event: &Observation,
        topics: &[String],
        config: &StateConfig,
    ) -> EventRole {
        let at = event.at;
        let half_life = config.half_life_days * DAY_MS as f64;
        self.events += 1;
        self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
        let role = self.role_of(event, config);
        let channel = event.channel;
        match role {
            EventRole::Touch => {
                let counts = self.channels.entry(channel).or_default();
                let content = event.content_id.clone();
                // A "sent" and its "delivered" (or a call logged twice) are one touch, at the
                // earlier time.
                match self.touches.iter_mut().find(|t| {
                    t.channel == channel
                        && t.content_id == content
                        && (t.at.millis() - at.millis()).abs() < 3_600_000
                }) {
                    Some(t) => t.at = t.at.min(at),
                    None => {
                        counts.touches += 1;
                        self.touches.push(Touch {
                            at,
                            channel,
                            content_id: content.clone(),
                        });
                    }
                }
                self.touches.sort_by_key(|t| t.at);
                counts.last_touch = Some(counts.last_touch.map_or(at, |l| l.max(at)));
                if let Some(content_id) = content {
                    if event.kind == EventType::Delivered || event.kind == EventType::Sent {
                        self.deliveries.push((content_id.clone(), channel, at));
                    }
                    if channel.is_outbound_message() {
                        match self.sends.iter_mut().find(|s| {
                            s.channel == channel
                                && s.content_id == content_id
                                && (s.at.millis() - at.millis()).abs() < 3_600_000
                        }) {
                            Some(s) => s.at = s.at.min(at),
                            None => self.sends.push(SendRecord {
                                at,
                                channel,
                                content_id,
                                topics: topics.to_vec(),
                            }),
                        }
                        self.sends.sort_by_key(|s| s.at);
                    }
                }
            }
            EventRole::MachineOpen => {
                self.channels.entry(channel).or_default().machine_opens += 1;
            }
            EventRole::Engagement => {
                let weight = self.response_weight(event, config);
                self.engagement
                    .entry(channel)
                    .or_default()
                    .add(weight, at.millis(), half_life);
                // A topic's interest is what the HCP chose to engage with: an open (a subject
                // line seen) or a glance at a slide says the channel reached them, not that the
                // topic interests them.
                if weight >= 1.0 {
                    for topic in topics {
                        self.topic_engagement.entry(topic.clone()).or_default().add(
                            weight,
                            at.millis(),
                            half_life,
                        );
                    }
                }
                let counts = self.channels.entry(channel).or_default();
                counts.engagements += 1;
                match event.kind {
                    EventType::Opened => counts.human_opens += 1,
                    EventType::Clicked => counts.clicks += 1,
                    _ => {}
                }
                if let Some(content_id) = &event.content_id
                    && channel.is_outbound_message()
                {
                    self.reactions.push(Reaction {
                        at,
                        content_id: content_id.clone(),
                        clicked: event.kind == EventType::Clicked,
                    });
                    self.reactions.sort_by(|a, b| {
                        (a.at, &a.content_id, a.clicked).cmp(&(b.at, &b.content_id, b.clicked))
                    });
                }
                if let Some(dwell) = event.dwell_ms {
                    self.dwell_events += 1;
                    self.dwell_ms_total = self.dwell_ms_total.saturating_add(dwell);
                    if dwell >= config.engaged_dwell_ms {
                        self.engaged_dwells += 1;
                    }
                }
                // The HCP's moment is when they choose to engage, not when a rep came.
                if !channel.is_scheduled() {
                    let time = at.to_datetime();
                    use chrono::{Datelike, Timelike};
                    self.engaged_hours[time.hour() as usize] += 1;
                    self.engaged_weekdays[time.weekday().num_days_from_monday() as usize] += 1;
                }
            }
            EventRole::Other => {
                let change = match &event.consent {
                    Some((state, purpose)) if purpose == DEFAULT_PURPOSE => Some(*state),
                    Some(_) => None,
                    None if event.kind == EventType::Unsubscribed => Some(ConsentState::Withdrawn),
                    None => None,
                };
                let opt = self.opt_outs.entry(channel).or_default();
                match change {
                    Some(ConsentState::Withdrawn) => {
                        opt.last_out = Some(opt.last_out.map_or(at, |t| t.max(at)));
                    }
                    Some(ConsentState::Granted) => {
                        opt.last_in = Some(opt.last_in.map_or(at, |t| t.max(at)));
                    }
                    None => {}
                }
                if opt.last_out.is_none() && opt.last_in.is_none() {
                    self.opt_outs.remove(&channel);
                }
            }
        }
        // Counted apart from the roles: a prescription is a response without being an
        // engagement on a channel.
        if config
            .response_rule()
            .is_response(event.kind, event.dwell_ms)
        {
            let counts = self.channels.entry(channel).or_default();
            counts.responses += 1;
            counts.last_response = Some(counts.last_response.map_or(at, |l| l.max(at)));
        }
        self.forget_old();
        role
    }

    /// Classifies an event; an open is a machine's when a proxy's user agent or address made it,
    /// or when it came within seconds of the item's delivery.
    pub fn role_of(&self, event: &Observation, config: &StateConfig) -> EventRole {
        match event.kind {
            EventType::Sent | EventType::Delivered | EventType::CallLogged => EventRole::Touch,
            EventType::Opened if self.is_machine_open(event, config) => EventRole::MachineOpen,
            EventType::Opened
            | EventType::Clicked
            | EventType::SlideViewed
            | EventType::ContentViewed
            | EventType::VideoProgress
            | EventType::SurveyAnswered
            | EventType::Comment
            | EventType::MeetingAttended
            | EventType::MedicalInformationRequested => EventRole::Engagement,
            _ => EventRole::Other,
        }
    }

    fn is_machine_open(&self, event: &Observation, config: &StateConfig) -> bool {
        if event.proxy {
            return true;
        }
        let Some(content_id) = &event.content_id else {
            return false;
        };
        self.deliveries.iter().any(|(c, channel, delivered)| {
            c == content_id
                && *channel == event.channel
                && (0..config.machine_open_within_ms)
                    .contains(&(event.at.millis() - delivered.millis()))
        })
    }

    /// How much one response says: a click or a long read says more than an open.
    fn response_weight(&self, event: &Observation, config: &StateConfig) -> f64 {
        match event.kind {
            EventType::Opened => 0.5,
            EventType::Clicked
            | EventType::SurveyAnswered
            | EventType::MeetingAttended
            | EventType::MedicalInformationRequested => 1.0,
            _ => match event.dwell_ms {
                Some(d) if d >= config.engaged_dwell_ms => 1.0,
                Some(_) => 0.5,
                None => 0.5,
            },
        }
    }

    /// Keeps the most recent of each list. By count, not by age: one event dated in the future
    /// must not make the others look old.
    fn forget_old(&mut self) {
        self.fold_version = FOLD_VERSION;
        if self.touches.len() > TOUCHES_REMEMBERED {
            let extra = self.touches.len() - TOUCHES_REMEMBERED;
            self.touches.drain(..extra);
        }
        if self.deliveries.len() > DELIVERIES_REMEMBERED {
            self.deliveries.sort_by_key(|d| d.2);
            let extra = self.deliveries.len() - DELIVERIES_REMEMBERED;
            self.deliveries.drain(..extra);
        }
        if self.reactions.len() > REACTIONS_REMEMBERED {
            let extra = self.reactions.len() - REACTIONS_REMEMBERED;
            self.reactions.drain(..extra);
        }
        if self.sends.len() > SENDS_REMEMBERED {
            let extra = self.sends.len() - SENDS_REMEMBERED;
            self.sends.drain(..extra);
            let oldest = self.sends[0].at;
            self.reactions.retain(|r| r.at >= oldest);
        }
    }

    /// Touches in the `days` before `now`, on one channel or all. A touch dated after `now` (a
    /// clock ahead, a mislabelled zone) counts as recent: caps err on the side of the HCP.
    pub fn touches_within(&self, now: Timestamp, days: i64, channel: Option<Channel>) -> usize {
        let from = now.millis() - days * DAY_MS;
        self.touches
            .iter()
            .filter(|t| t.at.millis() > from)
            .filter(|t| channel.is_none_or(|c| c == t.channel))
            .count()
    }

    /// Whether a touch on `channel` happened at or after `since`.
    pub fn touched_since(&self, channel: Channel, since: Timestamp) -> bool {
        self.touches
            .iter()
            .any(|t| t.channel == channel && t.at >= since)
    }

    /// A touch on any channel less than `gap_ms` from `now`, before or after it.
    pub fn touch_near(&self, now: Timestamp, gap_ms: i64) -> Option<Timestamp> {
        self.touches
            .iter()
            .map(|t| t.at)
            .find(|t| (now.millis() - t.millis()).abs() < gap_ms)
    }

    /// Whether (and since when) the HCP opted out of promotional contact on a channel.
    pub fn opted_out(&self, channel: Channel) -> Option<Timestamp> {
        self.opt_outs.get(&channel).and_then(OptChanges::opted_out)
    }

    /// The most recent touch, on one channel or any.
    pub fn last_touch(&self, channel: Option<Channel>) -> Option<Timestamp> {
        self.channels
            .iter()
            .filter(|(c, _)| channel.is_none_or(|ch| ch == **c))
            .filter_map(|(_, counts)| counts.last_touch)
            .max()
    }

    /// Responses per touch on a channel (`None` before the first touch): responses by the one
    /// definition, so a person's open of the item they then clicked adds nothing to its click.
    pub fn response_rate(&self, channel: Channel) -> Option<f64> {
        let c = self.channels.get(&channel)?;
        (c.touches > 0).then(|| c.responses as f64 / c.touches as f64)
    }

    /// How many of the HCP's touches on a channel drew any reaction from a person, of how many.
    /// For messages: of the last sends remembered (20), those opened or clicked by a person
    /// (machine opens never count); a send of the last three days before `now` is not judged
    /// yet. For other channels: every touch, against the reactions they drew (engagements, not
    /// only responses: a glance at a slide is attention), in all (so at most one per touch on
    /// average, not touch by touch).
    pub fn attention(&self, channel: Channel, now: Timestamp) -> (u32, u32) {
        const UNJUDGED_MS: i64 = 3 * DAY_MS;
        if channel.is_outbound_message() {
            let (mut attended, mut sent) = (0, 0);
            for outcome in self.recent_sends(channel, None) {
                if outcome.send.at.millis() > now.millis() - UNJUDGED_MS {
                    continue;
                }
                sent += 1;
                attended += u32::from(outcome.opened || outcome.clicked);
            }
            return (attended, sent);
        }
        self.channels
            .get(&channel)
            .map_or((0, 0), |c| (c.engagements.min(c.touches), c.touches))
    }

    /// Mean dwell in milliseconds over the events that carried one.
    pub fn mean_dwell_ms(&self) -> Option<f64> {
        (self.dwell_events > 0).then(|| self.dwell_ms_total as f64 / self.dwell_events as f64)
    }

    /// The hour of day (UTC) at which the HCP engages most, if they ever did.
    pub fn preferred_hour(&self) -> Option<u32> {
        let (hour, count) = self
            .engaged_hours
            .iter()
            .enumerate()
            .max_by_key(|(h, c)| (**c, std::cmp::Reverse(*h)))?;
        (*count > 0).then_some(hour as u32)
    }

    /// The weekday (Monday = 0) on which the HCP engages most, if they ever did.
    pub fn preferred_weekday(&self) -> Option<u32> {
        let (day, count) = self
            .engaged_weekdays
            .iter()
            .enumerate()
            .max_by_key(|(d, c)| (**c, std::cmp::Reverse(*d)))?;
        (*count > 0).then_some(day as u32)
    }

    /// The recent items of a channel (and topic, if given), newest first, each with whether a
    /// person opened or clicked it: a reaction belongs to the latest send of its content before it.
    pub fn recent_sends<'a>(
        &'a self,
        channel: Channel,
        topic: Option<&'a str>,
    ) -> impl Iterator<Item = SendOutcome<'a>> + 'a {
        self.sends
            .iter()
            .enumerate()
            .rev()
            .filter(move |(_, s)| s.channel == channel)
            .filter(move |(_, s)| topic.is_none_or(|t| s.topics.iter().any(|x| x == t)))
            .map(move |(i, send)| {
                let next = self.sends[i + 1..]
                    .iter()
                    .find(|later| later.content_id == send.content_id)
                    .map(|later| later.at);
                let mine = self.reactions.iter().filter(|r| {
                    r.content_id == send.content_id
                        && r.at >= send.at
                        && next.is_none_or(|n| r.at < n)
                });
                let (mut opened, mut clicked) = (false, false);
                for r in mine {
                    opened = true;
                    clicked |= r.clicked;
                }
                SendOutcome {
                    send,
                    opened,
                    clicked,
                }
            })
    }
}

/// One channel of [`StateSummary`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelSummary {
    /// Recency-weighted engagement as of the summary's time.
    pub engagement: f64,
    pub touches: u32,
    pub touches_7d: usize,
    pub touches_30d: usize,
    pub responses: u32,
    pub response_rate: Option<f64>,
    pub human_opens: u32,
    pub machine_opens: u32,
    pub clicks: u32,
    pub last_touch: Option<Timestamp>,
    pub last_response: Option<Timestamp>,
}

/// An HCP's state as a person reads it, as of one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateSummary {
    pub as_of: Timestamp,
    pub events: u64,
    pub channels: BTreeMap<Channel, ChannelSummary>,
    /// Recency-weighted engagement per topic.
    pub topics: BTreeMap<String, f64>,
    pub touches_7d: usize,
    pub touches_30d: usize,
    pub mean_dwell_ms: Option<f64>,
    pub engaged_reads: u32,
    pub preferred_hour_utc: Option<u32>,
    /// Monday = 0.
    pub preferred_weekday: Option<u32>,
    /// Channels opted out of, with when.
    pub opted_out: BTreeMap<Channel, Timestamp>,
}

impl HcpState {
    /// The state as of `now`, with decayed engagement and rolling windows evaluated then.
    pub fn summary(&self, now: Timestamp, config: &StateConfig) -> StateSummary {
        let half_life = config.half_life_days * DAY_MS as f64;
        let channels = self
            .channels
            .iter()
            .map(|(&channel, c)| {
                let summary = ChannelSummary {
                    engagement: self
                        .engagement
                        .get(&channel)
                        .map_or(0.0, |e| e.at(now, half_life)),
                    touches: c.touches,
                    touches_7d: self.touches_within(now, 7, Some(channel)),
                    touches_30d: self.touches_within(now, 30, Some(channel)),
                    responses: c.responses,
                    response_rate: self.response_rate(channel),
                    human_opens: c.human_opens,
                    machine_opens: c.machine_opens,
                    clicks: c.clicks,
                    last_touch: c.last_touch,
                    last_response: c.last_response,
                };
                (channel, summary)
            })
            .collect();
        StateSummary {
            as_of: now,
            events: self.events,
            channels,
            topics: self
                .topic_engagement
                .iter()
                .map(|(t, e)| (t.clone(), e.at(now, half_life)))
                .collect(),
            touches_7d: self.touches_within(now, 7, None),
            touches_30d: self.touches_within(now, 30, None),
            mean_dwell_ms: self.mean_dwell_ms(),
            engaged_reads: self.engaged_dwells,
            preferred_hour_utc: self.preferred_hour(),
            preferred_weekday: self.preferred_weekday(),
            opted_out: self
                .opt_outs
                .iter()
                .filter_map(|(c, o)| Some((*c, o.opted_out()?)))
                .collect(),
        }
    }
}

fn dwell_of(event: &Event) -> Option<i64> {
    crate::response::dwell_ms(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: i64 = 1_780_000_000_000;

    fn event(id: &str, minutes: i64, channel: &str, kind: &str, extra: serde_json::Value) -> Event {
        event_ms(id, minutes * 60_000, channel, kind, extra)
    }

    fn event_ms(id: &str, ms: i64, channel: &str, kind: &str, extra: serde_json::Value) -> Event {
        let mut v = json!({"event_id": id, "occurred_at": Timestamp::from_millis(T0 + ms).to_string(),
            "hcp": "h", "source": "crm", "channel": channel, "type": kind, "content_id": "CZ-EM-1"});
        if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in more {
                obj.insert(k.clone(), val.clone());
            }
        }
        Event::from_json(v).unwrap()
    }

    fn topics() -> Vec<String> {
        vec!["cardiology".into()]
    }

    /// One email, opened and then clicked by a person: one response to one touch, not two.
    #[test]
    fn a_persons_open_and_click_of_one_email_are_one_response_per_touch() {
        let config = StateConfig::default();
        let mut s = HcpState::default();
        for e in [
            event("d", 0, "email", "delivered", json!({})),
            event("o", 30, "email", "opened", json!({"user_agent": "Outlook"})),
            event("c", 31, "email", "clicked", json!({})),
        ] {
            s.apply_event(&e, &topics(), &config);
        }
        let summary = s.summary(Timestamp::from_millis(T0 + 3_600_000), &config);
        let email = &summary.channels[&Channel::Email];
        assert_eq!((email.touches, email.human_opens, email.clicks), (1, 1, 1));
        assert_eq!(email.responses, 1);
        assert_eq!(email.response_rate, Some(1.0));
    }

    /// The state counts as responses exactly what rewards credit as one, event by event.
    #[test]
    fn the_state_and_rewards_agree_on_what_is_a_response() {
        let rewards = crate::engine::reward::RewardConfig::default();
        let config = rewards.state_config();
        let table = [
            ("sent", "email", json!({}), false),
            ("delivered", "email", json!({}), false),
            ("opened", "email", json!({"user_agent": "Outlook"}), false),
            ("clicked", "email", json!({}), true),
            (
                "slide_viewed",
                "face_to_face",
                json!({"dwell_ms": 3_000}),
                false,
            ),
            (
                "slide_viewed",
                "face_to_face",
                json!({"dwell_ms": 12_000}),
                true,
            ),
            ("content_viewed", "web", json!({}), false),
            ("content_viewed", "web", json!({"dwell_ms": 10_000}), true),
            ("video_progress", "web", json!({"percent": 80}), false),
            (
                "survey_answered",
                "survey",
                json!({"question": "q", "answer": "yes"}),
                true,
            ),
            ("meeting_attended", "webinar", json!({}), true),
            (
                "medical_information_requested",
                "medical_information",
                json!({"text": "a dosing question"}),
                true,
            ),
            ("prescription", "crm", json!({"units": 2}), true),
            ("bounced", "email", json!({}), false),
        ];
        for (i, (kind, channel, extra, expected)) in table.into_iter().enumerate() {
            let e = event(&format!("e{i}"), i as i64, channel, kind, extra);
            let rewarded = rewards.outcome_of(&e) == Some(crate::engine::reward::Outcome::Response);
            let mut s = HcpState::default();
            s.apply_event(&e, &topics(), &config);
            let counted = s.channels.values().map(|c| c.responses).sum::<u32>() == 1;
            assert_eq!((rewarded, counted), (expected, expected), "{kind} {e:?}");
        }
    }

    /// The HCP's moment is when they choose to engage: slides viewed during a rep's visit say
    /// when the rep came; a page read or an email opened says when the HCP reads. Topic interest
    /// is what they engaged with, not what they opened.
    #[test]
    fn the_moment_and_topic_interest_come_from_what_the_hcp_chooses() {
        let config = StateConfig::default();
        let mut s = HcpState::default();
        // T0 is a Thursday, 20:26 UTC. Three visits with slides viewed, on Thursdays...
        for week in 0..3 {
            let at = week * 7 * 24 * 60;
            s.apply_event(
                &event(
                    &format!("c{week}"),
                    at,
                    "face_to_face",
                    "call_logged",
                    json!({"rep_id": "r"}),
                ),
                &topics(),
                &config,
            );
            s.apply_event(
                &event(
                    &format!("s{week}"),
                    at + 5,
                    "face_to_face",
                    "slide_viewed",
                    json!({"dwell_ms": 40_000}),
                ),
                &topics(),
                &config,
            );
        }
        assert_eq!(s.preferred_weekday(), None);
        // ... and one page read on a Saturday morning.
        s.apply_event(
            &event(
                "w",
                (24 + 12) * 60,
                "web",
                "content_viewed",
                json!({"dwell_ms": 40_000}),
            ),
            &topics(),
            &config,
        );
        assert_eq!(s.preferred_weekday(), Some(5));
        assert_eq!(s.preferred_hour(), Some(8));
        // Engaged slides count as interest in their topic; an open alone does not.
        let engaged = s.topic_engagement["cardiology"].at(Timestamp::from_millis(T0), 1e12);
        assert!((3.0..=4.0).contains(&engaged), "{engaged}");
        let mut opened = HcpState::default();
        opened.apply_event(
            &event("o", 60, "email", "opened", json!({})),
            &topics(),
            &config,
        );
        assert!(opened.topic_engagement.is_empty());
        assert_eq!(opened.channels[&Channel::Email].human_opens, 1);
    }

    #[test]
    fn an_open_seconds_after_delivery_or_from_a_proxy_is_a_machine_open() {
        let config = StateConfig::default();
        let mut s = HcpState::default();
        s.apply_event(
            &event("d", 0, "email", "delivered", json!({})),
            &topics(),
            &config,
        );
        let fast = event_ms("o1", 2_000, "email", "opened", json!({}));
        assert_eq!(
            s.apply_event(&fast, &topics(), &config),
            EventRole::MachineOpen
        );
        let proxy = event(
            "o2",
            90,
            "email",
            "opened",
            json!({"user_agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}),
        );
        assert_eq!(
            s.apply_event(&proxy, &topics(), &config),
            EventRole::MachineOpen
        );
        let relay = event("o3", 95, "email", "opened", json!({"ip": "17.58.1.9"}));
        assert_eq!(
            s.apply_event(&relay, &topics(), &config),
            EventRole::MachineOpen
        );
        let flagged = event("o5", 100, "email", "opened", json!({"machine_open": true}));
        assert_eq!(
            s.apply_event(&flagged, &topics(), &config),
            EventRole::MachineOpen
        );
        let person = event(
            "o4",
            120,
            "email",
            "opened",
            json!({"user_agent": "Outlook"}),
        );
        assert_eq!(
            s.apply_event(&person, &topics(), &config),
            EventRole::Engagement
        );
        let email = s.channels[&Channel::Email];
        assert_eq!((email.machine_opens, email.human_opens), (4, 1));
        // A person's open is engagement, never a response.
        assert_eq!((email.engagements, email.responses), (1, 0));
        // Only the human open counts as engagement, and it marks the send as opened.
        assert!(s.engagement[&Channel::Email].value > 0.0);
        let sends: Vec<_> = s.recent_sends(Channel::Email, Some("cardiology")).collect();
        assert_eq!(sends.len(), 1);
        assert!(sends[0].opened && !sends[0].clicked);
    }

    #[test]
    fn the_fold_does_not_depend_on_arrival_order() {
        let config = StateConfig::default();
        let events = vec![
            event("a", 0, "email", "sent", json!({})),
            event("b", 60, "email", "opened", json!({})),
            event("c", 120, "email", "clicked", json!({})),
            event(
                "d",
                3 * 1440,
                "face_to_face",
                "call_logged",
                json!({"rep_id": "rep-1"}),
            ),
            event(
                "e",
                3 * 1440 + 5,
                "face_to_face",
                "slide_viewed",
                json!({"dwell_ms": 42_000}),
            ),
            event(
                "f",
                10 * 1440,
                "web",
                "content_viewed",
                json!({"dwell_ms": 3_000}),
            ),
            event("g", 12 * 1440, "email", "unsubscribed", json!({})),
        ];
        let mut forward = HcpState::default();
        for e in &events {
            forward.apply_event(e, &topics(), &config);
        }
        let mut backward = HcpState::default();
        for e in events.iter().rev() {
            backward.apply_event(e, &topics(), &config);
        }
        let now = Timestamp::from_millis(T0 + 13 * DAY_MS);
        let half_life = config.half_life_days * DAY_MS as f64;
        for channel in [Channel::Email, Channel::FaceToFace, Channel::Web] {
            let (f, b) = (
                forward.engagement[&channel].at(now, half_life),
                backward.engagement[&channel].at(now, half_life),
            );
            assert!((f - b).abs() < 1e-9, "{channel:?}: {f} vs {b}");
            assert_eq!(forward.channels[&channel], backward.channels[&channel]);
        }
        assert_eq!(forward.touches, backward.touches);
        let outcomes = |s: &HcpState| {
            s.recent_sends(Channel::Email, None)
                .map(|o| (o.send.at, o.opened, o.clicked))
                .collect::<Vec<_>>()
        };
        assert_eq!(outcomes(&forward), outcomes(&backward));
        // The email was opened and clicked, whichever order the events came in.
        assert!(outcomes(&forward)[0].1 && outcomes(&forward)[0].2);
        assert_eq!(forward.engaged_hours, backward.engaged_hours);
        assert_eq!(forward.opt_outs, backward.opt_outs);
        assert_eq!(forward.touches_within(now, 30, None), 2);
        assert_eq!(forward.touches_within(now, 7, None), 0);
        assert_eq!(forward.mean_dwell_ms(), Some(22_500.0));
        assert_eq!(forward.engaged_dwells, 1);
        assert!(forward.opted_out(Channel::Email).is_some());
    }

    #[test]
    fn an_event_dated_in_the_future_does_not_erase_recent_touches() {
        let config = StateConfig::default();
        let mut s = HcpState::default();
        s.apply_event(&event("now", 0, "email", "sent", json!({})), &[], &config);
        // A typo'd year.
        let far = event_ms("far", 40 * 365 * DAY_MS, "web", "content_viewed", json!({}));
        s.apply_event(&far, &[], &config);
        let later = Timestamp::from_millis(T0 + DAY_MS);
        assert_eq!(s.touches_within(later, 7, Some(Channel::Email)), 1);
        assert!(s.touch_near(later, 2 * DAY_MS).is_some());
    }

    #[test]
    fn the_later_of_an_opt_out_and_a_grant_decides_in_any_order() {
        let config = StateConfig::default();
        let unsubscribe = event("u", 3 * 1440, "email", "unsubscribed", json!({}));
        let old_out = event(
            "w",
            1440,
            "email",
            "consent_changed",
            json!({"state": "withdrawn"}),
        );
        let old_grant = event(
            "g",
            2 * 1440,
            "email",
            "consent_changed",
            json!({"state": "granted"}),
        );
        let other = event(
            "m",
            4 * 1440,
            "email",
            "consent_changed",
            json!({"state": "granted", "purpose": "medical_information"}),
        );
        for order in [
            [&unsubscribe, &old_out, &old_grant, &other],
            [&other, &old_grant, &old_out, &unsubscribe],
        ] {
            let mut s = HcpState::default();
            for e in order {
                s.apply_event(e, &[], &config);
            }
            // The unsubscribe is the latest promotional word; a grant for another purpose
            // does not undo it.
            assert_eq!(s.opted_out(Channel::Email), Some(unsubscribe.occurred_at));
        }
    }

    #[test]
    fn engagement_halves_every_half_life() {
        let config = StateConfig::default();
        let mut s = HcpState::default();
        s.apply_event(&event("c", 0, "email", "clicked", json!({})), &[], &config);
        let half_life = config.half_life_days * DAY_MS as f64;
        let later = Timestamp::from_millis(T0 + 30 * DAY_MS);
        let e = s.engagement[&Channel::Email].at(later, half_life);
        assert!((e - 0.5).abs() < 1e-9, "{e}");
    }
}
