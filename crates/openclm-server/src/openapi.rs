//! The OpenAPI 3.1 document of OpenCLM's JSON API, served at `GET /v1/openapi.json`: every route
//! under `/v1/` and `/healthz`, with its parameters, bodies, answers, credentials and errors.
//!
//! The dashboard's HTML pages and forms are not part of it: `/`, `/overview/…`, `/login`,
//! `/logout`, `/campaigns…`, `/hcps…`, `/content…`, `/pv…`, `/rep…`, `/simulator`, `/audit`,
//! `/privacy/…`, `/deliveries…` and `/assets/…` answer a browser, not a client of the API.
//!
//! Schemas come from the handlers' own types (`utoipa::ToSchema` and `utoipa::IntoParams`
//! derived on them; in the core and the store behind their `openapi` feature). Where a handler
//! builds its JSON in place, or reads a body type private to its module, `schemas` describes
//! that JSON; where even that would be long, the answer is a free-form object. The paths are
//! described here by doc-only functions, so the handlers themselves carry no annotations.
//! `crates/openclm/tests/openapi.rs` checks the document against the router both ways.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder, SecurityRequirement,
};
use utoipa::{Modify, OpenApi};

use openclm_core::auth::{User, UserInput};
use openclm_core::campaign::{Campaign, CampaignInput};
use openclm_core::content::{Content, ContentInput, ContentStatus};
use openclm_core::hcp::{Hcp, HcpInput};
use openclm_core::suggest::{FeedbackInput, Rep, RepInput, Suggestion};
use openclm_store::{AeCounts, ErasureReport, Page, WaveRecord};
use schemas::*;

/// The document, as generated from the types.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The document as served: serialized once.
static SERVED: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_json()
        .expect("the OpenAPI document is plain data and always serializes")
});

/// `GET /v1/openapi.json`: the document; no credential needed.
pub(crate) async fn serve() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        SERVED.as_str(),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenCLM",
        description = "The HTTP API of OpenCLM, the open closed-loop-marketing engine: events in, \
            next best actions, campaigns and their measurement out, under MLR, PV and privacy \
            governance. Every error answers with one body, `ErrorBody`.",
    ),
    paths(
        paths::healthz,
        paths::openapi_json,
        paths::ingest_events,
        paths::list_hcps,
        paths::put_hcp,
        paths::get_hcp,
        paths::hcp_timeline,
        paths::hcp_consent,
        paths::hcp_state,
        paths::decide,
        paths::evaluate,
        paths::list_campaigns,
        paths::post_campaign,
        paths::get_campaign,
        paths::campaign_kpis,
        paths::campaign_report,
        paths::wave_responders,
        paths::run_wave,
        paths::put_rep,
        paths::get_rep,
        paths::rep_suggestions,
        paths::suggestion_report,
        paths::get_suggestion,
        paths::suggestion_feedback,
        paths::list_content,
        paths::post_content,
        paths::put_content,
        paths::get_content,
        paths::expiring_content,
        paths::content_sends,
        paths::content_performance,
        paths::content_step,
        paths::login,
        paths::logout,
        paths::me,
        paths::list_users,
        paths::create_user,
        paths::disable_user,
        paths::list_keys,
        paths::create_key,
        paths::revoke_key,
        paths::list_ae_cases,
        paths::ae_reconciliation,
        paths::ae_counts,
        paths::get_ae_case,
        paths::triage_ae_case,
        paths::audit,
        paths::privacy_export,
        paths::privacy_erase,
        paths::overview,
        paths::segment_track,
        paths::segment_page,
        paths::segment_screen,
        paths::segment_identify,
        paths::segment_group,
        paths::segment_alias,
        paths::segment_batch,
        paths::segment_import,
        paths::sendgrid_webhook,
        paths::list_deliveries,
        paths::next_deliveries,
        paths::delivery_summary,
        paths::ack_delivery,
        paths::retry_delivery,
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode)),
    modifiers(&Credentials, &Errors),
    tags(
        (name = "health", description = "Whether the service can serve and store"),
        (name = "meta", description = "This document"),
        (name = "events", description = "Interactions coming in: `POST /v1/events`"),
        (name = "hcps", description = "Healthcare professionals: master data, timeline, consent, learned state"),
        (name = "decisions", description = "Next best actions, and the offline evaluation of a policy"),
        (name = "campaigns", description = "Campaigns, their waves and their measurement"),
        (name = "reps", description = "Field reps and their weekly suggestions"),
        (name = "content", description = "The content registry and its MLR lifecycle"),
        (name = "access", description = "Sign-in, users and API keys"),
        (name = "pv", description = "Potential adverse events found in free text, for pharmacovigilance"),
        (name = "privacy", description = "The audit trail, and data-subject access and erasure"),
        (name = "overview", description = "Brand-wide figures"),
        (name = "segment", description = "The Segment-compatible Tracking API"),
        (name = "webhooks", description = "Notifications from email providers"),
        (name = "deliveries", description = "The outbound delivery queue"),
    )
)]
struct ApiDoc;

/// The credentials `crate::auth` accepts, and which operation takes which.
struct Credentials;

const BEARER: &str = "bearer";
const BASIC: &str = "basic";
const COOKIE: &str = "session_cookie";
const SENDGRID: &str = "sendgrid_signature";

impl Modify for Credentials {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key, or the session token `POST /v1/login` answers with",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An API key as the user name with an empty password: where the Segment \
                         SDKs put their write key, and what a webhook sender that cannot set a \
                         Bearer header can carry in its URL",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The session cookie the login sets; on `/v1/` it authenticates reads only",
            ))),
        );
        components.add_security_scheme(
            SENDGRID,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                crate::sendgrid::SIGNATURE_HEADER,
                "SendGrid's ECDSA signature of the timestamp header and the body, when a \
                 verification key is configured (then no API key is asked)",
            ))),
        );
        let reads = vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(BASIC, Vec::<String>::new()),
            SecurityRequirement::new(COOKIE, Vec::<String>::new()),
        ];
        let writes = reads[..2].to_vec();
        each_operation(doc, |_, safe, operation| {
            // An operation that names its own requirement (none, or SendGrid's) keeps it.
            if operation.security.is_none() {
                operation.security = Some(if safe { reads.clone() } else { writes.clone() });
            }
        });
    }
}

/// The error answers every operation may give, each with the one `ErrorBody`.
struct Errors;

impl Modify for Errors {
    fn modify(&self, doc: &mut Document) {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
                        .build(),
                )
                .build()
        };
        each_operation(doc, |path, _, operation| {
            let public = operation
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(|r| r == &SecurityRequirement::default()));
            let has_input = operation.request_body.is_some()
                || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let mut answers: Vec<(&str, &str)> = Vec::new();
            if has_input {
                answers.push((
                    "400",
                    "bad_request: the query string or the body cannot be read",
                ));
                answers.push((
                    "422",
                    "invalid: a value cannot be accepted; `field` names it and `reason` says why",
                ));
            }
            if !public {
                answers.push(("401", "unauthorized: no credential, or not a valid one"));
                answers.push((
                    "403",
                    "forbidden: the caller's role may not do this, or it needs a person signed in",
                ));
            }
            if path.contains('{') {
                answers.push((
                    "404",
                    "not_found: no such record, or none the caller may see",
                ));
            }
            if operation.request_body.is_some() {
                answers.push((
                    "409",
                    "conflict: the request does not apply to the record's current state",
                ));
                answers.push((
                    "413",
                    "payload_too_large: the body passes a limit of the route. A body over 2 MiB \
                     on a route without a larger limit of its own is refused before the route \
                     reads it, in plain text",
                ));
            }
            answers.push((
                "500",
                "internal: the request failed; the cause is in the server's log",
            ));
            answers.push((
                "503",
                "unavailable: shutting down, or the database cannot be used now",
            ));
            for (status, description) in answers {
                let mut response = error(description);
                if status == "413" {
                    response.content.insert(
                        "text/plain".to_owned(),
                        ContentBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()))
                            .build(),
                    );
                }
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert(RefOr::T(response));
            }
        });
    }
}

/// Calls `f` with every operation of the document, its path, and whether its method is safe
/// (reads only).
fn each_operation(doc: &mut Document, mut f: impl FnMut(&str, bool, &mut Operation)) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let PathItem {
            get,
            put,
            post,
            delete,
            patch,
            ..
        } = item;
        if let Some(operation) = get {
            f(path, true, operation);
        }
        for operation in [put, post, delete, patch].into_iter().flatten() {
            f(path, false, operation);
        }
    }
}

/// JSON the handlers build in place or read into types private to their modules, described.
mod schemas {
    // These types describe JSON for the document only: nothing builds or reads them.
    #![allow(dead_code)]

    use openclm_core::FieldError;
    use openclm_core::auth::User;
    use openclm_core::campaign::Campaign;
    use openclm_core::content::{Content, ContentInput};
    use serde::Serialize;
    use serde_json::Value;
    use utoipa::ToSchema;

    /// What every error answers: `ApiError` in `crate::error`.
    #[derive(ToSchema)]
    pub struct ErrorBody {
        pub error: ErrorDetail,
    }

    #[derive(ToSchema)]
    pub struct ErrorDetail {
        pub code: ErrorCode,
        /// For people: what went wrong, and what to do.
        pub message: String,
        /// The field a value was refused for (with `invalid` and `conflict`).
        pub field: Option<String>,
        /// Why it was refused (with `invalid` and `conflict`).
        pub reason: Option<String>,
    }

    /// The kind of error, one per HTTP status.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ErrorCode {
        /// 401
        Unauthorized,
        /// 403
        Forbidden,
        /// 404
        NotFound,
        /// 422
        Invalid,
        /// 409
        Conflict,
        /// 400
        BadRequest,
        /// 413
        PayloadTooLarge,
        /// 415
        UnsupportedMediaType,
        /// 408
        RequestTimeout,
        /// 503
        Unavailable,
        /// 500
        Internal,
    }

    /// `GET /healthz`.
    #[derive(ToSchema)]
    pub struct Health {
        /// `ok`, or `unavailable` (with 503).
        pub status: String,
        /// Why not, when unavailable.
        pub reason: Option<String>,
    }

    /// The answer to `POST /v1/events`: counts, and one result per event in request order.
    #[derive(ToSchema)]
    pub struct IngestAnswer {
        pub accepted: usize,
        pub duplicates: usize,
        pub conflicts: usize,
        pub rejected: usize,
        pub results: Vec<EventResult>,
    }

    #[derive(ToSchema)]
    pub struct EventResult {
        /// The event's position in the request, from 0.
        pub index: usize,
        /// Absent when the event's id could not be read.
        pub event_id: Option<String>,
        pub status: EventStatus,
        pub error: Option<FieldError>,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum EventStatus {
        Accepted,
        Duplicate,
        Conflict,
        Rejected,
    }

    /// `POST /v1/decide`: one HCP or several.
    #[derive(ToSchema)]
    pub struct DecideRequest {
        pub hcp: Option<String>,
        #[schema(default = json!([]))]
        pub hcps: Vec<String>,
        /// Limits the channels considered; empty, all.
        #[schema(default = json!([]))]
        pub channels: Vec<String>,
        /// How many actions to propose per HCP.
        pub n: Option<usize>,
    }

    /// `POST /v1/decide`: one answer per HCP asked about, in order.
    #[derive(ToSchema)]
    pub struct Decisions {
        pub decisions: Vec<Value>,
    }

    /// `POST /v1/content` takes one item or an array of them.
    #[derive(ToSchema)]
    #[serde(untagged)]
    #[derive(serde::Deserialize)]
    pub enum ContentItems {
        One(Box<ContentInput>),
        Many(Vec<ContentInput>),
    }

    /// `POST /v1/content`: how many items were new and how many edited.
    #[derive(ToSchema)]
    pub struct ContentWritten {
        pub created: usize,
        pub updated: usize,
    }

    /// `POST /v1/content/{id}/{step}`. Each step reads the fields it needs: `approve` the
    /// password (an electronic signature) and the approval's code and dates; `return` and
    /// `withdraw` a reason.
    #[derive(ToSchema)]
    pub struct LifecycleRequest {
        pub password: Option<String>,
        pub approval_code: Option<String>,
        pub valid_from: Option<String>,
        pub expires_at: Option<String>,
        pub reason: Option<String>,
    }

    /// `POST /v1/content/{id}/{step}`: the item after the step, and what it stopped.
    #[derive(ToSchema)]
    pub struct LifecycleAnswer {
        pub content: Content,
        pub stopped: Value,
    }

    #[derive(ToSchema)]
    pub struct LoginRequest {
        pub user_id: Option<String>,
        pub password: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct LoginAnswer {
        /// The session token: send it as `Authorization: Bearer`.
        pub token: String,
        pub user: User,
        /// The session ends after this many seconds without a request.
        pub idle_timeout_s: i64,
    }

    /// `GET /v1/me`.
    #[derive(ToSchema)]
    pub struct Me {
        /// `user:<id>` or `key:<id>`.
        pub actor: String,
        pub role: openclm_core::auth::Role,
        /// The signed-in person; null for an API key.
        pub user: Option<User>,
        /// The actions the caller may take.
        pub may: Vec<String>,
    }

    #[derive(ToSchema)]
    pub struct Campaigns {
        pub campaigns: Vec<Campaign>,
    }

    #[derive(ToSchema)]
    pub struct ExpiringContent {
        /// How far ahead an expiry is warned of.
        pub within_days: i64,
        /// Approved content expiring within them, soonest first.
        pub items: Vec<Content>,
    }

    #[derive(ToSchema)]
    pub struct Users {
        pub users: Vec<User>,
    }

    #[derive(ToSchema)]
    pub struct KeyRequest {
        /// The role the key acts with.
        pub role: Option<String>,
        pub label: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct NewKey {
        /// The key itself: shown this once, stored only as a hash.
        pub key: String,
        pub record: Value,
    }

    #[derive(ToSchema)]
    pub struct TriageRequest {
        pub status: Option<String>,
        /// The case's id in the safety database it was reported to.
        pub external_ref: Option<String>,
        pub note: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct EraseRequest {
        /// The request being answered (required).
        pub reason: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct AckRequest {
        /// The lease `GET /v1/deliveries/next` gave.
        pub lease_token: String,
        pub outcome: String,
        pub error: Option<String>,
    }
}

/// The operations, one doc-only function each.
mod paths {
    // Only their `#[utoipa::path]` descriptions are used.
    #![allow(dead_code)]

    use super::*;

    #[utoipa::path(get, path = "/healthz", tag = "health", security(()),
        responses(
            (status = 200, description = "The service can serve and store", body = Health),
            (status = 503, description = "The database cannot be written", body = Health),
        ))]
    fn healthz() {}

    #[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", security(()),
        responses((status = 200, description = "This document", body = Object)))]
    fn openapi_json() {}

    #[utoipa::path(post, path = "/v1/events", tag = "events",
        request_body(description = "A JSON array of events, or one event per line with \
            `Content-Type: application/x-ndjson`",
            content((Vec<Object> = "application/json"), (String = "application/x-ndjson"))),
        responses(
            (status = 200, description = "Each event's fate; refusals of single events do not fail the request", body = IngestAnswer),
            (status = 415, description = "unsupported_media_type: neither JSON nor NDJSON", body = ErrorBody),
        ))]
    fn ingest_events() {}

    #[utoipa::path(get, path = "/v1/hcps", tag = "hcps",
        params(openclm_app::hcps::HcpListQuery, openclm_app::page::PageQuery),
        responses((status = 200, description = "A page of HCPs", body = Page<Hcp>)))]
    fn list_hcps() {}

    #[utoipa::path(put, path = "/v1/hcps/{id}", tag = "hcps",
        params(("id" = String, Path, description = "OpenCLM's id of the HCP")),
        request_body = HcpInput,
        responses(
            (status = 200, description = "Updated", body = Hcp),
            (status = 201, description = "Created", body = Hcp),
        ))]
    fn put_hcp() {}

    #[utoipa::path(get, path = "/v1/hcps/{id}", tag = "hcps",
        params(("id" = String, Path, description = "OpenCLM's id of the HCP")),
        responses((status = 200, description = "The HCP", body = Hcp)))]
    fn get_hcp() {}

    #[utoipa::path(get, path = "/v1/hcps/{id}/timeline", tag = "hcps",
        params(("id" = String, Path, description = "OpenCLM's id of the HCP"),
            openclm_app::hcps::TimelineQuery, openclm_app::page::PageQuery),
        responses((status = 200, description = "A page of the HCP's events, newest first", body = Page<Object>)))]
    fn hcp_timeline() {}

    #[utoipa::path(get, path = "/v1/hcps/{id}/consent", tag = "hcps",
        params(("id" = String, Path, description = "OpenCLM's id of the HCP")),
        responses((status = 200, description = "`current`: the consent in force per channel and purpose; `history`: every change", body = Object)))]
    fn hcp_consent() {}

    #[utoipa::path(get, path = "/v1/hcps/{id}/state", tag = "hcps",
        params(("id" = String, Path, description = "OpenCLM's id of the HCP")),
        responses((status = 200, description = "`hcp_id`, and `state`: what has been learned about the HCP, evaluated now", body = Object)))]
    fn hcp_state() {}

    #[utoipa::path(post, path = "/v1/decide", tag = "decisions",
        request_body = DecideRequest,
        responses((status = 200, description = "The next best actions", body = Decisions)))]
    fn decide() {}

    #[utoipa::path(get, path = "/v1/evaluate", tag = "decisions",
        params(crate::decisions::EvaluateQuery),
        responses((status = 200, description = "The policy's estimated value against the logged one", body = Object)))]
    fn evaluate() {}

    #[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns",
        responses((status = 200, description = "Every campaign", body = Campaigns)))]
    fn list_campaigns() {}

    #[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns",
        request_body = CampaignInput,
        responses(
            (status = 200, description = "Updated", body = Campaign),
            (status = 201, description = "Created", body = Campaign),
        ))]
    fn post_campaign() {}

    #[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns",
        params(("id" = String, Path, description = "The campaign's id")),
        responses((status = 200, description = "The campaign with its waves and arms", body = Object)))]
    fn get_campaign() {}

    #[utoipa::path(get, path = "/v1/campaigns/{id}/kpis", tag = "campaigns",
        params(("id" = String, Path, description = "The campaign's id"), crate::campaigns::KpiQuery),
        responses((status = 200, description = "The campaign's KPIs", body = Object)))]
    fn campaign_kpis() {}

    #[utoipa::path(get, path = "/v1/campaigns/{id}/report", tag = "campaigns",
        params(("id" = String, Path, description = "The campaign's id"), crate::campaigns::ReportQuery),
        responses((status = 200, description = "Lift per arm against the holdout, with intervals", body = Object)))]
    fn campaign_report() {}

    #[utoipa::path(get, path = "/v1/campaigns/{id}/waves/{number}/responders", tag = "campaigns",
        params(("id" = String, Path, description = "The campaign's id"),
            ("number" = u32, Path, description = "The wave, from 1")),
        responses((status = 200, description = "Who responded to the wave, and how they differ", body = Object)))]
    fn wave_responders() {}

    #[utoipa::path(post, path = "/v1/campaigns/{id}/waves/{number}/run", tag = "campaigns",
        params(("id" = String, Path, description = "The campaign's id"),
            ("number" = u32, Path, description = "The wave, from 1")),
        responses(
            (status = 200, description = "The wave had already run", body = WaveRecord),
            (status = 201, description = "The wave ran now", body = WaveRecord),
        ))]
    fn run_wave() {}

    #[utoipa::path(put, path = "/v1/reps/{id}", tag = "reps",
        params(("id" = String, Path, description = "The rep's id")),
        request_body = RepInput,
        responses(
            (status = 200, description = "Updated", body = Rep),
            (status = 201, description = "Created", body = Rep),
        ))]
    fn put_rep() {}

    #[utoipa::path(get, path = "/v1/reps/{id}", tag = "reps",
        params(("id" = String, Path, description = "The rep's id")),
        responses((status = 200, description = "The rep", body = Rep)))]
    fn get_rep() {}

    #[utoipa::path(get, path = "/v1/reps/{id}/suggestions", tag = "reps",
        params(("id" = String, Path, description = "The rep's id"), crate::reps::WeekQuery),
        responses((status = 200, description = "The rep's plan for the week", body = openclm_app::plan::Plan)))]
    fn rep_suggestions() {}

    #[utoipa::path(get, path = "/v1/suggestions/report", tag = "reps",
        params(crate::reps::WeekQuery),
        responses((status = 200, description = "How the week's suggestions fared", body = Object)))]
    fn suggestion_report() {}

    #[utoipa::path(get, path = "/v1/suggestions/{id}", tag = "reps",
        params(("id" = String, Path, description = "The suggestion's id")),
        responses((status = 200, description = "The suggestion", body = Suggestion)))]
    fn get_suggestion() {}

    #[utoipa::path(post, path = "/v1/suggestions/{id}/feedback", tag = "reps",
        params(("id" = String, Path, description = "The suggestion's id")),
        request_body = FeedbackInput,
        responses((status = 200, description = "The suggestion after the feedback", body = Suggestion)))]
    fn suggestion_feedback() {}

    #[utoipa::path(get, path = "/v1/content", tag = "content",
        params(
            ("status" = Option<ContentStatus>, Query, description = "Only items of this status"),
            ("product" = Option<String>, Query, description = "Only items of this product"),
            openclm_app::page::PageQuery),
        responses((status = 200, description = "A page of content", body = Page<Content>)))]
    fn list_content() {}

    #[utoipa::path(post, path = "/v1/content", tag = "content",
        request_body = ContentItems,
        responses((status = 200, description = "Every item was checked, then written", body = ContentWritten)))]
    fn post_content() {}

    #[utoipa::path(put, path = "/v1/content/{id}", tag = "content",
        params(("id" = String, Path, description = "The content's id")),
        request_body = ContentInput,
        responses(
            (status = 200, description = "Updated", body = Content),
            (status = 201, description = "Created", body = Content),
        ))]
    fn put_content() {}

    #[utoipa::path(get, path = "/v1/content/{id}", tag = "content",
        params(("id" = String, Path, description = "The content's id")),
        responses((status = 200, description = "The item, its status as of now", body = Content)))]
    fn get_content() {}

    #[utoipa::path(get, path = "/v1/content/expiring", tag = "content",
        responses((status = 200, description = "Approved content expiring soon", body = ExpiringContent)))]
    fn expiring_content() {}

    #[utoipa::path(get, path = "/v1/content/{id}/sends", tag = "content",
        params(("id" = String, Path, description = "The content's id")),
        responses((status = 200, description = "`sends`: where and to whom the item went", body = Object)))]
    fn content_sends() {}

    #[utoipa::path(get, path = "/v1/content/{id}/performance", tag = "content",
        params(("id" = String, Path, description = "The content's id")),
        responses((status = 200, description = "`content_id`, `total` and per-slide `slides`: counts and rates", body = Object)))]
    fn content_performance() {}

    #[utoipa::path(post, path = "/v1/content/{id}/{step}", tag = "content",
        params(("id" = String, Path, description = "The content's id"),
            ("step" = String, Path, description = "`submit`, `approve`, `return` or `withdraw`")),
        request_body(content = LifecycleRequest, description = "May be empty for `submit`"),
        responses((status = 200, description = "The step was taken", body = LifecycleAnswer)))]
    fn content_step() {}

    #[utoipa::path(post, path = "/v1/login", tag = "access", security(()),
        request_body = LoginRequest,
        responses((status = 200, description = "Signed in; the session cookie is set too", body = LoginAnswer)))]
    fn login() {}

    #[utoipa::path(post, path = "/v1/logout", tag = "access",
        responses((status = 204, description = "Signed out; the session cookie is cleared")))]
    fn logout() {}

    #[utoipa::path(get, path = "/v1/me", tag = "access",
        responses((status = 200, description = "Who the caller is and what they may do", body = Me)))]
    fn me() {}

    #[utoipa::path(get, path = "/v1/users", tag = "access",
        responses((status = 200, description = "Every account", body = Users)))]
    fn list_users() {}

    #[utoipa::path(post, path = "/v1/users", tag = "access",
        request_body = UserInput,
        responses((status = 201, description = "Created", body = User)))]
    fn create_user() {}

    #[utoipa::path(post, path = "/v1/users/{id}/disable", tag = "access",
        params(("id" = String, Path, description = "The user's id")),
        responses((status = 204, description = "Disabled, and signed out everywhere")))]
    fn disable_user() {}

    #[utoipa::path(get, path = "/v1/keys", tag = "access",
        responses((status = 200, description = "`keys`: every API key, without its secret", body = Object)))]
    fn list_keys() {}

    #[utoipa::path(post, path = "/v1/keys", tag = "access",
        request_body = KeyRequest,
        responses((status = 201, description = "Created", body = NewKey)))]
    fn create_key() {}

    #[utoipa::path(delete, path = "/v1/keys/{id}", tag = "access",
        params(("id" = String, Path, description = "The key's id")),
        responses((status = 204, description = "Revoked")))]
    fn revoke_key() {}

    #[utoipa::path(get, path = "/v1/ae-cases", tag = "pv",
        params(openclm_app::pv::AeQuery),
        responses((status = 200, description = "`items`, `page` and `next_page`: the queue", body = Object)))]
    fn list_ae_cases() {}

    #[utoipa::path(get, path = "/v1/ae-cases/reconciliation", tag = "pv",
        responses((status = 200, description = "`sources`: texts screened and cases found per source", body = Object)))]
    fn ae_reconciliation() {}

    #[utoipa::path(get, path = "/v1/ae-cases/counts", tag = "pv",
        responses((status = 200, description = "How the queue stands", body = AeCounts)))]
    fn ae_counts() {}

    #[utoipa::path(get, path = "/v1/ae-cases/{id}", tag = "pv",
        params(("id" = String, Path, description = "The case's id")),
        responses((status = 200, description = "The case", body = Object)))]
    fn get_ae_case() {}

    #[utoipa::path(post, path = "/v1/ae-cases/{id}/triage", tag = "pv",
        params(("id" = String, Path, description = "The case's id")),
        request_body = TriageRequest,
        responses((status = 200, description = "The case after triage", body = Object)))]
    fn triage_ae_case() {}

    #[utoipa::path(get, path = "/v1/audit", tag = "privacy",
        params(openclm_app::audit::AuditQuery),
        responses((status = 200, description = "`entries`: the audit trail", body = Object)))]
    fn audit() {}

    #[utoipa::path(get, path = "/v1/privacy/hcps/{id}", tag = "privacy",
        params(("id" = String, Path, description = "OpenCLM's id of the HCP")),
        responses((status = 200, description = "Everything stored about the HCP", body = Object)))]
    fn privacy_export() {}

    #[utoipa::path(post, path = "/v1/privacy/hcps/{id}/erase", tag = "privacy",
        params(("id" = String, Path, description = "OpenCLM's id of the HCP")),
        request_body = EraseRequest,
        responses((status = 200, description = "What the erasure changed", body = ErasureReport)))]
    fn privacy_erase() {}

    #[utoipa::path(get, path = "/v1/overview", tag = "overview",
        params(crate::overview::OverviewQuery),
        responses((status = 200, description = "Figures per week, channel and campaign", body = Object)))]
    fn overview() {}

    #[utoipa::path(post, path = "/v1/track", tag = "segment",
        request_body(content = Object, description = "A Segment `track` message; the write key may also come as `writeKey`"),
        responses((status = 200, description = "`success`, and what became of the message", body = crate::tracking::TrackResponse)))]
    fn segment_track() {}

    #[utoipa::path(post, path = "/v1/page", tag = "segment",
        request_body(content = Object, description = "A Segment `page` message"),
        responses((status = 200, description = "`success`, and what became of the message", body = crate::tracking::TrackResponse)))]
    fn segment_page() {}

    #[utoipa::path(post, path = "/v1/screen", tag = "segment",
        request_body(content = Object, description = "A Segment `screen` message"),
        responses((status = 200, description = "`success`, and what became of the message", body = crate::tracking::TrackResponse)))]
    fn segment_screen() {}

    #[utoipa::path(post, path = "/v1/identify", tag = "segment",
        request_body(content = Object, description = "A Segment `identify` message"),
        responses((status = 200, description = "`success`, and what became of the message", body = crate::tracking::TrackResponse)))]
    fn segment_identify() {}

    #[utoipa::path(post, path = "/v1/group", tag = "segment",
        request_body(content = Object, description = "A Segment `group` message"),
        responses((status = 200, description = "`success`, and what became of the message", body = crate::tracking::TrackResponse)))]
    fn segment_group() {}

    #[utoipa::path(post, path = "/v1/alias", tag = "segment",
        request_body(content = Object, description = "A Segment `alias` message"),
        responses((status = 200, description = "`success`, and what became of the message", body = crate::tracking::TrackResponse)))]
    fn segment_alias() {}

    #[utoipa::path(post, path = "/v1/batch", tag = "segment",
        request_body(content = Object, description = "`{\"batch\": [messages]}`"),
        responses((status = 200, description = "`success`, and what became of each message", body = crate::tracking::TrackResponse)))]
    fn segment_batch() {}

    #[utoipa::path(post, path = "/v1/import", tag = "segment",
        request_body(content = Object, description = "The same as `/v1/batch`, under the name some SDKs use"),
        responses((status = 200, description = "`success`, and what became of each message", body = crate::tracking::TrackResponse)))]
    fn segment_import() {}

    #[utoipa::path(post, path = "/v1/webhooks/sendgrid", tag = "webhooks",
        security(("sendgrid_signature" = []), ("bearer" = []), ("basic" = [])),
        request_body(content = Vec<Object>, description = "SendGrid's Event Webhook notifications"),
        responses((status = 200, description = "What became of each notification", body = openclm_app::sendgrid::NotificationReport)))]
    fn sendgrid_webhook() {}

    #[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries",
        params(crate::deliveries::ListQuery, openclm_app::page::PageQuery),
        responses((status = 200, description = "`deliveries` and `next_cursor`: a page of the queue", body = Object)))]
    fn list_deliveries() {}

    #[utoipa::path(get, path = "/v1/deliveries/next", tag = "deliveries",
        params(crate::deliveries::NextQuery),
        responses((status = 200, description = "`lease_token`, `lease_expires_at` and `deliveries`: due deliveries leased to the caller", body = Object)))]
    fn next_deliveries() {}

    #[utoipa::path(get, path = "/v1/deliveries/summary", tag = "deliveries",
        responses((status = 200, description = "`counts`: deliveries per status", body = Object)))]
    fn delivery_summary() {}

    #[utoipa::path(post, path = "/v1/deliveries/{id}/ack", tag = "deliveries",
        params(("id" = String, Path, description = "The delivery's id")),
        request_body = AckRequest,
        responses((status = 200, description = "`delivery`: the delivery after the outcome", body = Object)))]
    fn ack_delivery() {}

    #[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = "deliveries",
        params(("id" = String, Path, description = "The delivery's id")),
        responses((status = 200, description = "`delivery`: queued again", body = Object)))]
    fn retry_delivery() {}
}
