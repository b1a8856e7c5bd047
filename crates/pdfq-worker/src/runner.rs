//! The worker process: fetches deliveries, runs up to `concurrency` jobs at once, keeps its
//! heartbeat and the sweeper going, and shuts down without losing a job.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pdfq_domain::WorkerId;
use pdfq_queue::{
    Broker, Delivery, DrainMode, Heartbeat, InstanceKind, hostname, resident_memory_bytes,
};
use pdfq_store::Store;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::job::{Context, Outcome, execute, execute_in_slot};
use crate::lease::{Running, StopReason};
use crate::settings::WorkerSettings;
use crate::sweeper::sweep;
use crate::webhooks::Deliverer;

/// A worker process's job runner.
#[derive(Debug, Clone)]
pub struct Worker {
    ctx: Context,
    started_at: OffsetDateTime,
    state: Arc<Mutex<State>>,
}

/// What the heartbeat reports besides the running jobs.
#[derive(Debug, Default)]
struct State {
    last_fetch_at: Option<OffsetDateTime>,
    status: Option<String>,
    /// What an operator asked of this worker (`pdfctl workers drain`), as last read.
    drain: Option<DrainMode>,
}

/// How often the worker reads its drain request (not before every fetch: that would be a Redis
/// round trip per job), and how often a draining worker looks whether its jobs finished.
const DRAIN_POLL: Duration = Duration::from_millis(500);

impl Worker {
    /// A worker with a fresh identity (host, pid, random suffix: never reused).
    #[must_use]
    pub fn new(store: Store, broker: Broker, settings: WorkerSettings) -> Self {
        let host = hostname();
        let worker = WorkerId::generate(&host, std::process::id());
        Self {
            ctx: Context {
                store,
                broker,
                worker,
                settings: Arc::new(settings),
                running: Running::default(),
            },
            started_at: OffsetDateTime::now_utc(),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    #[must_use]
    pub fn id(&self) -> &WorkerId {
        &self.ctx.worker
    }

    /// Fetches one delivery (waiting briefly) and runs it; `None` when the queue had nothing.
    /// Tests drive the worker with this, deterministically.
    pub async fn try_execute_task(&self) -> anyhow::Result<Option<Outcome>> {
        let deliveries = self
            .ctx
            .broker
            .fetch(&self.ctx.worker, 1, Duration::from_millis(50))
            .await?;
        match deliveries.into_iter().next() {
            Some(delivery) => Ok(Some(execute(&self.ctx, delivery).await)),
            None => Ok(None),
        }
    }

    /// Runs jobs one at a time until the queue is empty (retries that are not yet due stay
    /// delayed); returns what happened to each delivery.
    pub async fn run_until_empty(&self) -> anyhow::Result<Vec<Outcome>> {
        let mut outcomes = Vec::new();
        loop {
            self.ctx.broker.promote_due().await?;
            match self.try_execute_task().await? {
                Some(outcome) => outcomes.push(outcome),
                None => return Ok(outcomes),
            }
        }
    }

    /// Runs until `shutdown` resolves, then stops fetching, lets running jobs finish within the
    /// drain budget, and hands the rest back to the queue. An operator's drain request stops
    /// fetching without a budget: running jobs finish, then the worker idles until the drain
    /// is lifted, or returns when it was asked to exit.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let settings = Arc::clone(&self.ctx.settings);
        tracing::info!(worker = %self.ctx.worker, concurrency = settings.concurrency, "worker started");
        let background = [
            self.spawn_heartbeat(),
            self.spawn_cancel_listener(),
            self.spawn_webhooks()?,
        ];
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let mut jobs: JoinSet<Outcome> = JoinSet::new();
        let mut reaped: VecDeque<Delivery> = VecDeque::new();
        let mut sweep_due = tokio::time::Instant::now();
        let mut first_sweep = true;
        let mut delay = settings.reconnect_delay;
        let mut drain_read_at: Option<tokio::time::Instant> = None;
        tokio::pin!(shutdown);

        loop {
            while let Some(done) = jobs.try_join_next() {
                log_outcome(done);
            }
            let drain = if drain_read_at.is_none_or(|at| at.elapsed() >= DRAIN_POLL) {
                drain_read_at = Some(tokio::time::Instant::now());
                self.read_drain().await
            } else {
                self.state.lock().ok().and_then(|s| s.drain)
            };
            if let Some(mode) = drain {
                // Deliveries reaped for us would wait until the drain ends: others take them now.
                for delivery in reaped.drain(..) {
                    if let Err(e) = self.ctx.broker.release(&delivery).await {
                        tracing::warn!(job = %delivery.job_id, error = %e, "release failed; the reaper will hand it on");
                    }
                }
                if mode == DrainMode::Exit && jobs.is_empty() {
                    tracing::info!(worker = %self.ctx.worker, "drained: exiting as asked");
                    break;
                }
                self.set_status(Some(if jobs.is_empty() {
                    "drained: taking no new jobs".to_owned()
                } else {
                    format!("draining: {} running", jobs.len())
                }));
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(DRAIN_POLL) => {}
                    Some(done) = jobs.join_next(), if !jobs.is_empty() => log_outcome(done),
                }
                continue;
            }
            // A slot is given back when its extraction ends, before the job's commit: jobs
            // still committing are held too, at most as many as there are slots.
            if jobs.len() >= 2 * settings.concurrency.max(1) {
                tokio::select! {
                    () = &mut shutdown => break,
                    Some(done) = jobs.join_next() => log_outcome(done),
                }
                continue;
            }
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = Arc::clone(&slots).acquire_owned() => permit?,
            };
            if tokio::time::Instant::now() >= sweep_due {
                // At start-up nothing of ours can be in flight, so any pending job may be lost.
                let age = if first_sweep {
                    Duration::ZERO
                } else {
                    settings.lost_pending_after
                };
                match sweep(&self.ctx, age, settings.concurrency).await {
                    Ok(report) => {
                        first_sweep = false;
                        reaped.extend(report.reaped);
                    }
                    Err(e) => self.set_status(Some(format!("sweep failed: {e}"))),
                }
                sweep_due = tokio::time::Instant::now() + settings.sweep_every;
            }
            let delivery = if let Some(delivery) = reaped.pop_front() {
                Some(delivery)
            } else {
                let fetch = self
                    .ctx
                    .broker
                    .fetch(&self.ctx.worker, 1, settings.fetch_block);
                let fetched = tokio::select! {
                    () = &mut shutdown => break,
                    fetched = fetch => fetched,
                };
                match fetched {
                    Ok(deliveries) => {
                        delay = settings.reconnect_delay;
                        self.fetched();
                        deliveries.into_iter().next()
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?delay, "queue unreachable");
                        self.set_status(Some(format!("queue unreachable, retrying: {e}")));
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(delay) => {}
                        }
                        delay = (delay * 2).min(Duration::from_secs(30));
                        None
                    }
                }
            };
            if let Some(delivery) = delivery {
                let ctx = self.ctx.clone();
                jobs.spawn(async move { execute_in_slot(&ctx, delivery, permit).await });
            }
        }

        tracing::info!(running = jobs.len(), budget = ?settings.drain_timeout, "shutting down: draining");
        let drained = tokio::time::timeout(settings.drain_timeout, async {
            while let Some(done) = jobs.join_next().await {
                log_outcome(done);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                running = jobs.len(),
                "drain budget spent: handing the rest back"
            );
            self.ctx.running.stop_all(StopReason::Shutdown);
            let handed_back = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(done) = jobs.join_next().await {
                    log_outcome(done);
                }
            })
            .await;
            if handed_back.is_err() {
                jobs.abort_all();
            }
        }
        for task in background {
            task.abort();
        }
        let _ = self.ctx.broker.remove_heartbeat(&self.ctx.worker).await;
        tracing::info!(worker = %self.ctx.worker, "worker stopped");
        Ok(())
    }

    /// Reads the drain request; on a queue error the last answer stands. A change is put in
    /// the heartbeat at once, so `pdfctl workers drain --wait` sees it without a delay.
    async fn read_drain(&self) -> Option<DrainMode> {
        let read = self.ctx.broker.drain_requested(&self.ctx.worker).await;
        let (drain, changed) = {
            let Ok(mut state) = self.state.lock() else {
                return None;
            };
            let before = state.drain;
            match read {
                Ok(drain) => state.drain = drain,
                Err(e) => tracing::debug!(error = %e, "drain request unreadable"),
            }
            if before.is_some() && state.drain.is_none() {
                state.status = None;
            }
            (state.drain, before != state.drain)
        };
        if changed {
            match drain {
                Some(mode) => {
                    tracing::info!(worker = %self.ctx.worker, ?mode, "drain requested: taking no new jobs");
                }
                None => {
                    tracing::info!(worker = %self.ctx.worker, "drain lifted: taking jobs again");
                }
            }
            if let Err(e) = self.ctx.broker.heartbeat(&self.heartbeat()).await {
                tracing::debug!(error = %e, "heartbeat not written");
            }
        }
        drain
    }

    fn fetched(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.last_fetch_at = Some(OffsetDateTime::now_utc());
            state.status = None;
        }
    }

    fn set_status(&self, status: Option<String>) {
        if let Ok(mut state) = self.state.lock() {
            state.status = status;
        }
    }

    /// The heartbeat dashboards read: host, pid, version, busy n of concurrency, current jobs,
    /// last successful fetch, the database pool, and what is wrong if anything.
    #[must_use]
    pub fn heartbeat(&self) -> Heartbeat {
        let (last_fetch_at, status, draining) = self
            .state
            .lock()
            .map(|s| (s.last_fetch_at, s.status.clone(), s.drain.is_some()))
            .unwrap_or_default();
        let current_jobs = self.ctx.running.jobs();
        Heartbeat {
            id: self.ctx.worker.clone(),
            kind: InstanceKind::Worker,
            host: hostname(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.started_at,
            concurrency: u32::try_from(self.ctx.settings.concurrency).unwrap_or(u32::MAX),
            busy: u32::try_from(current_jobs.len()).unwrap_or(u32::MAX),
            current_jobs,
            last_fetch_at,
            status,
            pool: Some(self.ctx.store.pool_stats()),
            rss_bytes: resident_memory_bytes(),
            draining,
        }
    }

    fn spawn_heartbeat(&self) -> tokio::task::JoinHandle<()> {
        let worker = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(worker.ctx.broker.options().renew_every);
            loop {
                ticker.tick().await;
                if let Err(e) = worker.ctx.broker.heartbeat(&worker.heartbeat()).await {
                    tracing::warn!(error = %e, "heartbeat not written");
                }
            }
        })
    }

    /// Webhook deliveries, on their own task and HTTP client: they never wait for a job slot
    /// and jobs never wait for them.
    fn spawn_webhooks(&self) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let deliverer = Deliverer::new(self.ctx.store.clone(), self.ctx.settings.webhooks.clone())?;
        Ok(tokio::spawn(deliverer.run()))
    }

    /// Cancels reach running jobs at once through pub/sub; the lease keeper's flag check is the
    /// fallback when the subscription is down.
    fn spawn_cancel_listener(&self) -> tokio::task::JoinHandle<()> {
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            let mut delay = ctx.settings.reconnect_delay;
            loop {
                match ctx.broker.subscribe_cancels().await {
                    Ok(mut subscription) => {
                        delay = ctx.settings.reconnect_delay;
                        while let Some(job) = subscription.recv().await {
                            if ctx.running.stop(job, StopReason::Cancelled) {
                                tracing::info!(%job, "cancel received");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cancel subscription failed"),
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        })
    }
}

fn log_outcome(done: Result<Outcome, tokio::task::JoinError>) {
    match done {
        Ok(outcome) => tracing::debug!(?outcome, "delivery finished"),
        Err(e) => tracing::error!(error = %e, "a job task panicked"),
    }
}
