//! The whole route table in one place: every domain module's `routes()` merged, `/healthz`, and
//! the answer to a route that does not exist.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use openclm_store::prelude::*;
use serde_json::json;

use crate::{ApiError, AppState};

pub fn router<S: Store>(state: AppState<S>) -> Router {
    Router::new()
        .route("/healthz", get(healthz::<S>))
        .route("/v1/openapi.json", get(crate::openapi::serve))
        .merge(crate::events::routes())
        .merge(crate::hcps::routes())
        .merge(crate::content::routes())
        .merge(crate::decisions::routes())
        .merge(crate::campaigns::routes())
        .merge(crate::reps::routes())
        .merge(crate::accounts::routes())
        .merge(crate::pv::routes())
        .merge(crate::audit::routes())
        .merge(crate::privacy::routes())
        .merge(crate::overview::routes())
        .merge(crate::tracking::routes())
        .merge(crate::sendgrid::routes())
        .merge(crate::deliveries::routes())
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::NotFound("route".into()) })
        .with_state(state)
}

/// 200 while the server can serve and store; 503 with a short reason when its database cannot
/// be written (the cause is in the log, not in the answer).
async fn healthz<S: Store>(State(state): State<AppState<S>>) -> Response {
    match state.store.check_writable().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the database cannot be written");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "the database cannot be written"})),
            )
                .into_response()
        }
    }
}
