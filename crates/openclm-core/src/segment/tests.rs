use serde_json::json;

use super::*;

fn at(text: &str) -> Timestamp {
    Timestamp::parse("t", text).unwrap()
}

fn read_one(value: Value, call: Option<Call>) -> Result<Message, FieldError> {
    read(
        value,
        call,
        &Envelope::default(),
        at("2026-03-02T10:00:00Z"),
    )
}

#[test]
fn clock_skew_is_corrected_from_sent_at_and_the_receive_time() {
    // The device's clock is an hour fast: it says the event happened at 10:59:50 and was sent at
    // 11:00:00; it reached us at 10:00:00 by ours, so it happened at 09:59:50.
    let m = read_one(
        json!({"userId": "u1", "event": "Email Opened", "messageId": "m1",
               "timestamp": "2026-03-02T10:59:50Z", "sentAt": "2026-03-02T11:00:00Z"}),
        Some(Call::Track),
    )
    .unwrap();
    assert_eq!(m.occurred_at, at("2026-03-02T09:59:50Z"));
    assert_eq!(m.event_id, "segment:m1");

    // The batch's sentAt applies to its messages; originalTimestamp stands in for timestamp.
    let envelope = Envelope {
        sent_at: Some(at("2026-03-02T08:00:10Z")),
        context: None,
    };
    let m = read(
        json!({"type": "track", "userId": "u1", "event": "Email Opened",
               "originalTimestamp": "2026-03-02T08:00:00Z"}),
        None,
        &envelope,
        at("2026-03-02T10:00:00Z"),
    )
    .unwrap();
    assert_eq!(m.occurred_at, at("2026-03-02T09:59:50Z"));

    // Without sentAt the timestamp stands; without any time, the receive time.
    let m = read_one(
        json!({"userId": "u1", "timestamp": "2026-01-01T00:00:00Z"}),
        Some(Call::Page),
    )
    .unwrap();
    assert_eq!(m.occurred_at, at("2026-01-01T00:00:00Z"));
    let m = read_one(json!({"anonymousId": "a1"}), Some(Call::Page)).unwrap();
    assert_eq!(m.occurred_at, at("2026-03-02T10:00:00Z"));
}

#[test]
fn messages_without_an_id_are_identified_by_their_text_and_long_ids_by_a_hash() {
    let body =
        json!({"userId": "u1", "event": "Email Opened", "timestamp": "2026-03-02T09:00:00Z"});
    let a = read_one(body.clone(), Some(Call::Track)).unwrap();
    let b = read_one(body, Some(Call::Track)).unwrap();
    assert_eq!(a.event_id, b.event_id);
    assert!(a.event_id.starts_with("segment:sha256:"));
    let c = read_one(
        json!({"userId": "u1", "event": "Email Opened", "timestamp": "2026-03-02T09:00:01Z"}),
        Some(Call::Track),
    )
    .unwrap();
    assert_ne!(a.event_id, c.event_id);

    let long = "x".repeat(200);
    let m = read_one(json!({"userId": "u1", "messageId": long}), Some(Call::Page)).unwrap();
    assert!(m.event_id.len() <= MAX_ID_LEN);
}

#[test]
fn a_retry_with_a_new_sent_at_is_the_message_sent_and_a_changed_message_is_not() {
    let first = json!({"userId": "u1", "event": "Email Opened", "messageId": "m1",
        "timestamp": "2026-03-02T09:00:00Z", "sentAt": "2026-03-02T09:00:05Z",
        "writeKey": "k", "_metadata": {"jsRuntime": "node"}});
    let mut retry = first.clone();
    retry["sentAt"] = json!("2026-03-02T09:00:06.250Z");
    let received =
        |t: &str, v: &Value| read(v.clone(), Some(Call::Track), &Envelope::default(), at(t));
    let a = received("2026-03-02T10:00:00Z", &first).unwrap();
    let b = received("2026-03-02T10:00:01.300Z", &retry).unwrap();
    assert_eq!(a.sent_digest, b.sent_digest);
    // The derived times differ by the network's jitter: what the server derived, not what was sent.
    assert_ne!(a.occurred_at, b.occurred_at);
    let mut changed = retry.clone();
    changed["timestamp"] = json!("2026-03-02T09:00:01Z");
    let c = received("2026-03-02T10:00:01Z", &changed).unwrap();
    assert_ne!(a.sent_digest, c.sent_digest);

    // Without a messageId, the id is the digest: a retry keeps it.
    let mut unnamed = first.clone();
    unnamed.as_object_mut().unwrap().remove("messageId");
    let mut unnamed_retry = unnamed.clone();
    unnamed_retry["sentAt"] = json!("2026-03-02T09:00:09Z");
    assert_eq!(
        received("2026-03-02T10:00:00Z", &unnamed).unwrap().event_id,
        received("2026-03-02T10:00:04Z", &unnamed_retry)
            .unwrap()
            .event_id
    );
}

#[test]
fn bad_messages_name_the_field() {
    let cases = [
        (
            json!({"event": "Email Opened"}),
            Some(Call::Track),
            "userId",
        ),
        (json!([1, 2]), Some(Call::Track), "message"),
        (json!({"userId": {"a": 1}}), Some(Call::Track), "userId"),
        (
            json!({"userId": "u", "timestamp": "yesterday"}),
            Some(Call::Track),
            "timestamp",
        ),
        (json!({"userId": "u"}), None, "type"),
        (json!({"userId": "u", "type": "purchase"}), None, "type"),
        (
            json!({"userId": "u", "messageId": ""}),
            Some(Call::Page),
            "messageId",
        ),
    ];
    for (body, call, field) in cases {
        let e = read_one(body.clone(), call).unwrap_err();
        assert_eq!(e.field, field, "{body}: {e}");
    }
}

#[test]
fn track_events_map_by_name_and_properties_fill_the_contract() {
    let config = SegmentConfig::default();
    let m = read_one(
        json!({"userId": "CRM-1", "event": "Slide Viewed", "messageId": "m2",
               "properties": {"content_id": "DET-1", "key_message": "KM-3", "duration": 12.5,
                              "source": "ipad", "comment": "liked the chart"},
               "context": {"ip": "10.0.0.1", "userAgent": "Veeva CLM", "library": {"name": "x"}}}),
        Some(Call::Track),
    )
    .unwrap();
    let Action::Event(object) = action(&m, &config).unwrap() else {
        panic!("not an event")
    };
    assert_eq!(object["type"], "slide_viewed");
    assert_eq!(object["channel"], "face_to_face");
    assert_eq!(object["source"], "segment");
    assert_eq!(object["dwell_ms"], 12_500);
    assert_eq!(object["content_id"], "DET-1");
    assert_eq!(object["property_source"], "ipad");
    assert_eq!(object["ip"], "10.0.0.1");
    assert!(
        object.get("context").is_none(),
        "the context is not kept whole"
    );
    let event = parse_event(object, "CRM-1", &properties(&m)).unwrap();
    assert_eq!(event.kind, EventType::SlideViewed);
    assert_eq!(event.key_message.as_deref(), Some("KM-3"));
    // The comment is prose at the top level, so screening reads it.
    assert!(event.free_texts().iter().any(|(f, _)| f == "comment"));

    // A property that breaks the contract is named as the property.
    let m = read_one(
        json!({"userId": "CRM-1", "event": "Slide Viewed", "properties": {"dwell_ms": -4}}),
        Some(Call::Track),
    )
    .unwrap();
    let Action::Event(object) = action(&m, &config).unwrap() else {
        panic!("not an event")
    };
    let e = parse_event(object, "CRM-1", &properties(&m)).unwrap_err();
    assert_eq!(e.field, "properties.dwell_ms");

    // A dwell read from the spec's `duration` beyond its bound is named as the duration.
    let m = read_one(
        json!({"userId": "CRM-1", "event": "Slide Viewed", "properties": {"duration": 1e200}}),
        Some(Call::Track),
    )
    .unwrap();
    let Action::Event(object) = action(&m, &config).unwrap() else {
        panic!("not an event")
    };
    let e = parse_event(object, "CRM-1", &properties(&m)).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.reason.as_str()),
        ("properties.duration", "must be at most 86400 seconds")
    );

    // An unmapped name is refused, saying where to map it; the settings can map it.
    let m = read_one(
        json!({"userId": "CRM-1", "event": "Sample Requested"}),
        Some(Call::Track),
    )
    .unwrap();
    let e = action(&m, &config).unwrap_err();
    assert_eq!(e.field, "event");
    assert!(e.reason.contains("[segment.events]"), "{e}");
    let mut mapped = SegmentConfig::default();
    mapped.events.insert(
        "Sample Requested".into(),
        EventMapping {
            kind: EventType::MedicalInformationRequested,
            channel: Channel::Web,
        },
    );
    assert!(matches!(action(&m, &mapped).unwrap(), Action::Event(_)));

    // A name mapped to prescriptions: units beyond their bound are named as the property.
    mapped.events.insert(
        "Rx Reported".into(),
        EventMapping {
            kind: EventType::Prescription,
            channel: Channel::Crm,
        },
    );
    let m = read_one(
        json!({"userId": "CRM-1", "event": "Rx Reported", "properties": {"units": 1e200}}),
        Some(Call::Track),
    )
    .unwrap();
    let Action::Event(object) = action(&m, &mapped).unwrap() else {
        panic!("not an event")
    };
    let e = parse_event(object, "CRM-1", &properties(&m)).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.reason.as_str()),
        ("properties.units", "must be at most 1000000 per event")
    );
}

#[test]
fn video_progress_and_clicks_read_the_specs_names() {
    let config = SegmentConfig::default();
    let object = |body: Value| {
        let m = read_one(body, Some(Call::Track)).unwrap();
        match action(&m, &config).unwrap() {
            Action::Event(o) => o,
            other => panic!("{other:?}"),
        }
    };
    let done = object(json!({"userId": "u", "event": "Video Playback Completed"}));
    assert_eq!(done["percent"], 100.0);
    let half = object(
        json!({"userId": "u", "event": "Video Content Playing", "properties": {"position": 30, "total_length": 120}}),
    );
    assert_eq!(half["percent"], 25.0);
    let click = object(
        json!({"userId": "u", "event": "Email Link Clicked", "properties": {"link_url": "https://x.example/a"}}),
    );
    assert_eq!(click["url"], "https://x.example/a");
    assert_eq!(click["channel"], "email");
    let page = {
        let m = read_one(
            json!({"anonymousId": "a", "name": "Dosing", "context": {"page": {"url": "https://brand.example/dosing"}}}),
            Some(Call::Page),
        )
        .unwrap();
        match action(&m, &config).unwrap() {
            Action::Event(o) => o,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(page["type"], "content_viewed");
    assert_eq!(page["channel"], "web");
    assert_eq!(page["url"], "https://brand.example/dosing");
    assert_eq!(page["anonymous_id"], "a");
}

#[test]
fn identify_traits_fill_the_mapped_fields_and_group_and_alias_read_their_ids() {
    let config = SegmentConfig::default();
    let m = read_one(
        json!({"userId": "u", "anonymousId": "a", "traits": {
            "firstName": "Ada", "lastName": "Lovelace", "email": "ADA@example.org",
            "specialty": "cardiology", "address": {"country": "DE"}, "plan": "x"}}),
        Some(Call::Identify),
    )
    .unwrap();
    assert_eq!(
        action(&m, &config).unwrap(),
        Action::Identify(TraitChanges {
            name: Some("Ada Lovelace".into()),
            email: Some("ADA@example.org".into()),
            specialty: Some("cardiology".into()),
            country: Some("DE".into()),
        })
    );
    let m = read_one(
        json!({"userId": "u", "traits": {"email": 7}}),
        Some(Call::Identify),
    )
    .unwrap();
    assert_eq!(action(&m, &config).unwrap_err().field, "traits.email");

    let m = read_one(
        json!({"userId": "u", "groupId": "HOSP-9"}),
        Some(Call::Group),
    )
    .unwrap();
    assert_eq!(
        action(&m, &config).unwrap(),
        Action::Group {
            segment: "group:HOSP-9".into()
        }
    );
    let m = read_one(
        json!({"userId": "u", "previousId": "anon-1"}),
        Some(Call::Alias),
    )
    .unwrap();
    assert_eq!(
        action(&m, &config).unwrap(),
        Action::Alias {
            previous_id: "anon-1".into()
        }
    );
    let m = read_one(json!({"previousId": "anon-1"}), Some(Call::Alias)).unwrap();
    assert_eq!(action(&m, &config).unwrap_err().field, "userId");
}
