//! `POST /v1/events`: batches of events, JSON or NDJSON, each answered on its own.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};
use openclm_core::FieldError;
use openclm_core::auth::Action;
use openclm_core::batch::{BatchError, BatchFormat, parse_batch};
use openclm_store::IngestOutcome;
use openclm_store::prelude::*;
use serde::Serialize;

use crate::auth::Caller;
use crate::extract::read_limited;
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/v1/events", post(ingest_events::<S>))
}

async fn ingest_events<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    caller.require(Action::IngestEvents)?;
    let format = batch_format(&headers)?;
    let limit = state.config.max_batch_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the body exceeds the limit of {limit} bytes per request; split the batch"
        ))
    };
    let body = read_limited(&headers, body, limit, too_large).await?;
    let items = parse_batch(&body, format, state.config.max_batch_events).map_err(|e| match e {
        BatchError::TooManyEvents { .. } => ApiError::PayloadTooLarge(e.to_string()),
        BatchError::RepeatedKey { field } => ApiError::Invalid(FieldError::new(
            field,
            openclm_core::json::REPEATED_KEY_REASON,
        )),
        other => ApiError::BadRequest(other.to_string()),
    })?;

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
    let outcomes = state
        .store
        .ingest(valid, state.config.unknown_hcp, (state.clock)())
        .await?;
    let mut outcomes = outcomes.into_iter();
    let mut response = IngestResponse::default();
    for (index, event_id, parse_error) in results {
        let outcome = match parse_error {
            Some(e) => IngestOutcome::Rejected(e),
            None => outcomes
                .next()
                .unwrap_or(IngestOutcome::Rejected(FieldError::new(
                    "event",
                    "was not processed",
                ))),
        };
        let (status, error) = match outcome {
            IngestOutcome::Accepted => {
                response.accepted += 1;
                ("accepted", None)
            }
            IngestOutcome::Duplicate => {
                response.duplicates += 1;
                ("duplicate", None)
            }
            IngestOutcome::Conflict => {
                response.conflicts += 1;
                (
                    "conflict",
                    Some(FieldError::new(
                        "event_id",
                        "an event with this id is already stored with a different payload",
                    )),
                )
            }
            IngestOutcome::Rejected(e) => {
                response.rejected += 1;
                ("rejected", Some(e))
            }
        };
        response.results.push(EventResult {
            index,
            event_id,
            status,
            error,
        });
    }
    tracing::debug!(
        accepted = response.accepted,
        duplicates = response.duplicates,
        conflicts = response.conflicts,
        rejected = response.rejected,
        "events ingested"
    );
    Ok(Json(response))
}

/// The answer to `POST /v1/events`: counts, and one result per event in request order.
#[derive(Debug, Default, Serialize)]
struct IngestResponse {
    accepted: usize,
    duplicates: usize,
    conflicts: usize,
    rejected: usize,
    results: Vec<EventResult>,
}

#[derive(Debug, Serialize)]
struct EventResult {
    index: usize,
    /// Absent when the event's id could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<FieldError>,
}

fn batch_format(headers: &HeaderMap) -> Result<BatchFormat, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BatchFormat::Json);
    };
    let media = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "" => Ok(BatchFormat::Json),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines" => Ok(BatchFormat::Ndjson),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type {other:?} is not accepted; send application/json or application/x-ndjson"
        ))),
    }
}
