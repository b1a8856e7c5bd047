//! The isolated entry point: results stream from the child; its crashes and hangs become
//! typed errors and the caller lives on. The child starts confined: no inherited environment,
//! its resource limits and no_new_privs applied before it runs.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use pdfq_extract::{ChildPool, IsolationLimits, extract_isolated};

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
        OsString::from("while read -r _; do :; done; kill -SEGV $$"),
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
            "while read -r _; do :; done; echo 'thread main has overflowed its stack' >&2; kill -ABRT $$",
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
    // Children here exec their program directly: RLIMIT_NPROC 0 forbids a shell's fork.
    let sleep = Path::new("/bin/sleep");
    let args = [OsString::from("30")];
    let limits = IsolationLimits {
        wall_timeout: Duration::from_millis(300),
        ..IsolationLimits::default()
    };
    let started = Instant::now();
    let e = extract_isolated(sleep, &args, b"%PDF-1.4", &limits, |_, _| {}).unwrap_err();
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
    let sleep = Path::new("/bin/sleep");
    let args = [OsString::from("30")];
    let started = Instant::now();
    let e = pdfq_extract::extract_isolated_until(
        sleep,
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

/// The pid of our child process whose command line contains `marker`, once it has exec'd.
fn find_child(marker: &str) -> Option<u32> {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Field 4 of stat, after the parenthesised command name, is the parent's pid.
        let parent = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1));
        if parent == Some(me.as_str()) && String::from_utf8_lossy(&cmdline).contains(marker) {
            return Some(pid);
        }
    }
    None
}

/// Runs `/bin/sleep <marker>` as the extraction child and returns what `inspect` reads of it
/// (its pid given) while it runs; the child is then stopped.
fn inspect_running_child<T>(
    marker: &str,
    limits: &IsolationLimits,
    inspect: impl FnOnce(u32) -> T,
) -> T {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let run = scope.spawn(|| {
            pdfq_extract::extract_isolated_until(
                Path::new("/bin/sleep"),
                &[OsString::from(marker)],
                b"%PDF-1.4",
                limits,
                |_, _| {},
                || done.load(std::sync::atomic::Ordering::Relaxed),
            )
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            // Before exec the child is a copy of this test binary: wait for sleep itself.
            if let Some(pid) = find_child(marker) {
                break pid;
            }
            assert!(Instant::now() < deadline, "the child never started");
            std::thread::sleep(Duration::from_millis(10));
        };
        let seen = inspect(pid);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(run.join().unwrap().unwrap_err().code(), "stopped");
        seen
    })
}

#[test]
fn the_child_sees_none_of_the_parents_environment() {
    // cargo gives every test process CARGO_* and PATH: the child must get none of them.
    assert!(std::env::var_os("PATH").is_some() || std::env::var_os("CARGO").is_some());
    let environ = inspect_running_child("29.1001", &IsolationLimits::default(), |pid| {
        std::fs::read(format!("/proc/{pid}/environ")).unwrap()
    });
    let names: Vec<String> = environ
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v.split(|&b| b == b'=').next().unwrap()).into_owned())
        .collect();
    for name in &names {
        assert!(
            pdfq_extract::CHILD_ENV_ALLOWED.contains(&name.as_str()),
            "{name} reached the child: {names:?}"
        );
    }
}

/// `(soft, hard)` of one row of /proc/PID/limits, e.g. "Max cpu time".
fn limit_row(limits: &str, name: &str) -> (String, String) {
    let row = limits
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {limits}"));
    let mut values = row[name.len()..].split_whitespace();
    (
        values.next().unwrap().to_owned(),
        values.next().unwrap().to_owned(),
    )
}

#[test]
fn the_child_starts_with_its_limits_and_no_new_privs() {
    let limits = IsolationLimits {
        memory_bytes: 300 * 1024 * 1024,
        cpu_seconds: 7,
        ..IsolationLimits::default()
    };
    let (proc_limits, status) = inspect_running_child("29.1002", &limits, |pid| {
        (
            std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap(),
            std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap(),
        )
    });
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(limit_row(&proc_limits, "Max cpu time"), pair("7", "8"));
    let memory = (300u64 * 1024 * 1024).to_string();
    assert_eq!(
        limit_row(&proc_limits, "Max address space"),
        pair(&memory, &memory)
    );
    assert_eq!(limit_row(&proc_limits, "Max file size"), pair("0", "0"));
    assert_eq!(
        limit_row(&proc_limits, "Max core file size"),
        pair("0", "0")
    );
    assert_eq!(limit_row(&proc_limits, "Max processes"), pair("0", "0"));
    let stack = pdfq_extract::CHILD_STACK_BYTES.to_string();
    assert_eq!(
        limit_row(&proc_limits, "Max stack size"),
        pair(&stack, &stack)
    );
    let files = pdfq_extract::CHILD_MAX_OPEN_FILES.to_string();
    assert_eq!(
        limit_row(&proc_limits, "Max open files"),
        pair(&files, &files)
    );
    assert!(
        status.lines().any(|l| l == "NoNewPrivs:\t1"),
        "no_new_privs is not set: {status}"
    );
}

#[test]
fn the_cpu_limit_stops_a_spinning_child() {
    let sh = Path::new("/bin/sh");
    let args = [OsString::from("-c"), OsString::from("while :; do :; done")];
    let limits = IsolationLimits {
        cpu_seconds: 1,
        wall_timeout: Duration::from_secs(30),
        ..IsolationLimits::default()
    };
    let started = Instant::now();
    let e = extract_isolated(sh, &args, b"%PDF-1.4", &limits, |_, _| {}).unwrap_err();
    assert_eq!(
        e,
        pdfq_extract::ExtractError::ResourceLimit {
            resource: "cpu time".into()
        }
    );
    assert!(e.is_permanent());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_child_that_cannot_write_files_gets_sigxfsz() {
    // RLIMIT_FSIZE 0: the first byte written to a file kills the child.
    let dir = std::env::temp_dir().join(format!("pdfq-fsize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("written");
    let sh = Path::new("/bin/sh");
    let args = [
        OsString::from("-c"),
        OsString::from(format!("echo leak > {}", file.display())),
    ];
    let e = extract_isolated(
        sh,
        &args,
        b"%PDF-1.4",
        &IsolationLimits::default(),
        |_, _| {},
    )
    .unwrap_err();
    assert_eq!(e.code(), "extractor_crashed", "{e}");
    let written = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(written, 0);
}

#[test]
fn an_endless_line_from_the_child_is_an_error_not_an_allocation() {
    // 300 MB without a newline: the parent reads at most its line bound of it.
    let head = Path::new("/usr/bin/head");
    let args = [
        OsString::from("-c"),
        OsString::from("300000000"),
        OsString::from("/dev/zero"),
    ];
    let e = extract_isolated(
        head,
        &args,
        b"%PDF-1.4",
        &IsolationLimits::default(),
        |_, _| {},
    )
    .unwrap_err();
    assert_eq!(e.code(), "resource_limit", "{e}");
    assert!(e.to_string().contains("output line length"), "{e}");
}

#[test]
fn a_child_killed_in_the_middle_of_a_line_is_reported_by_how_it_died() {
    let sh = Path::new("/bin/sh");
    let args = [
        OsString::from("-c"),
        OsString::from("printf '{\"type\":\"pa'; kill -SEGV $$"),
    ];
    let e = extract_isolated(
        sh,
        &args,
        b"%PDF-1.4",
        &IsolationLimits::default(),
        |_, _| {},
    )
    .unwrap_err();
    assert_eq!(
        e,
        pdfq_extract::ExtractError::ExtractorCrashed {
            reason: "killed by signal 11".into()
        }
    );
}

#[test]
fn a_malformed_message_from_the_child_is_an_error() {
    let sh = Path::new("/bin/sh");
    let args = [
        OsString::from("-c"),
        OsString::from("echo 'this is not JSON'; echo '{\"type\":\"done\"}'"),
    ];
    let e = extract_isolated(
        sh,
        &args,
        b"%PDF-1.4",
        &IsolationLimits::default(),
        |_, _| {},
    )
    .unwrap_err();
    assert_eq!(e.code(), "extractor_crashed", "{e}");
    assert!(e.to_string().contains("malformed message"), "{e}");
}

#[test]
fn the_real_child_parses_under_its_seccomp_filter() {
    // A document that takes seconds to parse (one form drawn 1,600 times on 40 pages, with the
    // result limits lifted), so the child can be watched while it parses.
    let words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";
    let pdf = pdfq_test_support::pdf::repeated_form_pdf(40, 1600, &words.repeat(10));
    let limits = IsolationLimits {
        limits: pdfq_extract::Limits {
            max_glyphs_per_page: u64::MAX,
            max_form_draws_per_page: u32::MAX,
            max_page_text_bytes: u64::MAX / 8,
            max_text_bytes: u64::MAX,
            ..pdfq_extract::Limits::default()
        },
        memory_bytes: 0,
        ..IsolationLimits::default()
    };
    let marker = "seccomp-probe-7f3a";
    let done = std::sync::atomic::AtomicBool::new(false);
    let seen = std::thread::scope(|scope| {
        let run = scope.spawn(|| {
            pdfq_extract::extract_isolated_until(
                child_program(),
                &[OsString::from("child"), OsString::from(marker)],
                &pdf,
                &limits,
                |_, _| {},
                || done.load(std::sync::atomic::Ordering::Relaxed),
            )
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = None;
        while seen.is_none() && Instant::now() < deadline && !run.is_finished() {
            seen = find_child(marker)
                .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
                .filter(|status| status.lines().any(|l| l == "Seccomp:\t2"));
            std::thread::sleep(Duration::from_millis(5));
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = run.join();
        seen
    });
    assert!(
        seen.is_some(),
        "the child was never seen in seccomp filter mode"
    );
}

/// A pool of the real child that starts children only on demand, so tests can count them.
fn pool(jobs_per_child: u32) -> ChildPool {
    ChildPool::new(
        child_program(),
        &[OsString::from("child")],
        jobs_per_child,
        4,
    )
    .without_spares()
}

fn pooled_text(pool: &ChildPool, owner: &str, pdf: &[u8]) -> Vec<String> {
    let limits = IsolationLimits::default();
    let doc = pool
        .extract(owner, pdf, &limits, |_, _| {}, || false)
        .unwrap();
    doc.pages.into_iter().map(|p| p.text).collect()
}

#[test]
fn a_pooled_child_serves_one_owner_and_is_replaced_after_its_jobs() {
    let pool = pool(3);
    let hello = common::hello();
    for _ in 0..3 {
        assert!(pooled_text(&pool, "alice", &hello)[0].contains("Hello World"));
    }
    assert_eq!(pool.spawned(), 1, "three extractions in one child");
    pooled_text(&pool, "alice", &hello);
    assert_eq!(pool.spawned(), 2, "replaced after three");
    pooled_text(&pool, "bob", &hello);
    assert_eq!(
        pool.spawned(),
        3,
        "a child that read alice's file never reads bob's"
    );
    pooled_text(&pool, "alice", &hello);
    assert_eq!(pool.spawned(), 3, "alice's child again");
}

#[test]
fn a_reused_child_gives_what_a_fresh_child_gives() {
    let books: Vec<Vec<u8>> = [
        vec!["First file. One page."],
        vec!["Second file, page one.", "Page two. It ends here."],
        vec!["Third: alpha beta gamma.", "Delta.", "Epsilon zeta."],
    ]
    .iter()
    .map(|pages| pdfq_test_support::pdf::text_pdf(pages))
    .collect();
    let pool = pool(50);
    for book in books.iter().chain(books.iter()) {
        let fresh = extract_isolated(
            child_program(),
            &[OsString::from("child")],
            book,
            &IsolationLimits::default(),
            |_, _| {},
        )
        .unwrap();
        let fresh: Vec<String> = fresh.pages.into_iter().map(|p| p.text).collect();
        assert_eq!(pooled_text(&pool, "alice", book), fresh);
    }
    assert_eq!(pool.spawned(), 1, "six extractions, one child");
}

#[test]
fn a_failed_extraction_retires_its_child() {
    let pool = pool(50);
    let hello = common::hello();
    pooled_text(&pool, "alice", &hello);
    let e = pool
        .extract(
            "alice",
            b"not a pdf",
            &IsolationLimits::default(),
            |_, _| {},
            || false,
        )
        .unwrap_err();
    assert_eq!(e.code(), "not_a_pdf");
    assert_eq!(pool.spawned(), 1, "the reused child ran the failing file");
    pooled_text(&pool, "alice", &hello);
    assert_eq!(pool.spawned(), 2, "and was replaced after it");
}

#[test]
fn running_out_of_memory_in_a_reused_child_is_retried_in_a_fresh_one() {
    let pool = pool(50);
    let limits = IsolationLimits {
        memory_bytes: 64 * 1024 * 1024,
        ..IsolationLimits::default()
    };
    let hello = common::hello();
    pool.extract("alice", &hello, &limits, |_, _| {}, || false)
        .unwrap();
    let mut big = common::hello();
    big.extend(std::iter::repeat_n(b' ', 96 * 1024 * 1024));
    let e = pool
        .extract("alice", &big, &limits, |_, _| {}, || false)
        .unwrap_err();
    assert_eq!(e.code(), "resource_limit", "{e}");
    assert_eq!(
        pool.spawned(),
        2,
        "the failure was tried again in a fresh child"
    );
}

#[test]
fn each_extraction_in_a_reusable_child_has_the_whole_cpu_limit_and_no_more() {
    // The child may run 50 extractions, so the kernel's limit is 50 s: the 1 s of this one
    // is the parent's to enforce.
    let sh = Path::new("/bin/sh");
    let args = [OsString::from("-c"), OsString::from("while :; do :; done")];
    let pool = ChildPool::new(sh, &args, 50, 2).without_spares();
    let limits = IsolationLimits {
        cpu_seconds: 1,
        wall_timeout: Duration::from_secs(30),
        ..IsolationLimits::default()
    };
    let started = Instant::now();
    let e = pool
        .extract("alice", b"%PDF-1.4", &limits, |_, _| {}, || false)
        .unwrap_err();
    assert_eq!(
        e,
        pdfq_extract::ExtractError::ResourceLimit {
            resource: "cpu time".into()
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
