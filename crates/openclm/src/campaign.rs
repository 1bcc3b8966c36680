//! `openclm campaign`: campaigns from files, and their waves, without the HTTP API.

use anyhow::Context;
use openclm_app::campaigns::{describe, run_wave_for, save_campaign};
use openclm_core::campaign::parse_file;
use openclm_core::engine::Engine;
use openclm_core::hcp::parse_identifier;
use openclm_store::prelude::*;
use openclm_store::{AnyStore, Upserted};

use crate::cli::CampaignAction;
use crate::now;

pub async fn run(store: AnyStore, engine: &Engine, action: CampaignAction) -> anyhow::Result<()> {
    match action {
        CampaignAction::Create { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let campaign = parse_file(&text)?;
            let verb =
                match save_campaign(&store, &campaign, &crate::governance::cli_actor(), now())
                    .await?
                {
                    Upserted::Created => "created",
                    Upserted::Updated => "updated",
                };
            println!(
                "campaign {} {verb}: {} wave(s), {} arm(s), {:.0}% held out",
                campaign.id,
                campaign.waves.len(),
                campaign.arms.len(),
                campaign.holdout_share * 100.0
            );
        }
        CampaignAction::List => {
            for c in store.list_campaigns().await? {
                let ran = store.list_waves(c.id.clone()).await?;
                println!(
                    "{:<24} {:<40} {} of {} wave(s) run",
                    c.id,
                    c.name,
                    ran.len(),
                    c.waves.len()
                );
            }
        }
        CampaignAction::Show { id, json } => {
            let id = parse_identifier("id", &id)?;
            let campaign = store
                .get_campaign(id.clone())
                .await?
                .with_context(|| format!("id: no campaign {id:?}"))?;
            let ran = store.list_waves(id.clone()).await?;
            let groups = store.campaign_groups(id).await?;
            let described = describe(&campaign, &ran, &groups);
            if json {
                println!("{}", serde_json::to_string_pretty(&described)?);
                return Ok(());
            }
            println!(
                "{} ({}), product {}",
                campaign.name, campaign.id, campaign.product
            );
            let g = &described.groups;
            println!(
                "groups: {} treated, {} held out ({:.0}% configured)",
                g.treated,
                g.holdout,
                campaign.holdout_share * 100.0
            );
            if let Some(split) = &described.sample_ratio {
                println!(
                    "split check: observed {:.1}% held out, p = {:.3}{}",
                    split.observed_share * 100.0,
                    split.p_value,
                    if split.mismatch {
                        " — MISMATCH: the split is broken, do not trust the lift"
                    } else {
                        ""
                    }
                );
            }
            for w in &described.waves {
                let state = match w.summary.as_ref().and_then(|s| s.as_object()) {
                    Some(s) => format!(
                        "ran: {} decided, {} held back, {} with nothing allowed",
                        s["decided"], s["held_back"], s["nothing_allowed"]
                    ),
                    None => "scheduled".into(),
                };
                println!("  wave {} {:<12} at {}  {state}", w.number, w.name, w.at);
            }
        }
        CampaignAction::RunWave { id, number } => {
            let id = parse_identifier("id", &id)?;
            let campaign = store
                .get_campaign(id.clone())
                .await?
                .with_context(|| format!("id: no campaign {id:?}"))?;
            let (wave, ran_now) = run_wave_for(&store, engine, &campaign, number, now()).await?;
            println!(
                "wave {number} of {id} {}: {}",
                if ran_now { "ran" } else { "had already run" },
                wave.summary
            );
        }
    }
    Ok(())
}
