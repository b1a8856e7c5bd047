//! Where pdfq-api's log lines go. Railway shows every line a service writes to stderr as an
//! error, so the log lines must go to stdout: JSON in production, one object a line.
#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::net::TcpListener;
use std::process::{Command, Stdio};

#[test]
fn production_logs_are_json_lines_on_stdout_and_stderr_stays_empty() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Nothing answers on port 1: the pools connect lazily, so the API starts and logs anyway.
    let child = Command::new(env!("CARGO_BIN_EXE_pdfq-api"))
        .env_clear()
        .env("PDFQ_ENV", "production")
        .env(
            "JWT_SECRET",
            "a-test-secret-that-is-long-enough-for-production",
        )
        .env("DATABASE_URL", "postgres://pdfq@127.0.0.1:1/pdfq")
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("BIND_ADDR", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pdfq_test_support::process::Output {
        saw_marker: listening,
        stdout: lines,
        stderr,
    } = pdfq_test_support::process::stop_after_line(child, "pdfq-api listening");
    assert!(
        listening,
        "no \"pdfq-api listening\" line on stdout; stdout: {lines:?}; stderr: {stderr}"
    );
    assert!(stderr.trim().is_empty(), "log lines on stderr: {stderr}");
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(event.get("level").is_some(), "{line}");
    }
}
