//! `GET /api/v1/health`: 200 with each check's status and latency while everything answers;
//! 503 while Redis is stopped, 200 again once it is back. Redis here is a private
//! `redis-server` on a free port, so stopping it disturbs no other test.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pdfq_client::types::HealthReport;
use pdfq_e2e::{Backend, TestApp, test_settings};
use pdfq_queue::{Broker, QueueOptions, RedisBroker};
use pdfq_store::Store;
use pdfq_test_support::TestDatabase;

struct RedisServer {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            child: None,
            dir: tempfile::tempdir().unwrap(),
        };
        server.restart();
        server
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls until the report's health is `healthy`, or gives up after 15 s.
async fn wait_for(app: &TestApp, healthy: bool) -> HealthReport {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let report = app.client.health().await.unwrap();
        if report.is_healthy() == healthy || Instant::now() > deadline {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_while_redis_is_down_and_200_when_it_is_back() {
    let mut redis = RedisServer::start();
    let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
    let store = Store::connect(&db.url).await.unwrap();
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let broker: Broker = RedisBroker::connect_url(&url, "health", QueueOptions::default())
        .await
        .unwrap()
        .into();
    let app = TestApp::spawn_on(store, broker, test_settings()).await;

    let raw = reqwest::get(app.client.url("/api/v1/health"))
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    let report: HealthReport = raw.json().await.unwrap();
    assert_eq!(report.status, "healthy");
    assert_eq!(
        report.checks.keys().collect::<Vec<_>>(),
        ["database", "redis"]
    );
    for check in report.checks.values() {
        assert_eq!(check.status, "ok");
        assert!(check.latency_ms >= 0.0 && check.latency_ms < 5000.0);
        assert_eq!(check.error, None);
    }

    redis.stop();
    let down = wait_for(&app, false).await;
    assert_eq!(down.status, "unhealthy");
    assert_eq!(down.checks["redis"].status, "error");
    assert!(down.checks["redis"].error.is_some());
    assert_eq!(down.checks["database"].status, "ok");
    let raw = reqwest::get(app.client.url("/api/v1/health"))
        .await
        .unwrap();
    assert_eq!(raw.status(), 503);

    // An upload while Redis is down: the rate limit is counted in the API process instead
    // (never skipped), the job is stored, and the worker's sweeper queues it once Redis is back.
    let user = app.user().await;
    user.client
        .upload("a.pdf", pdfq_e2e::pdf::hello())
        .await
        .expect("accepted, counted locally");

    // The admin overview still answers, with what it could not read named.
    let admin = app.admin().await;
    let overview = admin.client.admin_overview().await.unwrap();
    assert!(!overview.health.is_healthy());
    assert_eq!(overview.queue, None);
    assert!(
        overview
            .problems
            .iter()
            .any(|p| p.starts_with("queue statistics")),
        "{:?}",
        overview.problems
    );
    assert_eq!(
        overview.jobs_by_status["pending"], 1,
        "the upload made while Redis was down"
    );

    redis.restart();
    let back = wait_for(&app, true).await;
    assert_eq!(back.status, "healthy", "{back:?}");
    let raw = reqwest::get(app.client.url("/api/v1/health"))
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    user.client
        .upload("a.pdf", pdfq_e2e::pdf::hello())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_mode_reports_its_queue() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let report = app.client.health().await.unwrap();
    assert_eq!(report.status, "healthy");
    assert_eq!(
        report.checks.keys().collect::<Vec<_>>(),
        ["database", "queue"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_while_the_database_is_unreachable() {
    // A closed port: nothing listens there, so every connection is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config =
        pdfq_store::DatabaseConfig::for_url(&format!("postgres://root@127.0.0.1:{port}/none"));
    config.db_pool_timeout = Duration::from_secs(2);
    let store = Store::postgres(&config).unwrap();
    let redis = pdfq_test_support::TestRedis::new();
    let broker: Broker =
        RedisBroker::connect_url(&redis.url, &redis.prefix, QueueOptions::default())
            .await
            .unwrap()
            .into();
    let mut settings = test_settings();
    settings.health_timeout = Duration::from_secs(2);
    let app = TestApp::spawn_on(store, broker, settings).await;
    let start = Instant::now();
    let raw = reqwest::get(app.client.url("/api/v1/health"))
        .await
        .unwrap();
    assert_eq!(raw.status(), 503);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "bounded by the check's time limit"
    );
    let report: HealthReport = raw.json().await.unwrap();
    assert_eq!(report.checks["database"].status, "error");
    assert_eq!(report.checks["redis"].status, "ok");
    // Other endpoints answer 503 in the error shape, not 500.
    let err = app
        .client
        .register("a@b.c", "long enough")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
}
