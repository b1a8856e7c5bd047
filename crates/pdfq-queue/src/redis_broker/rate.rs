//! The rate limiter: a sliding log per [`RateKey`] in a sorted set, checked and updated by one
//! script so concurrent requests cannot both take the last slot.

use std::sync::LazyLock;
use std::time::Duration;

use pdfq_domain::limits::RateLimit;
use redis::Script;

use super::{RedisBroker, millis};
use crate::error::QueueError;
use crate::rate::{RateKey, RateTicket};
use crate::types::RateDecision;

/// Drops events older than the window, admits this one if there is room, and reports what
/// remains and when the oldest counted event leaves the window. Redis's clock, so every API
/// instance measures the same window.
static CHECK_RATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, max = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local n = redis.call('ZCARD', KEYS[1])
local allowed = 0
if n < max then
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[3])
  n = n + 1
  allowed = 1
end
redis.call('PEXPIRE', KEYS[1], window)
local reset = 0
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #oldest > 0 then reset = tonumber(oldest[2]) + window - now end
if reset < 0 then reset = 0 end
return {allowed, max - n, reset}
",
    )
});

impl RedisBroker {
    /// Counts one event under `key` against `limit` if it fits; atomic under concurrency across
    /// API instances. The ticket (when admitted) uncounts it again through [`Self::refund_rate`].
    pub async fn check_rate(
        &self,
        key: &RateKey,
        limit: RateLimit,
    ) -> Result<(RateDecision, Option<RateTicket>), QueueError> {
        let mut c = self.inner.conn.clone();
        // A unique member per event: two events in the same millisecond both count.
        let member = uuid::Uuid::new_v4().simple().to_string();
        let mut call = CHECK_RATE.prepare_invoke();
        call.key(self.inner.keys.rate(key.as_str()))
            .arg(millis(limit.window).max(1))
            .arg(limit.max)
            .arg(&member);
        let (allowed, remaining, reset): (i64, i64, i64) =
            self.run("check_rate", call.invoke_async(&mut c)).await?;
        let decision = RateDecision {
            allowed: allowed == 1,
            limit: limit.max,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
            reset_after: Duration::from_millis(u64::try_from(reset.max(0)).unwrap_or(0)),
        };
        let ticket = decision.allowed.then(|| RateTicket {
            key: key.clone(),
            member,
        });
        Ok((decision, ticket))
    }

    /// Uncounts the event of `ticket`.
    pub async fn refund_rate(&self, ticket: &RateTicket) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        let key = self.inner.keys.rate(ticket.key.as_str());
        let _: i64 = self
            .run(
                "refund_rate",
                redis::cmd("ZREM")
                    .arg(&key)
                    .arg(&ticket.member)
                    .query_async(&mut c),
            )
            .await?;
        Ok(())
    }
}
