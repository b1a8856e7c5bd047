//! Retry delays: exponential with jitter, so jobs that failed together do not retry together.

use std::time::Duration;

use pdfq_domain::Attempt;

/// The delay before the first retry; each later retry waits four times longer (30 s, 2 min, 8 min).
pub const BASE_DELAY: Duration = Duration::from_secs(30);
/// Each delay is moved by up to this share, up or down.
pub const JITTER: f64 = 0.2;
/// No delay is longer than this, however many attempts were made.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// The delay before retrying after `failed` (the attempt that just failed, 1 for the first run):
/// about 30 s, 2 min, 8 min, each ±20 %.
#[must_use]
pub fn backoff(failed: Attempt) -> Duration {
    backoff_with(failed, random_unit())
}

/// [`backoff`] with the random draw given: `unit` in [0, 1] maps to -20 % .. +20 %. Pure, so
/// the bounds can be tested exactly.
#[must_use]
pub fn backoff_with(failed: Attempt, unit: f64) -> Duration {
    let exponent = failed.get().saturating_sub(1).min(10);
    let nominal = BASE_DELAY
        .saturating_mul(4u32.saturating_pow(exponent))
        .min(MAX_DELAY);
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.5
    };
    nominal.mul_f64(1.0 - JITTER + 2.0 * JITTER * unit)
}

/// What to do after an attempt failed with an error that a retry may fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Queue `next_attempt` after `delay` (`retry_later`).
    RetryAfter {
        next_attempt: Attempt,
        delay: Duration,
    },
    /// Retries are spent: fail the job and dead-letter it.
    GiveUp,
}

/// The decision after `failed` (1 for the first run) failed transiently, allowing `max_retries`
/// retries after the first run (TASK_MAX_RETRIES, as Celery counts them: 3 means at most 4
/// runs). Permanent failures (not a PDF, password required) never get here: they fail at once.
#[must_use]
pub fn after_failure(failed: Attempt, max_retries: u32) -> RetryDecision {
    let retries_used = failed.get().saturating_sub(1);
    if retries_used < max_retries {
        RetryDecision::RetryAfter {
            next_attempt: failed.next(),
            delay: backoff(failed),
        }
    } else {
        RetryDecision::GiveUp
    }
}

/// A uniform draw in [0, 1). A v4 UUID carries 122 random bits from the OS generator, which is
/// plenty for jitter and saves a dependency on `rand`.
fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    // 53 bits fit an f64 mantissa exactly.
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_delays_grow_fourfold() {
        let mid = |n| backoff_with(Attempt::new(n), 0.5);
        assert_eq!(mid(1), Duration::from_secs(30));
        assert_eq!(mid(2), Duration::from_secs(120));
        assert_eq!(mid(3), Duration::from_secs(480));
        assert_eq!(
            mid(0),
            Duration::from_secs(30),
            "attempt 0 is treated as the first"
        );
        assert_eq!(mid(40), MAX_DELAY, "capped");
    }

    #[test]
    fn three_retries_then_give_up() {
        for n in 1..=3 {
            match after_failure(Attempt::new(n), 3) {
                RetryDecision::RetryAfter {
                    next_attempt,
                    delay,
                } => {
                    assert_eq!(next_attempt, Attempt::new(n + 1));
                    let nominal = BASE_DELAY * 4u32.pow(n - 1);
                    assert!(delay >= nominal.mul_f64(0.8) && delay <= nominal.mul_f64(1.2));
                }
                RetryDecision::GiveUp => panic!("attempt {n} should be retried"),
            }
        }
        assert_eq!(after_failure(Attempt::new(4), 3), RetryDecision::GiveUp);
        assert_eq!(after_failure(Attempt::new(1), 0), RetryDecision::GiveUp);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        assert_eq!(backoff_with(Attempt::new(1), 0.0), Duration::from_secs(24));
        assert_eq!(backoff_with(Attempt::new(1), 1.0), Duration::from_secs(36));
        assert_eq!(backoff_with(Attempt::new(2), 0.0), Duration::from_secs(96));
        assert_eq!(backoff_with(Attempt::new(2), 1.0), Duration::from_secs(144));
        assert_eq!(
            backoff_with(Attempt::new(1), f64::NAN),
            Duration::from_secs(30)
        );
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = backoff(Attempt::new(3));
            assert!(
                d >= Duration::from_secs(384) && d <= Duration::from_secs(576),
                "{d:?}"
            );
            seen.insert(d.as_millis());
        }
        assert!(
            seen.len() > 100,
            "jitter must actually vary: {} values",
            seen.len()
        );
    }
}
