//! What the benchmarks share: a fresh database per run, HCPs and event batches to load, the
//! `openclm` child processes they measure, concurrent HTTP clients, and the figures' arithmetic.

use anyhow::Context;
use openclm::now;
use openclm_core::batch::{BatchFormat, parse_batch};
use openclm_core::hcp::{ExternalId, HcpInput};
use openclm_core::{Event, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{AnyStore, IngestOutcome, UnknownHcpPolicy};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// `POST /v1/events` bodies of `batch` events each, `events` in all (rounded up to whole
/// batches): random 128-bit event ids, random HCPs among `hcps` (by CRM id), a channel mix.
pub fn build_bodies(events: usize, batch: usize, hcps: usize, seed: u64) -> Vec<String> {
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
    let batches = events.div_ceil(batch);
    (0..batches)
        .map(|_| {
            let events: Vec<serde_json::Value> = (0..batch)
                .map(|_| {
                    let (channel, kind) = KINDS[rng.random_range(0..KINDS.len())];
                    let at = Timestamp::from_millis(base + rng.random_range(0..30 * 86_400_000i64));
                    serde_json::json!({
                        "event_id": format!("{:032x}", rng.random::<u128>()),
                        "occurred_at": at.to_string(),
                        "hcp": format!("crm-{}", rng.random_range(0..hcps)),
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

/// The events of request bodies made by [`build_bodies`], batch by batch.
pub fn parse_bodies(bodies: &[String]) -> anyhow::Result<Vec<Vec<Event>>> {
    let batches = bodies
        .iter()
        .map(|body| {
            parse_batch(body.as_bytes(), BatchFormat::Json, usize::MAX)
                .map(|items| items.into_iter().filter_map(|i| i.parsed.ok()).collect())
        })
        .collect::<Result<_, _>>()?;
    Ok(batches)
}

/// Ingests the batches straight into the store from `writers` concurrent tasks; returns how many
/// events were accepted.
pub async fn store_all(
    store: &AnyStore,
    batches: Vec<Vec<Event>>,
    writers: usize,
) -> anyhow::Result<u64> {
    let batches = Arc::new(Mutex::new(batches.into_iter()));
    let mut tasks = Vec::new();
    for _ in 0..writers {
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
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await??;
    }
    Ok(accepted)
}

/// Posts every body to the urls (client `c` to `urls[c % n]`) from `clients` concurrent clients;
/// returns each request's latency and the sum of what `count` reads from the answers.
pub async fn post_all(
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
pub fn accepted_events(answer: &serde_json::Value) -> u64 {
    answer["accepted"].as_u64().unwrap_or(0)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident and peak resident memory of a process, in MB (Linux).
pub fn memory_of(pid: u32) -> anyhow::Result<(f64, f64)> {
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

/// The backend a run measures, as its first line names it.
pub fn backend_name(database_url: Option<&str>) -> String {
    match database_url {
        Some(url) => format!("PostgreSQL ({})", openclm::redact(url)),
        None => "SQLite (WAL, synchronous=FULL)".to_owned(),
    }
}

/// A fresh, empty database for one run, removed when the run is over.
pub struct Target {
    pub url: String,
    /// The PostgreSQL database and the schema made in it.
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    pub async fn fresh(database_url: Option<&str>, name: &str) -> anyhow::Result<Self> {
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

    pub async fn open(&self) -> anyhow::Result<AnyStore> {
        Ok(AnyStore::open(&self.url).await?)
    }

    /// Checks the run left `store` whole (the store's own integrity check), then removes the
    /// database.
    pub async fn check_and_remove(self, store: AnyStore) -> anyhow::Result<()> {
        let report = store.check_integrity().await?;
        anyhow::ensure!(
            report.problems.is_empty(),
            "integrity check failed: {:?}",
            report.problems
        );
        drop(store);
        self.remove().await
    }

    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((base, schema)) = &self.schema {
            openclm_store::drop_schema(base, schema).await?;
        }
        Ok(())
    }
}

/// A child process that runs the `openclm` command line on `database_url`, logging warnings
/// only, killed when dropped. The child is this binary again, through its hidden `openclm`
/// subcommand, so a benchmark needs no other build than its own. The URL may carry a password:
/// it goes through the environment, not the visible command line.
pub fn openclm_command(database_url: &str) -> anyhow::Result<tokio::process::Command> {
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command
        .arg("openclm")
        .env("OPENCLM_DATABASE_URL", database_url)
        .env("OPENCLM_LOG", "warn")
        .kill_on_drop(true);
    Ok(command)
}

/// Starts `openclm serve` on `database_url` on a free loopback port and waits until it answers.
pub async fn start_node(database_url: &str) -> anyhow::Result<(tokio::process::Child, String)> {
    start_node_configured(database_url, None).await
}

/// Starts `openclm serve` as [`start_node`] does, with a settings file.
pub async fn start_node_configured(
    database_url: &str,
    config: Option<&std::path::Path>,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = openclm_command(database_url)?
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .envs(config.map(|path| ("OPENCLM_CONFIG", path.as_os_str())))
        .stdout(std::process::Stdio::null())
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
