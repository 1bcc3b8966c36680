//! What refusing repeated keys costs the ingest path: the strict reader against serde_json's own
//! `Value`, on a batch of 1,000 events of the benchmark's shape. A measurement, run with
//! `cargo test -p openclm-core --release --test json -- --ignored --nocapture`.

use serde_json::{Value, json};

#[test]
#[ignore = "a measurement, not a check"]
fn strict_reading_speed() {
    let events: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"event_id": format!("evt-{i:032x}"), "occurred_at": "2026-03-02T09:30:00Z",
                "hcp": format!("crm-{}", i * 7919 % 100_000), "source": "crm",
                "channel": "face_to_face", "type": "slide_viewed", "content_id": "CZ-DECK-01",
                "key_message": "km-outcomes", "rep_id": "rep-DE-N-01", "dwell_ms": 42000,
                "properties": {"slide": i % 12, "device": {"os": "iPadOS", "app": "3.2.1"}}})
        })
        .collect();
    let body = serde_json::to_vec(&events).unwrap();
    let rounds = 200;
    let time = |read: &dyn Fn(&[u8]) -> usize| {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                std::hint::black_box(read(std::hint::black_box(&body)));
            }
            best = best.min(started.elapsed().as_secs_f64() / f64::from(rounds));
        }
        best * 1e3
    };
    let plain = time(&|b| {
        serde_json::from_slice::<Value>(b)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    });
    let strict = time(&|b| {
        openclm_core::json::from_slice(b)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    });
    println!(
        "a batch of 1,000 events ({} KB): serde_json {plain:.3} ms, strict {strict:.3} ms \
         ({:+.1}%)",
        body.len() / 1024,
        (strict / plain - 1.0) * 100.0
    );
}
