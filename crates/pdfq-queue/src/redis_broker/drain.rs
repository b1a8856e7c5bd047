//! Draining one worker: a flag key per worker id that the worker reads before each fetch.

use super::RedisBroker;
use crate::error::QueueError;
use crate::types::DrainMode;
use pdfq_domain::WorkerId;

/// A drain request outlives its worker by at most this: worker ids are never reused, so an
/// old flag only takes room.
const DRAIN_TTL_SECS: u64 = 86_400;

impl RedisBroker {
    /// Asks the worker to take no new jobs (and, with [`DrainMode::Exit`], to exit once idle).
    pub async fn request_drain(
        &self,
        worker: &WorkerId,
        mode: DrainMode,
    ) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "request_drain",
            redis::cmd("SET")
                .arg(self.inner.keys.drain(worker.as_str()))
                .arg(mode.as_str())
                .arg("EX")
                .arg(DRAIN_TTL_SECS)
                .query_async::<()>(&mut c),
        )
        .await
    }

    /// Lifts a drain request; `true` when there was one.
    pub async fn cancel_drain(&self, worker: &WorkerId) -> Result<bool, QueueError> {
        let mut c = self.inner.conn.clone();
        let removed: i64 = self
            .run(
                "cancel_drain",
                redis::cmd("DEL")
                    .arg(self.inner.keys.drain(worker.as_str()))
                    .query_async(&mut c),
            )
            .await?;
        Ok(removed > 0)
    }

    pub async fn drain_requested(
        &self,
        worker: &WorkerId,
    ) -> Result<Option<DrainMode>, QueueError> {
        let mut c = self.inner.conn.clone();
        let value: Option<String> = self
            .run(
                "drain_requested",
                redis::cmd("GET")
                    .arg(self.inner.keys.drain(worker.as_str()))
                    .query_async(&mut c),
            )
            .await?;
        // An unreadable value still means "drain": stopping work is the safe reading.
        Ok(value.map(|v| DrainMode::parse(&v).unwrap_or(DrainMode::Stay)))
    }
}
