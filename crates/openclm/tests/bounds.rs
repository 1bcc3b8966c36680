//! Served as a deployment runs it — an `openclm serve` process on SQLite, and on PostgreSQL when
//! `OPENCLM_TEST_DATABASE_URL` is set (in a schema of its own): a content library of thousands
//! of drafts leaves decisions small and the server's memory bounded; an event whose key appears
//! twice is refused, never read as its last value.

use openclm_core::Timestamp;
use openclm_core::auth::Role;
use openclm_core::content::ContentInput;
use openclm_core::hcp::{ExternalId, HcpInput};
use openclm_store::prelude::*;
use openclm_store::{AeFilter, AnyStore};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_openclm");
/// Decided for in one request (the most allowed); ten more are decided for first, on their own.
const HCPS: usize = 1000;
const WARM_UP: usize = 10;
const DRAFTS: usize = 10_000;

/// A fresh database: a SQLite file, or a new schema in the test PostgreSQL database (`None`,
/// test skipped, when none is configured).
struct Database {
    url: String,
    _dir: tempfile::TempDir,
    schema: Option<(String, String)>,
}

impl Database {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("bounds.db").to_str().unwrap().to_owned();
        Self {
            url,
            _dir: dir,
            schema: None,
        }
    }

    async fn postgres(name: &str) -> Option<Self> {
        let Ok(base) = std::env::var("OPENCLM_TEST_DATABASE_URL") else {
            assert!(
                std::env::var_os("OPENCLM_REQUIRE_POSTGRES").is_none(),
                "OPENCLM_REQUIRE_POSTGRES is set but OPENCLM_TEST_DATABASE_URL is not"
            );
            eprintln!("skipped: OPENCLM_TEST_DATABASE_URL is not set");
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!("{name}_{}_{nanos}", std::process::id());
        openclm_store::create_schema(&base, &schema).await.unwrap();
        Some(Self {
            url: openclm_store::url_with_schema(&base, &schema),
            _dir: tempfile::tempdir().unwrap(),
            schema: Some((base, schema)),
        })
    }

    async fn drop(self) {
        if let Some((base, schema)) = &self.schema {
            openclm_store::drop_schema(base, schema).await.unwrap();
        }
    }
}

/// An `openclm serve` process, killed when dropped.
struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(database_url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("OPENCLM_DATABASE_URL", database_url)
            .env("OPENCLM_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server
            .client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// The server's peak resident memory so far (VmHWM), in bytes.
    fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb * 1024
    }

    async fn send(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Posts a raw body to `/v1/events`.
    async fn events(&self, key: &str, content_type: &str, body: String) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/v1/events", self.base))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Decides for `hcps`; returns the decisions and the answer's size in bytes.
    async fn decide(&self, key: &str, hcps: &[String]) -> (Vec<Value>, usize) {
        let response = self
            .client
            .post(format!("{}/v1/decide", self.base))
            .bearer_auth(key)
            .json(&json!({"hcps": hcps, "channels": ["email"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bytes = response.bytes().await.unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        (answer["decisions"].as_array().unwrap().clone(), bytes.len())
    }
}

fn now() -> Timestamp {
    openclm::now()
}

fn hcp(i: usize) -> openclm_core::Hcp {
    HcpInput {
        name: Some(format!("Dr. Bound {i}")),
        specialty: Some("cardiology".into()),
        country: Some("DE".into()),
        territory: Some(format!("T-{}", i % 7)),
        external_ids: vec![ExternalId {
            system: "crm".into(),
            id: format!("crm-{i}"),
        }],
        ..HcpInput::default()
    }
    .validate(&format!("hcp-{i:04}"))
    .unwrap()
}

/// An email template approved in another MLR system of record, for `countries` (all if empty).
fn approved(id: &str, topic: &str, countries: &[&str]) -> openclm_core::content::Content {
    ContentInput {
        id: Some(id.into()),
        title: Some(format!("{topic} email")),
        kind: Some("email_template".into()),
        product: Some("cardiozan".into()),
        topics: vec![topic.into()],
        countries: countries.iter().map(|c| (*c).to_owned()).collect(),
        status: Some("approved".into()),
        approval_code: Some(format!("CZ-{id}")),
        approved_at: Some("2026-01-01T00:00:00Z".into()),
        expires_at: Some("2099-01-01T00:00:00Z".into()),
        ..ContentInput::default()
    }
    .validate()
    .unwrap()
}

fn draft(i: usize) -> Value {
    let topic = ["efficacy", "safety", "dosing"][i % 3];
    json!({"id": format!("DRAFT-{i:05}"), "title": format!("Draft {i}"), "kind": "email_template",
           "product": "cardiozan", "topics": [topic]})
}

/// The answer to one HCP stays this small whatever the library: at most 50 blocked candidates
/// listed, the rest counted per code.
const MAX_BYTES_PER_HCP: usize = 16 * 1024;
/// How much the server's peak memory may grow while deciding for 1,000 HCPs at once.
const MAX_GROWTH: u64 = 100 * 1024 * 1024;

/// 10,000 drafts registered by a marketer (in requests within the limit of 1,000 items), three
/// approved emails and 200 approved for another country: decisions for 1,000 HCPs choose
/// approved content, never list a draft, stay under 16 KB per HCP, and the server's peak memory
/// grows by less than 100 MB while it decides for all of them in one request.
async fn a_library_of_ten_thousand_drafts_leaves_decisions_small(database: Database) {
    let store = AnyStore::open(&database.url).await.unwrap();
    let marketer = openclm::create_key(&store, Role::Marketer, "bounds")
        .await
        .unwrap()
        .1;
    let admin = openclm::create_key(&store, Role::Admin, "bounds")
        .await
        .unwrap()
        .1;
    let written = store
        .put_hcps((0..HCPS + WARM_UP).map(hcp).collect(), "test".into(), now())
        .await
        .unwrap();
    assert!(written.iter().all(Result::is_ok));
    let mut library = vec![
        approved("EM-EFFICACY", "efficacy", &[]),
        approved("EM-SAFETY", "safety", &[]),
        approved("EM-DOSING", "dosing", &["DE"]),
    ];
    library.extend((0..200).map(|i| approved(&format!("FR-{i:03}"), "efficacy", &["FR"])));
    store
        .put_content(library, "mlr-import".into(), now())
        .await
        .unwrap();
    drop(store);
    let server = Server::start(&database.url).await;

    // Every HCP opted in to email.
    let consent: Vec<Value> = (0..HCPS + WARM_UP)
        .map(|i| {
            json!({"event_id": format!("consent-{i}"), "occurred_at": "2026-01-02T00:00:00Z",
                "hcp": format!("crm-{i}"), "source": "crm", "channel": "email",
                "type": "consent_changed", "state": "granted", "purpose": "promotional",
                "evidence": "signed form"})
        })
        .collect();
    let (status, answer) = server
        .events(&admin, "application/json", json!(consent).to_string())
        .await;
    assert_eq!(
        (status, &answer["accepted"]),
        (200, &json!(HCPS + WARM_UP)),
        "{answer}"
    );

    // Bulk content writes have a limit, named in the refusal.
    let (status, answer) = server
        .send(
            &marketer,
            "POST",
            "/v1/content",
            Some(json!((0..1001).map(draft).collect::<Vec<_>>())),
        )
        .await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1000"),
        "{answer}"
    );
    for chunk in (0..DRAFTS).collect::<Vec<_>>().chunks(1000) {
        let (status, answer) = server
            .send(
                &marketer,
                "POST",
                "/v1/content",
                Some(json!(chunk.iter().map(|&i| draft(i)).collect::<Vec<_>>())),
            )
            .await;
        assert_eq!(
            (status, &answer["created"]),
            (200, &json!(1000)),
            "{answer}"
        );
    }

    let ids: Vec<String> = (0..HCPS + WARM_UP).map(|i| format!("hcp-{i:04}")).collect();
    let check = |decisions: &[Value], bytes: usize| {
        assert!(!decisions.is_empty());
        let per_hcp = bytes / decisions.len();
        assert!(
            per_hcp < MAX_BYTES_PER_HCP,
            "{per_hcp} bytes per HCP; the first decision: {}",
            &decisions[0].to_string()[..2000.min(decisions[0].to_string().len())]
        );
        for d in decisions {
            let chosen = d["chosen"]["content_id"]
                .as_str()
                .unwrap_or_else(|| panic!("{d}"));
            assert!(chosen.starts_with("EM-"), "{chosen}");
            let blocked = d["blocked"].as_array().unwrap();
            assert_eq!(blocked.len(), 50, "{d}");
            assert!(
                blocked.iter().all(|b| b["code"] == "content_country"),
                "{d}"
            );
            assert_eq!(
                d["blocked_summary"],
                json!([{"code": "content_country", "candidates": 200}])
            );
            assert!(
                !d.to_string().contains("DRAFT-"),
                "a draft is a candidate: {d}"
            );
        }
    };
    let (decisions, bytes) = server.decide(&marketer, &ids[HCPS..]).await;
    check(&decisions, bytes);

    let before = server.peak_memory();
    let (decisions, bytes) = server.decide(&marketer, &ids[..HCPS]).await;
    let growth = server.peak_memory().saturating_sub(before);
    assert_eq!(decisions.len(), HCPS);
    check(&decisions, bytes);
    eprintln!(
        "1,000 decisions: {bytes} bytes ({} per HCP); peak memory {:.1} MB, grown by {:.1} MB",
        bytes / HCPS,
        server.peak_memory() as f64 / 1048576.0,
        growth as f64 / 1048576.0
    );
    assert!(
        growth < MAX_GROWTH,
        "deciding for 1,000 HCPs grew the server's peak memory by {growth} bytes"
    );
    drop(server);
    database.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_of_ten_thousand_drafts_leaves_decisions_small_on_sqlite() {
    a_library_of_ten_thousand_drafts_leaves_decisions_small(Database::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_of_ten_thousand_drafts_leaves_decisions_small_on_postgres() {
    if let Some(database) = Database::postgres("bounds_decide").await {
        a_library_of_ten_thousand_drafts_leaves_decisions_small(database).await;
    }
}

/// An adverse event's `text` followed by a benign `text` in the same event is refused naming
/// `text` — alone with 422, in an array or NDJSON as that event's rejection beside the others
/// accepted — and nothing of it is stored: no event, no PV case. The same text sent once does
/// open a case.
async fn an_event_with_a_repeated_key_is_refused_naming_it(database: Database) {
    let store = AnyStore::open(&database.url).await.unwrap();
    let ingest = openclm::create_key(&store, Role::Ingest, "bounds")
        .await
        .unwrap()
        .1;
    let admin = openclm::create_key(&store, Role::Admin, "bounds")
        .await
        .unwrap()
        .1;
    store
        .put_hcps(vec![hcp(0)], "test".into(), now())
        .await
        .unwrap();
    drop(store);
    let server = Server::start(&database.url).await;
    const AE: &str = "My patient developed a severe rash after starting cardiozan.";
    let twice = |id: &str| {
        format!(
            r#"{{"event_id": "{id}", "occurred_at": "2026-03-02T09:30:00Z", "hcp": "crm-0",
            "source": "crm", "channel": "medical_information",
            "type": "medical_information_requested", "text": "{AE}", "text": "Thanks, all fine."}}"#
        )
    };
    let good = |id: &str| {
        json!({"event_id": id, "occurred_at": "2026-03-02T09:31:00Z", "hcp": "crm-0",
            "source": "crm", "channel": "web", "type": "content_viewed"})
        .to_string()
    };

    let (status, answer) = server
        .events(&ingest, "application/json", twice("twice-object"))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "text", "{answer}");

    let array = format!("[{}, {}]", good("good-1"), twice("twice-array"));
    let ndjson = format!(
        "{}\n{}\n",
        good("good-2"),
        twice("twice-ndjson").replace('\n', " ")
    );
    for (content_type, body) in [
        ("application/json", array),
        ("application/x-ndjson", ndjson),
    ] {
        let (status, answer) = server.events(&ingest, content_type, body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            (&answer["accepted"], &answer["rejected"]),
            (&json!(1), &json!(1))
        );
        let refused = &answer["results"][1];
        assert_eq!(refused["status"], "rejected", "{answer}");
        assert_eq!(refused["error"]["field"], "text", "{answer}");
    }

    let (_, timeline) = server
        .send(&admin, "GET", "/v1/hcps/hcp-0000/timeline", None)
        .await;
    let stored: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(stored.len(), 2, "{timeline}");
    assert!(
        stored.iter().all(|id| id.starts_with("good-")),
        "{stored:?}"
    );
    // The PV queue is a person's to read; the store answers for the test.
    let cases = || async {
        let store = AnyStore::open(&database.url).await.unwrap();
        store.ae_cases(AeFilter::default()).await.unwrap()
    };
    assert!(cases().await.is_empty());

    // The same report sent once is screened and opens a case: the refusal above is what kept
    // it out.
    let once = twice("once").replace(r#", "text": "Thanks, all fine.""#, "");
    let (status, answer) = server.events(&ingest, "application/json", once).await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(1)), "{answer}");
    assert_eq!(cases().await.len(), 1);
    drop(server);
    database.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_with_a_repeated_key_is_refused_naming_it_on_sqlite() {
    an_event_with_a_repeated_key_is_refused_naming_it(Database::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_with_a_repeated_key_is_refused_naming_it_on_postgres() {
    if let Some(database) = Database::postgres("bounds_events").await {
        an_event_with_a_repeated_key_is_refused_naming_it(database).await;
    }
}
