//! Content items: registering and editing them, reading them, and what each drew.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use openclm_core::FieldError;
use openclm_core::auth::Action;
use openclm_core::content::{ContentInput, ContentStatus};
use openclm_store::ContentFilter;
use openclm_store::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::extract::{PageQuery, body_json, query};
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route(
            "/v1/content",
            get(list_content::<S>).post(post_content::<S>),
        )
        .route(
            "/v1/content/{id}",
            put(put_content::<S>).get(get_content::<S>),
        )
        .route(
            "/v1/content/{id}/performance",
            get(content_performance::<S>),
        )
}

async fn put_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteContent)?;
    let mut input: ContentInput = body_json(&body)?;
    match &input.id {
        Some(body_id) if *body_id != id => {
            return Err(FieldError::new("id", "differs from the id in the path").into());
        }
        _ => input.id = Some(id),
    }
    let write = crate::governance::content_to_store(&state, &caller, input).await?;
    let content = write.content.clone();
    let created = crate::governance::write_content(&state, &caller, vec![write]).await?;
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(content)).into_response())
}

/// Most content items registered by one `POST /v1/content`: each is checked against its stored
/// version before any is written, so a request's cost grows with its length.
const MAX_CONTENT_PER_REQUEST: usize = 1000;

/// Registers one content item or an array of them. Every item is checked before any is written;
/// new items are written together, then each edit as its own compare-and-set.
async fn post_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteContent)?;
    let inputs: Vec<ContentInput> = match body_json::<Value>(&body)? {
        Value::Array(items) if items.len() > MAX_CONTENT_PER_REQUEST => {
            return Err(ApiError::PayloadTooLarge(format!(
                "the request holds {} content items; at most {MAX_CONTENT_PER_REQUEST} are \
                 accepted per request; split it",
                items.len()
            )));
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value(v)
                    .map_err(|e| FieldError::new(format!("[{i}]"), e.to_string()))
            })
            .collect::<Result<_, _>>()?,
        single => vec![
            serde_json::from_value(single).map_err(|e| FieldError::new("body", e.to_string()))?,
        ],
    };
    let mut writes = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        writes.push(
            crate::governance::content_to_store(&state, &caller, input)
                .await
                .map_err(|e| e.within(&format!("[{i}]")))?,
        );
    }
    let total = writes.len();
    let created = crate::governance::write_content(&state, &caller, writes).await?;
    Ok((
        StatusCode::OK,
        Json(json!({"created": created, "updated": total - created})),
    )
        .into_response())
}

async fn get_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadContent)?;
    let content = state
        .store
        .get_content(id, (state.clock)())
        .await?
        .ok_or_else(|| ApiError::NotFound("content".into()))?;
    Ok(Json(content).into_response())
}

#[derive(Debug, Deserialize)]
struct ContentListQuery {
    status: Option<String>,
    product: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

async fn list_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<ContentListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadContent)?;
    let q = query(q)?;
    let filter = ContentFilter {
        status: q
            .status
            .filter(|s| !s.is_empty())
            .map(|s| ContentStatus::parse("status", &s))
            .transpose()?,
        product: q.product.filter(|p| !p.is_empty()),
    };
    let page = state
        .store
        .list_content(filter, q.page.parse()?, (state.clock)())
        .await?;
    Ok(Json(page).into_response())
}

/// What an item drew, every stored event naming it counted: in all, and per slide / key message.
pub(crate) async fn content_performance<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    // Brand-wide figures, as the overview's: for those who read reports.
    caller.require(Action::ReadReports)?;
    if state
        .store
        .get_content(id.clone(), (state.clock)())
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("content".into()));
    }
    let rows = state.store.content_activity(Some(id.clone())).await?;
    let mut total = openclm_core::measure::kpi::Counts::default();
    for r in &rows {
        total.add(&r.counts);
    }
    let slides: Vec<Value> = rows
        .iter()
        .map(|r| json!({"key_message": r.key_message, "counts": r.counts, "rates": r.counts.rates()}))
        .collect();
    Ok(Json(json!({
        "content_id": id,
        "total": {"counts": total, "rates": total.rates()},
        "slides": slides,
    })))
}
