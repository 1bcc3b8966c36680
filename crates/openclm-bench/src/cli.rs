//! The benchmarks' command line: one subcommand per benchmark, with the flags each takes.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;

#[derive(Debug, Parser)]
#[command(
    name = "openclm-bench",
    version,
    about = "OpenCLM's rerunnable benchmarks, measured on this machine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Benchmark(Benchmark),
    /// The `openclm` command line itself, for the servers and exports the benchmarks start as
    /// child processes of this binary (see [`crate::harness::openclm_command`]).
    #[command(hide = true)]
    Openclm {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum Benchmark {
    /// Sustained ingest through HTTP on loopback, and the store-level rate for comparison.
    Ingest(IngestArgs),
    /// The Segment-compatible Tracking API: `/v1/batch` through HTTP on loopback.
    Segment(SegmentArgs),
    /// Resident memory of `openclm serve` at rest with many HCPs loaded.
    Memory(MemoryArgs),
    /// Next-best-action decisions in process: latency per decision and decisions/s on all cores.
    Decide(DecideArgs),
    /// Campaign KPIs: events ingested and folded, then one campaign's KPIs and a full report of
    /// every campaign, timed.
    Kpis(KpisArgs),
    /// The dashboard's pages, each requested many times over the demo world on `openclm serve`.
    Pages(PagesArgs),
    /// Decisions through HTTP: `POST /v1/decide` on `openclm serve` over the demo world.
    DecideHttp(DecideHttpArgs),
    /// `openclm export events` in each format as a child process over N stored events: rows/s
    /// and the child's peak resident memory, at N and at 4N (constant memory shows as equal
    /// peaks).
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Events to send in all.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// HCPs the events are spread over.
    #[arg(long, default_value_t = 100_000)]
    pub hcps: usize,
    /// Skip the store-level run.
    #[arg(long)]
    pub http_only: bool,
    /// Benchmark PostgreSQL at this URL (each run in a fresh schema, dropped afterwards) instead
    /// of a fresh SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,
    /// `openclm serve` processes sharing the database; clients are spread over them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// Messages to send in all.
    #[arg(long, default_value_t = 500_000)]
    pub events: usize,
    /// Messages per `/v1/batch` request (the specification allows 2,500 and 500 KB).
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// HCPs the messages are spread over.
    #[arg(long, default_value_t = 100_000)]
    pub hcps: usize,
    /// Benchmark PostgreSQL at this URL (in a fresh schema, dropped afterwards) instead of a
    /// fresh SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[arg(long, default_value_t = 100_000)]
    pub hcps: usize,
    /// Then send this many events (batches of 1,000, 8 clients) and report the peak.
    #[arg(long, default_value_t = 0)]
    pub ingest: usize,
    /// Seconds to wait after the ingest before reading the resident memory again (time for
    /// the tail to be merged and freed memory to be returned).
    #[arg(long, default_value_t = 10)]
    pub settle_secs: u64,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    #[arg(long, default_value_t = 100_000)]
    pub hcps: usize,
    /// Content items in the library (spread over kinds that reach 6+ channels).
    #[arg(long, default_value_t = 200)]
    pub content: usize,
    /// Decisions to time in all.
    #[arg(long, default_value_t = 200_000)]
    pub decisions: usize,
}

#[derive(Debug, Args)]
pub struct KpisArgs {
    #[arg(long, default_value_t = 10_000_000)]
    pub events: usize,
    #[arg(long, default_value_t = 100_000)]
    pub hcps: usize,
    #[arg(long, default_value_t = 50)]
    pub campaigns: usize,
    /// Benchmark PostgreSQL at this URL (in a fresh schema, dropped afterwards) instead of a
    /// fresh SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct PagesArgs {
    /// HCPs of the demo world.
    #[arg(long, default_value_t = 5000)]
    pub hcps: usize,
    /// Months of history.
    #[arg(long, default_value_t = 6)]
    pub months: u32,
    /// Requests per page.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
}

#[derive(Debug, Args)]
pub struct DecideHttpArgs {
    /// HCPs of the demo world.
    #[arg(long, default_value_t = 5000)]
    pub hcps: usize,
    /// HCPs per request.
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    /// Requests to send in all.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    /// HCPs the events are spread over.
    #[arg(long, default_value_t = 100_000)]
    pub hcps: usize,
    /// Skip the run at 4N.
    #[arg(long)]
    pub no_scale: bool,
    /// Benchmark PostgreSQL at this URL (in a fresh schema, dropped afterwards) instead of a
    /// fresh SQLite file.
    #[arg(long)]
    pub database_url: Option<String>,
}
