//! HCP master data and what OpenCLM knows of each HCP: profile, timeline, consent, state.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use openclm_core::auth::Action;
use openclm_core::consent;
use openclm_core::hcp::HcpInput;
use openclm_core::state::StateConfig;
use openclm_core::{Channel, EventType, FieldError};
use openclm_store::prelude::*;
use openclm_store::{HcpFilter, TimelineFilter, Upserted};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::extract::{PageQuery, body_json, hcp_id, query, visible_hcp};
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/v1/hcps", get(list_hcps::<S>))
        .route("/v1/hcps/{id}", put(put_hcp::<S>).get(get_hcp::<S>))
        .route("/v1/hcps/{id}/timeline", get(timeline::<S>))
        .route("/v1/hcps/{id}/consent", get(consent::<S>))
        .route("/v1/hcps/{id}/state", get(hcp_state::<S>))
}

async fn put_hcp<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteHcps)?;
    let input: HcpInput = body_json(&body)?;
    let hcp = input.validate(&id)?;
    let upserted = state
        .store
        .put_hcps(vec![hcp.clone()], caller.actor(), (state.clock)())
        .await?
        .pop()
        .unwrap_or(Ok(Upserted::Updated))?;
    let status = match upserted {
        Upserted::Created => StatusCode::CREATED,
        Upserted::Updated => StatusCode::OK,
    };
    Ok((status, Json(hcp)).into_response())
}

pub(crate) async fn get_hcp<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let hcp = visible_hcp(&state, &caller, Action::ReadHcps, &id).await?;
    Ok(Json(hcp).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct HcpListQuery {
    pub territory: Option<String>,
    pub specialty: Option<String>,
    pub country: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

pub(crate) async fn list_hcps<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<HcpListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let scope = caller.require(Action::ReadHcps)?;
    let q = query(q)?;
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let territory = match (caller.territory_limit(scope), nonempty(q.territory)) {
        (None, asked) => asked,
        (Some(own), Some(asked)) if own.contains(&asked) => Some(asked),
        (Some(own), None) if own.len() == 1 => own.into_iter().next(),
        (Some(own), _) => {
            return Err(FieldError::new(
                "territory",
                format!("must be one of your territories: {}", own.join(", ")),
            )
            .into());
        }
    };
    let filter = HcpFilter {
        territory,
        specialty: nonempty(q.specialty),
        country: nonempty(q.country),
    };
    let page = state.store.list_hcps(filter, q.page.parse()?).await?;
    Ok(Json(page).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TimelineQuery {
    pub channel: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

pub(crate) async fn timeline<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<TimelineQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    visible_hcp(&state, &caller, Action::ReadHcps, &id).await?;
    let q = query(q)?;
    let filter = TimelineFilter {
        channel: q
            .channel
            .filter(|c| !c.is_empty())
            .map(|c| Channel::parse("channel", &c))
            .transpose()?,
        kind: q
            .kind
            .filter(|k| !k.is_empty())
            .map(|k| EventType::parse("type", &k))
            .transpose()?,
    };
    let page = state
        .store
        .timeline(hcp_id(&id)?, filter, q.page.parse()?)
        .await?
        .ok_or_else(crate::auth::hcp_not_found)?;
    Ok(Json(page).into_response())
}

pub(crate) async fn consent<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    visible_hcp(&state, &caller, Action::ReadHcps, &id).await?;
    let history = state
        .store
        .consent_history(hcp_id(&id)?)
        .await?
        .ok_or_else(crate::auth::hcp_not_found)?;
    Ok(Json(json!({"current": consent::current(&history), "history": history})).into_response())
}

/// What has been learned about an HCP, evaluated now.
pub(crate) async fn hcp_state<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    visible_hcp(&state, &caller, Action::ReadHcps, &id).await?;
    let id = hcp_id(&id)?;
    let learned = state
        .store
        .hcp_state(id.clone())
        .await?
        .ok_or_else(crate::auth::hcp_not_found)?;
    let summary = learned.summary((state.clock)(), &StateConfig::default());
    Ok(Json(json!({"hcp_id": id, "state": summary})).into_response())
}
