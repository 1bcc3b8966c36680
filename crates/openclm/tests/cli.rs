//! The command line as a user runs it: imports keep every valid record and name the bad ones.

use openclm_core::HcpId;
use openclm_store::prelude::*;
use openclm_store::{SqliteStore, TimelineFilter};
use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_openclm");

fn run(db: &str, args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(args)
        .args(["--database-url", db])
        .env("OPENCLM_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test]
async fn imports_store_valid_records_and_report_bad_ones_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db").to_str().unwrap().to_owned();
    let hcps = dir.path().join("hcps.csv");
    std::fs::write(
        &hcps,
        "id,name,specialty,country,territory,segments,email,external_ids\n\
         hcp-1,Dr. One,cardiology,DE,T-1,kol;early_adopter,one@example.org,crm:C1\n\
         hcp-2,Dr. Two,oncology,FR,T-2,,,crm:C1\n\
         hcp-3,Dr. Three,oncology,Germany,T-2,,,\n\
         hcp-4,Dr. Four,oncology,FR,T-2,,,crm:C4\n",
    )
    .unwrap();
    let out = run(&db, &["import", "hcps", hcps.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("imported 2 record(s)"), "{stdout}");
    assert!(
        stderr.contains("line 3: external_ids[0]: crm:C1 already belongs to HCP hcp-1"),
        "{stderr}"
    );
    assert!(stderr.contains("line 4: country:"), "{stderr}");

    let events = dir.path().join("events.ndjson");
    let mut body = br#"{"event_id":"a","occurred_at":"2026-01-01T00:00:00Z","hcp":"C1","source":"crm","channel":"web","type":"content_viewed"}"#.to_vec();
    body.extend_from_slice(b"\n\xff\xfe not utf-8\n");
    body.extend_from_slice(br#"{"event_id":"b","occurred_at":"2026-01-02T00:00:00Z","hcp":"C4","source":"crm","channel":"email","type":"opened"}"#);
    body.push(b'\n');
    std::fs::write(&events, body).unwrap();
    let out = run(&db, &["import", "events", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: event:"), "{stderr}");
    // Importing again: both valid events are already there.
    let again = run(&db, &["import", "events", events.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("imported 0 record(s); 2 already present")
    );

    let store = SqliteStore::open(&db).unwrap();
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.hcps, counts.events), (2, 2));
    let t = store
        .timeline(
            HcpId::parse("id", "hcp-4").unwrap(),
            TimelineFilter::default(),
            Default::default(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.items[0].event_id, "b");
}

#[tokio::test]
async fn content_imports_from_csv_and_json_with_per_row_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("content.db").to_str().unwrap().to_owned();
    let csv = dir.path().join("content.csv");
    std::fs::write(
        &csv,
        "id,title,kind,product,topics,language,countries,version,status,approval_code,approved_at,valid_from,expires_at\n\
         CZ-1,Outcomes deck,slide_deck,cardiozan,efficacy;safety,en,DE;FR,2,approved,CZ-2026-1,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,2099-01-01T00:00:00Z\n\
         CZ-2,No code,email_template,cardiozan,,en,DE,1,approved,,2026-01-01T00:00:00Z,,\n",
    )
    .unwrap();
    let out = run(&db, &["import", "content", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3: approval_code: is required"));
    let json = dir.path().join("content.json");
    std::fs::write(
        &json,
        r#"[{"id": "CZ-3", "title": "Video", "kind": "video", "product": "cardiozan"}]"#,
    )
    .unwrap();
    assert!(
        run(&db, &["import", "content", json.to_str().unwrap()])
            .status
            .success()
    );

    let store = SqliteStore::open(&db).unwrap();
    let deck = store
        .get_content("CZ-1".into(), openclm::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deck.countries, vec!["DE", "FR"]);
    assert_eq!(deck.topics, vec!["efficacy", "safety"]);
    assert_eq!(deck.version, 2);
    assert_eq!(deck.approval_code.as_deref(), Some("CZ-2026-1"));
    let video = store
        .get_content("CZ-3".into(), openclm::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(video.status.as_str(), "draft");
    assert!(
        store
            .get_content("CZ-2".into(), openclm::now())
            .await
            .unwrap()
            .is_none()
    );
}

#[test]
fn keys_create_prints_the_key_alone_on_its_last_line_and_config_default_parses() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db").to_str().unwrap().to_owned();
    let out = run(&db, &["keys", "create", "--role", "read", "--label", "bi"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap();
    assert!(key.starts_with("oclm_") && !key.contains(' '), "{key}");
    let listed = String::from_utf8(run(&db, &["keys", "list"]).stdout).unwrap();
    let key_id = openclm_core::auth::key_id_of(key).unwrap();
    // `read` is the analyst role's former name.
    assert!(listed.contains(key_id) && listed.contains("analyst") && !listed.contains(key));
    let personal = run(&db, &["keys", "create", "--role", "rep", "--label", "x"]);
    assert!(!personal.status.success());
    assert!(String::from_utf8_lossy(&personal.stderr).contains("personal"));
    assert!(run(&db, &["keys", "revoke", key_id]).status.success());
    assert!(
        !run(&db, &["keys", "revoke", "000000000000"])
            .status
            .success()
    );
    let bad = run(&db, &["keys", "create", "--role", "root"]);
    assert!(!bad.status.success());

    let defaults = run(&db, &["config", "default"]);
    let text = String::from_utf8(defaults.stdout).unwrap();
    assert!(text.contains("database_url = \"sqlite://openclm.db\""));
    let migrate = run(&db, &["migrate"]);
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("up to date"));
}

#[tokio::test]
async fn decide_prints_ranked_actions_with_reasons_and_logs_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("decide.db").to_str().unwrap().to_owned();
    let demo = run(
        &db,
        &["demo", "--no-serve", "--hcps", "50", "--months", "1"],
    );
    assert!(demo.status.success(), "{demo:?}");
    let out = run(
        &db,
        &[
            "decide",
            "--hcp",
            "hcp-000001",
            "--hcp",
            "nobody",
            "--n",
            "2",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("HCP hcp-000001\n  decision dec_"),
        "{stdout}"
    );
    assert!(stdout.contains("no HCP with this id"), "{stdout}");
    assert!(stdout.contains("* = the engine's pick"), "{stdout}");
    let json = run(&db, &["decide", "--hcp", "hcp-000001", "--json"]);
    let answer: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let id = answer[0]["decision_id"].as_str().unwrap().to_owned();
    let store = SqliteStore::open(&db).unwrap();
    assert!(store.get_decision(id).await.unwrap().is_some());
    let bad = run(
        &db,
        &["decide", "--hcp", "hcp-000001", "--channels", "pigeon"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("channels"));
}

#[tokio::test]
async fn suggest_prints_a_reps_week_and_reads_the_same_plan_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("suggest.db").to_str().unwrap().to_owned();
    let demo = run(
        &db,
        &["demo", "--no-serve", "--hcps", "300", "--months", "1"],
    );
    assert!(demo.status.success(), "{demo:?}");
    // The demo ran four weeks of the closed loop through the store: half the HCPs a week.
    assert!(
        String::from_utf8_lossy(&demo.stdout)
            .contains("closed loop over the last 4 weeks: 600 decisions logged"),
        "{demo:?}"
    );
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let (logged, delivered): (i64, i64) = conn
            .query_row(
                // The loop's own decisions: not the demo campaign's, not the reps' plans.
                "SELECT count(*), count(delivered_at) FROM decisions
                 WHERE campaign_id IS NULL
                   AND decision_id NOT IN (SELECT decision_id FROM suggestions)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(logged, 600);
        assert!(delivered > 300, "{delivered} of 600 delivered");
        let learned: i64 = conn
            .query_row("SELECT count(*) FROM model_counts", [], |r| r.get(0))
            .unwrap();
        assert!(learned > 0);
    }
    let territory = {
        let store = SqliteStore::open(&db).unwrap();
        let page = store
            .list_hcps(
                openclm_store::HcpFilter::default(),
                openclm_store::PageRequest {
                    cursor: None,
                    limit: 1,
                },
            )
            .await
            .unwrap();
        page.items[0].territory.clone().unwrap()
    };
    let rep = format!("rep-{territory}");
    let json = run(&db, &["suggest", "--rep", &rep, "--json"]);
    assert!(json.status.success(), "{json:?}");
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let suggestions = plan["suggestions"].as_array().unwrap();
    assert!(!suggestions.is_empty(), "{plan}");
    assert!(suggestions.len() <= 30);
    let store = SqliteStore::open(&db).unwrap();
    for s in suggestions {
        let id = openclm_core::HcpId::parse("id", s["hcp_id"].as_str().unwrap()).unwrap();
        let hcp = store.get_hcp(id).await.unwrap().unwrap();
        assert_eq!(hcp.territory.as_deref(), Some(territory.as_str()));
    }
    drop(store);
    let table = run(&db, &["suggest", "--rep", &rep]);
    let stdout = String::from_utf8_lossy(&table.stdout);
    for s in suggestions {
        assert!(
            stdout.contains(s["suggestion_id"].as_str().unwrap()),
            "{stdout}"
        );
    }
    assert!(stdout.contains("why: "), "{stdout}");
    let bad = run(&db, &["suggest", "--rep", "rep-nowhere"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no rep"));
}

#[test]
fn simulate_prints_the_policies_and_writes_figures_and_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim");
    let db = dir.path().join("unused.db").to_str().unwrap().to_owned();
    let run_sim = |extra: &[&str]| {
        let mut args = vec!["simulate", "--hcps", "400", "--weeks", "16"];
        args.extend_from_slice(extra);
        run(&db, &args)
    };
    let ok = run_sim(&[
        "--out",
        out.to_str().unwrap(),
        "--policies",
        "bau,loop,ideal",
    ]);
    assert!(ok.status.success(), "{ok:?}");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("business_as_usual"), "{stdout}");
    assert!(stdout.contains("closed_loop"), "{stdout}");
    assert!(
        stdout.contains("business as usual's engagement (target: 3×)"),
        "{stdout}"
    );
    assert!(stdout.contains("ideal_learner"), "{stdout}");
    assert!(
        stdout.contains("of the ideal learner's engagement"),
        "{stdout}"
    );
    assert!(!stdout.contains("oracle"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("simulation.csv")).unwrap();
    // A header and one row per policy and week.
    assert_eq!(csv.lines().count(), 1 + 3 * 16);
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("business_as_usual,1,")
    );
    let svg = std::fs::read_to_string(out.join("engagement.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("closed_loop"));
    let bad = run_sim(&["--world", "stormy"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("world"));
    let bad = run_sim(&["--policies", "loop,guesswork"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("policies"));
}

/// A campaign from a file, run, measured and reported from the command line; the report's
/// numbers equal the server's own computation of them, in every format.
#[tokio::test]
async fn campaigns_run_and_report_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("campaign.db").to_str().unwrap().to_owned();
    let demo = run(
        &db,
        &["demo", "--no-serve", "--hcps", "120", "--months", "1"],
    );
    assert!(demo.status.success(), "{demo:?}");
    let file = dir.path().join("launch.yaml");
    std::fs::write(
        &file,
        "id: launch\nname: Cardiozan launch\nproduct: cardiozan\n\
         target: {countries: [US, DE, FR, GB, JP, BR]}\nholdout_share: 0.3\n\
         waves: [{at: 2026-01-01T08:00:00Z}]\ncost_per_touch: {email: 0.5, face_to_face: 150}\n\
         value_per_outcome: 250\n",
    )
    .unwrap();
    let created = run(&db, &["campaign", "create", file.to_str().unwrap()]);
    assert!(created.status.success(), "{created:?}");
    assert!(String::from_utf8_lossy(&created.stdout).contains("campaign launch created"));
    let wave = run(&db, &["campaign", "run-wave", "launch", "1"]);
    assert!(wave.status.success(), "{wave:?}");
    assert!(String::from_utf8_lossy(&wave.stdout).contains("wave 1 of launch ran"));
    // Prescriptions after the wave for every HCP: the server's numbers are the reference.
    let store = SqliteStore::open(&db).unwrap();
    let campaign = store.get_campaign("launch".into()).await.unwrap().unwrap();
    let now = openclm::now().millis();
    let mut lines = String::new();
    for i in 1..=120 {
        let units = 1 + i % 4;
        lines.push_str(&format!(
            "{{\"event_id\":\"rx-{i}\",\"occurred_at\":\"{}\",\"hcp\":\"hcp-{i:06}\",\
             \"source\":\"openclm\",\"channel\":\"crm\",\"type\":\"prescription\",\"units\":{units}}}\n",
            openclm_core::Timestamp::from_millis(now + 60_000)
        ));
    }
    let rx = dir.path().join("rx.ndjson");
    std::fs::write(&rx, lines).unwrap();
    let imported = run(&db, &["import", "events", rx.to_str().unwrap()]);
    assert!(imported.status.success(), "{imported:?}");
    let reference = openclm_app::reports::report(&store, &campaign, 0.95)
        .await
        .unwrap();
    let outcome = reference.lift[0].outcome_per_hcp.as_ref().unwrap();
    assert!(outcome.treated > 0.0 && outcome.control > 0.0);

    let json = run(&db, &["report", "campaign", "launch", "--format", "json"]);
    assert!(json.status.success(), "{json:?}");
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let lift = &report["lift"][0]["outcome_per_hcp"];
    // The same sums, possibly folded in other batches: equal to the last bits of a float.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
    assert!(
        close(lift["absolute"].as_f64().unwrap(), outcome.absolute),
        "{lift}"
    );
    assert!(
        close(lift["p_value"].as_f64().unwrap(), outcome.p_value),
        "{lift}"
    );
    assert_eq!(
        report["kpis"]["total"]["counts"]["outcome_units"].as_f64(),
        Some(reference.kpis.total.counts.outcome_units)
    );
    let csv = run(&db, &["report", "campaign", "launch", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(
        csv.contains(&format!(
            "lift,all arms,outcome_per_hcp.absolute,{}",
            outcome.absolute
        )),
        "{csv}"
    );
    let table = run(&db, &["report", "campaign", "launch", "--by", "channel"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("lift over the holdout (95% intervals)"),
        "{table}"
    );
    assert!(table.contains("outcome / HCP"), "{table}");
    let responders = run(
        &db,
        &[
            "report",
            "responders",
            "launch",
            "--wave",
            "1",
            "--format",
            "json",
        ],
    );
    let responders: serde_json::Value = serde_json::from_slice(&responders.stdout).unwrap();
    let treated = reference.lift[0].treated;
    assert_eq!(responders["treated"].as_u64(), Some(treated));
    let evaluated = run(
        &db,
        &[
            "evaluate",
            "--policy",
            "logged",
            "--policy",
            "channel:email",
            "--until",
            "2099-01-01T00:00:00Z",
        ],
    );
    assert!(evaluated.status.success(), "{evaluated:?}");
    let text = String::from_utf8_lossy(&evaluated.stdout);
    assert!(text.contains("channel:email"), "{text}");
    let bad = run(&db, &["report", "campaign", "launch", "--by", "colour"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("by"));
    let bad = run(&db, &["report", "campaign", "nope"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no campaign"));
}

/// `openclm quarantine` lists the stored events the folds set aside: here one an older version
/// stored with units no fold can count, which the activity fold sets aside while counting the
/// rest.
#[tokio::test]
async fn quarantine_lists_events_the_folds_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db").to_str().unwrap().to_owned();
    let hcps = dir.path().join("hcps.csv");
    std::fs::write(
        &hcps,
        "id,name,specialty,country,territory,segments,email,external_ids\n\
         hcp-1,Dr. One,cardiology,DE,T-1,,,crm:C1\n",
    )
    .unwrap();
    assert!(
        run(&db, &["import", "hcps", hcps.to_str().unwrap()])
            .status
            .success()
    );
    let out = run(&db, &["quarantine"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no event set aside: the folds counted every stored event"
    );

    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        concat!(
            r#"{"event_id":"rx-1","occurred_at":"2026-01-05T00:00:00Z","hcp":"C1","source":"crm","channel":"crm","type":"prescription","units":5}"#,
            "\n",
            r#"{"event_id":"call-1","occurred_at":"2026-01-05T10:00:00Z","hcp":"C1","source":"crm","channel":"face_to_face","type":"call_logged","rep_id":"r1"}"#,
            "\n"
        ),
    )
    .unwrap();
    assert!(
        run(&db, &["import", "events", events.to_str().unwrap()])
            .status
            .success()
    );
    // What an older version stored, before ingest bounded units.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE events SET payload = replace(payload, '\"units\":5', '\"units\":1e200')
         WHERE event_id = 'rx-1'",
        [],
    )
    .unwrap();
    drop(conn);

    let out = run(&db, &["quarantine", "--limit", "10"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("set aside"), "{stdout}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&row[1..4], ["activity", "1", "rx-1"], "{stdout}");
    assert!(
        lines[1].ends_with("it no longer parses: units: must be at most 1000000 per event"),
        "{stdout}"
    );

    let out = run(&db, &["quarantine", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["fold"], "activity");
    assert_eq!(listed[0]["event_id"], "rx-1");
    // The call beside it was counted.
    let store = SqliteStore::open(&db).unwrap();
    let day = openclm_core::Timestamp::parse("t", "2026-01-05T00:00:00Z")
        .unwrap()
        .millis()
        .div_euclid(86_400_000);
    let activity = store.activity(day, day).await.unwrap();
    let delivered: u64 = activity.days.iter().map(|d| d.counts.delivered).sum();
    assert_eq!(delivered, 1);
}

/// The migration files of a backend, as many as a fresh database needs.
fn migration_count(backend: &str) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../openclm-store/migrations")
        .join(backend);
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "sql")
        })
        .count()
}

#[test]
fn migrate_on_a_fresh_database_reports_every_migration_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db").to_str().unwrap().to_owned();
    let n = migration_count("sqlite");
    let first = run(&db, &["migrate"]);
    assert!(first.status.success(), "{first:?}");
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains(&format!("({n} migration(s) applied now: 1, 2, ")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!(", {n})")), "{stdout}");
    let again = run(&db, &["migrate"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("(0 migration(s) applied now)"),
        "{again:?}"
    );
}

#[tokio::test]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("logs.db").to_str().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = std::process::Command::new(BIN)
        .args(["serve", "--database-url", &db, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("OPENCLM_LOG", "debug")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // SIGTERM: the server logs its shutdown and exits.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(
        !out.stderr.contains(&0x1b),
        "escape codes in piped logs: {stderr:?}"
    );
}

/// The demo's own cases name its own products: "a severe rash two weeks after starting cardiozan"
/// shows Cardiozan and meets the product criterion, on either backend.
#[tokio::test]
async fn the_demo_screens_the_products_it_promotes() {
    let dir = tempfile::tempdir().unwrap();
    let mut databases = vec![dir.path().join("pv.db").to_str().unwrap().to_owned()];
    match std::env::var("OPENCLM_TEST_DATABASE_URL") {
        Ok(base) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let schema = format!("demo_products_{}_{nanos}", std::process::id());
            openclm_store::create_schema(&base, &schema).await.unwrap();
            databases.push(openclm_store::url_with_schema(&base, &schema));
        }
        Err(_) => assert!(
            std::env::var_os("OPENCLM_REQUIRE_POSTGRES").is_none(),
            "OPENCLM_REQUIRE_POSTGRES is set but OPENCLM_TEST_DATABASE_URL is not"
        ),
    }
    for db in databases {
        let demo = run(
            &db,
            &["demo", "--no-serve", "--hcps", "50", "--months", "1"],
        );
        assert!(demo.status.success(), "{demo:?}");
        let store = openclm_store::AnyStore::open(&db).await.unwrap();
        let cases = store
            .ae_cases(openclm_store::AeFilter::default())
            .await
            .unwrap();
        let rash = cases
            .iter()
            .find(|c| {
                c.text
                    .contains("severe rash two weeks after starting cardiozan")
            })
            .unwrap_or_else(|| panic!("no case for the demo's rash report among {}", cases.len()));
        assert_eq!(rash.findings["products"], serde_json::json!(["Cardiozan"]));
        assert_eq!(
            rash.findings["criteria"],
            serde_json::json!({"patient": true, "reporter": true, "product": true, "event": true})
        );
    }
}
