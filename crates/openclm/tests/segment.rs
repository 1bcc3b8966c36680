//! The Segment-compatible Tracking API, with payloads written from the public specification of
//! the HTTP Tracking API: write keys, every call, messageId dedup, clock-skew correction,
//! anonymous visitors, traits, limits and malformed input.

mod common;

use base64::Engine;
use common::{TestApp, spawn_app_at};
use openclm_core::Timestamp;
use openclm_core::segment::SegmentConfig;
use openclm_server::ApiConfig;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

fn start() -> Timestamp {
    Timestamp::parse("t", "2026-11-02T09:00:00Z").unwrap()
}

/// A server whose tracking source is the CRM: `userId` is the HCP's CRM id (`CRM-N`).
async fn app() -> TestApp {
    app_with_clock().await.0
}

/// The same, with the handle of its clock (milliseconds since the epoch).
async fn app_with_clock() -> (TestApp, Arc<AtomicI64>) {
    let config = ApiConfig {
        segment: Arc::new(SegmentConfig {
            source: "crm".into(),
            ..SegmentConfig::default()
        }),
        ..ApiConfig::default()
    };
    let (app, clock) = spawn_app_at(config, start()).await;
    app.seed_hcps(4).await;
    (app, clock)
}

/// Posts as the SDKs do: the write key as the Basic user name, an empty password.
async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", app.ingest));
    let r = app
        .client
        .post(format!("{}{path}", app.base))
        .header("authorization", format!("Basic {basic}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn timeline(app: &TestApp, hcp: &str) -> Vec<Value> {
    let r: Value = app
        .get(&app.admin, &format!("/v1/hcps/{hcp}/timeline"))
        .await
        .json()
        .await
        .unwrap();
    r["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_call_is_taken_with_a_write_key_and_a_resend_is_a_no_op() {
    let app = app().await;
    let track = json!({
        "userId": "CRM-0", "event": "Email Opened", "messageId": "ajs-1",
        "timestamp": "2026-11-02T08:00:00Z",
        "properties": {"content_id": "EM-1", "campaign_id": "launch"},
        "context": {"ip": "17.58.1.1", "userAgent": "Mozilla/5.0", "library": {"name": "analytics-node"}}
    });
    let (status, body) = post(&app, "/v1/track", &track).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["accepted"], 1);

    // The key in the body instead of the header.
    let r = app
        .client
        .post(format!("{}/v1/page", app.base))
        .json(
            &json!({"writeKey": app.ingest, "userId": "CRM-0", "name": "Dosing",
                      "messageId": "ajs-2", "timestamp": "2026-11-02T08:01:00Z",
                      "properties": {"url": "https://brand.example/dosing", "title": "Dosing"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let (status, _) = post(
        &app,
        "/v1/screen",
        &json!({"userId": "CRM-0", "name": "Home", "messageId": "ajs-3",
                "timestamp": "2026-11-02T08:02:00Z"}),
    )
    .await;
    assert_eq!(status, 200);

    let events = timeline(&app, "hcp-0").await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["channel"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("content_viewed", "mobile_app"),
            ("content_viewed", "web"),
            ("opened", "email")
        ]
    );
    let opened = &events[2];
    assert_eq!(opened["event_id"], "segment:ajs-1");
    assert_eq!(opened["occurred_at"], "2026-11-02T08:00:00.000Z");
    assert_eq!(opened["event"]["content_id"], "EM-1");
    assert_eq!(opened["event"]["campaign_id"], "launch");

    // An Apple proxy's address made that open: a machine's, not engagement.
    let state: Value = app
        .get(&app.admin, "/v1/hcps/hcp-0/state")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["state"]["channels"]["email"]["machine_opens"], 1,
        "{state}"
    );
    assert_eq!(
        state["state"]["channels"]["email"]["human_opens"], 0,
        "{state}"
    );

    // The same message again changes nothing; the same id with other content is refused.
    let before = app.event_count().await;
    let (status, body) = post(&app, "/v1/track", &track).await;
    assert_eq!((status, body["duplicates"].clone()), (200, json!(1)));
    let mut changed = track.clone();
    changed["properties"]["content_id"] = json!("EM-2");
    let (status, body) = post(&app, "/v1/track", &changed).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["field"], "messageId", "{body}");
    assert_eq!(app.event_count().await, before);

    // No key: 401. A key whose role may not ingest: 403.
    let r = app
        .client
        .post(format!("{}/v1/track", app.base))
        .json(&track)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(format!("{}/v1/track", app.base))
        .json(&json!({"writeKey": app.read, "userId": "CRM-0", "event": "Email Opened"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn times_are_corrected_for_the_senders_clock() {
    let app = app().await;
    // The device's clock runs 3 hours fast: it stamped the event 30 s before sending. The server
    // received it at 09:00:00, so it happened at 08:59:30.
    let (status, body) = post(
        &app,
        "/v1/batch",
        &json!({
            "sentAt": "2026-11-02T12:00:00Z",
            "batch": [
                {"type": "track", "userId": "CRM-1", "event": "Email Link Clicked", "messageId": "m-1",
                 "timestamp": "2026-11-02T11:59:30Z", "properties": {"link_url": "https://brand.example/a"}},
                {"type": "track", "userId": "CRM-1", "event": "Email Opened", "messageId": "m-2",
                 "originalTimestamp": "2026-11-02T11:58:00Z"}
            ]
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    let events = timeline(&app, "hcp-1").await;
    assert_eq!(events[0]["type"], "clicked");
    assert_eq!(events[0]["occurred_at"], "2026-11-02T08:59:30.000Z");
    assert_eq!(events[0]["event"]["url"], "https://brand.example/a");
    assert_eq!(events[1]["occurred_at"], "2026-11-02T08:58:00.000Z");
}

#[tokio::test]
async fn an_anonymous_visitors_events_are_held_until_identify_or_alias_names_them() {
    let app = app().await;
    let page = |id: &str, anon: &str| {
        json!({"type": "page", "anonymousId": anon, "messageId": id, "name": "Efficacy",
               "timestamp": "2026-11-02T08:10:00Z",
               "context": {"page": {"url": "https://brand.example/efficacy"}}})
    };
    let (status, body) = post(
        &app,
        "/v1/batch",
        &json!({"batch": [page("p-1", "anon-a"), page("p-2", "anon-a"), page("p-3", "anon-b")]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["held"], 3, "{body}");
    assert_eq!(app.event_count().await, 0);
    // Held twice is held once.
    let (_, body) = post(&app, "/v1/page", &page("p-1", "anon-a")).await;
    assert_eq!(body["duplicates"], 1, "{body}");

    // Logging in: the SDK identifies the visitor; what they read before is now theirs.
    let (status, _) = post(
        &app,
        "/v1/identify",
        &json!({"userId": "CRM-2", "anonymousId": "anon-a", "messageId": "i-1"}),
    )
    .await;
    assert_eq!(status, 200);
    let events = timeline(&app, "hcp-2").await;
    assert_eq!(events.len(), 2);
    assert!(
        events.iter().all(|e| e["type"] == "content_viewed"
            && e["event"]["url"] == "https://brand.example/efficacy")
    );
    // Later anonymous events of the same device go straight to the HCP.
    let (_, body) = post(&app, "/v1/page", &page("p-4", "anon-a")).await;
    assert_eq!(body["accepted"], 1, "{body}");
    assert_eq!(timeline(&app, "hcp-2").await.len(), 3);

    // Alias names the other visitor.
    let (status, _) = post(
        &app,
        "/v1/alias",
        &json!({"userId": "CRM-3", "previousId": "anon-b", "messageId": "a-1"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(timeline(&app, "hcp-3").await.len(), 1);
    assert_eq!(app.event_count().await, 4);
}

#[tokio::test]
async fn identify_traits_update_the_hcp_and_group_adds_a_segment() {
    let app = app().await;
    let (status, body) = post(
        &app,
        "/v1/identify",
        &json!({"userId": "CRM-0", "messageId": "i-1",
                "traits": {"email": "Dr.Test0@Clinic.example", "specialty": "Cardiology", "plan": "gold"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let hcp: Value = app
        .get(&app.admin, "/v1/hcps/hcp-0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hcp["email"], "dr.test0@clinic.example");
    assert_eq!(hcp["specialty"], "cardiology");
    assert_eq!(hcp["name"], "Dr. Test 0", "untouched fields stay");

    let (status, _) = post(
        &app,
        "/v1/group",
        &json!({"userId": "CRM-0", "groupId": "HOSP-7", "traits": {"name": "City Hospital"}}),
    )
    .await;
    assert_eq!(status, 200);
    let hcp: Value = app
        .get(&app.admin, "/v1/hcps/hcp-0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hcp["segments"], json!(["group:HOSP-7"]));

    // An unknown user with complete traits becomes an HCP; with some traits, is refused.
    let (status, body) = post(
        &app,
        "/v1/identify",
        &json!({"userId": "CRM-99", "traits": {"firstName": "Grace", "lastName": "Hopper",
                 "specialty": "oncology", "address": {"country": "fr"}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let hcp: Value = app
        .get(&app.admin, "/v1/hcps/crm-CRM-99")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hcp["name"], "Grace Hopper");
    assert_eq!(hcp["country"], "FR");
    assert_eq!(
        hcp["external_ids"],
        json!([{"system": "crm", "id": "CRM-99"}])
    );
    let (status, body) = post(
        &app,
        "/v1/identify",
        &json!({"userId": "CRM-100", "traits": {"email": "x@example.org"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "userId");
    let (status, body) = post(
        &app,
        "/v1/identify",
        &json!({"userId": "CRM-1", "traits": {"country": "Germany"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "traits.country");
}

#[tokio::test]
async fn limits_are_refused_whole_naming_the_limit() {
    let app = app().await;
    let big = "x".repeat(33 * 1024);
    let (status, body) = post(
        &app,
        "/v1/track",
        &json!({"userId": "CRM-0", "event": "Email Opened", "properties": {"note": big}}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("32 KB"),
        "{body}"
    );

    let small = |i: usize| json!({"type": "track", "userId": "CRM-0", "event": "Email Opened", "messageId": format!("s-{i}")});
    let (status, body) = post(
        &app,
        "/v1/batch",
        &json!({"batch": (0..2_501).map(small).collect::<Vec<_>>()}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2500 messages"),
        "{body}"
    );

    let mut batch: Vec<Value> = (0..3).map(small).collect();
    batch.push(
        json!({"type": "track", "userId": "CRM-0", "event": "Email Opened",
                      "properties": {"note": "y".repeat(33 * 1024)}}),
    );
    let (status, body) = post(&app, "/v1/batch", &json!({"batch": batch})).await;
    assert_eq!(status, 400);
    let error = body["error"]["message"].as_str().unwrap();
    assert!(
        error.contains("batch[3]") && error.contains("32 KB"),
        "{body}"
    );

    let (status, body) = post(
        &app,
        "/v1/batch",
        &json!({"batch": (0..20).map(|i| json!({"type": "track", "userId": "CRM-0", "event": "Email Opened",
                 "messageId": format!("b-{i}"), "properties": {"note": "z".repeat(30 * 1024)}})).collect::<Vec<_>>()}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("500 KB"),
        "{body}"
    );
    assert_eq!(
        app.event_count().await,
        0,
        "nothing of a refused batch is stored"
    );
}

#[tokio::test]
async fn a_batch_answers_each_message_and_keeps_the_good_ones() {
    let app = app().await;
    let (status, body) = post(
        &app,
        "/v1/batch",
        &json!({"batch": [
            {"type": "track", "userId": "CRM-1", "event": "Slide Viewed", "messageId": "k-1",
             "properties": {"content_id": "DET-1", "key_message": "KM-2", "duration": 14}},
            {"type": "track", "userId": "CRM-1", "event": "Sample Requested", "messageId": "k-2"},
            {"type": "track", "userId": "CRM-1", "event": "Email Opened", "messageId": "k-3", "timestamp": "last week"},
            {"type": "track", "userId": "CRM-404", "event": "Email Opened", "messageId": "k-4"},
            {"type": "track", "userId": "CRM-1", "event": "Slide Viewed", "messageId": "k-5", "properties": {"dwell_ms": "long"}},
            {"type": "purchase", "userId": "CRM-1", "messageId": "k-6"},
            "not an object",
            {"type": "track", "userId": "CRM-1", "event": "Video Playback Completed", "messageId": "k-7"}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["rejected"], 6, "{body}");
    let fields: Vec<Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"]["field"].clone())
        .collect();
    assert_eq!(
        fields,
        [
            Value::Null,
            json!("event"),
            json!("timestamp"),
            json!("userId"),
            json!("properties.dwell_ms"),
            json!("type"),
            json!("message"),
            Value::Null
        ]
    );
    let events = timeline(&app, "hcp-1").await;
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "slide_viewed" && e["event"]["dwell_ms"] == 14_000)
    );
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "video_progress" && e["event"]["percent"] == 100.0)
    );

    // A body that is not JSON, or not a batch, is refused naming why.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", app.ingest));
    let r = app
        .client
        .post(format!("{}/v1/batch", app.base))
        .header("authorization", format!("Basic {basic}"))
        .body("{\"batch\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], "body");
    let (status, body) = post(&app, "/v1/batch", &json!({"messages": []})).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("batch"))
    );
}

#[tokio::test]
async fn free_text_in_properties_is_screened_for_adverse_events() {
    let app = app().await;
    let (status, body) = post(
        &app,
        "/v1/track",
        &json!({"userId": "CRM-2", "event": "Comment Posted", "messageId": "c-1",
                "properties": {"text": "Patient told her the tablets made her vomit twice, she stopped taking them"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let pv = app.signed_in("pv", "pv_officer").await;
    let cases: Value = app.get(&pv, "/v1/ae-cases").await.json().await.unwrap();
    let cases = cases["items"]
        .as_array()
        .or(cases.as_array())
        .unwrap()
        .clone();
    assert_eq!(cases.len(), 1, "{cases:?}");
    let events = timeline(&app, "hcp-2").await;
    assert!(
        !events[0].to_string().contains("vomit"),
        "the text is held for PV: {}",
        events[0]
    );
}

#[tokio::test]
async fn a_public_write_key_tracks_but_changes_neither_consent_nor_master_data() {
    let app = app().await;
    let (_, key) = openclm::create_key(&app.store, openclm_core::auth::Role::Tracking, "web")
        .await
        .unwrap();
    let send = |path: &'static str, body: Value| {
        let (client, base, key) = (app.client.clone(), app.base.clone(), key.clone());
        async move {
            let mut body = body;
            body["writeKey"] = json!(key);
            let r = client
                .post(format!("{base}{path}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = send(
        "/v1/track",
        json!({"userId": "CRM-1", "event": "Email Opened", "messageId": "w-1"}),
    )
    .await;
    assert_eq!(
        (status, body["accepted"].clone()),
        (200, json!(1)),
        "{body}"
    );
    // Consent changes need a trusted key.
    for (i, name) in ["Unsubscribed", "Email Marked as Spam"].iter().enumerate() {
        let (status, body) = send(
            "/v1/track",
            json!({"userId": "CRM-1", "event": name, "messageId": format!("w-u{i}")}),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["field"], "event");
    }
    // Traits and groups stay out of master data; the identify still links the visitor.
    let (status, _) = send(
        "/v1/page",
        json!({"anonymousId": "anon-w", "messageId": "w-p", "name": "Home"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = send(
        "/v1/identify",
        json!({"userId": "CRM-1", "anonymousId": "anon-w", "traits": {"email": "attacker@example.org"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = send("/v1/group", json!({"userId": "CRM-1", "groupId": "EVIL"})).await;
    assert_eq!(body["ignored"], 1, "{body}");
    let hcp: Value = app
        .get(&app.admin, "/v1/hcps/hcp-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hcp["email"], Value::Null);
    assert_eq!(hcp["segments"], json!([]));
    assert_eq!(
        timeline(&app, "hcp-1").await.len(),
        2,
        "the open and the linked page"
    );
    // Nothing else opens to it.
    let r = app
        .post_events(
            &key,
            "application/json",
            json!([common::event("e", 1, 1)]).to_string(),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.get(&key, "/v1/hcps").await.status(), 403);
    assert_eq!(
        app.get(&key, "/v1/deliveries/next?channel=email")
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn an_identify_never_replaces_an_hcp_it_did_not_find_by_its_user_id() {
    let app = app().await;
    // An HCP whose OpenCLM id is what an identify of CRM-50 would create, without that CRM id.
    let r = app
        .put_hcp(
            "crm-CRM-50",
            json!({"name": "Dr. Kept", "specialty": "gp", "country": "DE", "territory": "T-1",
                   "restricted_products": ["cardiozen"]}),
        )
        .await;
    assert!(r.status().is_success());
    let (status, body) = post(
        &app,
        "/v1/identify",
        &json!({"userId": "CRM-50", "traits": {"name": "Someone Else", "specialty": "oncology", "country": "FR"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "userId");
    let hcp: Value = app
        .get(&app.admin, "/v1/hcps/crm-CRM-50")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hcp["name"], "Dr. Kept");
    assert_eq!(hcp["territory"], "T-1");
    assert_eq!(hcp["restricted_products"], json!(["cardiozen"]));
}

#[tokio::test]
async fn a_visitor_not_yet_identified_holds_a_bounded_number_of_events() {
    let config = ApiConfig {
        segment: Arc::new(SegmentConfig {
            source: "crm".into(),
            hold_per_visitor: 2,
            ..SegmentConfig::default()
        }),
        ..ApiConfig::default()
    };
    let (app, _clock) = spawn_app_at(config, start()).await;
    let pages: Vec<Value> = (0..3)
        .map(|i| json!({"type": "page", "anonymousId": "invented", "messageId": format!("h-{i}")}))
        .collect();
    let (status, body) = post(&app, "/v1/batch", &json!({"batch": pages})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["held"], &body["rejected"]),
        (&json!(2), &json!(1)),
        "{body}"
    );
    assert_eq!(
        body["results"][2]["error"]["field"], "anonymousId",
        "{body}"
    );
}

/// An SDK retries a message it got no answer for (the server was killed before it answered):
/// the same message, with the `sentAt` of the new attempt, received a second later. Its corrected
/// time differs by the network's jitter; what the sender sent does not.
#[tokio::test]
async fn an_sdk_retry_with_a_new_sent_at_is_a_duplicate_and_a_changed_message_a_conflict() {
    let (app, clock) = app_with_clock().await;
    let at = |t: &str| Timestamp::parse("t", t).unwrap().millis();
    let track = |sent_at: &str, content: &str| {
        json!({"userId": "CRM-0", "event": "Email Link Clicked", "messageId": "node-1",
               "timestamp": "2026-11-02T08:59:59.000Z", "sentAt": sent_at,
               "properties": {"content_id": content, "link_url": "https://brand.example/a"},
               "context": {"library": {"name": "@segment/analytics-node", "version": "2.1.0"}},
               "_metadata": {"jsRuntime": "node"}})
    };
    let (status, body) = post(
        &app,
        "/v1/track",
        &track("2026-11-02T09:00:00.000Z", "EM-1"),
    )
    .await;
    assert_eq!((status, &body["accepted"]), (200, &json!(1)), "{body}");
    clock.store(at("2026-11-02T09:00:01.003Z"), Ordering::SeqCst);
    let (status, body) = post(
        &app,
        "/v1/track",
        &track("2026-11-02T09:00:01.000Z", "EM-1"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["duplicates"],
            &body["conflicts"],
            &body["results"][0]["status"]
        ),
        (&json!(1), &json!(0), &json!("duplicate")),
        "{body}"
    );
    let (status, body) = post(
        &app,
        "/v1/track",
        &track("2026-11-02T09:00:01.000Z", "EM-2"),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["field"], "messageId", "{body}");
    let events = timeline(&app, "hcp-0").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["occurred_at"], "2026-11-02T08:59:59.000Z",
        "the first copy's time"
    );
    assert_eq!(events[0]["event"]["content_id"], "EM-1");

    // analytics-node resends the whole batch with a new batch `sentAt`.
    let batch = |sent_at: &str, content: &str| {
        json!({"sentAt": sent_at, "writeKey": app.ingest, "batch": [
            {"type": "track", "userId": "CRM-1", "event": "Email Opened", "messageId": "node-2",
             "timestamp": "2026-11-02T09:00:00.500Z", "properties": {"content_id": "EM-1"}},
            {"type": "page", "userId": "CRM-1", "messageId": "node-3", "name": "Dosing",
             "timestamp": "2026-11-02T09:00:00.600Z", "properties": {"url": content}}
        ]})
    };
    let (status, body) = post(
        &app,
        "/v1/batch",
        &batch("2026-11-02T09:00:01.000Z", "https://brand.example/d"),
    )
    .await;
    assert_eq!((status, &body["accepted"]), (200, &json!(2)), "{body}");
    clock.store(at("2026-11-02T09:00:02.011Z"), Ordering::SeqCst);
    let (status, body) = post(
        &app,
        "/v1/batch",
        &batch("2026-11-02T09:00:02.000Z", "https://brand.example/d"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["duplicates"], &body["conflicts"]),
        (&json!(2), &json!(0)),
        "{body}"
    );
    let (status, body) = post(
        &app,
        "/v1/batch",
        &batch("2026-11-02T09:00:02.000Z", "https://brand.example/e"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["duplicates"], &body["conflicts"]),
        (&json!(1), &json!(1)),
        "{body}"
    );
    assert_eq!(body["results"][1]["error"]["field"], "messageId", "{body}");
    assert_eq!(app.event_count().await, 3);
}

/// An identify must name an HCP OpenCLM knows, or carry what makes one (with a key that may):
/// otherwise it is refused naming `userId`, and the visitor is linked to nobody.
#[tokio::test]
async fn an_identify_of_an_unknown_user_is_refused_naming_user_id_and_links_nobody() {
    let app = app().await;
    let page = |id: &str| json!({"anonymousId": "anon-x", "messageId": id, "name": "Home"});
    let (_, body) = post(&app, "/v1/page", &page("x-1")).await;
    assert_eq!(body["held"], 1, "{body}");

    let (status, body) = post(
        &app,
        "/v1/identify",
        &json!({"userId": "CRM-77", "anonymousId": "anon-x", "messageId": "x-i"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "userId", "{body}");
    // Not linked: the visitor's next page is held still, not refused for an unknown user.
    let (_, body) = post(&app, "/v1/page", &page("x-2")).await;
    assert_eq!(body["held"], 1, "{body}");

    // In a batch, the identify alone is refused; the known user's is accepted.
    let (status, body) = post(
        &app,
        "/v1/batch",
        &json!({"batch": [
            {"type": "identify", "userId": "CRM-77", "messageId": "x-b1"},
            {"type": "identify", "userId": "CRM-2", "messageId": "x-b2"}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["results"][0]["status"],
            &body["results"][0]["error"]["field"],
            &body["results"][1]["status"]
        ),
        (&json!("rejected"), &json!("userId"), &json!("accepted")),
        "{body}"
    );

    // A public write key may not create HCPs, and says so rather than answer `accepted`.
    let (_, key) = openclm::create_key(&app.store, openclm_core::auth::Role::Tracking, "web")
        .await
        .unwrap();
    let r = app
        .client
        .post(format!("{}/v1/identify", app.base))
        .json(
            &json!({"writeKey": key, "userId": "CRM-78", "anonymousId": "anon-x",
                       "traits": {"name": "Dr. New", "specialty": "oncology", "country": "FR"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["field"], "userId", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may not create HCPs"),
        "{body}"
    );
    assert_eq!(
        app.get(&app.admin, "/v1/hcps/crm-CRM-78").await.status(),
        404
    );
    let (_, body) = post(&app, "/v1/page", &page("x-3")).await;
    assert_eq!(body["held"], 1, "{body}");
}
