//! `cargo xtask ci`: every check CI runs, in order: formatting, clippy with warnings denied, and
//! every test, against a real PostgreSQL and Redis (started here when none is running), then the
//! short chaos run (`cargo xtask chaos --short`).

use std::process::Command;

use anyhow::{Context, bail};

use crate::services::TestServices;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Skip `cargo fmt --check` and clippy; run the tests only.
    #[arg(long)]
    tests_only: bool,

    /// Start throwaway PostgreSQL and Redis servers even when the machine runs its own.
    #[arg(long)]
    fresh_services: bool,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    if !args.tests_only {
        step("formatting", cargo(&["fmt", "--all", "--", "--check"]))?;
        step(
            "clippy",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
    }
    // Started after the build-only checks so a formatting slip fails fast; stopped on drop.
    let services = TestServices::ensure(args.fresh_services)
        .context("preparing PostgreSQL and Redis for the tests")?;
    // --no-fail-fast: one failing crate must not hide the others' failures.
    let mut test = cargo(&["test", "--workspace", "--locked", "--no-fail-fast"]);
    test.env("TEST_DATABASE_URL", &services.database_url)
        .env("TEST_REDIS_URL", &services.redis_url);
    step("tests", test)?;
    drop(services);
    // Last, after every test passed: the short chaos run (a deployment on its own throwaway
    // servers, ~100 jobs, a worker killed and Redis lost; under a minute), on dev-profile
    // binaries whose dependencies the tests have just built.
    eprintln!("xtask ci: chaos --short --dev");
    crate::chaos::run(&crate::chaos::Args {
        short: true,
        dev: true,
        ..crate::chaos::Args::default()
    })
    .context("the short chaos run")?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.args(args);
    command
}

fn step(name: &str, mut command: Command) -> anyhow::Result<()> {
    eprintln!("xtask ci: {name}: {command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {name}"))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}
