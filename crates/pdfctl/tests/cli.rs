//! pdfctl's behaviour as a shell user meets it, with no server: pipes closed early, prompts.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::process::{Command, Output, Stdio};

use common::text;

/// Runs pdfctl with its stdout a pipe whose reading end is already closed, as under
/// `pdfctl ... | head -c 10` once head has exited: every write fails with EPIPE.
fn run_into_closed_pipe(command: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    command
        .stdout(writer)
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn assert_quiet_end(out: &Output, what: &str) {
    let err = text(&out.stderr);
    assert!(out.status.success(), "{what}: {:?} {err}", out.status);
    assert!(err.is_empty(), "{what} printed on stderr: {err}");
}

#[test]
fn a_closed_pipe_is_a_normal_end_not_a_panic_or_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("two.pdf");
    std::fs::write(
        &pdf,
        pdfq_test_support::pdf::text_pdf(&["Dr. Smith arrived. He sat down.", "Page two."]),
    )
    .unwrap();
    let pdfctl = || common::pdfctl_in(dir.path());

    let out = run_into_closed_pipe(pdfctl().args(["completions", "bash"]));
    assert_quiet_end(&out, "completions");
    let out = run_into_closed_pipe(pdfctl().arg("extract").arg(&pdf));
    assert_quiet_end(&out, "extract");
    // A command printing with println!, as most do.
    let out = run_into_closed_pipe(pdfctl().args([
        "plan",
        "--api-replicas",
        "1",
        "--workers",
        "1",
        "--concurrency",
        "1",
        "--plan",
        "hobby",
    ]));
    assert_quiet_end(&out, "plan");
}
