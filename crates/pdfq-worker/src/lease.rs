//! A running job's control: why it should stop, and the task that keeps its lease.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pdfq_domain::{Attempt, JobId, JobStatus, WorkerId};
use pdfq_queue::{Broker, Delivery};
use pdfq_store::{Commit, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why a running job is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Its owner or an operator cancelled it.
    Cancelled,
    /// It ran past the soft time limit.
    SoftTimeLimit,
    /// The worker is shutting down and the drain budget is spent: hand the job back.
    Shutdown,
    /// Another worker has the job now (our lease expired, or the attempt moved on).
    LeaseLost,
}

/// The stop signal of one running job: the first reason wins.
#[derive(Debug, Clone)]
pub struct JobControl {
    reason: watch::Sender<Option<StopReason>>,
    /// The same signal for the blocking extraction thread, which cannot await.
    flag: Arc<AtomicBool>,
}

impl Default for JobControl {
    fn default() -> Self {
        Self::new()
    }
}

impl JobControl {
    #[must_use]
    pub fn new() -> Self {
        Self {
            reason: watch::channel(None).0,
            flag: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn stop(&self, why: StopReason) {
        self.reason.send_if_modified(|reason| {
            if reason.is_some() {
                return false;
            }
            *reason = Some(why);
            true
        });
        self.flag.store(true, Ordering::Relaxed);
    }

    #[must_use]
    pub fn reason(&self) -> Option<StopReason> {
        *self.reason.borrow()
    }

    #[must_use]
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// Resolves when the job is asked to stop, with the reason.
    pub async fn stopped(&self) -> StopReason {
        let mut rx = self.reason.subscribe();
        loop {
            if let Some(reason) = *rx.borrow_and_update() {
                return reason;
            }
            if rx.changed().await.is_err() {
                // The sender lives in self, so this cannot happen while we hold it.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The jobs this process runs now, so cancels and shutdown can reach them.
#[derive(Debug, Clone, Default)]
pub struct Running(Arc<Mutex<HashMap<JobId, JobControl>>>);

impl Running {
    pub fn insert(&self, job: JobId, control: JobControl) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(job, control);
        }
    }

    pub fn remove(&self, job: JobId) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&job);
        }
    }

    /// Stops `job` if it runs here; true when it did.
    pub fn stop(&self, job: JobId, why: StopReason) -> bool {
        let control = self.0.lock().ok().and_then(|map| map.get(&job).cloned());
        control.map(|c| c.stop(why)).is_some()
    }

    pub fn stop_all(&self, why: StopReason) {
        let controls: Vec<JobControl> = self
            .0
            .lock()
            .map(|map| map.values().cloned().collect())
            .unwrap_or_default();
        for control in controls {
            control.stop(why);
        }
    }

    #[must_use]
    pub fn jobs(&self) -> Vec<JobId> {
        self.0
            .lock()
            .map(|map| map.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// Renews the job's queue lease and database heartbeat every `renew_every` until aborted, and
/// stops the job when either says another worker has it, or when it was cancelled.
pub fn spawn_lease_keeper(
    store: Store,
    broker: Broker,
    worker: WorkerId,
    delivery: Delivery,
    attempt: Attempt,
    control: JobControl,
) -> JoinHandle<()> {
    let every = broker.options().renew_every;
    tokio::spawn(async move {
        let job = delivery.job_id;
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await; // the first tick is immediate; the claim just wrote a heartbeat
        loop {
            ticker.tick().await;
            match broker.renew(&delivery).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(%job, "lease lost: another worker has the queue entry");
                    control.stop(StopReason::LeaseLost);
                }
                // Transient: if it lasts past the lease, the entry is reaped and renew says so.
                Err(e) => tracing::warn!(%job, error = %e, "lease renewal failed"),
            }
            match store.heartbeat(job, attempt, &worker).await {
                Ok(Commit::Stale {
                    status: Some(JobStatus::Cancelled),
                    ..
                }) => control.stop(StopReason::Cancelled),
                Ok(Commit::Stale { .. }) => control.stop(StopReason::LeaseLost),
                Ok(_) => {}
                Err(e) => tracing::warn!(%job, error = %e, "heartbeat failed"),
            }
            if let Ok(true) = broker.cancel_requested(job).await {
                control.stop(StopReason::Cancelled);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_stop_reason_wins() {
        let control = JobControl::new();
        assert_eq!(control.reason(), None);
        control.stop(StopReason::Cancelled);
        control.stop(StopReason::Shutdown);
        assert_eq!(control.reason(), Some(StopReason::Cancelled));
        assert_eq!(control.stopped().await, StopReason::Cancelled);
        assert!(control.flag().load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn running_jobs_can_be_stopped_by_id() {
        let running = Running::default();
        let job = JobId::new();
        let control = JobControl::new();
        running.insert(job, control.clone());
        assert!(!running.stop(JobId::new(), StopReason::Cancelled));
        assert!(running.stop(job, StopReason::Cancelled));
        assert_eq!(control.reason(), Some(StopReason::Cancelled));
        running.remove(job);
        assert!(running.jobs().is_empty());
    }
}
