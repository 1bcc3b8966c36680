//! What a campaign did: KPIs by any breakdown and date range, and the report — lift of each arm
//! (and of all arms together) over the holdout with intervals and p-values, ROMI with its
//! interval, and the check of the holdout split. `GET /v1/campaigns/{id}/kpis`,
//! `GET /v1/campaigns/{id}/report` and the campaign page answer it; `openclm report campaign`
//! prints the same numbers.

use std::collections::BTreeMap;

use openclm_core::campaign::Campaign;
use openclm_core::measure::kpi::{Counts, Rates};
use openclm_core::measure::responders::{Reason, classify, step};
use openclm_core::measure::stats::{
    Lift, Moments, Proportion, Romi, SampleRatio, mean_lift, proportion_lift, romi, sample_ratio,
};
use openclm_core::{FieldError, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{GroupMoments, HOLDOUT, KpiFilter, SliceRow, StoreError};
use serde::{Deserialize, Serialize};

use crate::campaigns::{load_campaign, wave_number};
use crate::{AppError, Caller};
use openclm_core::auth::Action;

const DAY_MS: i64 = 86_400_000;

/// How KPI rows are broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    Arm,
    Wave,
    Channel,
    Content,
    /// Specialty × country. Answered as `segment`, its earlier name.
    #[serde(rename = "segment", alias = "peer_group")]
    PeerGroup,
    Day,
}

impl Breakdown {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Ok(match text {
            "arm" => Self::Arm,
            "wave" => Self::Wave,
            "channel" => Self::Channel,
            "content" => Self::Content,
            "peer_group" | "segment" => Self::PeerGroup,
            "day" => Self::Day,
            _ => {
                return Err(FieldError::new(
                    field,
                    format!(
                        "unknown breakdown {text:?}; expected arm, wave, channel, content, \
                         peer_group (or segment) or day"
                    ),
                ));
            }
        })
    }
}

/// Counts with their rates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiRow {
    pub key: String,
    pub counts: Counts,
    pub rates: Rates,
}

/// One group's people: how many were targeted, reached and responded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub group: String,
    pub targeted: u64,
    pub reached: u64,
    pub responders: u64,
    pub touches: u64,
    /// Touches per targeted HCP.
    pub touches_per_hcp: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpis {
    pub campaign_id: String,
    pub from: Option<String>,
    pub until: Option<String>,
    pub by: Option<Breakdown>,
    pub total: KpiRow,
    /// Per group, over the whole campaign (people are counted once, whatever the dates).
    pub groups: Vec<GroupRow>,
    pub rows: Vec<KpiRow>,
}

fn group_name(campaign: &Campaign, group: i64) -> String {
    if group == HOLDOUT {
        "holdout".into()
    } else {
        campaign
            .arms
            .get(group as usize)
            .map_or_else(|| format!("arm {group}"), |a| a.name.clone())
    }
}

fn day_text(day: i64) -> String {
    let at = Timestamp::from_millis(day * DAY_MS).to_string();
    at.get(..10).unwrap_or(&at).to_owned()
}

fn key_of(campaign: &Campaign, by: Breakdown, s: &SliceRow) -> String {
    match by {
        Breakdown::Arm => group_name(campaign, s.group),
        Breakdown::Wave if s.wave == 0 => "none".into(),
        Breakdown::Wave => campaign
            .waves
            .get(s.wave as usize - 1)
            .map_or_else(|| format!("wave {}", s.wave), |w| w.name.clone()),
        Breakdown::Channel => s.channel.as_str().to_owned(),
        Breakdown::Content if s.content_id.is_empty() => "none".into(),
        Breakdown::Content => s.content_id.clone(),
        Breakdown::PeerGroup => format!("{} {}", s.specialty, s.country),
        Breakdown::Day => day_text(s.day),
    }
}

fn row(key: String, counts: Counts) -> KpiRow {
    KpiRow {
        rates: counts.rates(),
        key,
        counts,
    }
}

fn groups(campaign: &Campaign, moments: &[GroupMoments]) -> Vec<GroupRow> {
    moments
        .iter()
        .map(|m| GroupRow {
            group: group_name(campaign, m.group),
            targeted: m.members,
            reached: m.reached,
            responders: m.responders,
            touches: m.touches,
            touches_per_hcp: (m.members > 0).then(|| m.touches as f64 / m.members as f64),
        })
        .collect()
}

/// A date (`2026-12-01`) or a timestamp, as the day it falls on.
fn parse_day(field: &str, text: &str) -> Result<i64, FieldError> {
    let stamp = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let at = Timestamp::parse(field, &stamp)
        .map_err(|_| FieldError::new(field, "must be a date such as 2026-12-01 or a timestamp"))?;
    Ok(at.millis().div_euclid(DAY_MS))
}

/// Campaign `id`, if the caller may read reports on it: what the report functions below are
/// given by a caller that checks once and reads several.
pub async fn open<S: Store>(store: &S, caller: &Caller, id: &str) -> Result<Campaign, AppError> {
    caller.require(Action::ReadReports)?;
    load_campaign(store, id).await
}

/// A campaign's KPIs, if the caller may read reports: what `GET /v1/campaigns/{id}/kpis` answers
/// (`by` a breakdown's name, `from` and `until` days, `until` included).
pub async fn read_kpis<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    by: Option<&str>,
    from: Option<&str>,
    until: Option<&str>,
) -> Result<Kpis, AppError> {
    let campaign = open(store, caller, id).await?;
    let by = by.map(|b| Breakdown::parse("by", b)).transpose()?;
    kpis(store, &campaign, by, from, until).await
}

/// A campaign's report at confidence `level` (0.95 unless given), if the caller may read
/// reports.
pub async fn read_report<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    level: Option<f64>,
) -> Result<Report, AppError> {
    let campaign = open(store, caller, id).await?;
    report(store, &campaign, level.unwrap_or(0.95)).await
}

/// Who responded to a wave, who did not and why, if the caller may read reports (`number` as the
/// caller wrote it: 1 for the first wave).
pub async fn read_responders<S: Store>(
    store: &S,
    caller: &Caller,
    id: &str,
    number: &str,
    now: Timestamp,
) -> Result<Responders, AppError> {
    let campaign = open(store, caller, id).await?;
    let number = wave_number(number)?;
    responders(store, &campaign, number, now).await
}

/// The campaign's KPIs: every stored event counted. Unchecked: for a campaign from [`open`] and
/// the operator's command line (see [`read_kpis`]).
pub async fn kpis<S: Store>(
    store: &S,
    campaign: &Campaign,
    by: Option<Breakdown>,
    from: Option<&str>,
    until: Option<&str>,
) -> Result<Kpis, AppError> {
    let from_day = from.map(|f| parse_day("from", f)).transpose()?;
    // `until` names the last day included.
    let until_day = until
        .map(|u| parse_day("until", u).map(|d| d + 1))
        .transpose()?;
    if let (Some(f), Some(u)) = (from_day, until_day)
        && u <= f
    {
        return Err(FieldError::new("until", "must not be before from").into());
    }
    let slices = store
        .campaign_slices(KpiFilter {
            campaign_id: campaign.id.clone(),
            from_day,
            until_day,
        })
        .await?;
    let moments = store.campaign_moments(campaign.id.clone()).await?;
    Ok(sum_kpis(campaign, by, (from, until), &slices, &moments))
}

/// The KPIs from the campaign's slices and group sums as read.
fn sum_kpis(
    campaign: &Campaign,
    by: Option<Breakdown>,
    (from, until): (Option<&str>, Option<&str>),
    slices: &[SliceRow],
    moments: &[GroupMoments],
) -> Kpis {
    let mut total = Counts::default();
    let mut by_key: BTreeMap<String, Counts> = BTreeMap::new();
    for s in slices {
        total.add(&s.counts);
        if let Some(by) = by {
            by_key
                .entry(key_of(campaign, by, s))
                .or_default()
                .add(&s.counts);
        }
    }
    Kpis {
        campaign_id: campaign.id.clone(),
        from: from.map(str::to_owned),
        until: until.map(str::to_owned),
        by,
        total: row("total".into(), total),
        groups: groups(campaign, moments),
        rows: by_key.into_iter().map(|(k, c)| row(k, c)).collect(),
    }
}

/// One arm (or all arms together) against the holdout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmLift {
    pub arm: String,
    pub treated: u64,
    pub holdout: u64,
    /// Share of HCPs with at least one response.
    pub responder_rate: Option<Lift>,
    pub responses_per_hcp: Option<Lift>,
    pub outcome_per_hcp: Option<Lift>,
    /// Why a lift is missing, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub campaign_id: String,
    pub name: String,
    pub product: String,
    pub level: f64,
    pub kpis: Kpis,
    pub sample_ratio: Option<SampleRatio>,
    pub lift: Vec<ArmLift>,
    /// Touches of the treated groups times the cost per touch of their channel.
    pub cost: f64,
    pub romi: Option<Romi>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub romi_note: Option<String>,
}

fn sum_moments(ms: &[&GroupMoments]) -> GroupMoments {
    ms.iter().fold(
        GroupMoments {
            group: 0,
            ..GroupMoments::default()
        },
        |mut a, m| {
            a.members += m.members;
            a.reached += m.reached;
            a.responders += m.responders;
            a.responses += m.responses;
            a.responses_sq += m.responses_sq;
            a.outcome += m.outcome;
            a.outcome_sq += m.outcome_sq;
            a.touches += m.touches;
            a
        },
    )
}

fn arm_lift(name: String, treated: &GroupMoments, holdout: &GroupMoments, level: f64) -> ArmLift {
    let moments = |n: u64, sum: f64, sq: f64| Moments {
        n,
        sum,
        sum_squares: sq,
    };
    let mut notes = Vec::new();
    let mut keep = |r: Result<Lift, FieldError>| match r {
        Ok(l) => Some(l),
        Err(e) => {
            notes.push(format!("{}: {}", e.field, e.reason));
            None
        }
    };
    let responder_rate = keep(proportion_lift(
        Proportion {
            successes: treated.responders,
            trials: treated.members,
        },
        Proportion {
            successes: holdout.responders,
            trials: holdout.members,
        },
        level,
    ));
    let responses_per_hcp = keep(mean_lift(
        &moments(treated.members, treated.responses, treated.responses_sq),
        &moments(holdout.members, holdout.responses, holdout.responses_sq),
        level,
    ));
    let outcome_per_hcp = keep(mean_lift(
        &moments(treated.members, treated.outcome, treated.outcome_sq),
        &moments(holdout.members, holdout.outcome, holdout.outcome_sq),
        level,
    ));
    notes.dedup();
    ArmLift {
        arm: name,
        treated: treated.members,
        holdout: holdout.members,
        responder_rate,
        responses_per_hcp,
        outcome_per_hcp,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

/// The campaign's report at confidence `level`, unchecked (see [`read_report`]).
pub async fn report<S: Store>(
    store: &S,
    campaign: &Campaign,
    level: f64,
) -> Result<Report, AppError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(FieldError::new("level", "must be between 0 and 1, e.g. 0.95").into());
    }
    // One read of the slices and one of the group sums serve the whole report.
    let slices = store
        .campaign_slices(KpiFilter {
            campaign_id: campaign.id.clone(),
            ..KpiFilter::default()
        })
        .await?;
    let moments = store.campaign_moments(campaign.id.clone()).await?;
    let kpis = sum_kpis(
        campaign,
        Some(Breakdown::Arm),
        (None, None),
        &slices,
        &moments,
    );
    let cost: f64 = slices
        .iter()
        .filter(|s| s.group != HOLDOUT)
        .map(|s| s.counts.touches as f64 * campaign.cost_of(s.channel))
        .sum();
    let holdout = moments
        .iter()
        .find(|m| m.group == HOLDOUT)
        .copied()
        .unwrap_or(GroupMoments {
            group: HOLDOUT,
            ..GroupMoments::default()
        });
    let treated: Vec<&GroupMoments> = moments.iter().filter(|m| m.group != HOLDOUT).collect();
    let all = sum_moments(&treated);
    let mut lift = vec![arm_lift("all arms".into(), &all, &holdout, level)];
    if campaign.arms.len() > 1 {
        for (i, arm) in campaign.arms.iter().enumerate() {
            let m = treated
                .iter()
                .find(|m| m.group == i as i64)
                .map_or(GroupMoments::default(), |m| **m);
            lift.push(arm_lift(arm.name.clone(), &m, &holdout, level));
        }
    }
    let sample_ratio = (campaign.holdout_share > 0.0)
        .then(|| sample_ratio(holdout.members, all.members, campaign.holdout_share).ok())
        .flatten();
    let (romi, romi_note) = match &lift[0].outcome_per_hcp {
        None => (
            None,
            Some("no outcome lift to value (a holdout and treated HCPs are needed)".to_owned()),
        ),
        Some(outcome) => match romi(outcome, all.members, campaign.value_per_outcome, cost) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(format!("{}: {}", e.field, e.reason))),
        },
    };
    Ok(Report {
        campaign_id: campaign.id.clone(),
        name: campaign.name.clone(),
        product: campaign.product.clone(),
        level,
        kpis,
        sample_ratio,
        lift,
        cost,
        romi,
        romi_note,
    })
}

/// One group of a wave's treated HCPs by why they did or did not respond, with what the next
/// wave does for them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonRow {
    pub reason: Reason,
    pub hcps: u64,
    pub share: f64,
    pub next_wave: &'static str,
}

/// What a set of HCPs was sent, and who they are: counts per channel, topic, specialty and the
/// weekday their touch arrived.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Profile {
    pub hcps: u64,
    pub channel: BTreeMap<String, u64>,
    pub topic: BTreeMap<String, u64>,
    pub specialty: BTreeMap<String, u64>,
    pub weekday: BTreeMap<String, u64>,
}

/// A trait more common among responders than non-responders (or less), in shares of each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub dimension: &'static str,
    pub value: String,
    pub responders: f64,
    pub non_responders: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Responders {
    pub campaign_id: String,
    pub wave: u32,
    pub ran_at: Timestamp,
    pub treated: u64,
    pub reasons: Vec<ReasonRow>,
    pub responders: Profile,
    pub non_responders: Profile,
    /// The traits whose shares differ most between the two, largest first.
    pub differences: Vec<Difference>,
    /// Whether the next wave adopts the plan (the campaign is adaptive).
    pub adopted_by_next_wave: bool,
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

fn weekday(at: Timestamp) -> &'static str {
    // 1970-01-01 was a Thursday.
    WEEKDAYS[((at.millis().div_euclid(DAY_MS) + 3).rem_euclid(7)) as usize]
}

/// The responder analysis of wave `number` (1-based), every stored event counted. Unchecked
/// (see [`read_responders`]).
pub async fn responders<S: Store>(
    store: &S,
    campaign: &Campaign,
    number: u32,
    now: Timestamp,
) -> Result<Responders, AppError> {
    let ran = store
        .list_waves(campaign.id.clone())
        .await?
        .into_iter()
        .find(|w| w.wave == number)
        .ok_or_else(|| AppError::NotFound("wave that has run".into()))?;
    let rows = store.wave_members(campaign.id.clone(), number).await?;
    let library = crate::decide::content_library(store, now).await?;
    let topic_of = |id: &str| {
        library.iter().find(|c| c.id == id).map_or_else(
            || id.to_owned(),
            |c| openclm_core::engine::topic_of(c).to_owned(),
        )
    };
    let mut counts: BTreeMap<Reason, u64> = BTreeMap::new();
    let (mut yes, mut no) = (Profile::default(), Profile::default());
    for row in &rows {
        let reason = classify(&crate::campaigns::outcome_of(row));
        *counts.entry(reason).or_default() += 1;
        let p = if reason == Reason::Responded {
            &mut yes
        } else {
            &mut no
        };
        p.hcps += 1;
        if let Some(c) = row.member.channel {
            *p.channel.entry(c.as_str().to_owned()).or_default() += 1;
        }
        if let Some(id) = &row.member.content_id {
            *p.topic.entry(topic_of(id)).or_default() += 1;
        }
        *p.specialty.entry(row.specialty.clone()).or_default() += 1;
        if let Some(at) = row.first_delivered_at {
            *p.weekday.entry(weekday(at).to_owned()).or_default() += 1;
        }
    }
    let treated = rows.len() as u64;
    let reasons = Reason::ALL
        .iter()
        .map(|&reason| {
            let hcps = counts.get(&reason).copied().unwrap_or(0);
            ReasonRow {
                reason,
                hcps,
                share: if treated > 0 {
                    hcps as f64 / treated as f64
                } else {
                    0.0
                },
                next_wave: step(reason).action,
            }
        })
        .collect();
    let mut differences = Vec::new();
    for (dimension, a, b) in [
        ("channel", &yes.channel, &no.channel),
        ("topic", &yes.topic, &no.topic),
        ("specialty", &yes.specialty, &no.specialty),
        ("weekday", &yes.weekday, &no.weekday),
    ] {
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for key in keys {
            let share = |m: &BTreeMap<String, u64>, n: u64| {
                if n == 0 {
                    0.0
                } else {
                    m.get(key).copied().unwrap_or(0) as f64 / n as f64
                }
            };
            differences.push(Difference {
                dimension,
                value: key.clone(),
                responders: share(a, yes.hcps),
                non_responders: share(b, no.hcps),
            });
        }
    }
    differences.sort_by(|x, y| {
        (y.responders - y.non_responders)
            .abs()
            .total_cmp(&(x.responders - x.non_responders).abs())
            .then_with(|| x.dimension.cmp(y.dimension))
            .then_with(|| x.value.cmp(&y.value))
    });
    differences.truncate(8);
    Ok(Responders {
        campaign_id: campaign.id.clone(),
        wave: number,
        ran_at: ran.ran_at,
        treated,
        reasons,
        responders: yes,
        non_responders: no,
        differences,
        adopted_by_next_wave: campaign.adaptive,
    })
}

/// How often `openclm serve` folds new events into the KPIs (reads also catch up first).
pub const KPI_FOLD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Folds new events into the KPIs every [`KPI_FOLD_INTERVAL`] until aborted, so reads find
/// little to catch up on.
pub fn spawn_kpi_folder<S: Store>(store: S) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KPI_FOLD_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let result: Result<(), StoreError> = async {
                while store.fold_kpis(5_000).await? == 5_000 {}
                while store.fold_activity(5_000).await? == 5_000 {}
                Ok(())
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "folding events into campaign KPIs failed; retried");
            }
        }
    })
}
