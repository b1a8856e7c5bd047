//! The values the broker hands to the worker and the API, the same for both brokers.

use std::time::Duration;

use pdfq_domain::{Attempt, JobId, WorkerId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One delivery of a queued job to a worker. The worker holds it while the job runs (renewing
/// the lease) and finally acks it, schedules a retry, or lets it go (crash: it is reaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The queue entry (a Redis stream id such as `1732851234567-0`).
    pub entry_id: String,
    pub job_id: JobId,
    /// The attempt the entry was queued for; PostgreSQL's claim is what counts.
    pub attempt: Attempt,
    /// 1 for a first delivery; more when the entry was reaped from a consumer that lost it.
    pub delivery_count: u32,
    /// The consumer (worker process) that holds the entry.
    pub consumer: WorkerId,
}

/// Cheap numbers for dashboards.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct QueueStats {
    /// Queued and not yet delivered to any worker.
    pub waiting: u64,
    /// Delivered and not yet acknowledged (running, or held by a worker that died).
    pub in_flight: u64,
    /// Retries waiting out their backoff.
    pub delayed: u64,
    /// Entries in the dead-letter stream.
    pub dead: u64,
    /// How long the oldest waiting job has waited; `None` when nothing waits.
    pub oldest_waiting_age: Option<Duration>,
    pub paused: bool,
    /// Memory used by Redis (`INFO memory`); `None` for the in-process broker.
    pub memory_used_bytes: Option<u64>,
}

/// A job that will not be retried, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The dead-letter entry id (newest first in listings).
    pub entry_id: String,
    pub job_id: JobId,
    pub attempt: Attempt,
    /// Machine-readable error code (e.g. `not_a_pdf`, `retries_exhausted`).
    pub code: String,
    /// Text for people.
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The answer of the rate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateDecision {
    pub allowed: bool,
    /// The limit that applied (events per window).
    pub limit: u32,
    /// Events still allowed in the current window, after this one.
    pub remaining: u32,
    /// When the oldest counted event leaves the window, freeing a slot (`Retry-After` when
    /// refused). Zero when nothing is counted.
    pub reset_after: Duration,
}

/// What kind of process a heartbeat belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceKind {
    Worker,
    Api,
}

/// What an operator asked of one worker (`pdfctl workers drain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainMode {
    /// Take no new jobs, finish the running ones, stay up idle until the drain is lifted.
    Stay,
    /// Take no new jobs, finish the running ones, then exit.
    Exit,
}

impl DrainMode {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stay => "stay",
            Self::Exit => "exit",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stay" => Some(Self::Stay),
            "exit" => Some(Self::Exit),
            _ => None,
        }
    }
}

/// A database pool's numbers, as the instance sees them.
pub use pdfq_domain::PoolStats;

/// What an API or worker process says about itself every few seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The instance's identity for this process start.
    pub id: WorkerId,
    pub kind: InstanceKind,
    pub host: String,
    pub pid: u32,
    pub version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Jobs it can run at once (0 for an API instance).
    pub concurrency: u32,
    /// Jobs running now.
    pub busy: u32,
    pub current_jobs: Vec<JobId>,
    /// When a fetch from the queue last succeeded.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_fetch_at: Option<OffsetDateTime>,
    /// The latest error or state in words, e.g. "database unreachable, retrying".
    #[serde(default)]
    pub status: Option<String>,
    /// The process's database pool.
    #[serde(default)]
    pub pool: Option<PoolStats>,
    /// The process's resident memory (Linux); extraction children are not included.
    #[serde(default)]
    pub rss_bytes: Option<u64>,
    /// An operator asked this worker to take no new jobs.
    #[serde(default)]
    pub draining: bool,
}

/// A heartbeat as listed for the admin overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStatus {
    pub heartbeat: Heartbeat,
    /// Time since the last heartbeat, by the broker's clock.
    pub age: Duration,
    /// No heartbeat within `heartbeat_stale_after`: the process is probably gone or stuck.
    pub stale: bool,
}

/// Jobs finished in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MinuteCounts {
    /// The start of the minute (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub minute: OffsetDateTime,
    pub processed: u64,
    pub failed: u64,
}

/// The latency of a round trip to the broker, for the health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    pub latency: Duration,
}

/// `yyyymmddHHMM` of a UTC time: the suffix of the per-minute counter keys.
pub(crate) fn minute_key(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// The last `n` minutes, oldest first, ending with the current one; each truncated to its start.
pub(crate) fn last_minutes(now: OffsetDateTime, n: usize) -> Vec<OffsetDateTime> {
    let now = now.to_offset(time::UtcOffset::UTC);
    let start = now
        .replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now);
    (0..n)
        .rev()
        .map(|i| start - time::Duration::minutes(i64::try_from(i).unwrap_or(0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn minute_keys_are_utc_and_zero_padded() {
        assert_eq!(
            minute_key(datetime!(2026-03-04 05:06:59 UTC)),
            "202603040506"
        );
        assert_eq!(
            minute_key(datetime!(2026-03-04 05:06:00 +02:00)),
            "202603040306"
        );
    }

    #[test]
    fn last_minutes_end_now_oldest_first() {
        let m = last_minutes(datetime!(2026-01-01 00:01:30 UTC), 3);
        assert_eq!(
            m,
            vec![
                datetime!(2025-12-31 23:59:00 UTC),
                datetime!(2026-01-01 00:00:00 UTC),
                datetime!(2026-01-01 00:01:00 UTC)
            ]
        );
    }

    #[test]
    fn heartbeats_round_trip_as_json() {
        let hb = Heartbeat {
            id: WorkerId::generate("h", 1),
            kind: InstanceKind::Api,
            host: "h".into(),
            pid: 1,
            version: "0.1.0".into(),
            started_at: datetime!(2026-01-01 00:00:00 UTC),
            concurrency: 0,
            busy: 0,
            current_jobs: vec![JobId::new()],
            last_fetch_at: None,
            status: Some("database unreachable, retrying".into()),
            pool: Some(PoolStats {
                size: 10,
                in_use: 2,
                idle: 8,
                max: 15,
            }),
            rss_bytes: Some(64 << 20),
            draining: true,
        };
        let text = serde_json::to_string(&hb).unwrap();
        assert!(text.contains("\"kind\":\"api\""), "{text}");
        assert_eq!(serde_json::from_str::<Heartbeat>(&text).unwrap(), hb);
    }
}

/// How far a running attempt is, announced by the worker as it gets there (many times a second
/// on a big job) while the job row is written at most every PROGRESS_INTERVAL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveProgress {
    pub job: JobId,
    pub attempt: Attempt,
    pub percent: pdfq_domain::Progress,
    pub step: pdfq_domain::CurrentStep,
    /// When the worker got there.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}
