//! Processed and failed counters per minute, kept for `counter_ttl` (48 h).

use time::OffsetDateTime;

use super::{RedisBroker, millis};
use crate::error::QueueError;
use crate::types::{MinuteCounts, last_minutes, minute_key};

impl RedisBroker {
    /// Counts one job finished successfully in the current minute.
    pub async fn count_processed(&self) -> Result<(), QueueError> {
        let key = self
            .inner
            .keys
            .processed(&minute_key(OffsetDateTime::now_utc()));
        self.incr_counter(key).await
    }

    /// Counts one failed attempt in the current minute.
    pub async fn count_failed(&self) -> Result<(), QueueError> {
        let key = self
            .inner
            .keys
            .failed(&minute_key(OffsetDateTime::now_utc()));
        self.incr_counter(key).await
    }

    async fn incr_counter(&self, key: String) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("INCR")
            .arg(&key)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(millis(self.inner.options.counter_ttl).max(1))
            .ignore();
        self.run("count", pipe.query_async::<()>(&mut c)).await
    }

    /// The counts of the last `minutes` minutes, oldest first, the current minute last.
    pub async fn throughput(&self, minutes: usize) -> Result<Vec<MinuteCounts>, QueueError> {
        let starts = last_minutes(OffsetDateTime::now_utc(), minutes);
        if starts.is_empty() {
            return Ok(Vec::new());
        }
        let mut keys = Vec::with_capacity(starts.len() * 2);
        for m in &starts {
            let k = minute_key(*m);
            keys.push(self.inner.keys.processed(&k));
            keys.push(self.inner.keys.failed(&k));
        }
        let mut c = self.inner.conn.clone();
        let values: Vec<Option<u64>> = self
            .run(
                "throughput",
                redis::cmd("MGET").arg(&keys).query_async(&mut c),
            )
            .await?;
        Ok(starts
            .into_iter()
            .zip(values.chunks(2))
            .map(|(minute, pair)| MinuteCounts {
                minute,
                processed: pair.first().copied().flatten().unwrap_or(0),
                failed: pair.get(1).copied().flatten().unwrap_or(0),
            })
            .collect())
    }
}
