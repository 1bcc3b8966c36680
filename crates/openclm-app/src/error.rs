//! What a use case can answer instead of a result. Each way in maps these onto its own medium
//! (an HTTP status and body, a dashboard notice, a command-line message) in one place.

use openclm_core::FieldError;
use openclm_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The caller may not do this; the message says what is missing.
    #[error("{0}")]
    Forbidden(String),
    /// Names what was not found ("HCP h-17").
    #[error("{0} not found")]
    NotFound(String),
    /// A field of the input is wrong; names the field and the reason.
    #[error(transparent)]
    Invalid(FieldError),
    /// The input is well formed but does not apply to the record's current state.
    #[error(transparent)]
    Conflict(FieldError),
    /// The store failed; the ways in decide how much of it a client sees.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    /// Names the field as part of `parent` (an item of a batch).
    pub fn within(self, parent: &str) -> Self {
        match self {
            AppError::Invalid(f) => AppError::Invalid(f.within(parent)),
            AppError::Conflict(f) => AppError::Conflict(f.within(parent)),
            other => other,
        }
    }
}

impl From<FieldError> for AppError {
    fn from(e: FieldError) -> Self {
        AppError::Invalid(e)
    }
}
