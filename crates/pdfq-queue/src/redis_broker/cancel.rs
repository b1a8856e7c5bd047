//! Cooperative cancel across processes: a flag the worker checks between pages, and a pub/sub
//! announcement so it can stop promptly.

use pdfq_domain::JobId;

use super::{RedisBroker, millis};
use crate::error::QueueError;
use crate::subscription::CancelSubscription;

impl RedisBroker {
    /// Asks whoever runs `job_id` to stop: sets the flag (expiring after `cancel_ttl`) and
    /// announces it on the cancel channel.
    pub async fn request_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.inner.keys.cancel(job_id))
            .arg("1")
            .arg("PX")
            .arg(millis(self.inner.options.cancel_ttl).max(1))
            .ignore()
            .cmd("PUBLISH")
            .arg(self.inner.keys.cancel_channel())
            .arg(job_id.to_string())
            .ignore();
        self.run("request_cancel", pipe.query_async::<()>(&mut c))
            .await
    }

    pub async fn cancel_requested(&self, job_id: JobId) -> Result<bool, QueueError> {
        let mut c = self.inner.conn.clone();
        let n: i64 = self
            .run(
                "cancel_requested",
                redis::cmd("EXISTS")
                    .arg(self.inner.keys.cancel(job_id))
                    .query_async(&mut c),
            )
            .await?;
        Ok(n > 0)
    }

    /// Removes the flag (an operator retries a cancelled job).
    pub async fn clear_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "clear_cancel",
            redis::cmd("DEL")
                .arg(self.inner.keys.cancel(job_id))
                .query_async::<()>(&mut c),
        )
        .await
    }

    /// Subscribes to cancel announcements (see [`Self::subscribe_channel`]).
    pub async fn subscribe_cancels(&self) -> Result<CancelSubscription, QueueError> {
        self.subscribe_channel(self.inner.keys.cancel_channel(), |s| s.parse().ok())
            .await
    }
}
