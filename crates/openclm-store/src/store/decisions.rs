//! What the engine learns and decides: the model's counts and the decision log.

use crate::DecisionFilter;
use crate::DecisionRecord;
use crate::Page;
use crate::PageRequest;
use crate::PlannedTouch;
use crate::Result;
use openclm_core::HcpId;
use openclm_core::Timestamp;
use openclm_core::engine::model::Counts;

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
