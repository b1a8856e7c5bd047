//! The PostgreSQL store: the distributed mode's database.

mod jobs;
mod lifecycle;
mod tokens;
mod users;

pub use jobs::SENTENCE_PAGE;

use pdfq_domain::{Attempt, JobId, UserId, WorkerId};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};

use crate::StoreError;
use crate::decode;
use crate::model::{Commit, Job, JobEvent, JobSummary, User};
use crate::retry::RetryPolicy;

/// The columns of [`Job`], in the order [`job_from_row`] reads them by name.
macro_rules! job_columns {
    () => {
        "id, owner_id, status, progress_percent, current_step, attempts, error_code, error_message, \
         page_count, chunk_count, last_finished_chunk, sentence_count, file_name, file_size, \
         file_sha256, worker_id, cancel_requested, created_at, started_at, finished_at, updated_at, \
         heartbeat_at, next_attempt_at, warnings"
    };
}
pub(crate) use job_columns;

/// A store on a PostgreSQL pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    retry: RetryPolicy,
}

impl PgStore {
    /// A store on an existing pool, with the design's retry schedule.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            retry: RetryPolicy::default(),
        }
    }

    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    pub(crate) fn set_retry(&mut self, retry: RetryPolicy) {
        self.retry = retry;
    }

    /// Where the job stands now, to explain a conditional write that matched nothing.
    async fn explain(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        id: JobId,
        attempt: Attempt,
        done: impl Fn(&Job) -> bool,
    ) -> Result<Commit, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            job_columns!(),
            " from jobs where id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(Commit::Stale {
                status: None,
                attempts: Attempt::NONE,
            });
        };
        let job = job_from_row(&row)?;
        if job.attempts == attempt && done(&job) {
            Ok(Commit::AlreadyApplied)
        } else {
            Ok(Commit::Stale {
                status: Some(job.status),
                attempts: job.attempts,
            })
        }
    }
}

/// Appends an entry to the job's timeline.
async fn record_event(
    tx: &mut Transaction<'_, Postgres>,
    id: JobId,
    attempt: Attempt,
    status: &str,
    worker: Option<&WorkerId>,
    message: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into job_events (job_id, attempt, status, worker_id, message)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(id.as_uuid())
    .bind(i64::from(attempt.get()))
    .bind(status)
    .bind(worker.map(WorkerId::as_str))
    .bind(message)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: JobId::from_uuid(row.try_get("id")?),
        owner_id: UserId::from_uuid(row.try_get("owner_id")?),
        status: decode::status(row.try_get("status")?)?,
        progress: decode::progress(row.try_get::<i16, _>("progress_percent")?.into())?,
        current_step: row.try_get("current_step")?,
        attempts: decode::attempt(row.try_get::<i32, _>("attempts")?.into())?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
        page_count: opt_int(row, "page_count")?,
        chunk_count: opt_int(row, "chunk_count")?,
        last_finished_chunk: opt_int(row, "last_finished_chunk")?,
        sentence_count: opt_int(row, "sentence_count")?,
        file_name: row.try_get("file_name")?,
        file_size: decode::u64_of(row.try_get("file_size")?, "file_size")?,
        file_sha256: row.try_get("file_sha256")?,
        worker_id: row
            .try_get::<Option<String>, _>("worker_id")?
            .map(WorkerId::from_stored),
        cancel_requested: row.try_get("cancel_requested")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        updated_at: row.try_get("updated_at")?,
        heartbeat_at: row.try_get("heartbeat_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        warnings: decode::warnings(row.try_get("warnings")?)?,
    })
}

fn opt_int(row: &PgRow, column: &str) -> Result<Option<u32>, StoreError> {
    decode::opt_u32(
        row.try_get::<Option<i32>, _>(column)?.map(i64::from),
        column,
    )
}

fn summary_from_row(row: &PgRow) -> Result<JobSummary, StoreError> {
    Ok(JobSummary {
        id: JobId::from_uuid(row.try_get("id")?),
        owner_id: UserId::from_uuid(row.try_get("owner_id")?),
        owner_email: row.try_get("owner_email")?,
        status: decode::status(row.try_get("status")?)?,
        progress: decode::progress(row.try_get::<i16, _>("progress_percent")?.into())?,
        current_step: row.try_get("current_step")?,
        attempts: decode::attempt(row.try_get::<i32, _>("attempts")?.into())?,
        file_name: row.try_get("file_name")?,
        file_size: decode::u64_of(row.try_get("file_size")?, "file_size")?,
        error_code: row.try_get("error_code")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn event_from_row(row: &PgRow) -> Result<JobEvent, StoreError> {
    Ok(JobEvent {
        id: row.try_get("id")?,
        job_id: JobId::from_uuid(row.try_get("job_id")?),
        at: row.try_get("at")?,
        attempt: decode::attempt(row.try_get::<i32, _>("attempt")?.into())?,
        status: decode::status(row.try_get("status")?)?,
        worker_id: row
            .try_get::<Option<String>, _>("worker_id")?
            .map(WorkerId::from_stored),
        message: row.try_get("message")?,
    })
}

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::from_uuid(row.try_get("id")?),
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: decode::role(row.try_get("role")?)?,
        created_at: row.try_get("created_at")?,
    })
}
