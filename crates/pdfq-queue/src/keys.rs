//! Every Redis key pdfq writes, in one place, all under the configured prefix.

use pdfq_domain::JobId;

/// The key layout of one deployment (one prefix).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

/// The consumer group every worker reads the job stream through.
pub(crate) const GROUP: &str = "workers";

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// Stream of queued jobs (fields `job`, `attempt`).
    pub(crate) fn jobs(&self) -> String {
        format!("{}:jobs", self.prefix)
    }
    /// Hash job id -> where its queue entry is (`s|<stream id>` or `d|<delayed member>`).
    pub(crate) fn index(&self) -> String {
        format!("{}:jobs:index", self.prefix)
    }
    /// Sorted set of retries waiting out their backoff; member `<job>|<attempt>`, score due ms.
    pub(crate) fn delayed(&self) -> String {
        format!("{}:delayed", self.prefix)
    }
    /// Capped stream of dead letters.
    pub(crate) fn dead(&self) -> String {
        format!("{}:dead", self.prefix)
    }
    pub(crate) fn paused(&self) -> String {
        format!("{}:paused", self.prefix)
    }
    /// A worker's drain request (`stay` or `exit`).
    pub(crate) fn drain(&self, worker: &str) -> String {
        format!("{}:drain:{worker}", self.prefix)
    }
    pub(crate) fn cancel(&self, job: JobId) -> String {
        format!("{}:cancel:{job}", self.prefix)
    }
    /// Pub/sub channel announcing cancelled job ids.
    pub(crate) fn cancel_channel(&self) -> String {
        format!("{}:cancel", self.prefix)
    }
    pub(crate) fn progress_channel(&self) -> String {
        format!("{}:progress", self.prefix)
    }
    pub(crate) fn processed(&self, minute: &str) -> String {
        format!("{}:stats:processed:{minute}", self.prefix)
    }
    pub(crate) fn failed(&self, minute: &str) -> String {
        format!("{}:stats:failed:{minute}", self.prefix)
    }
    /// Sorted set of instance ids, scored by the Redis time of their last heartbeat.
    pub(crate) fn instances(&self) -> String {
        format!("{}:workers", self.prefix)
    }
    pub(crate) fn instance(&self, id: &str) -> String {
        format!("{}:workers:{id}", self.prefix)
    }
    pub(crate) fn result(&self, job: JobId) -> String {
        format!("{}:result:{job}", self.prefix)
    }
    /// An ended login session (see `RedisBroker::end_session`).
    pub(crate) fn ended_session(&self, session: uuid::Uuid) -> String {
        format!("{}:session-ended:{session}", self.prefix)
    }
    /// A one-time ticket, by the hex of its SHA-256 digest (see `RedisBroker::put_ticket`).
    pub(crate) fn ticket(&self, digest: &[u8; 32]) -> String {
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:ticket:{hex}", self.prefix)
    }
    /// Sliding log of one rate key (see `crate::rate::RateKey`).
    pub(crate) fn rate(&self, key: &str) -> String {
        format!("{}:rate:{key}", self.prefix)
    }
}
