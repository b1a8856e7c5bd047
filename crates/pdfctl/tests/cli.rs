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

#[test]
fn api_url_is_offered_only_by_the_commands_that_talk_to_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let out = common::pdfctl_in(dir.path())
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        text(&out.stdout)
    };
    for local in [
        &["extract"][..],
        &["sentences"],
        &["up"],
        &["migrate", "status"],
        &["completions"],
    ] {
        assert!(!help(local).contains("--api-url"), "{local:?}");
    }
    for remote in [
        &["jobs", "list"][..],
        &["submit"],
        &["login"],
        &["dash"],
        &["workers", "drain"],
    ] {
        assert!(help(remote).contains("--api-url"), "{remote:?}");
    }
    // Given to a command that does not use it: refused, not silently ignored.
    let out = common::pdfctl_in(dir.path())
        .args(["--api-url", "http://127.0.0.1:9", "sentences", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--api-url is for"),
        "{}",
        text(&out.stderr)
    );
    // After the command's name, as well as before it.
    let out = common::pdfctl_in(dir.path())
        .args(["jobs", "list", "--api-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("not logged in to http://127.0.0.1:9"),
        "{}",
        text(&out.stderr)
    );
}
