//! pdfq's project tasks, run as `cargo xtask <task>`. One module per task; no shell strings.

mod bench;
mod ci;
mod deploy;
mod paths;
mod services;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "pdfq's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Every check CI runs: cargo fmt --check, clippy -D warnings, and all tests against real
    /// PostgreSQL and Redis (throwaway servers are started when none is running).
    Ci(ci::Args),
    /// Benchmarks that print figures (never timed tests).
    Bench {
        #[command(subcommand)]
        which: bench::Which,
    },
    /// Deploy: the six-step sequence (project, redis, backend, migrations, worker, verify) on
    /// Railway or, with --target local, on this machine.
    Deploy(deploy::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Ci(args) => ci::run(&args),
        Task::Bench { which } => bench::run(which),
        Task::Deploy(args) => deploy::run(&args),
    }
}
