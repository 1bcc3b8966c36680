//! `openclm import calls` as a user runs it: a CRM call / key-message export with its own column
//! names, bad rows named by line and column, a re-import that changes nothing.

use openclm_core::{Channel, EventType, HcpId};
use openclm_store::prelude::*;
use openclm_store::{PageRequest, SqliteStore, StoredEvent, TimelineFilter};
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

const MAPPING: &str = "call_id=Call_Id,account_id=Account_Id,call_date=Call_Date,\
    call_time=Call_Time,rep_id=Rep,presentation=Presentation,key_message=Key_Message,\
    duration=Duration_s,reaction=Reaction,channel=Call_Type";

/// A call export: three valid calls, one call all of whose rows are bad, and bad rows.
const EXPORT: &str = "\
Call_Id,Account_Id,Call_Date,Call_Time,Rep,Presentation,Key_Message,Duration_s,Reaction,Call_Type
C-100,0011,2026-03-02,09:30,rep-1,CZ-DECK,km-outcomes,42,Positive,Face to face
C-100,0011,2026-03-02,09:31:10,rep-1,CZ-DECK,km-safety,18.5,Neutral,Face to face
C-100,0011,2026-03-02,09:32,rep-1,CZ-DECK,km-dosing,30,Positive,Face to face
C-101,0012,2026-03-03 14:00:00,,rep-2,CZ-DECK,km-outcomes,60,Positive,Remote Detail
C-101,0012,2026-03-03 14:02:00,,rep-2,CZ-DECK,km-access,-5,Negative,Remote Detail
C-102,,2026-03-04,10:00,rep-1,CZ-DECK,km-outcomes,25,,Face to face
C-103,0011,2026-03-05T08:00:00+01:00,,rep-1,CZ-DECK,km-outcomes,12,,Face to face
C-103,0011,05.03.2026,08:05,rep-1,CZ-DECK,km-safety,10,,Face to face
C-100,0011,2026-03-06,09:00,rep-1,CZ-DECK,km-outcomes,5,,Face to face
";

async fn events_of(store: &SqliteStore, hcp: &str, kind: EventType) -> Vec<StoredEvent> {
    store
        .timeline(
            HcpId::parse("id", hcp).unwrap(),
            TimelineFilter {
                channel: None,
                kind: Some(kind),
            },
            PageRequest {
                cursor: None,
                limit: 100,
            },
        )
        .await
        .unwrap()
        .unwrap()
        .items
}

#[tokio::test]
async fn a_call_export_becomes_calls_and_slide_views_and_names_each_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.db").to_str().unwrap().to_owned();
    let hcps = dir.path().join("hcps.csv");
    std::fs::write(
        &hcps,
        "id,name,specialty,country,territory,segments,email,external_ids\n\
         hcp-1,Dr. One,cardiology,DE,T-1,,,crm:0011\n\
         hcp-2,Dr. Two,cardiology,DE,T-1,,,crm:0012\n",
    )
    .unwrap();
    assert!(
        run(&db, &["import", "hcps", hcps.to_str().unwrap()])
            .status
            .success()
    );
    let export = dir.path().join("Call2_Key_Message.csv");
    std::fs::write(&export, EXPORT).unwrap();
    let file = export.to_str().unwrap();

    // A mapping the file does not fit stops the import before anything is stored.
    let out = run(
        &db,
        &["import", "calls", file, "--columns", "call_id=Call_Id"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("columns.account_id: column \"Account_vod__c\" is not in the file's header"),
        "{stderr}"
    );
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.counts().await.unwrap().events, 0);
    drop(store);

    let out = run(&db, &["import", "calls", file, "--columns", MAPPING]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("imported 8 record(s); 0 already present; 4 rejected"),
        "{stdout}"
    );
    for expected in [
        "line 6: Duration_s (duration): must not be negative",
        "line 7: Account_Id (account_id): is empty",
        "line 9: Call_Date (call_date): \"05.03.2026\" is not a date",
        "line 10: Call_Id (call_id): call \"C-100\" began at line 2 and other calls came between",
    ] {
        assert!(stderr.contains(expected), "{expected} not in {stderr}");
    }

    // The same file again changes nothing.
    let again = run(&db, &["import", "calls", file, "--columns", MAPPING]);
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("imported 0 record(s); 8 already present; 4 rejected"),
        "{again:?}"
    );

    let store = SqliteStore::open(&db).unwrap();
    let calls = events_of(&store, "hcp-1", EventType::CallLogged).await;
    let ids: Vec<&str> = calls.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["crm:call:C-103", "crm:call:C-100"]);
    assert_eq!(calls[1].channel, Channel::FaceToFace);
    assert_eq!(calls[1].event["rep_id"], "rep-1");
    assert_eq!(
        calls[1].event["key_messages"],
        serde_json::json!(["km-outcomes", "km-safety", "km-dosing"])
    );
    assert_eq!(calls[1].occurred_at.to_string(), "2026-03-02T09:30:00.000Z");
    assert_eq!(calls[0].occurred_at.to_string(), "2026-03-05T07:00:00.000Z");
    // Slide dwell adds up to the file's valid rows: 42 + 18.5 + 30 + 12 seconds.
    let slides = events_of(&store, "hcp-1", EventType::SlideViewed).await;
    let dwell: i64 = slides
        .iter()
        .map(|e| e.event["dwell_ms"].as_i64().unwrap())
        .sum();
    assert_eq!((slides.len(), dwell), (4, 102_500));
    let safety = slides
        .iter()
        .find(|e| e.event["key_message"] == "km-safety")
        .unwrap();
    assert_eq!(safety.event["reaction"], "Neutral");
    assert_eq!(safety.event["content_id"], "CZ-DECK");
    assert_eq!(safety.occurred_at.to_string(), "2026-03-02T09:31:10.000Z");

    // The remote call keeps only its valid row; the HCP's state counts it.
    let remote = events_of(&store, "hcp-2", EventType::CallLogged).await;
    assert_eq!(remote[0].channel, Channel::RemoteDetail);
    assert_eq!(
        remote[0].event["key_messages"],
        serde_json::json!(["km-outcomes"])
    );
    let state = store
        .hcp_state(HcpId::parse("id", "hcp-2").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.events, 2);
    let counts = store.counts().await.unwrap();
    assert_eq!(counts.events, 8);
}

/// Excel and CRM exports end their lines with CRLF: a bad row is named by the file's own line,
/// the first data row being line 2, also after a quoted cell that spans lines.
#[tokio::test]
async fn a_crlf_export_names_each_bad_row_by_its_true_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.db").to_str().unwrap().to_owned();
    let hcps = dir.path().join("hcps.csv");
    std::fs::write(
        &hcps,
        "id,name,specialty,country,territory,segments,email,external_ids,notes\r\n\
         hcp-1,Dr. One,cardiology,Germany,T-1,,,crm:0011,\r\n\
         hcp-2,Dr. Two,cardiology,DE,T-1,,,crm:0012,\r\n\
         hcp-3,Dr. Three,cardiology,DE,T-1,,,crm:0013,\"met at the\r\ncongress\"\r\n\
         hcp-4,Dr. Four,cardiology,DE,T-1,,,crm:0014,\r\n\
         hcp-5,Dr. Five,cardiology,France,T-1,,,crm:0015,\r\n",
    )
    .unwrap();
    let out = run(&db, &["import", "hcps", hcps.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("line "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    // Line 7 follows the quoted note of lines 4 and 5.
    assert_eq!(lines, ["2", "7"], "{stderr}");
    assert!(stderr.contains("line 2: country"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 3 record(s)"),
        "{out:?}"
    );

    let export = dir.path().join("Call2_Key_Message.csv");
    std::fs::write(
        &export,
        "Call_Id,Account_Id,Call_Date,Call_Time,Rep,Presentation,Key_Message,Duration_s,Reaction,Call_Type,Notes\r\n\
         C-200,0012,2026-03-10,09:00,rep-1,CZ-DECK,km-outcomes,-1,,Face to face,\r\n\
         C-201,0012,2026-03-11,09:00,rep-1,CZ-DECK,km-outcomes,20,,Face to face,\"asked about\r\ndosing\"\r\n\
         C-202,,2026-03-12,09:00,rep-1,CZ-DECK,km-outcomes,20,,Face to face,\r\n",
    )
    .unwrap();
    let out = run(
        &db,
        &[
            "import",
            "calls",
            export.to_str().unwrap(),
            "--columns",
            MAPPING,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("imported 2 record(s); 0 already present; 2 rejected"),
        "{stdout}"
    );
    for expected in [
        "line 2: Duration_s (duration): must not be negative",
        "line 5: Account_Id (account_id): is empty",
    ] {
        assert!(stderr.contains(expected), "{expected} not in {stderr}");
    }
}
