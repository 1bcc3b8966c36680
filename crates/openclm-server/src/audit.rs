//! The audit trail, read through the API.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use openclm_app::audit::{self, AuditQuery, AuditTrail};
use openclm_store::Store;

use crate::auth::Caller;
use crate::extract::query;
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/v1/audit", get(entries::<S>))
}

async fn entries<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditTrail>, ApiError> {
    caller.require(openclm_core::auth::Action::ReadAudit)?;
    Ok(Json(
        audit::entries(&state.store, &caller, query(q)?).await?,
    ))
}
