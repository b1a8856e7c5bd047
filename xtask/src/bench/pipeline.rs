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

    /// Also run the original design's Python stack (xtask/python_stack: Celery prefork 2,
    /// SQLAlchemy, pypdf; installed from PyPI when missing) on the same 1-, 10- and 100-page
    /// PDFs, services and machine, and print pdfq's jobs per second as a multiple of it.
    #[arg(long)]
    python_stack: bool,

    /// Jobs of each size for the Python stack (a tenth of them for 100 pages).
    #[arg(long, default_value_t = 50)]
    python_jobs: usize,
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
    let mut rows = rows_from_markdown("pipeline", &printed);
    if args.python_stack {
        let python = python_stack(&root, &target, &services, args.python_jobs)?;
        print!("{python}");
        for pages in [1, 10, 100] {
            let label = format!("{pages}-page jobs");
            if let (Some(ours), Some(theirs)) = (
                jobs_per_second(&printed, &label),
                jobs_per_second(&python, &label),
            ) {
                let line = format!(
                    "| {label}: pdfq jobs per second over the Python stack's (concurrency 2 each) | {:.1}x |",
                    ours / theirs
                );
                println!("{line}");
                rows.extend(rows_from_markdown("pipeline", &line));
            }
        }
        rows.extend(rows_from_markdown("pipeline", &python));
    }
    Ok(rows)
}

/// The jobs per second of the row naming `label` (`| ... {label} (...) ... | 12.3; ... |`).
fn jobs_per_second(table: &str, label: &str) -> Option<f64> {
    let row = table
        .lines()
        .find(|line| line.contains(&format!(" {label} (")))?;
    let value = row.trim_end_matches('|').rsplit('|').next()?;
    value.split(';').next()?.trim().parse().ok()
}

/// Runs xtask/python_stack/drive.py on the benchmark's PDFs; returns the rows it printed.
fn python_stack(
    root: &std::path::Path,
    target: &std::path::Path,
    services: &TestServices,
    jobs: usize,
) -> anyhow::Result<String> {
    let modules = ["celery", "redis", "sqlalchemy", "psycopg2", "pypdf"];
    let present = Command::new("python3")
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let installed = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet"])
            .args([
                "celery[redis]==5.*",
                "sqlalchemy==2.*",
                "psycopg2-binary",
                "pypdf==5.*",
            ])
            .status()
            .context("running pip")?;
        if !installed.success() {
            bail!("could not install the Python stack's packages from PyPI");
        }
    }
    let dir = target.join("bench-python-stack");
    std::fs::create_dir_all(&dir)?;
    let books = dir.to_string_lossy().into_owned();
    let written = Command::new(target.join("release/examples/bench_pipeline"))
        .args(["--write-books", &books])
        .status()?;
    if !written.success() {
        bail!("writing the benchmark's PDFs failed");
    }
    let output = Command::new("python3")
        .arg(root.join("xtask/python_stack/drive.py"))
        .args(["--admin-url", &services.database_url])
        .args(["--redis-url", &services.redis_url])
        .args(["--jobs", &jobs.to_string()])
        .args([1, 10, 100].map(|pages| format!("{pages}={books}/book-{pages}.pdf")))
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running xtask/python_stack/drive.py")?;
    if !output.status.success() {
        bail!("the Python stack's run failed ({})", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
