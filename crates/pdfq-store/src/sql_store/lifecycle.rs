//! The job's status changes. Each one is a single conditional update: it names the statuses the
//! state machine allows the change from (`JobStatus::sources_of`) and, for a worker's writes,
//! the attempt, so a duplicate or late write matches nothing.

use std::collections::HashSet;

use pdfq_domain::job::JobEvent as Event;
use pdfq_domain::{Attempt, CurrentStep, JobId, JobStatus, Progress, WorkerId};
use sqlx::Transaction;
use time::OffsetDateTime;

use super::{
    Entry, SqlStore, current_worker, explain, job_columns, job_of, owner_hooks, record_change,
    record_event, recorded_hooks,
};
use crate::StoreError;
use crate::decode;
use crate::dialect::{Both, ChunkColumns, DbConnection, Dialect, SentenceColumns, Stmt, Typed};
use crate::files::ClaimedFile;
use crate::model::{ChunkResult, Claimed, Commit, Job, JobWarning};

/// The claimed job's upload (`content` or the `key` of the object holding it), read by the
/// claim's statement where `Dialect::CLAIM_READS_FILE`: the worker needs it next, and a read
/// after the claim is a round trip of its own.
macro_rules! claimed_file_columns {
    () => {
        ", (select f.content from job_files f where f.job_id = $1) as content, \
         (select s.key from stored_files s where s.job_id = $1) as key"
    };
}

/// The timeline entry of a claim.
fn claim_message(attempt: Attempt) -> String {
    format!("claimed for attempt {attempt}")
}

/// Takes job `$1` for worker `$2` from one of the statuses `$3`; then the time. Returns the
/// job; on PostgreSQL also its upload, and it records the timeline entry (the message is
/// [`claim_message`]'s) and returns the owner's webhooks.
const CLAIM: Both = Both {
    postgres: concat!(
        "with claimed as (
           update jobs
           set status = 'processing', attempts = attempts + 1, worker_id = $2,
               started_at = now(), heartbeat_at = now(), updated_at = now(),
               progress_percent = 0, current_step = 'Starting', next_attempt_at = null,
               warnings = null
           where id = $1 and status = any($3) and not cancel_requested
           returning ",
        job_columns!(),
        claimed_file_columns!(),
        "), recorded as (
           insert into job_events (job_id, attempt, status, worker_id, message)
           select id, attempts, 'processing', worker_id, 'claimed for attempt ' || attempts
           from claimed
           returning ",
        owner_hooks!(),
        ") select * from claimed cross join recorded"
    ),
    sqlite: concat!(
        "update jobs
         set status = 'processing', attempts = attempts + 1, worker_id = $2,
             started_at = $4, heartbeat_at = $4, updated_at = $4,
             progress_percent = 0, current_step = 'Starting', next_attempt_at = null,
             warnings = null
         where id = $1 and status in (select value from json_each($3)) and not cancel_requested
         returning ",
        job_columns!()
    ),
};

/// Job `$1` as claimed by worker `$2`: a claim of ours whose answer was lost. Returns what
/// [`CLAIM`] does.
const CLAIMED_BY: Both = Both {
    postgres: concat!(
        "select ",
        job_columns!(),
        claimed_file_columns!(),
        " from jobs where id = $1 and status = 'processing' and worker_id = $2"
    ),
    sqlite: concat!(
        "select ",
        job_columns!(),
        " from jobs where id = $1 and status = 'processing' and worker_id = $2"
    ),
};

/// Job `$1`'s attempt `$2` held by worker `$3` is alive; then the time.
const HEARTBEAT: Both = Both {
    postgres: "update jobs set heartbeat_at = now()
               where id = $1 and attempts = $2 and status = 'processing' and worker_id = $3",
    sqlite: "update jobs set heartbeat_at = $4
             where id = $1 and attempts = $2 and status = 'processing' and worker_id = $3",
};

/// Progress `$3` at step `$4` of job `$1`'s attempt `$2`, never backwards; then the time.
const PROGRESS: Both = Both {
    postgres: "update jobs
               set progress_percent = $3, current_step = $4,
                   heartbeat_at = now(), updated_at = now()
               where id = $1 and attempts = $2 and status = 'processing'
                 and progress_percent <= $3",
    sqlite: "update jobs
             set progress_percent = $3, current_step = $4, heartbeat_at = $5, updated_at = $5
             where id = $1 and attempts = $2 and status = 'processing'
               and progress_percent <= $3",
};

/// A save of chunks and sentences in one statement around `$held`, the statement that checks
/// the attempt and locks the job row, returning `next`.
macro_rules! postgres_save {
    ($held:literal) => {
        concat!(
            "with held as (",
            $held,
            "), saved as (
               insert into job_result_chunks (job_id, chunk_index, first_page, last_page)
               select $1, c.i, c.f, c.l
               from held cross join unnest($4::integer[], $5::integer[], $6::integer[])
                    as c(i, f, l)
               on conflict (job_id, chunk_index) do nothing
               returning chunk_index
             ), sentences as (
               insert into job_sentences (job_id, sentence_index, chunk_index, page, text,
                                          provenance)
               select $1, n.next + row_number() over (order by s.n) - 1, s.c, s.page, s.text,
                      s.prov
               from (select coalesce(max(sentence_index) + 1, 0) as next
                     from job_sentences where job_id = $1) as n
               cross join unnest($7::integer[], $8::integer[], $9::integer[], $10::text[],
                                 $11::text[]) as s(c, n, page, text, prov)
               where s.c in (select chunk_index from saved)
             )
             select next, (select count(*) from saved) as saved from held"
        )
    };
}

/// Saves the chunks of job `$1`'s attempt `$2` in one statement: the job row first (which
/// checks the attempt, locks the row against a concurrent requeue or cancel, and records `$3`,
/// the last chunk saved), then the chunks (`$4`..`$6`, one array per column, by
/// [`Dialect::bind_chunks`]), each once, a chunk saved before being left as it is, then the
/// sentences (`$7`..`$11`, by [`Dialect::bind_sentences`]) of the chunks saved now, numbered
/// on from the job's last saved sentence: their place in the whole result. Returns the index
/// the first chunk had to have (`next`: chunks are saved in order) and how many were saved.
/// PostgreSQL ([`Dialect::WRITABLE_CTES`]); SQLite runs [`SQLITE_SAVE`]'s three statements.
///
/// Every part reads the statement's snapshot, not rows committed while it waited for the job
/// row: an attempt's saves never overlap (its worker makes them one after another), and a save
/// of another attempt matches nothing here.
const POSTGRES_SAVE: &str = postgres_save!(
    "update jobs
     set last_finished_chunk = greatest(coalesce(last_finished_chunk, -1), $3),
         heartbeat_at = now(), updated_at = now()
     where id = $1 and attempts = $2 and status = 'processing'
     returning (select cast(coalesce(max(c.chunk_index) + 1, 0) as bigint)
                from job_result_chunks c where c.job_id = $1) as next"
);

/// [`POSTGRES_SAVE`] in a completion: the job row is only locked (`$3` is not read), as the
/// completion's own update follows in the transaction. An update of the row writes a new
/// version of it and an entry in each of its indexes; one per job is saved.
const POSTGRES_SAVE_COMPLETING: &str = postgres_save!(
    "select (select cast(coalesce(max(c.chunk_index) + 1, 0) as bigint)
             from job_result_chunks c where c.job_id = $1) as next
     from jobs where id = $1 and attempts = $2 and status = 'processing'
     for update"
);

/// SQLite's save, the parts of [`POSTGRES_SAVE`] one after another.
struct SqliteSave {
    /// Chunks up to `$3` of job `$1`'s attempt `$2` are finished; then the time. Returns
    /// `next`, as [`POSTGRES_SAVE`] does.
    held: &'static str,
    /// Saves chunks `$2` of job `$1` (by [`Dialect::bind_chunks`]), each once. Returns the
    /// indexes saved now.
    chunks: &'static str,
    /// Sentences `$2` of job `$1` (by [`Dialect::bind_sentences`]) as rows numbered on from
    /// the job's last saved sentence by their ordinal.
    sentences: &'static str,
}

const SQLITE_SAVE: SqliteSave = SqliteSave {
    held: "update jobs
           set last_finished_chunk = max(coalesce(last_finished_chunk, -1), $3),
               heartbeat_at = $4, updated_at = $4
           where id = $1 and attempts = $2 and status = 'processing'
           returning (select coalesce(max(c.chunk_index) + 1, 0)
                      from job_result_chunks c where c.job_id = $1) as next",
    chunks: "insert into job_result_chunks (job_id, chunk_index, first_page, last_page)
             select $1, json_extract(c.value, '$.i'), json_extract(c.value, '$.f'),
                    json_extract(c.value, '$.l')
             from json_each($2) as c where true
             on conflict (job_id, chunk_index) do nothing
             returning chunk_index",
    sentences: "insert into job_sentences (job_id, sentence_index, chunk_index, page, text,
                                          provenance)
                select $1, n.next + json_extract(s.value, '$.n'), json_extract(s.value, '$.c'),
                       json_extract(s.value, '$.page'), json_extract(s.value, '$.text'),
                       json_extract(s.value, '$.prov')
                from (select coalesce(max(sentence_index) + 1, 0) as next
                      from job_sentences where job_id = $1) as n,
                     json_each($2) as s",
};

/// Chunks are saved in order, each after the one before, the first no later than `next`
/// (the index the next chunk to save must have): each numbers its sentences after those
/// saved before it, so a gap is refused rather than numbered wrongly.
fn check_in_order(id: JobId, chunks: &[ChunkResult], next: u64) -> Result<(), StoreError> {
    let mut expected = next;
    for (k, chunk) in chunks.iter().enumerate() {
        let index = u64::from(chunk.index);
        if index > expected || (k > 0 && index != expected) {
            return Err(StoreError::Conflict(
                format!(
                    "job {id}: chunk {index} saved where chunk {expected} was due; chunks are saved in order"
                )
                .into(),
            ));
        }
        expected = index + 1;
    }
    Ok(())
}

/// The columns of `chunks`.
fn chunk_columns(chunks: &[ChunkResult]) -> Result<ChunkColumns, StoreError> {
    let mut columns = ChunkColumns::default();
    for chunk in chunks {
        columns.index.push(column_int(chunk.index)?);
        columns.first_page.push(column_int(chunk.first_page)?);
        columns.last_page.push(column_int(chunk.last_page)?);
    }
    Ok(columns)
}

/// The columns of the sentences of the `chunks` that `keep` accepts, each sentence with its
/// ordinal among them.
fn sentence_columns<'c>(
    chunks: &'c [ChunkResult],
    keep: impl Fn(u32) -> bool,
) -> Result<SentenceColumns<'c>, StoreError> {
    let mut sentences = SentenceColumns::default();
    for (ordinal, (chunk, sentence)) in chunks
        .iter()
        .filter(|c| keep(c.index))
        .flat_map(|c| c.sentences.iter().map(move |s| (c.index, s)))
        .enumerate()
    {
        sentences.chunk.push(column_int(chunk)?);
        sentences.ordinal.push(column_int(ordinal)?);
        sentences.page.push(column_int(sentence.page)?);
        sentences.text.push(&sentence.text);
        sentences
            .provenance
            .push((!sentence.provenance.is_empty()).then(|| sentence.provenance.to_compact()));
    }
    Ok(sentences)
}

/// Saves `chunks` (none: nothing to do) for job `id`'s `attempt`: the job row first, which
/// checks the attempt and locks the row against a concurrent requeue or cancel until the chunks
/// are in. Returns how many were saved now, or, when the attempt no longer holds the job, what
/// to answer instead (in a completion, a job completed by this attempt is already done), once
/// the transaction commits. A chunk out of order is refused with a conflict (the caller's
/// transaction, dropped, undoes what was written).
async fn save_held<D: Dialect>(
    conn: &mut DbConnection<D>,
    id: JobId,
    attempt: Attempt,
    chunks: &[ChunkResult],
    completing: bool,
) -> Result<Result<u64, Commit>, StoreError> {
    let Some(last) = chunks.last() else {
        return Ok(Ok(0));
    };
    let done = |job: &Job| completing && job.status == JobStatus::Completed;
    if D::WRITABLE_CTES {
        let sql = if completing {
            POSTGRES_SAVE_COMPLETING
        } else {
            POSTGRES_SAVE
        };
        let saved = Stmt::<D>::new(sql)
            .id(id)
            .int(attempt.get())
            .int(last.index)
            .chunks(chunk_columns(chunks)?)?
            .sentences(sentence_columns(chunks, |_| true)?)?
            .fetch_optional_as(&mut *conn, |c| Ok((c.count("next")?, c.count("saved")?)))
            .await?;
        let Some((next, saved)) = saved else {
            return Ok(Err(explain::<D>(conn, id, attempt, done).await?));
        };
        check_in_order(id, chunks, next)?;
        return Ok(Ok(saved));
    }
    let next = Stmt::<D>::new(SQLITE_SAVE.held)
        .id(id)
        .int(attempt.get())
        .int(last.index)
        .now()
        .fetch_optional_as(&mut *conn, |c| c.count("next"))
        .await?;
    let Some(next) = next else {
        return Ok(Err(explain::<D>(conn, id, attempt, done).await?));
    };
    check_in_order(id, chunks, next)?;
    let saved: HashSet<u32> = Stmt::<D>::new(SQLITE_SAVE.chunks)
        .id(id)
        .chunks(chunk_columns(chunks)?)?
        .fetch_all_as(&mut *conn, |c| c.u32("chunk_index"))
        .await?
        .into_iter()
        .collect();
    let sentences = sentence_columns(chunks, |index| saved.contains(&index))?;
    if !sentences.text.is_empty() {
        Stmt::<D>::new(SQLITE_SAVE.sentences)
            .id(id)
            .sentences(sentences)?
            .execute(&mut *conn)
            .await?;
    }
    Ok(Ok(saved.len() as u64))
}

/// A number for an `integer` column; the result's numbers never come near its bound.
fn column_int(value: impl TryInto<i32> + Copy + std::fmt::Display) -> Result<i32, StoreError> {
    value
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{value} does not fit an integer column")))
}

/// Warnings `$3` (JSON text or null) for job `$1`'s attempt `$2`; then the time.
const WARNINGS: Both = Both {
    postgres: "update jobs set warnings = $3, updated_at = now()
               where id = $1 and attempts = $2 and status = 'processing'",
    sqlite: "update jobs set warnings = $3, updated_at = $4
             where id = $1 and attempts = $2 and status = 'processing'",
};

/// Completes job `$1`'s attempt `$2` from one of the statuses `$5` with `$3` pages and `$4`
/// chunks, when exactly `$4` chunks are saved; then the time. Returns the worker holding it.
/// On PostgreSQL it also records the timeline entry (message `completed`, `$3` pages) and
/// returns the owner's webhooks.
const COMPLETE: Both = Both {
    postgres: concat!(
        "with completed as (
           update jobs
           set status = 'completed', progress_percent = 100, current_step = 'Completed',
               page_count = $3, chunk_count = $4,
               last_finished_chunk = case when $4 > 0 then $4 - 1 else last_finished_chunk end,
               sentence_count = (select coalesce(max(s.sentence_index) + 1, 0)
                                 from job_sentences s where s.job_id = $1),
               error_code = null, error_message = null, next_attempt_at = null,
               finished_at = now(), updated_at = now()
           where id = $1 and attempts = $2 and status = any($5)
             and (select count(*) from job_result_chunks c where c.job_id = $1) = $4
           returning worker_id, page_count
         ), recorded as (
           insert into job_events (job_id, attempt, status, worker_id, message, pages)
           select $1, $2, 'completed', worker_id, 'completed', page_count from completed
           returning ",
        owner_hooks!(),
        ") select worker_id, hooks from completed cross join recorded"
    ),
    sqlite: "update jobs
             set status = 'completed', progress_percent = 100, current_step = 'Completed',
                 page_count = $3, chunk_count = $4,
                 last_finished_chunk = case when $4 > 0 then $4 - 1 else last_finished_chunk end,
                 sentence_count = (select coalesce(max(s.sentence_index) + 1, 0)
                                   from job_sentences s where s.job_id = $1),
                 error_code = null, error_message = null, next_attempt_at = null,
                 finished_at = $6, updated_at = $6
             where id = $1 and attempts = $2 and status in (select value from json_each($5))
               and (select count(*) from job_result_chunks c where c.job_id = $1) = $4
             returning worker_id",
};

/// Fails job `$1`'s attempt `$2` to status `$3` (`$4` code, `$5` message, `$6` retry time, `$7`
/// step) from one of the statuses `$8`; then the time.
const FAIL: Both = Both {
    postgres: "update jobs
               set status = $3, error_code = $4, error_message = $5, next_attempt_at = $6,
                   current_step = $7, heartbeat_at = null, updated_at = now(),
                   finished_at = case when $3 = 'failed' then now() end
               where id = $1 and attempts = $2 and status = any($8)",
    sqlite: "update jobs
             set status = $3, error_code = $4, error_message = $5, next_attempt_at = $6,
                 current_step = $7, heartbeat_at = null, updated_at = $9,
                 finished_at = case when $3 = 'failed' then $9 end
             where id = $1 and attempts = $2 and status in (select value from json_each($8))",
};

/// Hands job `$1`'s attempt `$2` back to pending from one of the statuses `$3`; then the time.
const REQUEUE: Both = Both {
    postgres: "update jobs
               set status = 'pending', worker_id = null, heartbeat_at = null,
                   current_step = 'Queued', updated_at = now()
               where id = $1 and attempts = $2 and status = any($3)",
    sqlite: "update jobs
             set status = 'pending', worker_id = null, heartbeat_at = null,
                 current_step = 'Queued', updated_at = $4
             where id = $1 and attempts = $2 and status in (select value from json_each($3))",
};

/// Cancels job `$1` from one of the statuses `$2`; then the time.
const CANCEL: Both = Both {
    postgres: concat!(
        "update jobs
         set status = 'cancelled', cancel_requested = true, current_step = 'Cancelled',
             heartbeat_at = null, next_attempt_at = null, finished_at = now(), updated_at = now()
         where id = $1 and status = any($2)
         returning ",
        job_columns!()
    ),
    sqlite: concat!(
        "update jobs
         set status = 'cancelled', cancel_requested = 1, current_step = 'Cancelled',
             heartbeat_at = null, next_attempt_at = null, finished_at = $3, updated_at = $3
         where id = $1 and status in (select value from json_each($2))
         returning ",
        job_columns!()
    ),
};

/// Puts job `$1` back to pending from one of the statuses `$2`; then the time. `attempts` is
/// kept: attempt numbers only grow, so no write of an old attempt can ever match again. The
/// timeline keeps the history.
const RETRY: Both = Both {
    postgres: concat!(
        "update jobs
         set status = 'pending', cancel_requested = false, error_code = null,
             error_message = null, progress_percent = 0, current_step = 'Queued',
             worker_id = null, heartbeat_at = null, next_attempt_at = null,
             finished_at = null, updated_at = now()
         where id = $1 and status = any($2) and file_removed_at is null
         returning ",
        job_columns!()
    ),
    sqlite: concat!(
        "update jobs
         set status = 'pending', cancel_requested = 0, error_code = null,
             error_message = null, progress_percent = 0, current_step = 'Queued',
             worker_id = null, heartbeat_at = null, next_attempt_at = null,
             finished_at = null, updated_at = $3
         where id = $1 and status in (select value from json_each($2))
           and file_removed_at is null
         returning ",
        job_columns!()
    ),
};

/// A claimed job, and its upload where the claim reads it.
fn claimed_of<D: Dialect>(
    c: &crate::dialect::Columns<'_, D>,
) -> Result<(Job, ClaimedFile), StoreError> {
    let file = if D::CLAIM_READS_FILE {
        ClaimedFile::Read(super::files::stored_file_of(c)?)
    } else {
        ClaimedFile::Unread
    };
    Ok((job_of(c)?, file))
}

impl<D: Dialect> SqlStore<D> {
    /// `repeat` is true when safe commit tries again: a claim of ours that committed but whose
    /// answer was lost is then found and returned instead of being reported as lost.
    pub(crate) async fn claim_job(
        &self,
        id: JobId,
        worker: &WorkerId,
        repeat: bool,
    ) -> Result<Option<Claimed>, StoreError> {
        let mut tx = self.begin_write().await?;
        let claimed = Stmt::<D>::of(CLAIM)
            .id(id)
            .text(worker.as_str())
            .sources(Event::Claim)
            .now()
            .fetch_optional_as(&mut tx, |c| Ok((claimed_of(c)?, recorded_hooks(c)?)))
            .await?;
        let ((job, file), hooks) = match claimed {
            Some(claimed) => claimed,
            None if repeat => {
                let mine = Stmt::<D>::of(CLAIMED_BY)
                    .id(id)
                    .text(worker.as_str())
                    .fetch_optional_as(&mut tx, claimed_of)
                    .await?;
                return Ok(mine.map(|(job, file)| Claimed {
                    attempt: job.attempts,
                    job,
                    file,
                }));
            }
            None => return Ok(None),
        };
        let message = claim_message(job.attempts);
        let entry = Entry::new(job.attempts, "processing", Some(worker), &message);
        record_change::<D>(&mut tx, hooks, id, entry).await?;
        tx.commit().await?;
        Ok(Some(Claimed {
            attempt: job.attempts,
            job,
            file,
        }))
    }

    pub(crate) async fn heartbeat(
        &self,
        id: JobId,
        attempt: Attempt,
        worker: &WorkerId,
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = Stmt::<D>::of(HEARTBEAT)
            .id(id)
            .int(attempt.get())
            .text(worker.as_str())
            .now()
            .execute(&mut tx)
            .await?;
        settle::<D>(tx, updated, id, attempt, |_| false).await
    }

    pub(crate) async fn report_progress(
        &self,
        id: JobId,
        attempt: Attempt,
        progress: Progress,
        step: &CurrentStep,
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        // A report behind the current value (a late or repeated one) is not applied at all, so
        // the step text never goes back either.
        let updated = Stmt::<D>::of(PROGRESS)
            .id(id)
            .int(attempt.get())
            .int(progress.get())
            .text(step.as_str())
            .now()
            .execute(&mut tx)
            .await?;
        settle::<D>(tx, updated, id, attempt, |job| {
            job.status == JobStatus::Processing
        })
        .await
    }

    /// Saves finished chunks, and optionally the progress reached, in one transaction: the
    /// worker batches what it finished within one progress interval, so a small job costs a
    /// commit or two rather than one per chunk. A retry resumes after the last batch.
    pub(crate) async fn save_chunks(
        &self,
        id: JobId,
        attempt: Attempt,
        chunks: &[ChunkResult],
        progress: Option<(Progress, &CurrentStep)>,
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = match save_held::<D>(&mut tx, id, attempt, chunks, false).await? {
            Ok(inserted) => inserted,
            Err(commit) => {
                tx.commit().await?;
                return Ok(commit);
            }
        };
        if let Some((percent, step)) = progress {
            // Behind the current value (matches nothing) is not an error: see report_progress.
            let updated = Stmt::<D>::of(PROGRESS)
                .id(id)
                .int(attempt.get())
                .int(percent.get())
                .text(step.as_str())
                .now()
                .execute(&mut tx)
                .await?;
            if chunks.is_empty() {
                return settle::<D>(tx, updated, id, attempt, |job| {
                    job.status == JobStatus::Processing
                })
                .await;
            }
        }
        tx.commit().await?;
        // Write-once: a chunk already saved (by this attempt's earlier try or an earlier
        // attempt) is kept as it is.
        Ok(if inserted > 0 || chunks.is_empty() {
            Commit::Applied
        } else {
            Commit::AlreadyApplied
        })
    }

    pub(crate) async fn record_warnings(
        &self,
        id: JobId,
        attempt: Attempt,
        warnings: &[JobWarning],
    ) -> Result<Commit, StoreError> {
        let text = decode::warnings_text(warnings)?;
        let mut tx = self.begin_write().await?;
        let updated = Stmt::<D>::of(WARNINGS)
            .id(id)
            .int(attempt.get())
            .opt_text(text.as_deref())
            .now()
            .execute(&mut tx)
            .await?;
        settle::<D>(tx, updated, id, attempt, |job| job.warnings == warnings).await
    }

    pub(crate) async fn complete_job(
        &self,
        id: JobId,
        attempt: Attempt,
        page_count: u32,
        chunk_count: u32,
        last_chunks: &[ChunkResult],
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        // The last chunks, then the completion, in one transaction.
        let saved = save_held::<D>(&mut tx, id, attempt, last_chunks, true).await?;
        if let Err(commit) = saved {
            tx.commit().await?;
            return Ok(commit);
        }
        let updated = Stmt::<D>::of(COMPLETE)
            .id(id)
            .int(attempt.get())
            .int(page_count)
            .int(chunk_count)
            .sources(Event::Complete)
            .now()
            .fetch_optional_as(&mut tx, |c| {
                Ok((c.opt_text("worker_id")?, recorded_hooks(c)?))
            })
            .await?;
        let Some((worker, hooks)) = updated else {
            let commit = explain::<D>(&mut tx, id, attempt, |job| {
                job.status == JobStatus::Completed
            })
            .await?;
            // Still ours, so the chunk count is what did not match: completing now would
            // publish a result with chunks missing.
            if let Commit::Stale {
                status: Some(JobStatus::Processing),
                attempts,
            } = commit
                && attempts == attempt
            {
                let saved =
                    Stmt::<D>::new("select count(*) as n from job_result_chunks where job_id = $1")
                        .id(id)
                        .fetch_one_as(&mut tx, |c| c.count("n"))
                        .await?;
                return Err(StoreError::Conflict(
                    format!(
                        "job {id}: {saved} of {chunk_count} chunks are saved; the result would be incomplete"
                    )
                    .into(),
                ));
            }
            tx.commit().await?;
            return Ok(commit);
        };
        let worker = worker.map(WorkerId::from_stored);
        let entry = Entry {
            pages: Some(page_count),
            ..Entry::new(attempt, "completed", worker.as_ref(), "completed")
        };
        record_change::<D>(&mut tx, hooks, id, entry).await?;
        tx.commit().await?;
        Ok(Commit::Applied)
    }

    pub(crate) async fn fail_job(
        &self,
        id: JobId,
        attempt: Attempt,
        code: &str,
        message: &str,
        retry_at: Option<OffsetDateTime>,
    ) -> Result<Commit, StoreError> {
        let (event, target, step) = match retry_at {
            Some(_) => (
                Event::FailWithRetry,
                JobStatus::Retrying,
                "Waiting to retry",
            ),
            None => (Event::Fail, JobStatus::Failed, "Failed"),
        };
        let mut tx = self.begin_write().await?;
        let updated = Stmt::<D>::of(FAIL)
            .id(id)
            .int(attempt.get())
            .text(target.as_str())
            .text(code)
            .text(message)
            .typed(Typed::OptTime(retry_at))
            .text(step)
            .sources(event)
            .now()
            .execute(&mut tx)
            .await?;
        if updated == 0 {
            let commit = explain::<D>(&mut tx, id, attempt, |job| job.status == target).await?;
            tx.commit().await?;
            return Ok(commit);
        }
        let worker = current_worker::<D>(&mut tx, id).await?;
        let text = format!("{code}: {message}");
        let entry = Entry::new(attempt, target.as_str(), worker.as_ref(), &text);
        record_event::<D>(&mut tx, id, entry).await?;
        tx.commit().await?;
        Ok(Commit::Applied)
    }

    pub(crate) async fn requeue_job(
        &self,
        id: JobId,
        attempt: Attempt,
        reason: &str,
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        let worker = current_worker::<D>(&mut tx, id).await?;
        let updated = Stmt::<D>::of(REQUEUE)
            .id(id)
            .int(attempt.get())
            .sources(Event::Requeue)
            .now()
            .execute(&mut tx)
            .await?;
        if updated == 0 {
            let commit =
                explain::<D>(&mut tx, id, attempt, |job| job.status == JobStatus::Pending).await?;
            tx.commit().await?;
            return Ok(commit);
        }
        let entry = Entry::new(attempt, "pending", worker.as_ref(), reason);
        record_event::<D>(&mut tx, id, entry).await?;
        tx.commit().await?;
        Ok(Commit::Applied)
    }

    pub(crate) async fn cancel_job(&self, id: JobId) -> Result<Job, StoreError> {
        self.operator_change(id, Event::Cancel, CANCEL, "cancelled")
            .await
    }

    pub(crate) async fn retry_job(&self, id: JobId) -> Result<Job, StoreError> {
        self.operator_change(id, Event::Retry, RETRY, "retried by an operator")
            .await
    }

    /// A change made by a person through the API: no attempt to check, and a refusal is an
    /// error (409) rather than a stale result.
    async fn operator_change(
        &self,
        id: JobId,
        event: Event,
        update: Both,
        message: &str,
    ) -> Result<Job, StoreError> {
        let mut tx = self.begin_write().await?;
        let changed = Stmt::<D>::of(update)
            .id(id)
            .sources(event)
            .now()
            .fetch_optional_as(&mut tx, job_of)
            .await?;
        let Some(job) = changed else {
            let (from, file_removed) =
                Stmt::<D>::new("select status, file_removed_at from jobs where id = $1")
                    .id(id)
                    .fetch_one_as(&mut tx, |c| {
                        Ok((
                            decode::status(&c.text("status")?)?,
                            c.opt_time("file_removed_at")?.is_some(),
                        ))
                    })
                    .await?;
            if file_removed && from.transition(event).is_ok() {
                return Err(StoreError::FileGone);
            }
            return Err(pdfq_domain::TransitionError { from, event }.into());
        };
        let entry = Entry::new(job.attempts, job.status.as_str(), None, message);
        record_event::<D>(&mut tx, id, entry).await?;
        tx.commit().await?;
        Ok(job)
    }
}

/// Commits a worker's write to the job row: [`Commit::Applied`] when it changed the row
/// (`changed` is 1), else what [`explain`] finds (`done`: the job already shows this write).
async fn settle<D: Dialect>(
    mut tx: Transaction<'static, D::Db>,
    changed: u64,
    id: JobId,
    attempt: Attempt,
    done: impl Fn(&Job) -> bool,
) -> Result<Commit, StoreError> {
    let commit = if changed == 1 {
        Commit::Applied
    } else {
        explain::<D>(&mut tx, id, attempt, done).await?
    };
    tx.commit().await?;
    Ok(commit)
}
