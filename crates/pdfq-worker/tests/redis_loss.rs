//! Redis restarted with its data lost while jobs run: every job still completes, once.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::time::Duration;

use pdfq_store::{Role, Store};
use pdfq_test_support::{RedisServer, TestDatabase};

use common::{WorkerProcess, assert_all_complete_once, submit_six_jobs, wait_until_running};

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
    let jobs = submit_six_jobs(&store, &broker, owner).await;

    let _worker = WorkerProcess::start(&db.url, &redis.url(), &[]);
    wait_until_running(&store, jobs.len()).await;
    redis.restart_empty();

    assert_all_complete_once(&store, &jobs, Duration::from_secs(170)).await;
}
