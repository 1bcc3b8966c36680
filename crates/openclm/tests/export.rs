//! `openclm export` as a warehouse load runs it: every table in every format from a database
//! built with the command line (imports, a campaign and its wave), with row counts, sums and
//! distinct counts equal to what was stored; Parquet read back by the parquet crate's reader and
//! by an independent one (pyarrow). On SQLite always, on PostgreSQL when
//! `OPENCLM_TEST_DATABASE_URL` is set (in a fresh schema).

use openclm_core::Timestamp;
use openclm_store::prelude::*;
use openclm_store::{AnyStore, DecisionFilter, PageRequest};
use parquet::file::reader::SerializedFileReader;
use parquet::record::Field;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_openclm");
const HCPS: usize = 30;
/// More than one export page (5,000 rows), so paging is crossed twice.
const SLIDES: usize = 12_000;

fn run(db: &str, args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(args)
        .args(["--database-url", db])
        .env("OPENCLM_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(db: &str, args: &[&str]) -> Output {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "openclm {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn at(ms: i64) -> String {
    Timestamp::from_millis(ms).to_string()
}

/// What the database was given, to compare every export with.
struct Expected {
    events: usize,
    dwell_ms: i64,
    units: f64,
    km1: usize,
    decisions: usize,
    propensity: f64,
    deliveries: usize,
    /// Between the bulk import and the campaign, and between the wave and the deliveries.
    before_campaign: Timestamp,
    before_deliveries: Timestamp,
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn pause() {
    // Receipt times are in milliseconds: a few of them between steps keep `--since` exact.
    std::thread::sleep(std::time::Duration::from_millis(20));
}

/// Builds the database through the command line: HCPs, content, events (consent grants, slide
/// views with dwell, prescriptions), a campaign whose first wave runs, and deliveries naming the
/// wave's decisions.
async fn build(db: &str, dir: &Path) -> Expected {
    let mut hcps =
        String::from("id,name,specialty,country,territory,segments,email,external_ids\n");
    for i in 0..HCPS {
        let specialty = if i % 2 == 0 { "cardiology" } else { "oncology" };
        hcps.push_str(&format!(
            "hcp-{i:02},Dr. Export {i},{specialty},DE,T-{},kol;early,h{i}@example.org,crm:C{i}\n",
            i % 3
        ));
    }
    ok(db, &["import", "hcps", &write(dir, "hcps.csv", &hcps)]);
    let content = json!([{"id": "CZ-EM-1", "title": "Outcomes", "kind": "email_template",
        "product": "cardiozan", "topics": ["efficacy"], "status": "approved",
        "approval_code": "CZ-1", "approved_at": "2026-01-01T00:00:00Z",
        "expires_at": "2099-01-01T00:00:00Z"}]);
    ok(
        db,
        &[
            "import",
            "content",
            &write(dir, "content.json", &content.to_string()),
        ],
    );

    let base = 1_767_600_000_000i64; // 2026-01-05T08:00:00Z
    let (mut lines, mut events, mut dwell_ms, mut units, mut km1) = (String::new(), 0, 0, 0.0, 0);
    for i in 0..HCPS {
        lines.push_str(&format!(
            "{{\"event_id\":\"consent-{i}\",\"occurred_at\":\"{}\",\"hcp\":\"C{i}\",\"source\":\"crm\",\
             \"channel\":\"email\",\"type\":\"consent_changed\",\"state\":\"granted\"}}\n",
            at(base)
        ));
        events += 1;
    }
    for i in 0..SLIDES {
        let dwell = 1 + (i as i64 * 37) % 997;
        lines.push_str(&format!(
            "{{\"event_id\":\"slide-{i}\",\"occurred_at\":\"{}\",\"hcp\":\"C{}\",\"source\":\"crm\",\
             \"channel\":\"face_to_face\",\"type\":\"slide_viewed\",\"content_id\":\"CZ-DECK\",\
             \"key_message\":\"km-{}\",\"rep_id\":\"rep-1\",\"dwell_ms\":{dwell}}}\n",
            at(base + 60_000 + i as i64 * 1_000),
            i % HCPS,
            i % 4
        ));
        events += 1;
        dwell_ms += dwell;
        km1 += usize::from(i % 4 == 1);
    }
    for i in 0..HCPS {
        let u = 1.0 + (i % 5) as f64 * 0.5;
        lines.push_str(&format!(
            "{{\"event_id\":\"rx-{i}\",\"occurred_at\":\"{}\",\"hcp\":\"hcp-{i:02}\",\"source\":\"iqvia\",\
             \"channel\":\"crm\",\"type\":\"prescription\",\"units\":{u}}}\n",
            at(base + 86_400_000)
        ));
        events += 1;
        units += u;
    }
    ok(
        db,
        &["import", "events", &write(dir, "events.ndjson", &lines)],
    );
    pause();
    let before_campaign = openclm::now();
    pause();

    let campaign = json!({"id": "launch", "name": "Cardiozan launch", "product": "cardiozan",
        "target": {"specialties": ["cardiology"]},
        "arms": [{"name": "email", "content_id": "CZ-EM-1", "channels": ["email"]}],
        "holdout_share": 0.2, "waves": [{"at": "2026-01-01T08:00:00Z"}],
        "cost_per_touch": {"email": 0.5}, "value_per_outcome": 250});
    ok(
        db,
        &[
            "campaign",
            "create",
            &write(dir, "launch.json", &campaign.to_string()),
        ],
    );
    ok(db, &["campaign", "run-wave", "launch", "1"]);
    let store = AnyStore::open(db).await.unwrap();
    let decisions = store
        .list_decisions(
            DecisionFilter::default(),
            PageRequest {
                cursor: None,
                limit: 1000,
            },
        )
        .await
        .unwrap()
        .items;
    let sent: Vec<_> = decisions
        .iter()
        .filter(|d| d.chosen_content.is_some())
        .collect();
    assert!(sent.len() >= 5, "the wave decided for the treated HCPs");
    pause();
    let before_deliveries = openclm::now();
    pause();
    let now = openclm::now().millis();
    let mut lines = String::new();
    for (i, d) in sent.iter().enumerate() {
        lines.push_str(&format!(
            "{{\"event_id\":\"delivered-{i}\",\"occurred_at\":\"{}\",\"hcp\":\"{}\",\"source\":\"esp\",\
             \"channel\":\"email\",\"type\":\"delivered\",\"content_id\":\"CZ-EM-1\",\
             \"campaign_id\":\"launch\",\"decision_id\":\"{}\"}}\n",
            at(now),
            d.hcp_id,
            d.decision_id
        ));
    }
    ok(
        db,
        &["import", "events", &write(dir, "delivered.ndjson", &lines)],
    );
    Expected {
        events: events + sent.len(),
        dwell_ms,
        units,
        km1,
        decisions: decisions.len(),
        propensity: decisions.iter().filter_map(|d| d.propensity).sum(),
        deliveries: sent.len(),
        before_campaign,
        before_deliveries,
    }
}

/// A table read back as rows of column name → value (text for CSV, JSON for NDJSON, the
/// reader's typed fields for Parquet: times and dates rendered as the other formats write them).
type Rows = Vec<Map<String, Value>>;

fn read_csv(path: &Path) -> Rows {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(k, v)| {
                    let v = if v.is_empty() {
                        Value::Null
                    } else {
                        Value::String(v.into())
                    };
                    (k.to_owned(), v)
                })
                .collect()
        })
        .collect()
}

fn read_ndjson(path: &Path) -> Rows {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str(l).unwrap() {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        })
        .collect()
}

fn read_parquet(path: &Path) -> Rows {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut rows = Vec::new();
    for row in reader.into_iter() {
        let row = row.unwrap();
        rows.push(
            row.get_column_iter()
                .map(|(name, field)| {
                    let v = match field {
                        Field::Null => Value::Null,
                        Field::Bool(b) => json!(b),
                        Field::Long(n) => json!(n),
                        Field::Double(f) => json!(f),
                        Field::Str(s) => json!(s),
                        Field::TimestampMillis(ms) => json!(at(*ms)),
                        Field::Date(d) => json!(at(i64::from(*d) * 86_400_000)[..10]),
                        other => panic!("{name}: unexpected {other:?}"),
                    };
                    (name.clone(), v)
                })
                .collect(),
        );
    }
    rows
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        _ => 0.0,
    }
}

fn sum(rows: &Rows, column: &str) -> f64 {
    rows.iter().map(|r| number(&r[column])).sum()
}

fn distinct(rows: &Rows, column: &str) -> usize {
    rows.iter()
        .map(|r| text(&r[column]))
        .collect::<BTreeSet<_>>()
        .len()
}

fn count(rows: &Rows, column: &str, value: &str) -> usize {
    rows.iter().filter(|r| text(&r[column]) == value).count()
}

fn export(db: &str, dir: &Path, table: &str, format: &str, since: Option<&str>) -> (PathBuf, Rows) {
    let path = dir.join(format!(
        "{table}-{}.{format}",
        since.map_or("all", |_| "since")
    ));
    let mut args = vec![
        "export",
        table,
        "--format",
        format,
        "--output",
        path.to_str().unwrap(),
    ];
    if let Some(since) = since {
        args.extend(["--since", since]);
    }
    let out = ok(db, &args);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("rows to {}", path.display())),
        "{out:?}"
    );
    assert!(!Path::new(&format!("{}.partial", path.display())).exists());
    let rows = match format {
        "csv" => read_csv(&path),
        "ndjson" => read_ndjson(&path),
        _ => read_parquet(&path),
    };
    (path, rows)
}

async fn every_table_in_every_format(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let x = build(db, dir.path()).await;
    let since_campaign = x.before_campaign.to_string();
    let since_deliveries = x.before_deliveries.to_string();
    for format in ["csv", "ndjson", "parquet"] {
        let (_, events) = export(db, dir.path(), "events", format, None);
        assert_eq!(events.len(), x.events, "{format}");
        assert_eq!(sum(&events, "dwell_ms"), x.dwell_ms as f64, "{format}");
        assert!((sum(&events, "units") - x.units).abs() < 1e-9, "{format}");
        assert_eq!(distinct(&events, "hcp_id"), HCPS, "{format}");
        assert_eq!(distinct(&events, "event_id"), x.events, "{format}");
        assert_eq!(count(&events, "key_message", "km-1"), x.km1, "{format}");
        assert_eq!(count(&events, "type", "slide_viewed"), SLIDES, "{format}");
        assert_eq!(count(&events, "rep_id", "rep-1"), SLIDES, "{format}");
        let first = events.iter().find(|r| r["event_id"] == "slide-0").unwrap();
        assert_eq!(first["occurred_at"], "2026-01-05T08:01:00.000Z", "{format}");
        assert_eq!(first["hcp_id"], "hcp-00", "{format}");
        assert_eq!(first["channel"], "face_to_face", "{format}");
        let payload: Value = serde_json::from_str(&text(&first["payload"]))
            .unwrap_or_else(|_| first["payload"].clone());
        assert_eq!(payload["dwell_ms"], 1, "{format}");
        let (_, late) = export(db, dir.path(), "events", format, Some(&since_deliveries));
        assert_eq!(late.len(), x.deliveries, "{format}: received since");
        assert_eq!(count(&late, "type", "delivered"), x.deliveries, "{format}");

        let (_, hcps) = export(db, dir.path(), "hcps", format, None);
        assert_eq!(hcps.len(), HCPS, "{format}");
        assert_eq!(distinct(&hcps, "id"), HCPS, "{format}");
        assert_eq!(
            count(&hcps, "specialty", "cardiology"),
            HCPS / 2,
            "{format}"
        );
        assert_eq!(count(&hcps, "is_stub", "false"), HCPS, "{format}");
        let h3 = hcps.iter().find(|r| r["id"] == "hcp-03").unwrap();
        assert_eq!(h3["email"], "h3@example.org", "{format}");
        assert!(text(&h3["external_ids"]).contains("C3"), "{format}");
        assert!(text(&h3["segments"]).contains("early"), "{format}");
        let (_, none) = export(db, dir.path(), "hcps", format, Some(&since_campaign));
        assert!(none.is_empty(), "{format}: no HCP changed since");

        let (_, decisions) = export(db, dir.path(), "decisions", format, None);
        assert_eq!(decisions.len(), x.decisions, "{format}");
        assert_eq!(distinct(&decisions, "decision_id"), x.decisions, "{format}");
        assert_eq!(
            count(&decisions, "campaign_id", "launch"),
            x.decisions,
            "{format}"
        );
        assert!(
            (sum(&decisions, "propensity") - x.propensity).abs() < 1e-9,
            "{format}"
        );
        let delivered = decisions
            .iter()
            .filter(|r| !r["delivered_at"].is_null())
            .count();
        assert_eq!(delivered, x.deliveries, "{format}: deliveries credited");
        let (_, made) = export(db, dir.path(), "decisions", format, Some(&since_campaign));
        assert_eq!(made.len(), x.decisions, "{format}");
        let (_, none) = export(db, dir.path(), "decisions", format, Some(&since_deliveries));
        assert!(none.is_empty(), "{format}");

        let (_, kpis) = export(db, dir.path(), "kpis", format, None);
        assert!(!kpis.is_empty(), "{format}");
        assert_eq!(
            count(&kpis, "campaign_id", "launch"),
            kpis.len(),
            "{format}"
        );
        assert_eq!(sum(&kpis, "delivered"), x.deliveries as f64, "{format}");
        let today = &openclm::now().to_string()[..10];
        assert!(kpis.iter().any(|r| r["day"] == today), "{format}: {kpis:?}");
        let (_, none) = export(db, dir.path(), "kpis", format, Some("2099-01-01"));
        assert!(none.is_empty(), "{format}");
    }

    // Standard output carries the same bytes as the file.
    let stdout = ok(db, &["export", "events", "--format", "csv"]).stdout;
    let file = std::fs::read(dir.path().join("events-all.csv")).unwrap();
    assert_eq!(stdout, file);

    // Exports of personal data are on the audit trail, with counts and never the rows.
    let audit = ok(
        db,
        &[
            "audit",
            "export",
            "--record",
            "export/hcps",
            "--format",
            "json",
        ],
    );
    let entries: Vec<Value> = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(entries.len(), 6, "three formats, all and since");
    let all = entries
        .iter()
        .find(|e| text(&e["new_value"]).contains("\"rows\":30"))
        .expect("an entry with the row count");
    assert_eq!(all["action"], "export");
    assert!(text(&all["actor"]).starts_with("cli:"));
    assert!(!audit_text(&entries).contains("Dr. Export"));
    assert!(!audit_text(&entries).contains("example.org"));

    // A bad --since names the flag and why, before touching the database.
    let bad = run(
        db,
        &[
            "export",
            "events",
            "--format",
            "csv",
            "--since",
            "yesterday",
        ],
    );
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--since: \"yesterday\" is not a time"),
        "{stderr}"
    );

    pyarrow_reads(dir.path(), &x);
}

fn audit_text(entries: &[Value]) -> String {
    serde_json::to_string(entries).unwrap()
}

/// Reads the Parquet exports with pyarrow, a reader that shares no code with the writer, and
/// compares its counts, sums and column types with what was stored.
fn pyarrow_reads(dir: &Path, x: &Expected) {
    let required = std::env::var_os("OPENCLM_REQUIRE_PYARROW").is_some();
    let probe = std::process::Command::new("python3")
        .args(["-c", "import pyarrow"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            assert!(
                !required,
                "OPENCLM_REQUIRE_PYARROW is set but pyarrow is missing: {why}"
            );
            eprintln!("skipped the pyarrow check: pyarrow is not installed ({why})");
            return;
        }
        Err(e) => {
            assert!(
                !required,
                "OPENCLM_REQUIRE_PYARROW is set but python3 is missing: {e}"
            );
            eprintln!("skipped the pyarrow check: python3 is not available ({e})");
            return;
        }
    }
    let script = r#"
import json, sys
import pyarrow.parquet as pq
import pyarrow.compute as pc
d = sys.argv[1]
ev = pq.read_table(d + "/events-all.parquet")
hc = pq.read_table(d + "/hcps-all.parquet")
de = pq.read_table(d + "/decisions-all.parquet")
kp = pq.read_table(d + "/kpis-all.parquet")
print(json.dumps({
    "events": ev.num_rows,
    "dwell_ms": pc.sum(ev["dwell_ms"]).as_py(),
    "units": pc.sum(ev["units"]).as_py(),
    "hcp_ids": len(pc.unique(ev["hcp_id"])),
    "occurred_at": str(ev.schema.field("occurred_at").type),
    "first": ev.filter(pc.equal(ev["event_id"], "slide-0"))["occurred_at"][0].as_py().isoformat(),
    "hcps": hc.num_rows,
    "cardiology": pc.sum(pc.equal(hc["specialty"], "cardiology")).as_py(),
    "decisions": de.num_rows,
    "propensity": pc.sum(de["propensity"]).as_py(),
    "delivered_at": de.num_rows - de["delivered_at"].null_count,
    "kpi_delivered": pc.sum(kp["delivered"]).as_py(),
    "day": str(kp.schema.field("day").type),
}))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyarrow failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["events"], x.events);
    assert_eq!(got["dwell_ms"], x.dwell_ms);
    assert!((number(&got["units"]) - x.units).abs() < 1e-9, "{got}");
    assert_eq!(got["hcp_ids"], HCPS);
    assert_eq!(got["occurred_at"], "timestamp[ms, tz=UTC]");
    assert_eq!(got["first"], "2026-01-05T08:01:00+00:00");
    assert_eq!(got["hcps"], HCPS);
    assert_eq!(got["cardiology"], HCPS / 2);
    assert_eq!(got["decisions"], x.decisions);
    assert!(
        (number(&got["propensity"]) - x.propensity).abs() < 1e-9,
        "{got}"
    );
    assert_eq!(got["delivered_at"], x.deliveries);
    assert_eq!(got["kpi_delivered"], x.deliveries);
    assert_eq!(got["day"], "date32[day]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_exports_in_every_format_with_the_stored_counts_and_sums_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("export.db").to_str().unwrap().to_owned();
    every_table_in_every_format(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_exports_in_every_format_with_the_stored_counts_and_sums_on_postgres() {
    let Ok(base) = std::env::var("OPENCLM_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("OPENCLM_REQUIRE_POSTGRES").is_none(),
            "OPENCLM_REQUIRE_POSTGRES is set but OPENCLM_TEST_DATABASE_URL is not"
        );
        eprintln!("skipped: OPENCLM_TEST_DATABASE_URL is not set");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("export_{}_{nanos}", std::process::id());
    openclm_store::create_schema(&base, &schema).await.unwrap();
    let url = openclm_store::url_with_schema(&base, &schema);
    every_table_in_every_format(&url).await;
    openclm_store::drop_schema(&base, &schema).await.unwrap();
}

/// Erases an HCP whose name sits in free fields of her events (a CRM's `contact_name`, a Segment
/// track's `note` and `context.traits`, a Segment page's `page_name`, `title` and `url`), then
/// exports the events: her events are there, under her pseudonym, without a trace of her.
fn erased_hcp_leaves_no_trace_in_the_event_export(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (name, email, crm) = (
        "Ottilie Vanderbeek",
        "o.vanderbeek@example.org",
        "CRM-OV-417",
    );
    let hcps = format!(
        "id,name,specialty,country,territory,segments,email,external_ids\n\
         hcp-ov,{name},cardiology,DE,T-0,kol,{email},crm:{crm}\n\
         hcp-other,Dr. Other,oncology,DE,T-1,,other@example.org,crm:CRM-OTHER\n"
    );
    ok(db, &["import", "hcps", &write(dir, "hcps.csv", &hcps)]);
    let when = "2026-11-02T09:00:00Z";
    let events = [
        json!({"event_id": "visit-ov", "occurred_at": when, "hcp": crm, "source": "crm",
            "channel": "face_to_face", "type": "meeting_attended", "contact_name": name,
            "contact": {"email": email}}),
        // As the tracking API stores a Segment track and a page call.
        json!({"event_id": "m-ov-1", "occurred_at": when, "hcp": crm, "source": "crm",
            "channel": "email", "type": "opened", "segment_call": "track",
            "segment_event": "Email Opened", "content_id": "EM-1",
            "note": format!("opened by {name} at the congress"),
            "context": {"traits": {"name": name, "email": email}}}),
        json!({"event_id": "m-ov-2", "occurred_at": when, "hcp": crm, "source": "crm",
            "channel": "web", "type": "content_viewed", "segment_call": "page",
            "page_name": format!("Profile {name}"), "title": format!("Welcome back, {name}"),
            "url": "https://brand.example.org/welcome?who=ottilie-vanderbeek", "dwell_ms": 5000}),
        json!({"event_id": "other-1", "occurred_at": when, "hcp": "CRM-OTHER", "source": "crm",
            "channel": "web", "type": "content_viewed", "title": "Welcome back, Dr. Other"}),
    ];
    let lines: String = events.iter().map(|e| format!("{e}\n")).collect();
    ok(
        db,
        &["import", "events", &write(dir, "events.ndjson", &lines)],
    );
    ok(
        db,
        &[
            "privacy",
            "erase",
            "hcp-ov",
            "--reason",
            "GDPR art. 17 request 2026-201",
        ],
    );
    let out = ok(db, &["export", "events", "--format", "ndjson"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lower = text.to_lowercase();
    for needle in [name, "Ottilie", "Vanderbeek", email, crm, "hcp-ov"] {
        assert!(
            !lower.contains(&needle.to_lowercase()),
            "{needle:?} is in the export: {text}"
        );
    }
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    let erased: Vec<&Value> = rows.iter().filter(|r| r["event_id"] != "other-1").collect();
    assert_eq!(erased.len(), 3);
    let pseudonym = erased[0]["hcp_id"].as_str().unwrap();
    assert!(erased.iter().all(|r| r["hcp_id"] == pseudonym), "{text}");
    let opened = rows.iter().find(|r| r["event_id"] == "m-ov-1").unwrap();
    assert_eq!(
        (opened["type"].as_str(), opened["content_id"].as_str()),
        (Some("opened"), Some("EM-1"))
    );
    let viewed = rows.iter().find(|r| r["event_id"] == "m-ov-2").unwrap();
    assert_eq!(viewed["dwell_ms"], 5000);
    // Another HCP's event is not touched.
    let other = rows.iter().find(|r| r["event_id"] == "other-1").unwrap();
    assert!(
        other["payload"].to_string().contains("Dr. Other"),
        "{other}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_hcp_leaves_no_trace_in_the_event_export_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("erase.db").to_str().unwrap().to_owned();
    erased_hcp_leaves_no_trace_in_the_event_export(&db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_hcp_leaves_no_trace_in_the_event_export_on_postgres() {
    let Ok(base) = std::env::var("OPENCLM_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("OPENCLM_REQUIRE_POSTGRES").is_none(),
            "OPENCLM_REQUIRE_POSTGRES is set but OPENCLM_TEST_DATABASE_URL is not"
        );
        eprintln!("skipped: OPENCLM_TEST_DATABASE_URL is not set");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("erase_{}_{nanos}", std::process::id());
    openclm_store::create_schema(&base, &schema).await.unwrap();
    let url = openclm_store::url_with_schema(&base, &schema);
    erased_hcp_leaves_no_trace_in_the_event_export(&url);
    openclm_store::drop_schema(&base, &schema).await.unwrap();
}
