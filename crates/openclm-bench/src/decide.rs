//! `decide`: next-best-action decisions in process, over a synthetic population
//! with real learned state, a content library and a trained model.

use openclm::now;
use openclm_core::consent::{ConsentRecord, ConsentState, DEFAULT_PURPOSE};
use openclm_core::content::{Content, ContentInput, ContentKind};
use openclm_core::engine::model::{ArmContext, Model};
use openclm_core::engine::rules::HcpFacts;
use openclm_core::engine::{Engine, Request, channels_for, topic_of};
use openclm_core::hcp::HcpInput;
use openclm_core::state::{HcpState, StateConfig};
use openclm_core::{Channel, Event, Hcp, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

use crate::cli::DecideArgs;

const SPECIALTIES: [&str; 5] = [
    "cardiology",
    "oncology",
    "general_practice",
    "pharmacy",
    "nursing",
];
const COUNTRIES: [&str; 4] = ["DE", "FR", "GB", "US"];
const TOPICS: [&str; 10] = [
    "efficacy",
    "safety",
    "dosing",
    "guidelines",
    "access",
    "patient_support",
    "mechanism",
    "outcomes",
    "switching",
    "adherence",
];
const KINDS: [ContentKind; 7] = [
    ContentKind::EmailTemplate,
    ContentKind::SlideDeck,
    ContentKind::WebPage,
    ContentKind::Video,
    ContentKind::Webinar,
    ContentKind::Questionnaire,
    ContentKind::KeyMessage,
];

struct Person {
    hcp: Hcp,
    consent: Vec<ConsentRecord>,
    state: HcpState,
}

fn library(count: usize, now: Timestamp) -> anyhow::Result<Vec<Content>> {
    (0..count)
        .map(|i| {
            let status = if i % 10 == 9 { "withdrawn" } else { "approved" };
            Ok(ContentInput {
                id: Some(format!("C-{i:04}")),
                title: Some(format!("Item {i}")),
                kind: Some(KINDS[i % KINDS.len()].as_str().to_owned()),
                product: Some(["cardiozan", "oncorix"][i % 2].to_owned()),
                topics: vec![TOPICS[i % TOPICS.len()].to_owned()],
                countries: if i % 3 == 0 {
                    vec![COUNTRIES[i % COUNTRIES.len()].to_owned()]
                } else {
                    vec![]
                },
                status: Some(status.to_owned()),
                approval_code: Some(format!("AC-{i}")),
                approved_at: Some(
                    Timestamp::from_millis(now.millis() - 90 * 86_400_000).to_string(),
                ),
                ..Default::default()
            }
            .validate()?)
        })
        .collect()
}

fn population(
    count: usize,
    library: &[Content],
    now: Timestamp,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<Person>> {
    let config = StateConfig::default();
    let channels = [
        (Channel::Email, "delivered"),
        (Channel::Email, "opened"),
        (Channel::FaceToFace, "call_logged"),
        (Channel::Web, "content_viewed"),
        (Channel::Webinar, "meeting_attended"),
    ];
    (0..count)
        .map(|i| {
            let hcp = HcpInput {
                name: Some(format!("Dr. {i}")),
                specialty: Some(SPECIALTIES[i % SPECIALTIES.len()].to_owned()),
                country: Some(COUNTRIES[i % COUNTRIES.len()].to_owned()),
                ..Default::default()
            }
            .validate(&format!("hcp-{i}"))?;
            let consent = [Channel::Email, Channel::Webinar, Channel::Sms]
                .into_iter()
                .filter(|_| rng.random::<f64>() < 0.8)
                .map(|channel| ConsentRecord {
                    channel,
                    purpose: DEFAULT_PURPOSE.into(),
                    state: ConsentState::Granted,
                    source: "crm".into(),
                    event_id: None,
                    changed_at: Timestamp::from_millis(now.millis() - 200 * 86_400_000),
                    evidence: None,
                    notice_version: None,
                })
                .collect();
            let mut state = HcpState::default();
            for e in 0..12 {
                let (channel, kind) = channels[rng.random_range(0..channels.len())];
                let item = &library[rng.random_range(0..library.len())];
                let at = now.millis() - rng.random_range(1..60 * 86_400_000i64);
                let mut v = serde_json::json!({"event_id": format!("{i}-{e}"),
                    "occurred_at": Timestamp::from_millis(at).to_string(), "hcp": "x",
                    "source": "crm", "channel": channel.as_str(), "type": kind,
                    "content_id": item.id});
                if kind == "call_logged" {
                    v["rep_id"] = "rep-1".into();
                }
                if kind == "content_viewed" {
                    v["dwell_ms"] = rng.random_range(1_000..90_000).into();
                }
                state.apply_event(&Event::from_json(v)?, &item.topics, &config);
            }
            Ok(Person {
                hcp,
                consent,
                state,
            })
        })
        .collect()
}

fn trained_model(people: &[Person], library: &[Content], rng: &mut StdRng) -> Model {
    let mut model = Model::default();
    for _ in 0..1_000_000 {
        let person = &people[rng.random_range(0..people.len())];
        let item = &library[rng.random_range(0..library.len())];
        let channels = channels_for(item.kind);
        let channel = channels[rng.random_range(0..channels.len())];
        let context = ArmContext {
            channel,
            topic: topic_of(item),
            specialty: &person.hcp.specialty,
            country: &person.hcp.country,
            hcp: person.hcp.id.as_str(),
        };
        model.record(&context, rng.random::<f64>() < 0.15);
    }
    model
}

fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub fn run(args: DecideArgs) -> anyhow::Result<()> {
    let DecideArgs {
        hcps,
        content,
        decisions,
    } = args;
    anyhow::ensure!(
        hcps >= 1 && content >= 1 && decisions >= 1,
        "hcps, content and decisions must be 1 or more"
    );
    let now = now();
    let mut rng = StdRng::seed_from_u64(7);
    let library = library(content, now)?;
    let candidates: usize = library.iter().map(|c| channels_for(c.kind).len()).sum();
    let channels: std::collections::BTreeSet<Channel> = library
        .iter()
        .flat_map(|c| channels_for(c.kind).iter().copied())
        .collect();
    let before = resident_mb();
    let people = population(hcps, &library, now, &mut rng)?;
    let after = resident_mb();
    let state_bytes: usize = people
        .iter()
        .map(|p| serde_json::to_vec(&p.state).map_or(0, |v| v.len()))
        .sum();
    let model = trained_model(&people, &library, &mut rng);
    println!(
        "decide benchmark: {hcps} HCPs (12 events of state each), {content} content items on {} channels ({candidates} candidates per HCP), model of {} counts",
        channels.len(),
        model.counts.len()
    );
    println!(
        "learned state per HCP: {:.0} bytes in memory (RSS growth / HCPs, with master data and consent), {:.0} bytes as stored (JSON)",
        (after - before) * 1024.0 * 1024.0 / hcps as f64,
        state_bytes as f64 / hcps as f64
    );
    let engine = Engine::default();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_thread = decisions.div_ceil(threads);
    let started = Instant::now();
    let mut blocked_total = 0usize;
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (engine, model, people, library) = (&engine, &model, &people, &library);
                scope.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(100 + t as u64);
                    let mut latencies = Vec::with_capacity(per_thread);
                    let mut blocked = 0usize;
                    for d in 0..per_thread {
                        let person = &people[(d * threads + t) % people.len()];
                        let facts = HcpFacts {
                            hcp: &person.hcp,
                            consent: &person.consent,
                            state: &person.state,
                            planned: &[],
                        };
                        let request = Request {
                            facts,
                            content: library,
                            channels: None,
                            n: 5,
                            now,
                        };
                        let began = Instant::now();
                        let decision = engine.decide(&request, model, &mut rng);
                        latencies.push(began.elapsed());
                        blocked += decision
                            .blocked_summary
                            .iter()
                            .map(|b| b.candidates)
                            .sum::<usize>();
                    }
                    (latencies, blocked)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(decisions);
        for h in handles {
            if let Ok((l, b)) = h.join() {
                all.extend(l);
                blocked_total += b;
            }
        }
        all
    });
    let elapsed = started.elapsed();
    println!(
        "candidates blocked by a hard constraint: {:.0} per decision on average",
        blocked_total as f64 / latencies.len().max(1) as f64
    );
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{} decisions on {threads} threads in {:.2} s = {:.0} decisions/s; latency p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pick(0.5).as_secs_f64() * 1e6,
        pick(0.99).as_secs_f64() * 1e6,
        pick(1.0).as_secs_f64() * 1e6,
    );
    Ok(())
}
