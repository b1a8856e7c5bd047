//! The job state machine.
//!
//! ```text
//!              claim                 finish
//!   pending ───────────▶ processing ─────────▶ completed
//!     ▲  │                │   │  │
//!     │  │ cancel         │   │  └──── fail (permanent or retries spent) ──▶ failed
//!     │  ▼                │   │                                             │
//!     │ cancelled ◀───────┘   └── fail (retry left) ──▶ retrying            │
//!     │  │   cancel                                        │ claim          │
//!     │  │                                                 ▼                │
//!     └──┴──── requeue (worker lost, handed back) / operator retry ◀────────┘
//! ```
//!
//! Every status change in pdfq goes through [`JobStatus::transition`], so the legal moves are
//! written down once, here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Stored and queued; no worker has it.
    Pending,
    /// A worker has claimed it for the current attempt.
    Processing,
    /// The last attempt failed transiently; it waits out its backoff before the next one.
    Retrying,
    /// Finished with a result. Terminal.
    Completed,
    /// Failed permanently or ran out of retries. An operator may retry it.
    Failed,
    /// Cancelled by its owner or an operator. An operator may retry it.
    Cancelled,
}

/// What happens to a job; the input of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobEvent {
    /// A worker takes the job for a new attempt.
    Claim,
    /// The worker finished with a result.
    Complete,
    /// The attempt failed and another attempt is allowed.
    FailWithRetry,
    /// The attempt failed and no other attempt will be made.
    Fail,
    /// The owner or an operator cancelled the job.
    Cancel,
    /// The job goes back to the queue without counting as a failure: its worker was lost or
    /// handed it back on shutdown.
    Requeue,
    /// An operator asks for a failed or cancelled job to run again.
    Retry,
}

/// A status change that the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {from} job cannot {event}")]
pub struct TransitionError {
    pub from: JobStatus,
    pub event: JobEvent,
}

impl JobStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Processing,
        Self::Retrying,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The status after `event`, or why the event is not allowed now.
    pub fn transition(self, event: JobEvent) -> Result<Self, TransitionError> {
        use JobEvent as E;
        use JobStatus as S;
        let next = match (self, event) {
            (S::Pending | S::Retrying, E::Claim) => S::Processing,
            (S::Processing, E::Complete) => S::Completed,
            (S::Processing, E::FailWithRetry) => S::Retrying,
            (S::Processing, E::Fail) => S::Failed,
            (S::Pending | S::Processing | S::Retrying, E::Cancel) => S::Cancelled,
            (S::Processing, E::Requeue) => S::Pending,
            (S::Failed | S::Cancelled, E::Retry) => S::Pending,
            (from, event) => return Err(TransitionError { from, event }),
        };
        Ok(next)
    }

    /// No worker will touch the job again unless an operator retries it.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// A worker may claim the job.
    #[must_use]
    pub const fn is_claimable(self) -> bool {
        matches!(self, Self::Pending | Self::Retrying)
    }

    /// The statuses from which `event` is allowed; used to build conditional SQL updates so the
    /// database enforces the same rules as [`JobStatus::transition`].
    #[must_use]
    pub fn sources_of(event: JobEvent) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|s| s.transition(event).is_ok())
            .collect()
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Retrying => "retrying",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JobEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Claim => "be claimed",
            Self::Complete => "complete",
            Self::FailWithRetry => "fail with a retry",
            Self::Fail => "fail",
            Self::Cancel => "be cancelled",
            Self::Requeue => "be requeued",
            Self::Retry => "be retried",
        })
    }
}

/// A status name that pdfq does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job status {0:?} (expected one of pending, processing, retrying, completed, failed, cancelled)"
)]
pub struct UnknownStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// The number of an attempt: 1 for the first run, incremented by every claim.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Attempt(u32);

impl Attempt {
    /// Before any claim.
    pub const NONE: Self = Self(0);

    #[must_use]
    pub const fn new(n: u32) -> Self {
        Self(n)
    }

    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The attempt a claim starts.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A percentage from 0 to 100.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct Progress(u8);

/// A progress value out of range, or one that would move backwards within an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProgressError {
    #[error("progress must be between 0 and 100, got {0}")]
    OutOfRange(u32),
    #[error("progress cannot move backwards within attempt {attempt} (from {from}% to {to}%)")]
    Backwards { attempt: Attempt, from: u8, to: u8 },
}

impl Progress {
    pub const ZERO: Self = Self(0);
    pub const DONE: Self = Self(100);

    pub fn new(percent: u32) -> Result<Self, ProgressError> {
        u8::try_from(percent)
            .ok()
            .filter(|p| *p <= 100)
            .map(Self)
            .ok_or(ProgressError::OutOfRange(percent))
    }

    /// The share of `done` out of `total` units, rounded down; 0 of 0 is 0 %.
    #[must_use]
    pub fn fraction(done: u64, total: u64) -> Self {
        if total == 0 {
            return Self::ZERO;
        }
        let percent = done.min(total).saturating_mul(100) / total;
        Self(u8::try_from(percent).unwrap_or(100))
    }

    #[must_use]
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Progress {
    type Error = ProgressError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Self::new(u32::from(value))
    }
}

impl From<Progress> for u8 {
    fn from(p: Progress) -> Self {
        p.0
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// The progress of one job: which attempt it belongs to and how far that attempt is.
///
/// A new attempt starts again from wherever it resumes; within one attempt progress only grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptProgress {
    pub attempt: Attempt,
    pub progress: Progress,
}

impl AttemptProgress {
    /// The state after a progress report, or an error if it would move backwards.
    pub fn report(self, attempt: Attempt, progress: Progress) -> Result<Self, ProgressError> {
        if attempt == self.attempt && progress < self.progress {
            return Err(ProgressError::Backwards {
                attempt,
                from: self.progress.0,
                to: progress.0,
            });
        }
        Ok(Self { attempt, progress })
    }
}

/// What a job is doing now, in words for people: "Processing chunk 5/10".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CurrentStep(String);

impl CurrentStep {
    /// Longer texts are cut (on a character boundary) so a step always fits its column.
    pub const MAX_CHARS: usize = 200;

    #[must_use]
    pub fn new(text: &str) -> Self {
        let text: String = text
            .chars()
            .filter(|c| !c.is_control())
            .take(Self::MAX_CHARS)
            .collect();
        Self(text)
    }

    /// "Processing chunk k/n", the step the worker reports after each chunk.
    #[must_use]
    pub fn chunk(k: usize, n: usize) -> Self {
        Self(format!("Processing chunk {k}/{n}"))
    }

    /// "Extracting page 1,200 of 2,415", the step the worker reports as pages are extracted.
    #[must_use]
    pub fn page(k: usize, n: usize) -> Self {
        Self(format!(
            "Extracting page {} of {}",
            thousands(k),
            thousands(n)
        ))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `n` with a comma between groups of three digits, as people read page counts.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

impl fmt::Display for CurrentStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobEvent as E;
    use JobStatus as S;

    #[test]
    fn page_steps_group_thousands() {
        assert_eq!(
            CurrentStep::page(1_200, 2_415).as_str(),
            "Extracting page 1,200 of 2,415"
        );
        assert_eq!(CurrentStep::page(7, 12).as_str(), "Extracting page 7 of 12");
        assert_eq!(
            CurrentStep::page(999, 1_000_000).as_str(),
            "Extracting page 999 of 1,000,000"
        );
    }

    #[test]
    fn the_happy_path_is_legal() {
        let s = S::Pending.transition(E::Claim).unwrap();
        assert_eq!(s, S::Processing);
        assert_eq!(s.transition(E::Complete).unwrap(), S::Completed);
    }

    #[test]
    fn retrying_jobs_are_claimed_again() {
        let s = S::Processing.transition(E::FailWithRetry).unwrap();
        assert_eq!(s, S::Retrying);
        assert_eq!(s.transition(E::Claim).unwrap(), S::Processing);
    }

    #[test]
    fn the_full_transition_table() {
        // Every (status, event) pair, so a change to the rules shows up here.
        let allowed: &[(S, E, S)] = &[
            (S::Pending, E::Claim, S::Processing),
            (S::Pending, E::Cancel, S::Cancelled),
            (S::Processing, E::Complete, S::Completed),
            (S::Processing, E::FailWithRetry, S::Retrying),
            (S::Processing, E::Fail, S::Failed),
            (S::Processing, E::Cancel, S::Cancelled),
            (S::Processing, E::Requeue, S::Pending),
            (S::Retrying, E::Claim, S::Processing),
            (S::Retrying, E::Cancel, S::Cancelled),
            (S::Failed, E::Retry, S::Pending),
            (S::Cancelled, E::Retry, S::Pending),
        ];
        let events = [
            E::Claim,
            E::Complete,
            E::FailWithRetry,
            E::Fail,
            E::Cancel,
            E::Requeue,
            E::Retry,
        ];
        for from in S::ALL {
            for event in events {
                let expected = allowed
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                assert_eq!(from.transition(event).ok(), expected, "{from} + {event:?}");
            }
        }
    }

    #[test]
    fn completed_is_final() {
        for event in [E::Claim, E::Cancel, E::Retry, E::Requeue, E::Fail] {
            let err = S::Completed.transition(event).unwrap_err();
            assert_eq!(err.from, S::Completed);
        }
        assert!(S::Completed.is_terminal());
        assert!(!S::Completed.is_claimable());
    }

    #[test]
    fn transition_errors_read_well() {
        let err = S::Completed.transition(E::Cancel).unwrap_err();
        assert_eq!(err.to_string(), "a completed job cannot be cancelled");
    }

    #[test]
    fn sources_match_the_table() {
        assert_eq!(
            JobStatus::sources_of(E::Claim),
            vec![S::Pending, S::Retrying]
        );
        assert_eq!(
            JobStatus::sources_of(E::Cancel),
            vec![S::Pending, S::Processing, S::Retrying]
        );
        assert_eq!(
            JobStatus::sources_of(E::Retry),
            vec![S::Failed, S::Cancelled]
        );
    }

    #[test]
    fn statuses_round_trip_as_snake_case() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("done".parse::<S>().is_err());
    }

    #[test]
    fn progress_is_bounded() {
        assert_eq!(Progress::new(100).unwrap().get(), 100);
        assert_eq!(Progress::new(101), Err(ProgressError::OutOfRange(101)));
        assert!(serde_json::from_str::<Progress>("150").is_err());
        assert_eq!(Progress::fraction(5, 10).get(), 50);
        assert_eq!(Progress::fraction(1, 3).get(), 33);
        assert_eq!(Progress::fraction(7, 0).get(), 0);
        assert_eq!(Progress::fraction(12, 10).get(), 100);
    }

    #[test]
    fn progress_never_moves_backwards_within_an_attempt() {
        let first = Attempt::NONE.next();
        let p = AttemptProgress::default()
            .report(first, Progress::new(40).unwrap())
            .unwrap();
        let err = p.report(first, Progress::new(30).unwrap()).unwrap_err();
        assert!(matches!(
            err,
            ProgressError::Backwards {
                from: 40,
                to: 30,
                ..
            }
        ));
        // Same value again is fine (a retried commit).
        let p = p.report(first, Progress::new(40).unwrap()).unwrap();
        // A new attempt may start lower.
        let second = first.next();
        let p = p.report(second, Progress::new(10).unwrap()).unwrap();
        assert_eq!(p.attempt, second);
        assert_eq!(p.progress.get(), 10);
    }

    #[test]
    fn current_step_text() {
        assert_eq!(CurrentStep::chunk(5, 10).as_str(), "Processing chunk 5/10");
        let long = "x".repeat(500);
        assert_eq!(
            CurrentStep::new(&long).as_str().len(),
            CurrentStep::MAX_CHARS
        );
        assert_eq!(CurrentStep::new("a\nb\u{7}c").as_str(), "abc");
    }
}
