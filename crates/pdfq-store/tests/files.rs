//! Files and retention, on both backends and both file stores: files in the database, and in a
//! bucket of a real S3-compatible server (`TEST_S3_URL`; skipped with a message when unset,
//! required by `cargo xtask ci`).

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

mod common;

use std::time::Duration;

use common::{Harness, job, new_job, tick, user, worker};
use pdfq_domain::{JobId, JobStatus, UserId};
use pdfq_store::files::FileSweep;
use pdfq_store::{
    FileContent, FileStore, NewJob, QuotaExceeded, Quotas, Retention, StorageConfig, Store,
    StoreError, Usage,
};
use pdfq_test_support::TestBucket;
use time::OffsetDateTime;

/// Where a case's files go: the database, or a bucket of its own (kept for its listing).
struct Files {
    bucket: Option<TestBucket>,
}

impl Files {
    async fn keys(&self) -> Vec<String> {
        match &self.bucket {
            Some(bucket) => bucket.keys().await,
            None => Vec::new(),
        }
    }
}

fn s3_config(bucket: &TestBucket) -> StorageConfig {
    StorageConfig {
        storage_url: bucket.storage_url("uploads"),
        s3_endpoint: Some(bucket.endpoint.clone()),
        s3_region: Some("us-east-1".into()),
        s3_access_key_id: Some("test".into()),
        s3_secret_access_key: Some("test".into()),
        ..StorageConfig::default()
    }
}

macro_rules! every_store {
    ($($case:ident),* $(,)?) => {
        mod database_files {
            $(
                mod $case {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn postgres() {
                        let h = crate::Harness::postgres().await;
                        crate::$case(&h.store, &crate::Files { bucket: None }).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn sqlite() {
                        let h = crate::Harness::sqlite().await;
                        crate::$case(&h.store, &crate::Files { bucket: None }).await;
                    }
                }
            )*
        }
        mod s3_files {
            $(
                mod $case {
                    async fn run(h: crate::Harness) {
                        let name = concat!("s3_files::", stringify!($case));
                        let Some(bucket) = pdfq_test_support::TestBucket::create(name).await else {
                            return;
                        };
                        let files = pdfq_store::FileStore::from_config(&crate::s3_config(&bucket)).unwrap();
                        let store = h.store.clone().with_file_store(files);
                        crate::$case(&store, &crate::Files { bucket: Some(bucket) }).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn postgres() {
                        run(crate::Harness::postgres().await).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn sqlite() {
                        run(crate::Harness::sqlite().await).await;
                    }
                }
            )*
        }
    };
}

every_store!(
    the_claim_brings_the_upload,
    a_file_is_kept_while_a_retry_may_come_then_removed,
    ended_jobs_are_purged_by_status_and_age,
    an_object_whose_job_never_committed_is_deleted_after_its_grace,
    usage_counts_kept_bytes_and_live_jobs,
    jobs_created_together_never_pass_the_quotas,
    a_large_file_is_written_in_parts,
    a_large_upload_that_fails_half_way_leaves_nothing,
    an_upload_left_unfinished_by_a_dead_process_is_aborted_by_the_sweeper,
);

const NOW_DUE: Retention = Retention::For(Duration::ZERO);

/// Claims the job and ends it with `status`.
async fn end(store: &Store, id: JobId, status: JobStatus) {
    if status == JobStatus::Cancelled {
        store.cancel_job(id).await.unwrap();
        return;
    }
    let attempt = store
        .claim_job(id, &worker(1))
        .await
        .unwrap()
        .unwrap()
        .attempt;
    match status {
        JobStatus::Completed => store.complete_job(id, attempt, 0, 0).await.unwrap(),
        JobStatus::Failed => store
            .fail_job(id, attempt, "bad", "bad", None)
            .await
            .unwrap(),
        JobStatus::Retrying => {
            let later = OffsetDateTime::now_utc() + Duration::from_secs(60);
            store
                .fail_job(id, attempt, "timeout", "slow", Some(later))
                .await
                .unwrap()
        }
        other => panic!("cannot end a job as {other}"),
    };
}

/// The claim's statement reads the upload too (the worker needs it next), from the database
/// or through the key of its object; it is handed over once.
async fn the_claim_brings_the_upload(store: &Store, files: &Files) {
    let ann = user(store, "ann@example.com").await;
    let new = new_job(ann.id, "claimed.pdf");
    let created = store.create_job(&new).await.unwrap();
    assert_eq!(
        files.keys().await.len(),
        usize::from(files.bucket.is_some())
    );
    let mut claimed = store
        .claim_job(created.id, &worker(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.claimed_file(&mut claimed).await.unwrap(),
        Some(new.content.to_vec().await.unwrap())
    );
    assert_eq!(store.claimed_file(&mut claimed).await.unwrap(), None);
}

async fn a_file_is_kept_while_a_retry_may_come_then_removed(store: &Store, files: &Files) {
    let ann = user(store, "ann@example.com").await;
    let new = new_job(ann.id, "kept.pdf");
    let done = store.create_job(&new).await.unwrap();
    assert_eq!(
        store.job_file(done.id).await.unwrap().unwrap(),
        new.content.to_vec().await.unwrap()
    );
    if files.bucket.is_some() {
        assert_eq!(
            files.keys().await,
            [format!("uploads/jobs/{}.pdf", done.id)]
        );
    }
    let failed = job(store, ann.id, "failed.pdf").await;
    let retrying = job(store, ann.id, "retrying.pdf").await;
    let pending = job(store, ann.id, "pending.pdf").await;
    end(store, done.id, JobStatus::Completed).await;
    end(store, failed.id, JobStatus::Failed).await;
    end(store, retrying.id, JobStatus::Retrying).await;
    tick().await;

    // A week's retention keeps every file.
    let week = Retention::For(Duration::from_secs(7 * 86_400));
    let kept = store.sweep_files(week, Retention::Forever).await.unwrap();
    assert_eq!(kept, FileSweep::default());

    let swept = store
        .sweep_files(NOW_DUE, Retention::Forever)
        .await
        .unwrap();
    assert_eq!(swept.files_removed, 2, "{swept:?}");
    assert_eq!(
        swept.objects_deleted,
        if files.bucket.is_some() { 2 } else { 0 }
    );
    assert_eq!(store.job_file(done.id).await.unwrap(), None);
    assert_eq!(store.job_file(failed.id).await.unwrap(), None);
    assert!(store.job_file(retrying.id).await.unwrap().is_some());
    assert!(store.job_file(pending.id).await.unwrap().is_some());
    if files.bucket.is_some() {
        let mut left = files.keys().await;
        left.sort();
        let mut expected = vec![
            format!("uploads/jobs/{}.pdf", retrying.id),
            format!("uploads/jobs/{}.pdf", pending.id),
        ];
        expected.sort();
        assert_eq!(left, expected);
    }
    // The job stays, with its result; only its file went.
    assert_eq!(
        store.get_job(done.id).await.unwrap().unwrap().status,
        JobStatus::Completed
    );
    assert!(matches!(
        store.retry_job(failed.id).await.unwrap_err(),
        StoreError::FileGone
    ));
    // A completed job cannot be retried at all: that answer is unchanged.
    assert!(matches!(
        store.retry_job(done.id).await.unwrap_err(),
        StoreError::IllegalTransition(_)
    ));
    let again = store
        .sweep_files(NOW_DUE, Retention::Forever)
        .await
        .unwrap();
    assert_eq!(again, FileSweep::default(), "nothing twice");
}

async fn ended_jobs_are_purged_by_status_and_age(store: &Store, files: &Files) {
    let ann = user(store, "ann@example.com").await;
    let mut ended = Vec::new();
    for status in [
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ] {
        let j = job(store, ann.id, "old.pdf").await;
        end(store, j.id, status).await;
        ended.push(j.id);
    }
    let live = job(store, ann.id, "live.pdf").await;
    tick().await;
    let now = OffsetDateTime::now_utc();
    let an_hour_ago = now - Duration::from_secs(3600);
    assert_eq!(store.count_purgeable(an_hour_ago, None).await.unwrap(), 0);
    assert_eq!(store.count_purgeable(now, None).await.unwrap(), 4);
    assert_eq!(
        store
            .count_purgeable(now, Some(JobStatus::Failed))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .purge_jobs(now, Some(JobStatus::Failed), 10)
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.count_purgeable(now, None).await.unwrap(), 2);
    // JOB_RETENTION, by the sweeper, with files kept forever: the jobs go, their objects are
    // unlinked and deleted once their upload's grace has passed.
    let swept = store
        .sweep_files(Retention::Forever, NOW_DUE)
        .await
        .unwrap();
    assert_eq!(swept.jobs_deleted, 2, "{swept:?}");
    for id in &ended {
        assert!(store.get_job(*id).await.unwrap().is_none());
        assert!(store.job_events(*id).await.unwrap().is_empty());
    }
    assert!(store.get_job(live.id).await.unwrap().is_some());
    let after_grace = now + Duration::from_secs(2 * 3600);
    let deleted = store.delete_unlinked_objects(after_grace).await.unwrap();
    if files.bucket.is_some() {
        assert_eq!(deleted, 4);
        assert_eq!(
            files.keys().await,
            [format!("uploads/jobs/{}.pdf", live.id)]
        );
    } else {
        assert_eq!(deleted, 0);
    }
}

async fn an_object_whose_job_never_committed_is_deleted_after_its_grace(
    store: &Store,
    files: &Files,
) {
    // A job for an owner that does not exist: its transaction fails after the file is stored.
    let orphan = new_job(UserId::new(), "orphan.pdf");
    let err = store.create_job(&orphan).await.unwrap_err();
    assert!(err.is_missing_reference(), "{err:?}");
    assert!(store.get_job(orphan.id).await.unwrap().is_none());
    let stored = files.keys().await;
    if files.bucket.is_some() {
        assert_eq!(stored, [format!("uploads/jobs/{}.pdf", orphan.id)]);
    }
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        store.delete_unlinked_objects(now).await.unwrap(),
        0,
        "within its grace"
    );
    let later = now + Duration::from_secs(2 * 3600);
    let deleted = store.delete_unlinked_objects(later).await.unwrap();
    assert_eq!(deleted, stored.len() as u64);
    assert!(files.keys().await.is_empty());
}

async fn usage_counts_kept_bytes_and_live_jobs(store: &Store, _files: &Files) {
    let ann = user(store, "ann@example.com").await;
    let bob = user(store, "bob@example.com").await;
    assert_eq!(store.usage(ann.id).await.unwrap(), Usage::default());
    let a = job(store, ann.id, "a.pdf").await;
    let b = job(store, ann.id, "b.pdf").await;
    job(store, bob.id, "c.pdf").await;
    assert_eq!(
        store.usage(ann.id).await.unwrap(),
        Usage {
            stored_bytes: a.file_size + b.file_size,
            active_jobs: 2
        }
    );
    end(store, a.id, JobStatus::Completed).await;
    tick().await;
    assert_eq!(store.usage(ann.id).await.unwrap().active_jobs, 1);
    store
        .sweep_files(NOW_DUE, Retention::Forever)
        .await
        .unwrap();
    assert_eq!(
        store.usage(ann.id).await.unwrap(),
        Usage {
            stored_bytes: b.file_size,
            active_jobs: 1
        }
    );
    assert!(store.database_size().await.unwrap() > 0);
}

/// A bucket that cannot be reached: the upload fails within seconds and nothing is stored.
async fn an_unreachable_file_store_stores_nothing(h: Harness) {
    let config = StorageConfig {
        storage_url: "s3://nowhere/uploads".into(),
        s3_endpoint: Some("http://127.0.0.1:1".into()),
        s3_access_key_id: Some("test".into()),
        s3_secret_access_key: Some("test".into()),
        ..StorageConfig::default()
    };
    let store = h
        .store
        .clone()
        .with_file_store(FileStore::from_config(&config).unwrap());
    let ann = user(&store, "ann@example.com").await;
    let new = new_job(ann.id, "a.pdf");
    let started = std::time::Instant::now();
    let err = store.create_job(&new).await.unwrap_err();
    assert!(matches!(err, StoreError::FileStore(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(store.get_job(new.id).await.unwrap().is_none());
    assert_eq!(store.usage(ann.id).await.unwrap(), Usage::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_unreachable_file_store_stores_nothing() {
    an_unreachable_file_store_stores_nothing(Harness::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_unreachable_file_store_stores_nothing() {
    an_unreachable_file_store_stores_nothing(Harness::sqlite().await).await;
}

/// The quotas are checked in the job's transaction, holding the owner's row: of jobs created
/// together, exactly as many as fit are created; a refused job's object goes at once.
async fn jobs_created_together_never_pass_the_quotas(store: &Store, files: &Files) {
    const TOGETHER: usize = 8;
    const ROOM: usize = 3;
    let ann = user(store, "ann@example.com").await;
    let size = new_job(ann.id, "0.pdf").file_size;
    for (quotas, refusal) in [
        (
            Quotas {
                active_jobs: Some(ROOM as u64),
                ..Quotas::NONE
            },
            QuotaExceeded::ActiveJobs { max: ROOM as u64 },
        ),
        (
            Quotas {
                stored_bytes: Some(size * ROOM as u64 * 2),
                ..Quotas::NONE
            },
            QuotaExceeded::StoredBytes {
                quota: size * ROOM as u64 * 2,
                used: size * ROOM as u64 * 2,
            },
        ),
    ] {
        let creations = (0..TOGETHER).map(|n| {
            let new = NewJob {
                quotas,
                ..new_job(ann.id, &format!("{n}.pdf"))
            };
            async move { store.create_job(&new).await }
        });
        let results = futures::future::join_all(creations).await;
        let created = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(created, ROOM, "{results:?}");
        for refused in results.into_iter().filter_map(Result::err) {
            assert!(
                matches!(refused, StoreError::QuotaExceeded(q) if q == refusal),
                "{refused:?}"
            );
        }
    }
    let usage = store.usage(ann.id).await.unwrap();
    assert_eq!(usage.active_jobs, 2 * ROOM as u64);
    if files.bucket.is_some() {
        assert_eq!(
            files.keys().await.len(),
            2 * ROOM,
            "no refused job's object is kept"
        );
    }
}

/// A spooled file of `len` bytes (a PDF header, then a pattern), and its bytes.
fn spooled(len: usize) -> (FileContent, Vec<u8>) {
    use std::io::Write as _;
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..=250u8).cycle().take(len - bytes.len()));
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&bytes).unwrap();
    (FileContent::spooled(file, len as u64), bytes)
}

/// Past one part (5 MiB) a file goes to the bucket as a multipart upload, read from its spool
/// a part at a time, and is read back whole.
async fn a_large_file_is_written_in_parts(store: &Store, files: &Files) {
    let ann = user(store, "ann@example.com").await;
    let (content, bytes) = spooled(12 * 1024 * 1024 + 7);
    let new = NewJob {
        file_size: content.len(),
        content,
        ..new_job(ann.id, "large.pdf")
    };
    let created = store.create_job(&new).await.unwrap();
    assert_eq!(store.job_file(created.id).await.unwrap().unwrap(), bytes);
    if let Some(bucket) = &files.bucket {
        assert_eq!(
            files.keys().await,
            [format!("uploads/jobs/{}.pdf", created.id)]
        );
        assert!(bucket.unfinished_uploads().await.is_empty());
    }
}

/// A spool that ends before its declared length fails the third part: the multipart upload is
/// aborted (no parts are kept, no object appears) and no job is created.
async fn a_large_upload_that_fails_half_way_leaves_nothing(store: &Store, files: &Files) {
    let ann = user(store, "ann@example.com").await;
    let (short, _) = spooled(11 * 1024 * 1024);
    let mut file = tempfile::tempfile().unwrap();
    {
        use std::io::Write as _;
        file.write_all(&short.to_vec().await.unwrap()).unwrap();
    }
    let claimed = 20 * 1024 * 1024;
    let new = NewJob {
        file_size: claimed,
        content: FileContent::spooled(file, claimed),
        ..new_job(ann.id, "truncated.pdf")
    };
    let err = store.create_job(&new).await.unwrap_err();
    assert!(matches!(err, StoreError::FileStore(_)), "{err:?}");
    assert!(store.get_job(new.id).await.unwrap().is_none());
    if let Some(bucket) = &files.bucket {
        assert!(files.keys().await.is_empty());
        assert!(bucket.unfinished_uploads().await.is_empty());
        // The record stays for the sweeper, which finds nothing left to abort or delete.
        let later = OffsetDateTime::now_utc() + Duration::from_secs(2 * 3600);
        assert_eq!(store.delete_unlinked_objects(later).await.unwrap(), 1);
    }
}

/// The API process dies while a large file is being sent (here: the upload's future is dropped
/// once the bucket shows the multipart upload begun, so no abort runs). The sweeper aborts it
/// by the id recorded with the object's row, once the upload's grace has passed.
async fn an_upload_left_unfinished_by_a_dead_process_is_aborted_by_the_sweeper(
    store: &Store,
    files: &Files,
) {
    let Some(bucket) = &files.bucket else {
        return;
    };
    let ann = user(store, "ann@example.com").await;
    let (content, _) = spooled(40 * 1024 * 1024);
    let new = NewJob {
        file_size: content.len(),
        content,
        ..new_job(ann.id, "cut.pdf")
    };
    let begun = async {
        while bucket.unfinished_uploads().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Past the recording of its id (one local UPDATE), well before 40 MiB are sent.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::select! {
        created = store.create_job(&new) => panic!("the upload ended before it was cut: {created:?}"),
        () = begun => {}
    }
    assert_eq!(bucket.unfinished_uploads().await.len(), 1);
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        store.delete_unlinked_objects(now).await.unwrap(),
        0,
        "within its grace"
    );
    let later = now + Duration::from_secs(2 * 3600);
    assert_eq!(store.delete_unlinked_objects(later).await.unwrap(), 1);
    assert!(bucket.unfinished_uploads().await.is_empty());
    assert!(files.keys().await.is_empty());
}
