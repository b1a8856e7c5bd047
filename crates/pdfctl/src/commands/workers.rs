//! `pdfctl workers list|drain`: the API and worker processes, from their heartbeats.

use std::process::ExitCode;

use std::time::Duration;

use pdfq_api_types::InstanceView;

use super::admin::{client, explain};
use super::confirm::confirm;
use super::format;
use crate::short_id;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Every API and worker instance: heartbeat age, busy of concurrency, current jobs,
    /// version, last fetch, database pool, memory; draining and stale ones flagged.
    List,
    /// Stop one worker taking new jobs. Its running jobs finish; then it stays up idle until
    /// `pdfctl workers undrain`, or, with --exit, it exits (before a machine is removed or
    /// scaled down). Other workers keep taking jobs; `pdfctl queue pause` stops them all.
    Drain {
        /// The worker's id, as `pdfctl workers list` shows it.
        id: String,
        /// Exit once the running jobs have finished instead of staying up idle. In `pdfctl up`
        /// this stops the embedded worker until pdfctl is restarted.
        #[arg(long)]
        exit: bool,
        /// Wait until the worker is idle (or, with --exit, gone), showing its running jobs.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this long (e.g. 90s, 30m).
        #[arg(long, default_value = "30m", value_parser = pdfq_domain::limits::parse_duration, requires = "wait")]
        timeout: Duration,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Lift a drain: the worker takes jobs again (unless it has already exited).
    Undrain {
        /// The worker's id, as `pdfctl workers list` shows it.
        id: String,
    },
}

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.action {
        Action::List => {
            let client = client(api_url).await?;
            let overview = client
                .admin_overview()
                .await
                .map_err(|e| explain(api_url, "reading the instances", &e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&overview.instances)?);
            } else {
                print!(
                    "{}",
                    table(&overview.instances, time::OffsetDateTime::now_utc())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Drain {
            id,
            exit,
            wait,
            timeout,
            yes,
        } => {
            let what = if *exit {
                format!("drain worker {id} and let it exit once its running jobs finish")
            } else {
                format!("drain worker {id} (it takes no new jobs until undrained)")
            };
            if !confirm(&what, *yes)? {
                eprintln!("nothing done");
                return Ok(ExitCode::FAILURE);
            }
            let client = client(api_url).await?;
            let drain = client
                .drain_worker(id, *exit)
                .await
                .map_err(|e| explain(api_url, "draining the worker", &e))?;
            if !*wait {
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&drain)?);
                } else {
                    println!(
                        "worker {id} is draining{}; follow it with `pdfctl workers list`",
                        if *exit {
                            " and will exit when idle"
                        } else {
                            ""
                        }
                    );
                }
                return Ok(ExitCode::SUCCESS);
            }
            let outcome = wait_drained(&client, api_url, id, *exit, *timeout, args.json).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "worker_id": id, "outcome": outcome })
                );
            } else {
                println!("worker {id}: {outcome}");
            }
            Ok(if outcome == "timed out" {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Action::Undrain { id } => {
            let client = client(api_url).await?;
            let drain = client
                .undrain_worker(id)
                .await
                .map_err(|e| explain(api_url, "lifting the drain", &e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&drain)?);
            } else {
                println!("worker {id} takes jobs again");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Polls the overview until the worker is idle and draining (or gone, when it was asked to
/// exit); says what is still running whenever that changes.
async fn wait_drained(
    client: &pdfq_client::Client,
    api_url: &str,
    id: &str,
    exit: bool,
    timeout: Duration,
    quiet: bool,
) -> anyhow::Result<&'static str> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_busy = None;
    loop {
        let overview = client
            .admin_overview()
            .await
            .map_err(|e| explain(api_url, "reading the instances", &e))?;
        match overview.instances.iter().find(|i| i.id == id) {
            None if exit => return Ok("exited"),
            None => return Ok("gone (no heartbeat)"),
            Some(i) if i.draining && i.busy == 0 && !exit => return Ok("drained, idle"),
            Some(i) => {
                if !quiet && last_busy != Some(i.busy) {
                    eprintln!("waiting: {} job(s) running on {id}", i.busy);
                    last_busy = Some(i.busy);
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok("timed out");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The instances as a table.
#[must_use]
pub fn table(instances: &[InstanceView], now: time::OffsetDateTime) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:<28}  {:<6}  {:>6}  {:>7}  {:<10}  {:>9}  {:>9}  {:>8}  jobs\n",
        "id", "kind", "beat", "busy", "version", "fetched", "pool", "memory"
    );
    let len = short_id::len_for(instances.iter().flat_map(|i| &i.current_jobs));
    for i in instances {
        let _ = writeln!(
            out,
            "{:<28}  {:<6}  {:>6}  {:>7}  {:<10}  {:>9}  {:>9}  {:>8}  {}{}{}",
            format::truncate(&i.id, 28),
            i.kind,
            format::duration(i.age_secs),
            format!("{}/{}", i.busy, i.concurrency),
            format::truncate(&i.version, 10),
            i.last_fetch_at.map_or_else(
                || "-".to_owned(),
                |at| format!("{} ago", format::duration(format::secs_between(at, now)))
            ),
            i.pool
                .map_or_else(|| "-".to_owned(), |p| format!("{}/{}", p.in_use, p.max)),
            i.rss_bytes.map_or_else(|| "-".to_owned(), format::bytes),
            i.current_jobs
                .iter()
                .map(|j| short_id::show(j, len))
                .collect::<Vec<_>>()
                .join(","),
            if i.draining { "  DRAINING" } else { "" },
            if i.stale {
                "  STALE: no heartbeat lately"
            } else {
                ""
            },
        );
    }
    let stale = instances.iter().filter(|i| i.stale).count();
    let draining = instances.iter().filter(|i| i.draining).count();
    let _ = writeln!(
        out,
        "{} instances, {draining} draining, {stale} stale",
        instances.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobs_a_worker_runs_are_told_apart() {
        let now = time::OffsetDateTime::now_utc();
        // Two UUIDv7 ids from the same millisecond: alike but for their random tail.
        let jobs = [
            "01a23b02-9c1e-7b7d-8a2f-0c5e7d1b3a01",
            "01a23b02-9c1e-7b7d-8a2f-0c5e7d4c5f02",
        ]
        .map(|t| t.parse().unwrap());
        let worker = InstanceView {
            id: "worker-a1".to_owned(),
            kind: "worker".to_owned(),
            host: "a1".to_owned(),
            pid: 1,
            version: "0.1.0".to_owned(),
            started_at: now,
            concurrency: 2,
            busy: 2,
            current_jobs: jobs.to_vec(),
            last_fetch_at: None,
            status: None,
            pool: None,
            rss_bytes: None,
            draining: false,
            age_secs: 1.0,
            stale: false,
        };
        let printed = table(&[worker], now);
        assert!(printed.contains("1b3a01,4c5f02"), "{printed}");
    }
}
