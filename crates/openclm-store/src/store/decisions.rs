//! What the engine learns and decides: the model's counts and the decision log.

use openclm_core::engine::model::Counts;
use openclm_core::{Channel, HcpId, Timestamp};
use serde::Serialize;

use crate::{Page, PageRequest, Result};

/// Filters of the decision log; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    pub campaign_id: Option<String>,
    /// Made at or after, and before.
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// A decision of the engine, as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRecord {
    pub decision_id: String,
    pub hcp_id: String,
    pub made_at: Timestamp,
    /// Identifies the learned counts the decision was made with.
    pub model_version: i64,
    pub chosen_content: Option<String>,
    pub chosen_channel: Option<Channel>,
    /// The probability with which the chosen action was picked; for a decision that held back
    /// (no action chosen, with economics), the probability of holding back.
    pub propensity: Option<f64>,
    /// The model nodes (global, segment, HCP) of the chosen action's arm, which its outcome
    /// credits.
    pub nodes: Option<[u64; 3]>,
    /// When the chosen action was first reported delivered, and first responded to.
    pub delivered_at: Option<Timestamp>,
    pub rewarded_at: Option<Timestamp>,
    /// Until when the chosen action, while undelivered, holds its place under the caps.
    pub reserved_until: Option<Timestamp>,
    /// The whole decision: ranked actions, blocked candidates, how propensities were obtained.
    pub body: serde_json::Value,
    /// The campaign wave and arm the decision was made for, if any.
    pub campaign: Option<CampaignTag>,
}

/// Which campaign, wave and arm a decision belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignTag {
    pub campaign_id: String,
    /// Index of the wave and of the arm in the campaign's definition.
    pub wave: u32,
    pub arm: u32,
}

/// A touch decided for an HCP and not yet reported delivered, still holding its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedTouch {
    pub decision_id: String,
    pub channel: Channel,
    pub at: Timestamp,
    pub content_id: Option<String>,
}

crate::store::store_trait! {
    /// What the engine learns and decides: the model's counts and the decision log.
    pub trait Decisions {
        /// The learned counts of the model nodes with these keys; nodes never updated are left out.
        async fn model_nodes(&self, keys: Vec<u64>) -> Result<Vec<(u64, Counts)>>;
        /// Adds to model counts. Increments commute, so nodes adding at once lose nothing.
        async fn add_model_counts(&self, increments: Vec<(u64, Counts)>) -> Result<()>;
        /// Logs decisions in one durable write; for each, false when its HCP is unknown.
        async fn log_decisions(&self, decisions: Vec<DecisionRecord>) -> Result<Vec<bool>>;
        async fn get_decision(&self, decision_id: String) -> Result<Option<DecisionRecord>>;
        /// The decision log, by decision id, with each decision's whole body.
        async fn list_decisions(
            &self,
            filter: DecisionFilter,
            page: PageRequest,
        ) -> Result<Page<DecisionRecord>>;
        /// The HCP's decisions not yet reported delivered whose hold lasts beyond `now`.
        async fn planned_touches(&self, hcp: HcpId, now: Timestamp) -> Result<Vec<PlannedTouch>>;
    }
}
