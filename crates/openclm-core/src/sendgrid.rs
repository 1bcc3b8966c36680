//! SendGrid Event Webhook notifications translated into OpenCLM email events.
//!
//! SendGrid posts a JSON array of notifications; each one names its recipient by email address.
//! [`parse`] reads one notification into a [`Notification`] (its idempotency key, the lower-cased
//! address, and what it means); once the address is resolved to an OpenCLM HCP,
//! [`Notification::into_event`] gives the event on channel `email`. The address itself is never
//! stored: the event names the HCP, and only the fields OpenCLM reads are kept.

use serde_json::{Map, Value, json};

use crate::{Event, FieldError, Timestamp};

/// The source recorded on every event from the webhook.
pub const SOURCE: &str = "sendgrid";
/// Prefix of the event ids made from `sg_event_id`.
pub const EVENT_ID_PREFIX: &str = "sendgrid:";

/// Custom arguments a delivery system sets on its sends to close the loop; passed through to the
/// contract fields of the same names.
const PASSED_THROUGH: [&str; 4] = ["decision_id", "content_id", "campaign_id", "key_message"];

/// Why a `deferred` notification is stored as no event.
const DEFERRED: &str = "a deferral is a temporary delay at the receiving server; the final \
                        delivered, bounce or dropped notification follows";

/// Why a `group_resubscribe` is stored as no event.
const GROUP_RESUBSCRIBE: &str = "OpenCLM keeps consent per channel and purpose, not per SendGrid \
                                 unsubscribe group: a re-subscription to one group does not grant \
                                 promotional email again; record the HCP's opt-in with its \
                                 evidence as a consent_changed event";

/// Why a `processed` notification of a delivery OpenCLM queued is stored as no event.
const PROCESSED_DELIVERY: &str = "OpenCLM's delivery queue recorded this send when the delivery \
                                  system took it (the notification names its decision_id)";

/// A notification that could not be read: its event id when it was readable, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub event_id: Option<String>,
    pub error: FieldError,
}

/// One SendGrid notification, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// `sendgrid:` + `sg_event_id`.
    pub event_id: String,
    /// The recipient's address, lower-cased (as OpenCLM stores HCPs' addresses).
    pub email: String,
    meaning: Meaning,
}

#[derive(Debug, Clone, PartialEq)]
enum Meaning {
    /// Acknowledged, stored as nothing, for this reason.
    Ignored(&'static str),
    /// The event object, all but `hcp`.
    Event(Map<String, Value>),
}

impl Notification {
    /// Why this notification is stored as no event, if it is not.
    pub fn ignored(&self) -> Option<&'static str> {
        match self.meaning {
            Meaning::Ignored(why) => Some(why),
            Meaning::Event(_) => None,
        }
    }

    /// The OpenCLM event for the HCP the address belongs to; `None` for an ignored notification.
    pub fn into_event(self, hcp: &str) -> Option<Result<Event, FieldError>> {
        match self.meaning {
            Meaning::Ignored(_) => None,
            Meaning::Event(mut object) => {
                object.insert("hcp".into(), Value::String(hcp.to_owned()));
                Some(Event::from_json(Value::Object(object)))
            }
        }
    }

    /// Whether this notification withdraws consent (an unsubscribe or a spam report).
    pub fn withdraws(&self) -> bool {
        matches!(&self.meaning, Meaning::Event(o) if o.get("type") == Some(&json!("unsubscribed")))
    }

    /// The withdrawal's event for one of several HCPs sharing the address, under an id of its
    /// own (the notification's and a digest of the HCP's id), so a resend stays a duplicate.
    pub fn withdrawal_for(&self, hcp: &str) -> Option<Result<Event, FieldError>> {
        use sha2::{Digest, Sha256};
        let Meaning::Event(object) = &self.meaning else {
            return None;
        };
        let mut object = object.clone();
        let digest = hex::encode(&Sha256::digest(hcp.as_bytes())[..8]);
        let base: String = self
            .event_id
            .chars()
            .take(crate::event::MAX_ID_LEN - 17)
            .collect();
        object.insert("event_id".into(), json!(format!("{base}:{digest}")));
        object.insert("hcp".into(), Value::String(hcp.to_owned()));
        Some(Event::from_json(Value::Object(object)))
    }
}

/// Reads one notification of the webhook's array.
pub fn parse(value: &Value) -> Result<Notification, Rejection> {
    let Value::Object(n) = value else {
        return Err(Rejection {
            event_id: None,
            error: FieldError::new("event", "must be a JSON object"),
        });
    };
    let event_id = match n.get("sg_event_id") {
        Some(Value::String(id))
            if !id.is_empty()
                && id.len() + EVENT_ID_PREFIX.len() <= crate::event::MAX_ID_LEN
                && !id.chars().any(char::is_control) =>
        {
            format!("{EVENT_ID_PREFIX}{id}")
        }
        None | Some(Value::Null) => return Err(rejection(None, "sg_event_id", "is required")),
        Some(_) => {
            return Err(rejection(
                None,
                "sg_event_id",
                "must be a non-empty string of at most 119 bytes",
            ));
        }
    };
    let fail = |field: &str, reason: &str| Err(rejection(Some(&event_id), field, reason));
    let email = match n.get("email") {
        Some(Value::String(e)) if e.contains('@') && e.len() <= 254 => e.trim().to_lowercase(),
        None | Some(Value::Null) => return fail("email", "is required"),
        Some(_) => return fail("email", "must be an email address"),
    };
    let occurred_at = match n.get("timestamp").and_then(Value::as_i64) {
        Some(seconds) if (0..=253_402_300_799).contains(&seconds) => {
            Timestamp::from_millis(seconds * 1000)
        }
        _ => {
            return fail(
                "timestamp",
                "must be a Unix time in whole seconds (1970 to 9999)",
            );
        }
    };
    let Some(kind) = n.get("event").and_then(Value::as_str) else {
        return fail("event", "is required (a string such as \"delivered\")");
    };
    let mut event = Map::new();
    // SendGrid's own details, nested so they never pass for a person's prose (top-level strings
    // with spaces are screened as free text; an SMTP reason is not one).
    let mut details = Map::new();
    details.insert("event".into(), json!(kind));
    for key in ["sg_message_id", "asm_group_id", "category"] {
        if let Some(v) = n.get(key).filter(|v| !v.is_null()) {
            details.insert(key.into(), v.clone());
        }
    }
    let contract_type = match kind {
        "processed" if n.get("decision_id").is_some_and(Value::is_string) => {
            return Ok(Notification {
                event_id,
                email,
                meaning: Meaning::Ignored(PROCESSED_DELIVERY),
            });
        }
        "processed" => "sent",
        "delivered" => "delivered",
        "open" => {
            copy_string(n, "useragent", &mut event, "user_agent");
            copy_string(n, "ip", &mut event, "ip");
            if n.get("sg_machine_open") == Some(&Value::Bool(true)) {
                event.insert("machine_open".into(), Value::Bool(true));
            }
            "opened"
        }
        "click" => {
            copy_string(n, "url", &mut event, "url");
            "clicked"
        }
        "bounce" | "dropped" => {
            for (from, to) in [
                ("reason", "reason"),
                ("status", "status"),
                ("type", "bounce_type"),
                ("bounce_classification", "bounce_classification"),
            ] {
                if let Some(v) = n.get(from).filter(|v| !v.is_null()) {
                    details.insert(to.into(), v.clone());
                }
            }
            "bounced"
        }
        "spamreport" | "unsubscribe" | "group_unsubscribe" => "unsubscribed",
        "group_resubscribe" => {
            return Ok(Notification {
                event_id,
                email,
                meaning: Meaning::Ignored(GROUP_RESUBSCRIBE),
            });
        }
        "deferred" => {
            return Ok(Notification {
                event_id,
                email,
                meaning: Meaning::Ignored(DEFERRED),
            });
        }
        other => {
            return fail(
                "event",
                &format!(
                    "unknown SendGrid event {other:?}; expected processed, dropped, delivered, \
                     deferred, bounce, open, click, spamreport, unsubscribe, group_unsubscribe \
                     or group_resubscribe"
                ),
            );
        }
    };
    for key in PASSED_THROUGH {
        if let Some(v) = n.get(key).filter(|v| !v.is_null()) {
            event.insert(key.into(), v.clone());
        }
    }
    event.insert("event_id".into(), json!(event_id));
    event.insert("occurred_at".into(), json!(occurred_at.to_string()));
    event.insert("source".into(), json!(SOURCE));
    event.insert("channel".into(), json!("email"));
    event.insert("type".into(), json!(contract_type));
    event.insert(SOURCE.into(), Value::Object(details));
    Ok(Notification {
        event_id,
        email,
        meaning: Meaning::Event(event),
    })
}

fn rejection(event_id: Option<&str>, field: &str, reason: &str) -> Rejection {
    Rejection {
        event_id: event_id.map(str::to_owned),
        error: FieldError::new(field, reason),
    }
}

fn copy_string(from: &Map<String, Value>, key: &str, to: &mut Map<String, Value>, as_key: &str) {
    if let Some(Value::String(s)) = from.get(key) {
        to.insert(as_key.into(), Value::String(s.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::ConsentState;
    use crate::event::Details;
    use crate::{Channel, EventType};

    fn notification(kind: &str, extra: Value) -> Value {
        let mut n = json!({
            "email": "Dr.Weber@Example.org", "timestamp": 1_764_000_000, "event": kind,
            "sg_event_id": format!("sg-{kind}"), "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "category": ["cardiology", "wave-1"],
            "decision_id": "dec-1", "content_id": "EM-7", "campaign_id": "camp-3"
        });
        if let (Value::Object(n), Value::Object(extra)) = (&mut n, extra) {
            n.extend(extra);
        }
        n
    }

    fn event_of(kind: &str, extra: Value) -> Event {
        parse(&notification(kind, extra))
            .unwrap()
            .into_event("hcp-1")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn every_kind_maps_to_its_email_event() {
        for (kind, expected) in [
            ("delivered", EventType::Delivered),
            ("open", EventType::Opened),
            ("click", EventType::Clicked),
            ("bounce", EventType::Bounced),
            ("dropped", EventType::Bounced),
            ("spamreport", EventType::Unsubscribed),
            ("unsubscribe", EventType::Unsubscribed),
            ("group_unsubscribe", EventType::Unsubscribed),
        ] {
            let e = event_of(kind, json!({}));
            assert_eq!(e.kind, expected, "{kind}");
            assert_eq!(e.channel, Channel::Email);
            assert_eq!(e.event_id, format!("sendgrid:sg-{kind}"));
            assert_eq!(e.source, "sendgrid");
            assert_eq!(e.hcp, "hcp-1");
            assert_eq!(e.occurred_at.to_string(), "2025-11-24T16:00:00.000Z");
            assert_eq!(e.decision_id.as_deref(), Some("dec-1"));
            assert_eq!(e.content_id.as_deref(), Some("EM-7"));
            assert_eq!(e.campaign_id.as_deref(), Some("camp-3"));
            assert_eq!(e.payload["sendgrid"]["event"], kind);
            // The address is resolved, never kept.
            let text = e.canonical_payload();
            assert!(!text.to_lowercase().contains("weber"), "{kind}: {text}");
        }
    }

    #[test]
    fn withdrawals_change_consent_and_one_groups_resubscription_does_not() {
        for kind in ["spamreport", "unsubscribe", "group_unsubscribe"] {
            let e = event_of(kind, json!({"asm_group_id": 42}));
            assert_eq!(
                e.consent_change().map(|c| c.0),
                Some(ConsentState::Withdrawn)
            );
            assert_eq!(e.payload["sendgrid"]["asm_group_id"], 42);
        }
        // One group's re-subscription is not consent to promotional email.
        let n = parse(&notification(
            "group_resubscribe",
            json!({"asm_group_id": 42}),
        ))
        .unwrap();
        assert!(
            n.ignored()
                .unwrap()
                .contains("not per SendGrid unsubscribe group")
        );
        assert!(!n.withdraws());
        // A withdrawal for each of several HCPs sharing the address, each under its own id.
        let n = parse(&notification("unsubscribe", json!({}))).unwrap();
        assert!(n.withdraws());
        let a = n.withdrawal_for("hcp-a").unwrap().unwrap();
        let b = n.withdrawal_for("hcp-b").unwrap().unwrap();
        assert_ne!(a.event_id, b.event_id);
        assert!(a.event_id.starts_with("sendgrid:sg-unsubscribe:"));
        assert_eq!(
            a.event_id,
            n.withdrawal_for("hcp-a").unwrap().unwrap().event_id
        );
        assert_eq!(b.hcp, "hcp-b");
    }

    #[test]
    fn processed_is_a_send_unless_the_delivery_queue_recorded_it() {
        // The notification of the tests names its decision: the queue recorded the send.
        let n = parse(&notification("processed", json!({}))).unwrap();
        assert!(n.ignored().unwrap().contains("delivery queue"));
        let mut outside = notification("processed", json!({}));
        outside.as_object_mut().unwrap().remove("decision_id");
        let e = parse(&outside)
            .unwrap()
            .into_event("hcp-1")
            .unwrap()
            .unwrap();
        assert_eq!(e.kind, EventType::Sent);
    }

    #[test]
    fn opens_keep_agent_address_and_the_machine_flag() {
        let e = event_of(
            "open",
            json!({"useragent": "Mozilla/5.0 (Macintosh)", "ip": "17.58.1.2", "sg_machine_open": true}),
        );
        assert_eq!(
            e.details,
            Details::Opened {
                user_agent: Some("Mozilla/5.0 (Macintosh)".into())
            }
        );
        assert_eq!(e.payload["ip"], "17.58.1.2");
        assert_eq!(e.payload["machine_open"], true);
        let human = event_of("open", json!({"sg_machine_open": false}));
        assert!(!human.payload.contains_key("machine_open"));
        let click = event_of("click", json!({"url": "https://example.org/study"}));
        assert_eq!(
            click.details,
            Details::Clicked {
                url: Some("https://example.org/study".into())
            }
        );
    }

    #[test]
    fn bounces_keep_their_reason_nested_where_screening_does_not_read_it() {
        let e = event_of(
            "bounce",
            json!({"reason": "550 5.1.1 The email account does not exist", "status": "5.1.1", "type": "bounce"}),
        );
        assert_eq!(e.payload["sendgrid"]["status"], "5.1.1");
        assert_eq!(e.payload["sendgrid"]["bounce_type"], "bounce");
        assert!(e.free_texts().is_empty());
        let dropped = event_of("dropped", json!({"reason": "Bounced Address"}));
        assert_eq!(dropped.payload["sendgrid"]["event"], "dropped");
        assert_eq!(dropped.payload["sendgrid"]["reason"], "Bounced Address");
    }

    #[test]
    fn deferrals_are_acknowledged_as_nothing() {
        let n = parse(&notification("deferred", json!({"attempt": "1"}))).unwrap();
        assert!(n.ignored().unwrap().contains("temporary"));
        assert_eq!(n.event_id, "sendgrid:sg-deferred");
        assert_eq!(n.email, "dr.weber@example.org");
        assert!(n.into_event("hcp-1").is_none());
    }

    #[test]
    fn bad_notifications_name_the_field() {
        let field_of = |v: Value| parse(&v).unwrap_err();
        let e = field_of(json!("delivered"));
        assert_eq!((e.event_id, e.error.field.as_str()), (None, "event"));
        let mut n = notification("delivered", json!({}));
        n.as_object_mut().unwrap().remove("sg_event_id");
        assert_eq!(field_of(n).error.field, "sg_event_id");
        let e = field_of(notification("delivered", json!({"timestamp": "yesterday"})));
        assert_eq!(e.event_id.as_deref(), Some("sendgrid:sg-delivered"));
        assert_eq!(e.error.field, "timestamp");
        assert_eq!(
            field_of(notification("delivered", json!({"timestamp": -5})))
                .error
                .field,
            "timestamp"
        );
        let e = field_of(notification("delivered", json!({"email": 7})));
        assert_eq!(e.error.field, "email");
        let e = field_of(notification("bounced_twice", json!({})));
        assert_eq!(e.error.field, "event");
        assert!(
            e.error.reason.contains("bounced_twice"),
            "{}",
            e.error.reason
        );
        // A custom argument that is no valid id is refused by the contract, naming it.
        let e = parse(&notification("delivered", json!({"decision_id": 12})))
            .unwrap()
            .into_event("hcp-1")
            .unwrap()
            .unwrap_err();
        assert_eq!(e.field, "decision_id");
    }
}
