//! `cargo xtask load`: builds the release API, worker and load suite (crate pdfq-proof), then
//! runs the suite: many users uploading and polling at once against a distributed deployment on
//! throwaway PostgreSQL and Redis; throughput, latency percentiles, error rate and memory over
//! time (flat: under 10% growth after warm-up). Options after `--` go to the suite
//! (`cargo xtask load -- --help` lists them).

use std::process::Command;

use anyhow::{Context, bail};

#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Options for the suite, e.g. `-- --users 64 --duration 10m --json`.
    #[arg(last = true)]
    pub suite: Vec<String>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = std::env::current_dir()?;
    let release = crate::paths::target_dir(&root).join("release");
    build_release()?;
    let status = Command::new(release.join("pdfq-load"))
        .arg("--bin-dir")
        .arg(&release)
        .arg("--log-dir")
        .arg(crate::paths::target_dir(&root).join("load"))
        .args(&args.suite)
        .status()
        .context("running pdfq-load")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!("the load suite failed (see its report above)"),
        _ => bail!("the load suite could not run ({status})"),
    }
}

/// The release API, worker and suite binaries.
pub fn build_release() -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("xtask load: building the release API, worker and suite");
    let built = Command::new(&cargo)
        .args([
            "build",
            "--release",
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
        bail!("building the release binaries failed ({built})");
    }
    Ok(())
}
