//! Cooperative cancel across processes: a flag the worker checks between pages, and a pub/sub
//! announcement so it can stop promptly.

use std::time::Duration;

use futures::StreamExt;
use pdfq_domain::JobId;
use tokio::sync::broadcast;

use super::{RedisBroker, millis};
use crate::cancel::CancelSubscription;
use crate::error::QueueError;

/// Cancelled ids buffered per subscriber before the oldest are dropped (the flag remains).
const SUBSCRIPTION_BUFFER: usize = 256;
const RESUBSCRIBE_MAX_DELAY: Duration = Duration::from_secs(30);

impl RedisBroker {
    /// Asks whoever runs `job_id` to stop: sets the flag (expiring after `cancel_ttl`) and
    /// announces it on the cancel channel.
    pub async fn request_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.inner.keys.cancel(job_id))
            .arg("1")
            .arg("PX")
            .arg(millis(self.inner.options.cancel_ttl).max(1))
            .ignore()
            .cmd("PUBLISH")
            .arg(self.inner.keys.cancel_channel())
            .arg(job_id.to_string())
            .ignore();
        self.run("request_cancel", pipe.query_async::<()>(&mut c))
            .await
    }

    pub async fn cancel_requested(&self, job_id: JobId) -> Result<bool, QueueError> {
        let mut c = self.inner.conn.clone();
        let n: i64 = self
            .run(
                "cancel_requested",
                redis::cmd("EXISTS")
                    .arg(self.inner.keys.cancel(job_id))
                    .query_async(&mut c),
            )
            .await?;
        Ok(n > 0)
    }

    /// Removes the flag (an operator retries a cancelled job).
    pub async fn clear_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        let mut c = self.inner.conn.clone();
        self.run(
            "clear_cancel",
            redis::cmd("DEL")
                .arg(self.inner.keys.cancel(job_id))
                .query_async::<()>(&mut c),
        )
        .await
    }

    /// Subscribes to cancel announcements. Returns once the subscription is active (so a cancel
    /// requested afterwards is seen), or `Unavailable` if Redis cannot be reached. A background
    /// task keeps it alive across reconnects until the subscription is dropped.
    pub async fn subscribe_cancels(&self) -> Result<CancelSubscription, QueueError> {
        let channel = self.inner.keys.cancel_channel();
        let pubsub =
            open_pubsub(&self.inner.client, &channel, self.inner.options.op_timeout).await?;
        let (tx, rx) = broadcast::channel(SUBSCRIPTION_BUFFER);
        tokio::spawn(forward_cancels(
            self.inner.client.clone(),
            channel,
            pubsub,
            tx,
            self.inner.options.op_timeout,
        ));
        Ok(CancelSubscription::new(rx))
    }
}

async fn open_pubsub(
    client: &redis::Client,
    channel: &str,
    limit: Duration,
) -> Result<redis::aio::PubSub, QueueError> {
    let open = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    match tokio::time::timeout(limit, open).await {
        Ok(r) => r.map_err(QueueError::from),
        Err(_) => Err(QueueError::Unavailable(format!(
            "subscribe: no answer from Redis within {limit:?}"
        ))),
    }
}

/// Forwards announcements to the subscriber; resubscribes with backoff when the connection
/// drops; ends when the subscriber is dropped.
async fn forward_cancels(
    client: redis::Client,
    channel: String,
    mut pubsub: redis::aio::PubSub,
    tx: broadcast::Sender<JobId>,
    limit: Duration,
) {
    loop {
        {
            let mut messages = pubsub.on_message();
            loop {
                tokio::select! {
                    msg = messages.next() => match msg {
                        Some(msg) => {
                            let job = msg.get_payload::<String>().ok().and_then(|s| s.parse().ok());
                            match job {
                                // No receiver is not an error here: closed() ends the task.
                                Some(job) => { let _ = tx.send(job); }
                                None => tracing::warn!("ignoring malformed cancel message"),
                            }
                        }
                        None => break,
                    },
                    () = tx.closed() => return,
                }
            }
        }
        tracing::warn!("cancel subscription lost; resubscribing");
        let mut delay = Duration::from_millis(500);
        loop {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = tx.closed() => return,
            }
            match open_pubsub(&client, &channel, limit).await {
                Ok(p) => {
                    pubsub = p;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cancel subscription: Redis unavailable, retrying");
                    delay = (delay * 2).min(RESUBSCRIBE_MAX_DELAY);
                }
            }
        }
    }
}
