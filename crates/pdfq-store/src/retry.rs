//! Safe commit: the original design's retry of a database write on a transient error.
//!
//! Try at once; on a transient error (connection lost or refused, pool timeout, serialization
//! failure, deadlock, server shutting down) try again after 1 s, then after 2 s; then give up with
//! the error. Each try runs in its own transaction, which is rolled back when the try fails, so a
//! failed try leaves nothing behind. The writes themselves are conditional on the job and
//! attempt, so a try that committed but whose answer was lost is recognised on the next try as
//! already applied and never applied twice.

use std::future::Future;
use std::time::Duration;

use crate::StoreError;

/// The waits before each try. The first is normally zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    delays: Vec<Duration>,
}

impl RetryPolicy {
    /// The design's schedule: at once, after 1 s, after 2 s.
    #[must_use]
    pub fn design() -> Self {
        Self::new(vec![
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(2),
        ])
    }

    /// A schedule of waits before each try; an empty list still makes one try.
    #[must_use]
    pub fn new(delays: Vec<Duration>) -> Self {
        let delays = if delays.is_empty() {
            vec![Duration::ZERO]
        } else {
            delays
        };
        Self { delays }
    }

    /// The design's schedule with every wait divided by `divisor`, so tests keep its shape
    /// without its seconds.
    #[must_use]
    pub fn design_scaled_down(divisor: u32) -> Self {
        let divisor = divisor.max(1);
        Self::new(
            Self::design()
                .delays
                .into_iter()
                .map(|d| d / divisor)
                .collect(),
        )
    }

    /// One try, no retry.
    #[must_use]
    pub fn none() -> Self {
        Self::new(vec![Duration::ZERO])
    }

    #[must_use]
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    #[must_use]
    pub fn tries(&self) -> usize {
        self.delays.len()
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::design()
    }
}

/// Runs `op` until it succeeds, fails with a non-transient error, or the tries run out. `op` is
/// given the number of the try (1 for the first) so a write can tell a first try from a repeat.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut op: F,
) -> Result<T, StoreError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut last = None;
    for (i, delay) in policy.delays.iter().enumerate() {
        if !delay.is_zero() {
            tokio::time::sleep(*delay).await;
        }
        let try_no = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
        match op(try_no).await {
            Ok(value) => {
                if try_no > 1 {
                    tracing::info!(what, try_no, "database write succeeded after a retry");
                }
                return Ok(value);
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(what, try_no, error = %e, "transient database error; retrying");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(StoreError::Unavailable(sqlx::Error::PoolTimedOut)))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use super::*;

    fn transient() -> StoreError {
        StoreError::Unavailable(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )))
    }

    #[tokio::test]
    async fn a_write_that_fails_twice_succeeds_on_the_third_try() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let policy = RetryPolicy::design_scaled_down(20); // 0, 50 ms, 100 ms
        let out = with_retry(&policy, "test", |try_no| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            assert_eq!(n, try_no);
            async move { if n < 3 { Err(transient()) } else { Ok(n) } }
        })
        .await
        .unwrap();
        assert_eq!(out, 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
    }

    #[tokio::test]
    async fn the_schedule_is_at_once_then_one_then_two_seconds() {
        assert_eq!(
            RetryPolicy::default().delays(),
            [
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(2)
            ]
        );
        let times = std::sync::Mutex::new(Vec::new());
        let started = Instant::now();
        let policy = RetryPolicy::design_scaled_down(10); // 0, 100 ms, 200 ms
        let err = with_retry(&policy, "test", |_| {
            times.lock().unwrap().push(started.elapsed());
            async { Err::<(), _>(transient()) }
        })
        .await
        .unwrap_err();
        assert!(err.is_transient());
        let times = times.into_inner().unwrap();
        assert_eq!(times.len(), 3, "three tries, then the error");
        assert!(times[0] < Duration::from_millis(50), "{times:?}");
        assert!(times[1] >= Duration::from_millis(100), "{times:?}");
        assert!(times[2] >= Duration::from_millis(300), "{times:?}");
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let err = with_retry(&RetryPolicy::design_scaled_down(1000), "test", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(StoreError::NotFound) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::NotFound));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
