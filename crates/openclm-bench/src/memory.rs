//! `memory`: the resident memory of `openclm serve` at rest over many HCPs, then at its peak
//! while ingesting and once the ingest has settled.

use anyhow::Context;
use openclm::create_key;
use openclm_core::auth::Role;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::MemoryArgs;
use crate::harness::{
    Target, accepted_events, build_bodies, load_hcps, memory_of, post_all, start_node,
};

/// Starts `openclm serve` on a database with `hcps` HCPs, reads a few pages, and reports its RSS.
pub async fn run(args: MemoryArgs) -> anyhow::Result<()> {
    let MemoryArgs {
        hcps,
        ingest,
        settle_secs,
    } = args;
    let settle = Duration::from_secs(settle_secs);
    let target = Target::fresh(None, "memory").await?;
    let key = {
        let store = target.open().await?;
        load_hcps(&store, hcps).await?;
        create_key(&store, Role::Admin, "bench").await?.1
    };
    let (mut child, base) = start_node(&target.url).await?;
    let client = reqwest::Client::new();
    for i in 0..50 {
        client
            .get(format!(
                "{base}/v1/hcps?limit=1000&territory=T-{:03}",
                i % 400
            ))
            .bearer_auth(&key)
            .send()
            .await?
            .error_for_status()?;
        client
            .get(format!("{base}/v1/hcps/hcp-{}/timeline", i * 997 % hcps))
            .bearer_auth(&key)
            .send()
            .await?
            .error_for_status()?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id().context("the server exited")?;
    let (rss, peak) = memory_of(pid)?;
    println!("serve at rest with {hcps} HCPs: RSS {rss:.1} MB (peak {peak:.1} MB)");
    if ingest > 0 {
        // Batches of 1,000 from 8 clients.
        let clients = 8;
        let bodies = Arc::new(build_bodies(ingest, 1000, hcps, 11));
        let started = Instant::now();
        post_all(
            &[format!("{base}/v1/events")],
            &key,
            bodies,
            clients,
            accepted_events,
        )
        .await?;
        let elapsed = started.elapsed().as_secs_f64();
        let (_, peak) = memory_of(pid)?;
        // Long enough for the tail to be merged away and freed memory to be returned.
        tokio::time::sleep(settle).await;
        let (rss, _) = memory_of(pid)?;
        println!(
            "serve after {ingest} events in a separate process ({:.0} events/s): peak RSS {peak:.1} MB, RSS {} s later {rss:.1} MB",
            ingest as f64 / elapsed,
            settle.as_secs()
        );
    }
    child.kill().await?;
    Ok(())
}
