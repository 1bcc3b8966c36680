//! The dashboard in a real headless Chromium: every role signs in and opens every page; the
//! numbers on the pages equal the API's; approving, withdrawing, triaging and acting on
//! suggestions take effect; roles are enforced; the overview updates without a reload; no page
//! logs a console error. Screenshots of each page go to `target/ui-screenshots/`.
//!
//! Plain-HTTP checks of the same pages (sign-in, CSRF, redirects, object rules) run first and
//! need no browser.

mod common;

use std::time::Duration;

use common::browser::{self, Page};
use common::{PASSWORD, TestApp, spawn_app};
use openclm_store::SimulationRun;
use openclm_store::prelude::*;
use serde_json::{Value, json};

/// Every role's account in the fixture, with the pages its role opens and those it may not.
const ROLES: [(&str, &[&str], &[&str]); 7] = [
    (
        "marketer",
        &[
            "/",
            "/campaigns",
            "/campaigns/launch",
            "/hcps",
            "/hcps/hcp-1",
            "/content",
            "/content/CZ-EM-1",
            "/rep?rep=rep-T-0",
            "/simulator",
        ],
        &["/pv", "/audit"],
    ),
    (
        "reviewer",
        &["/content", "/content/CZ-NEW"],
        &["/campaigns", "/pv", "/hcps", "/audit", "/simulator"],
    ),
    (
        "pv",
        &["/pv", "/hcps", "/hcps/hcp-0"],
        &["/campaigns", "/content", "/simulator", "/audit"],
    ),
    (
        "privacy",
        &["/audit", "/hcps", "/hcps/hcp-2"],
        &["/campaigns", "/content", "/pv", "/simulator"],
    ),
    (
        "analyst",
        &[
            "/",
            "/campaigns",
            "/campaigns/launch",
            "/hcps",
            "/content",
            "/rep?rep=rep-T-0",
            "/simulator",
        ],
        &["/pv", "/audit"],
    ),
    (
        "rep-T-0",
        &["/rep", "/hcps", "/hcps/hcp-0", "/content"],
        &["/campaigns", "/pv", "/audit", "/simulator"],
    ),
    (
        "admin",
        &[
            "/",
            "/campaigns",
            "/campaigns/launch",
            "/hcps",
            "/hcps/hcp-0",
            "/content",
            "/content/CZ-NEW",
            "/pv",
            "/rep?rep=rep-T-0",
            "/simulator",
            "/audit?record=content/CZ-NEW",
        ],
        &[],
    ),
];

/// What the fixture holds besides the app: the session of each account.
struct Fixture {
    app: TestApp,
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base)
    }

    async fn api(&self, path: &str) -> Value {
        let r = self.app.get(&self.app.admin, path).await;
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }

    /// As `api`, signed in as a PV officer: the queue is a person's to read, not a key's.
    async fn api_as_pv(&self, path: &str) -> Value {
        let pv = self.app.signed_in("pv-api", "pv_officer").await;
        let r = self.app.get(&pv, path).await;
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }
}

fn now_text(offset_hours: i64) -> String {
    openclm_core::Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            + offset_hours * 3_600_000,
    )
    .to_string()
}

/// Six HCPs over three territories, an approved email and detail aid, content in review, a
/// campaign whose first wave ran with its touches and responses, a rep, a possible adverse
/// event, a simulation run, and an account for every role.
async fn fixture() -> Fixture {
    let app = spawn_app().await;
    app.seed_hcps(6).await;
    for (id, kind) in [("CZ-EM-1", "email_template"), ("CZ-DA-1", "slide_deck")] {
        let body = json!({"title": format!("{id} item"), "kind": kind, "product": "cardiozan",
            "topics": ["efficacy"], "status": "approved", "approval_code": format!("AC-{id}"),
            "approved_at": now_text(-48), "expires_at": now_text(24 * 20)});
        let r = app
            .call(&app.ingest, "PUT", &format!("/v1/content/{id}"), Some(body))
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    let consents: Vec<Value> = (0..6)
        .map(|i| {
            json!({"event_id": format!("consent-{i}"), "occurred_at": now_text(-72),
                "hcp": format!("CRM-{i}"), "source": "crm", "channel": "email",
                "type": "consent_changed", "state": "granted", "evidence": "web form"})
        })
        .collect();
    assert_eq!(
        app.post_events(&app.ingest, "application/json", json!(consents).to_string())
            .await
            .status(),
        200
    );
    let campaign = json!({"id": "launch", "name": "Cardiozan launch", "product": "cardiozan",
        "target": {"territories": ["T-1", "T-2"]},
        "arms": [{"name": "email", "content_id": "CZ-EM-1", "channels": ["email"]}], "holdout_share": 0.3,
        "waves": [{"at": now_text(-48)}, {"name": "later", "at": now_text(24 * 7)}],
        "cost_per_touch": {"email": 0.5, "face_to_face": 150}, "value_per_outcome": 250});
    let r = app
        .call(&app.admin, "POST", "/v1/campaigns", Some(campaign))
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = app
        .call(&app.admin, "POST", "/v1/campaigns/launch/waves/1/run", None)
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // Touches and reactions: deliveries, a person's open, a proxy's open, a click.
    let mut events = Vec::new();
    for i in 0..6 {
        let e = |suffix: &str, kind: &str, hours: i64| {
            json!({"event_id": format!("e-{i}-{suffix}"), "occurred_at": now_text(hours),
                "hcp": format!("CRM-{i}"), "source": "crm", "channel": "email", "type": kind,
                "content_id": "CZ-EM-1"})
        };
        // Over a day ago: the minimum gap between touches leaves room for a rep's visit.
        events.push(e("delivered", "delivered", -40));
        if i % 2 == 0 {
            events.push(e("open", "opened", -39));
            events.push(e("click", "clicked", -38));
        }
    }
    let mut proxy = events[0].clone();
    proxy["event_id"] = json!("e-proxy");
    proxy["type"] = json!("opened");
    proxy["user_agent"] = json!("Mozilla/5.0");
    proxy["ip"] = json!("17.58.0.1");
    events.push(proxy);
    events.push(
        json!({"event_id": "ae-1", "occurred_at": now_text(-1), "hcp": "CRM-0",
        "source": "crm", "channel": "medical_information",
        "type": "medical_information_requested",
        "text": "My patient developed a severe rash after starting cardiozan."}),
    );
    let r = app
        .post_events(&app.ingest, "application/json", json!(events).to_string())
        .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["accepted"], json!(events.len()), "{answer}");
    let r = app
        .call(
            &app.admin,
            "PUT",
            "/v1/reps/rep-T-0",
            Some(json!({"name": "Rep T-0", "territories": ["T-0"], "visits_per_week": 5})),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    app.store
        .record_simulation(SimulationRun {
            run_id: "sim-1".into(),
            ran_at: openclm_core::Timestamp::from_millis(1_795_000_000_000),
            body: json!({"hcps": 200, "weeks": 3, "world": "default", "seed": 7,
                "holdout": 0.1, "economics": false, "policies": [
                {"policy": "bau", "reach": 0.9, "engagement_rate": 0.05, "touches_per_hcp": 6.0,
                 "opt_out_rate": 0.02, "incremental_rx": 10.0, "cost": 1000.0, "romi": -0.2,
                 "weekly_engagement": [0.05, 0.05, 0.05]},
                {"policy": "loop", "reach": 0.8, "engagement_rate": 0.12, "touches_per_hcp": 4.0,
                 "opt_out_rate": 0.01, "incremental_rx": 30.0, "cost": 600.0, "romi": 1.4,
                 "weekly_engagement": [0.06, 0.1, 0.14]}]}),
        })
        .await
        .unwrap();
    for (user, role, territories) in [
        ("marketer", "marketer", &[][..]),
        ("reviewer", "mlr_reviewer", &[]),
        ("pv", "pv_officer", &[]),
        ("privacy", "privacy_officer", &[]),
        ("analyst", "analyst", &[]),
        ("rep-T-0", "rep", &["T-0"]),
        ("admin", "admin", &[]),
    ] {
        app.user(user, role, territories).await;
    }
    // The marketer writes an item and submits it for review.
    let marketer = app.login("marketer", PASSWORD).await.unwrap();
    let r = app
        .call(
            &marketer,
            "POST",
            "/v1/content",
            Some(
                json!({"id": "CZ-NEW", "title": "New efficacy email", "kind": "email_template",
                "product": "cardiozan", "topics": ["efficacy"]}),
            ),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = app
        .call(&marketer, "POST", "/v1/content/CZ-NEW/submit", None)
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    Fixture { app }
}

/// A client that keeps cookies and does not follow redirects, as a browser's first request.
fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn pages_need_a_session_and_forms_need_its_token() {
    let f = fixture().await;
    let client = cookie_client();
    let r = client.get(f.url("/campaigns")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=/campaigns");
    // An API key opens the API, not the pages.
    let r = client
        .get(f.url("/"))
        .bearer_auth(&f.app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = client
        .post(f.url("/login"))
        .form(&[
            ("user_id", "marketer"),
            ("password", "wrong password!!"),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("wrong user id or password")
    );
    let r = client
        .post(f.url("/login"))
        .form(&[
            ("user_id", "reviewer"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/", "an off-site next is ignored");
    // Browsers drop tabs and line breaks from a URL: such a `next` could lead off-site too.
    for next in ["/\t/evil.example/", "/\n/evil.example/", "/\\evil.example/"] {
        let page = client
            .get(f.url("/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap();
        let html = page.text().await.unwrap();
        assert!(
            html.contains(r#"name="next" value="/""#),
            "{next:?}: {html}"
        );
    }
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let page = client.get(f.url("/content/CZ-NEW")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let html = page.text().await.unwrap();
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the page's forms carry a token")
        .to_owned();
    let approve = [
        ("approval_code", "AC-NEW"),
        ("expires_at", "2099-01-01"),
        ("password", PASSWORD),
    ];
    // Without the token, with a wrong one, or from another site: refused, nothing changes.
    let r = client
        .post(f.url("/content/CZ-NEW/approve"))
        .form(&approve)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let mut forged = approve.to_vec();
    forged.push(("csrf", "0000"));
    let r = client
        .post(f.url("/content/CZ-NEW/approve"))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let mut good = approve.to_vec();
    good.push(("csrf", token.as_str()));
    let r = client
        .post(f.url("/content/CZ-NEW/approve"))
        .header("origin", "https://evil.example")
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(f.api("/v1/content/CZ-NEW").await["status"], "in_review");
    // The API does not take a change on the strength of the cookie alone: a page of another
    // site on the same host could send it.
    let r = client
        .post(f.url("/v1/content/CZ-NEW/withdraw"))
        .header("content-type", "text/plain")
        .body(r#"{"reason": "forged"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("reads only"));
    assert_eq!(f.api("/v1/content/CZ-NEW").await["status"], "in_review");
    // With it, the approval is signed.
    let r = client
        .post(f.url("/content/CZ-NEW/approve"))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let item = f.api("/v1/content/CZ-NEW").await;
    assert_eq!(item["status"], "approved");
    assert_eq!(item["approval_code"], "AC-NEW");
    assert_eq!(item["mlr"]["signature"]["printed_name"], "reviewer (test)");
    // Signing out ends the session on the server.
    let r = client
        .post(f.url("/logout"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = client.get(f.url("/content")).send().await.unwrap();
    assert_eq!(r.status(), 303, "the session is over");
}

async fn sign_in(page: &Page, f: &Fixture, user: &str) {
    page.goto(&f.url("/login")).await;
    page.fill("#user_id", user).await;
    page.fill("#password", PASSWORD).await;
    page.click_and_wait_navigation("button[type=submit]").await;
    assert!(
        page.exists("[data-testid=who]").await,
        "{user} is not signed in: {}",
        page.text("body").await
    );
    let who = page.text("[data-testid=who]").await;
    assert!(who.contains(user), "signed in as {user}: {who}");
}

fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn slug(path: &str) -> String {
    let s: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() { "overview".into() } else { s }
}

#[tokio::test]
async fn every_role_opens_its_pages_and_only_those_with_no_console_errors() {
    let Some(chromium) = browser::launch().await else {
        return;
    };
    let f = fixture().await;
    for (user, allowed, denied) in ROLES {
        let page = chromium.new_page().await;
        sign_in(&page, &f, user).await;
        for path in allowed {
            page.goto(&f.url(path)).await;
            let title = page.text("h1").await;
            assert!(
                !["Not allowed", "Not found", "Error"].contains(&title.as_str()),
                "{user} opens {path}: {title}: {}",
                page.text("main").await
            );
            assert!(
                !page.exists("p.error:not([data-testid])").await,
                "{user} {path}"
            );
            page.screenshot(&format!("{}-{}", slug(user), slug(path)))
                .await;
        }
        for path in denied {
            page.goto(&f.url(path)).await;
            assert_eq!(
                page.text("h1").await,
                "Not allowed",
                "{user} must not open {path}"
            );
        }
        // Every form field has a label a screen reader can read.
        let unlabelled = page
            .eval(
                "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).length",
            )
            .await;
        assert_eq!(unlabelled, json!(0), "{user}");
        // The refusals are the only errors the browser saw.
        for error in page.console_errors().await {
            assert!(
                error.contains("403 (Forbidden)") && denied.iter().any(|p| error.contains(p)),
                "{user}: {error}"
            );
        }
    }
}

#[tokio::test]
async fn the_pages_show_the_apis_numbers() {
    let Some(chromium) = browser::launch().await else {
        return;
    };
    let f = fixture().await;
    let page = chromium.new_page().await;
    sign_in(&page, &f, "admin").await;

    let overview = f.api("/v1/overview").await;
    page.goto(&f.url("/")).await;
    let total = &overview["total"];
    assert_eq!(
        page.text("[data-kpi=reach]").await,
        count(total["reached"].as_u64().unwrap())
    );
    assert_eq!(
        page.text("[data-kpi=reach]").await,
        "6",
        "six HCPs had a delivery"
    );
    assert_eq!(
        page.text("[data-kpi=delivered]").await,
        count(total["counts"]["delivered"].as_u64().unwrap())
    );
    assert_eq!(page.text("[data-kpi=opened_human]").await, "3");
    assert_eq!(
        page.text("[data-kpi=opened_machine]").await,
        "1",
        "the proxy's open"
    );
    assert_eq!(page.text("[data-kpi=touches_per_hcp]").await, "1.00");
    // Three of the six HCPs reached clicked (one also asked medical information).
    assert_eq!(total["engaged_hcps"], json!(3));
    assert_eq!(page.text("[data-kpi=engagement_rate]").await, "50.0%");

    let report = f.api("/v1/campaigns/launch/report").await;
    page.goto(&f.url("/campaigns/launch")).await;
    assert_eq!(
        page.text("[data-kpi=touches]").await,
        count(
            report["kpis"]["total"]["counts"]["touches"]
                .as_u64()
                .unwrap()
        )
    );
    let described = f.api("/v1/campaigns/launch").await;
    assert_eq!(
        page.text("[data-kpi=treated]").await,
        count(described["groups"]["treated"].as_u64().unwrap())
    );
    assert_eq!(
        page.text("[data-kpi=holdout]").await,
        count(described["groups"]["holdout"].as_u64().unwrap())
    );
    let arms = page.texts("[data-testid=lift] tbody tr").await;
    assert_eq!(arms.len(), report["lift"].as_array().unwrap().len());

    let content = f.api("/v1/content").await;
    page.goto(&f.url("/content")).await;
    assert_eq!(
        page.texts("[data-testid=content-table] tbody tr")
            .await
            .len(),
        content["items"].as_array().unwrap().len()
    );

    let performance = f.api("/v1/content/CZ-EM-1/performance").await;
    let delivered = performance["total"]["counts"]["delivered"]
        .as_u64()
        .unwrap();
    assert_eq!(delivered, 6);
    let row = page.text("tr[data-content='CZ-EM-1']").await;
    assert!(row.contains("\t6\t"), "{row}");
    page.goto(&f.url("/content/CZ-EM-1")).await;
    let slide = page.text("[data-testid=slides] tbody tr").await;
    assert!(slide.starts_with("(whole item)\t6\t"), "{slide}");
    assert_eq!(
        performance["slides"][0]["counts"]["clicked"],
        json!(3),
        "three of the six clicked"
    );

    // The HCP's timeline shows what each event was about.
    let timeline = f.api("/v1/hcps/hcp-2/timeline").await;
    page.goto(&f.url("/hcps/hcp-2")).await;
    let rows = page.texts("[data-testid=timeline] tbody tr").await;
    assert_eq!(rows.len(), timeline["items"].as_array().unwrap().len());
    assert!(
        rows.iter()
            .any(|r| r.contains("clicked") && r.contains("CZ-EM-1")),
        "{rows:?}"
    );

    let cases = f.api_as_pv("/v1/ae-cases").await;
    page.goto(&f.url("/pv")).await;
    let open = cases["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "open")
        .count();
    assert_eq!(open, 1);
    assert_eq!(page.text("[data-kpi=ae_open]").await, "1");
    assert!(
        page.text("[data-testid=clock]").await.contains("h"),
        "time left is shown"
    );

    let plan = f.api("/v1/reps/rep-T-0/suggestions").await;
    page.goto(&f.url("/rep?rep=rep-T-0")).await;
    assert_eq!(
        page.text("[data-kpi=suggestions]").await,
        plan["suggestions"].as_array().unwrap().len().to_string()
    );

    page.goto(&f.url("/simulator")).await;
    let rows = page.texts("[data-testid=policies] tbody tr").await;
    assert_eq!(rows.len(), 2);
    assert!(rows[1].contains("12.0%"), "{rows:?}");
    assert!(page.exists("figure.chart svg").await);
    assert_eq!(page.console_errors().await, Vec::<String>::new());
}

#[tokio::test]
async fn approving_withdrawing_triaging_and_acting_on_suggestions_take_effect() {
    let Some(chromium) = browser::launch().await else {
        return;
    };
    let f = fixture().await;

    // The rep accepts one suggestion and dismisses another, with a reason.
    let rep = chromium.new_page().await;
    sign_in(&rep, &f, "rep-T-0").await;
    rep.goto(&f.url("/rep")).await;
    let ids: Vec<String> = serde_json::from_value(
        rep.eval(
            "[...document.querySelectorAll('[data-suggestion]')].map(e => e.dataset.suggestion)",
        )
        .await,
    )
    .unwrap();
    assert_eq!(ids.len(), 2, "a visit to each HCP of T-0");
    rep.click_and_wait_navigation(&format!(
        "[data-suggestion='{}'] form input[value=accepted] ~ button",
        ids[0]
    ))
    .await;
    assert!(rep.text(".notice").await.contains("accepted"));
    rep.select(
        &format!("[data-suggestion='{}'] select[name=reason]", ids[1]),
        "no_time",
    )
    .await;
    rep.click_and_wait_navigation(&format!(
        "[data-suggestion='{}'] form input[value=dismissed] ~ label ~ label ~ button",
        ids[1]
    ))
    .await;
    let first = f.api(&format!("/v1/suggestions/{}", ids[0])).await;
    assert_eq!(first["status"], "accepted");
    let second = f.api(&format!("/v1/suggestions/{}", ids[1])).await;
    assert_eq!(second["status"], "dismissed");
    assert_eq!(second["reason"], "no_time");
    rep.screenshot("action-rep-after-feedback").await;

    // The reviewer approves with the password re-entered, then withdraws an item.
    let reviewer = chromium.new_page().await;
    sign_in(&reviewer, &f, "reviewer").await;
    reviewer.goto(&f.url("/content/CZ-NEW")).await;
    reviewer.fill("#approval_code", "AC-NEW-1").await;
    reviewer
        .eval("document.querySelector('#expires_at').value = '2099-06-30'")
        .await;
    reviewer.fill("#password", PASSWORD).await;
    reviewer
        .click_and_wait_navigation("[data-testid=approve-form] button")
        .await;
    assert!(
        reviewer
            .text(".notice")
            .await
            .contains("Approved and signed")
    );
    assert!(
        reviewer
            .text("[data-testid=signature]")
            .await
            .contains("approved for distribution")
    );
    let item = f.api("/v1/content/CZ-NEW").await;
    assert_eq!(item["status"], "approved");
    assert_eq!(
        item["expires_at"], "2099-06-30T23:59:59.999Z",
        "usable through that day"
    );
    reviewer.goto(&f.url("/content/CZ-DA-1")).await;
    reviewer.eval("window.confirm = () => true").await;
    reviewer
        .fill("input[name=reason]", "superseded by the new label")
        .await;
    reviewer
        .click_and_wait_navigation("form[action$='/withdraw'] button")
        .await;
    assert!(reviewer.text(".notice").await.contains("Withdrawn"));
    assert_eq!(f.api("/v1/content/CZ-DA-1").await["status"], "withdrawn");
    // The rep's accepted suggestion (a visit with the detail aid) is cancelled at once.
    let accepted = f.api(&format!("/v1/suggestions/{}", ids[0])).await;
    assert_eq!(accepted["content_id"], "CZ-DA-1");
    assert_eq!(accepted["status"], "cancelled", "{accepted}");
    reviewer.screenshot("action-content-withdrawn").await;

    // PV triages the case.
    let pv = chromium.new_page().await;
    sign_in(&pv, &f, "pv").await;
    pv.goto(&f.url("/pv")).await;
    // The queue lists the case in a row; its own page has the text and the triage form.
    pv.click_and_wait_navigation("[data-testid=pv-queue] tbody tr a")
        .await;
    assert!(
        pv.text("[data-testid=ae-text]")
            .await
            .contains("severe rash")
    );
    pv.select("[data-case] select[name=status]", "ae_forwarded")
        .await;
    pv.fill("[data-case] input[name=external_ref]", "SAFETY-123")
        .await;
    pv.click_and_wait_navigation("[data-case] form button")
        .await;
    assert!(pv.text(".notice").await.contains("Case triaged"));
    assert_eq!(pv.text("[data-kpi=ae_open]").await, "0");
    let cases = f.api_as_pv("/v1/ae-cases").await;
    let case = &cases["items"][0];
    assert_eq!(case["status"], "ae_forwarded");
    assert_eq!(case["external_ref"], "SAFETY-123");
    assert_eq!(case["triaged_by"], "pv");
    pv.screenshot("action-pv-triaged").await;

    // An admin reads the item's history; the privacy officer erases an HCP.
    let admin = chromium.new_page().await;
    sign_in(&admin, &f, "admin").await;
    admin.goto(&f.url("/audit?record=content/CZ-NEW")).await;
    let actions = admin
        .texts("[data-testid=audit] tbody tr td:nth-child(4)")
        .await;
    assert_eq!(actions, ["create", "submit", "approve"]);
    let privacy = chromium.new_page().await;
    sign_in(&privacy, &f, "privacy").await;
    privacy.goto(&f.url("/audit")).await;
    assert!(
        !privacy.exists("[data-testid=audit]").await,
        "the trail is the admin's"
    );
    privacy.eval("window.confirm = () => true").await;
    privacy
        .fill("[data-testid=erase-form] input[name=hcp]", "hcp-5")
        .await;
    privacy
        .fill("[data-testid=erase-form] input[name=reason]", "request 42")
        .await;
    privacy
        .click_and_wait_navigation("[data-testid=erase-form] button")
        .await;
    assert!(privacy.text(".notice").await.contains("erased"));
    assert_eq!(
        f.app.get(&f.app.admin, "/v1/hcps/hcp-5").await.status(),
        404
    );
    let trail = f.api("/v1/audit").await;
    let erasures: Vec<&Value> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "erase")
        .collect();
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0]["actor"], "user:privacy");
    assert_eq!(erasures[0]["reason"], "request 42");
    for p in [&rep, &reviewer, &pv, &admin, &privacy] {
        assert_eq!(p.console_errors().await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn a_rep_cannot_open_another_territory_and_a_marketer_cannot_approve() {
    let Some(chromium) = browser::launch().await else {
        return;
    };
    let f = fixture().await;
    let rep = chromium.new_page().await;
    sign_in(&rep, &f, "rep-T-0").await;
    rep.goto(&f.url("/hcps/hcp-0")).await;
    assert_eq!(rep.text("h1").await, "HCP Dr. Test 0");
    rep.goto(&f.url("/hcps/hcp-1")).await;
    assert_eq!(rep.text("h1").await, "Not found", "hcp-1 is in T-1");
    rep.goto(&f.url("/hcps?territory=T-1")).await;
    assert_eq!(rep.text("h1").await, "Please check the form");
    rep.screenshot("role-rep-other-territory").await;

    let marketer = chromium.new_page().await;
    sign_in(&marketer, &f, "marketer").await;
    marketer.goto(&f.url("/content/CZ-NEW")).await;
    assert!(!marketer.exists("[data-testid=approve-form]").await);
    // Even a hand-made form with the session's own token is refused.
    let status = marketer
        .eval(
            "(async () => { const csrf = document.querySelector('input[name=csrf]').value;
               const r = await fetch('/content/CZ-NEW/approve', {method: 'POST', body:
                 new URLSearchParams({csrf, approval_code: 'X', expires_at: '2099-01-01',
                 password: 'correct horse battery staple'})});
               return r.status; })()",
        )
        .await;
    assert_eq!(status, json!(403));
    assert_eq!(f.api("/v1/content/CZ-NEW").await["status"], "in_review");
}

#[tokio::test]
async fn the_overview_shows_a_new_event_without_a_reload() {
    let Some(chromium) = browser::launch().await else {
        return;
    };
    let f = fixture().await;
    let page = chromium.new_page().await;
    sign_in(&page, &f, "marketer").await;
    page.goto(&f.url("/")).await;
    assert_eq!(page.text("[data-kpi=delivered]").await, "6");
    page.eval("window.__stillHere = 42").await;
    let event = json!([{"event_id": "late-delivery", "occurred_at": now_text(0), "hcp": "CRM-1",
        "source": "crm", "channel": "email", "type": "delivered", "content_id": "CZ-EM-1"}]);
    let r = f
        .app
        .post_events(&f.app.ingest, "application/json", event.to_string())
        .await;
    assert_eq!(r.status(), 200);
    page.wait_for_text("[data-kpi=delivered]", "7", Duration::from_secs(10))
        .await;
    assert_eq!(
        page.eval("window.__stillHere").await,
        json!(42),
        "no reload"
    );
    assert_eq!(page.console_errors().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_rep_view_fits_a_tablet() {
    let Some(chromium) = browser::launch().await else {
        return;
    };
    let f = fixture().await;
    let page = chromium.new_page().await;
    page.set_mobile_viewport(820, 1180).await;
    sign_in(&page, &f, "rep-T-0").await;
    for path in ["/rep", "/hcps/hcp-0", "/content"] {
        page.goto(&f.url(path)).await;
        let fits = page
            .eval("document.documentElement.scrollWidth <= window.innerWidth + 1")
            .await;
        assert_eq!(fits, json!(true), "{path} scrolls sideways on a tablet");
        page.screenshot(&format!("tablet-{}", slug(path))).await;
    }
}

/// Enough open cases that a PV officer works them a page at a time: 60 cases, 25 a page, with
/// filters by source, product and deadline, and each case opened on its own page.
#[tokio::test]
async fn the_pv_queue_comes_in_pages_with_filters_and_each_case_on_its_own_page() {
    use openclm_store::NewAeCase;
    let app = spawn_app().await;
    app.seed_hcps(3).await;
    app.user("pv", "pv_officer", &[]).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Every third from a survey, every other naming Cardiozan, the first 10 overdue.
    for i in 0..60i64 {
        let product = if i % 2 == 0 { "Cardiozan" } else { "Glucenta" };
        let received = if i < 10 {
            now - 30 * 3_600_000
        } else {
            now - i * 60_000
        };
        let opened = app
            .store
            .open_ae_case(
                NewAeCase {
                    case_id: format!("ae-{i:02}"),
                    event_id: format!("ev-{i:02}"),
                    hcp: openclm_core::HcpId::parse("hcp", "hcp-0").unwrap(),
                    source: if i % 3 == 0 { "survey" } else { "crm" }.into(),
                    field: "text".into(),
                    text: format!(
                        "Case number {i}: my patient developed a severe rash two weeks after \
                         starting {product}, then fever and joint pain; the rash spread to the \
                         trunk and she was admitted for observation."
                    ),
                    findings: json!({"products": [product], "events": ["rash"],
                        "criteria": {"patient": true, "reporter": true, "product": true,
                            "event": true}})
                    .to_string(),
                    due_hours: 24,
                },
                openclm_core::Timestamp::from_millis(received),
            )
            .await
            .unwrap();
        assert!(opened);
    }
    let pv = app.login("pv", PASSWORD).await.unwrap();
    let api = |path: &str| {
        let (app, pv, path) = (&app, pv.clone(), path.to_owned());
        async move { app.call(&pv, "GET", &path, None).await }
    };
    // The API pages and filters the same way.
    let first: Value = api("/v1/ae-cases?status=open&page=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 25);
    assert_eq!(first["next_page"], 2);
    assert_eq!(first["items"][0]["overdue"], true, "overdue first");
    let narrow: Value = api("/v1/ae-cases?source=survey&product=CARDIOZAN&limit=3&page=2")
        .await
        .json()
        .await
        .unwrap();
    let narrow = narrow["items"].as_array().unwrap();
    assert_eq!(narrow.len(), 3);
    assert!(
        narrow
            .iter()
            .all(|c| c["source"] == "survey" && c["findings"]["products"] == json!(["Cardiozan"]))
    );
    let counts: Value = api("/v1/ae-cases/counts").await.json().await.unwrap();
    assert_eq!(counts, json!({"open": 60, "overdue": 10, "triaged": 0}));
    for (query, field) in [("page=0", "page"), ("limit=501", "limit")] {
        let r = api(&format!("/v1/ae-cases?{query}")).await;
        assert_eq!(r.status(), 422, "{query}");
        let body: Value = r.json().await.unwrap();
        assert!(body.to_string().contains(field), "{query}: {body}");
    }

    let Some(chromium) = browser::launch().await else {
        return;
    };
    let f = Fixture { app };
    let page = chromium.new_page().await;
    sign_in(&page, &f, "pv").await;
    page.goto(&f.url("/pv")).await;
    assert_eq!(page.text("[data-kpi=ae_open]").await, "60");
    assert_eq!(page.text("[data-kpi=ae_overdue]").await, "10");
    let rows = page.texts("[data-testid=pv-queue] tbody tr").await;
    assert_eq!(rows.len(), 25);
    assert!(rows[0].contains("overdue"), "overdue first: {}", rows[0]);
    assert!(!page.exists("a[rel=prev]").await);
    let height = page.eval("document.documentElement.scrollHeight").await;
    assert!(
        height.as_f64().unwrap() < 4000.0,
        "one page of the queue fits a few screens: {height}"
    );
    // The list shows a snippet; the full text is on the case's own page.
    assert!(!rows[0].contains("admitted for observation"), "{}", rows[0]);
    page.click_and_wait_navigation("a[rel=next]").await;
    assert_eq!(
        page.texts("[data-testid=pv-queue] tbody tr").await.len(),
        25
    );
    page.click_and_wait_navigation("a[rel=next]").await;
    assert_eq!(
        page.texts("[data-testid=pv-queue] tbody tr").await.len(),
        10
    );
    assert!(!page.exists("a[rel=next]").await);
    assert!(page.exists("a[rel=prev]").await);

    // Filters narrow it: surveys (20), surveys naming Cardiozan in any case (10), overdue (10).
    page.goto(&f.url("/pv")).await;
    page.select("[data-testid=pv-filters] select[name=source]", "survey")
        .await;
    page.click_and_wait_navigation("[data-testid=pv-filters] button")
        .await;
    let rows = page.texts("[data-testid=pv-queue] tbody tr").await;
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r.contains("survey")), "{rows:?}");
    assert!(!page.exists("a[rel=next]").await);
    page.fill("[data-testid=pv-filters] input[name=product]", "cardiozan")
        .await;
    page.click_and_wait_navigation("[data-testid=pv-filters] button")
        .await;
    let rows = page.texts("[data-testid=pv-queue] tbody tr").await;
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r.contains("Cardiozan")), "{rows:?}");
    page.goto(&f.url("/pv?overdue=1")).await;
    let rows = page.texts("[data-testid=pv-queue] tbody tr").await;
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r.contains("overdue")), "{rows:?}");

    // A case opens on its own page: the whole text, the criteria, the triage form.
    page.click_and_wait_navigation("[data-testid=pv-queue] tbody tr a")
        .await;
    assert!(
        page.url().await.ends_with("/pv/ae-00"),
        "{}",
        page.url().await
    );
    assert!(
        page.text("[data-testid=ae-text]")
            .await
            .contains("admitted for observation")
    );
    assert!(
        page.text("[data-testid=criteria]")
            .await
            .contains("✓ product")
    );
    assert_eq!(page.text("[data-testid=products]").await, "Cardiozan");
    page.select("[data-case] select[name=status]", "ae_forwarded")
        .await;
    page.fill("[data-case] input[name=external_ref]", "SAFETY-9")
        .await;
    page.click_and_wait_navigation("[data-case] form button")
        .await;
    assert!(page.text(".notice").await.contains("Case triaged"));
    assert_eq!(page.text("[data-kpi=ae_open]").await, "59");
    assert_eq!(page.text("[data-kpi=ae_triaged]").await, "1");
    assert_eq!(page.console_errors().await, Vec::<String>::new());
}
