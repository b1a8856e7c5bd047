//! `cargo xtask bench pipeline`: many small jobs through one release worker process at
//! concurrency 2 on the local PostgreSQL and Redis; jobs per second, overhead per job against
//! the bare extraction, and enqueue-to-start latency. The work is in
//! crates/pdfq-worker/examples/bench_pipeline.rs, which needs the workspace's crates.

use std::path::{Path, PathBuf};
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

    /// The corpus directory (holding MANIFEST.tsv and pdf/), relative to the repo root: 1-,
    /// 10- and 100-page documents are cut from its text documents with qpdf for the "corpus
    /// jobs" rows. Skipped, with a note, when it is missing.
    #[arg(long, default_value = "../shared/corpus")]
    corpus: PathBuf,
}

/// Sizes of the jobs measured, in pages.
const SIZES: [u64; 3] = [1, 10, 100];

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
    let corpus = root.join(&args.corpus);
    let documents = if corpus.join("MANIFEST.tsv").is_file() {
        super::corpus_jobs::documents(&corpus, &target.join("bench-corpus-jobs"), &SIZES)?
    } else {
        eprintln!(
            "bench pipeline: no corpus at {}: the corpus-job rows are skipped (pass --corpus)",
            corpus.display()
        );
        Vec::new()
    };
    let mut bench = Command::new(target.join("release/examples/bench_pipeline"));
    if !documents.is_empty() {
        bench.args(["--documents", &documents_arg(&documents)]);
    }
    let output = bench
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
        let python = python_stack(&root, &target, &services, args.python_jobs, &documents)?;
        print!("{python}");
        let labels = SIZES.iter().flat_map(|pages| {
            [
                format!("{pages}-page jobs"),
                format!("{pages}-page corpus jobs"),
            ]
        });
        for label in labels {
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

/// `1=a.pdf,b.pdf;10=c.pdf,...`, as bench_pipeline reads `--documents`.
fn documents_arg(documents: &[(u64, Vec<PathBuf>)]) -> String {
    documents
        .iter()
        .map(|(pages, files)| format!("{pages}={}", joined(files)))
        .collect::<Vec<_>>()
        .join(";")
}

fn joined(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs xtask/python_stack/drive.py on the benchmark's PDFs; returns the rows it printed.
fn python_stack(
    root: &Path,
    target: &Path,
    services: &TestServices,
    jobs: usize,
    documents: &[(u64, Vec<PathBuf>)],
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
        .args(SIZES.map(|pages| format!("{pages}-page jobs={books}/book-{pages}.pdf")))
        .args(
            documents
                .iter()
                .map(|(pages, files)| format!("{pages}-page corpus jobs={}", joined(files))),
        )
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running xtask/python_stack/drive.py")?;
    if !output.status.success() {
        bail!("the Python stack's run failed ({})", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
