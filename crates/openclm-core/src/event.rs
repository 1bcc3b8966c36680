//! Interaction events: the data contract every source is parsed into, with typed fields per type.
//!
//! An event is parsed once, at the edge, from the JSON object a source sent. The object itself is
//! kept whole (unknown fields included) as the event's payload; the typed view is what the rest of
//! OpenCLM reads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

use crate::channel::names;
use crate::consent::ConsentState;
use crate::{Channel, FieldError, Timestamp};

/// The kind of an interaction. The numeric codes are stored on disk and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    Sent = 1,
    Delivered = 2,
    Opened = 3,
    Clicked = 4,
    Bounced = 5,
    Unsubscribed = 6,
    SlideViewed = 7,
    ContentViewed = 8,
    VideoProgress = 9,
    SurveyAnswered = 10,
    Comment = 11,
    CallLogged = 12,
    MeetingAttended = 13,
    MedicalInformationRequested = 14,
    Prescription = 15,
    ConsentChanged = 16,
}

impl EventType {
    pub const ALL: [EventType; 16] = [
        EventType::Sent,
        EventType::Delivered,
        EventType::Opened,
        EventType::Clicked,
        EventType::Bounced,
        EventType::Unsubscribed,
        EventType::SlideViewed,
        EventType::ContentViewed,
        EventType::VideoProgress,
        EventType::SurveyAnswered,
        EventType::Comment,
        EventType::CallLogged,
        EventType::MeetingAttended,
        EventType::MedicalInformationRequested,
        EventType::Prescription,
        EventType::ConsentChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Sent => "sent",
            EventType::Delivered => "delivered",
            EventType::Opened => "opened",
            EventType::Clicked => "clicked",
            EventType::Bounced => "bounced",
            EventType::Unsubscribed => "unsubscribed",
            EventType::SlideViewed => "slide_viewed",
            EventType::ContentViewed => "content_viewed",
            EventType::VideoProgress => "video_progress",
            EventType::SurveyAnswered => "survey_answered",
            EventType::Comment => "comment",
            EventType::CallLogged => "call_logged",
            EventType::MeetingAttended => "meeting_attended",
            EventType::MedicalInformationRequested => "medical_information_requested",
            EventType::Prescription => "prescription",
            EventType::ConsentChanged => "consent_changed",
        }
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "unknown event type {text:?}; expected one of {}",
                        names(&Self::ALL)
                    ),
                )
            })
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields that only some event types carry, checked for their type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Details {
    None,
    Opened {
        user_agent: Option<String>,
    },
    Clicked {
        url: Option<String>,
    },
    SlideViewed {
        dwell_ms: i64,
        slide: Option<String>,
    },
    ContentViewed {
        dwell_ms: Option<i64>,
        url: Option<String>,
    },
    VideoProgress {
        percent: f64,
    },
    SurveyAnswered {
        question: String,
        answer: Option<String>,
        score: Option<f64>,
    },
    Text {
        text: String,
    },
    CallLogged {
        key_messages: Vec<String>,
        notes: Option<String>,
    },
    Prescription {
        units: f64,
        value: Option<f64>,
        period: Option<String>,
    },
    ConsentChanged {
        state: ConsentState,
        purpose: String,
        /// What proves the change (a form submission id, a signed paper's reference, ...).
        evidence: Option<String>,
        /// The version of the consent wording or privacy notice the HCP saw.
        notice_version: Option<String>,
    },
}

/// A validated interaction event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The idempotency key: a resend with the same id is a no-op.
    pub event_id: String,
    pub occurred_at: Timestamp,
    /// The HCP's id in the source system (or an OpenCLM HCP id).
    pub hcp: String,
    /// The system the event came from; names the id space of `hcp`.
    pub source: String,
    pub channel: Channel,
    pub kind: EventType,
    pub content_id: Option<String>,
    pub key_message: Option<String>,
    pub campaign_id: Option<String>,
    pub decision_id: Option<String>,
    pub rep_id: Option<String>,
    pub details: Details,
    /// The object as the source sent it, unknown fields included.
    pub payload: Map<String, Value>,
    /// `payload` in canonical form (keys sorted at every level): equal events give equal text.
    canonical: String,
}

/// Top-level fields of the data contract that hold identifiers, times, codes or addresses, never
/// a person's prose.
const STRUCTURED_FIELDS: [&str; 19] = [
    "event_id",
    "occurred_at",
    "hcp",
    "source",
    "channel",
    "type",
    "content_id",
    "key_message",
    "campaign_id",
    "decision_id",
    "rep_id",
    "url",
    "user_agent",
    "ip",
    "slide",
    "question",
    "state",
    "purpose",
    "period",
];

/// Longest accepted identifier (event, HCP, content, campaign ...).
pub const MAX_ID_LEN: usize = 128;
/// Longest accepted free text (comments, notes).
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// The source assumed when an event names none.
pub const DEFAULT_SOURCE: &str = "openclm";

// Bounds of the numeric fields. Each is far beyond what a real source sends in one event, and
// small enough that the campaign KPIs' sums of squares stay finite: a member's outcome total is
// squared, and even a billion events at the bound square to about 1e30, where `f64` reaches
// 1.8e308. A number outside its bound is refused at ingest, naming the field, like a negative one.

/// Most prescription units one event may carry: a weekly outcome feed reports tens or hundreds
/// of packs per HCP, a pharmacy's wholesale line a few thousand.
pub const MAX_UNITS: f64 = 1_000_000.0;
/// Largest magnitude of a prescription's `value` (a currency amount, negative for a credit
/// note): a billion is beyond any single line of sales data.
pub const MAX_VALUE: f64 = 1_000_000_000.0;
/// Largest magnitude of a survey `score`: NPS is 0 to 10, Likert and percentage scales stay
/// within hundreds; a million leaves room for any scale a questionnaire tool uses.
pub const MAX_SCORE: f64 = 1_000_000.0;
/// Longest dwell one event may report, in milliseconds: 24 hours. A slide or page open longer
/// is a tablet left on a desk, not reading.
pub const MAX_DWELL_MS: i64 = 24 * 60 * 60 * 1000;

impl Event {
    /// Parses and validates one event object.
    pub fn from_json(value: Value) -> Result<Event, FieldError> {
        let Value::Object(payload) = value else {
            return Err(FieldError::new("event", "must be a JSON object"));
        };
        let f = Fields(&payload);
        let event_id = f.id("event_id")?;
        let occurred_at = Timestamp::parse("occurred_at", &f.required_str("occurred_at")?)?;
        let hcp = f.id("hcp")?;
        let source = f
            .opt_id("source")?
            .unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
        let channel = Channel::parse("channel", &f.required_str("channel")?)?;
        let kind = EventType::parse("type", &f.required_str("type")?)?;
        let details = parse_details(kind, &f)?;
        let canonical = canonical_map(&payload);
        Ok(Event {
            event_id,
            occurred_at,
            hcp,
            source,
            channel,
            kind,
            content_id: f.opt_id("content_id")?,
            key_message: f.opt_id("key_message")?,
            campaign_id: f.opt_id("campaign_id")?,
            decision_id: f.opt_id("decision_id")?,
            rep_id: f.opt_id("rep_id")?,
            details,
            payload,
            canonical,
        })
    }

    /// The payload in canonical form (keys sorted at every level): equal events give equal text.
    /// Computed once, at parse time, off the store's single writer.
    pub fn canonical_payload(&self) -> &str {
        &self.canonical
    }

    /// The canonical payload, giving up the parsed one.
    pub fn into_canonical_payload(self) -> String {
        self.canonical
    }

    /// A stable 64-bit key for `event_id`, used to find a possible earlier copy quickly.
    pub fn key_hash(&self) -> i64 {
        event_key_hash(&self.event_id)
    }

    /// The free texts a person wrote into this event, by field: what adverse-event screening
    /// reads. Besides the typed text fields, any other top-level string that reads as prose (it
    /// has a space) and is not one of the contract's structured fields counts: sources send
    /// comments under names of their own, and those are kept.
    pub fn free_texts(&self) -> Vec<(String, &str)> {
        let mut texts: Vec<(String, &str)> = match &self.details {
            Details::Text { text } => vec![("text".into(), text.as_str())],
            Details::CallLogged {
                notes: Some(notes), ..
            } => vec![("notes".into(), notes.as_str())],
            Details::SurveyAnswered {
                answer: Some(answer),
                ..
            } => vec![("answer".into(), answer.as_str())],
            _ => vec![],
        };
        for (key, value) in &self.payload {
            if let Value::String(text) = value
                && !STRUCTURED_FIELDS.contains(&key.as_str())
                && !texts.iter().any(|(field, _)| field == key)
                && text.contains(char::is_whitespace)
            {
                texts.push((key.clone(), text.as_str()));
            }
        }
        texts
    }

    /// The consent change this event carries, if any: an explicit change, or an unsubscribe
    /// (honoured at once, for the event's channel).
    pub fn consent_change(&self) -> Option<(ConsentState, String)> {
        match (&self.details, self.kind) {
            (Details::ConsentChanged { state, purpose, .. }, _) => Some((*state, purpose.clone())),
            (_, EventType::Unsubscribed) => Some((
                ConsentState::Withdrawn,
                crate::consent::DEFAULT_PURPOSE.to_owned(),
            )),
            _ => None,
        }
    }
}

/// The stable hash of an event id (xxh3, fixed for all versions of OpenCLM).
pub fn event_key_hash(event_id: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(event_id.as_bytes()) as i64
}

/// A payload field naming, by a digest, what the sender sent: set by an integration whose events
/// carry a time derived on receipt (the tracking API corrects the sender's clock by `sentAt`,
/// which the SDKs renew on every attempt), so that a retry is recognised by what was sent rather
/// than by what the server derived from it.
pub const SENT_DIGEST_FIELD: &str = "sent_digest";

/// Whether a new copy of an event (its stored payload text) is the one already stored: the same
/// text, or — for events that carry [`SENT_DIGEST_FIELD`] — the same digest of what was sent and
/// the same payload but for `occurred_at`, the time the server derived on each copy's receipt.
/// The stored copy keeps its own time. Anything else under the same `event_id` is a conflict.
pub fn same_copy(stored: &str, new: &str) -> bool {
    if stored == new {
        return true;
    }
    // Only payloads carrying a digest can differ in their derived time alone; the rest are
    // told apart without parsing.
    if !new.contains(SENT_DIGEST_FIELD) || !stored.contains(SENT_DIGEST_FIELD) {
        return false;
    }
    let (Ok(Value::Object(mut stored)), Ok(Value::Object(mut new))) = (
        serde_json::from_str::<Value>(stored),
        serde_json::from_str::<Value>(new),
    ) else {
        return false;
    };
    match (stored.get(SENT_DIGEST_FIELD), new.get(SENT_DIGEST_FIELD)) {
        (Some(Value::String(a)), Some(Value::String(b))) if a == b => {}
        _ => return false,
    }
    stored.remove("occurred_at");
    new.remove("occurred_at");
    stored == new
}

fn parse_details(kind: EventType, f: &Fields) -> Result<Details, FieldError> {
    Ok(match kind {
        EventType::Opened => Details::Opened {
            user_agent: f.opt_text("user_agent")?,
        },
        EventType::Clicked => Details::Clicked {
            url: f.opt_text("url")?,
        },
        EventType::SlideViewed => Details::SlideViewed {
            dwell_ms: f
                .opt_dwell_ms("dwell_ms")?
                .ok_or_else(|| FieldError::missing("dwell_ms"))?,
            slide: f.opt_text("slide")?,
        },
        EventType::ContentViewed => Details::ContentViewed {
            dwell_ms: f.opt_dwell_ms("dwell_ms")?,
            url: f.opt_text("url")?,
        },
        EventType::VideoProgress => {
            let percent = f
                .opt_number("percent")?
                .ok_or_else(|| FieldError::missing("percent"))?;
            if !(0.0..=100.0).contains(&percent) {
                return Err(FieldError::new("percent", "must be between 0 and 100"));
            }
            Details::VideoProgress { percent }
        }
        EventType::SurveyAnswered => {
            let question = f
                .opt_text("question")?
                .ok_or_else(|| FieldError::missing("question"))?;
            let answer = f.opt_text("answer")?;
            let score = f.opt_number_within("score", MAX_SCORE)?;
            if answer.is_none() && score.is_none() {
                return Err(FieldError::new(
                    "answer",
                    "a survey answer needs an answer or a score",
                ));
            }
            Details::SurveyAnswered {
                question,
                answer,
                score,
            }
        }
        EventType::Comment | EventType::MedicalInformationRequested => {
            let text = f
                .opt_text("text")?
                .ok_or_else(|| FieldError::missing("text"))?;
            if text.trim().is_empty() {
                return Err(FieldError::new("text", "must not be empty"));
            }
            Details::Text { text }
        }
        EventType::CallLogged => {
            if f.opt_id("rep_id")?.is_none() {
                return Err(FieldError::new(
                    "rep_id",
                    "is required for a call_logged event",
                ));
            }
            Details::CallLogged {
                key_messages: f.opt_string_list("key_messages")?,
                notes: f.opt_text("notes")?,
            }
        }
        EventType::Prescription => {
            let units = f
                .opt_number("units")?
                .ok_or_else(|| FieldError::missing("units"))?;
            if units < 0.0 {
                return Err(FieldError::new("units", "must not be negative"));
            }
            if units > MAX_UNITS {
                return Err(FieldError::new(
                    "units",
                    format!("must be at most {MAX_UNITS} per event"),
                ));
            }
            Details::Prescription {
                units,
                value: f.opt_number_within("value", MAX_VALUE)?,
                period: f.opt_text("period")?,
            }
        }
        EventType::ConsentChanged => {
            let state = f
                .opt_text("state")?
                .ok_or_else(|| FieldError::missing("state"))?;
            Details::ConsentChanged {
                state: ConsentState::parse("state", &state)?,
                purpose: f
                    .opt_id("purpose")?
                    .unwrap_or_else(|| crate::consent::DEFAULT_PURPOSE.to_owned()),
                evidence: f.opt_text("evidence")?,
                notice_version: f.opt_text("notice_version")?,
            }
        }
        EventType::Sent
        | EventType::Delivered
        | EventType::Bounced
        | EventType::Unsubscribed
        | EventType::MeetingAttended => Details::None,
    })
}

/// Typed access to an event object's fields, each error naming the field.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn required_str(&self, name: &str) -> Result<String, FieldError> {
        self.opt_text(name)?
            .ok_or_else(|| FieldError::missing(name))
    }

    fn id(&self, name: &str) -> Result<String, FieldError> {
        self.opt_id(name)?.ok_or_else(|| FieldError::missing(name))
    }

    fn opt_id(&self, name: &str) -> Result<Option<String>, FieldError> {
        let Some(text) = self.opt_text(name)? else {
            return Ok(None);
        };
        if text.is_empty() {
            return Err(FieldError::new(name, "must not be empty"));
        }
        if text.len() > MAX_ID_LEN {
            return Err(FieldError::new(
                name,
                format!("must be at most {MAX_ID_LEN} bytes"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(FieldError::new(name, "must not contain control characters"));
        }
        Ok(Some(text))
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() > MAX_TEXT_LEN => Err(FieldError::new(
                name,
                format!("must be at most {MAX_TEXT_LEN} bytes"),
            )),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(FieldError::new(
                name,
                format!("must be a string, not {}", json_kind(other)),
            )),
        }
    }

    fn opt_number(&self, name: &str) -> Result<Option<f64>, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| FieldError::new(name, "must be a finite number")),
            Some(other) => Err(FieldError::new(
                name,
                format!("must be a number, not {}", json_kind(other)),
            )),
        }
    }

    fn opt_non_negative_int(&self, name: &str) -> Result<Option<i64>, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if v >= 0 => Ok(Some(v)),
                _ => Err(FieldError::new(name, "must be a whole number, 0 or more")),
            },
            Some(other) => Err(FieldError::new(
                name,
                format!("must be a whole number, not {}", json_kind(other)),
            )),
        }
    }

    /// A number between `-bound` and `bound`.
    fn opt_number_within(&self, name: &str, bound: f64) -> Result<Option<f64>, FieldError> {
        match self.opt_number(name)? {
            Some(v) if v.abs() > bound => Err(FieldError::new(
                name,
                format!("must be between -{bound} and {bound}"),
            )),
            v => Ok(v),
        }
    }

    /// A dwell time in milliseconds, 0 to [`MAX_DWELL_MS`].
    fn opt_dwell_ms(&self, name: &str) -> Result<Option<i64>, FieldError> {
        match self.opt_non_negative_int(name)? {
            Some(v) if v > MAX_DWELL_MS => Err(FieldError::new(
                name,
                format!("must be at most {MAX_DWELL_MS} (24 hours)"),
            )),
            v => Ok(v),
        }
    }

    fn opt_string_list(&self, name: &str) -> Result<Vec<String>, FieldError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) if !s.is_empty() && s.len() <= MAX_ID_LEN => Ok(s.clone()),
                    _ => Err(FieldError::new(
                        format!("{name}[{i}]"),
                        format!("must be a non-empty string of at most {MAX_ID_LEN} bytes"),
                    )),
                })
                .collect(),
            Some(other) => Err(FieldError::new(
                name,
                format!("must be an array of strings, not {}", json_kind(other)),
            )),
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn canonical_map(map: &Map<String, Value>) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical_map(map, &mut out);
    // Only JSON text was written, which is UTF-8.
    // Only JSON text was written, which is UTF-8; the lossy path is never taken.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn write_canonical_map(map: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_scalar(k, out);
        out.push(b':');
        write_canonical(v, out);
    }
    out.push(b'}');
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_canonical_map(map, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing JSON scalars into memory cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"event_id": "e1", "occurred_at": "2026-03-01T09:30:00Z", "hcp": "H1",
               "channel": "email", "type": "opened"})
    }

    fn with(extra: Value) -> Value {
        let mut v = base();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn keeps_unknown_fields_and_defaults_the_source() {
        let e =
            Event::from_json(with(json!({"utm_campaign": "spring", "nested": {"b": 1}}))).unwrap();
        assert_eq!(e.source, DEFAULT_SOURCE);
        assert_eq!(e.payload["utm_campaign"], "spring");
        assert_eq!(e.payload["nested"]["b"], 1);
    }

    #[test]
    fn each_missing_required_field_is_named() {
        for field in ["event_id", "occurred_at", "hcp", "channel", "type"] {
            let mut v = base();
            v.as_object_mut().unwrap().remove(field);
            let e = Event::from_json(v).unwrap_err();
            assert_eq!(e.field, field);
            assert_eq!(e.reason, "is required");
        }
    }

    #[test]
    fn typed_fields_are_checked_per_type() {
        let e = Event::from_json(with(json!({"type": "slide_viewed"}))).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.reason.as_str()),
            ("dwell_ms", "is required")
        );
        let e =
            Event::from_json(with(json!({"type": "slide_viewed", "dwell_ms": -5}))).unwrap_err();
        assert_eq!(e.field, "dwell_ms");
        let e =
            Event::from_json(with(json!({"type": "slide_viewed", "dwell_ms": "12"}))).unwrap_err();
        assert_eq!(e.reason, "must be a whole number, not a string");
        let ok = Event::from_json(with(json!({"type": "slide_viewed", "dwell_ms": 4200}))).unwrap();
        assert_eq!(
            ok.details,
            Details::SlideViewed {
                dwell_ms: 4200,
                slide: None
            }
        );
        let e = Event::from_json(with(json!({"type": "call_logged"}))).unwrap_err();
        assert_eq!(e.field, "rep_id");
        let e = Event::from_json(with(json!({"type": "consent_changed", "state": "maybe"})))
            .unwrap_err();
        assert_eq!(e.field, "state");
        let e = Event::from_json(with(json!({"type": "prescription", "units": -1}))).unwrap_err();
        assert_eq!(e.field, "units");
        let e = Event::from_json(with(json!({"type": "comment", "text": "  "}))).unwrap_err();
        assert_eq!(e.field, "text");
    }

    #[test]
    fn numeric_fields_beyond_their_bounds_are_refused_naming_the_field_and_the_bound() {
        let refused = |extra: Value| Event::from_json(with(extra)).unwrap_err();
        let e = refused(json!({"type": "prescription", "units": 1e200}));
        assert_eq!(
            (e.field.as_str(), e.reason.as_str()),
            ("units", "must be at most 1000000 per event")
        );
        let e = refused(json!({"type": "prescription", "units": 3, "value": 2e9}));
        assert_eq!(
            (e.field.as_str(), e.reason.as_str()),
            ("value", "must be between -1000000000 and 1000000000")
        );
        let e = refused(json!({"type": "prescription", "units": 3, "value": -2e9}));
        assert_eq!(e.field, "value");
        let e = refused(json!({"type": "survey_answered", "question": "q", "score": -1e7}));
        assert_eq!(
            (e.field.as_str(), e.reason.as_str()),
            ("score", "must be between -1000000 and 1000000")
        );
        let e = refused(json!({"type": "slide_viewed", "dwell_ms": MAX_DWELL_MS + 1}));
        assert_eq!(
            (e.field.as_str(), e.reason.as_str()),
            ("dwell_ms", "must be at most 86400000 (24 hours)")
        );
        let e = refused(json!({"type": "content_viewed", "dwell_ms": i64::MAX}));
        assert_eq!(e.field, "dwell_ms");
        let e = refused(json!({"type": "video_progress", "percent": 100.5}));
        assert_eq!(e.field, "percent");

        // The bounds themselves are accepted.
        let ok = Event::from_json(with(json!({"type": "prescription", "units": MAX_UNITS,
            "value": -MAX_VALUE})))
        .unwrap();
        assert_eq!(
            ok.details,
            Details::Prescription {
                units: MAX_UNITS,
                value: Some(-MAX_VALUE),
                period: None
            }
        );
        for extra in [
            json!({"type": "survey_answered", "question": "q", "score": MAX_SCORE}),
            json!({"type": "slide_viewed", "dwell_ms": MAX_DWELL_MS}),
            json!({"type": "content_viewed", "dwell_ms": MAX_DWELL_MS}),
        ] {
            assert!(Event::from_json(with(extra.clone())).is_ok(), "{extra}");
        }
    }

    #[test]
    fn canonical_payload_ignores_key_order() {
        let a = Event::from_json(
            json!({"event_id": "e1", "occurred_at": "2026-03-01T09:30:00Z",
            "hcp": "H1", "channel": "email", "type": "opened", "x": {"b": 1, "a": 2}}),
        )
        .unwrap();
        let b = Event::from_json(
            json!({"x": {"a": 2, "b": 1}, "type": "opened", "channel": "email",
            "hcp": "H1", "occurred_at": "2026-03-01T09:30:00Z", "event_id": "e1"}),
        )
        .unwrap();
        assert_eq!(a.canonical_payload(), b.canonical_payload());
        assert!(a.canonical_payload().starts_with("{\"channel\":\"email\""));
    }

    #[test]
    fn a_copy_differing_only_in_its_derived_time_is_the_same_when_what_was_sent_is() {
        let copy = |at: &str, digest: Option<&str>, content: &str| {
            let mut v = json!({"event_id": "segment:m-1", "occurred_at": at, "hcp": "H1",
                "channel": "email", "type": "opened", "content_id": content});
            if let Some(d) = digest {
                v[SENT_DIGEST_FIELD] = json!(d);
            }
            Event::from_json(v).unwrap().into_canonical_payload()
        };
        let first = copy("2026-03-01T09:30:00.000Z", Some("abc"), "EM-1");
        let retry = copy("2026-03-01T09:30:00.004Z", Some("abc"), "EM-1");
        assert!(same_copy(&first, &first));
        assert!(same_copy(&first, &retry));
        // Another digest is another message; the same digest with other content is not a copy.
        assert!(!same_copy(
            &first,
            &copy("2026-03-01T09:30:00.004Z", Some("abd"), "EM-1")
        ));
        assert!(!same_copy(
            &first,
            &copy("2026-03-01T09:30:00.004Z", Some("abc"), "EM-2")
        ));
        // Without a digest, the time is what the sender sent: another time is a conflict.
        assert!(!same_copy(
            &copy("2026-03-01T09:30:00.000Z", None, "EM-1"),
            &copy("2026-03-01T09:30:00.004Z", None, "EM-1")
        ));
    }

    #[test]
    fn not_an_object_is_rejected() {
        assert_eq!(Event::from_json(json!([1])).unwrap_err().field, "event");
    }
}
