//! Dead letters: a capped stream of jobs that will not be retried, with the reason.

use std::sync::LazyLock;

use pdfq_domain::{Attempt, JobId};
use redis::Script;
use redis::streams::StreamRangeReply;
use time::OffsetDateTime;

use super::RedisBroker;
use crate::error::QueueError;
use crate::types::DeadLetter;

/// Adds the dead letter (exact MAXLEN: dead letters are rare, so exact trimming costs nothing
/// and the cap is a real bound) and forgets any queue entry of the job.
static DEAD_LETTER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[1], '*',
  'job', ARGV[2], 'attempt', ARGV[3], 'code', ARGV[4], 'reason', ARGV[5], 'at', ARGV[6])
local cur = redis.call('HGET', KEYS[2], ARGV[2])
if cur then
  if string.sub(cur, 1, 2) == 'd|' then redis.call('ZREM', KEYS[3], string.sub(cur, 3)) end
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return id
",
    )
});

impl RedisBroker {
    /// Records that `job_id` failed for good (permanent error or retries spent). The worker
    /// still acks its delivery.
    pub async fn dead_letter(
        &self,
        job_id: JobId,
        attempt: Attempt,
        code: &str,
        reason: &str,
    ) -> Result<String, QueueError> {
        let mut c = self.inner.conn.clone();
        let now = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let mut call = DEAD_LETTER.prepare_invoke();
        call.key(self.inner.keys.dead())
            .key(self.inner.keys.index())
            .key(self.inner.keys.delayed())
            .arg(self.inner.options.dead_letter_cap.max(1))
            .arg(job_id.to_string())
            .arg(attempt.get())
            .arg(code)
            .arg(reason)
            .arg(now.to_string());
        self.run("dead_letter", call.invoke_async(&mut c)).await
    }

    /// The newest `limit` dead letters, newest first.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut c = self.inner.conn.clone();
        let reply: StreamRangeReply = self
            .run(
                "dead_letters",
                redis::cmd("XREVRANGE")
                    .arg(self.inner.keys.dead())
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(limit)
                    .query_async(&mut c),
            )
            .await?;
        reply
            .ids
            .into_iter()
            .map(|e| {
                let field = |name: &str| e.get::<String>(name).unwrap_or_default();
                let bad =
                    |what: &str| QueueError::Malformed(format!("dead letter {}: {what}", e.id));
                let job_id: JobId = field("job").parse().map_err(|_| bad("job"))?;
                let attempt: u32 = field("attempt").parse().map_err(|_| bad("attempt"))?;
                let at_ms: i128 = field("at").parse().map_err(|_| bad("at"))?;
                let at = OffsetDateTime::from_unix_timestamp_nanos(at_ms * 1_000_000)
                    .map_err(|_| bad("at"))?;
                Ok(DeadLetter {
                    entry_id: e.id.clone(),
                    job_id,
                    attempt: Attempt::new(attempt),
                    code: field("code"),
                    reason: field("reason"),
                    at,
                })
            })
            .collect()
    }

    /// Deletes every dead letter; returns how many there were.
    pub async fn purge_dead(&self) -> Result<u64, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XLEN")
            .arg(self.inner.keys.dead())
            .cmd("DEL")
            .arg(self.inner.keys.dead())
            .ignore();
        let (n,): (u64,) = self.run("purge_dead", pipe.query_async(&mut c)).await?;
        Ok(n)
    }
}
