//! The content registry: promotional material with its MLR status and validity window.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::hcp::parse_identifier;
use crate::{FieldError, Timestamp};

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text).ok_or_else(|| {
                    FieldError::new(field, format!("unknown value {text:?}; expected one of {}",
                        crate::channel::names(Self::ALL)))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// What a piece of content is.
    ContentKind {
        SlideDeck = "slide_deck",
        KeyMessage = "key_message",
        EmailTemplate = "email_template",
        Video = "video",
        Banner = "banner",
        Questionnaire = "questionnaire",
        Webinar = "webinar",
        WebPage = "web_page",
    }
);

text_enum!(
    /// Where a piece of content is in its medical-legal-regulatory (MLR) lifecycle.
    ContentStatus {
        Draft = "draft",
        InReview = "in_review",
        Approved = "approved",
        Expired = "expired",
        Withdrawn = "withdrawn",
    }
);

/// A piece of content in the registry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Content {
    pub id: String,
    pub title: String,
    pub kind: ContentKind,
    pub product: String,
    pub topics: Vec<String>,
    /// ISO 639-1 language code, lower case.
    pub language: String,
    /// ISO 3166-1 alpha-2 codes where the content may be used; empty means everywhere.
    pub countries: Vec<String>,
    /// The specialties the content is meant for (lower case); empty means all.
    pub specialties: Vec<String>,
    pub version: u32,
    pub status: ContentStatus,
    pub approval_code: Option<String>,
    pub approved_at: Option<Timestamp>,
    pub valid_from: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

impl Content {
    /// The status as of `now`: approved content past its expiry reads as expired.
    pub fn status_at(&self, now: Timestamp) -> ContentStatus {
        match (self.status, self.expires_at) {
            (ContentStatus::Approved, Some(end)) if now >= end => ContentStatus::Expired,
            (status, _) => status,
        }
    }
}

/// Content as a client sends it (API body, JSON file or CSV row), before validation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentInput {
    pub id: Option<String>,
    pub title: Option<String>,
    pub kind: Option<String>,
    pub product: Option<String>,
    #[serde(default)]
    pub topics: Vec<String>,
    pub language: Option<String>,
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub specialties: Vec<String>,
    pub version: Option<u32>,
    pub status: Option<String>,
    pub approval_code: Option<String>,
    pub approved_at: Option<String>,
    pub valid_from: Option<String>,
    pub expires_at: Option<String>,
}

impl ContentInput {
    pub fn validate(self) -> Result<Content, FieldError> {
        let id = parse_identifier("id", self.id.as_deref().unwrap_or_default())?;
        let title = self
            .title
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| FieldError::missing("title"))?;
        if title.len() > 300 {
            return Err(FieldError::new("title", "must be at most 300 bytes"));
        }
        if title.chars().any(char::is_control) {
            return Err(FieldError::new(
                "title",
                "must not contain control characters",
            ));
        }
        let kind = ContentKind::parse("kind", self.kind.as_deref().unwrap_or_default())?;
        let product = parse_identifier("product", self.product.as_deref().unwrap_or_default())?;
        let mut topics = Vec::new();
        for (i, t) in self.topics.iter().enumerate() {
            topics.push(parse_identifier(
                &format!("topics[{i}]"),
                &t.trim().to_lowercase(),
            )?);
        }
        let language = self.language.unwrap_or_else(|| "en".into()).to_lowercase();
        if language.len() != 2 || !language.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(FieldError::new(
                "language",
                "must be a two-letter ISO 639-1 code such as en",
            ));
        }
        let mut countries = Vec::new();
        for (i, c) in self.countries.iter().enumerate() {
            let c = c.trim().to_uppercase();
            if c.len() != 2 || !c.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(FieldError::new(
                    format!("countries[{i}]"),
                    "must be a two-letter ISO 3166-1 code such as DE",
                ));
            }
            countries.push(c);
        }
        let mut specialties = Vec::new();
        for (i, s) in self.specialties.iter().enumerate() {
            specialties.push(parse_identifier(
                &format!("specialties[{i}]"),
                &s.trim().to_lowercase(),
            )?);
        }
        let version = self.version.unwrap_or(1);
        if version == 0 {
            return Err(FieldError::new("version", "must be 1 or more"));
        }
        let status = ContentStatus::parse("status", self.status.as_deref().unwrap_or("draft"))?;
        let time = |field: &str, v: Option<String>| {
            v.filter(|s| !s.trim().is_empty())
                .map(|s| Timestamp::parse(field, s.trim()))
                .transpose()
        };
        let approved_at = time("approved_at", self.approved_at)?;
        let valid_from = time("valid_from", self.valid_from)?;
        let expires_at = time("expires_at", self.expires_at)?;
        let approval_code = self.approval_code.filter(|c| !c.trim().is_empty());
        if approval_code
            .as_deref()
            .is_some_and(|c| c.len() > 100 || c.chars().any(char::is_control))
        {
            return Err(FieldError::new(
                "approval_code",
                "must be at most 100 bytes, without control characters",
            ));
        }
        if matches!(status, ContentStatus::Approved | ContentStatus::Expired) {
            if approval_code.is_none() {
                return Err(FieldError::new(
                    "approval_code",
                    "is required for approved content",
                ));
            }
            if approved_at.is_none() {
                return Err(FieldError::new(
                    "approved_at",
                    "is required for approved content",
                ));
            }
        }
        if let (Some(from), Some(to)) = (valid_from, expires_at)
            && to <= from
        {
            return Err(FieldError::new("expires_at", "must be after valid_from"));
        }
        Ok(Content {
            id,
            title,
            kind,
            product,
            topics,
            language,
            countries,
            specialties,
            version,
            status,
            approval_code,
            approved_at,
            valid_from,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approved() -> ContentInput {
        ContentInput {
            id: Some("CARDIO-EM-01".into()),
            title: Some("New outcomes data".into()),
            kind: Some("email_template".into()),
            product: Some("cardiozan".into()),
            topics: vec!["Efficacy".into()],
            language: Some("EN".into()),
            countries: vec!["de".into(), "FR".into()],
            specialties: vec!["Cardiology".into()],
            version: Some(2),
            status: Some("approved".into()),
            approval_code: Some("CZ-2026-0042".into()),
            approved_at: Some("2026-01-10T00:00:00Z".into()),
            valid_from: Some("2026-01-15T00:00:00Z".into()),
            expires_at: Some("2027-01-15T00:00:00Z".into()),
        }
    }

    #[test]
    fn approved_content_expires_at_its_date() {
        let c = approved().validate().unwrap();
        assert_eq!(c.countries, vec!["DE", "FR"]);
        assert_eq!(c.specialties, vec!["cardiology"]);
        assert_eq!(c.topics, vec!["efficacy"]);
        let before = Timestamp::parse("t", "2026-12-31T00:00:00Z").unwrap();
        let after = Timestamp::parse("t", "2027-01-15T00:00:00Z").unwrap();
        assert_eq!(c.status_at(before), ContentStatus::Approved);
        assert_eq!(c.status_at(after), ContentStatus::Expired);
    }

    #[test]
    fn approval_needs_a_code_and_a_sane_window() {
        let i = ContentInput {
            approval_code: None,
            ..approved()
        };
        assert_eq!(i.validate().unwrap_err().field, "approval_code");
        let i = ContentInput {
            expires_at: Some("2026-01-01T00:00:00Z".into()),
            ..approved()
        };
        assert_eq!(i.validate().unwrap_err().field, "expires_at");
        let i = ContentInput {
            kind: Some("poster".into()),
            ..approved()
        };
        assert_eq!(i.validate().unwrap_err().field, "kind");
        let i = ContentInput {
            countries: vec!["Germany".into()],
            ..approved()
        };
        assert_eq!(i.validate().unwrap_err().field, "countries[0]");
    }

    #[test]
    fn text_that_no_database_can_store_is_refused_by_field() {
        let i = ContentInput {
            title: Some("Outcomes\u{0}data".into()),
            ..approved()
        };
        assert_eq!(i.validate().unwrap_err().field, "title");
        let i = ContentInput {
            approval_code: Some("CZ\u{7}1".into()),
            ..approved()
        };
        assert_eq!(i.validate().unwrap_err().field, "approval_code");
    }
}
