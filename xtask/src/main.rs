//! pdfq's project tasks, run as `cargo xtask <task>`. One module per task; no shell strings.

mod bench;
mod chaos;
mod ci;
mod deploy;
mod fuzz;
mod load;
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
    Deploy(Box<deploy::Args>),
    /// Installs the Railway CLI the deploy was checked against (crates.io: railwayapp, pinned;
    /// a long build) and passes every command line `deploy` can produce through its argument
    /// parser with no credentials: fails on any usage error. Not part of CI.
    RailwayCliCheck(deploy::cli_check::Args),
    /// The chaos suite: the API and two workers on throwaway PostgreSQL and Redis, 1,000 jobs
    /// (some poison) while workers are killed and stopped, Redis loses its data and PostgreSQL
    /// restarts and is cut off; nothing may be lost or written twice, no 5xx but 503.
    Chaos(chaos::Args),
    /// API fuzzing: schemathesis (`pip install schemathesis`) drives the OpenAPI document
    /// against `pdfctl up` with every check; fails on any 5xx or answer that breaks the schema.
    Fuzz(fuzz::Args),
    /// The load suite: many users uploading and polling at once (rate limit raised) against the
    /// API and two workers on throwaway PostgreSQL and Redis; throughput, p50/p95/p99, error
    /// rate, and the memory of every process over time, which must stay flat.
    Load(load::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Ci(args) => ci::run(&args),
        Task::Bench { which } => bench::run(which),
        Task::Deploy(args) => deploy::run(&args),
        Task::RailwayCliCheck(args) => deploy::cli_check::run(&args),
        Task::Chaos(args) => chaos::run(&args),
        Task::Fuzz(args) => fuzz::run(&args),
        Task::Load(args) => load::run(&args),
    }
}
