//! The one place errors become HTTP responses. Client errors say which field and why; server
//! errors are logged in full and reach the client as an opaque message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openclm_core::FieldError;
use openclm_store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("sign in, or send Authorization: Bearer <API key>")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Invalid(FieldError),
    /// The request is well formed but does not apply to the record's current state.
    #[error(transparent)]
    Conflict(FieldError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The client did not send the whole request in time.
    #[error("{0}")]
    RequestTimeout(String),
    #[error(
        "the service cannot answer now (shutting down, or its database unavailable); try again shortly"
    )]
    Unavailable,
    #[error(transparent)]
    Internal(StoreError),
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(field) => ApiError::Invalid(field),
            StoreError::Closed => ApiError::Unavailable,
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                ApiError::Unavailable
            }
            // A read-only or full disk, or a read-only PostgreSQL: the data is fine, and the
            // request may succeed once the operator fixes the cause.
            other if other.cannot_write() => {
                tracing::error!(error = %other, "the database refused a write");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let body = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "request failed");
                json!({"error": {"code": code, "message": "internal error; it has been logged"}})
            }
            ApiError::Invalid(f) | ApiError::Conflict(f) => {
                json!({"error": {"code": code, "message": f.to_string(),
                "field": f.field, "reason": f.reason}})
            }
            other => json!({"error": {"code": code, "message": other.to_string()}}),
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<openclm_app::AppError> for ApiError {
    fn from(e: openclm_app::AppError) -> Self {
        use openclm_app::AppError;
        match e {
            AppError::Forbidden(m) => ApiError::Forbidden(m),
            AppError::NotFound(m) => ApiError::NotFound(m),
            AppError::Invalid(f) => ApiError::Invalid(f),
            AppError::Conflict(f) => ApiError::Conflict(f),
            AppError::Store(s) => ApiError::from(s),
        }
    }
}
