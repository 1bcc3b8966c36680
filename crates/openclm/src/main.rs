use clap::Parser;

// Ingest allocates many small strings per event on several threads; mimalloc serves that
// pattern markedly faster than the system allocator (see docs/src/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = openclm::cli::Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(openclm::run(cli))
}
