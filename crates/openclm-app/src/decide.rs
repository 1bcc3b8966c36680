//! Deciding: the next best actions for one HCP or many, each decision logged with its
//! candidates, choice, propensities and explanations (`POST /v1/decide`, `openclm decide`, the
//! demo), and the preview an HCP's profile shows without logging.

use openclm_core::auth::{Action, Scope};
use openclm_core::consent::ConsentRecord;
use openclm_core::content::{Content, ContentStatus};
use openclm_core::engine::model::{ArmContext, Level, Model, node_key};
use openclm_core::engine::rules::{HcpFacts, Planned};
use openclm_core::engine::{BlockedCount, Engine, Request, channels_for, topic_of};
use openclm_core::state::HcpState;
use openclm_core::{Channel, FieldError, Hcp, HcpId, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{ContentFilter, DecisionRecord, PageRequest, StoreError};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

use crate::{AppError, Caller};

/// Most HCPs decided for in one request.
const MAX_HCPS: usize = 1000;

/// What a caller asks to be decided: one HCP (`hcp`), several (`hcps`), or both; the channels to
/// consider (all when empty) and how many ranked actions each answer lists (3 unless given).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    pub hcp: Option<String>,
    #[serde(default)]
    pub hcps: Vec<String>,
    #[serde(default)]
    pub channels: Vec<String>,
    pub n: Option<usize>,
}

/// What `POST /v1/decide` answers for one HCP: the decision, or why there is none.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Decided(Box<DecisionAnswer>),
    /// The HCP named is not known.
    Unknown(UnknownHcp),
}

impl Answer {
    /// The decision, when one was made.
    pub fn decision(&self) -> Option<&DecisionAnswer> {
        match self {
            Answer::Decided(d) => Some(d),
            Answer::Unknown(_) => None,
        }
    }

    /// The HCP the answer is for.
    pub fn hcp_id(&self) -> &HcpId {
        match self {
            Answer::Decided(d) => &d.hcp_id,
            Answer::Unknown(u) => &u.hcp_id,
        }
    }
}

/// The answer for an HCP nobody has registered.
#[derive(Debug, Clone, Serialize)]
pub struct UnknownHcp {
    pub hcp_id: HcpId,
    pub error: AnswerError,
}

/// Why an HCP of a request has no decision, as the API's errors say it.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerError {
    pub code: &'static str,
    pub message: &'static str,
}

/// One decision for one HCP, as answered and logged.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionAnswer {
    pub hcp_id: HcpId,
    pub decision_id: String,
    pub made_at: Timestamp,
    /// The best allowed actions, best first; the engine's pick among them is `chosen`.
    pub actions: Vec<openclm_core::engine::Action>,
    pub chosen: Option<Chosen>,
    /// The first candidates a hard constraint blocked, with their reasons.
    pub blocked: Vec<BlockedAction>,
    /// Every blocked candidate counted per code.
    pub blocked_summary: Vec<BlockedCount>,
    /// Why nothing is allowed, when nothing is.
    pub nothing_allowed: Option<String>,
    /// Why the engine held back (no action worth its cost), when it did.
    pub held: Option<String>,
    pub propensity_method: &'static str,
    /// The version of the learned model decided with, in hex.
    pub model_version: String,
}

impl DecisionAnswer {
    /// How many candidates a hard constraint blocked: all of them, counted per code (`blocked`
    /// lists only the first).
    pub fn blocked_count(&self) -> usize {
        self.blocked_summary.iter().map(|b| b.candidates).sum()
    }

    /// The action the engine picked, if any.
    pub fn chosen_action(&self) -> Option<&openclm_core::engine::Action> {
        let chosen = self.chosen.as_ref()?;
        self.actions
            .iter()
            .find(|a| a.content_id == chosen.content_id && a.channel == chosen.channel)
    }
}

/// The engine's pick: which content, by which channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chosen {
    pub content_id: String,
    pub channel: Channel,
}

/// A candidate a hard constraint removed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct BlockedAction {
    pub content_id: String,
    pub channel: Channel,
    pub code: &'static str,
    pub reason: Arc<str>,
}

/// Decides for the HCPs `request` names, if the caller may decide for each; every decision is
/// logged, and each answer kept as `keep` makes it (an unknown HCP gets an `error` entry).
pub async fn decide<S: Store, T>(
    store: &S,
    caller: &Caller,
    engine: &Engine,
    request: DecideRequest,
    now: Timestamp,
    keep: impl Fn(Answer) -> T,
) -> Result<Vec<T>, AppError> {
    let scope = caller.require(Action::Decide)?;
    let mut ids = request.hcps;
    if let Some(one) = request.hcp {
        ids.insert(0, one);
    }
    if ids.is_empty() {
        return Err(FieldError::new("hcp", "name an HCP (hcp) or several (hcps)").into());
    }
    if ids.len() > MAX_HCPS {
        return Err(FieldError::new("hcps", format!("at most {MAX_HCPS} per request")).into());
    }
    let n = request.n.unwrap_or(3);
    if !(1..=50).contains(&n) {
        return Err(FieldError::new("n", "must be between 1 and 50").into());
    }
    let channels = request
        .channels
        .iter()
        .enumerate()
        .map(|(i, c)| Channel::parse(&format!("channels[{i}]"), c))
        .collect::<Result<Vec<_>, _>>()?;
    let ids = ids
        .iter()
        .enumerate()
        .map(|(i, id)| HcpId::parse(&format!("hcps[{i}]"), id))
        .collect::<Result<Vec<_>, _>>()?;
    if scope != Scope::All {
        for id in &ids {
            crate::caller::visible_hcp(store, caller, Action::Decide, id.as_str()).await?;
        }
    }
    let channels = (!channels.is_empty()).then_some(channels.as_slice());
    Ok(decide_each(store, engine, &ids, channels, n, now, keep).await?)
}

/// Decides for each HCP and logs each decision; the answers are what `POST /v1/decide` returns
/// per HCP (an unknown HCP gets an `error` entry).
pub async fn decide_for<S: Store>(
    store: &S,
    engine: &Engine,
    ids: &[HcpId],
    channels: Option<&[Channel]>,
    n: usize,
    now: Timestamp,
) -> Result<Vec<Answer>, StoreError> {
    decide_each(store, engine, ids, channels, n, now, |answer| answer).await
}

/// Decides for each HCP, keeps each answer as `keep` makes it, and logs every decision in one
/// durable write.
async fn decide_each<S: Store, T>(
    store: &S,
    engine: &Engine,
    ids: &[HcpId],
    channels: Option<&[Channel]>,
    n: usize,
    now: Timestamp,
    keep: impl Fn(Answer) -> T,
) -> Result<Vec<T>, StoreError> {
    let library = decision_library(store, now).await?;
    let mut decisions = Vec::with_capacity(ids.len());
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        let (answer, record) =
            decide_one(store, engine, &library, id.clone(), channels, n, now).await?;
        decisions.push(keep(answer));
        records.extend(record);
    }
    // One durable write for all of the request's decisions.
    store.log_decisions(records).await?;
    Ok(decisions)
}

/// Every content item, whatever its status.
pub async fn content_library<S: Store>(
    store: &S,
    now: Timestamp,
) -> Result<Vec<Content>, StoreError> {
    library_of(store, ContentFilter::default(), now).await
}

/// What a decision at `now` may choose from: content approved and unexpired at `now`. Drafts,
/// items in review, withdrawn and expired ones can never be an action, so they are not
/// candidates at all: a library of thousands of drafts costs a decision nothing.
pub async fn decision_library<S: Store>(
    store: &S,
    now: Timestamp,
) -> Result<Vec<Content>, StoreError> {
    let approved = ContentFilter {
        status: Some(ContentStatus::Approved),
        ..ContentFilter::default()
    };
    library_of(store, approved, now).await
}

async fn library_of<S: Store>(
    store: &S,
    filter: ContentFilter,
    now: Timestamp,
) -> Result<Vec<Content>, StoreError> {
    let mut library = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_content(
                filter.clone(),
                PageRequest {
                    cursor,
                    limit: 1000,
                },
                now,
            )
            .await?;
        library.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(library),
        }
    }
}

async fn decide_one<S: Store>(
    store: &S,
    engine: &Engine,
    library: &[Content],
    id: HcpId,
    channels: Option<&[Channel]>,
    n: usize,
    now: Timestamp,
) -> Result<(Answer, Option<DecisionRecord>), StoreError> {
    let Some(hcp) = store.get_hcp(id.clone()).await? else {
        let answer = Answer::Unknown(UnknownHcp {
            hcp_id: id,
            error: AnswerError {
                code: "not_found",
                message: "no HCP with this id",
            },
        });
        return Ok((answer, None));
    };
    let context = HcpContext::read(store, library, hcp, now).await?;
    let hold =
        Timestamp::from_millis(now.millis() + i64::from(engine.rules.reserve_hours) * 3_600_000);
    let decided = decide_with(engine, library, &context, channels, n, now, hold);
    Ok((
        Answer::Decided(Box::new(decided.answer)),
        Some(decided.record),
    ))
}

/// What a decision for one HCP needs from the store.
pub struct HcpContext {
    pub hcp: Hcp,
    consent: Vec<ConsentRecord>,
    learned: HcpState,
    /// Touches decided and not yet delivered whose content may still be used.
    planned: Vec<Planned>,
    model: Model,
}

impl HcpContext {
    pub async fn read<S: Store>(
        store: &S,
        library: &[Content],
        hcp: Hcp,
        now: Timestamp,
    ) -> Result<Self, StoreError> {
        let id = hcp.id.clone();
        let consent = store.consent_history(id.clone()).await?.unwrap_or_default();
        let learned = store.hcp_state(id.clone()).await?.unwrap_or_default();
        // A planned touch whose content was withdrawn or has expired will not be made.
        let usable = |content: &Option<String>| {
            content.as_ref().is_none_or(|c| {
                library
                    .iter()
                    .any(|item| &item.id == c && item.status_at(now) == ContentStatus::Approved)
            })
        };
        // A touch on the planned channel since the decision (a call logged without naming it)
        // is taken to be the planned one: it counts once, as the touch it is.
        let fulfilled = |p: &openclm_store::PlannedTouch| {
            let since = Timestamp::from_millis(p.at.millis() - 86_400_000);
            learned.touched_since(p.channel, since)
        };
        let planned = store
            .planned_touches(id, now)
            .await?
            .into_iter()
            .filter(|p| usable(&p.content_id) && !fulfilled(p))
            .map(|p| Planned {
                channel: p.channel,
                at: p.at,
            })
            .collect();
        let model = model_for(store, library, &hcp).await?;
        Ok(Self {
            hcp,
            consent,
            learned,
            planned,
            model,
        })
    }

    pub fn state(&self) -> &HcpState {
        &self.learned
    }

    pub fn facts(&self) -> HcpFacts<'_> {
        HcpFacts {
            hcp: &self.hcp,
            consent: &self.consent,
            state: &self.learned,
            planned: &self.planned,
        }
    }
}

/// A decision made and ready to log.
pub struct Decided {
    /// What `POST /v1/decide` answers for the HCP.
    pub answer: DecisionAnswer,
    pub record: DecisionRecord,
    /// The engine's pick, an index into the answer's `actions`.
    pub chosen: Option<usize>,
}

/// Decides for one HCP; the chosen action holds its place under the caps until `hold`.
pub fn decide_with(
    engine: &Engine,
    library: &[Content],
    context: &HcpContext,
    channels: Option<&[Channel]>,
    n: usize,
    now: Timestamp,
    hold: Timestamp,
) -> Decided {
    let hcp = &context.hcp;
    let decision_id = format!("dec_{:032x}", rand::random::<u128>());
    let mut rng =
        rand::rngs::StdRng::seed_from_u64(xxhash_rust::xxh3::xxh3_64(decision_id.as_bytes()));
    let request = Request {
        facts: context.facts(),
        content: library,
        channels,
        n,
        now,
    };
    let decision = engine.decide(&request, &context.model, &mut rng);
    let chosen = decision.chosen.map(|c| &decision.actions[c]);
    // The chosen action's arm: what its delivery and response will credit.
    let nodes = chosen.map(|a| {
        let arm = ArmContext {
            channel: a.channel,
            topic: &a.topic,
            specialty: &hcp.specialty,
            country: &hcp.country,
            hcp: hcp.id.as_str(),
        };
        [Level::Global, Level::PeerGroup, Level::Hcp].map(|level| node_key(level, &arm))
    });
    let chosen_content = chosen.map(|a| a.content_id.clone());
    let chosen_channel = chosen.map(|a| a.channel);
    // A decision that held back logs the hold's probability: holding is its action.
    let propensity = chosen
        .map(|a| a.propensity)
        .or(decision.held.as_ref().map(|_| decision.hold_propensity));
    let answer = DecisionAnswer {
        hcp_id: hcp.id.clone(),
        decision_id: decision_id.clone(),
        made_at: now,
        chosen: chosen_content
            .clone()
            .zip(chosen_channel)
            .map(|(content_id, channel)| Chosen {
                content_id,
                channel,
            }),
        blocked: decision
            .blocked
            .iter()
            .map(|b| BlockedAction {
                content_id: b.content_id.to_owned(),
                channel: b.channel,
                code: b.code,
                reason: b.reason.clone(),
            })
            .collect(),
        blocked_summary: decision.blocked_summary,
        nothing_allowed: decision.nothing_allowed,
        held: decision.held,
        propensity_method: decision.propensity_method,
        model_version: format!("{:016x}", decision.model_version),
        actions: decision.actions,
    };
    // The log keeps the allowed candidates with their propensities, for off-policy evaluation:
    // every one, or (beyond the engine's bound) the listed ones and the rest summed per channel.
    let mut body = serde_json::to_value(&answer).unwrap_or_default();
    if let Some(fields) = body.as_object_mut() {
        fields.insert("candidates".into(), json!(decision.allowed));
        if !decision.unlisted.is_empty() {
            fields.insert("candidates_unlisted".into(), json!(decision.unlisted));
        }
        fields.insert("hold_propensity".into(), json!(decision.hold_propensity));
    }
    let record = DecisionRecord {
        decision_id,
        hcp_id: hcp.id.to_string(),
        made_at: now,
        model_version: decision.model_version as i64,
        reserved_until: chosen_content.as_ref().map(|_| hold),
        chosen_content,
        chosen_channel,
        propensity,
        nodes,
        delivered_at: None,
        rewarded_at: None,
        body,
        campaign: None,
    };
    Decided {
        answer,
        record,
        chosen: decision.chosen,
    }
}

/// The part of the learned model this HCP's decision can use: every channel × topic of the
/// library at the three levels. Its version is a hash of exactly these counts.
async fn model_for<S: Store>(
    store: &S,
    library: &[Content],
    hcp: &openclm_core::Hcp,
) -> Result<Model, StoreError> {
    let mut arms: Vec<(Channel, &str)> = library
        .iter()
        .flat_map(|c| {
            channels_for(c.kind)
                .iter()
                .map(move |ch| (*ch, topic_of(c)))
        })
        .collect();
    arms.sort_unstable();
    arms.dedup();
    let keys: Vec<u64> = arms
        .iter()
        .flat_map(|&(channel, topic)| {
            let context = ArmContext {
                channel,
                topic,
                specialty: &hcp.specialty,
                country: &hcp.country,
                hcp: hcp.id.as_str(),
            };
            [Level::Global, Level::PeerGroup, Level::Hcp].map(|level| node_key(level, &context))
        })
        .collect();
    let mut nodes = store.model_nodes(keys).await?;
    nodes.sort_by_key(|(k, _)| *k);
    let mut version = xxhash_rust::xxh3::Xxh3::new();
    for (key, c) in &nodes {
        version.update(&key.to_le_bytes());
        version.update(&c.trials.to_bits().to_le_bytes());
        version.update(&c.successes.to_bits().to_le_bytes());
    }
    Ok(Model {
        counts: nodes.into_iter().collect(),
        version: version.digest(),
        ..Model::default()
    })
}

/// The ranked actions for one HCP, as `POST /v1/decide` would answer, without making (or
/// logging) a decision: what the HCP's profile page shows.
pub async fn preview<S: Store>(
    store: &S,
    engine: &Engine,
    hcp: openclm_core::Hcp,
    n: usize,
    now: Timestamp,
) -> Result<DecisionAnswer, StoreError> {
    let library = decision_library(store, now).await?;
    let context = HcpContext::read(store, &library, hcp, now).await?;
    Ok(decide_with(engine, &library, &context, None, n, now, now).answer)
}
