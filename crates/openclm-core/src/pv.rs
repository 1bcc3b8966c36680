//! Pharmacovigilance cases: a potential adverse event found in free text, its reporting clock
//! and how PV triages it.

use serde::Serialize;

use crate::screening::{Lexicon, Product, Screening};
use crate::{Event, FieldError, Timestamp};

/// The default time PV has from receipt (day zero) to act on a case.
pub const DEFAULT_DUE_HOURS: i64 = 24;

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AeStatus {
    /// Found by screening, waiting for PV.
    Open,
    /// PV found no adverse event in it.
    NotAe,
    /// An adverse event, forwarded to the safety database (with its reference there).
    AeForwarded,
    /// A product-quality complaint, passed to quality.
    ProductComplaint,
}

impl AeStatus {
    pub const ALL: [AeStatus; 4] = [
        AeStatus::Open,
        AeStatus::NotAe,
        AeStatus::AeForwarded,
        AeStatus::ProductComplaint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AeStatus::Open => "open",
            AeStatus::NotAe => "not_ae",
            AeStatus::AeForwarded => "ae_forwarded",
            AeStatus::ProductComplaint => "product_complaint",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!("unknown status {text:?}; expected open, not_ae, ae_forwarded or product_complaint"),
                )
            })
    }
}

impl std::fmt::Display for AeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A PV officer's decision on a case, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triage {
    pub status: AeStatus,
    /// The case's id in the safety database; required when forwarded.
    pub external_ref: Option<String>,
    pub note: Option<String>,
}

impl Triage {
    pub fn parse(
        status: Option<&str>,
        external_ref: Option<String>,
        note: Option<String>,
    ) -> Result<Self, FieldError> {
        let status = AeStatus::parse(
            "status",
            status.ok_or_else(|| FieldError::new("status", "is required"))?,
        )?;
        if status == AeStatus::Open {
            return Err(FieldError::new(
                "status",
                "triage decides a case: not_ae, ae_forwarded or product_complaint",
            ));
        }
        let external_ref = external_ref
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if status == AeStatus::AeForwarded && external_ref.is_none() {
            return Err(FieldError::new(
                "external_ref",
                "is required when the case is forwarded (the safety database's reference)",
            ));
        }
        if external_ref.as_ref().is_some_and(|r| r.len() > 200) {
            return Err(FieldError::new("external_ref", "must be at most 200 bytes"));
        }
        let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if status == AeStatus::NotAe && note.is_none() {
            return Err(FieldError::new(
                "note",
                "is required when a case is closed as not an adverse event (why)",
            ));
        }
        Ok(Triage {
            status,
            external_ref,
            note,
        })
    }
}

/// What screening looks for and how long PV has: the `[pharmacovigilance]` settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PvConfig {
    /// The brands' products, by brand and generic names.
    pub products: Vec<Product>,
    /// Company-specific adverse-event terms, beyond the built-in vocabulary.
    pub extra_terms: Vec<String>,
    /// Hours from receipt to the PV deadline.
    pub due_hours: i64,
    /// Where an alert is posted (JSON, with retries) when a case passes its deadline untriaged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_webhook: Option<String>,
}

impl Default for PvConfig {
    fn default() -> Self {
        Self {
            products: Vec::new(),
            extra_terms: Vec::new(),
            due_hours: DEFAULT_DUE_HOURS,
            alert_webhook: None,
        }
    }
}

impl PvConfig {
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(1..=24 * 30).contains(&self.due_hours) {
            return Err(FieldError::new(
                "pharmacovigilance.due_hours",
                "must be from 1 to 720",
            ));
        }
        if self
            .alert_webhook
            .as_deref()
            .is_some_and(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(FieldError::new(
                "pharmacovigilance.alert_webhook",
                "must be an http:// or https:// URL",
            ));
        }
        for (i, p) in self.products.iter().enumerate() {
            if p.brand.trim().is_empty() {
                return Err(FieldError::new(
                    format!("pharmacovigilance.products[{i}].brand"),
                    "must not be empty",
                ));
            }
        }
        Ok(())
    }
}

/// A free text that screening flagged.
#[derive(Debug, Clone, PartialEq)]
pub struct Flagged {
    /// The event field it came from.
    pub field: String,
    pub text: String,
    pub screening: Screening,
}

/// Screens every free text of an event before anything else reads it.
#[derive(Debug, Clone)]
pub struct Screener {
    lexicon: Lexicon,
    pub due_hours: i64,
}

impl Default for Screener {
    fn default() -> Self {
        Self::new(&PvConfig::default())
    }
}

impl Screener {
    pub fn new(config: &PvConfig) -> Self {
        Self {
            lexicon: Lexicon::new(config.products.clone())
                .with_extra_terms(config.extra_terms.iter().map(|t| t.to_lowercase())),
            due_hours: config.due_hours,
        }
    }

    /// The event's free texts (how many were screened) and those that are potential AEs. The
    /// reporter is the HCP the event names, so that criterion is always present.
    pub fn screen(&self, event: &Event) -> (u32, Vec<Flagged>) {
        let texts = event.free_texts();
        let flagged = texts
            .iter()
            .filter_map(|(field, text)| {
                let screening = self.lexicon.screen(text, true);
                screening.is_hit().then(|| Flagged {
                    field: field.clone(),
                    text: (*text).to_owned(),
                    screening,
                })
            })
            .collect();
        (texts.len() as u32, flagged)
    }
}

impl Screener {
    /// Screens one text; what it found when it is a potential adverse event.
    pub fn screen_text(&self, text: &str) -> Option<Screening> {
        Some(self.lexicon.screen(text, true)).filter(Screening::is_hit)
    }
}

/// What replaces a flagged text in the stored event: the text itself lives only in the case,
/// which only PV and administrators read, so it never feeds profiles, targeting or decisions.
pub fn held_text(case_id: &str) -> String {
    format!("[held for pharmacovigilance: {case_id}]")
}

/// The case id for a flagged text of an event: stable, so a resent event never opens a second
/// case; the text is part of it, so a resend with another text never passes for a duplicate (it
/// is a conflict, which the source sees).
pub fn case_id(event_id: &str, field: &str, text: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_64(format!("{event_id}\0{field}\0{text}").as_bytes());
    format!("ae-{h:016x}")
}

/// When a case received at `received_at` is due with a deadline of `hours`.
pub fn due_at(received_at: Timestamp, hours: i64) -> Timestamp {
    Timestamp::from_millis(received_at.millis() + hours * 3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triage_needs_a_decision_and_its_evidence() {
        assert_eq!(Triage::parse(None, None, None).unwrap_err().field, "status");
        assert_eq!(
            Triage::parse(Some("open"), None, None).unwrap_err().field,
            "status"
        );
        assert_eq!(
            Triage::parse(Some("ae_forwarded"), Some(" ".into()), None)
                .unwrap_err()
                .field,
            "external_ref"
        );
        assert_eq!(
            Triage::parse(Some("not_ae"), None, None).unwrap_err().field,
            "note"
        );
        let t = Triage::parse(Some("ae_forwarded"), Some("SAF-2026-1".into()), None).unwrap();
        assert_eq!(t.status, AeStatus::AeForwarded);
        assert_eq!(
            case_id("e1", "text", "a rash"),
            case_id("e1", "text", "a rash")
        );
        assert_ne!(
            case_id("e1", "text", "a rash"),
            case_id("e1", "notes", "a rash")
        );
        assert_ne!(
            case_id("e1", "text", "a rash"),
            case_id("e1", "text", "a bad rash")
        );
        assert_eq!(due_at(Timestamp::from_millis(0), 24).millis(), 86_400_000);
    }

    #[test]
    fn an_events_free_texts_are_screened_and_flagged_by_field() {
        let screener = Screener::new(&PvConfig {
            products: vec![Product {
                brand: "Cardiozen".into(),
                generics: vec!["velorapine".into()],
            }],
            ..PvConfig::default()
        });
        let event = |body: serde_json::Value| {
            let mut base = serde_json::json!({"event_id": "e1", "occurred_at": "2026-11-02T09:00:00Z",
                "hcp": "h1", "channel": "face_to_face", "rep_id": "r1"});
            base.as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            Event::from_json(base).unwrap()
        };
        let call = event(serde_json::json!({"type": "call_logged",
            "notes": "Her patient on velorapine developed a severe rash"}));
        let (screened, flagged) = screener.screen(&call);
        assert_eq!(screened, 1);
        assert_eq!(flagged.len(), 1);
        assert_eq!(flagged[0].field, "notes");
        assert_eq!(flagged[0].screening.products, ["Cardiozen"]);
        assert!(flagged[0].screening.criteria.patient);
        let fine = event(serde_json::json!({"type": "call_logged",
            "notes": "Discussed dosing; no side effects reported"}));
        assert_eq!(screener.screen(&fine), (1, vec![]));
        let open = event(serde_json::json!({"type": "opened", "channel": "email"}));
        assert_eq!(screener.screen(&open), (0, vec![]));
        // A source's own comment field is screened too; its identifiers and URLs are not.
        let extra = event(serde_json::json!({"type": "opened", "channel": "email",
            "reply_body": "Thanks. My patient got a terrible headache from velorapine",
            "url": "https://example.org/a b", "campaign_id": "c1"}));
        let (screened, flagged) = screener.screen(&extra);
        assert_eq!(screened, 1);
        assert_eq!(flagged[0].field, "reply_body");
    }
}
