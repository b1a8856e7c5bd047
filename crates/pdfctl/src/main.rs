//! pdfctl: the operator's tool for pdfq.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The hidden subcommand pdfctl re-executes itself with to extract in an isolated child.
pub const EXTRACT_CHILD: &str = "extract-child";

/// pdfctl: run pdfq embedded, extract PDFs locally, submit and inspect jobs, operate a
/// deployment.
#[derive(Debug, Parser)]
#[command(name = "pdfctl", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API and a worker in one process: on SQLite and an in-process queue by default,
    /// or on PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set.
    Up(commands::up::Args),
    /// Extract a PDF here, with no server: its text, sentences or chunks.
    Extract(commands::extract::Args),
    /// Split plain text into sentences, one per line.
    Sentences(commands::sentences::Args),
}

fn main() -> ExitCode {
    // The isolated extraction child: no argument parsing, no output but the protocol.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == EXTRACT_CHILD)
    {
        return pdfq_extract::child_main();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => commands::up::run(&args),
        Command::Extract(args) => commands::extract::run(&args),
        Command::Sentences(args) => commands::sentences::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pdfctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
