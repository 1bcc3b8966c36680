//! What the handlers share: reading bodies within a limit, JSON bodies and query strings with
//! errors that name the field, pagination. Handlers import from here; nothing here imports a
//! handler.

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, header};
use openclm_core::FieldError;

use crate::ApiError;

/// Pagination query parameters shared by the list routes.
pub(crate) use openclm_app::page::PageQuery;

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

/// Whether reading a body failed because it passed the size limit (not, say, a broken connection).
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
