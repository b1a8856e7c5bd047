//! `Application::build` from the binary's configuration: migrations on start, the first admin
//! from PDFQ_ADMIN_EMAIL and PDFQ_ADMIN_PASSWORD, then serving on the configured address.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use pdfq_api::{ApiConfig, Application};
use pdfq_client::Client;
use pdfq_test_support::{TestDatabase, TestRedis};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_migrates_creates_the_admin_and_serves() {
    let db = TestDatabase::empty().await;
    let redis = TestRedis::new();
    let config = ApiConfig::from_args([
        "pdfq-api".to_owned(),
        format!("--database-url={}", db.url),
        format!("--redis-url={}", redis.url),
        format!("--redis-key-prefix={}", redis.prefix),
        format!("--jwt-secret={}", pdfq_e2e::JWT_SECRET),
        "--bind-addr=127.0.0.1".to_owned(),
        "--port=0".to_owned(),
        "--migrate-on-start=true".to_owned(),
        "--admin-email=root@example.com".to_owned(),
        "--admin-password=the first admin's password".to_owned(),
    ])
    .unwrap();
    let app = Application::build(config).await.unwrap();
    let port = app.port();
    assert_ne!(port, 0);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));

    let client = Client::new(&format!("http://127.0.0.1:{port}")).unwrap();
    assert!(client.health().await.unwrap().is_healthy());
    let tokens = client
        .login("root@example.com", "the first admin's password")
        .await
        .unwrap();
    let overview = client
        .with_token(&tokens.access_token)
        .admin_overview()
        .await
        .unwrap();
    assert_eq!(overview.broker, "redis");
    assert!(overview.problems.is_empty(), "{:?}", overview.problems);

    let _ = tx.send(());
    server.await.unwrap().unwrap();
}
