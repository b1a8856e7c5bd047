//! `cargo xtask bench pipeline`: many small jobs through one release worker process at
//! concurrency 2 on the local PostgreSQL and Redis; jobs per second, overhead per job against
//! the bare extraction, and enqueue-to-start latency. The work is in
//! crates/pdfq-worker/examples/bench_pipeline.rs, which needs the workspace's crates.

use std::process::Command;

use anyhow::{Context, bail};

use super::summary::{Row, rows_from_markdown};
use crate::services::TestServices;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many jobs to run.
    #[arg(long, default_value_t = 300)]
    jobs: usize,
}

pub fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let built = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-p",
            "pdfq-worker",
            "--bins",
            "--examples",
        ])
        .status()
        .context("running cargo build")?;
    if !built.success() {
        bail!("building the release worker failed");
    }
    let services = TestServices::ensure(false)?;
    let root = std::env::current_dir()?;
    let target = crate::paths::target_dir(&root);
    let output = Command::new(target.join("release/examples/bench_pipeline"))
        .args(["--jobs", &args.jobs.to_string(), "--worker-bin"])
        .arg(target.join("release/pdfq-worker"))
        .env("TEST_DATABASE_URL", &services.database_url)
        .env("TEST_REDIS_URL", &services.redis_url)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the pipeline benchmark")?;
    let printed = String::from_utf8_lossy(&output.stdout);
    print!("{printed}");
    if !output.status.success() {
        bail!("the pipeline benchmark failed ({})", output.status);
    }
    Ok(rows_from_markdown("pipeline", &printed))
}
