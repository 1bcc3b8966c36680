//! `GET /v1/overview`: the brand-wide overview of the last weeks (`openclm_app::overview`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use openclm_app::overview::{Overview, parse_weeks, read};
use openclm_core::auth::Action;
use openclm_store::prelude::*;
use serde::Deserialize;

use crate::auth::Caller;
use crate::{ApiError, AppState};

pub(crate) fn routes<S: Store>() -> axum::Router<AppState<S>> {
    use axum::routing::get;
    axum::Router::new().route("/v1/overview", get(get_overview::<S>))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OverviewQuery {
    weeks: Option<String>,
}

async fn get_overview<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<OverviewQuery>, QueryRejection>,
) -> Result<Json<Overview>, ApiError> {
    caller.require(Action::ReadReports)?;
    let q = crate::extract::query(q)?;
    let weeks = parse_weeks(q.weeks.as_deref())?;
    Ok(Json(
        read(&state.store, &caller, weeks, (state.clock)()).await?,
    ))
}
