//! The next-best-action engine: for one HCP at one moment, every content × channel candidate is
//! checked against the hard constraints ([`rules`]); the allowed ones are scored by what the
//! engine has learned ([`model`]), ranked, one is picked with Thompson sampling's choice
//! probabilities (logged as its propensity), and each is explained from the HCP's own history.

pub mod model;
pub mod reward;
pub mod rules;

use rand::Rng;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::sync::Arc;

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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Engine {
    pub rules: Rules,
    /// What a response is worth and what a touch costs, if known: the engine then ranks by
    /// expected net value, and holding back (worth 0) becomes one of the options it samples: it
    /// holds with the probability that no action's net value is drawn above 0.
    pub economics: Option<Economics>,
}

/// The value of a response and the cost of a touch per channel, in one currency.
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Economics {
    pub response_value: f64,
    /// Cost of one touch per channel; a channel not listed costs nothing.
    pub cost: std::collections::BTreeMap<Channel, f64>,
}

impl Economics {
    pub fn cost_of(&self, channel: Channel) -> f64 {
        self.cost.get(&channel).copied().unwrap_or(0.0)
    }

    /// The expected net value of a touch with the given chance of a response.
    pub fn net_value(&self, channel: Channel, chance: f64) -> f64 {
        chance * self.response_value - self.cost_of(channel)
    }

    /// Checks every figure, naming the one at fault.
    pub fn validate(&self) -> Result<(), crate::FieldError> {
        if !(self.response_value.is_finite() && self.response_value > 0.0) {
            return Err(crate::FieldError::new(
                "economics.response_value",
                "must be a number above 0",
            ));
        }
        for (channel, cost) in &self.cost {
            if !(cost.is_finite() && *cost >= 0.0) {
                return Err(crate::FieldError::new(
                    format!("economics.cost.{}", channel.as_str()),
                    "must be a number of 0 or more",
                ));
            }
        }
        Ok(())
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
    /// The expected net value (chance × value of a response − cost of the touch), when the
    /// engine knows the economics; actions are then ranked by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,

    /// The probability with which the engine picks this action (see [`PROPENSITY_METHOD`]).
    pub propensity: f64,
    pub explanation: String,
}

/// A candidate a hard constraint removed. Candidates blocked for the same reason share its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocked<'a> {
    pub content_id: &'a str,
    pub channel: Channel,
    pub code: &'static str,
    pub reason: Arc<str>,
}

/// How many candidates a hard constraint removed for one reason (a stable code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockedCount {
    pub code: &'static str,
    pub candidates: usize,
}

/// At most this many blocked candidates are listed one by one in a decision (the contact rules'
/// first: consent, opt-outs, caps and the gap, which a rep acts on; then the content rules', each
/// in library order); every blocked candidate is counted per code in
/// [`Decision::blocked_summary`]. A library of thousands of items for other countries would
/// otherwise make every answer, and every logged decision, list each of them.
pub const MAX_BLOCKED_LISTED: usize = 50;

/// At most this many allowed candidates are logged one by one with a decision (see
/// [`Decision::allowed`]); the rest are summed per channel ([`Unlisted`]).
pub const MAX_LOGGED_CANDIDATES: usize = 100;

/// Distinct reasons counted for [`Decision::nothing_allowed`]; reasons beyond (a library whose
/// items each carry their own validity date) still count under their code.
const MAX_REASONS_COUNTED: usize = 32;

/// The allowed candidates on one channel that a decision's log does not list one by one, summed:
/// with them an off-policy evaluation still knows the whole candidate set's size, expected
/// response and probability mass, per channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Unlisted {
    pub channel: Channel,
    pub candidates: usize,
    /// Σ score (expected chance of a response) over these candidates.
    pub score_sum: f64,
    /// Σ propensity: the chance the engine picked one of them.
    pub propensity_sum: f64,
    /// Σ score × propensity: their part of the logged policy's expected response.
    pub score_propensity_sum: f64,
}

/// An allowed candidate with its score and the probability the engine picked it with: what an
/// off-policy evaluation needs to know of every decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Considered<'a> {
    pub content_id: &'a str,
    pub channel: Channel,
    /// The expected chance of a response.
    pub score: f64,
    /// The expected net value, when the engine knows the economics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub propensity: f64,
}

/// The engine's answer for one HCP; it borrows the content library it was given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision<'a> {
    /// The best `n` allowed actions by expected response (by expected net value with
    /// economics), best first.
    pub actions: Vec<Action>,
    /// The action the engine picked (an index into `actions`), if any is allowed. It may lie
    /// outside the top `n`, in which case it is appended to `actions`.
    pub chosen: Option<usize>,
    /// Blocked candidates with their reasons, at most [`MAX_BLOCKED_LISTED`] of them: the
    /// contact rules' first, then the content rules', each in library order.
    pub blocked: Vec<Blocked<'a>>,
    /// Every blocked candidate counted per code, the commonest first.
    pub blocked_summary: Vec<BlockedCount>,
    /// The allowed candidates, in library order (the ranked `actions` are the best of these):
    /// all of them when there are at most [`MAX_LOGGED_CANDIDATES`]; otherwise the chosen one,
    /// the first with the highest score (what a greedy policy takes), and the others with the
    /// highest propensities up to that many, the rest summed in `unlisted`.
    pub allowed: Vec<Considered<'a>>,
    /// The allowed candidates not in `allowed`, summed per channel (empty when all are listed).
    pub unlisted: Vec<Unlisted>,
    /// How the propensities were obtained.
    pub propensity_method: &'static str,
    pub model_version: u64,
    /// Why nothing is allowed, when nothing is.
    pub nothing_allowed: Option<String>,
    /// The probability with which the engine held back (no action worth its cost), and why,
    /// when it did.
    pub hold_propensity: f64,
    pub held: Option<String>,
}

/// The engagement every topic is credited with before the HCP's own: the smaller, the more one
/// engaged read moves the HCP's prior towards its topic. At 0.5, one read on a topic (and none on
/// the five others) makes it about 2.3 times as likely as the others; in the simulator's three
/// worlds 0.5 reached 4–5 points more of the oracle's engagement by week 16 than 1.0, and values
/// below 0.5 no more.
const TOPIC_PRIOR_ENGAGEMENT: f64 = 0.5;

/// What the HCP's own engagement says about their interest in each topic, from every source
/// (pages read, slides dwelt on, emails clicked — not opens or glances, which say the channel
/// reached them), recency-weighted: an arm's HCP-level prior — the peer group's rate, before the
/// HCP's own outcomes on the arm move it — is scaled by `(e_topic + c) / (ē + c)`, `ē` being
/// the HCP's mean engagement over the decision's topics and `c` [`TOPIC_PRIOR_ENGAGEMENT`], and
/// by the HCP's attention to the channel ([`channel_attention`]). With no engagement and no
/// touches the prior is the peer group's rate unchanged.
struct TopicInterest {
    /// Engagement per topic of the decision, in the order of its topic indexes.
    scores: Vec<f64>,
    mean: f64,
}

impl TopicInterest {
    fn of(state: &HcpState, topics: &[&str], now: Timestamp) -> Self {
        if state.topic_engagement.is_empty() {
            return Self {
                scores: Vec::new(),
                mean: 0.0,
            };
        }
        let half_life = crate::state::StateConfig::default().half_life_days * DAY_MS as f64;
        let scores: Vec<f64> = topics
            .iter()
            .map(|t| {
                state
                    .topic_engagement
                    .get(*t)
                    .map_or(0.0, |e| e.at(now, half_life))
            })
            .collect();
        let mean = if scores.is_empty() {
            0.0
        } else {
            scores.iter().sum::<f64>() / scores.len() as f64
        };
        Self { scores, mean }
    }

    fn inform(
        &self,
        mut estimate: Estimate,
        topic_index: usize,
        attention: f64,
        strength: f64,
    ) -> Estimate {
        let score = self.scores.get(topic_index).copied().unwrap_or(0.0);
        if score == 0.0 && self.mean == 0.0 && attention == 1.0 {
            return estimate;
        }
        let lift = (score + TOPIC_PRIOR_ENGAGEMENT) / (self.mean + TOPIC_PRIOR_ENGAGEMENT);
        let prior = (estimate.peer_group.0 * lift * attention).clamp(1e-4, 0.95);
        let own = estimate.hcp_counts;
        estimate.alpha = prior * strength + own.successes;
        estimate.beta = (1.0 - prior) * strength + (own.trials - own.successes);
        estimate
    }
}

/// How much more (or less) than an unknown HCP this one attends to a channel: of their touches
/// on it, how many drew any reaction from a person ([`HcpState::attention`]), under a
/// uniform prior — `(attended + 1) / (touches + 2)` — divided by that prior's mean, 1/2. An
/// untried channel is 1; three emails never opened, 0.4; three visits all attended to, 1.6. An
/// HCP who never opens email stops being offered email long before each email topic has failed
/// on its own.
fn channel_attention(state: &HcpState, channel: Channel, now: Timestamp) -> f64 {
    let (attended, touches) = state.attention(channel, now);
    (f64::from(attended) + 1.0) / (f64::from(touches) + 2.0) * 2.0
}

/// How propensities are obtained: the pick is drawn from them, so they are exact.
pub const PROPENSITY_METHOD: &str = "exact: the pick is drawn with these probabilities, each arm's \
     chance of having the highest response rate (or net value, beside holding back, when the \
     economics are known) under a normal approximation of its posterior (Thompson sampling's \
     choice distribution), shared equally by the arm's content";

/// An allowed candidate.
struct Allowed<'a> {
    content: &'a Content,
    channel: Channel,
    /// Index into the decision's arms.
    arm: usize,
}

/// A channel × topic: its estimate, shared by the candidates on it.
struct Arm<'a> {
    channel: Channel,
    topic: &'a str,
    /// Index of the topic among the decision's distinct topics.
    topic_index: usize,
    estimate: Estimate,
    members: usize,
}

/// An allowed candidate being shown.
struct Scored<'a> {
    content: &'a Content,
    channel: Channel,
    estimate: Estimate,
}

impl Engine {
    /// Decides for one HCP. Deterministic given the random source.
    pub fn decide<'a>(
        &self,
        request: &Request<'a>,
        model: &Model,
        rng: &mut impl Rng,
    ) -> Decision<'a> {
        let facts = &request.facts;
        let now = request.now;
        let mut blocked = BlockedTally::default();
        let mut allowed: Vec<Allowed> = Vec::new();
        let mut arms: Vec<Arm> = Vec::new();
        let mut arm_of: FxHashMap<(Channel, &str), usize> = FxHashMap::default();
        // The decision's distinct topics, each once.
        let mut topics: Vec<&str> = Vec::new();
        let mut topic_ids: FxHashMap<&str, usize> = FxHashMap::default();
        // Contact rules depend on the channel alone: checked once per channel.
        type Verdict = Result<(), (&'static str, Arc<str>)>;
        let shared = |v: rules::Violation| (v.code, Arc::<str>::from(v.reason));
        let mut contact: Vec<(Channel, Verdict)> = Vec::new();
        for content in request.content {
            let fits: Verdict = self
                .rules
                .check_content(facts, content, now)
                .map_err(shared);
            for &channel in channels_for(content.kind) {
                if request
                    .channels
                    .is_some_and(|only| !only.contains(&channel))
                {
                    continue;
                }
                let verdict = match &fits {
                    Err(v) => Err(v.clone()),
                    Ok(()) => match contact.iter().find(|(c, _)| *c == channel) {
                        Some((_, v)) => v.clone(),
                        None => {
                            let v = self
                                .rules
                                .check_contact(facts, channel, now)
                                .map_err(shared);
                            contact.push((channel, v.clone()));
                            v
                        }
                    },
                };
                if let Err((code, reason)) = verdict {
                    blocked.add(
                        Blocked {
                            content_id: &content.id,
                            channel,
                            code,
                            reason,
                        },
                        fits.is_ok(),
                    );
                    continue;
                }
                let topic = topic_of(content);
                let arm = *arm_of.entry((channel, topic)).or_insert_with(|| {
                    let topic_index = *topic_ids.entry(topic).or_insert_with(|| {
                        topics.push(topic);
                        topics.len() - 1
                    });
                    arms.push(Arm {
                        channel,
                        topic,
                        topic_index,
                        estimate: Estimate::default(),
                        members: 0,
                    });
                    arms.len() - 1
                });
                arms[arm].members += 1;
                allowed.push(Allowed {
                    content,
                    channel,
                    arm,
                });
            }
        }
        // Every arm's estimate at once: the model lookups are independent, so their cache misses
        // overlap.
        let contexts: Vec<ArmContext> = arms
            .iter()
            .map(|a| arm_context(facts, a.topic, a.channel))
            .collect();
        let interest = TopicInterest::of(facts.state, &topics, now);
        let mut attention: Vec<(Channel, f64)> = Vec::new();
        for (arm, estimate) in arms.iter_mut().zip(model.estimates(&contexts)) {
            let lift = match attention.iter().find(|(c, _)| *c == arm.channel) {
                Some((_, lift)) => *lift,
                None => {
                    let lift = channel_attention(facts.state, arm.channel, now);
                    attention.push((arm.channel, lift));
                    lift
                }
            };
            arm.estimate = interest.inform(estimate, arm.topic_index, lift, model.strengths.hcp);
        }
        let nothing_allowed = allowed.is_empty().then(|| blocked.why_nothing());
        // Thompson sampling on what is ranked: the chance of a response, or its net value.
        let economics = self.economics.as_ref();
        let moments: Vec<(f64, f64)> = arms
            .iter()
            .map(|a| {
                let (mean, sd) = beta_moments(&a.estimate);
                match economics {
                    Some(e) => (e.net_value(a.channel, mean), sd * e.response_value),
                    None => (mean, sd),
                }
            })
            .collect();
        let (arm_chances, hold_propensity) = chances(&moments, economics.is_some());
        // Per arm once: what it is ranked by, and each of its items' share of its chance.
        let arm_means: Vec<f64> = moments.iter().map(|m| m.0).collect();
        let arm_shares: Vec<f64> = arms
            .iter()
            .zip(&arm_chances)
            .map(|(a, chance)| chance / a.members as f64)
            .collect();
        let propensity = |a: &Allowed| arm_shares[a.arm];
        // The pick: an arm by its chance, then one of its items at random.
        let options: Vec<f64> = arm_chances
            .iter()
            .copied()
            .chain(economics.map(|_| hold_propensity))
            .collect();
        let chosen_index = pick(&options, rng)
            .filter(|&o| o < arms.len())
            .and_then(|arm| {
                let members: Vec<usize> = (0..allowed.len())
                    .filter(|&i| allowed[i].arm == arm)
                    .collect();
                (!members.is_empty()).then(|| members[rng.random_range(0..members.len())])
            });
        let mean = |a: &Allowed| arm_means[a.arm];
        let mut order: Vec<usize> = (0..allowed.len()).collect();
        // Equal scores keep the library's order (and each kind's channel order): candidates were
        // gathered in it.
        let rank = |&a: &usize, &b: &usize| {
            mean(&allowed[b])
                .total_cmp(&mean(&allowed[a]))
                .then(a.cmp(&b))
        };
        // Only the best n are shown: select them, then order them.
        if request.n < order.len() {
            order.select_nth_unstable_by(request.n, rank);
            order.truncate(request.n);
        }
        order.sort_by(rank);
        let mut shown: Vec<usize> = order;
        if let Some(c) = chosen_index
            && !shown.contains(&c)
        {
            shown.push(c);
        }
        // Held back: the reason names the best allowed action (the first in the ranking).
        let held = match (economics, chosen_index) {
            (Some(_), None) => (0..allowed.len())
                .min_by(rank)
                .map(|i| held_reason(&allowed[i], arm_means[allowed[i].arm], hold_propensity)),
            _ => None,
        };
        let actions: Vec<Action> = shown
            .iter()
            .map(|&i| {
                let a = &allowed[i];
                let scored = Scored {
                    content: a.content,
                    channel: a.channel,
                    estimate: arms[a.arm].estimate,
                };
                Action {
                    content_id: a.content.id.clone(),
                    channel: a.channel,
                    topic: topic_of(a.content).to_owned(),
                    score: scored.estimate.mean(),
                    value: economics.map(|_| mean(a)),
                    propensity: propensity(a),
                    explanation: explain(facts, &scored, now),
                }
            })
            .collect();
        let chosen = chosen_index.and_then(|c| shown.iter().position(|&i| i == c));
        let considered = |a: &Allowed<'a>| Considered {
            content_id: &a.content.id,
            channel: a.channel,
            score: arms[a.arm].estimate.mean(),
            value: economics.map(|_| mean(a)),
            propensity: propensity(a),
        };
        let listed = logged_candidates(&allowed, chosen_index, &arm_shares, |a| {
            arms[a.arm].estimate.mean()
        });
        let mut unlisted: Vec<Unlisted> = Vec::new();
        let mut next = listed.iter().peekable();
        let mut logged = Vec::with_capacity(listed.len());
        for (i, a) in allowed.iter().enumerate() {
            let c = considered(a);
            if next.next_if(|&&l| l == i).is_some() {
                logged.push(c);
                continue;
            }
            let sum = match unlisted.iter_mut().find(|u| u.channel == a.channel) {
                Some(sum) => sum,
                None => {
                    unlisted.push(Unlisted {
                        channel: a.channel,
                        candidates: 0,
                        score_sum: 0.0,
                        propensity_sum: 0.0,
                        score_propensity_sum: 0.0,
                    });
                    unlisted.last_mut().expect("just pushed")
                }
            };
            sum.candidates += 1;
            sum.score_sum += c.score;
            sum.propensity_sum += c.propensity;
            sum.score_propensity_sum += c.score * c.propensity;
        }
        let (blocked, blocked_summary) = blocked.finish();
        Decision {
            actions,
            chosen,
            blocked,
            blocked_summary,
            allowed: logged,
            unlisted,
            propensity_method: PROPENSITY_METHOD,
            model_version: model.version,
            nothing_allowed,
            // Holding back is an option only among allowed actions, and only with economics.
            hold_propensity: if economics.is_some() && !allowed.is_empty() {
                hold_propensity
            } else {
                0.0
            },
            held,
        }
    }
}

/// An arm's posterior mean and standard deviation.
fn beta_moments(estimate: &Estimate) -> (f64, f64) {
    let (al, be) = (estimate.alpha, estimate.beta);
    let mean = al / (al + be);
    let sd = (al * be / ((al + be).powi(2) * (al + be + 1.0)))
        .sqrt()
        .max(1e-6);
    (mean, sd)
}

/// Why the engine held back, given the best allowed action and its expected net value.
fn held_reason(best: &Allowed<'_>, value: f64, hold_propensity: f64) -> String {
    let (id, channel) = (&best.content.id, best.channel.as_str());
    if value > 0.0 {
        format!(
            "held back to learn (a {:.0}% chance): the best allowed action, {id} on {channel}, is \
             expected to return {value:.2} net, but what this HCP does is still uncertain",
            hold_propensity * 100.0
        )
    } else {
        format!(
            "no allowed action is expected to be worth its cost: the best, {id} on {channel}, is \
             expected to return {value:.2} net"
        )
    }
}

/// Each arm's chance of having the highest draw, with each arm's posterior (of its chance of a
/// response, or of its net value) taken as a normal of the given mean and standard deviation:
/// `P_i = ∫ φ_i(x) Π_{j≠i} Φ_j(x) dx`, by Simpson's rule on 24 steps. With `hold`, doing
/// nothing is an option worth exactly 0: it wins with `Π Φ_j(0)`, and an arm only where its draw
/// is above 0. Arms that cannot plausibly win (mean + 3 sd below the best mean − 3 sd, or below
/// 0 with `hold`) get 0. The chances (and the hold's) are normalized to sum to 1. Φ is computed
/// to within 1.5e-7 ([`normal_pair`]); the pick is drawn from these very chances, so the logged
/// propensities stay exact.
fn chances(moments: &[(f64, f64)], hold: bool) -> (Vec<f64>, f64) {
    let mut result = vec![0.0; moments.len()];
    if moments.is_empty() {
        return (result, if hold { 1.0 } else { 0.0 });
    }
    let mut floor = moments
        .iter()
        .map(|(m, s)| m - 3.0 * s)
        .fold(f64::NEG_INFINITY, f64::max);
    if hold {
        floor = floor.max(0.0);
    }
    let contenders: Vec<usize> = (0..moments.len())
        .filter(|&i| moments[i].0 + 3.0 * moments[i].1 >= floor)
        .collect();
    // Without a hold there is always a contender (the best arm), unless a moment is not a
    // number: then every arm is equally likely, as nothing tells them apart.
    let uniform = |mut result: Vec<f64>| {
        let n = result.len() as f64;
        result.iter_mut().for_each(|p| *p = 1.0 / n);
        (result, 0.0)
    };
    if contenders.is_empty() {
        return if hold { (result, 1.0) } else { uniform(result) };
    }
    if contenders.len() == 1 && !hold {
        result[contenders[0]] = 1.0;
        return (result, 0.0);
    }
    let lo = contenders
        .iter()
        .map(|&i| moments[i].0 - 6.0 * moments[i].1)
        .fold(f64::INFINITY, f64::min);
    let hi = contenders
        .iter()
        .map(|&i| moments[i].0 + 6.0 * moments[i].1)
        .fold(f64::NEG_INFINITY, f64::max);
    // Doing nothing wins when every draw is below 0; an arm wins only above it.
    let (lo, hold_chance) = if hold {
        let below_zero: f64 = contenders
            .iter()
            .map(|&i| normal_pair((0.0 - moments[i].0) / moments[i].1).1)
            .product();
        (lo.max(0.0), below_zero)
    } else {
        (lo, 0.0)
    };
    if hi <= lo || hi.is_nan() || lo.is_nan() {
        return if hold { (result, 1.0) } else { uniform(result) };
    }
    const STEPS: usize = 24;
    let dx = (hi - lo) / STEPS as f64;
    let mut cdf = vec![0.0; contenders.len()];
    let mut density = vec![0.0; contenders.len()];
    let mut below = vec![0.0; contenders.len()];
    for k in 0..=STEPS {
        let x = lo + k as f64 * dx;
        for (slot, &i) in contenders.iter().enumerate() {
            let (m, s) = moments[i];
            let (pdf, cumulative) = normal_pair((x - m) / s);
            density[slot] = pdf / s;
            cdf[slot] = cumulative;
        }
        // The product of every other arm's CDF, by prefix and suffix products (no division).
        let mut prefix = 1.0;
        for slot in 0..contenders.len() {
            below[slot] = prefix;
            prefix *= cdf[slot];
        }
        let weight = if k == 0 || k == STEPS {
            1.0 / 3.0
        } else if k % 2 == 1 {
            4.0 / 3.0
        } else {
            2.0 / 3.0
        };
        let mut suffix = 1.0;
        for slot in (0..contenders.len()).rev() {
            result[contenders[slot]] += weight * density[slot] * below[slot] * suffix * dx;
            suffix *= cdf[slot];
        }
    }
    let total: f64 = result.iter().sum::<f64>() + hold_chance;
    if total > 0.0 {
        for p in &mut result {
            *p /= total;
        }
        (result, hold_chance / total)
    } else {
        for &i in &contenders {
            result[i] = 1.0 / contenders.len() as f64;
        }
        (result, 0.0)
    }
}

/// The standard normal density and distribution function at `z`, from one exponential:
/// Φ by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7).
fn normal_pair(z: f64) -> (f64, f64) {
    const P: f64 = 0.327_591_1;
    const A: [f64; 5] = [
        0.254_829_592,
        -0.284_496_736,
        1.421_413_741,
        -1.453_152_027,
        1.061_405_429,
    ];
    let e = (-0.5 * z * z).exp();
    let density = e * 0.398_942_280_401_432_7; // 1 / sqrt(2π)
    let x = z.abs() * std::f64::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + P * x);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    // erfc(x) = poly · e^{−x²}, and e^{−x²} = e^{−z²/2}.
    let tail = 0.5 * poly * e;
    (density, if z >= 0.0 { 1.0 - tail } else { tail })
}

fn arm_context<'a>(facts: &HcpFacts<'a>, topic: &'a str, channel: Channel) -> ArmContext<'a> {
    ArmContext {
        channel,
        topic,
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

/// Which allowed candidates a decision's log lists one by one (indexes in library order): all
/// when they are few; else the chosen one, the first with the highest score (a greedy policy's
/// pick, so evaluating it needs nothing unlisted), then the highest propensities (the first in
/// library order among equals) up to [`MAX_LOGGED_CANDIDATES`].
fn logged_candidates(
    allowed: &[Allowed<'_>],
    chosen: Option<usize>,
    arm_shares: &[f64],
    score: impl Fn(&Allowed<'_>) -> f64,
) -> Vec<usize> {
    if allowed.len() <= MAX_LOGGED_CANDIDATES {
        return (0..allowed.len()).collect();
    }
    let greedy = (0..allowed.len()).fold(0, |best, i| {
        if score(&allowed[i]) > score(&allowed[best]) {
            i
        } else {
            best
        }
    });
    let mut listed: Vec<usize> = chosen.into_iter().chain([greedy]).collect();
    listed.dedup();
    let mut others: Vec<usize> = (0..allowed.len()).filter(|i| !listed.contains(i)).collect();
    let by_propensity = |&a: &usize, &b: &usize| {
        arm_shares[allowed[b].arm]
            .total_cmp(&arm_shares[allowed[a].arm])
            .then(a.cmp(&b))
    };
    let room = MAX_LOGGED_CANDIDATES - listed.len();
    if room < others.len() {
        others.select_nth_unstable_by(room, by_propensity);
        others.truncate(room);
    }
    listed.extend(others);
    listed.sort_unstable();
    listed
}

/// The candidates a hard constraint removed: counted per code (and, for the summary of why
/// nothing is allowed, per reason), listed one by one up to [`MAX_BLOCKED_LISTED`], so a
/// decision's size does not grow with the library.
#[derive(Default)]
struct BlockedTally<'a> {
    /// Blocked by consent, an opt-out, a cap or the gap: what a rep can act on, listed first.
    contact: Vec<Blocked<'a>>,
    /// Blocked by a rule on the content (status, validity, country, specialty, product).
    content: Vec<Blocked<'a>>,
    codes: Vec<BlockedCount>,
    reasons: Vec<(Arc<str>, usize)>,
}

impl<'a> BlockedTally<'a> {
    fn add(&mut self, blocked: Blocked<'a>, by_contact: bool) {
        match self.codes.iter_mut().find(|c| c.code == blocked.code) {
            Some(c) => c.candidates += 1,
            None => self.codes.push(BlockedCount {
                code: blocked.code,
                candidates: 1,
            }),
        }
        // Candidates blocked for the same reason mostly share its text: pointers compare first.
        let counted = self.reasons.len();
        match self
            .reasons
            .iter_mut()
            .find(|(r, _)| Arc::ptr_eq(r, &blocked.reason) || **r == *blocked.reason)
        {
            Some((_, n)) => *n += 1,
            None if counted < MAX_REASONS_COUNTED => {
                self.reasons.push((blocked.reason.clone(), 1));
            }
            None => {}
        }
        let list = if by_contact {
            &mut self.contact
        } else {
            &mut self.content
        };
        if list.len() < MAX_BLOCKED_LISTED {
            list.push(blocked);
        }
    }

    /// Why nothing is allowed: the reasons that blocked the most candidates.
    fn why_nothing(&self) -> String {
        if self.codes.is_empty() {
            return "no approved content in the library fits the requested channels".to_owned();
        }
        let mut reasons: Vec<(&str, usize)> =
            self.reasons.iter().map(|(r, n)| (&**r, *n)).collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = reasons
            .iter()
            .take(3)
            .map(|(r, n)| format!("{r} ({n} candidate{})", if *n == 1 { "" } else { "s" }))
            .collect();
        format!("every candidate is blocked: {}", top.join("; "))
    }

    /// The listed candidates (contact rules first) and the counts per code, commonest first.
    fn finish(self) -> (Vec<Blocked<'a>>, Vec<BlockedCount>) {
        let mut listed = self.contact;
        listed.extend(self.content);
        listed.truncate(MAX_BLOCKED_LISTED);
        let mut codes = self.codes;
        codes.sort_by(|a, b| b.candidates.cmp(&a.candidates).then(a.code.cmp(b.code)));
        (listed, codes)
    }
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
    let (peer_rate, peer_counts) = scored.estimate.peer_group;
    if peer_counts.trials >= 20.0 {
        parts.push(format!(
            "{} HCPs in {} respond to {:.0}% of {topic} {}",
            facts.hcp.specialty,
            facts.hcp.country,
            peer_rate * 100.0,
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

#[cfg(test)]
mod normal_tests {
    use super::{Estimate, beta_moments, chances, normal_pair};
    use rand::SeedableRng;
    use rand_distr::Distribution;
    use statrs::distribution::{Continuous, ContinuousCDF, Normal};

    /// The integral matches how often each arm's draw is the highest, for the normal posteriors
    /// it describes and (less closely) for the Beta posteriors Thompson sampling draws from.
    #[test]
    fn chances_are_how_often_each_arm_draws_highest() {
        let posteriors = [
            (20.0, 80.0),
            (25.0, 75.0),
            (5.0, 20.0),
            (50.0, 150.0),
            (2.0, 40.0),
        ];
        let moments: Vec<(f64, f64)> = posteriors
            .iter()
            .map(|&(alpha, beta)| {
                beta_moments(&Estimate {
                    alpha,
                    beta,
                    ..Estimate::default()
                })
            })
            .collect();
        let (computed, hold) = chances(&moments, false);
        assert_eq!(hold, 0.0);
        assert!((computed.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let draws = 200_000;
        let mut normal_wins = [0usize; 5];
        let mut beta_wins = [0usize; 5];
        let normals: Vec<rand_distr::Normal<f64>> = posteriors
            .iter()
            .map(|&(a, b)| {
                let sd = (a * b / ((a + b) * (a + b) * (a + b + 1.0))).sqrt();
                rand_distr::Normal::new(a / (a + b), sd).unwrap()
            })
            .collect();
        let betas: Vec<rand_distr::Beta<f64>> = posteriors
            .iter()
            .map(|&(a, b)| rand_distr::Beta::new(a, b).unwrap())
            .collect();
        let argmax = |xs: Vec<f64>| {
            (0..xs.len())
                .max_by(|&i, &j| xs[i].total_cmp(&xs[j]))
                .unwrap()
        };
        for _ in 0..draws {
            normal_wins[argmax(normals.iter().map(|d| d.sample(&mut rng)).collect())] += 1;
            beta_wins[argmax(betas.iter().map(|d| d.sample(&mut rng)).collect())] += 1;
        }
        for i in 0..5 {
            let normal = normal_wins[i] as f64 / draws as f64;
            let beta = beta_wins[i] as f64 / draws as f64;
            assert!(
                (computed[i] - normal).abs() < 0.005,
                "arm {i}: {} vs {normal}",
                computed[i]
            );
            assert!(
                (computed[i] - beta).abs() < 0.03,
                "arm {i}: {} vs {beta}",
                computed[i]
            );
        }
    }

    /// With economics, doing nothing (worth exactly 0) is an option: its chance and the arms'
    /// match how often each wins among normal draws of net value.
    #[test]
    fn holding_back_wins_as_often_as_every_net_value_draws_below_zero() {
        let moments = [(-5.0, 20.0), (10.0, 15.0), (-40.0, 10.0), (2.0, 30.0)];
        let (computed, hold) = chances(&moments, true);
        assert!((computed.iter().sum::<f64>() + hold - 1.0).abs() < 1e-12);
        let normals: Vec<rand_distr::Normal<f64>> = moments
            .iter()
            .map(|&(m, s)| rand_distr::Normal::new(m, s).unwrap())
            .collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let draws = 200_000;
        let mut wins = [0usize; 5];
        for _ in 0..draws {
            let xs: Vec<f64> = normals.iter().map(|d| d.sample(&mut rng)).collect();
            let (best, value) = xs
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap();
            wins[if *value > 0.0 { best } else { 4 }] += 1;
        }
        let share = |i: usize| wins[i] as f64 / draws as f64;
        for (i, c) in computed.iter().enumerate() {
            assert!((c - share(i)).abs() < 0.005, "arm {i}: {c} vs {}", share(i));
        }
        assert!(
            (hold - share(4)).abs() < 0.005,
            "hold: {hold} vs {}",
            share(4)
        );
        // An arm far below 0 never wins; nothing plausible above 0 means holding for sure.
        assert_eq!(computed[2], 0.0);
        let (none, hold) = chances(&[(-50.0, 5.0), (-30.0, 2.0)], true);
        assert_eq!((none, hold), (vec![0.0, 0.0], 1.0));
    }

    #[test]
    fn the_normal_pair_matches_the_reference_distribution() {
        let reference = Normal::standard();
        for i in -800..=800 {
            let z = f64::from(i) / 100.0;
            let (pdf, cdf) = normal_pair(z);
            assert!((pdf - reference.pdf(z)).abs() < 1e-12, "pdf at {z}");
            assert!((cdf - reference.cdf(z)).abs() < 1.5e-7, "cdf at {z}");
        }
    }
}
