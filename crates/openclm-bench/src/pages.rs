//! `pages`, the dashboard benchmark: the demo built in a fresh database and served by `openclm serve`;
//! then each page, signed in as an admin (who sees every section), requested again and again
//! on loopback. Reports the median and the slowest time per page against the 200 ms target.

use anyhow::Context;
use openclm::now;
use openclm_store::prelude::*;
use openclm_store::{AnyStore, PageRequest};
use std::time::{Duration, Instant};

use crate::cli::PagesArgs;
use crate::harness::{Target, start_node};

/// A page must answer within this (server time, measured on loopback).
const TARGET: Duration = Duration::from_millis(200);

pub async fn run(args: PagesArgs) -> anyhow::Result<()> {
    let PagesArgs {
        hcps,
        months,
        rounds,
    } = args;
    anyhow::ensure!(
        hcps >= 10 && rounds >= 1,
        "hcps: at least 10; rounds: at least 1"
    );
    let target = Target::fresh(None, "pages").await?;
    let (password, rep, hcp, content) = {
        let store = target.open().await?;
        let config = openclm_sim::WorldConfig {
            hcps,
            months,
            seed: 7,
            now: now(),
        };
        let engine = openclm::settings::Settings::default().engine();
        let demo = openclm::demo::populate(&store, &engine, config).await?;
        let hcp = store
            .list_hcps(
                openclm_store::HcpFilter::default(),
                PageRequest {
                    cursor: None,
                    limit: 1,
                },
            )
            .await?
            .items
            .into_iter()
            .next()
            .map(|h| h.id.to_string())
            .unwrap_or_default();
        let content = first_content(&store).await?;
        (demo.password, demo.rep, hcp, content)
    };
    let (_node, base) = start_node(&target.url).await?;
    // Redirects are not followed: a page that sent the request to the login form is a failure.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = client
        .post(format!("{base}/v1/login"))
        .json(&serde_json::json!({"user_id": "admin", "password": password}))
        .send()
        .await?
        .error_for_status()?
        .json::<serde_json::Value>()
        .await?;
    let token = login["token"].as_str().unwrap_or_default().to_owned();
    let cookie = format!("openclm_session={token}");
    let pages = [
        "/".to_owned(),
        "/campaigns".into(),
        "/campaigns/demo-launch".into(),
        "/hcps".into(),
        format!("/hcps/{hcp}"),
        "/content".into(),
        format!("/content/{content}"),
        "/pv".into(),
        format!("/rep?rep={rep}"),
        "/simulator".into(),
        format!("/audit?record=content/{content}"),
        "/overview/live".into(),
    ];
    println!(
        "dashboard pages over the demo world ({hcps} HCPs, {months} months), {rounds} requests each after one warm-up:"
    );
    println!(
        "{:<36} {:>10} {:>10}  target 200 ms",
        "page", "median", "slowest"
    );
    let mut over = Vec::new();
    for page in &pages {
        let mut times = Vec::with_capacity(rounds);
        for round in 0..=rounds {
            let started = Instant::now();
            let r = client
                .get(format!("{base}{page}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            let status = r.status();
            let body = r.bytes().await?;
            let took = started.elapsed();
            anyhow::ensure!(status == 200, "{page} answered {status}");
            // Every page is the signed-in person's (the live figures are JSON).
            anyhow::ensure!(
                page.starts_with("/overview/live") || body.windows(8).any(|w| w == b"Sign out"),
                "{page} is not a signed-in page"
            );
            if round > 0 {
                times.push(took);
            }
        }
        times.sort();
        let (median, slowest) = (times[times.len() / 2], times[times.len() - 1]);
        println!(
            "{page:<36} {:>7.1} ms {:>7.1} ms  {}",
            median.as_secs_f64() * 1e3,
            slowest.as_secs_f64() * 1e3,
            if median <= TARGET { "met" } else { "MISSED" }
        );
        if median > TARGET {
            over.push(page.clone());
        }
    }
    target.remove().await?;
    anyhow::ensure!(
        over.is_empty(),
        "pages over 200 ms (median): {}",
        over.join(", ")
    );
    Ok(())
}

/// The id of the library's first item, as the demo stored it.
async fn first_content(store: &AnyStore) -> anyhow::Result<String> {
    let page = store
        .list_content(
            openclm_store::ContentFilter::default(),
            PageRequest {
                cursor: None,
                limit: 1,
            },
            now(),
        )
        .await?;
    page.items
        .into_iter()
        .next()
        .map(|c| c.id)
        .context("the demo stored no content")
}
