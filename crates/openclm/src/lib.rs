//! The `openclm` binary's library: glue between the command line, the settings, the store and the
//! server. Kept thin; the work happens in `openclm-core`, `openclm-store` and `openclm-server`.

pub mod calls;
mod campaign;
pub mod cli;
pub mod demo;
mod demo_story;
pub mod export;
pub mod governance;
pub mod import;
mod report;
pub mod settings;
mod simulate;

use anyhow::Context;
use openclm_core::Timestamp;
use openclm_core::audit::NewAudit;
use openclm_core::auth::{NewApiKey, Role};
use openclm_server::{ApiConfig, AppState, system_clock};
use openclm_store::prelude::*;
use openclm_store::{AnyStore, ApiKeyRecord};
use std::net::SocketAddr;
use tokio::net::TcpListener;

use cli::{Cli, Command, ConfigAction, KeysAction};
use settings::{Overrides, Settings};

/// Runs one command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        Command::Demo(args) => args.listen.clone(),
        _ => None,
    };
    let settings = Settings::load(
        cli.config.as_deref(),
        Overrides {
            database_url: cli.database_url.clone(),
            listen,
        },
    )?;
    init_tracing(&settings.log);
    match cli.command {
        Command::Serve { .. } => {
            let store = open_store(&settings).await?;
            if let AnyStore::Postgres(pg) = &store {
                let encrypted = pg.tls_in_use().await?;
                tracing::info!(encrypted, "connected to PostgreSQL");
                if !encrypted {
                    tracing::warn!(
                        "the connection to PostgreSQL is not encrypted; add sslmode=require (or verify-full) to database_url unless the network is trusted"
                    );
                }
            }
            let listener = bind(&settings.listen).await?;
            println!("OpenCLM listening on http://{}", listener.local_addr()?);
            serve(listener, store, &settings).await
        }
        Command::Migrate => {
            // Opening the store already migrates it: what the open applied counts as applied now.
            let store = open_store(&settings).await?;
            let mut applied = store.applied_at_open().to_vec();
            applied.extend(store.migrate().await?);
            let versions = applied
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            println!(
                "database {} is up to date ({} migration(s) applied now{})",
                redact(&settings.database_url),
                applied.len(),
                if applied.is_empty() {
                    String::new()
                } else {
                    format!(": {versions}")
                }
            );
            Ok(())
        }
        Command::Import { what } => {
            import::run(open_store(&settings).await?, what, &settings).await
        }
        Command::Keys { action } => keys(open_store(&settings).await?, action).await,
        Command::Users { action } => governance::users(open_store(&settings).await?, action).await,
        Command::Audit { action } => governance::audit(open_store(&settings).await?, action).await,
        Command::Privacy { action } => {
            governance::privacy(open_store(&settings).await?, action).await
        }
        Command::Pv { action } => governance::pv(open_store(&settings).await?, action).await,
        Command::Config { action } => {
            match action {
                ConfigAction::Default => print!("{}", settings::DEFAULT_TOML),
                ConfigAction::Show => {
                    let shown = Settings {
                        database_url: redact(&settings.database_url),
                        ..settings
                    };
                    print!("{}", toml::to_string(&shown)?)
                }
            }
            Ok(())
        }
        Command::Copy { from, to } => copy(&from, &to).await,
        Command::Decide {
            hcps,
            channels,
            n,
            json,
        } => {
            let store = open_store(&settings).await?;
            let engine = settings.engine();
            decide(store, &engine, hcps, channels, n, json).await
        }
        Command::Suggest { rep, week, json } => {
            let store = open_store(&settings).await?;
            let engine = settings.engine();
            suggest(store, &engine, &rep, week.as_deref(), json).await
        }
        Command::Campaign { action } => {
            let store = open_store(&settings).await?;
            campaign::run(store, &settings.engine(), action).await
        }
        Command::Report { what } => report::run(open_store(&settings).await?, what).await,
        Command::Evaluate {
            policies,
            campaign,
            since,
            until,
            level,
            json,
        } => {
            let store = open_store(&settings).await?;
            let window = settings.rewards.window_ms();
            report::evaluate(
                &store, policies, campaign, since, until, level, json, window,
            )
            .await
        }
        Command::Simulate(args) => {
            let record = args.record;
            let run = tokio::task::spawn_blocking(move || simulate::run(args)).await??;
            if record {
                let store = open_store(&settings).await?;
                store.record_simulation(run).await?;
                println!("kept in the database for the dashboard's simulator page");
            }
            Ok(())
        }
        Command::Demo(args) => demo::run(settings, args).await,
        Command::Export {
            table,
            format,
            since,
            output,
        } => {
            let since = since.as_deref().map(export::parse_since).transpose()?;
            export::run(open_store(&settings).await?, table, format, since, output).await
        }
        Command::Quarantine { limit, json } => {
            quarantine(&open_store(&settings).await?, limit, json).await
        }
    }
}

/// `openclm quarantine`: what the folds set aside, newest first.
async fn quarantine(store: &AnyStore, limit: usize, json: bool) -> anyhow::Result<()> {
    let listed = store.quarantined_events(limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    if listed.is_empty() {
        println!("no event set aside: the folds counted every stored event");
        return Ok(());
    }
    println!(
        "{:<24} {:<14} {:>10} {:<32} reason",
        "set aside", "fold", "seq", "event_id"
    );
    for q in listed {
        println!(
            "{:<24} {:<14} {:>10} {:<32} {}",
            q.quarantined_at.to_string(),
            q.fold.as_str(),
            q.seq,
            q.event_id.as_deref().unwrap_or("-"),
            q.reason
        );
    }
    Ok(())
}

/// Opens the store a database URL names (a path or `sqlite://…` for SQLite, `postgres://…` for
/// PostgreSQL), applying migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<AnyStore> {
    let url = &settings.database_url;
    let rules = openclm_store::IngestRules {
        rewards: settings.rewards.clone(),
        pv: settings.pharmacovigilance.clone(),
    };
    AnyStore::open_with(url, rules)
        .await
        .with_context(|| format!("cannot open database {}", redact(url)))
}

/// A database URL fit for messages and logs: any password (in the credentials or as a
/// `password=` parameter) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Credentials end at the first '@', whatever the password contains before it.
    let rest = match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{user}:***@{host}")
        }
        _ => rest.to_owned(),
    };
    let Some((path, query)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{scheme}://{path}?{}", query.join("&"))
}

pub async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("listen: {listen:?} is not an address"))?;
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// `openclm suggest`: a rep's plan for a week, as a table or as JSON.
async fn suggest(
    store: AnyStore,
    engine: &openclm_core::engine::Engine,
    rep: &str,
    week: Option<&str>,
    as_json: bool,
) -> anyhow::Result<()> {
    let now = now();
    let week = match week {
        Some(w) => openclm_core::suggest::Week::parse("week", w)?,
        None => openclm_core::suggest::Week::containing(now),
    };
    let rep_id = openclm_core::hcp::parse_identifier("rep", rep)?;
    let rep = store
        .get_rep(rep_id)
        .await?
        .with_context(|| format!("rep: no rep {rep:?}; add it with PUT /v1/reps/{{id}}"))?;
    let plan = openclm_app::plan::plan_week(&store, engine, &rep, week, now).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    println!(
        "{} ({}), week {}: {} suggestions for {} visits",
        rep.name,
        rep.id,
        plan.week,
        plan.suggestions.len(),
        plan.capacity
    );
    if let Some(note) = &plan.note {
        println!("  {note}");
    }
    for s in &plan.suggestions {
        let mut messages = vec![s.content_id.as_str()];
        messages.extend(s.key_messages.iter().map(String::as_str));
        println!(
            "  {:<10} {:<14} {:<13} expected response {:>5.1}%  {}",
            s.status.as_str(),
            s.hcp_id,
            s.channel.as_str(),
            s.score * 100.0,
            messages.join(", ")
        );
        println!("             why: {}", s.explanation);
        if let Some(why) = &s.cancelled_because {
            println!("             cancelled: {why}");
        }
        println!("             suggestion {}", s.suggestion_id);
    }
    Ok(())
}

/// `openclm decide`: the engine's answer for some HCPs, as a table or as JSON.
async fn decide(
    store: AnyStore,
    engine: &openclm_core::engine::Engine,
    hcps: Vec<String>,
    channels: Vec<String>,
    n: usize,
    as_json: bool,
) -> anyhow::Result<()> {
    anyhow::ensure!((1..=50).contains(&n), "n: must be between 1 and 50");
    let ids = hcps
        .iter()
        .map(|h| openclm_core::HcpId::parse("hcp", h))
        .collect::<Result<Vec<_>, _>>()?;
    let channels = channels
        .iter()
        .map(|c| openclm_core::Channel::parse("channels", c))
        .collect::<Result<Vec<_>, _>>()?;
    let only = (!channels.is_empty()).then_some(channels.as_slice());
    let decisions = openclm_app::decide::decide_for(&store, engine, &ids, only, n, now()).await?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&decisions)?);
        return Ok(());
    }
    for answer in &decisions {
        println!("HCP {}", answer.hcp_id());
        let d = match answer {
            openclm_app::decide::Answer::Decided(d) => d,
            openclm_app::decide::Answer::Unknown(u) => {
                println!("  {}", u.error.message);
                continue;
            }
        };
        println!("  decision {}", d.decision_id);
        for a in &d.actions {
            let chosen = d
                .chosen
                .as_ref()
                .is_some_and(|c| c.content_id == a.content_id && c.channel == a.channel);
            println!(
                "  {} {:<16} {:<14} score {:.3}  p {:.3}  {}",
                if chosen { "*" } else { " " },
                a.content_id,
                a.channel.as_str(),
                a.score,
                a.propensity,
                a.explanation,
            );
        }
        if let Some(why) = &d.nothing_allowed {
            println!("  nothing allowed: {why}");
        }
        let blocked = d.blocked_count();
        println!("  ({blocked} candidates blocked by hard constraints; * = the engine's pick)");
    }
    Ok(())
}

/// `openclm copy`: SQLite to PostgreSQL, all or nothing, verified table by table.
async fn copy(from: &str, to: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !openclm_store::is_postgres_url(from),
        "from: must name a SQLite database (sqlite://PATH or a path)"
    );
    anyhow::ensure!(
        openclm_store::is_postgres_url(to),
        "to: must name a PostgreSQL database (postgres://…)"
    );
    let source = openclm_store::sqlite_path(from);
    anyhow::ensure!(
        source.is_file(),
        "from: {} is not a database file",
        source.display()
    );
    let target = openclm_store::PgStore::open(to)
        .await
        .with_context(|| format!("cannot open database {}", redact(to)))?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows copied  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let copied = target
        .copy_from_sqlite(&source, |table, rows| {
            bar.set_message(table);
            bar.inc(rows);
        })
        .await;
    bar.finish_and_clear();
    let copied = copied?;
    println!("{:<18} {:>12}  sha256", "table", "rows");
    for d in &copied {
        println!("{:<18} {:>12}  {}", d.table, d.rows, d.sha256);
    }
    println!(
        "copied {} into {}: every table's rows and content hash match",
        source.display(),
        redact(to)
    );
    Ok(())
}

/// Serves the API until Ctrl-C or SIGTERM.
pub async fn serve(
    listener: TcpListener,
    store: AnyStore,
    settings: &Settings,
) -> anyhow::Result<()> {
    let state = AppState {
        store,
        config: api_config(settings),
        clock: system_clock(),
    };
    let scheduler = openclm_app::campaigns::spawn_wave_scheduler(
        state.store.clone(),
        state.config.engine.clone(),
        state.clock.clone(),
    );
    let folder = openclm_app::reports::spawn_kpi_folder(state.store.clone());
    let pusher = openclm_app::deliveries::spawn_delivery_pusher(
        state.store.clone(),
        state.config.delivery.clone(),
        state.config.engine.rules.clone(),
        state.clock.clone(),
    );
    openclm_app::pv::spawn_ae_watch(
        state.store.clone(),
        state.clock.clone(),
        std::time::Duration::from_secs(60),
        settings
            .pharmacovigilance
            .alert_webhook
            .clone()
            .map(openclm_app::pv::AlertWebhook::new),
    );
    openclm_server::serve(listener, state, shutdown_signal()).await?;
    scheduler.abort();
    folder.abort();
    if let Some(pusher) = pusher {
        pusher.abort();
    }
    Ok(())
}

pub fn api_config(settings: &Settings) -> ApiConfig {
    ApiConfig {
        max_batch_events: settings.max_batch_events,
        max_batch_bytes: settings.max_batch_bytes,
        unknown_hcp: settings.unknown_hcp,
        engine: settings.engine(),
        attribution_window_ms: settings.rewards.window_ms(),
        session_idle_ms: settings.sessions.idle_minutes * 60_000,
        session_max_ms: settings.sessions.max_hours * 3_600_000,
        screener: std::sync::Arc::new(openclm_core::pv::Screener::new(&settings.pharmacovigilance)),
        segment: std::sync::Arc::new(settings.segment.clone()),
        // Checked when the settings were loaded.
        sendgrid_key: (settings.sendgrid.verification_key.as_deref())
            .and_then(|key| openclm_server::sendgrid::VerificationKey::from_base64(key).ok()),
        delivery: settings.delivery.config(),
        connections: settings.connections.limits(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

pub fn now() -> Timestamp {
    (system_clock())()
}

/// Creates an API key and returns the key itself (shown once).
pub async fn create_key(
    store: &impl Store,
    role: Role,
    label: &str,
) -> anyhow::Result<(String, String)> {
    anyhow::ensure!(
        role.allowed_for_keys(),
        "{role} duties are personal: create a user account (openclm users create) instead of a key"
    );
    let key = NewApiKey::generate(&mut rand::rng());
    let record = ApiKeyRecord {
        key_id: key.key_id.clone(),
        hash: key.hash,
        role: role.as_str().to_owned(),
        label: label.to_owned(),
        created_at: now(),
        revoked_at: None,
    };
    let audit = NewAudit::new(
        &governance::cli_actor(),
        "create",
        format!("key/{}", key.key_id),
    )
    .new_value(&record);
    store.create_api_key(record, audit, now()).await?;
    Ok((key.key_id, key.secret))
}

async fn keys(store: AnyStore, action: KeysAction) -> anyhow::Result<()> {
    match action {
        KeysAction::Create { role, label } => {
            let role = Role::parse("role", &role)?;
            let (key_id, secret) = create_key(&store, role, &label).await?;
            println!("created {role} key {key_id}; store it now, it is not shown again:");
            println!("{secret}");
        }
        KeysAction::List => {
            println!(
                "{:<14} {:<8} {:<26} {:<26} label",
                "key id", "role", "created", "revoked"
            );
            for k in store.list_api_keys().await? {
                let revoked = k
                    .revoked_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<14} {:<8} {:<26} {:<26} {}",
                    k.key_id, k.role, k.created_at, revoked, k.label
                );
            }
        }
        KeysAction::Revoke { key_id } => {
            let audit = NewAudit::new(&governance::cli_actor(), "revoke", format!("key/{key_id}"));
            anyhow::ensure!(
                store.revoke_api_key(key_id.clone(), audit, now()).await?,
                "no active key with id {key_id}"
            );
            println!("revoked key {key_id}");
        }
    }
    Ok(())
}

/// Sets up logging to stderr with the given filter (overridden by `RUST_LOG`).
pub fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    use std::io::IsTerminal;
    // Colour codes only where a person reads them: a file, a pipe or a log collector gets text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_show_in_a_redacted_url() {
        assert_eq!(
            redact("postgres://app:s3cr/et?@db.example.org:5432/openclm"),
            "postgres://app:***@db.example.org:5432/openclm"
        );
        assert_eq!(
            redact("postgresql://db/openclm?user=app&password=s3cret&sslmode=require"),
            "postgresql://db/openclm?user=app&password=***&sslmode=require"
        );
        assert_eq!(
            redact("sqlite://data/openclm.db"),
            "sqlite://data/openclm.db"
        );
        assert_eq!(
            redact("postgres://app@db/openclm"),
            "postgres://app@db/openclm"
        );
    }
}
