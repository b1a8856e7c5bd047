//! Files and retention: where a job's file is, the objects recorded in `stored_files`, files
//! removed once their job ended, ended jobs deleted in small batches, and per-user usage.

use pdfq_domain::{JobId, JobStatus, UserId};
use time::OffsetDateTime;

use super::SqlStore;
use crate::StoreError;
use crate::dialect::{Both, DbConnection, Dialect, Stmt};
use crate::files::{StoredFile, Usage};

/// The statuses a job never leaves on its own: a retry can only come from an operator.
const ENDED: &str = "('completed', 'failed', 'cancelled')";

/// The size of the whole database, in bytes.
const DATABASE_SIZE: Both = Both {
    postgres: "select pg_database_size(current_database()) as n",
    sqlite: "select page_count * page_size as n from pragma_page_count(), pragma_page_size()",
};

/// Up to `$2` ended jobs that finished before `$1`, optionally (`$3`) of one status only.
const ENDED_BEFORE: Both = Both {
    postgres: "select id from jobs
               where status in ('completed', 'failed', 'cancelled') and finished_at < $1
                 and ($3::text is null or status = $3)
               order by finished_at limit $2",
    sqlite: "select id from jobs
             where status in ('completed', 'failed', 'cancelled') and finished_at < $1
               and ($3 is null or status = $3)
             order by finished_at limit $2",
};

/// How many ended jobs finished before `$1`, optionally (`$2`) of one status only.
const COUNT_ENDED_BEFORE: Both = Both {
    postgres: "select count(*) as n from jobs
               where status in ('completed', 'failed', 'cancelled') and finished_at < $1
                 and ($2::text is null or status = $2)",
    sqlite: "select count(*) as n from jobs
             where status in ('completed', 'failed', 'cancelled') and finished_at < $1
               and ($2 is null or status = $2)",
};

impl<D: Dialect> SqlStore<D> {
    /// Where job `id`'s file is; `None` when the job has none (deleted, or removed by
    /// retention).
    pub(crate) async fn stored_file(&self, id: JobId) -> Result<Option<StoredFile>, StoreError> {
        let found = Stmt::<D>::new(
            "select f.content, s.key from jobs j
             left join job_files f on f.job_id = j.id
             left join stored_files s on s.job_id = j.id
             where j.id = $1",
        )
        .id(id)
        .fetch_optional_as(&mut *self.conn().await?, stored_file_of)
        .await?;
        Ok(found.flatten())
    }

    /// Records an object about to be written, unlinked until its job commits; if none has by
    /// `delete_after`, the sweeper deletes it.
    pub(crate) async fn record_object(
        &self,
        key: &str,
        delete_after: OffsetDateTime,
    ) -> Result<(), StoreError> {
        Stmt::<D>::new("insert into stored_files (key, delete_after) values ($1, $2)")
            .text(key)
            .time(delete_after)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    /// Records the id of the multipart upload writing `key`'s object.
    pub(crate) async fn record_upload(&self, key: &str, upload: &str) -> Result<(), StoreError> {
        Stmt::<D>::new("update stored_files set upload_id = $2 where key = $1")
            .text(key)
            .text(upload)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    /// Makes an object no job holds due at `now`; false when a job holds it.
    pub(crate) async fn expire_object(
        &self,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let expired = Stmt::<D>::new(
            "update stored_files set delete_after = $2 where key = $1 and job_id is null",
        )
        .text(key)
        .time(now)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(expired == 1)
    }

    /// Objects no job holds whose time to go has come by `now`, each with the id of the
    /// multipart upload that wrote it, if one did (it may be unfinished).
    pub(crate) async fn unlinked_objects(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        Stmt::<D>::new(
            "select key, upload_id from stored_files where job_id is null and delete_after <= $1
             order by delete_after limit $2",
        )
        .time(now)
        .int(limit)
        .fetch_all_as(&mut *self.conn().await?, |c| {
            Ok((c.text("key")?, c.opt_text("upload_id")?))
        })
        .await
    }

    /// Forgets a deleted object, unless a job holds it (then it was not deleted on purpose).
    pub(crate) async fn forget_object(&self, key: &str) -> Result<(), StoreError> {
        Stmt::<D>::new("delete from stored_files where key = $1 and job_id is null")
            .text(key)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    /// Removes the files of up to `limit` jobs that ended by `cutoff`: the bytes kept in the
    /// database go at once, an object is unlinked for the sweeper to delete. One short
    /// transaction per job. Returns how many files were removed.
    pub(crate) async fn remove_ended_files(
        &self,
        cutoff: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let due = Stmt::<D>::new(&format!(
            "select id from jobs
             where file_removed_at is null and status in {ENDED} and finished_at <= $1
             order by finished_at limit $2"
        ))
        .time(cutoff)
        .int(limit)
        .fetch_all_as(&mut *self.conn().await?, |c| c.id::<JobId>("id"))
        .await?;
        let mut removed = 0;
        for id in due {
            let now = OffsetDateTime::now_utc();
            let mut tx = self.begin_write().await?;
            // Still ended: an operator's retry in between keeps the file.
            let marked = Stmt::<D>::new(&format!(
                "update jobs set file_removed_at = $2
                 where id = $1 and file_removed_at is null and status in {ENDED}"
            ))
            .id(id)
            .time(now)
            .execute(&mut tx)
            .await?;
            if marked == 1 {
                Stmt::<D>::new("delete from job_files where job_id = $1")
                    .id(id)
                    .execute(&mut tx)
                    .await?;
                Stmt::<D>::new(
                    "update stored_files set job_id = null, delete_after = $2 where job_id = $1",
                )
                .id(id)
                .time(now)
                .execute(&mut tx)
                .await?;
                removed += 1;
            }
            tx.commit().await?;
        }
        Ok(removed)
    }

    /// Deletes up to `limit` ended jobs that finished before `cutoff` (optionally of `status`
    /// only), with their chunks, results and events; their objects are unlinked (the foreign
    /// key) for the sweeper. One statement, so callers loop for more.
    pub(crate) async fn delete_ended_jobs(
        &self,
        cutoff: OffsetDateTime,
        status: Option<JobStatus>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let ids = Stmt::<D>::of(ENDED_BEFORE)
            .time(cutoff)
            .int(limit)
            .opt_text(status.map(JobStatus::as_str))
            .fetch_all_as(&mut conn, |c| c.id::<JobId>("id"))
            .await?;
        let mut deleted = 0;
        for id in ids {
            deleted += Stmt::<D>::new("delete from jobs where id = $1")
                .id(id)
                .execute(&mut conn)
                .await?;
        }
        Ok(deleted)
    }

    /// How many ended jobs finished before `cutoff` (optionally of `status` only).
    pub(crate) async fn count_ended_jobs(
        &self,
        cutoff: OffsetDateTime,
        status: Option<JobStatus>,
    ) -> Result<u64, StoreError> {
        Stmt::<D>::of(COUNT_ENDED_BEFORE)
            .time(cutoff)
            .opt_text(status.map(JobStatus::as_str))
            .fetch_one_as(&mut *self.conn().await?, |c| c.count("n"))
            .await
    }

    /// What `owner` holds now: bytes of files still kept, and jobs not yet ended.
    pub(crate) async fn usage(&self, owner: UserId) -> Result<Usage, StoreError> {
        usage_of::<D>(&mut *self.conn().await?, owner).await
    }

    pub(crate) async fn database_size(&self) -> Result<u64, StoreError> {
        Stmt::<D>::of(DATABASE_SIZE)
            .fetch_one_as(&mut *self.conn().await?, |c| c.count("n"))
            .await
    }
}

/// What `owner` holds, read on `conn` (in a transaction: as that transaction sees it).
pub(super) async fn usage_of<D: Dialect>(
    conn: &mut DbConnection<D>,
    owner: UserId,
) -> Result<Usage, StoreError> {
    let stored_bytes = Stmt::<D>::new(
        "select cast(coalesce(sum(file_size), 0) as bigint) as n from jobs
         where owner_id = $1 and file_removed_at is null",
    )
    .id(owner)
    .fetch_one_as(conn, |c| c.count("n"))
    .await?;
    let active_jobs = Stmt::<D>::new(
        "select count(*) as n from jobs
         where owner_id = $1 and status in ('pending', 'processing', 'retrying')",
    )
    .id(owner)
    .fetch_one_as(conn, |c| c.count("n"))
    .await?;
    Ok(Usage {
        stored_bytes,
        active_jobs,
    })
}

/// A job's file from a row's `content` (the bytes, kept in the database) and `key` (the
/// object holding them) columns; `None` when neither is set (removed by retention).
pub(super) fn stored_file_of<D: Dialect>(
    c: &crate::dialect::Columns<'_, D>,
) -> Result<Option<StoredFile>, StoreError> {
    Ok(match (c.opt_bytes("content")?, c.opt_text("key")?) {
        (Some(bytes), _) => Some(StoredFile::Bytes(bytes)),
        (None, Some(key)) => Some(StoredFile::Object(key)),
        (None, None) => None,
    })
}
