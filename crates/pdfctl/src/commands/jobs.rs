//! `pdfctl jobs list|show|retry|cancel|delete`: any user's jobs, through the admin API; and
//! `jobs purge`, directly on the database.

use std::process::ExitCode;

use pdfq_api_types::{
    AdminJobQuery, BulkAction, BulkFilter, BulkRequest, ErrorGroups, ErrorsQuery, JobList, JobView,
};
use pdfq_domain::JobStatus;

use super::admin::{client, explain, resolve_job};
use super::confirm::confirm;
use super::format;
use crate::short_id;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// Print JSON (the API's own shapes) instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// List jobs, newest first, optionally filtered.
    List(ListArgs),
    /// Show one job: status, progress, attempts, timings, error. ID is the short id `jobs
    /// list` shows, the whole id, or its first characters.
    Show { id: String },
    /// Put a failed or cancelled job back in the queue. It asks nothing (nothing is lost);
    /// --yes is accepted so that every job action takes the same flags in scripts.
    Retry {
        id: String,
        /// Accepted for symmetry with cancel and delete; retry does not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Cancel a pending or running job (asks first unless --yes).
    Cancel {
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Delete a job, its file and its results (asks first unless --yes).
    Delete {
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Delete ended jobs older than --older-than, with their results and events, directly on
    /// DATABASE_URL in small batches: counts first, asks naming the count (unless --yes);
    /// --dry-run only counts. The workers' sweeper does the same after JOB_RETENTION.
    Purge(super::purge::Args),
    /// Retry, cancel or delete every job matching a filter: counts them first, asks naming the
    /// count (unless --yes), then acts through one admin call. At least one filter is needed.
    Bulk(BulkArgs),
    /// Jobs that failed for good, grouped by error code and message pattern, with counts and
    /// first and last seen; retry a group with `jobs bulk retry --status failed --error-code CODE`.
    Errors {
        /// The window (e.g. 1h, 24h, 7d; at most 30d).
        #[arg(long, default_value = "24h", value_parser = pdfq_domain::limits::parse_duration)]
        since: std::time::Duration,
    },
}

#[derive(Debug, clap::Args)]
struct BulkArgs {
    /// retry, cancel or delete.
    #[arg(value_parser = parse_bulk_action)]
    action: BulkAction,
    /// Only jobs in this status.
    #[arg(long)]
    status: Option<JobStatus>,
    /// Only jobs whose owner's email contains this.
    #[arg(long)]
    owner: Option<String>,
    /// Only jobs whose file name contains this.
    #[arg(long)]
    file: Option<String>,
    /// Only jobs that failed with this error code (e.g. pdf_encrypted; `jobs show` gives it).
    #[arg(long)]
    error_code: Option<String>,
    /// Only jobs created at least this long ago (e.g. 30m, 2h, 7d).
    #[arg(long, value_parser = pdfq_domain::limits::parse_duration)]
    older_than: Option<std::time::Duration>,
    /// Only jobs whose error message has this pattern, as `jobs errors` prints it (numbers as
    /// N, ids as <id>): with --error-code, exactly one group.
    #[arg(long)]
    error_pattern: Option<String>,
    /// Only count the matching jobs.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    yes: bool,
}

fn parse_bulk_action(s: &str) -> Result<BulkAction, String> {
    match s {
        "retry" => Ok(BulkAction::Retry),
        "cancel" => Ok(BulkAction::Cancel),
        "delete" => Ok(BulkAction::Delete),
        _ => Err("expected retry, cancel or delete".to_owned()),
    }
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Only jobs in this status: pending, processing, retrying, completed, failed, cancelled.
    #[arg(long)]
    status: Option<JobStatus>,
    /// Only jobs whose owner's email contains this.
    #[arg(long)]
    owner: Option<String>,
    /// Only jobs whose file name contains this.
    #[arg(long)]
    file: Option<String>,
    /// Only jobs whose id starts or ends with this (a short id as listed finds its job).
    #[arg(long)]
    id: Option<String>,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    page: u32,
    /// Jobs per page, 1 to 500.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=500))]
    per_page: u32,
}

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    match &args.action {
        // On the database: no API session needed.
        Action::Purge(purge) => super::purge::run(purge, args.json).await,
        _ => run_admin(api_url, args).await,
    }
}

async fn run_admin(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let client = client(api_url).await?;
    match &args.action {
        Action::Purge(purge) => return super::purge::run(purge, args.json).await,
        Action::List(list) => {
            let query = AdminJobQuery {
                id: list.id.clone(),
                status: list.status,
                owner: list.owner.clone(),
                file_name: list.file.clone(),
                page: Some(list.page),
                per_page: Some(list.per_page),
            };
            let jobs = client
                .admin_jobs(&query)
                .await
                .map_err(|e| explain(api_url, "listing jobs", &e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
            } else {
                print!("{}", list_table(&jobs, time::OffsetDateTime::now_utc()));
            }
        }
        Action::Show { id } => {
            let id = resolve_job(&client, api_url, id).await?;
            let job = client
                .admin_job(id)
                .await
                .map_err(|e| explain(api_url, "reading the job", &e))?;
            print_job(&job, args.json)?;
        }
        Action::Retry { id, yes: _ } => {
            let id = resolve_job(&client, api_url, id).await?;
            let job = client
                .admin_retry(id)
                .await
                .map_err(|e| explain(api_url, "retrying the job", &e))?;
            print_job(&job, args.json)?;
        }
        Action::Bulk(bulk) => return run_bulk(&client, api_url, bulk, args.json).await,
        Action::Errors { since } => {
            let groups = client
                .admin_errors(&ErrorsQuery {
                    since_secs: Some(since.as_secs().max(1)),
                })
                .await
                .map_err(|e| explain(api_url, "reading the failures", &e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&groups)?);
            } else {
                print!("{}", errors_table(&groups, time::OffsetDateTime::now_utc()));
            }
        }
        Action::Cancel { id, yes } => {
            let id = resolve_job(&client, api_url, id).await?;
            if !confirm(&format!("cancel job {id}"), *yes)? {
                eprintln!("not cancelled");
                return Ok(ExitCode::FAILURE);
            }
            let job = client
                .admin_cancel(id)
                .await
                .map_err(|e| explain(api_url, "cancelling the job", &e))?;
            print_job(&job, args.json)?;
        }
        Action::Delete { id, yes } => {
            let id = resolve_job(&client, api_url, id).await?;
            if !confirm(&format!("delete job {id}, its file and its results"), *yes)? {
                eprintln!("not deleted");
                return Ok(ExitCode::FAILURE);
            }
            client
                .admin_delete(id)
                .await
                .map_err(|e| explain(api_url, "deleting the job", &e))?;
            if args.json {
                println!("{}", serde_json::json!({"job_id": id, "deleted": true}));
            } else {
                println!("deleted job {id}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Counts, asks naming the count, then acts.
async fn run_bulk(
    client: &pdfq_client::Client,
    api_url: &str,
    bulk: &BulkArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let filter = BulkFilter {
        status: bulk.status,
        owner: bulk.owner.clone(),
        file_name: bulk.file.clone(),
        error_code: bulk.error_code.clone(),
        older_than_secs: bulk.older_than.map(|d| d.as_secs()),
        error_pattern: bulk.error_pattern.clone(),
        finished_since: None,
    };
    let request = |dry_run| BulkRequest {
        action: bulk.action,
        filter: filter.clone(),
        dry_run,
    };
    let verb = match bulk.action {
        BulkAction::Retry => "retry",
        BulkAction::Cancel => "cancel",
        BulkAction::Delete => "delete",
    };
    let counted = client
        .admin_bulk(&request(true))
        .await
        .map_err(|e| explain(api_url, "counting the matching jobs", &e))?;
    if bulk.dry_run || counted.matched == 0 {
        if json {
            println!("{}", serde_json::to_string_pretty(&counted)?);
        } else {
            println!("{} job(s) match; nothing done", counted.matched);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let what = format!("{verb} {} job(s) matching the filter", counted.matched);
    if !confirm(&what, bulk.yes)? {
        eprintln!("nothing done");
        return Ok(ExitCode::FAILURE);
    }
    let done = client
        .admin_bulk(&request(false))
        .await
        .map_err(|e| explain(api_url, "acting on the matching jobs", &e))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        println!(
            "{verb}: {} of {} matching job(s) done, {} skipped (their state did not allow it, or they went away)",
            done.acted, done.matched, done.skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_job(job: &JobView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(job)?);
    } else {
        print!("{}", job_text(job, time::OffsetDateTime::now_utc()));
    }
    Ok(())
}

/// The list as a table, ids shortened to what tells them apart, with how many more pages
/// there are.
#[must_use]
pub fn list_table(list: &JobList, now: time::OffsetDateTime) -> String {
    use std::fmt::Write as _;
    let len = short_id::len_for(list.jobs.iter().map(|j| &j.job_id));
    let mut out = format!(
        "{:<len$}  {:<10}  {:>4}  {:>3}  {:>7}  {:<24}  {:<22}  step\n",
        "id", "status", "done", "try", "age", "file", "owner"
    );
    for job in &list.jobs {
        let _ = writeln!(
            out,
            "{:<len$}  {:<10}  {:>3}%  {:>3}  {:>7}  {:<24}  {:<22}  {}",
            short_id::show(&job.job_id, len),
            job.status.to_string(),
            job.progress,
            job.attempts,
            format::duration(format::secs_between(job.created_at, now)),
            format::truncate(&job.file_name, 24),
            format::truncate(job.owner_email.as_deref().unwrap_or("-"), 22),
            job.error_code.as_deref().map_or_else(
                || job.current_step.clone(),
                |code| format!("{} [{code}]", job.current_step)
            ),
        );
    }
    let pages = list.total.div_ceil(u64::from(list.per_page.max(1))).max(1);
    let _ = writeln!(
        out,
        "{} of {} jobs, page {} of {pages}",
        list.jobs.len(),
        list.total,
        list.page
    );
    out
}

/// The failure groups as a table, with how to retry one.
#[must_use]
pub fn errors_table(groups: &ErrorGroups, now: time::OffsetDateTime) -> String {
    use std::fmt::Write as _;
    let ago = |at| format!("{} ago", format::duration(format::secs_between(at, now)));
    let len = short_id::len_for(groups.groups.iter().map(|g| &g.example_job));
    let mut out = format!(
        "{:>6}  {:<20}  {:>10}  {:>10}  {:<len$}  pattern\n",
        "count", "code", "first", "last", "job"
    );
    for g in &groups.groups {
        let _ = writeln!(
            out,
            "{:>6}  {:<20}  {:>10}  {:>10}  {:<len$}  {}",
            g.count,
            format::truncate(&g.code, 20),
            ago(g.first_seen),
            ago(g.last_seen),
            short_id::show(&g.example_job, len),
            g.pattern
        );
    }
    #[allow(clippy::cast_precision_loss, reason = "a display figure")]
    let window = groups.since_secs as f64;
    let _ = writeln!(
        out,
        "{} failure(s) in the last {}, {} group(s)",
        groups.failures,
        format::duration(window),
        groups.groups.len()
    );
    if let Some(g) = groups.groups.first() {
        let _ = writeln!(
            out,
            "retry a group: pdfctl jobs bulk retry --status failed --error-code {} --error-pattern '{}'",
            g.code,
            g.pattern.replace('\'', "'\\''")
        );
    }
    out
}

/// One job, a field a line.
#[must_use]
pub fn job_text(job: &JobView, now: time::OffsetDateTime) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "job       {}", job.job_id);
    let _ = writeln!(out, "status    {} ({}%)", job.status, job.progress);
    let _ = writeln!(out, "step      {}", job.current_step);
    let _ = writeln!(
        out,
        "file      {} ({})",
        job.file_name,
        format::bytes(job.file_size)
    );
    let _ = writeln!(out, "attempts  {}", job.attempts);
    let _ = writeln!(out, "created   {}", format::timestamp(job.created_at));
    if let Some(started) = job.started_at {
        let _ = writeln!(out, "started   {}", format::timestamp(started));
    }
    match job.finished_at {
        Some(finished) => {
            let _ = writeln!(
                out,
                "finished  {} (took {})",
                format::timestamp(finished),
                format::duration(format::secs_between(
                    job.started_at.unwrap_or(job.created_at),
                    finished
                ))
            );
        }
        None => {
            let _ = writeln!(
                out,
                "elapsed   {}",
                format::duration(format::secs_between(
                    job.started_at.unwrap_or(job.created_at),
                    now
                ))
            );
        }
    }
    if let Some(count) = job.sentence_count {
        let _ = writeln!(out, "sentences {count}");
    }
    if let Some(error) = &job.error {
        let _ = writeln!(out, "error     {}: {}", error.code, error.message);
    }
    out
}
