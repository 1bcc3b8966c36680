//! What the demo adds so every page of the dashboard has something true to show: a personal
//! account for each role, a campaign whose first wave ran three weeks ago (its touches and
//! responses drawn from the world's hidden preferences), content waiting for review, free
//! texts that screening holds as possible adverse events, rep plans for this week, and a
//! simulation of the policies (with their economics). Everything goes through the same store and engine paths as
//! real use.

use anyhow::Context;
use openclm_core::audit::NewAudit;
use openclm_core::auth::{UserInput, hash_password};
use openclm_core::campaign::CampaignInput;
use openclm_core::content::{Content, ContentStatus};
use openclm_core::{Channel, Timestamp};
use openclm_sim::World;
use openclm_store::prelude::*;
use openclm_store::{AnyStore, DecisionFilter, PageRequest, UnknownHcpPolicy};
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::now;

/// The demo's accounts: (user id, role, what they do). Reps get the first territory's rep id.
pub const ACCOUNTS: [(&str, &str); 6] = [
    ("marketer", "marketer"),
    ("reviewer", "mlr_reviewer"),
    ("pv", "pv_officer"),
    ("privacy", "privacy_officer"),
    ("analyst", "analyst"),
    ("admin", "admin"),
];

const DAY_MS: i64 = 86_400_000;

/// Creates the accounts with one shared random password (printed once) and returns it with the
/// rep's account id.
pub async fn accounts(store: &AnyStore, world: &World) -> anyhow::Result<(String, String)> {
    let password: String = {
        const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
        let mut rng = rand::rng();
        (0..16)
            .map(|i| {
                let c = LETTERS[rng.random_range(0..LETTERS.len())] as char;
                if i > 0 && i % 4 == 0 {
                    format!("-{c}")
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let rep = world
        .reps()
        .into_iter()
        .next()
        .context("the demo world has no territory")?;
    let mut all: Vec<(String, String, Vec<String>)> = ACCOUNTS
        .iter()
        .map(|(id, role)| ((*id).to_owned(), (*role).to_owned(), Vec::new()))
        .collect();
    all.push((rep.id.clone(), "rep".into(), rep.territories.clone()));
    for (user_id, role, territories) in all {
        let input = UserInput {
            user_id: Some(user_id.clone()),
            display_name: Some(format!("Demo {}", user_id.replace('-', " "))),
            role: Some(role),
            territories,
            password: Some(password.clone()),
        };
        let (user, password) = input.validate(now())?;
        let hash = tokio::task::spawn_blocking(move || hash_password(&password, &mut rand::rng()))
            .await??;
        let audit = NewAudit::new("system:demo", "create", format!("user/{user_id}"));
        store.create_user(user, hash, audit).await?;
    }
    Ok((password, rep.id))
}

/// Two items of the library in the review workflow: one draft, one submitted for review, both
/// written by the marketer (so the reviewer may approve them).
pub async fn content_in_review(store: &AnyStore, world: &World) -> anyhow::Result<()> {
    let at = now();
    let mut items = Vec::new();
    for (i, status) in [ContentStatus::Draft, ContentStatus::InReview]
        .into_iter()
        .enumerate()
    {
        let Some(base) = world.content.get(i) else {
            break;
        };
        let mut item: Content = base.clone();
        item.id = format!("{}-V2", base.id);
        item.title = format!("{} (update)", base.title);
        item.version = 1;
        item.status = ContentStatus::Draft;
        item.approval_code = None;
        item.approved_at = None;
        item.valid_from = None;
        item.expires_at = None;
        item.mlr = Default::default();
        item.mlr.author = Some("user:marketer".into());
        if status == ContentStatus::InReview {
            item.submit("user:marketer", at)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        items.push(item);
    }
    store.put_content(items, "user:marketer".into(), at).await?;
    Ok(())
}

/// A campaign on the first product: the engine against a 20% holdout, its first wave run three
/// weeks ago and its outcomes drawn from the world; the second wave is next week.
pub async fn campaign(
    store: &AnyStore,
    world: &World,
    engine: &openclm_core::engine::Engine,
    seed: u64,
) -> anyhow::Result<String> {
    let end = now();
    let product = world
        .content
        .first()
        .map(|c| c.product.clone())
        .context("the demo world has no content")?;
    let first = Timestamp::from_millis(end.millis() - 21 * DAY_MS);
    let second = Timestamp::from_millis(end.millis() + 7 * DAY_MS);
    let countries: std::collections::BTreeSet<&str> =
        world.hcps.iter().map(|h| h.country.as_str()).collect();
    let input: CampaignInput = serde_json::from_value(json!({
        "id": "demo-launch",
        "name": format!("{} omnichannel", capitalised(&product)),
        "product": product,
        "description": "Every HCP of the demo world; the engine picks content, channel and moment per HCP.",
        "target": {"countries": countries},
        "arms": [{"name": "engine"}],
        "holdout_share": 0.2,
        "waves": [{"name": "wave 1", "at": first}, {"name": "wave 2", "at": second}],
        "cost_per_touch": {"email": 0.5, "face_to_face": 150, "remote_detail": 60, "webinar": 20,
                           "sms": 0.2, "web": 0.1, "mobile_app": 0.1, "direct_mail": 2},
        "value_per_outcome": 250,
        "adaptive": true
    }))?;
    let campaign = input.validate()?;
    store
        .put_campaign(campaign.clone(), "user:marketer".into(), first)
        .await?;
    openclm_app::campaigns::run_wave_for(store, engine, &campaign, 1, first)
        .await
        .map_err(|e| anyhow::anyhow!("running the demo campaign's first wave: {e}"))?;
    // The wave's touches are delivered and answered as the world's hidden chances say.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x6361_6d70);
    let index: std::collections::HashMap<&str, usize> = world
        .hcps
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.as_str(), i))
        .collect();
    let mut events = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_decisions(
                DecisionFilter {
                    campaign_id: Some(campaign.id.clone()),
                    ..DecisionFilter::default()
                },
                PageRequest {
                    cursor,
                    limit: 1000,
                },
            )
            .await?;
        for d in &page.items {
            let (Some(content), Some(channel), Some(&i)) = (
                d.chosen_content.as_deref(),
                d.chosen_channel,
                index.get(d.hcp_id.as_str()),
            ) else {
                continue;
            };
            let topic = world
                .content
                .iter()
                .find(|c| c.id == content)
                .and_then(|c| c.topics.first().cloned())
                .unwrap_or_default();
            let rep_call = matches!(channel, Channel::FaceToFace | Channel::RemoteDetail);
            let delay = rng.random_range(1..=72) * 3_600_000;
            let at = |extra: i64| Timestamp::from_millis(d.made_at.millis() + delay + extra);
            let rep = format!(
                "rep-{}",
                world.hcps[i].territory.as_deref().unwrap_or("none")
            );
            let event = |suffix: &str, kind: &str, when: Timestamp| {
                json!({"event_id": format!("{}:{suffix}", d.decision_id), "occurred_at": when,
                    "hcp": d.hcp_id, "source": "openclm", "channel": channel.as_str(),
                    "type": kind, "content_id": content, "decision_id": d.decision_id,
                    "campaign_id": campaign.id, "rep_id": rep, "dwell_ms": 45_000})
            };
            if rep_call {
                events.push(event("delivered", "call_logged", at(0)));
            } else {
                // A message is sent, then delivered a minute later.
                events.push(event("sent", "sent", at(0)));
                events.push(event("delivered", "delivered", at(60_000)));
            }
            if rng.random::<f64>() < world.response_chance(i, channel, &topic) {
                let kind = match channel {
                    Channel::Email => "clicked",
                    _ if rep_call => "slide_viewed",
                    _ => "content_viewed",
                };
                if channel == Channel::Email {
                    // A person opens the email before clicking in it.
                    events.push(event("opened", "opened", at(3_000_000)));
                }
                events.push(event("response", kind, at(3_600_000)));
                // A response moves prescribing a little: an extra pack in the next weeks.
                if rng.random::<f64>() < 0.35 {
                    let mut rx = event("rx", "prescription", at(7 * DAY_MS));
                    rx["channel"] = json!("crm");
                    rx["units"] = json!(1);
                    rx["source"] = json!("crm");
                    events.push(rx);
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    ingest(store, events).await?;
    Ok(campaign.id)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

async fn ingest(store: &AnyStore, events: Vec<serde_json::Value>) -> anyhow::Result<()> {
    for batch in events.chunks(5_000) {
        let parsed = batch
            .iter()
            .map(|v| openclm_core::Event::from_json(v.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        store
            .ingest(parsed, UnknownHcpPolicy::Reject, now())
            .await?;
    }
    Ok(())
}

/// Free texts a PV officer would have to see: a medical-information request and a rep's call
/// note that report reactions (one received 30 hours ago, so already overdue), and an ordinary
/// comment that screening lets through.
pub async fn possible_adverse_events(store: &AnyStore, world: &World) -> anyhow::Result<()> {
    let product = world
        .content
        .first()
        .map(|c| c.product.clone())
        .unwrap_or_default();
    let hcp = |i: usize| world.hcps[i % world.hcps.len()].id.to_string();
    let at = now();
    let texts = [
        (
            "demo-ae-1",
            30,
            "medical_information",
            "medical_information_requested",
            format!(
                "My 62-year-old patient developed a severe rash two weeks after starting {product}. What should I do?"
            ),
        ),
        (
            "demo-ae-2",
            2,
            "crm",
            "call_logged",
            "Dr mentioned a patient who became pregnant while on treatment; asked for guidance."
                .to_owned(),
        ),
        (
            "demo-ae-3",
            1,
            "survey",
            "survey_answered",
            "Very clear presentation, no side effects seen in my practice so far.".to_owned(),
        ),
    ];
    for (i, (id, hours_ago, channel, kind, text)) in texts.into_iter().enumerate() {
        let received = Timestamp::from_millis(at.millis() - hours_ago * 3_600_000);
        let field = match kind {
            "call_logged" => "notes",
            "survey_answered" => "answer",
            _ => "text",
        };
        let mut event = json!({"event_id": id, "occurred_at": received, "hcp": hcp(i * 7),
            "source": "demo", "channel": channel,
            "type": kind, "rep_id": format!("rep-{}", world.hcps[(i * 7) % world.hcps.len()]
                .territory.as_deref().unwrap_or("none"))});
        event[field] = json!(text);
        if kind == "survey_answered" {
            event["question"] = json!("Any comments on the presentation?");
        }
        let parsed = openclm_core::Event::from_json(event)?;
        store
            .ingest(vec![parsed], UnknownHcpPolicy::Reject, received)
            .await?;
    }
    Ok(())
}

/// This week's plan for every rep, made as a rep's first look would make it.
pub async fn rep_plans(
    store: &AnyStore,
    world: &World,
    engine: &openclm_core::engine::Engine,
) -> anyhow::Result<usize> {
    let at = now();
    let week = openclm_core::suggest::Week::containing(at);
    let mut made = 0;
    for rep in world.reps() {
        let plan = openclm_app::plan::plan_week(store, engine, &rep, week, at)
            .await
            .map_err(|e| anyhow::anyhow!("planning the week of {}: {e}", rep.id))?;
        made += plan.suggestions.len();
    }
    Ok(made)
}
