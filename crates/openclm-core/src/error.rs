//! The one error shape every validation in OpenCLM returns: which field, and why.

use serde::Serialize;

/// A value a client sent that OpenCLM cannot accept, naming the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {reason}")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A required field that is absent.
    pub fn missing(field: &str) -> Self {
        Self::new(field, "is required")
    }

    /// Prefixes the field with its parent, e.g. `external_ids[2].system`.
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            reason: self.reason,
        }
    }
}
