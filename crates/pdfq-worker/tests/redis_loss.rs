//! Redis restarted with its data lost while jobs run: every job still completes, once.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pdfq_domain::{Attempt, JobId, JobStatus};
use pdfq_store::{NewJob, Role, Store};
use pdfq_test_support::pdf::text_pdf;
use pdfq_test_support::{RedisServer, TestDatabase};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_completes_when_redis_loses_its_data_mid_run() {
    let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
    let mut redis = RedisServer::start();
    let store = Store::connect(&db.url).await.unwrap();
    let broker: pdfq_queue::Broker = pdfq_queue::RedisBroker::connect_url(
        &redis.url(),
        "pdfq",
        pdfq_queue::QueueOptions::default(),
    )
    .await
    .unwrap()
    .into();
    let owner = store
        .create_user("o@example.com", "h", Role::User)
        .await
        .unwrap()
        .id;
    let mut jobs = Vec::new();
    for n in 0..6 {
        let pages: Vec<String> = (1..=400 + n * 50)
            .map(|i| format!("Job {n} page {i} says hello."))
            .collect();
        let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
        let bytes = text_pdf(&refs);
        let id = JobId::new();
        store
            .create_job(&NewJob {
                id,
                owner,
                file_name: format!("{n}.pdf"),
                file_size: bytes.len() as u64,
                sha256: [0; 32],
                bytes,
            })
            .await
            .unwrap();
        broker.enqueue(id, Attempt::new(1)).await.unwrap();
        jobs.push((id, pages.len() as u32));
    }

    let _worker = Killed(
        Command::new(env!("CARGO_BIN_EXE_pdfq-worker"))
            .env("DATABASE_URL", &db.url)
            .env("REDIS_URL", redis.url())
            .env("QUEUE_LEASE", "2s")
            .env("QUEUE_LEASE_RENEW_EVERY", "500ms")
            .env("WORKER_SWEEP_EVERY", "1s")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Lose Redis once the first job runs, with the rest still queued.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = store.count_by_status().await.unwrap();
        if counts.processing + counts.completed > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no job started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = store.count_by_status().await.unwrap();
    assert!(
        before.completed < 6,
        "the fault must come mid-run, not after it: {before:?}"
    );
    redis.restart_empty();

    let deadline = Instant::now() + Duration::from_secs(170);
    for (job, pages) in jobs {
        loop {
            let current = store.get_job(job).await.unwrap().unwrap();
            if current.status == JobStatus::Completed {
                assert_eq!(current.page_count, Some(pages));
                let completions = store
                    .job_events(job)
                    .await
                    .unwrap()
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
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
