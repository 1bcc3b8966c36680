//! `segment`: the Segment-compatible Tracking API's `/v1/batch` through HTTP, as an
//! SDK sends it — messages with `messageId`, `timestamp`, a batch `sentAt`,
//! context and properties — to a real `openclm serve` process on a fresh database.

use openclm::{create_key, now};
use openclm_core::Timestamp;
use openclm_core::auth::Role;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::Instant;

use crate::cli::SegmentArgs;
use crate::harness::{
    Target, backend_name, load_hcps, ms, percentile, post_all, start_node_configured,
};

pub async fn run(args: SegmentArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.batch >= 1 && args.clients >= 1 && args.hcps >= 1,
        "batch, clients and hcps must be 1 or more"
    );
    anyhow::ensure!(
        args.batch <= openclm_core::segment::MAX_BATCH_MESSAGES,
        "batch: the Tracking API takes at most {} messages per batch",
        openclm_core::segment::MAX_BATCH_MESSAGES
    );
    let backend = backend_name(args.database_url.as_deref());
    println!(
        "Tracking API benchmark: {} messages to /v1/batch in batches of {}, {} clients, {} HCPs, fresh {backend}",
        args.events, args.batch, args.clients, args.hcps
    );
    let bodies = build_batches(&args, 11);
    let largest = bodies.iter().map(String::len).max().unwrap_or(0);
    anyhow::ensure!(
        largest <= openclm_core::segment::MAX_BATCH_BYTES,
        "batch: {largest} bytes is over the Tracking API's 500 KB; use a smaller --batch"
    );

    let target = Target::fresh(args.database_url.as_deref(), "segment").await?;
    let store = target.open().await?;
    load_hcps(&store, args.hcps).await?;
    let (_, key) = create_key(&store, Role::Ingest, "bench").await?;
    // The SDK's userId is the HCP's CRM id.
    let settings = tempfile::NamedTempFile::new()?;
    std::fs::write(settings.path(), "[segment]\nsource = \"crm\"\n")?;
    let (node, base) = start_node_configured(&target.url, Some(settings.path())).await?;
    let started = Instant::now();
    let (mut latencies, accepted) = post_all(
        &[format!("{base}/v1/batch")],
        &key,
        Arc::new(bodies),
        args.clients,
        |answer| answer["accepted"].as_u64().unwrap_or(0),
    )
    .await?;
    let elapsed = started.elapsed();
    drop(node);
    latencies.sort();
    println!(
        "HTTP:  {accepted} messages stored in {:.2} s = {:.0} events/s; batch latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (largest batch {} KB)",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(percentile(&latencies, 100.0)),
        largest / 1024,
    );
    anyhow::ensure!(
        accepted as usize == args.events.div_ceil(args.batch) * args.batch,
        "not every message was stored"
    );
    target.check_and_remove(store).await?;
    Ok(())
}

/// `/v1/batch` bodies shaped as the SDKs send them: email, web, video and e-detailing messages.
fn build_batches(args: &SegmentArgs, seed: u64) -> Vec<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let base = now().millis() - 30 * 86_400_000;
    let context = serde_json::json!({
        "library": {"name": "analytics-node", "version": "2.1.0"},
        "ip": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15"
    });
    (0..args.events.div_ceil(args.batch))
        .map(|_| {
            let sent = base + 30 * 86_400_000;
            let batch: Vec<serde_json::Value> = (0..args.batch)
                .map(|_| {
                    let at = Timestamp::from_millis(base + rng.random_range(0..30 * 86_400_000i64));
                    let user = format!("crm-{}", rng.random_range(0..args.hcps));
                    let id = format!("{:032x}", rng.random::<u128>());
                    match rng.random_range(0..4) {
                        0 => serde_json::json!({
                            "type": "track", "event": "Email Opened", "userId": user,
                            "messageId": id, "timestamp": at.to_string(),
                            "properties": {"email_id": "em-2041", "content_id": "EM-CARDIO-01",
                                           "campaign_id": "camp-bench", "email_subject": "New outcomes data"},
                            "context": context
                        }),
                        1 => serde_json::json!({
                            "type": "page", "name": "Outcomes", "userId": user,
                            "messageId": id, "timestamp": at.to_string(),
                            "properties": {"url": "https://example.org/cardiozan/outcomes",
                                           "title": "Outcomes", "path": "/cardiozan/outcomes",
                                           "dwell_ms": rng.random_range(500..60_000)},
                            "context": context
                        }),
                        2 => serde_json::json!({
                            "type": "track", "event": "Video Content Playing", "userId": user,
                            "messageId": id, "timestamp": at.to_string(),
                            "properties": {"content_id": "VID-MOA", "position": rng.random_range(0..180),
                                           "total_length": 180},
                            "context": context
                        }),
                        _ => serde_json::json!({
                            "type": "track", "event": "Slide Viewed", "userId": user,
                            "messageId": id, "timestamp": at.to_string(),
                            "properties": {"content_id": "CARDIO-DECK-01", "key_message": "KM-EFFICACY",
                                           "duration": rng.random_range(1..90)},
                            "context": context
                        }),
                    }
                })
                .collect();
            serde_json::json!({"batch": batch, "sentAt": Timestamp::from_millis(sent).to_string()})
                .to_string()
        })
        .collect()
}
