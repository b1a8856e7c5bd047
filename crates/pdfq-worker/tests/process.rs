//! Worker processes killed or frozen mid-job, on the real PostgreSQL and Redis: the job still
//! completes on another worker, and its result is written exactly once. Leases are shortened.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::time::{Duration, Instant};

use pdfq_domain::{Attempt, JobId, JobStatus};
use pdfq_store::{Role, Store};
use pdfq_test_support::{TestDatabase, TestRedis};

use common::{WorkerProcess, assert_all_complete_once, submit_pages};

struct Setup {
    db: TestDatabase,
    redis: TestRedis,
    store: Store,
    job: JobId,
    sentences: u32,
}

impl Setup {
    /// One job big enough to still be running a moment after it is claimed.
    async fn new() -> Self {
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
            .create_user("owner@example.com", "hash", Role::User)
            .await
            .unwrap()
            .id;
        let pages: Vec<String> = (1..=3000)
            .map(|i| format!("Page {i} begins here. It ends with a second sentence."))
            .collect();
        let job = submit_pages(&store, &broker, owner, &pages).await;
        Self {
            db,
            redis,
            store,
            job,
            sentences: 6000,
        }
    }

    fn worker(&self) -> WorkerProcess {
        WorkerProcess::start(
            &self.db.url,
            &self.redis.url,
            &[
                ("REDIS_KEY_PREFIX", &self.redis.prefix),
                ("WORKER_CONCURRENCY", "1"),
            ],
        )
    }

    async fn wait_for(&self, status: JobStatus, timeout: Duration) -> pdfq_store::Job {
        let deadline = Instant::now() + timeout;
        loop {
            let current = self.store.get_job(self.job).await.unwrap().unwrap();
            if current.status == status {
                return current;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {status}; job is {current:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn assert_completed_once_on_attempt_2(&self) {
        assert_all_complete_once(&self.store, &[(self.job, 3000)], Duration::from_secs(170)).await;
        let done = self.store.get_job(self.job).await.unwrap().unwrap();
        assert_eq!(done.attempts, Attempt::new(2));
        assert_eq!(done.sentence_count, Some(self.sentences));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_survives_kill_9_of_its_worker() {
    let setup = Setup::new().await;
    let first = setup.worker();
    setup
        .wait_for(JobStatus::Processing, Duration::from_secs(60))
        .await;
    first.signal("KILL");
    let at_kill = setup.store.get_job(setup.job).await.unwrap().unwrap();
    assert_eq!(
        at_kill.status,
        JobStatus::Processing,
        "the job must still run when its worker dies"
    );

    let killed_at = Instant::now();
    let _second = setup.worker();
    setup
        .wait_for(JobStatus::Completed, Duration::from_secs(170))
        .await;
    eprintln!(
        "recovered and completed {:?} after the kill",
        killed_at.elapsed()
    );
    setup.assert_completed_once_on_attempt_2().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_past_its_lease_cannot_commit_late() {
    let setup = Setup::new().await;
    let frozen = setup.worker();
    setup
        .wait_for(JobStatus::Processing, Duration::from_secs(60))
        .await;
    frozen.signal("STOP");

    let _other = setup.worker();
    setup
        .wait_for(JobStatus::Completed, Duration::from_secs(170))
        .await;

    // The frozen worker wakes up with its old attempt; whatever it tries is rejected.
    frozen.signal("CONT");
    tokio::time::sleep(Duration::from_secs(3)).await;
    setup.assert_completed_once_on_attempt_2().await;
}
