//! `openclm bench`: rerunnable measurements of ingest speed and memory, on this machine.
//!
//! The ingest benchmark starts real `openclm serve` processes (one or more nodes) on loopback
//! over a fresh database (SQLite with WAL and `synchronous = FULL`, or a new schema in a
//! PostgreSQL database), sends pre-built batches from concurrent clients spread over the nodes,
//! and reports sustained events/s and batch latency percentiles; then it feeds the same events
//! straight to the store in-process, so the cost of HTTP shows as a ratio.

use anyhow::Context;
use openclm_core::auth::Role;
use openclm_core::batch::{BatchFormat, parse_batch};
use openclm_core::hcp::{ExternalId, HcpInput};
use openclm_core::{Event, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{AnyStore, IngestOutcome, UnknownHcpPolicy};
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{BenchWhich, IngestBenchArgs};
use crate::{create_key, now};

pub async fn run(which: BenchWhich) -> anyhow::Result<()> {
    match which {
        BenchWhich::Ingest(args) => ingest(args).await,
        BenchWhich::Memory {
            hcps,
            ingest,
            settle_secs,
        } => memory(hcps, ingest, Duration::from_secs(settle_secs)).await,
        BenchWhich::Segment(args) => crate::bench_segment::run(args).await,
        BenchWhich::Pages {
            hcps,
            months,
            rounds,
        } => crate::bench_pages::run(hcps, months, rounds).await,
        BenchWhich::Decide {
            hcps,
            content,
            decisions,
        } => crate::bench_decide::run(hcps, content, decisions),
        BenchWhich::DecideHttp {
            hcps,
            batch,
            requests,
            clients,
        } => decide_http(hcps, batch, requests, clients).await,
        BenchWhich::Export {
            events,
            hcps,
            no_scale,
            database_url,
        } => crate::bench_export::run(events, hcps, !no_scale, database_url).await,
        BenchWhich::Kpis {
            events,
            hcps,
            campaigns,
            database_url,
        } => {
            crate::bench_kpis::run(crate::bench_kpis::Args {
                events,
                hcps,
                campaigns,
                database_url,
            })
            .await
        }
    }
}

/// Registers `count` HCPs `hcp-N` with CRM ids `crm-N`.
pub async fn load_hcps(store: &AnyStore, count: usize) -> anyhow::Result<()> {
    const SPECIALTIES: [&str; 5] = [
        "general_practice",
        "cardiology",
        "oncology",
        "pharmacy",
        "nursing",
    ];
    const COUNTRIES: [&str; 4] = ["DE", "FR", "GB", "US"];
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..count {
        batch.push(
            HcpInput {
                name: Some(format!("Bench HCP {i}")),
                specialty: Some(SPECIALTIES[i % SPECIALTIES.len()].into()),
                country: Some(COUNTRIES[i % COUNTRIES.len()].into()),
                territory: Some(format!("T-{:03}", i % 400)),
                segments: vec![],
                email: None,
                external_ids: vec![ExternalId {
                    system: "crm".into(),
                    id: format!("crm-{i}"),
                }],
                restricted_products: vec![],
            }
            .validate(&format!("hcp-{i}"))?,
        );
        if batch.len() == 10_000 || i + 1 == count {
            for result in store
                .put_hcps(std::mem::take(&mut batch), "system:bench".into(), now())
                .await?
            {
                result?;
            }
        }
    }
    Ok(())
}

/// Request bodies of `batch` events each: random 128-bit event ids, random HCPs, a channel mix.
pub(crate) fn build_bodies(args: &IngestBenchArgs, seed: u64) -> Vec<String> {
    const KINDS: [(&str, &str); 6] = [
        ("email", "delivered"),
        ("email", "opened"),
        ("email", "clicked"),
        ("web", "content_viewed"),
        ("face_to_face", "slide_viewed"),
        ("remote_detail", "slide_viewed"),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let base = now().millis() - 30 * 86_400_000;
    let batches = args.events.div_ceil(args.batch);
    (0..batches)
        .map(|_| {
            let events: Vec<serde_json::Value> = (0..args.batch)
                .map(|_| {
                    let (channel, kind) = KINDS[rng.random_range(0..KINDS.len())];
                    let at = Timestamp::from_millis(base + rng.random_range(0..30 * 86_400_000i64));
                    serde_json::json!({
                        "event_id": format!("{:032x}", rng.random::<u128>()),
                        "occurred_at": at.to_string(),
                        "hcp": format!("crm-{}", rng.random_range(0..args.hcps)),
                        "source": "crm",
                        "channel": channel,
                        "type": kind,
                        "content_id": "CARDIO-DECK-01",
                        "campaign_id": "camp-bench",
                        "dwell_ms": rng.random_range(500..60_000),
                        "url": "https://example.org/cardiozan/outcomes",
                    })
                })
                .collect();
            serde_json::Value::Array(events).to_string()
        })
        .collect()
}

/// Posts every body to the urls (client `c` to `urls[c % n]`) from `clients` concurrent clients;
/// returns each request's latency and the sum of what `count` reads from the answers.
pub(crate) async fn post_all(
    urls: &[String],
    key: &str,
    bodies: Arc<Vec<String>>,
    clients: usize,
    count: fn(&serde_json::Value) -> u64,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, bodies, next, url, key) = (
            client.clone(),
            bodies.clone(),
            next.clone(),
            urls[c % urls.len()].clone(),
            key.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut accepted = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "batch {i}: HTTP {}",
                    response.status()
                );
                // Read the answer whole (which also lets the connection be reused).
                let answer: serde_json::Value = response.json().await?;
                latencies.push(sent.elapsed());
                accepted += count(&answer);
            }
            Ok::<_, anyhow::Error>((latencies, accepted))
        }));
    }
    let mut latencies = Vec::new();
    let mut accepted = 0;
    for t in tasks {
        let (l, a) = t.await??;
        latencies.extend(l);
        accepted += a;
    }
    Ok((latencies, accepted))
}

/// Events an ingest answer reports accepted.
fn accepted_events(answer: &serde_json::Value) -> u64 {
    answer["accepted"].as_u64().unwrap_or(0)
}

/// Decisions a `/v1/decide` answer made.
fn decisions_made(answer: &serde_json::Value) -> u64 {
    answer["decisions"].as_array().map_or(0, |d| {
        d.iter().filter(|x| x.get("decision_id").is_some()).count() as u64
    })
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A fresh, empty database for one run, removed when the run is over.
pub(crate) struct Target {
    pub(crate) url: String,
    /// The PostgreSQL database and the schema made in it.
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    pub(crate) async fn fresh(database_url: Option<&str>, name: &str) -> anyhow::Result<Self> {
        match database_url {
            Some(base) => {
                anyhow::ensure!(
                    openclm_store::is_postgres_url(base),
                    "database_url: the benchmark takes a postgres:// URL (SQLite runs in a temporary file)"
                );
                let schema = format!("bench_{}_{name}", std::process::id());
                openclm_store::create_schema(base, &schema).await?;
                Ok(Self {
                    url: openclm_store::url_with_schema(base, &schema),
                    schema: Some((base.to_owned(), schema)),
                    _dir: None,
                })
            }
            None => {
                let dir = tempfile::tempdir()?;
                let url = dir
                    .path()
                    .join(format!("{name}.db"))
                    .to_str()
                    .context("temporary path is not UTF-8")?
                    .to_owned();
                Ok(Self {
                    url,
                    schema: None,
                    _dir: Some(dir),
                })
            }
        }
    }

    pub(crate) async fn open(&self) -> anyhow::Result<AnyStore> {
        Ok(AnyStore::open(&self.url).await?)
    }

    pub(crate) async fn remove(self) -> anyhow::Result<()> {
        if let Some((base, schema)) = &self.schema {
            openclm_store::drop_schema(base, schema).await?;
        }
        Ok(())
    }
}

/// Starts `openclm serve` on `database_url` on a free loopback port and waits until it answers.
pub(crate) async fn start_node(
    database_url: &str,
) -> anyhow::Result<(tokio::process::Child, String)> {
    start_node_configured(database_url, None).await
}

/// Starts `openclm serve` as [`start_node`] does, with a settings file.
pub(crate) async fn start_node_configured(
    database_url: &str,
    config: Option<&std::path::Path>,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = tokio::process::Command::new(std::env::current_exe()?)
        // The URL may carry a password: through the environment, not the visible command line.
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("OPENCLM_DATABASE_URL", database_url)
        .env("OPENCLM_LOG", "warn")
        .envs(config.map(|path| ("OPENCLM_CONFIG", path.as_os_str())))
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((child, base))
}

async fn ingest(args: IngestBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.batch >= 1 && args.clients >= 1 && args.hcps >= 1 && args.nodes >= 1,
        "batch, clients, hcps and nodes must be 1 or more"
    );
    anyhow::ensure!(
        args.nodes == 1 || args.database_url.is_some(),
        "nodes: several nodes share a PostgreSQL database; give --database-url postgres://…"
    );
    let backend = match &args.database_url {
        Some(url) => format!("PostgreSQL ({})", crate::redact(url)),
        None => "SQLite (WAL, synchronous=FULL)".to_owned(),
    };
    println!(
        "ingest benchmark: {} events in batches of {}, {} clients, {} HCPs, {} node(s), fresh {backend}",
        args.events, args.batch, args.clients, args.hcps, args.nodes,
    );
    let bodies = Arc::new(build_bodies(&args, 7));

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
    let report = store.check_integrity().await?;
    anyhow::ensure!(
        report.problems.is_empty(),
        "integrity check failed: {:?}",
        report.problems
    );
    drop(store);
    target.remove().await?;
    if args.http_only {
        return Ok(());
    }

    // Straight into the store, same events, same concurrency.
    let target = Target::fresh(args.database_url.as_deref(), "store").await?;
    let store = target.open().await?;
    load_hcps(&store, args.hcps).await?;
    let batches: Vec<Vec<Event>> = bodies
        .iter()
        .map(|body| {
            parse_batch(body.as_bytes(), BatchFormat::Json, usize::MAX)
                .map(|items| items.into_iter().filter_map(|i| i.parsed.ok()).collect())
        })
        .collect::<Result<_, _>>()?;
    let batches = Arc::new(std::sync::Mutex::new(batches.into_iter()));
    let started = Instant::now();
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
    let mut store_accepted = 0;
    for t in tasks {
        store_accepted += t.await??;
    }
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

/// Resident and peak resident memory of a process, in MB (Linux).
pub(crate) fn memory_of(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc (Linux only)")?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0) as f64
            / 1024.0
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Starts `openclm serve` on a database with `hcps` HCPs, reads a few pages, and reports its RSS.
async fn memory(hcps: usize, ingest: usize, settle: Duration) -> anyhow::Result<()> {
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
        let args = IngestBenchArgs {
            events: ingest,
            batch: 1000,
            clients: 8,
            hcps,
            http_only: true,
            database_url: None,
            nodes: 1,
        };
        let bodies = Arc::new(build_bodies(&args, 11));
        let started = Instant::now();
        post_all(
            &[format!("{base}/v1/events")],
            &key,
            bodies,
            args.clients,
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

/// `POST /v1/decide` on a real `openclm serve` over the demo world (SQLite): decisions/s and
/// request latency, every decision logged as in production.
async fn decide_http(
    hcps: usize,
    batch: usize,
    requests: usize,
    clients: usize,
) -> anyhow::Result<()> {
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
        let stats = crate::demo::build(&store, config).await?;
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
