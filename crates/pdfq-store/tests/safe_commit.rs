//! Safe commit against real transient failures: a pool with one connection, held by someone
//! else, makes every acquire time out (a transient error) until it is released.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

mod common;

use std::time::{Duration, Instant};

use common::{job, user, worker};
use pdfq_store::{Commit, DatabaseConfig, MIGRATOR, RetryPolicy, SqliteStore, Store, StoreError};
use pdfq_test_support::TestDatabase;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

const ACQUIRE: Duration = Duration::from_millis(100);

/// The design's schedule divided by 5: at once, after 200 ms, after 400 ms.
fn policy() -> RetryPolicy {
    RetryPolicy::design_scaled_down(5)
}

/// A connection taken from the pool; dropping it gives it back.
enum Held {
    Pg {
        _conn: PoolConnection<sqlx::Postgres>,
    },
    Sqlite {
        _conn: PoolConnection<sqlx::Sqlite>,
    },
}

async fn hold(store: &Store) -> Held {
    match store {
        Store::Postgres(s) => Held::Pg {
            _conn: s.pool().acquire().await.unwrap(),
        },
        Store::Sqlite(s) => Held::Sqlite {
            _conn: s.pool().acquire().await.unwrap(),
        },
    }
}

async fn one_connection_postgres() -> (Store, TestDatabase) {
    let db = TestDatabase::migrated(&MIGRATOR).await;
    let config = DatabaseConfig {
        db_pool_size: 1,
        db_max_overflow: 0,
        db_pool_timeout: ACQUIRE,
        ..DatabaseConfig::for_url(&db.url)
    };
    let store = Store::postgres(&config)
        .unwrap()
        .with_retry_policy(policy());
    (store, db)
}

async fn one_connection_sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("pdfq.db"))
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE)
        .connect_with(options)
        .await
        .unwrap();
    let store = Store::Sqlite(SqliteStore::new(pool)).with_retry_policy(policy());
    store.migrate().await.unwrap();
    (store, dir)
}

/// The connection comes back during the wait before the second try: the write succeeds then.
async fn a_write_succeeds_once_the_connection_is_back(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let j = job(store, ann.id, "a.pdf").await;
    let w = worker(1);
    let attempt = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;

    let held = hold(store).await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        drop(held);
    });
    let started = Instant::now();
    let commit = store.heartbeat(j.id, attempt, &w).await.unwrap();
    let took = started.elapsed();
    release.await.unwrap();
    assert_eq!(commit, Commit::Applied);
    // First try: an acquire timeout (100 ms); then the 200 ms wait; the second try succeeds.
    assert!(took >= ACQUIRE + Duration::from_millis(200), "{took:?}");
    assert!(
        took < Duration::from_millis(700),
        "no third try was needed: {took:?}"
    );
}

/// The connection never comes back: three tries on the 0 / 200 / 400 ms schedule, then the
/// transient error, mapped to 503.
async fn three_tries_then_unavailable(store: &Store) {
    let ann = user(store, "ann@example.com").await;
    let j = job(store, ann.id, "a.pdf").await;
    let w = worker(1);
    let attempt = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;

    let held = hold(store).await;
    let started = Instant::now();
    let err = store.complete_job(j.id, attempt, 1, 0).await.unwrap_err();
    let took = started.elapsed();
    drop(held);
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(err.http_status(), 503);
    // 3 acquire timeouts + 200 ms + 400 ms of waiting.
    let expected = ACQUIRE * 3 + Duration::from_millis(600);
    assert!(took >= expected, "{took:?}");
    assert!(
        took < expected + Duration::from_millis(350),
        "a fourth try? {took:?}"
    );
    // Nothing was applied; the job is still running and completes once the pool is back.
    assert_eq!(
        store.complete_job(j.id, attempt, 1, 0).await.unwrap(),
        Commit::Applied
    );
}

#[tokio::test]
async fn postgres_a_write_succeeds_once_the_connection_is_back() {
    let (store, _db) = one_connection_postgres().await;
    a_write_succeeds_once_the_connection_is_back(&store).await;
}

#[tokio::test]
async fn postgres_three_tries_then_unavailable() {
    let (store, _db) = one_connection_postgres().await;
    three_tries_then_unavailable(&store).await;
}

#[tokio::test]
async fn sqlite_a_write_succeeds_once_the_connection_is_back() {
    let (store, _dir) = one_connection_sqlite().await;
    a_write_succeeds_once_the_connection_is_back(&store).await;
}

#[tokio::test]
async fn sqlite_three_tries_then_unavailable() {
    let (store, _dir) = one_connection_sqlite().await;
    three_tries_then_unavailable(&store).await;
}
