//! Black-box tests of the HTTP API: what a client sends and what it sees.

mod common;

use common::{event, spawn_app, spawn_app_with};
use openclm_server::ApiConfig;
use openclm_store::UnknownHcpPolicy;
use openclm_store::prelude::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_mixed_batch_reports_every_outcome_and_a_resend_changes_nothing() {
    let app = spawn_app().await;
    app.seed_hcps(2).await;
    let first = app
        .post_events(
            &app.ingest,
            "application/json",
            json!([event("pre-1", 0, 1)]).to_string(),
        )
        .await;
    assert_eq!(first.status(), 200);

    let mut changed = event("pre-1", 0, 1);
    changed["type"] = json!("clicked");
    let mut bad_time = event("bad-time", 0, 2);
    bad_time["occurred_at"] = json!("yesterday");
    let mut bad_channel = event("bad-channel", 0, 3);
    bad_channel["channel"] = json!("carrier_pigeon");
    let mut missing = event("missing", 1, 4);
    missing.as_object_mut().unwrap().remove("type");
    let mut with_unknown_field = event("new-2", 1, 6);
    with_unknown_field["utm_source"] = json!("newsletter");
    let batch = json!([
        event("new-1", 0, 5),  // 0 accepted
        event("pre-1", 0, 1),  // 1 duplicate of the stored event
        changed,               // 2 conflict
        bad_time,              // 3 rejected: occurred_at
        bad_channel,           // 4 rejected: channel
        event("ghost", 99, 7), // 5 rejected: unknown HCP
        missing,               // 6 rejected: type missing
        with_unknown_field,    // 7 accepted, unknown field kept
        event("new-1", 0, 5),  // 8 duplicate within the batch
    ]);
    let response = app
        .post_events(&app.ingest, "application/json", batch.to_string())
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["duplicates"], 2);
    assert_eq!(body["conflicts"], 1);
    assert_eq!(body["rejected"], 4);
    let results = body["results"].as_array().unwrap();
    let status: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        [
            "accepted",
            "duplicate",
            "conflict",
            "rejected",
            "rejected",
            "rejected",
            "rejected",
            "accepted",
            "duplicate"
        ]
    );
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(results[2]["error"]["field"], "event_id");
    assert_eq!(results[3]["error"]["field"], "occurred_at");
    assert_eq!(results[4]["error"]["field"], "channel");
    assert!(
        results[4]["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("carrier_pigeon")
    );
    assert_eq!(results[5]["error"]["field"], "hcp");
    assert_eq!(
        results[6]["error"],
        json!({"field": "type", "reason": "is required"})
    );
    assert_eq!(results[3]["event_id"], "bad-time");
    assert!(results[0].get("error").is_none());
    assert_eq!(app.event_count().await, 3);

    // The whole batch again: nothing new is stored, and what was stored reads as duplicate.
    let again: Value = app
        .post_events(&app.ingest, "application/json", batch.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(4))
    );
    assert_eq!(
        (again["conflicts"].as_u64(), again["rejected"].as_u64()),
        (Some(1), Some(4))
    );
    assert_eq!(app.event_count().await, 3);

    let timeline: Value = app
        .get(&app.read, "/v1/hcps/hcp-1/timeline")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(timeline["items"][0]["event_id"], "new-2");
    assert_eq!(timeline["items"][0]["event"]["utm_source"], "newsletter");
    assert_eq!(timeline["items"][0]["hcp_id"], "hcp-1");
}

#[tokio::test]
async fn ndjson_and_single_objects_are_accepted() {
    let app = spawn_app().await;
    app.seed_hcps(1).await;
    let ndjson = format!("{}\n\n{}\n{{oops\n", event("n1", 0, 1), event("n2", 0, 2));
    let body: Value = app
        .post_events(&app.ingest, "application/x-ndjson", ndjson)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(body["results"][2]["error"]["field"], "event");
    let single: Value = app
        .post_events(
            &app.ingest,
            "application/json",
            event("n3", 0, 3).to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(single["accepted"], 1);
    let r = app.post_events(&app.ingest, "text/csv", "a,b").await;
    assert_eq!(r.status(), 415);
    let r = app
        .post_events(&app.ingest, "application/json", "{not json")
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
}

#[tokio::test]
async fn keys_are_required_and_roles_are_enforced() {
    let app = spawn_app().await;
    app.seed_hcps(1).await;
    let body = event("k1", 0, 1).to_string();
    let no_key = app
        .client
        .post(format!("{}/v1/events", app.base))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 401);
    assert_eq!(no_key.headers()["www-authenticate"], "Bearer");
    let last = if app.admin.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &app.admin[..app.admin.len() - 1]);
    assert_eq!(
        app.post_events(&forged, "application/json", body.clone())
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_events("garbage", "application/json", body.clone())
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_events(&app.read, "application/json", body.clone())
            .await
            .status(),
        403
    );
    assert_eq!(app.get(&app.ingest, "/v1/hcps/hcp-0").await.status(), 403);
    assert_eq!(app.get(&app.read, "/v1/hcps/hcp-0").await.status(), 200);
    // The scheme is case-insensitive.
    let lower = app
        .client
        .get(format!("{}/v1/hcps/hcp-0", app.base))
        .header("authorization", format!("bearer {}", app.read))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200);
    let r = app
        .client
        .put(format!("{}/v1/hcps/x", app.base))
        .bearer_auth(&app.read)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Revocation takes effect at once.
    let key_id = openclm_core::auth::key_id_of(&app.read).unwrap().to_owned();
    use openclm_store::prelude::*;
    assert!(
        app.store
            .revoke_api_key(
                key_id,
                openclm_core::audit::NewAudit::new("test", "revoke", "key"),
                openclm::now()
            )
            .await
            .unwrap()
    );
    assert_eq!(app.get(&app.read, "/v1/hcps/hcp-0").await.status(), 401);
    // Health needs no key.
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn batches_over_the_limits_get_413_and_store_nothing() {
    let app = spawn_app_with(ApiConfig {
        max_batch_events: 3,
        max_batch_bytes: 4096,
        ..ApiConfig::default()
    })
    .await;
    app.seed_hcps(1).await;
    let four = json!([
        event("a", 0, 1),
        event("b", 0, 2),
        event("c", 0, 3),
        event("d", 0, 4)
    ])
    .to_string();
    let r = app.post_events(&app.ingest, "application/json", four).await;
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{e}"
    );
    let big = json!([{"event_id": "x", "padding": "p".repeat(5000)}]).to_string();
    let r = app.post_events(&app.ingest, "application/json", big).await;
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4096 bytes"),
        "{e}"
    );
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn unknown_hcps_become_stubs_when_configured() {
    let app = spawn_app_with(ApiConfig {
        unknown_hcp: UnknownHcpPolicy::CreateStub,
        ..ApiConfig::default()
    })
    .await;
    let mut e = event("s1", 0, 1);
    e["hcp"] = json!("new-hcp-7");
    let body: Value = app
        .post_events(&app.ingest, "application/json", e.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["accepted"], 1);
    assert_eq!(app.get(&app.read, "/v1/hcps/new-hcp-7").await.status(), 404);
    let r = app
        .put_hcp(
            "new-hcp-7",
            json!({"name": "Dr. Late", "specialty": "gp", "country": "FR"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = app
        .get(&app.read, "/v1/hcps/new-hcp-7/timeline")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["items"][0]["event_id"], "s1");
}

#[tokio::test]
async fn hcps_are_written_read_filtered_and_paginated() {
    let app = spawn_app().await;
    let r = app
        .put_hcp(
            "hcp-x",
            json!({"name": "Dr. X", "specialty": "Cardiology", "country": "de", "segments": ["kol"],
                                "email": "X@Example.org", "territory": "T-9"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .put_hcp(
            "hcp-x",
            json!({"name": "Dr. X", "specialty": "cardiology", "country": "DE"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .put_hcp(
            "hcp-y",
            json!({"name": "Dr. Y", "specialty": "gp", "country": "Deutschland"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "country");
    let r = app
        .put_hcp(
            "hcp-y",
            json!({"name": "Dr. Y", "specialty": "gp", "country": "DE", "shoe_size": 9}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "shoe_size");
    assert_eq!(app.get(&app.read, "/v1/hcps/nobody").await.status(), 404);

    app.seed_hcps(10).await;
    let mut ids = Vec::new();
    let mut path = "/v1/hcps?territory=T-1&specialty=oncology&limit=2".to_owned();
    loop {
        let page: Value = app.get(&app.read, &path).await.json().await.unwrap();
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => {
                path = format!("/v1/hcps?territory=T-1&specialty=oncology&limit=2&cursor={c}")
            }
            None => break,
        }
    }
    // T-1 holds hcp-1, hcp-4, hcp-7; oncology is the odd ones.
    assert_eq!(ids, ["hcp-1", "hcp-7"]);
    let r = app.get(&app.read, "/v1/hcps?limit=0").await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "limit");
}

#[tokio::test]
async fn the_timeline_pages_newest_first_and_filters() {
    let app = spawn_app().await;
    app.seed_hcps(2).await;
    let mut events: Vec<Value> = (0..7).map(|i| event(&format!("t{i}"), 0, i)).collect();
    events[3]["channel"] = json!("web");
    events[3]["type"] = json!("content_viewed");
    events.push(event("other", 1, 100));
    app.post_events(
        &app.ingest,
        "application/json",
        Value::Array(events).to_string(),
    )
    .await;

    let mut seen = Vec::new();
    let mut path = "/v1/hcps/hcp-0/timeline?limit=3".to_owned();
    loop {
        let page: Value = app.get(&app.read, &path).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/hcps/hcp-0/timeline?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["t6", "t5", "t4", "t3", "t2", "t1", "t0"]);
    let web: Value = app
        .get(&app.read, "/v1/hcps/hcp-0/timeline?channel=web")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(web["items"].as_array().unwrap().len(), 1);
    assert_eq!(web["items"][0]["type"], "content_viewed");
    let r = app
        .get(&app.read, "/v1/hcps/hcp-0/timeline?type=teleportation")
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .get(&app.read, "/v1/hcps/hcp-0/timeline?cursor=zzz")
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        app.get(&app.read, "/v1/hcps/ghost/timeline").await.status(),
        404
    );
}

#[tokio::test]
async fn consent_history_comes_from_events() {
    let app = spawn_app().await;
    app.seed_hcps(1).await;
    let mut granted = event("c1", 0, 1);
    granted["type"] = json!("consent_changed");
    granted["state"] = json!("granted");
    let mut unsub = event("c2", 0, 2);
    unsub["type"] = json!("unsubscribed");
    app.post_events(
        &app.ingest,
        "application/json",
        json!([granted, unsub]).to_string(),
    )
    .await;
    let consent: Value = app
        .get(&app.read, "/v1/hcps/hcp-0/consent")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consent["history"].as_array().unwrap().len(), 2);
    assert_eq!(consent["current"][0]["channel"], "email");
    assert_eq!(consent["current"][0]["state"], "withdrawn");
}

#[tokio::test]
async fn the_learned_state_counts_people_not_scanners() {
    let app = spawn_app().await;
    app.seed_hcps(1).await;
    let with = |id: &str, minute: i64, seconds: i64, kind: &str, extra: Value| {
        let mut e = event(id, 0, minute);
        let at = 1_790_000_000_000 + minute * 60_000 + seconds * 1000;
        e["occurred_at"] = json!(openclm_core::Timestamp::from_millis(at).to_string());
        e["type"] = json!(kind);
        e["content_id"] = json!("CZ-EM-1");
        if let (Some(obj), Some(more)) = (e.as_object_mut(), extra.as_object()) {
            obj.extend(more.clone());
        }
        e
    };
    let batch = json!([
        with("d", 0, 0, "delivered", json!({})),
        with("scan", 0, 1, "opened", json!({})),
        with(
            "proxy",
            30,
            0,
            "opened",
            json!({"user_agent": "Mozilla/5.0 GoogleImageProxy"})
        ),
        with(
            "person",
            60,
            0,
            "opened",
            json!({"user_agent": "Outlook/16.0"})
        ),
    ]);
    app.post_events(&app.ingest, "application/json", batch.to_string())
        .await;
    let body: Value = app
        .get(&app.read, "/v1/hcps/hcp-0/state")
        .await
        .json()
        .await
        .unwrap();
    let email = &body["state"]["channels"]["email"];
    assert_eq!(body["state"]["events"], 4, "{body}");
    assert_eq!(email["touches"], 1);
    assert_eq!(email["machine_opens"], 2);
    assert_eq!(email["human_opens"], 1);
    // A person's open is engagement, never a response (as for rewards).
    assert_eq!(email["responses"], 0);
    assert_eq!(email["response_rate"], 0.0);
    assert!(email["engagement"].as_f64().unwrap() > 0.0);
    let missing = app.get(&app.read, "/v1/hcps/nobody/state").await;
    assert_eq!(missing.status(), 404);
}

/// One email a person opened and clicked drew one response: `response_rate` is responses per
/// touch by the one definition of a response, never 2.0 for an open and a click.
#[tokio::test]
async fn an_open_and_a_click_of_one_email_are_one_response_per_touch_in_the_state() {
    let app = spawn_app().await;
    app.seed_hcps(1).await;
    let with = |id: &str, minute: i64, kind: &str, extra: Value| {
        let mut e = event(id, 0, minute);
        e["type"] = json!(kind);
        e["content_id"] = json!("CZ-EM-1");
        if let (Some(obj), Some(more)) = (e.as_object_mut(), extra.as_object()) {
            obj.extend(more.clone());
        }
        e
    };
    let batch = json!([
        with("d", 0, "delivered", json!({})),
        with("o", 60, "opened", json!({"user_agent": "Outlook/16.0"})),
        with(
            "c",
            61,
            "clicked",
            json!({"url": "https://brand.example/a"})
        ),
    ]);
    let r = app
        .post_events(&app.ingest, "application/json", batch.to_string())
        .await;
    assert!(r.status().is_success());
    let body: Value = app
        .get(&app.read, "/v1/hcps/hcp-0/state")
        .await
        .json()
        .await
        .unwrap();
    let email = &body["state"]["channels"]["email"];
    assert_eq!(
        (&email["touches"], &email["human_opens"], &email["clicks"]),
        (&json!(1), &json!(1), &json!(1)),
        "{body}"
    );
    assert_eq!(email["responses"], 1, "{body}");
    assert_eq!(email["response_rate"], 1.0, "{body}");
}

#[tokio::test]
async fn content_is_registered_and_listed_by_status() {
    let app = spawn_app().await;
    let approved = json!({"title": "Outcomes", "kind": "email_template", "product": "cardiozan", "topics": ["efficacy"],
        "countries": ["DE"], "status": "approved", "approval_code": "CZ-1", "approved_at": "2026-01-01T00:00:00Z",
        "expires_at": "2099-01-01T00:00:00Z"});
    let r = app
        .client
        .put(format!("{}/v1/content/CZ-EM-1", app.base))
        .bearer_auth(&app.ingest)
        .json(&approved)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let batch = json!([
        {"id": "CZ-OLD", "title": "Old", "kind": "banner", "product": "cardiozan", "status": "approved",
         "approval_code": "CZ-0", "approved_at": "2025-01-01T00:00:00Z", "expires_at": "2025-06-01T00:00:00Z"},
        {"id": "CZ-WIP", "title": "Draft", "kind": "video", "product": "cardiozan"}
    ]);
    let r = app
        .client
        .post(format!("{}/v1/content", app.base))
        .bearer_auth(&app.ingest)
        .json(&batch)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["created"], 2);
    let no_code = json!({"title": "X", "kind": "banner", "product": "p", "status": "approved"});
    let r = app
        .client
        .put(format!("{}/v1/content/X", app.base))
        .bearer_auth(&app.ingest)
        .json(&no_code)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "approval_code");

    let ids = |v: Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(app
            .get(&app.read, "/v1/content?status=approved")
            .await
            .json()
            .await
            .unwrap()),
        ["CZ-EM-1"]
    );
    assert_eq!(
        ids(app
            .get(&app.read, "/v1/content?status=expired")
            .await
            .json()
            .await
            .unwrap()),
        ["CZ-OLD"]
    );
    assert_eq!(
        ids(app
            .get(&app.read, "/v1/content")
            .await
            .json()
            .await
            .unwrap())
        .len(),
        3
    );
    assert_eq!(
        app.get(&app.read, "/v1/content?status=lost").await.status(),
        422
    );
    let one: Value = app
        .get(&app.read, "/v1/content/CZ-OLD")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["status"], "expired");
}

#[tokio::test]
async fn decisions_rank_allowed_actions_log_them_and_never_offer_withdrawn_content() {
    let app = spawn_app().await;
    app.seed_hcps(2).await;
    let item = |kind: &str, topic: &str, status: &str| {
        json!({"title": "Item", "kind": kind, "product": "cardiozan", "topics": [topic],
            "status": status, "approval_code": "CZ-1", "approved_at": "2026-01-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z"})
    };
    for (id, body) in [
        ("CZ-EM-1", item("email_template", "efficacy", "approved")),
        ("CZ-DECK", item("slide_deck", "efficacy", "approved")),
        ("CZ-EM-OLD", item("email_template", "safety", "approved")),
    ] {
        let r = app
            .client
            .put(format!("{}/v1/content/{id}", app.base))
            .bearer_auth(&app.ingest)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    app.withdraw("CZ-EM-OLD").await;
    // hcp-0 opted in to email; hcp-1 did not.
    let mut consent = event("consent", 0, 1);
    consent["type"] = json!("consent_changed");
    consent["state"] = json!("granted");
    app.post_events(
        &app.ingest,
        "application/json",
        json!([consent]).to_string(),
    )
    .await;
    let decide = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(format!("{}/v1/decide", app.base))
                .bearer_auth(&app.admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let body = decide(json!({"hcps": ["hcp-0", "hcp-1", "nobody"], "n": 5})).await;
    let decisions = body["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 3);

    let first = &decisions[0];
    let actions = first["actions"].as_array().unwrap();
    let offered: Vec<(&str, &str)> = actions
        .iter()
        .map(|a| {
            (
                a["content_id"].as_str().unwrap(),
                a["channel"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(offered.len(), 3, "{offered:?}");
    assert!(offered.contains(&("CZ-EM-1", "email")));
    assert!(!offered.iter().any(|(c, _)| *c == "CZ-EM-OLD"));
    let total: f64 = actions
        .iter()
        .map(|a| a["propensity"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    for a in actions {
        assert!(!a["explanation"].as_str().unwrap().is_empty());
    }
    // Withdrawn content is no candidate at all: neither offered nor listed as blocked.
    assert!(
        !first.to_string().contains("CZ-EM-OLD"),
        "withdrawn content among the candidates: {first}"
    );
    // The decision is logged with the chosen action's propensity.
    let id = first["decision_id"].as_str().unwrap().to_owned();
    let logged = app.store.get_decision(id).await.unwrap().unwrap();
    let chosen = &first["chosen"];
    assert_eq!(
        logged.chosen_content.as_deref(),
        chosen["content_id"].as_str()
    );
    let chosen_propensity = actions
        .iter()
        .find(|a| a["content_id"] == chosen["content_id"] && a["channel"] == chosen["channel"])
        .unwrap()["propensity"]
        .as_f64();
    assert_eq!(logged.propensity, chosen_propensity);
    // The log keeps every allowed candidate with its propensity, for off-policy evaluation.
    let candidates = logged.body["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 3);
    let logged_total: f64 = candidates
        .iter()
        .map(|c| c["propensity"].as_f64().unwrap())
        .sum();
    assert!((logged_total - 1.0).abs() < 1e-9, "{logged_total}");
    assert!(
        first.get("candidates").is_none(),
        "the answer shows the ranked actions only"
    );

    // The loop closes: the chosen action is delivered and clicked; the decision is credited once
    // and the next decision sees a model that learned from it.
    let decision_id = first["decision_id"].as_str().unwrap();
    let outcome = |id: &str, kind: &str| {
        json!({"event_id": id, "occurred_at": first["made_at"], "hcp": "CRM-0",
            "source": "crm", "channel": chosen["channel"], "type": kind,
            "content_id": chosen["content_id"], "decision_id": decision_id})
    };
    let kind = if chosen["channel"] == "email" {
        "delivered"
    } else {
        "call_logged"
    };
    let mut delivered = outcome("out-1", kind);
    delivered["rep_id"] = json!("rep-1");
    let reply = if chosen["channel"] == "email" {
        "clicked"
    } else {
        "meeting_attended"
    };
    app.post_events(
        &app.ingest,
        "application/json",
        json!([delivered, outcome("out-2", reply), outcome("out-3", reply)]).to_string(),
    )
    .await;
    let credited = app
        .store
        .get_decision(decision_id.to_owned())
        .await
        .unwrap()
        .unwrap();
    assert!(credited.delivered_at.is_some() && credited.rewarded_at.is_some());
    let learned = app
        .store
        .model_nodes(credited.nodes.unwrap().to_vec())
        .await
        .unwrap();
    assert_eq!(learned.len(), 3);
    for (_, counts) in &learned {
        assert_eq!((counts.trials, counts.successes), (1.0, 1.0));
    }
    let again = decide(json!({"hcp": "hcp-0", "n": 5})).await;
    assert_ne!(
        again["decisions"][0]["model_version"],
        first["model_version"]
    );

    // Without an email opt-in, email is blocked for hcp-1, naming the reason.
    let second = &decisions[1];
    assert!(
        second["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["content_id"] == "CZ-EM-1" && b["code"] == "consent_missing")
    );
    assert_eq!(decisions[2]["error"]["code"], "not_found");

    // Withdrawn now: no later decision offers it.
    app.withdraw("CZ-EM-1").await;
    let after = decide(json!({"hcp": "hcp-0", "channels": ["email"]})).await;
    let decision = &after["decisions"][0];
    assert_eq!(decision["actions"].as_array().unwrap().len(), 0);
    assert!(
        decision["nothing_allowed"]
            .as_str()
            .unwrap()
            .contains("no approved content"),
        "{decision}"
    );

    // Bad requests name the field.
    let r = app
        .client
        .post(format!("{}/v1/decide", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"hcp": "hcp-0", "n": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "n");
}

/// With economics configured, every action carries its expected net value; when a response is
/// worth less than any touch costs, the engine holds back, says why, logs the hold's probability
/// and reserves nothing under the caps.
#[tokio::test]
async fn with_economics_decisions_carry_net_values_and_can_hold_back() {
    let economics = |response_value: f64| openclm_core::engine::Economics {
        response_value,
        cost: [
            (openclm_core::Channel::Email, 1.0),
            (openclm_core::Channel::FaceToFace, 150.0),
        ]
        .into(),
    };
    // Worth a million, a visit pays unless a draw says the HCP will never respond; worth 50
    // cents, it never does.
    for (response_value, holds) in [(1_000_000.0, false), (0.5, true)] {
        let app = spawn_app_with(ApiConfig {
            engine: openclm_core::engine::Engine {
                economics: Some(economics(response_value)),
                ..Default::default()
            },
            ..ApiConfig::default()
        })
        .await;
        app.seed_hcps(20).await;
        let r = app
            .client
            .put(format!("{}/v1/content/CZ-DECK", app.base))
            .bearer_auth(&app.ingest)
            .json(
                &json!({"title": "Deck", "kind": "slide_deck", "product": "cardiozan",
                "topics": ["efficacy"], "status": "approved", "approval_code": "CZ-1",
                "approved_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"}),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let hcps: Vec<String> = (0..20).map(|i| format!("hcp-{i}")).collect();
        let r = app
            .client
            .post(format!("{}/v1/decide", app.base))
            .bearer_auth(&app.admin)
            .json(&json!({"hcps": hcps, "channels": ["face_to_face"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let mut held = 0;
        for decision in body["decisions"].as_array().unwrap() {
            let action = &decision["actions"][0];
            let score = action["score"].as_f64().unwrap();
            let value = action["value"].as_f64().unwrap();
            assert!(
                (value - (score * response_value - 150.0)).abs() < 1e-6,
                "{action}"
            );
            let id = decision["decision_id"].as_str().unwrap().to_owned();
            let logged = app.store.get_decision(id).await.unwrap().unwrap();
            let hold = logged.body["hold_propensity"].as_f64().unwrap();
            if decision["chosen"].is_null() {
                // Held back: the hold is the logged action, nothing is reserved.
                held += 1;
                let why = decision["held"].as_str().unwrap();
                assert!(why.contains("CZ-DECK on face_to_face"), "{why}");
                assert_eq!(logged.propensity, Some(hold));
                assert_eq!(logged.chosen_content, None);
                assert_eq!(logged.reserved_until, None);
            } else {
                assert_eq!(decision["chosen"]["content_id"], "CZ-DECK");
                assert_eq!(decision["held"], Value::Null);
                assert_eq!(logged.propensity, Some(1.0 - hold));
                assert!(logged.reserved_until.is_some());
            }
            if holds {
                assert_eq!(hold, 1.0);
            } else {
                // A new HCP's rate is uncertain, so a few percent of draws still hold back.
                assert!(hold < 0.1, "{hold}");
            }
        }
        if holds {
            assert_eq!(held, 20);
        } else {
            assert!(held <= 5, "{held} of 20 held back");
        }
    }
}

/// Now minus some days, as the server's clock sees it.
fn days_ago(days: f64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    openclm_core::Timestamp::from_millis(now - (days * 86_400_000.0) as i64).to_string()
}

#[tokio::test]
async fn reps_get_a_weekly_plan_within_caps_and_capacity_and_their_feedback_closes_the_loop() {
    let app = spawn_app().await;
    // Territories: T-0 holds hcp-0, 3, 6, 9; T-1 hcp-1, 4, 7; T-2 (another rep's) the rest.
    app.seed_hcps(10).await;
    let item = |kind: &str, topic: &str| {
        json!({"title": "Item", "kind": kind, "product": "cardiozan", "topics": [topic],
            "status": "approved", "approval_code": "CZ-1", "approved_at": "2026-01-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z"})
    };
    let put_content = |id: &'static str, body: Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .put(format!("{}/v1/content/{id}", app.base))
                .bearer_auth(&app.ingest)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    put_content("CZ-DECK", item("slide_deck", "efficacy")).await;
    put_content("CZ-KM-1", item("key_message", "safety")).await;
    put_content("CZ-KM-2", item("key_message", "dosing")).await;
    // hcp-1 is a trial investigator: cardiozan may not be promoted to them.
    let r = app
        .put_hcp(
            "hcp-1",
            json!({"name": "Dr. Test 1", "specialty": "oncology", "country": "DE",
                "territory": "T-1", "external_ids": [{"system": "crm", "id": "CRM-1"}],
                "restricted_products": ["cardiozan"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // hcp-3 had two visits this month (the face-to-face cap); hcp-6 four touches (the total
    // cap), logged by the CRM and the email platform.
    let touch = |id: &str, hcp: usize, days: f64, channel: &str, kind: &str| {
        json!({"event_id": id, "occurred_at": days_ago(days), "hcp": format!("CRM-{hcp}"),
            "source": "crm", "channel": channel, "type": kind, "rep_id": "rep-x"})
    };
    let history = json!([
        touch("v1", 3, 10.0, "face_to_face", "call_logged"),
        touch("v2", 3, 20.0, "face_to_face", "call_logged"),
        touch("t1", 6, 3.0, "email", "sent"),
        touch("t2", 6, 8.0, "email", "sent"),
        touch("t3", 6, 12.0, "remote_detail", "call_logged"),
        touch("t4", 6, 15.0, "face_to_face", "call_logged"),
    ]);
    let r = app
        .post_events(&app.ingest, "application/json", history.to_string())
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .put(format!("{}/v1/reps/rep-0", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"name": "Ann Rep", "territories": ["T-0", "T-1"], "visits_per_week": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let plan: Value = app
        .get(&app.read, "/v1/reps/rep-0/suggestions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plan["capacity"], 4);
    assert_eq!(plan["considered"], 7);
    let suggestions = plan["suggestions"].as_array().unwrap().clone();
    // Five HCPs may be seen (not hcp-1: restricted; not hcp-6: capped); four fit the week.
    assert_eq!(suggestions.len(), 4, "{plan}");
    let field = |s: &Value, f: &str| s[f].as_str().unwrap().to_owned();
    for s in &suggestions {
        let hcp = field(s, "hcp_id");
        assert!(
            ["hcp-0", "hcp-3", "hcp-4", "hcp-7", "hcp-9"].contains(&hcp.as_str()),
            "{hcp}"
        );
        let channel = field(s, "channel");
        assert!(["face_to_face", "remote_detail"].contains(&channel.as_str()));
        if hcp == "hcp-3" {
            assert_eq!(channel, "remote_detail", "two visits this month already");
        }
        assert_eq!(s["status"], "pending");
        assert!(!s["explanation"].as_str().unwrap().is_empty());
        assert!(
            !s["key_messages"]
                .as_array()
                .unwrap()
                .contains(&s["content_id"])
        );
    }
    // Asked again, the plan is the same plan.
    let again: Value = app
        .get(&app.read, "/v1/reps/rep-0/suggestions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["suggestions"], plan["suggestions"]);

    // A planned visit holds its place: a decision for the same HCP now finds no rep slot.
    let planned_hcp = suggestions
        .iter()
        .map(|s| field(s, "hcp_id"))
        .find(|h| h != "hcp-3")
        .unwrap();
    let r: Value = app
        .client
        .post(format!("{}/v1/decide", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"hcp": planned_hcp, "channels": ["face_to_face", "remote_detail"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let blocked = r["decisions"][0]["blocked"].as_array().unwrap();
    assert!(!blocked.is_empty());
    assert!(
        blocked.iter().all(|b| b["code"] == "min_gap"),
        "{blocked:?}"
    );
    assert_eq!(r["decisions"][0]["actions"].as_array().unwrap().len(), 0);
    // The restricted HCP's blocked candidates say why.
    let r: Value = app
        .client
        .post(format!("{}/v1/decide", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"hcp": "hcp-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        r["decisions"][0]["blocked"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["code"] == "product_restricted"),
        "{r}"
    );

    let feedback = |id: String, body: Value| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/v1/suggestions/{id}/feedback", app.base))
                .bearer_auth(&app.ingest)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let [first, second, third, fourth] =
        [0, 1, 2, 3].map(|i| field(&suggestions[i], "suggestion_id"));
    let r = feedback(first.clone(), json!({"status": "accepted"})).await;
    assert_eq!(r.status(), 200);
    let r = feedback(first.clone(), json!({"status": "completed"})).await;
    let completed: Value = r.json().await.unwrap();
    assert_eq!(completed["status"], "completed");
    // Reported twice, the call is recorded once, naming the decision, which it credits.
    feedback(first.clone(), json!({"status": "completed"})).await;
    let timeline: Value = app
        .get(
            &app.read,
            &format!(
                "/v1/hcps/{}/timeline?type=call_logged",
                field(&suggestions[0], "hcp_id")
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let calls: Vec<&Value> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["decision_id"] == suggestions[0]["decision_id"])
        .collect();
    assert_eq!(calls.len(), 1, "{timeline}");
    let decision = app
        .store
        .get_decision(field(&suggestions[0], "decision_id"))
        .await
        .unwrap()
        .unwrap();
    assert!(decision.delivered_at.is_some());

    // A dismissal needs a reason; a finished suggestion takes no more feedback.
    let r = feedback(second.clone(), json!({"status": "dismissed"})).await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "reason");
    let r = feedback(
        second.clone(),
        json!({"status": "dismissed", "reason": "not_relevant", "note": "prefers dosing data"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = feedback(
        first.clone(),
        json!({"status": "dismissed", "reason": "no_time"}),
    )
    .await;
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "conflict");
    assert_eq!(e["error"]["field"], "status");
    assert_eq!(
        feedback("sug_nope".into(), json!({"status": "accepted"}))
            .await
            .status(),
        404
    );

    // The fourth HCP withdraws consent on the suggestion's channel: the plan, read again, shows
    // the suggestion cancelled with the reason.
    let hcp_number: usize = field(&suggestions[3], "hcp_id")
        .trim_start_matches("hcp-")
        .parse()
        .unwrap();
    let mut withdrawal = touch(
        "c4",
        hcp_number,
        0.01,
        &field(&suggestions[3], "channel"),
        "consent_changed",
    );
    withdrawal["state"] = json!("withdrawn");
    let r = app
        .post_events(
            &app.ingest,
            "application/json",
            json!([withdrawal]).to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let plan: Value = app
        .get(&app.read, "/v1/reps/rep-0/suggestions")
        .await
        .json()
        .await
        .unwrap();
    let fourth_now = plan["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["suggestion_id"] == fourth.as_str())
        .unwrap();
    assert_eq!(fourth_now["status"], "cancelled");
    assert_eq!(
        fourth_now["cancelled_because"],
        format!(
            "consent for {} (promotional) is withdrawn",
            field(&suggestions[3], "channel")
        )
    );

    // Withdrawing the third suggestion's lead content cancels it at once.
    let lead = field(&suggestions[2], "content_id");
    app.withdraw(&lead).await;
    let cancelled: Value = app
        .get(&app.read, &format!("/v1/suggestions/{third}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        cancelled["cancelled_because"],
        format!("content {lead} is withdrawn")
    );

    // What reps did with the week's suggestions, dismissal reasons included.
    let report: Value = app
        .get(&app.read, "/v1/suggestions/report?rep=rep-0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["suggestions"], 4);
    assert_eq!(
        report["by_status"],
        json!({"cancelled": 2, "completed": 1, "dismissed": 1})
    );
    assert_eq!(report["dismissed_because"], json!({"not_relevant": 1}));

    // Bad requests name what is wrong.
    assert_eq!(
        app.get(&app.read, "/v1/reps/rep-9/suggestions")
            .await
            .status(),
        404
    );
    let r = app
        .get(&app.read, "/v1/reps/rep-0/suggestions?week=2026-W99")
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "week");
    let r = app
        .client
        .put(format!("{}/v1/reps/rep-1", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"name": "Bo", "territories": [], "visits_per_week": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "territories"
    );
}
