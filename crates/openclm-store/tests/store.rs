//! The storage story every backend must tell the same way.

use openclm_core::consent::ConsentState;
use openclm_core::content::{ContentInput, ContentStatus};
use openclm_core::hcp::{ExternalId, HcpInput};
use openclm_core::{Channel, Event, EventType, HcpId, Timestamp};
use openclm_store::{
    ContentFilter, HcpFilter, IngestOutcome, PageRequest, SqliteStore, Store, TimelineFilter,
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

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("openclm.db").to_str().unwrap()).unwrap();
    store
        .put_hcps(
            vec![
                hcp("hcp-a", "north", "cardiology", "A1"),
                hcp("hcp-b", "south", "oncology", "B1"),
            ],
            NOW,
        )
        .await
        .unwrap();
    (dir, store)
}

fn page(limit: usize, cursor: Option<String>) -> PageRequest {
    PageRequest { cursor, limit }
}

#[tokio::test]
async fn ingest_dedupes_before_and_after_the_index_merge_and_across_restart() {
    let (dir, store) = fresh().await;
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
    let store = SqliteStore::open(dir.path().join("openclm.db").to_str().unwrap()).unwrap();
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

#[tokio::test]
async fn timeline_is_newest_first_across_index_and_tail_with_filters_and_cursor() {
    let (_dir, store) = fresh().await;
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

#[tokio::test]
async fn consent_changes_and_unsubscribes_become_history() {
    let (_dir, store) = fresh().await;
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
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[0].channel, history[0].state),
        (Channel::Email, ConsentState::Withdrawn)
    );
    assert_eq!(history[1].channel, Channel::Sms);
    assert_eq!(history[0].event_id.as_deref(), Some("c1"));
}

#[tokio::test]
async fn unknown_hcps_can_become_stubs_and_later_master_data() {
    let (_dir, store) = fresh().await;
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
        .put_hcps(vec![hcp("new-hcp", "north", "gp", "N1")], NOW)
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

#[tokio::test]
async fn master_data_arriving_after_events_adopts_the_stub_and_its_events() {
    let (_dir, store) = fresh().await;
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
        .put_hcps(vec![hcp("hcp-77", "north", "gp", "CRM-77")], NOW)
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
    let refused = store.put_hcps(vec![claim], NOW).await.unwrap();
    let e = refused[0].as_ref().unwrap_err();
    assert!(e.reason.contains("stub HCP (X9)"), "{e}");
    assert!(store.check_integrity().await.unwrap().problems.is_empty());
}

#[tokio::test]
async fn hcp_lists_filter_and_paginate_and_external_ids_stay_unique() {
    let (_dir, store) = fresh().await;
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
    store.put_hcps(many, NOW).await.unwrap();
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

#[tokio::test]
async fn content_status_filter_treats_past_expiry_as_expired() {
    let (_dir, store) = fresh().await;
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
}

#[tokio::test]
async fn a_merge_in_several_steps_keeps_every_event_findable_once() {
    let (_dir, store) = fresh().await;
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
