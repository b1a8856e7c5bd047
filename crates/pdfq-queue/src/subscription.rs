//! Announcements from one process to others, fed by Redis pub/sub or by the in-process broker:
//! cancelled job ids (to the workers) and live progress (to the API's event streams).

use pdfq_domain::JobId;
use tokio::sync::broadcast;

use crate::types::LiveProgress;

/// Messages of one kind as they are announced.
///
/// Delivery is best effort: messages published while the subscription reconnects (Redis
/// restarted) or while the receiver lags are lost. Every user of one therefore also has a
/// durable source to fall back on (the cancel flag, the job row); the subscription only makes
/// things prompt.
#[derive(Debug)]
pub struct Subscription<T> {
    rx: broadcast::Receiver<T>,
}

/// Cancelled job ids: the worker also checks `cancel_requested` between pages.
pub type CancelSubscription = Subscription<JobId>;

/// Progress of running jobs, as the worker reaches it (the job row has it coalesced in time).
pub type ProgressSubscription = Subscription<LiveProgress>;

impl<T: Clone> Subscription<T> {
    pub(crate) fn new(rx: broadcast::Receiver<T>) -> Self {
        Self { rx }
    }

    /// The next message; `None` once the broker is gone. Skips over messages lost to lag
    /// rather than failing, for the reason above.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            match self.rx.recv().await {
                Ok(message) => return Some(message),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "subscription lagged; the durable source covers it");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
