//! One Redis pub/sub channel forwarded to in-process subscribers, kept alive across reconnects.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast;

use super::RedisBroker;
use crate::error::QueueError;
use crate::subscription::Subscription;

/// Messages buffered per subscriber before the oldest are dropped (each user of a subscription
/// has a durable source to fall back on).
const SUBSCRIPTION_BUFFER: usize = 1024;
const RESUBSCRIBE_MAX_DELAY: Duration = Duration::from_secs(30);

impl RedisBroker {
    /// Subscribes to `channel`, each message read by `parse` (malformed ones are logged and
    /// skipped). Returns once the subscription is active (so a message published afterwards
    /// is seen), or `Unavailable` if Redis cannot be reached. A background task keeps it alive
    /// across reconnects until the subscription is dropped.
    pub(super) async fn subscribe_channel<T: Clone + Send + 'static>(
        &self,
        channel: String,
        parse: fn(&str) -> Option<T>,
    ) -> Result<Subscription<T>, QueueError> {
        let limit = self.inner.options.op_timeout;
        let pubsub = open_pubsub(&self.inner.client, &channel, limit).await?;
        let (tx, rx) = broadcast::channel(SUBSCRIPTION_BUFFER);
        let channel = Channel {
            client: self.inner.client.clone(),
            name: channel,
            parse,
            limit,
        };
        tokio::spawn(channel.forward(pubsub, tx));
        Ok(Subscription::new(rx))
    }
}

struct Channel<T> {
    client: redis::Client,
    name: String,
    parse: fn(&str) -> Option<T>,
    limit: Duration,
}

impl<T: Clone> Channel<T> {
    /// Forwards messages to the subscriber; resubscribes with backoff when the connection
    /// drops; ends when the subscriber is dropped.
    async fn forward(self, mut pubsub: redis::aio::PubSub, tx: broadcast::Sender<T>) {
        loop {
            {
                let mut messages = pubsub.on_message();
                loop {
                    tokio::select! {
                        msg = messages.next() => match msg {
                            Some(msg) => {
                                let parsed = msg.get_payload::<String>().ok().and_then(|s| (self.parse)(&s));
                                match parsed {
                                    // No receiver is not an error here: closed() ends the task.
                                    Some(message) => { let _ = tx.send(message); }
                                    None => tracing::warn!(channel = %self.name, "ignoring a malformed message"),
                                }
                            }
                            None => break,
                        },
                        () = tx.closed() => return,
                    }
                }
            }
            tracing::warn!(channel = %self.name, "subscription lost; resubscribing");
            let mut delay = Duration::from_millis(500);
            loop {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = tx.closed() => return,
                }
                match open_pubsub(&self.client, &self.name, self.limit).await {
                    Ok(p) => {
                        pubsub = p;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(channel = %self.name, error = %e, "subscription: Redis unavailable, retrying");
                        delay = (delay * 2).min(RESUBSCRIBE_MAX_DELAY);
                    }
                }
            }
        }
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
