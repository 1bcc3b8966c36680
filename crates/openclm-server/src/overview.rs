//! The brand-wide overview: reach, deliveries, opens by people and by machines, engagement and
//! touches per HCP over the last weeks, week by week and per channel (from the store's
//! all-activity rollup, every event counted once), and ROMI per campaign. `GET /v1/overview`;
//! the dashboard's overview shows the same.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use openclm_core::auth::Action;
use openclm_core::measure::kpi::{Counts, Rates};
use openclm_core::{Channel, FieldError, Timestamp};
use openclm_store::Store;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::{ApiError, AppState};

const DAY_MS: i64 = 86_400_000;
/// Weeks shown unless asked otherwise, and the most that may be asked.
pub const DEFAULT_WEEKS: u32 = 8;
pub const MAX_WEEKS: u32 = 104;

/// Figures over a span: counts, their rates, and the HCPs reached.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub counts: Counts,
    pub rates: Rates,
    /// Distinct HCPs with at least one delivery (a delivered message or a call).
    pub reached: u64,
    /// Of them, those who engaged (clicked, read a page or slide past the engaged dwell,
    /// answered, attended) in a week they were reached.
    pub engaged_hcps: u64,
    /// `engaged_hcps / reached`: the share of the HCPs reached who engaged.
    pub engagement_rate: Option<f64>,
    /// Deliveries per HCP reached.
    pub touches_per_hcp: Option<f64>,
}

impl Figures {
    fn new(counts: Counts, reached: u64, engaged_hcps: u64) -> Self {
        let per_reached = |n: f64| (reached > 0).then(|| n / reached as f64);
        Self {
            rates: counts.rates(),
            touches_per_hcp: per_reached(counts.delivered as f64),
            engagement_rate: per_reached(engaged_hcps as f64),
            counts,
            reached,
            engaged_hcps,
        }
    }
}

/// One week (Monday to Sunday, UTC).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekFigures {
    pub week_start: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelFigures {
    pub channel: Channel,
    pub counts: Counts,
    pub rates: Rates,
}

/// A campaign's ROMI with its interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignRomi {
    pub campaign_id: String,
    pub name: String,
    pub cost: f64,
    pub romi: Option<openclm_core::measure::stats::Romi>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// First and last day included (UTC).
    pub from: String,
    pub until: String,
    pub as_of: Timestamp,
    pub total: Figures,
    pub weeks: Vec<WeekFigures>,
    pub channels: Vec<ChannelFigures>,
    pub campaigns: Vec<CampaignRomi>,
    /// Over the campaigns with a ROMI: (incremental value − cost) / cost.
    pub pooled_romi: Option<f64>,
}

fn day_text(day: i64) -> String {
    Timestamp::from_millis(day * DAY_MS)
        .to_string()
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

/// The overview of the `weeks` weeks up to and including the week of `now`; with each
/// campaign's ROMI when `campaigns` is set (a report per campaign: the live figures leave it out).
pub async fn overview<S: Store>(
    store: &S,
    weeks: u32,
    now: Timestamp,
    campaigns: bool,
) -> Result<Overview, ApiError> {
    let today = now.millis().div_euclid(DAY_MS);
    // Monday of this week (1970-01-01 was a Thursday).
    let this_week = (today + 3).div_euclid(7);
    let from_day = (this_week - i64::from(weeks) + 1) * 7 - 3;
    let activity = store.activity(from_day, today).await?;
    let mut total = Counts::default();
    let mut per_week: std::collections::BTreeMap<i64, Counts> = std::collections::BTreeMap::new();
    let mut per_channel: std::collections::BTreeMap<Channel, Counts> =
        std::collections::BTreeMap::new();
    for d in &activity.days {
        total.add(&d.counts);
        per_week
            .entry((d.day + 3).div_euclid(7))
            .or_default()
            .add(&d.counts);
        per_channel.entry(d.channel).or_default().add(&d.counts);
    }
    let weeks = (this_week - i64::from(weeks) + 1..=this_week)
        .map(|w| {
            let (reached, engaged) = activity
                .weeks
                .iter()
                .find(|r| r.week == w)
                .map_or((0, 0), |r| (r.reached, r.engaged));
            WeekFigures {
                week_start: day_text(w * 7 - 3),
                figures: Figures::new(
                    per_week.get(&w).copied().unwrap_or_default(),
                    reached,
                    engaged,
                ),
            }
        })
        .collect();
    let channels = per_channel
        .into_iter()
        .map(|(channel, counts)| ChannelFigures {
            channel,
            rates: counts.rates(),
            counts,
        })
        .collect();
    let mut romis = Vec::new();
    let listed = if campaigns {
        store.list_campaigns().await?
    } else {
        Vec::new()
    };
    for campaign in listed {
        let report = crate::report::report(store, &campaign, 0.95).await?;
        romis.push(CampaignRomi {
            campaign_id: campaign.id.clone(),
            name: campaign.name.clone(),
            cost: report.cost,
            romi: report.romi,
        });
    }
    let (value, cost) = romis
        .iter()
        .filter_map(|c| c.romi.as_ref())
        .fold((0.0, 0.0), |(v, c), r| {
            (v + r.incremental_value, c + r.cost)
        });
    Ok(Overview {
        from: day_text(from_day),
        until: day_text(today),
        as_of: now,
        total: Figures::new(total, activity.reached, activity.engaged),
        weeks,
        channels,
        campaigns: romis,
        pooled_romi: (cost > 0.0).then(|| (value - cost) / cost),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OverviewQuery {
    pub weeks: Option<String>,
}

impl OverviewQuery {
    pub fn weeks(&self) -> Result<u32, FieldError> {
        match self.weeks.as_deref() {
            None | Some("") => Ok(DEFAULT_WEEKS),
            Some(text) => match text.parse::<u32>() {
                Ok(n @ 1..=MAX_WEEKS) => Ok(n),
                _ => Err(FieldError::new(
                    "weeks",
                    format!("must be a whole number from 1 to {MAX_WEEKS}"),
                )),
            },
        }
    }
}

pub(crate) async fn get_overview<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Json<Overview>, ApiError> {
    caller.require(Action::ReadReports)?;
    let q = crate::routes::query(q)?;
    let weeks = q.weeks()?;
    Ok(Json(
        overview(&state.store, weeks, (state.clock)(), true).await?,
    ))
}
