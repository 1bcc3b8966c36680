//! `export`: `openclm export events` in each format, run as a child process over a
//! fresh database of N stored events (and of 4N): rows/s and the child's peak resident memory,
//! which stays the same whatever the table's size when the export streams.

use anyhow::Context;
use std::time::{Duration, Instant};

use crate::cli::ExportArgs;
use crate::harness::{
    Target, build_bodies, load_hcps, memory_of, openclm_command, parse_bodies, store_all,
};

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let ExportArgs {
        events,
        hcps,
        no_scale,
        database_url,
    } = args;
    anyhow::ensure!(
        events >= 1 && hcps >= 1,
        "events and hcps must be 1 or more"
    );
    let sizes = if !no_scale {
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
        let events = CHUNK.min(n - start);
        let bodies = build_bodies(events, 1000.min(events), hcps, 1_000 + i as u64);
        accepted += store_all(store, parse_bodies(&bodies)?, 4).await?;
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
    let mut child = openclm_command(database_url)?
        .args(["export", "events", "--format", format, "--output"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
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
