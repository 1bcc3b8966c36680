//! Campaigns: saving one (what was measured stays frozen once a wave has run), describing one
//! with its waves and groups, running its waves, and the scheduler that runs them when due.
//!
//! A wave decides, through the engine, for every treated HCP of the target (each arm limited to
//! its content and channels, every hard constraint checked) and stores the decisions, the
//! members of every group (holdout included) and a summary in one transaction, once: a wave run
//! again, or on another node, returns what the first run stored.

use std::collections::{BTreeMap, HashMap};

use openclm_core::auth::Action;
use openclm_core::campaign::{Campaign, Group};
use openclm_core::content::Content;
use openclm_core::hcp::parse_identifier;
use openclm_core::measure::responders::{Adapt, WaveOutcome, adapt, blocked_reason, classify};
use openclm_core::measure::stats::{SampleRatio, sample_ratio};
use openclm_core::{Channel, FieldError, Hcp, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{
    CampaignTag, HOLDOUT, HcpFilter, NewWave, PageRequest, StoreError, Upserted, WaveMember,
    WaveMemberRow, WaveRecord,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::decide::{HcpContext, decide_with, decision_library};
use crate::{AppError, Caller, Clock};

/// Why a campaign change is refused once a wave has run: the split and what was measured must
/// stay what they were.
fn frozen_change(old: &Campaign, new: &Campaign, ran: &[WaveRecord]) -> Option<FieldError> {
    let frozen = |field: &str| {
        Some(FieldError::new(
            field,
            "cannot change once a wave has run: the holdout and the arms would no longer be what \
             was measured (create a new campaign instead)",
        ))
    };
    if old.holdout_share != new.holdout_share {
        return frozen("holdout_share");
    }
    if old.arms != new.arms {
        return frozen("arms");
    }
    if old.target != new.target {
        return frozen("target");
    }
    if old.product != new.product {
        return frozen("product");
    }
    for done in ran {
        let index = done.wave as usize - 1;
        if old.waves.get(index) != new.waves.get(index) {
            return Some(FieldError::new(
                format!("waves[{index}]"),
                "has run and cannot be changed or removed",
            ));
        }
    }
    None
}

/// Saves a campaign, if the caller may write campaigns; the trail names the caller.
pub async fn save<S: Store>(
    store: &S,
    caller: &Caller,
    campaign: &Campaign,
    now: Timestamp,
) -> Result<Upserted, AppError> {
    caller.require(Action::WriteCampaigns)?;
    save_campaign(store, campaign, &caller.actor(), now).await
}

/// Runs wave `number` of campaign `id` (both as the caller wrote them), if the caller may write
/// campaigns; true when it ran now, false when it had run already.
pub async fn run_wave<S: Store>(
    store: &S,
    caller: &Caller,
    engine: &openclm_core::engine::Engine,
    id: &str,
    number: &str,
    now: Timestamp,
) -> Result<(WaveRecord, bool), AppError> {
    caller.require(Action::WriteCampaigns)?;
    // Both inputs are read before the campaign is looked up, so a malformed one is named as
    // such even when no campaign has that id.
    parse_identifier("id", id)?;
    let number = wave_number(number)?;
    let campaign = load_campaign(store, id).await?;
    run_wave_for(store, engine, &campaign, number, now).await
}

/// Stores a campaign as `actor`, refusing a change of what was measured once a wave has run (a
/// conflict). Unchecked: for [`save`] and the operator's command line.
pub async fn save_campaign<S: Store>(
    store: &S,
    campaign: &Campaign,
    actor: &str,
    now: Timestamp,
) -> Result<Upserted, AppError> {
    if let Some(old) = store.get_campaign(campaign.id.clone()).await? {
        let ran = store.list_waves(campaign.id.clone()).await?;
        if let Some(why) = frozen_change(&old, campaign, &ran) {
            return Err(AppError::Conflict(why));
        }
    }
    let saved = store
        .put_campaign(campaign.clone(), actor.to_owned(), now)
        .await?;
    tracing::info!(campaign = %campaign.id, "campaign saved");
    Ok(saved)
}

/// The campaign `id` names.
pub async fn load_campaign<S: Store>(store: &S, id: &str) -> Result<Campaign, AppError> {
    let id = parse_identifier("id", id)?;
    store
        .get_campaign(id)
        .await?
        .ok_or_else(|| AppError::NotFound("campaign".into()))
}

/// A wave's number as a caller writes it: 1 for the first wave.
pub fn wave_number(text: &str) -> Result<u32, AppError> {
    text.parse().map_err(|_| {
        FieldError::new("number", "must be the wave's number: 1 for the first wave").into()
    })
}

/// Every campaign, if the caller may read campaigns.
pub async fn list<S: Store>(store: &S, caller: &Caller) -> Result<Vec<Campaign>, AppError> {
    caller.require(Action::ReadCampaigns)?;
    Ok(store.list_campaigns().await?)
}

/// The campaign `id` names with its waves and groups, if the caller may read campaigns.
pub async fn view<S: Store>(store: &S, caller: &Caller, id: &str) -> Result<Described, AppError> {
    caller.require(Action::ReadCampaigns)?;
    let campaign = load_campaign(store, id).await?;
    let ran = store.list_waves(campaign.id.clone()).await?;
    let groups = store.campaign_groups(campaign.id.clone()).await?;
    Ok(describe(&campaign, &ran, &groups))
}

/// A campaign with its waves (scheduled and run), its groups and the split's check.
#[derive(Debug, Clone, Serialize)]
pub struct Described {
    pub campaign: Campaign,
    pub waves: Vec<WaveView>,
    pub groups: Groups,
    pub sample_ratio: Option<SampleRatio>,
}

/// One wave of a campaign, run or not.
#[derive(Debug, Clone, Serialize)]
pub struct WaveView {
    /// 1 for the first wave.
    pub number: usize,
    pub name: String,
    pub at: Timestamp,
    pub ran_at: Option<Timestamp>,
    /// What the run stored (see [`run_wave_for`]), once it has run.
    pub summary: Option<Value>,
}

impl WaveView {
    /// How many of the wave's treated HCPs got a decision, once it has run (older runs stored
    /// it as `decisions`).
    pub fn decided(&self) -> Option<u64> {
        let summary = self.summary.as_ref()?;
        summary
            .get("decided")
            .and_then(Value::as_u64)
            .or_else(|| summary.get("decisions").and_then(Value::as_u64))
    }
}

/// How a campaign's target was split.
#[derive(Debug, Clone, Serialize)]
pub struct Groups {
    pub holdout: u64,
    pub treated: u64,
    pub arms: Vec<ArmGroup>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArmGroup {
    pub name: String,
    pub hcps: u64,
}

/// The campaign with its waves (scheduled and run), its groups and the split's check.
pub fn describe(campaign: &Campaign, ran: &[WaveRecord], groups: &[(i64, u64)]) -> Described {
    let count = |g: i64| groups.iter().find(|(k, _)| *k == g).map_or(0, |(_, n)| *n);
    let holdout = count(HOLDOUT);
    let treated: u64 = groups
        .iter()
        .filter(|(g, _)| *g != HOLDOUT)
        .map(|(_, n)| n)
        .sum();
    let waves = campaign
        .waves
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let done = ran.iter().find(|r| r.wave as usize == i + 1);
            WaveView {
                number: i + 1,
                name: w.name.clone(),
                at: w.at,
                ran_at: done.map(|d| d.ran_at),
                summary: done.map(|d| d.summary.clone()),
            }
        })
        .collect();
    let arms = campaign
        .arms
        .iter()
        .enumerate()
        .map(|(i, a)| ArmGroup {
            name: a.name.clone(),
            hcps: count(i as i64),
        })
        .collect();
    let sample_ratio = (campaign.holdout_share > 0.0)
        .then(|| sample_ratio(holdout, treated, campaign.holdout_share).ok())
        .flatten();
    Described {
        campaign: campaign.clone(),
        waves,
        groups: Groups {
            holdout,
            treated,
            arms,
        },
        sample_ratio,
    }
}

/// Every HCP the campaign targets, by id.
async fn target<S: Store>(store: &S, campaign: &Campaign) -> Result<Vec<Hcp>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_hcps(
                HcpFilter::default(),
                PageRequest {
                    cursor,
                    limit: 1000,
                },
            )
            .await?;
        out.extend(page.items.into_iter().filter(|h| campaign.targets(h)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Runs wave `number` (1-based) of the campaign now, or returns it as it ran before. Returns
/// the stored wave and whether this call ran it.
pub async fn run_wave_for<S: Store>(
    store: &S,
    engine: &openclm_core::engine::Engine,
    campaign: &Campaign,
    number: u32,
    now: Timestamp,
) -> Result<(WaveRecord, bool), AppError> {
    let index = number as usize;
    if index == 0 || index > campaign.waves.len() {
        return Err(AppError::NotFound("wave".into()));
    }
    if let Some(done) = store
        .list_waves(campaign.id.clone())
        .await?
        .into_iter()
        .find(|w| w.wave == number)
    {
        return Ok((done, false));
    }
    let library = decision_library(store, now).await?;
    // Each arm offers the engine the campaign's product, or only its own content.
    let arm_libraries: Vec<Vec<Content>> = campaign
        .arms
        .iter()
        .map(|arm| {
            library
                .iter()
                .filter(|c| c.product == campaign.product)
                .filter(|c| arm.content_id.as_ref().is_none_or(|id| &c.id == id))
                .cloned()
                .collect()
        })
        .collect();
    let hold =
        Timestamp::from_millis(now.millis() + i64::from(engine.rules.reserve_hours) * 3_600_000);
    // An adaptive campaign's wave adopts the previous wave's plan for each HCP it treated.
    let plan: HashMap<String, Adapt> = if campaign.adaptive && number > 1 {
        store
            .wave_members(campaign.id.clone(), number - 1)
            .await?
            .into_iter()
            .map(|row| {
                let outcome = outcome_of(&row);
                (row.member.hcp_id, adapt(classify(&outcome), &outcome))
            })
            .collect()
    } else {
        HashMap::new()
    };
    let mut members = Vec::new();
    let mut treated = Vec::new();
    let mut decisions = Vec::new();
    let (mut held_out, mut decided, mut held, mut nothing, mut adapted) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut blocked: BTreeMap<String, u64> = BTreeMap::new();
    for hcp in target(store, campaign).await? {
        let group = campaign.group_of(hcp.id.as_str());
        let arm = match group {
            Group::Holdout => {
                held_out += 1;
                members.push((hcp.id.to_string(), HOLDOUT));
                continue;
            }
            Group::Treated(arm) => arm,
        };
        let hcp_id = hcp.id.to_string();
        members.push((hcp_id.clone(), arm as i64));
        let spec = &campaign.arms[arm];
        // The arm's channels, narrowed by the plan when one applies and leaves any.
        let mut channels: Vec<Channel> = spec.channels.clone();
        let mut own_library: Option<Vec<Content>> = None;
        if let Some(step) = plan.get(&hcp_id).filter(|a| **a != Adapt::default()) {
            let base: Vec<Channel> = if channels.is_empty() {
                Channel::ALL.to_vec()
            } else {
                channels.clone()
            };
            let narrowed: Vec<Channel> = base
                .into_iter()
                .filter(|c| step.only_channels.is_empty() || step.only_channels.contains(c))
                .filter(|c| !step.exclude_channels.contains(c))
                .collect();
            let items: Vec<Content> = arm_libraries[arm]
                .iter()
                .filter(|c| !step.exclude_content.contains(&c.id))
                .cloned()
                .collect();
            if !narrowed.is_empty() && !items.is_empty() {
                channels = narrowed;
                own_library = Some(items);
                adapted += 1;
            }
        }
        let library = own_library.as_deref().unwrap_or(&arm_libraries[arm]);
        let only = (!channels.is_empty()).then_some(channels.as_slice());
        let context = HcpContext::read(store, library, hcp, now).await?;
        let mut made = decide_with(engine, library, &context, only, 3, now, hold);
        let mut why = None;
        match (&made.chosen, &made.answer.held) {
            (Some(_), _) => decided += 1,
            (None, Some(_)) => {
                held += 1;
                why = Some(blocked_reason(&[], true));
            }
            _ => {
                nothing += 1;
                // Every code that blocked a candidate (the listed candidates are only the first).
                let mut codes: Vec<&str> =
                    made.answer.blocked_summary.iter().map(|b| b.code).collect();
                codes.sort_unstable();
                codes.dedup();
                for code in &codes {
                    *blocked.entry((*code).to_owned()).or_default() += 1;
                }
                why = Some(blocked_reason(&codes, false));
            }
        }
        made.record.campaign = Some(CampaignTag {
            campaign_id: campaign.id.clone(),
            wave: number,
            arm: arm as u32,
        });
        treated.push(WaveMember {
            hcp_id,
            group: arm as i64,
            decision_id: Some(made.record.decision_id.clone()),
            channel: made.record.chosen_channel,
            content_id: made.record.chosen_content.clone(),
            blocked: why.map(str::to_owned),
        });
        decisions.push(made.record);
    }
    let summary = json!({
        "targeted": members.len(),
        "holdout": held_out,
        "treated": members.len() as u64 - held_out,
        "decided": decided,
        "held_back": held,
        "nothing_allowed": nothing,
        "nothing_allowed_by_rule": blocked,
        "adapted_from_previous_wave": adapted,
    });
    let saved = store
        .save_wave(NewWave {
            campaign_id: campaign.id.clone(),
            wave: number,
            ran_at: now,
            members,
            treated,
            decisions,
            summary,
        })
        .await?;
    if saved.1 {
        tracing::info!(campaign = %campaign.id, wave = number, decided, "wave ran");
    }
    Ok(saved)
}

/// A wave member's facts as the responder analysis reads them.
pub fn outcome_of(row: &WaveMemberRow) -> WaveOutcome {
    WaveOutcome {
        channel: row.member.channel,
        content_id: row.member.content_id.clone(),
        blocked: row.member.blocked.clone(),
        delivered: row.delivered,
        opened: row.opened,
        engaged: row.engaged,
        responses: row.responses,
    }
}

/// Runs every wave whose time has come and which has not run, campaign by campaign, in order.
pub async fn run_due_waves<S: Store>(
    store: &S,
    engine: &openclm_core::engine::Engine,
    now: Timestamp,
) -> Result<Vec<WaveRecord>, AppError> {
    let mut ran = Vec::new();
    for campaign in store.list_campaigns().await? {
        let done: Vec<u32> = store
            .list_waves(campaign.id.clone())
            .await?
            .iter()
            .map(|w| w.wave)
            .collect();
        for (i, wave) in campaign.waves.iter().enumerate() {
            let number = i as u32 + 1;
            if wave.at > now || done.contains(&number) {
                continue;
            }
            let (record, ran_now) = run_wave_for(store, engine, &campaign, number, now).await?;
            if ran_now {
                ran.push(record);
            }
        }
    }
    Ok(ran)
}

/// How often `openclm serve` looks for waves whose time has come.
pub const WAVE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs due waves every [`WAVE_CHECK_INTERVAL`] until aborted. Several nodes may run this at
/// once: each wave is stored once, by whichever node stores it first.
pub fn spawn_wave_scheduler<S: Store>(
    store: S,
    engine: openclm_core::engine::Engine,
    clock: Clock,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(WAVE_CHECK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_due_waves(&store, &engine, clock()).await {
                tracing::warn!(error = %e, "running due campaign waves failed; retried at the next check");
            }
        }
    })
}
