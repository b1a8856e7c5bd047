//! Live progress: the worker announces each step of a running job on one channel; the API's
//! event streams follow it between their reads of the job row.

use super::RedisBroker;
use crate::error::QueueError;
use crate::subscription::ProgressSubscription;
use crate::types::LiveProgress;

impl RedisBroker {
    pub async fn publish_progress(&self, progress: &LiveProgress) -> Result<(), QueueError> {
        let payload = serde_json::to_string(progress)
            .map_err(|e| QueueError::Malformed(format!("live progress: {e}")))?;
        let mut c = self.inner.conn.clone();
        self.run(
            "publish_progress",
            redis::cmd("PUBLISH")
                .arg(self.inner.keys.progress_channel())
                .arg(payload)
                .query_async::<()>(&mut c),
        )
        .await
    }

    /// Subscribes to live progress (see [`Self::subscribe_channel`]).
    pub async fn subscribe_progress(&self) -> Result<ProgressSubscription, QueueError> {
        self.subscribe_channel(self.inner.keys.progress_channel(), |s| {
            serde_json::from_str(s).ok()
        })
        .await
    }
}
