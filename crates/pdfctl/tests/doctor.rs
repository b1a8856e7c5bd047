//! `pdfctl doctor` against real misconfigurations: each produces the right finding, with the
//! fix, and no secret in the output.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::process::Command;

use common::text;
use pdfq_test_support::{PostgresServer, RedisServer, TestDatabase, TestRedis};

/// `pdfctl doctor --json --no-api` with only `env` set; returns the exit success and report.
fn doctor(env: &[(&str, &str)], extra: &[&str]) -> (bool, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pdfctl"));
    command
        .env("PDFQ_CONFIG_DIR", dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("REDIS_TLS")
        .env_remove("REDIS_KEY_PREFIX")
        .env_remove("JWT_SECRET")
        .args(["doctor", "--json"])
        .args(extra);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr)));
    (out.status.success(), report)
}

/// The check called `name`.
fn finding<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

#[tokio::test]
async fn a_wrong_database_password_is_named_without_showing_it() {
    let server = PostgresServer::start();
    let admin = sqlx::PgPool::connect(&server.url()).await.unwrap();
    sqlx::query("create role app login password 'right-password-1234'")
        .execute(&admin)
        .await
        .unwrap();
    // The private server trusts everyone; make it ask `app` for its password over TCP.
    let hba: String = sqlx::query_scalar("show hba_file")
        .fetch_one(&admin)
        .await
        .unwrap();
    std::fs::write(
        &hba,
        "local all all trust\nhost all root 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    sqlx::query("select pg_reload_conf()")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;

    let wrong = server.url().replace("root@", "app:wrong-password-5678@");
    let (ok, report) = doctor(&[("DATABASE_URL", &wrong)], &["--no-api"]);
    assert!(!ok);
    let reachable = finding(&report, "database.reachable");
    assert_eq!(reachable["level"], "fail", "{reachable}");
    assert!(
        reachable["saw"]
            .as_str()
            .unwrap()
            .contains("refused the password for user \"app\""),
        "{reachable}"
    );
    assert!(
        reachable["fix"]
            .as_str()
            .unwrap()
            .contains("right password")
    );
    assert!(
        !report.to_string().contains("wrong-password-5678"),
        "{report}"
    );

    let right = server.url().replace("root@", "app:right-password-1234@");
    let (_, report) = doctor(&[("DATABASE_URL", &right)], &["--no-api"]);
    assert_eq!(
        finding(&report, "database.reachable")["level"],
        "ok",
        "{report:#}"
    );
    assert!(
        !report.to_string().contains("right-password-1234"),
        "{report}"
    );
}

#[tokio::test]
async fn redis_that_evicts_keys_fails_the_policy_check() {
    let server = RedisServer::start();
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lru")
        .query_async(&mut conn)
        .await
        .unwrap();

    let (ok, report) = doctor(&[("REDIS_URL", &server.url())], &["--no-api"]);
    assert!(!ok);
    let policy = finding(&report, "redis.maxmemory-policy");
    assert_eq!(policy["level"], "fail", "{policy}");
    assert!(policy["saw"].as_str().unwrap().contains("allkeys-lru"));
    assert!(policy["fix"].as_str().unwrap().contains("noeviction"));
    assert_eq!(finding(&report, "redis.reachable")["level"], "ok");
    // The private server has no persistence: that is a warning, not a failure.
    assert_eq!(finding(&report, "redis.persistence")["level"], "warn");

    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (_, report) = doctor(&[("REDIS_URL", &server.url())], &["--no-api"]);
    assert_eq!(finding(&report, "redis.maxmemory-policy")["level"], "ok");
}

#[tokio::test]
async fn an_unapplied_migration_fails_until_migrate_run() {
    let db = TestDatabase::empty().await;
    let (ok, report) = doctor(&[("DATABASE_URL", &db.url)], &["--no-api"]);
    assert!(!ok);
    let migrations = finding(&report, "database.migrations");
    assert_eq!(migrations["level"], "fail", "{migrations}");
    assert!(migrations["saw"].as_str().unwrap().contains("not applied"));
    assert!(
        migrations["fix"]
            .as_str()
            .unwrap()
            .contains("pdfctl migrate run")
    );
    assert_eq!(finding(&report, "database.reachable")["level"], "ok");
    assert_eq!(finding(&report, "database.max_connections")["level"], "ok");

    let run = Command::new(env!("CARGO_BIN_EXE_pdfctl"))
        .args(["migrate", "run"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    let (_, report) = doctor(&[("DATABASE_URL", &db.url)], &["--no-api"]);
    assert_eq!(
        finding(&report, "database.migrations")["level"],
        "ok",
        "{report:#}"
    );
    assert_eq!(
        finding(&report, "database.schema")["level"],
        "ok",
        "{report:#}"
    );
    assert_eq!(finding(&report, "queue.stuck")["level"], "ok", "{report:#}");
}

#[tokio::test]
async fn a_running_job_without_a_heartbeat_is_reported_stuck() {
    let db = TestDatabase::empty().await;
    let store = pdfq_store::Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let user = store
        .create_user(
            "owner@example.com",
            "not-a-real-hash",
            pdfq_store::Role::User,
        )
        .await
        .unwrap();
    let id = pdfq_domain::JobId::new();
    store
        .create_job(&pdfq_store::NewJob {
            id,
            owner: user.id,
            file_name: "stuck.pdf".to_owned(),
            file_size: 3,
            sha256: [0; 32],
            content: b"pdf".to_vec().into(),
            quotas: pdfq_store::Quotas::NONE,
        })
        .await
        .unwrap();
    let worker = pdfq_domain::WorkerId::generate("worker-9", 99);
    store.claim_job(id, &worker).await.unwrap().unwrap();
    // The worker died ten minutes ago.
    sqlx::query("update jobs set heartbeat_at = now() - interval '10 minutes' where id = $1")
        .bind(id.as_uuid())
        .execute(&db.pool)
        .await
        .unwrap();

    let (_, report) = doctor(&[("DATABASE_URL", &db.url)], &["--no-api"]);
    let stuck = finding(&report, "queue.stuck");
    assert_eq!(stuck["level"], "warn", "{stuck}");
    let saw = stuck["saw"].as_str().unwrap();
    assert!(saw.contains(&id.to_string()), "{saw}");
    store.close().await;
}

#[tokio::test]
async fn a_stale_worker_heartbeat_is_flagged() {
    use pdfq_queue::{Heartbeat, InstanceKind, QueueOptions, RedisBroker};

    let redis = TestRedis::new();
    let broker = RedisBroker::connect_url(&redis.url, &redis.prefix, QueueOptions::default())
        .await
        .unwrap();
    let id = pdfq_domain::WorkerId::generate("worker-7", 4242);
    broker
        .heartbeat(&Heartbeat {
            id: id.clone(),
            kind: InstanceKind::Worker,
            host: "worker-7".to_owned(),
            pid: 4242,
            version: "0.1.0".to_owned(),
            started_at: time::OffsetDateTime::now_utc(),
            concurrency: 2,
            busy: 1,
            current_jobs: Vec::new(),
            last_fetch_at: None,
            status: None,
            pool: None,
            rss_bytes: None,
            draining: false,
        })
        .await
        .unwrap();
    let env = [
        ("REDIS_URL", redis.url.as_str()),
        ("REDIS_KEY_PREFIX", redis.prefix.as_str()),
    ];
    let (_, report) = doctor(&env, &["--no-api"]);
    assert_eq!(
        finding(&report, "queue.workers")["level"],
        "ok",
        "{report:#}"
    );

    // Its last beat, two minutes ago (the registry is scored by the Redis time of the beat).
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (secs, _): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
    let () = redis::cmd("ZADD")
        .arg(format!("{}:workers", redis.prefix))
        .arg((secs - 120) * 1000)
        .arg(id.as_str())
        .query_async(&mut conn)
        .await
        .map(|_: i64| ())
        .unwrap();

    let (ok, report) = doctor(&env, &["--no-api"]);
    assert!(!ok);
    let workers = finding(&report, "queue.workers");
    assert_eq!(workers["level"], "fail", "{workers}");
    let saw = workers["saw"].as_str().unwrap();
    assert!(saw.contains("stale") && saw.contains(id.as_str()), "{saw}");
    assert!(saw.contains("2m"), "{saw}");

    // A fresh dead letter: counted, and flagged as still growing.
    broker
        .dead_letter(
            pdfq_domain::JobId::new(),
            pdfq_domain::Attempt::new(4),
            "extraction_failed",
            "the PDF could not be parsed",
        )
        .await
        .unwrap();
    let (_, report) = doctor(&env, &["--no-api"]);
    let dead = finding(&report, "queue.dead-letters");
    assert_eq!(dead["level"], "warn", "{dead}");
    assert!(
        dead["saw"]
            .as_str()
            .unwrap()
            .contains("1 of them in the last hour"),
        "{dead}"
    );
}

#[test]
fn an_embedded_deployment_is_healthy_and_a_dead_api_fails() {
    let mut up = common::Deployment::start();
    let (ok, report) = doctor(&[], &["--api-url", &up.url]);
    assert!(ok, "{report:#}");
    assert_eq!(finding(&report, "api.health")["level"], "ok");
    assert_eq!(finding(&report, "env.DATABASE_URL")["level"], "warn");
    up.stop();
    let (ok, report) = doctor(&[], &["--api-url", &up.url]);
    assert!(!ok);
    let health = finding(&report, "api.health");
    assert!(
        health["fix"]
            .as_str()
            .unwrap()
            .contains("is the API running")
    );
}

#[tokio::test]
async fn storage_shows_retention_and_the_database_size_against_the_plan() {
    let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
    let (_, report) = doctor(
        &[
            ("DATABASE_URL", &db.url),
            ("FILE_RETENTION", "2d"),
            ("USER_MAX_ACTIVE_JOBS", "5"),
            // Any real database passes 80% of one kilobyte.
            ("DATABASE_SIZE_LIMIT", "1KB"),
        ],
        &["--no-api"],
    );
    assert_eq!(finding(&report, "storage.STORAGE_URL")["level"], "ok");
    let retention = finding(&report, "storage.retention")["saw"].to_string();
    assert!(
        retention.contains("FILE_RETENTION 2d") && retention.contains("JOB_RETENTION 30d"),
        "{retention}"
    );
    assert!(
        finding(&report, "storage.quotas")["saw"]
            .to_string()
            .contains("USER_MAX_ACTIVE_JOBS 5")
    );
    let size = finding(&report, "storage.database_size");
    assert_eq!(size["level"], "warn", "{size}");
    assert!(
        size["fix"].to_string().contains("pdfctl jobs purge"),
        "{size}"
    );

    let (_, report) = doctor(&[("DATABASE_URL", &db.url)], &["--no-api"]);
    let size = finding(&report, "storage.database_size");
    assert_eq!(size["level"], "ok", "{size}");
    assert!(
        size["saw"].to_string().contains("of the plan's 500.0 MB"),
        "{size}"
    );
}

#[tokio::test]
async fn a_bucket_that_is_down_fails_the_storage_check() {
    let (ok, report) = doctor(
        &[
            ("STORAGE_URL", "s3://pdfq/uploads"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "secret-key-never-shown"),
        ],
        &["--no-api"],
    );
    assert!(!ok);
    let storage = finding(&report, "storage.STORAGE_URL");
    assert_eq!(storage["level"], "fail", "{storage}");
    assert!(
        storage["saw"].to_string().contains("s3://pdfq/uploads"),
        "{storage}"
    );
    assert!(!report.to_string().contains("secret-key-never-shown"));
}
