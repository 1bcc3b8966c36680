//! The `/v1` routes and `/healthz`.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use openclm_core::auth::Action;
use openclm_core::batch::{BatchError, BatchFormat, parse_batch};
use openclm_core::consent;
use openclm_core::content::{ContentInput, ContentStatus};
use openclm_core::hcp::HcpInput;
use openclm_core::state::StateConfig;
use openclm_core::{Channel, EventType, FieldError, HcpId};
use openclm_store::{
    ContentFilter, HcpFilter, IngestOutcome, PageRequest, Store, TimelineFilter, Upserted,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, AppState};

pub fn router<S: Store>(state: AppState<S>) -> Router {
    Router::new()
        .route("/healthz", get(healthz::<S>))
        .route("/v1/openapi.json", get(crate::openapi::serve))
        .route("/v1/events", post(ingest_events::<S>))
        .route("/v1/hcps", get(list_hcps::<S>))
        .route("/v1/hcps/{id}", put(put_hcp::<S>).get(get_hcp::<S>))
        .route("/v1/hcps/{id}/timeline", get(timeline::<S>))
        .route("/v1/hcps/{id}/consent", get(consent::<S>))
        .route("/v1/hcps/{id}/state", get(hcp_state::<S>))
        .route("/v1/decide", post(crate::decide::decide::<S>))
        .route("/v1/evaluate", get(crate::evaluate::get_evaluate::<S>))
        .route(
            "/v1/campaigns",
            get(crate::campaign::list_campaigns::<S>).post(crate::campaign::post_campaign::<S>),
        )
        .route(
            "/v1/campaigns/{id}",
            get(crate::campaign::get_campaign::<S>),
        )
        .route("/v1/campaigns/{id}/kpis", get(crate::report::get_kpis::<S>))
        .route(
            "/v1/campaigns/{id}/report",
            get(crate::report::get_report::<S>),
        )
        .route(
            "/v1/campaigns/{id}/waves/{number}/responders",
            get(crate::report::get_responders::<S>),
        )
        .route(
            "/v1/campaigns/{id}/waves/{number}/run",
            post(crate::campaign::run_wave::<S>),
        )
        .route(
            "/v1/reps/{id}",
            put(crate::suggest::put_rep::<S>).get(crate::suggest::get_rep::<S>),
        )
        .route(
            "/v1/reps/{id}/suggestions",
            get(crate::suggest::rep_suggestions::<S>),
        )
        .route(
            "/v1/suggestions/report",
            get(crate::suggest::suggestion_report::<S>),
        )
        .route(
            "/v1/suggestions/{id}",
            get(crate::suggest::get_suggestion::<S>),
        )
        .route(
            "/v1/suggestions/{id}/feedback",
            post(crate::suggest::feedback::<S>),
        )
        .route(
            "/v1/content",
            get(list_content::<S>).post(post_content::<S>),
        )
        .route(
            "/v1/content/{id}",
            put(put_content::<S>).get(get_content::<S>),
        )
        .route("/v1/login", post(crate::governance::login::<S>))
        .route("/v1/logout", post(crate::governance::logout::<S>))
        .route("/v1/me", get(crate::governance::me))
        .route(
            "/v1/users",
            get(crate::governance::list_users::<S>).post(crate::governance::create_user::<S>),
        )
        .route(
            "/v1/users/{id}/disable",
            post(crate::governance::disable_user::<S>),
        )
        .route(
            "/v1/keys",
            get(crate::governance::list_keys::<S>).post(crate::governance::create_key::<S>),
        )
        .route(
            "/v1/keys/{id}",
            axum::routing::delete(crate::governance::revoke_key::<S>),
        )
        .route(
            "/v1/content/expiring",
            get(crate::governance::expiring_content::<S>),
        )
        .route(
            "/v1/content/{id}/sends",
            get(crate::governance::content_sends::<S>),
        )
        .route(
            "/v1/content/{id}/performance",
            get(content_performance::<S>),
        )
        .route(
            "/v1/content/{id}/{step}",
            post(crate::governance::content_step::<S>),
        )
        .route("/v1/ae-cases", get(crate::governance::list_ae_cases::<S>))
        .route(
            "/v1/ae-cases/reconciliation",
            get(crate::governance::ae_reconciliation::<S>),
        )
        .route(
            "/v1/ae-cases/counts",
            get(crate::governance::ae_counts::<S>),
        )
        .route(
            "/v1/ae-cases/{id}",
            get(crate::governance::get_ae_case::<S>),
        )
        .route(
            "/v1/ae-cases/{id}/triage",
            post(crate::governance::triage_ae_case::<S>),
        )
        .route("/v1/audit", get(crate::governance::audit::<S>))
        .route(
            "/v1/privacy/hcps/{id}",
            get(crate::governance::get_privacy_export::<S>),
        )
        .route(
            "/v1/privacy/hcps/{id}/erase",
            post(crate::governance::post_privacy_erase::<S>),
        )
        .route("/v1/overview", get(crate::overview::get_overview::<S>))
        .merge(crate::segment::routes::<S>())
        .route("/v1/webhooks/sendgrid", post(crate::sendgrid::webhook::<S>))
        .route("/v1/deliveries", get(crate::delivery::list::<S>))
        .route("/v1/deliveries/next", get(crate::delivery::next::<S>))
        .route("/v1/deliveries/summary", get(crate::delivery::summary::<S>))
        .route("/v1/deliveries/{id}/ack", post(crate::delivery::ack::<S>))
        .route(
            "/v1/deliveries/{id}/retry",
            post(crate::delivery::retry::<S>),
        )
        .merge(crate::web::routes::<S>())
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

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Pagination query parameters shared by the list routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

impl PageQuery {
    pub(crate) fn parse(self) -> Result<PageRequest, ApiError> {
        let limit = match self.limit.as_deref() {
            None => DEFAULT_PAGE,
            Some(text) => match text.parse::<usize>() {
                Ok(n @ 1..=MAX_PAGE) => n,
                _ => {
                    return Err(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_PAGE}"),
                    )
                    .into());
                }
            },
        };
        Ok(PageRequest {
            cursor: self.cursor.filter(|c| !c.is_empty()),
            limit,
        })
    }
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::BadRequest(format!("bad query string: {}", e.body_text())))
}

pub(crate) fn body_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let reason = e.to_string();
        // serde names the offending field in its message ("unknown field `x`", "missing field `y`").
        let field = reason
            .split('`')
            .nth(1)
            .filter(|_| reason.contains("field"))
            .unwrap_or("body")
            .to_owned();
        ApiError::Invalid(FieldError::new(field, reason))
    })
}

// ---- events ----------------------------------------------------------------------------------

async fn ingest_events<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    caller.require(Action::IngestEvents)?;
    let format = batch_format(&headers)?;
    let limit = state.config.max_batch_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the body exceeds the limit of {limit} bytes per request; split the batch"
        ))
    };
    let body = read_limited(&headers, body, limit, too_large).await?;
    let items = parse_batch(&body, format, state.config.max_batch_events).map_err(|e| match e {
        BatchError::TooManyEvents { .. } => ApiError::PayloadTooLarge(e.to_string()),
        BatchError::RepeatedKey { field } => ApiError::Invalid(FieldError::new(
            field,
            openclm_core::json::REPEATED_KEY_REASON,
        )),
        other => ApiError::BadRequest(other.to_string()),
    })?;

    // Each event's position, id, and parse error; events without one get the store's outcome.
    let mut results: Vec<(usize, Option<String>, Option<FieldError>)> =
        Vec::with_capacity(items.len());
    let mut valid = Vec::with_capacity(items.len());
    for item in items {
        match item.parsed {
            Ok(event) => {
                results.push((item.index, item.event_id, None));
                valid.push(event);
            }
            Err(e) => results.push((item.index, item.event_id, Some(e))),
        }
    }
    let outcomes = state
        .store
        .ingest(valid, state.config.unknown_hcp, (state.clock)())
        .await?;
    let mut outcomes = outcomes.into_iter();
    let mut response = IngestResponse::default();
    for (index, event_id, parse_error) in results {
        let outcome = match parse_error {
            Some(e) => IngestOutcome::Rejected(e),
            None => outcomes
                .next()
                .unwrap_or(IngestOutcome::Rejected(FieldError::new(
                    "event",
                    "was not processed",
                ))),
        };
        let (status, error) = match outcome {
            IngestOutcome::Accepted => {
                response.accepted += 1;
                ("accepted", None)
            }
            IngestOutcome::Duplicate => {
                response.duplicates += 1;
                ("duplicate", None)
            }
            IngestOutcome::Conflict => {
                response.conflicts += 1;
                (
                    "conflict",
                    Some(FieldError::new(
                        "event_id",
                        "an event with this id is already stored with a different payload",
                    )),
                )
            }
            IngestOutcome::Rejected(e) => {
                response.rejected += 1;
                ("rejected", Some(e))
            }
        };
        response.results.push(EventResult {
            index,
            event_id,
            status,
            error,
        });
    }
    tracing::debug!(
        accepted = response.accepted,
        duplicates = response.duplicates,
        conflicts = response.conflicts,
        rejected = response.rejected,
        "events ingested"
    );
    Ok(Json(response))
}

/// The answer to `POST /v1/events`: counts, and one result per event in request order.
#[derive(Debug, Default, Serialize)]
struct IngestResponse {
    accepted: usize,
    duplicates: usize,
    conflicts: usize,
    rejected: usize,
    results: Vec<EventResult>,
}

#[derive(Debug, Serialize)]
struct EventResult {
    index: usize,
    /// Absent when the event's id could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<FieldError>,
}

/// Whether reading a body failed because it passed the size limit (not, say, a broken connection).
/// Reads a body of at most `limit` bytes; a larger one is refused with `too_large()`, before it is
/// read when its length is declared.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    too_large: impl Fn() -> ApiError,
) -> Result<Bytes, ApiError> {
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            too_large()
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    })
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

fn batch_format(headers: &HeaderMap) -> Result<BatchFormat, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BatchFormat::Json);
    };
    let media = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "" => Ok(BatchFormat::Json),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines" => Ok(BatchFormat::Ndjson),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type {other:?} is not accepted; send application/json or application/x-ndjson"
        ))),
    }
}

// ---- HCPs ------------------------------------------------------------------------------------

fn hcp_id(id: &str) -> Result<HcpId, ApiError> {
    HcpId::parse("id", id).map_err(ApiError::from)
}

/// The HCP `id` names, if the caller may do `action` on it; otherwise not found (a rep learns
/// nothing of HCPs outside their territories).
pub(crate) async fn visible_hcp<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    action: Action,
    id: &str,
) -> Result<openclm_core::Hcp, ApiError> {
    caller.require(action)?;
    let hcp = state
        .store
        .get_hcp(hcp_id(id)?)
        .await?
        .ok_or_else(crate::auth::hcp_not_found)?;
    caller.require_hcp(action, &hcp)?;
    Ok(hcp)
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

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HcpListQuery {
    pub territory: Option<String>,
    pub specialty: Option<String>,
    pub country: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
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

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TimelineQuery {
    pub channel: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
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

// ---- content ---------------------------------------------------------------------------------

async fn put_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteContent)?;
    let mut input: ContentInput = body_json(&body)?;
    match &input.id {
        Some(body_id) if *body_id != id => {
            return Err(FieldError::new("id", "differs from the id in the path").into());
        }
        _ => input.id = Some(id),
    }
    let write = crate::governance::content_to_store(&state, &caller, input).await?;
    let content = write.content.clone();
    let created = crate::governance::write_content(&state, &caller, vec![write]).await?;
    let status = if created > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(content)).into_response())
}

/// Most content items registered by one `POST /v1/content`: each is checked against its stored
/// version before any is written, so a request's cost grows with its length.
const MAX_CONTENT_PER_REQUEST: usize = 1000;

/// Registers one content item or an array of them. Every item is checked before any is written;
/// new items are written together, then each edit as its own compare-and-set.
async fn post_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Action::WriteContent)?;
    let inputs: Vec<ContentInput> = match body_json::<Value>(&body)? {
        Value::Array(items) if items.len() > MAX_CONTENT_PER_REQUEST => {
            return Err(ApiError::PayloadTooLarge(format!(
                "the request holds {} content items; at most {MAX_CONTENT_PER_REQUEST} are \
                 accepted per request; split it",
                items.len()
            )));
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value(v)
                    .map_err(|e| FieldError::new(format!("[{i}]"), e.to_string()))
            })
            .collect::<Result<_, _>>()?,
        single => vec![
            serde_json::from_value(single).map_err(|e| FieldError::new("body", e.to_string()))?,
        ],
    };
    let mut writes = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        writes.push(
            crate::governance::content_to_store(&state, &caller, input)
                .await
                .map_err(|e| e.within(&format!("[{i}]")))?,
        );
    }
    let total = writes.len();
    let created = crate::governance::write_content(&state, &caller, writes).await?;
    Ok((
        StatusCode::OK,
        Json(json!({"created": created, "updated": total - created})),
    )
        .into_response())
}

async fn get_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadContent)?;
    let content = state
        .store
        .get_content(id, (state.clock)())
        .await?
        .ok_or_else(|| ApiError::NotFound("content".into()))?;
    Ok(Json(content).into_response())
}

#[derive(Debug, Deserialize)]
struct ContentListQuery {
    status: Option<String>,
    product: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

async fn list_content<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    q: Result<Query<ContentListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(Action::ReadContent)?;
    let q = query(q)?;
    let filter = ContentFilter {
        status: q
            .status
            .filter(|s| !s.is_empty())
            .map(|s| ContentStatus::parse("status", &s))
            .transpose()?,
        product: q.product.filter(|p| !p.is_empty()),
    };
    let page = state
        .store
        .list_content(filter, q.page.parse()?, (state.clock)())
        .await?;
    Ok(Json(page).into_response())
}

/// What an item drew, every stored event naming it counted: in all, and per slide / key message.
pub(crate) async fn content_performance<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    // Brand-wide figures, as the overview's: for those who read reports.
    caller.require(Action::ReadReports)?;
    if state
        .store
        .get_content(id.clone(), (state.clock)())
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("content".into()));
    }
    let rows = state.store.content_activity(Some(id.clone())).await?;
    let mut total = openclm_core::measure::kpi::Counts::default();
    for r in &rows {
        total.add(&r.counts);
    }
    let slides: Vec<Value> = rows
        .iter()
        .map(|r| json!({"key_message": r.key_message, "counts": r.counts, "rates": r.counts.rates()}))
        .collect();
    Ok(Json(json!({
        "content_id": id,
        "total": {"counts": total, "rates": total.rates()},
        "slides": slides,
    })))
}
