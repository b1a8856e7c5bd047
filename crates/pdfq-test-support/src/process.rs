//! A service binary's output, read as a log collector would: stdout line by line, stderr whole.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

/// What a stopped service wrote.
#[derive(Debug)]
pub struct Output {
    /// A stdout line contained the marker within 30 s.
    pub saw_marker: bool,
    pub stdout: Vec<String>,
    pub stderr: String,
}

/// Reads `child`'s piped stdout until a line contains `marker` (30 s at most), then stops it
/// with SIGTERM and returns everything it wrote on stdout and stderr.
///
/// # Panics
/// When stdout or stderr was not piped, or cannot be read.
#[must_use]
pub fn stop_after_line(mut child: Child, marker: &str) -> Output {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            lines.push(line);
        }
        lines
    });
    let saw_marker = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(30)).ok())
        .any(|line| line.contains(marker));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .expect("stderr is readable");
    let _ = child.wait();
    let stdout = reader.join().expect("the stdout reader does not panic");
    Output {
        saw_marker,
        stdout,
        stderr,
    }
}
