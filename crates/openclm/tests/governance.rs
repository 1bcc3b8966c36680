//! Compliance through the real server: who may do what, the MLR lifecycle, the PV queue,
//! consent, the audit trail and erasure.

mod common;

use common::{PASSWORD, TestApp, event, spawn_app_at};
use openclm_core::Timestamp;
use openclm_core::auth::{Action, Role, Scope};
use openclm_server::ApiConfig;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// Monday 2 November 2026, 09:00 UTC.
fn start() -> Timestamp {
    Timestamp::parse("t", "2026-11-02T09:00:00Z").unwrap()
}

/// Registers approved content through an integration key (approved in another MLR system).
async fn approved(app: &TestApp, id: &str, kind: &str, topic: &str) {
    let body = json!({"title": format!("{id} title"), "kind": kind, "product": "cardiozan",
        "topics": [topic], "status": "approved", "approval_code": "CZ-1",
        "approved_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"});
    let r = app
        .call(&app.ingest, "PUT", &format!("/v1/content/{id}"), Some(body))
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

fn draft(id: &str) -> Value {
    json!({"id": id, "title": format!("Draft {id}"), "kind": "email_template",
        "product": "cardiozan", "topics": ["efficacy"]})
}

/// Sends events as the ingest key; all must be accepted.
async fn ingest(app: &TestApp, events: Vec<Value>) {
    let r = app
        .post_events(&app.ingest, "application/json", json!(events).to_string())
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accepted"], events.len(), "{body}");
}

fn note(id: &str, hcp: usize, text: &str) -> Value {
    let mut e = event(id, hcp, 1);
    e["channel"] = json!("face_to_face");
    e["type"] = json!("call_logged");
    e["rep_id"] = json!("rep-own");
    e["notes"] = json!(text);
    e
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Object {
    /// The route names no record of a territory.
    None,
    /// A record in the rep's territory (T-0).
    Own,
    /// A record in another territory (T-1).
    Other,
}

struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    action: Action,
    object: Object,
    /// Needs a person signed in (a review step, the PV queue, a privacy request).
    person: bool,
}

fn route(method: &'static str, path: impl Into<String>, action: Action) -> Route {
    Route {
        method,
        path: path.into(),
        body: None,
        action,
        object: Object::None,
        person: false,
    }
}

impl Route {
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn on(mut self, object: Object) -> Self {
        self.object = object;
        self
    }
    fn personal(mut self) -> Self {
        self.person = true;
        self
    }
}

/// Every route that needs a permission, with records made for `who` where the call changes them.
fn routes(who: &str, suggestion_own: &str, suggestion_other: &str, case: &str) -> Vec<Route> {
    use Action as A;
    use Object::{Other, Own};
    let mut r = vec![
        route("POST", "/v1/events", A::IngestEvents).body(json!([event(&format!("m-{who}"), 0, 5)])),
        route("POST", "/v1/track", A::Track)
            .body(json!({"anonymousId": format!("v-{who}"), "event": "Email Opened"})),
        route("POST", "/v1/page", A::Track).body(json!({"anonymousId": format!("v-{who}")})),
        route("POST", "/v1/screen", A::Track).body(json!({"anonymousId": format!("v-{who}")})),
        route("POST", "/v1/identify", A::Track)
            .body(json!({"userId": "CRM-0", "anonymousId": format!("v-{who}")})),
        route("POST", "/v1/group", A::Track)
            .body(json!({"anonymousId": format!("v-{who}"), "groupId": "G-1"})),
        route("POST", "/v1/alias", A::Track)
            .body(json!({"userId": "CRM-0", "previousId": format!("v-{who}")})),
        route("POST", "/v1/batch", A::Track).body(json!({"batch": [
            {"type": "page", "anonymousId": format!("v-{who}")}]})),
        route("POST", "/v1/import", A::Track).body(json!({"batch": []})),
        route("POST", "/v1/webhooks/sendgrid", A::IngestEvents).body(json!([{"sg_event_id": format!("sg-{who}"),
            "event": "delivered", "email": "nobody@example.org", "timestamp": 1_790_000_000}])),
        route("PUT", format!("/v1/hcps/new-{who}"), A::WriteHcps).body(
            json!({"name": "Dr. New", "specialty": "gp", "country": "DE", "territory": "T-0"}),
        ),
        route("GET", "/v1/hcps?territory=T-0", A::ReadHcps).on(Own),
        route("GET", "/v1/hcps?territory=T-1", A::ReadHcps).on(Other),
        route("POST", "/v1/content", A::WriteContent).body(json!([draft(&format!("post-{who}"))])),
        route("PUT", format!("/v1/content/put-{who}"), A::WriteContent).body(draft(&format!("put-{who}"))),
        route("GET", "/v1/content", A::ReadContent),
        route("GET", "/v1/content/C-EM", A::ReadContent),
        route("GET", "/v1/content/expiring", A::ReadContent),
        route("GET", "/v1/content/C-EM/sends", A::ReadReports),
        route("GET", "/v1/content/C-EM/performance", A::ReadReports),
        route("GET", "/v1/overview", A::ReadReports),
        route("POST", format!("/v1/content/sub-{who}/submit"), A::WriteContent),
        route("POST", format!("/v1/content/ret-{who}/return"), A::ReviewContent)
            .body(json!({"reason": "claims need a reference"}))
            .personal(),
        route("POST", format!("/v1/content/ap-{who}/approve"), A::ReviewContent)
            .body(json!({"password": PASSWORD, "approval_code": "CZ-9", "expires_at": "2027-06-01T00:00:00Z"}))
            .personal(),
        route("POST", format!("/v1/content/wd-{who}/withdraw"), A::WithdrawContent)
            .body(json!({"reason": "label change"}))
            .personal(),
        route("GET", "/v1/campaigns", A::ReadCampaigns),
        route("POST", "/v1/campaigns", A::WriteCampaigns).body(json!({})),
        route("GET", "/v1/campaigns/none", A::ReadCampaigns),
        route("GET", "/v1/campaigns/none/kpis", A::ReadReports),
        route("GET", "/v1/campaigns/none/report", A::ReadReports),
        route("GET", "/v1/campaigns/none/waves/1/responders", A::ReadReports),
        route("POST", "/v1/campaigns/none/waves/1/run", A::WriteCampaigns),
        route("GET", "/v1/evaluate?policy=uniform", A::ReadReports),
        route("PUT", format!("/v1/reps/rep-{who}"), A::ManageReps)
            .body(json!({"name": "Rep", "territories": ["T-0"], "visits_per_week": 5})),
        route("GET", "/v1/suggestions/report", A::ReadReports),
        route("GET", "/v1/ae-cases", A::ReadAeCases).personal(),
        route("GET", "/v1/ae-cases/reconciliation", A::ReadAeCases).personal(),
        route("GET", format!("/v1/ae-cases/{case}"), A::ReadAeCases).personal(),
        route("POST", format!("/v1/ae-cases/{case}/triage"), A::TriageAeCases)
            .body(json!({"status": "not_ae", "note": "a figure of speech"}))
            .personal(),
        route("GET", "/v1/audit", A::ReadAudit),
        route("GET", "/v1/privacy/hcps/hcp-2", A::PrivacyRequests).personal(),
        route("POST", format!("/v1/privacy/hcps/erase-{who}/erase"), A::PrivacyRequests)
            .body(json!({"reason": "request 7"}))
            .personal(),
        route("GET", "/v1/users", A::ManageUsers),
        route("POST", "/v1/users", A::ManageUsers).body(json!({"user_id": format!("made-by-{who}"),
            "display_name": "New Person", "role": "analyst", "password": PASSWORD})),
        route("POST", "/v1/users/nobody/disable", A::ManageUsers),
        route("GET", "/v1/keys", A::ManageUsers),
        route("POST", "/v1/keys", A::ManageUsers).body(json!({"role": "analyst", "label": "bi"})),
        route("DELETE", "/v1/keys/000000000000", A::ManageUsers),
        route("GET", "/v1/deliveries?status=dead", A::ReadDeliveries),
        route("GET", "/v1/deliveries/summary", A::ReadDeliveries),
        route("GET", "/v1/deliveries/next?channel=email&limit=1", A::PullDeliveries),
        route("POST", "/v1/deliveries/dlv_none/ack", A::PullDeliveries)
            .body(json!({"lease_token": "lease_0", "outcome": "delivered"})),
        route("POST", "/v1/deliveries/dlv_none/retry", A::RetryDeliveries),
    ];
    // Routes on one record, in and out of the rep's territory.
    for (object, hcp, rep, suggestion) in [
        (Own, "hcp-0", "rep-own", suggestion_own),
        (Other, "hcp-1", "rep-other", suggestion_other),
    ] {
        r.extend([
            route("GET", format!("/v1/hcps/{hcp}"), A::ReadHcps).on(object),
            route("GET", format!("/v1/hcps/{hcp}/timeline"), A::ReadHcps).on(object),
            route("GET", format!("/v1/hcps/{hcp}/consent"), A::ReadHcps).on(object),
            route("GET", format!("/v1/hcps/{hcp}/state"), A::ReadHcps).on(object),
            route("POST", "/v1/decide", A::Decide)
                .body(json!({"hcp": hcp}))
                .on(object),
            route("GET", format!("/v1/reps/{rep}"), A::ReadSuggestions).on(object),
            route(
                "GET",
                format!("/v1/reps/{rep}/suggestions"),
                A::ReadSuggestions,
            )
            .on(object),
            route(
                "GET",
                format!("/v1/suggestions/{suggestion}"),
                A::ReadSuggestions,
            )
            .on(object),
            route(
                "POST",
                format!("/v1/suggestions/{suggestion}/feedback"),
                A::ActOnSuggestions,
            )
            .body(json!({"status": "dismissed", "reason": "no_time"}))
            .on(object),
        ]);
    }
    r
}

#[tokio::test]
async fn every_role_reaches_exactly_what_the_policy_allows() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(2).await;
    let roles: Vec<Role> = Role::ALL.to_vec();
    // Records each role's calls change: HCPs to erase, drafts, items in review and approved.
    for role in &roles {
        let who = role.as_str();
        let r = app
            .put_hcp(
                &format!("erase-{who}"),
                json!({"name": "Dr. Erase", "specialty": "gp", "country": "DE", "territory": "T-2"}),
            )
            .await;
        assert!(r.status().is_success());
        approved(&app, &format!("wd-{who}"), "email_template", "efficacy").await;
    }
    approved(&app, "C-EM", "email_template", "efficacy").await;
    approved(&app, "C-DECK", "slide_deck", "dosing").await;
    let marketer = app.user("author", "marketer", &[]).await;
    for role in &roles {
        let who = role.as_str();
        for prefix in ["sub", "ret", "ap"] {
            let id = format!("{prefix}-{who}");
            let r = app
                .call(
                    &marketer,
                    "PUT",
                    &format!("/v1/content/{id}"),
                    Some(draft(&id)),
                )
                .await;
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
            if prefix != "sub" {
                let r = app
                    .call(&marketer, "POST", &format!("/v1/content/{id}/submit"), None)
                    .await;
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            }
        }
    }
    for (rep, territory) in [("rep-own", "T-0"), ("rep-other", "T-1")] {
        let r = app
            .call(
                &app.admin,
                "PUT",
                &format!("/v1/reps/{rep}"),
                Some(json!({"name": rep, "territories": [territory], "visits_per_week": 5})),
            )
            .await;
        assert!(r.status().is_success());
    }
    let mut suggestion = Vec::new();
    for rep in ["rep-own", "rep-other"] {
        let plan: Value = app
            .call(
                &app.admin,
                "GET",
                &format!("/v1/reps/{rep}/suggestions"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let id = plan["suggestions"][0]["suggestion_id"].as_str();
        suggestion.push(
            id.unwrap_or_else(|| panic!("no suggestion for {rep}: {plan}"))
                .to_owned(),
        );
    }
    // One adverse-event case per role to triage.
    ingest(
        &app,
        roles
            .iter()
            .enumerate()
            .map(|(i, _)| {
                note(
                    &format!("ae-{i}"),
                    0,
                    "Her patient had a bad rash after the first dose",
                )
            })
            .collect(),
    )
    .await;
    let pv_reader = app.signed_in("pv-reader", "pv_officer").await;
    let cases: Value = app
        .call(&pv_reader, "GET", "/v1/ae-cases", None)
        .await
        .json()
        .await
        .unwrap();
    let cases: Vec<String> = cases["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cases.len(), roles.len());

    let mut checked = 0;
    for (i, role) in roles.iter().enumerate() {
        let who = role.as_str();
        // Machines hold keys; people sign in.
        let credential = match role {
            Role::Ingest => app.ingest.clone(),
            Role::Tracking => {
                openclm::create_key(&app.store, Role::Tracking, "test")
                    .await
                    .unwrap()
                    .1
            }
            Role::Rep => app.user(who, who, &["T-0"]).await,
            _ => app.user(who, who, &[]).await,
        };
        for r in routes(who, &suggestion[0], &suggestion[1], &cases[i]) {
            assert_eq!(r.person, r.action.personal().is_some(), "{}", r.path);
            let scope = role.scope(r.action);
            let mut allowed = match (scope, r.object) {
                (Scope::Denied, _) => false,
                (Scope::All, _) => true,
                (Scope::OwnTerritories, object) => object != Object::Other,
            };
            if r.person && matches!(role, Role::Ingest | Role::Tracking) {
                allowed = false;
            }
            let response = app
                .call(&credential, r.method, &r.path, r.body.clone())
                .await;
            let status = response.status().as_u16();
            let text: String = response.text().await.unwrap().chars().take(300).collect();
            let what = format!("{who} {} {} -> {status}: {text}", r.method, r.path);
            if allowed {
                assert!(![401, 403].contains(&status), "allowed but refused: {what}");
                if r.object != Object::None {
                    assert_ne!(status, 404, "allowed but hidden: {what}");
                }
            } else if scope == Scope::OwnTerritories {
                // Outside their territories a record reads as missing; a listing names the field.
                assert!(
                    [404, 422].contains(&status),
                    "should be out of reach: {what}"
                );
            } else {
                assert_eq!(status, 403, "should be forbidden: {what}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8 * 50, "{checked} calls checked");
    // The audit trail names who erased (the admin and the privacy officer, the only ones
    // allowed).
    let audit: Value = app
        .call(&app.admin, "GET", "/v1/audit", None)
        .await
        .json()
        .await
        .unwrap();
    let erasers: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "erase")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(erasers, ["user:admin", "user:privacy_officer"]);
}

/// A response as a client sees it: status, the headers that describe the body, and the body.
async fn seen(r: reqwest::Response) -> (u16, Option<String>, Option<String>, String) {
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (content_type, length) = (header("content-type"), header("content-length"));
    (
        r.status().as_u16(),
        content_type,
        length,
        r.text().await.unwrap(),
    )
}

#[tokio::test]
async fn a_rep_cannot_tell_another_territorys_records_from_missing_ones() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(3).await;
    approved(&app, "C-DECK", "slide_deck", "dosing").await;
    for (rep, territory) in [("rep-own", "T-0"), ("rep-other", "T-1")] {
        let r = app
            .call(
                &app.admin,
                "PUT",
                &format!("/v1/reps/{rep}"),
                Some(json!({"name": rep, "territories": [territory], "visits_per_week": 5})),
            )
            .await;
        assert!(r.status().is_success());
    }
    let plan: Value = app
        .call(&app.admin, "GET", "/v1/reps/rep-other/suggestions", None)
        .await
        .json()
        .await
        .unwrap();
    let foreign_suggestion = plan["suggestions"][0]["suggestion_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no suggestion for rep-other: {plan}"))
        .to_owned();
    let rep = app.user("rita", "rep", &["T-0"]).await;
    // hcp-1 and rep-other are in T-1, outside the rep's territory; the others do not exist.
    let dismiss = json!({"status": "dismissed", "reason": "no_time"});
    // (method, foreign path, missing path, foreign body, missing body)
    type Pair = (&'static str, String, String, Option<Value>, Option<Value>);
    let pairs: Vec<Pair> = vec![
        (
            "GET",
            "/v1/hcps/hcp-1".into(),
            "/v1/hcps/hcp-9".into(),
            None,
            None,
        ),
        (
            "GET",
            "/v1/hcps/hcp-1/timeline".into(),
            "/v1/hcps/hcp-9/timeline".into(),
            None,
            None,
        ),
        (
            "GET",
            "/v1/hcps/hcp-1/consent".into(),
            "/v1/hcps/hcp-9/consent".into(),
            None,
            None,
        ),
        (
            "GET",
            "/v1/hcps/hcp-1/state".into(),
            "/v1/hcps/hcp-9/state".into(),
            None,
            None,
        ),
        (
            "POST",
            "/v1/decide".into(),
            "/v1/decide".into(),
            Some(json!({"hcp": "hcp-1"})),
            Some(json!({"hcp": "hcp-9"})),
        ),
        (
            "GET",
            "/v1/reps/rep-other".into(),
            "/v1/reps/rep-none".into(),
            None,
            None,
        ),
        (
            "GET",
            "/v1/reps/rep-other/suggestions".into(),
            "/v1/reps/rep-none/suggestions".into(),
            None,
            None,
        ),
        (
            "GET",
            format!("/v1/suggestions/{foreign_suggestion}"),
            "/v1/suggestions/sug-none".into(),
            None,
            None,
        ),
        (
            "POST",
            format!("/v1/suggestions/{foreign_suggestion}/feedback"),
            "/v1/suggestions/sug-none/feedback".into(),
            Some(dismiss.clone()),
            Some(dismiss),
        ),
    ];
    for (method, foreign, missing, foreign_body, missing_body) in pairs {
        let of_foreign = seen(app.call(&rep, method, &foreign, foreign_body).await).await;
        let of_missing = seen(app.call(&rep, method, &missing, missing_body).await).await;
        assert_eq!(of_foreign.0, 404, "{method} {foreign}: {of_foreign:?}");
        assert_eq!(
            of_foreign, of_missing,
            "{method} {foreign} and {missing} answer differently"
        );
    }
    // The HCP's answer is the one a missing HCP gets from anyone.
    let missing = seen(app.call(&app.admin, "GET", "/v1/hcps/hcp-9", None).await).await;
    let foreign = seen(app.call(&rep, "GET", "/v1/hcps/hcp-1", None).await).await;
    assert_eq!(foreign, missing);
    assert_eq!(
        serde_json::from_str::<Value>(&foreign.3).unwrap()["error"]["message"],
        "HCP not found"
    );
}

#[tokio::test]
async fn api_keys_of_any_role_may_not_review_triage_or_answer_privacy_requests() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(2).await;
    // An approval made in another MLR system still loads through an ingest key.
    approved(&app, "K-WD", "email_template", "efficacy").await;
    let marketer = app.user("author", "marketer", &[]).await;
    for id in ["K-RET", "K-AP"] {
        let r = app
            .call(
                &marketer,
                "PUT",
                &format!("/v1/content/{id}"),
                Some(draft(id)),
            )
            .await;
        assert_eq!(r.status(), 201);
        // Submitting a draft is an author's step, which a marketer's integration may take.
        let r = app
            .call(
                &app.admin,
                "POST",
                &format!("/v1/content/{id}/submit"),
                None,
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    ingest(
        &app,
        vec![note(
            "ae-k",
            0,
            "Her patient had a bad rash after the first dose",
        )],
    )
    .await;
    let person = app.user("root", "admin", &[]).await;
    let cases: Value = app
        .call(&person, "GET", "/v1/ae-cases", None)
        .await
        .json()
        .await
        .unwrap();
    let case = cases["items"][0]["case_id"].as_str().unwrap().to_owned();
    let steps: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            "/v1/content/K-RET/return".into(),
            Some(json!({"reason": "claims need a reference"})),
        ),
        (
            "POST",
            "/v1/content/K-AP/approve".into(),
            Some(json!({"password": PASSWORD, "approval_code": "CZ-9",
                "expires_at": "2027-06-01T00:00:00Z"})),
        ),
        (
            "POST",
            "/v1/content/K-WD/withdraw".into(),
            Some(json!({"reason": "label change"})),
        ),
        ("GET", "/v1/ae-cases".into(), None),
        ("GET", format!("/v1/ae-cases/{case}"), None),
        (
            "POST",
            format!("/v1/ae-cases/{case}/triage"),
            Some(json!({"status": "not_ae", "note": "a figure of speech"})),
        ),
        ("GET", "/v1/privacy/hcps/hcp-1".into(), None),
        (
            "POST",
            "/v1/privacy/hcps/hcp-1/erase".into(),
            Some(json!({"reason": "request 7"})),
        ),
    ];
    for (method, path, body) in &steps {
        let r = app.call(&app.admin, method, path, body.clone()).await;
        assert_eq!(r.status(), 403, "admin key {method} {path}");
        let e: Value = r.json().await.unwrap();
        let message = e["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("requires a signed-in person; API keys may not"),
            "{method} {path}: {message}"
        );
    }
    // Nothing the key asked for happened.
    let status = |id: &'static str| {
        let app = &app;
        async move {
            app.call(&app.admin, "GET", &format!("/v1/content/{id}"), None)
                .await
                .json::<Value>()
                .await
                .unwrap()["status"]
                .clone()
        }
    };
    assert_eq!(status("K-RET").await, "in_review");
    assert_eq!(status("K-AP").await, "in_review");
    assert_eq!(status("K-WD").await, "approved");
    assert_eq!(
        app.call(&app.admin, "GET", "/v1/hcps/hcp-1", None)
            .await
            .status(),
        200
    );
    // The key is told what it may do, without these.
    let me: Value = app
        .call(&app.admin, "GET", "/v1/me", None)
        .await
        .json()
        .await
        .unwrap();
    let may: Vec<&str> = me["may"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        may.contains(&"IngestEvents") && !may.contains(&"ReviewContent"),
        "{may:?}"
    );
    // A signed-in admin does each of them (the author is someone else).
    for (method, path, body) in steps {
        let r = app.call(&person, method, &path, body).await;
        assert_eq!(
            r.status(),
            200,
            "admin person {method} {path}: {}",
            r.text().await.unwrap()
        );
    }
    assert_eq!(status("K-RET").await, "draft");
    assert_eq!(status("K-AP").await, "approved");
    assert_eq!(status("K-WD").await, "withdrawn");
}

#[tokio::test]
async fn with_a_one_minute_idle_time_a_busy_session_stays_signed_in_and_a_silent_minute_ends_it() {
    let config = ApiConfig {
        session_idle_ms: 60_000,
        ..ApiConfig::default()
    };
    let (app, clock) = spawn_app_at(config, start()).await;
    let token = app.user("ana", "analyst", &[]).await;
    // A request every 30 s for 5 minutes: signed in throughout.
    for step in 1..=10 {
        clock.fetch_add(30_000, Ordering::SeqCst);
        let r = app.call(&token, "GET", "/v1/me", None).await;
        assert_eq!(r.status(), 200, "after {} s of use", step * 30);
    }
    // A request a moment after another is not written down, yet counts.
    clock.fetch_add(300, Ordering::SeqCst);
    assert_eq!(app.call(&token, "GET", "/v1/me", None).await.status(), 200);
    clock.fetch_add(60_000, Ordering::SeqCst);
    assert_eq!(app.call(&token, "GET", "/v1/me", None).await.status(), 200);
    // 61 s without a request: signed out, for good.
    clock.fetch_add(61_000, Ordering::SeqCst);
    assert_eq!(app.call(&token, "GET", "/v1/me", None).await.status(), 401);
    clock.fetch_add(1_000, Ordering::SeqCst);
    assert_eq!(app.call(&token, "GET", "/v1/me", None).await.status(), 401);
}

fn minutes(clock: &std::sync::atomic::AtomicI64, n: i64) {
    clock.fetch_add(n * 60_000, Ordering::SeqCst);
}

#[tokio::test]
async fn sessions_end_at_logout_and_when_idle_and_failed_logins_lock_the_account() {
    let (app, clock) = spawn_app_at(ApiConfig::default(), start()).await;
    let root = app.user("root", "admin", &[]).await;
    // A key may not make people.
    let r = app
        .call(
            &app.admin,
            "POST",
            "/v1/users",
            Some(json!({"user_id": "x",
            "display_name": "X", "role": "analyst", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status(), 403);
    // The password policy names the field.
    let r = app
        .call(
            &root,
            "POST",
            "/v1/users",
            Some(json!({"user_id": "short",
            "display_name": "S", "role": "analyst", "password": "elevenchars"})),
        )
        .await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["field"], "password");
    // A rep is bound to territories.
    let r = app
        .call(
            &root,
            "POST",
            "/v1/users",
            Some(json!({"user_id": "r",
            "display_name": "R", "role": "rep", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "territories"
    );

    let token = app.user("ana", "analyst", &[]).await;
    let me: Value = app
        .call(&token, "GET", "/v1/me", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["actor"].as_str(), me["role"].as_str()),
        (Some("user:ana"), Some("analyst"))
    );
    // Idle for 29 minutes: still signed in; then 31 minutes without a request: signed out.
    minutes(&clock, 29);
    assert_eq!(app.call(&token, "GET", "/v1/me", None).await.status(), 200);
    minutes(&clock, 31);
    assert_eq!(app.call(&token, "GET", "/v1/me", None).await.status(), 401);

    // Logout ends the session on the server, whoever holds the token.
    let token = app.login("ana", PASSWORD).await.unwrap();
    assert_eq!(
        app.call(&token, "POST", "/v1/logout", None).await.status(),
        204
    );
    assert_eq!(app.call(&token, "GET", "/v1/me", None).await.status(), 401);

    // The session cookie is HttpOnly, Secure and SameSite, and works on its own.
    let r = app
        .client
        .post(format!("{}/v1/login", app.base))
        .json(&json!({"user_id": "ana", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap();
    let r = app
        .client
        .get(format!("{}/v1/me", app.base))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Five wrong passwords lock the account for 15 minutes, even against the right one; an
    // unknown account is refused the same way.
    for _ in 0..5 {
        assert_eq!(app.login("ana", "wrong password!").await, Err(403));
    }
    assert_eq!(app.login("ana", PASSWORD).await, Err(403));
    assert_eq!(app.login("nobody", PASSWORD).await, Err(403));
    minutes(&clock, 16);
    assert!(app.login("ana", PASSWORD).await.is_ok());

    // A disabled account's sessions end at once.
    let root = app.login("root", PASSWORD).await.unwrap();
    let token = app.login("ana", PASSWORD).await.unwrap();
    assert_eq!(
        app.call(&root, "POST", "/v1/users/ana/disable", None)
            .await
            .status(),
        204
    );
    assert_eq!(app.call(&token, "GET", "/v1/me", None).await.status(), 401);
    // Revoked keys stop working.
    let made: Value = app
        .call(
            &root,
            "POST",
            "/v1/keys",
            Some(json!({"role": "analyst", "label": "bi"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = made["key"].as_str().unwrap();
    assert_eq!(
        app.call(key, "GET", "/v1/content", None).await.status(),
        200
    );
    let id = made["record"]["key_id"].as_str().unwrap();
    assert_eq!(
        app.call(&root, "DELETE", &format!("/v1/keys/{id}"), None)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.call(key, "GET", "/v1/content", None).await.status(),
        401
    );
    // Personal duties cannot be given to a key.
    let r = app
        .call(
            &root,
            "POST",
            "/v1/keys",
            Some(json!({"role": "mlr_reviewer", "label": "x"})),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "role");
}

#[tokio::test]
async fn content_moves_through_review_with_separation_of_duties_and_an_expiring_signature() {
    let (app, clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(1).await;
    let marketer = app.user("mia", "marketer", &[]).await;
    let reviewer = app.user("rita", "mlr_reviewer", &[]).await;
    let admin = app.user("ada", "admin", &[]).await;
    let step = |who: &str, id: &str, step: &str, body: Value| {
        let (app, who) = (&app, who.to_owned());
        let path = format!("/v1/content/{id}/{step}");
        async move { app.call(&who, "POST", &path, Some(body)).await }
    };
    // A person writes drafts only: status is set through the lifecycle.
    let mut sneaky = draft("EM-1");
    sneaky["status"] = json!("approved");
    let r = app
        .call(&marketer, "PUT", "/v1/content/EM-1", Some(sneaky))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "status");
    assert_eq!(
        app.call(&marketer, "PUT", "/v1/content/EM-1", Some(draft("EM-1")))
            .await
            .status(),
        201
    );
    assert_eq!(
        step(&marketer, "EM-1", "submit", json!({})).await.status(),
        200
    );
    let approval = json!({"password": PASSWORD, "approval_code": "CZ-2026-7",
        "expires_at": "2026-11-12T09:00:00Z"});
    // The marketer may not approve at all.
    assert_eq!(
        step(&marketer, "EM-1", "approve", approval.clone())
            .await
            .status(),
        403
    );
    // The signature needs the password again, and the right one.
    let r = step(
        &reviewer,
        "EM-1",
        "approve",
        json!({"approval_code": "X", "expires_at": "2027-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "password"
    );
    let mut wrong = approval.clone();
    wrong["password"] = json!("not my password");
    assert_eq!(
        step(&reviewer, "EM-1", "approve", wrong).await.status(),
        403
    );
    let r = step(&reviewer, "EM-1", "approve", approval.clone()).await;
    assert_eq!(r.status(), 200);
    let approved: Value = r.json().await.unwrap();
    let c = &approved["content"];
    assert_eq!(c["status"], "approved");
    assert_eq!(c["approval_code"], "CZ-2026-7");
    let signature = &c["mlr"]["signature"];
    assert_eq!(signature["printed_name"], "rita (test)");
    assert_eq!(signature["meaning"], "approved for distribution");
    assert_eq!(signature["signed_at"], "2026-11-02T09:00:00.000Z");
    assert_eq!(c["mlr"]["author"], "user:mia");
    assert!(
        c["mlr"]["approved_hash"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );

    // An author never approves their own work, admin or not.
    assert_eq!(
        app.call(&admin, "PUT", "/v1/content/EM-2", Some(draft("EM-2")))
            .await
            .status(),
        201
    );
    assert_eq!(
        step(&admin, "EM-2", "submit", json!({})).await.status(),
        200
    );
    let r = step(&admin, "EM-2", "approve", approval.clone()).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("separation of duties"));

    // Expiry warnings 30 days ahead; expired at expires_at by the clock alone; never decided on.
    let expiring: Value = app
        .call(&marketer, "GET", "/v1/content/expiring", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(expiring["items"][0]["id"], "EM-1");
    let grant = {
        let mut e = event("grant-0", 0, 1);
        e["type"] = json!("consent_changed");
        e["state"] = json!("granted");
        e
    };
    ingest(&app, vec![grant]).await;
    let decided: Value = app
        .call(
            &marketer,
            "POST",
            "/v1/decide",
            Some(json!({"hcp": "hcp-0", "channels": ["email"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        decided["decisions"][0]["chosen"]["content_id"], "EM-1",
        "{decided}"
    );
    minutes(&clock, 10 * 24 * 60);
    // Ten days on, the sessions have long ended: sign in again.
    let marketer = app.login("mia", PASSWORD).await.unwrap();
    let reviewer = app.login("rita", PASSWORD).await.unwrap();
    let admin = app.login("ada", PASSWORD).await.unwrap();
    let now: Value = app
        .call(&marketer, "GET", "/v1/content/EM-1", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["status"], "expired");
    let decided: Value = app
        .call(
            &marketer,
            "POST",
            "/v1/decide",
            Some(json!({"hcp": "hcp-0", "channels": ["email"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let d = &decided["decisions"][0];
    assert!(d["chosen"].is_null(), "{d}");
    // Expired content is no candidate at all.
    assert!(!d.to_string().contains("\"EM-1\""), "{d}");
    assert!(
        d["nothing_allowed"]
            .as_str()
            .unwrap()
            .contains("no approved content"),
        "{d}"
    );
    // An edit of an approved version makes it a draft again; withdrawal needs a reason.
    assert_eq!(
        app.call(&admin, "PUT", "/v1/content/EM-3", Some(draft("EM-3")))
            .await
            .status(),
        201
    );
    assert_eq!(
        step(&admin, "EM-3", "submit", json!({})).await.status(),
        200
    );
    let later = json!({"password": PASSWORD, "approval_code": "CZ-8", "expires_at": "2027-06-01T00:00:00Z"});
    assert_eq!(
        step(&reviewer, "EM-3", "approve", later).await.status(),
        200
    );
    let mut edited = draft("EM-3");
    edited["title"] = json!("A new claim");
    let r: Value = app
        .call(&marketer, "PUT", "/v1/content/EM-3", Some(edited))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "draft");
    assert_eq!(r["approval_code"], Value::Null);
    let r = step(&reviewer, "EM-1", "withdraw", json!({})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "reason");
}

#[tokio::test]
async fn withdrawal_mid_campaign_stops_later_decisions_sends_and_suggestions_at_once() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(40).await;
    approved(&app, "EM-1", "email_template", "efficacy").await;
    approved(&app, "DECK-1", "slide_deck", "dosing").await;
    let grants: Vec<Value> = (0..40)
        .map(|i| {
            let mut e = event(&format!("grant-{i}"), i, 1);
            e["type"] = json!("consent_changed");
            e["state"] = json!("granted");
            e
        })
        .collect();
    ingest(&app, grants).await;
    let campaign = json!({"id": "launch", "name": "Launch", "product": "cardiozan",
        "target": {"specialties": ["cardiology"]},
        "arms": [{"name": "email", "content_id": "EM-1", "channels": ["email"]}],
        "holdout_share": 0.2,
        "waves": [{"at": "2026-11-02T08:00:00Z"}, {"at": "2026-11-09T08:00:00Z"}]});
    assert_eq!(
        app.call(&app.admin, "POST", "/v1/campaigns", Some(campaign))
            .await
            .status(),
        201
    );
    let first: Value = app
        .call(&app.admin, "POST", "/v1/campaigns/launch/waves/1/run", None)
        .await
        .json()
        .await
        .unwrap();
    let sent = first["summary"]["decided"].as_u64().unwrap();
    assert!(sent > 0, "{first}");
    // The send history names the content version each HCP got.
    let sends: Value = app
        .call(&app.admin, "GET", "/v1/content/EM-1/sends", None)
        .await
        .json()
        .await
        .unwrap();
    let sends = sends["sends"].as_array().unwrap();
    assert_eq!(sends.len() as u64, sent);
    assert!(
        sends
            .iter()
            .all(|s| s["content_version"] == 1 && s["channel"] == "email")
    );
    // A rep's plan with the deck.
    let r = app
        .call(
            &app.admin,
            "PUT",
            "/v1/reps/rep-1",
            Some(json!({"name": "Rep", "territories": ["T-0"], "visits_per_week": 5})),
        )
        .await;
    assert!(r.status().is_success());
    let plan: Value = app
        .call(&app.admin, "GET", "/v1/reps/rep-1/suggestions", None)
        .await
        .json()
        .await
        .unwrap();
    let pending = plan["suggestions"].as_array().unwrap().len();
    assert!(pending > 0, "{plan}");

    let reviewer = app.user("rita", "mlr_reviewer", &[]).await;
    for id in ["EM-1", "DECK-1"] {
        let r = app
            .call(
                &reviewer,
                "POST",
                &format!("/v1/content/{id}/withdraw"),
                Some(json!({"reason": "superseded by the new label"})),
            )
            .await;
        assert_eq!(r.status(), 200);
        let stopped: Value = r.json().await.unwrap();
        if id == "EM-1" {
            // Sends not yet reported delivered are stopped.
            assert_eq!(stopped["stopped"]["sends_cancelled"].as_u64(), Some(sent));
        } else {
            assert_eq!(
                stopped["stopped"]["suggestions_cancelled"].as_u64(),
                Some(pending as u64)
            );
        }
    }
    let plan: Value = app
        .call(&app.admin, "GET", "/v1/reps/rep-1/suggestions", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        plan["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "cancelled"),
        "{plan}"
    );
    let second: Value = app
        .call(&app.admin, "POST", "/v1/campaigns/launch/waves/2/run", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["summary"]["decided"], 0, "{second}");
    let sends: Value = app
        .call(&app.admin, "GET", "/v1/content/EM-1/sends", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sends["sends"].as_array().unwrap().len() as u64, sent);
}

#[tokio::test]
async fn free_text_is_screened_into_a_pv_case_that_only_pv_reads_with_its_clock() {
    let (app, clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(1).await;
    let pv = app.user("pia", "pv_officer", &[]).await;
    let marketer = app.user("mia", "marketer", &[]).await;
    let text = "Patient told her the tablets made her vomit twice, she stopped taking them";
    ingest(
        &app,
        vec![
            note("n-1", 0, text),
            note("n-2", 0, "Wants the webinar dates; no side effects"),
        ],
    )
    .await;
    // The note's text is held for PV: the timeline, profiles and decisions never see it.
    let timeline: Value = app
        .call(&app.admin, "GET", "/v1/hcps/hcp-0/timeline", None)
        .await
        .json()
        .await
        .unwrap();
    let held = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_id"] == "n-1")
        .unwrap();
    assert!(
        held["event"]["notes"]
            .as_str()
            .unwrap()
            .starts_with("[held for pharmacovigilance: ae-")
    );
    assert!(!timeline.to_string().contains("vomit"));
    assert_eq!(
        app.call(&marketer, "GET", "/v1/ae-cases", None)
            .await
            .status(),
        403
    );
    let queue: Value = app
        .call(&pv, "GET", "/v1/ae-cases", None)
        .await
        .json()
        .await
        .unwrap();
    let cases = queue["items"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case["text"], text);
    assert_eq!(case["received_at"], "2026-11-02T09:00:00.000Z");
    assert_eq!(case["time_left_s"], 24 * 3600);
    assert_eq!(case["findings"]["criteria"]["reporter"], true);
    assert_eq!(case["findings"]["criteria"]["patient"], true);
    let id = case["case_id"].as_str().unwrap().to_owned();
    // Day zero never moves: a resend a day later changes nothing, nor can SQL.
    minutes(&clock, 25 * 60);
    let pv = app.login("pia", PASSWORD).await.unwrap();
    let again = app
        .post_events(
            &app.ingest,
            "application/json",
            json!([note("n-1", 0, text)]).to_string(),
        )
        .await;
    assert_eq!(again.json::<Value>().await.unwrap()["duplicates"], 1);
    let db = rusqlite::Connection::open(app.dir.path().join("api.db")).unwrap();
    let tampered = db.execute("UPDATE ae_cases SET received_at = received_at + 1", []);
    assert!(tampered.unwrap_err().to_string().contains("immutable"));
    // Overdue now: listed first with its time past, and alerted once.
    let overdue: Value = app
        .call(&pv, "GET", "/v1/ae-cases?overdue=true", None)
        .await
        .json()
        .await
        .unwrap();
    let case = &overdue["items"][0];
    assert_eq!(case["case_id"], id.as_str());
    assert_eq!(case["overdue"], true);
    assert_eq!(case["time_left_s"], -3600);
    let now = Timestamp::from_millis(clock.load(Ordering::SeqCst));
    assert_eq!(
        openclm_app::pv::alert_overdue(&app.store, now, None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        openclm_app::pv::alert_overdue(&app.store, now, None)
            .await
            .unwrap(),
        0
    );
    // Triage: forwarding needs the safety database's reference.
    let triage = |body: Value| {
        let (app, pv, path) = (&app, pv.clone(), format!("/v1/ae-cases/{id}/triage"));
        async move { app.call(&pv, "POST", &path, Some(body)).await }
    };
    let r = triage(json!({"status": "ae_forwarded"})).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["field"],
        "external_ref"
    );
    let r: Value = triage(json!({"status": "ae_forwarded", "external_ref": "SAF-2026-0042"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["status"].as_str(), r["triaged_by"].as_str()),
        (Some("ae_forwarded"), Some("pia"))
    );
    assert_eq!(
        triage(json!({"status": "not_ae", "note": "x"}))
            .await
            .status(),
        409
    );
    let report: Value = app
        .call(&pv, "GET", "/v1/ae-cases/reconciliation", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        report["sources"],
        json!([{"source": "crm", "screened": 2, "flagged": 1, "forwarded": 1, "acknowledged": 1}])
    );
}

#[tokio::test]
async fn an_unsubscribe_on_any_channel_blocks_email_decisions_at_once() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    let channels = [
        "email",
        "sms",
        "web",
        "face_to_face",
        "mobile_app",
        "direct_mail",
        "webinar",
    ];
    app.seed_hcps(channels.len() + 1).await;
    approved(&app, "EM-1", "email_template", "efficacy").await;
    let mut events = Vec::new();
    for i in 0..=channels.len() {
        let mut e = event(&format!("grant-{i}"), i, 1);
        e["type"] = json!("consent_changed");
        e["state"] = json!("granted");
        e["evidence"] = json!(format!("form submission F-{i}"));
        e["notice_version"] = json!("privacy-notice-v3");
        events.push(e);
    }
    for (i, channel) in channels.iter().enumerate() {
        let mut e = event(&format!("unsub-{i}"), i, 2);
        e["type"] = json!("unsubscribed");
        e["channel"] = json!(channel);
        events.push(e);
    }
    ingest(&app, events).await;
    let hcps: Vec<String> = (0..=channels.len()).map(|i| format!("hcp-{i}")).collect();
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
    let decisions = decided["decisions"].as_array().unwrap();
    for (i, channel) in channels.iter().enumerate() {
        let d = &decisions[i];
        assert!(
            d["chosen"].is_null(),
            "unsubscribed on {channel}, still emailed: {d}"
        );
        assert!(
            d["blocked"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["channel"] == "email" && b["code"] == "consent_withdrawn"),
            "{channel}: {d}"
        );
    }
    // The HCP who did not unsubscribe still gets email.
    assert_eq!(decisions[channels.len()]["chosen"]["channel"], "email");
    // A re-imported contact list that marks everyone opted in again does not re-subscribe them;
    // the HCP's own new opt-in, with its evidence, does.
    let mut reimport = event("reimport-0", 0, 3);
    reimport["type"] = json!("consent_changed");
    reimport["state"] = json!("granted");
    reimport["source"] = json!("crm");
    ingest(&app, vec![reimport]).await;
    let email_for = |hcp: &'static str| {
        let app = &app;
        async move {
            let d: Value = app
                .call(
                    &app.admin,
                    "POST",
                    "/v1/decide",
                    Some(json!({"hcp": hcp, "channels": ["email"]})),
                )
                .await
                .json()
                .await
                .unwrap();
            d["decisions"][0]["chosen"]["channel"]
                .as_str()
                .map(str::to_owned)
        }
    };
    assert_eq!(email_for("hcp-0").await, None);
    let mut own = event("optin-0", 0, 4);
    own["type"] = json!("consent_changed");
    own["state"] = json!("granted");
    own["evidence"] = json!("double opt-in confirmed");
    ingest(&app, vec![own]).await;
    assert_eq!(email_for("hcp-0").await.as_deref(), Some("email"));
    // The history is kept whole, with its evidence, and rebuilds the current state.
    let consent: Value = app
        .call(&app.admin, "GET", "/v1/hcps/hcp-1/consent", None)
        .await
        .json()
        .await
        .unwrap();
    let history: Vec<(String, String, String)> = consent["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["channel"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
                r["evidence"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            (
                "email".into(),
                "granted".into(),
                "form submission F-1".into()
            ),
            ("sms".into(), "withdrawn".into(), String::new()),
            (
                "email".into(),
                "withdrawn".into(),
                "unsubscribed on sms".into()
            ),
        ]
    );
    assert_eq!(consent["history"][0]["notice_version"], "privacy-notice-v3");
    let current: Vec<(&str, &str)> = consent["current"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["channel"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(current, [("email", "withdrawn"), ("sms", "withdrawn")]);
}

const BIN: &str = env!("CARGO_BIN_EXE_openclm");

fn cli(db: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .args(["--database-url", db.to_str().unwrap()])
        .env("OPENCLM_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_audit_trail_rebuilds_a_fields_history_and_verify_names_a_tampered_entry() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    let marketer = app.user("mia", "marketer", &[]).await;
    let privacy = app.user("pat", "privacy_officer", &[]).await;
    for title in ["First title", "Second title", "Third title"] {
        let mut body = draft("EM-A");
        body["title"] = json!(title);
        let r = app
            .call(&marketer, "PUT", "/v1/content/EM-A", Some(body))
            .await;
        assert!(r.status().is_success());
    }
    // The three values, from the audit trail alone.
    let trail: Value = app
        .call(&privacy, "GET", "/v1/audit?record=content/EM-A", None)
        .await
        .json()
        .await
        .unwrap();
    let entries = trail["entries"].as_array().unwrap();
    let title = |text: &Value| -> String {
        let v: Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
        v["title"].as_str().unwrap().to_owned()
    };
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update", "update"]);
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == "user:mia" && e["at"] == "2026-11-02T09:00:00.000Z")
    );
    assert_eq!(entries[0]["old_value"], Value::Null);
    let history = [
        title(&entries[0]["new_value"]),
        title(&entries[1]["old_value"]),
        title(&entries[1]["new_value"]),
        title(&entries[2]["old_value"]),
        title(&entries[2]["new_value"]),
    ];
    assert_eq!(
        history,
        [
            "First title",
            "First title",
            "Second title",
            "Second title",
            "Third title"
        ]
    );
    // The command line prints the same history, and an intact chain.
    let db = app.dir.path().join("api.db");
    let out = cli(
        &db,
        &[
            "audit",
            "export",
            "--record",
            "content/EM-A",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success());
    let exported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 3);
    let out = cli(&db, &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));

    // SQL cannot change or remove an entry; someone who goes around the triggers is caught,
    // and the entry is named.
    let seq = entries[1]["seq"].as_i64().unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let refused = conn.execute(
        "UPDATE audit_log SET actor = 'user:mallory' WHERE seq = ?1",
        [seq],
    );
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    assert!(
        conn.execute("DELETE FROM audit_log WHERE seq = ?1", [seq])
            .is_err()
    );
    conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
    conn.execute(
        "UPDATE audit_log SET new_value = replace(new_value, 'Second', 'Forged') WHERE seq = ?1",
        [seq],
    )
    .unwrap();
    let removed = entries[0]["seq"].as_i64().unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq = ?1", [removed])
        .unwrap();
    let out = cli(&db, &["audit", "verify"]);
    assert!(!out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("entry {seq} (content/EM-A) was altered")),
        "{report}"
    );
    assert!(
        report.contains(&format!("entry {removed} was deleted")),
        "{report}"
    );
}

#[tokio::test]
async fn erasure_leaves_no_personal_field_in_the_database_file_and_past_kpis_unchanged() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(30).await;
    let (name, email, crm) = ("Zelda Quintero", "zelda.quintero@example.org", "CRM-ZQ-991");
    let r = app
        .put_hcp(
            "hcp-zq",
            json!({"name": name, "specialty": "cardiology", "country": "DE",
            "territory": "T-0", "email": email,
            "external_ids": [{"system": "crm", "id": crm}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    approved(&app, "EM-1", "email_template", "efficacy").await;
    let at = |minute: i64| {
        Timestamp::from_millis(start().millis() - 86_400_000 + minute * 60_000).to_string()
    };
    let mut events: Vec<Value> = (0..30)
        .map(|i| {
            let mut e = event(&format!("grant-{i}"), i, 1);
            e["type"] = json!("consent_changed");
            e["state"] = json!("granted");
            e
        })
        .collect();
    events.push(
        json!({"event_id": "grant-zq", "occurred_at": at(1), "hcp": crm, "source": "crm",
        "channel": "email", "type": "consent_changed", "state": "granted",
        "evidence": format!("web form signed by {name}")}),
    );
    ingest(&app, events).await;
    let campaign = json!({"id": "launch", "name": "Launch", "product": "cardiozan",
        "target": {"specialties": ["cardiology"]},
        "arms": [{"name": "email", "content_id": "EM-1", "channels": ["email"]}],
        "holdout_share": 0.3, "waves": [{"at": "2026-11-02T08:00:00Z"}],
        "value_per_outcome": 100, "cost_per_touch": {"email": 1}});
    assert_eq!(
        app.call(&app.admin, "POST", "/v1/campaigns", Some(campaign))
            .await
            .status(),
        201
    );
    let wave = app
        .call(&app.admin, "POST", "/v1/campaigns/launch/waves/1/run", None)
        .await;
    assert_eq!(wave.status(), 201);
    // Reactions of every cardiologist, the erased one among them, and her rep's notes.
    let mut reactions: Vec<Value> = (0..30)
        .filter(|i| i % 2 == 0)
        .map(|i| {
            let mut e = event(&format!("open-{i}"), i, 2);
            e["occurred_at"] = json!(start().to_string());
            e["content_id"] = json!("EM-1");
            e["campaign_id"] = json!("launch");
            e
        })
        .collect();
    let mine = |id: &str, kind: &str| {
        json!({"event_id": id, "occurred_at": start().to_string(), "hcp": crm, "source": "crm",
            "channel": "email", "type": kind, "content_id": "EM-1", "campaign_id": "launch",
            "user_agent": format!("Mail for {email}")})
    };
    reactions.push(mine("open-zq", "opened"));
    reactions.push(mine("click-zq", "clicked"));
    reactions.push(
        json!({"event_id": "note-zq", "occurred_at": start().to_string(), "hcp": crm,
        "source": "crm", "channel": "face_to_face", "type": "call_logged", "rep_id": "rep-1",
        "notes": format!("{name} asked for samples; call her at {email}")}),
    );
    reactions.push(
        json!({"event_id": "ae-zq", "occurred_at": start().to_string(), "hcp": crm,
        "source": "crm", "channel": "face_to_face", "type": "call_logged", "rep_id": "rep-1",
        "notes": "One of her patients developed a rash on the new dose"}),
    );
    ingest(&app, reactions).await;
    let before: Value = app
        .call(&app.admin, "GET", "/v1/campaigns/launch/report", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(!before["lift"].as_array().unwrap().is_empty(), "{before}");

    let privacy = app.user("pat", "privacy_officer", &[]).await;
    let export: Value = app
        .call(&privacy, "GET", "/v1/privacy/hcps/hcp-zq", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(export["hcp"]["name"], name);
    assert_eq!(export["events"].as_array().unwrap().len(), 5);
    assert_eq!(
        export["consent"][0]["evidence"],
        format!("web form signed by {name}")
    );
    let erased = app
        .call(
            &privacy,
            "POST",
            "/v1/privacy/hcps/hcp-zq/erase",
            Some(json!({"reason": "GDPR art. 17 request 2026-118"})),
        )
        .await;
    assert_eq!(erased.status(), 200);
    let erased: Value = erased.json().await.unwrap();
    assert_eq!(erased["events_redacted"], 5);
    assert_eq!(erased["ae_cases_kept"], 1);

    // Past KPIs are the same numbers; the PV case is kept, under the pseudonym.
    let after: Value = app
        .call(&app.admin, "GET", "/v1/campaigns/launch/report", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, before);
    let pv = app.user("pia", "pv_officer", &[]).await;
    let cases: Value = app
        .call(&pv, "GET", "/v1/ae-cases", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cases["items"][0]["hcp_id"], erased["pseudonym"]);
    assert_eq!(
        app.call(&privacy, "GET", "/v1/hcps/hcp-zq", None)
            .await
            .status(),
        404
    );
    // A re-import cannot bring her back.
    let again = app
        .put_hcp(
            "hcp-zq-2",
            json!({"name": name, "specialty": "cardiology", "country": "DE",
            "external_ids": [{"system": "crm", "id": crm}]}),
        )
        .await;
    assert_eq!(
        again.json::<Value>().await.unwrap()["error"]["field"],
        "external_ids[0]"
    );

    // Nothing that named her is left in the file, once the log is checkpointed into it.
    let db = app.dir.path().join("api.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    // A checkpoint completes once no reader holds an older snapshot; retry until it has.
    let mut done = false;
    for _ in 0..100 {
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap();
        if busy == 0 {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(done, "the checkpoint never completed");
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    if let Ok(wal) = std::fs::read(db.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    for needle in [name, "Zelda", "Quintero", email, crm, "hcp-zq"] {
        let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!found, "{needle:?} is still in the database file");
    }
}

#[tokio::test]
async fn erasure_removes_the_hcps_name_from_free_fields_in_the_file_and_the_log_before_answering() {
    let config = ApiConfig {
        segment: std::sync::Arc::new(openclm_core::segment::SegmentConfig {
            source: "crm".into(),
            ..openclm_core::segment::SegmentConfig::default()
        }),
        ..ApiConfig::default()
    };
    let (app, _clock) = spawn_app_at(config, start()).await;
    app.seed_hcps(3).await;
    let (name, email, crm) = (
        "Ottilie Vanderbeek",
        "o.vanderbeek@example.org",
        "CRM-OV-417",
    );
    let r = app
        .put_hcp(
            "hcp-ov",
            json!({"name": name, "specialty": "cardiology", "country": "DE",
            "territory": "T-0", "email": email,
            "external_ids": [{"system": "crm", "id": crm}]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // Her name where no field of the data contract expects it: a CRM's own column, a Segment
    // track's property and traits, a Segment page's name and title.
    ingest(
        &app,
        vec![
            json!({"event_id": "visit-ov", "occurred_at": start().to_string(), "hcp": crm,
            "source": "crm", "channel": "face_to_face", "type": "meeting_attended",
            "contact_name": name, "contact": {"email": email}}),
        ],
    )
    .await;
    let track = json!({"userId": crm, "event": "Email Opened", "messageId": "m-ov-1",
        "timestamp": start().to_string(),
        "properties": {"content_id": "EM-1", "note": format!("opened by {name} at the congress")},
        "context": {"traits": {"name": name, "email": email}}});
    let page = json!({"userId": crm, "messageId": "m-ov-2", "timestamp": start().to_string(),
        "name": format!("Profile {name}"),
        "properties": {"title": format!("Welcome back, {name}"),
            "url": "https://brand.example.org/welcome?who=ottilie-vanderbeek"}});
    for (path, body) in [("/v1/track", track), ("/v1/page", page)] {
        let r = app.call(&app.ingest, "POST", path, Some(body)).await;
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
    }
    let timeline: Value = app
        .call(&app.admin, "GET", "/v1/hcps/hcp-ov/timeline", None)
        .await
        .json()
        .await
        .unwrap();
    let stored = timeline.to_string();
    assert_eq!(timeline["items"].as_array().unwrap().len(), 3, "{stored}");
    assert!(stored.contains(name), "the name is there before: {stored}");

    let privacy = app.user("pat", "privacy_officer", &[]).await;
    let erased = app
        .call(
            &privacy,
            "POST",
            "/v1/privacy/hcps/hcp-ov/erase",
            Some(json!({"reason": "GDPR art. 17 request 2026-201"})),
        )
        .await;
    assert_eq!(erased.status(), 200);
    let erased: Value = erased.json().await.unwrap();
    assert_eq!(erased["events_redacted"], 3);

    // As soon as the erasure is answered, and without a checkpoint of our own: neither the
    // database file nor its write-ahead log holds any of her identifiers.
    let db = app.dir.path().join("api.db");
    let mut bytes = std::fs::read(&db).unwrap();
    if let Ok(wal) = std::fs::read(db.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    let lower = String::from_utf8_lossy(&bytes).to_lowercase();
    for needle in [name, "Ottilie", "Vanderbeek", email, crm, "hcp-ov"] {
        assert!(
            !lower.contains(&needle.to_lowercase()),
            "{needle:?} is still in the database file or its log"
        );
    }
    // What the aggregates read is kept: the events, their types, content and times.
    let mut kinds: Vec<String> = Vec::new();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT e.payload FROM events e JOIN hcps h ON h.hcp_key = e.hcp_key WHERE h.id = ?1",
        )
        .unwrap();
    let pseudonym = erased["pseudonym"].as_str().unwrap();
    for payload in stmt
        .query_map([pseudonym], |r| r.get::<_, String>(0))
        .unwrap()
    {
        let v: Value = serde_json::from_str(&payload.unwrap()).unwrap();
        assert_eq!(v["hcp"], erased["pseudonym"]);
        kinds.push(format!(
            "{}:{}",
            v["type"].as_str().unwrap(),
            v["content_id"]
        ));
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "content_viewed:null",
            "meeting_attended:null",
            "opened:\"EM-1\""
        ]
    );
}

/// A receiver that refuses the first `fail` requests, then takes the rest; what it took.
async fn flaky_receiver(fail: usize) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (taken, count) = (seen.clone(), calls.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (taken, count) = (taken.clone(), count.clone());
            async move {
                if count.fetch_add(1, Ordering::SeqCst) < fail {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                taken.lock().unwrap().push(body);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn an_overdue_case_is_posted_to_the_pv_webhook_until_it_is_taken() {
    use openclm_app::pv::{AlertWebhook, alert_overdue};
    let (app, clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(1).await;
    ingest(
        &app,
        vec![note(
            "n-1",
            0,
            "The patient was hospitalised with chest pain",
        )],
    )
    .await;
    let hook = |url: String| AlertWebhook {
        attempts: 3,
        first_backoff: std::time::Duration::from_millis(20),
        ..AlertWebhook::new(url)
    };
    let now =
        |clock: &std::sync::atomic::AtomicI64| Timestamp::from_millis(clock.load(Ordering::SeqCst));
    // Not due yet: nothing is sent.
    let (url, seen) = flaky_receiver(0).await;
    assert_eq!(
        alert_overdue(&app.store, now(&clock), Some(&hook(url.clone())))
            .await
            .unwrap(),
        0
    );
    minutes(&clock, 24 * 60 + 1);
    // A receiver down for longer than one round's attempts: the case waits for the next round.
    let (down, down_seen) = flaky_receiver(usize::MAX).await;
    assert_eq!(
        alert_overdue(&app.store, now(&clock), Some(&hook(down)))
            .await
            .unwrap(),
        0
    );
    assert!(down_seen.lock().unwrap().is_empty());
    // One that fails twice, then takes it: delivered in the same round, once.
    let (flaky, flaky_seen) = flaky_receiver(2).await;
    assert_eq!(
        alert_overdue(&app.store, now(&clock), Some(&hook(flaky.clone())))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        alert_overdue(&app.store, now(&clock), Some(&hook(flaky)))
            .await
            .unwrap(),
        0
    );
    let taken = flaky_seen.lock().unwrap().clone();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0]["type"], "ae_case_overdue");
    assert_eq!(taken[0]["overdue_by_s"], 60);
    assert!(taken[0]["case_id"].as_str().unwrap().starts_with("ae-"));
    // The alert carries no reported text.
    assert!(!taken[0].to_string().contains("hospitalised"));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_reps_note_on_a_suggestion_is_screened_and_held_for_pv_too() {
    let (app, _clock) = spawn_app_at(ApiConfig::default(), start()).await;
    app.seed_hcps(6).await;
    approved(&app, "DECK-1", "slide_deck", "dosing").await;
    let r = app
        .call(
            &app.admin,
            "PUT",
            "/v1/reps/rep-own",
            Some(json!({"name": "Rep", "territories": ["T-0"], "visits_per_week": 5})),
        )
        .await;
    assert!(r.status().is_success());
    let rep = app.user("ron", "rep", &["T-0"]).await;
    let plan: Value = app
        .call(&rep, "GET", "/v1/reps/rep-own/suggestions", None)
        .await
        .json()
        .await
        .unwrap();
    let id = plan["suggestions"][0]["suggestion_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let note = "Her patient had a severe allergic reaction to it last week";
    let r = app
        .call(
            &rep,
            "POST",
            &format!("/v1/suggestions/{id}/feedback"),
            Some(json!({"status": "dismissed", "reason": "other", "note": note})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let kept: Value = r.json().await.unwrap();
    let held = kept["note"].as_str().unwrap();
    assert!(
        held.starts_with("[held for pharmacovigilance: ae-"),
        "{held}"
    );
    let pv = app.user("pia", "pv_officer", &[]).await;
    let queue: Value = app
        .call(&pv, "GET", "/v1/ae-cases", None)
        .await
        .json()
        .await
        .unwrap();
    let case = &queue["items"][0];
    assert_eq!(case["source"], "rep_feedback");
    assert_eq!(case["event_id"], id.as_str());
    assert_eq!(case["text"], note);
    assert!(held.contains(case["case_id"].as_str().unwrap()));
    // An ordinary note is kept as written.
    let other = plan["suggestions"][1]["suggestion_id"].as_str().unwrap();
    let r: Value = app
        .call(
            &rep,
            "POST",
            &format!("/v1/suggestions/{other}/feedback"),
            Some(json!({"status": "dismissed", "reason": "no_time", "note": "Congress week"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["note"], "Congress week");
}
