//! Campaigns over HTTP: `POST /v1/campaigns`, `GET /v1/campaigns`, `GET /v1/campaigns/{id}`,
//! `POST /v1/campaigns/{id}/waves/{number}/run`, and what a campaign did: its KPIs, its report
//! and a wave's responders. The use cases are `openclm_app::campaigns` and
//! `openclm_app::reports`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openclm_app::campaigns::{Described, view};
use openclm_app::reports::{Kpis, Report, Responders, read_kpis, read_report, read_responders};
use openclm_core::auth::Action;
use openclm_core::campaign::CampaignInput;
use openclm_store::{Store, Upserted};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::extract::{body_json, query};
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> axum::Router<AppState<S>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/v1/campaigns",
            get(list_campaigns::<S>).post(post_campaign::<S>),
        )
        .route("/v1/campaigns/{id}", get(get_campaign::<S>))
        .route("/v1/campaigns/{id}/waves/{number}/run", post(run_wave::<S>))
        .route("/v1/campaigns/{id}/kpis", get(get_kpis::<S>))
        .route("/v1/campaigns/{id}/report", get(get_report::<S>))
        .route(
            "/v1/campaigns/{id}/waves/{number}/responders",
            get(get_responders::<S>),
        )
}

async fn post_campaign<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteCampaigns)?;
    let campaign = body_json::<CampaignInput>(&body)?.validate()?;
    let status =
        match openclm_app::campaigns::save(&state.store, &caller, &campaign, (state.clock)())
            .await?
        {
            Upserted::Created => StatusCode::CREATED,
            Upserted::Updated => StatusCode::OK,
        };
    Ok((status, Json(campaign)).into_response())
}

async fn list_campaigns<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let campaigns = openclm_app::campaigns::list(&state.store, &caller).await?;
    Ok(Json(json!({ "campaigns": campaigns })))
}

async fn get_campaign<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Described>, ApiError> {
    Ok(Json(view(&state.store, &caller, &id).await?))
}

async fn run_wave<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (record, ran_now) = openclm_app::campaigns::run_wave(
        &state.store,
        &caller,
        &state.config.engine,
        &id,
        &number,
        (state.clock)(),
    )
    .await?;
    let status = if ran_now {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(record)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct KpiQuery {
    by: Option<String>,
    from: Option<String>,
    until: Option<String>,
}

async fn get_kpis<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<KpiQuery>, QueryRejection>,
) -> Result<Json<Kpis>, ApiError> {
    caller.require(Action::ReadReports)?;
    let q = query(q)?;
    Ok(Json(
        read_kpis(
            &state.store,
            &caller,
            &id,
            q.by.as_deref(),
            q.from.as_deref(),
            q.until.as_deref(),
        )
        .await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportQuery {
    level: Option<f64>,
}

async fn get_report<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    caller.require(Action::ReadReports)?;
    let q = query(q)?;
    Ok(Json(
        read_report(&state.store, &caller, &id, q.level).await?,
    ))
}

async fn get_responders<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
) -> Result<Json<Responders>, ApiError> {
    Ok(Json(
        read_responders(&state.store, &caller, &id, &number, (state.clock)()).await?,
    ))
}
