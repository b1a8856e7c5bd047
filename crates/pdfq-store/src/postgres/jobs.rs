//! Jobs on PostgreSQL: creating them and every read the API, the dashboard and the sweepers make.

use std::time::Duration;

use pdfq_domain::{Attempt, JobId, JobStatus, UserId};
use sqlx::Row;
use time::OffsetDateTime;

use super::{PgStore, event_from_row, job_columns, job_from_row, record_event, summary_from_row};
use crate::StoreError;
use crate::decode;
use crate::error::ResultExt;
use crate::model::{
    ChunkResult, Failure, IDEMPOTENCY_KEY_TAKEN, IdempotencyKey, Job, JobEvent, JobFilter,
    JobSearch, JobSummary, MinuteFinished, NewJob, Page, Sentence, SentenceRow, StatusCounts,
};

/// The columns of [`JobSummary`], read from `jobs j join users u`.
macro_rules! summary_columns {
    () => {
        "j.id, j.owner_id, u.email as owner_email, j.status, j.progress_percent, j.current_step, \
         j.attempts, j.file_name, j.file_size, j.error_code, j.created_at, j.started_at, j.finished_at"
    };
}

/// A page of sentences: `$1` the job, `$2` the first index, `$3` the index past the last. Public
/// so that the tests can check its plan is a primary-key range read.
pub const SENTENCE_PAGE: &str = "select sentence_index, text, page, chunk_index from job_sentences
     where job_id = $1 and sentence_index >= $2 and sentence_index < $3
     order by sentence_index";

impl PgStore {
    pub(crate) async fn create_job(
        &self,
        new: &NewJob,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<Job, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "insert into jobs (id, owner_id, file_name, file_size, file_sha256)
             values ($1, $2, $3, $4, $5)
             returning ",
            job_columns!()
        ))
        .bind(new.id.as_uuid())
        .bind(new.owner.as_uuid())
        .bind(&new.file_name)
        .bind(decode::i64_of(new.file_size))
        .bind(new.sha256.as_slice())
        .fetch_one(&mut *tx)
        .await
        .on_constraint("jobs_pkey", |_| {
            StoreError::Conflict("a job with this id exists".into())
        })?;
        let job = job_from_row(&row)?;
        sqlx::query("insert into job_files (job_id, content) values ($1, $2)")
            .bind(new.id.as_uuid())
            .bind(&new.bytes)
            .execute(&mut *tx)
            .await?;
        record_event(&mut tx, new.id, Attempt::NONE, "pending", None, "created").await?;
        if let Some(key) = key {
            // Keys past their lifetime are free again (and this user's old ones are swept).
            sqlx::query("delete from idempotency_keys where owner_id = $1 and created_at < $2")
                .bind(new.owner.as_uuid())
                .bind(key.issued_after)
                .execute(&mut *tx)
                .await?;
            sqlx::query("insert into idempotency_keys (owner_id, key, job_id) values ($1, $2, $3)")
                .bind(new.owner.as_uuid())
                .bind(key.key)
                .bind(new.id.as_uuid())
                .execute(&mut *tx)
                .await
                .on_constraint("idempotency_keys_pkey", |_| {
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
        sqlx::query(concat!(
            "select ",
            job_columns!(),
            " from jobs where id = (select job_id from idempotency_keys
                                    where owner_id = $1 and key = $2 and created_at >= $3)"
        ))
        .bind(owner.as_uuid())
        .bind(key)
        .bind(issued_after)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    pub(crate) async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        sqlx::query(concat!(
            "select ",
            job_columns!(),
            " from jobs where id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    pub(crate) async fn get_job_for_owner(
        &self,
        id: JobId,
        owner: UserId,
    ) -> Result<Option<Job>, StoreError> {
        sqlx::query(concat!(
            "select ",
            job_columns!(),
            " from jobs where id = $1 and owner_id = $2"
        ))
        .bind(id.as_uuid())
        .bind(owner.as_uuid())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    pub(crate) async fn list_jobs(
        &self,
        filter: &JobFilter,
    ) -> Result<Page<JobSummary>, StoreError> {
        let owner = filter.owner.map(|o| o.as_uuid());
        let status = filter.status.map(JobStatus::as_str);
        let rows = sqlx::query(concat!(
            "select ",
            summary_columns!(),
            " from jobs j join users u on u.id = j.owner_id
             where ($1::uuid is null or j.owner_id = $1)
               and ($2::text is null or j.status = $2)
             order by j.created_at desc, j.id desc
             limit $3 offset $4"
        ))
        .bind(owner)
        .bind(status)
        .bind(i64::from(filter.limit))
        .bind(decode::i64_of(filter.offset))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "select count(*) from jobs
             where ($1::uuid is null or owner_id = $1) and ($2::text is null or status = $2)",
        )
        .bind(owner)
        .bind(status)
        .fetch_one(&self.pool)
        .await?;
        Ok(Page {
            items: rows
                .iter()
                .map(summary_from_row)
                .collect::<Result<_, _>>()?,
            total: decode::u64_of(total, "count")?,
        })
    }

    pub(crate) async fn search_jobs(
        &self,
        search: &JobSearch,
    ) -> Result<Page<JobSummary>, StoreError> {
        let id = decode::id_part_pattern(search.id.as_deref());
        let status = search.status.map(JobStatus::as_str);
        let email = decode::contains_pattern(search.owner_email.as_deref());
        let file = decode::contains_pattern(search.file_name.as_deref());
        let filter = "
             where ($1::text is null or j.id::text like $1 escape '\\')
               and ($2::text is null or j.status = $2)
               and ($3::text is null or lower(u.email) like $3 escape '\\')
               and ($4::text is null or lower(j.file_name) like $4 escape '\\')
               and ($5::text is null or j.error_code = $5)
               and ($6::timestamptz is null or j.created_at < $6)";
        let rows = sqlx::query(&format!(
            "select {} from jobs j join users u on u.id = j.owner_id {filter}
             order by j.created_at desc, j.id desc
             limit $7 offset $8",
            summary_columns!()
        ))
        .bind(&id)
        .bind(status)
        .bind(&email)
        .bind(&file)
        .bind(&search.error_code)
        .bind(search.created_before)
        .bind(i64::from(search.limit))
        .bind(decode::i64_of(search.offset))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "select count(*) from jobs j join users u on u.id = j.owner_id {filter}"
        ))
        .bind(&id)
        .bind(status)
        .bind(&email)
        .bind(&file)
        .bind(&search.error_code)
        .bind(search.created_before)
        .fetch_one(&self.pool)
        .await?;
        Ok(Page {
            items: rows
                .iter()
                .map(summary_from_row)
                .collect::<Result<_, _>>()?,
            total: decode::u64_of(total, "count")?,
        })
    }

    pub(crate) async fn job_file(&self, id: JobId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("select content from job_files where job_id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub(crate) async fn job_events(&self, id: JobId) -> Result<Vec<JobEvent>, StoreError> {
        sqlx::query(
            "select id, job_id, at, attempt, status, worker_id, message
             from job_events where job_id = $1 order by id",
        )
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    pub(crate) async fn delete_job(&self, id: JobId) -> Result<(), StoreError> {
        let done = sqlx::query("delete from jobs where id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        let rows = sqlx::query("select status, count(*) as n from jobs group by status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = StatusCounts::default();
        for row in rows {
            let status = decode::status(row.try_get("status")?)?;
            counts.set(status, decode::u64_of(row.try_get("n")?, "count")?);
        }
        Ok(counts)
    }

    pub(crate) async fn failures_since(
        &self,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Failure>, StoreError> {
        let rows = sqlx::query(
            "select id, coalesce(error_code, 'unknown') as code,
                    coalesce(error_message, '') as message, finished_at
             from jobs where status = 'failed' and finished_at >= $1
             order by finished_at desc limit $2",
        )
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Failure {
                    id: JobId::from_uuid(row.try_get("id")?),
                    code: row.try_get("code")?,
                    message: row.try_get("message")?,
                    finished_at: row.try_get("finished_at")?,
                })
            })
            .collect()
    }

    pub(crate) async fn finished_per_minute(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<MinuteFinished>, StoreError> {
        let rows = sqlx::query(
            "select date_trunc('minute', at) as minute,
                    count(*) filter (where status = 'completed') as completed,
                    count(*) filter (where status = 'failed') as failed
             from job_events
             where at >= $1 and status in ('completed', 'failed')
             group by 1 order by 1",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MinuteFinished {
                    minute: row.try_get("minute")?,
                    completed: decode::u64_of(row.try_get("completed")?, "count")?,
                    failed: decode::u64_of(row.try_get("failed")?, "count")?,
                })
            })
            .collect()
    }

    pub(crate) async fn oldest_pending_age(&self) -> Result<Option<Duration>, StoreError> {
        // The database's clock, the one that stamped updated_at.
        let secs: Option<f64> = sqlx::query_scalar(
            "select extract(epoch from now() - min(updated_at))::float8
             from jobs where status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(secs.map(|s| Duration::from_secs_f64(s.max(0.0))))
    }

    /// One primary-key range of `job_sentences`: an index seek and `limit` rows, whatever the
    /// depth. The server cancels it after `timeout` even when the caller has stopped waiting.
    pub(crate) async fn sentences(
        &self,
        id: JobId,
        offset: u64,
        limit: u32,
        timeout: Duration,
    ) -> Result<Page<SentenceRow>, StoreError> {
        let start = decode::i64_of(offset);
        let mut tx = self.pool.begin().await?;
        limit_statements(&mut tx, timeout).await?;
        let rows = sqlx::query(SENTENCE_PAGE)
            .bind(id.as_uuid())
            .bind(start)
            .bind(start.saturating_add(i64::from(limit)))
            .fetch_all(&mut *tx)
            .await?;
        let total: Option<i32> =
            sqlx::query_scalar("select sentence_count from jobs where id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        tx.commit().await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(SentenceRow {
                    index: decode::u64_of(
                        row.try_get::<i32, _>("sentence_index")?.into(),
                        "sentence index",
                    )?,
                    text: row.try_get("text")?,
                    page: decode::u32_of(row.try_get::<i32, _>("page")?.into(), "page")?,
                    chunk: decode::u32_of(row.try_get::<i32, _>("chunk_index")?.into(), "chunk")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Page {
            items,
            total: total.map_or(0, |n| u64::try_from(n).unwrap_or(0)),
        })
    }

    /// The chunks, then the sentences in key order: one pass over each. The server
    /// cancels the reads after `timeout` even when the caller has stopped waiting.
    pub(crate) async fn job_results(
        &self,
        id: JobId,
        timeout: Duration,
    ) -> Result<Option<Vec<ChunkResult>>, StoreError> {
        let mut tx = self.pool.begin().await?;
        limit_statements(&mut tx, timeout).await?;
        // Set when the job completed: before that there is no result to read.
        let completed: Option<Option<i32>> =
            sqlx::query_scalar("select sentence_count from jobs where id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
        if completed.flatten().is_none() {
            return Ok(None);
        }
        let chunks = sqlx::query(
            "select chunk_index, first_page, last_page from job_result_chunks
             where job_id = $1 order by chunk_index",
        )
        .bind(id.as_uuid())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            Ok(ChunkResult {
                index: decode::u32_of(row.try_get::<i32, _>("chunk_index")?.into(), "chunk")?,
                first_page: decode::u32_of(row.try_get::<i32, _>("first_page")?.into(), "page")?,
                last_page: decode::u32_of(row.try_get::<i32, _>("last_page")?.into(), "page")?,
                sentences: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        // One JSON array of [chunk, page, text] rather than a row per sentence: decoding one
        // value costs less than the driver's per-row work.
        let sentences: Option<String> = sqlx::query_scalar(
            "select json_agg(json_build_array(chunk_index, page, text) order by sentence_index)::text
             from job_sentences where job_id = $1",
        )
        .bind(id.as_uuid())
        .fetch_one(&mut *tx)
        .await?;
        let sentences = decode::sentence_triples(sentences.as_deref())?;
        tx.commit().await?;
        decode::result_of(chunks, sentences).map(Some)
    }

    pub(crate) async fn finished_chunks(&self, id: JobId) -> Result<Vec<ChunkResult>, StoreError> {
        let rows = sqlx::query(
            "select chunk_index, first_page, last_page, sentences
             from job_chunks where job_id = $1 order by chunk_index",
        )
        .bind(id.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let sentences: sqlx::types::Json<Vec<Sentence>> = row.try_get("sentences")?;
                Ok(ChunkResult {
                    index: decode::u32_of(row.try_get::<i32, _>("chunk_index")?.into(), "chunk")?,
                    first_page: decode::u32_of(
                        row.try_get::<i32, _>("first_page")?.into(),
                        "page",
                    )?,
                    last_page: decode::u32_of(row.try_get::<i32, _>("last_page")?.into(), "page")?,
                    sentences: sentences.0,
                })
            })
            .collect()
    }

    pub(crate) async fn stale_processing(
        &self,
        older_than: Duration,
        limit: u32,
    ) -> Result<Vec<(JobId, Attempt)>, StoreError> {
        let rows = sqlx::query(
            "select id, attempts from jobs
             where status = 'processing' and heartbeat_at < now() - make_interval(secs => $1)
             order by heartbeat_at
             limit $2",
        )
        .bind(older_than.as_secs_f64())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        id_attempts(&rows)
    }

    pub(crate) async fn pending_older_than(
        &self,
        age: Duration,
        limit: u32,
    ) -> Result<Vec<JobId>, StoreError> {
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
            "select id from jobs
             where status = 'pending' and not cancel_requested
               and updated_at < now() - make_interval(secs => $1)
             order by updated_at
             limit $2",
        )
        .bind(age.as_secs_f64())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(JobId::from_uuid).collect())
    }

    pub(crate) async fn retrying_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(JobId, Attempt)>, StoreError> {
        let rows = sqlx::query(
            "select id, attempts from jobs
             where status = 'retrying' and next_attempt_at <= $1
             order by next_attempt_at
             limit $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        id_attempts(&rows)
    }
}

fn id_attempts(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<(JobId, Attempt)>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok((
                JobId::from_uuid(row.try_get("id")?),
                decode::attempt(row.try_get::<i32, _>("attempts")?.into())?,
            ))
        })
        .collect()
}

/// Bounds every statement of the transaction `tx` to `timeout` on the server, which cancels a
/// statement on its own: dropping the future of a request that timed out does not.
async fn limit_statements(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    timeout: Duration,
) -> Result<(), StoreError> {
    // At least 1 ms: 0 would mean no limit at all.
    let millis = timeout.as_millis().clamp(1, 2_147_483_647);
    // (statement_timeout's largest value is i32::MAX ms.)
    sqlx::query("select set_config('statement_timeout', $1, true)")
        .bind(format!("{millis}ms"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
