//! What both backends' delivery queues share: what an answer under a lease may do, the change it
//! writes, when a dead letter may be retried, and the shape of the counts. The backends only read
//! and write the rows.

use openclm_core::delivery::DeliveryStatus;
use openclm_core::{Channel, FieldError, Timestamp};

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

/// What recording an answer writes to a delivery: its new status, the error it keeps (`None`
/// keeps the last one) and when it is next due. A delivered item keeps its lease, so that a
/// repeated answer under it is recognised; every other status clears it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Transition {
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub due: Timestamp,
}

/// What `outcome`, answered under `token`, writes to `current`, the same on both backends:
/// the client's error when the lease is not the answer's, `None` when nothing changes (the
/// delivery is answered as it stands), otherwise the change to write.
pub(crate) fn finish_transition(
    current: &Delivery,
    token: &str,
    outcome: &DeliveryOutcome,
) -> std::result::Result<Option<Transition>, FieldError> {
    let (status, error, due) = match (answer_lease(current, token, outcome)?, outcome) {
        (LeaseAnswer::Unchanged, _) => return Ok(None),
        (LeaseAnswer::SentAfterCancellation, _) => (
            DeliveryStatus::Delivered,
            // What it had been cancelled for stays readable beside the fact it went out.
            Some(format!(
                "sent_after_cancellation: {}",
                current.last_error.as_deref().unwrap_or("cancelled")
            )),
            current.due_at,
        ),
        (_, DeliveryOutcome::Delivered) => (DeliveryStatus::Delivered, None, current.due_at),
        (_, DeliveryOutcome::Retry { error, at }) => {
            (DeliveryStatus::Pending, Some(error.clone()), *at)
        }
        (_, DeliveryOutcome::Dead { error }) => {
            (DeliveryStatus::Dead, Some(error.clone()), current.due_at)
        }
        (_, DeliveryOutcome::Cancelled { reason }) => (
            DeliveryStatus::Cancelled,
            Some(reason.clone()),
            current.due_at,
        ),
    };
    Ok(Some(Transition { status, error, due }))
}

/// Whether `current` may be put back in the queue: only a dead letter may, and the client's
/// error says why not otherwise. Retrying resets its attempts, makes it due at once and clears
/// its lease.
pub(crate) fn check_retry(current: &Delivery) -> std::result::Result<(), FieldError> {
    if current.status == DeliveryStatus::Dead {
        Ok(())
    } else {
        Err(FieldError::new(
            "delivery",
            format!("is {}; only a dead letter can be retried", current.status),
        ))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(status: DeliveryStatus, lease: Option<&str>, last_error: Option<&str>) -> Delivery {
        Delivery {
            delivery_id: "dlv_d1".into(),
            decision_id: "d1".into(),
            hcp_id: "h1".into(),
            channel: Channel::Email,
            content_id: "c1".into(),
            campaign_id: None,
            status,
            attempts: 1,
            due_at: Timestamp::from_millis(5_000),
            lease_token: lease.map(Into::into),
            last_error: last_error.map(Into::into),
            created_at: Timestamp::from_millis(1_000),
            updated_at: Timestamp::from_millis(1_000),
        }
    }

    #[test]
    fn an_answer_under_the_lease_writes_its_outcome() {
        let pending = delivery(DeliveryStatus::Pending, Some("t1"), None);
        let retry = DeliveryOutcome::Retry {
            error: "http_503".into(),
            at: Timestamp::from_millis(9_000),
        };
        assert_eq!(
            finish_transition(&pending, "t1", &retry).unwrap(),
            Some(Transition {
                status: DeliveryStatus::Pending,
                error: Some("http_503".into()),
                due: Timestamp::from_millis(9_000),
            })
        );
        assert_eq!(
            finish_transition(&pending, "t1", &DeliveryOutcome::Delivered).unwrap(),
            Some(Transition {
                status: DeliveryStatus::Delivered,
                error: None,
                due: Timestamp::from_millis(5_000),
            })
        );
    }

    #[test]
    fn a_send_after_cancellation_is_delivered_and_keeps_why_it_was_cancelled() {
        let cancelled = delivery(
            DeliveryStatus::Cancelled,
            Some("t1"),
            Some("content_withdrawn"),
        );
        let change = finish_transition(&cancelled, "t1", &DeliveryOutcome::Delivered)
            .unwrap()
            .unwrap();
        assert_eq!(change.status, DeliveryStatus::Delivered);
        assert_eq!(
            change.error.as_deref(),
            Some("sent_after_cancellation: content_withdrawn")
        );
        let failed = DeliveryOutcome::Dead {
            error: "http_500".into(),
        };
        assert_eq!(finish_transition(&cancelled, "t1", &failed).unwrap(), None);
    }

    #[test]
    fn an_answer_under_another_lease_names_the_lease_token() {
        let pending = delivery(DeliveryStatus::Pending, Some("t2"), None);
        let refused = finish_transition(&pending, "t1", &DeliveryOutcome::Delivered).unwrap_err();
        assert_eq!(refused.field, "lease_token");
    }

    #[test]
    fn only_a_dead_letter_is_retried() {
        assert!(check_retry(&delivery(DeliveryStatus::Dead, None, Some("lease_expired"))).is_ok());
        let refused = check_retry(&delivery(DeliveryStatus::Delivered, Some("t1"), None));
        assert_eq!(refused.unwrap_err().field, "delivery");
    }
}
