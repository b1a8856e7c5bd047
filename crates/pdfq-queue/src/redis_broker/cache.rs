//! Finished jobs' results, cached for RESULT_TTL so polling clients do not hit PostgreSQL.

use std::time::Duration;

use pdfq_domain::JobId;

use super::{RedisBroker, millis};
use crate::error::QueueError;

impl RedisBroker {
    /// Caches a result (JSON text) for `ttl` (see `QueueOptions::DEFAULT_RESULT_TTL`).
    pub async fn cache_result(
        &self,
        job_id: JobId,
        json: &str,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "cache_result",
            redis::cmd("SET")
                .arg(self.inner.keys.result(job_id))
                .arg(json)
                .arg("PX")
                .arg(millis(ttl).max(1))
                .query_async::<()>(&mut c),
        )
        .await
    }

    pub async fn cached_result(&self, job_id: JobId) -> Result<Option<String>, QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "cached_result",
            redis::cmd("GET")
                .arg(self.inner.keys.result(job_id))
                .query_async(&mut c),
        )
        .await
    }

    pub async fn evict_result(&self, job_id: JobId) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "evict_result",
            redis::cmd("DEL")
                .arg(self.inner.keys.result(job_id))
                .query_async::<()>(&mut c),
        )
        .await
    }
}
