//! `kpis`, the campaign KPI benchmark: 50 campaigns over 100,000 HCPs, millions of events ingested
//! through the store, folded into the KPIs; then how long one campaign's KPIs and a full report
//! of every campaign take to read.

use anyhow::Context;
use openclm::now;
use openclm_app::reports::{Breakdown, kpis, report};
use openclm_core::campaign::CampaignInput;
use openclm_core::{Channel, Event, Timestamp};
use openclm_store::prelude::*;
use openclm_store::{CampaignTag, DecisionRecord, HOLDOUT, NewWave, UnknownHcpPolicy, WaveMember};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::KpisArgs;
use crate::harness::{Target, load_hcps};

const DAY_MS: i64 = 86_400_000;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// The campaign of an HCP, its group and its decision's id (treated HCPs only).
fn assignment(hcp: usize, hcps: usize, campaigns: usize) -> (usize, bool) {
    let per = hcps.div_ceil(campaigns);
    // A tenth of each campaign's HCPs is held out.
    (hcp / per, hcp.is_multiple_of(10))
}

/// Event `k` of the stream: a campaign email's life (sent, delivered, opened, clicked), a
/// prescription, or a page read, each for one HCP, spread over 30 days after the waves.
fn event(k: usize, hcps: usize, campaigns: usize, start: i64) -> anyhow::Result<Event> {
    let hcp = (k * 7919) % hcps;
    let (campaign, held_out) = assignment(hcp, hcps, campaigns);
    let at = Timestamp::from_millis(start + (k as i64 * 997) % (30 * DAY_MS));
    let mut v = json!({"event_id": format!("kpi-{k}"), "occurred_at": at.to_string(),
        "hcp": format!("crm-{hcp}"), "source": "crm", "channel": "email", "type": "content_viewed"});
    let kind = match k % 10 {
        0 | 1 if !held_out => "sent",
        2 | 3 if !held_out => "delivered",
        4 if !held_out => "opened",
        5 if !held_out => "clicked",
        6 | 7 => "prescription",
        _ => "content_viewed",
    };
    v["type"] = json!(kind);
    match kind {
        "prescription" => {
            v["channel"] = json!("crm");
            v["units"] = json!(1 + k % 3);
        }
        "content_viewed" => {
            v["channel"] = json!("web");
            v["dwell_ms"] = json!(5_000 + (k % 60) * 1_000);
        }
        _ => {
            v["decision_id"] = json!(format!("bench-dec-{hcp}"));
            v["content_id"] = json!(format!("EM-{campaign}"));
        }
    }
    Event::from_json(v).context("bench event")
}

pub async fn run(args: KpisArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.campaigns > 0 && args.hcps >= args.campaigns,
        "campaigns: must be at least 1 and at most the HCPs"
    );
    let backend = if args.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let target = Target::fresh(args.database_url.as_deref(), "kpis").await?;
    let store = target.open().await?;
    load_hcps(&store, args.hcps).await?;
    let start = now().millis();
    // The campaigns, each with one wave run: members, and a decision per treated HCP.
    for c in 0..args.campaigns {
        let input: CampaignInput = serde_json::from_value(json!({
            "id": format!("bench-{c}"), "name": format!("Benchmark campaign {c}"),
            "product": "cardiozan", "target": {"countries": ["DE", "FR", "GB", "US"]},
            "waves": [{"at": Timestamp::from_millis(start - DAY_MS).to_string()}],
            "cost_per_touch": {"email": 0.5}, "value_per_outcome": 100.0,
            "attribution_window_days": 60
        }))?;
        let campaign = input.validate()?;
        store
            .put_campaign(campaign, "system:bench".into(), now())
            .await?;
        let per = args.hcps.div_ceil(args.campaigns);
        let ids = (c * per)..((c + 1) * per).min(args.hcps);
        let mut members = Vec::new();
        let mut treated = Vec::new();
        let mut decisions = Vec::new();
        for hcp in ids {
            let id = format!("hcp-{hcp}");
            if assignment(hcp, args.hcps, args.campaigns).1 {
                members.push((id, HOLDOUT));
                continue;
            }
            members.push((id.clone(), 0));
            let decision_id = format!("bench-dec-{hcp}");
            treated.push(WaveMember {
                hcp_id: id.clone(),
                group: 0,
                decision_id: Some(decision_id.clone()),
                channel: Some(Channel::Email),
                content_id: Some(format!("EM-{c}")),
                blocked: None,
            });
            decisions.push(DecisionRecord {
                decision_id,
                hcp_id: id,
                made_at: Timestamp::from_millis(start - DAY_MS),
                model_version: 0,
                chosen_content: Some(format!("EM-{c}")),
                chosen_channel: Some(Channel::Email),
                propensity: Some(0.5),
                nodes: Some([1, 2, 3]),
                delivered_at: None,
                rewarded_at: None,
                reserved_until: None,
                body: json!({}),
                campaign: Some(CampaignTag {
                    campaign_id: format!("bench-{c}"),
                    wave: 1,
                    arm: 0,
                }),
            });
        }
        store
            .save_wave(NewWave {
                campaign_id: format!("bench-{c}"),
                wave: 1,
                ran_at: Timestamp::from_millis(start - DAY_MS),
                members,
                treated,
                decisions,
                summary: json!({}),
            })
            .await?;
    }

    // Ingest, four writers, batches of 5,000 made on the fly.
    let batch = 5_000;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (store, next) = (store.clone(), next.clone());
        let (events, hcps, campaigns) = (args.events, args.hcps, args.campaigns);
        tasks.push(tokio::spawn(async move {
            loop {
                let from = next.fetch_add(batch, std::sync::atomic::Ordering::Relaxed);
                if from >= events {
                    break;
                }
                let chunk = (from..(from + batch).min(events))
                    .map(|k| event(k, hcps, campaigns, start))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                store.ingest(chunk, UnknownHcpPolicy::Reject, now()).await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let ingest = started.elapsed();
    println!(
        "{backend}: {} events over {} HCPs and {} campaigns ingested in {:.1} s ({:.0} events/s)",
        args.events,
        args.hcps,
        args.campaigns,
        ingest.as_secs_f64(),
        args.events as f64 / ingest.as_secs_f64()
    );
    let started = Instant::now();
    let mut folded = 0;
    loop {
        let n = store.fold_kpis(20_000).await?;
        folded += n;
        if n < 20_000 {
            break;
        }
    }
    let fold = started.elapsed();
    println!(
        "{backend}: {folded} events folded into the KPIs in {:.1} s ({:.0} events/s)",
        fold.as_secs_f64(),
        folded as f64 / fold.as_secs_f64()
    );

    let campaign = store
        .get_campaign("bench-0".into())
        .await?
        .context("bench campaign")?;
    let mut one = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let k = kpis(&store, &campaign, Some(Breakdown::Channel), None, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        one.push(t.elapsed());
        anyhow::ensure!(
            k.total.counts.touches > 0,
            "the benchmark campaign has no touches"
        );
    }
    let one = median(one);
    println!(
        "{backend}: one campaign's KPIs by channel: median {:.1} ms (21 reads; target < 100 ms)",
        one.as_secs_f64() * 1000.0
    );
    let campaigns = store.list_campaigns().await?;
    let mut all = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for c in &campaigns {
            report(&store, c, 0.95)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        all.push(t.elapsed());
    }
    let all = median(all);
    println!(
        "{backend}: full report of {} campaigns (KPIs, lift, ROMI, split check): median {:.0} ms (5 runs; target < 1 s)",
        campaigns.len(),
        all.as_secs_f64() * 1000.0
    );
    drop(store);
    target.remove().await?;
    Ok(())
}
