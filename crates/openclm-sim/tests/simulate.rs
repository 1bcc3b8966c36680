//! The simulator: reproducible, and in a world whose truth is known, the loop learns.

use openclm_core::Timestamp;
use openclm_sim::simulate::{Policy, PolicyRun, SimConfig, WorldParams, incremental, run};

fn config(hcps: usize, weeks: u32, world: &str) -> SimConfig {
    SimConfig {
        hcps,
        weeks,
        seed: 7,
        world: WorldParams::named(world).unwrap(),
        policies: Policy::ALL.to_vec(),
        holdout: 0.1,
        start: Timestamp::parse("start", "2026-01-05T00:00:00Z").unwrap(),
    }
}

/// Mean weekly engagement rate over weeks `from..to` (0-based).
fn engagement(run: &PolicyRun, from: usize, to: usize) -> f64 {
    let weeks = &run.weeks[from..to];
    let touches: u64 = weeks.iter().map(|w| w.touches).sum();
    let responses: u64 = weeks.iter().map(|w| w.responses).sum();
    responses as f64 / touches.max(1) as f64
}

#[test]
fn the_same_seed_gives_the_same_results() {
    let c = config(300, 6, "default");
    assert_eq!(run(&c, &|_| {}).unwrap(), run(&c, &|_| {}).unwrap());
    let other = SimConfig {
        seed: 8,
        ..c.clone()
    };
    assert_ne!(run(&c, &|_| {}).unwrap(), run(&other, &|_| {}).unwrap());
}

#[test]
fn in_the_default_world_the_oracle_leads_then_the_loop_then_rules_then_broadcast() {
    let c = config(3000, 20, "default");
    let runs = run(&c, &|_| {}).unwrap();
    let e: Vec<f64> = runs.iter().map(|r| engagement(r, 12, 20)).collect();
    for r in &runs {
        eprintln!("{:?}: {:?}", r.policy, r.summary(&c.world));
        let weekly: Vec<String> = r
            .weeks
            .iter()
            .map(|w| format!("{:.2}", w.engagement_rate()))
            .collect();
        eprintln!("  {}", weekly.join(" "));
    }
    let [bau, rules, closed, oracle] = [e[0], e[1], e[2], e[3]];
    assert!(oracle >= closed, "oracle {oracle} vs loop {closed}");
    assert!(closed >= rules, "loop {closed} vs rules {rules}");
    assert!(rules >= bau, "rules {rules} vs broadcast {bau}");
}

#[test]
fn incremental_prescriptions_are_the_treated_minus_the_controls_rate() {
    // 90 treated wrote 450; 10 controls wrote 40 (4 each): 450 − 4 × 90 = 90 more.
    assert_eq!(incremental(450.0, 90, 40.0, 10), 90.0);
    // Everyone in control, or nobody: nothing to compare.
    assert_eq!(incremental(0.0, 0, 40.0, 10), 0.0);
    assert_eq!(incremental(450.0, 90, 0.0, 0), 0.0);
}
