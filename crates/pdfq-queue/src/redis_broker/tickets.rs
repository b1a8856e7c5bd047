//! One-time tickets (an event stream's, for a browser that cannot send a header): stored under
//! the SHA-256 digest of the ticket, never the ticket itself, and taken with GETDEL so that
//! every API instance accepts one and only once.

use std::time::Duration;

use super::{RedisBroker, millis};
use crate::error::QueueError;

impl RedisBroker {
    /// Keeps `payload` under the ticket's `digest` for `ttl`.
    pub async fn put_ticket(
        &self,
        digest: &[u8; 32],
        payload: &str,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "put_ticket",
            redis::cmd("SET")
                .arg(self.inner.keys.ticket(digest))
                .arg(payload)
                .arg("PX")
                .arg(millis(ttl).max(1))
                .query_async::<()>(&mut c),
        )
        .await
    }

    /// The payload of an unexpired, untaken ticket, which is gone from then on.
    pub async fn take_ticket(&self, digest: &[u8; 32]) -> Result<Option<String>, QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "take_ticket",
            redis::cmd("GETDEL")
                .arg(self.inner.keys.ticket(digest))
                .query_async(&mut c),
        )
        .await
    }
}
