//! Where pdfq-api's log lines go. Railway shows every line a service writes to stderr as an
//! error, so the log lines must go to stdout: JSON in production, one object a line.
#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn production_logs_are_json_lines_on_stdout_and_stderr_stays_empty() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Nothing answers on port 1: the pools connect lazily, so the API starts and logs anyway.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pdfq-api"))
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
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            lines.push(line);
        }
        lines
    });
    let listening = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(30)).ok())
        .any(|line| line.contains("pdfq-api listening"));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();
    let lines = reader.join().unwrap();
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
