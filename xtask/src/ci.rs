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
    install_client_test_programs();
    // Started after the build-only checks so a formatting slip fails fast; stopped on drop.
    let services = TestServices::ensure(args.fresh_services)
        .context("preparing PostgreSQL, Redis and the S3 server for the tests")?;
    // --no-fail-fast: one failing crate must not hide the others' failures.
    let mut test = cargo(&["test", "--workspace", "--locked", "--no-fail-fast"]);
    test.env("TEST_DATABASE_URL", &services.database_url)
        .env("TEST_REDIS_URL", &services.redis_url)
        .env("TEST_S3_URL", &services.s3_url)
        // CI reaches the registries: the OpenAPI client and Chromium tests must run, not skip,
        // and so must the tests of files in an S3-compatible bucket.
        .env("PDFQ_REQUIRE_OPENAPI_TOOLS", "1")
        .env("PDFQ_REQUIRE_S3", "1");
    step("tests", test)?;
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
    // Again with the files in the S3-compatible server the tests used.
    eprintln!(
        "xtask ci: chaos --short --dev --s3-endpoint {}",
        services.s3_url
    );
    crate::chaos::run(&crate::chaos::Args {
        short: true,
        dev: true,
        s3_endpoint: Some(services.s3_url.clone()),
        ..crate::chaos::Args::default()
    })
    .context("the short chaos run with files in a bucket")?;
    drop(services);
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

/// The programs the OpenAPI client and reference-page tests run (pdfq-e2e installs the npm and
/// PyPI packages itself, under the target directory), and poppler's pdftotext, against which
/// pdfq-extract's provenance test checks its boxes, as Debian packages.
const CLIENT_TEST_PROGRAMS: &[(&str, &str)] = &[
    ("node", "nodejs"),
    ("npm", "npm"),
    ("python3", "python3-pip"),
    ("chromium", "chromium"),
    ("pdftotext", "poppler-utils"),
];

/// Installs the missing [`CLIENT_TEST_PROGRAMS`] with apt-get where there is one; elsewhere
/// the tests that need them fail, saying which program is missing.
fn install_client_test_programs() {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
    };
    let pip = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = CLIENT_TEST_PROGRAMS
        .iter()
        .filter(|(program, _)| !on_path(program) || (*program == "python3" && !pip))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() || !on_path("apt-get") {
        return;
    }
    eprintln!("xtask ci: installing {missing:?} for the OpenAPI client tests");
    let installed = Command::new("apt-get")
        .arg("update")
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .status()
            .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("xtask ci: could not install {missing:?}; the tests that need them will fail");
    }
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
