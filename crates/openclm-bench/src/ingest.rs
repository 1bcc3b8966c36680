//! `ingest`: sustained ingest through HTTP, then straight into the store for comparison.
//!
//! The benchmark starts real `openclm serve` processes (one or more nodes) on loopback over a
//! fresh database (SQLite with WAL and `synchronous = FULL`, or a new schema in a PostgreSQL
//! database), sends pre-built batches from concurrent clients spread over the nodes, and reports
//! sustained events/s and batch latency percentiles; then it feeds the same events straight to
//! the store in-process, so the cost of HTTP shows as a ratio.

use openclm::create_key;
use openclm_core::auth::Role;
use std::sync::Arc;
use std::time::Instant;

use crate::cli::IngestArgs;
use crate::harness::{
    Target, accepted_events, backend_name, build_bodies, load_hcps, ms, parse_bodies, percentile,
    post_all, start_node, store_all,
};

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.batch >= 1 && args.clients >= 1 && args.hcps >= 1 && args.nodes >= 1,
        "batch, clients, hcps and nodes must be 1 or more"
    );
    anyhow::ensure!(
        args.nodes == 1 || args.database_url.is_some(),
        "nodes: several nodes share a PostgreSQL database; give --database-url postgres://…"
    );
    let backend = backend_name(args.database_url.as_deref());
    println!(
        "ingest benchmark: {} events in batches of {}, {} clients, {} HCPs, {} node(s), fresh {backend}",
        args.events, args.batch, args.clients, args.hcps, args.nodes,
    );
    let bodies = Arc::new(build_bodies(args.events, args.batch, args.hcps, 7));

    // Through HTTP, to separate `openclm serve` processes.
    let target = Target::fresh(args.database_url.as_deref(), "http").await?;
    let store = target.open().await?;
    load_hcps(&store, args.hcps).await?;
    let (_, key) = create_key(&store, Role::Ingest, "bench").await?;
    let mut nodes = Vec::new();
    for _ in 0..args.nodes {
        nodes.push(start_node(&target.url).await?);
    }
    let urls: Vec<String> = nodes
        .iter()
        .map(|(_, base)| format!("{base}/v1/events"))
        .collect();
    let started = Instant::now();
    let (mut latencies, accepted) =
        post_all(&urls, &key, bodies.clone(), args.clients, accepted_events).await?;
    let http_elapsed = started.elapsed();
    drop(nodes);
    latencies.sort();
    let http_rate = accepted as f64 / http_elapsed.as_secs_f64();
    println!(
        "HTTP:  {accepted} events accepted in {:.2} s = {:.0} events/s; batch latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        http_elapsed.as_secs_f64(),
        http_rate,
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(percentile(&latencies, 100.0)),
    );
    anyhow::ensure!(
        accepted as usize == args.events.div_ceil(args.batch) * args.batch,
        "not every event was accepted"
    );
    target.check_and_remove(store).await?;
    if args.http_only {
        return Ok(());
    }

    // Straight into the store, same events, same concurrency.
    let target = Target::fresh(args.database_url.as_deref(), "store").await?;
    let store = target.open().await?;
    load_hcps(&store, args.hcps).await?;
    let batches = parse_bodies(&bodies)?;
    let started = Instant::now();
    let store_accepted = store_all(&store, batches, args.clients).await?;
    let store_elapsed = started.elapsed();
    let store_rate = store_accepted as f64 / store_elapsed.as_secs_f64();
    println!(
        "store: {store_accepted} events accepted in {:.2} s = {:.0} events/s",
        store_elapsed.as_secs_f64(),
        store_rate
    );
    println!("HTTP / store = {:.2}", http_rate / store_rate);
    drop(store);
    target.remove().await?;
    Ok(())
}
