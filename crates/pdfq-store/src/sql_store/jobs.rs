//! Jobs: creating them and every read the API, the dashboard and the sweepers make.

use std::time::Duration;

use pdfq_domain::{Attempt, JobId, JobStatus, UserId, WorkerId};
use time::OffsetDateTime;

use super::files::usage_of;
use super::{
    Entry, SqlStore, delete_by_id, event_of, id_attempt, job_by_id, job_columns, job_of,
    record_event, summary_of,
};
use crate::StoreError;
use crate::decode;
use crate::dialect::{Both, Columns, DbConnection, Dialect, Stmt, Typed};
use crate::error::ResultExt;
use crate::files::StoredFile;
use crate::model::{
    ChunkResult, Failure, FinishedBucket, IDEMPOTENCY_KEY_TAKEN, IdempotencyKey, Job, JobEvent,
    JobFilter, JobSearch, JobSummary, NewJob, Page, Sentence, SentenceRow, StatusCounts,
};
use crate::provenance::Provenance;

/// The columns of [`JobSummary`], read from `jobs j join users u`.
macro_rules! summary_columns {
    () => {
        "j.id, j.owner_id, u.email as owner_email, j.status, j.progress_percent, j.current_step, \
         j.attempts, j.file_name, j.file_size, j.error_code, j.error_message, j.created_at, \
         j.started_at, j.finished_at"
    };
}

/// A page of sentences: `$1` the job, `$2` the first index, `$3` the index past the last. Public
/// so that the tests can check its plan is a primary-key range read.
pub const SENTENCE_PAGE: &str = "select sentence_index, text, page, chunk_index, provenance
     from job_sentences
     where job_id = $1 and sentence_index >= $2 and sentence_index < $3
     order by sentence_index";

/// The violated constraint when a job with this id exists (SQLite names its columns).
const JOBS_PKEY: Both = Both {
    postgres: "jobs_pkey",
    sqlite: "jobs.id",
};

/// The violated constraint when the owner has used the idempotency key.
const IDEMPOTENCY_KEYS_PKEY: Both = Both {
    postgres: "idempotency_keys_pkey",
    sqlite: "idempotency_keys.key",
};

/// Locks the owner's row (`$1`) until the transaction ends, so that the quota checks of one
/// owner's new jobs take turns. PostgreSQL: `no key update` leaves the row's key free, so rows
/// that refer to it (the job inserted next) are not held up. SQLite: the write transaction
/// (`begin immediate`) already holds the database's one write lock; the read is all there is.
const LOCK_OWNER: Both = Both {
    postgres: "select id from users where id = $1 for no key update",
    sqlite: "select id from users where id = $1",
};

/// The jobs list's filter: `$1` the owner, `$2` the status, either null for any.
const LIST_FILTER: Both = Both {
    postgres: "where ($1::uuid is null or j.owner_id = $1) and ($2::text is null or j.status = $2)",
    sqlite: "where ($1 is null or j.owner_id = $1) and ($2 is null or j.status = $2)",
};

/// The admin search's filter: `$1` part of the id, `$2` the status, `$3` the owner's email and
/// `$4` the file name (lowercase LIKE patterns), `$5` the error code, `$6` created before; each
/// null for any.
const SEARCH_FILTER: Both = Both {
    postgres: "where ($1::text is null or j.id::text like $1 escape '\\')
                 and ($2::text is null or j.status = $2)
                 and ($3::text is null or lower(u.email) like $3 escape '\\')
                 and ($4::text is null or lower(j.file_name) like $4 escape '\\')
                 and ($5::text is null or j.error_code = $5)
                 and ($6::timestamptz is null or j.created_at < $6)",
    sqlite: "where ($1 is null or j.id like $1 escape '\\')
               and ($2 is null or j.status = $2)
               and ($3 is null or lower(u.email) like $3 escape '\\')
               and ($4 is null or lower(j.file_name) like $4 escape '\\')
               and ($5 is null or j.error_code = $5)
               and ($6 is null or j.created_at < $6)",
};

/// Completed and failed jobs and completed pages from `$1` on, per bucket of `$2` seconds
/// (counted from the Unix epoch) and worker, by their events. SQLite's times are fixed-width
/// text, which `strftime` reads.
const FINISHED_BUCKETS: Both = Both {
    postgres: "select to_timestamp(floor(extract(epoch from at) / $2) * $2) as bucket, worker_id,
                      count(*) filter (where status = 'completed') as completed,
                      count(*) filter (where status = 'failed') as failed,
                      coalesce(sum(pages) filter (where status = 'completed'), 0) as pages
               from job_events
               where at >= $1 and status in ('completed', 'failed')
               group by 1, 2 order by 1, 2",
    sqlite: "select strftime('%Y-%m-%dT%H:%M:%S.000Z',
                             cast(strftime('%s', at) as integer) / $2 * $2, 'unixepoch') as bucket,
                    worker_id,
                    sum(status = 'completed') as completed,
                    sum(status = 'failed') as failed,
                    coalesce(sum(case when status = 'completed' then pages end), 0) as pages
             from job_events
             where at >= $1 and status in ('completed', 'failed')
             group by 1, 2 order by 1, 2",
};

/// When the oldest pending job was last updated, and the time now on the clock that stamped it.
const OLDEST_PENDING: Both = Both {
    postgres: "select min(updated_at) as oldest, now() as now from jobs where status = 'pending'",
    sqlite: "select min(updated_at) as oldest, $1 as now from jobs where status = 'pending'",
};

/// Every sentence of job `$1` as one JSON array of `[chunk, page, text]` in reading order.
const SENTENCE_TRIPLES: Both = Both {
    postgres: "select json_agg(json_build_array(chunk_index, page, text)
                               order by sentence_index)::text as triples
               from job_sentences where job_id = $1",
    sqlite: "select json_group_array(json_array(chunk_index, page, text) order by sentence_index)
                    as triples
             from job_sentences where job_id = $1",
};

/// Running jobs whose heartbeat is older than `$1` ago, at most `$2`.
const STALE_PROCESSING: Both = Both {
    postgres: "select id, attempts from jobs
               where status = 'processing' and heartbeat_at < now() - make_interval(secs => $1)
               order by heartbeat_at limit $2",
    sqlite: "select id, attempts from jobs
             where status = 'processing' and heartbeat_at < $1
             order by heartbeat_at limit $2",
};

/// Jobs pending since longer than `$1` ago, at most `$2`.
const PENDING_OLDER_THAN: Both = Both {
    postgres: "select id from jobs
               where status = 'pending' and not cancel_requested
                 and updated_at < now() - make_interval(secs => $1)
               order by updated_at limit $2",
    sqlite: "select id from jobs
             where status = 'pending' and not cancel_requested and updated_at < $1
             order by updated_at limit $2",
};

impl<D: Dialect> SqlStore<D> {
    pub(crate) async fn create_job(
        &self,
        new: &NewJob,
        key: Option<&IdempotencyKey<'_>>,
        file: &StoredFile,
    ) -> Result<Job, StoreError> {
        let mut tx = self.begin_write().await?;
        if !new.quotas.is_unlimited() {
            // Until this transaction ends, no other job of the owner passes this point: the
            // usage read next includes every job committed before, so uploads received
            // together cannot all fit in the same free room. (A deleted owner: no row, and the
            // insert below fails on its reference.)
            Stmt::<D>::of(LOCK_OWNER)
                .id(new.owner)
                .fetch_optional(&mut *tx)
                .await?;
            let usage = usage_of::<D>(&mut *tx, new.owner).await?;
            new.quotas.check(usage, new.file_size)?;
        }
        let row = Stmt::<D>::new(concat!(
            "insert into jobs (id, owner_id, file_name, file_size, file_sha256)
             values ($1, $2, $3, $4, $5)
             returning ",
            job_columns!()
        ))
        .id(new.id)
        .id(new.owner)
        .text(&new.file_name)
        .count(new.file_size)
        .bytes(&new.sha256)
        .fetch_one(&mut *tx)
        .await
        .on_constraint(D::sql(JOBS_PKEY), |_| {
            StoreError::Conflict("a job with this id exists".into())
        })?;
        let job = job_of(&Columns::<D>::of(&row))?;
        match file {
            StoredFile::Object(object) => {
                let linked = Stmt::<D>::new(
                    "update stored_files set job_id = $1 where key = $2 and job_id is null",
                )
                .id(new.id)
                .text(object)
                .execute(&mut *tx)
                .await?;
                if linked != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "no unlinked record of {object}"
                    )));
                }
            }
            StoredFile::Bytes(bytes) => {
                Stmt::<D>::new("insert into job_files (job_id, content) values ($1, $2)")
                    .id(new.id)
                    .bytes(bytes)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let entry = Entry::new(Attempt::NONE, "pending", None, "created");
        record_event::<D>(&mut tx, new.id, entry).await?;
        if let Some(key) = key {
            // Keys past their lifetime are free again (and this user's old ones are swept).
            Stmt::<D>::new("delete from idempotency_keys where owner_id = $1 and created_at < $2")
                .id(new.owner)
                .time(key.issued_after)
                .execute(&mut *tx)
                .await?;
            Stmt::<D>::new(
                "insert into idempotency_keys (owner_id, key, job_id) values ($1, $2, $3)",
            )
            .id(new.owner)
            .text(key.key)
            .id(new.id)
            .execute(&mut *tx)
            .await
            .on_constraint(D::sql(IDEMPOTENCY_KEYS_PKEY), |_| {
                StoreError::Conflict(IDEMPOTENCY_KEY_TAKEN.into())
            })?;
        }
        tx.commit().await?;
        Ok(job)
    }

    pub(crate) async fn job_for_idempotency_key(
        &self,
        owner: UserId,
        key: &str,
        issued_after: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError> {
        Stmt::<D>::new(concat!(
            "select ",
            job_columns!(),
            " from jobs where id = (select job_id from idempotency_keys
                                    where owner_id = $1 and key = $2 and created_at >= $3)"
        ))
        .id(owner)
        .text(key)
        .time(issued_after)
        .fetch_optional_as(&mut *self.conn().await?, job_of)
        .await
    }

    pub(crate) async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        job_by_id::<D>(&mut *self.conn().await?, id).await
    }

    pub(crate) async fn get_job_for_owner(
        &self,
        id: JobId,
        owner: UserId,
    ) -> Result<Option<Job>, StoreError> {
        Stmt::<D>::new(concat!(
            "select ",
            job_columns!(),
            " from jobs where id = $1 and owner_id = $2"
        ))
        .id(id)
        .id(owner)
        .fetch_optional_as(&mut *self.conn().await?, job_of)
        .await
    }

    pub(crate) async fn list_jobs(
        &self,
        filter: &JobFilter,
    ) -> Result<Page<JobSummary>, StoreError> {
        let owner = Typed::OptId(filter.owner.map(Into::into));
        let status = filter.status.map(JobStatus::as_str);
        let mut conn = self.conn().await?;
        let items = Stmt::<D>::new(&format!(
            "select {} from jobs j join users u on u.id = j.owner_id {}
             order by j.created_at desc, j.id desc
             limit $3 offset $4",
            summary_columns!(),
            D::sql(LIST_FILTER),
        ))
        .typed(owner)
        .opt_text(status)
        .int(filter.limit)
        .count(filter.offset)
        .fetch_all_as(&mut conn, summary_of)
        .await?;
        let total = Stmt::<D>::new(&format!(
            "select count(*) as n from jobs j {}",
            D::sql(LIST_FILTER)
        ))
        .typed(owner)
        .opt_text(status)
        .fetch_one_as(&mut conn, |c| c.count("n"))
        .await?;
        Ok(Page { items, total })
    }

    pub(crate) async fn search_jobs(
        &self,
        search: &JobSearch,
    ) -> Result<Page<JobSummary>, StoreError> {
        let patterns = SearchPatterns {
            id: decode::id_part_pattern(search.id.as_deref()),
            email: decode::contains_pattern(search.owner_email.as_deref()),
            file: decode::contains_pattern(search.file_name.as_deref()),
        };
        let rows_sql = format!(
            "select {} from jobs j join users u on u.id = j.owner_id {}
             order by j.created_at desc, j.id desc
             limit $7 offset $8",
            summary_columns!(),
            D::sql(SEARCH_FILTER)
        );
        let count_sql = format!(
            "select count(*) as n from jobs j join users u on u.id = j.owner_id {}",
            D::sql(SEARCH_FILTER)
        );
        let mut conn = self.conn().await?;
        let items = patterns
            .bind(Stmt::<D>::new(&rows_sql), search)
            .int(search.limit)
            .count(search.offset)
            .fetch_all_as(&mut conn, summary_of)
            .await?;
        let total = patterns
            .bind(Stmt::<D>::new(&count_sql), search)
            .fetch_one_as(&mut conn, |c| c.count("n"))
            .await?;
        Ok(Page { items, total })
    }

    pub(crate) async fn job_events(&self, id: JobId) -> Result<Vec<JobEvent>, StoreError> {
        Stmt::<D>::new(
            "select id, job_id, at, attempt, status, worker_id, message
             from job_events where job_id = $1 order by id",
        )
        .id(id)
        .fetch_all_as(&mut *self.conn().await?, event_of)
        .await
    }

    pub(crate) async fn delete_job(&self, id: JobId) -> Result<(), StoreError> {
        delete_by_id::<D>(
            &mut *self.conn().await?,
            "delete from jobs where id = $1",
            id,
        )
        .await
    }

    pub(crate) async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        let counts = Stmt::<D>::new("select status, count(*) as n from jobs group by status")
            .fetch_all_as(&mut *self.conn().await?, |c| {
                Ok((decode::status(&c.text("status")?)?, c.count("n")?))
            })
            .await?;
        let mut by_status = StatusCounts::default();
        for (status, n) in counts {
            by_status.set(status, n);
        }
        Ok(by_status)
    }

    pub(crate) async fn failures_since(
        &self,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Failure>, StoreError> {
        Stmt::<D>::new(
            "select id, coalesce(error_code, 'unknown') as code,
                    coalesce(error_message, '') as message, finished_at
             from jobs where status = 'failed' and finished_at >= $1
             order by finished_at desc limit $2",
        )
        .time(since)
        .int(limit)
        .fetch_all_as(&mut *self.conn().await?, |c| {
            Ok(Failure {
                id: c.id("id")?,
                code: c.text("code")?,
                message: c.text("message")?,
                finished_at: c.time("finished_at")?,
            })
        })
        .await
    }

    pub(crate) async fn finished_buckets(
        &self,
        since: OffsetDateTime,
        bucket: Duration,
    ) -> Result<Vec<FinishedBucket>, StoreError> {
        let width = i64::try_from(bucket.as_secs().max(1)).unwrap_or(i64::MAX);
        Stmt::<D>::of(FINISHED_BUCKETS)
            .time(since)
            .int(width)
            .fetch_all_as(&mut *self.conn().await?, |c| {
                Ok(FinishedBucket {
                    start: c.time("bucket")?,
                    worker_id: c.opt_text("worker_id")?.map(WorkerId::from_stored),
                    completed: c.count("completed")?,
                    failed: c.count("failed")?,
                    pages: c.count("pages")?,
                })
            })
            .await
    }

    pub(crate) async fn oldest_pending_age(&self) -> Result<Option<Duration>, StoreError> {
        let (oldest, now) = Stmt::<D>::of(OLDEST_PENDING)
            .now()
            .fetch_one_as(&mut *self.conn().await?, |c| {
                Ok((c.opt_time("oldest")?, c.time("now")?))
            })
            .await?;
        Ok(oldest.map(|oldest| Duration::try_from(now - oldest).unwrap_or(Duration::ZERO)))
    }

    /// One primary-key range of `job_sentences`: an index seek and `limit` rows, whatever the
    /// depth, bounded by `timeout` where the dialect needs it
    /// ([`Dialect::STATEMENT_TIMEOUT`]).
    pub(crate) async fn sentences(
        &self,
        id: JobId,
        offset: u64,
        limit: u32,
        timeout: Duration,
    ) -> Result<Page<SentenceRow>, StoreError> {
        let start = decode::i64_of(offset);
        let mut tx = self.begin_read().await?;
        limit_statements::<D>(&mut tx, timeout).await?;
        // The rows of a job still running are its saved chunks, not yet a result.
        let Some(total) = sentence_count::<D>(&mut tx, id).await? else {
            tx.commit().await?;
            return Ok(Page {
                items: Vec::new(),
                total: 0,
            });
        };
        let items = Stmt::<D>::new(SENTENCE_PAGE)
            .id(id)
            .int(start)
            .int(start.saturating_add(i64::from(limit)))
            .fetch_all_as(&mut tx, |c| {
                Ok(SentenceRow {
                    index: c.count("sentence_index")?,
                    text: c.text("text")?,
                    page: c.u32("page")?,
                    chunk: c.u32("chunk_index")?,
                    provenance: c
                        .opt_text("provenance")?
                        .map_or(Ok(Provenance::default()), |p| Provenance::from_compact(&p))?,
                })
            })
            .await?;
        tx.commit().await?;
        Ok(Page {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// The chunks, then the sentences in key order: one pass over each, bounded by `timeout`
    /// where the dialect needs it.
    pub(crate) async fn job_results(
        &self,
        id: JobId,
        timeout: Duration,
    ) -> Result<Option<Vec<ChunkResult>>, StoreError> {
        let mut tx = self.begin_read().await?;
        limit_statements::<D>(&mut tx, timeout).await?;
        // Set when the job completed: before that its saved chunks are not yet a result.
        if sentence_count::<D>(&mut tx, id).await?.is_none() {
            return Ok(None);
        }
        let chunks = saved_chunks::<D>(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Some(chunks))
    }

    /// The chunks saved so far, with their sentences (without provenance), whether or not the
    /// job has completed: what a retry resumes after.
    pub(crate) async fn finished_chunks(&self, id: JobId) -> Result<Vec<ChunkResult>, StoreError> {
        let mut tx = self.begin_read().await?;
        let chunks = saved_chunks::<D>(&mut tx, id).await?;
        tx.commit().await?;
        Ok(chunks)
    }

    pub(crate) async fn finished_chunk_indexes(&self, id: JobId) -> Result<Vec<u32>, StoreError> {
        Stmt::<D>::new(
            "select chunk_index from job_result_chunks where job_id = $1 order by chunk_index",
        )
        .id(id)
        .fetch_all_as(&mut *self.conn().await?, |c| c.u32("chunk_index"))
        .await
    }

    pub(crate) async fn stale_processing(
        &self,
        older_than: Duration,
        limit: u32,
    ) -> Result<Vec<(JobId, Attempt)>, StoreError> {
        Stmt::<D>::of(STALE_PROCESSING)
            .ago(older_than)
            .int(limit)
            .fetch_all_as(&mut *self.conn().await?, id_attempt)
            .await
    }

    pub(crate) async fn pending_older_than(
        &self,
        age: Duration,
        limit: u32,
    ) -> Result<Vec<JobId>, StoreError> {
        Stmt::<D>::of(PENDING_OLDER_THAN)
            .ago(age)
            .int(limit)
            .fetch_all_as(&mut *self.conn().await?, |c| c.id("id"))
            .await
    }

    pub(crate) async fn retrying_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(JobId, Attempt)>, StoreError> {
        Stmt::<D>::new(
            "select id, attempts from jobs
             where status = 'retrying' and next_attempt_at <= $1
             order by next_attempt_at
             limit $2",
        )
        .time(now)
        .int(limit)
        .fetch_all_as(&mut *self.conn().await?, id_attempt)
        .await
    }
}

/// The admin search's LIKE patterns.
struct SearchPatterns {
    id: Option<String>,
    email: Option<String>,
    file: Option<String>,
}

impl SearchPatterns {
    /// Binds `$1` to `$6` of [`SEARCH_FILTER`].
    fn bind<'q, D: Dialect>(&'q self, stmt: Stmt<'q, D>, search: &'q JobSearch) -> Stmt<'q, D> {
        stmt.opt_text(self.id.as_deref())
            .opt_text(search.status.map(JobStatus::as_str))
            .opt_text(self.email.as_deref())
            .opt_text(self.file.as_deref())
            .opt_text(search.error_code.as_deref())
            .typed(Typed::OptTime(search.created_before))
    }
}

/// A chunk from its `chunk_index, first_page, last_page` columns.
fn chunk_of<D: Dialect>(
    c: &Columns<'_, D>,
    sentences: Vec<Sentence>,
) -> Result<ChunkResult, StoreError> {
    Ok(ChunkResult {
        index: c.u32("chunk_index")?,
        first_page: c.u32("first_page")?,
        last_page: c.u32("last_page")?,
        sentences,
    })
}

/// The chunks, then the sentences in key order: one pass over each.
async fn saved_chunks<D: Dialect>(
    conn: &mut DbConnection<D>,
    id: JobId,
) -> Result<Vec<ChunkResult>, StoreError> {
    let chunks = Stmt::<D>::new(
        "select chunk_index, first_page, last_page from job_result_chunks
         where job_id = $1 order by chunk_index",
    )
    .id(id)
    .fetch_all_as(&mut *conn, |c| chunk_of(c, Vec::new()))
    .await?;
    // One JSON array of [chunk, page, text] rather than a row per sentence: decoding one
    // value costs far less than the driver's per-row work.
    let triples = Stmt::<D>::of(SENTENCE_TRIPLES)
        .id(id)
        .fetch_one_as(&mut *conn, |c| c.opt_text("triples"))
        .await?;
    decode::result_of(chunks, decode::sentence_triples(triples.as_deref())?)
}

/// The job's sentence count: `None` while it has no result (or there is no such job).
async fn sentence_count<D: Dialect>(
    conn: &mut DbConnection<D>,
    id: JobId,
) -> Result<Option<i64>, StoreError> {
    let count = Stmt::<D>::new("select sentence_count from jobs where id = $1")
        .id(id)
        .fetch_optional_as(conn, |c| c.opt_int("sentence_count"))
        .await?;
    Ok(count.flatten())
}

/// Bounds every statement of the transaction to `timeout` on the server, for a dialect whose
/// server does not stop a statement on its own when nobody waits for it any more.
async fn limit_statements<D: Dialect>(
    conn: &mut DbConnection<D>,
    timeout: Duration,
) -> Result<(), StoreError> {
    let Some(sql) = D::STATEMENT_TIMEOUT else {
        return Ok(());
    };
    // At least 1 ms (0 would mean no limit at all), at most statement_timeout's largest value,
    // i32::MAX ms.
    let millis = timeout.as_millis().clamp(1, 2_147_483_647);
    let setting = format!("{millis}ms");
    Stmt::<D>::new(sql).text(&setting).fetch_all(conn).await?;
    Ok(())
}
