//! The in-process broker for the embedded mode (`pdfctl up`: API and worker in one process).
//!
//! Same operations and semantics as the Redis broker: at-least-once delivery with leases and a
//! reaper, delayed retries, dead letters, pause, cancel flags with a broadcast subscription,
//! counters, heartbeats, the result cache, stats and the rate limiter.
//!
//! Contract on restart: it starts empty. The store is the only durable record, so on start the
//! worker's sweeper re-enqueues every unfinished job (pending, retrying and processing rows) —
//! the same sweep that covers the API dying between commit and enqueue in production.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pdfq_domain::limits::RateLimit;
use pdfq_domain::{Attempt, JobId, WorkerId};
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};

use crate::error::QueueError;
use crate::options::QueueOptions;
use crate::rate::{LocalRateLimiter, RateKey, RateTicket};
use crate::subscription::{CancelSubscription, ProgressSubscription};
use crate::types::{
    DeadLetter, Delivery, DrainMode, Heartbeat, InstanceStatus, LiveProgress, MinuteCounts, Ping,
    QueueStats, RateDecision, last_minutes, minute_key,
};

/// A stream entry id as Redis makes them: (milliseconds, sequence).
type EntryKey = (u64, u64);

fn entry_text(k: EntryKey) -> String {
    format!("{}-{}", k.0, k.1)
}

fn parse_entry(s: &str) -> Option<EntryKey> {
    let (ms, seq) = s.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Now plus `d`, without the overflow panic of `Instant + Duration` for absurd settings: a
/// century is "never" for a queue.
fn later(d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    let now = Instant::now();
    now.checked_add(d.min(CENTURY)).unwrap_or(now)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    job: JobId,
    attempt: Attempt,
}

#[derive(Debug)]
struct Pending {
    consumer: String,
    /// Last delivery or renewal: the lease runs from here.
    since: Instant,
    count: u32,
}

/// Where a job's queue entry is; mirrors the Redis index hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Stream(EntryKey),
    Delayed(Instant, Attempt),
}

#[derive(Debug, Default)]
struct State {
    last_id: EntryKey,
    stream: BTreeMap<EntryKey, Entry>,
    last_delivered: EntryKey,
    pending: BTreeMap<EntryKey, Pending>,
    consumers: HashMap<String, Instant>,
    index: HashMap<JobId, Slot>,
    delayed: BTreeSet<(Instant, JobId, Attempt)>,
    dead: VecDeque<DeadLetter>,
    dead_last_id: EntryKey,
    paused: bool,
    drains: HashMap<String, DrainMode>,
    cancels: HashMap<JobId, Instant>,
    counters: BTreeMap<String, (u64, u64)>,
    instances: HashMap<String, (Heartbeat, Instant)>,
    results: HashMap<JobId, (String, Instant)>,
    ended_sessions: HashMap<uuid::Uuid, Instant>,
    tickets: HashMap<[u8; 32], (String, Instant)>,
}

/// Redis-style ids: the time in ms, and a sequence within the same ms (or a clock step back).
fn next_id(last: &mut EntryKey) -> EntryKey {
    let ms = now_ms();
    *last = if ms > last.0 {
        (ms, 0)
    } else {
        (last.0, last.1 + 1)
    };
    *last
}

impl State {
    fn add(&mut self, job: JobId, attempt: Attempt) -> EntryKey {
        let key = next_id(&mut self.last_id);
        self.stream.insert(key, Entry { job, attempt });
        self.index.insert(job, Slot::Stream(key));
        key
    }

    fn has_live_entry(&self, job: JobId) -> bool {
        match self.index.get(&job) {
            Some(Slot::Stream(k)) => self.stream.contains_key(k),
            Some(Slot::Delayed(due, attempt)) => self.delayed.contains(&(*due, job, *attempt)),
            None => false,
        }
    }

    fn owned(&self, d: &Delivery) -> Option<EntryKey> {
        let key = parse_entry(&d.entry_id)?;
        let p = self.pending.get(&key)?;
        (p.consumer == d.consumer.as_str()).then_some(key)
    }

    /// Acks and deletes an entry the consumer holds; false when it does not hold it.
    fn ack(&mut self, d: &Delivery) -> bool {
        let Some(key) = self.owned(d) else {
            return false;
        };
        self.pending.remove(&key);
        self.stream.remove(&key);
        if self.index.get(&d.job_id) == Some(&Slot::Stream(key)) {
            self.index.remove(&d.job_id);
        }
        true
    }

    fn unschedule(&mut self, job: JobId) {
        if let Some(Slot::Delayed(due, attempt)) = self.index.get(&job).copied() {
            self.delayed.remove(&(due, job, attempt));
        }
    }

    fn waiting(&self) -> impl Iterator<Item = (&EntryKey, &Entry)> {
        self.stream
            .range((Bound::Excluded(self.last_delivered), Bound::Unbounded))
    }
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// Wakes blocked fetches when entries arrive or the queue resumes.
    arrivals: Notify,
    cancels: broadcast::Sender<JobId>,
    progress: broadcast::Sender<LiveProgress>,
    options: QueueOptions,
    rates: LocalRateLimiter,
}

/// The broker in memory. Cheap to clone; clones share the queue.
#[derive(Debug, Clone)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self::new(QueueOptions::default())
    }
}

impl MemoryBroker {
    #[must_use]
    pub fn new(options: QueueOptions) -> Self {
        let (cancels, _) = broadcast::channel(256);
        let (progress, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                arrivals: Notify::new(),
                cancels,
                progress,
                options,
                rates: LocalRateLimiter::new(),
            }),
        }
    }

    #[must_use]
    pub fn options(&self) -> &QueueOptions {
        &self.inner.options
    }

    /// The state; a panic elsewhere while holding the lock leaves data that is still
    /// consistent enough for a queue (every update is a few map operations), so go on.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub async fn ping(&self) -> Result<Ping, QueueError> {
        let start = Instant::now();
        drop(self.state());
        Ok(Ping {
            latency: start.elapsed(),
        })
    }

    pub async fn enqueue(&self, job_id: JobId, attempt: Attempt) -> Result<String, QueueError> {
        let key = self.state().add(job_id, attempt);
        self.inner.arrivals.notify_waiters();
        Ok(entry_text(key))
    }

    pub async fn enqueue_if_absent(
        &self,
        job_id: JobId,
        attempt: Attempt,
    ) -> Result<Option<String>, QueueError> {
        let key = {
            let mut s = self.state();
            if s.has_live_entry(job_id) {
                return Ok(None);
            }
            s.add(job_id, attempt)
        };
        self.inner.arrivals.notify_waiters();
        Ok(Some(entry_text(key)))
    }

    pub async fn has_entry(&self, job_id: JobId) -> Result<bool, QueueError> {
        Ok(self.state().has_live_entry(job_id))
    }

    pub async fn missing_entries(&self, jobs: &[JobId]) -> Result<Vec<JobId>, QueueError> {
        let s = self.state();
        Ok(jobs
            .iter()
            .copied()
            .filter(|j| !s.has_live_entry(*j))
            .collect())
    }

    pub async fn fetch(
        &self,
        consumer: &WorkerId,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let deadline = later(block.min(self.inner.options.max_block));
        loop {
            // Registered before looking, so an enqueue between the look and the wait wakes us.
            let arrived = self.inner.arrivals.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let out = self.take(consumer, count);
            if !out.is_empty() {
                return Ok(out);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(out);
            }
            let _ = tokio::time::timeout(deadline - now, arrived).await;
        }
    }

    fn take(&self, consumer: &WorkerId, count: usize) -> Vec<Delivery> {
        let mut s = self.state();
        let now = Instant::now();
        s.consumers.insert(consumer.as_str().to_owned(), now);
        if s.paused {
            return Vec::new();
        }
        let batch: Vec<(EntryKey, Entry)> =
            s.waiting().take(count).map(|(k, e)| (*k, *e)).collect();
        let mut out = Vec::with_capacity(batch.len());
        for (key, entry) in batch {
            s.last_delivered = key;
            s.pending.insert(
                key,
                Pending {
                    consumer: consumer.as_str().to_owned(),
                    since: now,
                    count: 1,
                },
            );
            out.push(Delivery {
                entry_id: entry_text(key),
                job_id: entry.job,
                attempt: entry.attempt,
                delivery_count: 1,
                consumer: consumer.clone(),
            });
        }
        out
    }

    pub async fn ack(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        Ok(self.state().ack(delivery))
    }

    pub async fn renew(&self, delivery: &Delivery) -> Result<bool, QueueError> {
        let mut s = self.state();
        let Some(key) = s.owned(delivery) else {
            return Ok(false);
        };
        if let Some(p) = s.pending.get_mut(&key) {
            p.since = Instant::now();
        }
        Ok(true)
    }

    pub async fn release(&self, delivery: &Delivery) -> Result<Option<String>, QueueError> {
        let key = {
            let mut s = self.state();
            let Some(old) = s.owned(delivery) else {
                return Ok(None);
            };
            s.pending.remove(&old);
            s.stream.remove(&old);
            let key = next_id(&mut s.last_id);
            s.stream.insert(
                key,
                Entry {
                    job: delivery.job_id,
                    attempt: delivery.attempt,
                },
            );
            let slot = s.index.get(&delivery.job_id).copied();
            if slot.is_none() || slot == Some(Slot::Stream(old)) {
                s.index.insert(delivery.job_id, Slot::Stream(key));
            }
            key
        };
        self.inner.arrivals.notify_waiters();
        Ok(Some(entry_text(key)))
    }

    pub async fn reap(
        &self,
        consumer: &WorkerId,
        count: usize,
    ) -> Result<Vec<Delivery>, QueueError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let lease = self.inner.options.lease;
        let out = {
            let mut s = self.state();
            let now = Instant::now();
            // Pending entries whose stream entry is gone are dropped, as XAUTOCLAIM does.
            let orphans: Vec<EntryKey> = s
                .pending
                .keys()
                .filter(|k| !s.stream.contains_key(k))
                .copied()
                .collect();
            for k in orphans {
                s.pending.remove(&k);
            }
            let expired: Vec<EntryKey> = s
                .pending
                .iter()
                .filter(|(_, p)| now.duration_since(p.since) >= lease)
                .map(|(k, _)| *k)
                .take(count)
                .collect();
            let mut out = Vec::with_capacity(expired.len());
            for key in expired {
                let Some(entry) = s.stream.get(&key).copied() else {
                    continue;
                };
                let Some(p) = s.pending.get_mut(&key) else {
                    continue;
                };
                p.consumer = consumer.as_str().to_owned();
                p.since = now;
                p.count += 1;
                out.push(Delivery {
                    entry_id: entry_text(key),
                    job_id: entry.job,
                    attempt: entry.attempt,
                    delivery_count: p.count,
                    consumer: consumer.clone(),
                });
            }
            out
        };
        self.prune_consumers(consumer).await?;
        Ok(out)
    }

    pub async fn prune_consumers(&self, keep: &WorkerId) -> Result<u64, QueueError> {
        let lease = self.inner.options.lease;
        let mut s = self.state();
        let now = Instant::now();
        let holding: BTreeSet<String> = s.pending.values().map(|p| p.consumer.clone()).collect();
        let before = s.consumers.len();
        s.consumers.retain(|name, seen| {
            name == keep.as_str() || holding.contains(name) || now.duration_since(*seen) <= lease
        });
        Ok((before - s.consumers.len()) as u64)
    }

    pub async fn consumers(&self) -> Result<Vec<(String, u64)>, QueueError> {
        let s = self.state();
        let mut out: Vec<(String, u64)> = s
            .consumers
            .keys()
            .map(|name| {
                let n = s.pending.values().filter(|p| &p.consumer == name).count();
                (name.clone(), n as u64)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    pub async fn retry_later(
        &self,
        delivery: &Delivery,
        next_attempt: Attempt,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let mut s = self.state();
        if let Some(key) = s.owned(delivery) {
            s.pending.remove(&key);
            s.stream.remove(&key);
        }
        schedule(&mut s, delivery.job_id, next_attempt, delay);
        Ok(())
    }

    pub async fn schedule(
        &self,
        job_id: JobId,
        attempt: Attempt,
        delay: Duration,
    ) -> Result<(), QueueError> {
        schedule(&mut self.state(), job_id, attempt, delay);
        Ok(())
    }

    pub async fn promote_due(&self) -> Result<u64, QueueError> {
        let moved = {
            let mut s = self.state();
            let now = Instant::now();
            let due: Vec<(Instant, JobId, Attempt)> = s
                .delayed
                .iter()
                .take_while(|(at, _, _)| *at <= now)
                .copied()
                .collect();
            for member in &due {
                s.delayed.remove(member);
                let (at, job, attempt) = *member;
                let key = next_id(&mut s.last_id);
                s.stream.insert(key, Entry { job, attempt });
                if s.index.get(&job) == Some(&Slot::Delayed(at, attempt)) {
                    s.index.insert(job, Slot::Stream(key));
                }
            }
            due.len() as u64
        };
        if moved > 0 {
            self.inner.arrivals.notify_waiters();
        }
        Ok(moved)
    }

    pub async fn dead_letter(
        &self,
        job_id: JobId,
        attempt: Attempt,
        code: &str,
        reason: &str,
    ) -> Result<String, QueueError> {
        let cap = self.inner.options.dead_letter_cap.max(1);
        let mut s = self.state();
        let key = next_id(&mut s.dead_last_id);
        s.dead.push_back(DeadLetter {
            entry_id: entry_text(key),
            job_id,
            attempt,
            code: code.to_owned(),
            reason: reason.to_owned(),
            at: OffsetDateTime::now_utc(),
        });
        while s.dead.len() > cap {
            s.dead.pop_front();
        }
        s.unschedule(job_id);
        s.index.remove(&job_id);
        Ok(entry_text(key))
    }

    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        Ok(self
            .state()
            .dead
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }

    pub async fn purge_dead(&self) -> Result<u64, QueueError> {
        let mut s = self.state();
        let n = s.dead.len() as u64;
        s.dead.clear();
        Ok(n)
    }

    pub async fn pause(&self) -> Result<(), QueueError> {
        self.state().paused = true;
        Ok(())
    }

    pub async fn resume(&self) -> Result<(), QueueError> {
        self.state().paused = false;
        self.inner.arrivals.notify_waiters();
        Ok(())
    }

    pub async fn is_paused(&self) -> Result<bool, QueueError> {
        Ok(self.state().paused)
    }

    pub async fn request_drain(
        &self,
        worker: &WorkerId,
        mode: DrainMode,
    ) -> Result<(), QueueError> {
        self.state().drains.insert(worker.as_str().to_owned(), mode);
        Ok(())
    }

    pub async fn cancel_drain(&self, worker: &WorkerId) -> Result<bool, QueueError> {
        Ok(self.state().drains.remove(worker.as_str()).is_some())
    }

    pub async fn drain_requested(
        &self,
        worker: &WorkerId,
    ) -> Result<Option<DrainMode>, QueueError> {
        Ok(self.state().drains.get(worker.as_str()).copied())
    }

    pub async fn request_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        let expires = later(self.inner.options.cancel_ttl);
        self.state().cancels.insert(job_id, expires);
        // No subscriber is fine: the flag is what counts.
        let _ = self.inner.cancels.send(job_id);
        Ok(())
    }

    pub async fn cancel_requested(&self, job_id: JobId) -> Result<bool, QueueError> {
        let mut s = self.state();
        let now = Instant::now();
        s.cancels.retain(|_, expires| *expires > now);
        Ok(s.cancels.contains_key(&job_id))
    }

    pub async fn clear_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        self.state().cancels.remove(&job_id);
        Ok(())
    }

    pub async fn subscribe_cancels(&self) -> Result<CancelSubscription, QueueError> {
        Ok(CancelSubscription::new(self.inner.cancels.subscribe()))
    }

    pub async fn publish_progress(&self, progress: &LiveProgress) -> Result<(), QueueError> {
        // No subscriber (no event stream open) is not an error.
        let _ = self.inner.progress.send(progress.clone());
        Ok(())
    }

    pub async fn subscribe_progress(&self) -> Result<ProgressSubscription, QueueError> {
        Ok(ProgressSubscription::new(self.inner.progress.subscribe()))
    }

    pub async fn count_processed(&self) -> Result<(), QueueError> {
        self.count(|c| c.0 += 1);
        Ok(())
    }

    pub async fn count_failed(&self) -> Result<(), QueueError> {
        self.count(|c| c.1 += 1);
        Ok(())
    }

    fn count(&self, bump: impl FnOnce(&mut (u64, u64))) {
        let now = OffsetDateTime::now_utc();
        let ttl =
            time::Duration::try_from(self.inner.options.counter_ttl).unwrap_or(time::Duration::DAY);
        let oldest = minute_key(now - ttl);
        let mut s = self.state();
        // Keys are fixed-width digits, so text order is time order.
        s.counters.retain(|k, _| *k >= oldest);
        bump(s.counters.entry(minute_key(now)).or_default());
    }

    pub async fn throughput(&self, minutes: usize) -> Result<Vec<MinuteCounts>, QueueError> {
        let s = self.state();
        Ok(last_minutes(OffsetDateTime::now_utc(), minutes)
            .into_iter()
            .map(|minute| {
                let (processed, failed) = s
                    .counters
                    .get(&minute_key(minute))
                    .copied()
                    .unwrap_or_default();
                MinuteCounts {
                    minute,
                    processed,
                    failed,
                }
            })
            .collect())
    }

    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<(), QueueError> {
        self.state()
            .instances
            .insert(beat.id.as_str().to_owned(), (beat.clone(), Instant::now()));
        Ok(())
    }

    pub async fn remove_heartbeat(&self, id: &WorkerId) -> Result<(), QueueError> {
        self.state().instances.remove(id.as_str());
        Ok(())
    }

    pub async fn instances(&self) -> Result<Vec<InstanceStatus>, QueueError> {
        let o = &self.inner.options;
        let mut s = self.state();
        let now = Instant::now();
        s.instances
            .retain(|_, (_, at)| now.duration_since(*at) < o.heartbeat_ttl);
        let mut out: Vec<InstanceStatus> = s
            .instances
            .values()
            .map(|(hb, at)| {
                let age = now.duration_since(*at);
                InstanceStatus {
                    heartbeat: hb.clone(),
                    age,
                    stale: age > o.heartbeat_stale_after,
                }
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.age));
        Ok(out)
    }

    pub async fn cache_result(
        &self,
        job_id: JobId,
        json: &str,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        let mut s = self.state();
        let now = Instant::now();
        s.results.retain(|_, (_, expires)| *expires > now);
        s.results.insert(job_id, (json.to_owned(), later(ttl)));
        Ok(())
    }

    pub async fn cached_result(&self, job_id: JobId) -> Result<Option<String>, QueueError> {
        let s = self.state();
        let now = Instant::now();
        Ok(s.results
            .get(&job_id)
            .filter(|(_, expires)| *expires > now)
            .map(|(json, _)| json.clone()))
    }

    pub async fn end_session(&self, session: uuid::Uuid, ttl: Duration) -> Result<(), QueueError> {
        let mut s = self.state();
        let now = Instant::now();
        s.ended_sessions.retain(|_, expires| *expires > now);
        s.ended_sessions.insert(session, later(ttl));
        Ok(())
    }

    pub async fn session_ended(&self, session: uuid::Uuid) -> Result<bool, QueueError> {
        let s = self.state();
        Ok(s.ended_sessions
            .get(&session)
            .is_some_and(|expires| *expires > Instant::now()))
    }

    pub async fn put_ticket(
        &self,
        digest: &[u8; 32],
        payload: &str,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        let mut s = self.state();
        let now = Instant::now();
        s.tickets.retain(|_, (_, expires)| *expires > now);
        s.tickets.insert(*digest, (payload.to_owned(), later(ttl)));
        Ok(())
    }

    pub async fn take_ticket(&self, digest: &[u8; 32]) -> Result<Option<String>, QueueError> {
        let mut s = self.state();
        Ok(s.tickets
            .remove(digest)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(payload, _)| payload))
    }

    pub async fn evict_result(&self, job_id: JobId) -> Result<(), QueueError> {
        self.state().results.remove(&job_id);
        Ok(())
    }

    pub async fn check_rate(
        &self,
        key: &RateKey,
        limit: RateLimit,
    ) -> Result<(RateDecision, Option<RateTicket>), QueueError> {
        Ok(self.inner.rates.check(key, limit))
    }

    pub async fn refund_rate(&self, ticket: &RateTicket) -> Result<(), QueueError> {
        self.inner.rates.refund(ticket);
        Ok(())
    }

    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let s = self.state();
        let mut waiting = s.waiting();
        let oldest = waiting.next().map(|(k, _)| k.0);
        let count = u64::from(oldest.is_some()) + waiting.count() as u64;
        Ok(QueueStats {
            waiting: count,
            in_flight: s.pending.len() as u64,
            delayed: s.delayed.len() as u64,
            dead: s.dead.len() as u64,
            oldest_waiting_age: oldest.map(|ms| Duration::from_millis(now_ms().saturating_sub(ms))),
            paused: s.paused,
            memory_used_bytes: None,
        })
    }
}

/// Puts the job's next attempt in the delayed set, replacing an earlier delayed attempt.
fn schedule(s: &mut State, job: JobId, attempt: Attempt, delay: Duration) {
    s.unschedule(job);
    let due = later(delay);
    s.delayed.insert((due, job, attempt));
    s.index.insert(job, Slot::Delayed(due, attempt));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn absurd_durations_do_not_panic() {
        let b = MemoryBroker::new(QueueOptions {
            cancel_ttl: Duration::MAX,
            max_block: Duration::MAX,
            ..QueueOptions::default()
        });
        let j = JobId::new();
        b.request_cancel(j).await.unwrap();
        assert!(b.cancel_requested(j).await.unwrap());
        b.cache_result(j, "{}", Duration::MAX).await.unwrap();
        assert!(b.cached_result(j).await.unwrap().is_some());
        b.schedule(j, Attempt::new(2), Duration::MAX).await.unwrap();
        assert_eq!(b.promote_due().await.unwrap(), 0);
        b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        let got = b
            .fetch(&WorkerId::generate("h", 1), 1, Duration::MAX)
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
    }
}
