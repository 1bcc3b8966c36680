//! `/v1/hcps`: HCP master data and what OpenCLM knows of each HCP (profile, timeline, consent,
//! state), answered by `openclm_app::hcps`.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use openclm_app::hcps::{self, ConsentView, HcpListQuery, HcpStateView, TimelineQuery};
use openclm_core::Hcp;
use openclm_core::auth::Action;
use openclm_core::hcp::HcpInput;
use openclm_store::prelude::*;
use openclm_store::{Page, StoredEvent, Upserted};

use crate::auth::Caller;
use crate::extract::{body_json, query};
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
    // Refused before the body is read.
    caller.require(Action::WriteHcps)?;
    let input: HcpInput = body_json(&body)?;
    let saved = hcps::put_hcp(&state.store, &caller, &id, input, (state.clock)()).await?;
    let status = match saved.upserted {
        Upserted::Created => StatusCode::CREATED,
        Upserted::Updated => StatusCode::OK,
    };
    Ok((status, Json(saved.hcp)).into_response())
}

async fn get_hcp<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Hcp>, ApiError> {
    Ok(Json(hcps::get_hcp(&state.store, &caller, &id).await?))
}

async fn list_hcps<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<HcpListQuery>, QueryRejection>,
) -> Result<Json<Page<Hcp>>, ApiError> {
    // A caller who may not read HCPs is refused before the query is read.
    caller.require(Action::ReadHcps)?;
    let q = query(q)?;
    Ok(Json(hcps::list_hcps(&state.store, &caller, q).await?))
}

async fn timeline<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<TimelineQuery>, QueryRejection>,
) -> Result<Json<Page<StoredEvent>>, ApiError> {
    let q = match query(q) {
        Ok(q) => q,
        Err(bad_query) => {
            // A caller who may not see the HCP learns that first, as from every HCP route.
            openclm_app::caller::visible_hcp(&state.store, &caller, Action::ReadHcps, &id).await?;
            return Err(bad_query);
        }
    };
    Ok(Json(hcps::timeline(&state.store, &caller, &id, q).await?))
}

async fn consent<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConsentView>, ApiError> {
    Ok(Json(hcps::consent(&state.store, &caller, &id).await?))
}

/// What has been learned about an HCP, evaluated now.
async fn hcp_state<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<HcpStateView>, ApiError> {
    Ok(Json(
        hcps::hcp_state(&state.store, &caller, &id, (state.clock)()).await?,
    ))
}
