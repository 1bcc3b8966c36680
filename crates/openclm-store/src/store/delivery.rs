//! The outbound delivery queue: leases to senders, their answers, and the dead letters.

use crate::Delivery;
use crate::DeliveryClaim;
use crate::DeliveryCount;
use crate::DeliveryFilter;
use crate::DeliveryOutcome;
use crate::Page;
use crate::PageRequest;
use crate::Result;
use openclm_core::FieldError;
use openclm_core::Timestamp;

crate::store::store_trait! {
    /// The outbound delivery queue: leases to senders, their answers, and the dead letters.
    pub trait Deliveries {
        /// Leases up to `limit` due pending deliveries on the claim's channels (oldest due first) to
        /// one sender: each counts an attempt and is hidden from other senders until the lease ends.
        /// Items whose lease expired after the last allowed attempt go to the dead letters instead.
        /// On PostgreSQL, concurrent claimers skip each other's rows, so no item is leased twice.
        async fn claim_deliveries(&self, claim: DeliveryClaim) -> Result<Vec<Delivery>>;
        /// Records the outcome of a leased attempt, as [`answer_lease`](crate::answer_lease) decides: a repeated
        /// `Delivered` and a failure of an item cancelled under the lease change nothing, a
        /// `Delivered` of such an item makes it delivered. The inner error names `lease_token` when
        /// the lease is not the item's (it expired and the item was leased again, or the item was
        /// finished otherwise); `None` when there is no such delivery.
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
        /// Puts a dead letter back in the queue, due now, with its attempts counted afresh. The inner
        /// error says the delivery is not dead; `None` when there is no such delivery.
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
