//! Events in and out: ingesting batches, an HCP's timeline, consent history and learned state,
//! and the event export.

use openclm_core::consent::ConsentRecord;
use openclm_core::state::HcpState;
use openclm_core::{Channel, Event, EventType, FieldError, HcpId, Timestamp};
use serde::Serialize;

use crate::{ExportEvent, Page, PageRequest, Result};

/// What to do with an event whose HCP is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownHcpPolicy {
    /// Reject the event, naming the `hcp` field.
    #[default]
    Reject,
    /// Create a stub HCP (to be completed by master data later) and accept the event.
    CreateStub,
}

/// The fate of one event of an ingest batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored now.
    Accepted,
    /// Already stored with the same payload: nothing changed.
    Duplicate,
    /// Already stored under the same `event_id` with a different payload: nothing changed.
    Conflict,
    /// Not stored, for this reason.
    Rejected(FieldError),
}

/// Filters of an HCP's timeline.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    pub channel: Option<Channel>,
    pub kind: Option<EventType>,
}

/// An event as stored, with the OpenCLM HCP it was resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_id: String,
    pub hcp_id: String,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub channel: Channel,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub source: String,
    /// The event object as the source sent it, unknown fields included.
    pub event: serde_json::Value,
}

/// What a store applies to every event it ingests, fixed when it is opened: how outcomes credit
/// decisions, and what adverse-event screening looks for.
#[derive(Debug, Clone, Default)]
pub struct IngestRules {
    pub rewards: openclm_core::engine::reward::RewardConfig,
    pub pv: openclm_core::pv::PvConfig,
}

impl From<openclm_core::engine::reward::RewardConfig> for IngestRules {
    fn from(rewards: openclm_core::engine::reward::RewardConfig) -> Self {
        Self {
            rewards,
            pv: Default::default(),
        }
    }
}

crate::store::store_trait! {
    /// Events in and out: ingesting batches, an HCP's timeline, consent history and learned state,
    /// and the event export.
    pub trait Events {
        /// Stores a batch of parsed events, returning one outcome per event in order.
        async fn ingest(
            &self,
            events: Vec<Event>,
            unknown_hcp: UnknownHcpPolicy,
            now: Timestamp,
        ) -> Result<Vec<IngestOutcome>>;

        /// An HCP's events, newest first; `None` when the HCP is unknown.
        async fn timeline(
            &self,
            hcp: HcpId,
            filter: TimelineFilter,
            page: PageRequest,
        ) -> Result<Option<Page<StoredEvent>>>;

        /// An HCP's consent history, oldest first; `None` when the HCP is unknown.
        async fn consent_history(&self, hcp: HcpId) -> Result<Option<Vec<ConsentRecord>>>;

        /// What has been learned about an HCP from every event stored for them (the empty state
        /// before the first); `None` when the HCP is unknown.
        async fn hcp_state(&self, hcp: HcpId) -> Result<Option<HcpState>>;

        /// One page of the event export: stored events after the one numbered `after_seq`, in
        /// storage order, received at or after `received_since` (so a load that starts again from
        /// its last run's time also gets events that arrived late), at most `limit` (1 to
        /// [`MAX_EXPORT_PAGE`](crate::MAX_EXPORT_PAGE)). The next page starts after the last `seq`
        /// returned; a short page is the last.
        async fn export_events(
            &self,
            after_seq: i64,
            received_since: Option<Timestamp>,
            limit: usize,
        ) -> Result<Vec<ExportEvent>>;
    }
}
