//! Rate limits as sliding logs: what is counted ([`RateKey`]), and the in-process limiter
//! ([`LocalRateLimiter`]) that the embedded broker uses and the API falls back to when Redis is
//! unreachable (a limiter that fails open is no limiter).
//!
//! Each check that admits an event returns a [`RateTicket`]; giving it back
//! ([`LocalRateLimiter::refund`], `Broker::refund_rate`) uncounts that one event. Callers
//! count first and refund what should not count (a successful login, a file refused before it
//! was stored), so the count is exact under any concurrency.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pdfq_domain::UserId;
use pdfq_domain::limits::RateLimit;

use crate::types::RateDecision;

/// What one sliding log counts. The text is part of a Redis key, so it never holds what a
/// client typed: emails are digested.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateKey(String);

impl RateKey {
    /// Uploads of one user (the key is the user id, as it always was).
    #[must_use]
    pub fn uploads(user: UserId) -> Self {
        Self(user.to_string())
    }

    /// Failed logins for one account from one client address: stops guessing one password
    /// without letting anyone elsewhere lock the owner out.
    #[must_use]
    pub fn login_failures(email: &str, client: IpAddr) -> Self {
        Self(format!(
            "login:{}:{}",
            email_digest(email),
            client_text(client)
        ))
    }

    /// Failed logins from one client address, whatever the account (password spraying).
    #[must_use]
    pub fn login_failures_from(client: IpAddr) -> Self {
        Self(format!("login-from:{}", client_text(client)))
    }

    /// Registrations from one client address.
    #[must_use]
    pub fn registrations_from(client: IpAddr) -> Self {
        Self(format!("register-from:{}", client_text(client)))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// IPv6 clients are counted per /64: one subscriber usually holds a whole /64, so counting
/// single addresses would give an attacker 2^64 fresh budgets.
fn client_text(client: IpAddr) -> String {
    match client {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = ip.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// FNV-1a over the trimmed, lower-cased email: a short, stable, non-reversible-at-a-glance
/// key part. Collisions only merge two accounts' failure counts, which errs on the safe side.
fn email_digest(email: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in email.trim().to_lowercase().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// One admitted event, to be refunded if it should not count after all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTicket {
    pub(crate) key: RateKey,
    pub(crate) member: String,
}

/// Keys kept at most by a [`LocalRateLimiter`]; past this, logs whose events have all left
/// their window are dropped first, then the oldest logs. Bounds memory whatever clients send.
const MAX_LOCAL_KEYS: usize = 100_000;

#[derive(Debug)]
struct Log {
    window: Duration,
    events: VecDeque<(Instant, u64)>,
}

impl Log {
    fn expire(&mut self, now: Instant) {
        // Same window rule as the Redis script: an event exactly `window` old has left it.
        while self
            .events
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= self.window)
        {
            self.events.pop_front();
        }
    }
}

/// The sliding-log limiter in process memory, pruned so it never grows without bound.
#[derive(Debug, Default)]
pub struct LocalRateLimiter {
    logs: Mutex<HashMap<RateKey, Log>>,
    next_member: AtomicU64,
    checks: AtomicU64,
}

impl LocalRateLimiter {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one event under `key` if `limit` allows it.
    pub fn check(&self, key: &RateKey, limit: RateLimit) -> (RateDecision, Option<RateTicket>) {
        let now = Instant::now();
        let member = self.next_member.fetch_add(1, Ordering::Relaxed);
        let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(1024)
            || logs.len() >= MAX_LOCAL_KEYS
        {
            prune(&mut logs, now);
        }
        let log = logs.entry(key.clone()).or_insert_with(|| Log {
            window: limit.window,
            events: VecDeque::new(),
        });
        log.window = limit.window;
        log.expire(now);
        let max = usize::try_from(limit.max).unwrap_or(usize::MAX);
        let allowed = log.events.len() < max;
        if allowed {
            log.events.push_back((now, member));
        }
        let decision = RateDecision {
            allowed,
            limit: limit.max,
            remaining: u32::try_from(max.saturating_sub(log.events.len())).unwrap_or(0),
            reset_after: log.events.front().map_or(Duration::ZERO, |(t, _)| {
                limit.window.saturating_sub(now.duration_since(*t))
            }),
        };
        let ticket = allowed.then(|| RateTicket {
            key: key.clone(),
            member: member.to_string(),
        });
        (decision, ticket)
    }

    /// Uncounts the event `ticket` stands for (nothing if it has left its window already).
    pub fn refund(&self, ticket: &RateTicket) {
        let Ok(member) = ticket.member.parse::<u64>() else {
            return;
        };
        let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(log) = logs.get_mut(&ticket.key) {
            log.events.retain(|(_, m)| *m != member);
            if log.events.is_empty() {
                logs.remove(&ticket.key);
            }
        }
    }

    /// How many keys are held (tests).
    #[must_use]
    pub fn len(&self) -> usize {
        self.logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every log whose events have all expired (tests call it to see pruning work).
    pub fn prune(&self) {
        let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        prune(&mut logs, Instant::now());
    }
}

fn prune(logs: &mut HashMap<RateKey, Log>, now: Instant) {
    logs.retain(|_, log| {
        log.expire(now);
        !log.events.is_empty()
    });
    if logs.len() >= MAX_LOCAL_KEYS {
        // Still full of live logs: drop the half whose newest event is oldest. Forgetting
        // counts is the lesser harm next to unbounded memory.
        let mut newest: Vec<(Instant, RateKey)> = logs
            .iter()
            .filter_map(|(k, log)| log.events.back().map(|(t, _)| (*t, k.clone())))
            .collect();
        newest.sort_unstable_by_key(|(t, _)| *t);
        for (_, key) in newest.into_iter().take(MAX_LOCAL_KEYS / 2) {
            logs.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn limit(max: u32, ms: u64) -> RateLimit {
        RateLimit {
            max,
            window: Duration::from_millis(ms),
        }
    }

    #[test]
    fn a_refund_gives_the_slot_back() {
        let l = LocalRateLimiter::new();
        let key = RateKey::registrations_from(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let (first, ticket) = l.check(&key, limit(1, 60_000));
        assert!(first.allowed);
        assert!(!l.check(&key, limit(1, 60_000)).0.allowed);
        l.refund(&ticket.unwrap());
        assert!(l.check(&key, limit(1, 60_000)).0.allowed);
    }

    #[test]
    fn expired_logs_are_pruned() {
        let l = LocalRateLimiter::new();
        for i in 0..100u8 {
            let key = RateKey::login_failures_from(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)));
            l.check(&key, limit(5, 10));
        }
        assert_eq!(l.len(), 100);
        std::thread::sleep(Duration::from_millis(20));
        l.prune();
        assert!(l.is_empty(), "{} logs left", l.len());
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        let k = |ip| RateKey::login_failures_from(IpAddr::V6(ip));
        assert_eq!(k(a), k(b));
        assert_ne!(k(a), k(c));
        let mapped: Ipv6Addr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            k(mapped),
            RateKey::login_failures_from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
        );
    }

    #[test]
    fn login_keys_ignore_case_and_never_hold_the_email() {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(
            RateKey::login_failures(" A@b.c", ip),
            RateKey::login_failures("a@B.c ", ip)
        );
        assert_ne!(
            RateKey::login_failures("a@b.c", ip),
            RateKey::login_failures("b@b.c", ip)
        );
        assert!(!RateKey::login_failures("a@b.c", ip).as_str().contains('@'));
    }
}
