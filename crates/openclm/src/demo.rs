//! `openclm demo`: a synthetic but realistic world in a fresh embedded database, then serve it.

use anyhow::Context;
use openclm_core::auth::Role;
use openclm_sim::{World, WorldConfig};
use openclm_store::{AnyStore, IngestOutcome, Store, UnknownHcpPolicy};
use std::path::Path;

use crate::cli::DemoArgs;
use crate::import::progress_bar;
use crate::settings::Settings;
use crate::{bind, create_key, now, open_store, serve};

/// Where the demo keeps its database unless told otherwise; recreated on every run.
pub const DEMO_DATABASE: &str = "openclm-demo.db";

pub async fn run(mut settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    if settings.database_url == Settings::default().database_url {
        settings.database_url = DEMO_DATABASE.into();
    }
    let postgres = openclm_store::is_postgres_url(&settings.database_url);
    let path = openclm_store::sqlite_path(&settings.database_url);
    // A PostgreSQL database is checked for emptiness once open.
    if !postgres && path.as_os_str() == DEMO_DATABASE {
        remove_database(&path)?;
    } else if !postgres {
        anyhow::ensure!(
            !path.exists(),
            "database_url: {} already exists; the demo builds a fresh database, so choose a new path",
            path.display()
        );
    }
    let listener = if args.no_serve {
        None
    } else {
        Some(bind(&settings.listen).await?)
    };
    let store = open_store(&settings).await?;
    if postgres {
        let counts = store.counts().await?;
        anyhow::ensure!(
            counts.hcps + counts.events + counts.content == 0,
            "database_url: the demo builds a fresh world and needs an empty database"
        );
    }
    let shown = if postgres {
        crate::redact(&settings.database_url)
    } else {
        path.display().to_string()
    };
    let config = WorldConfig {
        hcps: args.hcps,
        months: args.months,
        seed: args.seed,
        now: now(),
    };
    let stats = build(&store, config).await?;
    println!(
        "demo world: {} HCPs, {} content items, {} events over {} months (seed {})",
        stats.hcps, stats.content, stats.events, args.months, args.seed
    );
    let (_, key) = create_key(&store, Role::Admin, "demo").await?;
    let Some(listener) = listener else {
        println!("database: {shown}");
        println!("admin API key: {key}");
        return Ok(());
    };
    let url = format!("http://{}", listener.local_addr()?);
    println!("database: {shown}");
    println!("API: {url}   try: curl -H 'Authorization: Bearer {key}' {url}/v1/hcps?limit=3");
    println!("admin API key (shown once):");
    println!("{key}");
    serve(listener, store, &settings).await
}

/// What the demo world holds once stored.
#[derive(Debug, Default)]
pub struct DemoStats {
    pub hcps: usize,
    pub content: usize,
    pub events: usize,
}

/// Generates the world and stores it, showing progress.
pub async fn build(store: &AnyStore, config: WorldConfig) -> anyhow::Result<DemoStats> {
    let world = World::generate(config);
    let mut stats = DemoStats {
        hcps: world.hcps.len(),
        content: world.content.len(),
        events: 0,
    };
    for chunk in world.hcps.chunks(10_000) {
        for result in store.put_hcps(chunk.to_vec(), now()).await? {
            result.context("the synthetic world produced an HCP the store refused")?;
        }
    }
    store.put_content(world.content.clone(), now()).await?;
    for rep in world.reps() {
        store.put_rep(rep, now()).await?;
    }
    let bar = progress_bar(world.estimated_events(), "events");
    let mut chunk = Vec::with_capacity(10_000);
    let flush = async |chunk: Vec<_>, stats: &mut DemoStats| -> anyhow::Result<()> {
        let n = chunk.len();
        let outcomes = store.ingest(chunk, UnknownHcpPolicy::Reject, now()).await?;
        if let Some(bad) = outcomes
            .iter()
            .find(|o| !matches!(o, IngestOutcome::Accepted))
        {
            anyhow::bail!("the synthetic world produced an event the store refused: {bad:?}");
        }
        stats.events += n;
        bar.inc(n as u64);
        Ok(())
    };
    for event in world.history() {
        chunk.push(event);
        if chunk.len() == 10_000 {
            flush(std::mem::take(&mut chunk), &mut stats).await?;
        }
    }
    flush(chunk, &mut stats).await?;
    bar.finish_and_clear();
    store
        .merge_index()
        .await
        .context("indexing the demo history")?;
    Ok(stats)
}

fn remove_database(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
    Ok(())
}
