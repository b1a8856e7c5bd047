//! pdfq's queue: the broker between the API and the workers.
//!
//! - [`Broker`]: the one type the API and the worker use; Redis in production, in memory for
//!   the embedded single-process mode (`pdfctl up`). Both have the same semantics.
//! - [`RedisBroker`]: jobs on a Redis stream with a consumer group (at-least-once), leases and
//!   the reaper, delayed retries, dead letters, pause, cancel, counters, heartbeats, the result
//!   cache, dashboard reads and the upload rate limiter.
//! - [`MemoryBroker`]: the same in process. It keeps nothing across restarts: on start the
//!   worker's sweeper re-enqueues every unfinished job (pending, retrying, processing) from the
//!   store, which is the only durable record.
//! - [`backoff`]: retry delays with jitter.
//! - [`config`]: `REDIS_URL`, `REDIS_TLS` and the key prefix; [`QueueOptions`]: lease and TTLs.
//!
//! PostgreSQL decides who runs a job (a conditional claim); the queue only delivers, possibly
//! more than once.

pub mod backoff;
mod broker;
mod cancel;
pub mod config;
mod error;
mod keys;
mod memory;
mod options;
mod redis_broker;
mod types;

pub use backoff::backoff;
pub use broker::Broker;
pub use cancel::CancelSubscription;
pub use config::{RedisConfig, normalize_redis_url};
pub use error::QueueError;
pub use memory::MemoryBroker;
pub use options::QueueOptions;
pub use redis_broker::RedisBroker;
pub use types::{
    DeadLetter, Delivery, Heartbeat, InstanceKind, InstanceStatus, MinuteCounts, Ping, PoolStats,
    QueueStats, RateDecision,
};
