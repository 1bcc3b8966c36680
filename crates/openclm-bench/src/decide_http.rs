//! `decide-http`: `POST /v1/decide` on a real `openclm serve` over the demo world (SQLite):
//! decisions/s and request latency, every decision logged as in production.

use openclm::{create_key, now};
use openclm_core::auth::Role;
use std::sync::Arc;
use std::time::Instant;

use crate::cli::DecideHttpArgs;
use crate::harness::{Target, ms, percentile, post_all, start_node};

/// Decisions a `/v1/decide` answer made.
fn decisions_made(answer: &serde_json::Value) -> u64 {
    answer["decisions"].as_array().map_or(0, |d| {
        d.iter().filter(|x| x.get("decision_id").is_some()).count() as u64
    })
}

pub async fn run(args: DecideHttpArgs) -> anyhow::Result<()> {
    let DecideHttpArgs {
        hcps,
        batch,
        requests,
        clients,
    } = args;
    anyhow::ensure!(
        hcps >= 1 && batch >= 1 && requests >= 1 && clients >= 1,
        "hcps, batch, requests and clients must be 1 or more"
    );
    let target = Target::fresh(None, "decide").await?;
    let key = {
        let store = target.open().await?;
        let config = openclm_sim::WorldConfig {
            hcps,
            months: 6,
            seed: 7,
            now: now(),
        };
        let stats =
            openclm::demo::store_world(&store, &openclm_sim::World::generate(config)).await?;
        println!(
            "decide over HTTP: demo world of {} HCPs, {} content items, {} events; {requests} requests of {batch} HCPs from {clients} clients",
            stats.hcps, stats.content, stats.events
        );
        // The marketer is the key role that decides for every HCP (an analyst only reads).
        create_key(&store, Role::Marketer, "bench").await?.1
    };
    let (_node, base) = start_node(&target.url).await?;
    let bodies: Vec<String> = (0..requests)
        .map(|r| {
            let ids: Vec<String> = (0..batch)
                .map(|i| format!("hcp-{:06}", (r * batch + i) % hcps + 1))
                .collect();
            serde_json::json!({"hcps": ids, "n": 3}).to_string()
        })
        .collect();
    let started = Instant::now();
    let (mut latencies, decided) = post_all(
        &[format!("{base}/v1/decide")],
        &key,
        Arc::new(bodies),
        clients,
        decisions_made,
    )
    .await?;
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "{decided} decisions in {:.2} s = {:.0} decisions/s; request ({batch} HCPs) latency p50 {:.1} ms, p99 {:.1} ms",
        elapsed.as_secs_f64(),
        decided as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
    );
    anyhow::ensure!(
        decided as usize == requests * batch,
        "not every HCP was decided for"
    );
    target.remove().await
}
