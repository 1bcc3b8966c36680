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
        economics: false,
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
fn in_the_default_world_the_oracle_leads_then_the_learners_then_rules_then_broadcast() {
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
    let [bau, rules, closed, ideal, oracle] = [e[0], e[1], e[2], e[3], e[4]];
    assert!(oracle >= closed, "oracle {oracle} vs loop {closed}");
    assert!(oracle >= ideal, "oracle {oracle} vs ideal learner {ideal}");
    assert!(ideal >= rules, "ideal learner {ideal} vs rules {rules}");
    // The engine's general model does about as well as a learner told the world's laws.
    assert!(
        closed >= 0.9 * ideal,
        "loop {closed} vs ideal learner {ideal}"
    );
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

/// Weighing costs, the closed loop stops paying for touches a response would not repay: it
/// spends a fraction of what it spends seeking responses alone and earns a better return.
#[test]
fn with_economics_the_loop_spends_less_and_returns_more() {
    let seeking = SimConfig {
        policies: vec![Policy::ClosedLoop],
        ..config(2000, 12, "default")
    };
    let weighing = SimConfig {
        economics: true,
        ..seeking.clone()
    };
    let a = run(&seeking, &|_| {}).unwrap()[0].summary(&seeking.world);
    let b = run(&weighing, &|_| {}).unwrap()[0].summary(&weighing.world);
    eprintln!("seeking responses: {a:?}\nweighing costs: {b:?}");
    assert!(b.cost < a.cost / 2.0, "cost {} vs {}", b.cost, a.cost);
    assert!(b.romi > a.romi + 0.5, "ROMI {} vs {}", b.romi, a.romi);
    assert!(b.touches_per_hcp < a.touches_per_hcp);
}

/// The documented world files are the worlds: the default file sets every parameter to the
/// default; sparse and noisy change only what their names say; a bad file names its fault.
#[test]
fn the_world_files_are_the_named_worlds() {
    let default = WorldParams::default();
    assert_eq!(WorldParams::named("default").unwrap(), default);
    // Every parameter is written out in the default file.
    let table: toml::Table = toml::from_str(openclm_sim::simulate::DEFAULT_WORLD).unwrap();
    let fields = serde_json::to_value(&default).unwrap();
    let names: Vec<&String> = fields.as_object().unwrap().keys().collect();
    assert_eq!(table.len(), names.len());
    for name in names {
        assert!(
            table.contains_key(name.as_str()),
            "{name} is not in default.toml"
        );
    }
    let sparse = WorldParams::named("sparse").unwrap();
    assert_eq!(
        (sparse.best_response, sparse.email_consent, sparse.reps_only),
        (0.3, 0.5, 0.2)
    );
    assert_eq!(
        WorldParams {
            best_response: default.best_response,
            email_unreachable: default.email_unreachable,
            reps_only: default.reps_only,
            email_consent: default.email_consent,
            ..sparse
        },
        default
    );
    let noisy = WorldParams::named("noisy").unwrap();
    assert_eq!((noisy.noise, noisy.noise_rate), (0.3, 0.15));
    assert_eq!(
        WorldParams {
            noise: default.noise,
            noise_rate: default.noise_rate,
            specialty_typical: default.specialty_typical,
            ..noisy
        },
        default
    );
    let bad = WorldParams::from_toml("noise = 1.5\n").unwrap_err();
    assert_eq!(bad.to_string(), "noise: must be between 0 and 1");
    let unknown = WorldParams::from_toml("nosie = 0.1\n").unwrap_err();
    assert!(unknown.to_string().contains("nosie"), "{unknown}");
    assert!(WorldParams::named("stormy").is_err());
}
