//! `openclm simulate`: the policies side by side in a synthetic world whose truth is known; a
//! table, a CSV of every policy's weeks and an SVG chart of weekly engagement.

use anyhow::Context;
use openclm_sim::simulate::{Policy, PolicyRun, SimConfig, WorldParams};
use openclm_store::SimulationRun;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

use crate::cli::SimulateArgs;
use crate::import::progress_bar;

/// Reads a named world (`default`, `sparse`, `noisy`) or a TOML file of parameters (unset ones
/// take the defaults).
pub fn world(name: &str) -> anyhow::Result<WorldParams> {
    if name.ends_with(".toml") {
        let text =
            std::fs::read_to_string(name).with_context(|| format!("world: cannot read {name}"))?;
        return WorldParams::from_toml(&text).with_context(|| format!("world: {name}"));
    }
    Ok(WorldParams::named(name)?)
}

/// Runs the simulation the arguments describe, prints its table and writes its files; returns
/// the run as the dashboard keeps it.
pub fn run(args: SimulateArgs) -> anyhow::Result<SimulationRun> {
    anyhow::ensure!(args.hcps >= 10, "hcps: at least 10");
    anyhow::ensure!((1..=520).contains(&args.weeks), "weeks: between 1 and 520");
    let policies = match &args.policies {
        None => Policy::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|p| Policy::parse("policies", p.trim()))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let config = SimConfig {
        hcps: args.hcps,
        weeks: args.weeks,
        seed: args.seed,
        world: world(&args.world)?,
        policies,
        holdout: args.holdout,
        start: openclm_core::Timestamp::parse("start", "2026-01-05T00:00:00Z")?,
        economics: args.economics,
    };
    let total = (config.hcps as u64) * u64::from(config.weeks) * config.policies.len() as u64;
    let bar = progress_bar(total, "HCP-weeks");
    let started = std::time::Instant::now();
    let runs = openclm_sim::simulate::run(&config, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    println!(
        "simulated {} HCPs × {} weeks, world {}, seed {}, holdout {:.0}%{}: {} policies in {:.1} s",
        config.hcps,
        config.weeks,
        args.world,
        config.seed,
        config.holdout * 100.0,
        if config.economics {
            format!(
                ", economics (a response worth €{:.0})",
                config.world.response_value()
            )
        } else {
            String::new()
        },
        runs.len(),
        elapsed.as_secs_f64()
    );
    print_table(&runs, &config.world);
    print_targets(&runs);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("out: cannot create {}", args.out.display()))?;
    let csv = args.out.join("simulation.csv");
    write_csv(&csv, &runs)?;
    let svg = args.out.join("engagement.svg");
    write_chart(&svg, &runs)?;
    println!(
        "weekly figures: {}   chart: {}",
        csv.display(),
        svg.display()
    );
    Ok(record(&config, &args.world, &runs))
}

/// A finished run as the dashboard's simulator page shows it: the set-up, each policy's summary
/// and its weekly engagement.
pub fn record(config: &SimConfig, world: &str, runs: &[PolicyRun]) -> SimulationRun {
    let policies: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            let s = r.summary(&config.world);
            serde_json::json!({
                "policy": r.policy.as_str(),
                "reach": s.reach,
                "engagement_rate": s.engagement_rate,
                "touches_per_hcp": s.touches_per_hcp,
                "opt_out_rate": s.opt_out_rate,
                "incremental_rx": s.incremental_rx,
                "cost": s.cost,
                "romi": s.romi,
                "weekly_engagement": r.weeks.iter().map(|w| w.engagement_rate()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let ran_at = crate::now();
    SimulationRun {
        run_id: format!("sim-{}-{}", ran_at.millis(), config.seed),
        ran_at,
        body: serde_json::json!({
            "hcps": config.hcps,
            "weeks": config.weeks,
            "world": world,
            "seed": config.seed,
            "holdout": config.holdout,
            "economics": config.economics,
            "policies": policies,
        }),
    }
}

/// A small simulation for the demo (every policy, the default world, with its economics), kept
/// in the database.
pub async fn demo_run(store: &openclm_store::AnyStore, seed: u64) -> anyhow::Result<()> {
    use openclm_store::prelude::*;
    let config = SimConfig {
        hcps: 2_000,
        weeks: 20,
        seed,
        world: WorldParams::named("default")?,
        policies: Policy::ALL.to_vec(),
        holdout: 0.1,
        start: openclm_core::Timestamp::parse("start", "2026-01-05T00:00:00Z")?,
        // Costs and ROMI on the simulator page mean something only when the loop weighs them.
        economics: true,
    };
    let run = tokio::task::spawn_blocking(move || {
        openclm_sim::simulate::run(&config, &|_| {}).map(|runs| record(&config, "default", &runs))
    })
    .await??;
    store.record_simulation(run).await?;
    Ok(())
}

fn print_table(runs: &[PolicyRun], world: &WorldParams) {
    println!(
        "{:<18} {:>6} {:>11} {:>10} {:>8} {:>13} {:>12} {:>7} {:>11}",
        "policy",
        "reach",
        "engagement",
        "touches/HCP",
        "opt-out",
        "incr. Rx",
        "cost €",
        "ROMI",
        "week 16 eng."
    );
    for r in runs {
        let s = r.summary(world);
        let week16 = r.weeks.get(15).map_or(0.0, |w| w.engagement_rate());
        println!(
            "{:<18} {:>5.1}% {:>10.1}% {:>10.2} {:>7.2}% {:>13.0} {:>12.0} {:>7.2} {:>10.1}%",
            r.policy.as_str(),
            s.reach * 100.0,
            s.engagement_rate * 100.0,
            s.touches_per_hcp,
            s.opt_out_rate * 100.0,
            s.incremental_rx,
            s.cost,
            s.romi,
            week16 * 100.0
        );
    }
}

/// The closed loop against the oracle, the ideal learner and business as usual in week 16, when
/// they ran.
fn print_targets(runs: &[PolicyRun]) {
    let week16 = |policy: Policy| {
        runs.iter()
            .find(|r| r.policy == policy)
            .and_then(|r| r.weeks.get(15))
            .map(|w| w.engagement_rate())
    };
    if let (Some(closed), Some(oracle)) = (week16(Policy::ClosedLoop), week16(Policy::Oracle)) {
        println!(
            "week 16: closed loop at {:.0}% of the oracle's engagement (target: 80%)",
            closed / oracle.max(f64::MIN_POSITIVE) * 100.0
        );
    }
    if let (Some(closed), Some(ideal)) = (week16(Policy::ClosedLoop), week16(Policy::IdealLearner))
    {
        println!(
            "week 16: closed loop at {:.0}% of the ideal learner's engagement",
            closed / ideal.max(f64::MIN_POSITIVE) * 100.0
        );
    }
    if let (Some(closed), Some(bau)) = (week16(Policy::ClosedLoop), week16(Policy::BusinessAsUsual))
    {
        println!(
            "week 16: closed loop at {:.1}× business as usual's engagement (target: 3×)",
            closed / bau.max(f64::MIN_POSITIVE)
        );
    }
}

fn write_csv(path: &Path, runs: &[PolicyRun]) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record([
        "policy",
        "week",
        "touches",
        "responses",
        "engagement_rate",
        "opt_outs",
        "rx_treated",
        "rx_control",
        "treated",
        "control",
        "cost",
    ])?;
    for r in runs {
        for (i, week) in r.weeks.iter().enumerate() {
            w.write_record([
                r.policy.as_str().to_owned(),
                (i + 1).to_string(),
                week.touches.to_string(),
                week.responses.to_string(),
                format!("{:.4}", week.engagement_rate()),
                week.opt_outs.to_string(),
                week.rx_treated.to_string(),
                week.rx_control.to_string(),
                r.treated.to_string(),
                r.control.to_string(),
                format!("{:.2}", week.cost),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

fn write_chart(path: &PathBuf, runs: &[PolicyRun]) -> anyhow::Result<()> {
    let weeks = runs.iter().map(|r| r.weeks.len()).max().unwrap_or(1).max(2);
    let top = runs
        .iter()
        .flat_map(|r| r.weeks.iter().map(|w| w.engagement_rate()))
        .fold(0.1_f64, f64::max)
        * 1.1;
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|e| anyhow::anyhow!("chart: {e}"))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Weekly engagement rate (responses per touch) by policy",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(1..weeks, 0.0..top)
        .map_err(|e| anyhow::anyhow!("chart: {e}"))?;
    chart
        .configure_mesh()
        .x_desc("week")
        .y_desc("engagement rate")
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()
        .map_err(|e| anyhow::anyhow!("chart: {e}"))?;
    const COLOURS: [RGBColor; 5] = [RED, BLUE, GREEN, MAGENTA, BLACK];
    for (i, r) in runs.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points = r
            .weeks
            .iter()
            .enumerate()
            .map(|(i, w)| (i + 1, w.engagement_rate()));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("chart: {e}"))?
            .label(r.policy.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| anyhow::anyhow!("chart: {e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("chart: {e}"))?;
    Ok(())
}
