//! Data-subject requests: an HCP's access export and erasure.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use openclm_app::privacy::{self, EraseInput, HcpExport};
use openclm_core::auth::Action;
use openclm_store::{ErasureReport, Store};

use crate::auth::Caller;
use crate::extract::body_json;
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/v1/privacy/hcps/{id}", get(export::<S>))
        .route("/v1/privacy/hcps/{id}/erase", post(erase::<S>))
}

async fn export<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<HcpExport>, ApiError> {
    Ok(Json(
        privacy::export(&state.store, &caller, &id, (state.clock)()).await?,
    ))
}

async fn erase<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ErasureReport>, ApiError> {
    // Who may is checked before the body is read.
    caller.require(Action::PrivacyRequests)?;
    caller.require_person()?;
    let input: EraseInput = body_json(&body)?;
    Ok(Json(
        privacy::erase(&state.store, &caller, &id, input, (state.clock)()).await?,
    ))
}
