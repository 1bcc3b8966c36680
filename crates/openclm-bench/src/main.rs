//! `openclm-bench`: OpenCLM's rerunnable benchmarks, outside the production binary. Run as
//! `cargo run --release -p openclm-bench -- <benchmark> [flags]`.
//!
//! The benchmarks that measure a server or an export as a separate process start this same
//! binary again with the hidden `openclm` subcommand, which runs the `openclm` library's command
//! line unchanged: `cargo run -p openclm-bench` builds everything the measurement needs, and the
//! child runs the code of the release it measures, with the same allocator.

mod cli;
mod decide;
mod decide_http;
mod export;
mod harness;
mod ingest;
mod kpis;
mod memory;
mod pages;
mod segment;

use clap::Parser;
use cli::{Benchmark, Cli, Command};

// As in the `openclm` binary, so the servers the benchmarks start allocate as in production.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    let benchmark = match command {
        Command::Openclm { args } => {
            let cli = openclm::cli::Cli::parse_from(std::iter::once("openclm".into()).chain(args));
            return openclm::run(cli).await;
        }
        Command::Benchmark(benchmark) => benchmark,
    };
    // Logging as `openclm` sets it up: its settings' filter, overridden by `RUST_LOG`.
    let config = std::env::var_os("OPENCLM_CONFIG").map(std::path::PathBuf::from);
    let settings = openclm::settings::Settings::load(config.as_deref(), Default::default())?;
    openclm::init_tracing(&settings.log);
    match benchmark {
        Benchmark::Ingest(args) => ingest::run(args).await,
        Benchmark::Segment(args) => segment::run(args).await,
        Benchmark::Memory(args) => memory::run(args).await,
        Benchmark::Decide(args) => decide::run(args),
        Benchmark::Kpis(args) => kpis::run(args).await,
        Benchmark::Pages(args) => pages::run(args).await,
        Benchmark::DecideHttp(args) => decide_http::run(args).await,
        Benchmark::Export(args) => export::run(args).await,
    }
}
