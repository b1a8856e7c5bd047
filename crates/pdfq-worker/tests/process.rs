//! Worker processes killed or frozen mid-job, on the real PostgreSQL and Redis: the job still
//! completes on another worker, and its result is written exactly once. Leases are shortened.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pdfq_domain::{Attempt, JobId, JobStatus};
use pdfq_store::{NewJob, Role, Store};
use pdfq_test_support::pdf::text_pdf;
use pdfq_test_support::{TestDatabase, TestRedis};

/// A worker process, killed when dropped.
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = signal(&self.0, "CONT");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_worker(db: &TestDatabase, redis: &TestRedis) -> WorkerProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_pdfq-worker"))
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &redis.url)
        .env("REDIS_KEY_PREFIX", &redis.prefix)
        .env("QUEUE_LEASE", "2s")
        .env("QUEUE_LEASE_RENEW_EVERY", "500ms")
        .env("WORKER_SWEEP_EVERY", "1s")
        .env("WORKER_CONCURRENCY", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    WorkerProcess(child)
}

fn signal(child: &Child, name: &str) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
}

/// A job big enough to still be running a moment after it is claimed.
async fn submit_big_job(store: &Store, redis_broker: &pdfq_queue::Broker) -> (JobId, usize) {
    let owner = store
        .create_user("owner@example.com", "hash", Role::User)
        .await
        .unwrap()
        .id;
    let pages: Vec<String> = (1..=3000)
        .map(|i| format!("Page {i} begins here. It ends with a second sentence."))
        .collect();
    let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    let bytes = text_pdf(&refs);
    let id = JobId::new();
    store
        .create_job(&NewJob {
            id,
            owner,
            file_name: "big.pdf".into(),
            file_size: bytes.len() as u64,
            sha256: [0; 32],
            bytes,
        })
        .await
        .unwrap();
    redis_broker.enqueue(id, Attempt::new(1)).await.unwrap();
    (id, pages.len() * 2)
}

async fn wait_for(
    store: &Store,
    job: JobId,
    timeout: Duration,
    what: impl Fn(&pdfq_store::Job) -> bool,
) -> pdfq_store::Job {
    let deadline = Instant::now() + timeout;
    loop {
        let current = store.get_job(job).await.unwrap().unwrap();
        if what(&current) {
            return current;
        }
        assert!(Instant::now() < deadline, "timed out; job is {current:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn setup() -> (TestDatabase, TestRedis, Store, pdfq_queue::Broker) {
    let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
    let redis = TestRedis::new();
    let store = Store::connect(&db.url).await.unwrap();
    let broker = pdfq_queue::RedisBroker::connect_url(
        &redis.url,
        &redis.prefix,
        pdfq_queue::QueueOptions::default(),
    )
    .await
    .unwrap()
    .into();
    (db, redis, store, broker)
}

fn completed_events(events: &[pdfq_store::JobEvent]) -> usize {
    events
        .iter()
        .filter(|e| e.status == JobStatus::Completed)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_survives_kill_9_of_its_worker() {
    let (db, redis, store, broker) = setup().await;
    let (job, sentences) = submit_big_job(&store, &broker).await;

    let first = start_worker(&db, &redis);
    wait_for(&store, job, Duration::from_secs(60), |j| {
        j.status == JobStatus::Processing
    })
    .await;
    signal(&first.0, "KILL").unwrap();
    let at_kill = store.get_job(job).await.unwrap().unwrap();
    assert_eq!(
        at_kill.status,
        JobStatus::Processing,
        "the job must still run when its worker dies"
    );

    let killed_at = Instant::now();
    let _second = start_worker(&db, &redis);
    let done = wait_for(&store, job, Duration::from_secs(170), |j| {
        j.status == JobStatus::Completed
    })
    .await;
    eprintln!(
        "recovered and completed {:?} after the kill",
        killed_at.elapsed()
    );
    assert_eq!(done.attempts, Attempt::new(2));
    assert_eq!(done.sentence_count, Some(sentences as u32));
    assert_eq!(
        completed_events(&store.job_events(job).await.unwrap()),
        1,
        "the result is written once"
    );
    drop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_past_its_lease_cannot_commit_late() {
    let (db, redis, store, broker) = setup().await;
    let (job, sentences) = submit_big_job(&store, &broker).await;

    let frozen = start_worker(&db, &redis);
    wait_for(&store, job, Duration::from_secs(60), |j| {
        j.status == JobStatus::Processing
    })
    .await;
    signal(&frozen.0, "STOP").unwrap();

    let _other = start_worker(&db, &redis);
    let done = wait_for(&store, job, Duration::from_secs(170), |j| {
        j.status == JobStatus::Completed
    })
    .await;
    assert_eq!(done.attempts, Attempt::new(2));

    // The frozen worker wakes up with its old attempt; whatever it tries is rejected.
    signal(&frozen.0, "CONT").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = store.get_job(job).await.unwrap().unwrap();
    assert_eq!(after.status, JobStatus::Completed);
    assert_eq!(after.attempts, Attempt::new(2));
    assert_eq!(after.sentence_count, Some(sentences as u32));
    assert_eq!(
        completed_events(&store.job_events(job).await.unwrap()),
        1,
        "the result is written once"
    );
}
