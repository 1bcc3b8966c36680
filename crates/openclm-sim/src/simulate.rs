//! The proving ground: a synthetic HCP world whose truth is known — hidden preferences per
//! channel and topic, reachability, a preferred weekday, fatigue, a prescribing response — in
//! which marketing policies run week by week, side by side, each on its own copy of the same
//! world, against a holdout that receives nothing.
//!
//! Every policy goes through OpenCLM's own code: the hard constraints of
//! [`openclm_core::engine::rules`], the HCP state fold of [`openclm_core::state`], and for the
//! closed loop the engine and model of [`openclm_core::engine`]. Randomness is keyed by (seed,
//! HCP, week), so every policy meets the same HCPs, the same noise and the same baseline.

use openclm_core::consent::{ConsentRecord, ConsentState, DEFAULT_PURPOSE};
use openclm_core::content::{Content, ContentInput};
use openclm_core::engine::model::{ArmContext, Model};
use openclm_core::engine::rules::HcpFacts;
use openclm_core::engine::{Economics, Engine, Request, topic_of};
use openclm_core::hcp::HcpInput;
use openclm_core::state::{HcpState, Observation, StateConfig};
use openclm_core::{Channel, EventType, FieldError, Hcp, Timestamp};
use rand::{Rng, SeedableRng};

use crate::ideal::{Belief, Seen};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// The channels policies act on.
pub const CHANNELS: [Channel; 3] = [Channel::Email, Channel::FaceToFace, Channel::RemoteDetail];
/// The topics the brand's content covers.
pub const TOPICS: [&str; 6] = [
    "efficacy",
    "safety",
    "dosing",
    "access",
    "patient_support",
    "guidelines",
];
const SPECIALTIES: [&str; 4] = [
    "cardiology",
    "general_practice",
    "nephrology",
    "internal_medicine",
];
const COUNTRIES: [&str; 3] = ["DE", "FR", "GB"];

/// The default world's parameters, each documented with why its value is plausible.
pub const DEFAULT_WORLD: &str = include_str!("../worlds/default.toml");

/// The parameters of a world. Each is documented with why its default is plausible (at length in
/// `worlds/default.toml`); the three named worlds differ only where their names say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorldParams {
    /// Chance of a response to the HCP's best-matching arm when fully reachable and rested: the
    /// chance of engaging once a touch has their attention, which it gets as often as the
    /// channel reaches them (a funnel, as an email is opened, then clicked). Field
    /// studies of tailored HCP emails and details report click or engaged-read rates of 30–60%
    /// for content an HCP asked for, a few percent for broadcast.
    pub best_response: f64,
    /// How much a non-favourite topic interests the HCP, as a range of fractions of the favourite.
    pub other_topic_interest: (f64, f64),
    /// Share of HCPs whose favourite topic is their specialty's usual one (the rest have their
    /// own): what peer-group pooling can learn before anything personal is known.
    pub specialty_typical: f64,
    /// Share who never engage with email (filters, no time), and who see only reps.
    pub email_unreachable: f64,
    pub reps_only: f64,
    /// Share with an email opt-in on record (needed to email at all).
    pub email_consent: f64,
    /// Response multiplier for a touch on another weekday than the HCP's preferred one.
    pub off_day_factor: f64,
    /// Response multiplier per touch in the previous 28 days beyond the second (fatigue).
    pub fatigue_per_touch: f64,
    /// Chance an email touch makes the HCP unsubscribe, and its increase per touch in the previous
    /// 28 days beyond the second. Industry unsubscribe rates are 0.1–0.5% per email.
    pub opt_out_base: f64,
    pub opt_out_per_touch: f64,
    /// Chance a response is decided by noise instead of the HCP's preferences (a colleague
    /// clicked, an accidental view), and the response rate of that noise.
    pub noise: f64,
    pub noise_rate: f64,
    /// Share of opens made by privacy proxies (never a response).
    pub machine_opens: f64,
    /// Chance an HCP reads the brand's site in a week, on their own, on their preferred weekday:
    /// the engagement that reveals their moment.
    pub own_visits: f64,
    /// Weekly prescriptions at baseline (mean over HCPs; each HCP's own mean is drawn around it),
    /// their trend per week without any marketing, the lift per unit of engagement stock, and how
    /// much stock is left after a week.
    pub rx_per_week: f64,
    pub rx_trend_per_week: f64,
    pub rx_lift: f64,
    pub engagement_memory: f64,
    /// Cost of a touch per channel (email, visit, remote detail: common industry estimates) and
    /// the value of a prescription over the months a patient stays on therapy, in euros.
    pub cost_email: f64,
    pub cost_visit: f64,
    pub cost_remote: f64,
    pub value_per_rx: f64,
}

impl Default for WorldParams {
    fn default() -> Self {
        Self {
            best_response: 0.55,
            other_topic_interest: (0.05, 0.3),
            specialty_typical: 0.6,
            email_unreachable: 0.2,
            reps_only: 0.1,
            email_consent: 0.7,
            off_day_factor: 0.8,
            fatigue_per_touch: 0.15,
            opt_out_base: 0.003,
            opt_out_per_touch: 0.004,
            noise: 0.05,
            noise_rate: 0.1,
            machine_opens: 0.3,
            own_visits: 0.3,
            rx_per_week: 2.0,
            rx_trend_per_week: 0.002,
            rx_lift: 0.05,
            engagement_memory: 0.9,
            cost_email: 0.5,
            cost_visit: 150.0,
            cost_remote: 40.0,
            value_per_rx: 250.0,
        }
    }
}

impl WorldParams {
    /// A named world: `default`, `sparse` (few responses, many unreachable: little to learn
    /// from) or `noisy` (a third of responses are noise). Each is a documented file in
    /// `crates/openclm-sim/worlds/`; the sparse and noisy files change only what their names say.
    pub fn named(name: &str) -> Result<Self, FieldError> {
        let text = match name {
            "default" => DEFAULT_WORLD,
            "sparse" => include_str!("../worlds/sparse.toml"),
            "noisy" => include_str!("../worlds/noisy.toml"),
            other => {
                return Err(FieldError::new(
                    "world",
                    format!("unknown world {other:?}; expected default, sparse, noisy or a file"),
                ));
            }
        };
        Self::from_toml(text)
    }

    /// Reads a world from TOML: parameters left out take the default world's values.
    pub fn from_toml(text: &str) -> Result<Self, FieldError> {
        let world: Self =
            toml::from_str(text).map_err(|e| FieldError::new("world", e.message().to_owned()))?;
        world.validate()?;
        Ok(world)
    }

    /// Checks every parameter, naming the one at fault.
    pub fn validate(&self) -> Result<(), FieldError> {
        let shares = [
            ("best_response", self.best_response),
            ("specialty_typical", self.specialty_typical),
            ("email_unreachable", self.email_unreachable),
            ("reps_only", self.reps_only),
            ("email_consent", self.email_consent),
            ("off_day_factor", self.off_day_factor),
            ("opt_out_base", self.opt_out_base),
            ("opt_out_per_touch", self.opt_out_per_touch),
            ("noise", self.noise),
            ("noise_rate", self.noise_rate),
            ("machine_opens", self.machine_opens),
            ("own_visits", self.own_visits),
            ("engagement_memory", self.engagement_memory),
            ("other_topic_interest.0", self.other_topic_interest.0),
            ("other_topic_interest.1", self.other_topic_interest.1),
        ];
        for (name, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return Err(FieldError::new(name, "must be between 0 and 1"));
            }
        }
        if self.other_topic_interest.0 > self.other_topic_interest.1 {
            return Err(FieldError::new(
                "other_topic_interest",
                "the low end must not exceed the high end",
            ));
        }
        let non_negative = [
            ("fatigue_per_touch", self.fatigue_per_touch),
            ("rx_per_week", self.rx_per_week),
            ("rx_lift", self.rx_lift),
            ("cost_email", self.cost_email),
            ("cost_visit", self.cost_visit),
            ("cost_remote", self.cost_remote),
            ("value_per_rx", self.value_per_rx),
        ];
        for (name, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(FieldError::new(name, "must be a number of 0 or more"));
            }
        }
        if !(self.rx_trend_per_week.is_finite() && self.rx_trend_per_week.abs() <= 0.05) {
            return Err(FieldError::new(
                "rx_trend_per_week",
                "must be between -0.05 and 0.05",
            ));
        }
        Ok(())
    }

    /// What one response is worth: the prescriptions it adds while the HCP remembers it
    /// (`rx_per_week × rx_lift`, decaying by `engagement_memory` a week) at `value_per_rx`. A
    /// brand estimates this from a holdout test; the closed loop and the oracle are told it.
    pub fn response_value(&self) -> f64 {
        self.rx_per_week * self.rx_lift / (1.0 - self.engagement_memory).max(0.01)
            * self.value_per_rx
    }

    /// The economics the closed loop decides with: the value of a response and the cost of a
    /// touch per channel.
    pub fn economics(&self) -> Economics {
        Economics {
            response_value: self.response_value(),
            cost: CHANNELS.iter().map(|&c| (c, self.cost(c))).collect(),
        }
    }

    fn cost(&self, channel: Channel) -> f64 {
        match channel {
            Channel::Email => self.cost_email,
            Channel::FaceToFace => self.cost_visit,
            _ => self.cost_remote,
        }
    }
}

/// A way of deciding whom to contact, how and with what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The same flagship email to the whole target list every week.
    BusinessAsUsual,
    /// A marketer's table: per specialty, one channel and topic, every other week.
    StaticRules,
    /// OpenCLM's engine, learning from every outcome, every other week, on the HCP's learned
    /// weekday.
    ClosedLoop,
    /// Knows the world's laws but not the HCP's hidden values, which it infers by Bayes' rule
    /// and explores by Thompson sampling, every other week: what the best learner could reach
    /// (`ideal.rs`).
    IdealLearner,
    /// Knows every HCP's hidden preferences: the upper bound, every other week.
    Oracle,
}

impl Policy {
    pub const ALL: [Policy; 5] = [
        Policy::BusinessAsUsual,
        Policy::StaticRules,
        Policy::ClosedLoop,
        Policy::IdealLearner,
        Policy::Oracle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::BusinessAsUsual => "business_as_usual",
            Policy::StaticRules => "static_rules",
            Policy::ClosedLoop => "closed_loop",
            Policy::IdealLearner => "ideal_learner",
            Policy::Oracle => "oracle",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let short = match text {
            "bau" => "business_as_usual",
            "static" => "static_rules",
            "loop" => "closed_loop",
            "ideal" => "ideal_learner",
            other => other,
        };
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == short)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("unknown policy {text:?}; expected bau, static, loop, ideal or oracle"),
                )
            })
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub hcps: usize,
    pub weeks: u32,
    pub seed: u64,
    pub world: WorldParams,
    pub policies: Vec<Policy>,
    /// Share of HCPs held out: they receive nothing under any policy.
    pub holdout: f64,
    /// The simulated first Monday.
    pub start: Timestamp,
    /// Whether the closed loop and the oracle weigh what a touch costs against what a response
    /// is worth ([`WorldParams::economics`]) instead of seeking responses alone.
    pub economics: bool,
}

/// One policy's week.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Week {
    pub touches: u64,
    pub responses: u64,
    pub opt_outs: u64,
    /// Prescriptions of the treated HCPs and of the holdout.
    pub rx_treated: f64,
    pub rx_control: f64,
    pub cost: f64,
}

impl Week {
    /// Responses per touch (0 without touches).
    pub fn engagement_rate(&self) -> f64 {
        if self.touches == 0 {
            0.0
        } else {
            self.responses as f64 / self.touches as f64
        }
    }
}

/// One policy's whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyRun {
    pub policy: Policy,
    pub treated: usize,
    pub control: usize,
    pub weeks: Vec<Week>,
    /// Treated HCPs touched at least once, and opted out of email by the end.
    pub reached: usize,
    pub opted_out: usize,
}

/// The measures a user compares policies by.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub reach: f64,
    pub engagement_rate: f64,
    pub touches_per_hcp: f64,
    pub opt_out_rate: f64,
    /// Prescriptions the treated HCPs wrote beyond what the holdout's rate predicts.
    pub incremental_rx: f64,
    pub cost: f64,
    /// (incremental prescriptions × value − cost) / cost.
    pub romi: f64,
}

impl PolicyRun {
    pub fn summary(&self, world: &WorldParams) -> Summary {
        let touches: u64 = self.weeks.iter().map(|w| w.touches).sum();
        let responses: u64 = self.weeks.iter().map(|w| w.responses).sum();
        let cost: f64 = self.weeks.iter().map(|w| w.cost).sum();
        let rx_treated: f64 = self.weeks.iter().map(|w| w.rx_treated).sum();
        let rx_control: f64 = self.weeks.iter().map(|w| w.rx_control).sum();
        let incremental_rx = incremental(rx_treated, self.treated, rx_control, self.control);
        let treated = self.treated.max(1) as f64;
        Summary {
            reach: self.reached as f64 / treated,
            engagement_rate: if touches == 0 {
                0.0
            } else {
                responses as f64 / touches as f64
            },
            touches_per_hcp: touches as f64 / treated,
            opt_out_rate: self.opted_out as f64 / treated,
            incremental_rx,
            cost,
            romi: if cost > 0.0 {
                (incremental_rx * world.value_per_rx - cost) / cost
            } else {
                0.0
            },
        }
    }
}

/// Prescriptions of `treated` HCPs beyond what `control` HCPs' rate predicts for as many.
pub fn incremental(rx_treated: f64, treated: usize, rx_control: f64, control: usize) -> f64 {
    if control == 0 {
        return 0.0;
    }
    rx_treated - rx_control / control as f64 * treated as f64
}

/// An HCP of the simulated world, with what only the simulator knows.
struct Person {
    hcp: Hcp,
    /// Reachability per channel of [`CHANNELS`], in [0, 1]: the chance a touch gets attention.
    reach: [f64; 3],
    /// Interest per topic of [`TOPICS`], the favourite at 1.
    interest: [f64; 6],
    weekday: u32,
    consent: Vec<ConsentRecord>,
    rx_mean: f64,
    control: bool,
}

impl Person {
    /// The chance of a response on the HCP's day, rested: reached, then engaged.
    fn response_chance(&self, world: &WorldParams, channel: usize, topic: usize) -> f64 {
        self.reach[channel] * self.engage_chance(world, topic)
    }

    /// The chance of engaging with a topic once a touch has the HCP's attention.
    fn engage_chance(&self, world: &WorldParams, topic: usize) -> f64 {
        (world.best_response * self.interest[topic]).clamp(0.0, 0.95)
    }
}

fn mix(seed: u64, a: u64, b: u64, c: u64) -> u64 {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&a.to_le_bytes());
    bytes[16..24].copy_from_slice(&b.to_le_bytes());
    bytes[24..].copy_from_slice(&c.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

fn specialty_index(hcp: &Hcp) -> usize {
    SPECIALTIES
        .iter()
        .position(|s| *s == hcp.specialty)
        .unwrap_or(0)
}

/// What a learner that knows the world's laws expects of a touch's moment: fatigue from the
/// touches of the last four weeks, and the off-day factor unless the touch is on the weekday the
/// HCP's state has learned (then taken to be right); on an unknown weekday, the mean over five.
fn expected_factor(world: &WorldParams, track: &Track, week: u32, weekday: u32) -> f64 {
    let fatigue_touches = track
        .recent
        .iter()
        .filter(|&&w| week.saturating_sub(w) < 4)
        .count();
    let day = if track.state.preferred_weekday() == Some(weekday) {
        1.0
    } else {
        (1.0 + 4.0 * world.off_day_factor) / 5.0
    };
    day * (-world.fatigue_per_touch * fatigue_touches.saturating_sub(2) as f64).exp()
}

/// The specialty's usual favourite topic: what a marketer's table knows.
fn typical_topic(specialty: usize) -> usize {
    [0, 3, 2, 1][specialty % 4]
}

fn population(config: &SimConfig) -> Result<Vec<Person>, FieldError> {
    let world = &config.world;
    (0..config.hcps)
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(config.seed, i as u64, u64::MAX, 1));
            let specialty = rng.random_range(0..SPECIALTIES.len());
            let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
            let hcp = HcpInput {
                name: Some(format!("Sim HCP {i}")),
                specialty: Some(SPECIALTIES[specialty].into()),
                country: Some(country.into()),
                ..HcpInput::default()
            }
            .validate(&format!("sim-{i:06}"))?;
            let favourite = if rng.random::<f64>() < world.specialty_typical {
                typical_topic(specialty)
            } else {
                rng.random_range(0..TOPICS.len())
            };
            let (lo, hi) = world.other_topic_interest;
            let mut interest = [0.0; 6];
            for (k, v) in interest.iter_mut().enumerate() {
                *v = if k == favourite {
                    1.0
                } else {
                    lo + (hi - lo) * rng.random::<f64>()
                };
            }
            let reps_only = rng.random::<f64>() < world.reps_only;
            let no_email = reps_only || rng.random::<f64>() < world.email_unreachable;
            let affinity = |rng: &mut ChaCha8Rng| 0.2 + 0.8 * rng.random::<f64>();
            let reach = [
                if no_email { 0.0 } else { affinity(&mut rng) },
                affinity(&mut rng),
                if reps_only { 0.0 } else { affinity(&mut rng) },
            ];
            let weekday = rng.random_range(0..5);
            let consent = if rng.random::<f64>() < world.email_consent {
                vec![ConsentRecord {
                    channel: Channel::Email,
                    purpose: DEFAULT_PURPOSE.into(),
                    state: ConsentState::Granted,
                    source: "sim".into(),
                    event_id: None,
                    changed_at: Timestamp::from_millis(config.start.millis() - 365 * DAY_MS),
                    evidence: None,
                    notice_version: None,
                }]
            } else {
                Vec::new()
            };
            let rx_mean = world.rx_per_week * (0.25 + 1.5 * rng.random::<f64>());
            let control = rng.random::<f64>() < config.holdout;
            Ok(Person {
                hcp,
                reach,
                interest,
                weekday,
                consent,
                rx_mean,
                control,
            })
        })
        .collect()
}

/// The brand's library: for each topic an email and a key message for calls.
pub fn library(start: Timestamp) -> Vec<Content> {
    let approved = Timestamp::from_millis(start.millis() - 30 * DAY_MS).to_string();
    TOPICS
        .iter()
        .flat_map(|topic| {
            [("EM", "email_template"), ("KM", "key_message")].map(|(code, kind)| {
                ContentInput {
                    id: Some(format!("{code}-{topic}")),
                    title: Some(format!("{topic} ({kind})")),
                    kind: Some(kind.into()),
                    product: Some("cardiozan".into()),
                    topics: vec![(*topic).to_owned()],
                    status: Some("approved".into()),
                    approval_code: Some(format!("CZ-{code}-{topic}")),
                    approved_at: Some(approved.clone()),
                    ..ContentInput::default()
                }
                .validate()
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_default()
}

/// An action a policy takes for one HCP in one week.
#[derive(Debug, Clone, Copy)]
struct Action {
    channel: usize,
    topic: usize,
    weekday: u32,
}

/// One HCP's running record under a policy.
struct Track {
    state: HcpState,
    /// Weeks of the last touches (for fatigue).
    recent: Vec<u32>,
    stock: f64,
    touched: bool,
    opted_out: bool,
    /// The ideal learner's belief about the HCP (only under that policy).
    belief: Option<Box<Belief>>,
}

/// What happened to one HCP in one week.
#[derive(Default)]
struct Outcome {
    touched: bool,
    responded: bool,
    opted_out: bool,
    cost: f64,
    rx: f64,
    /// The arm the closed loop learns from: (channel, topic, responded).
    learned: Option<(usize, usize, bool)>,
}

/// Runs every configured policy on its own copy of the world; `progress` is told of each
/// simulated HCP-week.
pub fn run(
    config: &SimConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<PolicyRun>, FieldError> {
    config.world.validate()?;
    if !(0.0..1.0).contains(&config.holdout) {
        return Err(FieldError::new("holdout", "must be at least 0 and below 1"));
    }
    let people = population(config)?;
    let library = library(config.start);
    Ok(config
        .policies
        .iter()
        .map(|&policy| run_policy(config, policy, &people, &library, progress))
        .collect())
}

fn run_policy(
    config: &SimConfig,
    policy: Policy,
    people: &[Person],
    library: &[Content],
    progress: &(dyn Fn(u64) + Sync),
) -> PolicyRun {
    let engine = Engine {
        economics: config.economics.then(|| config.world.economics()),
        ..Engine::default()
    };
    let state_config = StateConfig::default();
    let mut model = Model::default();
    let mut tracks: Vec<Track> = people
        .iter()
        .map(|person| Track {
            state: HcpState::default(),
            recent: Vec::new(),
            stock: 0.0,
            touched: false,
            opted_out: false,
            belief: (policy == Policy::IdealLearner).then(|| {
                Box::new(Belief::new(
                    &config.world,
                    typical_topic(specialty_index(&person.hcp)),
                ))
            }),
        })
        .collect();
    let mut weeks = Vec::with_capacity(config.weeks as usize);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = people.len().div_ceil(threads).max(1);
    for week in 0..config.weeks {
        let (model_ref, engine_ref) = (&model, &engine);
        let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = people
                .chunks(chunk)
                .zip(tracks.chunks_mut(chunk))
                .enumerate()
                .map(|(c, (persons, tracks))| {
                    let state_config = &state_config;
                    scope.spawn(move || {
                        let outcomes: Vec<Outcome> = persons
                            .iter()
                            .zip(tracks.iter_mut())
                            .enumerate()
                            .map(|(j, (person, track))| {
                                let index = (c * chunk + j) as u64;
                                simulate_week(
                                    config,
                                    policy,
                                    engine_ref,
                                    model_ref,
                                    state_config,
                                    library,
                                    person,
                                    track,
                                    index,
                                    week,
                                )
                            })
                            .collect();
                        progress(outcomes.len() as u64);
                        outcomes
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let mut stats = Week::default();
        for (person, outcome) in people.iter().zip(&outcomes) {
            if person.control {
                stats.rx_control += outcome.rx;
                continue;
            }
            stats.rx_treated += outcome.rx;
            stats.touches += u64::from(outcome.touched);
            stats.responses += u64::from(outcome.responded);
            stats.opt_outs += u64::from(outcome.opted_out);
            stats.cost += outcome.cost;
            if let Some((channel, topic, responded)) = outcome.learned {
                // Learned at the week's end, in HCP order: the same model whatever the threads.
                let context = ArmContext {
                    channel: CHANNELS[channel],
                    topic: TOPICS[topic],
                    specialty: &person.hcp.specialty,
                    country: &person.hcp.country,
                    hcp: person.hcp.id.as_str(),
                };
                model.record(&context, responded);
            }
        }
        weeks.push(stats);
    }
    let treated = people.iter().filter(|p| !p.control).count();
    let reached = tracks
        .iter()
        .zip(people)
        .filter(|(t, p)| !p.control && t.touched)
        .count();
    let opted_out = tracks
        .iter()
        .zip(people)
        .filter(|(t, p)| !p.control && t.opted_out)
        .count();
    PolicyRun {
        policy,
        treated,
        control: people.len() - treated,
        weeks,
        reached,
        opted_out,
    }
}

#[allow(clippy::too_many_arguments)]
fn simulate_week(
    config: &SimConfig,
    policy: Policy,
    engine: &Engine,
    model: &Model,
    state_config: &StateConfig,
    library: &[Content],
    person: &Person,
    track: &mut Track,
    index: u64,
    week: u32,
) -> Outcome {
    let world = &config.world;
    // The same draws for this HCP and week under every policy.
    let mut rng = ChaCha8Rng::seed_from_u64(mix(config.seed, index, u64::from(week), 2));
    let rx_noise: f64 = rng.random();
    let response_draw: f64 = rng.random();
    let noise_draw: f64 = rng.random();
    let noise_response: f64 = rng.random();
    let opt_out_draw: f64 = rng.random();
    let machine_draw: f64 = rng.random();
    let visit_draw: f64 = rng.random();
    let visit_topic = rng.random_range(0..TOPICS.len());
    let attention_draw: f64 = rng.random();
    let monday = config.start.millis() + i64::from(week) * WEEK_MS;
    let mut outcome = Outcome::default();
    if !person.control {
        let now = Timestamp::from_millis(monday);
        let action = choose(
            config, policy, engine, model, library, person, track, index, week, now,
        );
        if let Some(action) = action {
            let at = Timestamp::from_millis(
                monday + i64::from(action.weekday) * DAY_MS + 10 * 3_600_000,
            );
            let channel = CHANNELS[action.channel];
            let fatigue_touches = track
                .recent
                .iter()
                .filter(|&&w| week.saturating_sub(w) < 4)
                .count();
            // The funnel: the touch gets the HCP's attention (an email opened, a detail's
            // slides looked at) as the channel reaches them, on their day, unfatigued; then
            // they engage as the topic interests them.
            let mut attention = person.reach[action.channel];
            if action.weekday != person.weekday {
                attention *= world.off_day_factor;
            }
            attention *=
                (-world.fatigue_per_touch * fatigue_touches.saturating_sub(2) as f64).exp();
            let attended = attention_draw < attention;
            let engage = person.engage_chance(world, action.topic);
            let responded = if noise_draw < world.noise {
                noise_response < world.noise_rate
            } else {
                attended && response_draw < engage
            };
            let attended = attended || responded;
            let factor = expected_factor(world, track, week, action.weekday);
            if let Some(belief) = &mut track.belief {
                belief.observe_touch(
                    world,
                    &Seen {
                        channel: action.channel,
                        topic: action.topic,
                        factor,
                        attended,
                        responded,
                    },
                );
            }
            let opted_out = channel == Channel::Email
                && opt_out_draw
                    < world.opt_out_base
                        + world.opt_out_per_touch * fatigue_touches.saturating_sub(2) as f64;
            let content = format!(
                "{}-{}",
                if channel == Channel::Email {
                    "EM"
                } else {
                    "KM"
                },
                TOPICS[action.topic]
            );
            let topics = [TOPICS[action.topic].to_owned()];
            let observe = |track: &mut Track,
                           offset_ms: i64,
                           kind: EventType,
                           dwell: Option<i64>,
                           proxy: bool| {
                let observation = Observation {
                    at: Timestamp::from_millis(at.millis() + offset_ms),
                    channel,
                    kind,
                    content_id: Some(content.clone()),
                    dwell_ms: dwell,
                    consent: None,
                    proxy,
                };
                track.state.apply(&observation, &topics, state_config);
            };
            if channel == Channel::Email {
                observe(track, 0, EventType::Sent, None, false);
                observe(track, 1_000, EventType::Delivered, None, false);
                if machine_draw < world.machine_opens {
                    observe(track, 3_000, EventType::Opened, None, true);
                }
                // A person reads email at their own moment: within the hour on their day, else
                // on their next one.
                let read_after =
                    i64::from((person.weekday + 7 - action.weekday) % 7) * DAY_MS + 3_600_000;
                if attended {
                    observe(track, read_after, EventType::Opened, None, false);
                }
                if responded {
                    observe(track, read_after + 60_000, EventType::Clicked, None, false);
                }
                if opted_out {
                    let observation = Observation {
                        at: Timestamp::from_millis(at.millis() + 7_200_000),
                        channel,
                        kind: EventType::Unsubscribed,
                        content_id: None,
                        dwell_ms: None,
                        consent: Some((ConsentState::Withdrawn, DEFAULT_PURPOSE.into())),
                        proxy: false,
                    };
                    track.state.apply(&observation, &[], state_config);
                }
            } else {
                observe(track, 0, EventType::CallLogged, None, false);
                if responded {
                    observe(track, 60_000, EventType::SlideViewed, Some(45_000), false);
                } else if attended {
                    // Looked at, not engaged with: a glance shorter than an engaged view.
                    observe(track, 60_000, EventType::SlideViewed, Some(4_000), false);
                }
            }
            track.recent.retain(|&w| week.saturating_sub(w) < 4);
            track.recent.push(week);
            track.touched = true;
            if opted_out && !track.opted_out {
                track.opted_out = true;
                outcome.opted_out = true;
            }
            outcome.touched = true;
            outcome.responded = responded;
            outcome.cost = world.cost(channel);
            if policy == Policy::ClosedLoop {
                outcome.learned = Some((action.channel, action.topic, responded));
            }
        }
        track.stock =
            track.stock * world.engagement_memory + f64::from(u8::from(outcome.responded));
        if visit_draw < world.own_visits {
            // Mostly pages on the HCP's favourite topics, at their own moment.
            let topic =
                if person.interest[visit_topic] >= 1.0 || visit_draw < world.own_visits / 2.0 {
                    person
                        .interest
                        .iter()
                        .position(|&i| i >= 1.0)
                        .unwrap_or(visit_topic)
                } else {
                    visit_topic
                };
            let observation = Observation {
                at: Timestamp::from_millis(
                    monday + i64::from(person.weekday) * DAY_MS + 13 * 3_600_000,
                ),
                channel: Channel::Web,
                kind: EventType::ContentViewed,
                content_id: Some(format!("web-{}", TOPICS[topic])),
                dwell_ms: Some(60_000),
                consent: None,
                proxy: false,
            };
            track.state.apply(
                &observation,
                &[TOPICS[topic].to_owned()],
                &StateConfig::default(),
            );
            if let Some(belief) = &mut track.belief {
                belief.observe_visit(topic);
            }
        }
    }
    // Prescriptions: the HCP's own baseline, a trend that moves without marketing, the lift of
    // recent engagement, and noise (Poisson, drawn by inversion from the week's own draw).
    let lambda = person.rx_mean
        * (1.0 + world.rx_trend_per_week * f64::from(week)).max(0.0)
        * (1.0 + world.rx_lift * track.stock);
    outcome.rx = poisson_quantile(lambda, rx_noise);
    outcome
}

/// The Poisson(λ) count whose distribution function first reaches `u`: a draw by inversion, so
/// that every policy uses the same uniform for the same HCP and week.
fn poisson_quantile(lambda: f64, u: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    if lambda > 500.0 {
        // e^-λ underflows; such rates do not occur in these worlds.
        return lambda.round();
    }
    let mut k = 0.0;
    let mut p = (-lambda).exp();
    let mut cumulative = p;
    while cumulative < u && k < 1000.0 {
        k += 1.0;
        p *= lambda / k;
        cumulative += p;
    }
    k
}

/// The policy's action for one HCP this week, if any; every action passes the hard constraints.
#[allow(clippy::too_many_arguments)]
fn choose(
    config: &SimConfig,
    policy: Policy,
    engine: &Engine,
    model: &Model,
    library: &[Content],
    person: &Person,
    track: &Track,
    index: u64,
    week: u32,
    now: Timestamp,
) -> Option<Action> {
    let facts = HcpFacts {
        hcp: &person.hcp,
        consent: &person.consent,
        state: &track.state,
        planned: &[],
    };
    const TUESDAY: u32 = 1;
    let touch_day = |weekday: u32| {
        Timestamp::from_millis(now.millis() + i64::from(weekday) * DAY_MS + 10 * 3_600_000)
    };
    let allowed = |channel: usize, topic: usize, weekday: u32| {
        let id = format!(
            "{}-{}",
            if channel == 0 { "EM" } else { "KM" },
            TOPICS[topic]
        );
        library.iter().find(|c| c.id == id).is_some_and(|c| {
            engine
                .rules
                .check(&facts, c, CHANNELS[channel], touch_day(weekday))
                .is_ok()
        })
    };
    // Every policy but business-as-usual works in waves every other week.
    let wave = week % 2 == (index % 2) as u32;
    match policy {
        Policy::BusinessAsUsual => allowed(0, 0, TUESDAY).then_some(Action {
            channel: 0,
            topic: 0,
            weekday: TUESDAY,
        }),
        Policy::StaticRules => {
            if !wave {
                return None;
            }
            let specialty = specialty_index(&person.hcp);
            let topic = typical_topic(specialty);
            // Visits for the specialists, email for the rest.
            let channel = if specialty == 1 { 0 } else { 1 };
            [channel, 2, 0]
                .into_iter()
                .find(|&c| allowed(c, topic, TUESDAY))
                .map(|channel| Action {
                    channel,
                    topic,
                    weekday: TUESDAY,
                })
        }
        Policy::ClosedLoop => {
            if !wave {
                return None;
            }
            let weekday = track.state.preferred_weekday().unwrap_or(TUESDAY).min(4);
            let request = Request {
                facts,
                content: library,
                channels: None,
                n: 1,
                now: touch_day(weekday),
            };
            let mut rng = ChaCha8Rng::seed_from_u64(mix(config.seed, index, u64::from(week), 3));
            let decision = engine.decide(&request, model, &mut rng);
            let chosen = &decision.actions[decision.chosen?];
            let channel = CHANNELS.iter().position(|c| *c == chosen.channel)?;
            let item = library.iter().find(|c| c.id == chosen.content_id)?;
            let topic = TOPICS.iter().position(|t| *t == topic_of(item))?;
            Some(Action {
                channel,
                topic,
                weekday,
            })
        }
        Policy::IdealLearner => {
            if !wave {
                return None;
            }
            let weekday = track.state.preferred_weekday().unwrap_or(TUESDAY).min(4);
            let mut rng = ChaCha8Rng::seed_from_u64(mix(config.seed, index, u64::from(week), 3));
            let factor = expected_factor(&config.world, track, week, weekday);
            let (channel, topic) = track.belief.as_ref()?.choose(
                &config.world,
                factor,
                engine.economics.as_ref(),
                |channel, topic| allowed(channel, topic, weekday),
                &mut rng,
            )?;
            Some(Action {
                channel,
                topic,
                weekday,
            })
        }
        Policy::Oracle => {
            if !wave {
                return None;
            }
            let weekday = person.weekday;
            let economics = &engine.economics;
            let mut best: Option<(f64, Action)> = None;
            for (channel, &medium) in CHANNELS.iter().enumerate() {
                for topic in 0..TOPICS.len() {
                    let chance = person.response_chance(&config.world, channel, topic);
                    // The same economics as the closed loop: the net value of the touch.
                    let value = economics
                        .as_ref()
                        .map_or(chance, |e| e.net_value(medium, chance));
                    if economics.is_some() && value <= 0.0 {
                        continue;
                    }
                    if best.is_none_or(|(b, _)| value > b) && allowed(channel, topic, weekday) {
                        best = Some((
                            value,
                            Action {
                                channel,
                                topic,
                                weekday,
                            },
                        ));
                    }
                }
            }
            best.map(|(_, a)| a)
        }
    }
}
