//! The SQLite store: the embedded mode's database (`pdfctl up`), with the same operations as
//! the PostgreSQL one.
//!
//! SQLite keeps uuids as text, times as fixed-width RFC 3339 text in UTC (millisecond precision,
//! the same shape as the schema's `strftime` defaults, so text order is time order) and JSON as
//! text. Writes take the database's write lock at `begin immediate`, so a transaction never
//! fails half way on a lock upgrade; the busy timeout makes concurrent writers wait their turn.

mod jobs;
mod lifecycle;
mod tokens;
mod users;

pub use jobs::SENTENCE_PAGE;

use std::str::FromStr;
use std::time::Duration;

use pdfq_domain::{Attempt, JobId, UserId, WorkerId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use time::OffsetDateTime;

use crate::StoreError;
use crate::decode;
use crate::model::{Commit, Job, JobEvent, JobSummary, User};
use crate::retry::RetryPolicy;

macro_rules! job_columns {
    () => {
        "id, owner_id, status, progress_percent, current_step, attempts, error_code, error_message, \
         page_count, chunk_count, last_finished_chunk, sentence_count, file_name, file_size, \
         file_sha256, worker_id, cancel_requested, created_at, started_at, finished_at, updated_at, \
         heartbeat_at, next_attempt_at, warnings"
    };
}
pub(crate) use job_columns;

/// How long a writer waits for another one before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A store on an SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    retry: RetryPolicy,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`, `sqlite:path` or
    /// `sqlite::memory:`), in WAL mode with foreign keys on and a busy timeout.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::with_options(SqliteConnectOptions::from_str(url)?, in_memory).await
    }

    /// Opens (creating if needed) the database file at `path`. The path is used as it is, so
    /// characters that mean something in a URL (`?`, `#`, `%`) are fine.
    pub async fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        Self::with_options(SqliteConnectOptions::new().filename(path), false).await
    }

    async fn with_options(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // Each connection to an in-memory database is a database of its own: keep exactly one,
        // and never let it be closed for being idle or old.
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            // WAL lets readers run beside the one writer; writers queue on the busy timeout.
            SqlitePoolOptions::new().max_connections(4)
        };
        let pool = pool.connect_with(options).await?;
        Ok(Self::new(pool))
    }

    /// A store on an existing pool, with the design's retry schedule.
    #[must_use]
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            retry: RetryPolicy::default(),
        }
    }

    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    pub(crate) fn set_retry(&mut self, retry: RetryPolicy) {
        self.retry = retry;
    }

    /// A write transaction, holding the write lock from its first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("begin immediate").await?)
    }

    /// Where the job stands now, to explain a conditional write that matched nothing.
    async fn explain(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        id: JobId,
        attempt: Attempt,
        done: impl Fn(&Job) -> bool,
    ) -> Result<Commit, StoreError> {
        let row = sqlx::query(concat!(
            "select ",
            job_columns!(),
            " from jobs where id = $1"
        ))
        .bind(id.to_string())
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

/// A time as the embedded schema stores it: `2026-11-29T03:00:00.123Z`. Fixed width, so text
/// comparison in SQL is time comparison.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub(crate) fn now() -> String {
    ts(OffsetDateTime::now_utc())
}

/// Appends an entry to the job's timeline.
async fn record_event(
    tx: &mut Transaction<'_, Sqlite>,
    id: JobId,
    attempt: Attempt,
    status: &str,
    worker: Option<&WorkerId>,
    message: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into job_events (job_id, at, attempt, status, worker_id, message)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.to_string())
    .bind(now())
    .bind(i64::from(attempt.get()))
    .bind(status)
    .bind(worker.map(WorkerId::as_str))
    .bind(message)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) fn parse_id<T: From<uuid::Uuid>>(text: &str) -> Result<T, StoreError> {
    uuid::Uuid::parse_str(text)
        .map(T::from)
        .map_err(|e| StoreError::Corrupt(format!("bad uuid {text:?}: {e}")))
}

fn id_of<T: From<uuid::Uuid>>(row: &SqliteRow, column: &str) -> Result<T, StoreError> {
    parse_id(&row.try_get::<String, _>(column)?)
}

fn opt_int(row: &SqliteRow, column: &str) -> Result<Option<u32>, StoreError> {
    decode::opt_u32(row.try_get::<Option<i64>, _>(column)?, column)
}

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
    Ok(Job {
        id: id_of::<JobId>(row, "id")?,
        owner_id: id_of::<UserId>(row, "owner_id")?,
        status: decode::status(row.try_get("status")?)?,
        progress: decode::progress(row.try_get("progress_percent")?)?,
        current_step: row.try_get("current_step")?,
        attempts: decode::attempt(row.try_get("attempts")?)?,
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

fn summary_from_row(row: &SqliteRow) -> Result<JobSummary, StoreError> {
    Ok(JobSummary {
        id: id_of::<JobId>(row, "id")?,
        owner_id: id_of::<UserId>(row, "owner_id")?,
        owner_email: row.try_get("owner_email")?,
        status: decode::status(row.try_get("status")?)?,
        progress: decode::progress(row.try_get("progress_percent")?)?,
        current_step: row.try_get("current_step")?,
        attempts: decode::attempt(row.try_get("attempts")?)?,
        file_name: row.try_get("file_name")?,
        file_size: decode::u64_of(row.try_get("file_size")?, "file_size")?,
        error_code: row.try_get("error_code")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn event_from_row(row: &SqliteRow) -> Result<JobEvent, StoreError> {
    Ok(JobEvent {
        id: row.try_get("id")?,
        job_id: id_of::<JobId>(row, "job_id")?,
        at: row.try_get("at")?,
        attempt: decode::attempt(row.try_get("attempt")?)?,
        status: decode::status(row.try_get("status")?)?,
        worker_id: row
            .try_get::<Option<String>, _>("worker_id")?
            .map(WorkerId::from_stored),
        message: row.try_get("message")?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: id_of::<UserId>(row, "id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: decode::role(row.try_get("role")?)?,
        created_at: row.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_fixed_width_utc() {
        let t = time::macros::datetime!(2026-11-29 03:04:05.006789 +02:00);
        assert_eq!(ts(t), "2026-11-29T01:04:05.006Z");
        let whole = time::macros::datetime!(2026-11-29 03:04:05 UTC);
        assert_eq!(ts(whole), "2026-11-29T03:04:05.000Z");
        assert!(ts(whole) < ts(t + Duration::from_secs(7200)));
    }
}
