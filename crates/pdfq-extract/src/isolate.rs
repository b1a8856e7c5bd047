//! Extraction in a child process with memory, CPU and wall-clock limits.
//!
//! Contract (parent <-> child, both sides in this module):
//! - the parent starts `program args...` (a binary whose entry calls [`child_main`]);
//! - stdin: one JSON line ([`ChildRequest`]), then the PDF bytes until EOF;
//! - stdout: JSON lines ([`ChildMessage`]): a `page` per finished page, then `done` or `error`;
//! - stderr: diagnostics (kept, bounded, to explain a crash).
//!
//! The child starts confined: an empty environment but for [`CHILD_ENV_ALLOWED`], and, set by
//! the parent between fork and exec (so before a byte of the PDF is read), its resource limits
//! and `no_new_privs`; before it parses, it installs its seccomp filter (`crate::sandbox`). A
//! limit that cannot be applied fails the extraction ([`ExtractError::IsolationFailed`])
//! rather than running the parser unconfined.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ExtractError;
use crate::extract::{Document, PageText, PageWarning};
use crate::geometry::{MAX_PAGE_LINES, MAX_PAGE_WORDS};
use crate::limits::Limits;
use crate::output::OutputBudget;

/// The only variables of the parent's environment the child sees: the parser's data directory
/// and backtraces for crash reports. Database URLs, secrets and tokens never reach the parser.
pub const CHILD_ENV_ALLOWED: &[&str] = &["PDFQ_CID_TO_UNICODE_DIR", "RUST_BACKTRACE"];

/// RLIMIT_STACK of the child: the parser's recursion runs on its main thread.
pub const CHILD_STACK_BYTES: u64 = 2 * crate::load::PARSE_STACK_BYTES as u64;

/// RLIMIT_NOFILE of the child: stdin, stdout, stderr and the few files the parser reads one at
/// a time (CID-to-Unicode tables, /proc/self/maps for the stack guard).
pub const CHILD_MAX_OPEN_FILES: u64 = 32;

/// Limits of one isolated attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IsolationLimits {
    /// Limits the child applies while parsing.
    pub limits: Limits,
    /// RLIMIT_AS of the child, in bytes.
    pub memory_bytes: u64,
    /// RLIMIT_CPU of the child, in seconds (SIGXCPU then, a second later, SIGKILL). The child
    /// is single-threaded, so this bounds its CPU well below any wall-clock limit.
    pub cpu_seconds: u64,
    /// The child is killed after this long, whatever it is doing.
    pub wall_timeout: Duration,
}

impl Default for IsolationLimits {
    fn default() -> Self {
        IsolationLimits {
            limits: Limits::default(),
            memory_bytes: 512 * 1024 * 1024,
            cpu_seconds: 30,
            wall_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ChildRequest {
    limits: Limits,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ChildMessage {
    Page {
        page: PageText,
        total: u32,
    },
    /// Sent after the last page, before `Done`.
    Warning {
        warning: PageWarning,
    },
    Done,
    Error {
        error: ExtractError,
    },
}

const MAX_STDERR: usize = 16 * 1024;

/// Messages buffered between the thread reading the child and the caller: a child faster than
/// the caller then waits on its pipe instead of filling the parent's memory.
const MESSAGE_BACKLOG: usize = 16;

/// The longest line the parent reads from the child: a page message holds at most
/// `max_page_text_bytes` of text, which JSON escaping can at most sextuple (`\u001f`), and its
/// lines' geometry, bounded apart from the text (a box of four numbers and an index per line,
/// a pair of 16-bit integers per word).
fn max_line_bytes(limits: &Limits) -> u64 {
    const GEOMETRY_BYTES: u64 = MAX_PAGE_LINES as u64 * 80 + MAX_PAGE_WORDS as u64 * 14;
    limits
        .max_page_text_bytes
        .saturating_mul(6)
        .saturating_add(64 * 1024 + GEOMETRY_BYTES)
}

/// Runs the extraction in `program args...` (which must call [`child_main`]), calling
/// `on_page(page, total_pages)` as pages arrive. Never panics on the child's behaviour: a
/// crash, an abort, a limit or a hang becomes a typed error.
pub fn extract_isolated(
    program: &Path,
    args: &[OsString],
    bytes: &[u8],
    limits: &IsolationLimits,
    on_page: impl FnMut(&PageText, u32),
) -> Result<Document, ExtractError> {
    extract_isolated_until(program, args, bytes, limits, on_page, || false)
}

/// How often a running extraction checks `should_stop`.
const STOP_POLL: Duration = Duration::from_millis(50);

/// [`extract_isolated`] that also kills the child as soon as `should_stop()` turns true
/// (checked after each page and every 50 ms), returning [`ExtractError::Stopped`]: the worker
/// uses it for cancels, its soft time limit and shutdown.
pub fn extract_isolated_until(
    program: &Path,
    args: &[OsString],
    bytes: &[u8],
    limits: &IsolationLimits,
    mut on_page: impl FnMut(&PageText, u32),
    should_stop: impl Fn() -> bool,
) -> Result<Document, ExtractError> {
    let started = Instant::now();
    let deadline = started + limits.wall_timeout;
    let rlimits = child_rlimits(limits);
    let mut command = Command::new(program);
    // Its own process group, so a kill also reaches anything it started (which would
    // otherwise hold the pipes open).
    command
        .process_group(0)
        .args(args)
        .env_clear()
        .envs(child_environment(std::env::vars_os()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // calls are allowed: it makes setrlimit and prctl system calls (nix's thin wrappers, no
    // allocation, no locks) on values computed before the fork.
    #[allow(
        unsafe_code,
        reason = "pre_exec is the only way to confine the child before it runs; see SAFETY"
    )]
    unsafe {
        command.pre_exec(move || confine(&rlimits));
    }
    let mut child = command.spawn().map_err(|e| spawn_error(program, &e))?;
    let request = ChildRequest {
        limits: limits.limits.clone(),
    };
    let mut header = serde_json::to_vec(&request).map_err(|e| ExtractError::Internal {
        reason: e.to_string(),
    })?;
    header.push(b'\n');

    let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        kill(&mut child);
        return Err(ExtractError::Internal {
            reason: "child pipes unavailable".into(),
        });
    };
    let (tx, rx) = mpsc::sync_channel::<Result<ChildMessage, ExtractError>>(MESSAGE_BACKLOG);
    let max_line = max_line_bytes(&limits.limits);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // A child that dies early closes the pipe: the write error is expected then.
            let _ = stdin
                .write_all(&header)
                .and_then(|()| stdin.write_all(bytes));
        });
        let stderr_reader = scope.spawn(move || {
            let mut buf = Vec::new();
            let _ = (&mut stderr).take(MAX_STDERR as u64).read_to_end(&mut buf);
            // Drain the rest so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            String::from_utf8_lossy(&buf).into_owned()
        });
        scope.spawn(move || read_messages(stdout, max_line, &tx));

        let mut doc = Document::default();
        let mut output = OutputBudget::new(&limits.limits);
        let mut outcome: Option<Result<(), ExtractError>> = None;
        loop {
            let now = Instant::now();
            if now >= deadline {
                kill(&mut child);
                outcome = Some(Err(timed_out(limits)));
                break;
            }
            if should_stop() {
                kill(&mut child);
                outcome = Some(Err(ExtractError::Stopped));
                break;
            }
            match rx.recv_timeout((deadline - now).min(STOP_POLL)) {
                Ok(Ok(ChildMessage::Page { page, total })) => {
                    // The child counts too; counting again here holds even if it was subverted.
                    if let Err(e) = output.add_page(&page) {
                        kill(&mut child);
                        outcome = Some(Err(e));
                        break;
                    }
                    on_page(&page, total);
                    doc.pages.push(page);
                }
                Ok(Ok(ChildMessage::Warning { warning })) => {
                    // At most one per page and one for the file: more is a subverted child.
                    if doc.warnings.len() > doc.pages.len() {
                        kill(&mut child);
                        outcome = Some(Err(ExtractError::ExtractorCrashed {
                            reason: "it sent more warnings than pages".into(),
                        }));
                        break;
                    }
                    doc.warnings.push(warning);
                }
                Ok(Ok(ChildMessage::Done)) => {
                    outcome = Some(Ok(()));
                    break;
                }
                Ok(Ok(ChildMessage::Error { error })) => {
                    outcome = Some(Err(error));
                    break;
                }
                Ok(Err(e)) => {
                    kill(&mut child);
                    outcome = Some(Err(e));
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        // A reader blocked on a full backlog gets an error and ends.
        drop(rx);
        let status = wait_until(&mut child, deadline);
        let stderr_text = stderr_reader.join().unwrap_or_default();
        match (outcome, status) {
            (Some(Ok(())), _) => {
                // Recomputed here from the whole document (the child streams pages before it
                // has seen them all, and is not trusted).
                crate::furniture::mark(&mut doc.pages);
                Ok(doc)
            }
            (Some(Err(e)), _) => Err(e),
            (None, None) => Err(timed_out(limits)),
            (None, Some(status)) => Err(crash_error(status, &stderr_text)),
        }
    })
}

fn timed_out(limits: &IsolationLimits) -> ExtractError {
    ExtractError::TimedOut {
        seconds: limits.wall_timeout.as_secs().max(1),
    }
}

/// Reads the child's messages, one JSON line each, never more than `max_line` bytes of a line:
/// an over-long or malformed line ends the reading with an error (the caller kills the child).
fn read_messages(
    stdout: std::process::ChildStdout,
    max_line: u64,
    tx: &mpsc::SyncSender<Result<ChildMessage, ExtractError>>,
) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(max_line.saturating_add(1))
            .read_until(b'\n', &mut line);
        let message = match read {
            Ok(0) | Err(_) => return,
            Ok(n) if n as u64 > max_line => Err(ExtractError::ResourceLimit {
                resource: format!("output line length (more than {max_line} bytes)"),
            }),
            // A last line cut short: the child died while writing it, and how it died (its
            // exit status) is the error to report.
            Ok(_) if line.last() != Some(&b'\n') => return,
            Ok(_) => serde_json::from_slice::<ChildMessage>(&line).map_err(|e| {
                ExtractError::ExtractorCrashed {
                    reason: format!("it sent a malformed message: {e}"),
                }
            }),
        };
        let failed = message.is_err();
        if tx.send(message).is_err() || failed {
            return;
        }
    }
}

/// The child's environment: only the allowed variables of `parent`.
fn child_environment(
    parent: impl Iterator<Item = (OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    parent
        .filter(|(key, _)| CHILD_ENV_ALLOWED.iter().any(|allowed| key == allowed))
        .collect()
}

/// Resource limits of the child, as `(resource, soft, hard)`.
type Rlimits = Vec<(nix::sys::resource::Resource, u64, u64)>;

/// The child's limits, computed before the fork. None is above the parent's own hard limit
/// (which an unprivileged process could not raise): the child is then held to the parent's.
///
/// - RLIMIT_AS and RLIMIT_CPU from `limits` (0: not set);
/// - RLIMIT_FSIZE 0: the child writes no file (pipes are not files; a write is SIGXFSZ);
/// - RLIMIT_CORE 0: no core dump holding the PDF's contents;
/// - RLIMIT_NOFILE [`CHILD_MAX_OPEN_FILES`];
/// - RLIMIT_NPROC 0: the child cannot fork or start a thread, so it parses on its main thread,
///   whose stack RLIMIT_STACK sets to [`CHILD_STACK_BYTES`]. The kernel compares the limit with
///   all processes of the real user and exempts root (CAP_SYS_RESOURCE): it bites when the
///   worker runs unprivileged (the image's user 10001), and never limits the parent, which
///   sets it in the child only.
fn child_rlimits(limits: &IsolationLimits) -> Rlimits {
    use nix::sys::resource::{Resource, getrlimit};
    let mut wanted = vec![
        (Resource::RLIMIT_FSIZE, 0, 0),
        (Resource::RLIMIT_CORE, 0, 0),
        (
            Resource::RLIMIT_NOFILE,
            CHILD_MAX_OPEN_FILES,
            CHILD_MAX_OPEN_FILES,
        ),
        (Resource::RLIMIT_NPROC, 0, 0),
        (Resource::RLIMIT_STACK, CHILD_STACK_BYTES, CHILD_STACK_BYTES),
    ];
    if limits.memory_bytes > 0 {
        wanted.push((
            Resource::RLIMIT_AS,
            limits.memory_bytes,
            limits.memory_bytes,
        ));
    }
    if limits.cpu_seconds > 0 {
        wanted.push((
            Resource::RLIMIT_CPU,
            limits.cpu_seconds,
            limits.cpu_seconds.saturating_add(1),
        ));
    }
    wanted
        .into_iter()
        .map(|(resource, soft, hard)| match getrlimit(resource) {
            Ok((_, parent_hard)) => (resource, soft.min(parent_hard), hard.min(parent_hard)),
            Err(_) => (resource, soft, hard),
        })
        .collect()
}

/// Runs in the child between fork and exec: applies `rlimits` and `no_new_privs` (the child
/// and anything it could exec never gain privileges, e.g. through a setuid binary).
/// Async-signal-safe: system calls only. The first failure aborts the spawn.
fn confine(rlimits: &Rlimits) -> std::io::Result<()> {
    for &(resource, soft, hard) in rlimits {
        nix::sys::resource::setrlimit(resource, soft, hard)?;
    }
    nix::sys::prctl::set_no_new_privs()?;
    Ok(())
}

/// A failed spawn: a program that cannot be run is an internal error; anything else failed
/// in [`confine`] (setrlimit and prctl fail with EPERM or EINVAL), before exec.
fn spawn_error(program: &Path, e: &std::io::Error) -> ExtractError {
    use nix::errno::Errno;
    let errno = e.raw_os_error().map(Errno::from_raw);
    if matches!(errno, Some(Errno::EPERM | Errno::EINVAL)) {
        return ExtractError::IsolationFailed {
            reason: format!(
                "cannot apply the resource limits or no_new_privs to {}: {e}",
                program.display()
            ),
        };
    }
    ExtractError::Internal {
        reason: format!("cannot start {}: {e}", program.display()),
    }
}

fn kill(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for the child until `deadline`, then kills it; `None` if it had to be killed.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => {
                kill(child);
                return None;
            }
        }
        if Instant::now() >= deadline {
            kill(child);
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn crash_error(status: std::process::ExitStatus, stderr: &str) -> ExtractError {
    use std::os::unix::process::ExitStatusExt;
    let out_of_memory = stderr.contains("memory allocation") || stderr.contains("out of memory");
    if out_of_memory {
        return ExtractError::ResourceLimit {
            resource: "memory".into(),
        };
    }
    match status.signal() {
        // SIGXCPU at the soft CPU limit, SIGKILL at the hard one.
        Some(24) | Some(9) => ExtractError::ResourceLimit {
            resource: "cpu time".into(),
        },
        Some(sig) => {
            let what = if stderr.contains("stack overflow") {
                "stack overflow".to_string()
            } else {
                format!("killed by signal {sig}")
            };
            ExtractError::ExtractorCrashed { reason: what }
        }
        None => {
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            let code = status.code().unwrap_or(-1);
            ExtractError::ExtractorCrashed {
                reason: format!("exit status {code}: {last}"),
            }
        }
    }
}

/// Entry point of the child process: reads the request and the PDF on stdin, writes pages
/// and the outcome to stdout. A host binary calls it in its child mode (for example
/// `pdfq-worker extract-child`, `pdfq-extract child`) and returns the code.
pub fn child_main() -> ExitCode {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut header = Vec::new();
    if (&mut input)
        .take(1 << 20)
        .read_until(b'\n', &mut header)
        .is_err()
    {
        return ExitCode::from(2);
    }
    let Ok(request) = serde_json::from_slice::<ChildRequest>(&header) else {
        eprintln!("pdfq-extract child: malformed request header");
        return ExitCode::from(2);
    };
    crate::extract::LEAK_ON_EXIT.store(true, std::sync::atomic::Ordering::Relaxed);
    crate::load::PARSE_ON_CALLING_THREAD.store(true, std::sync::atomic::Ordering::Relaxed);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let send = |msg: &ChildMessage, out: &mut std::io::BufWriter<std::io::StdoutLock<'_>>| {
        if let Ok(line) = serde_json::to_string(msg) {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    };
    let mut bytes = Vec::new();
    let cap = request.limits.max_file_bytes.saturating_add(1);
    if let Err(e) = (&mut input).take(cap).read_to_end(&mut bytes) {
        let error = if e.kind() == std::io::ErrorKind::OutOfMemory {
            ExtractError::ResourceLimit {
                resource: "memory".into(),
            }
        } else {
            ExtractError::Internal {
                reason: format!("reading the PDF from stdin: {e}"),
            }
        };
        send(&ChildMessage::Error { error }, &mut out);
        return ExitCode::SUCCESS;
    }
    // From here on untrusted bytes are parsed: only the system calls parsing needs.
    if let Err(reason) = crate::sandbox::install() {
        let error = ExtractError::IsolationFailed { reason };
        send(&ChildMessage::Error { error }, &mut out);
        return ExitCode::SUCCESS;
    }
    let result = crate::extract::stream_pages(bytes, &request.limits, |page, total| {
        // Written by hand to serialise the borrowed page (the `page` message, without a copy).
        if let Ok(json) = serde_json::to_string(page) {
            let _ = writeln!(
                out,
                "{{\"type\":\"page\",\"page\":{json},\"total\":{total}}}"
            );
            let _ = out.flush();
        }
    });
    match result {
        Ok(warnings) => {
            for warning in warnings {
                send(&ChildMessage::Warning { warning }, &mut out);
            }
            send(&ChildMessage::Done, &mut out);
        }
        Err(error) => send(&ChildMessage::Error { error }, &mut out),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowed_variables_are_passed_on() {
        let parent = [
            ("DATABASE_URL", "postgres://u:secret@db/pdfq"),
            ("JWT_SECRET", "s3cret"),
            ("PDFQ_CID_TO_UNICODE_DIR", "/data/cid"),
            ("RUST_BACKTRACE", "1"),
            ("PATH", "/usr/bin"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let passed = child_environment(parent.into_iter());
        assert_eq!(
            passed,
            vec![
                (
                    OsString::from("PDFQ_CID_TO_UNICODE_DIR"),
                    OsString::from("/data/cid")
                ),
                (OsString::from("RUST_BACKTRACE"), OsString::from("1")),
            ]
        );
    }

    #[test]
    fn a_limit_that_cannot_be_applied_is_an_isolation_failure() {
        let program = Path::new("/usr/bin/pdfq");
        let refused = std::io::Error::from_raw_os_error(nix::errno::Errno::EPERM as i32);
        let e = spawn_error(program, &refused);
        assert_eq!(e.code(), "isolation_failed", "{e}");
        assert!(!e.is_permanent(), "a host problem: another worker may do");
        let missing = std::io::Error::from_raw_os_error(nix::errno::Errno::ENOENT as i32);
        assert_eq!(spawn_error(program, &missing).code(), "internal");
    }

    #[test]
    fn no_child_limit_exceeds_the_parents_own() {
        use nix::sys::resource::{Resource, getrlimit};
        let limits = IsolationLimits {
            memory_bytes: u64::MAX - 1,
            ..IsolationLimits::default()
        };
        let (_, parent_hard) = getrlimit(Resource::RLIMIT_AS).unwrap();
        let rlimits = child_rlimits(&limits);
        let memory = rlimits
            .iter()
            .find(|(r, _, _)| *r == Resource::RLIMIT_AS)
            .unwrap();
        assert_eq!(memory.2, (u64::MAX - 1).min(parent_hard));
        assert!(rlimits.iter().all(|&(_, soft, hard)| soft <= hard));
    }
}
