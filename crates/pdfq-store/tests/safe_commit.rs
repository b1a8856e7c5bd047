//! Safe commit against real transient failures: a pool with one connection, held by someone
//! else, makes every acquire time out (a transient error) until it is released.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

mod common;

use std::time::{Duration, Instant};

use common::{claimed_job, job, user, worker};
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

/// The server ends every connection of the database (as a restart does); returns how many.
async fn terminate_connections(db: &TestDatabase) -> i64 {
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&pdfq_test_support::admin_database_url())
            .await
            .unwrap();
    sqlx::query_scalar(
        "select count(*) from (
             select pg_terminate_backend(pid) from pg_stat_activity
             where datname = $1 and pid <> pg_backend_pid()
         ) as ended",
    )
    .bind(&db.name)
    .fetch_one(&mut admin)
    .await
    .unwrap()
}

async fn running_job_on(
    config: DatabaseConfig,
    policy: RetryPolicy,
) -> (Store, pdfq_domain::JobId, pdfq_domain::Attempt) {
    let store = Store::postgres(&config).unwrap().with_retry_policy(policy);
    let ann = user(&store, "ann@example.com").await;
    let (j, attempt) = claimed_job(&store, ann.id, "a.pdf").await;
    (store, j.id, attempt)
}

/// Without pre-ping, the first try runs on a connection the server has ended: a transient
/// error, so safe commit tries again after the wait, on a new connection.
#[tokio::test]
async fn postgres_a_connection_ended_by_the_server_is_retried() {
    let db = TestDatabase::migrated(&MIGRATOR).await;
    let config = DatabaseConfig {
        db_pool_size: 1,
        db_max_overflow: 0,
        db_pool_pre_ping: false,
        ..DatabaseConfig::for_url(&db.url)
    };
    let (store, id, attempt) = running_job_on(config, policy()).await;
    assert!(terminate_connections(&db).await >= 1);
    let started = Instant::now();
    let commit = store.complete_job(id, attempt, 1, 0).await.unwrap();
    assert_eq!(commit, Commit::Applied);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the first try must have failed and waited: {:?}",
        started.elapsed()
    );
    let events = store.job_events(id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.status.as_str() == "completed")
            .count(),
        1
    );
}

/// With pre-ping (the design's default) a dead connection is replaced before use: no retry.
#[tokio::test]
async fn postgres_pre_ping_replaces_a_dead_connection() {
    let db = TestDatabase::migrated(&MIGRATOR).await;
    let config = DatabaseConfig {
        db_pool_size: 1,
        db_max_overflow: 0,
        ..DatabaseConfig::for_url(&db.url)
    };
    let (store, id, attempt) = running_job_on(config, RetryPolicy::design()).await;
    assert!(terminate_connections(&db).await >= 1);
    let started = Instant::now();
    assert_eq!(
        store.complete_job(id, attempt, 1, 0).await.unwrap(),
        Commit::Applied
    );
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}
