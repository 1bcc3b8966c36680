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
    /// Needs a person signed in (a signature, a PV decision, an erasure).
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
        route("POST", format!("/v1/content/sub-{who}/submit"), A::WriteContent),
        route("POST", format!("/v1/content/ret-{who}/return"), A::ReviewContent)
            .body(json!({"reason": "claims need a reference"})),
        route("POST", format!("/v1/content/ap-{who}/approve"), A::ReviewContent)
            .body(json!({"password": PASSWORD, "approval_code": "CZ-9", "expires_at": "2027-06-01T00:00:00Z"}))
            .personal(),
        route("POST", format!("/v1/content/wd-{who}/withdraw"), A::WithdrawContent)
            .body(json!({"reason": "label change"})),
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
        route("GET", "/v1/ae-cases", A::ReadAeCases),
        route("GET", "/v1/ae-cases/reconciliation", A::ReadAeCases),
        route("GET", format!("/v1/ae-cases/{case}"), A::ReadAeCases),
        route("POST", format!("/v1/ae-cases/{case}/triage"), A::TriageAeCases)
            .body(json!({"status": "not_ae", "note": "a figure of speech"}))
            .personal(),
        route("GET", "/v1/audit", A::ReadAudit),
        route("GET", "/v1/privacy/hcps/hcp-2", A::PrivacyRequests),
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
            route("POST", "/v1/decide", A::Decide).body(json!({"hcp": hcp})).on(object),
            route("GET", format!("/v1/reps/{rep}"), A::ReadSuggestions).on(object),
            route("GET", format!("/v1/reps/{rep}/suggestions"), A::ReadSuggestions).on(object),
            route("GET", format!("/v1/suggestions/{suggestion}"), A::ReadSuggestions).on(object),
            route("POST", format!("/v1/suggestions/{suggestion}/feedback"), A::ActOnSuggestions)
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
                .call(&marketer, "PUT", &format!("/v1/content/{id}"), Some(draft(&id)))
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
            .call(&app.admin, "PUT", &format!("/v1/reps/{rep}"),
                Some(json!({"name": rep, "territories": [territory], "visits_per_week": 5})))
            .await;
        assert!(r.status().is_success());
    }
    let mut suggestion = Vec::new();
    for rep in ["rep-own", "rep-other"] {
        let plan: Value = app
            .call(&app.admin, "GET", &format!("/v1/reps/{rep}/suggestions"), None)
            .await
            .json()
            .await
            .unwrap();
        let id = plan["suggestions"][0]["suggestion_id"].as_str();
        suggestion.push(id.unwrap_or_else(|| panic!("no suggestion for {rep}: {plan}")).to_owned());
    }
    // One adverse-event case per role to triage.
    ingest(
        &app,
        roles
            .iter()
            .enumerate()
            .map(|(i, _)| note(&format!("ae-{i}"), 0, "Her patient had a bad rash after the first dose"))
            .collect(),
    )
    .await;
    let cases: Value = app.call(&app.admin, "GET", "/v1/ae-cases", None).await.json().await.unwrap();
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
            Role::Rep => app.user(who, who, &["T-0"]).await,
            _ => app.user(who, who, &[]).await,
        };
        for r in routes(who, &suggestion[0], &suggestion[1], &cases[i]) {
            let scope = role.scope(r.action);
            let mut allowed = match (scope, r.object) {
                (Scope::Denied, _) => false,
                (Scope::All, _) => true,
                (Scope::OwnTerritories, object) => object != Object::Other,
            };
            if r.person && *role == Role::Ingest {
                allowed = false;
            }
            let response = app.call(&credential, r.method, &r.path, r.body.clone()).await;
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
                assert!([404, 422].contains(&status), "should be out of reach: {what}");
            } else {
                assert_eq!(status, 403, "should be forbidden: {what}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8 * 50, "{checked} calls checked");
    // The audit trail names who erased (the admin and the privacy officer, the only ones
    // allowed).
    let audit: Value = app.call(&app.admin, "GET", "/v1/audit", None).await.json().await.unwrap();
    let erasers: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "erase")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(erasers, ["user:admin", "user:privacy_officer"]);
}
