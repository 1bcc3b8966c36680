//! The outbound delivery queue through the real server: a receiver that fails before it
//! recovers gets every decision exactly once; dead letters and their retry; the pull API's
//! leases, repeated answers and answers after a withdrawal; the compliance check before each
//! attempt; receipts on the HCPs' timelines.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{TestApp, event, spawn_app_at, spawn_app_with};
use openclm_app::deliveries::{DeliveryConfig, DeliveryTarget};
use openclm_core::Timestamp;
use openclm_server::deliveries::push_due;
use openclm_server::{ApiConfig, AppState, Clock};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "a-test-secret-of-some-length";

/// Monday 2 November 2026, 09:00 UTC: after the consent grants of `event`.
fn start() -> Timestamp {
    Timestamp::parse("t", "2026-11-02T09:00:00Z").unwrap()
}

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Post {
    body: Value,
    idempotency_key: String,
    signed: bool,
    answered: u16,
    at: Instant,
}

/// A delivery system's endpoint: fails the first `failures` posts of every delivery id with
/// `status`, then takes it; de-duplicates by delivery id (a repeat after success is counted).
#[derive(Clone, Default)]
struct Receiver {
    posts: Arc<Mutex<Vec<Post>>>,
    failures: Arc<AtomicI64>,
    status: Arc<AtomicI64>,
    /// How long it takes to answer, in milliseconds.
    delay_ms: Arc<AtomicI64>,
}

impl Receiver {
    async fn start(failures: i64, status: u16) -> (Self, String) {
        let receiver = Receiver {
            failures: Arc::new(AtomicI64::new(failures)),
            status: Arc::new(AtomicI64::new(status.into())),
            ..Default::default()
        };
        let app = axum::Router::new()
            .route("/in", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/in", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The posts for each delivery id, in order.
    fn by_id(&self) -> BTreeMap<String, Vec<Post>> {
        let mut out: BTreeMap<String, Vec<Post>> = BTreeMap::new();
        for p in self.posts() {
            out.entry(p.body["delivery_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(p);
        }
        out
    }
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let delay = r.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    let json: Value = serde_json::from_slice(&body).unwrap();
    let id = json["delivery_id"].as_str().unwrap().to_owned();
    // The signature header: t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
    let signed = headers
        .get("x-openclm-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (t, mac) = v.strip_prefix("t=")?.split_once(",v1=")?;
            let mut text = format!("{t}.").into_bytes();
            text.extend_from_slice(&body);
            let expected: String = openclm_core::delivery::hmac_sha256(SECRET.as_bytes(), &text)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Some(expected == mac)
        })
        .unwrap_or(false);
    let mut posts = r.posts.lock().unwrap();
    let earlier = posts
        .iter()
        .filter(|p| p.body["delivery_id"] == id.as_str())
        .count() as i64;
    let answered = if earlier < r.failures.load(Ordering::SeqCst) {
        r.status.load(Ordering::SeqCst) as u16
    } else {
        200
    };
    posts.push(Post {
        body: json,
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        signed,
        answered,
        at: Instant::now(),
    });
    StatusCode::from_u16(answered).unwrap()
}

fn config(url: Option<&str>, max_attempts: u32, base_ms: i64) -> ApiConfig {
    ApiConfig {
        delivery: DeliveryConfig {
            targets: url
                .map(|url| {
                    BTreeMap::from([(
                        openclm_core::Channel::Email,
                        DeliveryTarget {
                            url: url.to_owned(),
                            secret: Some(SECRET.into()),
                        },
                    )])
                })
                .unwrap_or_default(),
            max_attempts,
            backoff_base_ms: base_ms,
            backoff_cap_ms: base_ms * 100,
            lease_ms: 60_000,
            batch_size: 50,
            poll_ms: 5,
            timeout_ms: 2_000,
        },
        ..ApiConfig::default()
    }
}

/// Approved email content EM-1; HCPs `hcp-0..n` with an email address and email consent.
async fn world(app: &TestApp, n: usize) {
    let body = json!({"title": "EM-1", "kind": "email_template", "product": "cardiozan",
        "topics": ["efficacy"], "status": "approved", "approval_code": "CZ-1",
        "approved_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"});
    let r = app
        .call(&app.ingest, "PUT", "/v1/content/EM-1", Some(body))
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let mut grants = Vec::new();
    for i in 0..n {
        let r = app
            .put_hcp(
                &format!("hcp-{i}"),
                json!({"name": format!("Dr. Test {i}"), "specialty": "cardiology", "country": "DE",
                       "territory": "T-0", "email": format!("dr{i}@example.org"),
                       "external_ids": [{"system": "crm", "id": format!("CRM-{i}")}]}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let mut grant = event(&format!("grant-{i}"), i, 1);
        grant["type"] = json!("consent_changed");
        grant["state"] = json!("granted");
        grants.push(grant);
    }
    let r = app
        .post_events(&app.ingest, "application/json", json!(grants).to_string())
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accepted"], n, "{body}");
}

/// Decides an email for each HCP; their decision ids, by HCP.
async fn decide(app: &TestApp, hcps: &[usize]) -> BTreeMap<String, String> {
    let ids: Vec<String> = hcps.iter().map(|i| format!("hcp-{i}")).collect();
    let r: Value = app
        .call(
            &app.admin,
            "POST",
            "/v1/decide",
            Some(json!({"hcps": ids, "channels": ["email"], "n": 1})),
        )
        .await
        .json()
        .await
        .unwrap();
    r["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["chosen"]["content_id"], "EM-1", "{d}");
            (
                d["hcp_id"].as_str().unwrap().to_owned(),
                d["decision_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn deliveries(app: &TestApp, status: &str) -> Vec<Value> {
    let r: Value = app
        .get(
            &app.admin,
            &format!("/v1/deliveries?status={status}&limit=1000"),
        )
        .await
        .json()
        .await
        .unwrap();
    r["deliveries"].as_array().unwrap().clone()
}

/// The `sent` receipts of an HCP's timeline: (decision_id, source).
async fn receipts(app: &TestApp, hcp: &str) -> Vec<(String, String)> {
    let r: Value = app
        .get(&app.admin, &format!("/v1/hcps/{hcp}/timeline?type=sent"))
        .await
        .json()
        .await
        .unwrap();
    r["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|e| {
            (
                e["event"]["decision_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_is_delivered_once_the_receiver_recovers() {
    const N: usize = 12;
    let (receiver, url) = Receiver::start(2, 500).await;
    let config = config(Some(&url), 8, 40);
    let app = spawn_app_with(config.clone()).await;
    world(&app, N).await;
    let decided = decide(&app, &(0..N).collect::<Vec<_>>()).await;
    assert_eq!(decided.len(), N);
    let pusher = openclm_server::deliveries::spawn_delivery_pusher(AppState {
        store: app.store.clone(),
        config,
        clock: openclm_server::system_clock(),
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while deliveries(&app, "delivered").await.len() < N {
        assert!(
            Instant::now() < deadline,
            "not all delivered: {:?}",
            receiver.posts().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing more is posted once every item was taken.
    tokio::time::sleep(Duration::from_millis(200)).await;
    pusher.abort();

    let delivered = deliveries(&app, "delivered").await;
    let mut decision_ids: Vec<&str> = delivered
        .iter()
        .map(|d| d["decision_id"].as_str().unwrap())
        .collect();
    decision_ids.sort();
    let mut expected: Vec<&str> = decided.values().map(String::as_str).collect();
    expected.sort();
    assert_eq!(decision_ids, expected);
    let by_id = receiver.by_id();
    assert_eq!(by_id.len(), N);
    for (id, posts) in &by_id {
        // Two failures, then exactly one 2xx, and no post after it.
        let answers: Vec<u16> = posts.iter().map(|p| p.answered).collect();
        assert_eq!(answers, [500, 500, 200], "{id}");
        let attempts: Vec<i64> = posts
            .iter()
            .map(|p| p.body["attempt"].as_i64().unwrap())
            .collect();
        assert_eq!(attempts, [1, 2, 3], "{id}");
        assert!(
            posts.iter().all(|p| &p.idempotency_key == id && p.signed),
            "{id}"
        );
        // Each wait at least the lower half of its backoff, 20 ms then 40 ms (less the clock's
        // millisecond rounding).
        let waits: Vec<Duration> = posts.windows(2).map(|w| w[1].at - w[0].at).collect();
        assert!(waits[0] >= Duration::from_millis(18), "{id}: {waits:?}");
        assert!(waits[1] >= Duration::from_millis(38), "{id}: {waits:?}");
        let body = &posts[2].body;
        let hcp = decided
            .iter()
            .find(|(_, d)| body["decision_id"] == d.as_str())
            .map(|(h, _)| h.clone())
            .unwrap();
        let n: usize = hcp.trim_start_matches("hcp-").parse().unwrap();
        assert_eq!(body["hcp_id"], hcp.as_str());
        assert_eq!(body["address"], format!("dr{n}@example.org"));
        assert_eq!(
            (
                &body["channel"],
                &body["content_id"],
                &body["approval_code"]
            ),
            (&json!("email"), &json!("EM-1"), &json!("CZ-1"))
        );
        assert_eq!(body["delivery_id"], format!("dlv_{}", decided[&hcp]));
    }
    // Each acceptance is a `sent` receipt on the HCP's timeline, naming the decision.
    for (hcp, decision) in &decided {
        assert_eq!(
            receipts(&app, hcp).await,
            [(decision.clone(), "delivery".to_owned())],
            "{hcp}"
        );
    }
}

/// A server whose clock the test moves, and a handle on its state to push rounds by hand.
async fn pinned(
    config: ApiConfig,
) -> (
    TestApp,
    Arc<AtomicI64>,
    AppState<openclm_store::SqliteStore>,
) {
    let (app, now) = spawn_app_at(config.clone(), start()).await;
    let read = now.clone();
    let clock: Clock = Arc::new(move || Timestamp::from_millis(read.load(Ordering::SeqCst)));
    let state = AppState {
        store: app.store.clone(),
        config,
        clock,
    };
    (app, now, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_failing_receiver_gets_dead_letters_with_the_last_status_and_retry_requeues() {
    let (receiver, url) = Receiver::start(i64::MAX, 503).await;
    let (app, now, state) = pinned(config(Some(&url), 3, 1_000)).await;
    world(&app, 2).await;
    let decided = decide(&app, &[0, 1]).await;
    let client = reqwest::Client::new();
    let mut waits = Vec::new();
    for attempt in 1..=3 {
        let round = push_due(&state, &client).await.unwrap();
        assert_eq!((round.leased, round.failed), (2, 2), "attempt {attempt}");
        let pending = deliveries(&app, "pending").await;
        if attempt < 3 {
            assert_eq!(pending.len(), 2);
            let dues: Vec<i64> = pending
                .iter()
                .map(|d| {
                    Timestamp::parse("due_at", d["due_at"].as_str().unwrap())
                        .unwrap()
                        .millis()
                })
                .collect();
            let at = now.load(Ordering::SeqCst);
            waits.push(dues.iter().map(|due| due - at).collect::<Vec<_>>());
            // Not offered before its time.
            let (first, last) = (*dues.iter().min().unwrap(), *dues.iter().max().unwrap());
            now.store(first - 1, Ordering::SeqCst);
            assert_eq!(push_due(&state, &client).await.unwrap().leased, 0);
            now.store(last, Ordering::SeqCst);
        } else {
            assert!(pending.is_empty());
        }
    }
    // Backoff 1 s then 2 s, each drawn in the upper half of its span.
    assert!(
        waits[0].iter().all(|w| (500..=1_000).contains(w)),
        "{waits:?}"
    );
    assert!(
        waits[1].iter().all(|w| (1_000..=2_000).contains(w)),
        "{waits:?}"
    );
    let dead = deliveries(&app, "dead").await;
    assert_eq!(dead.len(), 2);
    assert!(
        dead.iter()
            .all(|d| d["last_error"] == "http_503" && d["attempts"] == 3),
        "{dead:?}"
    );
    assert_eq!(receiver.posts().len(), 6);
    assert_eq!(push_due(&state, &client).await.unwrap().leased, 0);
    let summary: Value = app
        .get(&app.read, "/v1/deliveries/summary")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        summary["counts"],
        json!([{"status": "dead", "channel": "email", "count": 2}])
    );

    // An analyst reads the dead letters but cannot retry them; the admin can.
    let id = format!("dlv_{}", decided["hcp-0"]);
    let r = app
        .call(
            &app.read,
            "POST",
            &format!("/v1/deliveries/{id}/retry"),
            None,
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app
        .call(
            &app.admin,
            "POST",
            &format!("/v1/deliveries/{id}/retry"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let requeued: Value = r.json().await.unwrap();
    assert_eq!(
        (
            &requeued["delivery"]["status"],
            &requeued["delivery"]["attempts"]
        ),
        (&json!("pending"), &json!(0))
    );
    receiver.failures.store(0, Ordering::SeqCst);
    let round = push_due(&state, &client).await.unwrap();
    assert_eq!((round.leased, round.delivered), (1, 1));
    assert_eq!(receipts(&app, "hcp-0").await.len(), 1);
    assert!(receipts(&app, "hcp-1").await.is_empty());
    let r = app
        .call(
            &app.admin,
            "POST",
            &format!("/v1/deliveries/{id}/retry"),
            None,
        )
        .await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("only a dead letter"));
    let r = app
        .call(&app.admin, "POST", "/v1/deliveries/dlv_none/retry", None)
        .await;
    assert_eq!(r.status(), 404);
}

/// The dashboard's delivery page shows the queue and the dead letters; a marketer queues one
/// again with its form (CSRF-checked), an analyst sees no button.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_page_lists_dead_letters_and_retries_them() {
    let (receiver, url) = Receiver::start(i64::MAX, 500).await;
    let (app, _now, state) = pinned(config(Some(&url), 1, 1_000)).await;
    world(&app, 2).await;
    let decided = decide(&app, &[0, 1]).await;
    let round = push_due(&state, &reqwest::Client::new()).await.unwrap();
    assert_eq!(round.failed, 2);
    assert_eq!(receiver.posts().len(), 2);
    app.user("mia", "marketer", &[]).await;
    app.user("ana", "analyst", &[]).await;
    let client = |user: &'static str| {
        let base = app.base.clone();
        async move {
            let client = reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let r = client
                .post(format!("{base}/login"))
                .form(&[
                    ("user_id", user),
                    ("password", common::PASSWORD),
                    ("next", "/"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            client
        }
    };
    let analyst = client("ana").await;
    let html = analyst
        .get(format!("{}/deliveries", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let id = format!("dlv_{}", decided["hcp-0"]);
    assert!(html.contains(&id) && html.contains("http_500"), "{html}");
    assert!(!html.contains("/retry"), "an analyst cannot retry");
    let marketer = client("mia").await;
    let html = marketer
        .get(format!("{}/deliveries", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"data-kpi="deliveries_dead">2<"#), "{html}");
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_owned();
    let retry = format!("{}/deliveries/{id}/retry", app.base);
    let r = marketer
        .post(&retry)
        .form(&[("csrf", "0000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(deliveries(&app, "dead").await.len(), 2);
    let r = marketer
        .post(&retry)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let pending = deliveries(&app, "pending").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["delivery_id"], id.as_str());
}

async fn pull(app: &TestApp, key: &str, query: &str) -> (u16, Value) {
    let r = app.get(key, &format!("/v1/deliveries/next?{query}")).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn ack(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    let r = app
        .call(
            &app.ingest,
            "POST",
            &format!("/v1/deliveries/{id}/ack"),
            Some(body),
        )
        .await;
    (r.status().as_u16(), r.json().await.unwrap())
}

fn ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> = page["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["delivery_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_systems_pull_under_leases_and_acknowledge() {
    let (app, now, _state) = pinned(config(None, 8, 1_000)).await;
    world(&app, 3).await;
    let decided = decide(&app, &[0, 1, 2]).await;
    let all: Vec<String> = {
        let mut v: Vec<String> = decided.values().map(|d| format!("dlv_{d}")).collect();
        v.sort();
        v
    };

    let (status, body) = pull(&app, &app.read, "channel=email").await;
    assert_eq!(status, 403, "{body}");
    let r = app.get(&app.read, "/v1/deliveries?status=gone").await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["field"], "status");
    let (status, body) = pull(&app, &app.ingest, "limit=5").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("channel")),
        "{body}"
    );
    let (status, body) = pull(&app, &app.ingest, "channel=pigeon").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("channel")),
        "{body}"
    );

    // Leased items are nobody else's until the lease ends.
    let (status, first) = pull(&app, &app.ingest, "channel=email&limit=2").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(ids(&first).len(), 2);
    let item = &first["deliveries"][0];
    assert_eq!(item["attempt"], 1);
    assert!(item["address"].as_str().unwrap().ends_with("@example.org"));
    let (_, second) = pull(&app, &app.ingest, "channel=email&limit=10").await;
    assert_eq!(ids(&second).len(), 1);
    assert!(!ids(&first).contains(&ids(&second)[0]));
    let (_, third) = pull(&app, &app.ingest, "channel=email").await;
    assert!(ids(&third).is_empty(), "{third}");
    assert!(ids(&pull(&app, &app.ingest, "channel=sms").await.1).is_empty());

    // Once the lease has expired, everything is offered again under a new lease.
    now.fetch_add(60_001, Ordering::SeqCst);
    let (_, again) = pull(&app, &app.ingest, "channel=email").await;
    assert_eq!(ids(&again), all);
    assert!(
        again["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["attempt"] == 2)
    );
    let old = first["lease_token"].as_str().unwrap();
    let new = again["lease_token"].as_str().unwrap();
    assert_ne!(old, new);

    let id = &ids(&first)[0];
    let (status, body) = ack(
        &app,
        id,
        json!({"lease_token": old, "outcome": "delivered"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (409, &json!("lease_token")),
        "{body}"
    );
    let (status, body) = ack(&app, id, json!({"lease_token": new, "outcome": "sent"})).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("outcome")),
        "{body}"
    );
    let (status, body) = ack(
        &app,
        id,
        json!({"lease_token": new, "outcome": "delivered"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["delivery"]["status"], "delivered");
    // The same answer again (its reply was lost on the way) gets the same delivery back.
    let (status, repeated) = ack(
        &app,
        id,
        json!({"lease_token": new, "outcome": "delivered"}),
    )
    .await;
    assert_eq!(status, 200, "{repeated}");
    assert_eq!(repeated["delivery"], body["delivery"]);
    let (status, body) = ack(
        &app,
        id,
        json!({"lease_token": new, "outcome": "failed", "error": "mailbox_full"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (409, &json!("lease_token")),
        "{body}"
    );
    let (status, _) = ack(
        &app,
        "dlv_none",
        json!({"lease_token": new, "outcome": "delivered"}),
    )
    .await;
    assert_eq!(status, 404);
    let hcp = decided
        .iter()
        .find(|(_, d)| format!("dlv_{d}") == *id)
        .map(|(h, _)| h.clone())
        .unwrap();
    assert_eq!(
        receipts(&app, &hcp).await,
        [(decided[&hcp].clone(), "delivery".to_owned())]
    );

    // A failure is offered again after its backoff, with the code the system gave.
    let failed = &ids(&first)[1];
    let (status, body) = ack(
        &app,
        failed,
        json!({"lease_token": new, "outcome": "failed", "error": "mailbox_full"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["delivery"]["status"], &body["delivery"]["last_error"]),
        (&json!("pending"), &json!("mailbox_full"))
    );
    let (status, body) = ack(
        &app,
        &ids(&second)[0],
        json!({"lease_token": new, "outcome": "failed", "error": "no spaces allowed"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("error")),
        "{body}"
    );
    now.fetch_add(2_001, Ordering::SeqCst);
    let (_, retried) = pull(&app, &app.ingest, "channel=email").await;
    assert_eq!(ids(&retried), std::slice::from_ref(failed));
    assert_eq!(retried["deliveries"][0]["attempt"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_that_may_no_longer_go_out_are_cancelled_and_never_sent() {
    let (receiver, url) = Receiver::start(0, 200).await;
    let (app, now, state) = pinned(config(Some(&url), 8, 1_000)).await;
    world(&app, 4).await;
    let decided = decide(&app, &[0, 1]).await;
    // hcp-0 withdraws email consent after the decision, before its delivery.
    let mut withdrawal = event("withdraw-0", 0, 2);
    withdrawal["type"] = json!("consent_changed");
    withdrawal["state"] = json!("withdrawn");
    let r = app
        .post_events(
            &app.ingest,
            "application/json",
            json!([withdrawal]).to_string(),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 1);
    let client = reqwest::Client::new();
    let round = push_due(&state, &client).await.unwrap();
    assert_eq!((round.delivered, round.cancelled), (1, 1));
    let posted: Vec<Value> = receiver
        .posts()
        .iter()
        .map(|p| p.body["decision_id"].clone())
        .collect();
    assert_eq!(posted, [json!(decided["hcp-1"])]);
    let cancelled = deliveries(&app, "cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["decision_id"], decided["hcp-0"].as_str());
    assert!(
        cancelled[0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("consent_withdrawn"),
        "{cancelled:?}"
    );
    assert!(receipts(&app, "hcp-0").await.is_empty());

    // A decision whose hold on the caps ended (72 hours) before it could be sent is not sent
    // late: the caps stopped counting it.
    let stale = decide(&app, &[3]).await;
    now.fetch_add(72 * 3_600_000, Ordering::SeqCst);
    let round = push_due(&state, &client).await.unwrap();
    assert_eq!((round.leased, round.cancelled), (1, 1));
    assert_eq!(receiver.posts().len(), 1);
    let cancelled = deliveries(&app, "cancelled").await;
    let late = cancelled
        .iter()
        .find(|d| d["decision_id"] == stale["hcp-3"].as_str())
        .unwrap();
    assert!(
        late["last_error"]
            .as_str()
            .unwrap()
            .starts_with("decision_released"),
        "{late}"
    );

    // Content withdrawn between the decision and its delivery is never sent.
    let later = decide(&app, &[2]).await;
    app.withdraw("EM-1").await;
    assert_eq!(push_due(&state, &client).await.unwrap().leased, 0);
    assert_eq!(receiver.posts().len(), 1);
    let cancelled = deliveries(&app, "cancelled").await;
    let withdrawn = cancelled
        .iter()
        .find(|d| d["decision_id"] == later["hcp-2"].as_str())
        .unwrap();
    assert_eq!(withdrawn["last_error"], "content EM-1 is withdrawn");
    assert!(receipts(&app, "hcp-2").await.is_empty());
}

/// A delivery system that pulled items and sent them before their content was withdrawn is
/// still heard: what went out is recorded, what failed stays cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_after_the_content_was_withdrawn_records_what_went_out() {
    let (app, _now, _state) = pinned(config(None, 8, 1_000)).await;
    world(&app, 2).await;
    let decided = decide(&app, &[0, 1]).await;
    let (status, pulled) = pull(&app, &app.ingest, "channel=email").await;
    assert_eq!(status, 200, "{pulled}");
    assert_eq!(ids(&pulled).len(), 2);
    let token = pulled["lease_token"].as_str().unwrap();
    app.withdraw("EM-1").await;
    assert_eq!(deliveries(&app, "cancelled").await.len(), 2);

    let sent = format!("dlv_{}", decided["hcp-0"]);
    let (status, body) = ack(
        &app,
        &sent,
        json!({"lease_token": token, "outcome": "delivered"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["delivery"]["status"], &body["delivery"]["last_error"]),
        (
            &json!("delivered"),
            &json!("sent_after_cancellation: content EM-1 is withdrawn")
        )
    );
    assert_eq!(
        receipts(&app, "hcp-0").await,
        [(decided["hcp-0"].clone(), "delivery".to_owned())]
    );

    let failed = format!("dlv_{}", decided["hcp-1"]);
    let (status, body) = ack(
        &app,
        &failed,
        json!({"lease_token": "another-lease", "outcome": "delivered"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (409, &json!("lease_token")),
        "{body}"
    );
    let (status, body) = ack(
        &app,
        &failed,
        json!({"lease_token": token, "outcome": "failed", "error": "mailbox_full"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["delivery"]["status"], &body["delivery"]["last_error"]),
        (&json!("cancelled"), &json!("content EM-1 is withdrawn"))
    );
    assert!(receipts(&app, "hcp-1").await.is_empty());
    let delivered: Vec<Value> = deliveries(&app, "delivered")
        .await
        .iter()
        .map(|d| d["delivery_id"].clone())
        .collect();
    assert_eq!(delivered, [json!(sent)]);
    let cancelled: Vec<Value> = deliveries(&app, "cancelled")
        .await
        .iter()
        .map(|d| d["delivery_id"].clone())
        .collect();
    assert_eq!(cancelled, [json!(failed)]);
}

/// Rep-delivered decisions (visits) and held decisions are not queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_decisions_a_system_sends_are_queued() {
    let (app, _now, _state) = pinned(config(None, 8, 1_000)).await;
    world(&app, 2).await;
    let deck = json!({"title": "Deck", "kind": "slide_deck", "product": "cardiozan",
        "topics": ["dosing"], "status": "approved", "approval_code": "CZ-2",
        "approved_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"});
    let r = app
        .call(&app.ingest, "PUT", "/v1/content/DECK-1", Some(deck))
        .await;
    assert!(r.status().is_success());
    let r: Value = app
        .call(
            &app.admin,
            "POST",
            "/v1/decide",
            Some(json!({"hcp": "hcp-0", "channels": ["face_to_face"], "n": 1})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["decisions"][0]["chosen"]["channel"], "face_to_face",
        "{r}"
    );
    assert!(deliveries(&app, "pending").await.is_empty());
    let _ = decide(&app, &[1]).await;
    assert_eq!(deliveries(&app, "pending").await.len(), 1);
}

const BIN: &str = env!("CARGO_BIN_EXE_openclm");

async fn cli(args: &[&str]) -> String {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .env("OPENCLM_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `openclm serve` as its own process, once it answers.
async fn serve(config: &str, db: &str) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(BIN)
        .args(["--config", config, "serve", "--database-url", db])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("OPENCLM_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status() == 200
        {
            return (child, base);
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server is killed with SIGKILL while it pushes; after a restart, every decision is
/// delivered, each HCP has one receipt, and nothing is lost (an item in flight at the kill may
/// be posted again: the receiver de-duplicates by delivery id).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_sigkill_at_least_once() {
    const N: usize = 30;
    let (receiver, url) = Receiver::start(0, 200).await;
    receiver.delay_ms.store(25, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db").to_str().unwrap().to_owned();
    let config = dir.path().join("openclm.toml");
    std::fs::write(
        &config,
        format!(
            "[delivery]\nbackoff_base_ms = 20\nbackoff_cap_ms = 200\nlease_ms = 500\n\
             batch_size = 4\npoll_ms = 10\ntimeout_ms = 400\n[delivery.targets.email]\nurl = \"{url}\"\n"
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_owned();
    let csv: String =
        std::iter::once(
            "id,name,specialty,country,territory,segments,email,external_ids".to_owned(),
        )
        .chain((0..N).map(|i| {
            format!("hcp-{i},Dr. Crash {i},cardiology,DE,T-1,,dr{i}@example.org,crm:CRM-{i}")
        }))
        .collect::<Vec<_>>()
        .join("\n");
    let csv_path = dir.path().join("hcps.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let with_db = |args: &[&str]| {
        let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        v.extend(["--database-url".to_owned(), db.clone()]);
        v
    };
    let run = |args: Vec<String>| async move {
        cli(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
    };
    run(with_db(&["import", "hcps", csv_path.to_str().unwrap()])).await;
    let key = |role: &str| with_db(&["keys", "create", "--role", role]);
    let admin = run(key("admin")).await.lines().last().unwrap().to_owned();
    let ingest = run(key("ingest")).await.lines().last().unwrap().to_owned();

    let (mut server, base) = serve(&config, &db).await;
    let client = reqwest::Client::new();
    let content = json!({"title": "EM-1", "kind": "email_template", "product": "cardiozan",
        "topics": ["efficacy"], "status": "approved", "approval_code": "CZ-1",
        "approved_at": "2026-01-01T00:00:00Z", "expires_at": "2099-01-01T00:00:00Z"});
    let r = client
        .put(format!("{base}/v1/content/EM-1"))
        .bearer_auth(&ingest)
        .json(&content)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let grants: Vec<Value> = (0..N)
        .map(|i| {
            let mut e = event(&format!("grant-{i}"), i, 1);
            e["type"] = json!("consent_changed");
            e["state"] = json!("granted");
            e
        })
        .collect();
    let r: Value = client
        .post(format!("{base}/v1/events"))
        .bearer_auth(&ingest)
        .json(&grants)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["accepted"], N, "{r}");
    let hcps: Vec<String> = (0..N).map(|i| format!("hcp-{i}")).collect();
    let decided: Value = client
        .post(format!("{base}/v1/decide"))
        .bearer_auth(&admin)
        .json(&json!({"hcps": hcps, "channels": ["email"], "n": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let decisions: Vec<String> = decided["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["decision_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(decisions.len(), N);

    // Killed mid-queue: some taken, others not yet.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.posts().len() < N / 3 {
        assert!(Instant::now() < deadline, "nothing was pushed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    let before = receiver.by_id().len();
    assert!(before < N, "the kill came after the last delivery");

    let (mut server, base) = serve(&config, &db).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page: Value = client
            .get(format!("{base}/v1/deliveries?status=delivered&limit=1000"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["deliveries"].as_array().unwrap().len() == N {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all delivered after the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let by_id = receiver.by_id();
    let mut taken: Vec<String> = by_id
        .iter()
        .filter(|(_, posts)| posts.iter().any(|p| p.answered == 200))
        .map(|(id, _)| id.clone())
        .collect();
    taken.sort();
    let mut expected: Vec<String> = decisions.iter().map(|d| format!("dlv_{d}")).collect();
    expected.sort();
    assert_eq!(taken, expected);
    // Only items in flight at the kill may have come twice.
    let repeats: usize = by_id.values().map(|p| p.len() - 1).sum();
    assert!(repeats <= 4, "{repeats} repeated posts");
    for i in 0..N {
        let timeline: Value = client
            .get(format!("{base}/v1/hcps/hcp-{i}/timeline?type=sent"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            timeline["items"].as_array().unwrap().len(),
            1,
            "hcp-{i}: {timeline}"
        );
    }
    server.start_kill().unwrap();
}
