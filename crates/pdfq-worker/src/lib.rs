//! pdfq's worker: takes jobs from the queue, claims them in the store, extracts the PDF in an
//! isolated child process, commits each chunk as its pages arrive and progress page by page
//! (coalesced), and stores the result.
//!
//! - [`config`]: the binary's configuration, from the environment.
//! - [`settings`]: what the run loop needs, built from the config (tests shorten the limits).
//! - [`extractor`]: the isolated extraction child, stoppable between pages.
//! - [`job`]: one delivery from claim to completed, failed, retrying or handed back.
//! - [`progress`]: progress writes coalesced in time, page by page and chunk by chunk.
//! - [`lease`]: renews a running job's queue lease and heartbeat, and watches for cancels.
//! - [`sweeper`]: promotes due retries, reaps entries of dead workers, re-enqueues lost jobs.
//! - [`webhooks`]: sends the webhook outbox's deliveries, signed, retried with backoff.
//! - [`runner`]: the [`Worker`]: concurrency, shutdown with a drain budget, `run_until_empty`.

pub mod config;
pub mod extractor;
pub mod job;
pub mod lease;
pub mod progress;
pub mod runner;
pub mod settings;
pub mod sweeper;
pub mod webhooks;

pub use config::{JobConfig, WorkerConfig};
pub use extractor::Extractor;
pub use runner::Worker;
pub use settings::WorkerSettings;
