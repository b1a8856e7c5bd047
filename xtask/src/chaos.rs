//! `cargo xtask chaos`: builds the release API, worker and chaos suite (crate pdfq-proof), then
//! runs the suite: a distributed deployment on throwaway PostgreSQL and Redis, 1,000 jobs, and
//! faults while they run (see crates/pdfq-proof). The full run needs root, `ip` and `nft` for
//! its network namespace; `--short` (part of `cargo xtask ci`) needs none of them.

use std::process::Command;

use anyhow::{Context, bail};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// About 100 jobs and two faults (a worker killed, Redis lost); no namespace needed.
    #[arg(long)]
    pub short: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// How many jobs to submit (default 1,000, or 100 with --short).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Build and run the dev profile instead of release: the tests have already built its
    /// dependencies, so CI saves a second cold build (the suite's verdicts do not depend on
    /// speed; its recovery times do, a little).
    #[arg(long)]
    pub dev: bool,
    /// Keep the deployment's files in a bucket on this S3-compatible endpoint instead of the
    /// database.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let profile = if args.dev { "dev" } else { "release" };
    eprintln!("xtask chaos: building the API, worker and suite ({profile} profile)");
    let built = Command::new(&cargo)
        .args([
            "build",
            "--profile",
            profile,
            "--locked",
            "-p",
            "pdfq-api",
            "-p",
            "pdfq-worker",
            "-p",
            "pdfq-proof",
            "--bins",
        ])
        .status()
        .context("running cargo build")?;
    if !built.success() {
        bail!("building the {profile} binaries failed ({built})");
    }
    let root = std::env::current_dir()?;
    // Cargo puts the dev profile in target/debug.
    let release = crate::paths::target_dir(&root).join(if args.dev { "debug" } else { "release" });
    let mode = if args.short { "short" } else { "full" };
    let mut command = Command::new(release.join("pdfq-chaos"));
    command
        .arg("--bin-dir")
        .arg(&release)
        .arg("--log-dir")
        .arg(crate::paths::target_dir(&root).join("chaos").join(mode));
    if args.short {
        command.arg("--short");
    }
    if args.json {
        command.arg("--json");
    }
    if let Some(endpoint) = &args.s3_endpoint {
        command.args(["--s3-endpoint", endpoint]);
    }
    if let Some(jobs) = args.jobs {
        command.args(["--jobs", &jobs.to_string()]);
    }
    let status = command.status().context("running pdfq-chaos")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!("the chaos suite failed (see its report above)"),
        _ => bail!("the chaos suite could not run ({status})"),
    }
}
