//! Every `openclm-bench` subcommand runs here at a tiny size through the built binary, so none
//! can rot unnoticed: the list comes from the binary's own help, and a benchmark without a tiny
//! run below fails the test. Benchmarks that take a PostgreSQL URL also run against the test
//! database when `OPENCLM_TEST_DATABASE_URL` is set.

use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_openclm-bench");

/// A benchmark's tiny run: its arguments, what its figures lines say, and whether it takes
/// `--database-url postgres://…`.
struct Tiny {
    name: &'static str,
    args: &'static [&'static str],
    figures: &'static [&'static str],
    postgres: bool,
}

const TINY: &[Tiny] = &[
    Tiny {
        name: "ingest",
        args: &[
            "--events",
            "600",
            "--batch",
            "100",
            "--clients",
            "2",
            "--hcps",
            "50",
        ],
        figures: &[
            "HTTP:  600 events accepted in",
            "store: 600 events accepted in",
            "HTTP / store = ",
        ],
        postgres: true,
    },
    Tiny {
        name: "segment",
        args: &[
            "--events",
            "400",
            "--batch",
            "100",
            "--clients",
            "2",
            "--hcps",
            "50",
        ],
        figures: &["HTTP:  400 messages stored in", "events/s"],
        postgres: true,
    },
    Tiny {
        name: "memory",
        args: &["--hcps", "50", "--ingest", "1000", "--settle-secs", "0"],
        figures: &[
            "serve at rest with 50 HCPs: RSS ",
            "serve after 1000 events in a separate process",
        ],
        postgres: false,
    },
    Tiny {
        name: "decide",
        args: &["--hcps", "50", "--content", "10", "--decisions", "100"],
        figures: &["100 decisions on ", "decisions/s; latency p50"],
        postgres: false,
    },
    Tiny {
        name: "kpis",
        args: &["--events", "1000", "--hcps", "50", "--campaigns", "3"],
        figures: &[
            "1000 events folded into the KPIs in",
            "one campaign's KPIs by channel: median",
            "full report of 3 campaigns",
        ],
        postgres: true,
    },
    Tiny {
        name: "pages",
        args: &["--hcps", "10", "--months", "1", "--rounds", "2"],
        figures: &["/overview/live", "/campaigns "],
        postgres: false,
    },
    Tiny {
        name: "decide-http",
        args: &[
            "--hcps",
            "10",
            "--batch",
            "2",
            "--requests",
            "6",
            "--clients",
            "2",
        ],
        figures: &[
            "12 decisions in ",
            "decisions/s; request (2 HCPs) latency p50",
        ],
        postgres: false,
    },
    Tiny {
        name: "export",
        args: &["--events", "500", "--hcps", "50", "--no-scale"],
        figures: &[
            "export events --format csv    : 500 rows in",
            "export events --format ndjson : 500 rows in",
            "export events --format parquet: 500 rows in",
        ],
        postgres: true,
    },
];

/// The subcommands `openclm-bench --help` lists.
fn bench_subcommands() -> Vec<String> {
    let out = Command::new(BIN).args(["--help"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Runs one benchmark and checks that it succeeded and printed its figures.
fn run_tiny(tiny: &Tiny, database_url: Option<&str>) {
    let started = Instant::now();
    let mut command = Command::new(BIN);
    command
        .arg(tiny.name)
        .args(tiny.args)
        .env("OPENCLM_LOG", "warn")
        .env_remove("RUST_LOG")
        .env_remove("OPENCLM_CONFIG")
        .env_remove("OPENCLM_DATABASE_URL");
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let backend = if database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    assert!(
        out.status.success(),
        "bench {} on {backend} failed:\n{stdout}\n{stderr}",
        tiny.name
    );
    for figure in tiny.figures {
        assert!(
            stdout.contains(figure),
            "bench {} on {backend} did not print {figure:?}:\n{stdout}",
            tiny.name
        );
    }
    eprintln!(
        "bench {} on {backend}: {:.1} s",
        tiny.name,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn every_bench_subcommand_runs_at_a_tiny_size_on_sqlite() {
    let listed = bench_subcommands();
    assert!(listed.len() >= 8, "{listed:?}");
    for name in &listed {
        let tiny = TINY.iter().find(|t| t.name == name).unwrap_or_else(|| {
            panic!("bench {name} has no tiny run in tests/bench.rs: add one so it runs in CI")
        });
        run_tiny(tiny, None);
    }
    for tiny in TINY {
        assert!(
            listed.iter().any(|n| n == tiny.name),
            "bench {} is no longer a subcommand",
            tiny.name
        );
    }
}

#[test]
fn every_bench_subcommand_that_takes_postgres_runs_on_it_at_a_tiny_size() {
    let Ok(base) = std::env::var("OPENCLM_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("OPENCLM_REQUIRE_POSTGRES").is_none(),
            "OPENCLM_REQUIRE_POSTGRES is set but OPENCLM_TEST_DATABASE_URL is not"
        );
        eprintln!("skipped: OPENCLM_TEST_DATABASE_URL is not set");
        return;
    };
    for name in bench_subcommands() {
        let help = Command::new(BIN)
            .args([name.as_str(), "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        let tiny = TINY.iter().find(|t| t.name == name).unwrap();
        // The global --database-url is described otherwise; a benchmark's own names PostgreSQL.
        assert_eq!(
            help.contains("Benchmark PostgreSQL at this URL"),
            tiny.postgres,
            "bench {name}: whether it takes PostgreSQL differs from its tiny run"
        );
        if tiny.postgres {
            run_tiny(tiny, Some(&base));
        }
    }
    // Several nodes share one PostgreSQL database.
    let ingest = TINY.iter().find(|t| t.name == "ingest").unwrap();
    let two_nodes = Tiny {
        args: &[
            "--events",
            "400",
            "--batch",
            "100",
            "--clients",
            "2",
            "--hcps",
            "50",
            "--nodes",
            "2",
            "--http-only",
        ],
        figures: &["2 node(s)", "HTTP:  400 events accepted in"],
        ..*ingest
    };
    run_tiny(&two_nodes, Some(&base));
}
