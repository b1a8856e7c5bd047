//! `pdfctl extract` and `pdfctl sentences` as a user runs them.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::io::Write as _;
use std::process::{Command, Stdio};

fn pdfctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pdfctl"))
}

#[test]
fn extract_prints_sentences_from_a_pdf() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.pdf");
    std::fs::write(
        &path,
        pdfq_test_support::pdf::text_pdf(&["Dr. Smith arrived. He sat down.", "Page two."]),
    )
    .unwrap();
    let out = pdfctl()
        .args(["extract", "--format", "sentences"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Dr. Smith arrived.\nHe sat down.\nPage two.\n"
    );

    let out = pdfctl().args(["extract"]).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Dr. Smith arrived.") && text.contains('\u{c}'),
        "{text}"
    );
}

#[test]
fn extract_reports_bad_input_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not.pdf");
    std::fs::write(&path, b"hello, I am plain text").unwrap();
    let out = pdfctl()
        .args(["extract", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], "not_a_pdf");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_a_pdf"));
}

#[test]
fn sentences_reads_standard_input() {
    let mut child = pdfctl()
        .arg("sentences")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("The U.S. economy grew 2.5% in 2023. Prices rose… Really?".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "The U.S. economy grew 2.5% in 2023.\nPrices rose…\nReally?\n"
    );
}
