//! `pdfq-load`: the load suite (`cargo xtask load` builds and runs it). A distributed
//! deployment on throwaway PostgreSQL and Redis, many users uploading and polling at once; it
//! reports throughput, latency percentiles, the error rate and memory over time.
//!
//! Exit status: 0 passed, 1 the suite found a failure (memory not flat, a 5xx, a failed job,
//! 1% or more of calls in error), 2 it could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pdfq_domain::limits::parse_duration;
use pdfq_proof::load::{self, Options};

#[derive(Debug, Parser)]
#[command(
    name = "pdfq-load",
    about = "pdfq's load suite: sustained uploads and polling from many users; memory must stay flat"
)]
struct Args {
    /// Users, each uploading a PDF and polling it until it ends, then the next.
    #[arg(long, default_value_t = 32)]
    users: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Jobs each worker runs at once (WORKER_CONCURRENCY).
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Measured load, after the warm-up (e.g. 120s, 10m).
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    duration: Duration,
    /// Load before measuring, while caches, pools and allocators settle.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    warmup: Duration,
    /// How often each user reads its job while it runs.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    poll_every: Duration,
    /// How often memory is read.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    sample_every: Duration,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the figures as Markdown table rows to this file (for the README).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Where pdfq-api and pdfq-worker are (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Where the processes' logs go.
    #[arg(long, default_value = "target/load")]
    log_dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(bin_dir) = args.bin_dir.clone().or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(PathBuf::from))
    }) else {
        eprintln!("pdfq-load: cannot tell where pdfq-api is; pass --bin-dir");
        return ExitCode::from(2);
    };
    let options = Options {
        bin_dir,
        log_dir: args.log_dir.clone(),
        users: args.users.max(1),
        workers: args.workers.max(1),
        concurrency: args.concurrency.max(1),
        duration: args.duration,
        warmup: args.warmup,
        poll_every: args.poll_every,
        sample_every: args.sample_every,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pdfq-load: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "pdfq-load: {} users, {} workers x {}, warm-up {:?}, measured {:?}",
        options.users, options.workers, options.concurrency, options.warmup, options.duration
    );
    let report = match runtime.block_on(load::run(&options)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("pdfq-load: could not run: {e:#}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("pdfq-load: {e}"),
        }
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = &args.markdown
        && let Err(e) = std::fs::write(path, load::markdown(&report))
    {
        eprintln!("pdfq-load: writing {}: {e}", path.display());
        return ExitCode::from(2);
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
