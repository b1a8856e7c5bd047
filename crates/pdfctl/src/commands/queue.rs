//! `pdfctl queue stats|pause|resume|dead|purge-dead`: the queue, through the admin API.

use std::process::ExitCode;

use pdfq_api_types::Overview;

use super::admin::{client, explain};
use super::confirm::confirm;
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
    /// Waiting, in flight, delayed and dead entries, the oldest wait, jobs per status and the
    /// last minutes' throughput.
    Stats,
    /// Stop handing jobs to workers (running ones finish); asks first unless --yes.
    Pause {
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Hand jobs to workers again. It asks nothing (nothing is lost); --yes is accepted so
    /// that pause and resume take the same flags in scripts.
    Resume {
        /// Accepted for symmetry with pause; resume does not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// List the newest dead letters: jobs that will not be retried automatically.
    Dead {
        /// How many to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Remove every dead letter (the jobs stay failed; retry them with `pdfctl jobs retry`);
    /// asks first unless --yes.
    PurgeDead {
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
}

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let client = client(api_url).await?;
    match &args.action {
        Action::Stats => {
            let overview = client
                .admin_overview()
                .await
                .map_err(|e| explain(api_url, "reading the queue", &e))?;
            if args.json {
                let value = serde_json::json!({
                    "broker": overview.broker,
                    "queue": overview.queue,
                    "jobs_by_status": overview.jobs_by_status,
                    "oldest_pending_age_secs": overview.oldest_pending_age_secs,
                    "throughput": overview.throughput,
                    "redis_memory_bytes": overview.redis_memory_bytes,
                    "problems": overview.problems,
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", stats_text(&overview));
            }
        }
        Action::Pause { yes } => {
            if !confirm("pause the queue (workers stop taking new jobs)", *yes)? {
                eprintln!("not paused");
                return Ok(ExitCode::FAILURE);
            }
            let state = client
                .pause_queue()
                .await
                .map_err(|e| explain(api_url, "pausing the queue", &e))?;
            print_state(state.paused, args.json);
        }
        Action::Resume { yes: _ } => {
            let state = client
                .resume_queue()
                .await
                .map_err(|e| explain(api_url, "resuming the queue", &e))?;
            print_state(state.paused, args.json);
        }
        Action::Dead { limit } => {
            let dead = client
                .dead_letters(*limit)
                .await
                .map_err(|e| explain(api_url, "listing dead letters", &e))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&dead)?);
            } else {
                println!(
                    "{:<36}  {:>3}  {:<20}  {:<20}  reason",
                    "job", "try", "at", "code"
                );
                for d in &dead {
                    println!(
                        "{:<36}  {:>3}  {:<20}  {:<20}  {}",
                        d.job_id,
                        d.attempt,
                        format::timestamp(d.at),
                        format::truncate(&d.code, 20),
                        d.reason
                    );
                }
                println!("{} dead letters shown", dead.len());
            }
        }
        Action::PurgeDead { yes } => {
            if !confirm("remove every dead letter", *yes)? {
                eprintln!("not purged");
                return Ok(ExitCode::FAILURE);
            }
            let purged = client
                .purge_dead_letters()
                .await
                .map_err(|e| explain(api_url, "purging dead letters", &e))?;
            if args.json {
                println!("{}", serde_json::to_string(&purged)?);
            } else {
                println!("purged {} dead letters", purged.purged);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_state(paused: bool, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "paused": paused }));
    } else if paused {
        println!(
            "queue paused: workers finish what they run and take nothing new; `pdfctl queue resume` undoes it"
        );
    } else {
        println!("queue running");
    }
}

/// The queue's numbers for people.
#[must_use]
pub fn stats_text(overview: &Overview) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    match &overview.queue {
        Some(q) => {
            let _ = writeln!(
                out,
                "queue ({}){}",
                overview.broker,
                if q.paused { " PAUSED" } else { "" }
            );
            let _ = writeln!(out, "  waiting    {}", q.waiting);
            let _ = writeln!(out, "  in flight  {}", q.in_flight);
            let _ = writeln!(out, "  delayed    {}", q.delayed);
            let _ = writeln!(out, "  dead       {}", q.dead);
            let _ = writeln!(
                out,
                "  oldest     {}",
                q.oldest_waiting_age_secs
                    .map_or_else(|| "-".to_owned(), format::duration)
            );
        }
        None => {
            let _ = writeln!(out, "queue ({}): unavailable", overview.broker);
        }
    }
    let _ = writeln!(out, "jobs");
    for (status, count) in &overview.jobs_by_status {
        let _ = writeln!(out, "  {status:<10} {count}");
    }
    if let Some(age) = overview.oldest_pending_age_secs {
        let _ = writeln!(out, "  oldest pending job waited {}", format::duration(age));
    }
    let recent: Vec<_> = overview.throughput.iter().rev().take(5).collect();
    if !recent.is_empty() {
        let processed: u64 = recent.iter().map(|m| m.processed).sum();
        let failed: u64 = recent.iter().map(|m| m.failed).sum();
        let _ = writeln!(
            out,
            "last {} minutes: {processed} processed, {failed} failed",
            recent.len()
        );
    }
    if let Some(memory) = overview.redis_memory_bytes {
        let _ = writeln!(out, "redis memory {}", format::bytes(memory));
    }
    for problem in &overview.problems {
        let _ = writeln!(out, "problem: {problem}");
    }
    out
}
