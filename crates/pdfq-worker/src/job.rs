//! One delivery, from claim to its end: completed, failed, retrying, or handed back.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use pdfq_domain::{Attempt, CurrentStep, JobId, JobStatus, Progress, WorkerId};
use pdfq_extract::{Chunk, ExtractError, OutputBudget, PageText, PageWarning};
use pdfq_queue::{Broker, Delivery};
use pdfq_store::{
    ChunkResult, Claimed, Commit, JobWarning, PageSize, Provenance, Sentence, SentenceBox, Store,
    StoreError,
};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::lease::{JobControl, Running, StopReason, spawn_lease_keeper};
use crate::progress::{LiveFeed, Report, Throttle};
use crate::settings::WorkerSettings;

/// What the worker shares with every job it runs.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: Store,
    pub broker: Broker,
    pub worker: WorkerId,
    pub settings: Arc<WorkerSettings>,
    pub running: Running,
}

/// How a delivery ended, for logs, counters and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed {
        job: JobId,
        pages: u32,
        chunks: u32,
    },
    /// Failed for good with this error code.
    Failed {
        job: JobId,
        code: String,
    },
    /// Failed transiently; another attempt is scheduled.
    Retrying {
        job: JobId,
        code: String,
        delay: Duration,
    },
    /// Cancelled while it ran or before it started.
    Cancelled {
        job: JobId,
    },
    /// Handed back to the queue (shutdown).
    HandedBack {
        job: JobId,
    },
    /// Not ours to run: a duplicate delivery, a finished or deleted job, or another worker's.
    Dropped {
        job: JobId,
    },
    /// Left for recovery: another worker took over (a late commit was rejected), or the
    /// database stayed unreachable. The queue entry is not acked, so it is reaped later.
    Abandoned {
        job: JobId,
        why: String,
    },
}

/// Why the pipeline of one attempt stopped early.
#[derive(Debug)]
enum Interrupted {
    Extract(ExtractError),
    Store(StoreError),
    Stopped(StopReason),
    /// A write matched nothing: the attempt is no longer current.
    Stale,
    /// A failure of the job itself that no retry can fix.
    Permanent {
        code: &'static str,
        message: String,
    },
}

impl From<StoreError> for Interrupted {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::StaleAttempt { .. } => Self::Stale,
            e => Self::Store(e),
        }
    }
}

/// Runs one delivery to its end. Never panics on the job's content; every path decides what
/// happens to the queue entry (ack, retry later, hand back, or leave it for the reaper).
pub async fn execute(ctx: &Context, delivery: Delivery) -> Outcome {
    execute_in_slot(ctx, delivery, ()).await
}

/// [`execute`] in one of the worker's `slot`s, which is given back once the extraction has
/// ended, before the result is committed: the next job's claim and extraction then run while
/// this one's commit waits on the database, and no more extractions than slots ever run at
/// once. The job stays the worker's until its commit and ack (shutdown waits for it).
pub async fn execute_in_slot<S: Send>(ctx: &Context, delivery: Delivery, slot: S) -> Outcome {
    let job = delivery.job_id;
    match recover_if_orphaned(ctx, &delivery).await {
        Ok(true) => {}
        Ok(false) => return ack_and(ctx, &delivery, Outcome::Dropped { job }).await,
        Err(e) => return abandoned(job, &e),
    }
    let mut claimed = match ctx.store.claim_job(job, &ctx.worker).await {
        Ok(Some(claimed)) => claimed,
        Ok(None) => return ack_and(ctx, &delivery, Outcome::Dropped { job }).await,
        Err(e) => return abandoned(job, &e),
    };
    let attempt = claimed.attempt;
    tracing::info!(%job, %attempt, file = %claimed.job.file_name, "job claimed");

    let control = JobControl::new();
    ctx.running.insert(job, control.clone());
    let keeper = spawn_lease_keeper(
        ctx.store.clone(),
        ctx.broker.clone(),
        ctx.worker.clone(),
        delivery.clone(),
        attempt,
        control.clone(),
    );
    let soft_limit = {
        let control = control.clone();
        let limit = ctx.settings.soft_time_limit;
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            control.stop(StopReason::SoftTimeLimit);
        })
    };

    let result = contained(job, &control, run_attempt(ctx, &mut claimed, &control)).await;
    drop(slot);

    soft_limit.abort();
    keeper.abort();
    ctx.running.remove(job);
    finish(ctx, &delivery, attempt, result).await
}

/// `attempt`, with a panic in this process's share of the work (sentences, chunks) turned into
/// the job's failure. Uncaught, it left the job `processing` for good: the lease keeper, whose
/// handle the unwinding dropped, went on renewing the lease.
///
/// The failure is a bug in pdfq, which the same bytes would hit again, so it is not retried.
/// The panic's text stays in the worker's log (it may quote the document); the job says what
/// happened and what to do.
async fn contained<T>(
    job: JobId,
    control: &JobControl,
    attempt: impl Future<Output = Result<T, Interrupted>>,
) -> Result<T, Interrupted> {
    let panic = match AssertUnwindSafe(attempt).catch_unwind().await {
        Ok(result) => return result,
        Err(panic) => panic,
    };
    // Only to end an extraction still running for it; the reason is not read again.
    control.stop(StopReason::Cancelled);
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(%job, panic = text, "the job's processing panicked; failing the job");
    Err(Interrupted::Permanent {
        code: "internal_error",
        message: "pdfq hit an internal error (a bug) while processing this file; the upload is \
                  kept: report the job id to the operator, who can retry it once pdfq is \
                  updated"
            .into(),
    })
}

/// A reaped delivery may point at a job still marked `processing` by a worker that died. If
/// its heartbeat is older than the lease, hand it back so it can be claimed. Returns false when
/// the delivery should be dropped (the job is gone, or a live worker runs it).
///
/// A first delivery was never held by another worker, so the claim alone decides it: the extra
/// read is paid only for reaped entries.
async fn recover_if_orphaned(ctx: &Context, delivery: &Delivery) -> Result<bool, StoreError> {
    if delivery.delivery_count <= 1 {
        return Ok(true);
    }
    let Some(job) = ctx.store.get_job(delivery.job_id).await? else {
        return Ok(false);
    };
    if job.status != JobStatus::Processing {
        return Ok(true);
    }
    let lease = ctx.broker.options().lease;
    let stale = job
        .heartbeat_at
        .is_none_or(|at| OffsetDateTime::now_utc() - at > lease);
    if !stale {
        return Ok(false);
    }
    let commit = ctx
        .store
        .requeue_job(
            job.id,
            job.attempts,
            "worker lost: no heartbeat within the lease",
        )
        .await?;
    tracing::warn!(job = %job.id, attempt = %job.attempts, ?commit, "recovered a job from a lost worker");
    Ok(true)
}

/// Extracts, chunks and segments the job's PDF, saving finished chunks with the progress
/// writes; those finished after the last write are returned, to be saved with the completion.
async fn run_attempt(
    ctx: &Context,
    claimed: &mut Claimed,
    control: &JobControl,
) -> Result<Finished, Interrupted> {
    let job = claimed.job.id;
    let attempt = claimed.attempt;
    let bytes = ctx
        .store
        .claimed_file(claimed)
        .await?
        .ok_or(Interrupted::Permanent {
            code: "file_missing",
            message: "the uploaded file is missing from the store".into(),
        })?;
    // Only a job that saved a chunk before (its row says so) has any to skip: a first attempt
    // pays no read for them.
    let already_done: HashSet<u32> = match claimed.job.last_finished_chunk {
        Some(_) => ctx
            .store
            .finished_chunk_indexes(job)
            .await?
            .into_iter()
            .collect(),
        None => HashSet::new(),
    };
    if !already_done.is_empty() {
        tracing::info!(%job, chunks = already_done.len(), "resuming after the chunks already finished");
    }
    // Page by page and chunk by chunk, at most every progress_interval (the claim was the
    // first write); the last one always. Finished chunks wait for the next write and go in
    // its transaction: a small job costs a commit or two, not one per chunk.
    let mut throttle = Throttle::after_write(ctx.settings.progress_interval, Instant::now());
    let mut live = LiveFeed::start(ctx.broker.clone(), job, attempt);
    let mut ready: Vec<ChunkResult> = Vec::new();
    let starting = (Progress::ZERO, CurrentStep::new("Extracting text"));
    tell(
        ctx,
        job,
        attempt,
        (&mut throttle, &mut live),
        starting,
        &mut ready,
    )
    .await?;

    let (page_tx, mut page_rx) = mpsc::unbounded_channel::<(PageText, u32)>();
    let extractor = ctx.settings.extractor.clone();
    let hard_limit = ctx.settings.hard_time_limit;
    let stop_flag = control.flag();
    let owner = claimed.job.owner_id.to_string();
    let extraction = tokio::task::spawn_blocking(move || {
        extractor.extract(&owner, &bytes, hard_limit, &stop_flag, |page, total| {
            let _ = page_tx.send((page.clone(), total));
        })
    });

    // The child and its parent bound the text; sentences are counted here, where they are made,
    // before any chunk of them is stored.
    let mut output = OutputBudget::new(&ctx.settings.extractor.limits.limits);
    let mut pages: Vec<PageText> = Vec::new();
    let mut plan: Vec<Chunk> = Vec::new();
    let mut next_chunk = 0usize;
    loop {
        let due = throttle.due_at();
        tokio::select! {
            biased;
            reason = control.stopped() => {
                // The child is killed within moments; wait so the slot is free for real.
                let _ = extraction.await;
                return Err(Interrupted::Stopped(reason));
            }
            () = until(due) => {
                write(ctx, job, attempt, throttle.take_pending(Instant::now()), &mut ready).await?;
            }
            received = page_rx.recv() => match received {
                Some((page, total)) => {
                    if plan.is_empty() {
                        plan = chunk_plan(total, ctx.settings.max_chunks);
                    }
                    pages.push(page);
                    let done = pages.len();
                    let extracted = (pages_percent(done, total), CurrentStep::page(done, total as usize));
                    tell(ctx, job, attempt, (&mut throttle, &mut live), extracted, &mut ready).await?;
                    while let Some(chunk) = plan.get(next_chunk).filter(|c| c.last_page as usize <= pages.len()) {
                        ready.extend(finish_chunk(chunk, &pages, &already_done, &mut output)?);
                        let finished = chunk_report(chunk, total);
                        tell(ctx, job, attempt, (&mut throttle, &mut live), finished, &mut ready).await?;
                        next_chunk += 1;
                    }
                }
                None => break,
            },
        }
    }
    let mut document = match extraction.await {
        Ok(Ok(document)) => document,
        Ok(Err(e)) => return Err(Interrupted::Extract(e)),
        Err(join) => {
            return Err(Interrupted::Extract(ExtractError::Internal {
                reason: format!("extraction task failed: {join}"),
            }));
        }
    };
    if let Some(reason) = control.reason() {
        return Err(Interrupted::Stopped(reason));
    }
    // Pages the child sent without a total (none), or chunks still open: finish them now.
    if plan.is_empty() {
        plan = chunk_plan(
            u32::try_from(document.pages.len()).unwrap_or(u32::MAX),
            ctx.settings.max_chunks,
        );
        pages = document.pages;
    }
    let total = plan.last().map_or(0, |chunk| chunk.last_page);
    for chunk in plan.iter().skip(next_chunk) {
        ready.extend(finish_chunk(chunk, &pages, &already_done, &mut output)?);
        let finished = chunk_report(chunk, total);
        tell(
            ctx,
            job,
            attempt,
            (&mut throttle, &mut live),
            finished,
            &mut ready,
        )
        .await?;
    }
    // The chunks still waiting are saved with the completion, in its transaction; the last
    // progress state is not written: completing writes 100 %.
    let warnings = job_warnings(std::mem::take(&mut document.warnings));
    if !warnings.is_empty() {
        tracing::warn!(%job, warnings = warnings.len(), "completing with pages that could not be read");
        settle(ctx.store.record_warnings(job, attempt, &warnings).await?)?;
    }
    Ok(Finished {
        pages: u32::try_from(pages.len()).unwrap_or(u32::MAX),
        chunks: u32::try_from(plan.len()).unwrap_or(u32::MAX),
        last_chunks: ready,
    })
}

/// An attempt that ran to its end: what completing it records.
struct Finished {
    pages: u32,
    chunks: u32,
    /// Chunks finished since the last write, saved with the completion.
    last_chunks: Vec<ChunkResult>,
}

/// The most page warnings a job keeps; the rest are counted in one last warning, so a file
/// with thousands of lost pages does not make a megabyte of them.
const MAX_PAGE_WARNINGS: usize = 100;

/// The extraction's warnings as the job stores them, at most [`MAX_PAGE_WARNINGS`] pages.
fn job_warnings(found: Vec<PageWarning>) -> Vec<JobWarning> {
    let pages = found.iter().filter(|w| w.page.is_some()).count();
    let mut kept = Vec::new();
    let mut kept_pages = 0;
    for warning in found {
        if warning.page.is_some() {
            if kept_pages == MAX_PAGE_WARNINGS {
                continue;
            }
            kept_pages += 1;
        }
        kept.push(JobWarning {
            page: warning.page,
            message: warning.reason,
        });
    }
    if pages > kept_pages {
        kept.push(JobWarning {
            page: None,
            message: format!(
                "{} more pages could not be read (only the first {MAX_PAGE_WARNINGS} are listed)",
                pages - kept_pages
            ),
        });
    }
    kept
}

/// The chunks of a document of `total` pages, numbered 1..=total.
fn chunk_plan(total: u32, max_chunks: usize) -> Vec<Chunk> {
    let numbered: Vec<PageText> = (1..=total)
        .map(|number| PageText::new(number, String::new()))
        .collect();
    pdfq_extract::chunk_pages(&numbered, max_chunks)
}

/// A chunk's sentences, to be stored with the next write (none when a previous attempt stored
/// them). Every chunk's sentences count against `output`, stored before or not, so a resumed
/// job is held to the same limits as one that ran straight through.
fn finish_chunk(
    chunk: &Chunk,
    pages: &[PageText],
    already_done: &HashSet<u32>,
    output: &mut OutputBudget,
) -> Result<Option<ChunkResult>, Interrupted> {
    let sentences = pdfq_extract::sentences_for_chunk(chunk.pages(pages));
    output
        .add_sentences(&sentences)
        .map_err(Interrupted::Extract)?;
    if already_done.contains(&chunk.index) {
        return Ok(None);
    }
    let sentences = sentences
        .into_iter()
        .map(|s| Sentence {
            text: s.text,
            page: s.page,
            provenance: Provenance {
                pages: s
                    .page_sizes
                    .iter()
                    .map(|p| PageSize {
                        page: p.page,
                        width: p.width,
                        height: p.height,
                    })
                    .collect(),
                boxes: s
                    .boxes
                    .iter()
                    .map(|b| SentenceBox {
                        page: b.page,
                        x0: b.x0,
                        y0: b.y0,
                        x1: b.x1,
                        y1: b.y1,
                    })
                    .collect(),
            },
        })
        .collect();
    Ok(Some(ChunkResult {
        index: chunk.index,
        first_page: chunk.first_page,
        last_page: chunk.last_page,
        sentences,
    }))
}

/// "Processing chunk k/n", at the share of the pages up to the chunk's last.
fn chunk_report(chunk: &Chunk, total: u32) -> Report {
    (
        pages_percent(chunk.last_page as usize, total),
        CurrentStep::chunk(chunk.index as usize + 1, chunk.count as usize),
    )
}

/// Announces a state live and offers it to the job row's throttle.
async fn tell(
    ctx: &Context,
    job: JobId,
    attempt: Attempt,
    (throttle, live): (&mut Throttle, &mut LiveFeed),
    state: Report,
    ready: &mut Vec<ChunkResult>,
) -> Result<(), Interrupted> {
    live.offer(&state);
    write(
        ctx,
        job,
        attempt,
        throttle.offer(Instant::now(), state),
        ready,
    )
    .await
}

/// Writes what the throttle let through, if anything, with the chunks finished meanwhile.
async fn write(
    ctx: &Context,
    job: JobId,
    attempt: Attempt,
    state: Option<Report>,
    ready: &mut Vec<ChunkResult>,
) -> Result<(), Interrupted> {
    match state {
        Some(state) => flush(ctx, job, attempt, Some(state), ready).await,
        None => Ok(()),
    }
}

/// One transaction: the chunks waiting (then no longer waiting) and the state, if any.
async fn flush(
    ctx: &Context,
    job: JobId,
    attempt: Attempt,
    state: Option<Report>,
    ready: &mut Vec<ChunkResult>,
) -> Result<(), Interrupted> {
    let progress = state.as_ref().map(|(percent, step)| (*percent, step));
    settle(ctx.store.save_chunks(job, attempt, ready, progress).await?)?;
    ready.clear();
    Ok(())
}

/// The share of `done` pages out of `total`; 100 % is written by completion only.
fn pages_percent(done: usize, total: u32) -> Progress {
    Progress::fraction(done as u64, u64::from(total))
        .min(Progress::new(99).unwrap_or(Progress::ZERO))
}

/// Completes at `due`, or never.
async fn until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A write that matched nothing: cancelled (the owner's cancel landed between two of our
/// writes, before its signal reached us) or taken by another worker.
fn settle(commit: Commit) -> Result<(), Interrupted> {
    match commit {
        Commit::Stale {
            status: Some(JobStatus::Cancelled),
            ..
        } => Err(Interrupted::Stopped(StopReason::Cancelled)),
        Commit::Stale { .. } => Err(Interrupted::Stale),
        Commit::Applied | Commit::AlreadyApplied => Ok(()),
    }
}

/// Commits the end of an attempt and settles its queue entry.
async fn finish(
    ctx: &Context,
    delivery: &Delivery,
    attempt: Attempt,
    result: Result<Finished, Interrupted>,
) -> Outcome {
    let job = delivery.job_id;
    match result {
        Ok(Finished {
            pages,
            chunks,
            last_chunks,
        }) => match ctx
            .store
            .complete_job_with_chunks(job, attempt, pages, chunks, &last_chunks)
            .await
        {
            Ok(Commit::Stale {
                status: Some(JobStatus::Cancelled),
                ..
            }) => {
                tracing::info!(%job, "job cancelled just before it completed");
                let _ = ctx.broker.clear_cancel(job).await;
                ack_and(ctx, delivery, Outcome::Cancelled { job }).await
            }
            Ok(commit) if commit.is_ok() => {
                tracing::info!(%job, %attempt, pages, chunks, "job completed");
                // Committed: the queue's three updates go out together on the multiplexed
                // connection, one round trip's wait instead of three before the slot is free.
                let (_, _, outcome) = tokio::join!(
                    ctx.broker.evict_result(job),
                    ctx.broker.count_processed(),
                    ack_and(ctx, delivery, Outcome::Completed { job, pages, chunks })
                );
                outcome
            }
            Ok(_) => stale(job),
            Err(e) => abandoned(job, &e),
        },
        Err(Interrupted::Stale | Interrupted::Stopped(StopReason::LeaseLost)) => stale(job),
        Err(Interrupted::Store(e)) => abandoned(job, &e),
        Err(Interrupted::Stopped(StopReason::Cancelled)) => {
            tracing::info!(%job, "job cancelled while running");
            let _ = ctx.broker.clear_cancel(job).await;
            ack_and(ctx, delivery, Outcome::Cancelled { job }).await
        }
        Err(Interrupted::Stopped(StopReason::Shutdown)) => hand_back(ctx, delivery, attempt).await,
        Err(Interrupted::Stopped(StopReason::SoftTimeLimit)) => {
            let limit = ctx.settings.soft_time_limit.as_secs();
            let message = format!("soft time limit exceeded ({limit} s)");
            fail(ctx, delivery, attempt, "soft_time_limit", &message, true).await
        }
        Err(Interrupted::Permanent { code, message }) => {
            fail(ctx, delivery, attempt, code, &message, true).await
        }
        Err(Interrupted::Extract(ExtractError::TimedOut { .. })) => {
            let limit = ctx.settings.hard_time_limit.as_secs();
            let message =
                format!("hard time limit exceeded ({limit} s): the extraction was killed");
            fail(ctx, delivery, attempt, "hard_time_limit", &message, true).await
        }
        Err(Interrupted::Extract(ExtractError::ResourceLimit { resource })) => {
            let message = resource_limit_message(&resource, &ctx.settings.extractor.limits);
            fail(ctx, delivery, attempt, "resource_limit", &message, true).await
        }
        Err(Interrupted::Extract(e)) => {
            let permanent = e.is_permanent();
            fail(ctx, delivery, attempt, e.code(), &e.to_string(), permanent).await
        }
    }
}

/// Which worker setting bounded the extraction child, and its value: the operator's next step.
fn resource_limit_message(resource: &str, limits: &pdfq_extract::IsolationLimits) -> String {
    let (setting, value) = match resource {
        "memory" => (
            "EXTRACT_MEMORY_LIMIT",
            format!("{} MiB", limits.memory_bytes / (1024 * 1024)),
        ),
        "cpu time" => ("EXTRACT_CPU_LIMIT", format!("{} s", limits.cpu_seconds)),
        other => return format!("the extractor hit its {other} limit"),
    };
    format!(
        "the extractor hit its {resource} limit ({setting} = {value} on this worker); raise \
         {setting} on the workers, then retry the job"
    )
}

/// Fails the attempt: retried later with backoff while retries remain and the error is
/// transient; otherwise failed for good (and dead-lettered when the retries ran out).
async fn fail(
    ctx: &Context,
    delivery: &Delivery,
    attempt: Attempt,
    code: &str,
    message: &str,
    permanent: bool,
) -> Outcome {
    let job = delivery.job_id;
    let retries_left = attempt.get() <= ctx.settings.max_retries;
    if !permanent && retries_left {
        let delay = ctx
            .settings
            .retry_delay
            .unwrap_or_else(|| pdfq_queue::backoff(attempt));
        let retry_at = OffsetDateTime::now_utc() + delay;
        return match ctx
            .store
            .fail_job(job, attempt, code, message, Some(retry_at))
            .await
        {
            Ok(commit) if commit.is_ok() => {
                tracing::warn!(%job, %attempt, code, ?delay, "attempt failed; retrying later");
                if let Err(e) = ctx
                    .broker
                    .retry_later(delivery, attempt.next(), delay)
                    .await
                {
                    // The sweeper re-enqueues retrying jobs that are due with no queue entry.
                    tracing::warn!(%job, error = %e, "could not schedule the retry; the sweeper will");
                }
                Outcome::Retrying {
                    job,
                    code: code.to_owned(),
                    delay,
                }
            }
            Ok(_) => stale(job),
            Err(e) => abandoned(job, &e),
        };
    }
    let exhausted = !permanent;
    let message = if exhausted {
        format!("{message} (gave up after {attempt} attempts)")
    } else {
        message.to_owned()
    };
    match ctx.store.fail_job(job, attempt, code, &message, None).await {
        Ok(commit) if commit.is_ok() => {
            tracing::warn!(%job, %attempt, code, %message, "job failed");
            let _ = ctx.broker.count_failed().await;
            if exhausted {
                let _ = ctx.broker.dead_letter(job, attempt, code, &message).await;
            }
            ack_and(
                ctx,
                delivery,
                Outcome::Failed {
                    job,
                    code: code.to_owned(),
                },
            )
            .await
        }
        Ok(_) => stale(job),
        Err(e) => abandoned(job, &e),
    }
}

/// Shutdown: the job goes back to `pending` and to the queue at once, not after the lease.
async fn hand_back(ctx: &Context, delivery: &Delivery, attempt: Attempt) -> Outcome {
    let job = delivery.job_id;
    match ctx
        .store
        .requeue_job(job, attempt, "handed back on worker shutdown")
        .await
    {
        Ok(commit) if commit.is_ok() => {
            if let Err(e) = ctx.broker.enqueue(job, attempt.next()).await {
                tracing::warn!(%job, error = %e, "could not re-enqueue a handed-back job; the sweeper will");
            }
            ack_and(ctx, delivery, Outcome::HandedBack { job }).await
        }
        Ok(_) => stale(job),
        Err(e) => abandoned(job, &e),
    }
}

async fn ack_and(ctx: &Context, delivery: &Delivery, outcome: Outcome) -> Outcome {
    if let Err(e) = ctx.broker.ack(delivery).await {
        // An unacked entry is delivered again and then dropped by the claim: harmless.
        tracing::warn!(job = %delivery.job_id, error = %e, "ack failed");
    }
    outcome
}

fn stale(job: JobId) -> Outcome {
    tracing::warn!(%job, "the attempt is no longer current; its late commit was rejected");
    Outcome::Abandoned {
        job,
        why: "attempt no longer current".into(),
    }
}

fn abandoned(job: JobId, e: &StoreError) -> Outcome {
    tracing::error!(%job, error = %e, "store unavailable; leaving the job to recovery");
    Outcome::Abandoned {
        job,
        why: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_refused_because_of_a_cancel_counts_as_the_cancel() {
        let cancelled = Commit::Stale {
            status: Some(JobStatus::Cancelled),
            attempts: Attempt::new(1),
        };
        assert!(matches!(
            settle(cancelled),
            Err(Interrupted::Stopped(StopReason::Cancelled))
        ));
        let taken = Commit::Stale {
            status: Some(JobStatus::Processing),
            attempts: Attempt::new(2),
        };
        assert!(matches!(settle(taken), Err(Interrupted::Stale)));
        assert!(settle(Commit::AlreadyApplied).is_ok());
    }

    #[tokio::test]
    async fn a_panicking_attempt_fails_for_good_and_stops_its_extraction() {
        let control = JobControl::new();
        let result: Result<(), Interrupted> =
            contained(JobId::new(), &control, async { panic!("a bug") }).await;
        assert!(
            matches!(result, Err(Interrupted::Permanent { code: "internal_error", ref message }) if message.contains("report the job id")),
            "{result:?}"
        );
        assert!(control.flag().load(std::sync::atomic::Ordering::SeqCst));
        let finished: Result<u32, Interrupted> =
            contained(JobId::new(), &control, async { Ok(7) }).await;
        assert!(matches!(finished, Ok(7)));
    }

    #[test]
    fn page_warnings_are_capped_and_the_rest_counted() {
        let mut found = vec![PageWarning {
            page: None,
            reason: "truncated".into(),
        }];
        found.extend((1..=250).map(|page| PageWarning {
            page: Some(page),
            reason: "missing".into(),
        }));
        let kept = job_warnings(found);
        assert_eq!(kept.len(), 1 + MAX_PAGE_WARNINGS + 1);
        assert_eq!(kept[0].page, None);
        assert_eq!(kept[MAX_PAGE_WARNINGS].page, Some(100));
        let last = kept.last().unwrap();
        assert_eq!(last.page, None);
        assert!(
            last.message.starts_with("150 more pages"),
            "{}",
            last.message
        );
        assert!(job_warnings(Vec::new()).is_empty());
    }

    #[test]
    fn the_plan_covers_every_page_in_at_most_ten_chunks() {
        let plan = chunk_plan(23, 10);
        assert_eq!(plan.len(), 10);
        assert_eq!(plan[0].first_page, 1);
        assert_eq!(plan[9].last_page, 23);
        assert_eq!(chunk_plan(3, 10).len(), 3);
        assert!(chunk_plan(0, 10).is_empty());
    }
}
