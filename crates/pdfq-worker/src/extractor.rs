//! The extraction child process, as the worker runs it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pdfq_extract::{Document, ExtractError, IsolationLimits, PageText};

/// How to start the isolated extraction child: a program that calls
/// `pdfq_extract::child_main()` (by default this very binary, as `pdfq-worker extract-child`).
#[derive(Debug, Clone)]
pub struct Extractor {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub limits: IsolationLimits,
}

impl Extractor {
    /// The current executable re-executed with `subcommand` (e.g. `extract-child`).
    pub fn current_exe(subcommand: &str, limits: IsolationLimits) -> std::io::Result<Self> {
        Ok(Self {
            program: std::env::current_exe()?,
            args: vec![OsString::from(subcommand)],
            limits,
        })
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

    /// Extracts `bytes` in a child that is killed after `hard_limit`, sending each page to
    /// `on_page` as it arrives. Blocking: call it from `spawn_blocking`.
    ///
    /// Once `stop` is set the child is killed within about 50 ms and the result is
    /// [`ExtractError::Stopped`].
    pub fn extract(
        &self,
        bytes: &[u8],
        hard_limit: Duration,
        stop: &Arc<AtomicBool>,
        mut on_page: impl FnMut(&PageText, u32),
    ) -> Result<Document, ExtractError> {
        pdfq_extract::extract_isolated_until(
            &self.program,
            &self.args,
            bytes,
            &self.attempt_limits(hard_limit),
            |page, total| on_page(page, total),
            || stop.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_limit_is_not_raised_to_the_time_limit() {
        let extractor = Extractor {
            program: PathBuf::from("/bin/true"),
            args: Vec::new(),
            limits: IsolationLimits::default(),
        };
        let limits = extractor.attempt_limits(Duration::from_secs(30 * 60));
        assert_eq!(limits.cpu_seconds, 30);
        assert_eq!(limits.wall_timeout, Duration::from_secs(30 * 60));
    }
}
