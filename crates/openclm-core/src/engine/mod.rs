//! The next-best-action engine: for one HCP at one moment, every content × channel candidate is
//! checked against the hard constraints ([`rules`]); the allowed ones are scored by what the
//! engine has learned ([`model`]), ranked, one is picked by Thompson sampling with its
//! propensity, and each is explained from the HCP's own history.

pub mod model;
pub mod rules;

use rand::Rng;
use serde::Serialize;

use crate::content::{Content, ContentKind};
use crate::state::HcpState;
use crate::{Channel, Timestamp};
use model::{ArmContext, Estimate, Model};
use rules::{HcpFacts, Rules};

const DAY_MS: i64 = 86_400_000;

/// The channels a kind of content can go out on.
pub fn channels_for(kind: ContentKind) -> &'static [Channel] {
    match kind {
        ContentKind::SlideDeck | ContentKind::KeyMessage => {
            &[Channel::FaceToFace, Channel::RemoteDetail]
        }
        ContentKind::EmailTemplate => &[Channel::Email],
        ContentKind::Video => &[Channel::Email, Channel::Web, Channel::MobileApp],
        ContentKind::Banner => &[Channel::Banner],
        ContentKind::Questionnaire => &[Channel::Survey, Channel::Email],
        ContentKind::Webinar => &[Channel::Webinar, Channel::Email],
        ContentKind::WebPage => &[Channel::Web, Channel::Email],
    }
}

/// The topic an item is learned under: its first topic, else its product.
pub fn topic_of(content: &Content) -> &str {
    content
        .topics
        .first()
        .map_or(content.product.as_str(), String::as_str)
}

/// How the engine decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Engine {
    pub rules: Rules,
    /// Draws used to estimate each action's propensity.
    pub draws: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Self {
            rules: Rules::default(),
            draws: 200,
        }
    }
}

/// One decision asked of the engine.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub facts: HcpFacts<'a>,
    /// The content library to choose from.
    pub content: &'a [Content],
    /// Only these channels, if given.
    pub channels: Option<&'a [Channel]>,
    /// How many ranked actions to return.
    pub n: usize,
    pub now: Timestamp,
}

/// An allowed action, ranked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub content_id: String,
    pub channel: Channel,
    pub topic: String,
    /// The expected chance of a response (the posterior mean).
    pub score: f64,
    /// The probability that the engine picks this action (estimated from `draws` Thompson draws).
    pub propensity: f64,
    pub explanation: String,
}

/// A candidate a hard constraint removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocked {
    pub content_id: String,
    pub channel: Channel,
    pub code: &'static str,
    pub reason: String,
}

/// The engine's answer for one HCP.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The best `n` allowed actions by expected response, best first.
    pub actions: Vec<Action>,
    /// The action Thompson sampling picked (an index into `actions`), if any is allowed. It may
    /// lie outside the top `n`, in which case it is appended to `actions`.
    pub chosen: Option<usize>,
    pub blocked: Vec<Blocked>,
    /// How the propensities were obtained.
    pub propensity_method: String,
    pub model_version: u64,
    /// Why nothing is allowed, when nothing is.
    pub nothing_allowed: Option<String>,
}

struct Scored<'a> {
    content: &'a Content,
    channel: Channel,
    estimate: Estimate,
}

impl Engine {
    /// Decides for one HCP. Deterministic given the random source.
    pub fn decide(&self, request: &Request<'_>, model: &Model, rng: &mut impl Rng) -> Decision {
        let facts = &request.facts;
        let mut blocked = Vec::new();
        let mut allowed: Vec<Scored> = Vec::new();
        for content in request.content {
            for &channel in channels_for(content.kind) {
                if request
                    .channels
                    .is_some_and(|only| !only.contains(&channel))
                {
                    continue;
                }
                match self.rules.check(facts, content, channel, request.now) {
                    Ok(()) => allowed.push(Scored {
                        content,
                        channel,
                        estimate: model.estimate(&arm(facts, content, channel)),
                    }),
                    Err(v) => blocked.push(Blocked {
                        content_id: content.id.clone(),
                        channel,
                        code: v.code,
                        reason: v.reason,
                    }),
                }
            }
        }
        let nothing_allowed = allowed.is_empty().then(|| summarize(&blocked));
        let propensities = self.propensities(&allowed, rng);
        let chosen_index = pick(&propensities, rng);
        let mut order: Vec<usize> = (0..allowed.len()).collect();
        order.sort_by(|&a, &b| {
            allowed[b]
                .estimate
                .mean()
                .total_cmp(&allowed[a].estimate.mean())
                .then_with(|| allowed[a].content.id.cmp(&allowed[b].content.id))
                .then_with(|| allowed[a].channel.cmp(&allowed[b].channel))
        });
        let mut shown: Vec<usize> = order.iter().copied().take(request.n).collect();
        if let Some(c) = chosen_index
            && !shown.contains(&c)
        {
            shown.push(c);
        }
        let actions: Vec<Action> = shown
            .iter()
            .map(|&i| {
                let s = &allowed[i];
                Action {
                    content_id: s.content.id.clone(),
                    channel: s.channel,
                    topic: topic_of(s.content).to_owned(),
                    score: s.estimate.mean(),
                    propensity: propensities[i],
                    explanation: explain(facts, s, request.now),
                }
            })
            .collect();
        let chosen = chosen_index.and_then(|c| shown.iter().position(|&i| i == c));
        Decision {
            actions,
            chosen,
            blocked,
            propensity_method: format!(
                "estimated: share of {} Thompson-sampling draws won",
                self.draws
            ),
            model_version: model.version,
            nothing_allowed,
        }
    }

    /// The chance each allowed action wins a Thompson draw, estimated from `draws` draws. Only
    /// actions that can plausibly win are drawn for (mean + 4 sd reaches the best mean − 4 sd);
    /// the others' chance is below what the draws could measure and is given as 0.
    fn propensities(&self, allowed: &[Scored], rng: &mut impl Rng) -> Vec<f64> {
        let mut result = vec![0.0; allowed.len()];
        if allowed.is_empty() {
            return result;
        }
        let spread = |e: &Estimate| {
            let (a, b) = (e.alpha, e.beta);
            (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt()
        };
        let floor = allowed
            .iter()
            .map(|s| s.estimate.mean() - 4.0 * spread(&s.estimate))
            .fold(f64::NEG_INFINITY, f64::max);
        let contenders: Vec<usize> = (0..allowed.len())
            .filter(|&i| {
                let e = &allowed[i].estimate;
                e.mean() + 4.0 * spread(e) >= floor
            })
            .collect();
        let draws = self.draws.max(1);
        let mut wins = vec![0usize; allowed.len()];
        for _ in 0..draws {
            let mut best = (f64::NEG_INFINITY, contenders[0]);
            for &i in &contenders {
                let draw = allowed[i].estimate.sample(rng);
                if draw > best.0 {
                    best = (draw, i);
                }
            }
            wins[best.1] += 1;
        }
        for (i, w) in wins.into_iter().enumerate() {
            result[i] = w as f64 / draws as f64;
        }
        result
    }
}

fn arm<'a>(facts: &HcpFacts<'a>, content: &'a Content, channel: Channel) -> ArmContext<'a> {
    ArmContext {
        channel,
        topic: topic_of(content),
        specialty: &facts.hcp.specialty,
        country: &facts.hcp.country,
        hcp: facts.hcp.id.as_str(),
    }
}

/// Picks an index with the given probabilities (which sum to 1, or are all 0).
fn pick(propensities: &[f64], rng: &mut impl Rng) -> Option<usize> {
    if propensities.is_empty() {
        return None;
    }
    let mut target: f64 = rng.random();
    for (i, p) in propensities.iter().enumerate() {
        if target < *p {
            return Some(i);
        }
        target -= p;
    }
    propensities
        .iter()
        .enumerate()
        .rev()
        .find(|(_, p)| **p > 0.0)
        .map(|(i, _)| i)
}

/// Why nothing is allowed: the reasons that blocked the most candidates.
fn summarize(blocked: &[Blocked]) -> String {
    if blocked.is_empty() {
        return "no content in the library fits the requested channels".to_owned();
    }
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for b in blocked {
        match reasons.iter_mut().find(|(r, _)| *r == b.reason) {
            Some((_, n)) => *n += 1,
            None => reasons.push((&b.reason, 1)),
        }
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = reasons
        .iter()
        .take(3)
        .map(|(r, n)| format!("{r} ({n} candidate{})", if *n == 1 { "" } else { "s" }))
        .collect();
    format!("every candidate is blocked: {}", top.join("; "))
}

fn noun(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "emails",
        Channel::Sms => "text messages",
        Channel::DirectMail => "mailings",
        Channel::MobileApp => "app messages",
        Channel::Webinar => "webinar invitations",
        Channel::Survey => "surveys",
        Channel::Banner => "banners",
        Channel::Web => "web pages",
        _ => "contacts",
    }
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The top factors behind an action, in words that cite the HCP's own history.
fn explain(facts: &HcpFacts<'_>, scored: &Scored<'_>, now: Timestamp) -> String {
    let state: &HcpState = facts.state;
    let channel = scored.channel;
    let topic = topic_of(scored.content);
    let mut parts: Vec<String> = Vec::new();
    if channel.is_outbound_message() {
        let recent: Vec<_> = state.recent_sends(channel, Some(topic)).take(5).collect();
        if recent.is_empty() {
            parts.push(format!("no {topic} {} sent yet", noun(channel)));
        } else {
            let opened = recent.iter().filter(|s| s.opened).count();
            parts.push(format!(
                "opened {opened} of the last {} {topic} {}",
                recent.len(),
                noun(channel)
            ));
        }
    }
    let visits = [Channel::FaceToFace, Channel::RemoteDetail]
        .iter()
        .filter_map(|c| state.last_touch(Some(*c)))
        .max();
    match visits {
        Some(last) if last <= now => {
            let days = (now.millis() - last.millis()) / DAY_MS;
            parts.push(
                if matches!(channel, Channel::FaceToFace | Channel::RemoteDetail) {
                    format!("no visit for {days} days")
                } else {
                    format!("last visit {days} days ago")
                },
            );
        }
        _ if matches!(channel, Channel::FaceToFace | Channel::RemoteDetail) => {
            parts.push("no visit on record".to_owned());
        }
        _ => {}
    }
    if let Some(dwell) = state.mean_dwell_ms()
        && matches!(channel, Channel::FaceToFace | Channel::RemoteDetail)
    {
        parts.push(format!(
            "spends {:.0} s per slide on average",
            dwell / 1000.0
        ));
    }
    let (segment_rate, segment_counts) = scored.estimate.segment;
    if segment_counts.trials >= 20.0 {
        parts.push(format!(
            "{} HCPs in {} respond to {:.0}% of {topic} {}",
            facts.hcp.specialty,
            facts.hcp.country,
            segment_rate * 100.0,
            noun(channel)
        ));
    }
    if let (Some(day), Some(hour)) = (state.preferred_weekday(), state.preferred_hour()) {
        parts.push(format!(
            "engages most on {}s around {hour:02}:00 UTC",
            WEEKDAYS[day as usize]
        ));
    }
    parts.truncate(3);
    parts.join("; ")
}

#[cfg(test)]
mod tests;
