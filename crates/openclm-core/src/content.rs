//! The content registry: promotional material with its MLR status and validity window.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::hcp::parse_identifier;
use crate::{FieldError, Timestamp};

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Who wrote it, who signed it, when and why it was withdrawn.
    pub mlr: Mlr,
}

/// The meaning an approval signature carries.
pub const APPROVAL_MEANING: &str = "approved for distribution";
/// How far ahead an expiry is warned of.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The record of a content item's medical-legal-regulatory review.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mlr {
    /// The user (or key) that created or last edited this version.
    pub author: Option<String>,
    pub submitted_at: Option<Timestamp>,
    /// The electronic signature of the approval, when approved in OpenCLM.
    pub signature: Option<Signature>,
    /// The content hash the approval is bound to: an edit that changes it voids the approval.
    pub approved_hash: Option<String>,
    /// Where the approval was made when it came from another MLR system of record.
    pub approved_externally_by: Option<String>,
    pub withdrawn_at: Option<Timestamp>,
    pub withdrawn_by: Option<String>,
    pub withdrawal_reason: Option<String>,
    /// The last return to draft with its reason.
    pub returned_reason: Option<String>,
}

/// An electronic signature (21 CFR 11.50): printed name, time and meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signature {
    pub user_id: String,
    pub printed_name: String,
    pub signed_at: Timestamp,
    pub meaning: String,
}

/// Why a lifecycle step is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MlrError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The step does not start from the content's current status.
    #[error("{0}")]
    WrongState(String),
    /// Separation of duties: an author never approves their own content.
    #[error("the author of a content item cannot approve it")]
    SelfApproval,
}

/// What a reviewer enters to approve.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApprovalInput {
    pub approval_code: Option<String>,
    pub valid_from: Option<String>,
    pub expires_at: Option<String>,
}

impl Content {
    /// SHA-256 of everything that makes this version what it is; an approval is bound to it.
    pub fn content_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::json!([
            self.id,
            self.title,
            self.kind,
            self.product,
            self.topics,
            self.language,
            self.countries,
            self.specialties,
            self.version,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    /// Draft → in review.
    pub fn submit(&mut self, by: &str, now: Timestamp) -> Result<(), MlrError> {
        if self.status != ContentStatus::Draft {
            return Err(MlrError::WrongState(format!(
                "only a draft can be submitted for review; this item is {}",
                self.status
            )));
        }
        self.status = ContentStatus::InReview;
        self.mlr.submitted_at = Some(now);
        self.mlr.returned_reason = None;
        let _ = by;
        Ok(())
    }

    /// In review → approved, signed by `reviewer` (who must not be the author), bound to this
    /// version's hash.
    pub fn approve(
        &mut self,
        reviewer: &str,
        printed_name: &str,
        input: ApprovalInput,
        now: Timestamp,
    ) -> Result<(), MlrError> {
        if self.status != ContentStatus::InReview {
            return Err(MlrError::WrongState(format!(
                "only content in review can be approved; this item is {}",
                self.status
            )));
        }
        if self.mlr.author.as_deref() == Some(reviewer) {
            return Err(MlrError::SelfApproval);
        }
        let code = input
            .approval_code
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| FieldError::new("approval_code", "is required to approve"))?;
        if code.len() > 100 || code.chars().any(char::is_control) {
            return Err(FieldError::new(
                "approval_code",
                "must be at most 100 bytes, without control characters",
            )
            .into());
        }
        let valid_from = match input.valid_from.filter(|v| !v.trim().is_empty()) {
            Some(v) => Timestamp::parse("valid_from", v.trim())?,
            None => now,
        };
        let expires_at = Timestamp::parse(
            "expires_at",
            input
                .expires_at
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    FieldError::new("expires_at", "is required: every approval expires")
                })?,
        )?;
        if expires_at <= valid_from || expires_at <= now {
            return Err(FieldError::new(
                "expires_at",
                "must be after valid_from and in the future",
            )
            .into());
        }
        self.status = ContentStatus::Approved;
        self.approval_code = Some(code);
        self.approved_at = Some(now);
        self.valid_from = Some(valid_from);
        self.expires_at = Some(expires_at);
        self.mlr.signature = Some(Signature {
            user_id: reviewer.to_owned(),
            printed_name: printed_name.to_owned(),
            signed_at: now,
            meaning: APPROVAL_MEANING.to_owned(),
        });
        self.mlr.approved_hash = Some(self.content_hash());
        self.mlr.approved_externally_by = None;
        Ok(())
    }

    /// In review → draft, with the reviewer's reason.
    pub fn return_to_draft(&mut self, reason: &str) -> Result<(), MlrError> {
        if self.status != ContentStatus::InReview {
            return Err(MlrError::WrongState(format!(
                "only content in review can be returned to draft; this item is {}",
                self.status
            )));
        }
        self.mlr.returned_reason = Some(required_reason(reason)?);
        self.status = ContentStatus::Draft;
        Ok(())
    }

    /// Approved, in review or expired → withdrawn, with a reason. Final.
    pub fn withdraw(&mut self, by: &str, reason: &str, now: Timestamp) -> Result<(), MlrError> {
        if self.status == ContentStatus::Withdrawn {
            return Err(MlrError::WrongState("the item is already withdrawn".into()));
        }
        if self.status == ContentStatus::Draft {
            return Err(MlrError::WrongState(
                "a draft was never in use; edit or leave it instead".into(),
            ));
        }
        self.mlr.withdrawal_reason = Some(required_reason(reason)?);
        self.mlr.withdrawn_at = Some(now);
        self.mlr.withdrawn_by = Some(by.to_owned());
        self.status = ContentStatus::Withdrawn;
        Ok(())
    }

    /// An edit of `self` by `author` arriving as `edited` (status and approval fields as the
    /// editor sent them are ignored): the edited version keeps the approval only if its hash is
    /// the approved one; otherwise it is a new draft. Withdrawn content stays withdrawn.
    pub fn edit(&self, mut edited: Content, author: &str) -> Result<Content, MlrError> {
        if self.status == ContentStatus::Withdrawn {
            return Err(MlrError::WrongState(
                "withdrawn content cannot be edited; create a new item".into(),
            ));
        }
        let unchanged = edited.content_hash() == self.content_hash();
        if unchanged {
            edited.status = self.status;
            edited.approval_code = self.approval_code.clone();
            edited.approved_at = self.approved_at;
            edited.valid_from = self.valid_from;
            edited.expires_at = self.expires_at;
            edited.mlr = self.mlr.clone();
        } else {
            edited.status = ContentStatus::Draft;
            edited.approval_code = None;
            edited.approved_at = None;
            edited.valid_from = None;
            edited.expires_at = None;
            edited.mlr = Mlr {
                author: Some(author.to_owned()),
                ..Mlr::default()
            };
        }
        Ok(edited)
    }

    /// Records an approval made in another MLR system of record, as loaded by `by`.
    pub fn with_external_approval(mut self, by: &str) -> Self {
        if matches!(
            self.status,
            ContentStatus::Approved | ContentStatus::Expired
        ) {
            self.mlr.approved_hash = Some(self.content_hash());
            self.mlr.approved_externally_by = Some(by.to_owned());
        }
        self
    }

    /// Approved content expiring within [`EXPIRY_WARNING_DAYS`] of `now`.
    pub fn expires_soon(&self, now: Timestamp) -> bool {
        self.status_at(now) == ContentStatus::Approved
            && self
                .expires_at
                .is_some_and(|end| end <= now.plus_days(EXPIRY_WARNING_DAYS))
    }

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
            mlr: Mlr::default(),
        })
    }
}

fn required_reason(reason: &str) -> Result<String, FieldError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(FieldError::new("reason", "is required"));
    }
    if reason.chars().count() > 1000 {
        return Err(FieldError::new("reason", "must be at most 1000 characters"));
    }
    Ok(reason.to_owned())
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

#[cfg(test)]
mod lifecycle {
    use super::*;

    fn draft() -> Content {
        let mut c = ContentInput {
            id: Some("CZ-EM-1".into()),
            title: Some("Outcomes".into()),
            kind: Some("email_template".into()),
            product: Some("cardiozan".into()),
            ..ContentInput::default()
        }
        .validate()
        .unwrap();
        c.mlr.author = Some("user:marketer".into());
        c
    }

    fn at(day: i64) -> Timestamp {
        Timestamp::from_millis(1_767_225_600_000).plus_days(day)
    }

    fn approval(expires: &str) -> ApprovalInput {
        ApprovalInput {
            approval_code: Some("CZ-2026-7".into()),
            valid_from: None,
            expires_at: Some(expires.into()),
        }
    }

    #[test]
    fn draft_to_review_to_approved_with_a_signature_bound_to_the_version() {
        let mut c = draft();
        c.submit("user:marketer", at(0)).unwrap();
        assert_eq!(c.status, ContentStatus::InReview);
        c.approve(
            "user:reviewer",
            "Rita Reviewer",
            approval("2026-06-01T00:00:00Z"),
            at(1),
        )
        .unwrap();
        assert_eq!(c.status, ContentStatus::Approved);
        let sig = c.mlr.signature.clone().unwrap();
        assert_eq!(sig.printed_name, "Rita Reviewer");
        assert_eq!(sig.meaning, "approved for distribution");
        assert_eq!(sig.signed_at, at(1));
        assert_eq!(
            c.mlr.approved_hash.as_deref(),
            Some(c.content_hash().as_str())
        );
        // An edit that changes the content voids the approval; one that does not keeps it.
        let same = c.edit(draft(), "user:marketer").unwrap();
        assert_eq!(same.status, ContentStatus::Approved);
        let mut retitled = draft();
        retitled.title = "Outcomes, corrected".into();
        let edited = c.edit(retitled, "user:marketer").unwrap();
        assert_eq!(edited.status, ContentStatus::Draft);
        assert_eq!(edited.approval_code, None);
    }

    #[test]
    fn the_author_cannot_approve_and_every_approval_expires() {
        let mut c = draft();
        c.submit("user:marketer", at(0)).unwrap();
        assert_eq!(
            c.clone().approve(
                "user:marketer",
                "M",
                approval("2026-06-01T00:00:00Z"),
                at(1)
            ),
            Err(MlrError::SelfApproval)
        );
        let no_expiry = ApprovalInput {
            expires_at: None,
            ..approval("")
        };
        match c.clone().approve("user:r", "R", no_expiry, at(1)) {
            Err(MlrError::Invalid(e)) => assert_eq!(e.field, "expires_at"),
            other => panic!("{other:?}"),
        }
        c.approve("user:r", "R", approval("2026-01-20T00:00:00Z"), at(1))
            .unwrap();
        assert!(c.expires_soon(at(1)));
        assert_eq!(c.status_at(at(19)), ContentStatus::Expired);
    }

    #[test]
    fn withdrawal_needs_a_reason_and_is_final() {
        let mut c = draft();
        assert!(matches!(
            c.withdraw("user:r", "x", at(0)),
            Err(MlrError::WrongState(_))
        ));
        c.submit("user:marketer", at(0)).unwrap();
        match c.clone().withdraw("user:r", "  ", at(1)) {
            Err(MlrError::Invalid(e)) => assert_eq!(e.field, "reason"),
            other => panic!("{other:?}"),
        }
        c.withdraw("user:r", "claim no longer supported", at(1))
            .unwrap();
        assert_eq!(c.status, ContentStatus::Withdrawn);
        assert!(c.edit(draft(), "user:marketer").is_err());
        assert!(c.submit("user:marketer", at(2)).is_err());
    }
}
