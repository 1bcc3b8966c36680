//! Who is calling and what they may do: a person's login session (cookie or bearer token) or an
//! integration's API key, checked against the policy of `openclm_core::auth` on every request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use openclm_core::auth::{Action, Role, Scope, User, is_session_token, key_id_of, key_matches};
use openclm_core::{FieldError, Hcp};
use openclm_store::SessionLimits;
use openclm_store::prelude::*;

use crate::{ApiError, AppState};

/// The name of the session cookie the login sets.
pub const SESSION_COOKIE: &str = "openclm_session";

/// Who the caller is.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person signed in.
    User(User),
    /// An integration's API key.
    Key { key_id: String },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub role: Role,
    /// The hash of the session token, when the caller is signed in (for logout).
    pub session_hash: Option<String>,
}

impl Caller {
    /// The caller as the audit trail names them: `user:<id>` or `key:<id>`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User(u) => format!("user:{}", u.user_id),
            Principal::Key { key_id } => format!("key:{key_id}"),
        }
    }

    /// The signed-in person, if the caller is one.
    pub fn user(&self) -> Option<&User> {
        match &self.principal {
            Principal::User(u) => Some(u),
            Principal::Key { .. } => None,
        }
    }

    fn territories(&self) -> &[String] {
        self.user().map_or(&[], |u| u.territories.as_slice())
    }

    /// Refuses the request unless the policy allows `action` on at least some records; returns
    /// how far it reaches.
    /// A person's act (see `Action::personal`) is refused to an API key of any role, admin
    /// included.
    pub fn require(&self, action: Action) -> Result<Scope, ApiError> {
        match self.role.scope(action) {
            Scope::Denied => {
                tracing::warn!(caller = %self.actor(), role = %self.role, ?action, "request denied");
                Err(ApiError::Forbidden(format!(
                    "the role {} may not do this",
                    self.role
                )))
            }
            scope => match (action.personal(), &self.principal) {
                (Some(what), Principal::Key { .. }) => {
                    tracing::warn!(caller = %self.actor(), ?action, "denied: a person's act asked by an API key");
                    Err(ApiError::Forbidden(format!(
                        "{what} requires a signed-in person; API keys may not do it"
                    )))
                }
                _ => Ok(scope),
            },
        }
    }

    /// Whether the caller may do `action` on at least some records (what `require` allows).
    pub fn may(&self, action: Action) -> bool {
        self.role.allows(action)
            && (action.personal().is_none() || matches!(self.principal, Principal::User(_)))
    }

    /// Whether the caller may reach records of `territory` under `scope`.
    pub fn reaches(&self, scope: Scope, territory: Option<&str>) -> bool {
        match scope {
            Scope::All => true,
            Scope::Denied => false,
            Scope::OwnTerritories => {
                territory.is_some_and(|t| self.territories().iter().any(|own| own == t))
            }
        }
    }

    /// Refuses `action` on `hcp` unless the caller reaches its territory. Outside their
    /// territories an HCP reads as not found, so a rep cannot learn who exists elsewhere.
    pub fn require_hcp(&self, action: Action, hcp: &Hcp) -> Result<(), ApiError> {
        let scope = self.require(action)?;
        if self.reaches(scope, hcp.territory.as_deref()) {
            Ok(())
        } else {
            tracing::warn!(caller = %self.actor(), ?action, "denied: HCP outside the caller's territories");
            Err(hcp_not_found())
        }
    }

    /// The territories a listing is limited to: `None` for all.
    pub fn territory_limit(&self, scope: Scope) -> Option<Vec<String>> {
        (scope == Scope::OwnTerritories).then(|| self.territories().to_vec())
    }

    /// Refuses unless the caller is a signed-in person (an electronic signature, a PV decision
    /// or a privacy request is personal).
    pub fn require_person(&self) -> Result<&User, ApiError> {
        self.user().ok_or_else(|| {
            ApiError::Forbidden("this needs a person signed in, not an API key".into())
        })
    }
}

/// The answer for an HCP that does not exist, and for one outside the caller's territories: the
/// two must be byte for byte the same, or the difference tells a rep who exists elsewhere.
pub(crate) fn hcp_not_found() -> ApiError {
    ApiError::NotFound("HCP".into())
}

/// Where a request's credential came from.
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
        return Ok(Caller {
            role: user.role,
            principal: Principal::User(user),
            session_hash: Some(hash),
        });
    }
    let key_id = key_id_of(presented).ok_or(ApiError::Unauthorized)?;
    let record = state
        .store
        .find_api_key(key_id.to_owned())
        .await?
        .filter(|k| k.revoked_at.is_none() && key_matches(presented, &k.hash))
        .ok_or(ApiError::Unauthorized)?;
    let role = Role::parse("role", &record.role).map_err(|_| ApiError::Unauthorized)?;
    Ok(Caller {
        principal: Principal::Key {
            key_id: record.key_id,
        },
        role,
        session_hash: None,
    })
}

/// A request field the caller may not set through this route.
pub fn guarded(field: &str, how: &str) -> ApiError {
    ApiError::Invalid(FieldError::new(field, format!("cannot be set here; {how}")))
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
