//! pdfctl: the operator's tool for pdfq.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// pdfctl: run pdfq embedded, submit and inspect jobs, and operate a deployment.
#[derive(Debug, Parser)]
#[command(name = "pdfctl", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API and a worker in one process on SQLite and an in-process queue.
    Up,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Up => {
            eprintln!("pdfctl up: the embedded service is not built yet (issue 5)");
            ExitCode::FAILURE
        }
    }
}
