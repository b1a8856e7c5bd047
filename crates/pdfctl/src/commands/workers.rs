//! `pdfctl workers list|drain`: the API and worker processes, from their heartbeats.

use std::process::ExitCode;

use anyhow::bail;
use pdfq_client::types::InstanceView;

use super::admin::{client, explain};
use super::format;

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
    /// version, last fetch, database pool; stale ones flagged.
    List,
    /// Not available: the API has no drain endpoint. Stop a worker with SIGTERM instead (it
    /// finishes its running jobs first), or pause the whole queue with `pdfctl queue pause`.
    Drain {
        /// The instance id, as `pdfctl workers list` shows it.
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
        Action::Drain { id } => bail!(
            "cannot drain {id}: the pdfq API has no drain endpoint yet. \
             next: send SIGTERM to that worker (Railway: redeploy or scale it down) - it stops taking jobs and finishes the running ones - \
             or `pdfctl queue pause` to stop every worker taking new jobs"
        ),
    }
}

/// The instances as a table.
#[must_use]
pub fn table(instances: &[InstanceView], now: time::OffsetDateTime) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:<28}  {:<6}  {:>6}  {:>7}  {:<10}  {:>9}  {:>9}  jobs\n",
        "id", "kind", "beat", "busy", "version", "fetched", "pool"
    );
    for i in instances {
        let _ = writeln!(
            out,
            "{:<28}  {:<6}  {:>6}  {:>7}  {:<10}  {:>9}  {:>9}  {}{}",
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
            i.current_jobs
                .iter()
                .map(|j| j.to_string().chars().take(8).collect::<String>())
                .collect::<Vec<_>>()
                .join(","),
            if i.stale {
                "  STALE: no heartbeat lately"
            } else {
                ""
            },
        );
    }
    let stale = instances.iter().filter(|i| i.stale).count();
    let _ = writeln!(out, "{} instances, {stale} stale", instances.len());
    out
}
