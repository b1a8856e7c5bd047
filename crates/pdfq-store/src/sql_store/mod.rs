//! The store's operations, each written once for both dialects ([`Dialect`]): the SQL that
//! differs stands side by side in [`Both`] next to the operation that runs it, and rows are
//! decoded here, once.

mod audit;
mod files;
mod jobs;
mod lifecycle;
mod tokens;
mod users;
mod webhooks;

pub use jobs::SENTENCE_PAGE;

use pdfq_domain::{Attempt, JobId, WorkerId};
use sqlx::pool::PoolConnection;
use sqlx::{Pool, Transaction};

use crate::StoreError;
use crate::decode;
use crate::dialect::{Both, Columns, DbConnection, Dialect, Stmt};
use crate::files::FileStore;
use crate::model::{Commit, Job, JobEvent, JobSummary, User};
use crate::retry::RetryPolicy;

/// The columns of [`Job`], which [`job_of`] reads by name.
macro_rules! job_columns {
    () => {
        "id, owner_id, status, progress_percent, current_step, attempts, error_code, error_message, \
         page_count, chunk_count, last_finished_chunk, sentence_count, file_name, file_size, \
         file_sha256, worker_id, cancel_requested, created_at, started_at, finished_at, updated_at, \
         heartbeat_at, next_attempt_at, warnings"
    };
}
pub(crate) use job_columns;

/// The columns of [`User`].
macro_rules! user_columns {
    () => {
        "id, email, password_hash, role, created_at"
    };
}
pub(crate) use user_columns;

/// A store on a pool of dialect `D`: [`crate::PgStore`] or [`crate::SqliteStore`].
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    pool: Pool<D::Db>,
    retry: RetryPolicy,
    files: FileStore,
}

// Not derived: that would ask the driver type itself to be Clone.
impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            retry: self.retry.clone(),
            files: self.files.clone(),
        }
    }
}

impl<D: Dialect> SqlStore<D> {
    /// A store on an existing pool, with the design's retry schedule.
    #[must_use]
    pub fn new(pool: Pool<D::Db>) -> Self {
        Self {
            pool,
            retry: RetryPolicy::default(),
            files: FileStore::Database,
        }
    }

    #[must_use]
    pub fn pool(&self) -> &Pool<D::Db> {
        &self.pool
    }

    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    pub(crate) fn set_retry(&mut self, retry: RetryPolicy) {
        self.retry = retry;
    }

    pub(crate) fn files(&self) -> &FileStore {
        &self.files
    }

    pub(crate) fn set_files(&mut self, files: FileStore) {
        self.files = files;
    }

    /// A connection for a read outside a transaction.
    async fn conn(&self) -> Result<PoolConnection<D::Db>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// A transaction that reads only.
    async fn begin_read(&self) -> Result<Transaction<'static, D::Db>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// A transaction that writes (on SQLite, holding the write lock from its first statement).
    async fn begin_write(&self) -> Result<Transaction<'static, D::Db>, StoreError> {
        Ok(self.pool.begin_with(D::BEGIN_WRITE).await?)
    }
}

/// Where the job stands now, to explain a conditional write that matched nothing.
async fn explain<D: Dialect>(
    conn: &mut DbConnection<D>,
    id: JobId,
    attempt: Attempt,
    done: impl Fn(&Job) -> bool,
) -> Result<Commit, StoreError> {
    let Some(job) = job_by_id::<D>(conn, id).await? else {
        return Ok(Commit::Stale {
            status: None,
            attempts: Attempt::NONE,
        });
    };
    if job.attempts == attempt && done(&job) {
        Ok(Commit::AlreadyApplied)
    } else {
        Ok(Commit::Stale {
            status: Some(job.status),
            attempts: job.attempts,
        })
    }
}

async fn job_by_id<D: Dialect>(
    conn: &mut DbConnection<D>,
    id: JobId,
) -> Result<Option<Job>, StoreError> {
    Stmt::<D>::new(concat!(
        "select ",
        job_columns!(),
        " from jobs where id = $1"
    ))
    .id(id)
    .fetch_optional_as(conn, job_of)
    .await
}

/// The webhooks of job `$1`'s owner, as [`record_event`] and the statements that record their
/// own timeline entry ([`Dialect::WRITABLE_CTES`]) return them: a JSON array of `[id, events]`
/// in column `hooks`. PostgreSQL only.
macro_rules! owner_hooks {
    () => {
        "(select coalesce(json_agg(json_build_array(w.id, w.events)), '[]'::json)::text
          from webhooks w join jobs j on j.owner_id = w.owner_id where j.id = $1) as hooks"
    };
}
pub(crate) use owner_hooks;

/// The owner's webhooks a status change's statement returned with the timeline entry it
/// recorded; `None` where the dialect records it apart ([`record_change`] then does).
fn recorded_hooks<D: Dialect>(c: &Columns<'_, D>) -> Result<Option<String>, StoreError> {
    if D::WRITABLE_CTES {
        c.text("hooks").map(Some)
    } else {
        Ok(None)
    }
}

/// An entry of a job's timeline: the attempt, the status it reached, the worker if any, what
/// happened, and on a completion how many pages (for the throughput view).
#[derive(Debug, Clone, Copy)]
struct Entry<'a> {
    attempt: Attempt,
    status: &'a str,
    worker: Option<&'a WorkerId>,
    message: &'a str,
    pages: Option<u32>,
}

impl<'a> Entry<'a> {
    fn new(
        attempt: Attempt,
        status: &'a str,
        worker: Option<&'a WorkerId>,
        message: &'a str,
    ) -> Self {
        Self {
            attempt,
            status,
            worker,
            message,
            pages: None,
        }
    }
}

/// Completes a status change's record: the timeline entry where its statement did not write
/// it (`hooks` is `None`), and the webhook deliveries it causes, in the change's transaction.
async fn record_change<D: Dialect>(
    conn: &mut DbConnection<D>,
    hooks: Option<String>,
    id: JobId,
    entry: Entry<'_>,
) -> Result<(), StoreError> {
    match hooks {
        Some(hooks) => webhooks::enqueue_deliveries::<D>(conn, &hooks, id, entry).await,
        None => record_event::<D>(conn, id, entry).await,
    }
}

/// Appends an entry to the job's timeline, and the webhook deliveries it causes (an outbox in
/// the same transaction: none is lost).
async fn record_event<D: Dialect>(
    conn: &mut DbConnection<D>,
    id: JobId,
    entry: Entry<'_>,
) -> Result<(), StoreError> {
    // The owner's webhooks come back with the insert (a JSON array of [id, events]): one
    // round trip, not two, on every status change.
    const RECORD_EVENT: Both = Both {
        postgres: concat!(
            "insert into job_events (job_id, attempt, status, worker_id, message, pages)
             values ($1, $2, $3, $4, $5, $6)
             returning ",
            owner_hooks!()
        ),
        sqlite: "insert into job_events (job_id, attempt, status, worker_id, message, pages, at)
                 values ($1, $2, $3, $4, $5, $6, $7)
                 returning (select json_group_array(json_array(w.id, w.events))
                            from webhooks w join jobs j on j.owner_id = w.owner_id
                            where j.id = $1) as hooks",
    };
    let hooks = Stmt::<D>::of(RECORD_EVENT)
        .id(id)
        .int(entry.attempt.get())
        .text(entry.status)
        .opt_text(entry.worker.map(WorkerId::as_str))
        .text(entry.message)
        .opt_int(entry.pages.map(i64::from))
        .now()
        .fetch_one_as(&mut *conn, |c| c.text("hooks"))
        .await?;
    webhooks::enqueue_deliveries::<D>(conn, &hooks, id, entry).await
}

/// Runs `delete`, which deletes the row `$1`; [`StoreError::NotFound`] when there is none.
async fn delete_by_id<D: Dialect>(
    conn: &mut DbConnection<D>,
    delete: &'static str,
    id: impl Into<uuid::Uuid>,
) -> Result<(), StoreError> {
    match Stmt::<D>::new(delete).id(id).execute(conn).await? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// The worker that holds the job now, if any.
async fn current_worker<D: Dialect>(
    conn: &mut DbConnection<D>,
    id: JobId,
) -> Result<Option<WorkerId>, StoreError> {
    let worker = Stmt::<D>::new("select worker_id from jobs where id = $1")
        .id(id)
        .fetch_optional_as(conn, |c| c.opt_text("worker_id"))
        .await?;
    Ok(worker.flatten().map(WorkerId::from_stored))
}

pub(super) fn job_of<D: Dialect>(c: &Columns<'_, D>) -> Result<Job, StoreError> {
    Ok(Job {
        id: c.id("id")?,
        owner_id: c.id("owner_id")?,
        status: decode::status(&c.text("status")?)?,
        progress: decode::progress(c.int("progress_percent")?)?,
        current_step: c.text("current_step")?,
        attempts: decode::attempt(c.int("attempts")?)?,
        error_code: c.opt_text("error_code")?,
        error_message: c.opt_text("error_message")?,
        page_count: c.opt_u32("page_count")?,
        chunk_count: c.opt_u32("chunk_count")?,
        last_finished_chunk: c.opt_u32("last_finished_chunk")?,
        sentence_count: c.opt_u32("sentence_count")?,
        file_name: c.text("file_name")?,
        file_size: c.count("file_size")?,
        file_sha256: c.bytes("file_sha256")?,
        worker_id: c.opt_text("worker_id")?.map(WorkerId::from_stored),
        cancel_requested: c.flag("cancel_requested")?,
        created_at: c.time("created_at")?,
        started_at: c.opt_time("started_at")?,
        finished_at: c.opt_time("finished_at")?,
        updated_at: c.time("updated_at")?,
        heartbeat_at: c.opt_time("heartbeat_at")?,
        next_attempt_at: c.opt_time("next_attempt_at")?,
        warnings: decode::warnings(c.opt_text("warnings")?)?,
    })
}

fn summary_of<D: Dialect>(c: &Columns<'_, D>) -> Result<JobSummary, StoreError> {
    Ok(JobSummary {
        id: c.id("id")?,
        owner_id: c.id("owner_id")?,
        owner_email: c.text("owner_email")?,
        status: decode::status(&c.text("status")?)?,
        progress: decode::progress(c.int("progress_percent")?)?,
        current_step: c.text("current_step")?,
        attempts: decode::attempt(c.int("attempts")?)?,
        file_name: c.text("file_name")?,
        file_size: c.count("file_size")?,
        error_code: c.opt_text("error_code")?,
        error_message: c.opt_text("error_message")?,
        created_at: c.time("created_at")?,
        started_at: c.opt_time("started_at")?,
        finished_at: c.opt_time("finished_at")?,
    })
}

fn event_of<D: Dialect>(c: &Columns<'_, D>) -> Result<JobEvent, StoreError> {
    Ok(JobEvent {
        id: c.int("id")?,
        job_id: c.id("job_id")?,
        at: c.time("at")?,
        attempt: decode::attempt(c.int("attempt")?)?,
        status: decode::status(&c.text("status")?)?,
        worker_id: c.opt_text("worker_id")?.map(WorkerId::from_stored),
        message: c.text("message")?,
    })
}

fn user_of<D: Dialect>(c: &Columns<'_, D>) -> Result<User, StoreError> {
    Ok(User {
        id: c.id("id")?,
        email: c.text("email")?,
        password_hash: c.text("password_hash")?,
        role: decode::role(&c.text("role")?)?,
        created_at: c.time("created_at")?,
    })
}

/// A job's `(id, attempts)`.
fn id_attempt<D: Dialect>(c: &Columns<'_, D>) -> Result<(JobId, Attempt), StoreError> {
    Ok((c.id("id")?, decode::attempt(c.int("attempts")?)?))
}
