//! The storage story every backend must tell the same way. Every story runs against SQLite, and
//! against PostgreSQL when `OPENCLM_TEST_DATABASE_URL` names a database (each run in a schema of
//! its own); CI always sets it.

use openclm_core::consent::ConsentState;
use openclm_core::content::{ContentInput, ContentStatus};
use openclm_core::hcp::{ExternalId, HcpInput};
use openclm_core::{Channel, Event, EventType, HcpId, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{
    AnyStore, ContentFilter, HcpFilter, IngestOutcome, PageRequest, TimelineFilter,
    UnknownHcpPolicy, Upserted,
};
use serde_json::json;

const NOW: Timestamp = Timestamp::from_millis(1_780_000_000_000);

fn hcp(id: &str, territory: &str, specialty: &str, crm_id: &str) -> openclm_core::Hcp {
    HcpInput {
        name: Some(format!("Dr. {id}")),
        specialty: Some(specialty.into()),
        country: Some("DE".into()),
        territory: Some(territory.into()),
        segments: vec![],
        email: None,
        external_ids: vec![ExternalId {
            system: "crm".into(),
            id: crm_id.into(),
        }],
        restricted_products: vec![],
    }
    .validate(id)
    .unwrap()
}

fn event(id: &str, hcp: &str, minute: i64, channel: &str, kind: &str) -> Event {
    let at = Timestamp::from_millis(1_770_000_000_000 + minute * 60_000);
    let mut v = json!({"event_id": id, "occurred_at": at.to_string(), "hcp": hcp, "source": "crm",
        "channel": channel, "type": kind});
    if kind == "slide_viewed" {
        v["dwell_ms"] = json!(1500);
    }
    if kind == "consent_changed" {
        v["state"] = json!("withdrawn");
    }
    Event::from_json(v).unwrap()
}

/// A fresh, empty database of one backend, which can be opened any number of times.
struct TestDb {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("openclm.db").display().to_string();
        Self {
            url,
            _dir: Some(dir),
        }
    }

    /// A new schema in the test database, or `None` when no test database is configured.
    async fn postgres() -> Option<Self> {
        let Ok(base) = std::env::var("OPENCLM_TEST_DATABASE_URL") else {
            assert!(
                std::env::var_os("OPENCLM_REQUIRE_POSTGRES").is_none(),
                "OPENCLM_REQUIRE_POSTGRES is set but OPENCLM_TEST_DATABASE_URL is not"
            );
            eprintln!("skipped: OPENCLM_TEST_DATABASE_URL is not set");
            return None;
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "store_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        openclm_store::create_schema(&base, &schema).await.unwrap();
        Some(Self {
            url: openclm_store::url_with_schema(&base, &schema),
            _dir: None,
        })
    }

    async fn open(&self) -> AnyStore {
        AnyStore::open(&self.url).await.unwrap()
    }

    /// Waits until the events stored so far can all be folded. PostgreSQL folds an event only
    /// once every transaction older than it has finished (a fold never passes one still running),
    /// and the other stories' transactions on the same server (a migration, an ingest) may still
    /// be running; a story that counts exactly waits for them first. SQLite folds at once.
    async fn settled(&self) {
        if !openclm_store::is_postgres_url(&self.url) {
            return;
        }
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let finished: bool = client
                .query_one(
                    "SELECT coalesce((SELECT xid FROM events WHERE xid IS NOT NULL
                                      ORDER BY xid DESC LIMIT 1)
                                     < pg_snapshot_xmin(pg_current_snapshot()), true)",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if finished {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "a transaction older than the last event is still running"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        drop(client);
        let _ = driver.await;
    }
}

impl TestDb {
    /// Runs SQL on the database directly, beside the store: how a test writes a row the way an
    /// older version of OpenCLM would have, past today's checks. `sqlite` and `postgres` are the
    /// same statement in each backend's dialect.
    async fn raw(&self, sqlite: &str, postgres: &str) {
        if openclm_store::is_postgres_url(&self.url) {
            let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let driver = tokio::spawn(connection);
            client.batch_execute(postgres).await.unwrap();
            drop(client);
            let _ = driver.await;
        } else {
            let conn = rusqlite::Connection::open(&self.url).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .unwrap();
            conn.execute_batch(sqlite).unwrap();
        }
    }
}

/// A store with two HCPs: hcp-a (crm A1, north, cardiology) and hcp-b (crm B1, south, oncology).
async fn fresh(db: &TestDb) -> AnyStore {
    let store = db.open().await;
    store
        .put_hcps(
            vec![
                hcp("hcp-a", "north", "cardiology", "A1"),
                hcp("hcp-b", "south", "oncology", "B1"),
            ],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    store
}

fn page(limit: usize, cursor: Option<String>) -> PageRequest {
    PageRequest { cursor, limit }
}

async fn ingest_dedupes_before_and_after_the_index_merge_and_across_restart(db: TestDb) {
    let store = fresh(&db).await;
    let first = vec![
        event("e1", "A1", 1, "email", "opened"),
        event("e2", "A1", 2, "web", "content_viewed"),
        event("e1", "A1", 1, "email", "opened"), // duplicate within the batch
        event("e3", "nobody", 3, "web", "content_viewed"),
    ];
    let out = store
        .ingest(first, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert_eq!(out[0], IngestOutcome::Accepted);
    assert_eq!(out[1], IngestOutcome::Accepted);
    assert_eq!(out[2], IngestOutcome::Duplicate);
    let IngestOutcome::Rejected(e) = &out[3] else {
        panic!("{out:?}")
    };
    assert_eq!(e.field, "hcp");

    // From the tail (not yet merged).
    let again = store
        .ingest(
            vec![
                event("e2", "A1", 2, "web", "content_viewed"),
                event("e2", "A1", 9, "web", "content_viewed"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![IngestOutcome::Duplicate, IngestOutcome::Conflict]
    );

    // From the merged index.
    store.merge_index().await.unwrap();
    let again = store
        .ingest(
            vec![
                event("e1", "A1", 1, "email", "opened"),
                event("e1", "A1", 1, "email", "clicked"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![IngestOutcome::Duplicate, IngestOutcome::Conflict]
    );

    // After a restart, with an unmerged tail.
    store
        .ingest(
            vec![event("e4", "B1", 4, "sms", "delivered")],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    drop(store);
    let store = db.open().await;
    let again = store
        .ingest(
            vec![
                event("e4", "B1", 4, "sms", "delivered"),
                event("e1", "A1", 1, "email", "opened"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![IngestOutcome::Duplicate, IngestOutcome::Duplicate]
    );
    assert_eq!(store.counts().await.unwrap().events, 3);
    assert!(store.check_integrity().await.unwrap().problems.is_empty());
}

async fn timeline_is_newest_first_across_index_and_tail_with_filters_and_cursor(db: TestDb) {
    let store = fresh(&db).await;
    let older: Vec<Event> = (0..5)
        .map(|i| event(&format!("old{i}"), "A1", i * 10, "email", "opened"))
        .collect();
    store
        .ingest(older, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    store.merge_index().await.unwrap();
    // Newer and interleaved events stay in the tail.
    let newer = vec![
        event("n1", "A1", 15, "web", "content_viewed"),
        event("n2", "A1", 100, "face_to_face", "slide_viewed"),
        event("b1", "hcp-b", 50, "email", "opened"),
    ];
    store
        .ingest(newer, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();

    let id = HcpId::parse("id", "hcp-a").unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let p = store
            .timeline(id.clone(), TimelineFilter::default(), page(3, cursor))
            .await
            .unwrap()
            .unwrap();
        seen.extend(p.items.iter().map(|e| e.event_id.clone()));
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(
        seen,
        vec!["n2", "old4", "old3", "old2", "n1", "old1", "old0"]
    );

    let emails = store
        .timeline(
            id.clone(),
            TimelineFilter {
                channel: Some(Channel::Email),
                kind: None,
            },
            page(50, None),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(emails.items.len(), 5);
    let slides = store
        .timeline(
            id.clone(),
            TimelineFilter {
                channel: None,
                kind: Some(EventType::SlideViewed),
            },
            page(50, None),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slides.items.len(), 1);
    assert_eq!(slides.items[0].event["dwell_ms"], 1500);
    assert!(
        store
            .timeline(
                HcpId::parse("id", "ghost").unwrap(),
                TimelineFilter::default(),
                page(5, None)
            )
            .await
            .unwrap()
            .is_none()
    );
}

async fn consent_changes_and_unsubscribes_become_history(db: TestDb) {
    let store = fresh(&db).await;
    store
        .ingest(
            vec![
                event("c1", "A1", 1, "email", "consent_changed"),
                event("u1", "A1", 2, "sms", "unsubscribed"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let history = store
        .consent_history(HcpId::parse("id", "hcp-a").unwrap())
        .await
        .unwrap()
        .unwrap();
    // An unsubscribe on SMS withdraws SMS and, from the same moment, promotional email too.
    let rows: Vec<(Channel, ConsentState, Option<&str>)> = history
        .iter()
        .map(|r| (r.channel, r.state, r.event_id.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            (Channel::Email, ConsentState::Withdrawn, Some("c1")),
            (Channel::Sms, ConsentState::Withdrawn, Some("u1")),
            (Channel::Email, ConsentState::Withdrawn, Some("u1")),
        ]
    );
    assert_eq!(history[2].evidence.as_deref(), Some("unsubscribed on sms"));
}

async fn unknown_hcps_can_become_stubs_and_later_master_data(db: TestDb) {
    let store = fresh(&db).await;
    let out = store
        .ingest(
            vec![event("s1", "new-hcp", 1, "web", "content_viewed")],
            UnknownHcpPolicy::CreateStub,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(out, vec![IngestOutcome::Accepted]);
    // A stub is not master data yet.
    assert!(
        store
            .get_hcp(HcpId::parse("id", "new-hcp").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let up = store
        .put_hcps(
            vec![hcp("new-hcp", "north", "gp", "N1")],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(up, vec![Ok(Upserted::Updated)]);
    let t = store
        .timeline(
            HcpId::parse("id", "new-hcp").unwrap(),
            TimelineFilter::default(),
            page(10, None),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.items.len(), 1);
}

async fn master_data_arriving_after_events_adopts_the_stub_and_its_events(db: TestDb) {
    let store = fresh(&db).await;
    store
        .ingest(
            vec![event("early", "CRM-77", 1, "web", "content_viewed")],
            UnknownHcpPolicy::CreateStub,
            NOW,
        )
        .await
        .unwrap();
    // A second source reaches the stub by its id alone.
    let mut by_id = event("other-source", "CRM-77", 2, "web", "content_viewed");
    by_id.source = "web".into();
    store
        .ingest(vec![by_id], UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    // The real record names the id the events used, under its own OpenCLM id.
    let results = store
        .put_hcps(
            vec![hcp("hcp-77", "north", "gp", "CRM-77")],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(results, vec![Ok(Upserted::Created)]);
    let t = store
        .timeline(
            HcpId::parse("id", "hcp-77").unwrap(),
            TimelineFilter::default(),
            page(10, None),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.items.len(), 2);
    assert_eq!(t.items[0].hcp_id, "hcp-77");
    assert!(
        store
            .get_hcp(HcpId::parse("id", "CRM-77").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // Later events land on the same HCP, whichever route they took to the stub.
    let mut again_by_id = event("other-source-later", "CRM-77", 5, "web", "content_viewed");
    again_by_id.source = "web".into();
    let out = store
        .ingest(
            vec![
                event("later", "CRM-77", 4, "web", "content_viewed"),
                again_by_id,
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(out, vec![IngestOutcome::Accepted, IngestOutcome::Accepted]);
    let t = store
        .timeline(
            HcpId::parse("id", "hcp-77").unwrap(),
            TimelineFilter::default(),
            page(10, None),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.items.len(), 4);
    assert_eq!(store.counts().await.unwrap().hcps, 3);
    // An existing HCP cannot take over a stub's id; the error says why.
    store
        .ingest(
            vec![event("x9", "X9", 1, "web", "content_viewed")],
            UnknownHcpPolicy::CreateStub,
            NOW,
        )
        .await
        .unwrap();
    let mut claim = hcp("hcp-a", "north", "cardiology", "A1");
    claim.external_ids.push(ExternalId {
        system: "crm".into(),
        id: "X9".into(),
    });
    let refused = store
        .put_hcps(vec![claim], "test".into(), NOW)
        .await
        .unwrap();
    let e = refused[0].as_ref().unwrap_err();
    assert!(e.reason.contains("stub HCP (X9)"), "{e}");
    assert!(store.check_integrity().await.unwrap().problems.is_empty());
}

async fn hcp_lists_filter_and_paginate_and_external_ids_stay_unique(db: TestDb) {
    let store = fresh(&db).await;
    let many: Vec<_> = (0..25)
        .map(|i| {
            hcp(
                &format!("h{i:02}"),
                if i % 2 == 0 { "north" } else { "south" },
                "gp",
                &format!("X{i}"),
            )
        })
        .collect();
    store.put_hcps(many, "test".into(), NOW).await.unwrap();
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let filter = HcpFilter {
            territory: Some("north".into()),
            specialty: None,
            country: Some("de".into()),
        };
        let p = store.list_hcps(filter, page(5, cursor)).await.unwrap();
        ids.extend(p.items.into_iter().map(|h| h.id.to_string()));
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(ids.len(), 14); // hcp-a and h00, h02 ... h24
    assert_eq!(ids[0], "h00");
    assert_eq!(ids.last().unwrap(), "hcp-a");
    // A clash refuses that HCP alone, naming the field; the others in the call are written.
    let results = store
        .put_hcps(
            vec![
                hcp("h99", "north", "gp", "A1"),
                hcp("h98", "north", "gp", "Z9"),
            ],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    let clash = results[0].as_ref().unwrap_err();
    assert_eq!(clash.field, "external_ids[0]");
    assert!(
        clash.reason.contains("already belongs to HCP hcp-a"),
        "{clash}"
    );
    assert_eq!(results[1], Ok(Upserted::Created));
    assert!(
        store
            .get_hcp(HcpId::parse("id", "h99").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn content_status_filter_treats_past_expiry_as_expired(db: TestDb) {
    let store = fresh(&db).await;
    let item = |id: &str, status: &str, expires: &str| {
        ContentInput {
            id: Some(id.into()),
            title: Some("t".into()),
            kind: Some("email_template".into()),
            product: Some("cardiozan".into()),
            status: Some(status.into()),
            approval_code: Some("C-1".into()),
            approved_at: Some("2026-01-01T00:00:00Z".into()),
            expires_at: Some(expires.into()),
            ..Default::default()
        }
        .validate()
        .unwrap()
    };
    store
        .put_content(
            vec![
                item("live", "approved", "2099-01-01T00:00:00Z"),
                item("old", "approved", "2026-02-01T00:00:00Z"),
                item("wip", "draft", "2099-01-01T00:00:00Z"),
            ],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    let list = |s| {
        let store = store.clone();
        async move {
            store
                .list_content(
                    ContentFilter {
                        status: Some(s),
                        product: None,
                    },
                    page(10, None),
                    NOW,
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(ContentStatus::Approved).await, vec!["live"]);
    assert_eq!(list(ContentStatus::Expired).await, vec!["old"]);
    assert_eq!(list(ContentStatus::Draft).await, vec!["wip"]);
    let old = store.get_content("old".into(), NOW).await.unwrap().unwrap();
    assert_eq!(old.status, ContentStatus::Expired);
    // Content meant for some specialties keeps the list.
    let mut special = item("special", "approved", "2099-01-01T00:00:00Z");
    special.specialties = vec!["oncology".into(), "haematology".into()];
    store
        .put_content(vec![special.clone()], "test".into(), NOW)
        .await
        .unwrap();
    let read = store.get_content("special".into(), NOW).await.unwrap();
    assert_eq!(read, Some(special));
}

async fn a_merge_in_several_steps_keeps_every_event_findable_once(db: TestDb) {
    let store = fresh(&db).await;
    // More than one merge step's worth of rows, spread over two HCPs.
    let events: Vec<Event> = (0..60_000)
        .map(|i| {
            event(
                &format!("bulk-{i}"),
                if i % 3 == 0 { "B1" } else { "A1" },
                i % 5000,
                "web",
                "content_viewed",
            )
        })
        .collect();
    for chunk in events.chunks(10_000) {
        let out = store
            .ingest(chunk.to_vec(), UnknownHcpPolicy::Reject, NOW)
            .await
            .unwrap();
        assert!(out.iter().all(|o| *o == IngestOutcome::Accepted));
    }
    store.merge_index().await.unwrap();
    let resent = store
        .ingest(events[..20_000].to_vec(), UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert!(resent.iter().all(|o| *o == IngestOutcome::Duplicate));
    let report = store.check_integrity().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let mut total = 0;
    let mut cursor = None;
    loop {
        let p = store
            .timeline(
                HcpId::parse("id", "hcp-b").unwrap(),
                TimelineFilter::default(),
                page(1000, cursor),
            )
            .await
            .unwrap()
            .unwrap();
        total += p.items.len();
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(total, 20_000);
}

async fn two_handles_ingesting_the_same_events_at_once_store_each_exactly_once(db: TestDb) {
    // Two handles on one database: two nodes for PostgreSQL, two writers for SQLite.
    let first = fresh(&db).await;
    let second = db.open().await;
    let all: Vec<Event> = (0..4000)
        .map(|i| {
            event(
                &format!("race-{i}"),
                if i % 2 == 0 { "A1" } else { "B1" },
                i,
                "email",
                "opened",
            )
        })
        .collect();
    // Each of 8 senders sends overlapping batches: every event goes out 4 times in all.
    let mut tasks = Vec::new();
    for sender in 0..8usize {
        let store = if sender % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let mut mine: Vec<Event> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| (i + sender) % 2 == 0)
            .map(|(_, e)| e.clone())
            .collect();
        if sender % 3 == 0 {
            mine.reverse();
        }
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            for chunk in mine.chunks(250) {
                let out = store
                    .ingest(chunk.to_vec(), UnknownHcpPolicy::Reject, NOW)
                    .await
                    .unwrap();
                for (e, o) in chunk.iter().zip(out) {
                    assert!(
                        matches!(o, IngestOutcome::Accepted | IngestOutcome::Duplicate),
                        "{}: {o:?}",
                        e.event_id
                    );
                    if o == IngestOutcome::Accepted {
                        accepted.push(e.event_id.clone());
                    }
                }
            }
            accepted
        }));
    }
    let mut accepted = Vec::new();
    for t in tasks {
        accepted.extend(t.await.unwrap());
    }
    accepted.sort();
    let before = accepted.len();
    accepted.dedup();
    assert_eq!(before, accepted.len(), "an event was accepted twice");
    assert_eq!(accepted.len(), 4000, "every event accepted once");
    for store in [&first, &second] {
        assert_eq!(store.counts().await.unwrap().events, 4000);
        let p = store
            .timeline(
                HcpId::parse("id", "hcp-b").unwrap(),
                TimelineFilter::default(),
                page(1000, None),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.items.len(), 1000);
        assert!(p.next_cursor.is_some());
    }
    let report = second.check_integrity().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // Every accepted event was folded into its HCP's state exactly once: no update was lost
    // between the two handles.
    for id in ["hcp-a", "hcp-b"] {
        let state = first
            .hcp_state(HcpId::parse("id", id).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.events, 2000, "{id}");
    }
}

async fn migrations_started_together_apply_once(db: TestDb) {
    let (a, b, c) = tokio::join!(
        AnyStore::open(&db.url),
        AnyStore::open(&db.url),
        AnyStore::open(&db.url)
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    // Whoever came first applied the schema; the others and a later run apply nothing.
    for store in [&a, &b, &c] {
        assert!(store.migrate().await.unwrap().is_empty());
    }
    let store = fresh(&db).await;
    assert_eq!(store.counts().await.unwrap().hcps, 2);
}

async fn a_copy_rejected_for_its_hcp_is_still_a_duplicate_of_the_stored_event(db: TestDb) {
    let store = fresh(&db).await;
    let out = store
        .ingest(
            vec![
                event("kept", "A1", 1, "email", "opened"),
                event("late", "nobody", 2, "email", "opened"),
                event("late", "A1", 2, "email", "opened"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(out[0], IngestOutcome::Accepted);
    assert!(matches!(&out[1], IngestOutcome::Rejected(e) if e.field == "hcp"));
    assert_eq!(out[2], IngestOutcome::Accepted);
    // The HCP's crm id changes; a resend of the stored event under the old id is still a
    // duplicate (or a conflict), never a rejection.
    store
        .put_hcps(
            vec![hcp("hcp-a", "north", "cardiology", "A2")],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    let out = store
        .ingest(
            vec![
                event("kept", "A1", 1, "email", "opened"),
                event("kept", "A1", 1, "email", "clicked"),
            ],
            UnknownHcpPolicy::CreateStub,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(out, vec![IngestOutcome::Duplicate, IngestOutcome::Conflict]);
    // No stub was made for a copy of a stored event.
    assert_eq!(store.counts().await.unwrap().hcps, 2);
    assert!(
        store
            .get_hcp(HcpId::parse("id", "A1").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn digests_change_with_any_row_and_match_for_equal_data(db: TestDb) {
    let store = fresh(&db).await;
    store
        .ingest(
            vec![event("d1", "A1", 1, "email", "consent_changed")],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let digests = store.table_digests().await.unwrap();
    let names: Vec<&str> = digests.iter().map(|d| d.table).collect();
    assert_eq!(
        names,
        [
            "hcps",
            "hcp_external_ids",
            "content",
            "events",
            "consent_records",
            "api_keys",
            "model_counts",
            "decisions",
            "reps",
            "suggestion_plans",
            "suggestions",
            "suggestion_content",
            "campaigns",
            "campaign_waves",
            "campaign_members",
            "users",
            "audit_log",
            "ae_cases",
            "screening_counts",
            "suppressions",
            "sends",
            "deliveries",
            "activity_days",
            "activity_content",
            "activity_reach",
            "simulation_runs",
            "anonymous_links",
            "anonymous_events",
            "fold_quarantine",
            "blobs"
        ]
    );
    let rows: Vec<u64> = digests.iter().map(|d| d.rows).collect();
    // The audit trail holds the two HCPs' creation and the consent change; nothing is folded
    // into the activity rollup until it is asked for.
    assert_eq!(
        rows,
        [
            2, 2, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0
        ]
    );
    assert_eq!(store.table_digests().await.unwrap(), digests);
    store
        .put_hcps(
            vec![hcp("hcp-b", "east", "oncology", "B1")],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    let after = store.table_digests().await.unwrap();
    assert_ne!(
        after[0].sha256, digests[0].sha256,
        "an updated HCP changes the digest"
    );
    assert_eq!(after[3], digests[3], "events are untouched");
}

async fn hcps_written_in_one_call_see_the_writes_before_them(db: TestDb) {
    let store = fresh(&db).await;
    store
        .ingest(
            vec![event("s1", "S-1", 1, "web", "content_viewed")],
            UnknownHcpPolicy::CreateStub,
            NOW,
        )
        .await
        .unwrap();
    let get = |id: &str| {
        let store = store.clone();
        let id = HcpId::parse("id", id).unwrap();
        async move { store.get_hcp(id).await.unwrap() }
    };
    let results = store
        .put_hcps(
            vec![
                // hcp-a gives up A1 for A2 ...
                hcp("hcp-a", "north", "cardiology", "A2"),
                // ... so a new HCP may take A1.
                hcp("hcp-c", "east", "gp", "A1"),
                // A2 is hcp-a's now.
                hcp("hcp-d", "east", "gp", "A2"),
                // The same HCP twice: the second record wins.
                hcp("hcp-e", "west", "gp", "E1"),
                hcp("hcp-e", "west", "oncology", "E2"),
                // A new HCP takes over the stub made for S-1 ...
                hcp("hcp-s", "west", "gp", "S-1"),
                // ... and the stub's old id is free for an HCP of its own.
                hcp("S-1", "west", "gp", "S-1-own"),
            ],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(results[0], Ok(Upserted::Updated));
    assert_eq!(results[1], Ok(Upserted::Created));
    let refused = results[2].as_ref().unwrap_err();
    assert_eq!(refused.field, "external_ids[0]");
    assert!(
        refused
            .reason
            .contains("crm:A2 already belongs to HCP hcp-a"),
        "{refused}"
    );
    assert_eq!(results[3], Ok(Upserted::Created));
    assert_eq!(results[4], Ok(Upserted::Updated));
    assert_eq!(results[5], Ok(Upserted::Created));
    assert_eq!(results[6], Ok(Upserted::Created));

    let ids = |h: Option<openclm_core::Hcp>| {
        h.unwrap()
            .external_ids
            .into_iter()
            .map(|x| format!("{}:{}", x.system, x.id))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(get("hcp-a").await), ["crm:A2"]);
    assert_eq!(ids(get("hcp-c").await), ["crm:A1"]);
    assert!(get("hcp-d").await.is_none());
    let e = get("hcp-e").await.unwrap();
    assert_eq!(e.specialty, "oncology");
    assert_eq!(ids(Some(e)), ["crm:E2"]);
    assert_eq!(ids(get("hcp-s").await), ["crm:S-1"]);
    assert_eq!(ids(get("S-1").await), ["crm:S-1-own"]);
    // The stub's event went with it to hcp-s.
    let t = store
        .timeline(
            HcpId::parse("id", "hcp-s").unwrap(),
            TimelineFilter::default(),
            page(10, None),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.items.len(), 1);
    assert_eq!(store.counts().await.unwrap().hcps, 6);
    assert!(store.check_integrity().await.unwrap().problems.is_empty());
}

async fn batch_order_stub_making_and_rejection_reasons_read_alike(db: TestDb) {
    let store = fresh(&db).await;
    // Same time, same HCP: the later in the batch is the newer in the timeline.
    let out = store
        .ingest(
            vec![
                event("zz-first", "A1", 7, "web", "content_viewed"),
                event("aa-second", "A1", 7, "web", "content_viewed"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(out, vec![IngestOutcome::Accepted, IngestOutcome::Accepted]);
    let t = store
        .timeline(
            HcpId::parse("id", "hcp-a").unwrap(),
            TimelineFilter::default(),
            page(10, None),
        )
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<&str> = t.items.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["aa-second", "zz-first"]);
    assert!(t.items[0].seq > t.items[1].seq);

    // A later copy naming an unknown HCP is judged against the first copy; no stub is made.
    let out = store
        .ingest(
            vec![
                event("k1", "A1", 8, "web", "content_viewed"),
                event("k1", "U-2", 8, "web", "content_viewed"),
            ],
            UnknownHcpPolicy::CreateStub,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(out, vec![IngestOutcome::Accepted, IngestOutcome::Conflict]);
    assert_eq!(store.counts().await.unwrap().hcps, 2);
    let results = store
        .put_hcps(vec![hcp("U-2", "north", "gp", "U2")], "test".into(), NOW)
        .await
        .unwrap();
    assert_eq!(results, vec![Ok(Upserted::Created)]);

    // Unknown under `reject` says so, even for an id that could not name a stub.
    let out = store
        .ingest(
            vec![event("r1", "crm 42", 9, "web", "content_viewed")],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let IngestOutcome::Rejected(e) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(e.field, "hcp");
    assert!(e.reason.starts_with("no HCP is known as \"crm 42\""), "{e}");
}

async fn hcp_state_folds_each_stored_event_once_and_survives_reopening(db: TestDb) {
    let store = fresh(&db).await;
    let at = |minute: i64, seconds: i64, id: &str, kind: &str| {
        let time = Timestamp::from_millis(1_770_000_000_000 + minute * 60_000 + seconds * 1000);
        Event::from_json(
            json!({"event_id": id, "occurred_at": time.to_string(), "hcp": "A1",
            "source": "crm", "channel": "email", "type": kind, "content_id": "CZ-EM-1"}),
        )
        .unwrap()
    };
    let batch = vec![
        at(0, 0, "delivered", "delivered"),
        at(0, 2, "scanner-open", "opened"),
        at(90, 0, "person-open", "opened"),
        at(91, 0, "click", "clicked"),
    ];
    store
        .ingest(batch.clone(), UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    // A resend changes nothing.
    let again = store
        .ingest(batch, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert!(again.iter().all(|o| *o == IngestOutcome::Duplicate));
    let id = HcpId::parse("id", "hcp-a").unwrap();
    let check = |state: openclm_core::state::HcpState| {
        assert_eq!(state.events, 4);
        let email = state.channels[&Channel::Email];
        assert_eq!(
            (
                email.touches,
                email.machine_opens,
                email.human_opens,
                email.clicks
            ),
            (1, 1, 1, 1)
        );
        let sends: Vec<_> = state.recent_sends(Channel::Email, None).collect();
        assert_eq!(sends.len(), 1);
        assert!(sends[0].opened && sends[0].clicked);
    };
    check(store.hcp_state(id.clone()).await.unwrap().unwrap());
    drop(store);
    let store = db.open().await;
    check(store.hcp_state(id.clone()).await.unwrap().unwrap());
    // Events after a read are folded on top of what that read kept.
    store
        .ingest(
            vec![at(120, 0, "later-click", "clicked")],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let state = store.hcp_state(id.clone()).await.unwrap().unwrap();
    assert_eq!(state.events, 5);
    assert_eq!(state.channels[&Channel::Email].clicks, 2);
    // An HCP without events has the empty state; an unknown one has none.
    let b = store
        .hcp_state(HcpId::parse("id", "hcp-b").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.events, 0);
    assert!(
        store
            .hcp_state(HcpId::parse("id", "ghost").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn model_counts_add_up_across_handles_and_decisions_are_logged(db: TestDb) {
    use openclm_core::engine::model::Counts;
    let first = fresh(&db).await;
    let second = db.open().await;
    // Eight writers on two handles add to five nodes at once; no increment is lost.
    let mut tasks = Vec::new();
    for writer in 0..8u64 {
        let store = if writer % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            for round in 0..25u64 {
                let increments = (0..5u64)
                    .map(|k| {
                        let key = u64::MAX - k; // the full 64-bit range round-trips
                        let success = (round + k + writer) % 2 == 0;
                        (
                            key,
                            Counts {
                                trials: 1.0,
                                successes: f64::from(u8::from(success)),
                            },
                        )
                    })
                    .collect();
                store.add_model_counts(increments).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut nodes = second
        .model_nodes((0..6u64).map(|k| u64::MAX - k).collect())
        .await
        .unwrap();
    nodes.sort_by_key(|(k, _)| std::cmp::Reverse(*k));
    assert_eq!(nodes.len(), 5, "a node never written is left out");
    for (_, counts) in &nodes {
        assert_eq!(counts.trials, 200.0);
        assert_eq!(counts.successes, 100.0);
    }

    let record = openclm_store::DecisionRecord {
        decision_id: "dec_1".into(),
        hcp_id: "hcp-a".into(),
        made_at: NOW,
        model_version: -42,
        chosen_content: Some("CZ-EM-1".into()),
        chosen_channel: Some(Channel::Email),
        propensity: Some(0.625),
        nodes: Some([1, 2, u64::MAX]),
        delivered_at: None,
        rewarded_at: None,
        reserved_until: Some(Timestamp::from_millis(NOW.millis() + 3_600_000)),
        body: json!({"actions": [{"content_id": "CZ-EM-1"}]}),
        campaign: Some(openclm_store::CampaignTag {
            campaign_id: "launch".into(),
            wave: 1,
            arm: 2,
        }),
    };
    assert_eq!(
        first.log_decisions(vec![record.clone()]).await.unwrap(),
        vec![true]
    );
    let ghost = openclm_store::DecisionRecord {
        decision_id: "dec_2".into(),
        hcp_id: "ghost".into(),
        ..record.clone()
    };
    assert_eq!(first.log_decisions(vec![ghost]).await.unwrap(), vec![false]);
    assert_eq!(
        second.get_decision("dec_1".into()).await.unwrap(),
        Some(record)
    );
    assert!(second.get_decision("dec_2".into()).await.unwrap().is_none());
}

async fn outcomes_credit_their_decision_once_within_the_window(db: TestDb) {
    use openclm_core::engine::model::Counts;
    let store = fresh(&db).await;
    let made = Timestamp::from_millis(1_770_000_000_000);
    let decision = |id: &str, nodes: [u64; 3]| openclm_store::DecisionRecord {
        decision_id: id.into(),
        hcp_id: "hcp-a".into(),
        made_at: made,
        model_version: 0,
        chosen_content: Some("CZ-EM-1".into()),
        chosen_channel: Some(Channel::Email),
        propensity: Some(0.5),
        nodes: Some(nodes),
        delivered_at: None,
        rewarded_at: None,
        reserved_until: None,
        body: json!({}),
        campaign: None,
    };
    assert_eq!(
        store
            .log_decisions(vec![decision("dec_a", [11, 12, 13])])
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        store
            .log_decisions(vec![decision("dec_b", [11, 22, 23])])
            .await
            .unwrap(),
        vec![true]
    );
    let named = |id: &str, decision: &str, minute: i64, kind: &str| {
        let mut e = event(id, "A1", minute, "email", kind);
        let mut v = e.payload.clone();
        v.insert("decision_id".into(), json!(decision));
        e = Event::from_json(serde_json::Value::Object(v)).unwrap();
        e
    };
    let day = 24 * 60;
    store
        .ingest(
            vec![
                named("a-sent", "dec_a", 1, "sent"),
                named("a-delivered", "dec_a", 2, "delivered"),
                named("a-open", "dec_a", 3, "opened"),
                named("a-click", "dec_a", 4, "clicked"),
                named("a-click-2", "dec_a", 5, "clicked"),
                // dec_b: a click long after the window proves delivery but earns nothing.
                named("b-late-click", "dec_b", 20 * day, "clicked"),
                named("nobody", "dec_missing", 6, "clicked"),
                // Another HCP's event naming dec_b credits nothing.
                {
                    let mut v = named("other-hcp", "dec_b", 7, "delivered").payload;
                    v.insert("hcp".into(), json!("B1"));
                    Event::from_json(serde_json::Value::Object(v)).unwrap()
                },
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let mut nodes = store.model_nodes(vec![11, 12, 13, 22, 23]).await.unwrap();
    nodes.sort_by_key(|(k, _)| *k);
    let counts = |trials: f64, successes: f64| Counts { trials, successes };
    assert_eq!(
        nodes,
        vec![
            (11, counts(2.0, 1.0)),
            (12, counts(1.0, 1.0)),
            (13, counts(1.0, 1.0)),
            (22, counts(1.0, 0.0)),
            (23, counts(1.0, 0.0)),
        ]
    );
    let a = store.get_decision("dec_a".into()).await.unwrap().unwrap();
    assert_eq!(
        a.delivered_at.map(|t| t.millis()),
        Some(1_770_000_000_000 + 60_000)
    );
    assert_eq!(
        a.rewarded_at.map(|t| t.millis()),
        Some(1_770_000_000_000 + 4 * 60_000)
    );
    // dec_b was delivered by its own HCP's late click, not by the other HCP's event.
    let b = store.get_decision("dec_b".into()).await.unwrap().unwrap();
    assert_eq!(
        b.delivered_at.map(|t| t.millis()),
        Some(1_770_000_000_000 + 20 * day * 60_000)
    );
    assert_eq!(b.rewarded_at, None);
}

/// A decision for `hcp-a` on email with `content`, made at `made` (ms), crediting `nodes`.
fn email_decision(
    id: &str,
    content: &str,
    made: i64,
    nodes: [u64; 3],
    hold_until: Option<i64>,
) -> openclm_store::DecisionRecord {
    openclm_store::DecisionRecord {
        decision_id: id.into(),
        hcp_id: "hcp-a".into(),
        made_at: Timestamp::from_millis(made),
        model_version: 0,
        chosen_content: Some(content.into()),
        chosen_channel: Some(Channel::Email),
        propensity: Some(0.5),
        nodes: Some(nodes),
        delivered_at: None,
        rewarded_at: None,
        reserved_until: hold_until.map(Timestamp::from_millis),
        body: json!({}),
        campaign: None,
    }
}

async fn outcomes_without_a_decision_id_credit_the_latest_decision_for_their_content(db: TestDb) {
    use openclm_core::engine::model::Counts;
    let store = fresh(&db).await;
    let minute = 60_000;
    let t0 = 1_770_000_000_000;
    let day = 24 * 60;
    store
        .log_decisions(vec![
            // Outside the 14-day window of the events below.
            email_decision(
                "dec_old",
                "CZ-EM-1",
                t0 - 20 * day * minute,
                [1, 2, 3],
                None,
            ),
            email_decision("dec_new", "CZ-EM-1", t0, [1, 4, 5], None),
            email_decision("dec_other", "CZ-EM-2", t0, [1, 6, 7], None),
        ])
        .await
        .unwrap();
    let about = |id: &str, minute: i64, channel: &str, kind: &str, content: &str| {
        let mut v = event(id, "A1", minute, channel, kind).payload;
        v.insert("content_id".into(), json!(content));
        Event::from_json(serde_json::Value::Object(v)).unwrap()
    };
    store
        .ingest(
            vec![
                about("d", 1, "email", "delivered", "CZ-EM-1"),
                about("c", 2, "email", "clicked", "CZ-EM-1"),
                about("c2", 3, "email", "clicked", "CZ-EM-1"),
                // The same content on another channel, and unrelated content, credit nothing.
                about("w", 4, "web", "content_viewed", "CZ-EM-1"),
                about("x", 5, "email", "clicked", "CZ-EM-9"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let mut nodes = store.model_nodes(vec![1, 2, 3, 4, 5, 6, 7]).await.unwrap();
    nodes.sort_by_key(|(k, _)| *k);
    let counts = |trials: f64, successes: f64| Counts { trials, successes };
    assert_eq!(
        nodes,
        vec![
            (1, counts(1.0, 1.0)),
            (4, counts(1.0, 1.0)),
            (5, counts(1.0, 1.0))
        ]
    );
    let new = store.get_decision("dec_new".into()).await.unwrap().unwrap();
    assert_eq!(new.delivered_at.map(|t| t.millis()), Some(t0 + minute));
    assert_eq!(new.rewarded_at.map(|t| t.millis()), Some(t0 + 2 * minute));
    let old = store.get_decision("dec_old".into()).await.unwrap().unwrap();
    assert_eq!((old.delivered_at, old.rewarded_at), (None, None));

    // Two decisions for one item, and one batch out of time order: outcomes are credited in
    // time order, each seeing the ones before it, on every backend alike.
    store
        .log_decisions(vec![
            email_decision("dec_p", "CZ-EM-5", t0 + 10 * minute, [51, 52, 53], None),
            email_decision("dec_q", "CZ-EM-5", t0 + 11 * minute, [51, 54, 55], None),
        ])
        .await
        .unwrap();
    store
        .ingest(
            vec![
                about("p-click", 13, "email", "clicked", "CZ-EM-5"),
                about("p-deliver-1", 12, "email", "delivered", "CZ-EM-5"),
                about("p-deliver-2", 14, "email", "delivered", "CZ-EM-5"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let at = |d: &openclm_store::DecisionRecord| {
        (
            d.delivered_at.map(|t| (t.millis() - t0) / minute),
            d.rewarded_at.map(|t| (t.millis() - t0) / minute),
        )
    };
    let q = store.get_decision("dec_q".into()).await.unwrap().unwrap();
    assert_eq!(at(&q), (Some(12), Some(13)));
    let p = store.get_decision("dec_p".into()).await.unwrap().unwrap();
    assert_eq!(at(&p), (Some(14), None));
}

async fn weekly_plans_are_made_once_and_feedback_and_withdrawal_move_their_suggestions(db: TestDb) {
    use openclm_core::engine::model::Counts;
    use openclm_core::suggest::{
        DismissReason, FeedbackInput, RepInput, Suggestion, SuggestionStatus, Week,
    };
    let store = fresh(&db).await;
    let other = db.open().await;
    // Master data carries the products an HCP must not be promoted.
    let mut restricted = hcp("hcp-r", "north", "cardiology", "R1");
    restricted.restricted_products = vec!["oncovira".into()];
    store
        .put_hcps(vec![restricted], "test".into(), NOW)
        .await
        .unwrap();
    let back = other
        .get_hcp(HcpId::parse("id", "hcp-r").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.restricted_products, ["oncovira"]);

    let rep = RepInput {
        name: Some("Ann Rep".into()),
        territories: vec!["north".into()],
        visits_per_week: Some(2),
    }
    .validate("rep-n")
    .unwrap();
    assert_eq!(
        store.put_rep(rep.clone(), NOW).await.unwrap(),
        Upserted::Created
    );
    assert_eq!(
        store.put_rep(rep.clone(), NOW).await.unwrap(),
        Upserted::Updated
    );
    assert_eq!(other.get_rep("rep-n".into()).await.unwrap(), Some(rep));
    assert!(other.get_rep("rep-x".into()).await.unwrap().is_none());

    let item = |id: &str, status: &str| {
        ContentInput {
            id: Some(id.into()),
            title: Some("t".into()),
            kind: Some("email_template".into()),
            product: Some("cardiozan".into()),
            status: Some(status.into()),
            approval_code: Some("C-1".into()),
            approved_at: Some("2026-01-01T00:00:00Z".into()),
            ..Default::default()
        }
        .validate()
        .unwrap()
    };
    store
        .put_content(
            vec![
                item("CZ-EM-1", "approved"),
                item("CZ-EM-2", "approved"),
                item("CZ-EM-3", "approved"),
                item("CZ-EM-4", "withdrawn"),
            ],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    let week = Week::containing(NOW);
    let end = week.end().millis();
    let suggestion = |id: &str, decision: &str, content: &str, extra: &[&str]| Suggestion {
        suggestion_id: id.into(),
        rep_id: "rep-n".into(),
        week,
        hcp_id: "hcp-a".into(),
        decision_id: decision.into(),
        channel: Channel::Email,
        content_id: content.into(),
        key_messages: extra.iter().map(|s| s.to_string()).collect(),
        score: 0.25,
        explanation: "opened 2 of the last 2 emails".into(),
        status: SuggestionStatus::Pending,
        reason: None,
        cancelled_because: None,
        note: None,
        created_at: NOW,
        updated_at: NOW,
    };
    assert!(
        other
            .get_plan("rep-n".into(), week)
            .await
            .unwrap()
            .is_none()
    );
    let plan = openclm_store::NewPlan {
        rep_id: "rep-n".into(),
        week,
        decisions: vec![
            email_decision("dec_s1", "CZ-EM-1", NOW.millis(), [31, 32, 33], Some(end)),
            email_decision("dec_s2", "CZ-EM-2", NOW.millis(), [31, 34, 35], Some(end)),
        ],
        suggestions: vec![
            suggestion("sug_1", "dec_s1", "CZ-EM-1", &[]),
            suggestion("sug_2", "dec_s2", "CZ-EM-2", &["CZ-EM-3"]),
            // Withdrawn since it was decided: left out, and its decision with it.
            suggestion("sug_3", "dec_s3", "CZ-EM-1", &["CZ-EM-4"]),
        ],
        made_at: NOW,
    };
    let mut plan = plan;
    plan.decisions.push(email_decision(
        "dec_s3",
        "CZ-EM-1",
        NOW.millis(),
        [31, 32, 33],
        Some(end),
    ));
    let stored = store.save_plan(plan.clone()).await.unwrap();
    plan.suggestions.truncate(2);
    assert_eq!(stored, plan.suggestions);
    assert!(store.get_decision("dec_s3".into()).await.unwrap().is_none());
    // A second plan for the same rep and week (another request, another node) changes nothing.
    let again = openclm_store::NewPlan {
        decisions: vec![email_decision(
            "dec_s9",
            "CZ-EM-9",
            NOW.millis(),
            [9, 9, 9],
            Some(end),
        )],
        suggestions: vec![suggestion("sug_9", "dec_s9", "CZ-EM-9", &[])],
        ..plan.clone()
    };
    assert_eq!(other.save_plan(again).await.unwrap(), plan.suggestions);
    assert!(other.get_decision("dec_s9".into()).await.unwrap().is_none());
    assert_eq!(
        other.get_plan("rep-n".into(), week).await.unwrap(),
        Some(plan.suggestions.clone())
    );

    // Both planned touches hold their place until the week ends.
    let a = HcpId::parse("id", "hcp-a").unwrap();
    let planned = other.planned_touches(a.clone(), NOW).await.unwrap();
    let held: Vec<&str> = planned.iter().map(|p| p.decision_id.as_str()).collect();
    assert_eq!(held, ["dec_s1", "dec_s2"]);
    assert!(
        other
            .planned_touches(a.clone(), week.end())
            .await
            .unwrap()
            .is_empty()
    );

    let feedback = |status: &str, reason: Option<&str>| {
        FeedbackInput {
            status: Some(status.into()),
            reason: reason.map(Into::into),
            note: Some("Saw her at the congress".into()),
        }
        .validate()
        .unwrap()
    };
    let later = Timestamp::from_millis(NOW.millis() + 60_000);
    let dismissed = other
        .suggestion_feedback(
            "sug_1".into(),
            feedback("dismissed", Some("not_relevant")),
            later,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(dismissed.status, SuggestionStatus::Dismissed);
    assert_eq!(dismissed.reason, Some(DismissReason::NotRelevant));
    assert_eq!(dismissed.note.as_deref(), Some("Saw her at the congress"));
    assert_eq!(dismissed.updated_at, later);
    // The dismissal is a failed trial of the arm, and frees the slot it held.
    let mut nodes = store.model_nodes(vec![31, 32, 33, 34]).await.unwrap();
    nodes.sort_by_key(|(k, _)| *k);
    let failed = Counts {
        trials: 1.0,
        successes: 0.0,
    };
    assert_eq!(nodes, vec![(31, failed), (32, failed), (33, failed)]);
    let planned = store.planned_touches(a.clone(), NOW).await.unwrap();
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].decision_id, "dec_s2");
    // The dismissed decision is closed: a call naming it later adds no second trial.
    // (NOW is minute 166,667 of the test clock.)
    let mut call = event("late-call", "A1", 166_700, "email", "delivered").payload;
    call.insert("decision_id".into(), json!("dec_s1"));
    call.insert("content_id".into(), json!("CZ-EM-1"));
    store
        .ingest(
            vec![Event::from_json(serde_json::Value::Object(call)).unwrap()],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let mut after = store.model_nodes(vec![31, 32, 33]).await.unwrap();
    after.sort_by_key(|(k, _)| *k);
    assert_eq!(after, vec![(31, failed), (32, failed), (33, failed)]);
    // Feedback that does not fit the status is refused; an unknown suggestion is absent.
    let refused = store
        .suggestion_feedback("sug_1".into(), feedback("accepted", None), later)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.field, "status");
    assert!(
        store
            .suggestion_feedback("sug_x".into(), feedback("accepted", None), later)
            .await
            .unwrap()
            .is_none()
    );
    let accepted = store
        .suggestion_feedback("sug_2".into(), feedback("accepted", None), later)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(accepted.status, SuggestionStatus::Accepted);

    // Withdrawing a key message the accepted suggestion carries cancels it at once.
    other
        .put_content(vec![item("CZ-EM-3", "withdrawn")], "test".into(), later)
        .await
        .unwrap();
    let cancelled = store.get_suggestion("sug_2".into()).await.unwrap().unwrap();
    assert_eq!(cancelled.status, SuggestionStatus::Cancelled);
    assert_eq!(
        cancelled.cancelled_because.as_deref(),
        Some("content CZ-EM-3 is withdrawn")
    );
    assert!(store.planned_touches(a, NOW).await.unwrap().is_empty());
    // Cancelling again finds nothing open.
    assert_eq!(
        store
            .cancel_suggestions(vec![("sug_2".into(), "again".into())], later)
            .await
            .unwrap(),
        0
    );
    let listed = other
        .list_suggestions(openclm_store::SuggestionFilter {
            week: Some(week),
            rep_id: None,
            hcp_id: None,
        })
        .await
        .unwrap();
    let statuses: Vec<(&str, SuggestionStatus)> = listed
        .iter()
        .map(|s| (s.suggestion_id.as_str(), s.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("sug_1", SuggestionStatus::Dismissed),
            ("sug_2", SuggestionStatus::Cancelled)
        ]
    );
}

async fn a_store_credits_decisions_by_its_own_reward_rules(db: TestDb) {
    use openclm_core::engine::reward::RewardConfig;
    fresh(&db).await;
    let rules = RewardConfig {
        window_days: 1,
        responses: vec![EventType::Prescription],
        ..RewardConfig::default()
    };
    let store = AnyStore::open_with(&db.url, rules).await.unwrap();
    let t0 = 1_770_000_000_000;
    let day = 24 * 60;
    store
        .log_decisions(vec![
            email_decision("dec_1", "CZ-EM-1", t0, [41, 42, 43], None),
            email_decision("dec_2", "CZ-EM-2", t0, [41, 44, 45], None),
        ])
        .await
        .unwrap();
    let named = |id: &str, decision: &str, minute: i64, kind: &str| {
        let at = Timestamp::from_millis(t0 + minute * 60_000);
        let mut v = json!({"event_id": id, "occurred_at": at.to_string(), "hcp": "A1",
            "source": "crm", "channel": "email", "type": kind, "decision_id": decision});
        if kind == "prescription" {
            v["units"] = json!(2);
        }
        Event::from_json(v).unwrap()
    };
    store
        .ingest(
            vec![
                named("d1", "dec_1", 1, "delivered"),
                // A click is not a response under these rules; a prescription is, within a day.
                named("c1", "dec_1", 2, "clicked"),
                named("p1", "dec_1", 3, "prescription"),
                named("d2", "dec_2", 1, "delivered"),
                named("p2", "dec_2", 2 * day, "prescription"),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    let one = store.get_decision("dec_1".into()).await.unwrap().unwrap();
    assert_eq!(one.rewarded_at.map(|t| t.millis()), Some(t0 + 3 * 60_000));
    let two = store.get_decision("dec_2".into()).await.unwrap().unwrap();
    assert!(two.delivered_at.is_some());
    assert_eq!(two.rewarded_at, None, "outside the one-day window");
}

async fn campaigns_are_stored_and_each_wave_is_saved_once(db: TestDb) {
    let first = fresh(&db).await;
    let second = db.open().await;
    first
        .put_hcps(
            vec![
                hcp("hcp-a", "north", "cardiology", "A1"),
                hcp("hcp-b", "north", "cardiology", "B1"),
            ],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    let campaign = openclm_core::campaign::parse_file(
        "id: launch\nname: Launch\nproduct: cardiozen\ntarget: {specialties: [cardiology]}\n\
         waves: [{at: 2026-12-01T08:00:00Z}, {at: 2026-12-15T08:00:00Z}]\n",
    )
    .unwrap();
    assert_eq!(
        first
            .put_campaign(campaign.clone(), "test".into(), NOW)
            .await
            .unwrap(),
        Upserted::Created
    );
    let renamed = openclm_core::campaign::Campaign {
        name: "Launch, renamed".into(),
        ..campaign.clone()
    };
    assert_eq!(
        first
            .put_campaign(renamed.clone(), "test".into(), NOW)
            .await
            .unwrap(),
        Upserted::Updated
    );
    assert_eq!(
        second.get_campaign("launch".into()).await.unwrap(),
        Some(renamed.clone())
    );
    assert_eq!(second.list_campaigns().await.unwrap(), vec![renamed]);
    assert_eq!(second.get_campaign("nope".into()).await.unwrap(), None);

    let tagged = |id: &str| openclm_store::DecisionRecord {
        campaign: Some(openclm_store::CampaignTag {
            campaign_id: "launch".into(),
            wave: 0,
            arm: 0,
        }),
        ..email_decision(id, "CZ-EM-1", NOW.millis(), [1, 2, 3], None)
    };
    let wave = |decision: &str| openclm_store::NewWave {
        campaign_id: "launch".into(),
        wave: 0,
        ran_at: NOW,
        members: vec![
            ("hcp-a".into(), 0),
            ("hcp-b".into(), openclm_store::HOLDOUT),
            ("ghost".into(), 0),
        ],
        treated: vec![],
        decisions: vec![tagged(decision)],
        summary: json!({"decided": 1, "decision": decision}),
    };
    // Two handles run the same wave at once: one stores it, the other gets it back.
    let (a, b) = tokio::join!(
        first.save_wave(wave("dec_w1")),
        second.save_wave(wave("dec_w2"))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.1 ^ b.1, "exactly one call stores the wave");
    assert_eq!(a.0, b.0);
    let winner = a.0.summary["decision"].as_str().unwrap().to_owned();
    let loser = if winner == "dec_w1" {
        "dec_w2"
    } else {
        "dec_w1"
    };
    let stored = first.get_decision(winner.clone()).await.unwrap().unwrap();
    assert_eq!(stored.campaign, tagged(&winner).campaign);
    assert_eq!(first.get_decision(loser.into()).await.unwrap(), None);
    // Run again later: still nothing new.
    let (again, stored_now) = first.save_wave(wave("dec_w3")).await.unwrap();
    assert!(!stored_now);
    assert_eq!(again.ran_at, NOW);
    let waves = second.list_waves("launch".into()).await.unwrap();
    assert_eq!(waves.len(), 1);
    assert_eq!(waves[0].summary["decided"], 1);
    // The decision log, by campaign and page by page.
    first
        .log_decisions(vec![email_decision(
            "dec_a",
            "CZ-EM-1",
            NOW.millis() - 1,
            [1, 2, 3],
            None,
        )])
        .await
        .unwrap();
    let of_campaign = second
        .list_decisions(
            openclm_store::DecisionFilter {
                campaign_id: Some("launch".into()),
                ..Default::default()
            },
            PageRequest {
                cursor: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = of_campaign
        .items
        .iter()
        .map(|d| d.decision_id.as_str())
        .collect();
    assert_eq!(ids, vec![winner.as_str()]);
    assert_eq!(of_campaign.items[0].body, json!({}));
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = second
            .list_decisions(
                openclm_store::DecisionFilter {
                    since: Some(Timestamp::from_millis(NOW.millis() - 1)),
                    ..Default::default()
                },
                PageRequest { cursor, limit: 1 },
            )
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|d| d.decision_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, vec!["dec_a".to_owned(), winner.clone()]);
    // The unknown HCP is not a member; the holdout is.
    assert_eq!(
        second.campaign_groups("launch".into()).await.unwrap(),
        vec![(openclm_store::HOLDOUT, 1), (0, 1)]
    );
}

async fn campaign_kpis_count_each_event_once_in_slices_and_group_moments(db: TestDb) {
    let first = fresh(&db).await;
    let second = db.open().await;
    let t0 = 1_770_000_000_000;
    first
        .put_hcps(
            vec![
                hcp("hcp-a", "north", "cardiology", "A1"),
                hcp("hcp-b", "north", "cardiology", "B1"),
                hcp("hcp-c", "north", "cardiology", "C1"),
            ],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    let campaign = openclm_core::campaign::parse_file(
        "id: launch\nname: Launch\nproduct: cardiozen\ntarget: {specialties: [cardiology]}\n\
         waves: [{at: 2026-02-01T00:00:00Z}]\n",
    )
    .unwrap();
    first
        .put_campaign(campaign, "test".into(), NOW)
        .await
        .unwrap();
    let decision = openclm_store::DecisionRecord {
        campaign: Some(openclm_store::CampaignTag {
            campaign_id: "launch".into(),
            wave: 1,
            arm: 0,
        }),
        ..email_decision("dec_k", "CZ-EM-1", t0, [1, 2, 3], None)
    };
    first
        .save_wave(openclm_store::NewWave {
            campaign_id: "launch".into(),
            wave: 1,
            ran_at: Timestamp::from_millis(t0),
            members: vec![
                ("hcp-a".into(), 0),
                ("hcp-b".into(), openclm_store::HOLDOUT),
            ],
            treated: vec![openclm_store::WaveMember {
                hcp_id: "hcp-a".into(),
                group: 0,
                decision_id: Some("dec_k".into()),
                channel: Some(Channel::Email),
                content_id: Some("CZ-EM-1".into()),
                blocked: None,
            }],
            decisions: vec![decision],
            summary: json!({}),
        })
        .await
        .unwrap();
    let make = |id: &str, hcp: &str, minute: i64, kind: &str, extra: serde_json::Value| {
        let at = Timestamp::from_millis(t0 + minute * 60_000);
        let mut v = json!({"event_id": id, "occurred_at": at.to_string(), "hcp": hcp,
            "source": "crm", "channel": "email", "type": kind});
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        Event::from_json(v).unwrap()
    };
    let batch = vec![
        make(
            "k-sent",
            "A1",
            0,
            "sent",
            json!({"decision_id": "dec_k", "content_id": "CZ-EM-1"}),
        ),
        make(
            "k-del",
            "A1",
            1,
            "delivered",
            json!({"content_id": "CZ-EM-1"}),
        ),
        // A privacy proxy's open, then a person's an hour later, tied by content alone.
        make(
            "k-proxy",
            "A1",
            2,
            "opened",
            json!({"content_id": "CZ-EM-1", "user_agent": "Mozilla/5.0 GoogleImageProxy"}),
        ),
        make(
            "k-open",
            "A1",
            62,
            "opened",
            json!({"content_id": "CZ-EM-1"}),
        ),
        make(
            "k-click",
            "A1",
            63,
            "clicked",
            json!({"content_id": "CZ-EM-1"}),
        ),
        // Outcomes and responses of members from any source; a non-member's count nowhere; one
        // before the campaign began neither.
        make(
            "k-rx-a",
            "A1",
            100,
            "prescription",
            json!({"channel": "crm", "units": 3}),
        ),
        make(
            "k-rx-b",
            "B1",
            100,
            "prescription",
            json!({"channel": "crm", "units": 2}),
        ),
        make(
            "k-click-b",
            "B1",
            101,
            "clicked",
            json!({"content_id": "OTHER"}),
        ),
        make(
            "k-rx-c",
            "C1",
            100,
            "prescription",
            json!({"channel": "crm", "units": 5}),
        ),
        make(
            "k-early",
            "A1",
            -3000,
            "prescription",
            json!({"channel": "crm", "units": 7}),
        ),
    ];
    first
        .ingest(batch.clone(), UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    db.settled().await;
    let total = |slices: &[openclm_store::SliceRow]| {
        let mut sum = openclm_core::measure::kpi::Counts::default();
        for s in slices {
            sum.add(&s.counts);
        }
        sum
    };
    let filter = openclm_store::KpiFilter {
        campaign_id: "launch".into(),
        ..Default::default()
    };
    let slices = second.campaign_slices(filter.clone()).await.unwrap();
    let sum = total(&slices);
    assert_eq!(
        (
            sum.touches,
            sum.delivered,
            sum.opened_human,
            sum.opened_machine,
            sum.clicked
        ),
        (1, 1, 1, 1, 1)
    );
    assert_eq!(
        sum.responses, 2,
        "the treated HCP's click and the holdout's"
    );
    assert_eq!(sum.outcome_units, 5.0);
    // The campaign's own touches are in wave 1 on its content; the holdout's outcome in no wave.
    assert!(
        slices
            .iter()
            .any(|s| s.wave == 1 && s.content_id == "CZ-EM-1" && s.group == 0)
    );
    assert!(
        slices
            .iter()
            .any(|s| s.group == openclm_store::HOLDOUT && s.counts.outcome_units == 2.0)
    );
    let moments = first.campaign_moments("launch".into()).await.unwrap();
    let of = |g: i64| *moments.iter().find(|m| m.group == g).unwrap();
    let (treated, holdout) = (of(0), of(openclm_store::HOLDOUT));
    assert_eq!(
        (treated.members, treated.reached, treated.responders),
        (1, 1, 1)
    );
    assert_eq!((treated.outcome, treated.outcome_sq), (3.0, 9.0));
    assert_eq!(
        (holdout.members, holdout.reached, holdout.responders),
        (1, 0, 1)
    );
    assert_eq!(holdout.outcome, 2.0);

    // Resent events change nothing; one more prescription moves the sum of squares from 3² to 4².
    first
        .ingest(batch, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    first
        .ingest(
            vec![make(
                "k-rx-a2",
                "A1",
                200,
                "prescription",
                json!({"channel": "crm", "units": 1}),
            )],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    db.settled().await;
    let moments = second.campaign_moments("launch".into()).await.unwrap();
    let treated = *moments.iter().find(|m| m.group == 0).unwrap();
    assert_eq!((treated.outcome, treated.outcome_sq), (4.0, 16.0));
    let sum = total(&first.campaign_slices(filter.clone()).await.unwrap());
    assert_eq!((sum.touches, sum.outcome_units), (1, 6.0));
    // A day range leaves the rest out.
    let day = t0.div_euclid(86_400_000);
    let later = first
        .campaign_slices(openclm_store::KpiFilter {
            from_day: Some(day + 1),
            ..filter
        })
        .await
        .unwrap();
    assert!(later.is_empty());
    assert_eq!(first.fold_kpis(1000).await.unwrap(), 0, "all counted");
    // The wave's treated HCP: delivered, opened by a person (not the proxy), clicked.
    let wave = second.wave_members("launch".into(), 1).await.unwrap();
    assert_eq!(wave.len(), 1);
    let a = &wave[0];
    assert_eq!(a.member.hcp_id, "hcp-a");
    assert_eq!(a.member.content_id.as_deref(), Some("CZ-EM-1"));
    assert_eq!(
        (a.delivered, a.opened, a.engaged, a.responses),
        (1, 1, 1, 1)
    );
    assert_eq!(a.first_delivered_at.map(|t| t.millis()), Some(t0 + 60_000));
}

/// One stored event whose numbers the folds cannot count (units of 1e200, stored before ingest
/// bounded them) is set aside by both folds, listed once per fold, and the KPIs and the activity
/// still answer, counting every other event; a batch whose write fails for a reason of the data
/// is folded one event at a time, setting aside only the event at fault.
async fn a_poison_event_is_set_aside_and_the_folds_count_everything_else(db: TestDb) {
    let store = fresh(&db).await;
    let t0 = 1_770_000_000_000;
    let campaign = openclm_core::campaign::parse_file(
        "id: launch\nname: Launch\nproduct: cardiozen\ntarget: {specialties: [cardiology]}\n\
         waves: [{at: 2026-02-01T00:00:00Z}]\n",
    )
    .unwrap();
    store
        .put_campaign(campaign, "test".into(), NOW)
        .await
        .unwrap();
    store
        .save_wave(openclm_store::NewWave {
            campaign_id: "launch".into(),
            wave: 1,
            ran_at: Timestamp::from_millis(t0),
            members: vec![
                ("hcp-a".into(), 0),
                ("hcp-b".into(), openclm_store::HOLDOUT),
            ],
            treated: vec![],
            decisions: vec![],
            summary: json!({}),
        })
        .await
        .unwrap();
    let make = |id: &str, hcp: &str, minute: i64, kind: &str, extra: serde_json::Value| {
        let at = Timestamp::from_millis(t0 + minute * 60_000);
        let mut v = json!({"event_id": id, "occurred_at": at.to_string(), "hcp": hcp,
            "source": "crm", "channel": "crm", "type": kind});
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        Event::from_json(v).unwrap()
    };
    store
        .ingest(
            vec![
                make("rx-a", "A1", 10, "prescription", json!({"units": 3})),
                make("rx-poison", "A1", 11, "prescription", json!({"units": 5})),
                make("rx-b", "B1", 12, "prescription", json!({"units": 2})),
                make("call-a", "A1", 13, "call_logged", json!({"rep_id": "r1"})),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    // What an older version accepted and stored: units whose square is not a finite number.
    db.raw(
        "UPDATE events SET payload = replace(payload, '\"units\":5', '\"units\":1e200')
         WHERE event_id = 'rx-poison'",
        "UPDATE events SET payload = replace(payload, '\"units\":5', '\"units\":1e200')
         WHERE event_id = 'rx-poison'",
    )
    .await;
    db.settled().await;

    let moments = store.campaign_moments("launch".into()).await.unwrap();
    let of = |moments: &[openclm_store::GroupMoments], g: i64| {
        let m = moments.iter().find(|m| m.group == g).unwrap();
        (m.outcome, m.outcome_sq)
    };
    assert_eq!(
        of(&moments, 0),
        (3.0, 9.0),
        "the treated HCP's other outcome"
    );
    assert_eq!(of(&moments, openclm_store::HOLDOUT), (2.0, 4.0));
    assert_eq!(
        store.fold_kpis(1000).await.unwrap(),
        0,
        "the cursor moved past"
    );
    let day = (t0 + 13 * 60_000).div_euclid(86_400_000);
    let activity = store.activity(day, day).await.unwrap();
    let crm: u64 = activity
        .days
        .iter()
        .filter(|d| d.channel == Channel::Crm)
        .map(|d| d.counts.delivered)
        .sum();
    assert_eq!(crm, 1, "the logged call");
    assert_eq!(store.fold_activity(1000).await.unwrap(), 0);

    // Both folds set the event aside, each once, naming the field at fault.
    let listed = store.quarantined_events(50).await.unwrap();
    let mut folds: Vec<openclm_store::Fold> = listed.iter().map(|q| q.fold).collect();
    folds.sort();
    assert_eq!(
        folds,
        [
            openclm_store::Fold::CampaignKpis,
            openclm_store::Fold::Activity
        ]
    );
    for q in &listed {
        assert_eq!(q.event_id.as_deref(), Some("rx-poison"));
        assert_eq!(
            q.reason,
            "it no longer parses: units: must be at most 1000000 per event"
        );
        assert!(q.quarantined_at.millis() > 1_700_000_000_000);
    }
    assert_eq!(listed[0].seq, listed[1].seq);
    // Folding again (another handle, a restart) lists nothing twice.
    let reopened = db.open().await;
    reopened.campaign_moments("launch".into()).await.unwrap();
    assert_eq!(reopened.quarantined_events(50).await.unwrap().len(), 2);
    assert_eq!(store.quarantined_events(1).await.unwrap().len(), 1);

    // A member's stored total that is no longer a number (written by an older version) makes
    // the next batch's write fail: its events are then folded one by one, and only the one that
    // adds to that total is set aside.
    db.raw(
        "UPDATE campaign_hcp SET outcome_units = 9e999 WHERE grp = -1",
        "UPDATE campaign_hcp SET outcome_units = 'Infinity' WHERE grp = -1",
    )
    .await;
    store
        .ingest(
            vec![
                make("rx-b2", "B1", 20, "prescription", json!({"units": 4})),
                make("rx-a2", "A1", 21, "prescription", json!({"units": 1})),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    db.settled().await;
    let moments = store.campaign_moments("launch".into()).await.unwrap();
    assert_eq!(of(&moments, 0), (4.0, 16.0), "rx-a2 counted");
    assert_eq!(
        of(&moments, openclm_store::HOLDOUT),
        (2.0, 4.0),
        "rx-b2 not"
    );
    let listed = store.quarantined_events(50).await.unwrap();
    assert_eq!(listed.len(), 3);
    let b2 = listed
        .iter()
        .find(|q| q.event_id.as_deref() == Some("rx-b2"))
        .unwrap();
    assert_eq!(b2.fold, openclm_store::Fold::CampaignKpis);
    assert_eq!(
        b2.reason,
        "what it adds could not be kept: campaign_hcp.outcome_units: would not be a finite number"
    );
}

/// Monday 2026-02-02, in days since 1970-01-01: the first day of week 2927.
const MONDAY: i64 = 20_486;

/// An event on `day` at `minute` past midnight (UTC).
fn activity_event(
    id: &str,
    hcp: &str,
    day: i64,
    minute: i64,
    channel: &str,
    kind: &str,
    extra: serde_json::Value,
) -> Event {
    let at = Timestamp::from_millis(day * 86_400_000 + minute * 60_000);
    let mut v = json!({"event_id": id, "occurred_at": at.to_string(), "hcp": hcp,
        "source": "crm", "channel": channel, "type": kind});
    if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    Event::from_json(v).unwrap()
}

/// Two weeks of three HCPs' activity on email and in person.
fn two_weeks() -> Vec<Event> {
    let (w1, w2) = (MONDAY, MONDAY + 7);
    let none = || json!({});
    let rep = || json!({"rep_id": "rep-1"});
    vec![
        // Week 1. hcp-a: an email delivered, opened by Apple's privacy relay (its address) and
        // then by the person, and clicked.
        activity_event("a-sent", "A1", w1, 540, "email", "sent", none()),
        activity_event("a-del", "A1", w1, 541, "email", "delivered", none()),
        activity_event(
            "a-relay",
            "A1",
            w1,
            542,
            "email",
            "opened",
            json!({"ip": "17.58.1.9", "user_agent": "Mozilla/5.0"}),
        ),
        activity_event(
            "a-open",
            "A1",
            w1,
            780,
            "email",
            "opened",
            json!({"user_agent": "Microsoft Outlook 16.0"}),
        ),
        activity_event("a-click", "A1", w1, 781, "email", "clicked", none()),
        // hcp-b: an email delivered, and a visit the next day with a slide read for 45 s.
        activity_event("b-sent", "B1", w1, 540, "email", "sent", none()),
        activity_event("b-del", "B1", w1, 545, "email", "delivered", none()),
        activity_event(
            "b-call",
            "B1",
            w1 + 1,
            600,
            "face_to_face",
            "call_logged",
            rep(),
        ),
        activity_event(
            "b-slide",
            "B1",
            w1 + 1,
            605,
            "face_to_face",
            "slide_viewed",
            json!({"dwell_ms": 45_000, "rep_id": "rep-1"}),
        ),
        // Nothing of a touch: a page glanced at, a prescription.
        activity_event("a-web", "A1", w1 + 2, 600, "web", "content_viewed", none()),
        activity_event(
            "c-rx",
            "C1",
            w1 + 3,
            600,
            "crm",
            "prescription",
            json!({"units": 2}),
        ),
        // Week 2. hcp-c: an email delivered and opened; hcp-a: a visit; hcp-b: a bounce.
        activity_event("c-sent", "C1", w2, 540, "email", "sent", none()),
        activity_event("c-del", "C1", w2, 541, "email", "delivered", none()),
        activity_event("c-open", "C1", w2, 1080, "email", "opened", none()),
        activity_event(
            "a-call",
            "A1",
            w2 + 1,
            660,
            "face_to_face",
            "call_logged",
            rep(),
        ),
        activity_event("b-sent2", "B1", w2 + 1, 540, "email", "sent", none()),
        activity_event("b-bounce", "B1", w2 + 1, 541, "email", "bounced", none()),
    ]
}

/// The parts of a day's counts the overview shows: touches, delivered, opened by a person and
/// by a machine, clicked, engaged.
fn shown(a: &openclm_store::ActivityDay) -> (i64, Channel, [u64; 6]) {
    let c = &a.counts;
    (
        a.day,
        a.channel,
        [
            c.touches,
            c.delivered,
            c.opened_human,
            c.opened_machine,
            c.clicked,
            c.engaged,
        ],
    )
}

fn weeks(a: &openclm_store::Activity) -> Vec<(i64, u64, u64)> {
    a.weeks
        .iter()
        .map(|w| (w.first_day(), w.reached, w.delivered))
        .collect()
}

async fn activity_rollup_counts_every_event_once_and_reach_per_week(db: TestDb) {
    let first = fresh(&db).await;
    let second = db.open().await;
    first
        .put_hcps(vec![hcp("hcp-c", "east", "gp", "C1")], "test".into(), NOW)
        .await
        .unwrap();
    let (w1, w2) = (MONDAY, MONDAY + 7);
    let batch = two_weeks();
    let out = first
        .ingest(batch.clone(), UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert!(out.iter().all(|o| *o == IngestOutcome::Accepted), "{out:?}");
    db.settled().await;
    // A fold reads at most its batch; the next read catches up the rest, on any handle.
    assert_eq!(first.fold_activity(5).await.unwrap(), 5);
    let all = second.activity(w1, w2 + 6).await.unwrap();
    use Channel::{Email, FaceToFace};
    let days: Vec<_> = all.days.iter().map(shown).collect();
    assert_eq!(
        days,
        [
            // touches, delivered, opened by a person, by a machine, clicked, engaged
            (w1, Email, [2, 2, 1, 1, 1, 1]),
            (w1 + 1, FaceToFace, [1, 1, 0, 0, 0, 1]),
            (w2, Email, [1, 1, 1, 0, 0, 0]),
            (w2 + 1, FaceToFace, [1, 1, 0, 0, 0, 0]),
            (w2 + 1, Email, [1, 0, 0, 0, 0, 0]),
        ]
    );
    let read = &all.days[1].counts;
    assert_eq!((read.dwell_ms, read.dwell_n), (45_000.0, 1));
    assert_eq!(all.days[4].counts.bounces, 1);
    // Week 1: hcp-a's email and hcp-b's email and visit; week 2: hcp-c's email, hcp-a's visit.
    assert_eq!(weeks(&all), [(w1, 2, 3), (w2, 2, 2)]);
    assert_eq!(all.weeks[0].week, 2927);
    assert_eq!(all.reached, 3);
    // Engaged among those reached: hcp-a clicked and hcp-b read a slide in week 1; in week 2
    // an open and a call, no engagement.
    let engaged: Vec<u64> = all.weeks.iter().map(|w| w.engaged).collect();
    assert_eq!((engaged, all.engaged), (vec![2, 0], 2));

    // A range counts the days inside it and the whole of every week it overlaps.
    let one_day = first.activity(w2, w2).await.unwrap();
    assert_eq!(
        one_day.days.iter().map(shown).collect::<Vec<_>>(),
        [(w2, Email, [1, 1, 1, 0, 0, 0])]
    );
    assert_eq!((weeks(&one_day), one_day.reached), (vec![(w2, 2, 2)], 2));
    // Weeks nobody was reached in are listed with zeros; an empty range has nothing.
    let before = first.activity(w1 - 7, w1 - 1).await.unwrap();
    assert!(before.days.is_empty());
    assert_eq!((weeks(&before), before.reached), (vec![(w1 - 7, 0, 0)], 0));
    assert_eq!(
        first.activity(w2, w1).await.unwrap(),
        openclm_store::Activity::default()
    );
    let e = first.activity(0, 40_000).await.unwrap_err();
    assert!(
        matches!(&e, openclm_store::StoreError::Invalid(f) if f.field == "to_day"),
        "{e}"
    );

    // Resent events (and a conflicting copy) are stored once, so counted once.
    let mut again = batch;
    again.push(activity_event(
        "a-del",
        "A1",
        w1,
        541,
        "email",
        "clicked",
        json!({}),
    ));
    let out = first
        .ingest(again, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert_eq!(out.last(), Some(&IngestOutcome::Conflict));
    assert!(
        out[..out.len() - 1]
            .iter()
            .all(|o| *o == IngestOutcome::Duplicate)
    );
    assert_eq!(second.activity(w1, w2 + 6).await.unwrap(), all);

    // Events stored after a read are in the next one: a delivery for hcp-c and an open by
    // Google's image proxy (its user agent) for hcp-a, in week 2.
    first
        .ingest(
            vec![
                activity_event("c-del2", "C1", w2 + 2, 600, "email", "delivered", json!({})),
                activity_event(
                    "a-proxy",
                    "A1",
                    w2 + 2,
                    601,
                    "email",
                    "opened",
                    json!({"user_agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}),
                ),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    db.settled().await;
    let later = first.activity(w1, w2 + 6).await.unwrap();
    assert_eq!(
        later.days.iter().map(shown).collect::<Vec<_>>()[5..],
        [(w2 + 2, Email, [0, 1, 0, 1, 0, 0])]
    );
    assert_eq!(later.days[..5], all.days[..]);
    assert_eq!(weeks(&later), [(w1, 2, 3), (w2, 2, 3)]);
    assert_eq!(later.reached, 3);
    // Everything is folded: folding again reads nothing and changes nothing.
    assert_eq!(first.fold_activity(1000).await.unwrap(), 0);
    assert_eq!(second.fold_activity(1000).await.unwrap(), 0);
    assert_eq!(second.activity(w1, w2 + 6).await.unwrap(), later);
    // The rollup holds keys and counts: one row per day and channel, one per week and HCP.
    let digests = second.table_digests().await.unwrap();
    let rows = |table: &str| digests.iter().find(|d| d.table == table).unwrap().rows;
    assert_eq!((rows("activity_days"), rows("activity_reach")), (6, 4));
    // A reopened store has nothing left to fold.
    drop((first, second));
    let reopened = db.open().await;
    assert_eq!(reopened.fold_activity(1000).await.unwrap(), 0);
    assert_eq!(reopened.activity(w1, w2 + 6).await.unwrap(), later);
}

async fn content_activity_counts_per_item_and_slide(db: TestDb) {
    let store = fresh(&db).await;
    let w1 = MONDAY;
    let item =
        |id: &str, hcp: &str, minute: i64, channel: &str, kind: &str, extra: serde_json::Value| {
            activity_event(id, hcp, w1, minute, channel, kind, extra)
        };
    let batch = vec![
        item(
            "m-del",
            "A1",
            540,
            "email",
            "delivered",
            json!({"content_id": "EM-1"}),
        ),
        item(
            "m-open",
            "A1",
            700,
            "email",
            "opened",
            json!({"content_id": "EM-1", "user_agent": "Microsoft Outlook 16.0"}),
        ),
        item(
            "m-relay",
            "B1",
            541,
            "email",
            "opened",
            json!({"content_id": "EM-1", "ip": "17.58.1.9"}),
        ),
        item(
            "m-click",
            "A1",
            701,
            "email",
            "clicked",
            json!({"content_id": "EM-1"}),
        ),
        item(
            "v-call",
            "B1",
            600,
            "face_to_face",
            "call_logged",
            json!({"content_id": "DA-1", "rep_id": "rep-1"}),
        ),
        item(
            "v-s1",
            "B1",
            601,
            "face_to_face",
            "slide_viewed",
            json!({"content_id": "DA-1", "key_message": "KM-1", "dwell_ms": 30_000, "rep_id": "rep-1"}),
        ),
        item(
            "v-s2",
            "B1",
            602,
            "face_to_face",
            "slide_viewed",
            json!({"content_id": "DA-1", "key_message": "KM-2", "dwell_ms": 4_000, "rep_id": "rep-1"}),
        ),
        // No content named: in the days, not in the content rollup.
        item("x-del", "B1", 603, "email", "delivered", json!({})),
    ];
    let out = store
        .ingest(batch.clone(), UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert!(out.iter().all(|o| *o == IngestOutcome::Accepted), "{out:?}");
    db.settled().await;
    // (content, slide): delivered, opened by a person, by a machine, clicked, engaged, views, dwell
    let shown = |rows: &[openclm_store::ContentActivity]| -> Vec<(String, String, [u64; 6], f64)> {
        rows.iter()
            .map(|r| {
                let c = &r.counts;
                (
                    r.content_id.clone(),
                    r.key_message.clone(),
                    [
                        c.delivered,
                        c.opened_human,
                        c.opened_machine,
                        c.clicked,
                        c.engaged,
                        c.dwell_n,
                    ],
                    c.dwell_ms,
                )
            })
            .collect()
    };
    let all = store.content_activity(None).await.unwrap();
    assert_eq!(
        shown(&all),
        [
            ("DA-1".into(), "".into(), [1, 0, 0, 0, 0, 0], 0.0),
            ("DA-1".into(), "KM-1".into(), [0, 0, 0, 0, 1, 1], 30_000.0),
            ("DA-1".into(), "KM-2".into(), [0, 0, 0, 0, 0, 1], 4_000.0),
            ("EM-1".into(), "".into(), [1, 1, 1, 1, 1, 0], 0.0),
        ]
    );
    let one = store.content_activity(Some("EM-1".into())).await.unwrap();
    assert_eq!(one, all[3..]);
    assert!(
        store
            .content_activity(Some("none".into()))
            .await
            .unwrap()
            .is_empty()
    );
    // A resend is stored once, so counted once.
    let again = store
        .ingest(batch, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert!(again.iter().all(|o| *o == IngestOutcome::Duplicate));
    assert_eq!(store.content_activity(None).await.unwrap(), all);
}

async fn simulation_runs_keep_the_latest_and_round_trip_their_body(db: TestDb) {
    use openclm_store::SimulationRun;
    let store = db.open().await;
    assert_eq!(store.last_simulation().await.unwrap(), None);
    let run = |id: &str, at: i64, body: serde_json::Value| SimulationRun {
        run_id: id.into(),
        ran_at: Timestamp::from_millis(at),
        body,
    };
    let body = json!({
        "world": "default", "hcps": 5000, "weeks": 52, "seed": 7,
        "policies": [
            {"name": "closed_loop", "engagement": 0.734375, "weekly": [1, 2, 3]},
            {"name": "oracle", "engagement": 1.0, "note": "schön, ≠ \"random\"\n"}
        ],
        "empty": {}, "none": null, "flag": true
    });
    store
        .record_simulation(run("run-b", 2_000, body.clone()))
        .await
        .unwrap();
    store
        .record_simulation(run("run-a", 1_000, json!({"older": true})))
        .await
        .unwrap();
    // The latest by time, body as given.
    let last = store.last_simulation().await.unwrap().unwrap();
    assert_eq!(last, run("run-b", 2_000, body));
    // At the same time, the greater id.
    store
        .record_simulation(run("run-c", 2_000, json!([1, 2])))
        .await
        .unwrap();
    let other = db.open().await;
    assert_eq!(
        other.last_simulation().await.unwrap().unwrap().run_id,
        "run-c"
    );
    // A run recorded again under its id replaces the one kept.
    store
        .record_simulation(run("run-a", 3_000, json!({"rerun": 2})))
        .await
        .unwrap();
    assert_eq!(
        other.last_simulation().await.unwrap(),
        Some(run("run-a", 3_000, json!({"rerun": 2})))
    );
    let digests = other.table_digests().await.unwrap();
    let runs = digests
        .iter()
        .find(|d| d.table == "simulation_runs")
        .unwrap();
    assert_eq!(runs.rows, 3);
}

/// Runs each story once per backend.
/// Accounts, sessions, the audit chain, PV cases opened at ingest and erasure, alike on every
/// backend.
async fn governance_accounts_audit_pv_cases_and_erasure(db: TestDb) {
    use openclm_core::audit::{ChainCheck, NewAudit};
    use openclm_core::auth::{MAX_FAILED_LOGINS, Role, User};
    use openclm_core::pv::{AeStatus, PvConfig, Triage};
    use openclm_core::screening::Product;
    use openclm_store::{AeFilter, IngestRules, SessionLimits};

    let rules = IngestRules {
        rewards: Default::default(),
        pv: PvConfig {
            products: vec![Product {
                brand: "Cardiozen".into(),
                generics: vec!["velorapine".into()],
            }],
            ..PvConfig::default()
        },
    };
    let store = AnyStore::open_with(&db.url, rules).await.unwrap();
    store
        .put_hcps(
            vec![hcp("hcp-a", "north", "cardiology", "A1")],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    let at = |min: i64| Timestamp::from_millis(NOW.millis() + min * 60_000);

    // Accounts and sessions.
    let rita = User {
        user_id: "rita".into(),
        display_name: "Rita Reviewer".into(),
        role: Role::MlrReviewer,
        territories: vec![],
        created_at: NOW,
        disabled_at: None,
    };
    let audit = NewAudit::new("cli:ops", "create", "user/rita").new_value(&rita);
    assert!(
        store
            .create_user(rita.clone(), "hash".into(), audit.clone())
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_user(rita.clone(), "hash".into(), audit)
            .await
            .unwrap()
    );
    for i in 0..MAX_FAILED_LOGINS {
        let counted = store.record_login("rita".into(), false, at(i64::from(i)));
        assert!(counted.await.unwrap(), "attempt {i} may proceed");
    }
    // Locked: a further attempt may not even be tried, and is not counted.
    assert!(
        !store
            .record_login("rita".into(), false, at(6))
            .await
            .unwrap()
    );
    let locked = store.find_user("rita".into()).await.unwrap().unwrap();
    assert_eq!(locked.failed_logins, MAX_FAILED_LOGINS);
    assert_eq!(
        locked.locked_until,
        Some(Timestamp::from_millis(at(4).millis() + 15 * 60_000))
    );
    store
        .record_login("rita".into(), true, at(30))
        .await
        .unwrap();
    assert_eq!(
        store
            .find_user("rita".into())
            .await
            .unwrap()
            .unwrap()
            .failed_logins,
        0
    );
    let limits = SessionLimits {
        idle_ms: 30 * 60_000,
        max_ms: 12 * 3_600_000,
    };
    store
        .create_session("s1".into(), "rita".into(), at(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .touch_session("s1".into(), at(29), limits)
            .await
            .unwrap()
            .map(|u| u.user_id),
        Some("rita".into())
    );
    // Idle for 31 minutes since its last use: ended, and stays ended.
    assert!(
        store
            .touch_session("s1".into(), at(60), limits)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .touch_session("s1".into(), at(61), limits)
            .await
            .unwrap()
            .is_none()
    );
    store
        .create_session("s2".into(), "rita".into(), at(0))
        .await
        .unwrap();
    assert!(store.end_session("s2".into(), at(1)).await.unwrap());
    assert!(
        store
            .touch_session("s2".into(), at(2), limits)
            .await
            .unwrap()
            .is_none()
    );
    store
        .create_session("s3".into(), "rita".into(), at(0))
        .await
        .unwrap();
    let off = NewAudit::new("cli:ops", "disable", "user/rita");
    assert!(store.disable_user("rita".into(), off, at(1)).await.unwrap());
    assert!(
        store
            .touch_session("s3".into(), at(2), limits)
            .await
            .unwrap()
            .is_none()
    );

    // A note naming a product and an adverse event opens a case at receipt; the note's text is
    // held out of the stored event.
    let note = |id: &str, text: &str| {
        Event::from_json(
            json!({"event_id": id, "occurred_at": "2026-05-01T09:00:00Z",
            "hcp": "A1", "source": "crm", "channel": "face_to_face", "type": "call_logged",
            "rep_id": "r1", "notes": text}),
        )
        .unwrap()
    };
    let received = at(100);
    let notes = vec![
        note("n1", "Patient on velorapine had a severe rash"),
        note("n2", "Asked for the dosing brochure; no side effects seen"),
    ];
    store
        .ingest(notes.clone(), UnknownHcpPolicy::Reject, received)
        .await
        .unwrap();
    // A resend changes nothing, day zero included.
    store
        .ingest(notes, UnknownHcpPolicy::Reject, at(200))
        .await
        .unwrap();
    let cases = store.ae_cases(AeFilter::default()).await.unwrap();
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(
        (case.event_id.as_str(), case.field.as_str()),
        ("n1", "notes")
    );
    assert_eq!(case.received_at, received);
    assert_eq!(
        case.due_at,
        Timestamp::from_millis(received.millis() + 24 * 3_600_000)
    );
    assert_eq!(case.text, "Patient on velorapine had a severe rash");
    assert_eq!(case.findings["products"], json!(["Cardiozen"]));
    assert_eq!(case.status, AeStatus::Open);
    let timeline = store
        .timeline(
            HcpId::parse("id", "hcp-a").unwrap(),
            TimelineFilter::default(),
            page(10, None),
        )
        .await
        .unwrap()
        .unwrap();
    let held = timeline.items.iter().find(|e| e.event_id == "n1").unwrap();
    assert_eq!(
        held.event["notes"],
        format!("[held for pharmacovigilance: {}]", case.case_id)
    );
    let report = store.screening_report().await.unwrap();
    assert_eq!(
        (
            report[0].screened,
            report[0].flagged,
            report[0].acknowledged
        ),
        (2, 1, 0)
    );
    // Overdue once past its due time.
    let overdue = AeFilter {
        due_before: Some(at(100 + 24 * 60 + 1)),
        ..AeFilter::default()
    };
    assert_eq!(store.ae_cases(overdue).await.unwrap().len(), 1);
    let triage = Triage::parse(Some("ae_forwarded"), Some("SAF-1".into()), None).unwrap();
    let audit = NewAudit::new("user:pv", "triage", format!("ae_case/{}", case.case_id));
    assert_eq!(
        store
            .triage_ae_case(
                case.case_id.clone(),
                triage.clone(),
                "pv".into(),
                audit.clone(),
                at(300)
            )
            .await
            .unwrap(),
        Some(true)
    );
    assert_eq!(
        store
            .triage_ae_case(case.case_id.clone(), triage, "pv".into(), audit, at(301))
            .await
            .unwrap(),
        Some(false)
    );
    let report = store.screening_report().await.unwrap();
    assert_eq!((report[0].forwarded, report[0].acknowledged), (1, 1));

    // Erasure: the profile is pseudonymized, the case kept, the ids suppressed.
    let suppress = vec![openclm_core::privacy::suppression_hash(
        openclm_core::privacy::SuppressedId::ExternalId,
        "A1",
    )];
    let audit = NewAudit::new("user:privacy", "erase", "hcp/x");
    let erased = store
        .erase_hcp(
            HcpId::parse("id", "hcp-a").unwrap(),
            "erased-1".into(),
            suppress.clone(),
            audit,
            at(400),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            erased.events_redacted,
            erased.external_ids_removed,
            erased.suppressions_added,
            erased.ae_cases_kept
        ),
        (2, 1, 1, 1)
    );
    assert!(
        store
            .get_hcp(HcpId::parse("id", "hcp-a").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // Kept only as a key: no longer master data anyone reads, lists or targets.
    assert!(
        store
            .get_hcp(HcpId::parse("id", "erased-1").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let listed = store
        .list_hcps(HcpFilter::default(), page(10, None))
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    assert_eq!(store.suppressed(suppress).await.unwrap().len(), 1);
    assert_eq!(
        store.ae_cases(AeFilter::default()).await.unwrap()[0].hcp_id,
        "erased-1"
    );
    // The erased HCP's CRM id no longer reaches anyone.
    let after = store
        .ingest(
            vec![event("late", "A1", 9, "email", "opened")],
            UnknownHcpPolicy::Reject,
            at(500),
        )
        .await
        .unwrap();
    assert!(matches!(after[0], IngestOutcome::Rejected(_)), "{after:?}");
    // Not even as a new stub made from events.
    let stub = store
        .ingest(
            vec![event("late-2", "A1", 10, "email", "opened")],
            UnknownHcpPolicy::CreateStub,
            at(500),
        )
        .await
        .unwrap();
    match &stub[0] {
        IngestOutcome::Rejected(e) => assert!(e.reason.contains("suppression list"), "{e:?}"),
        other => panic!("{other:?}"),
    }
    // Nor can a re-import bring the person back.
    let again = store
        .put_hcps(
            vec![hcp("hcp-a2", "north", "cardiology", "A1")],
            "test".into(),
            at(600),
        )
        .await
        .unwrap();
    assert_eq!(again[0].as_ref().unwrap_err().field, "external_ids[0]");

    // Every change above is on one intact chain.
    let entries = store.audit_entries(None, 0, 1000).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    // The HCP's and the account's creation, the account disabled, the case screening opened,
    // its triage and the erasure.
    assert_eq!(
        actions,
        ["create", "create", "disable", "open", "triage", "erase"]
    );
    let mut check = ChainCheck::default();
    entries.iter().for_each(|e| check.push(e));
    assert_eq!(check.problems, []);
    assert_eq!(
        store
            .audit_entries(Some("user/rita".into()), 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// With a one-minute idle time, a session used every 30 s lives on, a use that went unrecorded
/// still counts, and a minute of silence ends it; alike on every backend.
async fn sessions_stay_live_while_used_and_end_after_a_silent_idle_time(db: TestDb) {
    use openclm_core::audit::NewAudit;
    use openclm_core::auth::{Role, User};
    use openclm_store::SessionLimits;
    let store = fresh(&db).await;
    let ana = User {
        user_id: "ana".into(),
        display_name: "Ana Analyst".into(),
        role: Role::Analyst,
        territories: vec![],
        created_at: NOW,
        disabled_at: None,
    };
    let audit = NewAudit::new("cli:ops", "create", "user/ana");
    assert!(store.create_user(ana, "hash".into(), audit).await.unwrap());
    let limits = SessionLimits {
        idle_ms: 60_000,
        max_ms: 12 * 3_600_000,
    };
    let at = |ms: i64| Timestamp::from_millis(NOW.millis() + ms);
    let live = |token: &'static str, ms: i64| {
        let store = &store;
        async move {
            store
                .touch_session(token.into(), at(ms), limits)
                .await
                .unwrap()
                .is_some()
        }
    };
    store
        .create_session("busy".into(), "ana".into(), at(0))
        .await
        .unwrap();
    for step in 1..=10 {
        assert!(
            live("busy", step * 30_000).await,
            "used every 30 s, at {step}"
        );
    }
    // 61 s of silence after the last request (at 300 s) ends it, and it stays ended.
    assert!(!live("busy", 361_000).await);
    assert!(!live("busy", 362_000).await);

    // A request right after a recorded one is not written, yet counts: a minute after it the
    // session is still live.
    store
        .create_session("quick".into(), "ana".into(), at(0))
        .await
        .unwrap();
    assert!(live("quick", 400).await);
    assert!(live("quick", 60_400).await);
    assert!(!live("quick", 121_500).await);
}

async fn anonymous_visitors_are_held_linked_released_and_forgotten_on_erasure(db: TestDb) {
    use openclm_store::{HoldLimits, Parked, ParkedEvent};
    let store = fresh(&db).await;
    let limits = HoldLimits {
        per_visitor: 3,
        max_age_ms: 86_400_000,
    };
    let parked = |anon: &str, id: &str| ParkedEvent {
        anonymous_id: anon.into(),
        event_id: id.into(),
        payload: json!({"event_id": id, "type": "content_viewed"}).to_string(),
    };
    let web = || "web".to_owned();
    assert!(
        store
            .resolve_anonymous(web(), vec!["anon-1".into()])
            .await
            .unwrap()
            .is_empty()
    );
    let held = store
        .park_anonymous(
            web(),
            vec![
                parked("anon-1", "e-2"),
                parked("anon-1", "e-1"),
                parked("anon-2", "e-3"),
            ],
            limits,
            Timestamp::from_millis(1_000),
        )
        .await
        .unwrap();
    assert_eq!(held, [Parked::Held, Parked::Held, Parked::Held]);
    // A resend is held once; another source is another id space.
    let again = store
        .park_anonymous(
            web(),
            vec![parked("anon-1", "e-1")],
            limits,
            Timestamp::from_millis(2_000),
        )
        .await
        .unwrap();
    assert_eq!(again, [Parked::AlreadyHeld]);
    assert_eq!(
        store
            .resolve_anonymous("app".into(), vec!["anon-1".into()])
            .await
            .unwrap(),
        []
    );

    // Linking returns what is held, oldest first (same time: by id), still held until unparked.
    let released = store
        .link_anonymous(
            web(),
            "anon-1".into(),
            "A1".into(),
            Timestamp::from_millis(3_000),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = released.iter().map(|p| p.event_id.as_str()).collect();
    assert_eq!(ids, ["e-1", "e-2"]);
    assert_eq!(released[0], parked("anon-1", "e-1"));
    assert_eq!(
        store
            .link_anonymous(
                web(),
                "anon-1".into(),
                "A1".into(),
                Timestamp::from_millis(3_500)
            )
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .unpark(
                web(),
                "anon-1".into(),
                vec!["e-1".into(), "e-2".into(), "e-9".into()]
            )
            .await
            .unwrap(),
        2
    );
    assert!(
        store
            .link_anonymous(
                web(),
                "anon-1".into(),
                "A1".into(),
                Timestamp::from_millis(4_000)
            )
            .await
            .unwrap()
            .is_empty()
    );
    // A visitor linked meanwhile is not held: the event is the user's to store.
    let late = store
        .park_anonymous(
            web(),
            vec![parked("anon-1", "e-4")],
            limits,
            Timestamp::from_millis(4_500),
        )
        .await
        .unwrap();
    assert_eq!(late, [Parked::Linked("A1".into())]);
    // The latest link wins (a shared device changes hands).
    store
        .link_anonymous(
            web(),
            "anon-2".into(),
            "A1".into(),
            Timestamp::from_millis(5_000),
        )
        .await
        .unwrap();
    store
        .link_anonymous(
            web(),
            "anon-2".into(),
            "B1".into(),
            Timestamp::from_millis(6_000),
        )
        .await
        .unwrap();
    let mut links = store
        .resolve_anonymous(
            web(),
            vec!["anon-1".into(), "anon-2".into(), "anon-3".into()],
        )
        .await
        .unwrap();
    links.sort();
    assert_eq!(
        links,
        [
            ("anon-1".to_owned(), "A1".to_owned()),
            ("anon-2".to_owned(), "B1".to_owned())
        ]
    );

    // HCPs by external id: stubs are not master data.
    let a = store
        .hcp_by_external_id("crm".into(), "A1".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.id.as_str(), "hcp-a");
    assert_eq!(
        store
            .hcp_by_external_id("web".into(), "A1".into())
            .await
            .unwrap(),
        None
    );
    store
        .ingest(
            vec![event("stub-1", "C1", 1, "web", "content_viewed")],
            UnknownHcpPolicy::CreateStub,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .hcp_by_external_id("crm".into(), "C1".into())
            .await
            .unwrap(),
        None
    );

    // A device of A1's whose held event was refused at release (still held).
    store
        .park_anonymous(
            web(),
            vec![parked("anon-5", "e-5")],
            limits,
            Timestamp::from_millis(6_500),
        )
        .await
        .unwrap();
    store
        .link_anonymous(
            web(),
            "anon-5".into(),
            "A1".into(),
            Timestamp::from_millis(6_600),
        )
        .await
        .unwrap();
    // Erasure forgets the devices linked to the HCP's ids in any source, and what they held.
    let mut with_web_id = a.clone();
    with_web_id
        .external_ids
        .push(openclm_core::hcp::ExternalId {
            system: "web".into(),
            id: "A1".into(),
        });
    store
        .put_hcps(vec![with_web_id], "test".into(), NOW)
        .await
        .unwrap();
    store
        .erase_hcp(
            HcpId::parse("id", "hcp-a").unwrap(),
            "erased-a".into(),
            vec![],
            openclm_core::audit::NewAudit::new("user:privacy", "erase", "hcp/x"),
            Timestamp::from_millis(7_000),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .resolve_anonymous(web(), vec!["anon-1".into(), "anon-2".into()])
            .await
            .unwrap(),
        [("anon-2".to_owned(), "B1".to_owned())]
    );
    let digests = store.table_digests().await.unwrap();
    let rows = |t: &str| digests.iter().find(|d| d.table == t).unwrap().rows;
    assert_eq!((rows("anonymous_links"), rows("anonymous_events")), (1, 1));
}

/// A webhook that names recipients by address finds their HCPs in one query: exact (lower-case)
/// matches only, every owner of a shared address, never a stub or an erased HCP.
async fn hcps_are_found_by_email_for_a_whole_batch(db: TestDb) {
    let store = fresh(&db).await;
    let with_email = |id: &str, email: &str| {
        let mut h = hcp(id, "T-1", "cardiology", &format!("CRM-{id}"));
        h.email = Some(email.into());
        h
    };
    let written = store
        .put_hcps(
            vec![
                with_email("hcp-a", "a.weber@example.org"),
                with_email("hcp-b", "praxis@example.org"),
                with_email("hcp-c", "praxis@example.org"),
                with_email("hcp-gone", "gone@example.org"),
                hcp("hcp-none", "T-1", "cardiology", "CRM-none"),
            ],
            "test".into(),
            NOW,
        )
        .await
        .unwrap();
    assert!(written.iter().all(|w| w.is_ok()), "{written:?}");
    let asked = |emails: &[&str]| {
        let store = store.clone();
        let emails: Vec<String> = emails.iter().map(|e| e.to_string()).collect();
        async move {
            store
                .hcps_by_email(emails)
                .await
                .unwrap()
                .into_iter()
                .map(|(e, id)| (e, id.as_str().to_owned()))
                .collect::<Vec<_>>()
        }
    };
    let pair = |e: &str, id: &str| (e.to_owned(), id.to_owned());
    assert_eq!(
        asked(&[
            "a.weber@example.org",
            "praxis@example.org",
            "nobody@example.org"
        ])
        .await,
        [
            pair("a.weber@example.org", "hcp-a"),
            pair("praxis@example.org", "hcp-b"),
            pair("praxis@example.org", "hcp-c"),
        ]
    );
    // Stored addresses are lower case; the caller lower-cases what it asks for.
    assert!(asked(&["A.Weber@Example.org"]).await.is_empty());
    assert!(asked(&[]).await.is_empty());
    // A stub made by an event has no address; an erased HCP loses its own.
    let stub = event("e-stub", "stub-1", 1, "email", "delivered");
    store
        .ingest(vec![stub], UnknownHcpPolicy::CreateStub, NOW)
        .await
        .unwrap();
    assert_eq!(
        asked(&["gone@example.org"]).await,
        [pair("gone@example.org", "hcp-gone")]
    );
    store
        .erase_hcp(
            HcpId::parse("id", "hcp-gone").unwrap(),
            "erased-9".into(),
            vec![],
            openclm_core::audit::NewAudit::new("user:privacy", "erase", "hcp/gone"),
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(asked(&["gone@example.org"]).await.is_empty());
}

/// The outbound delivery queue: a delivery per system-sent decision, written with it; leases that
/// concurrent claimers never share; retries at the time given; dead letters and their retry;
/// cancellation by withdrawal; stale leases refused.
async fn delivery_queue_leases_retries_dead_letters_and_cancels(db: TestDb) {
    use openclm_core::audit::NewAudit;
    use openclm_core::delivery::DeliveryStatus;
    use openclm_store::{DeliveryClaim, DeliveryFilter, DeliveryOutcome};
    let store = fresh(&db).await;
    let other = db.open().await;
    let item = |id: &str| {
        ContentInput {
            id: Some(id.into()),
            title: Some("t".into()),
            kind: Some("email_template".into()),
            product: Some("cardiozan".into()),
            status: Some("approved".into()),
            approval_code: Some("C-1".into()),
            approved_at: Some("2026-01-01T00:00:00Z".into()),
            ..Default::default()
        }
        .validate()
        .unwrap()
    };
    store
        .put_content(vec![item("CZ-EM-1"), item("CZ-EM-2")], "test".into(), NOW)
        .await
        .unwrap();
    let t = NOW.millis();
    let visit = openclm_store::DecisionRecord {
        chosen_channel: Some(Channel::FaceToFace),
        ..email_decision("dec_visit", "CZ-EM-1", t, [1, 2, 3], None)
    };
    let held = openclm_store::DecisionRecord {
        chosen_content: None,
        chosen_channel: None,
        ..email_decision("dec_held", "CZ-EM-1", t, [1, 2, 3], None)
    };
    let logged = store
        .log_decisions(vec![
            email_decision("dec_1", "CZ-EM-1", t, [1, 2, 3], None),
            email_decision("dec_2", "CZ-EM-1", t + 1, [1, 2, 3], None),
            email_decision("dec_3", "CZ-EM-1", t + 2, [1, 2, 3], None),
            email_decision("dec_4", "CZ-EM-2", t + 3, [1, 2, 3], None),
            visit,
            held,
        ])
        .await
        .unwrap();
    assert_eq!(logged, [true; 6]);
    // Reps make visits and a held decision sends nothing: four deliveries, all pending.
    let pending = store
        .list_deliveries(
            DeliveryFilter {
                status: Some(DeliveryStatus::Pending),
                channel: None,
            },
            PageRequest {
                cursor: None,
                limit: 3,
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = pending
        .items
        .iter()
        .map(|d| d.delivery_id.as_str())
        .collect();
    assert_eq!(ids, ["dlv_dec_1", "dlv_dec_2", "dlv_dec_3"]);
    assert_eq!(pending.next_cursor.as_deref(), Some("dlv_dec_3"));
    let d1 = &pending.items[0];
    assert_eq!(
        (d1.decision_id.as_str(), d1.hcp_id.as_str(), d1.channel),
        ("dec_1", "hcp-a", Channel::Email)
    );
    assert_eq!((d1.attempts, d1.due_at), (0, NOW));
    let counts = store.delivery_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (counts[0].status, counts[0].channel, counts[0].count),
        (DeliveryStatus::Pending, Channel::Email, 4)
    );

    let claim = |token: &str, at: i64, limit: usize| DeliveryClaim {
        channels: vec![Channel::Email],
        limit,
        lease_ms: 60_000,
        max_attempts: 3,
        token: token.into(),
        now: Timestamp::from_millis(at),
    };
    // Oldest due first; a leased item is nobody else's until its lease ends.
    let first = store
        .claim_deliveries(claim("lease-a", t + 10, 2))
        .await
        .unwrap();
    let mut got: Vec<(&str, u32)> = first
        .iter()
        .map(|d| (d.delivery_id.as_str(), d.attempts))
        .collect();
    got.sort();
    assert_eq!(got, [("dlv_dec_1", 1), ("dlv_dec_2", 1)]);
    let second = other
        .claim_deliveries(claim("lease-b", t + 10, 10))
        .await
        .unwrap();
    let mut got: Vec<&str> = second.iter().map(|d| d.delivery_id.as_str()).collect();
    got.sort();
    assert_eq!(got, ["dlv_dec_3", "dlv_dec_4"]);
    assert!(
        store
            .claim_deliveries(claim("lease-c", t + 20, 10))
            .await
            .unwrap()
            .is_empty()
    );
    // Other channels are not offered.
    let sms = DeliveryClaim {
        channels: vec![Channel::Sms],
        ..claim("lease-c", t + 100_000, 10)
    };
    assert!(store.claim_deliveries(sms).await.unwrap().is_empty());

    // A stale token is refused, naming the field; the right one records the outcome.
    let now = Timestamp::from_millis(t + 30);
    let stale = store
        .finish_delivery(
            "dlv_dec_1".into(),
            "lease-b".into(),
            DeliveryOutcome::Delivered,
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(stale.field, "lease_token");
    let done = store
        .finish_delivery(
            "dlv_dec_1".into(),
            "lease-a".into(),
            DeliveryOutcome::Delivered,
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(done.status, DeliveryStatus::Delivered);
    // A repeated answer (its first reply lost) finds the delivery as the first one left it; a
    // failure reported after it is refused.
    let again = store
        .finish_delivery(
            "dlv_dec_1".into(),
            "lease-a".into(),
            DeliveryOutcome::Delivered,
            Timestamp::from_millis(t + 40),
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.status, again.updated_at),
        (DeliveryStatus::Delivered, now)
    );
    let contradicted = store
        .finish_delivery(
            "dlv_dec_1".into(),
            "lease-a".into(),
            DeliveryOutcome::Dead {
                error: "http_500".into(),
            },
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(contradicted.field, "lease_token");
    assert!(
        store
            .finish_delivery(
                "dlv_none".into(),
                "x".into(),
                DeliveryOutcome::Delivered,
                now
            )
            .await
            .unwrap()
            .is_none()
    );

    // A failure is offered again at the time given, not before.
    let retry_at = Timestamp::from_millis(t + 5_000);
    let failed = store
        .finish_delivery(
            "dlv_dec_2".into(),
            "lease-a".into(),
            DeliveryOutcome::Retry {
                error: "http_503".into(),
                at: retry_at,
            },
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (failed.status, failed.due_at, failed.last_error.as_deref()),
        (DeliveryStatus::Pending, retry_at, Some("http_503"))
    );
    assert!(
        store
            .claim_deliveries(claim("lease-d", t + 4_999, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store
        .claim_deliveries(claim("lease-d", t + 5_000, 10))
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        (retried[0].delivery_id.as_str(), retried[0].attempts),
        ("dlv_dec_2", 2)
    );

    // Withdrawal cancels the content's pending deliveries in its own transaction, leased or not.
    let mut withdrawn = store
        .get_content("CZ-EM-2".into(), NOW)
        .await
        .unwrap()
        .unwrap();
    let expected = (withdrawn.status, withdrawn.content_hash());
    withdrawn.withdraw("mlr", "label change", now).unwrap();
    let (applied, _) = store
        .transition_content(
            withdrawn,
            expected,
            NewAudit::new("user:mlr", "withdraw", "content/CZ-EM-2"),
            now,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(applied);
    let cancelled = store
        .get_delivery("dlv_dec_4".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (cancelled.status, cancelled.last_error.as_deref()),
        (
            DeliveryStatus::Cancelled,
            Some("content CZ-EM-2 is withdrawn")
        )
    );
    // Its sender may have sent it before it heard: a failure leaves it cancelled, another
    // lease is refused, and "delivered" under its lease is recorded, noted as such.
    let failed_late = store
        .finish_delivery(
            "dlv_dec_4".into(),
            "lease-b".into(),
            DeliveryOutcome::Retry {
                error: "http_503".into(),
                at: retry_at,
            },
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (failed_late.status, failed_late.last_error.as_deref()),
        (
            DeliveryStatus::Cancelled,
            Some("content CZ-EM-2 is withdrawn")
        )
    );
    let stale = store
        .finish_delivery(
            "dlv_dec_4".into(),
            "lease-a".into(),
            DeliveryOutcome::Delivered,
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(stale.field, "lease_token");
    let sent_late = store
        .finish_delivery(
            "dlv_dec_4".into(),
            "lease-b".into(),
            DeliveryOutcome::Delivered,
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (sent_late.status, sent_late.last_error.as_deref()),
        (
            DeliveryStatus::Delivered,
            Some("sent_after_cancellation: content CZ-EM-2 is withdrawn")
        )
    );

    // An expired lease offers the item again under a new token; the old one is stale. After the
    // last allowed attempt, an expired lease makes a dead letter.
    let reoffered = store
        .claim_deliveries(claim("lease-e", t + 60_010, 10))
        .await
        .unwrap();
    assert_eq!(reoffered.len(), 1);
    assert_eq!(
        (reoffered[0].delivery_id.as_str(), reoffered[0].attempts),
        ("dlv_dec_3", 2)
    );
    let stale = store
        .finish_delivery(
            "dlv_dec_3".into(),
            "lease-b".into(),
            DeliveryOutcome::Delivered,
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(stale.field, "lease_token");
    let dead = store
        .finish_delivery(
            "dlv_dec_3".into(),
            "lease-e".into(),
            DeliveryOutcome::Dead {
                error: "http_500".into(),
            },
            now,
        )
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (dead.status, dead.last_error.as_deref()),
        (DeliveryStatus::Dead, Some("http_500"))
    );
    let reclaimed = store
        .claim_deliveries(claim("lease-f", t + 70_000, 10))
        .await
        .unwrap();
    assert_eq!(reclaimed[0].attempts, 3);
    assert!(
        store
            .claim_deliveries(claim("lease-g", t + 200_000, 10))
            .await
            .unwrap()
            .is_empty()
    );
    let expired = store
        .get_delivery("dlv_dec_2".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (expired.status, expired.last_error.as_deref()),
        (DeliveryStatus::Dead, Some("lease_expired"))
    );

    // A dead letter goes back in the queue, due now, its attempts counted afresh; nothing else
    // can be retried.
    let requeued = store
        .retry_delivery("dlv_dec_3".into(), Timestamp::from_millis(t + 300_000))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (requeued.status, requeued.attempts, requeued.due_at.millis()),
        (DeliveryStatus::Pending, 0, t + 300_000)
    );
    let refused = store
        .retry_delivery("dlv_dec_1".into(), now)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.field, "delivery");
    assert!(
        store
            .retry_delivery("dlv_none".into(), now)
            .await
            .unwrap()
            .is_none()
    );
    let counts: Vec<(DeliveryStatus, u64)> = store
        .delivery_counts()
        .await
        .unwrap()
        .iter()
        .map(|c| (c.status, c.count))
        .collect();
    assert_eq!(
        counts,
        [
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Delivered, 2),
            (DeliveryStatus::Dead, 1),
        ]
    );

    // Four handles claiming at once never lease one item twice, and together lease them all.
    let batch: Vec<_> = (0..40)
        .map(|i| email_decision(&format!("dec_many_{i:02}"), "CZ-EM-1", t, [1, 2, 3], None))
        .collect();
    store.log_decisions(batch).await.unwrap();
    let handles = [
        store.clone(),
        other.clone(),
        db.open().await,
        db.open().await,
    ];
    let mut seen = std::collections::HashMap::new();
    loop {
        let rounds = claim_on_every_handle(&handles, t + 400_000).await;
        let total: usize = rounds.iter().map(Vec::len).sum();
        if total == 0 {
            break;
        }
        for (h, claimed) in rounds.iter().enumerate() {
            for d in claimed {
                assert!(
                    seen.insert(d.delivery_id.clone(), h).is_none(),
                    "{} leased twice",
                    d.delivery_id
                );
            }
        }
    }
    // The 40 new ones and the requeued dead letter.
    assert_eq!(seen.len(), 41);
}

/// Claims from every handle at once, up to 4 items each.
async fn claim_on_every_handle(handles: &[AnyStore], at: i64) -> Vec<Vec<openclm_store::Delivery>> {
    let tasks: Vec<_> = handles
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = h.clone();
            tokio::spawn(async move {
                h.claim_deliveries(openclm_store::DeliveryClaim {
                    channels: vec![Channel::Email],
                    limit: 4,
                    lease_ms: 600_000,
                    max_attempts: 3,
                    token: format!("many-{i}"),
                    now: Timestamp::from_millis(at),
                })
                .await
                .unwrap()
            })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

async fn export_pages_cover_every_row_once_across_page_boundaries_and_since(db: TestDb) {
    let store = fresh(&db).await;
    let later = Timestamp::from_millis(NOW.millis() + 3_600_000);
    // 25 events received now (one for an unknown HCP, which becomes a stub), then 10 received an
    // hour later but occurring earlier: late arrivals.
    let mut first: Vec<Event> = (0..24)
        .map(|i| {
            event(
                &format!("x{i:02}"),
                if i % 2 == 0 { "A1" } else { "B1" },
                100 + i,
                "face_to_face",
                "slide_viewed",
            )
        })
        .collect();
    first.push(
        Event::from_json(
            json!({"event_id": "x-full", "occurred_at": "2026-02-01T10:00:00Z",
            "hcp": "A1", "source": "crm", "channel": "email", "type": "clicked",
            "content_id": "C1", "campaign_id": "camp-1", "decision_id": "d-1", "rep_id": "rep-1",
            "key_message": "km-1", "extra": "kept"}),
        )
        .unwrap(),
    );
    let out = store
        .ingest(first, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert!(out.iter().all(|o| *o == IngestOutcome::Accepted), "{out:?}");
    let stub = store
        .ingest(
            vec![event("x-stub", "Z9", 1, "web", "content_viewed")],
            UnknownHcpPolicy::CreateStub,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(stub, vec![IngestOutcome::Accepted]);
    let late: Vec<Event> = (0..10)
        .map(|i| event(&format!("y{i:02}"), "A1", i, "email", "opened"))
        .collect();
    store
        .ingest(late, UnknownHcpPolicy::Reject, later)
        .await
        .unwrap();

    async fn all_events(
        store: &AnyStore,
        since: Option<Timestamp>,
        limit: usize,
    ) -> (Vec<openclm_store::ExportEvent>, usize) {
        let (mut after, mut rows, mut pages) = (0, Vec::new(), 0);
        loop {
            let page = store.export_events(after, since, limit).await.unwrap();
            pages += 1;
            let full = page.len() == limit;
            if let Some(last) = page.last() {
                after = last.seq;
            }
            rows.extend(page);
            if !full {
                return (rows, pages);
            }
        }
    }
    for round in 0..2 {
        let (rows, pages) = all_events(&store, None, 7).await;
        assert_eq!(rows.len(), 36, "round {round}");
        assert_eq!(pages, 6, "36 rows in pages of 7: five full, one short");
        assert!(
            rows.windows(2).all(|w| w[0].seq < w[1].seq),
            "storage order, no repeats"
        );
        let mut ids: Vec<&str> = rows.iter().map(|r| r.event_id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 36, "no event lost or repeated");
        let full = rows.iter().find(|r| r.event_id == "x-full").unwrap();
        assert_eq!(full.hcp_id, "hcp-a");
        assert_eq!(full.channel, Channel::Email);
        assert_eq!(full.kind, EventType::Clicked);
        assert_eq!(full.received_at, NOW);
        assert_eq!(full.occurred_at.to_string(), "2026-02-01T10:00:00.000Z");
        assert_eq!(
            (full.content_id.as_deref(), full.campaign_id.as_deref()),
            (Some("C1"), Some("camp-1"))
        );
        assert_eq!(
            (full.decision_id.as_deref(), full.rep_id.as_deref()),
            (Some("d-1"), Some("rep-1"))
        );
        let payload: serde_json::Value = serde_json::from_str(&full.payload).unwrap();
        assert_eq!(payload["key_message"], "km-1");
        assert_eq!(payload["extra"], "kept");
        assert_eq!(rows.iter().filter(|r| r.hcp_id == "hcp-b").count(), 12);
        let stub_row = rows.iter().find(|r| r.event_id == "x-stub").unwrap();
        assert!(!["hcp-a", "hcp-b"].contains(&stub_row.hcp_id.as_str()));
        // The same rows once SQLite has merged its tail into the index.
        store.merge_index().await.unwrap();
    }
    let (recent, pages) = all_events(&store, Some(later), 3).await;
    let ids: Vec<&str> = recent.iter().map(|r| r.event_id.as_str()).collect();
    let expected: Vec<String> = (0..10).map(|i| format!("y{i:02}")).collect();
    assert_eq!(
        ids, expected,
        "received at or after `since`, however early they occurred"
    );
    assert_eq!(pages, 4);
    assert!(recent.iter().all(|r| r.received_at == later));
    assert!(
        store
            .export_events(0, Some(Timestamp::from_millis(later.millis() + 1)), 100)
            .await
            .unwrap()
            .is_empty()
    );

    // HCPs: ten more an hour later; with the stub, 13 rows.
    let more: Vec<_> = (0..10)
        .map(|i| hcp(&format!("hcp-m{i}"), "east", "gp", &format!("M{i}")))
        .collect();
    store.put_hcps(more, "test".into(), later).await.unwrap();
    async fn all_hcps(
        store: &AnyStore,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Vec<openclm_store::ExportHcp> {
        let (mut after, mut rows) = (None, Vec::new());
        loop {
            let page = store.export_hcps(after.take(), since, limit).await.unwrap();
            let full = page.len() == limit;
            after = page.last().map(|h| h.id.clone());
            rows.extend(page);
            if !full {
                return rows;
            }
        }
    }
    let hcps = all_hcps(&store, None, 4).await;
    assert_eq!(hcps.len(), 13);
    assert!(
        hcps.windows(2).all(|w| w[0].id < w[1].id),
        "by id, no repeats"
    );
    assert_eq!(hcps.iter().filter(|h| h.is_stub).count(), 1);
    let a = hcps.iter().find(|h| h.id == "hcp-a").unwrap();
    assert_eq!(
        (a.name.as_str(), a.specialty.as_str()),
        ("Dr. hcp-a", "cardiology")
    );
    assert_eq!(a.territory.as_deref(), Some("north"));
    assert_eq!(a.external_ids.len(), 1);
    assert_eq!(a.external_ids[0].id, "A1");
    assert_eq!((a.created_at, a.updated_at), (NOW, NOW));
    let updated = all_hcps(&store, Some(later), 3).await;
    assert_eq!(updated.len(), 10);
    assert!(
        updated
            .iter()
            .all(|h| h.id.starts_with("hcp-m") && h.updated_at == later)
    );
}

async fn held_events_are_bounded_per_visitor_and_in_time(db: TestDb) {
    use openclm_store::{HoldLimits, Parked, ParkedEvent};
    let store = fresh(&db).await;
    let limits = HoldLimits {
        per_visitor: 2,
        max_age_ms: 10_000,
    };
    let parked = |anon: &str, id: &str| ParkedEvent {
        anonymous_id: anon.into(),
        event_id: id.into(),
        payload: json!({"event_id": id}).to_string(),
    };
    let held = store
        .park_anonymous(
            "web".into(),
            vec![
                parked("a", "1"),
                parked("a", "2"),
                parked("a", "3"),
                parked("b", "1"),
            ],
            limits,
            Timestamp::from_millis(1_000),
        )
        .await
        .unwrap();
    assert_eq!(
        held,
        [Parked::Held, Parked::Held, Parked::Full, Parked::Held]
    );
    // Past their age, held events go, and the visitor may hold again.
    let later = store
        .park_anonymous(
            "web".into(),
            vec![parked("a", "4")],
            limits,
            Timestamp::from_millis(11_001),
        )
        .await
        .unwrap();
    assert_eq!(later, [Parked::Held]);
    let released = store
        .link_anonymous(
            "web".into(),
            "a".into(),
            "A1".into(),
            Timestamp::from_millis(11_002),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = released.iter().map(|p| p.event_id.as_str()).collect();
    assert_eq!(ids, ["4"]);
    let digests = store.table_digests().await.unwrap();
    let rows = digests
        .iter()
        .find(|d| d.table == "anonymous_events")
        .unwrap()
        .rows;
    assert_eq!(rows, 1, "b's event expired too");
}

/// A tracking SDK's retry: the same message, whose time the server corrected anew on receipt
/// (a few milliseconds apart), is a duplicate by its digest of what was sent, and the first
/// copy's time stays; the same id with other content, or without a digest, is a conflict.
async fn a_retried_tracking_message_is_a_duplicate_by_what_was_sent(db: TestDb) {
    let store = fresh(&db).await;
    let copy = |id: &str, at_ms: i64, content: &str, digest: Option<&str>| {
        let at = Timestamp::from_millis(1_770_000_000_000 + at_ms);
        let mut v = json!({"event_id": id, "occurred_at": at.to_string(), "hcp": "A1",
            "source": "crm", "channel": "email", "type": "opened", "content_id": content});
        if let Some(d) = digest {
            v[openclm_core::event::SENT_DIGEST_FIELD] = json!(d);
        }
        Event::from_json(v).unwrap()
    };
    let out = store
        .ingest(
            vec![
                copy("segment:m-1", 0, "EM-1", Some("d1")),
                // Retried within the same request.
                copy("segment:m-1", 7, "EM-1", Some("d1")),
                copy("plain", 0, "EM-1", None),
            ],
            UnknownHcpPolicy::Reject,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        [
            IngestOutcome::Accepted,
            IngestOutcome::Duplicate,
            IngestOutcome::Accepted
        ]
    );
    let again = |store: AnyStore| async move {
        store
            .ingest(
                vec![
                    copy("segment:m-1", 1_004, "EM-1", Some("d1")),
                    copy("segment:m-1", 1_004, "EM-2", Some("d1")),
                    copy("segment:m-1", 1_004, "EM-1", Some("d2")),
                    copy("plain", 3, "EM-1", None),
                ],
                UnknownHcpPolicy::Reject,
                NOW,
            )
            .await
            .unwrap()
    };
    let expected = [
        IngestOutcome::Duplicate,
        IngestOutcome::Conflict,
        IngestOutcome::Conflict,
        IngestOutcome::Conflict,
    ];
    assert_eq!(again(store.clone()).await, expected, "against the tail");
    store.merge_index().await.unwrap();
    assert_eq!(again(store.clone()).await, expected, "against the index");
    let stored = store
        .timeline(
            HcpId::parse("id", "hcp-a").unwrap(),
            TimelineFilter::default(),
            page(10, None),
        )
        .await
        .unwrap()
        .unwrap()
        .items;
    let first = stored.iter().find(|e| e.event_id == "segment:m-1").unwrap();
    assert_eq!(
        first.occurred_at,
        Timestamp::from_millis(1_770_000_000_000),
        "the first copy's time stays"
    );
    assert_eq!(store.counts().await.unwrap().events, 2);
}

/// The HCP state counts responses by the store's `[rewards]` rule, as rewards do: a person's
/// open and click of one email are one response to one touch, and a slide view is one from the
/// configured dwell on.
async fn hcp_state_counts_responses_by_the_reward_rules(db: TestDb) {
    use openclm_core::engine::reward::RewardConfig;
    fresh(&db).await;
    let rules = RewardConfig {
        engaged_dwell_ms: 5_000,
        ..RewardConfig::default()
    };
    let store = AnyStore::open_with(&db.url, rules).await.unwrap();
    let at = |minute: i64| Timestamp::from_millis(1_770_000_000_000 + minute * 60_000).to_string();
    let events = vec![
        event("d1", "A1", 1, "email", "delivered"),
        event("o1", "A1", 30, "email", "opened"),
        event("c1", "A1", 31, "email", "clicked"),
        Event::from_json(json!({"event_id": "v1", "occurred_at": at(40), "hcp": "A1",
            "source": "crm", "channel": "face_to_face", "type": "call_logged", "rep_id": "rep-1"}))
        .unwrap(),
        Event::from_json(json!({"event_id": "s1", "occurred_at": at(41), "hcp": "A1",
            "source": "crm", "channel": "face_to_face", "type": "slide_viewed", "dwell_ms": 3_000}))
        .unwrap(),
        Event::from_json(json!({"event_id": "s2", "occurred_at": at(42), "hcp": "A1",
            "source": "crm", "channel": "face_to_face", "type": "slide_viewed", "dwell_ms": 6_000}))
        .unwrap(),
    ];
    let out = store
        .ingest(events, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    assert!(out.iter().all(|o| *o == IngestOutcome::Accepted), "{out:?}");
    let state = store
        .hcp_state(HcpId::parse("id", "hcp-a").unwrap())
        .await
        .unwrap()
        .unwrap();
    let email = state.channels[&openclm_core::Channel::Email];
    assert_eq!(
        (email.touches, email.human_opens, email.responses),
        (1, 1, 1)
    );
    assert_eq!(state.response_rate(openclm_core::Channel::Email), Some(1.0));
    let visit = state.channels[&openclm_core::Channel::FaceToFace];
    assert_eq!(
        (visit.touches, visit.responses),
        (1, 1),
        "only the 6 s view"
    );
}

/// The PV queue a page at a time: filtered by source, by product (as screening named it, in any
/// case) and by deadline, in deadline order, with its counts read in the store.
async fn the_pv_queue_filters_pages_and_counts_in_the_store(db: TestDb) {
    use openclm_core::pv::{AeStatus, Triage};
    use openclm_store::{AeCounts, AeFilter, NewAeCase};
    let store = fresh(&db).await;
    store
        .put_hcps(vec![hcp("hcp-pv", "east", "gp", "PV1")], "test".into(), NOW)
        .await
        .unwrap();
    // 30 cases: every third from a survey, every other naming Cardiozan, the first 8 received
    // 30 hours ago (overdue at NOW with 24 hours to triage).
    for i in 0..30i64 {
        let product = if i % 2 == 0 { "Cardiozan" } else { "Glucenta" };
        let received = if i < 8 {
            NOW.millis() - 30 * 3_600_000
        } else {
            NOW.millis() - i * 60_000
        };
        let opened = store
            .open_ae_case(
                NewAeCase {
                    case_id: format!("ae-{i:02}"),
                    event_id: format!("ev-{i:02}"),
                    hcp: HcpId::parse("hcp", "hcp-pv").unwrap(),
                    source: if i % 3 == 0 { "survey" } else { "crm" }.into(),
                    field: "text".into(),
                    text: format!("Patient {i} had a rash on {product}"),
                    findings: json!({"products": [product], "events": ["rash"]}).to_string(),
                    due_hours: 24,
                },
                Timestamp::from_millis(received),
            )
            .await
            .unwrap();
        assert!(opened);
    }
    let ids = |cases: Vec<openclm_store::AeCase>| -> Vec<String> {
        cases.into_iter().map(|c| c.case_id).collect()
    };
    let open = |page: u64| AeFilter {
        status: Some(AeStatus::Open),
        offset: page * 10,
        limit: Some(10),
        ..AeFilter::default()
    };
    let mut seen = Vec::new();
    for page in 0..4 {
        let got = ids(store.ae_cases(open(page)).await.unwrap());
        assert_eq!(got.len(), if page < 3 { 10 } else { 0 }, "page {page}");
        seen.extend(got);
    }
    let mut all = seen.clone();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 30, "every case once across the pages");
    assert!(
        seen[..8].iter().all(|id| id.as_str() < "ae-08"),
        "overdue first: {seen:?}"
    );
    let surveys = store
        .ae_cases(AeFilter {
            source: Some("survey".into()),
            ..AeFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(surveys.len(), 10);
    assert!(surveys.iter().all(|c| c.source == "survey"));
    for written in ["Cardiozan", "cardiozan", "CARDIOZAN"] {
        let both = ids(store
            .ae_cases(AeFilter {
                source: Some("survey".into()),
                product: Some(written.into()),
                ..AeFilter::default()
            })
            .await
            .unwrap());
        // Deadline order: the overdue two, then the one received longest ago.
        assert_eq!(
            both,
            ["ae-00", "ae-06", "ae-24", "ae-18", "ae-12"],
            "{written}"
        );
    }
    let none = store
        .ae_cases(AeFilter {
            product: Some("Cardio".into()),
            ..AeFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty(), "a product is matched whole");
    let overdue = store
        .ae_cases(AeFilter {
            status: Some(AeStatus::Open),
            due_before: Some(NOW),
            ..AeFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(overdue.len(), 8);
    let audit = openclm_core::audit::NewAudit::new("pv", "triage", "ae_case/ae-00");
    let triage = Triage::parse(Some("ae_forwarded"), Some("SAF-1".into()), None).unwrap();
    assert_eq!(
        store
            .triage_ae_case("ae-00".into(), triage, "pv".into(), audit, NOW)
            .await
            .unwrap(),
        Some(true)
    );
    assert_eq!(
        store.ae_case_counts(NOW).await.unwrap(),
        AeCounts {
            open: 29,
            overdue: 7,
            triaged: 1
        }
    );
}

/// How many blobs the database holds, from the table digests.
async fn blob_rows(store: &AnyStore) -> u64 {
    store
        .table_digests()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.table == "blobs")
        .unwrap()
        .rows
}

fn new_blob(media_type: &str, bytes: impl Into<bytes::Bytes>) -> openclm_store::NewBlob {
    openclm_store::NewBlob {
        media_type: media_type.into(),
        bytes: bytes.into(),
    }
}

/// Asset bytes are stored under the SHA-256 of their bytes and read back equal, whichever handle
/// reads them; the same bytes stored twice are one blob under one key.
async fn blobs_round_trip_under_their_sha256_and_are_stored_once(db: TestDb) {
    let store = db.open().await;
    let slide = b"<!doctype html><title>Slide 1</title>".to_vec();
    let image: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let keys = store
        .put_blobs(
            vec![
                new_blob("text/html", slide.clone()),
                new_blob("image/png", image.clone()),
                new_blob("application/octet-stream", Vec::new()),
            ],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        keys[0],
        "bf26b69c8563747cdf1875b060dfab2827b9584d0e7df37582c773c54a667acf"
    );
    assert_eq!(keys[1], hex_sha256(&image));
    assert_eq!(
        keys[2],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );

    let other = db.open().await;
    let read = other.get_blob(keys[1].clone()).await.unwrap().unwrap();
    assert_eq!(read.sha256, keys[1]);
    assert_eq!(read.media_type, "image/png");
    assert_eq!(read.size, 70_000);
    assert_eq!(read.bytes, image);
    let empty = other.get_blob(keys[2].clone()).await.unwrap().unwrap();
    assert_eq!((empty.size, empty.bytes.len()), (0, 0));
    let absent = hex_sha256(b"never stored");
    assert!(other.get_blob(absent.clone()).await.unwrap().is_none());

    // The same bytes again, even under another type and from another handle: one row, same key,
    // the type first stored kept.
    let again = other
        .put_blobs(
            vec![
                new_blob("text/plain", slide.clone()),
                new_blob("text/html", slide.clone()),
            ],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(again, vec![keys[0].clone(), keys[0].clone()]);
    assert_eq!(blob_rows(&store).await, 3);
    assert_eq!(
        store
            .get_blob(keys[0].clone())
            .await
            .unwrap()
            .unwrap()
            .media_type,
        "text/html"
    );

    // Which of these are stored: in the order asked, each once.
    let exists = store
        .blob_exists(vec![
            keys[2].clone(),
            absent.clone(),
            keys[0].clone(),
            keys[2].clone(),
        ])
        .await
        .unwrap();
    assert_eq!(exists, vec![keys[2].clone(), keys[0].clone()]);
    assert!(store.blob_exists(vec![]).await.unwrap().is_empty());
    assert!(store.put_blobs(vec![], NOW).await.unwrap().is_empty());
}

/// A blob past the bound, or with a malformed type, is refused naming the field, and nothing of
/// its batch is stored; keys that are not a SHA-256 in lowercase hex are refused as invalid.
async fn blobs_past_the_bound_and_malformed_keys_are_refused(db: TestDb) {
    use openclm_store::{MAX_BLOB_BYTES, StoreError};
    let store = db.open().await;
    let small = b"kept only if the batch is".to_vec();
    let e = store
        .put_blobs(
            vec![
                new_blob("text/plain", small.clone()),
                new_blob("video/mp4", vec![0u8; MAX_BLOB_BYTES + 1]),
            ],
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Invalid(f) if f.field == "blobs[1].bytes"),
        "{e}"
    );
    let e = store
        .put_blobs(vec![new_blob("text plain", small.clone())], NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Invalid(f) if f.field == "blobs[0].media_type"),
        "{e}"
    );
    assert_eq!(blob_rows(&store).await, 0);
    assert!(
        store
            .blob_exists(vec![hex_sha256(&small)])
            .await
            .unwrap()
            .is_empty()
    );

    let bad_keys = [
        "abc".to_owned(),
        "A".repeat(64),
        "g".repeat(64),
        "a".repeat(65),
        format!("{}/", "a".repeat(63)),
    ];
    for key in bad_keys {
        let e = store.get_blob(key.clone()).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(f) if f.field == "sha256"),
            "{key}: {e}"
        );
        let e = store
            .blob_exists(vec!["0".repeat(64), key.clone()])
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(f) if f.field == "sha256[1]"),
            "{key}: {e}"
        );
    }
}

/// Bytes read back that do not hash to their key (changed behind OpenCLM's back) are reported
/// corrupt, never served.
async fn blobs_whose_bytes_changed_are_corrupt_on_read(db: TestDb) {
    let store = db.open().await;
    let keys = store
        .put_blobs(
            vec![new_blob("application/pdf", b"%PDF-1.7 approved".to_vec())],
            NOW,
        )
        .await
        .unwrap();
    db.raw(
        "UPDATE blobs SET bytes = CAST('%PDF-1.7 tampered' AS BLOB)",
        "UPDATE blobs SET bytes = convert_to('%PDF-1.7 tampered', 'UTF8')",
    )
    .await;
    let e = store.get_blob(keys[0].clone()).await.unwrap_err();
    assert!(
        matches!(&e, openclm_store::StoreError::Corrupt(m) if m.contains(&keys[0])),
        "{e}"
    );
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

macro_rules! on_every_backend {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story(super::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    if let Some(db) = super::TestDb::postgres().await {
                        super::$story(db).await;
                    }
                }
            )*
        }
    };
}

on_every_backend!(
    ingest_dedupes_before_and_after_the_index_merge_and_across_restart,
    a_retried_tracking_message_is_a_duplicate_by_what_was_sent,
    timeline_is_newest_first_across_index_and_tail_with_filters_and_cursor,
    consent_changes_and_unsubscribes_become_history,
    unknown_hcps_can_become_stubs_and_later_master_data,
    master_data_arriving_after_events_adopts_the_stub_and_its_events,
    hcp_lists_filter_and_paginate_and_external_ids_stay_unique,
    content_status_filter_treats_past_expiry_as_expired,
    a_merge_in_several_steps_keeps_every_event_findable_once,
    two_handles_ingesting_the_same_events_at_once_store_each_exactly_once,
    migrations_started_together_apply_once,
    a_copy_rejected_for_its_hcp_is_still_a_duplicate_of_the_stored_event,
    digests_change_with_any_row_and_match_for_equal_data,
    hcps_written_in_one_call_see_the_writes_before_them,
    batch_order_stub_making_and_rejection_reasons_read_alike,
    hcp_state_folds_each_stored_event_once_and_survives_reopening,
    model_counts_add_up_across_handles_and_decisions_are_logged,
    outcomes_credit_their_decision_once_within_the_window,
    outcomes_without_a_decision_id_credit_the_latest_decision_for_their_content,
    weekly_plans_are_made_once_and_feedback_and_withdrawal_move_their_suggestions,
    a_store_credits_decisions_by_its_own_reward_rules,
    hcp_state_counts_responses_by_the_reward_rules,
    campaigns_are_stored_and_each_wave_is_saved_once,
    campaign_kpis_count_each_event_once_in_slices_and_group_moments,
    a_poison_event_is_set_aside_and_the_folds_count_everything_else,
    governance_accounts_audit_pv_cases_and_erasure,
    activity_rollup_counts_every_event_once_and_reach_per_week,
    content_activity_counts_per_item_and_slide,
    simulation_runs_keep_the_latest_and_round_trip_their_body,
    anonymous_visitors_are_held_linked_released_and_forgotten_on_erasure,
    sessions_stay_live_while_used_and_end_after_a_silent_idle_time,
    held_events_are_bounded_per_visitor_and_in_time,
    hcps_are_found_by_email_for_a_whole_batch,
    delivery_queue_leases_retries_dead_letters_and_cancels,
    export_pages_cover_every_row_once_across_page_boundaries_and_since,
    the_pv_queue_filters_pages_and_counts_in_the_store,
    blobs_round_trip_under_their_sha256_and_are_stored_once,
    blobs_past_the_bound_and_malformed_keys_are_refused,
    blobs_whose_bytes_changed_are_corrupt_on_read,
);

/// A database whose first events were stored before PostgreSQL events carried their
/// transaction's id (migration 6) folds those first, by seq, then the others by transaction:
/// the rollup counts each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_without_a_transaction_id_are_folded_too() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = fresh(&db).await;
    store
        .put_hcps(vec![hcp("hcp-c", "east", "gp", "C1")], "test".into(), NOW)
        .await
        .unwrap();
    let mut old = two_weeks();
    let new = old.split_off(11);
    store
        .ingest(old, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    // As such a database is after migration 8: its old events without a transaction id, the
    // rollup's cursor at the start with the last of them noted.
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    client
        .batch_execute(
            "UPDATE events SET xid = NULL;
             UPDATE activity_progress SET xid = '0', seq = 0,
                legacy_upto = (SELECT COALESCE(MAX(seq), 0) FROM events WHERE xid IS NULL)",
        )
        .await
        .unwrap();
    drop(client);
    let _ = driver.await;
    store
        .ingest(new, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    db.settled().await;
    // Three of the old events, then the other eight and the six new ones in one batch.
    assert_eq!(store.fold_activity(3).await.unwrap(), 3);
    assert_eq!(store.fold_activity(100).await.unwrap(), 14);
    assert_eq!(store.fold_activity(100).await.unwrap(), 0);
    let all = store.activity(MONDAY, MONDAY + 13).await.unwrap();
    assert_eq!(all.days.len(), 5);
    assert_eq!(weeks(&all), [(MONDAY, 2, 3), (MONDAY + 7, 2, 2)], "{all:?}");
    assert_eq!(all.reached, 3);
}

/// `openclm copy` moves the activity rollup with the events it has folded; on the target the
/// fold goes on from there: the events the source had not folded yet are counted once, the others
/// not again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_to_postgres_carries_the_activity_rollup_and_its_progress() {
    let Some(target_db) = TestDb::postgres().await else {
        return;
    };
    let source_db = TestDb::sqlite();
    let source = fresh(&source_db).await;
    source
        .put_hcps(vec![hcp("hcp-c", "east", "gp", "C1")], "test".into(), NOW)
        .await
        .unwrap();
    let mut events = two_weeks();
    let late = events.split_off(11);
    source
        .ingest(events, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    let range = (MONDAY, MONDAY + 13);
    let folded = source.activity(range.0, range.1).await.unwrap();
    assert_eq!(folded.reached, 2);
    // Stored after the source's last fold: in its events, not yet in its rollup.
    source
        .ingest(late, UnknownHcpPolicy::Reject, NOW)
        .await
        .unwrap();
    let expected = source.table_digests().await.unwrap();
    let target = openclm_store::PgStore::open(&target_db.url).await.unwrap();
    let copied = target
        .copy_from_sqlite(std::path::Path::new(&source_db.url), |_, _| {})
        .await
        .unwrap();
    assert_eq!(copied, expected);
    target_db.settled().await;
    let target = target_db.open().await;
    let want = source.activity(range.0, range.1).await.unwrap();
    assert_eq!(want.reached, 3);
    assert_eq!(target.activity(range.0, range.1).await.unwrap(), want);
    assert_eq!(target.fold_activity(1000).await.unwrap(), 0);
    // Both have now folded everything: their rollups are the same rows.
    let (a, b) = (
        source.table_digests().await.unwrap(),
        target.table_digests().await.unwrap(),
    );
    assert_eq!(a, b);
}

/// `openclm copy` moves the stored asset bytes exactly: the digests of both databases match and
/// every blob reads back, verified, from the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_to_postgres_carries_the_blobs_byte_for_byte() {
    let Some(target_db) = TestDb::postgres().await else {
        return;
    };
    let source_db = TestDb::sqlite();
    let source = fresh(&source_db).await;
    // Every byte value, the COPY escapes among them, and a blob larger than one copy chunk.
    let every_byte: Vec<u8> = (0..=255u8).collect();
    let large: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let blobs = vec![
        new_blob("application/octet-stream", every_byte),
        new_blob("text/plain", b"tab\there\nline\\".to_vec()),
        new_blob("video/mp4", large),
        new_blob("image/gif", Vec::new()),
    ];
    let keys = source.put_blobs(blobs.clone(), NOW).await.unwrap();
    let expected = source.table_digests().await.unwrap();
    let target = openclm_store::PgStore::open(&target_db.url).await.unwrap();
    let copied = target
        .copy_from_sqlite(std::path::Path::new(&source_db.url), |_, _| {})
        .await
        .unwrap();
    assert_eq!(copied, expected);
    let target = target_db.open().await;
    assert_eq!(blob_rows(&target).await, 4);
    for (key, blob) in keys.into_iter().zip(blobs) {
        let read = target.get_blob(key).await.unwrap().unwrap();
        assert_eq!(read.media_type, blob.media_type);
        assert_eq!(read.bytes, blob.bytes);
    }
}

/// TLS to PostgreSQL means what `sslmode` means to libpq. The test server is the machine's
/// PostgreSQL, whose certificate is self-signed for the machine's name (Debian's default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_honour_sslmode() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let open = |params: &str| {
        let url = format!("{}&{params}", db.url);
        async move { openclm_store::PgStore::open(&url).await }
    };
    let plain = open("sslmode=disable").await.unwrap();
    assert!(!plain.tls_in_use().await.unwrap());
    let server_offers_tls = open("sslmode=prefer")
        .await
        .unwrap()
        .tls_in_use()
        .await
        .unwrap();
    let root = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    if !server_offers_tls || !std::path::Path::new(root).exists() {
        eprintln!("skipped: the test server offers no TLS with Debian's snake-oil certificate");
        return;
    }
    // Encrypted without checking whom to, as libpq does.
    assert!(
        open("sslmode=require")
            .await
            .unwrap()
            .tls_in_use()
            .await
            .unwrap()
    );
    // The chain checked against the given root, not the host name (127.0.0.1 is not in it).
    let chain = open(&format!("sslmode=verify-ca&sslrootcert={root}"))
        .await
        .unwrap();
    assert!(chain.tls_in_use().await.unwrap());
    // The host name too: refused, with the given root or the system's.
    let e = open(&format!("sslmode=verify-full&sslrootcert={root}"))
        .await
        .err()
        .unwrap();
    assert!(format!("{e:?}").contains("NotValidForName"), "{e:?}");
    assert!(open("sslmode=verify-full").await.is_err());
    let e = open("sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem")
        .await
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("sslrootcert /nonexistent/ca.pem"),
        "{e}"
    );
}
