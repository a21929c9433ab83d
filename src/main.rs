//! The `topup` binary: parse the command line, set up logging, run.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = topup::cli::Cli::parse();
    topup::supervisor::init_tracing();
    if let Err(failure) = topup::cli::run(cli).await {
        eprintln!("error: {}", failure.message);
        std::process::exit(failure.code);
    }
}
