//! `pdfq-chaos`: the chaos suite (`cargo xtask chaos` builds and runs it).
//!
//! The full run creates a network namespace of its own, re-runs itself inside it (so the
//! deployment and every packet stay there, and nftables can cut the database off without
//! touching the machine), and deletes the namespace afterwards, with anything still running in
//! it, on success, failure or Ctrl-C. `--short` runs on loopback with no namespace.
//!
//! Exit status: 0 passed, 1 the suite found a failure (lost, duplicated, wrong, a 5xx other
//! than 503...), 2 it could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pdfq_proof::chaos::{self, Options};
use pdfq_proof::netns::{Namespace, Tools};

#[derive(Debug, Parser)]
#[command(
    name = "pdfq-chaos",
    about = "pdfq's chaos suite: a distributed deployment under faults; nothing may be lost"
)]
struct Args {
    /// About 100 jobs and two faults (a worker killed, Redis lost) that need no namespace, root
    /// or nft: the run CI does.
    #[arg(long)]
    short: bool,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// How many jobs to submit (default 1,000, or 100 with --short).
    #[arg(long)]
    jobs: Option<usize>,
    /// Where pdfq-api and pdfq-worker are (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Where the processes' logs and report.json go (emptied first).
    #[arg(long, default_value = "target/chaos")]
    log_dir: PathBuf,
    /// Keep the deployment's files in a new bucket on this S3-compatible endpoint (e.g.
    /// http://127.0.0.1:9000) instead of the database.
    #[arg(long)]
    s3_endpoint: Option<String>,
    /// Set when re-run inside the namespace the outer run created.
    #[arg(long, hide = true)]
    inside_netns: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pdfq-chaos: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = if args.short || args.inside_netns {
        runtime.block_on(run_here(&args))
    } else {
        runtime.block_on(run_in_namespace(&args))
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pdfq-chaos: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the suite in this process's network namespace and prints the report.
async fn run_here(args: &Args) -> anyhow::Result<ExitCode> {
    let nft = if args.inside_netns {
        Some(Tools::find()?.nft)
    } else {
        None
    };
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("this binary has no directory")?
            .to_owned(),
    };
    let log_dir = std::path::absolute(&args.log_dir)?;
    if log_dir.exists() {
        std::fs::remove_dir_all(&log_dir)
            .with_context(|| format!("emptying {}", log_dir.display()))?;
    }
    std::fs::create_dir_all(&log_dir)?;
    let options = Options {
        short: args.short,
        jobs: args.jobs,
        bin_dir,
        log_dir: log_dir.clone(),
        nft,
        s3_endpoint: args.s3_endpoint.clone(),
    };
    // Ctrl-C or SIGTERM drops the run: every process, server and nftables rule it started is
    // stopped or removed as it unwinds.
    let report = tokio::select! {
        report = chaos::run(&options) => report?,
        () = shutdown_signal() => bail!("interrupted; everything the run started was stopped"),
    };
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(log_dir.join("report.json"), &json)?;
    if args.json {
        println!("{json}");
    } else {
        println!("{}", report.table());
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Creates the namespace, re-runs this binary inside it, then deletes it with whatever still
/// runs there and the run's temporary directory.
async fn run_in_namespace(args: &Args) -> anyhow::Result<ExitCode> {
    let tools = Tools::find().context(
        "the full chaos run cannot start (`cargo xtask chaos --short` needs none of this)",
    )?;
    let name = format!("pdfq-chaos-{}", std::process::id());
    let temp = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&temp)?;
    let _temp = RemoveOnDrop(temp.clone());
    let mut namespace = Namespace::create(&tools, &name)?;
    let exe = std::env::current_exe()?;
    let mut command = namespace.command(&exe);
    command
        .arg("--inside-netns")
        .arg("--log-dir")
        .arg(std::path::absolute(&args.log_dir)?);
    if args.json {
        command.arg("--json");
    }
    if let Some(jobs) = args.jobs {
        command.arg("--jobs").arg(jobs.to_string());
    }
    let bin_dir = match &args.bin_dir {
        Some(dir) => std::path::absolute(dir)?,
        None => exe
            .parent()
            .context("this binary has no directory")?
            .to_owned(),
    };
    command.arg("--bin-dir").arg(bin_dir);
    // The throwaway PostgreSQL's directory goes under ours, removed below whatever happens.
    command.env("TMPDIR", &temp);
    let mut child = tokio::process::Command::from(command)
        .spawn()
        .context("starting the run inside the namespace")?;
    eprintln!("pdfq-chaos: running inside the network namespace {name}");
    let status = tokio::select! {
        status = child.wait() => status?,
        () = shutdown_signal() => {
            // `ip netns exec` execs the binary: the pid is the inner run's.
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
            }
            match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
                Ok(status) => status?,
                Err(_) => {
                    let _ = child.start_kill();
                    child.wait().await?
                }
            }
        }
    };
    let killed = namespace.delete()?;
    if killed > 0 {
        eprintln!("pdfq-chaos: killed {killed} processes left in {name}");
    }
    eprintln!("pdfq-chaos: removed the network namespace {name}");
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(1) => ExitCode::FAILURE,
        _ => ExitCode::from(2),
    })
}

/// A directory removed on drop.
#[derive(Debug)]
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
