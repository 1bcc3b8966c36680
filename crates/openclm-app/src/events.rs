//! Storing a batch of events: each event is answered on its own, so one bad event never costs
//! the others. The batch arrives parsed (how it was framed is the way in's business).

use openclm_core::auth::Action;
use openclm_core::batch::BatchItem;
use openclm_core::{FieldError, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{IngestOutcome, UnknownHcpPolicy};
use serde::Serialize;

use crate::{AppError, Caller};

/// What became of a batch: counts, and one result per event in the batch's order.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    pub accepted: usize,
    pub duplicates: usize,
    pub conflicts: usize,
    pub rejected: usize,
    pub results: Vec<EventResult>,
}

/// What became of one event.
#[derive(Debug, Serialize)]
pub struct EventResult {
    /// The event's position in the batch.
    pub index: usize,
    /// Absent when the event's id could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub status: EventStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FieldError>,
}

/// The fate of one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Stored now.
    Accepted,
    /// Already stored with the same payload.
    Duplicate,
    /// Already stored under its id with a different payload.
    Conflict,
    /// Not stored; the result's error says why.
    Rejected,
}

impl IngestReport {
    /// Counts `outcome` and records it as the result of the event at `index`; `conflict_field`
    /// names the field that carries the event's id where the source sent it.
    pub(crate) fn record(
        &mut self,
        index: usize,
        event_id: Option<String>,
        outcome: IngestOutcome,
        conflict_field: &str,
    ) {
        let (status, error) = match outcome {
            IngestOutcome::Accepted => {
                self.accepted += 1;
                (EventStatus::Accepted, None)
            }
            IngestOutcome::Duplicate => {
                self.duplicates += 1;
                (EventStatus::Duplicate, None)
            }
            IngestOutcome::Conflict => {
                self.conflicts += 1;
                (EventStatus::Conflict, Some(conflict(conflict_field)))
            }
            IngestOutcome::Rejected(e) => {
                self.rejected += 1;
                (EventStatus::Rejected, Some(e))
            }
        };
        self.results.push(EventResult {
            index,
            event_id,
            status,
            error,
        });
    }
}

/// Why an event whose id is already stored with another payload is refused.
pub(crate) fn conflict(field: &str) -> FieldError {
    FieldError::new(
        field,
        "an event with this id is already stored with a different payload",
    )
}

/// The outcome of an event the store was given but did not answer for.
pub(crate) fn not_processed() -> FieldError {
    FieldError::new("event", "was not processed")
}

/// Stores the events of a parsed batch that parsed, under `unknown_hcp` for events naming an
/// HCP not in the master data; the others are rejected with their parse error.
pub async fn ingest<S: Store>(
    store: &S,
    caller: &Caller,
    items: Vec<BatchItem>,
    unknown_hcp: UnknownHcpPolicy,
    now: Timestamp,
) -> Result<IngestReport, AppError> {
    caller.require(Action::IngestEvents)?;
    // Each event's position, id, and parse error; events without one get the store's outcome.
    let mut results: Vec<(usize, Option<String>, Option<FieldError>)> =
        Vec::with_capacity(items.len());
    let mut valid = Vec::with_capacity(items.len());
    for item in items {
        match item.parsed {
            Ok(event) => {
                results.push((item.index, item.event_id, None));
                valid.push(event);
            }
            Err(e) => results.push((item.index, item.event_id, Some(e))),
        }
    }
    let mut outcomes = store.ingest(valid, unknown_hcp, now).await?.into_iter();
    let mut report = IngestReport::default();
    for (index, event_id, parse_error) in results {
        let outcome = match parse_error {
            Some(e) => IngestOutcome::Rejected(e),
            None => outcomes
                .next()
                .unwrap_or_else(|| IngestOutcome::Rejected(not_processed())),
        };
        report.record(index, event_id, outcome, "event_id");
    }
    tracing::debug!(
        accepted = report.accepted,
        duplicates = report.duplicates,
        conflicts = report.conflicts,
        rejected = report.rejected,
        "events ingested"
    );
    Ok(report)
}
