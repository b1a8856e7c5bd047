//! `cargo xtask bench all`: extraction against pdftotext, the pipeline against the bare
//! extraction, the API's requests per second and memory, and the load suite (throughput,
//! latency, memory of the API and workers at idle and under load); then one Markdown table,
//! written to target/bench/summary.md and into the README's performance section.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use clap::Parser;

use super::summary::{self, Row, rows_from_markdown};
use super::{api, extract, pipeline};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Leave the README alone (the table still goes to target/bench/summary.md).
    #[arg(long)]
    no_readme: bool,
    /// Seconds the load suite measures, after its 30 s warm-up.
    #[arg(long, default_value_t = 120)]
    load_secs: u64,
}

/// A benchmark's own options at their defaults, as if run with no flags.
fn defaults<T: clap::Args>() -> anyhow::Result<T> {
    #[derive(Debug, Parser)]
    struct Wrap<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    Ok(Wrap::<T>::try_parse_from(["bench"])?.inner)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = std::env::current_dir()?;
    let target = crate::paths::target_dir(&root);
    let out = target.join("bench");
    std::fs::create_dir_all(&out)?;

    let mut rows: Vec<Row> = Vec::new();
    eprintln!("bench all: extraction");
    rows.extend(extract::run(&defaults::<extract::Args>()?)?);
    eprintln!("bench all: pipeline");
    rows.extend(pipeline::run(&defaults::<pipeline::Args>()?)?);
    eprintln!("bench all: api");
    rows.extend(api::run(&defaults::<api::Args>()?)?);
    eprintln!("bench all: load");
    rows.extend(load(&target, &out, args.load_secs)?);

    let measured_on = format!(
        "Measured by `cargo xtask bench all` on {} ({} cores), commit {}; each baseline in the same run.",
        today()?,
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        commit()?
    );
    let table = summary::markdown(&rows, &measured_on);
    let summary_path = out.join("summary.md");
    std::fs::write(&summary_path, &table)?;
    println!("\n{table}");
    eprintln!("bench all: table written to {}", summary_path.display());
    if !args.no_readme {
        summary::write_readme(&root.join("README.md"), &table)?;
        eprintln!("bench all: README.md's performance table updated");
    }
    Ok(())
}

/// The load suite at its defaults but for the measured time; its Markdown rows.
fn load(target: &std::path::Path, out: &std::path::Path, secs: u64) -> anyhow::Result<Vec<Row>> {
    crate::load::build_release()?;
    let markdown: PathBuf = out.join("load.md");
    let status = Command::new(target.join("release").join("pdfq-load"))
        .arg("--bin-dir")
        .arg(target.join("release"))
        .arg("--log-dir")
        .arg(target.join("load"))
        .args(["--duration", &format!("{secs}s"), "--markdown"])
        .arg(&markdown)
        .status()
        .context("running pdfq-load")?;
    if status.code() == Some(2) || status.code().is_none() {
        bail!("the load suite could not run ({status})");
    }
    let text = std::fs::read_to_string(&markdown)
        .with_context(|| format!("reading {}", markdown.display()))?;
    let mut rows = rows_from_markdown("load", &text);
    if !status.success() {
        rows.push(Row::new("load", "verdict", "FAILED (see its report)"));
    }
    Ok(rows)
}

fn today() -> anyhow::Result<String> {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .context("running date")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn commit() -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .context("running git")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
