//! The dashboard: server-rendered pages for the people who run OpenCLM day to day — marketers,
//! MLR reviewers, PV officers, reps, privacy officers and analysts — at `/`.
//!
//! Every page reads and acts through the same `openclm_app` use cases as the API, with the
//! signed-in person as the caller, and renders their typed results: a page shows the API's
//! numbers and can do nothing the API would refuse that person. Pages need a login session (the `openclm_session` cookie); forms
//! carry a per-session CSRF token and are refused from another origin. Charts are SVG drawn
//! on the server; the only script polls the overview's live figures.

mod audit;
mod campaigns;
mod charts;
mod content;
mod deliveries;
mod hcps;
mod layout;
mod overview;
mod pv;
mod rep;
mod simulator;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use openclm_app::AppError;
use openclm_core::auth::{Action, User};
use openclm_store::prelude::*;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::{Caller, expired_session_cookie, session_cookie};
use crate::{ApiError, AppState};

pub(crate) use layout::{Nav, page};

/// The dashboard's routes (merged into the API's router).
pub(crate) fn routes<S: Store>() -> Router<AppState<S>> {
    Router::new()
        .route("/", get(overview::show::<S>))
        .route("/overview/live", get(overview::live::<S>))
        .route("/login", get(login_form).post(login::<S>))
        .route("/logout", post(logout::<S>))
        .route("/campaigns", get(campaigns::list::<S>))
        .route("/campaigns/{id}", get(campaigns::show::<S>))
        .route("/hcps", get(hcps::search::<S>))
        .route("/hcps/{id}", get(hcps::show::<S>))
        .route("/content", get(content::library::<S>))
        .route("/content/{id}", get(content::show::<S>))
        .route("/content/{id}/{step}", post(content::step::<S>))
        .route("/pv", get(pv::queue::<S>))
        .route("/pv/{id}", get(pv::case::<S>))
        .route("/pv/{id}/triage", post(pv::triage::<S>))
        .route("/rep", get(rep::week::<S>))
        .route("/rep/suggestions/{id}", post(rep::feedback::<S>))
        .route("/simulator", get(simulator::show::<S>))
        .route("/audit", get(audit::show::<S>))
        .route("/privacy/export", post(audit::export::<S>))
        .route("/privacy/erase", post(audit::erase::<S>))
        .route("/deliveries", get(deliveries::show::<S>))
        .route("/deliveries/{id}/retry", post(deliveries::retry::<S>))
        .route("/assets/app.css", get(stylesheet))
        .route("/assets/app.js", get(script))
}

/// A person signed in to the dashboard, with the token their forms must carry.
pub(crate) struct Viewer {
    pub caller: Caller,
    pub user: User,
    pub csrf: String,
}

impl Viewer {
    /// Whether the viewer's role may do `action` on at least some records.
    pub fn may(&self, action: Action) -> bool {
        self.caller.role.allows(action)
    }
}

/// The CSRF token of a session: derived from the session's hash, which never leaves the server,
/// so a page of another site cannot know it.
fn csrf_token(session_hash: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"openclm-dashboard-csrf\0");
    h.update(session_hash.as_bytes());
    hex::encode(h.finalize())
}

impl<S: Store> FromRequestParts<AppState<S>> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        // After signing in, a page is opened again; a form posted with an ended session is not
        // re-sent (it would arrive as a GET), so it leads to the overview.
        let back = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned())
        } else {
            "/".to_owned()
        };
        let caller = match Caller::from_request_parts(parts, state).await {
            Ok(caller) => caller,
            Err(ApiError::Unauthorized) => return Err(WebError::SignIn(back)),
            Err(other) => return Err(WebError::Api(other)),
        };
        // Pages are for people; an integration's key has the API.
        let (Some(user), Some(hash)) = (caller.user().cloned(), caller.session_hash.clone()) else {
            return Err(WebError::SignIn(back));
        };
        Ok(Viewer {
            csrf: csrf_token(&hash),
            user,
            caller,
        })
    }
}

/// What a page or form answers when it cannot do what was asked.
#[derive(Debug)]
pub(crate) enum WebError {
    /// Not signed in (or the session ended): to the login page, then back.
    SignIn(String),
    /// A form without the session's token, or posted from another site.
    Forged,
    Api(ApiError),
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError::Api(e)
    }
}

impl From<openclm_app::AppError> for WebError {
    fn from(e: openclm_app::AppError) -> Self {
        WebError::Api(e.into())
    }
}

impl From<openclm_store::StoreError> for WebError {
    fn from(e: openclm_store::StoreError) -> Self {
        WebError::Api(e.into())
    }
}

impl From<openclm_core::FieldError> for WebError {
    fn from(e: openclm_core::FieldError) -> Self {
        WebError::Api(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            WebError::SignIn(back) => {
                let back = if back.starts_with('/') && !back.starts_with("//") {
                    back
                } else {
                    "/".into()
                };
                let to = format!("/login?next={}", percent_encode(&back));
                return Redirect::to(&to).into_response();
            }
            WebError::Forged => (
                StatusCode::FORBIDDEN,
                "Refused",
                "The form was not sent from this dashboard's page (or the page is too old). \
                 Reload the page and try again."
                    .to_owned(),
            ),
            WebError::Api(e) => {
                // The API's mapping decides the status (and logs a server error in full); the
                // person reads the same message a client would, never internals.
                let message = match &e {
                    ApiError::Internal(_) => {
                        "Something went wrong on the server; it has been logged.".to_owned()
                    }
                    other => other.to_string(),
                };
                let status = e.into_response().status();
                let title = match status {
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
                        "Please check the form"
                    }
                    StatusCode::CONFLICT => "Not possible now",
                    _ => "Error",
                };
                (status, title, message)
            }
        };
        let body = layout::bare(
            title,
            html! {
                main id="main" class="narrow" {
                    h1 { (title) }
                    p class="error" role="alert" { (message) }
                    p { a href="/" { "Back to the dashboard" } }
                }
            },
        );
        (status, secure_headers(), Html(body.into_string())).into_response()
    }
}

/// Headers every page carries: no framing, no inline scripts or styles, nothing cached (pages
/// show personal data).
pub(crate) fn secure_headers() -> [(header::HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// Refuses a form posted from another origin: the `Origin` header, when a browser sends one,
/// must name this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = origin.to_str().ok().and_then(|o| o.split_once("://"));
    matches!((origin, host), (Some((_, authority)), Some(host)) if authority == host)
}

/// A posted form, checked: it came from this dashboard's page in this session.
pub(crate) fn checked_form<T: serde::de::DeserializeOwned>(
    viewer: &Viewer,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, WebError> {
    if !same_origin(headers) {
        tracing::warn!(caller = %viewer.caller.actor(), "form refused: posted from another origin");
        return Err(WebError::Forged);
    }
    #[derive(Deserialize)]
    struct Token {
        csrf: Option<String>,
    }
    let token: Token = serde_urlencoded_lite(body)?;
    if token.csrf.as_deref() != Some(viewer.csrf.as_str()) {
        tracing::warn!(caller = %viewer.caller.actor(), "form refused: missing or wrong CSRF token");
        return Err(WebError::Forged);
    }
    serde_urlencoded_lite(body)
}

/// Parses an `application/x-www-form-urlencoded` body, naming a bad field.
fn serde_urlencoded_lite<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, WebError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| WebError::Api(ApiError::BadRequest(format!("bad form: {e}"))))
}

/// A redirect after a successful form, with a notice the next page shows.
pub(crate) fn done(to: &str, notice: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}notice={}", percent_encode(notice))).into_response()
}

/// Percent-encodes a query value.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The notice a page shows after a form, taken from its query: only the fixed wordings the
/// dashboard's own redirects use are shown, so a link cannot put words on the page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Notice {
    notice: Option<String>,
}

impl Notice {
    pub fn shown(&self) -> Option<&'static str> {
        let text = self.notice.as_deref()?;
        NOTICES.iter().find(|n| **n == text).copied()
    }
}

pub(crate) const NOTICES: &[&str] = &[
    "Submitted for review.",
    "Approved and signed.",
    "Returned to draft.",
    "Withdrawn: pending sends and suggestions stopped.",
    "Case triaged.",
    "Suggestion accepted.",
    "Suggestion dismissed.",
    "Suggestion completed: the call is logged.",
    "The HCP was erased; the AE cases and the audit trail are kept.",
    "Dead letter queued again.",
];

// ---- sign in and out ------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Where to go after signing in: a path on this site only. Printable ASCII without a
/// backslash, one leading slash: browsers drop tabs and line breaks from a URL, so `/\t/evil`
/// would otherwise lead off-site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n
        }
        _ => "/",
    }
}

fn login_page(next: &str, error: Option<&str>) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            main id="main" class="narrow" {
                h1 { "OpenCLM" }
                p class="muted" { "Sign in with your personal account." }
                @if let Some(error) = error {
                    p class="error" role="alert" { (error) }
                }
                form method="post" action="/login" class="stack" {
                    input type="hidden" name="next" value=(next);
                    label for="user_id" { "User id" }
                    input id="user_id" name="user_id" type="text" autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

async fn login_form(q: Result<Query<LoginQuery>, QueryRejection>) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let next = safe_next(q.next.as_deref());
    (secure_headers(), Html(login_page(next, None).into_string())).into_response()
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    user_id: Option<String>,
    password: Option<String>,
    next: Option<String>,
}

async fn login<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    if !same_origin(&headers) {
        return Err(WebError::Forged);
    }
    let form: LoginForm = serde_urlencoded_lite(&body)?;
    let next = safe_next(form.next.as_deref()).to_owned();
    let input = openclm_app::accounts::LoginInput {
        user_id: filled(form.user_id),
        password: filled(form.password),
    };
    let signed_in = openclm_app::accounts::login(
        &state.store,
        input,
        state.config.session_idle_ms,
        (state.clock)(),
    )
    .await;
    match signed_in {
        Ok(signed_in) => {
            // The session cookie signs the browser in; the page goes on to where it was.
            let mut response = Redirect::to(&next).into_response();
            if let Ok(cookie) = HeaderValue::from_str(&session_cookie(&signed_in.token)) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Err(e @ (AppError::Forbidden(_) | AppError::Invalid(_))) => {
            let status = if matches!(e, AppError::Forbidden(_)) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let page = login_page(&next, Some(&e.to_string()));
            Ok((status, secure_headers(), Html(page.into_string())).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// A form field as a use case takes it: trimmed, and absent when empty.
pub(crate) fn filled(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

async fn logout<S: Store>(
    State(state): State<AppState<S>>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    #[derive(Deserialize)]
    struct Empty {}
    let _: Empty = checked_form(&viewer, &headers, &body)?;
    openclm_app::accounts::logout(&state.store, &viewer.caller, (state.clock)()).await?;
    let mut response = Redirect::to("/login").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&expired_session_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("app.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("app.js"),
    )
}
