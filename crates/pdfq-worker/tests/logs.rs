//! Where pdfq-worker's log lines go. Railway shows every line a service writes to stderr as an
//! error, so the log lines must go to stdout (JSON with LOG_FORMAT=json, as the deploy sets it).
#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::process::{Command, Stdio};

use pdfq_test_support::{TestDatabase, TestRedis};

#[tokio::test]
async fn json_logs_go_to_stdout_and_stderr_stays_empty() {
    let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
    let redis = TestRedis::new();
    let child = Command::new(env!("CARGO_BIN_EXE_pdfq-worker"))
        .env("DATABASE_URL", &db.url)
        .env("REDIS_URL", &redis.url)
        .env("REDIS_KEY_PREFIX", &redis.prefix)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pdfq_test_support::process::Output {
        saw_marker: started,
        stdout: lines,
        stderr,
    } = pdfq_test_support::process::stop_after_line(child, "worker started");
    assert!(
        started,
        "no \"worker started\" line on stdout; stdout: {lines:?}; stderr: {stderr}"
    );
    assert!(stderr.trim().is_empty(), "log lines on stderr: {stderr}");
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(event.get("level").is_some(), "{line}");
    }
}
