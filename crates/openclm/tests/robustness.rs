//! Random and mutated input never yields a 5xx or a panic, and never stops the server.

mod common;

use common::{event, spawn_app};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// Values of every JSON kind, including awkward ones, to put where a field is expected.
fn awkward(rng: &mut ChaCha8Rng) -> Value {
    match rng.random_range(0..14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1e308),
        4 => json!(u64::MAX),
        5 => json!(""),
        6 => json!("\u{0}\u{7}\u{202e}évènement😀"),
        7 => json!("x".repeat(rng.random_range(100..70_000))),
        8 => json!([]),
        9 => json!({"nested": {"deeper": [1, {"x": null}]}}),
        10 => json!("2026-13-45T25:61:61Z"),
        11 => json!(-0.0),
        12 => json!([["a"], {"b": "c"}]),
        _ => json!("email"),
    }
}

fn mutate_text(text: &str, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..8) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => bytes[at] = rng.random(),
            1 => {
                bytes.remove(at);
            }
            2 => {
                const NOISE: &[u8] = b"{}[]\",:\\\n0e";
                bytes.insert(at, NOISE[rng.random_range(0..NOISE.len())]);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

#[tokio::test]
async fn random_and_mutated_bodies_never_cause_a_server_error() {
    let app = spawn_app().await;
    app.seed_hcps(3).await;
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let fields = [
        "event_id",
        "occurred_at",
        "hcp",
        "source",
        "channel",
        "type",
        "dwell_ms",
        "percent",
        "question",
        "answer",
        "score",
        "text",
        "rep_id",
        "key_messages",
        "units",
        "value",
        "state",
        "content_id",
        "url",
    ];
    let types = [
        "opened",
        "slide_viewed",
        "video_progress",
        "survey_answered",
        "comment",
        "call_logged",
        "prescription",
        "consent_changed",
        "medical_information_requested",
    ];
    let content_types = [
        "application/json",
        "application/x-ndjson",
        "text/plain",
        "application/json; charset=utf-8",
    ];
    for round in 0..400 {
        let body: Vec<u8> = match round % 4 {
            // Random bytes.
            0 => (0..rng.random_range(0..2048))
                .map(|_| rng.random())
                .collect(),
            // A valid batch with random fields replaced by awkward values.
            1 | 2 => {
                let batch: Vec<Value> = (0..rng.random_range(1..20))
                    .map(|i| {
                        let mut e = event(&format!("r{round}-{i}"), rng.random_range(0..5), i);
                        e["type"] = json!(types[rng.random_range(0..types.len())]);
                        for _ in 0..rng.random_range(0..4) {
                            e[fields[rng.random_range(0..fields.len())]] = awkward(&mut rng);
                        }
                        e
                    })
                    .collect();
                serde_json::to_vec(&batch).unwrap()
            }
            // A valid batch with its text mangled.
            _ => {
                let batch = json!([
                    event(&format!("m{round}"), 0, 1),
                    event(&format!("n{round}"), 1, 2)
                ]);
                mutate_text(&batch.to_string(), &mut rng)
            }
        };
        let content_type = content_types[rng.random_range(0..content_types.len())];
        let response = app
            .post_events(&app.ingest, content_type, body.clone())
            .await;
        let status = response.status();
        assert!(
            !status.is_server_error(),
            "round {round}: {status} for body {:?}",
            String::from_utf8_lossy(&body)
        );
        if status == 200 {
            let outcome: Value = response.json().await.unwrap();
            let n = outcome["results"].as_array().unwrap().len() as u64;
            let sum: u64 = ["accepted", "duplicates", "conflicts", "rejected"]
                .iter()
                .map(|k| outcome[k].as_u64().unwrap())
                .sum();
            assert_eq!(
                n, sum,
                "round {round}: every event gets exactly one outcome"
            );
        }
    }
    // Deep nesting and huge arrays are refused cleanly too.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        app.post_events(&app.ingest, "application/json", deep)
            .await
            .status(),
        400
    );

    // Random paths and query strings on the read routes.
    for round in 0..200 {
        let junk: String = (0..rng.random_range(0..40))
            .map(|_| char::from(rng.random_range(0x21u8..0x7f)))
            .filter(|c| *c != '#' && *c != '?' && *c != '/')
            .collect();
        let junk = junk.replace('%', "%25");
        let paths = [
            format!("/v1/hcps/{junk}"),
            format!("/v1/hcps/hcp-0/timeline?cursor={junk}&limit={junk}"),
            format!("/v1/hcps?territory={junk}&limit=7&cursor={junk}"),
            format!("/v1/content?status={junk}"),
            format!("/v1/hcps/{junk}/consent"),
        ];
        for path in paths {
            let status = app.get(&app.read, &path).await.status();
            assert!(
                !status.is_server_error(),
                "round {round}: {status} for {path}"
            );
        }
    }
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let report = {
        use openclm_store::prelude::*;
        app.store.check_integrity().await.unwrap()
    };
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

// ---- connections: slow and idle clients are cut, others are served --------------------------

mod connections {
    use super::common::{TestApp, spawn_app_with};
    use openclm_server::{ApiConfig, ConnectionLimits};
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    fn limits(header_ms: u64, body_ms: u64, idle_ms: u64, max: usize) -> ApiConfig {
        ApiConfig {
            connections: ConnectionLimits {
                header_read_timeout: Duration::from_millis(header_ms),
                body_read_timeout: Duration::from_millis(body_ms),
                idle_timeout: Duration::from_millis(idle_ms),
                max_connections: max,
            },
            ..ApiConfig::default()
        }
    }

    async fn connect(app: &TestApp) -> TcpStream {
        TcpStream::connect(app.base.trim_start_matches("http://"))
            .await
            .unwrap()
    }

    /// Reads until the server closes the connection (or `within` passes, which fails the test);
    /// returns what was read and when the close came.
    async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Instant) {
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    return (String::from_utf8_lossy(&text).into(), Instant::now());
                }
                Ok(Ok(n)) => text.extend_from_slice(&buf[..n]),
                Err(_) => panic!(
                    "the server kept the connection open for {within:?}; read so far: {}",
                    String::from_utf8_lossy(&text)
                ),
            }
        }
    }

    async fn healthz(app: &TestApp) -> u16 {
        app.client
            .get(format!("{}/healthz", app.base))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn a_connection_stalled_in_its_headers_is_closed_while_others_are_served() {
        let app = spawn_app_with(limits(300, 30_000, 30_000, 64)).await;
        let mut stalled = connect(&app).await;
        let opened = Instant::now();
        stalled.write_all(b"G").await.unwrap();
        // Meanwhile a normal client is served at once.
        assert_eq!(healthz(&app).await, 200);
        assert!(opened.elapsed() < Duration::from_millis(300));
        let (_, closed) = read_until_closed(&mut stalled, Duration::from_secs(5)).await;
        let after = closed - opened;
        assert!(
            after >= Duration::from_millis(250),
            "closed after {after:?}"
        );
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
        // A header timeout shorter than the idle one: between requests only the idle one runs.
        let app = spawn_app_with(limits(200, 30_000, 600, 64)).await;
        let mut idle = connect(&app).await;
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: openclm\r\n\r\n")
            .await
            .unwrap();
        let answered = Instant::now();
        let (text, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.contains(r#"{"status":"ok"}"#), "{text}");
        let after = closed - answered;
        assert!(
            after >= Duration::from_millis(550) && after < Duration::from_secs(4),
            "closed {after:?} after the answer"
        );
    }

    #[tokio::test]
    async fn a_body_that_stalls_midway_is_answered_408_naming_the_body() {
        let app = spawn_app_with(limits(5_000, 400, 30_000, 64)).await;
        let mut slow = connect(&app).await;
        let started = Instant::now();
        let head = format!(
            "POST /v1/events HTTP/1.1\r\nHost: openclm\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"event_id\":",
            app.ingest
        );
        slow.write_all(head.as_bytes()).await.unwrap();
        let (text, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("request_timeout"), "{text}");
        assert!(text.contains("body: not received within 400 ms"), "{text}");
        assert!(started.elapsed() >= Duration::from_millis(350));
        // Nothing of the cut batch was stored, and the server still serves.
        assert_eq!(app.event_count().await, 0);
        assert_eq!(healthz(&app).await, 200);
    }

    #[tokio::test]
    async fn beyond_the_connection_limit_others_are_served_once_slots_free() {
        let app = spawn_app_with(limits(500, 30_000, 30_000, 2)).await;
        let mut holders = Vec::new();
        for _ in 0..2 {
            let mut stream = connect(&app).await;
            stream.write_all(b"G").await.unwrap();
            holders.push(stream);
        }
        // Let the server accept both before the next client comes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let asked = Instant::now();
        assert_eq!(healthz(&app).await, 200);
        let waited = asked.elapsed();
        // Served only once the stalled holders were cut by the header timeout.
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
            "served after {waited:?}"
        );
        for mut holder in holders {
            read_until_closed(&mut holder, Duration::from_secs(5)).await;
        }
        // With the slots free, clients are served at once again.
        let asked = Instant::now();
        for _ in 0..5 {
            assert_eq!(healthz(&app).await, 200);
        }
        assert!(asked.elapsed() < Duration::from_secs(2));
    }
}
