//! Recording SendGrid's email notifications as events: each notification's address names the
//! HCP it is about; an unsubscribe or spam report from an address several HCPs share stops email
//! to all of them. The way in has checked who sent the batch (SendGrid's signature or an API
//! key) and read the notifications; this decides what each one becomes and stores it.

use openclm_core::sendgrid::{Notification, Rejection};
use openclm_core::{Event, FieldError, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{IngestOutcome, StoreError, UnknownHcpPolicy};
use serde::Serialize;
use std::collections::HashMap;

use crate::AppError;
use crate::events::{conflict, not_processed};

/// What became of a batch of notifications: counts, and one result per notification in order.
#[derive(Debug, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationReport {
    pub accepted: usize,
    pub duplicates: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub ignored: usize,
    pub results: Vec<NotificationResult>,
}

/// What became of one notification.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationResult {
    /// The notification's position in the batch.
    pub index: usize,
    /// Absent when the notification's `sg_event_id` could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub status: NotificationStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FieldError>,
    /// Why an ignored notification is stored as no event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// The fate of one notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Stored now.
    Accepted,
    /// Already stored.
    Duplicate,
    /// Already stored under its id with a different payload.
    Conflict,
    /// Not stored; the result's error says why.
    Rejected,
    /// Acknowledged as nothing OpenCLM records; the result's reason says why.
    Ignored,
}

impl NotificationResult {
    fn new(index: usize, event_id: Option<String>, status: NotificationStatus) -> Self {
        Self {
            index,
            event_id,
            status,
            error: None,
            reason: None,
        }
    }
}

/// Stores the events the notifications carry (each as read, or why it could not be read).
pub async fn record<S: Store>(
    store: &S,
    notifications: Vec<Result<Notification, Rejection>>,
    now: Timestamp,
) -> Result<NotificationReport, AppError> {
    let mut emails: Vec<String> = notifications
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .filter(|n| n.ignored().is_none())
        .map(|n| n.email.clone())
        .collect();
    emails.sort_unstable();
    emails.dedup();
    let mut owners: HashMap<String, Vec<String>> = HashMap::new();
    if !emails.is_empty() {
        for (email, id) in store.hcps_by_email(emails).await? {
            owners
                .entry(email)
                .or_default()
                .push(id.as_str().to_owned());
        }
    }

    // Each notification's result, or how many of its events await the store's outcome.
    let mut results: Vec<Result<NotificationResult, usize>> =
        Vec::with_capacity(notifications.len());
    let mut events = Vec::new();
    let mut report = NotificationReport::default();
    for (index, item) in notifications.into_iter().enumerate() {
        match item.map_err(|r| (r.event_id, r.error)).and_then(|n| {
            let event_id = n.event_id.clone();
            fate_of(n, &owners).map_err(|e| (Some(event_id), e))
        }) {
            Ok(Fate::Store(stored)) => {
                results.push(Err(stored.len()));
                events.extend(stored);
            }
            Ok(Fate::Ignored(event_id, why)) => {
                report.ignored += 1;
                let mut r =
                    NotificationResult::new(index, Some(event_id), NotificationStatus::Ignored);
                r.reason = Some(why);
                results.push(Ok(r));
            }
            Err((event_id, error)) => {
                report.rejected += 1;
                let mut r = NotificationResult::new(index, event_id, NotificationStatus::Rejected);
                r.error = Some(error);
                results.push(Ok(r));
            }
        }
    }
    let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let outcomes = if events.is_empty() {
        Vec::new()
    } else {
        // Every event names an HCP found above.
        store.ingest(events, UnknownHcpPolicy::Reject, now).await?
    };
    let mut stored = ids.into_iter().zip(outcomes);
    for (index, slot) in results.into_iter().enumerate() {
        let result = match slot {
            Ok(done) => done,
            Err(count) => {
                let mut mine = Vec::with_capacity(count);
                for _ in 0..count {
                    let Some(next) = stored.next() else {
                        return Err(AppError::Store(StoreError::Corrupt(
                            "the store answered fewer outcomes than events".into(),
                        )));
                    };
                    mine.push(next);
                }
                let event_id = mine[0].0.clone();
                let outcome = combined(mine.into_iter().map(|(_, o)| o).collect());
                let mut r =
                    NotificationResult::new(index, Some(event_id), NotificationStatus::Accepted);
                match outcome {
                    IngestOutcome::Accepted => report.accepted += 1,
                    IngestOutcome::Duplicate => {
                        report.duplicates += 1;
                        r.status = NotificationStatus::Duplicate;
                    }
                    IngestOutcome::Conflict => {
                        report.conflicts += 1;
                        r.status = NotificationStatus::Conflict;
                        r.error = Some(conflict("sg_event_id"));
                    }
                    IngestOutcome::Rejected(e) => {
                        report.rejected += 1;
                        r.status = NotificationStatus::Rejected;
                        r.error = Some(e);
                    }
                }
                r
            }
        };
        report.results.push(result);
    }
    tracing::debug!(
        accepted = report.accepted,
        duplicates = report.duplicates,
        rejected = report.rejected,
        ignored = report.ignored,
        "SendGrid notifications ingested"
    );
    Ok(report)
}

/// The outcome of one notification stored as several events (a withdrawal for several HCPs
/// sharing an address): stored if any was, a duplicate if all were, else the first refusal.
fn combined(outcomes: Vec<IngestOutcome>) -> IngestOutcome {
    if outcomes.contains(&IngestOutcome::Accepted) {
        IngestOutcome::Accepted
    } else {
        outcomes
            .into_iter()
            .find(|o| *o != IngestOutcome::Duplicate)
            .unwrap_or(IngestOutcome::Duplicate)
    }
}

/// What becomes of a readable notification.
enum Fate {
    /// Its events: one for the HCP its address names, or a withdrawal for each HCP sharing it.
    Store(Vec<Event>),
    /// Acknowledged as nothing: its event id and why.
    Ignored(String, &'static str),
}

/// The fate of a notification once its address is looked up: an address must name one HCP.
fn fate_of(
    notification: Notification,
    owners: &HashMap<String, Vec<String>>,
) -> Result<Fate, FieldError> {
    if let Some(why) = notification.ignored() {
        return Ok(Fate::Ignored(notification.event_id, why));
    }
    let hcp = match owners.get(&notification.email).map(Vec::as_slice) {
        Some([hcp]) => hcp.clone(),
        // An unsubscribe or spam report from a shared address stops email to every HCP who
        // gave it: honouring it too widely costs a message, missing it breaks the law.
        Some(several) if several.len() > 1 && notification.withdraws() => {
            let mut events = Vec::with_capacity(several.len());
            for hcp in several {
                match notification.withdrawal_for(hcp) {
                    Some(event) => events.push(event?),
                    None => return Err(not_processed()),
                }
            }
            return Ok(Fate::Store(events));
        }
        Some(several) if several.len() > 1 => {
            return Err(FieldError::new(
                "email",
                format!(
                    "the address belongs to {} HCPs; it names none of them for certain",
                    several.len()
                ),
            ));
        }
        _ => {
            return Err(FieldError::new(
                "email",
                "no HCP has this address; register it in the HCP's master data (email)",
            ));
        }
    };
    match notification.into_event(&hcp) {
        Some(event) => event.map(|e| Fate::Store(vec![e])),
        None => Err(not_processed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_stored_for_several_hcps_is_stored_if_any_event_was() {
        use IngestOutcome::{Accepted, Conflict, Duplicate, Rejected};
        let refused = Rejected(FieldError::new("hcp", "is unknown"));
        assert_eq!(combined(vec![Duplicate, Accepted, Conflict]), Accepted);
        assert_eq!(combined(vec![Duplicate, Duplicate]), Duplicate);
        assert_eq!(
            combined(vec![Duplicate, refused.clone(), Conflict]),
            refused
        );
    }
}
