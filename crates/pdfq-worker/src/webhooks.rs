//! Webhook deliveries: a task beside the job runner takes due deliveries from the store's
//! outbox, sends each as a signed POST (at most `concurrency` at once, each bounded by
//! `timeout`), and records the outcome with the next attempt's time. It shares nothing with
//! the jobs but the database pool, so a slow or failing endpoint never slows a job.
//!
//! The signature is Stripe's scheme: `Pdfq-Signature: t=<unix seconds>,v1=<hex of
//! HMAC-SHA256(secret, "<t>.<body>")>`.
//!
//! Addresses are checked at each attempt ([`GuardedResolver`]): a host that resolves to an
//! internal address is refused unless `allow_private`, whatever it resolved to at registration.
//! Redirects are not followed and proxies from the environment are not used, so the request
//! goes where the check looked.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use pdfq_domain::webhook;
use pdfq_store::{AttemptOutcome, DueDelivery, NextStep, Store};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How often settled deliveries past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Most of an answer's body read (then dropped): a receiver cannot make the worker read more.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How deliveries are sent and retried.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Whether URLs that resolve to loopback, private or link-local addresses may be called.
    pub allow_private: bool,
    /// One attempt's limit, connecting and reading the answer included.
    pub timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How often the outbox is read when the last read found less than a full batch.
    pub poll_every: Duration,
    pub backoff: Backoff,
    /// Delivered and failed deliveries are deleted this long after they settled.
    pub retention: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout: Duration::from_secs(10),
            concurrency: 8,
            poll_every: Duration::from_secs(1),
            backoff: Backoff::default(),
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl WebhookSettings {
    /// A delivery taken by a worker that then died is due again after this: well past an
    /// attempt's time limit, so a live worker's attempt is never sent twice at once.
    #[must_use]
    pub fn lease(&self) -> Duration {
        self.timeout * 3 + Duration::from_secs(30)
    }
}

/// Exponential backoff with jitter: attempt `n` failed, the next comes after about
/// `first * 2^(n-1)` (at most `max`), until `give_up_after` since the delivery was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub give_up_after: Duration,
}

impl Default for Backoff {
    /// 10 s, 20 s, 40 s... up to an hour between attempts, for a day: about 30 attempts.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(10),
            max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl Backoff {
    /// The delay after failed attempt `attempt` (1 for the first), before jitter.
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }

    /// What follows failed attempt `attempt` of a delivery written at `created_at`: the next
    /// attempt between half and all of [`Self::delay`] from now (jitter spreads the retries of
    /// many deliveries to one endpoint that came back), or none past the window.
    #[must_use]
    pub fn after_failure(
        &self,
        attempt: u32,
        created_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> NextStep {
        let full = self.delay(attempt);
        let jitter = full.mul_f64(random_fraction() / 2.0);
        let delay = full.saturating_sub(jitter);
        let window = time::Duration::try_from(self.give_up_after).unwrap_or(time::Duration::MAX);
        let next = time::Duration::try_from(delay).unwrap_or(time::Duration::MAX);
        if now.saturating_add(next) > created_at.saturating_add(window) {
            NextStep::GiveUp
        } else {
            NextStep::RetryIn(delay)
        }
    }
}

/// A number in [0, 1) from the OS's generator (through uuid's v4).
fn random_fraction() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() >> 75; // 53 random bits
    #[allow(clippy::cast_precision_loss, reason = "53 bits fit an f64 exactly")]
    let fraction = bits as f64 / (1u64 << 53) as f64;
    fraction
}

/// The `Pdfq-Signature` header of `body` sent at `t` (unix seconds).
#[must_use]
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// Sends the outbox's due deliveries.
#[derive(Debug, Clone)]
pub struct Deliverer {
    store: Store,
    settings: Arc<WebhookSettings>,
    client: reqwest::Client,
}

impl Deliverer {
    pub fn new(store: Store, settings: WebhookSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private,
            }))
            .user_agent(concat!("pdfq-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            settings: Arc::new(settings),
            client,
        })
    }

    /// Runs forever: reads the outbox whenever a slot is free, sleeping `poll_every` when it
    /// had less than a full batch. Aborting it loses nothing: an attempt cut short is due
    /// again when its lease ends.
    pub async fn run(self) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut sending = JoinSet::new();
        let mut prune_due = tokio::time::Instant::now();
        loop {
            while sending.try_join_next().is_some() {}
            if tokio::time::Instant::now() >= prune_due {
                // Every worker prunes; the deletes are idempotent and cheap.
                match self
                    .store
                    .prune_webhook_deliveries(self.settings.retention)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "old webhook deliveries pruned"),
                    Err(e) => tracing::warn!(error = %e, "webhook deliveries not pruned"),
                }
                prune_due = tokio::time::Instant::now() + PRUNE_EVERY;
            }
            let free = slots.available_permits();
            let mut full = false;
            if free > 0 {
                let limit = u32::try_from(free).unwrap_or(u32::MAX);
                match self
                    .store
                    .claim_webhook_deliveries(limit, self.settings.lease())
                    .await
                {
                    Ok(due) => {
                        full = due.len() == free;
                        for delivery in due {
                            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                                return;
                            };
                            let this = self.clone();
                            sending.spawn(async move {
                                this.deliver(&delivery).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "webhook outbox unreadable"),
                }
            }
            if !full {
                tokio::select! {
                    () = tokio::time::sleep(self.settings.poll_every) => {}
                    Some(_) = sending.join_next(), if !sending.is_empty() => {}
                }
            }
        }
    }

    /// Sends every due delivery once and waits for them; how many were sent. Tests drive the
    /// deliveries with this.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let limit = u32::try_from(self.settings.concurrency.max(1)).unwrap_or(u32::MAX);
        let due = self
            .store
            .claim_webhook_deliveries(limit, self.settings.lease())
            .await?;
        futures::future::join_all(due.iter().map(|d| self.deliver(d))).await;
        Ok(due.len())
    }

    /// One attempt, recorded.
    async fn deliver(&self, delivery: &DueDelivery) {
        let started = tokio::time::Instant::now();
        let sent = self.send(delivery).await;
        let duration = started.elapsed();
        let (status_code, error) = match sent {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("answered {status}"))),
            Err(e) => (None, Some(e)),
        };
        let next = if error.is_none() {
            NextStep::Delivered
        } else {
            self.settings.backoff.after_failure(
                delivery.attempt,
                delivery.created_at,
                OffsetDateTime::now_utc(),
            )
        };
        tracing::debug!(delivery = %delivery.id, attempt = delivery.attempt, ?status_code, ?error, ?next, "webhook attempt");
        if next == NextStep::GiveUp {
            tracing::warn!(delivery = %delivery.id, webhook = %delivery.webhook_id, attempts = delivery.attempt, "webhook delivery given up");
        }
        let outcome = AttemptOutcome {
            status_code,
            error,
            duration,
            next,
        };
        if let Err(e) = self
            .store
            .record_webhook_attempt(delivery.id, delivery.attempt, &outcome)
            .await
        {
            // The lease makes it due again: it will be sent again (at least once).
            tracing::warn!(delivery = %delivery.id, error = %e, "webhook attempt not recorded");
        }
    }

    /// The POST; the answer's status, or why none came.
    async fn send(&self, delivery: &DueDelivery) -> Result<u16, String> {
        let url = webhook::parse_url(&delivery.url).map_err(|e| e.to_string())?;
        // The resolver sees host names only: an address in the URL is checked here.
        if !self.settings.allow_private {
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = literal {
                webhook::check_addresses(&ip.to_string(), [ip]).map_err(|e| e.to_string())?;
            }
        }
        let t = OffsetDateTime::now_utc().unix_timestamp();
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                "Pdfq-Signature",
                signature(&delivery.secret, t, &delivery.payload),
            )
            .header("Pdfq-Delivery", delivery.id.to_string())
            .header("Pdfq-Event", &delivery.event)
            .header("Pdfq-Attempt", delivery.attempt.to_string())
            .body(delivery.payload.clone());
        let mut answer = request.send().await.map_err(|e| describe(&e))?;
        let status = answer.status().as_u16();
        // Read a little of the body so the connection can be reused; never all of it.
        let mut read = 0;
        while read < MAX_ANSWER_BYTES {
            match answer.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(status)
    }
}

/// An error with its causes: reqwest's own text rarely says what went wrong.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Resolves with the system's resolver and refuses internal addresses unless allowed: the
/// check is on the addresses the connection then uses, so a DNS answer that changes between a
/// check and the connection (rebinding) cannot slip through.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                webhook::check_addresses(&host, addrs.iter().map(SocketAddr::ip))?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap_then_gives_up() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(1), Duration::from_secs(10));
        assert_eq!(backoff.delay(2), Duration::from_secs(20));
        assert_eq!(backoff.delay(5), Duration::from_secs(160));
        assert_eq!(backoff.delay(20), Duration::from_secs(3600));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(3600));
        let created = OffsetDateTime::now_utc();
        for attempt in 1..10 {
            match backoff.after_failure(attempt, created, created) {
                NextStep::RetryIn(delay) => {
                    let full = backoff.delay(attempt);
                    assert!(delay <= full && delay >= full / 2, "{delay:?} of {full:?}");
                }
                other => panic!("{other:?}"),
            }
        }
        let a_day_later = created + time::Duration::hours(24);
        assert_eq!(
            backoff.after_failure(30, created, a_day_later),
            NextStep::GiveUp
        );
    }

    #[test]
    fn the_signature_is_stripes_scheme() {
        // HMAC-SHA256("whsec_test", "1700000000.{}") computed independently (openssl dgst).
        assert_eq!(
            signature("whsec_test", 1_700_000_000, "{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }
}
