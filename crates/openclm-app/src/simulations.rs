//! The last simulator run kept in the database (`openclm simulate`, the demo): its settings and
//! each policy's summary and weekly engagement, read back as typed figures.

use openclm_core::Timestamp;
use openclm_core::auth::Action;
use openclm_store::Store;
use serde::Deserialize;

use crate::{AppError, Caller};

/// A simulator run as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub run_id: String,
    pub ran_at: Timestamp,
    pub summary: Summary,
}

/// What a run was asked and what each policy did. A field the stored run lacks is `None`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub hcps: Option<u64>,
    pub weeks: Option<u64>,
    pub world: Option<String>,
    pub seed: Option<u64>,
    pub holdout: Option<f64>,
    pub economics: bool,
    pub policies: Vec<PolicySummary>,
}

/// One policy's results over the run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PolicySummary {
    pub policy: String,
    pub reach: Option<f64>,
    pub engagement_rate: Option<f64>,
    pub touches_per_hcp: Option<f64>,
    pub opt_out_rate: Option<f64>,
    pub incremental_rx: Option<f64>,
    pub cost: Option<f64>,
    pub romi: Option<f64>,
    /// Responses per touch, week by week (`None` for a week without touches).
    pub weekly_engagement: Vec<Option<f64>>,
}

/// The last run kept, if any, if the caller may read reports.
pub async fn last<S: Store>(store: &S, caller: &Caller) -> Result<Option<Simulation>, AppError> {
    caller.require(Action::ReadReports)?;
    let Some(run) = store.last_simulation().await? else {
        return Ok(None);
    };
    let summary = Summary::deserialize(&run.body).unwrap_or_else(|e| {
        tracing::warn!(run = %run.run_id, error = %e, "a stored simulator run does not read as one; shown empty");
        Summary::default()
    });
    Ok(Some(Simulation {
        run_id: run.run_id,
        ran_at: run.ran_at,
        summary,
    }))
}
