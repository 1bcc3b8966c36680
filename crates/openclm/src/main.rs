use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = openclm::cli::Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(openclm::run(cli))
}
