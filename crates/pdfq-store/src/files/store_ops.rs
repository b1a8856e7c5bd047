//! The [`Store`]'s file operations: writing an upload's file where the [`FileStore`] says,
//! reading it back, and the sweeper's retention work.

use std::time::Duration;

use pdfq_domain::{JobId, JobStatus, UserId};
use time::OffsetDateTime;

use super::objects::PART_BYTES;
use super::{ClaimedFile, FileStore, StoredFile};
use crate::StoreError;
use crate::model::{Claimed, NewJob};
use crate::store::{Store, dispatch};

/// How long an upload's object may wait for its job to commit before the sweeper counts it
/// orphaned: far beyond any upload's write and commit.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// Rows one retention step touches per call: short transactions.
const BATCH: u32 = 100;
/// Batches of each kind one sweep runs at most: a bounded sweep that still keeps up with
/// thousands of jobs a minute.
const SWEEP_BATCHES: u32 = 50;

/// What `owner` holds: the bytes of files still kept, and jobs not yet ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub stored_bytes: u64,
    pub active_jobs: u64,
}

/// What one retention sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSweep {
    /// Files of ended jobs removed.
    pub files_removed: u64,
    /// Objects no job holds, deleted from the bucket.
    pub objects_deleted: u64,
    /// Ended jobs deleted past JOB_RETENTION.
    pub jobs_deleted: u64,
}

impl Store {
    /// The same store writing uploads to `files`.
    #[must_use]
    pub fn with_file_store(mut self, files: FileStore) -> Self {
        dispatch!(&mut self, s => s.set_files(files));
        self
    }

    #[must_use]
    pub fn file_store(&self) -> &FileStore {
        dispatch!(self, s => s.files())
    }

    /// Writes the new job's file where files go, returning where it is for the job's
    /// transaction to link: its bytes, for the database (the transaction writes them), or the
    /// key of the object written to the bucket, streamed from the upload a part at a time.
    pub(crate) async fn store_file(&self, new: &NewJob) -> Result<StoredFile, StoreError> {
        let FileStore::Objects(objects) = self.file_store() else {
            return new
                .content
                .to_vec()
                .await
                .map(StoredFile::Bytes)
                .map_err(|e| StoreError::FileStore(format!("reading the upload: {e}")));
        };
        let key = objects.key_for(new.id);
        let grace = time::Duration::try_from(ORPHAN_GRACE).unwrap_or(time::Duration::HOUR);
        dispatch!(self, s => s.record_object(&key, OffsetDateTime::now_utc() + grace).await)?;
        // On failure the record stays: the sweeper deletes whatever was written.
        if new.content.len() <= PART_BYTES {
            let bytes = new
                .content
                .to_vec()
                .await
                .map_err(|e| StoreError::FileStore(format!("reading the upload: {e}")))?;
            objects.put(&key, bytes).await?;
        } else {
            let upload = objects.start_upload(&key).await?;
            // Recorded first, so that the sweeper can abort an upload this process leaves
            // unfinished (its parts are no object: deleting the key would not remove them).
            let recorded = dispatch!(self, s => s.record_upload(&key, upload.id()).await);
            if let Err(e) = recorded {
                upload.abort().await;
                return Err(e);
            }
            upload.write(&new.content).await?;
        }
        Ok(StoredFile::Object(key))
    }

    /// Deletes the object written for a job that was not created (refused by a quota, or its
    /// idempotency key's job was found), unless a job holds it after all. Best effort: what
    /// is left is the sweeper's after its grace.
    pub(crate) async fn discard_object(&self, key: &str) {
        let FileStore::Objects(objects) = self.file_store() else {
            return;
        };
        let now = OffsetDateTime::now_utc();
        let discarded = async {
            if dispatch!(self, s => s.expire_object(key, now).await)? {
                objects.delete(key).await?;
                dispatch!(self, s => s.forget_object(key).await)?;
            }
            Ok::<_, StoreError>(())
        };
        if let Err(e) = discarded.await {
            tracing::warn!(key, error = %e, "discarding an unused upload failed; the sweeper will");
        }
    }

    /// The uploaded PDF, wherever it is kept; `None` when the job or its file is gone.
    pub async fn job_file(&self, id: JobId) -> Result<Option<Vec<u8>>, StoreError> {
        let stored = dispatch!(self, s => s.stored_file(id).await)?;
        self.file_of(stored).await
    }

    /// The upload of a job just claimed (read with the claim where the dialect does that);
    /// taken out of `claimed`, so a second call gives `None`, as for a job whose file is gone.
    pub async fn claimed_file(&self, claimed: &mut Claimed) -> Result<Option<Vec<u8>>, StoreError> {
        match std::mem::replace(&mut claimed.file, ClaimedFile::Taken) {
            ClaimedFile::Unread => self.job_file(claimed.job.id).await,
            ClaimedFile::Read(stored) => self.file_of(stored).await,
            ClaimedFile::Taken => Ok(None),
        }
    }

    /// The bytes of a file, from the database row or from its bucket.
    async fn file_of(&self, stored: Option<StoredFile>) -> Result<Option<Vec<u8>>, StoreError> {
        match stored {
            None => Ok(None),
            Some(StoredFile::Bytes(bytes)) => Ok(Some(bytes)),
            Some(StoredFile::Object(key)) => match self.file_store() {
                FileStore::Objects(objects) => objects.get(&key).await,
                FileStore::Database => Err(StoreError::FileStore(format!(
                    "the file {key} is in a bucket, but STORAGE_URL names none"
                ))),
            },
        }
    }

    /// Retention, for the sweeper: removes the files of jobs ended before `file_retention`
    /// ago, deletes jobs ended before `job_retention` ago, and deletes the objects no job holds
    /// any more (their time to go has come). Bounded per call; the next sweep goes on.
    pub async fn sweep_files(
        &self,
        file_retention: super::Retention,
        job_retention: super::Retention,
    ) -> Result<FileSweep, StoreError> {
        let now = OffsetDateTime::now_utc();
        let mut sweep = FileSweep::default();
        if let Some(cutoff) = file_retention.cutoff(now) {
            // Batch after batch, so removal keeps up with any throughput, up to a bound.
            for _ in 0..SWEEP_BATCHES {
                let removed = dispatch!(self, s => s.remove_ended_files(cutoff, BATCH).await)?;
                sweep.files_removed += removed;
                if removed < u64::from(BATCH) {
                    break;
                }
            }
        }
        if let Some(cutoff) = job_retention.cutoff(now) {
            sweep.jobs_deleted = self.purge_jobs(cutoff, None, SWEEP_BATCHES).await?;
        }
        // Now again: the files removed above are due at once.
        sweep.objects_deleted = self
            .delete_unlinked_objects(OffsetDateTime::now_utc())
            .await?;
        Ok(sweep)
    }

    /// Deletes the objects no job holds whose time to go has come by `now`.
    pub async fn delete_unlinked_objects(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let FileStore::Objects(objects) = self.file_store() else {
            return Ok(0);
        };
        let due = dispatch!(self, s => s.unlinked_objects(now, BATCH * SWEEP_BATCHES).await)?;
        let mut deleted = 0;
        for (key, upload) in due {
            if let Some(upload) = upload {
                objects.abort_upload(&key, &upload).await?;
            }
            objects.delete(&key).await?;
            dispatch!(self, s => s.forget_object(&key).await)?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Deletes ended jobs that finished before `cutoff` (of `status` only, if given) in
    /// batches of a hundred, each its own short statement per job, at most `batches` of them.
    /// Their objects are left to [`Self::delete_unlinked_objects`]. Returns how many went.
    pub async fn purge_jobs(
        &self,
        cutoff: OffsetDateTime,
        status: Option<JobStatus>,
        batches: u32,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for _ in 0..batches {
            let batch = dispatch!(self, s => s.delete_ended_jobs(cutoff, status, BATCH).await)?;
            deleted += batch;
            if batch < u64::from(BATCH) {
                break;
            }
        }
        Ok(deleted)
    }

    /// How many ended jobs finished before `cutoff` (of `status` only, if given): what
    /// [`Self::purge_jobs`] would delete.
    pub async fn count_purgeable(
        &self,
        cutoff: OffsetDateTime,
        status: Option<JobStatus>,
    ) -> Result<u64, StoreError> {
        dispatch!(self, s => s.count_ended_jobs(cutoff, status).await)
    }

    /// What `owner` holds now, for the per-user quotas.
    pub async fn usage(&self, owner: UserId) -> Result<Usage, StoreError> {
        dispatch!(self, s => s.usage(owner).await)
    }

    /// The database's size in bytes (PostgreSQL's `pg_database_size`, SQLite's pages).
    pub async fn database_size(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.database_size().await)
    }
}
