//! Heartbeat records of API and worker instances, for the admin overview.
//!
//! Each record is a JSON value with a TTL, so a dead process vanishes by itself; a registry
//! sorted set (scored by the Redis time of the last beat) lists them without SCAN. Ages are
//! measured on the Redis clock, so skewed host clocks do not make instances look stale.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::{RedisBroker, millis};
use crate::error::QueueError;
use crate::types::{Heartbeat, InstanceStatus};

static BEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], string.format('%d', now), ARGV[1])
return 1
",
    )
});

impl RedisBroker {
    /// Writes (or refreshes) an instance's heartbeat; call every ~10 s.
    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<(), QueueError> {
        let json = serde_json::to_string(beat)?;
        let id = beat.id.as_str();
        let mut c = self.inner.conn.clone();
        let mut call = BEAT.prepare_invoke();
        call.key(self.inner.keys.instance(id))
            .key(self.inner.keys.instances())
            .arg(id)
            .arg(json)
            .arg(millis(self.inner.options.heartbeat_ttl).max(1));
        let _: i64 = self.run("heartbeat", call.invoke_async(&mut c)).await?;
        Ok(())
    }

    /// Removes an instance's heartbeat (clean shutdown), so it leaves the overview at once.
    pub async fn remove_heartbeat(&self, id: &pdfq_domain::WorkerId) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(self.inner.keys.instance(id.as_str()))
            .ignore()
            .cmd("ZREM")
            .arg(self.inner.keys.instances())
            .arg(id.as_str())
            .ignore();
        self.run("remove_heartbeat", pipe.query_async::<()>(&mut c))
            .await
    }

    /// Every instance with a live heartbeat record (API and worker), oldest beat first, each
    /// flagged stale when its last beat is older than `heartbeat_stale_after`. Records that
    /// expired are dropped from the registry on the way.
    pub async fn instances(&self) -> Result<Vec<InstanceStatus>, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("TIME")
            .cmd("ZRANGE")
            .arg(self.inner.keys.instances())
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES");
        let ((secs, micros), registry): ((u64, u64), Vec<(String, f64)>) =
            self.run("instances", pipe.query_async(&mut c)).await?;
        if registry.is_empty() {
            return Ok(Vec::new());
        }
        let now_ms = secs * 1000 + micros / 1000;
        let keys: Vec<String> = registry
            .iter()
            .map(|(id, _)| self.inner.keys.instance(id))
            .collect();
        let records: Vec<Option<String>> = self
            .run(
                "instances",
                redis::cmd("MGET").arg(&keys).query_async(&mut c),
            )
            .await?;
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for ((id, score), record) in registry.into_iter().zip(records) {
            let Some(json) = record else {
                gone.push(id);
                continue;
            };
            let heartbeat: Heartbeat = match serde_json::from_str(&json) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(%id, error = %e, "ignoring malformed heartbeat");
                    continue;
                }
            };
            // Scores are whole milliseconds well inside f64's exact range.
            let beat_ms = score.max(0.0) as u64;
            let age = Duration::from_millis(now_ms.saturating_sub(beat_ms));
            out.push(InstanceStatus {
                heartbeat,
                age,
                stale: age > self.inner.options.heartbeat_stale_after,
            });
        }
        if !gone.is_empty() {
            let _: () = self
                .run(
                    "instances",
                    redis::cmd("ZREM")
                        .arg(self.inner.keys.instances())
                        .arg(&gone)
                        .query_async(&mut c),
                )
                .await?;
        }
        Ok(out)
    }
}
