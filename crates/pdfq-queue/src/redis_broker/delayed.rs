//! Retries waiting out their backoff: a sorted set scored by due time, promoted to the stream by
//! one script so a job is never lost nor doubled between the set and the stream.
//!
//! Due times use the Redis server's clock (TIME inside the scripts), so workers on hosts with
//! skewed clocks agree on when a retry is due.

use std::sync::LazyLock;
use std::time::Duration;

use pdfq_domain::{Attempt, JobId};
use redis::Script;

use super::{RedisBroker, millis};
use crate::error::QueueError;
use crate::keys::GROUP;
use crate::types::Delivery;

/// Acks the delivery (if given and still held), then puts `<job>|<attempt>` in the delayed set,
/// replacing any earlier delayed member of the same job.
static RETRY_LATER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[3] ~= '' then
  local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
  if ok and #p > 0 then
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
    redis.call('XDEL', KEYS[1], ARGV[3])
  end
end
local job = ARGV[4]
local cur = redis.call('HGET', KEYS[2], job)
if cur and string.sub(cur, 1, 2) == 'd|' then redis.call('ZREM', KEYS[3], string.sub(cur, 3)) end
local t = redis.call('TIME')
local due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[6])
local member = job .. '|' .. ARGV[5]
redis.call('ZADD', KEYS[3], string.format('%d', due), member)
redis.call('HSET', KEYS[2], job, 'd|' .. member)
return 1
",
    )
});

/// Moves due members to the stream: read, add and remove in one atomic step.
static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now), 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(due) do
  local sep = string.find(m, '|', 1, true)
  if sep then
    local job, attempt = string.sub(m, 1, sep - 1), string.sub(m, sep + 1)
    local id = redis.call('XADD', KEYS[2], '*', 'job', job, 'attempt', attempt)
    if redis.call('HGET', KEYS[3], job) == 'd|' .. m then
      redis.call('HSET', KEYS[3], job, 's|' .. id)
    end
  end
  redis.call('ZREM', KEYS[1], m)
end
return #due
",
    )
});

impl RedisBroker {
    /// Schedules the next attempt of a failed delivery after `delay` (see [`mod@crate::backoff`]) and
    /// acks the delivery, in one step.
    pub async fn retry_later(
        &self,
        delivery: &Delivery,
        next_attempt: Attempt,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.delay_script(
            Some(delivery),
            delivery.job_id,
            next_attempt,
            delay,
            "retry_later",
        )
        .await
    }

    /// Schedules a job to be queued after `delay`, without a delivery to ack (e.g. a worker
    /// handing back a job it claimed in PostgreSQL but cannot run now).
    pub async fn schedule(
        &self,
        job_id: JobId,
        attempt: Attempt,
        delay: Duration,
    ) -> Result<(), QueueError> {
        self.delay_script(None, job_id, attempt, delay, "schedule")
            .await
    }

    async fn delay_script(
        &self,
        delivery: Option<&Delivery>,
        job_id: JobId,
        attempt: Attempt,
        delay: Duration,
        what: &str,
    ) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        let mut call = RETRY_LATER.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .key(self.inner.keys.index())
            .key(self.inner.keys.delayed())
            .arg(GROUP)
            .arg(delivery.map_or("", |d| d.consumer.as_str()))
            .arg(delivery.map_or("", |d| d.entry_id.as_str()))
            .arg(job_id.to_string())
            .arg(attempt.get())
            .arg(millis(delay));
        let _: i64 = self.run(what, call.invoke_async(&mut c)).await?;
        Ok(())
    }

    /// Moves retries whose time has come to the stream (at most 500 per call); returns how many.
    /// Safe to run from every worker at once: each member is promoted exactly once.
    pub async fn promote_due(&self) -> Result<u64, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut call = PROMOTE.prepare_invoke();
        call.key(self.inner.keys.delayed())
            .key(self.inner.keys.jobs())
            .key(self.inner.keys.index())
            .arg(500);
        self.run("promote_due", call.invoke_async(&mut c)).await
    }
}
