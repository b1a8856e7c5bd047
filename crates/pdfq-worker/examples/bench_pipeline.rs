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

#[tokio::main]
async fn main() {
    let jobs: usize = arg("--jobs").and_then(|n| n.parse().ok()).unwrap_or(300);
    let worker_bin =
        PathBuf::from(arg("--worker-bin").expect("--worker-bin PATH to a release pdfq-worker"));
    let pdf = text_pdf(&[
        "A small job. It has two pages and a few sentences.",
        "The second page. It ends here.",
    ]);

    // Baseline: the same extraction in the isolated child, two at a time, no queue, no store.
    let child_args = [OsString::from("extract-child")];
    let started = Instant::now();
    std::thread::scope(|scope| {
        for lane in 0..2 {
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

    let started = Instant::now();
    let mut ids = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let id = JobId::new();
        store
            .create_job(&NewJob {
                id,
                owner,
                file_name: "small.pdf".into(),
                file_size: pdf.len() as u64,
                sha256: [0; 32],
                bytes: pdf.clone(),
            })
            .await
            .unwrap();
        broker.enqueue(id, Attempt::new(1)).await.unwrap();
        ids.push(id);
    }
    loop {
        let counts = store.count_by_status().await.unwrap();
        if counts.completed + counts.failed >= jobs as u64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the benchmark took too long"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pipeline = started.elapsed();

    // Latency without a backlog: one job every 25 ms, well under the worker's capacity.
    let mut paced = Vec::new();
    for _ in 0..100 {
        let id = JobId::new();
        store
            .create_job(&NewJob {
                id,
                owner,
                file_name: "paced.pdf".into(),
                file_size: pdf.len() as u64,
                sha256: [0; 32],
                bytes: pdf.clone(),
            })
            .await
            .unwrap();
        broker.enqueue(id, Attempt::new(1)).await.unwrap();
        paced.push(id);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    loop {
        let counts = store.count_by_status().await.unwrap();
        if counts.completed + counts.failed >= (jobs + paced.len()) as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut paced_latencies = Vec::new();
    for id in paced {
        let job = store.get_job(id).await.unwrap().unwrap();
        if let Some(started_at) = job.started_at {
            paced_latencies.push((started_at - job.created_at).unsigned_abs());
        }
    }
    paced_latencies.sort();
    let _ = worker.kill();
    let _ = worker.wait();

    let mut latencies = Vec::with_capacity(jobs);
    let mut failed = 0;
    for id in ids {
        let job = store.get_job(id).await.unwrap().unwrap();
        if job.status != JobStatus::Completed {
            failed += 1;
        }
        if let Some(started_at) = job.started_at {
            latencies.push((started_at - job.created_at).unsigned_abs());
        }
    }
    latencies.sort();
    let per_job_pipeline = pipeline / jobs as u32;
    let per_job_baseline = baseline / jobs as u32;
    println!("| metric | value |");
    println!("|---|---|");
    println!("| jobs | {jobs} ({failed} not completed) |");
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
}
