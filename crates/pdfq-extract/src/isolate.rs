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
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex, mpsc};
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
    /// Bytes of PDF that follow the header. Absent: the PDF runs to the end of stdin, and the
    /// child exits after it.
    #[serde(default)]
    len: Option<u64>,
    /// Another request may follow this one: the child frees this document's memory and reads
    /// the next header instead of exiting.
    #[serde(default)]
    more: bool,
}

#[derive(Debug, Serialize)]
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

/// A [`ChildMessage`] as the parent reads it: the same JSON, as a plain struct. serde reads an
/// internally tagged enum by first copying the whole message into a generic tree (to find the
/// tag), which cost more than parsing the page itself.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: MessageKind,
    page: Option<PageText>,
    total: Option<u32>,
    warning: Option<PageWarning>,
    error: Option<ExtractError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MessageKind {
    Page,
    Warning,
    Done,
    Error,
}

impl Envelope {
    /// The message, or what it lacks.
    fn into_message(self) -> Result<ChildMessage, &'static str> {
        match self.kind {
            MessageKind::Page => Ok(ChildMessage::Page {
                page: self.page.ok_or("a page message without its page")?,
                total: self.total.ok_or("a page message without the page count")?,
            }),
            MessageKind::Warning => Ok(ChildMessage::Warning {
                warning: self
                    .warning
                    .ok_or("a warning message without its warning")?,
            }),
            MessageKind::Done => Ok(ChildMessage::Done),
            MessageKind::Error => Ok(ChildMessage::Error {
                error: self.error.ok_or("an error message without its error")?,
            }),
        }
    }
}

/// Reads one line of the child's output.
fn parse_message(line: &[u8]) -> Result<ChildMessage, ExtractError> {
    serde_json::from_slice::<Envelope>(line)
        .map_err(|e| e.to_string())
        .and_then(|envelope| envelope.into_message().map_err(str::to_owned))
        .map_err(|e| ExtractError::ExtractorCrashed {
            reason: format!("it sent a malformed message: {e}"),
        })
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

/// How often a running extraction checks `should_stop` and the child's CPU time.
const STOP_POLL: Duration = Duration::from_millis(50);

/// [`extract_isolated`] that also kills the child as soon as `should_stop()` turns true
/// (checked after each page and every 50 ms), returning [`ExtractError::Stopped`]: the worker
/// uses it for cancels, its soft time limit and shutdown. A child of its own, used once.
pub fn extract_isolated_until(
    program: &Path,
    args: &[OsString],
    bytes: &[u8],
    limits: &IsolationLimits,
    mut on_page: impl FnMut(&PageText, u32),
    should_stop: impl Fn() -> bool,
) -> Result<Document, ExtractError> {
    let mut child = ChildProcess::spawn(program, args, limits, 1)?;
    let (result, _) = child.run(bytes, limits, false, &mut on_page, &should_stop);
    result
}

/// Whether a child can take another extraction after the one it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// It finished cleanly and was told more may come: it waits for the next request.
    Reusable,
    /// Killed, exited, failed or told it was its last: it must not be used again.
    Spent,
}

/// A started, confined extraction child and the threads reading its output.
pub(crate) struct ChildProcess {
    child: Process,
    stdin: Option<ChildStdin>,
    messages: mpsc::Receiver<Result<ChildMessage, ExtractError>>,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    /// Extractions it has run.
    pub(crate) jobs: u32,
}

impl ChildProcess {
    /// Starts `program args...` confined by `limits`, for up to `jobs` extractions (its CPU
    /// limit covers them all; each one's own share is checked by [`ChildProcess::run`]).
    pub(crate) fn spawn(
        program: &Path,
        args: &[OsString],
        limits: &IsolationLimits,
        jobs: u32,
    ) -> Result<Self, ExtractError> {
        let rlimits = child_rlimits(limits, jobs);
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
        // SAFETY: the closure runs in the forked child before exec, where only
        // async-signal-safe calls are allowed: it makes setrlimit and prctl system calls
        // (nix's thin wrappers, no allocation, no locks) on values computed before the fork.
        #[allow(
            unsafe_code,
            reason = "pre_exec is the only way to confine the child before it runs; see SAFETY"
        )]
        unsafe {
            command.pre_exec(move || confine(&rlimits));
        }
        let mut child = command.spawn().map_err(|e| spawn_error(program, &e))?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill(&mut child);
            return Err(ExtractError::Internal {
                reason: "child pipes unavailable".into(),
            });
        };
        let (tx, messages) = mpsc::sync_channel(MESSAGE_BACKLOG);
        let max_line = max_line_bytes(&limits.limits);
        let reading = std::thread::Builder::new()
            .name("pdfq-extract-out".into())
            .spawn(move || read_messages(stdout, max_line, &tx));
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let tail = Arc::clone(&stderr_tail);
        let stderr_reader = std::thread::Builder::new()
            .name("pdfq-extract-err".into())
            .spawn(move || keep_tail(&mut stderr, &tail));
        let (Ok(_), Ok(stderr_reader)) = (reading, stderr_reader) else {
            kill(&mut child);
            return Err(ExtractError::Internal {
                reason: "cannot start the threads reading the child".into(),
            });
        };
        Ok(Self {
            child: Process {
                child,
                ended: false,
            },
            stdin: Some(stdin),
            messages,
            stderr_tail,
            stderr_reader: Some(stderr_reader),
            jobs: 0,
        })
    }

    /// Its process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.child.id()
    }

    /// Alive, waiting for a request, and silent since its last one: a child that wrote
    /// anything between requests is not to be trusted with another.
    pub(crate) fn is_idle(&mut self) -> bool {
        self.stdin.is_some()
            && matches!(self.child.try_wait(), Ok(None))
            && matches!(self.messages.try_recv(), Err(mpsc::TryRecvError::Empty))
    }

    /// Its resident memory, from /proc (0 if unknown).
    pub(crate) fn resident_bytes(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kib| kib * 1024)
    }

    /// Runs one extraction of `bytes`, passing pages to `on_page` as they arrive; `more`
    /// tells the child another request may follow. Never panics on the child's behaviour.
    pub(crate) fn run(
        &mut self,
        bytes: &[u8],
        limits: &IsolationLimits,
        more: bool,
        on_page: &mut dyn FnMut(&PageText, u32),
        should_stop: &dyn Fn() -> bool,
    ) -> (Result<Document, ExtractError>, Fate) {
        let started = Instant::now();
        let deadline = started + limits.wall_timeout;
        self.jobs += 1;
        if let Ok(mut tail) = self.stderr_tail.lock() {
            tail.clear();
        }
        let request = ChildRequest {
            limits: limits.limits.clone(),
            len: Some(bytes.len() as u64),
            more,
        };
        let header = match serde_json::to_vec(&request) {
            Ok(mut header) => {
                header.push(b'\n');
                header
            }
            Err(e) => {
                return (
                    Err(ExtractError::Internal {
                        reason: e.to_string(),
                    }),
                    Fate::Spent,
                );
            }
        };
        let cpu = CpuBudget::start(self.id(), limits.cpu_seconds);
        // The last request's input is closed once written, as the end of the child's work.
        let last_input = if more { None } else { self.stdin.take() };
        let kept_input = if more { self.stdin.as_mut() } else { None };
        if last_input.is_none() && kept_input.is_none() {
            return (
                Err(ExtractError::Internal {
                    reason: "the child's input is closed".into(),
                }),
                Fate::Spent,
            );
        }
        let child = &mut self.child;
        let messages = &self.messages;
        let (outcome, doc, written) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || {
                let mut last_input = last_input;
                let Some(stdin) = last_input.as_mut().or(kept_input) else {
                    return false;
                };
                // A child that dies early closes the pipe: the write error is expected then.
                let written = stdin
                    .write_all(&header)
                    .and_then(|()| stdin.write_all(bytes))
                    .and_then(|()| stdin.flush())
                    .is_ok();
                drop(last_input);
                written
            });
            let (outcome, doc) = receive(
                child,
                messages,
                limits,
                deadline,
                &cpu,
                on_page,
                should_stop,
            );
            // The child reads the whole request before it answers; a writer still blocked is a
            // child that stopped reading: killing it ends the write.
            if !writer_done(&writer, Duration::from_millis(200)) {
                child.kill();
            }
            let written = writer.join().unwrap_or(false);
            (outcome, doc, written)
        });
        let (result, fate) = match outcome {
            Some(Ok(())) if written => {
                let mut doc = doc;
                // Completed here from the whole document (the child streams pages before it
                // has seen them all): to the artifact lines it marked, as it read the text.
                crate::furniture::mark(&mut doc.pages);
                (Ok(doc), if more { Fate::Reusable } else { Fate::Spent })
            }
            Some(Ok(())) => (
                Err(ExtractError::ExtractorCrashed {
                    reason: "it answered before reading its input".into(),
                }),
                Fate::Spent,
            ),
            Some(Err(e)) => (Err(e), Fate::Spent),
            None => {
                let status = wait_until(child, deadline);
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                let tail = self
                    .stderr_tail
                    .lock()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                match status {
                    None => (Err(timed_out(limits)), Fate::Spent),
                    Some(status) => (Err(crash_error(status, &tail)), Fate::Spent),
                }
            }
        };
        if fate == Fate::Spent {
            self.finish();
        }
        (result, fate)
    }

    /// Ends the child: closes its input (a waiting child exits), then makes sure it is gone.
    pub(crate) fn finish(&mut self) {
        self.stdin = None;
        self.child.kill();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Waits up to `grace` for the writer thread to end.
fn writer_done<T>(writer: &std::thread::ScopedJoinHandle<'_, T>, grace: Duration) -> bool {
    let until = Instant::now() + grace;
    while !writer.is_finished() {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Reads one extraction's messages until `Done` or an error; `None` when the child went
/// silent for good (it died: its exit status says why). Kills the child on any breach.
fn receive(
    child: &mut Process,
    messages: &mpsc::Receiver<Result<ChildMessage, ExtractError>>,
    limits: &IsolationLimits,
    deadline: Instant,
    cpu: &CpuBudget,
    on_page: &mut dyn FnMut(&PageText, u32),
    should_stop: &dyn Fn() -> bool,
) -> (Option<Result<(), ExtractError>>, Document) {
    let mut doc = Document::default();
    let mut output = OutputBudget::new(&limits.limits);
    let mut last_cpu_check = Instant::now();
    loop {
        let now = Instant::now();
        if now >= deadline {
            child.kill();
            return (Some(Err(timed_out(limits))), doc);
        }
        if should_stop() {
            child.kill();
            return (Some(Err(ExtractError::Stopped)), doc);
        }
        if now.duration_since(last_cpu_check) >= STOP_POLL {
            last_cpu_check = now;
            if cpu.exceeded() {
                child.kill();
                return (Some(Err(cpu_limit())), doc);
            }
        }
        let failed = |child: &mut Process, e: ExtractError, doc: Document| {
            child.kill();
            (Some(Err(e)), doc)
        };
        match messages.recv_timeout((deadline - now).min(STOP_POLL)) {
            Ok(Ok(ChildMessage::Page { page, total })) => {
                // The child counts too; counting again here holds even if it was subverted.
                if let Err(e) = output.add_page(&page) {
                    return failed(child, e, doc);
                }
                on_page(&page, total);
                doc.pages.push(page);
            }
            Ok(Ok(ChildMessage::Warning { warning })) => {
                // At most one per page and three for the file (cut short, parts of the page
                // tree lost, Unicode maps over budget): more is a subverted child.
                if doc.warnings.len() > doc.pages.len() + 3 {
                    let e = ExtractError::ExtractorCrashed {
                        reason: "it sent more warnings than pages".into(),
                    };
                    return failed(child, e, doc);
                }
                doc.warnings.push(warning);
            }
            Ok(Ok(ChildMessage::Done)) => return (Some(Ok(())), doc),
            Ok(Ok(ChildMessage::Error { error })) => return (Some(Err(error)), doc),
            Ok(Err(e)) => return failed(child, e, doc),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return (None, doc),
        }
    }
}

/// The CPU time one extraction may use in a child that may run several: the kernel's
/// RLIMIT_CPU counts the child's whole life, so each extraction's share is measured here.
struct CpuBudget {
    pid: u32,
    at_start: Option<Duration>,
    allowed: Option<Duration>,
}

impl CpuBudget {
    fn start(pid: u32, cpu_seconds: u64) -> Self {
        Self {
            pid,
            at_start: process_cpu_time(pid),
            allowed: (cpu_seconds > 0).then(|| Duration::from_secs(cpu_seconds)),
        }
    }

    fn exceeded(&self) -> bool {
        match (self.allowed, self.at_start, process_cpu_time(self.pid)) {
            (Some(allowed), Some(start), Some(now)) => now.saturating_sub(start) > allowed,
            _ => false,
        }
    }
}

/// User and system CPU time of process `pid`, from /proc/PID/stat (in USER_HZ ticks, which
/// Linux fixes at 100 per second for user space).
fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces and parentheses).
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime).saturating_mul(10)))
}

fn cpu_limit() -> ExtractError {
    ExtractError::ResourceLimit {
        resource: "cpu time".into(),
    }
}

/// Keeps the first [`MAX_STDERR`] bytes of the child's stderr since its current request, and
/// drains the rest so the child never blocks on a full pipe.
fn keep_tail(stderr: &mut std::process::ChildStderr, tail: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 4096];
    loop {
        match stderr.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut tail) = tail.lock() {
                    let room = MAX_STDERR.saturating_sub(tail.len());
                    tail.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    }
}

fn timed_out(limits: &IsolationLimits) -> ExtractError {
    ExtractError::TimedOut {
        seconds: limits.wall_timeout.as_secs().max(1),
    }
}

/// The buffer each end of the child's output pipe goes through: the pages written between two
/// flushes ([`PAGE_FLUSH`]) cross together, in one system call and one wake-up of the reader.
const PIPE_BUFFER: usize = 256 * 1024;

/// How long, and for how many more pages, the child lets written pages wait before it sends
/// them. Each flush wakes the parent's reader, the extraction's thread and the job; one per
/// page was most of the parent's work on a small document. A page waits at most until the
/// next one is written or the document ends; a long document still streams (its progress
/// moves at least every few pages), and progress is written every quarter second at most.
const PAGE_FLUSH: Duration = Duration::from_millis(20);
const PAGE_FLUSH_PAGES: u32 = 16;

/// Reads the child's messages, one JSON line each, never more than `max_line` bytes of a line:
/// an over-long or malformed line ends the reading with an error (the caller kills the child).
fn read_messages(
    stdout: std::process::ChildStdout,
    max_line: u64,
    tx: &mpsc::SyncSender<Result<ChildMessage, ExtractError>>,
) {
    let mut reader = BufReader::with_capacity(PIPE_BUFFER, stdout);
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
            Ok(_) => parse_message(&line),
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
/// - RLIMIT_AS and RLIMIT_CPU from `limits` (0: not set), the CPU limit for `jobs`
///   extractions (each one's share is checked by the parent: [`CpuBudget`]);
/// - RLIMIT_FSIZE 0: the child writes no file (pipes are not files; a write is SIGXFSZ);
/// - RLIMIT_CORE 0: no core dump holding the PDF's contents;
/// - RLIMIT_NOFILE [`CHILD_MAX_OPEN_FILES`];
/// - RLIMIT_NPROC 0: the child cannot fork or start a thread, so it parses on its main thread,
///   whose stack RLIMIT_STACK sets to [`CHILD_STACK_BYTES`]. The kernel compares the limit with
///   all processes of the real user and exempts root (CAP_SYS_RESOURCE): it bites when the
///   worker runs unprivileged (the image's user 10001), and never limits the parent, which
///   sets it in the child only.
fn child_rlimits(limits: &IsolationLimits, jobs: u32) -> Rlimits {
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
        let cpu = limits.cpu_seconds.saturating_mul(u64::from(jobs.max(1)));
        wanted.push((Resource::RLIMIT_CPU, cpu, cpu.saturating_add(1)));
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

/// Kills `child`'s whole process group (used before the child is a [`Process`]).
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

/// A started child, killed at most once: once reaped, its id may be another process's.
struct Process {
    child: Child,
    ended: bool,
}

impl Process {
    fn kill(&mut self) {
        if !self.ended {
            kill(&mut self.child);
            self.ended = true;
        }
    }

    fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        let status = self.child.try_wait();
        if matches!(status, Ok(Some(_))) {
            self.ended = true;
        }
        status
    }
}

/// Waits for the child until `deadline`, then kills it; `None` if it had to be killed.
fn wait_until(child: &mut Process, deadline: Instant) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => {
                child.kill();
                return None;
            }
        }
        if Instant::now() >= deadline {
            child.kill();
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

/// Writes the `page` message of a borrowed page: by hand, as the enum would need a copy of it.
/// The caller flushes.
fn write_page(out: &mut dyn Write, page: &PageText, total: u32) -> std::io::Result<()> {
    let json = serde_json::to_string(page)?;
    writeln!(
        out,
        "{{\"type\":\"page\",\"page\":{json},\"total\":{total}}}"
    )
}

/// Entry point of the child process: reads requests (a header line, then the PDF) on stdin and
/// writes each one's pages and outcome to stdout, until a request says it is the last or stdin
/// ends. A host binary calls it in its child mode (for example `pdfq-worker extract-child`,
/// `pdfq-extract child`) and returns the code.
pub fn child_main() -> ExitCode {
    crate::load::PARSE_ON_CALLING_THREAD.store(true, std::sync::atomic::Ordering::Relaxed);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(PIPE_BUFFER, stdout.lock());
    let mut confined = false;
    loop {
        let mut header = Vec::new();
        match (&mut input).take(1 << 20).read_until(b'\n', &mut header) {
            // No further request: the parent is done with this child.
            Ok(0) => return ExitCode::SUCCESS,
            Ok(_) => {}
            Err(_) => return ExitCode::from(2),
        }
        let Ok(request) = serde_json::from_slice::<ChildRequest>(&header) else {
            eprintln!("pdfq-extract child: malformed request header");
            return ExitCode::from(2);
        };
        // Freeing a document's many small objects is wasted work when the process exits next.
        crate::extract::LEAK_ON_EXIT.store(!request.more, std::sync::atomic::Ordering::Relaxed);
        let outcome = serve(&mut input, &mut out, &request, &mut confined);
        if outcome.is_err() || !request.more || request.len.is_none() {
            return ExitCode::SUCCESS;
        }
    }
}

/// One request: reads its PDF, extracts it, writes the messages. `Err` when the child must
/// not take another request (its input is broken or it could not be confined).
fn serve(
    input: &mut impl Read,
    out: &mut impl Write,
    request: &ChildRequest,
    confined: &mut bool,
) -> Result<(), ()> {
    let send = |msg: &ChildMessage, out: &mut dyn Write| {
        if let Ok(line) = serde_json::to_string(msg) {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    };
    let cap = request.limits.max_file_bytes.saturating_add(1);
    let mut bytes = Vec::new();
    let read = match request.len {
        Some(len) if len >= cap => Err(std::io::Error::other(format!(
            "the request announces {len} bytes, more than the file limit"
        ))),
        Some(len) if bytes.try_reserve_exact(len as usize).is_err() => {
            Err(std::io::ErrorKind::OutOfMemory.into())
        }
        Some(len) => input
            .take(len)
            .read_to_end(&mut bytes)
            .and_then(|n| match n as u64 == len {
                true => Ok(()),
                false => Err(std::io::ErrorKind::UnexpectedEof.into()),
            }),
        None => input.take(cap).read_to_end(&mut bytes).map(drop),
    };
    if let Err(e) = read {
        let error = if e.kind() == std::io::ErrorKind::OutOfMemory {
            ExtractError::ResourceLimit {
                resource: "memory".into(),
            }
        } else {
            ExtractError::Internal {
                reason: format!("reading the PDF from stdin: {e}"),
            }
        };
        send(&ChildMessage::Error { error }, out);
        return Err(());
    }
    // From here on untrusted bytes are parsed: only the system calls parsing needs.
    if !*confined {
        if let Err(reason) = crate::sandbox::install() {
            let error = ExtractError::IsolationFailed { reason };
            send(&ChildMessage::Error { error }, out);
            return Err(());
        }
        *confined = true;
    }
    let (mut flushed, mut waiting) = (Instant::now(), 0u32);
    let result = crate::extract::stream_pages(bytes, &request.limits, |page, total| {
        let _ = write_page(out, page, total);
        waiting += 1;
        if waiting >= PAGE_FLUSH_PAGES || flushed.elapsed() >= PAGE_FLUSH {
            let _ = out.flush();
            (flushed, waiting) = (Instant::now(), 0);
        }
    });
    match result {
        Ok(warnings) => {
            for warning in warnings {
                send(&ChildMessage::Warning { warning }, out);
            }
            send(&ChildMessage::Done, out);
            Ok(())
        }
        Err(error) => {
            send(&ChildMessage::Error { error }, out);
            // After a failure (a caught panic among them) the parent starts a fresh child.
            Err(())
        }
    }
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
        let rlimits = child_rlimits(&limits, 1);
        let memory = rlimits
            .iter()
            .find(|(r, _, _)| *r == Resource::RLIMIT_AS)
            .unwrap();
        assert_eq!(memory.2, (u64::MAX - 1).min(parent_hard));
        assert!(rlimits.iter().all(|&(_, soft, hard)| soft <= hard));
    }

    #[test]
    fn every_message_the_child_writes_is_read_back_as_written() {
        let page = PageText {
            number: 3,
            text: "Hello \"you\".\nWorld.".into(),
            width: 612.0,
            height: 792.0,
            ..PageText::default()
        };
        let mut line = Vec::new();
        write_page(&mut line, &page, 7).unwrap();
        match parse_message(&line).unwrap() {
            ChildMessage::Page { page: read, total } => assert_eq!((read, total), (page, 7)),
            other => panic!("{other:?}"),
        }
        for message in [
            ChildMessage::Warning {
                warning: PageWarning {
                    page: Some(2),
                    reason: "damaged".into(),
                },
            },
            ChildMessage::Done,
            ChildMessage::Error {
                error: ExtractError::PasswordRequired,
            },
        ] {
            let line = serde_json::to_vec(&message).unwrap();
            let read = parse_message(&line).unwrap();
            assert_eq!(format!("{read:?}"), format!("{message:?}"));
        }
        for (line, lacking) in [
            (r#"{"type":"page","total":1}"#, "without its page"),
            (r#"{"type":"error"}"#, "without its error"),
            (r#"{"type":"pages"}"#, "unknown variant"),
        ] {
            let e = parse_message(line.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(lacking), "{line}: {e}");
            assert_eq!(e.code(), "extractor_crashed", "{line}");
        }
    }
}
