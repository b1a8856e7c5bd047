//! Recovery: what the queue alone cannot see.
//!
//! - due retries move from the delayed set to the stream;
//! - entries held by dead workers (idle past the lease) are reaped for this worker to run;
//! - jobs `processing` with a stale heartbeat go back to `pending` and the queue;
//! - jobs `pending` with no queue entry (the API died between commit and enqueue, or Redis lost
//!   its data) and `retrying` jobs that are due are enqueued again;
//! - retention: files of ended jobs past FILE_RETENTION are removed, ended jobs past
//!   JOB_RETENTION deleted in small batches, and objects no job holds deleted from the bucket.
//!
//! Every step is idempotent: a duplicate entry is dropped by the store's conditional claim.

use std::time::Duration;

use pdfq_domain::Attempt;
use pdfq_queue::{Delivery, QueueError};
use pdfq_store::StoreError;
use time::OffsetDateTime;

use crate::job::Context;

/// How many rows one sweep looks at per query.
const BATCH: u32 = 200;

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub promoted: u64,
    pub reaped: Vec<Delivery>,
    pub requeued_stale: u32,
    pub reenqueued: u32,
    pub files: pdfq_store::files::FileSweep,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// One sweep. `pending_age` is how old a pending job must be before it counts as lost (zero at
/// start-up, when nothing of this process can be in flight).
pub async fn sweep(
    ctx: &Context,
    pending_age: Duration,
    reap: usize,
) -> Result<SweepReport, SweepError> {
    let mut report = SweepReport {
        promoted: ctx.broker.promote_due().await?,
        ..SweepReport::default()
    };
    if reap > 0 {
        report.reaped = ctx.broker.reap(&ctx.worker, reap).await?;
    }

    let lease = ctx.broker.options().lease;
    for (job, attempt) in ctx.store.stale_processing(lease, BATCH).await? {
        if ctx.running.jobs().contains(&job) {
            continue;
        }
        let commit = ctx
            .store
            .requeue_job(job, attempt, "worker lost: heartbeat stale")
            .await?;
        if commit.is_ok() {
            report.requeued_stale += 1;
            ctx.broker.enqueue_if_absent(job, attempt.next()).await?;
            tracing::warn!(%job, %attempt, "requeued a job whose worker stopped sending heartbeats");
        }
    }

    let pending = ctx.store.pending_older_than(pending_age, BATCH).await?;
    for job in ctx.broker.missing_entries(&pending).await? {
        if ctx
            .broker
            .enqueue_if_absent(job, Attempt::NONE.next())
            .await?
            .is_some()
        {
            report.reenqueued += 1;
            tracing::warn!(%job, "enqueued a pending job that had no queue entry");
        }
    }

    for (job, attempt) in ctx
        .store
        .retrying_due(OffsetDateTime::now_utc(), BATCH)
        .await?
    {
        if ctx
            .broker
            .enqueue_if_absent(job, attempt.next())
            .await?
            .is_some()
        {
            report.reenqueued += 1;
            tracing::warn!(%job, "enqueued a due retry that had no queue entry");
        }
    }
    let _ = ctx.broker.prune_consumers(&ctx.worker).await;
    report.files = ctx
        .store
        .sweep_files(ctx.settings.file_retention, ctx.settings.job_retention)
        .await?;
    if report.files != pdfq_store::files::FileSweep::default() {
        tracing::info!(files = ?report.files, "retention applied");
    }
    Ok(report)
}
