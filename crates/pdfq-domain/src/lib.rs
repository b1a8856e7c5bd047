//! The job model of pdfq, free of I/O so every layer can share it.
//!
//! - [`ids`]: typed identifiers, so a user id is never passed where a job id belongs.
//! - [`job`]: the job status state machine and the rules for progress within an attempt.
//! - [`limits`]: validated configuration values (rate limits, durations, byte sizes).
//! - [`secret`]: values that must never appear in logs or `Debug` output.
//! - [`webhook`]: webhook event names and the rule for which URLs pdfq may call.

pub mod ids;
pub mod job;
pub mod limits;
pub mod pool;
pub mod secret;
pub mod webhook;

pub use ids::{JobId, UserId, WorkerId};
pub use job::{Attempt, CurrentStep, JobEvent, JobStatus, Progress, TransitionError};
pub use pool::PoolStats;
