//! `tokenctl`: the admin CLI. It reads the same configuration as the functions and falls
//! back to the local stack (`make dev`) for anything unset.

mod commands;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tokenctl: {message}");
            ExitCode::FAILURE
        }
    }
}
