//! An event flattened into the columns both backends store.

use openclm_core::Event;
use openclm_core::consent::ConsentState;
use openclm_core::engine::reward::{Outcome, RewardConfig};
use openclm_core::pv::Screener;
use openclm_core::state::{HcpState, Observation, StateConfig};
use std::collections::HashMap;

/// Folds stored events (their canonical payloads) into an HCP's state. `topics` gives the topics
/// of a content id. A payload that no longer parses (it did when stored) is skipped with a warning.
pub(crate) fn fold_payloads<'a>(
    state: &mut HcpState,
    payloads: impl IntoIterator<Item = &'a str>,
    topics: &HashMap<String, Vec<String>>,
    config: &StateConfig,
) {
    let none: Vec<String> = Vec::new();
    for payload in payloads {
        let event = serde_json::from_str(payload)
            .map_err(|e| e.to_string())
            .and_then(|v| Event::from_json(v).map_err(|e| e.to_string()));
        match event {
            Ok(event) => {
                let observation = Observation::of(&event, config);
                let topics = observation
                    .content_id
                    .as_ref()
                    .and_then(|id| topics.get(id))
                    .unwrap_or(&none);
                state.apply(&observation, topics, config);
            }
            Err(e) => {
                tracing::warn!(error = %e, "a stored event no longer parses; left out of the HCP state")
            }
        }
    }
}

/// What a backend stores of an event. Made on the request's thread, so that the parsed JSON is
/// freed there and SQLite's single writer spends its time on the database only.
pub(crate) struct EventRow {
    pub key: i64,
    pub event_id: String,
    pub hcp: String,
    pub source: String,
    pub occurred_at: i64,
    pub channel: i64,
    pub kind: i64,
    pub content_id: Option<String>,
    pub campaign_id: Option<String>,
    pub decision_id: Option<String>,
    pub rep_id: Option<String>,
    /// The consent changes the event carries (an unsubscribe on any channel also withdraws
    /// promotional email).
    pub consent: Vec<ConsentChange>,
    pub payload: String,
    /// What the event reports about the decision it names.
    pub outcome: Option<Outcome>,
    /// Free texts screened for adverse events, and those flagged (whose text the payload no
    /// longer holds).
    pub screened: u32,
    pub flagged: Vec<FlaggedText>,
}

/// One consent change an event carries.
pub(crate) struct ConsentChange {
    pub channel: i64,
    pub state: ConsentState,
    pub purpose: String,
    pub evidence: Option<String>,
    pub notice_version: Option<String>,
}

/// A free text screening flagged, to open as a PV case with the event.
pub(crate) struct FlaggedText {
    pub case_id: String,
    pub field: String,
    pub text: String,
    /// The screening's findings as JSON.
    pub findings: String,
    /// Hours PV has from receipt.
    pub due_hours: i64,
}

impl EventRow {
    /// The row of an event; `rewards` says what outcome of a decision it reports; `screener`
    /// reads its free texts before anything else does.
    pub fn new(event: Event, rewards: &RewardConfig, screener: &Screener) -> Self {
        let consent = consent_changes(&event);
        let (screened, flagged) = screener.screen(&event);
        let flagged: Vec<FlaggedText> = flagged
            .into_iter()
            .map(|f| FlaggedText {
                case_id: openclm_core::pv::case_id(&event.event_id, &f.field, &f.text),
                field: f.field,
                text: f.text,
                findings: serde_json::to_string(&f.screening).unwrap_or_else(|_| "{}".into()),
                due_hours: screener.due_hours,
            })
            .collect();
        let outcome = rewards.outcome_of(&event);
        let key = event.key_hash();
        let (occurred_at, channel, kind) = (
            event.occurred_at.millis(),
            event.channel.code(),
            event.kind.code(),
        );
        let event_id = event.event_id.clone();
        let hcp = event.hcp.clone();
        let source = event.source.clone();
        let content_id = event.content_id.clone();
        let campaign_id = event.campaign_id.clone();
        let decision_id = event.decision_id.clone();
        let rep_id = event.rep_id.clone();
        Self {
            key,
            event_id,
            hcp,
            source,
            occurred_at,
            channel,
            kind,
            content_id,
            campaign_id,
            decision_id,
            rep_id,
            consent,
            outcome,
            payload: hold_flagged(event.into_canonical_payload(), &flagged),
            screened,
            flagged,
        }
    }
}

fn consent_changes(event: &Event) -> Vec<ConsentChange> {
    let Some((state, purpose)) = event.consent_change() else {
        return vec![];
    };
    let (evidence, notice_version) = match &event.details {
        openclm_core::event::Details::ConsentChanged {
            evidence,
            notice_version,
            ..
        } => (evidence.clone(), notice_version.clone()),
        _ => (None, None),
    };
    let mut changes = vec![ConsentChange {
        channel: event.channel.code(),
        state,
        purpose: purpose.clone(),
        evidence: evidence.clone(),
        notice_version: notice_version.clone(),
    }];
    // An HCP who unsubscribes anywhere gets no more promotional email, from this moment.
    if event.kind == openclm_core::EventType::Unsubscribed
        && event.channel != openclm_core::Channel::Email
    {
        changes.push(ConsentChange {
            channel: openclm_core::Channel::Email.code(),
            state,
            purpose,
            evidence: Some(format!("unsubscribed on {}", event.channel)),
            notice_version,
        });
    }
    changes
}

/// The payload with each flagged text replaced by a pointer to its case.
fn hold_flagged(payload: String, flagged: &[FlaggedText]) -> String {
    if flagged.is_empty() {
        return payload;
    }
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(&payload) else {
        return payload;
    };
    for f in flagged {
        map.insert(
            f.field.clone(),
            openclm_core::pv::held_text(&f.case_id).into(),
        );
    }
    serde_json::Value::Object(map).to_string()
}

/// A delivery may be logged with a coarser clock (a CRM call dated at midnight): a day before
/// the decision still counts.
pub(crate) const DELIVERY_SKEW_MS: i64 = 86_400_000;

/// What crediting one outcome to its decision changes: `(trials, successes)` to add to the
/// decision's model nodes, and the decision's new delivery and reward times.
pub(crate) struct Credit {
    pub trials: f64,
    pub successes: f64,
    pub delivered_at: Option<i64>,
    pub rewarded_at: Option<i64>,
}

/// Credits an outcome at `at` to a decision made at `made_at`, given what it was credited with
/// before: a delivery once, a response once and only within the attribution window (a response
/// also proves the delivery).
pub(crate) fn credit(
    outcome: Outcome,
    at: i64,
    made_at: i64,
    (delivered_at, rewarded_at): (Option<i64>, Option<i64>),
    window: i64,
) -> Option<Credit> {
    // A response before the decision never counts.
    if at < made_at - DELIVERY_SKEW_MS {
        return None;
    }
    let deliver = delivered_at.is_none();
    let reward = outcome == Outcome::Response
        && rewarded_at.is_none()
        && at >= made_at
        && (made_at..=made_at + window).contains(&at);
    (deliver || reward).then(|| Credit {
        trials: f64::from(u8::from(deliver)),
        successes: f64::from(u8::from(reward)),
        delivered_at: delivered_at.or(Some(at)),
        rewarded_at: if reward { Some(at) } else { rewarded_at },
    })
}

/// A decision an outcome that names its content but not its decision may belong to.
pub(crate) struct Candidate {
    pub decision_id: String,
    pub hcp_key: i64,
    pub content: String,
    pub channel: i64,
    pub made_at: i64,
    pub delivered: bool,
    pub rewarded: bool,
}

/// Where to look for candidates of outcomes at these times: decisions made since then.
pub(crate) fn candidates_since(times: impl IntoIterator<Item = i64>, window: i64) -> Option<i64> {
    times.into_iter().min().map(|t| t - window)
}

/// The decision an outcome naming content but no decision is credited to: the latest decision
/// for the same HCP, content and channel made within the attribution window before it (up to a
/// day after it, for a delivery logged with a coarse clock), not dismissed by a rep — for a
/// delivery, preferring one not yet delivered; for a response, one not yet rewarded.
pub(crate) fn attribute(
    candidates: &[Candidate],
    hcp_key: i64,
    content: &str,
    channel: i64,
    outcome: Outcome,
    at: i64,
    window: i64,
) -> Option<usize> {
    let latest = match outcome {
        Outcome::Response => at,
        Outcome::Delivery => at + DELIVERY_SKEW_MS,
    };
    let preferred = |c: &Candidate| match outcome {
        Outcome::Response => !c.rewarded,
        Outcome::Delivery => !c.delivered,
    };
    (0..candidates.len())
        .filter(|&i| {
            let c = &candidates[i];
            c.hcp_key == hcp_key
                && c.channel == channel
                && c.content == content
                && (at - window..=latest).contains(&c.made_at)
        })
        .max_by_key(|&i| (preferred(&candidates[i]), candidates[i].made_at))
}

/// What an erased HCP's events keep: the data contract's typed fields that are codes, ids of
/// OpenCLM's own records, times and numbers, which the aggregates (campaign KPIs, the activity
/// rollup) read. Every other field goes, whatever its name: free text (`notes`, a Segment
/// `note` property, a page's `title` or `page_name`, a CRM's `contact_name`), nested objects and
/// lists (Segment `context`, `traits`), and addresses (`url`, whose path or query can carry a
/// name; `user_agent`, `ip`, `email`, `anonymous_id`).
const KEPT_ON_ERASURE: [(&str, Kept); 22] = [
    ("event_id", Kept::Id),
    ("occurred_at", Kept::Id),
    ("source", Kept::Id),
    ("channel", Kept::Id),
    ("type", Kept::Id),
    ("content_id", Kept::Id),
    ("key_message", Kept::Id),
    ("campaign_id", Kept::Id),
    ("decision_id", Kept::Id),
    ("rep_id", Kept::Id),
    ("slide", Kept::Id),
    ("state", Kept::Id),
    ("purpose", Kept::Id),
    ("period", Kept::Id),
    ("segment_call", Kept::Id),
    ("segment_event", Kept::Id),
    ("key_messages", Kept::Ids),
    ("dwell_ms", Kept::Number),
    ("percent", Kept::Number),
    ("score", Kept::Number),
    ("units", Kept::Number),
    ("value", Kept::Number),
];

/// Fields whose identity with the stored event matters more than their text: the idempotency
/// key and the fields that were checked against fixed vocabularies at ingest.
const KEPT_WHATEVER_THEIR_TEXT: [&str; 4] = ["event_id", "occurred_at", "channel", "type"];

/// Free texts some event types require (`text` of a comment, `question` and `answer` of a survey
/// answer): kept as a placeholder, so that the redacted event still reads as its type.
const REQUIRED_TEXTS: [&str; 3] = ["text", "question", "answer"];
const ERASED_TEXT: &str = "[erased]";

#[derive(Clone, Copy, PartialEq)]
enum Kept {
    /// A string.
    Id,
    /// A list of strings.
    Ids,
    Number,
}

/// The identifiers of an HCP being erased: any kept string containing one goes too.
pub(crate) struct Identifiers(Vec<String>);

impl Identifiers {
    /// Identifiers shorter than 4 characters are left out: as substrings they would match ids of
    /// content and campaigns that the aggregates need, and could not name a person alone.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            values
                .into_iter()
                .map(|v| v.trim().to_lowercase())
                .filter(|v| v.chars().count() >= 4)
                .collect(),
        )
    }

    fn named_in(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        self.0.iter().any(|id| text.contains(id.as_str()))
    }
}

/// The payload of an erased HCP's event: only the fields of [`KEPT_ON_ERASURE`] of the right
/// JSON type and naming none of `identifiers`, the HCP as its pseudonym, and `"erased": true`.
/// It still parses as an event of its type, so folds that read it later count it as before.
pub(crate) fn redact_payload(payload: &str, pseudonym: &str, identifiers: &Identifiers) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(payload)
    else {
        return serde_json::json!({"hcp": pseudonym, "erased": true}).to_string();
    };
    use serde_json::Value;
    let clean = |text: &str| !identifiers.named_in(text);
    let mut kept = serde_json::Map::new();
    for (field, kind) in KEPT_ON_ERASURE {
        let Some(value) = map.get(field) else {
            continue;
        };
        let keep = match (kind, value) {
            (Kept::Id, Value::String(text)) => {
                KEPT_WHATEVER_THEIR_TEXT.contains(&field) || clean(text)
            }
            (Kept::Ids, Value::Array(items)) => {
                items.iter().all(|i| i.as_str().is_some_and(&clean))
            }
            (Kept::Number, Value::Number(_)) => true,
            _ => false,
        };
        if keep {
            kept.insert(field.into(), value.clone());
        }
    }
    for field in REQUIRED_TEXTS {
        if map.get(field).is_some_and(Value::is_string) {
            kept.insert(field.into(), ERASED_TEXT.into());
        }
    }
    kept.insert("hcp".into(), pseudonym.into());
    kept.insert("erased".into(), true.into());
    Value::Object(kept).to_string()
}

/// The suppression hashes of an HCP's identifiers, with the field each comes from.
pub(crate) fn suppression_keys(hcp: &openclm_core::Hcp) -> Vec<(String, String)> {
    use openclm_core::privacy::{SuppressedId, suppression_hash};
    let mut keys = vec![(
        "id".to_owned(),
        suppression_hash(SuppressedId::ExternalId, hcp.id.as_str()),
    )];
    for (i, x) in hcp.external_ids.iter().enumerate() {
        keys.push((
            format!("external_ids[{i}]"),
            suppression_hash(SuppressedId::ExternalId, &x.id),
        ));
    }
    if let Some(email) = &hcp.email {
        keys.push((
            "email".to_owned(),
            suppression_hash(SuppressedId::Email, email),
        ));
    }
    keys
}

/// The refusal of an HCP whose identifier `field` is on the suppression list.
pub(crate) fn suppressed_error(field: &str) -> openclm_core::FieldError {
    openclm_core::FieldError::new(
        field,
        "is on the suppression list: this HCP was erased and cannot be imported again",
    )
}

/// An HCP id read back from the database; one that does not parse means corrupt data, not a
/// client's mistake.
pub(crate) fn stored_hcp_id(id: &str) -> crate::Result<openclm_core::HcpId> {
    openclm_core::HcpId::parse("id", id)
        .map_err(|e| crate::StoreError::Corrupt(format!("HCP id {id:?}: {}", e.reason)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn an_erased_event_keeps_only_typed_codes_and_numbers_and_still_reads_as_its_type() {
        let ids = Identifiers::new([
            "hcp-zq",
            "Zelda Quintero",
            "zq@example.org",
            "CRM-ZQ-9",
            "Q",
        ]);
        let survey = json!({"event_id": "e1", "occurred_at": "2026-11-02T09:00:00Z",
            "hcp": "CRM-ZQ-9", "source": "web", "channel": "web", "type": "survey_answered",
            "question": "How did Zelda Quintero like it?", "answer": "Fine", "score": 9,
            "content_id": "CZ-1", "campaign_id": "launch", "contact_name": "Zelda Quintero",
            "note": "met zelda quintero at the congress", "title": "Profile of Zelda Quintero",
            "page_name": "zelda", "url": "https://example.org/?who=zq@example.org",
            "user_agent": "Mail", "ip": "10.0.0.1", "anonymous_id": "a-1",
            "context": {"traits": {"name": "Zelda Quintero"}}, "key_messages": ["km-1"],
            "slide": "slide for crm-zq-9", "units": "Zelda", "dwell_ms": 1200});
        let redacted: Value =
            serde_json::from_str(&redact_payload(&survey.to_string(), "erased-1", &ids)).unwrap();
        assert_eq!(
            redacted,
            json!({"event_id": "e1", "occurred_at": "2026-11-02T09:00:00Z", "hcp": "erased-1",
                "source": "web", "channel": "web", "type": "survey_answered",
                "question": "[erased]", "answer": "[erased]", "score": 9, "content_id": "CZ-1",
                "campaign_id": "launch", "key_messages": ["km-1"], "dwell_ms": 1200,
                "erased": true})
        );
        let event = openclm_core::Event::from_json(redacted).unwrap();
        assert_eq!(event.kind, openclm_core::EventType::SurveyAnswered);
        // A comment keeps its required text as a placeholder; nothing else survives.
        let comment = json!({"event_id": "e2", "occurred_at": "2026-11-02T09:00:00Z",
            "hcp": "hcp-zq", "channel": "web", "type": "comment", "text": "Zelda wrote this"});
        let redacted: Value =
            serde_json::from_str(&redact_payload(&comment.to_string(), "erased-1", &ids)).unwrap();
        assert_eq!(redacted["text"], "[erased]");
        assert!(openclm_core::Event::from_json(redacted).is_ok());
    }
}
