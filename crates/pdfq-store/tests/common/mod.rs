//! A migrated store of each backend for one test, and helpers to make users and jobs.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::time::Duration;

use pdfq_domain::{Attempt, JobId, UserId, WorkerId};
use pdfq_store::{DatabaseConfig, Job, MIGRATOR, NewJob, RetryPolicy, Role, Store, User};
use pdfq_test_support::TestDatabase;

/// A store and what keeps its database alive (dropped with the test).
pub struct Harness {
    pub store: Store,
    _pg: Option<TestDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    pub async fn postgres() -> Self {
        let db = TestDatabase::migrated(&MIGRATOR).await;
        let store = Store::postgres(&DatabaseConfig::for_url(&db.url))
            .unwrap()
            .with_retry_policy(RetryPolicy::design_scaled_down(20));
        Self {
            store,
            _pg: Some(db),
            _dir: None,
        }
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::sqlite(&dir.path().join("pdfq.db"))
            .await
            .unwrap()
            .with_retry_policy(RetryPolicy::design_scaled_down(20));
        store.migrate().await.unwrap();
        Self {
            store,
            _pg: None,
            _dir: Some(dir),
        }
    }

    pub fn pg(&self) -> &TestDatabase {
        self._pg.as_ref().unwrap()
    }
}

pub async fn user(store: &Store, email: &str) -> User {
    store
        .create_user(email, "argon2-hash", Role::User)
        .await
        .unwrap()
}

pub fn new_job(owner: UserId, file_name: &str) -> NewJob {
    let bytes = format!("%PDF-1.7 {file_name}").into_bytes();
    NewJob {
        id: JobId::new(),
        owner,
        file_name: file_name.to_owned(),
        file_size: bytes.len() as u64,
        sha256: [7; 32],
        content: bytes.into(),
        quotas: pdfq_store::Quotas::NONE,
    }
}

pub async fn job(store: &Store, owner: UserId, file_name: &str) -> Job {
    store.create_job(&new_job(owner, file_name)).await.unwrap()
}

/// A new job of `owner`'s, claimed by worker 1: the job and the attempt it runs as.
pub async fn claimed_job(store: &Store, owner: UserId, file_name: &str) -> (Job, Attempt) {
    let j = job(store, owner, file_name).await;
    let attempt = store
        .claim_job(j.id, &worker(1))
        .await
        .unwrap()
        .unwrap()
        .attempt;
    (j, attempt)
}

pub fn worker(n: u32) -> WorkerId {
    WorkerId::generate("test-host", n)
}

/// Long enough for a timestamp written now to be strictly in the past on either clock.
pub async fn tick() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}
