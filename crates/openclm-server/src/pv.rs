//! The pharmacovigilance queue through the API: listing, counts, one case, triage and the
//! reconciliation of screening per source.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use openclm_app::pv::{self, AeQuery, Queue, Reconciliation, TriageInput};
use openclm_core::auth::Action;
use openclm_store::{AeCase, AeCounts, Store};

use crate::auth::Caller;
use crate::extract::{body_json, query};
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/v1/ae-cases", get(list::<S>))
        .route("/v1/ae-cases/reconciliation", get(reconciliation::<S>))
        .route("/v1/ae-cases/counts", get(counts::<S>))
        .route("/v1/ae-cases/{id}", get(case::<S>))
        .route("/v1/ae-cases/{id}/triage", post(triage::<S>))
}

/// The queue: overdue first, then by time left.
async fn list<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<AeQuery>, QueryRejection>,
) -> Result<Json<Queue>, ApiError> {
    Ok(Json(
        pv::queue(&state.store, &caller, query(q)?, (state.clock)()).await?,
    ))
}

/// How the queue stands: open, overdue and triaged cases.
async fn counts<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Json<AeCounts>, ApiError> {
    Ok(Json(
        pv::counts(&state.store, &caller, (state.clock)()).await?,
    ))
}

async fn case<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AeCase>, ApiError> {
    Ok(Json(pv::case(&state.store, &caller, id).await?))
}

async fn triage<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Option<AeCase>>, ApiError> {
    // Who may is checked before the body is read.
    caller.require(Action::TriageAeCases)?;
    caller.require_person()?;
    let input: TriageInput = body_json(&body)?;
    Ok(Json(
        pv::triage(&state.store, &caller, id, input, (state.clock)()).await?,
    ))
}

async fn reconciliation<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Json<Reconciliation>, ApiError> {
    Ok(Json(pv::reconciliation(&state.store, &caller).await?))
}
