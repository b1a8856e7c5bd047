//! Request limits beyond the router's: rate limits that survive a Redis outage, and the bounds
//! on what a user holds at once (uploads being received, open event streams).
//!
//! [`Limiter`] counts on the broker (Redis, shared by every API instance) and falls back to a
//! [`LocalRateLimiter`] in this process when the broker is unreachable: per-instance counts are
//! looser than shared ones, but a limiter that fails open would let an attacker who can slow
//! Redis guess passwords unthrottled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pdfq_domain::UserId;
use pdfq_domain::limits::RateLimit;
use pdfq_queue::{Broker, LocalRateLimiter, RateDecision, RateKey, RateTicket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// How often the fallback is mentioned in the log while Redis stays unreachable.
const FALLBACK_WARN_EVERY: Duration = Duration::from_secs(30);

/// Rate limits on the broker, with a local fallback.
#[derive(Debug)]
pub struct Limiter {
    broker: Broker,
    local: LocalRateLimiter,
    last_warned: Mutex<Option<Instant>>,
}

/// An event that was counted; [`Limiter::refund`] uncounts it.
#[derive(Debug)]
pub struct Admission {
    pub decision: RateDecision,
    ticket: Option<Ticket>,
}

#[derive(Debug)]
enum Ticket {
    Shared(RateTicket),
    Local(RateTicket),
}

impl Limiter {
    #[must_use]
    pub fn new(broker: Broker) -> Self {
        Self {
            broker,
            local: LocalRateLimiter::new(),
            last_warned: Mutex::new(None),
        }
    }

    /// Counts one event under `key`, or refuses it with 429 `rate_limited` when `limit` is
    /// reached.
    pub async fn admit(&self, key: &RateKey, limit: RateLimit) -> Result<Admission, ApiError> {
        let (decision, ticket) = match self.broker.check_rate(key, limit).await {
            Ok((decision, ticket)) => (decision, ticket.map(Ticket::Shared)),
            Err(e) => {
                self.warn_fallback(&e);
                let (decision, ticket) = self.local.check(key, limit);
                (decision, ticket.map(Ticket::Local))
            }
        };
        if !decision.allowed {
            return Err(ApiError::RateLimited {
                limit: decision.limit,
                retry_after: decision.reset_after,
            });
        }
        Ok(Admission { decision, ticket })
    }

    /// Uncounts an admitted event (best effort: a refund lost to a Redis outage only leaves
    /// the count one higher until the window passes).
    pub async fn refund(&self, admission: Admission) {
        match admission.ticket {
            Some(Ticket::Shared(ticket)) => {
                if let Err(e) = self.broker.refund_rate(&ticket).await {
                    tracing::debug!(error = %e, "rate refund not recorded");
                }
            }
            Some(Ticket::Local(ticket)) => self.local.refund(&ticket),
            None => {}
        }
    }

    fn warn_fallback(&self, e: &pdfq_queue::QueueError) {
        let mut last = self
            .last_warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|t| t.elapsed() >= FALLBACK_WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(error = %e, "rate limits counted in this process: the broker is unreachable");
        }
    }
}

/// How many of something each user holds at once (uploads being received, open event
/// streams), up to a maximum per user. Entries leave the map when their count falls to zero.
#[derive(Debug)]
pub struct PerUser {
    max: usize,
    counts: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One held slot of a [`PerUser`]; dropping it gives the slot back.
#[derive(Debug)]
pub struct PerUserSlot {
    user: UserId,
    counts: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl PerUser {
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    #[must_use]
    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for `user`, or `None` when they hold the maximum already.
    #[must_use]
    pub fn try_acquire(&self, user: UserId) -> Option<PerUserSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let held = counts.entry(user).or_insert(0);
        if *held >= self.max {
            return None;
        }
        *held += 1;
        Some(PerUserSlot {
            user,
            counts: Arc::clone(&self.counts),
        })
    }

    #[cfg(test)]
    fn held(&self, user: UserId) -> Option<usize> {
        self.counts.lock().unwrap().get(&user).copied()
    }
}

impl Drop for PerUserSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// The bound on uploads being received at once: by this process, and by one user.
#[derive(Debug)]
pub struct UploadSlots {
    global: Arc<Semaphore>,
    per_user: PerUser,
}

/// An upload being received; dropping it frees the slot.
#[derive(Debug)]
pub struct UploadSlot {
    _global: OwnedSemaphorePermit,
    _user: PerUserSlot,
}

/// How long a client refused for lack of a slot is told to wait: an upload takes seconds.
pub const UPLOAD_RETRY_AFTER: Duration = Duration::from_secs(5);

impl UploadSlots {
    #[must_use]
    pub fn new(global: usize, per_user: usize) -> Self {
        Self {
            global: Arc::new(Semaphore::new(global.max(1))),
            per_user: PerUser::new(per_user),
        }
    }

    /// A slot for `user`, or 429 `too_many_uploads` (this user's limit) or 503 `busy` (the
    /// process's), both with Retry-After.
    pub fn acquire(&self, user: UserId) -> Result<UploadSlot, ApiError> {
        let mine = self
            .per_user
            .try_acquire(user)
            .ok_or(ApiError::TooManyUploads {
                max: self.per_user.max(),
            })?;
        let permit = Arc::clone(&self.global)
            .try_acquire_owned()
            .map_err(|_| ApiError::Busy {
                retry_after: UPLOAD_RETRY_AFTER,
            })?;
        Ok(UploadSlot {
            _global: permit,
            _user: mine,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_slots_bound_each_user_and_the_process() {
        let slots = UploadSlots::new(3, 2);
        let (a, b) = (UserId::new(), UserId::new());
        let a1 = slots.acquire(a).unwrap();
        let _a2 = slots.acquire(a).unwrap();
        assert_eq!(slots.acquire(a).unwrap_err().code(), "too_many_uploads");
        let _b1 = slots.acquire(b).unwrap();
        // Three in flight: the process is full, whoever asks.
        assert_eq!(slots.acquire(UserId::new()).unwrap_err().code(), "busy");
        drop(a1);
        let _a3 = slots.acquire(a).unwrap();
        assert_eq!(slots.per_user.held(a), Some(2));
    }

    #[test]
    fn freed_slots_leave_no_entry_behind() {
        let slots = UploadSlots::new(8, 2);
        for _ in 0..100 {
            drop(slots.acquire(UserId::new()).unwrap());
        }
        assert!(slots.per_user.counts.lock().unwrap().is_empty());
    }
}
