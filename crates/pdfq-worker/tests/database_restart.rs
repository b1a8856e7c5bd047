//! PostgreSQL restarted (every connection cut) while jobs run: safe commit and the pool
//! recover, and every job completes once.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::time::Duration;

use pdfq_store::{Role, Store};
use pdfq_test_support::{PostgresServer, TestRedis};

use common::{WorkerProcess, assert_all_complete_once, submit_six_jobs, wait_until_running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_completes_when_postgres_restarts_mid_run() {
    let postgres = PostgresServer::start();
    let redis = TestRedis::new();
    let store = Store::connect(&postgres.url()).await.unwrap();
    store.migrate().await.unwrap();
    let broker: pdfq_queue::Broker = pdfq_queue::RedisBroker::connect_url(
        &redis.url,
        &redis.prefix,
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
    let jobs = submit_six_jobs(&store, &broker, owner).await;

    let _worker = WorkerProcess::start(
        &postgres.url(),
        &redis.url,
        &[("REDIS_KEY_PREFIX", &redis.prefix)],
    );
    wait_until_running(&store, jobs.len()).await;
    postgres.restart();

    // Our own pool recovers too: reads right after the restart are retried until they work.
    assert_all_complete_once(&store, &jobs, Duration::from_secs(170)).await;
}
