//! Who is calling and what they may do: a person's login session (cookie or bearer token) or an
//! integration's API key, checked against the policy of `openclm_core::auth` on every request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use openclm_core::auth::{Role, is_session_token, key_id_of, key_matches};
use openclm_store::SessionLimits;
use openclm_store::prelude::*;

use crate::{ApiError, AppState};

/// The name of the session cookie the login sets.
pub const SESSION_COOKIE: &str = "openclm_session";

pub use openclm_app::caller::Principal;

/// The `Set-Cookie` value that gives a browser its session token after signing in.
pub(crate) fn session_cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value that ends the session cookie at signing out.
pub(crate) fn expired_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// The authenticated caller of a request: the use cases' [`openclm_app::Caller`], taken from the
/// request's session or API key.
#[derive(Debug, Clone)]
pub struct Caller(pub openclm_app::Caller);

impl std::ops::Deref for Caller {
    type Target = openclm_app::Caller;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presented {
    Header,
    Cookie,
}

/// The credential a request presents: `Authorization: Bearer <key or session token>` (or an API
/// key as the user name of `Basic` credentials), else the session cookie.
fn presented(parts: &Parts) -> Option<(String, Presented)> {
    if let Some(key) = basic_user_key(&parts.headers) {
        return Some((key, Presented::Header));
    }
    if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        return auth
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            // The scheme is case-insensitive (RFC 9110).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| (key.trim().to_owned(), Presented::Header));
    }
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| (value.to_owned(), Presented::Cookie))
}

impl<S: Store> FromRequestParts<AppState<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let (presented, from) = presented(parts).ok_or(ApiError::Unauthorized)?;
        // A browser sends the cookie with any request to this site, whoever wrote it; so on the
        // API the cookie authenticates reads only. Changes come with the token in the
        // Authorization header (which a page of another site cannot set), or through the
        // dashboard's forms, which carry a per-session token of their own.
        if from == Presented::Cookie
            && !parts.method.is_safe()
            && parts.uri.path().starts_with("/v1/")
        {
            return Err(ApiError::Forbidden(
                "a session cookie authenticates reads only: send the session token as \
                 Authorization: Bearer, or use the dashboard's forms"
                    .into(),
            ));
        }
        caller_for(state, &presented).await
    }
}

/// Authenticates a credential however it came: a session token or an API key.
pub async fn caller_for<S: Store>(
    state: &AppState<S>,
    presented: &str,
) -> Result<Caller, ApiError> {
    if is_session_token(presented) {
        let hash = openclm_core::auth::hash_key(presented);
        let limits = SessionLimits {
            idle_ms: state.config.session_idle_ms,
            max_ms: state.config.session_max_ms,
        };
        let user = state
            .store
            .touch_session(hash.clone(), (state.clock)(), limits)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        return Ok(Caller(openclm_app::Caller {
            role: user.role,
            principal: Principal::User(user),
            session_hash: Some(hash),
        }));
    }
    let key_id = key_id_of(presented).ok_or(ApiError::Unauthorized)?;
    let record = state
        .store
        .find_api_key(key_id.to_owned())
        .await?
        .filter(|k| k.revoked_at.is_none() && key_matches(presented, &k.hash))
        .ok_or(ApiError::Unauthorized)?;
    let role = Role::parse("role", &record.role).map_err(|_| ApiError::Unauthorized)?;
    Ok(Caller(openclm_app::Caller {
        principal: Principal::Key {
            key_id: record.key_id,
        },
        role,
        session_hash: None,
    }))
}

/// The API key a request presents as the user name of HTTP Basic authentication with an empty
/// password (`Authorization: Basic base64(KEY:)`): where the Segment SDKs put the write key, and
/// the one credential webhook senders that cannot set a Bearer header (SendGrid) can carry, in
/// the URL they call.
pub fn basic_user_key(headers: &axum::http::HeaderMap) -> Option<String> {
    use base64::Engine;
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    (password.is_empty() && !user.is_empty()).then(|| user.to_owned())
}
