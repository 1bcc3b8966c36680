//! SendGrid's Event Webhook through the real server: payloads written from SendGrid's public
//! Event Webhook reference, their events on the HCP's timeline and state, consent withdrawn at
//! once, resends, malformed input, and signed requests.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{TestApp, spawn_app_at};
use openclm_core::Timestamp;
use openclm_server::ApiConfig;
use openclm_server::sendgrid::VerificationKey;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::{Value, json};

/// Monday 2 November 2026, 09:00 UTC: the server's clock.
fn start() -> Timestamp {
    Timestamp::parse("t", "2026-11-02T09:00:00Z").unwrap()
}

/// Unix seconds `hours` before the server's clock.
fn hours_before(hours: i64) -> i64 {
    start().millis() / 1000 - hours * 3600
}

fn email_of(i: usize) -> String {
    format!("dr.hcp{i}@praxis-example.de")
}

/// HCPs `hcp-0..n` with addresses [`email_of`], each granted promotional email with evidence ten
/// days ago, and approved email content to decide on.
async fn world(app: &TestApp, n: usize) {
    let mut grants = Vec::new();
    for i in 0..n {
        let r = app
            .put_hcp(
                &format!("hcp-{i}"),
                json!({"name": format!("Dr. Hcp {i}"), "specialty": "cardiology", "country": "DE",
                       "territory": "T-0", "email": email_of(i).to_uppercase()}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        grants.push(
            json!({"event_id": format!("grant-{i}"), "hcp": format!("hcp-{i}"),
            "occurred_at": Timestamp::from_millis(start().millis() - 10 * 86_400_000).to_string(),
            "channel": "email", "type": "consent_changed", "state": "granted",
            "evidence": format!("double opt-in form F-{i}"), "source": "crm"}),
        );
    }
    let r = app
        .post_events(&app.ingest, "application/json", json!(grants).to_string())
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accepted"], n, "{body}");
    let content = json!({"title": "Outcomes mailing", "kind": "email_template", "product": "cardiozan",
        "topics": ["efficacy"], "status": "approved", "approval_code": "CZ-1",
        "approved_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"});
    let r = app
        .call(&app.ingest, "PUT", "/v1/content/EM-7", Some(content))
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// One notification as SendGrid sends it, with the custom arguments a delivery system sets.
fn notification(kind: &str, hcp: usize, id: &str, hours_ago: i64, extra: Value) -> Value {
    let mut n = json!({
        "email": email_of(hcp), "timestamp": hours_before(hours_ago), "event": kind,
        "sg_event_id": id, "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "category": ["cardiology", "wave-1"],
        "decision_id": "dec-42", "content_id": "EM-7", "campaign_id": "camp-7"
    });
    if let (Value::Object(n), Value::Object(extra)) = (&mut n, extra) {
        n.extend(extra);
    }
    n
}

/// Every kind SendGrid documents.
fn every_kind() -> Vec<Value> {
    vec![
        notification("processed", 0, "sg-proc-0", 30, json!({"send_at": 0})),
        notification(
            "delivered",
            0,
            "sg-deliv-0",
            29,
            json!({"response": "250 OK", "tls": 1}),
        ),
        notification(
            "open",
            0,
            "sg-open-human",
            26,
            json!({"useragent": "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5)",
                   "ip": "203.0.113.7", "sg_machine_open": false}),
        ),
        notification(
            "open",
            0,
            "sg-open-apple",
            25,
            json!({"useragent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
                   "ip": "198.51.100.23", "sg_machine_open": true}),
        ),
        notification(
            "click",
            0,
            "sg-click-0",
            24,
            json!({"useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "ip": "203.0.113.7",
                   "url": "https://cardiozan.example.org/outcomes?utm_source=sendgrid", "url_offset": {"index": 0, "type": "html"}}),
        ),
        notification(
            "deferred",
            1,
            "sg-defer-1",
            30,
            json!({"response": "400 try again later", "attempt": "5"}),
        ),
        notification(
            "bounce",
            1,
            "sg-bounce-1",
            29,
            json!({"reason": "500 unknown recipient", "status": "5.0.0", "type": "bounce",
                   "bounce_classification": "Invalid Address"}),
        ),
        notification(
            "dropped",
            1,
            "sg-drop-1",
            28,
            json!({"reason": "Bounced Address", "status": "5.0.0"}),
        ),
        notification("unsubscribe", 2, "sg-unsub-2", 20, json!({})),
        notification("spamreport", 3, "sg-spam-3", 20, json!({})),
        notification(
            "group_unsubscribe",
            4,
            "sg-gunsub-4",
            20,
            json!({"asm_group_id": 10, "useragent": "Mozilla/4.0", "ip": "203.0.113.9"}),
        ),
        // A send made outside OpenCLM's delivery queue: no decision named.
        json!({"email": email_of(5), "timestamp": hours_before(40), "event": "processed",
               "sg_event_id": "sg-proc-5", "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B89.0",
               "smtp-id": "<14c5d75ce94.dfd.64b469@ismtpd-555>", "category": "newsletter"}),
    ]
}

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/webhooks/sendgrid", app.base))
        .bearer_auth(&app.ingest)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn post_ok(app: &TestApp, body: &Value) -> Value {
    let r = post(app, body).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The channels `/v1/decide` may use for each HCP, by HCP, and why email is blocked if it is.
async fn email_decisions(app: &TestApp, hcps: &[&str]) -> Vec<(Value, Option<String>)> {
    let decided: Value = app
        .call(
            &app.admin,
            "POST",
            "/v1/decide",
            Some(json!({"hcps": hcps, "channels": ["email"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    decided["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("{decided}"))
        .iter()
        .map(|d| {
            let blocked = d["blocked"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["channel"] == "email")
                .map(|b| b["code"].as_str().unwrap().to_owned());
            (d["chosen"]["channel"].clone(), blocked)
        })
        .collect()
}

#[tokio::test]
async fn every_notification_kind_lands_as_its_email_event_with_the_decision() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    world(&app, 6).await;
    let batch = json!(every_kind());
    let body = post_ok(&app, &batch).await;
    assert_eq!(
        (
            &body["accepted"],
            &body["duplicates"],
            &body["rejected"],
            &body["ignored"]
        ),
        (&json!(10), &json!(0), &json!(0), &json!(2)),
        "{body}"
    );
    // The queue recorded the send of its own delivery; SendGrid's `processed` for it is not a
    // second send. One made outside the queue is.
    let processed = &body["results"][0];
    assert_eq!(processed["status"], "ignored", "{processed}");
    assert!(
        processed["reason"]
            .as_str()
            .unwrap()
            .contains("delivery queue"),
        "{processed}"
    );
    let outside: Value = app
        .get(&app.read, "/v1/hcps/hcp-5/timeline")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outside["items"][0]["type"], "sent", "{outside}");
    let deferred = &body["results"][5];
    assert_eq!(deferred["status"], "ignored");
    assert_eq!(deferred["event_id"], "sendgrid:sg-defer-1");
    assert!(
        deferred["reason"].as_str().unwrap().contains("temporary"),
        "{deferred}"
    );

    let timeline: Value = app
        .get(&app.read, "/v1/hcps/hcp-0/timeline")
        .await
        .json()
        .await
        .unwrap();
    let items = timeline["items"].as_array().unwrap();
    let types: Vec<&str> = items.iter().map(|e| e["type"].as_str().unwrap()).collect();
    // Newest first; the consent grant of the set-up is the oldest.
    assert_eq!(
        types,
        [
            "clicked",
            "opened",
            "opened",
            "delivered",
            "consent_changed"
        ]
    );
    for item in &items[..4] {
        assert_eq!(item["source"], "sendgrid");
        assert_eq!(item["channel"], "email");
        assert_eq!(item["event"]["decision_id"], "dec-42", "{item}");
        assert_eq!(item["event"]["content_id"], "EM-7");
        // The address resolved the HCP and is not kept.
        assert!(
            !item["event"].to_string().contains("praxis-example"),
            "{item}"
        );
    }
    assert_eq!(items[0]["event_id"], "sendgrid:sg-click-0");
    assert_eq!(
        items[0]["event"]["url"],
        "https://cardiozan.example.org/outcomes?utm_source=sendgrid"
    );
    assert_eq!(items[0]["occurred_at"], "2026-11-01T09:00:00.000Z");
    let bounced: Value = app
        .get(&app.read, "/v1/hcps/hcp-1/timeline?type=bounced")
        .await
        .json()
        .await
        .unwrap();
    let reasons: Vec<&Value> = bounced["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["event"]["sendgrid"]["reason"])
        .collect();
    assert_eq!(
        reasons,
        [&json!("Bounced Address"), &json!("500 unknown recipient")]
    );

    // The Apple proxy's open is a machine's: recorded, not engagement; Outlook's counts.
    let state: Value = app
        .get(&app.read, "/v1/hcps/hcp-0/state")
        .await
        .json()
        .await
        .unwrap();
    let email = &state["state"]["channels"]["email"];
    assert_eq!(
        (
            &email["machine_opens"],
            &email["human_opens"],
            &email["clicks"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{state}"
    );

    // The same batch again changes nothing.
    let again = post_ok(&app, &batch).await;
    assert_eq!(
        (&again["accepted"], &again["duplicates"], &again["ignored"]),
        (&json!(0), &json!(10), &json!(2)),
        "{again}"
    );
    let after: Value = app
        .get(&app.read, "/v1/hcps/hcp-0/timeline")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["items"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn unsubscribe_spam_report_and_group_unsubscribe_stop_email_at_once() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    world(&app, 6).await;
    let hcps = ["hcp-2", "hcp-3", "hcp-4", "hcp-5"];
    post_ok(&app, &json!(every_kind())).await;
    let after = email_decisions(&app, &hcps).await;
    for (i, (chosen, blocked)) in after[..3].iter().enumerate() {
        assert!(chosen.is_null(), "{} still emailed", hcps[i]);
        assert_eq!(blocked.as_deref(), Some("consent_withdrawn"), "{}", hcps[i]);
    }
    // The HCP who did nothing still gets email.
    assert_eq!(after[3], (json!("email"), None));
    let consent: Value = app
        .get(&app.read, "/v1/hcps/hcp-4/consent")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consent["current"][0]["state"], "withdrawn", "{consent}");

    // A re-subscription to one SendGrid unsubscribe group is not consent to promotional email:
    // acknowledged, stored as nothing, and email stays blocked.
    let resubscribe = notification(
        "group_resubscribe",
        4,
        "sg-gresub-4",
        2,
        json!({"asm_group_id": 10}),
    );
    let body = post_ok(&app, &json!([resubscribe])).await;
    assert_eq!(
        (&body["accepted"], &body["ignored"]),
        (&json!(0), &json!(1)),
        "{body}"
    );
    assert_eq!(
        email_decisions(&app, &["hcp-4"]).await,
        [(Value::Null, Some("consent_withdrawn".to_owned()))]
    );

    // An unsubscribe from an address two HCPs share stops email to both.
    let r = app
        .put_hcp(
            "hcp-twin",
            json!({"name": "Dr. Twin", "specialty": "cardiology", "country": "DE", "territory": "T-0",
                   "email": email_of(5)}),
        )
        .await;
    assert!(r.status().is_success());
    let grant = json!({"event_id": "grant-twin", "hcp": "hcp-twin", "source": "crm",
        "occurred_at": Timestamp::from_millis(start().millis() - 10 * 86_400_000).to_string(),
        "channel": "email", "type": "consent_changed", "state": "granted", "evidence": "form F-twin"});
    app.post_events(&app.ingest, "application/json", json!([grant]).to_string())
        .await;
    let shared = notification("unsubscribe", 5, "sg-unsub-shared", 1, json!({}));
    let body = post_ok(&app, &json!([shared])).await;
    assert_eq!(body["accepted"], 1, "{body}");
    for (chosen, blocked) in email_decisions(&app, &["hcp-5", "hcp-twin"]).await {
        assert!(chosen.is_null());
        assert_eq!(blocked.as_deref(), Some("consent_withdrawn"));
    }
    let again = post_ok(&app, &json!([shared])).await;
    assert_eq!(again["duplicates"], 1, "{again}");
}

#[tokio::test]
async fn malformed_bodies_and_notifications_are_refused_naming_why() {
    let (app, _clock) = spawn_app_at(
        ApiConfig {
            max_batch_bytes: 8192,
            max_batch_events: 20,
            ..ApiConfig::default()
        },
        start(),
    )
    .await;
    world(&app, 2).await;
    // A second HCP with hcp-1's address: the address names neither for certain.
    let r = app
        .put_hcp(
            "hcp-twin",
            json!({"name": "Dr. Twin", "specialty": "gp", "country": "DE", "email": email_of(1)}),
        )
        .await;
    assert!(r.status().is_success());

    let send = |body: String| {
        app.client
            .post(format!("{}/v1/webhooks/sendgrid", app.base))
            .bearer_auth(&app.ingest)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (body, says) in [
        ("{\"event\": \"open\"".to_owned(), "not JSON"),
        (
            json!({"event": "open"}).to_string(),
            "must be a JSON array of SendGrid events, not an object",
        ),
    ] {
        let r = send(body).await.unwrap();
        assert_eq!(r.status(), 400);
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"]["message"].as_str().unwrap().contains(says),
            "{e}"
        );
    }
    let mut no_id = notification("delivered", 0, "x", 3, json!({}));
    no_id.as_object_mut().unwrap().remove("sg_event_id");
    let batch = json!([
        notification("delivered", 0, "sg-good", 3, json!({})),
        "delivered",
        notification(
            "delivered",
            0,
            "sg-time",
            3,
            json!({"timestamp": "2026-11-02"})
        ),
        no_id,
        notification("bounced_twice", 0, "sg-kind", 3, json!({})),
        notification(
            "open",
            0,
            "sg-who",
            3,
            json!({"email": "nobody@elsewhere.example"})
        ),
        notification("open", 1, "sg-twin", 3, json!({})),
        notification("click", 0, "sg-dec", 3, json!({"decision_id": ""})),
    ]);
    let body = post_ok(&app, &batch).await;
    assert_eq!(
        (&body["accepted"], &body["rejected"]),
        (&json!(1), &json!(7)),
        "{body}"
    );
    let fates: Vec<(String, String, String)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["event_id"].as_str().unwrap_or("-").to_owned(),
                r["status"].as_str().unwrap().to_owned(),
                r["error"]["field"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let fate =
        |id: &str, status: &str, field: &str| (id.to_owned(), status.to_owned(), field.to_owned());
    assert_eq!(
        fates,
        [
            fate("sendgrid:sg-good", "accepted", "-"),
            fate("-", "rejected", "event"),
            fate("sendgrid:sg-time", "rejected", "timestamp"),
            fate("-", "rejected", "sg_event_id"),
            fate("sendgrid:sg-kind", "rejected", "event"),
            fate("sendgrid:sg-who", "rejected", "email"),
            fate("sendgrid:sg-twin", "rejected", "email"),
            fate("sendgrid:sg-dec", "rejected", "decision_id"),
        ]
    );
    assert!(
        body["results"][6]["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("2 HCPs"),
        "{body}"
    );
    assert!(
        body["results"][4]["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("bounced_twice")
    );
    // Too big a body, or too many notifications: refused, naming the limit, nothing stored.
    let big: Vec<Value> = (0..60)
        .map(|i| notification("delivered", 0, &format!("sg-big-{i}"), 3, json!({})))
        .collect();
    let r = send(json!(big).to_string()).await.unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("8192 bytes"),
        "{e}"
    );
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"sg_event_id": format!("m{i}")}))
        .collect();
    let r = send(json!(many).to_string()).await.unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit of 20"),
        "{e}"
    );
    let timeline: Value = app
        .get(
            &app.read,
            "/v1/hcps/hcp-0/timeline?channel=email&type=delivered",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(timeline["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_ingest_key_is_accepted_as_the_basic_user_name() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    world(&app, 1).await;
    let batch = json!([notification("delivered", 0, "sg-basic", 3, json!({}))]).to_string();
    let with = |user: &str, password: Option<&str>| {
        app.client
            .post(format!("{}/v1/webhooks/sendgrid", app.base))
            .basic_auth(user, password)
            .body(batch.clone())
            .send()
    };
    let r = with(&app.ingest, Some("")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 1);
    let r = with(&app.ingest, None).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["duplicates"], 1);
    // An analyst's key may not ingest; a password is not where the key goes; no key at all.
    assert_eq!(with(&app.read, Some("")).await.unwrap().status(), 403);
    assert_eq!(with(&app.ingest, Some("x")).await.unwrap().status(), 401);
    assert_eq!(with("oclm_nonsense", Some("")).await.unwrap().status(), 401);
    let r = app
        .client
        .post(format!("{}/v1/webhooks/sendgrid", app.base))
        .body(batch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn with_a_verification_key_only_signed_requests_are_accepted() {
    let signing = SigningKey::from_slice(&[0x5a; 32]).unwrap();
    let der = p256::PublicKey::from(signing.verifying_key())
        .to_public_key_der()
        .unwrap();
    let key = VerificationKey::from_base64(&BASE64.encode(der.as_bytes())).unwrap();
    let (app, _clock) = spawn_app_at(
        ApiConfig {
            sendgrid_key: Some(key),
            ..ApiConfig::default()
        },
        start(),
    )
    .await;
    world(&app, 1).await;
    let body = json!([notification(
        "open",
        0,
        "sg-signed",
        3,
        json!({"useragent": "Outlook"})
    )])
    .to_string();
    let timestamp = hours_before(0).to_string();
    let sign = |timestamp: &str, body: &str| {
        let signature: Signature = signing.sign(format!("{timestamp}{body}").as_bytes());
        BASE64.encode(signature.to_der().as_bytes())
    };
    let send = |signature: Option<String>, timestamp: &str, body: &str| {
        let mut request = app
            .client
            .post(format!("{}/v1/webhooks/sendgrid", app.base))
            .header("content-type", "application/json")
            .header("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Email-Event-Webhook-Signature", signature);
        }
        request.send()
    };
    let good = sign(&timestamp, &body);
    // Tampered body, another timestamp, no signature (even with an API key): 403, nothing stored.
    let tampered = body.replace("Outlook", "Outlook 2");
    for r in [
        send(Some(good.clone()), &timestamp, &tampered)
            .await
            .unwrap(),
        send(Some(good.clone()), "1700000000", &body).await.unwrap(),
        send(None, &timestamp, &body).await.unwrap(),
        send(Some("bm90IGEgc2lnbmF0dXJl".into()), &timestamp, &body)
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 403);
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("signature is missing or does not verify"),
            "{e}"
        );
    }
    let r = app
        .client
        .post(format!("{}/v1/webhooks/sendgrid", app.base))
        .bearer_auth(&app.ingest)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.event_count().await, 1, "only the consent grant");
    // Signed as SendGrid signs: accepted without an API key.
    let r = send(Some(good), &timestamp, &body).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 1);
}
