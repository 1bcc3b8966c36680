//! A shared deployment as it runs: several `openclm serve` processes on one PostgreSQL database,
//! and the move of an embedded deployment into PostgreSQL with `openclm copy`. These run when
//! `OPENCLM_TEST_DATABASE_URL` names a PostgreSQL database (CI always sets it), each in a schema
//! of its own.

use openclm_core::auth::Role;
use openclm_core::hcp::{ExternalId, HcpInput};
use openclm_store::AnyStore;
use openclm_store::prelude::*;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_openclm");

/// A new schema in the test database, or `None` (test skipped) when none is configured.
async fn scratch_database(name: &str) -> Option<String> {
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
    Some(openclm_store::url_with_schema(&base, &schema))
}

/// An `openclm serve` process, killed when dropped.
struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_node(database_url: &str) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .args(["serve", "--database-url", database_url, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("OPENCLM_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let node = Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{}/healthz", node.base))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node
}

fn hcp(i: usize) -> openclm_core::Hcp {
    HcpInput {
        name: Some(format!("Dr. Node {i}")),
        specialty: Some("cardiology".into()),
        country: Some("DE".into()),
        territory: Some(format!("T-{}", i % 7)),
        segments: vec![],
        email: None,
        external_ids: vec![ExternalId {
            system: "crm".into(),
            id: format!("crm-{i}"),
        }],
        restricted_products: vec![],
    }
    .validate(&format!("hcp-{i}"))
    .unwrap()
}

fn event(i: usize) -> Value {
    json!({
        "event_id": format!("ev-{i:05}"),
        "occurred_at": format!("2026-03-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60),
        "hcp": format!("crm-{}", i % 200),
        "source": "crm",
        "channel": if i.is_multiple_of(3) { "email" } else { "web" },
        "type": if i.is_multiple_of(3) { "opened" } else { "content_viewed" },
        "content_id": "CARDIO-01",
    })
}

async fn post(client: &reqwest::Client, node: &Node, key: &str, events: &[Value]) -> Value {
    let response = client
        .post(format!("{}/v1/events", node.base))
        .bearer_auth(key)
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_store_every_event_exactly_once_and_read_each_others_writes() {
    let Some(url) = scratch_database("multinode").await else {
        return;
    };
    let store = AnyStore::open(&url).await.unwrap();
    store
        .put_hcps((0..200).map(hcp).collect(), "test".into(), openclm::now())
        .await
        .unwrap();
    let (_, ingest) = openclm::create_key(&store, Role::Ingest, "test")
        .await
        .unwrap();
    let (_, admin) = openclm::create_key(&store, Role::Admin, "test")
        .await
        .unwrap();
    let (a, b) = (start_node(&url).await, start_node(&url).await);
    let client = reqwest::Client::new();

    // 3,000 events. Every batch goes to both nodes at once, and the whole set goes out a second
    // time cut differently, in reverse, with copies inside batches: 4 + copies per event.
    let events: Vec<Value> = (0..3000).map(event).collect();
    let mut sends: Vec<(usize, Vec<Value>)> = Vec::new();
    for chunk in events.chunks(100) {
        sends.push((0, chunk.to_vec()));
        sends.push((1, chunk.to_vec()));
    }
    for (n, chunk) in events.rchunks(70).enumerate() {
        let mut batch = chunk.to_vec();
        batch.push(chunk[0].clone());
        sends.push((n % 2, batch));
    }
    let total_sent: usize = sends.iter().map(|(_, b)| b.len()).sum();
    let nodes = std::sync::Arc::new([a, b]);
    let mut tasks = Vec::new();
    for (node, batch) in sends {
        let (client, nodes, key) = (client.clone(), nodes.clone(), ingest.clone());
        tasks.push(tokio::spawn(async move {
            post(&client, &nodes[node], &key, &batch).await
        }));
    }
    // Meanwhile an operator runs the migrations: safe while nodes serve, and nothing to apply.
    let migrate = Command::new(BIN)
        .args(["migrate", "--database-url", &url])
        .env("OPENCLM_LOG", "warn")
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{migrate:?}");
    assert!(
        String::from_utf8_lossy(&migrate.stdout).contains("(0 migration(s) applied now)"),
        "{migrate:?}"
    );
    let (mut accepted, mut duplicates) = (0, 0);
    for t in tasks {
        let summary = t.await.unwrap();
        assert_eq!(summary["rejected"], 0, "{summary}");
        assert_eq!(summary["conflicts"], 0, "{summary}");
        accepted += summary["accepted"].as_u64().unwrap();
        duplicates += summary["duplicates"].as_u64().unwrap();
    }
    assert_eq!(accepted, 3000, "each event accepted exactly once");
    assert_eq!(duplicates as usize, total_sent - 3000);
    assert_eq!(store.counts().await.unwrap().events, 3000);
    let report = store.check_integrity().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Each node reads what the other wrote, at once.
    let [a, b] = &*nodes;
    let get = |node: &Node, path: &str| {
        client
            .get(format!("{}{path}", node.base))
            .bearer_auth(&admin)
            .send()
    };
    let fresh = json!({"event_id": "after", "occurred_at": "2026-04-01T00:00:00Z",
        "hcp": "crm-5", "source": "crm", "channel": "email", "type": "clicked"});
    post(&client, a, &ingest, &[fresh]).await;
    let timeline: Value = get(b, "/v1/hcps/hcp-5/timeline?limit=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(timeline["items"][0]["event_id"], "after");
    let put = client
        .put(format!("{}/v1/hcps/hcp-new", b.base))
        .bearer_auth(&admin)
        .json(
            &json!({"name": "Dr. New", "specialty": "oncology", "country": "FR",
            "external_ids": [{"system": "crm", "id": "crm-new"}]}),
        )
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let seen = get(a, "/v1/hcps/hcp-new").await.unwrap();
    assert_eq!(seen.status(), 200);
    let seen: Value = seen.json().await.unwrap();
    assert_eq!(seen["specialty"], "oncology");
    // And an event for that HCP, sent to the node that did not register it, is accepted.
    let for_new = json!({"event_id": "new-1", "occurred_at": "2026-04-02T00:00:00Z",
        "hcp": "crm-new", "source": "crm", "channel": "web", "type": "content_viewed"});
    let summary = post(&client, a, &ingest, &[for_new]).await;
    assert_eq!(summary["accepted"], 1, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_an_embedded_deployment_into_postgres_with_every_table_equal() {
    let Some(url) = scratch_database("copy").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("demo.db").display().to_string();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("OPENCLM_LOG", "warn")
            .output()
            .unwrap()
    };
    let demo = run(&[
        "demo",
        "--no-serve",
        "--hcps",
        "300",
        "--months",
        "2",
        "--database-url",
        &sqlite,
    ]);
    assert!(demo.status.success(), "{demo:?}");
    let source = AnyStore::open(&sqlite).await.unwrap();
    let expected = source.table_digests().await.unwrap();
    let counts = source.counts().await.unwrap();
    assert!(
        counts.events > 1000 && counts.consent_records > 0,
        "{counts:?}"
    );
    drop(source);

    let copy = run(&["copy", "--from", &sqlite, "--to", &url]);
    let stdout = String::from_utf8_lossy(&copy.stdout);
    assert!(copy.status.success(), "{copy:?}");
    assert!(
        stdout.contains("every table's rows and content hash match"),
        "{stdout}"
    );
    // The password never shows.
    assert!(!stdout.contains(":openclm@"), "{stdout}");

    let target = AnyStore::open(&url).await.unwrap();
    assert_eq!(target.table_digests().await.unwrap(), expected);
    assert_eq!(target.counts().await.unwrap(), counts);
    assert!(target.check_integrity().await.unwrap().problems.is_empty());

    // The copy is live: new events get new sequence numbers, resent ones stay duplicates.
    let hcp = target
        .list_hcps(
            openclm_store::HcpFilter::default(),
            openclm_store::PageRequest {
                cursor: None,
                limit: 1,
            },
        )
        .await
        .unwrap()
        .items
        .remove(0);
    let timeline = |store: AnyStore, id: openclm_core::HcpId| async move {
        store
            .timeline(
                id,
                openclm_store::TimelineFilter::default(),
                openclm_store::PageRequest {
                    cursor: None,
                    limit: 1000,
                },
            )
            .await
            .unwrap()
            .unwrap()
            .items
    };
    let before = timeline(target.clone(), hcp.id.clone()).await;
    let resent: Vec<openclm_core::Event> = before
        .iter()
        .map(|e| openclm_core::Event::from_json(e.event.clone()).unwrap())
        .collect();
    let outcomes = target
        .ingest(
            resent,
            openclm_store::UnknownHcpPolicy::Reject,
            openclm::now(),
        )
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| *o == openclm_store::IngestOutcome::Duplicate),
        "{outcomes:?}"
    );
    let mut fresh = before[0].event.clone();
    fresh["event_id"] = json!("after-copy");
    let outcome = target
        .ingest(
            vec![openclm_core::Event::from_json(fresh).unwrap()],
            openclm_store::UnknownHcpPolicy::Reject,
            openclm::now(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, vec![openclm_store::IngestOutcome::Accepted]);
    let after = timeline(target.clone(), hcp.id.clone()).await;
    let max_before = before.iter().map(|e| e.seq).max().unwrap();
    let added = after.iter().find(|e| e.event_id == "after-copy").unwrap();
    assert!(added.seq > max_before);

    // A second copy into the now non-empty database is refused, naming the reason.
    let again = run(&["copy", "--from", &sqlite, "--to", &url]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("copy only into an empty database"),
        "{stderr}"
    );
}

#[tokio::test]
async fn migrate_on_a_fresh_postgres_schema_reports_every_migration_it_applied() {
    let Some(url) = scratch_database("migrate_fresh").await else {
        return;
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../openclm-store/migrations/postgres");
    let n = std::fs::read_dir(dir)
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "sql")
        })
        .count();
    let migrate = || {
        Command::new(BIN)
            .args(["migrate", "--database-url", &url])
            .env("OPENCLM_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = migrate();
    assert!(first.status.success(), "{first:?}");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains(&format!("({n} migration(s) applied now: 1, 2, ")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!(", {n})")), "{stdout}");
    let again = migrate();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("(0 migration(s) applied now)"),
        "{again:?}"
    );
}
