//! What the process-level fault tests share: worker processes with short leases, jobs made of
//! generated PDFs, and waiting until every job has completed exactly once.

#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pdfq_domain::{Attempt, JobId, JobStatus, UserId};
use pdfq_queue::Broker;
use pdfq_store::{NewJob, Store};
use pdfq_test_support::pdf::text_pdf;

/// A `pdfq-worker` process (lease 2 s, renewed every 500 ms, sweeping every second), killed
/// when dropped.
pub struct WorkerProcess(pub Child);

impl WorkerProcess {
    /// Starts one on `database_url` and `redis_url`, with `extra` environment variables.
    pub fn start(database_url: &str, redis_url: &str, extra: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pdfq-worker"));
        command
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis_url)
            .env("QUEUE_LEASE", "2s")
            .env("QUEUE_LEASE_RENEW_EVERY", "500ms")
            .env("WORKER_SWEEP_EVERY", "1s")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in extra {
            command.env(key, value);
        }
        Self(command.spawn().expect("starting pdfq-worker"))
    }

    /// Sends `kill -NAME` (KILL, STOP, CONT...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.0.id().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{name} failed");
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Stores and enqueues a job of `pages` generated pages; returns its id.
pub async fn submit_pages(
    store: &Store,
    broker: &Broker,
    owner: UserId,
    pages: &[String],
) -> JobId {
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let bytes = text_pdf(&refs);
    let id = JobId::new();
    store
        .create_job(&NewJob {
            id,
            owner,
            file_name: format!("{id}.pdf"),
            file_size: bytes.len() as u64,
            sha256: [0; 32],
            content: bytes.into(),
            quotas: pdfq_store::Quotas::NONE,
        })
        .await
        .expect("storing a job");
    broker
        .enqueue(id, Attempt::new(1))
        .await
        .expect("enqueueing a job");
    id
}

/// Six jobs of a few hundred pages each, so some are still queued or running when a fault hits.
pub async fn submit_six_jobs(store: &Store, broker: &Broker, owner: UserId) -> Vec<(JobId, u32)> {
    let mut jobs = Vec::new();
    for n in 0..6 {
        let pages: Vec<String> = (1..=300 + n * 40)
            .map(|i| format!("Job {n} page {i} says hello."))
            .collect();
        let id = submit_pages(store, broker, owner, &pages).await;
        jobs.push((id, u32::try_from(pages.len()).unwrap_or(u32::MAX)));
    }
    jobs
}

/// Waits until some job has started (so a fault comes mid-run, not before).
pub async fn wait_until_running(store: &Store, jobs: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = store.count_by_status().await.expect("counting jobs");
        if counts.processing + counts.completed > 0 {
            assert!(
                counts.completed < jobs as u64,
                "the fault must come mid-run, not after it: {counts:?}"
            );
            return;
        }
        assert!(Instant::now() < deadline, "no job started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every job has completed with its page count, and checks each completed once.
/// Reads that fail (a database coming back) are retried until the deadline.
pub async fn assert_all_complete_once(store: &Store, jobs: &[(JobId, u32)], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    for &(job, pages) in jobs {
        loop {
            if let Ok(Some(current)) = store.get_job(job).await {
                if current.status == JobStatus::Completed {
                    assert_eq!(current.page_count, Some(pages));
                    let events = store.job_events(job).await.expect("reading events");
                    let completions = events
                        .iter()
                        .filter(|e| e.status == JobStatus::Completed)
                        .count();
                    assert_eq!(completions, 1, "{job} completed more than once");
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "job {job} never completed: {current:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
