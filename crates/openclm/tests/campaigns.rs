//! Campaigns through the real server: defined, checked, split, and run wave by wave through the
//! engine, once.

mod common;

use common::{TestApp, event, spawn_app};
use openclm_core::Timestamp;
use openclm_core::campaign::{CampaignInput, Group};
use openclm_core::measure::stats::{Moments, mean_lift};
use openclm_store::prelude::*;
use openclm_store::{DecisionFilter, PageRequest};
use serde_json::{Value, json};

/// The product's approved library for the tests: two emails and a deck.
const CARDIOZAN: [(&str, &str, &str, &str); 3] = [
    ("CZ-EM-1", "email_template", "efficacy", "cardiozan"),
    ("CZ-EM-2", "email_template", "safety", "cardiozan"),
    ("CZ-DECK", "slide_deck", "dosing", "cardiozan"),
];

/// Registers approved content: (id, kind, topic, product).
async fn seed_content(app: &TestApp, items: &[(&str, &str, &str, &str)]) {
    for (id, kind, topic, product) in items {
        let body = json!({"title": "Item", "kind": kind, "product": product, "topics": [topic],
            "status": "approved", "approval_code": "CZ-1", "approved_at": "2026-01-01T00:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z"});
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
}

/// Email opt-ins for HCPs 0..n.
async fn grant_email(app: &TestApp, n: usize) {
    let consents: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = event(&format!("consent-{i}"), i, 1);
            e["type"] = json!("consent_changed");
            e["state"] = json!("granted");
            e
        })
        .collect();
    let r = app
        .post_events(&app.ingest, "application/json", json!(consents).to_string())
        .await;
    assert_eq!(r.status(), 200);
}

fn campaign(holdout: f64) -> Value {
    json!({
        "id": "launch",
        "name": "Cardiozan launch",
        "product": "cardiozan",
        "target": {"specialties": ["cardiology"]},
        "arms": [
            {"name": "email", "content_id": "CZ-EM-1", "channels": ["email"]},
            {"name": "engine"}
        ],
        "holdout_share": holdout,
        "waves": [{"at": "2026-01-01T08:00:00Z"}, {"name": "later", "at": "2099-01-01T08:00:00Z"}],
        "cost_per_touch": {"email": 0.5, "face_to_face": 150},
        "value_per_outcome": 250
    })
}

#[tokio::test]
async fn a_campaign_is_defined_split_and_run_wave_by_wave_through_the_engine() {
    let app = spawn_app().await;
    app.seed_hcps(80).await;
    seed_content(
        &app,
        &[
            ("CZ-EM-1", "email_template", "efficacy", "cardiozan"),
            ("CZ-DECK", "slide_deck", "safety", "cardiozan"),
            ("OTHER-EM", "email_template", "efficacy", "otherzan"),
        ],
    )
    .await;
    // HCPs 0–39 opted in to email.
    grant_email(&app, 40).await;

    let post = |key: &str, body: Value| {
        let (app, key) = (&app, key.to_owned());
        async move {
            app.client
                .post(format!("{}/v1/campaigns", app.base))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Bad input names its field; a read-only key may not create.
    let bad = post(&app.admin, campaign(1.5)).await;
    assert_eq!(bad.status(), 422);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["field"],
        "holdout_share"
    );
    let mut no_waves = campaign(0.25);
    no_waves["waves"] = json!([]);
    let bad = post(&app.admin, no_waves).await;
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["field"],
        "waves"
    );
    assert_eq!(post(&app.read, campaign(0.25)).await.status(), 403);
    let created = post(&app.admin, campaign(0.25)).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["arms"][1]["content_id"], Value::Null);

    let run = |number: &str| {
        let app = &app;
        let url = format!("{}/v1/campaigns/launch/waves/{number}/run", app.base);
        async move {
            app.client
                .post(url)
                .bearer_auth(&app.admin)
                .send()
                .await
                .unwrap()
        }
    };
    let first = run("1").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    // The split: computed here from the definition alone, as every node computes it.
    let definition: CampaignInput = serde_json::from_value(campaign(0.25)).unwrap();
    let definition = definition.validate().unwrap();
    let cardiologists: Vec<usize> = (0..80usize).filter(|i| i.is_multiple_of(2)).collect();
    let holdout: Vec<usize> = cardiologists
        .iter()
        .copied()
        .filter(|i| definition.group_of(&format!("hcp-{i}")) == Group::Holdout)
        .collect();
    let summary = &first["summary"];
    assert_eq!(summary["targeted"], 40);
    assert_eq!(summary["holdout"], holdout.len());
    assert_eq!(summary["treated"], 40 - holdout.len());
    let outcomes = ["decided", "held_back", "nothing_allowed"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(outcomes, 40 - holdout.len() as u64);

    // Every treated HCP has one logged decision, tagged with its wave and arm; the holdout none.
    let logged = app
        .store
        .list_decisions(
            DecisionFilter {
                campaign_id: Some("launch".into()),
                ..Default::default()
            },
            PageRequest {
                cursor: None,
                limit: 1000,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(logged.len(), 40 - holdout.len());
    let mut emails_without_consent = 0;
    for d in &logged {
        let tag = d.campaign.as_ref().unwrap();
        assert_eq!(tag.wave, 1);
        assert_eq!(
            definition.group_of(&d.hcp_id),
            Group::Treated(tag.arm as usize)
        );
        let i: usize = d.hcp_id.trim_start_matches("hcp-").parse().unwrap();
        assert!(i.is_multiple_of(2) && !holdout.contains(&i));
        // Only the campaign's product; the email arm only its email.
        if let Some(content) = &d.chosen_content {
            assert!(content.starts_with("CZ-"), "{content}");
            if tag.arm == 0 {
                assert_eq!(content, "CZ-EM-1");
                assert!(i < 40, "email needs the opt-in HCP {i} lacks");
            }
        } else if tag.arm == 0 {
            emails_without_consent += 1;
        }
    }
    assert!(
        emails_without_consent > 0,
        "the email arm met HCPs without opt-in"
    );

    // Outcomes come back: sends, deliveries and clicks of the chosen emails (by decision id),
    // and prescriptions of every member, treated or held out.
    let mut events = Vec::new();
    let mut clicked: Vec<usize> = Vec::new();
    // After the wave's decisions, which were made now.
    let start = openclm::now().millis();
    let event = |id: &str, i: usize, minute: i64| {
        let mut e = event(id, i, 0);
        e["occurred_at"] = json!(Timestamp::from_millis(start + minute * 60_000).to_string());
        e
    };
    let mut sent = 0;
    for d in &logged {
        let i: usize = d.hcp_id.trim_start_matches("hcp-").parse().unwrap();
        if d.chosen_channel == Some(openclm_core::Channel::Email) {
            sent += 1;
            for (kind, minute) in [("sent", 10), ("delivered", 11)] {
                let mut e = event(&format!("{kind}-{i}"), i, minute);
                e["type"] = json!(kind);
                e["decision_id"] = json!(d.decision_id);
                e["content_id"] = json!(d.chosen_content);
                events.push(e);
            }
            if i.is_multiple_of(4) {
                clicked.push(i);
                let mut e = event(&format!("click-{i}"), i, 70);
                e["type"] = json!("clicked");
                e["content_id"] = json!(d.chosen_content);
                events.push(e);
            }
        }
    }
    let units = |i: usize| 1 + i % 3 + usize::from(clicked.contains(&i)) * 2;
    for &i in &cardiologists {
        let mut e = event(&format!("rx-{i}"), i, 200);
        e["type"] = json!("prescription");
        e["channel"] = json!("crm");
        e["units"] = json!(units(i));
        events.push(e);
    }
    let r = app
        .post_events(&app.ingest, "application/json", json!(events).to_string())
        .await;
    assert_eq!(r.status(), 200);
    let ingested: Value = r.json().await.unwrap();
    assert_eq!(ingested["accepted"], events.len(), "{ingested}");
    // Counted at once: read straight after the ingest.
    let get = |path: String| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(format!("{}{path}", app.base))
                .bearer_auth(&app.read)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.json::<Value>().await.unwrap()
        }
    };
    let kpis = get("/v1/campaigns/launch/kpis?by=channel".into()).await;
    let total = &kpis["total"]["counts"];
    assert_eq!(total["touches"], sent);
    assert_eq!(total["delivered"], sent);
    assert_eq!(total["clicked"], clicked.len());
    assert_eq!(
        total["outcome_units"].as_f64().unwrap(),
        cardiologists.iter().map(|&i| units(i) as f64).sum::<f64>()
    );
    let email = kpis["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "email")
        .unwrap();
    assert_eq!(email["counts"]["touches"], sent);
    assert_eq!(
        email["rates"]["click_rate"].as_f64().unwrap(),
        clicked.len() as f64 / sent as f64
    );
    let none = get("/v1/campaigns/launch/kpis?from=2026-01-01&until=2026-06-01".into()).await;
    assert_eq!(none["total"]["counts"]["touches"], 0);
    let bad = app
        .client
        .get(format!("{}/v1/campaigns/launch/kpis?by=colour", app.base))
        .bearer_auth(&app.read)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);

    // The report: lift of the outcome per HCP over the holdout, as computed here by hand.
    let report = get("/v1/campaigns/launch/report".into()).await;
    let mean = |ids: &[usize]| ids.iter().map(|&i| units(i) as f64).sum::<f64>() / ids.len() as f64;
    let treated: Vec<usize> = cardiologists
        .iter()
        .copied()
        .filter(|i| !holdout.contains(i))
        .collect();
    let all = &report["lift"][0];
    assert_eq!(all["arm"], "all arms");
    let outcome = &all["outcome_per_hcp"];
    assert!((outcome["treated"].as_f64().unwrap() - mean(&treated)).abs() < 1e-9);
    assert!((outcome["control"].as_f64().unwrap() - mean(&holdout)).abs() < 1e-9);
    assert!(
        (outcome["absolute"].as_f64().unwrap() - (mean(&treated) - mean(&holdout))).abs() < 1e-9
    );
    // The relative lift of the outcome carries its own evidence, beside the absolute lift's.
    let moments =
        |ids: &[usize]| Moments::of(&ids.iter().map(|&i| units(i) as f64).collect::<Vec<_>>());
    let by_hand = mean_lift(
        &moments(&treated),
        &moments(&holdout),
        report["level"].as_f64().unwrap(),
    )
    .unwrap();
    let near = |v: &Value, expected: f64| (v.as_f64().unwrap() - expected).abs() < 1e-9;
    assert!(
        near(&outcome["relative"], by_hand.relative.unwrap()),
        "{outcome}"
    );
    assert!(
        near(
            &outcome["relative_p_value"],
            by_hand.relative_p_value.unwrap()
        ),
        "{outcome}"
    );
    assert!(near(&outcome["p_value"], by_hand.p_value), "{outcome}");
    let relative_sequential = by_hand.relative_sequential.unwrap();
    let shown = &outcome["relative_sequential"];
    assert!(
        near(&shown["p_value"], relative_sequential.p_value),
        "{outcome}"
    );
    assert!(
        near(&shown["interval"]["low"], relative_sequential.interval.low),
        "{outcome}"
    );
    assert!(
        near(
            &shown["interval"]["high"],
            relative_sequential.interval.high
        ),
        "{outcome}"
    );
    assert!(
        outcome["relative_p_value"] != outcome["p_value"],
        "the relative lift's p-value is its own: {outcome}"
    );
    let responders = &all["responder_rate"];
    assert!(
        (responders["treated"].as_f64().unwrap() - clicked.len() as f64 / treated.len() as f64)
            .abs()
            < 1e-9
    );
    assert_eq!(responders["control"], 0.0);
    // ROMI: the outcome lift times the treated HCPs, at €250, against €0.50 per email sent.
    let cost = sent as f64 * 0.5;
    assert_eq!(report["cost"], cost);
    let expected = ((mean(&treated) - mean(&holdout)) * treated.len() as f64 * 250.0 - cost) / cost;
    assert!((report["romi"]["romi"].as_f64().unwrap() - expected).abs() < 1e-6);
    assert_eq!(
        report["lift"].as_array().unwrap().len(),
        3,
        "all arms, then each"
    );

    // Run again: the same wave, nothing new.
    let again = run("1").await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["summary"], *summary);
    assert_eq!(run("3").await.status(), 404);
    assert_eq!(run("first").await.status(), 422);

    // The campaign as reported: groups, the split's check, waves run and scheduled.
    let shown: Value = app
        .client
        .get(format!("{}/v1/campaigns/launch", app.base))
        .bearer_auth(&app.read)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["groups"]["holdout"], holdout.len());
    assert_eq!(shown["groups"]["treated"], 40 - holdout.len());
    let arm_total: u64 = shown["groups"]["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["hcps"].as_u64().unwrap())
        .sum();
    assert_eq!(arm_total, 40 - holdout.len() as u64);
    assert!(shown["sample_ratio"]["p_value"].as_f64().unwrap() > 0.001);
    assert!(shown["waves"][0]["ran_at"].is_string());
    assert!(shown["waves"][1]["ran_at"].is_null());

    // Once a wave has run the split is frozen; the name is not.
    let refused = post(&app.admin, campaign(0.5)).await;
    assert_eq!(refused.status(), 409);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"]["field"],
        "holdout_share"
    );
    let mut renamed = campaign(0.25);
    renamed["name"] = json!("Cardiozan launch (renamed)");
    assert_eq!(post(&app.admin, renamed).await.status(), 200);

    // The scheduler runs the second wave once its time has come, and only then.
    let engine = openclm_core::engine::Engine::default();
    let before = Timestamp::parse("t", "2098-12-31T00:00:00Z").unwrap();
    let ran = openclm_app::campaigns::run_due_waves(&app.store, &engine, before)
        .await
        .unwrap();
    assert!(ran.is_empty());
    let after = Timestamp::parse("t", "2099-01-02T00:00:00Z").unwrap();
    let ran = openclm_app::campaigns::run_due_waves(&app.store, &engine, after)
        .await
        .unwrap();
    assert_eq!(ran.iter().map(|w| w.wave).collect::<Vec<_>>(), vec![2]);
    let ran = openclm_app::campaigns::run_due_waves(&app.store, &engine, after)
        .await
        .unwrap();
    assert!(ran.is_empty(), "a wave runs once");
}

/// Off-policy evaluation on the live decision log: the logging policy evaluates to exactly what
/// was observed; other policies get estimates with intervals; a bad policy is named.
#[tokio::test]
async fn the_decision_log_evaluates_candidate_policies() {
    let app = spawn_app().await;
    app.seed_hcps(30).await;
    seed_content(&app, &CARDIOZAN).await;
    grant_email(&app, 30).await;
    let hcps: Vec<String> = (0..30).map(|i| format!("hcp-{i}")).collect();
    let decided: Value = app
        .client
        .post(format!("{}/v1/decide", app.base))
        .bearer_auth(&app.admin)
        .json(&json!({"hcps": hcps}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A third of the HCPs respond to what was chosen for them.
    let now = openclm::now().millis();
    let mut responses = Vec::new();
    for (i, d) in decided["decisions"].as_array().unwrap().iter().enumerate() {
        if i % 3 == 0 {
            let mut e = event(&format!("resp-{i}"), i, 0);
            e["occurred_at"] = json!(Timestamp::from_millis(now + 60_000).to_string());
            e["type"] = json!(if d["chosen"]["channel"] == "email" {
                "clicked"
            } else {
                "call_logged"
            });
            e["channel"] = d["chosen"]["channel"].clone();
            e["decision_id"] = d["decision_id"].clone();
            e["content_id"] = d["chosen"]["content_id"].clone();
            responses.push(e);
        }
    }
    app.post_events(
        &app.ingest,
        "application/json",
        json!(responses).to_string(),
    )
    .await;
    let until = Timestamp::from_millis(now + 3_600_000).to_string();
    let evaluate = |policy: &str| {
        let app = &app;
        let url = format!(
            "{}/v1/evaluate?policy={policy}&until={}",
            app.base,
            until.replace('+', "%2B")
        );
        async move {
            app.client
                .get(url)
                .bearer_auth(&app.read)
                .send()
                .await
                .unwrap()
        }
    };
    let logged: Value = evaluate("logged").await.json().await.unwrap();
    let e = &logged["evaluation"];
    assert_eq!(logged["read"], 30);
    let observed = e["logged"].as_f64().unwrap();
    // call_logged is a delivery, not a response; clicks are responses.
    let clicks = responses.iter().filter(|r| r["type"] == "clicked").count();
    assert!(clicks > 0, "some responders were emailed");
    assert!((observed - clicks as f64 / 30.0).abs() < 1e-12, "{logged}");
    for k in ["ips", "snips", "doubly_robust"] {
        assert!(
            (e[k]["value"].as_f64().unwrap() - observed).abs() < 1e-9,
            "{k}: {e}"
        );
    }
    assert!((e["effective_sample_size"].as_f64().unwrap() - 30.0).abs() < 1e-9);
    let email: Value = evaluate("channel:email").await.json().await.unwrap();
    let ips = &email["evaluation"]["ips"];
    assert!(ips["interval"]["low"].as_f64().unwrap() <= ips["value"].as_f64().unwrap());
    assert!(
        email["evaluation"]["effective_sample_size"]
            .as_f64()
            .unwrap()
            <= 30.0
    );
    // A marketer's static table by specialty.
    let rules: Value = app
        .client
        .get(format!(
            "{}/v1/evaluate?policy=rules%3Acardiology%3Dface_to_face%2C%2A%3Demail&until={}",
            app.base,
            until.replace('+', "%2B")
        ))
        .bearer_auth(&app.read)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules["read"], 30, "{rules}");
    assert!(rules["evaluation"]["snips"]["value"].is_number(), "{rules}");
    let bad = evaluate("telepathy").await;
    assert_eq!(bad.status(), 422);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["field"],
        "policy"
    );
}

/// The responder analysis of a wave, and an adaptive campaign's next wave adopting its plan:
/// responders keep their channel with a new item; emails never opened give way to another
/// channel.
#[tokio::test]
async fn the_next_wave_of_an_adaptive_campaign_adopts_the_responder_plan() {
    let app = spawn_app().await;
    app.seed_hcps(60).await;
    seed_content(&app, &CARDIOZAN).await;
    grant_email(&app, 60).await;
    let mut body = campaign(0.0);
    body["adaptive"] = json!(true);
    body["arms"] = json!([{"name": "engine"}]);
    body["waves"] = json!([{"at": "2026-01-01T08:00:00Z"}, {"at": "2026-01-02T08:00:00Z"}]);
    let r = app
        .client
        .post(format!("{}/v1/campaigns", app.base))
        .bearer_auth(&app.admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let campaign_def = app
        .store
        .get_campaign("launch".into())
        .await
        .unwrap()
        .unwrap();
    assert!(campaign_def.adaptive);
    let engine = openclm_core::engine::Engine::default();
    let now = openclm::now();
    openclm_app::campaigns::run_wave_for(&app.store, &engine, &campaign_def, 1, now)
        .await
        .unwrap();
    let decisions = |wave: u32| {
        let store = app.store.clone();
        async move {
            store
                .list_decisions(
                    DecisionFilter {
                        campaign_id: Some("launch".into()),
                        ..Default::default()
                    },
                    PageRequest {
                        cursor: None,
                        limit: 1000,
                    },
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|d| d.campaign.as_ref().unwrap().wave == wave)
                .collect::<Vec<_>>()
        }
    };
    let first = decisions(1).await;
    assert_eq!(first.len(), 30);
    // Every email is sent and delivered; every fourth HCP clicks. Visits are not reported.
    let mut events = Vec::new();
    let mut clicked = Vec::new();
    let mut unopened = Vec::new();
    for d in &first {
        let i: usize = d.hcp_id.trim_start_matches("hcp-").parse().unwrap();
        if d.chosen_channel != Some(openclm_core::Channel::Email) {
            continue;
        }
        let at = |minute: i64| Timestamp::from_millis(now.millis() + minute * 60_000).to_string();
        for (kind, minute) in [("sent", 1), ("delivered", 2)] {
            let mut e = event(&format!("{kind}-{i}"), i, 0);
            e["occurred_at"] = json!(at(minute));
            e["type"] = json!(kind);
            e["decision_id"] = json!(d.decision_id);
            e["content_id"] = json!(d.chosen_content);
            events.push(e);
        }
        if i.is_multiple_of(4) {
            let mut e = event(&format!("click-{i}"), i, 0);
            e["occurred_at"] = json!(at(90));
            e["type"] = json!("clicked");
            e["content_id"] = json!(d.chosen_content);
            events.push(e);
            clicked.push(d.hcp_id.clone());
        } else {
            unopened.push(d.hcp_id.clone());
        }
    }
    assert!(!clicked.is_empty() && !unopened.is_empty());
    let r = app
        .post_events(&app.ingest, "application/json", json!(events).to_string())
        .await;
    let ingested: Value = r.json().await.unwrap();
    assert_eq!(ingested["accepted"], events.len(), "{ingested}");
    let analysis: Value = app
        .client
        .get(format!(
            "{}/v1/campaigns/launch/waves/1/responders",
            app.base
        ))
        .bearer_auth(&app.read)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count = |reason: &str| {
        analysis["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["reason"] == reason)
            .unwrap()["hcps"]
            .as_u64()
            .unwrap() as usize
    };
    assert_eq!(analysis["treated"], 30);
    assert_eq!(count("responded"), clicked.len());
    assert_eq!(count("delivered_not_opened"), unopened.len());
    assert_eq!(
        count("not_delivered"),
        30 - clicked.len() - unopened.len(),
        "visits never reported"
    );
    assert_eq!(analysis["responders"]["channel"]["email"], clicked.len());
    assert_eq!(analysis["adopted_by_next_wave"], true);
    assert!(!analysis["differences"].as_array().unwrap().is_empty());

    // Four days on (past the gap and the holds), wave 2 adopts the plan.
    let later = Timestamp::from_millis(now.millis() + 4 * 86_400_000);
    let (wave2, _) =
        openclm_app::campaigns::run_wave_for(&app.store, &engine, &campaign_def, 2, later)
            .await
            .unwrap();
    assert!(
        wave2.summary["adapted_from_previous_wave"]
            .as_u64()
            .unwrap()
            > 0
    );
    let before: std::collections::HashMap<String, _> = first
        .iter()
        .map(|d| {
            (
                d.hcp_id.clone(),
                (d.chosen_channel, d.chosen_content.clone()),
            )
        })
        .collect();
    let mut checked = 0;
    for d in decisions(2).await {
        let (channel, content) = &before[&d.hcp_id];
        let Some(now_channel) = d.chosen_channel else {
            continue;
        };
        if clicked.contains(&d.hcp_id) {
            assert_eq!(Some(now_channel), *channel, "a responder keeps the channel");
            assert_ne!(d.chosen_content, *content, "with an item they have not had");
            checked += 1;
        } else if unopened.contains(&d.hcp_id) {
            assert_ne!(
                now_channel,
                openclm_core::Channel::Email,
                "unopened email gives way"
            );
            checked += 1;
        } else {
            assert_ne!(Some(now_channel), *channel, "an unreported visit gives way");
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} of 30 decided in wave 2");
}

/// A prescription of 1e200 units is refused at ingest naming `units`; one stored that way by an
/// older version is set aside by the folds, listed on the overview, and the KPIs, reports and
/// overview keep answering, counting every other event.
#[tokio::test]
async fn a_poison_number_never_stops_the_kpis_or_the_overview() {
    let app = spawn_app().await;
    app.seed_hcps(20).await;
    seed_content(&app, &CARDIOZAN).await;
    grant_email(&app, 20).await;
    let r = app
        .client
        .post(format!("{}/v1/campaigns", app.base))
        .bearer_auth(&app.admin)
        .json(&campaign(0.25))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = app
        .client
        .post(format!("{}/v1/campaigns/launch/waves/1/run", app.base))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let start = openclm::now().millis();
    let rx = |id: &str, hcp: usize, units: Value| {
        let mut e = event(id, hcp, 0);
        e["occurred_at"] = json!(Timestamp::from_millis(start + 60_000).to_string());
        e["type"] = json!("prescription");
        e["channel"] = json!("crm");
        e["units"] = units;
        e
    };
    let batch = json!([
        rx("rx-0", 0, json!(3)),
        rx("rx-huge", 0, json!(1e200)),
        rx("rx-2", 2, json!(5)),
        rx("rx-old", 4, json!(7)),
    ]);
    let r = app
        .post_events(&app.ingest, "application/json", batch.to_string())
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(body["results"][1]["status"], "rejected");
    assert_eq!(
        body["results"][1]["error"],
        json!({"field": "units", "reason": "must be at most 1000000 per event"})
    );
    // Alone, as a single object, the same.
    let r = app
        .post_events(
            &app.ingest,
            "application/json",
            rx("rx-huge", 0, json!(1e200)).to_string(),
        )
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["error"]["field"], "units");

    // What an older version stored before ingest bounded units: rx-old becomes 1e200 units.
    let db = app.dir.path().join("api.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let changed = conn
        .execute(
            "UPDATE events SET payload = replace(payload, '\"units\":7', '\"units\":1e200')
             WHERE event_id = 'rx-old'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);

    let get = |path: &str| {
        let app = &app;
        let path = path.to_owned();
        async move {
            let r = app
                .client
                .get(format!("{}{path}", app.base))
                .bearer_auth(&app.read)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.json::<Value>().await.unwrap()
        }
    };
    // Cardiologists (even HCPs) are the members: rx-0 and rx-2 count, rx-old is set aside.
    let kpis = get("/v1/campaigns/launch/kpis").await;
    assert_eq!(kpis["total"]["counts"]["outcome_units"].as_f64(), Some(8.0));
    get("/v1/campaigns/launch/report").await;
    get("/v1/overview").await;
    // Again, as `openclm serve`'s folder and every read ask again: still answering.
    assert_eq!(app.store.fold_kpis(1000).await.unwrap(), 0);
    get("/v1/campaigns/launch/kpis").await;

    let listed = app.store.quarantined_events(10).await.unwrap();
    let ids: Vec<(&str, Option<&str>)> = listed
        .iter()
        .map(|q| (q.fold.as_str(), q.event_id.as_deref()))
        .collect();
    assert!(ids.contains(&("campaign_kpis", Some("rx-old"))), "{ids:?}");
    assert!(ids.contains(&("activity", Some("rx-old"))), "{ids:?}");

    // The overview lists them for those who read reports.
    let session = app.user("analyst", "analyst", &[]).await;
    let page = app
        .client
        .get(format!("{}/", app.base))
        .header("cookie", format!("openclm_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let section = html
        .split("data-testid=\"set-aside\"")
        .nth(1)
        .expect("the overview lists the events set aside");
    assert!(section.contains("rx-old"), "{section}");
    assert!(section.contains("campaign KPIs") && section.contains("activity"));
    assert!(section.contains("units: must be at most 1000000 per event"));
}
