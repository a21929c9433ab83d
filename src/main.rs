//! The `topup` binary: parse the command line and run it (logging is set up
//! once the config is read, as `log.format` says).

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = topup::cli::Cli::parse();
    if let Err(failure) = topup::cli::run(cli).await {
        eprintln!("error: {}", failure.message);
        std::process::exit(failure.code);
    }
}
