//! Pausing the queue: a flag key that `fetch` reads before delivering anything.

use super::RedisBroker;
use crate::error::QueueError;

impl RedisBroker {
    /// Stops deliveries until [`RedisBroker::resume`]. Running jobs continue; enqueue still works.
    pub async fn pause(&self) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "pause",
            redis::cmd("SET")
                .arg(self.inner.keys.paused())
                .arg("1")
                .query_async::<()>(&mut c),
        )
        .await
    }

    pub async fn resume(&self) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "resume",
            redis::cmd("DEL")
                .arg(self.inner.keys.paused())
                .query_async::<()>(&mut c),
        )
        .await
    }

    pub async fn is_paused(&self) -> Result<bool, QueueError> {
        let mut c = self.inner.conn.clone();
        let n: i64 = self
            .run(
                "is_paused",
                redis::cmd("EXISTS")
                    .arg(self.inner.keys.paused())
                    .query_async(&mut c),
            )
            .await?;
        Ok(n > 0)
    }
}
