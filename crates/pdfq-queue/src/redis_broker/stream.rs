//! The job stream: enqueue, fetch, ack, lease renewal and the reaper.
//!
//! At-least-once: an entry stays in the group's pending list from delivery until its worker
//! acks it. A worker renews the lease of each running entry; entries idle longer than the lease
//! belong to a dead or stuck worker and are reaped by another. Duplicates are possible (enqueue
//! twice, a reaped job whose worker was only slow): PostgreSQL's conditional claim decides who
//! runs a job, and the worker acks and drops a delivery whose claim matched nothing.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use pdfq_domain::{Attempt, JobId, WorkerId};
use redis::Script;
use redis::streams::StreamReadReply;

use super::{RedisBroker, millis};
use crate::error::QueueError;
use crate::keys::GROUP;
use crate::types::Delivery;

/// Adds an entry and records it in the index; with ARGV[3] = 1 only when the job has no live
/// entry (in the stream or the delayed set), checking the index against the real data so a
/// stale index record never hides a lost job.
static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local job, attempt = ARGV[1], ARGV[2]
if ARGV[3] == '1' then
  local cur = redis.call('HGET', KEYS[2], job)
  if cur then
    local kind, ref = string.sub(cur, 1, 1), string.sub(cur, 3)
    if kind == 's' and #redis.call('XRANGE', KEYS[1], ref, ref) > 0 then return false end
    if kind == 'd' and redis.call('ZSCORE', KEYS[3], ref) then return false end
  end
end
local id = redis.call('XADD', KEYS[1], '*', 'job', job, 'attempt', attempt)
redis.call('HSET', KEYS[2], job, 's|' .. id)
return id
",
    )
});

/// For each job in ARGV, 1 when it has no live entry: the index is checked against the stream
/// and the delayed set, so a stale index record never hides a job from the sweeper.
static MISSING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out = {}
for i, job in ipairs(ARGV) do
  local live = false
  local cur = redis.call('HGET', KEYS[2], job)
  if cur then
    local kind, ref = string.sub(cur, 1, 1), string.sub(cur, 3)
    if kind == 's' then live = #redis.call('XRANGE', KEYS[1], ref, ref) > 0
    elseif kind == 'd' then live = redis.call('ZSCORE', KEYS[3], ref) ~= false end
  end
  out[i] = live and 0 or 1
end
return out
",
    )
});

/// Acks and deletes an entry only if `consumer` still holds it: a worker that lost its lease
/// must not take the entry away from the worker that now runs the job.
static ACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if not ok or #p == 0 then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
if redis.call('HGET', KEYS[2], ARGV[4]) == 's|' .. ARGV[3] then
  redis.call('HDEL', KEYS[2], ARGV[4])
end
return 1
",
    )
});

/// Resets the idle time of an entry `consumer` still holds. XCLAIM ... JUSTID does not count a
/// delivery; the ownership check keeps a worker that lost its lease from stealing the entry back.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if not ok or #p == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
",
    )
});

/// Hands an entry the consumer holds back to the queue at once: ack and delete it and add the
/// same job again, in one step, so another worker can take it without waiting for the lease.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if not ok or #p == 0 then return false end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
local id = redis.call('XADD', KEYS[1], '*', 'job', ARGV[4], 'attempt', ARGV[5])
local cur = redis.call('HGET', KEYS[2], ARGV[4])
if not cur or cur == 's|' .. ARGV[3] then redis.call('HSET', KEYS[2], ARGV[4], 's|' .. id) end
return id
",
    )
});

/// Claims entries idle longer than the lease and returns each with its delivery count (which
/// XAUTOCLAIM increments but does not report), in one atomic step. Follows XAUTOCLAIM's cursor:
/// one call scans only about COUNT * 10 pending entries, and an abandoned entry may sit behind
/// many healthy ones.
static REAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local out, cursor, want, rounds = {}, '0-0', tonumber(ARGV[4]), 0
repeat
  local ok, r = pcall(redis.call, 'XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', want - #out)
  if not ok then return out end
  cursor = r[1]
  for _, e in ipairs(r[2]) do
    if type(e) == 'table' and type(e[2]) == 'table' then
      local job, attempt = '', ''
      for i = 1, #e[2], 2 do
        if e[2][i] == 'job' then job = e[2][i + 1] elseif e[2][i] == 'attempt' then attempt = e[2][i + 1] end
      end
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
      local count = 0
      if #p > 0 then count = p[1][4] end
      table.insert(out, {e[1], job, attempt, count})
    end
  end
  rounds = rounds + 1
until cursor == '0-0' or #out >= want or rounds >= 100
return out
",
    )
});

/// Removes consumers that hold nothing and have not read for longer than the lease: dead worker
/// processes, whose names are never reused. A live worker removed here by chance is harmless:
/// its next XREADGROUP creates its consumer again.
static PRUNE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local ok, cs = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return 0 end
local removed = 0
for _, c in ipairs(cs) do
  local name, pending, idle = nil, 1, 0
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name and name ~= ARGV[3] and pending == 0 and idle > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed = removed + 1
  end
end
return removed
",
    )
});

/// The entry ids from a script reply become deliveries; a malformed entry is an error naming it.
fn delivery(
    entry_id: String,
    job: &str,
    attempt: &str,
    delivery_count: u32,
    consumer: &WorkerId,
) -> Result<Delivery, QueueError> {
    let job_id: JobId = job
        .parse()
        .map_err(|_| QueueError::Malformed(format!("entry {entry_id}: job {job:?}")))?;
    let attempt: u32 = attempt
        .parse()
        .map_err(|_| QueueError::Malformed(format!("entry {entry_id}: attempt {attempt:?}")))?;
    Ok(Delivery {
        entry_id,
        job_id,
        attempt: Attempt::new(attempt),
        delivery_count,
        consumer: consumer.clone(),
    })
}

impl RedisBroker {
    /// Queues a job. Always adds an entry, so a duplicate enqueue makes a duplicate delivery,
    /// which PostgreSQL's claim turns into a no-op. Returns the entry id.
    pub async fn enqueue(&self, job_id: JobId, attempt: Attempt) -> Result<String, QueueError> {
        let id: Option<String> = self.enqueue_script(job_id, attempt, false).await?;
        id.ok_or_else(|| QueueError::Malformed("enqueue returned no entry id".into()))
    }

    /// Queues a job only if it has no entry (waiting, in flight or delayed); for the sweeper,
    /// which re-enqueues jobs PostgreSQL has as pending. `None` when an entry exists.
    pub async fn enqueue_if_absent(
        &self,
        job_id: JobId,
        attempt: Attempt,
    ) -> Result<Option<String>, QueueError> {
        self.enqueue_script(job_id, attempt, true).await
    }

    async fn enqueue_script(
        &self,
        job_id: JobId,
        attempt: Attempt,
        if_absent: bool,
    ) -> Result<Option<String>, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut call = ENQUEUE.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .key(self.inner.keys.index())
            .key(self.inner.keys.delayed())
            .arg(job_id.to_string())
            .arg(attempt.get())
            .arg(if if_absent { "1" } else { "0" });
        self.run("enqueue", call.invoke_async(&mut c)).await
    }

    /// Whether the job has a queue entry: waiting, in flight or delayed.
    pub async fn has_entry(&self, job_id: JobId) -> Result<bool, QueueError> {
        Ok(self.missing_entries(&[job_id]).await?.is_empty())
    }

    /// The jobs among `jobs` that have no queue entry (one round trip for the sweeper's batch).
    pub async fn missing_entries(&self, jobs: &[JobId]) -> Result<Vec<JobId>, QueueError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.inner.conn.clone();
        let mut call = MISSING.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .key(self.inner.keys.index())
            .key(self.inner.keys.delayed());
        for job in jobs {
            call.arg(job.to_string());
        }
        let missing: Vec<i64> = self
            .run("missing_entries", call.invoke_async(&mut c))
            .await?;
        Ok(jobs
            .iter()
            .zip(missing)
            .filter(|(_, m)| *m == 1)
            .map(|(j, _)| *j)
            .collect())
    }

    /// Up to `count` new entries for `consumer`, waiting up to `block` (cut to `max_block`) when
    /// none is ready. A paused queue delivers nothing (after waiting, so a loop does not spin).
    pub async fn fetch(
        &self,
        consumer: &WorkerId,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        let block = block.min(self.inner.options.max_block);
        if count == 0 {
            return Ok(Vec::new());
        }
        if self.is_paused().await? {
            tokio::time::sleep(block).await;
            return Ok(Vec::new());
        }
        let reply = match self.read_group(consumer, count, block).await {
            Err(e) if e.code() == Some("NOGROUP") => {
                // First use, or Redis lost its data: create the group and read again.
                self.ensure_group().await?;
                self.read_group(consumer, count, block).await
            }
            other => other,
        }
        .map_err(QueueError::from)?;
        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            for entry in key.ids {
                let job: Option<String> = entry.get("job");
                let attempt: Option<String> = entry.get("attempt");
                let parsed = delivery(
                    entry.id.clone(),
                    job.as_deref().unwrap_or(""),
                    attempt.as_deref().unwrap_or(""),
                    1,
                    consumer,
                );
                match parsed {
                    Ok(d) => out.push(d),
                    Err(e) => {
                        // Not pdfq's data: drop it, or it would be redelivered forever.
                        tracing::warn!(error = %e, "dropping malformed queue entry");
                        // Failing here must not lose the good deliveries already taken; a
                        // malformed entry left behind is dropped again when reaped.
                        if let Err(e) = self.drop_entry(&entry.id).await {
                            tracing::warn!(error = %e, "could not drop malformed entry");
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    async fn read_group(
        &self,
        consumer: &WorkerId,
        count: usize,
        block: Duration,
    ) -> redis::RedisResult<Option<StreamReadReply>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(consumer.as_str())
            .arg("COUNT")
            .arg(count);
        if !block.is_zero() {
            cmd.arg("BLOCK").arg(millis(block).max(1));
        }
        cmd.arg("STREAMS").arg(self.inner.keys.jobs()).arg(">");
        let mut c = if block.is_zero() {
            self.inner.conn.clone()
        } else {
            self.inner.blocking.clone()
        };
        let limit = self.inner.options.op_timeout.saturating_add(block);
        match tokio::time::timeout(limit, cmd.query_async(&mut c)).await {
            Ok(r) => r,
            Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("fetch: no answer from Redis within {limit:?}"),
            ))),
        }
    }

    /// Creates the stream and the consumer group if missing. From id 0, so entries added before
    /// any worker existed are delivered too.
    async fn ensure_group(&self) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.inner.keys.jobs())
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn drop_entry(&self, entry_id: &str) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XACK")
            .arg(self.inner.keys.jobs())
            .arg(GROUP)
            .arg(entry_id)
            .ignore()
            .cmd("XDEL")
            .arg(self.inner.keys.jobs())
            .arg(entry_id)
            .ignore();
        self.run("drop entry", pipe.query_async::<()>(&mut c)).await
    }

    /// Acknowledges and deletes a finished (or dropped) delivery. `false` when the consumer no
    /// longer held it (its lease expired and another worker has the job, or it was acked
    /// already); nothing is changed then.
    pub async fn ack(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut call = ACK.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .key(self.inner.keys.index())
            .arg(GROUP)
            .arg(delivery.consumer.as_str())
            .arg(&delivery.entry_id)
            .arg(delivery.job_id.to_string());
        let n: i64 = self.run("ack", call.invoke_async(&mut c)).await?;
        Ok(n == 1)
    }

    /// Renews the lease of a running delivery (call every `renew_every`). `false` when the
    /// consumer lost the entry: the job was reaped for another worker, so this one should stop;
    /// its late commit would be refused by the attempt check anyway.
    pub async fn renew(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut call = RENEW.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .arg(GROUP)
            .arg(delivery.consumer.as_str())
            .arg(&delivery.entry_id);
        let n: i64 = self.run("renew", call.invoke_async(&mut c)).await?;
        Ok(n == 1)
    }

    /// Gives a delivery back to the queue at once (shutdown: jobs not started or abandoned
    /// within the drain budget), instead of leaving it to be reaped after the lease. The job
    /// goes to the back of the queue. `None` when the consumer no longer held it.
    pub async fn release(&self, delivery: &Delivery) -> Result<Option<String>, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut call = RELEASE.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .key(self.inner.keys.index())
            .arg(GROUP)
            .arg(delivery.consumer.as_str())
            .arg(&delivery.entry_id)
            .arg(delivery.job_id.to_string())
            .arg(delivery.attempt.get());
        self.run("release", call.invoke_async(&mut c)).await
    }

    /// Claims up to `count` entries idle longer than the lease (their worker died or hung) for
    /// `consumer` to run, with their delivery counts. Also removes dead consumers from the group.
    /// Call it every few seconds from each worker, with `count` = its free slots.
    pub async fn reap(
        &self,
        consumer: &WorkerId,
        count: usize,
    ) -> Result<Vec<Delivery>, QueueError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut c = self.inner.conn.clone();
        let mut call = REAP.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .arg(GROUP)
            .arg(consumer.as_str())
            .arg(millis(self.inner.options.lease))
            .arg(count);
        let rows: Vec<(String, String, String, u32)> =
            self.run("reap", call.invoke_async(&mut c)).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, job, attempt, n) in rows {
            match delivery(id.clone(), &job, &attempt, n, consumer) {
                Ok(d) => out.push(d),
                Err(e) => {
                    tracing::warn!(error = %e, "dropping malformed reaped entry");
                    if let Err(e) = self.drop_entry(&id).await {
                        tracing::warn!(error = %e, "could not drop malformed entry");
                    }
                }
            }
        }
        if !out.is_empty() {
            tracing::info!(count = out.len(), %consumer, "reaped entries of lost workers");
        }
        self.prune_consumers(consumer).await?;
        Ok(out)
    }

    /// Removes consumers that own nothing and were idle longer than the lease; returns how many.
    pub async fn prune_consumers(&self, keep: &WorkerId) -> Result<u64, QueueError> {
        let mut c = self.inner.conn.clone();
        let mut call = PRUNE.prepare_invoke();
        call.key(self.inner.keys.jobs())
            .arg(GROUP)
            .arg(millis(self.inner.options.lease))
            .arg(keep.as_str());
        self.run("prune consumers", call.invoke_async(&mut c)).await
    }

    /// The consumers in the group with the entries each holds (for tests and diagnostics).
    pub async fn consumers(&self) -> Result<Vec<(String, u64)>, QueueError> {
        let mut c = self.inner.conn.clone();
        let reply: redis::RedisResult<redis::streams::StreamInfoConsumersReply> = self
            .run_raw(
                redis::cmd("XINFO")
                    .arg("CONSUMERS")
                    .arg(self.inner.keys.jobs())
                    .arg(GROUP)
                    .query_async(&mut c),
            )
            .await?;
        match reply {
            Ok(r) => Ok(r
                .consumers
                .into_iter()
                .map(|c| (c.name, c.pending as u64))
                .collect()),
            Err(e) if e.code() == Some("ERR") || e.code() == Some("NOGROUP") => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Like `run`, but hands back Redis's own error so the caller can look at its code.
    async fn run_raw<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<redis::RedisResult<T>, QueueError> {
        tokio::time::timeout(self.inner.options.op_timeout, call)
            .await
            .map_err(|_| QueueError::Unavailable("no answer from Redis in time".into()))
    }
}
