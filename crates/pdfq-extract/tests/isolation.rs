//! The isolated entry point: results stream from the child; its crashes and hangs become
//! typed errors and the caller lives on.

mod common;

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use pdfq_extract::{IsolationLimits, extract_isolated};

fn child_program() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pdfq-extract"))
}

#[test]
fn isolated_extraction_streams_pages() {
    let mut seen = Vec::new();
    let doc = extract_isolated(
        child_program(),
        &[OsString::from("child")],
        &common::hello(),
        &IsolationLimits::default(),
        |p, total| {
            seen.push((p.number, total));
        },
    )
    .unwrap();
    assert_eq!(seen, vec![(1, 1)]);
    assert!(doc.pages[0].text.contains("Hello World"));
}

#[test]
fn typed_errors_cross_the_process_boundary() {
    let r = extract_isolated(
        child_program(),
        &[OsString::from("child")],
        b"not a pdf",
        &IsolationLimits::default(),
        |_, _| {},
    );
    assert_eq!(r.unwrap_err().code(), "not_a_pdf");
}

#[test]
fn a_crashing_child_is_a_typed_error() {
    let sh = Path::new("/bin/sh");
    let args = [
        OsString::from("-c"),
        OsString::from("cat > /dev/null; kill -SEGV $$"),
    ];
    let r = extract_isolated(
        sh,
        &args,
        b"%PDF-1.4",
        &IsolationLimits::default(),
        |_, _| {},
    );
    let e = r.unwrap_err();
    assert_eq!(e.code(), "extractor_crashed", "{e}");
    assert!(!e.is_permanent());

    let args = [
        OsString::from("-c"),
        OsString::from(
            "cat > /dev/null; echo 'thread main has overflowed its stack' >&2; kill -ABRT $$",
        ),
    ];
    let e = extract_isolated(
        sh,
        &args,
        b"%PDF-1.4",
        &IsolationLimits::default(),
        |_, _| {},
    )
    .unwrap_err();
    assert_eq!(e.code(), "extractor_crashed");
}

#[test]
fn a_hanging_child_is_killed_at_the_deadline() {
    let sh = Path::new("/bin/sh");
    let args = [OsString::from("-c"), OsString::from("sleep 30")];
    let limits = IsolationLimits {
        wall_timeout: Duration::from_millis(300),
        ..IsolationLimits::default()
    };
    let started = Instant::now();
    let e = extract_isolated(sh, &args, b"%PDF-1.4", &limits, |_, _| {}).unwrap_err();
    assert_eq!(e.code(), "timed_out");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_missing_program_is_an_internal_error() {
    let e = extract_isolated(
        Path::new("/nonexistent/pdfq"),
        &[],
        b"%PDF",
        &IsolationLimits::default(),
        |_, _| {},
    )
    .unwrap_err();
    assert_eq!(e.code(), "internal");
}

#[test]
fn the_memory_limit_is_enforced_and_reported() {
    // 96 MiB of PDF into a child allowed 64 MiB of address space.
    let mut pdf = common::hello();
    pdf.extend(std::iter::repeat_n(b' ', 96 * 1024 * 1024));
    let limits = IsolationLimits {
        memory_bytes: 64 * 1024 * 1024,
        ..IsolationLimits::default()
    };
    let e = extract_isolated(
        child_program(),
        &[OsString::from("child")],
        &pdf,
        &limits,
        |_, _| {},
    )
    .unwrap_err();
    assert_eq!(e.code(), "resource_limit", "{e}");
    assert!(e.is_permanent());
}

#[test]
fn should_stop_kills_the_child_promptly() {
    let sh = Path::new("/bin/sh");
    let args = [OsString::from("-c"), OsString::from("sleep 30")];
    let started = Instant::now();
    let e = pdfq_extract::extract_isolated_until(
        sh,
        &args,
        b"%PDF-1.4",
        &IsolationLimits::default(),
        |_, _| {},
        || started.elapsed() > Duration::from_millis(100),
    )
    .unwrap_err();
    assert_eq!(e.code(), "stopped");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
