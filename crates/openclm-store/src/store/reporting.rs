//! Brand-wide reporting: the all-activity rollup, the events the folds set aside, and the kept
//! simulation run.

use openclm_core::{Channel, Timestamp};
use serde::Serialize;

use crate::{Result, StoreError};

/// The brand's activity on one day and channel, every stored event counted, campaign or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityDay {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub channel: Channel,
    /// The touch metrics (`measure::kpi::touch_counts`); responses and outcome units, which
    /// belong to campaigns, stay 0. A machine open is one a privacy proxy made (its user agent or
    /// address): the campaign KPIs also count an open seconds after its decision's delivery as
    /// a machine's, but the rollup links no event to a decision, so such an open counts here as
    /// a person's.
    pub counts: openclm_core::measure::kpi::Counts,
}

/// Reach in one week (Monday to Sunday, UTC).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekReach {
    /// Weeks since the one of 1970-01-01: `(day + 3).div_euclid(7)` (1970-01-01 was a
    /// Thursday).
    pub week: i64,
    /// Distinct HCPs with at least one delivery (a delivered message or a logged call).
    pub reached: u64,
    /// Deliveries, all HCPs together.
    pub delivered: u64,
    /// HCPs reached that week who also engaged that week (clicked, read, answered, attended).
    pub engaged: u64,
}

impl WeekReach {
    /// The week's Monday, in days since 1970-01-01.
    pub fn first_day(&self) -> i64 {
        self.week * 7 - 3
    }
}

/// The brand's activity over a range of days: what the overview shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Activity {
    /// Per day and channel, sorted by day then channel; days and channels with nothing left out.
    pub days: Vec<ActivityDay>,
    /// Every week overlapping the range, sorted, weeks nobody was reached in included (zeros).
    pub weeks: Vec<WeekReach>,
    /// Distinct HCPs with a delivery in any of those weeks.
    pub reached: u64,
    /// Of them, those who engaged in a week they were reached.
    pub engaged: u64,
}

/// What one content item (or one of its slides / key messages) drew, every stored event that
/// names it counted: what the content library shows as its performance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentActivity {
    pub content_id: String,
    /// The slide or key message; empty for events that name the item only.
    pub key_message: String,
    pub counts: openclm_core::measure::kpi::Counts,
}

/// A fold that reads every stored event after a cursor of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fold {
    /// The campaign KPIs ([`Campaigns::fold_kpis`](crate::Campaigns::fold_kpis)).
    CampaignKpis,
    /// The brand's activity rollup ([`Reporting::fold_activity`]).
    Activity,
}

impl Fold {
    /// The name stored in `fold_quarantine.fold` and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            Fold::CampaignKpis => "campaign_kpis",
            Fold::Activity => "activity",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Result<Self> {
        match text {
            "campaign_kpis" => Ok(Fold::CampaignKpis),
            "activity" => Ok(Fold::Activity),
            other => Err(StoreError::Corrupt(format!(
                "fold_quarantine.fold: unknown fold {other:?}"
            ))),
        }
    }
}

/// A stored event a fold set aside instead of counting (its payload no longer parses, or what
/// it adds could not be written), so that the fold went on past it. Listed, never counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantinedEvent {
    pub fold: Fold,
    pub seq: i64,
    /// The event's id, when its payload still names one.
    pub event_id: Option<String>,
    /// Why, naming the field when one is at fault; never the payload's text.
    pub reason: String,
    pub quarantined_at: Timestamp,
}

/// Most quarantined events one read lists.
pub const MAX_QUARANTINE_LIST: usize = 1_000;

/// One run of the simulator, kept for the dashboard. Its body holds synthetic HCPs only, never a
/// real person's data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationRun {
    pub run_id: String,
    pub ran_at: Timestamp,
    /// The run's results as JSON, stored and returned as given.
    pub body: serde_json::Value,
}

/// The longest range of days [`Reporting::activity`] answers for (about a century): its weeks are
/// listed one by one.
pub const MAX_ACTIVITY_DAYS: i64 = 36_525;

crate::store::store_trait! {
    /// Brand-wide reporting: the all-activity rollup, the events the folds set aside, and the kept
    /// simulation run.
    pub trait Reporting {
        /// Folds up to `batch` stored events not yet in the all-activity rollup; returns how many
        /// it read.
        async fn fold_activity(&self, batch: usize) -> Result<usize>;
        /// The events the folds set aside instead of counting, newest first, at most `limit` (and
        /// at most [`MAX_QUARANTINE_LIST`]). An event both folds set aside is listed once per fold.
        /// Catches up both folds first, so an event stored before the call is judged in the answer.
        async fn quarantined_events(&self, limit: usize) -> Result<Vec<QuarantinedEvent>>;
        /// Brand-wide activity over the days `from_day..=to_day`: per day and channel (days with
        /// nothing omitted, sorted by day then channel), per week overlapping the range (sorted,
        /// every such week, zeros included), and `reached` = distinct HCPs with a delivery in any
        /// of those weeks. Catches up the fold first (all pending events), so an event stored
        /// before the call is in the answer (on PostgreSQL, once every transaction older than the
        /// event's has finished, as for the campaign KPIs: the fold never passes one still
        /// running). Reads only the rollup, never the events. An empty range
        /// (`from_day > to_day`) has nothing; one longer than [`MAX_ACTIVITY_DAYS`] is refused,
        /// naming `to_day`.
        async fn activity(&self, from_day: i64, to_day: i64) -> Result<Activity>;
        /// What each content item (or only `content_id`) drew, per slide / key message, sorted by
        /// item then key message; catches up the fold first, as
        /// [`Reporting::activity`] does.
        async fn content_activity(
            &self,
            content_id: Option<String>,
        ) -> Result<Vec<ContentActivity>>;
        /// Keeps a simulation run (the latest is what the dashboard shows); a run recorded again
        /// under its id replaces the one kept.
        async fn record_simulation(&self, run: SimulationRun) -> Result<()>;
        /// The most recent simulation run (by ran_at, then run_id), if any.
        async fn last_simulation(&self) -> Result<Option<SimulationRun>>;
    }
}
