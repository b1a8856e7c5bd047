//! pdfq's queue: the broker between the API and the workers.
//!
//! - [`Broker`]: the one type the API and the worker use; Redis in production, in memory for
//!   the embedded single-process mode (`pdfctl up`). Both have the same semantics.
//! - [`RedisBroker`]: jobs on a Redis stream with a consumer group (at-least-once), leases and
//!   the reaper, delayed retries, dead letters, pause, cancel, counters, heartbeats, the result
//!   cache, dashboard reads and the rate limiter ([`rate`]).
//! - [`MemoryBroker`]: the same in process. It keeps nothing across restarts: on start the
//!   worker's sweeper re-enqueues every unfinished job (pending, retrying, processing) from the
//!   store, which is the only durable record.
//! - [`mod@backoff`]: retry delays with jitter, and the retry-or-give-up decision.
//! - [`config`]: `REDIS_URL`, `REDIS_TLS` and the key prefix; [`QueueOptions`]: lease and TTLs.
//!
//! PostgreSQL decides who runs a job (a conditional claim); the queue only delivers, possibly
//! more than once.
//!
//! # The worker's loop, in short
//!
//! - `promote_due()` and `reap(me, free_slots)` every few seconds; `fetch(me, free_slots,
//!   block)` otherwise. Each [`Delivery`] is claimed in the store; a claim that matches nothing
//!   (duplicate) is `ack`ed and dropped.
//! - While a job runs: `renew(&delivery)` every `renew_every` (10 s); `false` means the lease
//!   was lost, so stop (the store's attempt check would refuse the commit anyway).
//! - Done: `ack`. Transient failure: [`after_failure`] gives `retry_later(&delivery, next,
//!   delay)` or a give-up; give-up or permanent failure: `dead_letter(..)` then `ack`.
//! - Shutdown: `release(&delivery)` for what will not finish within the drain budget.
//! - Cancel: `subscribe_cancels()` for promptness, and `cancel_requested(job)` between pages,
//!   since announcements can be missed while Redis reconnects.
//! - Errors: [`QueueError::Unavailable`] means back off and retry (and say so in the heartbeat).
//!
//! In the embedded mode the API and the worker must hold clones of one [`MemoryBroker`].
//!
//! # Redis key layout (all under `REDIS_KEY_PREFIX`, `{p}` below)
//!
//! | key | type | what |
//! |---|---|---|
//! | `{p}:jobs` | stream, group `workers` | queued jobs: fields `job`, `attempt` |
//! | `{p}:jobs:index` | hash | job id -> `s\|<entry id>` or `d\|<delayed member>` (sweeper) |
//! | `{p}:delayed` | zset | retries: member `<job>\|<attempt>`, score due ms (Redis clock) |
//! | `{p}:dead` | stream, MAXLEN cap | dead letters: `job`, `attempt`, `code`, `reason`, `at` |
//! | `{p}:paused` | string | present while paused |
//! | `{p}:drain:<worker id>` | string `stay` or `exit`, TTL 24 h | drain request |
//! | `{p}:cancel:<job>` | string, TTL `cancel_ttl` | cancel flag |
//! | `{p}:cancel` | pub/sub channel | cancelled job ids |
//! | `{p}:progress` | pub/sub channel | live progress of running jobs (JSON [`LiveProgress`]) |
//! | `{p}:stats:processed:<yyyymmddHHMM>`, `{p}:stats:failed:<..>` | counter, TTL 48 h | per minute |
//! | `{p}:workers` | zset | instance ids by last heartbeat (Redis clock) |
//! | `{p}:workers:<id>` | string (JSON [`Heartbeat`]), TTL `heartbeat_ttl` | API or worker |
//! | `{p}:result:<job>` | string (JSON), TTL RESULT_TTL | cached result |
//! | `{p}:session-ended:<sid>` | string, TTL access-token lifetime | a logged-out or revoked login |
//! | `{p}:rate:<key>` | zset, TTL window | sliding log of one rate key: `<user>` (uploads), `login:<email digest>:<client>`, `login-from:<client>`, `register-from:<client>` |

pub mod backoff;
mod broker;
pub mod config;
mod error;
mod host;
mod keys;
mod memory;
mod options;
pub mod rate;
mod redis_broker;
mod subscription;
mod types;

pub use backoff::{RetryDecision, after_failure, backoff};
pub use broker::Broker;
pub use config::{RedisConfig, normalize_redis_url};
pub use error::QueueError;
pub use host::{hostname, resident_memory_bytes};
pub use memory::MemoryBroker;
pub use options::QueueOptions;
pub use rate::{LocalRateLimiter, RateKey, RateTicket};
pub use redis_broker::RedisBroker;
pub use subscription::{CancelSubscription, ProgressSubscription, Subscription};
pub use types::{
    DeadLetter, Delivery, DrainMode, Heartbeat, InstanceKind, InstanceStatus, LiveProgress,
    MinuteCounts, Ping, PoolStats, QueueStats, RateDecision,
};
