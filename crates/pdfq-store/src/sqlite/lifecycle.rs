//! The job's status changes on SQLite: the same conditional updates as on PostgreSQL, each in a
//! transaction that holds the write lock from its first statement.

use pdfq_domain::job::JobEvent as Event;
use pdfq_domain::{Attempt, CurrentStep, JobId, JobStatus, Progress, WorkerId};
use time::OffsetDateTime;

use super::{SqliteStore, job_columns, job_from_row, now, record_event, ts};
use crate::StoreError;
use crate::decode;
use crate::model::{ChunkResult, Claimed, Commit, Job, JobWarning};

impl SqliteStore {
    pub(crate) async fn claim_job(
        &self,
        id: JobId,
        worker: &WorkerId,
        repeat: bool,
    ) -> Result<Option<Claimed>, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "update jobs
             set status = 'processing', attempts = attempts + 1, worker_id = $2,
                 started_at = $4, heartbeat_at = $4, updated_at = $4,
                 progress_percent = 0, current_step = 'Starting', next_attempt_at = null,
                 warnings = null
             where id = $1 and status in (select value from json_each($3)) and not cancel_requested
             returning ",
            job_columns!()
        ))
        .bind(id.to_string())
        .bind(worker.as_str())
        .bind(decode::sources_json(Event::Claim))
        .bind(now())
        .fetch_optional(&mut *tx)
        .await?;
        let job = match row {
            Some(row) => job_from_row(&row)?,
            None if repeat => {
                let mine = sqlx::query(concat!(
                    "select ",
                    job_columns!(),
                    " from jobs where id = $1 and status = 'processing' and worker_id = $2"
                ))
                .bind(id.to_string())
                .bind(worker.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                return mine
                    .as_ref()
                    .map(|row| {
                        let job = job_from_row(row)?;
                        Ok(Claimed {
                            attempt: job.attempts,
                            job,
                        })
                    })
                    .transpose();
            }
            None => return Ok(None),
        };
        let message = format!("claimed for attempt {}", job.attempts);
        record_event(
            &mut tx,
            id,
            job.attempts,
            "processing",
            Some(worker),
            &message,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(Claimed {
            attempt: job.attempts,
            job,
        }))
    }

    pub(crate) async fn heartbeat(
        &self,
        id: JobId,
        attempt: Attempt,
        worker: &WorkerId,
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "update jobs set heartbeat_at = $4
             where id = $1 and attempts = $2 and status = 'processing' and worker_id = $3",
        )
        .bind(id.to_string())
        .bind(i64::from(attempt.get()))
        .bind(worker.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let commit = if done.rows_affected() == 1 {
            Commit::Applied
        } else {
            self.explain(&mut tx, id, attempt, |_| false).await?
        };
        tx.commit().await?;
        Ok(commit)
    }

    pub(crate) async fn report_progress(
        &self,
        id: JobId,
        attempt: Attempt,
        progress: Progress,
        step: &CurrentStep,
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "update jobs
             set progress_percent = $3, current_step = $4, heartbeat_at = $5, updated_at = $5
             where id = $1 and attempts = $2 and status = 'processing' and progress_percent <= $3",
        )
        .bind(id.to_string())
        .bind(i64::from(attempt.get()))
        .bind(i64::from(progress.get()))
        .bind(step.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let commit = if done.rows_affected() == 1 {
            Commit::Applied
        } else {
            self.explain(&mut tx, id, attempt, |job| {
                job.status == JobStatus::Processing
            })
            .await?
        };
        tx.commit().await?;
        Ok(commit)
    }

    pub(crate) async fn save_chunk(
        &self,
        id: JobId,
        attempt: Attempt,
        chunk: &ChunkResult,
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        let current = sqlx::query(
            "update jobs
             set last_finished_chunk = max(coalesce(last_finished_chunk, -1), $3),
                 heartbeat_at = $4, updated_at = $4
             where id = $1 and attempts = $2 and status = 'processing'",
        )
        .bind(id.to_string())
        .bind(i64::from(attempt.get()))
        .bind(i64::from(chunk.index))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if current.rows_affected() == 0 {
            let commit = self.explain(&mut tx, id, attempt, |_| false).await?;
            tx.commit().await?;
            return Ok(commit);
        }
        let inserted = sqlx::query(
            "insert into job_chunks
                 (job_id, chunk_index, attempt, first_page, last_page, sentences, finished_at)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (job_id, chunk_index) do nothing",
        )
        .bind(id.to_string())
        .bind(i64::from(chunk.index))
        .bind(i64::from(attempt.get()))
        .bind(i64::from(chunk.first_page))
        .bind(i64::from(chunk.last_page))
        .bind(sqlx::types::Json(&chunk.sentences))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if inserted.rows_affected() == 1 {
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
        let done = sqlx::query(
            "update jobs set warnings = $3, updated_at = $4
             where id = $1 and attempts = $2 and status = 'processing'",
        )
        .bind(id.to_string())
        .bind(i64::from(attempt.get()))
        .bind(text)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        let commit = if done.rows_affected() == 1 {
            Commit::Applied
        } else {
            self.explain(&mut tx, id, attempt, |job| job.warnings == warnings)
                .await?
        };
        tx.commit().await?;
        Ok(commit)
    }

    pub(crate) async fn complete_job(
        &self,
        id: JobId,
        attempt: Attempt,
        page_count: u32,
        chunk_count: u32,
    ) -> Result<Commit, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "update jobs
             set status = 'completed', progress_percent = 100, current_step = 'Completed',
                 page_count = $3, chunk_count = $4,
                 sentence_count = (select coalesce(sum(json_array_length(c.sentences)), 0)
                                   from job_chunks c where c.job_id = $1),
                 error_code = null, error_message = null, next_attempt_at = null,
                 finished_at = $6, updated_at = $6
             where id = $1 and attempts = $2 and status in (select value from json_each($5))
               and (select count(*) from job_chunks c where c.job_id = $1) = $4",
        )
        .bind(id.to_string())
        .bind(i64::from(attempt.get()))
        .bind(i64::from(page_count))
        .bind(i64::from(chunk_count))
        .bind(decode::sources_json(Event::Complete))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let commit = self
                .explain(&mut tx, id, attempt, |job| {
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
                let saved: i64 =
                    sqlx::query_scalar("select count(*) from job_chunks where job_id = $1")
                        .bind(id.to_string())
                        .fetch_one(&mut *tx)
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
        }
        publish_result(&mut tx, id).await?;
        let worker = current_worker(&mut tx, id).await?;
        record_event(
            &mut tx,
            id,
            attempt,
            "completed",
            worker.as_ref(),
            "completed",
        )
        .await?;
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
        let done = sqlx::query(
            "update jobs
             set status = $3, error_code = $4, error_message = $5, next_attempt_at = $6,
                 current_step = $7, heartbeat_at = null, updated_at = $9,
                 finished_at = case when $3 = 'failed' then $9 end
             where id = $1 and attempts = $2 and status in (select value from json_each($8))",
        )
        .bind(id.to_string())
        .bind(i64::from(attempt.get()))
        .bind(target.as_str())
        .bind(code)
        .bind(message)
        .bind(retry_at.map(ts))
        .bind(step)
        .bind(decode::sources_json(event))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let commit = self
                .explain(&mut tx, id, attempt, |job| job.status == target)
                .await?;
            tx.commit().await?;
            return Ok(commit);
        }
        let worker = current_worker(&mut tx, id).await?;
        let text = format!("{code}: {message}");
        record_event(
            &mut tx,
            id,
            attempt,
            target.as_str(),
            worker.as_ref(),
            &text,
        )
        .await?;
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
        let worker = current_worker(&mut tx, id).await?;
        let done = sqlx::query(
            "update jobs
             set status = 'pending', worker_id = null, heartbeat_at = null,
                 current_step = 'Queued', updated_at = $4
             where id = $1 and attempts = $2 and status in (select value from json_each($3))",
        )
        .bind(id.to_string())
        .bind(i64::from(attempt.get()))
        .bind(decode::sources_json(Event::Requeue))
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let commit = self
                .explain(&mut tx, id, attempt, |job| job.status == JobStatus::Pending)
                .await?;
            tx.commit().await?;
            return Ok(commit);
        }
        record_event(&mut tx, id, attempt, "pending", worker.as_ref(), reason).await?;
        tx.commit().await?;
        Ok(Commit::Applied)
    }

    pub(crate) async fn cancel_job(&self, id: JobId) -> Result<Job, StoreError> {
        self.operator_change(
            id,
            Event::Cancel,
            "update jobs
             set status = 'cancelled', cancel_requested = 1, current_step = 'Cancelled',
                 heartbeat_at = null, next_attempt_at = null,
                 finished_at = $3, updated_at = $3
             where id = $1 and status in (select value from json_each($2))
             returning ",
            "cancelled",
        )
        .await
    }

    pub(crate) async fn retry_job(&self, id: JobId) -> Result<Job, StoreError> {
        self.operator_change(
            id,
            Event::Retry,
            "update jobs
             set status = 'pending', cancel_requested = 0, error_code = null,
                 error_message = null, progress_percent = 0, current_step = 'Queued',
                 worker_id = null, heartbeat_at = null, next_attempt_at = null,
                 finished_at = null, updated_at = $3
             where id = $1 and status in (select value from json_each($2))
             returning ",
            "retried by an operator",
        )
        .await
    }

    async fn operator_change(
        &self,
        id: JobId,
        event: Event,
        update: &str,
        message: &str,
    ) -> Result<Job, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!("{update}{}", job_columns!()))
            .bind(id.to_string())
            .bind(decode::sources_json(event))
            .bind(now())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            let status: Option<String> =
                sqlx::query_scalar("select status from jobs where id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            let from = decode::status(&status.ok_or(StoreError::NotFound)?)?;
            return Err(pdfq_domain::TransitionError { from, event }.into());
        };
        let job = job_from_row(&row)?;
        record_event(
            &mut tx,
            id,
            job.attempts,
            job.status.as_str(),
            None,
            message,
        )
        .await?;
        tx.commit().await?;
        Ok(job)
    }
}

/// Moves the finished chunks into the result: a row per chunk and one per sentence, numbered
/// across the whole result in chunk order (what a page of sentences seeks by).
async fn publish_result(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: JobId,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into job_result_chunks (job_id, chunk_index, first_page, last_page)
         select job_id, chunk_index, first_page, last_page from job_chunks where job_id = $1",
    )
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "insert into job_sentences (job_id, sentence_index, chunk_index, page, text)
         select c.job_id, row_number() over (order by c.chunk_index, s.key) - 1, c.chunk_index,
                json_extract(s.value, '$.page'), json_extract(s.value, '$.text')
         from job_chunks c, json_each(c.sentences) as s
         where c.job_id = $1",
    )
    .bind(id.to_string())
    .execute(&mut **tx)
    .await?;
    sqlx::query("delete from job_chunks where job_id = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn current_worker(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: JobId,
) -> Result<Option<WorkerId>, StoreError> {
    let worker: Option<Option<String>> =
        sqlx::query_scalar("select worker_id from jobs where id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
    Ok(worker.flatten().map(WorkerId::from_stored))
}
