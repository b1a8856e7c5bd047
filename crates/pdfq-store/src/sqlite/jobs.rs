//! Jobs on SQLite: creating them and every read the API, the dashboard and the sweepers make.

use std::time::Duration;

use pdfq_domain::{Attempt, JobId, JobStatus, UserId};
use sqlx::Row;
use time::OffsetDateTime;

use super::{
    SqliteStore, event_from_row, job_columns, job_from_row, parse_id, record_event,
    summary_from_row, ts,
};
use crate::StoreError;
use crate::decode;
use crate::error::ResultExt;
use crate::model::{
    ChunkResult, Failure, IDEMPOTENCY_KEY_TAKEN, IdempotencyKey, Job, JobEvent, JobFilter,
    JobSearch, JobSummary, MinuteFinished, NewJob, Page, Sentence, SentenceRow, StatusCounts,
};

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

impl SqliteStore {
    pub(crate) async fn create_job(
        &self,
        new: &NewJob,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<Job, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "insert into jobs (id, owner_id, file_name, file_size, file_sha256)
             values ($1, $2, $3, $4, $5)
             returning ",
            job_columns!()
        ))
        .bind(new.id.to_string())
        .bind(new.owner.to_string())
        .bind(&new.file_name)
        .bind(decode::i64_of(new.file_size))
        .bind(new.sha256.as_slice())
        .fetch_one(&mut *tx)
        .await
        .on_constraint("jobs.id", |_| {
            StoreError::Conflict("a job with this id exists".into())
        })?;
        let job = job_from_row(&row)?;
        sqlx::query("insert into job_files (job_id, content) values ($1, $2)")
            .bind(new.id.to_string())
            .bind(&new.bytes)
            .execute(&mut *tx)
            .await?;
        record_event(&mut tx, new.id, Attempt::NONE, "pending", None, "created").await?;
        if let Some(key) = key {
            // Keys past their lifetime are free again (and this user's old ones are swept).
            sqlx::query("delete from idempotency_keys where owner_id = $1 and created_at < $2")
                .bind(new.owner.to_string())
                .bind(ts(key.issued_after))
                .execute(&mut *tx)
                .await?;
            sqlx::query("insert into idempotency_keys (owner_id, key, job_id) values ($1, $2, $3)")
                .bind(new.owner.to_string())
                .bind(key.key)
                .bind(new.id.to_string())
                .execute(&mut *tx)
                .await
                .on_constraint("idempotency_keys.key", |_| {
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
        .bind(owner.to_string())
        .bind(key)
        .bind(ts(issued_after))
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
        .bind(id.to_string())
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
        .bind(id.to_string())
        .bind(owner.to_string())
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
        let owner = filter.owner.map(|o| o.to_string());
        let status = filter.status.map(JobStatus::as_str);
        let rows = sqlx::query(concat!(
            "select ",
            summary_columns!(),
            " from jobs j join users u on u.id = j.owner_id
             where ($1 is null or j.owner_id = $1)
               and ($2 is null or j.status = $2)
             order by j.created_at desc, j.id desc
             limit $3 offset $4"
        ))
        .bind(&owner)
        .bind(status)
        .bind(i64::from(filter.limit))
        .bind(decode::i64_of(filter.offset))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "select count(*) from jobs
             where ($1 is null or owner_id = $1) and ($2 is null or status = $2)",
        )
        .bind(&owner)
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
             where ($1 is null or j.id like $1 escape '\\')
               and ($2 is null or j.status = $2)
               and ($3 is null or lower(u.email) like $3 escape '\\')
               and ($4 is null or lower(j.file_name) like $4 escape '\\')
               and ($5 is null or j.error_code = $5)
               and ($6 is null or j.created_at < $6)";
        let before = search.created_before.map(ts);
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
        .bind(&before)
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
        .bind(&before)
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
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub(crate) async fn job_events(&self, id: JobId) -> Result<Vec<JobEvent>, StoreError> {
        sqlx::query(
            "select id, job_id, at, attempt, status, worker_id, message
             from job_events where job_id = $1 order by id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    pub(crate) async fn delete_job(&self, id: JobId) -> Result<(), StoreError> {
        let done = sqlx::query("delete from jobs where id = $1")
            .bind(id.to_string())
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
             from jobs where status = 'failed' and finished_at >= ?1
             order by finished_at desc limit ?2",
        )
        .bind(ts(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Failure {
                    id: parse_id(row.try_get("id")?)?,
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
        // Times are fixed-width text: the first 16 characters are the minute.
        let rows = sqlx::query(
            "select substr(at, 1, 16) as minute,
                    sum(status = 'completed') as completed,
                    sum(status = 'failed') as failed
             from job_events
             where at >= ?1 and status in ('completed', 'failed')
             group by 1 order by 1",
        )
        .bind(ts(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let minute: String = row.try_get("minute")?;
                Ok(MinuteFinished {
                    minute: OffsetDateTime::parse(
                        &format!("{minute}:00Z"),
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(|e| StoreError::Corrupt(format!("event minute {minute:?}: {e}")))?,
                    completed: decode::u64_of(row.try_get("completed")?, "count")?,
                    failed: decode::u64_of(row.try_get("failed")?, "count")?,
                })
            })
            .collect()
    }

    pub(crate) async fn oldest_pending_age(&self) -> Result<Option<Duration>, StoreError> {
        let oldest: Option<OffsetDateTime> =
            sqlx::query_scalar("select min(updated_at) from jobs where status = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        Ok(oldest
            .map(|t| Duration::try_from(OffsetDateTime::now_utc() - t).unwrap_or(Duration::ZERO)))
    }

    /// One primary-key range of `job_sentences`: a seek and `limit` rows, whatever the depth.
    /// Rows come in key order with no sort first, so a caller that stops waiting (a request
    /// that timed out) stops the statement at its next row.
    pub(crate) async fn sentences(
        &self,
        id: JobId,
        offset: u64,
        limit: u32,
    ) -> Result<Page<SentenceRow>, StoreError> {
        let start = decode::i64_of(offset);
        let rows = sqlx::query(SENTENCE_PAGE)
            .bind(id.to_string())
            .bind(start)
            .bind(start.saturating_add(i64::from(limit)))
            .fetch_all(&self.pool)
            .await?;
        let total: Option<i64> =
            sqlx::query_scalar("select sentence_count from jobs where id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .flatten();
        let items = rows
            .iter()
            .map(|row| {
                Ok(SentenceRow {
                    index: decode::u64_of(row.try_get("sentence_index")?, "sentence index")?,
                    text: row.try_get("text")?,
                    page: decode::u32_of(row.try_get("page")?, "page")?,
                    chunk: decode::u32_of(row.try_get("chunk_index")?, "chunk")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Page {
            items,
            total: total.map_or(0, |n| u64::try_from(n).unwrap_or(0)),
        })
    }

    /// The chunks, then the sentences in key order: one pass over each.
    pub(crate) async fn job_results(
        &self,
        id: JobId,
    ) -> Result<Option<Vec<ChunkResult>>, StoreError> {
        // Set when the job completed: before that there is no result to read.
        let completed: Option<Option<i64>> =
            sqlx::query_scalar("select sentence_count from jobs where id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        if completed.flatten().is_none() {
            return Ok(None);
        }
        let chunks = sqlx::query(
            "select chunk_index, first_page, last_page from job_result_chunks
             where job_id = $1 order by chunk_index",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(ChunkResult {
                index: decode::u32_of(row.try_get("chunk_index")?, "chunk")?,
                first_page: decode::u32_of(row.try_get("first_page")?, "page")?,
                last_page: decode::u32_of(row.try_get("last_page")?, "page")?,
                sentences: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        // One JSON array of [chunk, page, text] rather than a row per sentence: decoding one
        // value is some twenty times faster than the driver's per-row cost.
        let sentences: Option<String> = sqlx::query_scalar(
            "select json_group_array(json_array(chunk_index, page, text) order by sentence_index)
             from job_sentences where job_id = $1",
        )
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await?;
        let sentences = decode::sentence_triples(sentences.as_deref())?;
        decode::result_of(chunks, sentences).map(Some)
    }

    pub(crate) async fn finished_chunks(&self, id: JobId) -> Result<Vec<ChunkResult>, StoreError> {
        let rows = sqlx::query(
            "select chunk_index, first_page, last_page, sentences
             from job_chunks where job_id = $1 order by chunk_index",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let sentences: sqlx::types::Json<Vec<Sentence>> = row.try_get("sentences")?;
                Ok(ChunkResult {
                    index: decode::u32_of(row.try_get("chunk_index")?, "chunk")?,
                    first_page: decode::u32_of(row.try_get("first_page")?, "page")?,
                    last_page: decode::u32_of(row.try_get("last_page")?, "page")?,
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
             where status = 'processing' and heartbeat_at < $1
             order by heartbeat_at
             limit $2",
        )
        .bind(ts(OffsetDateTime::now_utc() - older_than))
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
        let ids: Vec<String> = sqlx::query_scalar(
            "select id from jobs
             where status = 'pending' and not cancel_requested and updated_at < $1
             order by updated_at
             limit $2",
        )
        .bind(ts(OffsetDateTime::now_utc() - age))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|id| parse_id(id)).collect()
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
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        id_attempts(&rows)
    }
}

fn id_attempts(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<(JobId, Attempt)>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok((
                parse_id(&row.try_get::<String, _>("id")?)?,
                decode::attempt(row.try_get("attempts")?)?,
            ))
        })
        .collect()
}
