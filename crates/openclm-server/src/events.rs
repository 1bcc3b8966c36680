//! `POST /v1/events`: batches of events, JSON or NDJSON, each answered on its own.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};
use openclm_app::events::IngestReport;
use openclm_core::FieldError;
use openclm_core::auth::Action;
use openclm_core::batch::{BatchError, BatchFormat, parse_batch};
use openclm_store::prelude::*;

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
) -> Result<Json<IngestReport>, ApiError> {
    // Refused before the body is read.
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

    let report = openclm_app::events::ingest(
        &state.store,
        &caller,
        items,
        state.config.unknown_hcp,
        (state.clock)(),
    )
    .await?;
    Ok(Json(report))
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
