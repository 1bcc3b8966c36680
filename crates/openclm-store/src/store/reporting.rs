//! Brand-wide reporting: the all-activity rollup, the events the folds set aside, and the kept
//! simulation run.

use crate::Activity;
use crate::ContentActivity;
use crate::QuarantinedEvent;
use crate::Result;
use crate::SimulationRun;

crate::store::store_trait! {
    /// Brand-wide reporting: the all-activity rollup, the events the folds set aside, and the kept
    /// simulation run.
    pub trait Reporting {
        /// Folds up to `batch` stored events not yet in the all-activity rollup; returns how many it
        /// read.
        async fn fold_activity(&self, batch: usize) -> Result<usize>;
        /// The events the folds set aside instead of counting, newest first, at most `limit` (and
        /// at most [`MAX_QUARANTINE_LIST`](crate::MAX_QUARANTINE_LIST)). An event both folds set aside is listed once per fold.
        /// Catches up both folds first, so an event stored before the call is judged in the answer.
        async fn quarantined_events(&self, limit: usize) -> Result<Vec<QuarantinedEvent>>;
        /// Brand-wide activity over the days `from_day..=to_day`: per day and channel (days with
        /// nothing omitted, sorted by day then channel), per week overlapping the range (sorted,
        /// every such week, zeros included), and `reached` = distinct HCPs with a delivery in any of
        /// those weeks. Catches up the fold first (all pending events), so an event stored before the
        /// call is in the answer (on PostgreSQL, once every transaction older than the event's has
        /// finished, as for the campaign KPIs: the fold never passes one still running). Reads only
        /// the rollup, never the events. An empty range
        /// (`from_day > to_day`) has nothing; one longer than [`MAX_ACTIVITY_DAYS`](crate::MAX_ACTIVITY_DAYS) is refused,
        /// naming `to_day`.
        async fn activity(&self, from_day: i64, to_day: i64) -> Result<Activity>;
        /// What each content item (or only `content_id`) drew, per slide / key message, sorted by
        /// item then key message; catches up the fold first, as [`Reporting::activity`](crate::store::Reporting::activity) does.
        async fn content_activity(&self, content_id: Option<String>) -> Result<Vec<ContentActivity>>;
        /// Keeps a simulation run (the latest is what the dashboard shows); a run recorded again
        /// under its id replaces the one kept.
        async fn record_simulation(&self, run: SimulationRun) -> Result<()>;
        /// The most recent simulation run (by ran_at, then run_id), if any.
        async fn last_simulation(&self) -> Result<Option<SimulationRun>>;
    }
}
