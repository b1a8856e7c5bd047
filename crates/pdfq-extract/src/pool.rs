//! Pre-started extraction children, each reused for a few extractions of one owner's files.
//!
//! Starting a confined child (exec, the dynamic loader, the seccomp filter) costs a few
//! milliseconds of CPU and latency: most of a small job's work. So the pool keeps children
//! started ahead and lets a child that finished cleanly take the next extraction, as Tika's
//! forked-child model does, under rules that keep what one-child-per-file guaranteed:
//!
//! - a child that has read one owner's file only ever reads that owner's files (a child
//!   subverted by a hostile PDF can reach nothing of another user's); a fresh child serves
//!   anyone;
//! - it is replaced after `jobs_per_child` extractions, after any failure, kill or timeout,
//!   when it holds more memory than [`RETIRE_RESIDENT_SHARE`] of its limit, or when it wrote
//!   anything while idle;
//! - each extraction's CPU time is measured on its own (the kernel's limit counts the child's
//!   whole life);
//! - an extraction that ran out of memory or crashed in a reused child runs again in a fresh
//!   one, so reuse never changes an outcome (the pages already delivered are not delivered
//!   twice).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::ExtractError;
use crate::extract::{Document, PageText};
use crate::isolate::{ChildProcess, Fate, IsolationLimits};

/// A child whose resident memory after an extraction exceeds this share of its memory limit is
/// replaced: what the allocator kept would narrow the next extraction's room.
const RETIRE_RESIDENT_SHARE: u64 = 4;

/// Started extraction children for one program; cheap to clone (shared).
#[derive(Clone)]
pub struct ChildPool {
    inner: Arc<Inner>,
}

struct Inner {
    program: PathBuf,
    args: Vec<OsString>,
    jobs_per_child: u32,
    /// Idle children kept at most: one per concurrent extraction and a spare.
    capacity: usize,
    idle: Mutex<VecDeque<Idle>>,
    /// A spare is being started in the background.
    starting: AtomicBool,
    /// Spares are started ahead (see [`ChildPool::without_spares`]).
    spares: AtomicBool,
    spawned: AtomicU64,
}

struct Idle {
    child: ChildProcess,
    limits: IsolationLimits,
    /// The owner whose files it has read; `None` for a fresh child.
    owner: Option<String>,
}

impl std::fmt::Debug for ChildPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildPool")
            .field("program", &self.inner.program)
            .field("jobs_per_child", &self.inner.jobs_per_child)
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl ChildPool {
    /// Children of `program args...` (which must call [`crate::child_main`]), each running at
    /// most `jobs_per_child` extractions (1: a fresh child for every extraction, none started
    /// ahead), at most `capacity` of them idle.
    #[must_use]
    pub fn new(program: &Path, args: &[OsString], jobs_per_child: u32, capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                program: program.to_owned(),
                args: args.to_vec(),
                jobs_per_child: jobs_per_child.max(1),
                capacity: capacity.max(1),
                idle: Mutex::new(VecDeque::new()),
                starting: AtomicBool::new(false),
                spares: AtomicBool::new(true),
                spawned: AtomicU64::new(0),
            }),
        }
    }

    /// The program the children run.
    #[must_use]
    pub fn program(&self) -> &Path {
        &self.inner.program
    }

    /// The arguments the children get.
    #[must_use]
    pub fn args(&self) -> &[OsString] {
        &self.inner.args
    }

    /// No child is started ahead: each starts when an extraction needs it (so that tests can
    /// count them).
    #[must_use]
    pub fn without_spares(self) -> Self {
        self.inner.spares.store(false, Ordering::Relaxed);
        self
    }

    /// Children started so far (for tests and figures).
    #[must_use]
    pub fn spawned(&self) -> u64 {
        self.inner.spawned.load(Ordering::Relaxed)
    }

    /// Starts a spare child for `limits` in the background, so the next extraction does not
    /// wait for one to start.
    pub fn prestart(&self, limits: &IsolationLimits) {
        if self.inner.jobs_per_child <= 1
            || !self.inner.spares.load(Ordering::Relaxed)
            || self.inner.starting.swap(true, Ordering::AcqRel)
        {
            return;
        }
        // Called after every extraction: a thread is started only when a spare is missing.
        if self.has_spare(limits) {
            self.inner.starting.store(false, Ordering::Release);
            return;
        }
        let pool = self.clone();
        let limits = limits.clone();
        let started = std::thread::Builder::new()
            .name("pdfq-extract-spare".into())
            .spawn(move || {
                if let Ok(child) = pool.start(&limits) {
                    pool.keep(child, &limits, None);
                }
                pool.inner.starting.store(false, Ordering::Release);
            });
        if started.is_err() {
            self.inner.starting.store(false, Ordering::Release);
        }
    }

    /// Extracts `bytes` of `owner`'s in a pooled child killed after `limits.wall_timeout`,
    /// sending each page to `on_page` as it arrives, stopping (killed, within about 50 ms) when
    /// `should_stop()` turns true. Blocking.
    pub fn extract(
        &self,
        owner: &str,
        bytes: &[u8],
        limits: &IsolationLimits,
        mut on_page: impl FnMut(&PageText, u32),
        should_stop: impl Fn() -> bool,
    ) -> Result<Document, ExtractError> {
        let started = Instant::now();
        let (mut child, reused) = match self.take(owner, limits) {
            Some(child) => (child, true),
            None => (self.start(limits)?, false),
        };
        let more = child.jobs.saturating_add(1) < self.inner.jobs_per_child;
        let mut delivered = 0usize;
        let (result, fate) = child.run(
            bytes,
            limits,
            more,
            &mut |page, total| {
                delivered += 1;
                on_page(page, total);
            },
            &should_stop,
        );
        let fits = child.resident_bytes() <= limits.memory_bytes / RETIRE_RESIDENT_SHARE
            || limits.memory_bytes == 0;
        if fate == Fate::Reusable && fits {
            self.keep(child, limits, Some(owner.to_owned()));
        }
        self.prestart(limits);
        let may_be_reuse = matches!(
            &result,
            Err(ExtractError::ResourceLimit { resource }) if resource == "memory"
        ) || matches!(&result, Err(ExtractError::ExtractorCrashed { .. }));
        let left = limits.wall_timeout.saturating_sub(started.elapsed());
        if !(reused && may_be_reuse) || left.is_zero() {
            return result;
        }
        // Once more in a fresh child, with the time left; the pages on_page has seen are
        // skipped (extraction is deterministic: the same pages come in the same order).
        let mut fresh = self.start(limits)?;
        let mut again = limits.clone();
        again.wall_timeout = left;
        let mut seen = 0usize;
        let (result, _) = fresh.run(
            bytes,
            &again,
            false,
            &mut |page, total| {
                seen += 1;
                if seen > delivered {
                    on_page(page, total);
                }
            },
            &should_stop,
        );
        result
    }

    fn start(&self, limits: &IsolationLimits) -> Result<ChildProcess, ExtractError> {
        let child = ChildProcess::spawn(
            &self.inner.program,
            &self.inner.args,
            limits,
            self.inner.jobs_per_child,
        )?;
        self.inner.spawned.fetch_add(1, Ordering::Relaxed);
        Ok(child)
    }

    /// An idle child for `owner` under `limits`: one that has served this owner, else a fresh
    /// one. Children found broken on the way are dropped (killed).
    fn take(&self, owner: &str, limits: &IsolationLimits) -> Option<ChildProcess> {
        let mut idle = self.inner.idle.lock().ok()?;
        idle.retain_mut(|c| c.child.is_idle());
        let fits = |c: &Idle| same_child_limits(&c.limits, limits);
        let position = idle
            .iter()
            .position(|c| fits(c) && c.owner.as_deref() == Some(owner))
            .or_else(|| idle.iter().position(|c| fits(c) && c.owner.is_none()))?;
        idle.remove(position).map(|c| c.child)
    }

    fn has_spare(&self, limits: &IsolationLimits) -> bool {
        self.inner.idle.lock().is_ok_and(|idle| {
            idle.iter()
                .any(|c| c.owner.is_none() && same_child_limits(&c.limits, limits))
        })
    }

    /// Keeps `child` idle; the oldest idle child goes when there are too many.
    fn keep(&self, child: ChildProcess, limits: &IsolationLimits, owner: Option<String>) {
        let Ok(mut idle) = self.inner.idle.lock() else {
            return;
        };
        while idle.len() >= self.inner.capacity {
            idle.pop_front();
        }
        idle.push_back(Idle {
            child,
            limits: limits.clone(),
            owner,
        });
    }
}

/// Whether a child started under `a` may run an extraction under `b`: the same limits but for
/// the wall-clock one, which each extraction brings.
fn same_child_limits(a: &IsolationLimits, b: &IsolationLimits) -> bool {
    a.limits == b.limits && a.memory_bytes == b.memory_bytes && a.cpu_seconds == b.cpu_seconds
}
