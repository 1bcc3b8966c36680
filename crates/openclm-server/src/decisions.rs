//! Decisions: `POST /v1/decide` (the next best actions for one HCP or many, each decision
//! logged) and `GET /v1/evaluate` (off-policy evaluation of a candidate policy from the log).
//! The use cases are `openclm_app::decide` and `openclm_app::evaluation`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use openclm_app::decide::DecideRequest;
use openclm_app::evaluation::{Candidate, Report, evaluate_for, settled_until};
use openclm_core::Timestamp;
use openclm_core::auth::Action;
use openclm_store::Store;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::extract::{body_json, query};
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> axum::Router<AppState<S>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/decide", post(decide::<S>))
        .route("/v1/evaluate", get(get_evaluate::<S>))
}

pub(crate) async fn decide<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::Decide)?;
    let request: DecideRequest = body_json(&body)?;
    // Each answer is kept as its text from the moment it is made: a parsed JSON tree costs
    // several times its text, and a request holds up to 1,000 of them until its log is written.
    let decisions = openclm_app::decide::decide(
        &state.store,
        &caller,
        &state.config.engine,
        request,
        (state.clock)(),
        // A typed answer always serializes: never `None`.
        |answer| serde_json::value::to_raw_value(&answer).ok(),
    )
    .await?;
    Ok(Json(json!({ "decisions": decisions })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EvaluateQuery {
    policy: String,
    campaign: Option<String>,
    since: Option<String>,
    until: Option<String>,
    level: Option<f64>,
}

pub(crate) async fn get_evaluate<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<EvaluateQuery>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    caller.require(Action::ReadReports)?;
    let q = query(q)?;
    let policy = Candidate::parse("policy", &q.policy)?;
    let campaign = q
        .campaign
        .as_deref()
        .map(|c| openclm_core::hcp::parse_identifier("campaign", c))
        .transpose()?;
    let since = q
        .since
        .as_deref()
        .map(|s| Timestamp::parse("since", s))
        .transpose()?;
    let until = match q.until.as_deref() {
        Some(u) => Timestamp::parse("until", u)?,
        None => settled_until((state.clock)(), state.config.attribution_window_ms),
    };
    Ok(Json(
        evaluate_for(
            &state.store,
            &caller,
            &policy,
            campaign,
            since,
            until,
            q.level.unwrap_or(0.95),
        )
        .await?,
    ))
}
