//! The outbound delivery queue: leases to senders, their answers, and the dead letters.

use openclm_core::{Channel, FieldError, Timestamp};
use serde::Serialize;

use crate::{Page, PageRequest, Result};

/// One decision's delivery, as queued.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Stable per decision (`dlv_` and the decision's id): what receivers de-duplicate by.
    pub delivery_id: String,
    pub decision_id: String,
    pub hcp_id: String,
    pub channel: Channel,
    pub content_id: String,
    pub campaign_id: Option<String>,
    pub status: openclm_core::delivery::DeliveryStatus,
    /// Attempts made so far (leases taken).
    pub attempts: u32,
    /// When the item may next be offered; while leased, when the lease ends.
    pub due_at: Timestamp,
    /// The lease it was last offered under, shown only to the sender that took it; kept once it
    /// is delivered, or cancelled by a withdrawal while leased, so a repeated or late answer
    /// under it is recognised.
    #[serde(skip)]
    pub lease_token: Option<String>,
    /// The last failure (a status code or an error kind) or why it was cancelled.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A sender's request for due deliveries.
#[derive(Debug, Clone)]
pub struct DeliveryClaim {
    /// Only these channels.
    pub channels: Vec<Channel>,
    pub limit: usize,
    /// How long the sender holds the items; unanswered, they are offered again after it.
    pub lease_ms: i64,
    /// An item whose lease expired after this many attempts goes to the dead letters instead.
    pub max_attempts: u32,
    /// Names this lease; answers must carry it.
    pub token: String,
    pub now: Timestamp,
}

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; offered again at `at`.
    Retry {
        error: String,
        at: Timestamp,
    },
    /// Failed for the last time.
    Dead {
        error: String,
    },
    /// Must not be sent (content no longer approved, consent gone, no address).
    Cancelled {
        reason: String,
    },
}

/// Which deliveries to list; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<openclm_core::delivery::DeliveryStatus>,
    pub channel: Option<Channel>,
}

/// How many deliveries stand in one status on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryCount {
    pub status: openclm_core::delivery::DeliveryStatus,
    pub channel: Channel,
    pub count: u64,
}

crate::store::store_trait! {
    /// The outbound delivery queue: leases to senders, their answers, and the dead letters.
    pub trait Deliveries {
        /// Leases up to `limit` due pending deliveries on the claim's channels (oldest due first)
        /// to one sender: each counts an attempt and is hidden from other senders until the lease
        /// ends. Items whose lease expired after the last allowed attempt go to the dead letters
        /// instead. On PostgreSQL, concurrent claimers skip each other's rows, so no item is leased
        /// twice.
        async fn claim_deliveries(&self, claim: DeliveryClaim) -> Result<Vec<Delivery>>;
        /// Records the outcome of a leased attempt, as [`answer_lease`](crate::answer_lease)
        /// decides: a repeated `Delivered` and a failure of an item cancelled under the lease
        /// change nothing, a `Delivered` of such an item makes it delivered. The inner error names
        /// `lease_token` when the lease is not the item's (it expired and the item was leased
        /// again, or the item was finished otherwise); `None` when there is no such delivery.
        async fn finish_delivery(
            &self,
            delivery_id: String,
            lease_token: String,
            outcome: DeliveryOutcome,
            now: Timestamp,
        ) -> Result<Option<std::result::Result<Delivery, FieldError>>>;
        async fn get_delivery(&self, delivery_id: String) -> Result<Option<Delivery>>;
        /// Deliveries by id, filtered.
        async fn list_deliveries(
            &self,
            filter: DeliveryFilter,
            page: PageRequest,
        ) -> Result<Page<Delivery>>;
        /// Puts a dead letter back in the queue, due now, with its attempts counted afresh. The
        /// inner error says the delivery is not dead; `None` when there is no such delivery.
        async fn retry_delivery(
            &self,
            delivery_id: String,
            now: Timestamp,
        ) -> Result<Option<std::result::Result<Delivery, FieldError>>>;
        /// How many deliveries stand in each status on each channel (combinations with none left
        /// out), sorted by status then channel.
        async fn delivery_counts(&self) -> Result<Vec<DeliveryCount>>;
    }
}
