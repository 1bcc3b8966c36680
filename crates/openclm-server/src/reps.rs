//! Reps and their weekly suggestions over HTTP: `PUT/GET /v1/reps/{id}`,
//! `GET /v1/reps/{id}/suggestions` (the week's plan), `GET /v1/suggestions/{id}`, feedback on a
//! suggestion, and the report of what reps did with them. The use cases are `openclm_app::plan`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openclm_app::plan::{self, Plan, Report};
use openclm_core::FieldError;
use openclm_core::auth::Action;
use openclm_core::suggest::{FeedbackInput, Rep, RepInput, Suggestion};
use openclm_store::{Store, Upserted};
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::{body_json, query};
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> axum::Router<AppState<S>> {
    use axum::routing::{get, post, put};
    axum::Router::new()
        .route("/v1/reps/{id}", put(put_rep::<S>).get(get_rep::<S>))
        .route("/v1/reps/{id}/suggestions", get(rep_suggestions::<S>))
        .route("/v1/suggestions/report", get(suggestion_report::<S>))
        .route("/v1/suggestions/{id}", get(get_suggestion::<S>))
        .route("/v1/suggestions/{id}/feedback", post(feedback::<S>))
}

async fn put_rep<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::ManageReps)?;
    let input = body_json::<RepInput>(&body)?;
    let (rep, upserted) =
        plan::save_rep(&state.store, &caller, &id, input, (state.clock)()).await?;
    let status = match upserted {
        Upserted::Created => StatusCode::CREATED,
        Upserted::Updated => StatusCode::OK,
    };
    Ok((status, Json(rep)).into_response())
}

async fn get_rep<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Rep>, ApiError> {
    Ok(Json(plan::rep(&state.store, &caller, &id).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WeekQuery {
    week: Option<String>,
    rep: Option<String>,
}

async fn rep_suggestions<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<WeekQuery>, QueryRejection>,
) -> Result<Json<Plan>, ApiError> {
    caller.require(Action::ReadSuggestions)?;
    let q = query(q)?;
    if q.rep.is_some() {
        return Err(FieldError::new("rep", "the rep is named in the path").into());
    }
    let plan = plan::rep_plan(
        &state.store,
        &caller,
        &state.config.engine,
        &id,
        q.week.as_deref(),
        (state.clock)(),
    )
    .await?;
    Ok(Json(plan))
}

async fn get_suggestion<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Suggestion>, ApiError> {
    Ok(Json(plan::suggestion(&state.store, &caller, &id).await?))
}

async fn feedback<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Suggestion>, ApiError> {
    caller.require(Action::ActOnSuggestions)?;
    openclm_core::hcp::parse_identifier("id", &id)?;
    let input = body_json::<FeedbackInput>(&body)?;
    let suggestion = plan::feedback(
        &state.store,
        &caller,
        &state.config.engine,
        &state.config.screener,
        &id,
        input,
        (state.clock)(),
    )
    .await?;
    Ok(Json(suggestion))
}

async fn suggestion_report<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<WeekQuery>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    caller.require(Action::ReadReports)?;
    let q = query(q)?;
    let report = plan::suggestion_report(
        &state.store,
        &caller,
        q.week.as_deref(),
        q.rep.as_deref(),
        (state.clock)(),
    )
    .await?;
    Ok(Json(report))
}
