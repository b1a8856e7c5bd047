//! Extraction in a child process with memory, CPU and wall-clock limits.
//!
//! Contract (parent <-> child, both sides in this module):
//! - the parent starts `program args...` (a binary whose entry calls [`child_main`]);
//! - stdin: one JSON line ([`ChildRequest`]), then the PDF bytes until EOF;
//! - stdout: JSON lines ([`ChildMessage`]): a `page` per finished page, then `done` or `error`;
//! - stderr: diagnostics (kept, bounded, to explain a crash).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ExtractError;
use crate::extract::{Document, PageText, extract_pages_streaming};
use crate::limits::Limits;

/// Limits of one isolated attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IsolationLimits {
    /// Limits the child applies while parsing.
    pub limits: Limits,
    /// RLIMIT_AS of the child, in bytes.
    pub memory_bytes: u64,
    /// RLIMIT_CPU of the child, in seconds.
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
    memory_bytes: u64,
    cpu_seconds: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ChildMessage {
    Page { page: PageText, total: u32 },
    Done,
    Error { error: ExtractError },
}

const MAX_STDERR: usize = 16 * 1024;

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
    // Its own process group, so a kill also reaches anything it started (which would
    // otherwise hold the pipes open).
    let mut child = Command::new(program)
        .process_group(0)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ExtractError::Internal {
            reason: format!("cannot start {}: {e}", program.display()),
        })?;
    let request = ChildRequest {
        limits: limits.limits.clone(),
        memory_bytes: limits.memory_bytes,
        cpu_seconds: limits.cpu_seconds,
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
    let (tx, rx) = mpsc::channel::<ChildMessage>();
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
        scope.spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if let Ok(msg) = serde_json::from_str::<ChildMessage>(&line)
                            && tx.send(msg).is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });

        let mut doc = Document::default();
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
                Ok(ChildMessage::Page { page, total }) => {
                    on_page(&page, total);
                    doc.pages.push(page);
                }
                Ok(ChildMessage::Done) => {
                    outcome = Some(Ok(()));
                    break;
                }
                Ok(ChildMessage::Error { error }) => {
                    outcome = Some(Err(error));
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = wait_until(&mut child, deadline);
        let stderr_text = stderr_reader.join().unwrap_or_default();
        match (outcome, status) {
            (Some(Ok(())), _) => Ok(doc),
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
    apply_rlimits(&request);
    crate::extract::LEAK_ON_EXIT.store(true, std::sync::atomic::Ordering::Relaxed);
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
    let result = extract_pages_streaming(&bytes, &request.limits, |page, total| {
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
        Ok(_) => send(&ChildMessage::Done, &mut out),
        Err(error) => send(&ChildMessage::Error { error }, &mut out),
    }
    ExitCode::SUCCESS
}

fn apply_rlimits(request: &ChildRequest) {
    use nix::sys::resource::{Resource, setrlimit};
    if request.memory_bytes > 0 {
        let _ = setrlimit(
            Resource::RLIMIT_AS,
            request.memory_bytes,
            request.memory_bytes,
        );
    }
    if request.cpu_seconds > 0 {
        // SIGXCPU at the soft limit, SIGKILL a second later.
        let _ = setrlimit(
            Resource::RLIMIT_CPU,
            request.cpu_seconds,
            request.cpu_seconds + 1,
        );
    }
}
