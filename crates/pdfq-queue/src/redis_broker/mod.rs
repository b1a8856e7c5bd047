//! The Redis broker: the job stream and everything around it, one file per concern.
//!
//! Every call is bounded by [`QueueOptions::op_timeout`] and maps failures to [`QueueError`], so
//! a Redis outage shows up as `QueueError::Unavailable` quickly instead of a hang or a panic.
//! The connections reconnect by themselves (redis's `ConnectionManager`).

mod cache;
mod cancel;
mod dashboard;
mod dead;
mod delayed;
mod drain;
mod heartbeat;
mod pause;
mod progress;
mod pubsub;
mod rate;
mod sessions;
mod stats;
mod stream;
mod tickets;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisConfig;
use crate::error::QueueError;
use crate::keys::Keys;
use crate::options::QueueOptions;
use crate::types::Ping;

/// The queue on Redis Streams. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct RedisBroker {
    inner: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    /// Short commands; multiplexed, so concurrent callers share one socket.
    conn: ConnectionManager,
    /// Blocking reads only: Redis answers a connection's commands in order, so a blocking
    /// XREADGROUP on the shared socket would hold up every renew and heartbeat behind it.
    blocking: ConnectionManager,
    keys: Keys,
    options: QueueOptions,
}

impl fmt::Debug for RedisBroker {
    // The client's connection info may include the password; show only what is safe.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBroker")
            .field("keys", &self.inner.keys)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// A broker for the configured Redis. Does not wait for Redis: the connection is made on
    /// first use, so a worker can start (and say so in its heartbeat) while Redis is down.
    /// Fails only on an unusable URL. Must be called inside a Tokio runtime.
    pub async fn connect(config: &RedisConfig, options: QueueOptions) -> Result<Self, QueueError> {
        let url = config.url().map_err(QueueError::Config)?;
        Self::connect_url(url.expose(), &config.redis_key_prefix, options).await
    }

    /// [`RedisBroker::connect`] from a URL and key prefix (tests, tools).
    pub async fn connect_url(
        url: &str,
        prefix: &str,
        options: QueueOptions,
    ) -> Result<Self, QueueError> {
        if url.starts_with("rediss:") {
            // Err means a provider is installed already, which is just as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = redis::Client::open(url).map_err(|e| {
            QueueError::Config(format!("{}: {e}", pdfq_domain::secret::redact_url(url)))
        })?;
        // One connection attempt per call: the caller's own retry loop (with its backoff) is
        // the place to wait, not a call that should answer within op_timeout.
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(options.op_timeout))
            .set_response_timeout(Some(options.op_timeout.saturating_add(options.max_block)));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone())?;
        let blocking = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
        Ok(Self {
            inner: Arc::new(Shared {
                client,
                conn,
                blocking,
                keys: Keys::new(prefix),
                options,
            }),
        })
    }

    #[must_use]
    pub fn options(&self) -> &QueueOptions {
        &self.inner.options
    }

    /// PING with its round-trip time, for the health check.
    pub async fn ping(&self) -> Result<Ping, QueueError> {
        let start = Instant::now();
        let mut c = self.inner.conn.clone();
        let _: String = self
            .run("ping", redis::cmd("PING").query_async(&mut c))
            .await?;
        Ok(Ping {
            latency: start.elapsed(),
        })
    }

    /// Awaits a Redis call within `op_timeout`; a timeout counts as Redis being unavailable.
    async fn run<T>(
        &self,
        what: &str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, QueueError> {
        self.run_within(what, self.inner.options.op_timeout, call)
            .await
    }

    async fn run_within<T>(
        &self,
        what: &str,
        limit: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, QueueError> {
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result.map_err(|e| {
                let e = QueueError::from(e);
                tracing::debug!(what, error = %e, "redis call failed");
                e
            }),
            Err(_) => Err(QueueError::Unavailable(format!(
                "{what}: no answer from Redis within {limit:?}"
            ))),
        }
    }
}

/// Milliseconds in a duration, for Redis arguments. Capped at a century ("never" for a queue),
/// like the in-process broker, so absurd settings neither overflow Redis's expiry arithmetic
/// nor lose precision in Lua's doubles (which would make a far-future retry due at once).
fn millis(d: Duration) -> u64 {
    const CENTURY_MS: u64 = 100 * 365 * 86_400 * 1000;
    u64::try_from(d.as_millis()).map_or(CENTURY_MS, |ms| ms.min(CENTURY_MS))
}
