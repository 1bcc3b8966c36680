//! The simulated world as its users see it: reproducible, valid against the data contract, and
//! shaped like a real brand's CRM, email and web data.

use std::collections::{BTreeSet, HashMap, HashSet};

use openclm_core::content::{ContentKind, ContentStatus};
use openclm_core::event::Details;
use openclm_core::{Channel, EventType, Timestamp};
use openclm_sim::{World, WorldConfig};

const DAY_MS: i64 = 86_400_000;

fn now() -> Timestamp {
    Timestamp::parse("now", "2026-04-15T09:00:00Z").unwrap()
}

fn small(seed: u64) -> WorldConfig {
    WorldConfig {
        hcps: 250,
        months: 3,
        seed,
        now: now(),
    }
}

#[test]
fn the_same_config_makes_the_same_world_and_another_seed_another() {
    let a = World::generate(small(11));
    let b = World::generate(small(11));
    assert_eq!(a.hcps, b.hcps);
    assert_eq!(a.content, b.content);
    let events_a: Vec<_> = a.history().collect();
    let events_b: Vec<_> = b.history().collect();
    assert!(events_a.len() > 1_000, "{} events", events_a.len());
    assert_eq!(events_a, events_b);

    let c = World::generate(small(12));
    assert_ne!(a.hcps, c.hcps);
    let events_c: Vec<_> = c.history().collect();
    assert_ne!(events_a, events_c);
    // The library is dated from `now`, not drawn from the seed.
    assert_eq!(a.content, c.content);
}

#[test]
fn an_hcp_does_not_depend_on_how_many_others_there_are() {
    let big = World::generate(small(5));
    let little = World::generate(WorldConfig {
        hcps: 10,
        ..small(5)
    });
    assert_eq!(little.hcps[..], big.hcps[..10]);
}

#[test]
fn small_worlds_estimate_their_history_exactly() {
    let world = World::generate(small(3));
    assert_eq!(world.estimated_events(), world.history().count() as u64);
}

#[test]
fn a_now_too_close_to_1970_is_refused() {
    let config = WorldConfig {
        hcps: 1,
        months: 6,
        seed: 1,
        now: Timestamp::from_millis(30 * DAY_MS),
    };
    let e = World::try_generate(config).unwrap_err();
    assert_eq!(e.field, "now");
}

#[test]
fn master_data_looks_like_a_real_crm() {
    let world = World::generate(WorldConfig::demo(now()));
    assert_eq!(world.hcps.len(), 5_000);
    assert_eq!(world.hcps[122].id.as_str(), "hcp-000123");

    let mut specialties: HashMap<&str, usize> = HashMap::new();
    let mut countries: BTreeSet<&str> = BTreeSet::new();
    let mut territories: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut with_email_id = 0;
    let mut emails = HashSet::new();
    for h in &world.hcps {
        *specialties.entry(&h.specialty).or_default() += 1;
        countries.insert(&h.country);
        let territory = h.territory.as_deref().unwrap();
        assert!(
            territory.starts_with(&format!("{}-", h.country)),
            "{territory}"
        );
        territories.entry(&h.country).or_default().insert(territory);
        assert!(h.segments.len() <= 3);
        assert!(h.name.contains(' '));
        let crm = h.external_ids.iter().find(|x| x.system == "crm").unwrap();
        assert!(
            crm.id.starts_with("0015g") && crm.id.len() == 18,
            "{}",
            crm.id
        );
        if let Some(email) = &h.email {
            let domain = email.split_once('@').unwrap().1;
            assert!(
                [".example.org", ".example.com", ".example.net"]
                    .iter()
                    .any(|d| domain.ends_with(d)),
                "{email}"
            );
            assert!(emails.insert(email.clone()), "duplicate email {email}");
        }
        if let Some(x) = h.external_ids.iter().find(|x| x.system == "email") {
            assert_eq!(Some(&x.id), h.email.as_ref());
            with_email_id += 1;
        }
    }
    let most_common = specialties.iter().max_by_key(|(_, n)| **n).unwrap();
    assert_eq!(*most_common.0, "general_practice");
    assert!(specialties.len() >= 10, "{specialties:?}");
    assert_eq!(
        countries.into_iter().collect::<Vec<_>>(),
        ["DE", "ES", "FR", "GB", "IT", "US"]
    );
    assert!(
        territories.values().all(|t| t.len() >= 3),
        "{territories:?}"
    );
    let share = with_email_id as f64 / 5_000.0;
    assert!((0.5..0.7).contains(&share), "email id share {share}");
    let segments: BTreeSet<&str> = world
        .hcps
        .iter()
        .flat_map(|h| h.segments.iter().map(String::as_str))
        .collect();
    for s in [
        "kol",
        "high_prescriber",
        "digital_native",
        "rep_preferred",
        "early_adopter",
    ] {
        assert!(segments.contains(s), "no {s}");
    }
}

#[test]
fn the_library_has_every_mlr_state() {
    let world = World::generate(small(1));
    let now = now();
    let statuses: Vec<ContentStatus> = world.content.iter().map(|c| c.status_at(now)).collect();
    for s in [
        ContentStatus::Approved,
        ContentStatus::Draft,
        ContentStatus::InReview,
        ContentStatus::Withdrawn,
        ContentStatus::Expired,
    ] {
        assert!(statuses.contains(&s), "no {s} content");
    }
    let approved = statuses
        .iter()
        .filter(|s| **s == ContentStatus::Approved)
        .count();
    assert!(approved * 4 > world.content.len() * 3, "mostly approved");
    assert!((35..=50).contains(&world.content.len()));
    let expiring_soon = world.content.iter().filter(|c| {
        c.status_at(now) == ContentStatus::Approved
            && c.expires_at.is_some_and(|e| e < now.plus_days(30))
    });
    assert!(expiring_soon.count() >= 2);

    let ids: HashSet<&str> = world.content.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), world.content.len());
    let products: BTreeSet<&str> = world.content.iter().map(|c| c.product.as_str()).collect();
    assert!(products.len() >= 3);
    for p in &products {
        let kinds: HashSet<ContentKind> = world
            .content
            .iter()
            .filter(|c| &c.product == p)
            .map(|c| c.kind)
            .collect();
        assert!(kinds.len() >= 3, "{p}: {kinds:?}");
    }
    for c in world.content.iter().filter(|c| c.approved_at.is_some()) {
        let code = c.approval_code.as_deref().unwrap();
        assert!(code.len() == 12 && code.as_bytes()[2] == b'-', "{code}");
        assert!(c.approved_at.unwrap() < now && c.valid_from.unwrap() < now);
    }
}

/// What one pass over the demo history found.
#[derive(Default)]
struct Tally {
    events: u64,
    types: BTreeSet<EventType>,
    channels: BTreeSet<Channel>,
    opens: u64,
    machine_opens: u64,
    per_hcp: HashMap<usize, u64>,
}

#[test]
fn the_demo_history_is_large_valid_and_realistic() {
    let now = now();
    let world = World::generate(WorldConfig::demo(now));
    let start = world.history_start();
    assert_eq!(start, now.plus_days(-180));

    let mut owner: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, h) in world.hcps.iter().enumerate() {
        owner.insert(("openclm", h.id.as_str()), i);
        for x in &h.external_ids {
            owner.insert((x.system.as_str(), x.id.as_str()), i);
        }
    }
    let content: HashMap<&str, _> = world.content.iter().map(|c| (c.id.as_str(), c)).collect();

    let mut tally = Tally::default();
    let mut ids = HashSet::new();
    let mut delivered_at: HashMap<String, Timestamp> = HashMap::new();
    let mut may_email: HashMap<usize, bool> = HashMap::new();
    for e in world.history() {
        tally.events += 1;
        assert!(ids.insert(e.event_id.clone()), "duplicate {}", e.event_id);
        assert!(
            start <= e.occurred_at && e.occurred_at < now,
            "{} at {}",
            e.event_id,
            e.occurred_at
        );
        let hcp = *owner
            .get(&(e.source.as_str(), e.hcp.as_str()))
            .unwrap_or_else(|| panic!("{}: unknown hcp {}/{}", e.event_id, e.source, e.hcp));
        *tally.per_hcp.entry(hcp).or_default() += 1;
        tally.types.insert(e.kind);
        tally.channels.insert(e.channel);

        if let Some(id) = &e.content_id {
            let c = content
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{}: unknown content {id}", e.event_id));
            assert!(
                matches!(c.status, ContentStatus::Approved | ContentStatus::Withdrawn)
                    && c.valid_from.is_some_and(|t| t <= e.occurred_at)
                    && c.expires_at.is_none_or(|t| e.occurred_at < t),
                "{} uses {id} outside its approval",
                e.event_id
            );
            assert!(
                c.countries.contains(&world.hcps[hcp].country),
                "{} uses {id} in {}",
                e.event_id,
                world.hcps[hcp].country
            );
        }

        // Events arrive HCP by HCP in time order, so consent can be followed as it changes.
        match (&e.details, e.kind) {
            (Details::ConsentChanged { state, .. }, _) => {
                may_email.insert(hcp, state.as_str() == "granted");
            }
            (_, EventType::Unsubscribed) => {
                may_email.insert(hcp, false);
            }
            (_, EventType::Bounced) if e.payload["bounce_type"] == "hard" => {
                may_email.insert(hcp, false);
            }
            (_, EventType::Sent) => {
                assert!(world.hcps[hcp].email.is_some());
                assert_eq!(
                    may_email.get(&hcp),
                    Some(&true),
                    "{} emails without consent",
                    e.event_id
                );
            }
            _ => {}
        }
        if e.kind == EventType::Delivered {
            let message = e.payload["message_id"].as_str().unwrap().to_owned();
            delivered_at.insert(message, e.occurred_at);
        }
        if let Details::Opened { user_agent } = &e.details {
            tally.opens += 1;
            if user_agent
                .as_deref()
                .is_some_and(|ua| ua.contains("Privacy Protection"))
            {
                tally.machine_opens += 1;
                let message = e.payload["message_id"].as_str().unwrap();
                let delivered = delivered_at[message];
                assert!(e.occurred_at.millis() - delivered.millis() < 10_000);
            }
        }
        if let Details::Prescription { period, .. } = &e.details {
            let period = period.as_deref().unwrap();
            assert!(period.len() == 8 && period.contains("-W"), "{period}");
        }
    }

    assert!(tally.events >= 100_000, "{} events", tally.events);
    let estimate = world.estimated_events() as f64;
    let error = (estimate - tally.events as f64).abs() / tally.events as f64;
    assert!(error < 0.2, "estimate {estimate} for {}", tally.events);
    let per_hcp = tally.events as f64 / 5_000.0;
    assert!((20.0..=35.0).contains(&per_hcp), "{per_hcp} events per HCP");

    assert!(tally.types.len() >= 14, "{:?}", tally.types);
    assert!(tally.channels.len() >= 8, "{:?}", tally.channels);
    assert!(tally.machine_opens > 0);
    assert!(
        tally.machine_opens * 2 < tally.opens,
        "{} of {} opens are machine opens",
        tally.machine_opens,
        tally.opens
    );

    // Engagement is skewed: a tenth of the HCPs make a fifth of the events, many make few.
    let mut counts: Vec<u64> = (0..5_000)
        .map(|i| tally.per_hcp.get(&i).copied().unwrap_or(0))
        .collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = counts[..500].iter().sum();
    assert!(top * 5 > tally.events, "top tenth made {top}");
    let quiet = counts
        .iter()
        .filter(|c| (**c as f64) < per_hcp / 4.0)
        .count();
    assert!(quiet > 500, "{quiet} quiet HCPs");
}
