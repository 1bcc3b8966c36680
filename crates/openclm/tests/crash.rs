//! Crash safety: the server is killed with SIGKILL while clients stream batches; after each restart
//! every acknowledged event is present exactly once and the database passes its integrity check.

use openclm_store::SqliteStore;
use openclm_store::prelude::*;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_openclm");
const HCPS: usize = 200;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn cli(db: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .args(["--database-url", db])
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

async fn start(db: &str, port: u16) -> Child {
    let child = Command::new(BIN)
        .args([
            "serve",
            "--database-url",
            db,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("OPENCLM_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status() == 200
        {
            return child;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn event(id: &str, rng: &mut impl Rng) -> Value {
    json!({"event_id": id, "occurred_at": format!("2026-10-{:02}T10:00:00Z", rng.random_range(1..29)),
           "hcp": format!("CRM-{}", rng.random_range(0..HCPS)), "source": "crm",
           "channel": "face_to_face", "type": "slide_viewed", "dwell_ms": rng.random_range(0..90_000)})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db").to_str().unwrap().to_owned();
    let csv: String = std::iter::once(
        "id,name,specialty,country,territory,segments,email,external_ids".to_owned(),
    )
    .chain((0..HCPS).map(|i| format!("hcp-{i},Dr. Crash {i},cardiology,DE,T-1,,,crm:CRM-{i}")))
    .collect::<Vec<_>>()
    .join("\n");
    let csv_path = dir.path().join("hcps.csv");
    std::fs::write(&csv_path, csv).unwrap();
    cli(&db, &["import", "hcps", csv_path.to_str().unwrap()]).await;
    let key = cli(&db, &["keys", "create", "--role", "ingest"])
        .await
        .lines()
        .last()
        .unwrap()
        .to_owned();

    // Every event sent, by id, so a resend carries exactly the same payload.
    let mut sent: HashMap<String, Value> = HashMap::new();
    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut next_id = 0usize;
    for round in 0..5 {
        let port = free_port();
        let mut server = start(&db, port).await;
        let url = format!("http://127.0.0.1:{port}/v1/events");
        let mut clients = Vec::new();
        for c in 0..3 {
            // New events, plus some acknowledged in earlier rounds, which must come back duplicate.
            let earlier: Vec<String> = acknowledged
                .lock()
                .unwrap()
                .iter()
                .take(2000)
                .cloned()
                .collect();
            let batches: Vec<Value> = (0..200)
                .map(|b| {
                    let mut batch: Vec<Value> = (0..200)
                        .map(|_| {
                            next_id += 1;
                            let id = format!("r{round}-c{c}-{next_id}");
                            let e = event(&id, &mut rng);
                            sent.insert(id, e.clone());
                            e
                        })
                        .collect();
                    batch.extend(
                        earlier
                            .iter()
                            .skip(b * 10)
                            .take(10)
                            .map(|id| sent[id].clone()),
                    );
                    Value::Array(batch)
                })
                .collect();
            let earlier: HashSet<String> = earlier.into_iter().collect();
            let (url, key, acknowledged) = (url.clone(), key.clone(), acknowledged.clone());
            clients.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                for batch in batches {
                    let Ok(response) = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&batch)
                        .send()
                        .await
                    else {
                        return;
                    };
                    if response.status() != 200 {
                        return;
                    }
                    let Ok(body) = response.json::<Value>().await else {
                        return;
                    };
                    let mut acked = acknowledged.lock().unwrap();
                    for r in body["results"].as_array().unwrap() {
                        let id = r["event_id"].as_str().unwrap();
                        let expected = if earlier.contains(id) {
                            "duplicate"
                        } else {
                            "accepted"
                        };
                        assert_eq!(r["status"], expected, "{r}");
                        acked.insert(id.to_owned());
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..900))).await;
        server.start_kill().unwrap(); // SIGKILL
        server.wait().await.unwrap();
        for c in clients {
            c.await.unwrap();
        }
        assert!(
            !acknowledged.lock().unwrap().is_empty(),
            "round {round}: nothing was acknowledged before the kill"
        );
    }

    // After a last restart, every acknowledged event sent again is a duplicate.
    let port = free_port();
    let mut server = start(&db, port).await;
    let acked: Vec<String> = acknowledged.lock().unwrap().iter().cloned().collect();
    let client = reqwest::Client::new();
    for chunk in acked.chunks(5000) {
        let batch: Vec<Value> = chunk.iter().map(|id| sent[id].clone()).collect();
        let body: Value = client
            .post(format!("http://127.0.0.1:{port}/v1/events"))
            .bearer_auth(&key)
            .json(&batch)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["duplicates"].as_u64(),
            Some(chunk.len() as u64),
            "{}",
            body["results"][0]
        );
    }
    server.start_kill().unwrap();
    server.wait().await.unwrap();

    let store = SqliteStore::open(&db).unwrap();
    let report = store.check_integrity().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut stmt = conn.prepare("SELECT event_id FROM events").unwrap();
    for id in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        *counts.entry(id.unwrap()).or_default() += 1;
    }
    for id in &acked {
        assert_eq!(
            counts.get(id),
            Some(&1),
            "acknowledged event {id} must be stored exactly once"
        );
    }
    assert!(counts.values().all(|&n| n == 1), "an event is stored twice");
    assert_eq!(store.counts().await.unwrap().events as usize, counts.len());
}
