//! pdfq's queue.
//!
//! - [`config`]: `REDIS_URL`, `REDIS_TLS` and the key prefix.

pub mod config;

pub use config::{RedisConfig, normalize_redis_url};
