//! Content items: registering and editing them, reading them, their MLR lifecycle (submit,
//! approve, return, withdraw), their sends, the approvals about to expire, and what each drew.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use openclm_app::content::{
    self, ContentQuery, Expiring, Performance, Registered, Sends, Step, StepInput, Stepped,
};
use openclm_core::FieldError;
use openclm_core::auth::Action;
use openclm_core::content::{Content, ContentInput};
use openclm_store::Page;
use openclm_store::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::extract::{PageQuery, body_json, query};
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route(
            "/v1/content",
            get(list_content::<S>).post(post_content::<S>),
        )
        .route("/v1/content/expiring", get(expiring_content::<S>))
        .route(
            "/v1/content/{id}",
            put(put_content::<S>).get(get_content::<S>),
        )
        .route(
            "/v1/content/{id}/performance",
            get(content_performance::<S>),
        )
        .route("/v1/content/{id}/sends", get(content_sends::<S>))
        .route("/v1/content/{id}/{step}", post(content_step::<S>))
}

async fn put_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteContent)?;
    let input: ContentInput = body_json(&body)?;
    let (created, content) =
        content::put(&state.store, &caller, id, input, (state.clock)()).await?;
    let status = if created {
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
) -> Result<Json<Registered>, ApiError> {
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
    Ok(Json(
        content::register(&state.store, &caller, inputs, (state.clock)()).await?,
    ))
}

async fn get_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Content>, ApiError> {
    Ok(Json(
        content::get(&state.store, &caller, id, (state.clock)()).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct ContentListQuery {
    #[serde(flatten)]
    filter: ContentQuery,
    #[serde(flatten)]
    page: PageQuery,
}

async fn list_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<ContentListQuery>, QueryRejection>,
) -> Result<Json<Page<Content>>, ApiError> {
    caller.require(Action::ReadContent)?;
    let q = query(q)?;
    let page = q.page.parse()?;
    Ok(Json(
        content::list(&state.store, &caller, q.filter, page, (state.clock)()).await?,
    ))
}

/// What an item drew, every stored event naming it counted: in all, and per slide / key message.
async fn content_performance<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Performance>, ApiError> {
    Ok(Json(
        content::performance(&state.store, &caller, id, (state.clock)()).await?,
    ))
}

/// One lifecycle step: `submit`, `approve`, `return` or `withdraw`.
async fn content_step<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Stepped>, ApiError> {
    let input: StepInput = if body.is_empty() {
        StepInput::default()
    } else {
        body_json(&body)?
    };
    let step = Step::parse(&step).ok_or_else(|| ApiError::NotFound("route".into()))?;
    Ok(Json(
        content::step(&state.store, &caller, id, step, input, (state.clock)()).await?,
    ))
}

async fn content_sends<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Sends>, ApiError> {
    Ok(Json(
        content::sends(&state.store, &caller, id, 10_000).await?,
    ))
}

/// Approved content expiring within the warning window.
async fn expiring_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Json<Expiring>, ApiError> {
    Ok(Json(
        content::expiring(&state.store, &caller, (state.clock)()).await?,
    ))
}
