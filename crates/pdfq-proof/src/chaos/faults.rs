//! The faults: what each one does to the deployment, which jobs it touches (read from the
//! database just before), and the wait until the queue has made progress again and every
//! touched job has ended, before the next fault.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::deployment::Deployment;
use crate::netns::PortCut;

/// A fault the suite injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL of the busiest worker, restarted at once.
    KillWorker,
    /// SIGSTOP of the busiest worker for longer than its lease, then SIGCONT.
    StopWorker,
    /// Redis killed and started empty: the queue, heartbeats and rate limits are gone.
    RestartRedisEmpty,
    /// PostgreSQL fast shutdown (every connection cut) and start.
    RestartPostgres,
    /// PostgreSQL's TCP traffic dropped for a while (nftables in the suite's namespace).
    CutDatabase,
}

impl Fault {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillWorker => "SIGKILL worker",
            Fault::StopWorker => "SIGSTOP worker",
            Fault::RestartRedisEmpty => "Redis restart, data lost",
            Fault::RestartPostgres => "PostgreSQL restart",
            Fault::CutDatabase => "database cut off",
        }
    }

    #[must_use]
    pub fn needs_namespace(self) -> bool {
        self == Fault::CutDatabase
    }
}

/// Timing of the faults.
#[derive(Debug, Clone)]
pub struct FaultSettings {
    /// How long a stopped worker stays stopped (past its lease).
    pub stop_for: Duration,
    /// How long the database stays cut off.
    pub cut_for: Duration,
    /// The longest wait for recovery before the next fault.
    pub recovery_wait: Duration,
    /// `nft`, when the run is inside its own namespace.
    pub nft: Option<PathBuf>,
}

/// What happened at one fault.
#[derive(Debug, Clone)]
pub struct Injected {
    pub fault: Fault,
    /// Which process, for worker faults.
    pub target: Option<String>,
    pub started: OffsetDateTime,
    pub started_at: Instant,
    pub ended: OffsetDateTime,
    pub ended_at: Instant,
    /// When the wait for recovery ended (the end of this fault's window).
    pub window_end: Instant,
    /// Jobs running (or, for Redis, not yet ended) when the fault hit.
    pub touched: Vec<Uuid>,
    /// Whether the wait saw progress and every touched job end.
    pub recovered_in_wait: bool,
}

const TERMINAL: &[&str] = &["completed", "failed", "cancelled"];

/// Injects `fault` and waits for recovery (bounded). `touched` is read before the fault.
pub async fn inject(
    deployment: &mut Deployment,
    db: &PgPool,
    fault: Fault,
    settings: &FaultSettings,
    kill_turn: &mut usize,
) -> anyhow::Result<Injected> {
    let (target, touched) = match fault {
        Fault::KillWorker | Fault::StopWorker => {
            let index = busiest_worker(deployment, db, kill_turn).await;
            let worker = &deployment.workers[index];
            let pid = worker.pid().context("the worker to hit is not running")?;
            let touched = running_jobs(db, Some(pid)).await;
            (Some(format!("{} (pid {pid})", worker.name())), touched)
        }
        Fault::RestartRedisEmpty => (None, open_jobs(db).await),
        Fault::RestartPostgres | Fault::CutDatabase => (None, running_jobs(db, None).await),
    };
    let target_index = target.as_ref().and_then(|t| {
        deployment
            .workers
            .iter()
            .position(|w| t.starts_with(&format!("{} ", w.name())))
    });
    let started = OffsetDateTime::now_utc();
    let started_at = Instant::now();
    match fault {
        Fault::KillWorker => {
            let worker = &mut deployment.workers[target_index.context("no target")?];
            worker.kill().await?;
            worker.spawn()?;
        }
        Fault::StopWorker => {
            let worker = &deployment.workers[target_index.context("no target")?];
            worker.signal(Signal::SIGSTOP)?;
            tokio::time::sleep(settings.stop_for).await;
            worker.signal(Signal::SIGCONT)?;
        }
        Fault::RestartRedisEmpty => deployment.restart_redis_empty().await?,
        Fault::RestartPostgres => deployment.restart_postgres().await?,
        Fault::CutDatabase => {
            let nft = settings
                .nft
                .as_ref()
                .context("cutting the database off needs the suite's network namespace")?;
            let mut cut = PortCut::start(nft, deployment.postgres_port()?)?;
            tokio::time::sleep(settings.cut_for).await;
            cut.lift()?;
        }
    }
    let ended = OffsetDateTime::now_utc();
    let ended_at = Instant::now();
    let recovered_in_wait = wait_for_recovery(db, ended, &touched, settings.recovery_wait).await;
    Ok(Injected {
        fault,
        target,
        started,
        started_at,
        ended,
        ended_at,
        window_end: Instant::now(),
        touched,
        recovered_in_wait,
    })
}

/// The worker with the most running jobs (ties taken in turn), so a fault always hits work.
async fn busiest_worker(deployment: &Deployment, db: &PgPool, turn: &mut usize) -> usize {
    let count = deployment.workers.len().max(1);
    *turn += 1;
    let mut best = (*turn) % count;
    let mut best_running = 0;
    for offset in 0..count {
        let index = (*turn + offset) % count;
        if let Some(pid) = deployment.workers[index].pid() {
            let running = running_jobs(db, Some(pid)).await.len();
            if running > best_running {
                best = index;
                best_running = running;
            }
        }
    }
    best
}

/// Running jobs, of one worker process when `pid` is given (worker ids are `host-PID-xxxx`).
async fn running_jobs(db: &PgPool, pid: Option<u32>) -> Vec<Uuid> {
    let pattern = pid.map_or_else(|| "%".to_owned(), |pid| format!("%-{pid}-%"));
    let query = sqlx::query_scalar::<_, Uuid>(
        "select id from jobs where status = 'processing' and coalesce(worker_id, '') like $1",
    )
    .bind(pattern)
    .fetch_all(db);
    match tokio::time::timeout(Duration::from_secs(5), query).await {
        Ok(Ok(ids)) => ids,
        _ => Vec::new(),
    }
}

/// Jobs that have not ended.
async fn open_jobs(db: &PgPool) -> Vec<Uuid> {
    let query = sqlx::query_scalar::<_, Uuid>("select id from jobs where status <> all($1)")
        .bind(TERMINAL)
        .fetch_all(db);
    match tokio::time::timeout(Duration::from_secs(5), query).await {
        Ok(Ok(ids)) => ids,
        _ => Vec::new(),
    }
}

/// Waits (at most `limit`) until a job has ended after `since` (or none is left to run) and
/// every touched job has ended. Database errors (it may be coming back) are retried.
async fn wait_for_recovery(
    db: &PgPool,
    since: OffsetDateTime,
    touched: &[Uuid],
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let query = sqlx::query_as::<_, (i64, i64, i64)>(
            "select
                 (select count(*) from jobs where finished_at > $1),
                 (select count(*) from jobs where status <> all($2)),
                 (select count(*) from jobs where id = any($3) and status <> all($2))",
        )
        .bind(since)
        .bind(TERMINAL)
        .bind(touched)
        .fetch_one(db);
        if let Ok(Ok((ended_since, open, touched_open))) =
            tokio::time::timeout(Duration::from_secs(3), query).await
            && (ended_since > 0 || open == 0)
            && touched_open == 0
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}
