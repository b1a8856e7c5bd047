//! Live progress for this process's event streams: one broker subscription, shared by every
//! open stream, started when the first stream opens and ended when none has been open for a
//! while (so an idle API holds no pub/sub connection).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pdfq_queue::{Broker, LiveProgress};
use tokio::sync::broadcast;

/// Announcements held per stream before the oldest are skipped (the stream then reads the job
/// row, which has the latest state anyway).
const BUFFER: usize = 1024;
/// How often an idle forwarder looks whether any stream is still open.
const IDLE_CHECK: Duration = Duration::from_secs(30);
const RESUBSCRIBE_MAX_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct LiveHub {
    broker: Broker,
    tx: broadcast::Sender<LiveProgress>,
    forwarding: Arc<AtomicBool>,
}

impl LiveHub {
    #[must_use]
    pub fn new(broker: Broker) -> Self {
        Self {
            broker,
            tx: broadcast::channel(BUFFER).0,
            forwarding: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Every job's live progress from now on; the caller keeps its own job's.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveProgress> {
        let rx = self.tx.subscribe();
        if !self.forwarding.swap(true, Ordering::SeqCst) {
            tokio::spawn(forward(
                self.broker.clone(),
                self.tx.clone(),
                self.forwarding.clone(),
            ));
        }
        rx
    }
}

/// Forwards the broker's announcements until no stream is left to read them. Redis being
/// unreachable only delays it: streams read the job row meanwhile.
async fn forward(broker: Broker, tx: broadcast::Sender<LiveProgress>, forwarding: Arc<AtomicBool>) {
    let mut delay = Duration::from_millis(500);
    let mut subscription = None;
    loop {
        let idle = tokio::time::sleep(IDLE_CHECK);
        tokio::pin!(idle);
        match subscription.as_mut() {
            None => match broker.subscribe_progress().await {
                Ok(s) => {
                    subscription = Some(s);
                    delay = Duration::from_millis(500);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "live progress unavailable; streams read the jobs");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RESUBSCRIBE_MAX_DELAY);
                }
            },
            Some(s) => tokio::select! {
                message = s.recv() => match message {
                    // No stream left to read it is checked below, not here.
                    Some(progress) => { let _ = tx.send(progress); }
                    None => subscription = None,
                },
                () = &mut idle => {}
            },
        }
        if tx.receiver_count() == 0 {
            forwarding.store(false, Ordering::SeqCst);
            // A stream that subscribed between the count and the store would find nobody
            // forwarding: take the job back rather than leave it without live progress.
            if tx.receiver_count() == 0 || forwarding.swap(true, Ordering::SeqCst) {
                return;
            }
        }
    }
}
