//! Tunables of the broker. The defaults are the production values of issue 4; tests shorten the
//! durations so lease expiry and TTLs can be observed in milliseconds.

use std::time::Duration;

/// How the broker behaves; the same options drive the Redis and the in-process broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOptions {
    /// An entry idle this long is considered abandoned and is reaped (2 min). The worker renews
    /// its running entries every [`QueueOptions::renew_every`], well inside the lease.
    pub lease: Duration,
    /// How often a worker should call `renew` for each running job (10 s). Not used by the broker
    /// itself; kept here so worker and broker agree on one source.
    pub renew_every: Duration,
    /// The dead-letter stream keeps at most this many entries (10,000), oldest dropped first.
    pub dead_letter_cap: usize,
    /// How long a cancel flag lives; longer than any job can run (hard limit 30 min).
    pub cancel_ttl: Duration,
    /// A heartbeat record disappears this long after its last refresh (60 s).
    pub heartbeat_ttl: Duration,
    /// An instance whose last heartbeat is older than this is listed as stale (30 s).
    pub heartbeat_stale_after: Duration,
    /// Per-minute counters are kept this long (48 h).
    pub counter_ttl: Duration,
    /// Upper bound of every call to Redis, so a dead server never hangs a caller (5 s).
    pub op_timeout: Duration,
    /// Upper bound of a blocking fetch; a longer request is cut to this (5 s), so a fetch loop
    /// comes back regularly to notice shutdown and pause.
    pub max_block: Duration,
}

impl QueueOptions {
    /// RESULT_TTL: how long a finished job's result stays cached (1 h).
    pub const DEFAULT_RESULT_TTL: Duration = Duration::from_secs(3600);
    /// TASK_MAX_RETRIES: retries after the first attempt before a job is dead-lettered.
    pub const DEFAULT_MAX_RETRIES: u32 = 3;
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(120),
            renew_every: Duration::from_secs(10),
            dead_letter_cap: 10_000,
            cancel_ttl: Duration::from_secs(24 * 3600),
            heartbeat_ttl: Duration::from_secs(60),
            heartbeat_stale_after: Duration::from_secs(30),
            counter_ttl: Duration::from_secs(48 * 3600),
            op_timeout: Duration::from_secs(5),
            max_block: Duration::from_secs(5),
        }
    }
}
