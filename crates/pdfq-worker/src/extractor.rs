//! The extraction child process, as the worker runs it.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pdfq_extract::{ChildPool, Document, ExtractError, IsolationLimits, PageText};

/// How to run the isolated extraction children: a program that calls
/// `pdfq_extract::child_main()` (by default this very binary, as `pdfq-worker extract-child`),
/// started ahead and reused for one user's files ([`ChildPool`]).
#[derive(Debug, Clone)]
pub struct Extractor {
    pub pool: ChildPool,
    pub limits: IsolationLimits,
}

impl Extractor {
    /// Children of `program args...`, each running up to `jobs_per_child` extractions, for a
    /// worker running `concurrency` jobs at once.
    #[must_use]
    pub fn new(
        program: &Path,
        args: &[OsString],
        limits: IsolationLimits,
        jobs_per_child: u32,
        concurrency: u32,
    ) -> Self {
        let capacity = usize::try_from(concurrency)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        Self {
            pool: ChildPool::new(program, args, jobs_per_child, capacity),
            limits,
        }
    }

    /// The current executable re-executed with `subcommand` (e.g. `extract-child`).
    pub fn current_exe(
        subcommand: &str,
        limits: IsolationLimits,
        jobs_per_child: u32,
        concurrency: u32,
    ) -> std::io::Result<Self> {
        Ok(Self::new(
            &std::env::current_exe()?,
            &[OsString::from(subcommand)],
            limits,
            jobs_per_child,
            concurrency,
        ))
    }

    /// Starts a spare child in the background, so the first job does not wait for one.
    pub fn prestart(&self) {
        self.pool.prestart(&self.limits);
    }

    /// The limits of one attempt killed after `hard_limit`. The CPU limit stays as configured:
    /// raising it to the wall-clock limit (as this once did, to 1,801 s) would make it useless.
    #[must_use]
    pub fn attempt_limits(&self, hard_limit: Duration) -> IsolationLimits {
        let mut limits = self.limits.clone();
        limits.wall_timeout = hard_limit;
        limits.limits.timeout_ms = u64::try_from(hard_limit.as_millis()).unwrap_or(u64::MAX);
        limits
    }

    /// Extracts `owner`'s `bytes` in a child that is killed after `hard_limit`, sending each
    /// page to `on_page` as it arrives. Blocking: call it from `spawn_blocking`.
    ///
    /// Once `stop` is set the child is killed within about 50 ms and the result is
    /// [`ExtractError::Stopped`].
    pub fn extract(
        &self,
        owner: &str,
        bytes: &[u8],
        hard_limit: Duration,
        stop: &Arc<AtomicBool>,
        on_page: impl FnMut(&PageText, u32),
    ) -> Result<Document, ExtractError> {
        self.pool.extract(
            owner,
            bytes,
            &self.attempt_limits(hard_limit),
            on_page,
            || stop.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_limit_is_not_raised_to_the_time_limit() {
        let extractor = Extractor::new(
            Path::new("/bin/true"),
            &[],
            IsolationLimits::default(),
            1,
            1,
        );
        let limits = extractor.attempt_limits(Duration::from_secs(30 * 60));
        assert_eq!(limits.cpu_seconds, 30);
        assert_eq!(limits.wall_timeout, Duration::from_secs(30 * 60));
    }
}
