//! pdfq's worker.
//!
//! - [`config`]: the worker's configuration, one typed struct read from the environment.

pub mod config;

pub use config::WorkerConfig;
