//! Events in and out: ingesting batches, an HCP's timeline, consent history and learned state,
//! and the event export.

use crate::ExportEvent;
use crate::IngestOutcome;
use crate::Page;
use crate::PageRequest;
use crate::Result;
use crate::StoredEvent;
use crate::TimelineFilter;
use crate::UnknownHcpPolicy;
use openclm_core::Event;
use openclm_core::HcpId;
use openclm_core::Timestamp;
use openclm_core::consent::ConsentRecord;
use openclm_core::state::HcpState;

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
        /// [`MAX_EXPORT_PAGE`](crate::MAX_EXPORT_PAGE)). The next page starts after the last `seq` returned; a short page is
        /// the last.
        async fn export_events(
            &self,
            after_seq: i64,
            received_since: Option<Timestamp>,
            limit: usize,
        ) -> Result<Vec<ExportEvent>>;
    }
}
