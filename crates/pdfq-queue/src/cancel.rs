//! The worker's end of cooperative cancel: a receiver of cancelled job ids, fed by Redis pub/sub
//! or by the in-process broker.

use pdfq_domain::JobId;
use tokio::sync::broadcast;

/// Cancelled job ids as they are announced.
///
/// Delivery is best effort: messages published while the subscription reconnects (Redis
/// restarted) or while the receiver lags are lost. The worker therefore also checks
/// `cancel_requested` between pages; the subscription only makes cancel prompt.
#[derive(Debug)]
pub struct CancelSubscription {
    rx: broadcast::Receiver<JobId>,
}

impl CancelSubscription {
    pub(crate) fn new(rx: broadcast::Receiver<JobId>) -> Self {
        Self { rx }
    }

    /// The next cancelled job id; `None` once the broker is gone. Skips over messages lost to
    /// lag rather than failing, for the reason above.
    pub async fn recv(&mut self) -> Option<JobId> {
        loop {
            match self.rx.recv().await {
                Ok(job) => return Some(job),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "cancel subscription lagged; relying on flag checks");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
