//! Cheap reads for dashboards: one script for a consistent snapshot of the queue, plus Redis's
//! memory use.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::RedisBroker;
use crate::error::QueueError;
use crate::keys::GROUP;
use crate::types::QueueStats;

/// Returns {waiting, in_flight, delayed, dead, paused, oldest waiting entry ms (-1: none), now}.
/// Waiting is the group's lag; when Redis cannot tell the lag (after deletions), it is the
/// stream length minus the pending entries, which holds because acked entries are deleted.
static STATS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local xlen = redis.call('XLEN', KEYS[1])
local waiting, inflight, last = xlen, 0, nil
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if ok then
  for _, g in ipairs(groups) do
    local name, pending, lag, ld = nil, 0, nil, nil
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1]
      elseif g[i] == 'pending' then pending = g[i + 1]
      elseif g[i] == 'lag' then lag = g[i + 1]
      elseif g[i] == 'last-delivered-id' then ld = g[i + 1] end
    end
    if name == ARGV[1] then
      inflight = pending
      last = ld
      if type(lag) == 'number' then waiting = lag else waiting = math.max(xlen - pending, 0) end
    end
  end
end
local first
if last then first = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
else first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1) end
local oldest = -1
if #first > 0 then
  local id = first[1][1]
  oldest = tonumber(string.sub(id, 1, string.find(id, '-', 1, true) - 1))
end
return {waiting, inflight, redis.call('ZCARD', KEYS[2]), redis.call('XLEN', KEYS[3]),
  redis.call('EXISTS', KEYS[4]), oldest, now}
",
    )
});

impl RedisBroker {
    /// Waiting, in flight, delayed, dead, the age of the oldest waiting job, the pause flag and
    /// Redis's memory use. A few O(1) commands; fine to poll every second.
    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut call = STATS.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .key(self.inner.keys.delayed())
            .key(self.inner.keys.dead())
            .key(self.inner.keys.paused())
            .arg(GROUP);
        let (waiting, in_flight, delayed, dead, paused, oldest, now): (
            u64,
            u64,
            u64,
            u64,
            i64,
            i64,
            i64,
        ) = self.run("stats", call.invoke_async(&mut c)).await?;
        let info: String = self
            .run(
                "stats",
                redis::cmd("INFO").arg("memory").query_async(&mut c),
            )
            .await?;
        Ok(QueueStats {
            waiting,
            in_flight,
            delayed,
            dead,
            oldest_waiting_age: (oldest >= 0 && waiting > 0).then(|| {
                Duration::from_millis(u64::try_from(now.saturating_sub(oldest)).unwrap_or(0))
            }),
            paused: paused > 0,
            memory_used_bytes: used_memory(&info),
        })
    }
}

/// `used_memory` from the text of INFO memory.
fn used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn used_memory_is_read_from_info() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n";
        assert_eq!(super::used_memory(info), Some(1_048_576));
        assert_eq!(super::used_memory("# Memory\r\n"), None);
    }
}
