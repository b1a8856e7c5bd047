//! [`Broker`]: the one queue type the API and the worker hold, Redis or in memory.
//!
//! An enum rather than a trait object: two known implementations, async methods without
//! boxing, and the compiler checks that both offer every operation.

use std::time::Duration;

use pdfq_domain::limits::RateLimit;
use pdfq_domain::{Attempt, JobId, WorkerId};

use crate::config::RedisConfig;
use crate::error::QueueError;
use crate::memory::MemoryBroker;
use crate::options::QueueOptions;
use crate::rate::{RateKey, RateTicket};
use crate::redis_broker::RedisBroker;
use crate::subscription::{CancelSubscription, ProgressSubscription};
use crate::types::{
    DeadLetter, Delivery, DrainMode, Heartbeat, InstanceStatus, LiveProgress, MinuteCounts, Ping,
    QueueStats, RateDecision,
};

/// The queue: Redis Streams in production, in memory for the embedded mode.
#[derive(Debug, Clone)]
pub enum Broker {
    Redis(RedisBroker),
    Memory(MemoryBroker),
}

impl From<RedisBroker> for Broker {
    fn from(b: RedisBroker) -> Self {
        Self::Redis(b)
    }
}

impl From<MemoryBroker> for Broker {
    fn from(b: MemoryBroker) -> Self {
        Self::Memory(b)
    }
}

/// Calls the same async method on whichever broker this is.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Broker::Redis(b) => b.$method($($arg),*).await,
            Broker::Memory(b) => b.$method($($arg),*).await,
        }
    };
}

impl Broker {
    /// The Redis broker for `config` (see [`RedisBroker::connect`]: does not wait for Redis).
    pub async fn redis(config: &RedisConfig, options: QueueOptions) -> Result<Self, QueueError> {
        RedisBroker::connect(config, options).await.map(Self::Redis)
    }

    /// The in-process broker with default options.
    #[must_use]
    pub fn memory() -> Self {
        Self::Memory(MemoryBroker::default())
    }

    #[must_use]
    pub fn options(&self) -> &QueueOptions {
        match self {
            Self::Redis(b) => b.options(),
            Self::Memory(b) => b.options(),
        }
    }

    /// `"redis"` or `"memory"`, for logs and the health check.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Redis(_) => "redis",
            Self::Memory(_) => "memory",
        }
    }

    /// A round trip with its latency, for the health check.
    pub async fn ping(&self) -> Result<Ping, QueueError> {
        dispatch!(self.ping())
    }

    // --- The job stream -------------------------------------------------------------------

    /// Queues a job; always adds an entry (a duplicate delivery is dropped by the store's claim).
    pub async fn enqueue(&self, job_id: JobId, attempt: Attempt) -> Result<String, QueueError> {
        dispatch!(self.enqueue(job_id, attempt))
    }

    /// Queues a job unless it already has an entry (waiting, in flight or delayed); the
    /// sweeper's call. `None` when an entry exists.
    pub async fn enqueue_if_absent(
        &self,
        job_id: JobId,
        attempt: Attempt,
    ) -> Result<Option<String>, QueueError> {
        dispatch!(self.enqueue_if_absent(job_id, attempt))
    }

    pub async fn has_entry(&self, job_id: JobId) -> Result<bool, QueueError> {
        dispatch!(self.has_entry(job_id))
    }

    /// The jobs among `jobs` without a queue entry.
    pub async fn missing_entries(&self, jobs: &[JobId]) -> Result<Vec<JobId>, QueueError> {
        dispatch!(self.missing_entries(jobs))
    }

    /// Up to `count` new deliveries for `consumer`, waiting up to `block` (at most
    /// `max_block`). Empty while paused. Run one fetch loop per process: blocking fetches share
    /// one Redis connection, so concurrent ones wait for each other.
    pub async fn fetch(
        &self,
        consumer: &WorkerId,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        dispatch!(self.fetch(consumer, count, block))
    }

    /// Acks and removes a delivery; `false` if the consumer no longer held it.
    pub async fn ack(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        dispatch!(self.ack(delivery))
    }

    /// Renews a running delivery's lease; `false` if the lease was lost (stop the job).
    pub async fn renew(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        dispatch!(self.renew(delivery))
    }

    /// Hands a held delivery back to the queue at once (shutdown), so another worker takes it
    /// without waiting for the lease; it goes to the back. `None` if no longer held.
    pub async fn release(&self, delivery: &Delivery) -> Result<Option<String>, QueueError> {
        dispatch!(self.release(delivery))
    }

    /// Claims up to `count` entries idle longer than the lease for `consumer`, and removes dead
    /// consumers.
    pub async fn reap(
        &self,
        consumer: &WorkerId,
        count: usize,
    ) -> Result<Vec<Delivery>, QueueError> {
        dispatch!(self.reap(consumer, count))
    }

    /// Removes consumers holding nothing and idle longer than the lease, except `keep`.
    pub async fn prune_consumers(&self, keep: &WorkerId) -> Result<u64, QueueError> {
        dispatch!(self.prune_consumers(keep))
    }

    /// Consumer names with how many entries each holds.
    pub async fn consumers(&self) -> Result<Vec<(String, u64)>, QueueError> {
        dispatch!(self.consumers())
    }

    // --- Retries and dead letters ---------------------------------------------------------

    /// Acks `delivery` (if still held) and queues `next_attempt` after `delay`, in one step. The
    /// retry is scheduled even if the lease was lost: the store has recorded the failure, and
    /// a duplicate is dropped by its claim.
    pub async fn retry_later(
        &self,
        delivery: &Delivery,
        next_attempt: Attempt,
        delay: Duration,
    ) -> Result<(), QueueError> {
        dispatch!(self.retry_later(delivery, next_attempt, delay))
    }

    /// Queues a job after `delay` without a delivery to ack.
    pub async fn schedule(
        &self,
        job_id: JobId,
        attempt: Attempt,
        delay: Duration,
    ) -> Result<(), QueueError> {
        dispatch!(self.schedule(job_id, attempt, delay))
    }

    /// Moves due retries to the stream; exactly once per retry even with concurrent callers.
    pub async fn promote_due(&self) -> Result<u64, QueueError> {
        dispatch!(self.promote_due())
    }

    pub async fn dead_letter(
        &self,
        job_id: JobId,
        attempt: Attempt,
        code: &str,
        reason: &str,
    ) -> Result<String, QueueError> {
        dispatch!(self.dead_letter(job_id, attempt, code, reason))
    }

    /// The newest `limit` dead letters, newest first.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        dispatch!(self.dead_letters(limit))
    }

    pub async fn purge_dead(&self) -> Result<u64, QueueError> {
        dispatch!(self.purge_dead())
    }

    // --- Control --------------------------------------------------------------------------

    pub async fn pause(&self) -> Result<(), QueueError> {
        dispatch!(self.pause())
    }

    pub async fn resume(&self) -> Result<(), QueueError> {
        dispatch!(self.resume())
    }

    pub async fn is_paused(&self) -> Result<bool, QueueError> {
        dispatch!(self.is_paused())
    }

    /// Asks one worker to take no new jobs (and, with [`DrainMode::Exit`], to exit when idle).
    pub async fn request_drain(
        &self,
        worker: &WorkerId,
        mode: DrainMode,
    ) -> Result<(), QueueError> {
        dispatch!(self.request_drain(worker, mode))
    }

    /// Lifts a drain request; `true` when there was one.
    pub async fn cancel_drain(&self, worker: &WorkerId) -> Result<bool, QueueError> {
        dispatch!(self.cancel_drain(worker))
    }

    /// What an operator asked of this worker, read before each fetch.
    pub async fn drain_requested(
        &self,
        worker: &WorkerId,
    ) -> Result<Option<DrainMode>, QueueError> {
        dispatch!(self.drain_requested(worker))
    }

    /// Sets the cancel flag of a job and announces it to subscribed workers.
    pub async fn request_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        dispatch!(self.request_cancel(job_id))
    }

    /// The flag; the worker checks it between pages (announcements can be missed).
    pub async fn cancel_requested(&self, job_id: JobId) -> Result<bool, QueueError> {
        dispatch!(self.cancel_requested(job_id))
    }

    pub async fn clear_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        dispatch!(self.clear_cancel(job_id))
    }

    pub async fn subscribe_cancels(&self) -> Result<CancelSubscription, QueueError> {
        dispatch!(self.subscribe_cancels())
    }

    /// Announces how far a running job is, for the event streams following it. Best effort:
    /// the job row, written at most every PROGRESS_INTERVAL, stays the durable record.
    pub async fn publish_progress(&self, progress: &LiveProgress) -> Result<(), QueueError> {
        dispatch!(self.publish_progress(progress))
    }

    pub async fn subscribe_progress(&self) -> Result<ProgressSubscription, QueueError> {
        dispatch!(self.subscribe_progress())
    }

    // --- Counters, heartbeats, results ----------------------------------------------------

    pub async fn count_processed(&self) -> Result<(), QueueError> {
        dispatch!(self.count_processed())
    }

    pub async fn count_failed(&self) -> Result<(), QueueError> {
        dispatch!(self.count_failed())
    }

    /// Processed and failed per minute for the last `minutes` minutes, oldest first.
    pub async fn throughput(&self, minutes: usize) -> Result<Vec<MinuteCounts>, QueueError> {
        dispatch!(self.throughput(minutes))
    }

    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<(), QueueError> {
        dispatch!(self.heartbeat(beat))
    }

    pub async fn remove_heartbeat(&self, id: &WorkerId) -> Result<(), QueueError> {
        dispatch!(self.remove_heartbeat(id))
    }

    /// Every API and worker instance with a live heartbeat, stale ones flagged.
    pub async fn instances(&self) -> Result<Vec<InstanceStatus>, QueueError> {
        dispatch!(self.instances())
    }

    pub async fn cache_result(
        &self,
        job_id: JobId,
        json: &str,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        dispatch!(self.cache_result(job_id, json, ttl))
    }

    pub async fn cached_result(&self, job_id: JobId) -> Result<Option<String>, QueueError> {
        dispatch!(self.cached_result(job_id))
    }

    pub async fn evict_result(&self, job_id: JobId) -> Result<(), QueueError> {
        dispatch!(self.evict_result(job_id))
    }

    // --- Reads for dashboards, rate limiting ----------------------------------------------

    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        dispatch!(self.stats())
    }

    /// Marks a login session (the `sid` of its access tokens) ended for `ttl`, the longest an
    /// access token lives: its tokens are refused from now on.
    pub async fn end_session(&self, session: uuid::Uuid, ttl: Duration) -> Result<(), QueueError> {
        dispatch!(self.end_session(session, ttl))
    }

    /// Whether a login session was ended within its tokens' lifetime.
    pub async fn session_ended(&self, session: uuid::Uuid) -> Result<bool, QueueError> {
        dispatch!(self.session_ended(session))
    }

    /// Keeps a one-time ticket's `payload` for `ttl` under the ticket's SHA-256 `digest` (the
    /// ticket itself is never stored, so a leaked Redis dump opens nothing).
    pub async fn put_ticket(
        &self,
        digest: &[u8; 32],
        payload: &str,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        dispatch!(self.put_ticket(digest, payload, ttl))
    }

    /// The payload of the ticket with this `digest` if it is unexpired and untaken; it is gone
    /// from then on, on every instance sharing the broker.
    pub async fn take_ticket(&self, digest: &[u8; 32]) -> Result<Option<String>, QueueError> {
        dispatch!(self.take_ticket(digest))
    }

    /// Counts one event under `key` if `limit` allows it; the ticket of an admitted event
    /// uncounts it through [`Broker::refund_rate`].
    pub async fn check_rate(
        &self,
        key: &RateKey,
        limit: RateLimit,
    ) -> Result<(RateDecision, Option<RateTicket>), QueueError> {
        dispatch!(self.check_rate(key, limit))
    }

    /// Uncounts one admitted event (a login that succeeded, an upload refused after all).
    pub async fn refund_rate(&self, ticket: &RateTicket) -> Result<(), QueueError> {
        dispatch!(self.refund_rate(ticket))
    }
}
