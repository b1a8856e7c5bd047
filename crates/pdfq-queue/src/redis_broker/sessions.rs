//! Ended sessions: the ids (`sid` claims) of logins that were logged out or revoked, kept as
//! long as an access token of theirs can live, so those tokens stop working at once.

use std::time::Duration;

use uuid::Uuid;

use super::{RedisBroker, millis};
use crate::error::QueueError;

impl RedisBroker {
    /// Marks `session` ended for `ttl`.
    pub async fn end_session(&self, session: Uuid, ttl: Duration) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "end_session",
            redis::cmd("SET")
                .arg(self.inner.keys.ended_session(session))
                .arg(1)
                .arg("PX")
                .arg(millis(ttl).max(1))
                .query_async::<()>(&mut c),
        )
        .await
    }

    /// Whether `session` was ended.
    pub async fn session_ended(&self, session: Uuid) -> Result<bool, QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "session_ended",
            redis::cmd("EXISTS")
                .arg(self.inner.keys.ended_session(session))
                .query_async(&mut c),
        )
        .await
    }
}
