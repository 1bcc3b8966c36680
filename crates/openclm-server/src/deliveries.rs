//! The outbound delivery queue over HTTP: the pull API for delivery systems that poll
//! (`GET /v1/deliveries/next`, `POST /v1/deliveries/{id}/ack`), the queue and its summary, and
//! putting a dead letter back. The use cases and the pusher are `openclm_app::deliveries`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use openclm_app::deliveries::{self, Ack, PushRound};
use openclm_core::auth::Action;
use openclm_store::{Store, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::extract::{PageQuery, body_json, query};
use crate::{ApiError, AppState};

pub use openclm_app::deliveries::{DeliveryConfig, DeliveryTarget};

pub(crate) fn routes<S: Store>() -> axum::Router<AppState<S>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/deliveries", get(list::<S>))
        .route("/v1/deliveries/next", get(next::<S>))
        .route("/v1/deliveries/summary", get(summary::<S>))
        .route("/v1/deliveries/{id}/ack", post(ack::<S>))
        .route("/v1/deliveries/{id}/retry", post(retry::<S>))
}

/// One round of the pusher with the server's settings and clock
/// ([`openclm_app::deliveries::push_due`]).
pub async fn push_due<S: Store>(
    state: &AppState<S>,
    client: &reqwest::Client,
) -> Result<PushRound, StoreError> {
    deliveries::push_due(
        &state.store,
        &Arc::new(state.config.delivery.clone()),
        &Arc::new(state.config.engine.rules.clone()),
        &state.clock,
        client,
    )
    .await
}

/// The pusher with the server's settings and clock
/// ([`openclm_app::deliveries::spawn_delivery_pusher`]).
pub fn spawn_delivery_pusher<S: Store>(state: AppState<S>) -> Option<tokio::task::JoinHandle<()>> {
    deliveries::spawn_delivery_pusher(
        state.store,
        state.config.delivery,
        state.config.engine.rules,
        state.clock,
    )
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NextQuery {
    channel: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/deliveries/next?channel=…&limit=…`: leases due deliveries of one channel to the
/// caller; those that may no longer be sent are cancelled on the way and not returned.
async fn next<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<NextQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Action::PullDeliveries)?;
    let q = query(q)?;
    let leased = deliveries::next(
        &state.store,
        &caller,
        &state.config.delivery,
        &state.config.engine.rules,
        q.channel.as_deref(),
        q.limit.as_deref(),
        (state.clock)(),
    )
    .await?;
    Ok(Json(leased).into_response())
}

/// `POST /v1/deliveries/{id}/ack`: what came of a pulled delivery, under its lease.
async fn ack<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::PullDeliveries)?;
    let body: Ack = body_json(&body)?;
    let delivery = deliveries::ack(
        &state.store,
        &caller,
        &state.config.delivery,
        id,
        body,
        (state.clock)(),
    )
    .await?;
    Ok(Json(json!({ "delivery": delivery })).into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    status: Option<String>,
    channel: Option<String>,
    #[param(ignore)]
    #[serde(flatten)]
    page: PageQuery,
}

/// `GET /v1/deliveries?status=…&channel=…`: the queue, by delivery id, paged.
async fn list<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadDeliveries)?;
    let q = query(q)?;
    let page = deliveries::list(
        &state.store,
        &caller,
        q.status.as_deref(),
        q.channel.as_deref(),
        q.page.parse()?,
    )
    .await?;
    Ok(Json(json!({"deliveries": page.items, "next_cursor": page.next_cursor})).into_response())
}

/// `GET /v1/deliveries/summary`: how many deliveries stand in each status per channel.
async fn summary<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let counts = deliveries::summary(&state.store, &caller).await?;
    Ok(Json(json!({ "counts": counts })).into_response())
}

/// `POST /v1/deliveries/{id}/retry`: a dead letter back in the queue, due now.
async fn retry<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let delivery = deliveries::retry(&state.store, &caller, id, (state.clock)()).await?;
    Ok(Json(json!({ "delivery": delivery })).into_response())
}
