//! `openclm demo`: a synthetic but realistic world in a fresh embedded database, then serve it.

use anyhow::Context;
use openclm_core::auth::Role;
use openclm_sim::{World, WorldConfig};
use openclm_store::prelude::*;
use openclm_store::{AnyStore, IngestOutcome, UnknownHcpPolicy};
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
    screen_demo_products(&mut settings.pharmacovigilance);
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
    let demo = populate(&store, &settings.engine(), config).await?;
    let (password, rep) = (demo.password, demo.rep);
    let (_, key) = create_key(&store, Role::Admin, "demo").await?;
    let mut people: Vec<&str> = crate::demo_story::ACCOUNTS
        .iter()
        .map(|(id, _)| *id)
        .collect();
    people.push(&rep);
    let Some(listener) = listener else {
        println!("database: {shown}");
        println!("admin API key: {key}");
        println!("accounts: {}   password: {password}", people.join(", "));
        return Ok(());
    };
    let url = format!("http://{}", listener.local_addr()?);
    println!("database: {shown}");
    println!("dashboard: {url}/");
    println!(
        "  sign in as {} with the password {password}",
        people.join(", ")
    );
    println!("API: {url}   try: curl -H 'Authorization: Bearer {key}' {url}/v1/hcps?limit=3");
    println!("admin API key (shown once):");
    println!("{key}");
    serve(listener, store, &settings).await
}

/// Adds the brands the demo world promotes to the products screening recognises, so that a
/// free text naming one ("a rash after starting cardiozan") shows the product and meets the
/// product criterion in the PV queue. Products already configured (under any case) are kept as
/// they are.
pub fn screen_demo_products(pv: &mut openclm_core::pv::PvConfig) {
    for brand in openclm_sim::brands() {
        let known = pv.products.iter().any(|p| {
            std::iter::once(&p.brand)
                .chain(&p.generics)
                .any(|name| name.eq_ignore_ascii_case(brand))
        });
        if !known {
            pv.products.push(openclm_core::screening::Product {
                brand: brand.into(),
                generics: Vec::new(),
            });
        }
    }
}

/// What [`populate`] made.
pub struct Populated {
    pub stats: DemoStats,
    /// The one password of the demo's accounts.
    pub password: String,
    /// The rep's account (and rep) id.
    pub rep: String,
    pub campaign: String,
}

/// Builds the whole demo in `store`: the world and its history, the closed loop's last weeks,
/// and what the dashboard shows (accounts, a campaign, content in review, possible adverse
/// events, this week's rep plans, a simulation). Prints what it did.
pub async fn populate(
    store: &AnyStore,
    engine: &openclm_core::engine::Engine,
    config: WorldConfig,
) -> anyhow::Result<Populated> {
    let (months, seed) = (config.months, config.seed);
    let world = World::generate(config);
    let stats = store_world(store, &world).await?;
    println!(
        "demo world: {} HCPs, {} content items, {} events over {months} months (seed {seed})",
        stats.hcps, stats.content, stats.events
    );
    let learned = run_loop(store, &world, engine, LOOP_WEEKS, seed).await?;
    let curve: Vec<String> = learned
        .iter()
        .map(|w| format!("{:.0}%", w.engagement_rate() * 100.0))
        .collect();
    println!(
        "closed loop over the last {LOOP_WEEKS} weeks: {} decisions logged, engagement per week {}",
        learned.iter().map(|w| w.decisions).sum::<usize>(),
        curve.join(" → ")
    );
    let (password, rep) = crate::demo_story::accounts(store, &world).await?;
    crate::demo_story::content_in_review(store, &world).await?;
    let campaign = crate::demo_story::campaign(store, &world, engine, seed).await?;
    crate::demo_story::possible_adverse_events(store, &world).await?;
    let suggestions = crate::demo_story::rep_plans(store, &world, engine).await?;
    crate::simulate::demo_run(store, seed).await?;
    // The overview's rollup folded now, so the first page read finds nothing to catch up.
    while store.fold_activity(50_000).await? == 50_000 {}
    println!(
        "campaign {campaign}: first wave run three weeks ago; {suggestions} rep suggestions this \
         week; 3 free texts screened; a simulation of every policy kept"
    );
    Ok(Populated {
        stats,
        password,
        rep,
        campaign,
    })
}

/// What the demo world holds once stored.
#[derive(Debug, Default)]
pub struct DemoStats {
    pub hcps: usize,
    pub content: usize,
    pub events: usize,
}

/// Weeks of closed loop the demo runs over the end of its history.
pub const LOOP_WEEKS: u32 = 4;

/// One week of the demo's closed loop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoopWeek {
    pub decisions: usize,
    pub touches: usize,
    pub responses: usize,
}

impl LoopWeek {
    pub fn engagement_rate(&self) -> f64 {
        self.responses as f64 / self.touches.max(1) as f64
    }
}

/// Runs the closed loop through the real decision and store path over the last `weeks` weeks of
/// the demo's history: each week, half the HCPs (alternating) get a decision, logged as by
/// `POST /v1/decide`; the chosen action's delivery and, with the HCP's hidden chance, a response
/// come back as events naming the decision, which the store credits to the model. So the demo
/// has a decision log, outcomes and a learning curve to show.
pub async fn run_loop(
    store: &AnyStore,
    world: &World,
    engine: &openclm_core::engine::Engine,
    weeks: u32,
    seed: u64,
) -> anyhow::Result<Vec<LoopWeek>> {
    use rand::{Rng, SeedableRng};
    let end = now().millis();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x6c6f_6f70);
    let mut curve = Vec::with_capacity(weeks as usize);
    for week in 0..weeks {
        let at = openclm_core::Timestamp::from_millis(
            end - i64::from(weeks - week) * 7 * 86_400_000 + 9 * 3_600_000,
        );
        let picked: Vec<usize> = (0..world.hcps.len())
            .filter(|i| i % 2 == week as usize % 2)
            .collect();
        let mut stats = LoopWeek::default();
        let mut events = Vec::new();
        for chunk in picked.chunks(500) {
            let ids: Vec<openclm_core::HcpId> =
                chunk.iter().map(|&i| world.hcps[i].id.clone()).collect();
            let answers = openclm_app::decide::decide_for(store, engine, &ids, None, 3, at).await?;
            for (&index, answer) in chunk.iter().zip(&answers) {
                let Some(answer) = answer.decision() else {
                    continue;
                };
                let decision = answer.decision_id.as_str();
                stats.decisions += 1;
                let Some(action) = answer.chosen_action() else {
                    continue;
                };
                let (content, channel, topic) = (
                    action.content_id.as_str(),
                    action.channel,
                    action.topic.as_str(),
                );
                let hcp = world.hcps[index].id.as_str();
                let event = |suffix: &str, kind: &str, minutes: i64| {
                    let when = openclm_core::Timestamp::from_millis(at.millis() + minutes * 60_000);
                    serde_json::json!({"event_id": format!("{decision}:{suffix}"),
                        "occurred_at": when.to_string(), "hcp": hcp, "source": "openclm",
                        "channel": channel.as_str(), "type": kind, "content_id": content,
                        "decision_id": decision, "rep_id": format!("rep-{}",
                            world.hcps[index].territory.as_deref().unwrap_or("none")),
                        "dwell_ms": 30_000})
                };
                let rep_call = matches!(
                    channel,
                    openclm_core::Channel::FaceToFace | openclm_core::Channel::RemoteDetail
                );
                events.push(event(
                    "delivered",
                    if rep_call { "call_logged" } else { "delivered" },
                    60,
                ));
                stats.touches += 1;
                if rng.random::<f64>() < world.response_chance(index, channel, topic) {
                    let reply = match channel {
                        openclm_core::Channel::Email => "clicked",
                        _ if rep_call => "slide_viewed",
                        _ => "content_viewed",
                    };
                    events.push(event("response", reply, 180));
                    stats.responses += 1;
                }
            }
        }
        for batch in events.chunks(5_000) {
            let parsed = batch
                .iter()
                .map(|v| openclm_core::Event::from_json(v.clone()))
                .collect::<Result<Vec<_>, _>>()?;
            store
                .ingest(parsed, UnknownHcpPolicy::Reject, now())
                .await?;
        }
        curve.push(stats);
    }
    store
        .merge_index()
        .await
        .context("indexing the demo's outcomes")?;
    Ok(curve)
}

/// Stores a generated world, showing progress.
pub async fn store_world(store: &AnyStore, world: &World) -> anyhow::Result<DemoStats> {
    let mut stats = DemoStats {
        hcps: world.hcps.len(),
        content: world.content.len(),
        events: 0,
    };
    for chunk in world.hcps.chunks(10_000) {
        for result in store
            .put_hcps(chunk.to_vec(), "system:demo".into(), now())
            .await?
        {
            result.context("the synthetic world produced an HCP the store refused")?;
        }
    }
    let library = world
        .content
        .iter()
        .map(|c| c.clone().with_external_approval("system:demo"))
        .collect();
    store
        .put_content(library, "system:demo".into(), now())
        .await?;
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
