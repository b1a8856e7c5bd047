//! The chaos suite: a distributed deployment (API and two workers on throwaway PostgreSQL and
//! Redis), jobs uploaded from several users at a steady pace, faults injected one after the
//! other while they run, then every job judged from the database: each accepted job must end
//! (completed, or failed for the poison ones), its result must match its PDF and be written
//! once, and the API must never answer a 5xx other than 503.
//!
//! The full run needs its own network namespace (for the database cut); `--short` needs none.

pub mod faults;
pub mod jobs;
pub mod report;
pub mod traffic;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::deployment::{Deployment, DeploymentOptions};
use faults::{Fault, FaultSettings, Injected};
use jobs::{JobSpec, Kind};
use report::{FaultReport, JobIssue, Report};
use traffic::{AnswerLog, Submissions};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// About 100 jobs and two faults that need no namespace (for CI).
    pub short: bool,
    /// Overrides the plan's number of jobs.
    pub jobs: Option<usize>,
    /// Where `pdfq-api` and `pdfq-worker` are.
    pub bin_dir: PathBuf,
    /// Where the processes' logs go.
    pub log_dir: PathBuf,
    /// `nft`, when the run is inside its own network namespace (needed by the full run).
    pub nft: Option<PathBuf>,
    /// An S3-compatible endpoint: the deployment keeps its files in a new bucket there
    /// (STORAGE_URL) instead of the database.
    pub s3_endpoint: Option<String>,
}

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: &'static str,
    pub jobs: usize,
    pub users: usize,
    pub workers: usize,
    /// Uploads per second of the steady stream.
    pub pace: f64,
    /// Jobs uploaded at once just before each fault (taken from the plan's last jobs), so that
    /// every fault hits running jobs and a backlog.
    pub burst: usize,
    /// Page range of the occasional large job.
    pub large: (u32, u32),
    pub faults: Vec<Fault>,
    /// Running time before the first fault.
    pub warm_up: Duration,
    /// Pause between a fault's recovery and the next fault.
    pub gap: Duration,
    /// The whole run, after which it reports and fails.
    pub limit: Duration,
    pub fault_settings: FaultSettings,
}

/// The first jobs of each burst are this heavy (a few hundred ms of extraction each).
const HEAVY_PAGES: (u32, u32) = (4000, 8000);
const HEAVY_PER_BURST: usize = 3;

/// Workers' lease: short, so a stopped worker's jobs are reaped quickly.
const LEASE: &str = "5s";

impl Plan {
    /// 1,000 jobs from 8 users over about five minutes; 5 kills, a stop past the lease, Redis
    /// lost, PostgreSQL restarted and cut off for 20 s.
    #[must_use]
    pub fn full(nft: Option<PathBuf>) -> Self {
        Self {
            name: "full",
            jobs: 1000,
            users: 8,
            workers: 2,
            pace: 2.5,
            burst: 40,
            large: (1000, 3000),
            faults: vec![
                Fault::KillWorker,
                Fault::RestartPostgres,
                Fault::KillWorker,
                Fault::CutDatabase,
                Fault::StopWorker,
                Fault::KillWorker,
                Fault::RestartRedisEmpty,
                Fault::KillWorker,
                Fault::KillWorker,
            ],
            warm_up: Duration::from_secs(15),
            gap: Duration::from_secs(5),
            limit: Duration::from_secs(15 * 60),
            fault_settings: FaultSettings {
                stop_for: Duration::from_secs(10),
                cut_for: Duration::from_secs(20),
                recovery_wait: Duration::from_secs(90),
                nft,
            },
        }
    }

    /// About 100 jobs from 4 users over a minute; a worker killed and Redis lost. Needs no
    /// namespace, root or nft.
    #[must_use]
    pub fn short() -> Self {
        Self {
            name: "short",
            jobs: 100,
            users: 4,
            workers: 2,
            pace: 1.5,
            burst: 25,
            large: (1000, 3000),
            faults: vec![Fault::KillWorker, Fault::RestartRedisEmpty],
            warm_up: Duration::from_secs(8),
            gap: Duration::from_secs(3),
            limit: Duration::from_secs(4 * 60),
            fault_settings: FaultSettings {
                stop_for: Duration::from_secs(10),
                cut_for: Duration::from_secs(20),
                recovery_wait: Duration::from_secs(45),
                nft: None,
            },
        }
    }
}

fn since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// Runs the suite and judges it. An `Err` is a failure to run it (nothing could be judged).
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let mut plan = if options.short {
        Plan::short()
    } else {
        Plan::full(options.nft.clone())
    };
    if let Some(jobs) = options.jobs {
        plan.jobs = jobs;
    }
    if plan.faults.iter().any(|f| f.needs_namespace()) && plan.fault_settings.nft.is_none() {
        bail!(
            "the full run cuts the database off with nftables inside its own network namespace: \
             run it through `cargo xtask chaos` (as root, with ip and nft installed), or run \
             `cargo xtask chaos --short`"
        );
    }
    let start = Instant::now();
    let deadline = start + plan.limit;
    eprintln!(
        "pdfq-chaos: {} run: {} jobs from {} users, {} workers, faults: {}",
        plan.name,
        plan.jobs,
        plan.users,
        plan.workers,
        plan.faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut deployment_options = DeploymentOptions::new(&options.bin_dir, &options.log_dir)
        .api_env("UPLOAD_RATE_LIMIT", "100000/hour")
        // Every simulated user registers from 127.0.0.1.
        .api_env("REGISTER_RATE_LIMIT", "100000/hour")
        .api_env("LOGIN_RATE_LIMIT", "1000/hour")
        .api_env("REQUEST_TIMEOUT", "30s")
        .worker_env("WORKER_CONCURRENCY", "2")
        .worker_env("QUEUE_LEASE", LEASE)
        .worker_env("QUEUE_LEASE_RENEW_EVERY", "1s")
        .worker_env("WORKER_SWEEP_EVERY", "1s")
        .worker_env("WORKER_DRAIN_TIMEOUT", "5s");
    if let Some(endpoint) = &options.s3_endpoint {
        let bucket = pdfq_test_support::TestBucket::create_at(endpoint, "pdfq-chaos").await;
        for (key, value) in bucket.env("chaos") {
            deployment_options = deployment_options
                .api_env(key, &value)
                .worker_env(key, &value);
        }
        eprintln!("pdfq-chaos: files in {}", bucket.storage_url("chaos"));
    }
    deployment_options.workers = plan.workers;
    let mut deployment = Deployment::start(deployment_options).await?;
    eprintln!(
        "pdfq-chaos: [{:>4.0} s] deployment up: API {}, PostgreSQL {}, Redis {}; logs in {}",
        since(start),
        deployment.api_url(),
        deployment.database_url(),
        deployment.redis_url(),
        options.log_dir.display()
    );
    let db = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(3))
        .connect(deployment.database_url())
        .await
        .context("connecting the driver to PostgreSQL")?;

    let users = Arc::new(traffic::create_users(deployment.api_url(), "chaos", plan.users).await?);
    let mut specs = jobs::plan_jobs(plan.jobs, plan.users, plan.large);
    jobs::heavy_bursts(
        &mut specs,
        plan.faults.len(),
        plan.burst,
        HEAVY_PER_BURST,
        HEAVY_PAGES,
    );
    let answers = Arc::new(AnswerLog::default());
    let submissions = Arc::new(Submissions::default());
    // Uploads stop being retried well before the end, so every accepted job has time to end.
    let submit_deadline = deadline - plan.limit / 3;
    let uploader = traffic::Uploader::new(
        users.clone(),
        specs,
        plan.burst * plan.faults.len(),
        16,
        submit_deadline,
        answers.clone(),
        submissions.clone(),
    );
    let steady = tokio::spawn(uploader.clone().run_steady(plan.pace));
    let (stop_polling, polling) = tokio::sync::watch::channel(false);
    let poller = tokio::spawn(traffic::poll(
        users.clone(),
        submissions.clone(),
        answers.clone(),
        polling,
    ));

    let mut failures = Vec::new();
    let mut injected: Vec<Injected> = Vec::new();
    tokio::time::sleep(plan.warm_up).await;
    let mut turn = 0;
    for (n, &fault) in plan.faults.iter().enumerate() {
        if Instant::now() + plan.fault_settings.recovery_wait > deadline {
            failures.push(format!(
                "time ran out before fault {} ({})",
                n + 1,
                fault.name()
            ));
            break;
        }
        let sent = uploader.burst(plan.burst);
        let backlog = wait_for_backlog(&db, sent).await;
        let mut done =
            faults::inject(&mut deployment, &db, fault, &plan.fault_settings, &mut turn).await?;
        eprintln!(
            "pdfq-chaos: [{:>4.0} s] fault {}/{}: {}{} ({backlog}): {} jobs hit, {} after {:.1} s",
            since(start),
            n + 1,
            plan.faults.len(),
            fault.name(),
            done.target
                .as_ref()
                .map(|t| format!(" {t}"))
                .unwrap_or_default(),
            done.touched.len(),
            if done.recovered_in_wait {
                "recovered"
            } else {
                "NOT recovered"
            },
            done.window_end
                .duration_since(done.started_at)
                .as_secs_f64()
        );
        tokio::time::sleep(plan.gap).await;
        // What the API answers while the deployment settles is the fault's too.
        done.window_end = Instant::now();
        injected.push(done);
    }

    let remaining = deadline.saturating_duration_since(Instant::now());
    let uploads = async {
        let _ = steady.await;
        uploader.finish().await;
    };
    if tokio::time::timeout(remaining, uploads).await.is_err() {
        failures.push("the uploads did not finish before the time limit".to_owned());
    }
    let accepted = submissions.accepted();
    eprintln!(
        "pdfq-chaos: [{:>4.0} s] {} of {} jobs accepted; waiting for every job to end",
        since(start),
        accepted.len(),
        plan.jobs
    );
    if !wait_until_all_ended(&db, deadline, start).await {
        failures.push("not every job ended before the time limit".to_owned());
    }
    let _ = stop_polling.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(35), poller).await;

    // Every process must still run: none may have died of the faults on its own.
    for service in std::iter::once(&mut deployment.api).chain(deployment.workers.iter_mut()) {
        if let Some(status) = service.exited() {
            failures.push(format!(
                "{} exited on its own ({status}); see {}",
                service.name(),
                service.log().display()
            ));
        }
    }
    let worker_starts = deployment
        .workers
        .iter()
        .map(|w| (w.name().to_owned(), w.starts()))
        .collect();

    let mut report = judge(&db, &plan, &accepted, &submissions).await?;
    report.faults = fault_reports(&db, &injected, &answers, start).await?;
    report.answers_outside_faults = outside_faults(&answers, &injected);
    report.unanswered = answers.unanswered();
    report.worker_starts = worker_starts;
    report.log_dir = options.log_dir.display().to_string();
    db.close().await;
    let ended = deployment.shutdown().await;
    for (name, status) in ended {
        if let Some(status) = status
            && !status.success()
        {
            failures.push(format!("{name} did not stop cleanly on SIGTERM ({status})"));
        }
    }
    report.api_logged_bad_5xx = bad_5xx_in_log(&options.log_dir.join("api.log"));
    report.duration_secs = since(start);
    failures.extend(verdict(&report, &answers.all()));
    report.passed = failures.is_empty();
    report.failures = failures;
    Ok(report)
}

/// Waits (at most 20 s) until a burst of `sent` uploads has made a backlog: jobs running and
/// jobs waiting. Returns what it saw, for the progress line.
async fn wait_for_backlog(db: &PgPool, sent: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let want_waiting = i64::try_from(sent / 3).unwrap_or(0);
    let started = Instant::now();
    let mut seen = (0, 0);
    while Instant::now() < deadline {
        let query = sqlx::query_as::<_, (i64, i64)>(
            "select count(*) filter (where status = 'processing'),
                    count(*) filter (where status = 'pending')
             from jobs",
        )
        .fetch_one(db);
        if let Ok(Ok(counts)) = tokio::time::timeout(Duration::from_secs(3), query).await {
            seen = counts;
            // Running jobs and a backlog; after a few seconds running jobs are enough.
            if counts.0 >= 2 && counts.1 >= want_waiting
                || counts.0 >= 1 && started.elapsed() > Duration::from_secs(5)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    format!("{} running, {} waiting", seen.0, seen.1)
}

/// Waits until no job is left unfinished (or the deadline), printing progress.
async fn wait_until_all_ended(db: &PgPool, deadline: Instant, start: Instant) -> bool {
    let mut last_print = Instant::now();
    while Instant::now() < deadline {
        let query = sqlx::query_as::<_, (String, i64)>(
            "select status, count(*) from jobs group by status order by status",
        )
        .fetch_all(db);
        if let Ok(Ok(counts)) = tokio::time::timeout(Duration::from_secs(5), query).await {
            let open: i64 = counts
                .iter()
                .filter(|(s, _)| !["completed", "failed", "cancelled"].contains(&s.as_str()))
                .map(|(_, n)| n)
                .sum();
            if open == 0 {
                return true;
            }
            if last_print.elapsed() > Duration::from_secs(15) {
                last_print = Instant::now();
                eprintln!(
                    "pdfq-chaos: [{:>4.0} s] {}",
                    since(start),
                    counts
                        .iter()
                        .map(|(s, n)| format!("{s} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

type JobRow = (
    Uuid,
    String,
    String,
    Option<String>,
    Option<String>,
    i32,
    Option<i32>,
    Option<i32>,
    i64,
    i64,
);

/// Judges every job from the database.
async fn judge(
    db: &PgPool,
    plan: &Plan,
    accepted: &[traffic::Accepted],
    submissions: &Submissions,
) -> anyhow::Result<Report> {
    let rows: Vec<JobRow> = sqlx::query_as(
        "select j.id, j.file_name, j.status, j.error_code, j.error_message, j.attempts,
                j.page_count, j.sentence_count,
                (select count(*) from job_events e where e.job_id = j.id and e.status = 'completed'),
                (select count(*) from job_events e where e.job_id = j.id and e.status = 'failed')
         from jobs j",
    )
    .fetch_all(db)
    .await
    .context("reading the jobs")?;
    let results: BTreeMap<Uuid, Option<serde_json::Value>> =
        sqlx::query_as::<_, (Uuid, Option<serde_json::Value>)>(
            // The result as one array of chunks with their sentences, as the judge reads it
            // (the store keeps it as rows: job_result_chunks and job_sentences).
            "select j.id,
                    (select jsonb_agg(
                                jsonb_build_object(
                                    'index', c.chunk_index,
                                    'sentences', coalesce(
                                        (select jsonb_agg(
                                                    jsonb_build_object('text', s.text, 'page', s.page)
                                                    order by s.sentence_index)
                                         from job_sentences s
                                         where s.job_id = c.job_id and s.chunk_index = c.chunk_index),
                                        '[]'::jsonb))
                                order by c.chunk_index)
                     from job_result_chunks c where c.job_id = j.id)
             from jobs j where j.status = 'completed'",
        )
        .fetch_all(db)
        .await
        .context("reading the results")?
        .into_iter()
        .collect();

    // Completing a job fixes its chunk and sentence counts from the rows saved by then: rows
    // beyond them were written after it completed (a stale worker's late write).
    let late_chunks: BTreeMap<Uuid, i64> = sqlx::query_as::<_, (Uuid, i64)>(
        "select j.id,
                (select count(*) from job_result_chunks c where c.job_id = j.id)
                    - j.chunk_count
                    + (select count(*) from job_sentences s where s.job_id = j.id)
                    - j.sentence_count as late
         from jobs j
         where j.status = 'completed'
           and ((select count(*) from job_result_chunks c where c.job_id = j.id)
                    <> j.chunk_count
                or (select count(*) from job_sentences s where s.job_id = j.id)
                    <> j.sentence_count)",
    )
    .fetch_all(db)
    .await
    .context("reading chunks left on ended jobs")?
    .into_iter()
    .collect();
    let accepted_ids: HashSet<Uuid> = accepted.iter().map(|a| a.job.as_uuid()).collect();
    let mut report = Report {
        mode: plan.name.to_owned(),
        passed: false,
        failures: Vec::new(),
        duration_secs: 0.0,
        workers: plan.workers,
        users: plan.users,
        planned_jobs: plan.jobs,
        submitted: accepted.len(),
        upload_attempts: accepted.iter().map(|a| u64::from(a.tries)).sum(),
        completed: 0,
        failed_as_expected: 0,
        poison_failure_codes: BTreeMap::new(),
        lost: Vec::new(),
        duplicates: Vec::new(),
        unexpected_failures: Vec::new(),
        unexpected_completions: Vec::new(),
        wrong_results: Vec::new(),
        unacknowledged_jobs: 0,
        rejected_uploads: submissions
            .rejected
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(name, status, message)| format!("{name}: {status} {message}"))
                    .collect()
            })
            .unwrap_or_default(),
        abandoned_uploads: submissions
            .abandoned
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(name, error)| format!("{name}: {error}"))
                    .collect()
            })
            .unwrap_or_default(),
        faults: Vec::new(),
        answers_outside_faults: BTreeMap::new(),
        unanswered: BTreeMap::new(),
        api_logged_bad_5xx: BTreeMap::new(),
        worker_starts: BTreeMap::new(),
        extra_attempts: 0,
        log_dir: String::new(),
    };
    let mut seen = HashSet::new();
    for row in rows {
        let (id, file_name, status, code, message, attempts, pages, sentences, completions, fails) =
            row;
        let Some(spec) = JobSpec::from_file_name(&file_name) else {
            continue;
        };
        seen.insert(id);
        if !accepted_ids.contains(&id) {
            report.unacknowledged_jobs += 1;
        }
        report.extra_attempts += u64::try_from(attempts.saturating_sub(1)).unwrap_or(0);
        let issue = |detail: String| JobIssue {
            job_id: id.to_string(),
            file_name: file_name.clone(),
            detail,
        };
        let error = format!(
            "{}: {}",
            code.as_deref().unwrap_or("-"),
            message.as_deref().unwrap_or("-")
        );
        if completions + fails > 1 {
            report.duplicates.push(issue(format!(
                "{completions} completion and {fails} failure events; status {status}, {attempts} attempts"
            )));
        } else if let Some(late) = late_chunks.get(&id)
            && status == "completed"
        {
            report.duplicates.push(issue(format!(
                "{late} chunk and sentence rows beyond its counts, written after it completed ({attempts} attempts)"
            )));
        }
        match (status.as_str(), spec.kind) {
            ("completed", Kind::Pages(expected_pages)) => {
                let problem = check_result(
                    &spec,
                    expected_pages,
                    pages,
                    sentences,
                    results.get(&id).and_then(Option::as_ref),
                );
                match problem {
                    None => report.completed += 1,
                    Some(problem) => report.wrong_results.push(issue(problem)),
                }
            }
            ("failed", Kind::Poison(_)) => {
                report.failed_as_expected += 1;
                *report
                    .poison_failure_codes
                    .entry(code.clone().unwrap_or_default())
                    .or_insert(0) += 1;
            }
            ("completed", Kind::Poison(_)) => report
                .unexpected_completions
                .push(issue("a poison file completed".to_owned())),
            ("failed" | "cancelled", _) => report.unexpected_failures.push(issue(format!(
                "{status} after {attempts} attempts: {error}"
            ))),
            _ => report.lost.push(issue(format!(
                "still {status} at the end after {attempts} attempts (last error {error})"
            ))),
        }
    }
    for missing in accepted.iter().filter(|a| !seen.contains(&a.job.as_uuid())) {
        report.lost.push(JobIssue {
            job_id: missing.job.to_string(),
            file_name: missing.spec.file_name(),
            detail: "accepted (202) but not in the database".to_owned(),
        });
    }
    Ok(report)
}

/// What is wrong with a completed job's stored result, if anything.
fn check_result(
    spec: &JobSpec,
    expected_pages: u32,
    pages: Option<i32>,
    sentences: Option<i32>,
    result: Option<&serde_json::Value>,
) -> Option<String> {
    let expected_sentences = spec.expected_sentences();
    if pages != i32::try_from(expected_pages).ok()
        || sentences != i32::try_from(expected_sentences).ok()
    {
        return Some(format!(
            "{pages:?} pages and {sentences:?} sentences stored, {expected_pages} and {expected_sentences} expected"
        ));
    }
    let chunks = result.and_then(serde_json::Value::as_array)?;
    let mut texts = Vec::new();
    for (n, chunk) in chunks.iter().enumerate() {
        if chunk.get("index").and_then(serde_json::Value::as_u64) != Some(n as u64) {
            return Some(format!(
                "chunk {n} is stored with index {:?}",
                chunk.get("index")
            ));
        }
        for sentence in chunk
            .get("sentences")
            .and_then(serde_json::Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let text = sentence
                .get("text")
                .and_then(serde_json::Value::as_str)
                .or_else(|| sentence.as_str())
                .unwrap_or_default();
            let page = sentence.get("page").and_then(serde_json::Value::as_u64);
            texts.push((text.to_owned(), page));
        }
    }
    if texts.len() != expected_sentences as usize {
        return Some(format!(
            "{} sentences in the stored chunks, {expected_sentences} expected",
            texts.len()
        ));
    }
    for (n, (text, page)) in texts.iter().enumerate().step_by(2) {
        let expected_page = n as u64 / 2 + 1;
        let needle = format!("Page {expected_page} of job {} begins here", spec.index);
        if !text.contains(&needle) || page.is_some_and(|p| p != expected_page) {
            return Some(format!(
                "sentence {n} is {text:?} on page {page:?}; expected {needle:?}"
            ));
        }
    }
    None
}

async fn fault_reports(
    db: &PgPool,
    injected: &[Injected],
    answers: &AnswerLog,
    start: Instant,
) -> anyhow::Result<Vec<FaultReport>> {
    let all = answers.all();
    let mut out = Vec::new();
    for fault in injected {
        let first_after: Option<OffsetDateTime> =
            sqlx::query_scalar("select min(finished_at) from jobs where finished_at > $1")
                .bind(fault.ended)
                .fetch_one(db)
                .await
                .context("reading when jobs ended")?;
        let (open, last): (i64, Option<OffsetDateTime>) = sqlx::query_as(
            "select count(*) filter (where status not in ('completed', 'failed', 'cancelled')),
                    max(finished_at)
             from jobs where id = any($1)",
        )
        .bind(&fault.touched)
        .fetch_one(db)
        .await
        .context("reading when the touched jobs ended")?;
        let window: Vec<&traffic::Answer> = all
            .iter()
            .filter(|a| a.at >= fault.started_at && a.at <= fault.window_end)
            .collect();
        out.push(FaultReport {
            fault: fault.fault.name().to_owned(),
            target: fault.target.clone(),
            at_secs: fault.started_at.duration_since(start).as_secs_f64(),
            duration_secs: fault
                .ended_at
                .duration_since(fault.started_at)
                .as_secs_f64(),
            touched_jobs: fault.touched.len(),
            resumed_after_secs: first_after.map(|t| (t - fault.ended).as_seconds_f64()),
            recovered_after_secs: match last {
                Some(last) if open == 0 && !fault.touched.is_empty() => {
                    // A hit job may have ended between the snapshot and the fault: 0, not less.
                    Some((last - fault.started).as_seconds_f64().max(0.0))
                }
                _ => None,
            },
            answers: by_call(&window),
            slowest_answer_secs: window.iter().map(|a| a.took.as_secs_f64()).reduce(f64::max),
        });
    }
    Ok(out)
}

fn by_call(answers: &[&traffic::Answer]) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut calls: BTreeMap<traffic::Call, Vec<&traffic::Answer>> = BTreeMap::new();
    for answer in answers {
        calls.entry(answer.call).or_default().push(answer);
    }
    calls
        .into_iter()
        .map(|(call, list)| (call.name().to_owned(), traffic::count(&list)))
        .collect()
}

fn outside_faults(
    answers: &AnswerLog,
    injected: &[Injected],
) -> BTreeMap<String, BTreeMap<String, u64>> {
    let all = answers.all();
    let outside: Vec<&traffic::Answer> = all
        .iter()
        .filter(|a| {
            !injected
                .iter()
                .any(|f| a.at >= f.started_at && a.at <= f.window_end)
        })
        .collect();
    by_call(&outside)
}

/// 5xx answers other than 503 in the API's JSON log (`"answered"` lines), by status.
fn bad_5xx_in_log(path: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return out;
    };
    for line in text.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        // tracing's JSON puts an event's fields at the top level (or under "fields" when not
        // flattened): read either.
        let field = |name: &str| {
            value
                .get(name)
                .or_else(|| value.get("fields").and_then(|f| f.get(name)))
        };
        if field("message").and_then(serde_json::Value::as_str) != Some("answered") {
            continue;
        }
        if let Some(status) = field("status").and_then(serde_json::Value::as_u64)
            && status >= 500
            && status != 503
        {
            let path = value
                .get("span")
                .and_then(|s| s.get("path"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("?");
            *out.entry(format!("{status} {path}")).or_insert(0) += 1;
        }
    }
    out
}

/// The failures a finished report shows.
fn verdict(report: &Report, answers: &[traffic::Answer]) -> Vec<String> {
    let mut failures = Vec::new();
    let poison_planned = jobs::plan_jobs(report.planned_jobs, report.users, (1, 1))
        .iter()
        .filter(|j| j.is_poison())
        .count();
    let checks: [(usize, &str); 7] = [
        (report.lost.len(), "lost jobs"),
        (report.duplicates.len(), "results written more than once"),
        (report.unexpected_failures.len(), "valid jobs that failed"),
        (
            report.unexpected_completions.len(),
            "poison jobs that completed",
        ),
        (
            report.wrong_results.len(),
            "completed jobs with a wrong result",
        ),
        (report.rejected_uploads.len(), "uploads rejected"),
        (report.abandoned_uploads.len(), "uploads never accepted"),
    ];
    for (count, what) in checks {
        if count > 0 {
            failures.push(format!("{count} {what}"));
        }
    }
    if report.submitted != report.planned_jobs {
        failures.push(format!(
            "{} of {} jobs accepted",
            report.submitted, report.planned_jobs
        ));
    }
    if report.failed_as_expected != poison_planned {
        failures.push(format!(
            "{} of {poison_planned} poison jobs failed",
            report.failed_as_expected
        ));
    }
    let bad: Vec<&traffic::Answer> = answers
        .iter()
        .filter(|a| a.status.is_none_or(|s| s >= 500 && s != 503))
        .collect();
    if !bad.is_empty() {
        failures.push(format!(
            "the API answered a 5xx other than 503, or not at all: {:?}",
            traffic::count(&bad)
        ));
    }
    let logged: u64 = report.api_logged_bad_5xx.values().sum();
    if logged > 0 {
        failures.push(format!(
            "the API logged {logged} 5xx answers other than 503: {:?}",
            report.api_logged_bad_5xx
        ));
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bad_5xx_from_the_api_log() {
        let dir = std::env::temp_dir().join(format!("pdfq-proof-log-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let log = dir.join("api.log");
        let lines = [
            r#"{"level":"INFO","message":"answered","status":200,"span":{"path":"/api/v1/health"}}"#,
            r#"{"level":"INFO","message":"answered","status":503,"span":{"path":"/api/v1/health"}}"#,
            r#"{"level":"INFO","message":"answered","status":500,"span":{"path":"/api/v1/jobs/x"}}"#,
            r#"{"level":"INFO","fields":{"message":"answered","status":502}}"#,
            "not json",
        ];
        std::fs::write(&log, lines.join("\n")).unwrap_or_default();
        let bad = bad_5xx_in_log(&log);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(bad.get("500 /api/v1/jobs/x"), Some(&1));
        assert_eq!(bad.get("502 ?"), Some(&1));
        assert_eq!(bad.len(), 2);
    }
}
