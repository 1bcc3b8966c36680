//! Who is calling: the API key in `Authorization: Bearer`, checked against its stored hash.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use openclm_core::auth::{Action, Role, key_id_of, key_matches};
use openclm_store::Store;

use crate::{ApiError, AppState};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub role: Role,
}

impl Caller {
    /// Refuses the request unless the caller's role allows `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if self.role.allows(action) {
            Ok(())
        } else {
            tracing::warn!(key_id = %self.key_id, role = %self.role, ?action, "request denied");
            Err(ApiError::Forbidden(format!(
                "a key with role {} may not do this",
                self.role
            )))
        }
    }
}

impl<S: Store> FromRequestParts<AppState<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            // The scheme is case-insensitive (RFC 9110).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .ok_or(ApiError::Unauthorized)?;
        let key_id = key_id_of(presented).ok_or(ApiError::Unauthorized)?;
        let record = state
            .store
            .find_api_key(key_id.to_owned())
            .await?
            .filter(|k| k.revoked_at.is_none() && key_matches(presented, &k.hash))
            .ok_or(ApiError::Unauthorized)?;
        let role = Role::parse("role", &record.role).map_err(|_| ApiError::Unauthorized)?;
        Ok(Caller {
            key_id: record.key_id,
            role,
        })
    }
}
