//! The pipeline benchmark behind `cargo xtask bench pipeline`: many small jobs through one
//! worker process at concurrency 2 on the real PostgreSQL and Redis, against a baseline of the
//! same extractions run directly (the isolated child alone) in the same run.
//!
//! Prints jobs per second, overhead per job over the baseline, and enqueue-to-start latency
//! p50/p99. Not a test: it prints figures.

#![allow(clippy::unwrap_used, reason = "a benchmark aborts on any failure")]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pdfq_domain::{Attempt, JobId, JobStatus};
use pdfq_extract::IsolationLimits;
use pdfq_store::{NewJob, Role, Store};
use pdfq_test_support::pdf::text_pdf;
use pdfq_test_support::{TestDatabase, TestRedis};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// CPU seconds used so far by process `pid` and its waited-for children (the extraction
/// children), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    stat_cpu_seconds(pid, 4)
}

/// The first `fields` CPU counters of /proc/PID/stat (utime, stime, cutime, cstime; clock
/// ticks of 10 ms), in seconds.
fn stat_cpu_seconds(pid: u32, fields: usize) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(fields)
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    ticks as f64 / 100.0
}

/// CPU seconds the whole machine has been busy (every process: worker, children, PostgreSQL,
/// Redis, this benchmark), from /proc/stat (clock ticks of 10 ms).
fn machine_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .enumerate()
        // user, nice, system, (idle, iowait skipped), irq, softirq, steal
        .filter(|(i, _)| !matches!(i, 3 | 4) && *i < 8)
        .map(|(_, v)| v.parse::<u64>().unwrap_or(0))
        .sum();
    ticks as f64 / 100.0
}

/// CPU seconds used so far by every live process named `name` (PostgreSQL's backends).
fn cpu_seconds_named(name: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .map(cpu_seconds_own)
        .sum()
}

/// CPU seconds of process `pid` alone (not its children).
fn cpu_seconds_own(pid: u32) -> f64 {
    stat_cpu_seconds(pid, 2)
}

/// A page as books have it: a couple of thousand characters.
fn book_page(n: usize) -> String {
    (1..=20)
        .map(|k| {
            format!("Sentence {k} of page {n} says a little more than nothing at all, for realism.")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The table row of one batch: jobs per second, then wall, worker and child, and machine CPU
/// per job (seconds in, milliseconds out).
fn size_row(
    label: &str,
    count: usize,
    per_second: f64,
    wall: f64,
    cpu: f64,
    machine: f64,
) -> String {
    format!(
        "| {label} ({count} queued at once): jobs per second; wall / worker+child CPU / machine CPU per job | {per_second:.1}; {:.1} ms / {:.1} ms / {:.1} ms |",
        wall * 1000.0,
        cpu * 1000.0,
        machine * 1000.0
    )
}

/// Jobs of a batch of `pages`-page documents: a tenth for 100 pages, at least 10.
fn jobs_of(pages: usize, jobs: usize) -> usize {
    (if pages >= 100 { jobs / 10 } else { jobs }).max(10)
}

/// `--documents 1=a.pdf,b.pdf;10=c.pdf,...`: documents by page count.
fn documents() -> Vec<(usize, Vec<PathBuf>)> {
    let Some(spec) = arg("--documents") else {
        return Vec::new();
    };
    spec.split(';')
        .filter_map(|size| {
            let (pages, files) = size.split_once('=')?;
            Some((
                pages.parse().ok()?,
                files.split(',').map(PathBuf::from).collect(),
            ))
        })
        .collect()
}

fn book(pages: usize) -> Vec<u8> {
    let texts: Vec<String> = (1..=pages).map(book_page).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    text_pdf(&refs)
}

struct Bench {
    store: Store,
    broker: pdfq_queue::Broker,
    owner: pdfq_domain::UserId,
    worker_pid: u32,
    done: u64,
}

impl Bench {
    async fn submit(&self, pdf: &[u8], name: &str) -> JobId {
        let id = JobId::new();
        self.store
            .create_job(&NewJob {
                id,
                owner: self.owner,
                file_name: name.into(),
                file_size: pdf.len() as u64,
                sha256: [0; 32],
                content: pdf.to_vec().into(),
                quotas: pdfq_store::Quotas::NONE,
            })
            .await
            .unwrap();
        self.broker.enqueue(id, Attempt::new(1)).await.unwrap();
        id
    }

    /// Waits until `more` further jobs have ended.
    async fn settle(&mut self, more: usize) {
        self.done += more as u64;
        let started = Instant::now();
        loop {
            let counts = self.store.count_by_status().await.unwrap();
            if counts.completed + counts.failed >= self.done {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1800),
                "the benchmark took too long"
            );
            // Every 10 ms, as the Python stack's driver polls: each poll is a query of its own.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `jobs` jobs queued at once, cycling through `pdfs`: jobs per second, wall and CPU per
    /// job.
    async fn batch(&mut self, pdfs: &[Vec<u8>], jobs: usize) -> (f64, f64, f64, f64, Vec<JobId>) {
        let cpu_before = cpu_seconds(self.worker_pid);
        let machine_before = machine_cpu_seconds();
        let postgres_before = cpu_seconds_named("postgres");
        let own_before = cpu_seconds_own(std::process::id());
        let started = Instant::now();
        let mut ids = Vec::with_capacity(jobs);
        for pdf in pdfs.iter().cycle().take(jobs) {
            ids.push(self.submit(pdf, "batch.pdf").await);
        }
        self.settle(jobs).await;
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(self.worker_pid) - cpu_before;
        let machine = machine_cpu_seconds() - machine_before;
        let postgres = cpu_seconds_named("postgres") - postgres_before;
        let own = cpu_seconds_own(std::process::id()) - own_before;
        eprintln!(
            "bench pipeline: {jobs} jobs: PostgreSQL {:.1} ms, this benchmark (submitting) {:.1} ms of CPU per job",
            postgres * 1000.0 / jobs as f64,
            own * 1000.0 / jobs as f64
        );
        (
            jobs as f64 / wall,
            wall / jobs as f64,
            cpu / jobs as f64,
            machine / jobs as f64,
            ids,
        )
    }
}

#[tokio::main]
async fn main() {
    // The same book-like PDFs for the Python stack's run (`--python-stack`).
    if let Some(dir) = arg("--write-books") {
        for pages in [1, 10, 100] {
            std::fs::write(format!("{dir}/book-{pages}.pdf"), book(pages)).unwrap();
        }
        return;
    }
    let jobs: usize = arg("--jobs").and_then(|n| n.parse().ok()).unwrap_or(300);
    let worker_bin =
        PathBuf::from(arg("--worker-bin").expect("--worker-bin PATH to a release pdfq-worker"));
    // Only the `--documents` batches: for profiling and interleaved before/after runs.
    let documents_only = std::env::args().any(|a| a == "--documents-only");
    let pdf = text_pdf(&[
        "A small job. It has two pages and a few sentences.",
        "The second page. It ends here.",
    ]);

    // Baseline: the same extraction in the isolated child, two at a time, no queue, no store.
    let child_args = [OsString::from("extract-child")];
    let started = Instant::now();
    std::thread::scope(|scope| {
        for lane in 0..if documents_only { 0 } else { 2 } {
            let (worker_bin, child_args, pdf) = (&worker_bin, &child_args, &pdf);
            scope.spawn(move || {
                for _ in (lane..jobs).step_by(2) {
                    pdfq_extract::extract_isolated(
                        worker_bin,
                        child_args,
                        pdf,
                        &IsolationLimits::default(),
                        |_, _| {},
                    )
                    .unwrap();
                }
            });
        }
    });
    let baseline = started.elapsed();

    let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
    let redis = TestRedis::new();
    let store = Store::connect(&db.url).await.unwrap();
    let broker: pdfq_queue::Broker = pdfq_queue::RedisBroker::connect_url(
        &redis.url,
        &redis.prefix,
        pdfq_queue::QueueOptions::default(),
    )
    .await
    .unwrap()
    .into();
    let owner = store
        .create_user("bench@example.com", "h", Role::User)
        .await
        .unwrap()
        .id;

    let mut worker = Command::new(&worker_bin)
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &redis.url)
        .env("REDIS_KEY_PREFIX", &redis.prefix)
        .env("WORKER_CONCURRENCY", "2")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Let the worker connect before the clock starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut bench = Bench {
        store: store.clone(),
        broker: broker.clone(),
        owner,
        worker_pid: worker.id(),
        done: 0,
    };
    if documents_only {
        for (pages, files) in documents() {
            let pdfs: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
            let count = jobs_of(pages, jobs);
            let (per_second, wall, cpu, machine, _) = bench.batch(&pdfs, count).await;
            let label = format!("{pages}-page corpus jobs");
            println!(
                "{}",
                size_row(&label, count, per_second, wall, cpu, machine)
            );
        }
        let _ = worker.kill();
        let _ = worker.wait();
        return;
    }

    let started = Instant::now();
    let mut ids = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        ids.push(bench.submit(&pdf, "small.pdf").await);
    }
    bench.settle(jobs).await;
    let pipeline = started.elapsed();

    // Latency without a backlog: one job every 25 ms, well under the worker's capacity.
    let mut paced = Vec::new();
    for _ in 0..100 {
        paced.push(bench.submit(&pdf, "paced.pdf").await);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bench.settle(paced.len()).await;
    let mut paced_latencies = Vec::new();
    for id in paced {
        let job = store.get_job(id).await.unwrap().unwrap();
        if let Some(started_at) = job.started_at {
            paced_latencies.push((started_at - job.created_at).unsigned_abs());
        }
    }
    paced_latencies.sort();

    // Jobs of book-like pages, by size: what per-job overhead costs where it matters.
    let mut sizes = Vec::new();
    for pages in [1, 10, 100] {
        let pdfs = [book(pages)];
        let label = format!("{pages}-page jobs");
        let count = jobs_of(pages, jobs);
        let (per_second, wall, cpu, machine, batch_ids) = bench.batch(&pdfs, count).await;
        ids.extend(batch_ids);
        sizes.push((label, count, per_second, wall, cpu, machine));
    }
    // The same sizes cut from real documents (`--documents`, written by `cargo xtask bench
    // pipeline` from the corpus): pages as users upload them.
    for (pages, files) in documents() {
        let pdfs: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        let label = format!("{pages}-page corpus jobs");
        let count = jobs_of(pages, jobs);
        let (per_second, wall, cpu, machine, batch_ids) = bench.batch(&pdfs, count).await;
        ids.extend(batch_ids);
        sizes.push((label, count, per_second, wall, cpu, machine));
    }

    // Live progress of one 1,000-page job, as the API's event streams receive it.
    let mut announced = broker.subscribe_progress().await.unwrap();
    let percents = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let big = bench.submit(&book(1000), "big.pdf").await;
    let counting = tokio::spawn({
        let percents = percents.clone();
        async move {
            while let Some(live) = announced.recv().await {
                if live.job == big {
                    percents.lock().unwrap().insert(live.percent.get());
                }
            }
        }
    });
    bench.settle(1).await;
    // The last announcements are on their way when the job row says completed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    counting.abort();
    let distinct = percents.lock().unwrap().len();
    let big_job = store.get_job(big).await.unwrap().unwrap();
    let big_ran = big_job
        .finished_at
        .zip(big_job.started_at)
        .map_or(0.0, |(end, start)| (end - start).as_seconds_f64());

    let _ = worker.kill();
    let _ = worker.wait();

    let mut latencies = Vec::with_capacity(jobs);
    let mut failed = 0;
    let total = ids.len();
    for id in ids {
        let job = store.get_job(id).await.unwrap().unwrap();
        if job.status != JobStatus::Completed {
            failed += 1;
        }
        if let Some(started_at) = job.started_at {
            latencies.push((started_at - job.created_at).unsigned_abs());
        }
    }
    latencies.truncate(jobs);
    latencies.sort();
    let per_job_pipeline = pipeline / jobs as u32;
    let per_job_baseline = baseline / jobs as u32;
    println!("| metric | value |");
    println!("|---|---|");
    println!("| jobs | {total} ({failed} not completed) |");
    println!(
        "| pipeline: jobs per second (1 worker process, concurrency 2) | {:.1} |",
        jobs as f64 / pipeline.as_secs_f64()
    );
    println!(
        "| baseline: isolated extractions per second, 2 at a time | {:.1} |",
        jobs as f64 / baseline.as_secs_f64()
    );
    println!(
        "| pipeline / baseline time | {:.2}x |",
        pipeline.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "| overhead per job (store, queue, progress commits) | {:.1} ms |",
        (per_job_pipeline.as_secs_f64() - per_job_baseline.as_secs_f64()) * 1000.0 * 2.0
    );
    println!(
        "| enqueue-to-start latency, one job every 25 ms: p50 / p99 | {:.1} ms / {:.1} ms |",
        percentile(&paced_latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&paced_latencies, 0.99).as_secs_f64() * 1000.0
    );
    println!(
        "| enqueue-to-start latency, all {jobs} queued at once: p50 / p99 | {:.1} ms / {:.1} ms |",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );
    for (label, count, per_second, wall, cpu, machine) in sizes {
        println!(
            "{}",
            size_row(&label, count, per_second, wall, cpu, machine)
        );
    }
    println!(
        "| 1,000-page job: distinct progress values announced to event streams (ran {big_ran:.2} s, {:?}{}) | {distinct} |",
        big_job.status,
        big_job
            .error_message
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
}
