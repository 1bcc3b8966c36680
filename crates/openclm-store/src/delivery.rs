//! What both backends' delivery queues share: the lease check and the shape of the counts.

use openclm_core::delivery::DeliveryStatus;
use openclm_core::{Channel, FieldError};

use crate::{Delivery, DeliveryCount, Result, StoreError};

/// Checks that `token` is the current lease of a pending delivery.
pub fn check_lease(current: &Delivery, token: &str) -> std::result::Result<(), FieldError> {
    if current.status != DeliveryStatus::Pending {
        return Err(FieldError::new(
            "lease_token",
            format!(
                "the delivery is {} already; its lease is over",
                current.status
            ),
        ));
    }
    if current.lease_token.as_deref() != Some(token) {
        return Err(FieldError::new(
            "lease_token",
            "is not the delivery's current lease (it expired and the item was offered again)",
        ));
    }
    Ok(())
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
