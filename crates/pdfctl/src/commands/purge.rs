//! `pdfctl jobs purge --older-than 7d [--status failed]`: deletes ended jobs (their results,
//! chunks and events) directly on DATABASE_URL, in small batches. Counts first; deletes only
//! after a confirmation naming the count (or --yes); --dry-run only counts.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use pdfq_domain::JobStatus;
use pdfq_store::Store;

use super::confirm::confirm;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Jobs that ended (completed, failed or cancelled) at least this long ago (e.g. 12h, 7d).
    #[arg(long, value_parser = pdfq_domain::limits::parse_duration)]
    older_than: Duration,
    /// Only jobs that ended in this status: completed, failed or cancelled.
    #[arg(long)]
    status: Option<JobStatus>,
    /// Only count the jobs that would be deleted.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    yes: bool,
    /// The database: a PostgreSQL URL, or `sqlite:PATH` for an embedded store.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

pub async fn run(args: &Args, json: bool) -> anyhow::Result<ExitCode> {
    if let Some(status) = args.status
        && !status.is_terminal()
    {
        bail!(
            "--status {status}: only ended jobs are purged (completed, failed or cancelled); cancel a live job first"
        );
    }
    let url = args.database_url.as_deref().context(
        "DATABASE_URL is not set: pass --database-url or set DATABASE_URL (postgres://... or sqlite:PATH)",
    )?;
    let store = Store::connect(url).await.context("opening the database")?;
    let Some(cutoff) =
        pdfq_store::Retention::For(args.older_than).cutoff(time::OffsetDateTime::now_utc())
    else {
        bail!("--older-than reaches back before any date: nothing is that old");
    };
    let matched = store
        .count_purgeable(cutoff, args.status)
        .await
        .context("counting the jobs to purge")?;
    let which = args
        .status
        .map_or_else(|| "ended".to_owned(), |s| s.to_string());
    let what = format!(
        "{matched} {which} job{} that ended more than {} ago",
        if matched == 1 { "" } else { "s" },
        humanize(args.older_than)
    );
    if args.dry_run || matched == 0 {
        if json {
            println!(
                "{}",
                serde_json::json!({"matched": matched, "deleted": 0, "dry_run": args.dry_run})
            );
        } else {
            println!(
                "{what}{}",
                if args.dry_run {
                    " would be deleted"
                } else {
                    ""
                }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !confirm(
        &format!("delete {what}, with their results and events"),
        args.yes,
    )? {
        eprintln!("nothing deleted");
        return Ok(ExitCode::FAILURE);
    }
    let deleted = store
        .purge_jobs(cutoff, args.status, u32::MAX)
        .await
        .context("deleting the jobs")?;
    // Run on the database, not through the API: the audit log names the system account.
    let actor = format!(
        "{}@{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        pdfq_queue::hostname()
    );
    let filter = format!(
        "older than {}{}",
        humanize(args.older_than),
        args.status
            .map(|s| format!(", status {}", s.as_str()))
            .unwrap_or_default()
    );
    let entry = pdfq_store::NewAuditEntry {
        actor_id: None,
        actor_email: &actor,
        action: "purge_jobs",
        target: Some(&filter),
        count: deleted,
        detail: None,
    };
    if let Err(e) = store.record_audit(&entry).await {
        eprintln!("warning: the purge is done but could not be recorded in the audit log: {e}");
    }
    store.close().await;
    if json {
        println!(
            "{}",
            serde_json::json!({"matched": matched, "deleted": deleted, "dry_run": false})
        );
    } else {
        println!(
            "deleted {deleted} job{} (files kept in a bucket are removed by the workers' sweeper)",
            if deleted == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn humanize(d: Duration) -> String {
    pdfq_store::Retention::For(d).to_string()
}
