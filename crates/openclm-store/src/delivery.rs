//! What both backends' delivery queues share: what an answer under a lease may do, and the
//! shape of the counts.

use openclm_core::delivery::DeliveryStatus;
use openclm_core::{Channel, FieldError};

use crate::{Delivery, DeliveryCount, DeliveryOutcome, Result, StoreError};

/// What an answer under a lease does to a delivery as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAnswer {
    /// The delivery is pending under this lease: the outcome is recorded.
    Apply,
    /// The delivery was cancelled (its content withdrawn) while this lease held it, and the
    /// sender says it went out before it heard: what went out is recorded, so it becomes
    /// delivered, noted as sent after its cancellation.
    SentAfterCancellation,
    /// Nothing changes: a repeat of the delivered answer already recorded under this lease (its
    /// first reply was lost), or a failure of an item cancelled meanwhile, which stays cancelled.
    Unchanged,
}

/// Decides what `outcome`, answered under `token`, does to `current`; an error when `token` is
/// not the lease the answer could belong to.
pub fn answer_lease(
    current: &Delivery,
    token: &str,
    outcome: &DeliveryOutcome,
) -> std::result::Result<LeaseAnswer, FieldError> {
    let holds = current.lease_token.as_deref() == Some(token);
    let delivered = matches!(outcome, DeliveryOutcome::Delivered);
    match (current.status, holds) {
        (DeliveryStatus::Pending, true) => Ok(LeaseAnswer::Apply),
        (DeliveryStatus::Cancelled, true) if delivered => Ok(LeaseAnswer::SentAfterCancellation),
        (DeliveryStatus::Cancelled, true) => Ok(LeaseAnswer::Unchanged),
        (DeliveryStatus::Delivered, true) if delivered => Ok(LeaseAnswer::Unchanged),
        (DeliveryStatus::Pending, false) => Err(FieldError::new(
            "lease_token",
            "is not the delivery's current lease (it expired and the item was offered again)",
        )),
        (status, _) => Err(FieldError::new(
            "lease_token",
            format!("the delivery is {status} already; its lease is over"),
        )),
    }
}

/// The last error a delivery sent after its cancellation keeps: why it had been cancelled.
pub(crate) fn sent_after_cancellation_note(current: &Delivery) -> String {
    format!(
        "sent_after_cancellation: {}",
        current.last_error.as_deref().unwrap_or("cancelled")
    )
}

/// Parses and sorts grouped counts (status, channel code, count).
pub(crate) fn to_counts(rows: Vec<(String, i64, i64)>) -> Result<Vec<DeliveryCount>> {
    let mut counts = rows
        .into_iter()
        .map(|(status, channel, count)| {
            Ok(DeliveryCount {
                status: DeliveryStatus::parse("status", &status)
                    .map_err(|_| StoreError::Corrupt(format!("delivery status {status:?}")))?,
                channel: Channel::from_code(channel).ok_or_else(|| {
                    StoreError::Corrupt(format!("delivery channel code {channel}"))
                })?,
                count: count as u64,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    counts.sort_by_key(|c| (c.status as u8, c.channel));
    Ok(counts)
}
