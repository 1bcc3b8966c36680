//! `openclm bench export`: `openclm export events` in each format, run as a child process over a
//! fresh database of N stored events (and of 4N): rows/s and the child's peak resident memory,
//! which stays the same whatever the table's size when the export streams.

use anyhow::Context;
use openclm_core::Event;
use openclm_core::batch::{BatchFormat, parse_batch};
use openclm_store::prelude::*;
use openclm_store::{IngestOutcome, UnknownHcpPolicy};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bench::{Target, build_bodies, load_hcps, memory_of};
use crate::cli::IngestBenchArgs;
use crate::now;

pub async fn run(
    events: usize,
    hcps: usize,
    scale: bool,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        events >= 1 && hcps >= 1,
        "events and hcps must be 1 or more"
    );
    let sizes = if scale {
        vec![events, events * 4]
    } else {
        vec![events]
    };
    for n in sizes {
        let target = Target::fresh(database_url.as_deref(), &format!("export_{n}")).await?;
        let store = target.open().await?;
        let started = Instant::now();
        load_hcps(&store, hcps).await?;
        let stored = fill(&store, n, hcps).await?;
        println!(
            "{} backend: {stored} events stored over {hcps} HCPs in {:.1} s",
            store.backend(),
            started.elapsed().as_secs_f64()
        );
        drop(store);
        for format in ["csv", "ndjson", "parquet"] {
            let dir = tempfile::tempdir()?;
            let out = dir.path().join(format!("events.{format}"));
            let (elapsed, peak) = export_child(&target.url, format, &out).await?;
            let size = std::fs::metadata(&out)?.len() as f64 / 1e6;
            println!(
                "  export events --format {format:<7}: {stored} rows in {:.2} s = {:>7.0} rows/s, {size:.0} MB written, child peak RSS {peak:.1} MB",
                elapsed.as_secs_f64(),
                stored as f64 / elapsed.as_secs_f64()
            );
        }
        target.remove().await?;
    }
    Ok(())
}

/// Stores `n` events (in batches of 1,000 from 4 writers), made 100,000 at a time so the
/// benchmark's own memory stays small too; returns how many were accepted.
async fn fill(store: &openclm_store::AnyStore, n: usize, hcps: usize) -> anyhow::Result<u64> {
    const CHUNK: usize = 100_000;
    let mut accepted = 0;
    for (i, start) in (0..n).step_by(CHUNK).enumerate() {
        let args = IngestBenchArgs {
            events: CHUNK.min(n - start),
            batch: 1000.min(CHUNK.min(n - start)),
            clients: 4,
            hcps,
            http_only: true,
            database_url: None,
            nodes: 1,
        };
        let batches: Vec<Vec<Event>> = build_bodies(&args, 1_000 + i as u64)
            .iter()
            .map(|body| {
                parse_batch(body.as_bytes(), BatchFormat::Json, usize::MAX)
                    .map(|items| items.into_iter().filter_map(|i| i.parsed.ok()).collect())
            })
            .collect::<Result<_, _>>()?;
        let batches = Arc::new(Mutex::new(batches.into_iter()));
        let mut tasks = Vec::new();
        for _ in 0..args.clients {
            let (store, batches) = (store.clone(), batches.clone());
            tasks.push(tokio::spawn(async move {
                let mut accepted = 0u64;
                loop {
                    let next = batches
                        .lock()
                        .map_err(|_| anyhow::anyhow!("poisoned"))?
                        .next();
                    let Some(batch) = next else { break };
                    let outcomes = store.ingest(batch, UnknownHcpPolicy::Reject, now()).await?;
                    accepted += outcomes
                        .iter()
                        .filter(|o| **o == IngestOutcome::Accepted)
                        .count() as u64;
                }
                Ok::<_, anyhow::Error>(accepted)
            }));
        }
        for t in tasks {
            accepted += t.await??;
        }
    }
    Ok(accepted)
}

/// Runs `openclm export events --format F --output OUT` on the database; returns how long it
/// took and its peak resident memory (MB), sampled from /proc while it runs.
async fn export_child(
    database_url: &str,
    format: &str,
    out: &std::path::Path,
) -> anyhow::Result<(Duration, f64)> {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["export", "events", "--format", format, "--output"])
        .arg(out)
        // The URL may carry a password: through the environment, not the visible command line.
        .env("OPENCLM_DATABASE_URL", database_url)
        .env("OPENCLM_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().context("the export exited at once")?;
    let mut peak: f64 = 0.0;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                // The high-water mark only grows, so the last sample before exit is the peak
                // but for the final 20 ms.
                if let Ok((_, hwm)) = memory_of(pid) {
                    peak = peak.max(hwm);
                }
            }
        }
    };
    anyhow::ensure!(status.success(), "openclm export failed: {status}");
    Ok((started.elapsed(), peak))
}
