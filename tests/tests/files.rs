//! Uploaded files end to end: kept in the database or in an S3-compatible bucket (a real server:
//! `TEST_S3_URL`, started by `cargo xtask ci`), removed by retention, the answer to a retry
//! once a file is gone, and the per-user quotas.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::time::Duration;

use futures::StreamExt as _;

use pdfq_api::Settings;
use pdfq_client::types::{JobListQuery, JobView};
use pdfq_domain::{JobId, JobStatus, WorkerId};
use pdfq_e2e::worker::RunningWorker;
use pdfq_e2e::{Backend, TestApp, on_both_backends, on_both_backends_with};
use pdfq_store::{FileStore, Retention, StorageConfig};
use pdfq_test_support::TestBucket;
use pdfq_test_support::pdf::text_pdf;

on_both_backends!(a_retry_of_a_job_whose_file_is_gone_is_refused_410);
on_both_backends_with!(small_quotas => quotas_are_answered_413_and_429);
on_both_backends_with!(room_for_three_live_jobs => concurrent_uploads_never_pass_the_job_limit);
on_both_backends_with!(room_for_three_files => concurrent_uploads_never_pass_the_storage_quota);

/// FILE_RETENTION's default: files go at the first sweep after their job ended.
const NOW_DUE: Retention = Retention::For(Duration::ZERO);

async fn ended(client: &pdfq_client::Client, id: JobId) -> JobView {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = client.job_status(id).await.unwrap();
        if job.status.is_terminal() {
            return client.job(id).await.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "{job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_retry_of_a_job_whose_file_is_gone_is_refused_410(app: TestApp) {
    let user = app.user().await;
    let admin = app.admin().await;
    let id = user
        .client
        .upload("a.pdf", text_pdf(&["Hello."]))
        .await
        .unwrap()
        .job_id;
    let worker = WorkerId::generate("e2e", 1);
    let attempt = app
        .store
        .claim_job(id, &worker)
        .await
        .unwrap()
        .unwrap()
        .attempt;
    app.store
        .fail_job(id, attempt, "damaged", "bad", None)
        .await
        .unwrap();
    app.store
        .sweep_files(NOW_DUE, Retention::Forever)
        .await
        .unwrap();
    let err = admin.client.admin_retry(id).await.unwrap_err();
    assert_eq!(err.status(), Some(410), "{err}");
    assert_eq!(err.code(), Some("file_gone"), "{err}");
    assert!(err.to_string().contains("upload the PDF again"), "{err}");
    // The job itself is still there to read.
    assert_eq!(
        user.client.job_status(id).await.unwrap().status,
        JobStatus::Failed
    );
}

/// Room for two of the test's files and a half.
fn small_quotas(settings: &mut Settings) {
    let size = text_pdf(&["Hello."]).len() as u64;
    settings.user_storage_quota = Some(size * 5 / 2);
    settings.user_max_active_jobs = Some(2);
}

async fn quotas_are_answered_413_and_429(app: TestApp) {
    let user = app.user().await;
    let pdf = || text_pdf(&["Hello."]);
    let a = user.client.upload("a.pdf", pdf()).await.unwrap().job_id;
    user.client.upload("b.pdf", pdf()).await.unwrap();
    let err = user.client.upload("c.pdf", pdf()).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(429), Some("too_many_active_jobs")),
        "{err}"
    );
    // One job ends: a live slot is free, but its file is still kept: three would not fit.
    app.complete_job(a, &["Hello."]).await;
    let err = user.client.upload("c.pdf", pdf()).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(413), Some("storage_quota_exceeded")),
        "{err}"
    );
    assert!(err.to_string().contains("quota"), "{err}");
    // Retention removes the ended job's file: room again.
    app.store
        .sweep_files(NOW_DUE, Retention::Forever)
        .await
        .unwrap();
    user.client.upload("c.pdf", pdf()).await.unwrap();
    // Another user has quotas of their own.
    let other = app.user().await;
    other.client.upload("d.pdf", pdf()).await.unwrap();
}

/// Uploads sent at once by one user in the concurrency cases: all are received together.
const AT_ONCE: usize = 10;
/// What the quotas of those cases leave room for.
const ROOM: usize = 3;

fn all_at_once(settings: &mut Settings) {
    settings.upload_rate_limit = "1000/hour".parse().unwrap();
    settings.max_concurrent_uploads = AT_ONCE;
    settings.max_concurrent_uploads_per_user = AT_ONCE;
}

fn room_for_three_live_jobs(settings: &mut Settings) {
    all_at_once(settings);
    settings.user_max_active_jobs = Some(ROOM as u64);
}

fn room_for_three_files(settings: &mut Settings) {
    all_at_once(settings);
    settings.user_storage_quota = Some(text_pdf(&["Hello."]).len() as u64 * ROOM as u64);
}

/// Sends [`AT_ONCE`] uploads of one user together; the codes of the refused ones, and how
/// many were accepted.
async fn upload_at_once(app: &TestApp) -> (usize, Vec<(Option<u16>, Option<String>)>) {
    let user = app.user().await;
    let uploads = (0..AT_ONCE).map(|n| {
        let client = user.client.clone();
        async move {
            client
                .upload(&format!("{n}.pdf"), text_pdf(&["Hello."]))
                .await
        }
    });
    let answers = futures::future::join_all(uploads).await;
    let accepted = answers.iter().filter(|a| a.is_ok()).count();
    let refused = answers
        .into_iter()
        .filter_map(Result::err)
        .map(|e| (e.status(), e.code().map(str::to_owned)))
        .collect();
    let jobs = user.client.jobs(&JobListQuery::default()).await.unwrap();
    assert_eq!(
        jobs.total, accepted as u64,
        "a job for every 202 and no other"
    );
    (accepted, refused)
}

/// The limit is checked in the job's own transaction: uploads received together cannot all
/// see the same free room.
async fn concurrent_uploads_never_pass_the_job_limit(app: TestApp) {
    let (accepted, refused) = upload_at_once(&app).await;
    assert_eq!(accepted, ROOM, "{refused:?}");
    let too_many = (Some(429), Some("too_many_active_jobs".to_owned()));
    assert!(refused.iter().all(|r| *r == too_many), "{refused:?}");
}

async fn concurrent_uploads_never_pass_the_storage_quota(app: TestApp) {
    let (accepted, refused) = upload_at_once(&app).await;
    assert_eq!(accepted, ROOM, "{refused:?}");
    let over = (Some(413), Some("storage_quota_exceeded".to_owned()));
    assert!(refused.iter().all(|r| *r == over), "{refused:?}");
}

/// Files in the test bucket, under `prefix`.
fn bucket_files(bucket: &TestBucket, prefix: &str) -> FileStore {
    FileStore::from_config(&StorageConfig {
        storage_url: bucket.storage_url(prefix),
        s3_endpoint: Some(bucket.endpoint.clone()),
        s3_region: Some("us-east-1".into()),
        s3_access_key_id: Some("test".into()),
        s3_secret_access_key: Some("test".into()),
        ..StorageConfig::default()
    })
    .unwrap()
}

async fn a_real_worker_completes_an_upload_with_its_file_in_a_bucket(backend: Backend) {
    let Some(bucket) =
        TestBucket::create("a_real_worker_completes_an_upload_with_its_file_in_a_bucket").await
    else {
        return;
    };
    let app = TestApp::spawn_with_files(backend, bucket_files(&bucket, "pdfq"), |_| {}).await;
    let worker = RunningWorker::start(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"));
    let user = app.user().await;
    let id = user
        .client
        .upload("a.pdf", text_pdf(&["The file was kept in a bucket."]))
        .await
        .unwrap()
        .job_id;
    let job = ended(&user.client, id).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    assert_eq!(job.sentences.unwrap(), ["The file was kept in a bucket."]);
    worker.stop().await;
    // The default retention, as the sweeper applies it: the file goes, the result stays.
    let defaults = StorageConfig::default();
    app.store
        .sweep_files(defaults.file_retention, defaults.job_retention)
        .await
        .unwrap();
    assert!(bucket.keys().await.is_empty(), "{:?}", bucket.keys().await);
    assert_eq!(
        user.client.job_status(id).await.unwrap().status,
        JobStatus::Completed
    );
}

async fn an_upload_is_answered_503_when_the_bucket_is_down(backend: Backend) {
    let down = FileStore::from_config(&StorageConfig {
        storage_url: "s3://pdfq/uploads".into(),
        s3_endpoint: Some("http://127.0.0.1:1".into()),
        s3_access_key_id: Some("test".into()),
        s3_secret_access_key: Some("test".into()),
        ..StorageConfig::default()
    })
    .unwrap();
    let app = TestApp::spawn_with_files(backend, down, |_| {}).await;
    let user = app.user().await;
    let err = user
        .client
        .upload("a.pdf", text_pdf(&["Hello."]))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(503), Some("file_store_unavailable")),
        "{err}"
    );
    let jobs = user.client.jobs(&JobListQuery::default()).await.unwrap();
    assert_eq!(jobs.total, 0, "nothing half-written: {jobs:?}");
}

macro_rules! with_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                super::$name(pdfq_e2e::Backend::Distributed).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_memory() {
                super::$name(pdfq_e2e::Backend::Embedded).await;
            }
        }
    )*};
}

with_backends!(
    a_real_worker_completes_an_upload_with_its_file_in_a_bucket,
    an_upload_is_answered_503_when_the_bucket_is_down,
);

/// MEASURE (README, "Files and retention"): PostgreSQL's size before and after 1,000 jobs run
/// through the real API and worker with the default settings (files in the database,
/// FILE_RETENTION 0). Run by name:
/// `cargo test -p pdfq-e2e --test files -- --ignored --nocapture measure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of a minute or two; run it by name (README)"]
async fn measure_file_bytes_left_in_postgres_after_1000_jobs() {
    const JOBS: usize = 1000;
    let app = TestApp::spawn_with(Backend::Distributed, |s| {
        s.upload_rate_limit = "100000/hour".parse().unwrap();
        s.max_concurrent_uploads_per_user = 8;
    })
    .await;
    let pdfq_store::Store::Postgres(pg) = &app.store else {
        unreachable!("the distributed backend is PostgreSQL")
    };
    let pool = pg.pool().clone();
    let sizes = || {
        let pool = pool.clone();
        async move {
            let row: (i64, i64, i64, i64) = sqlx::query_as(
                "select pg_database_size(current_database()), pg_total_relation_size('job_files'),
                        (select count(*) from job_files),
                        (select coalesce(sum(octet_length(content)), 0)::bigint from job_files)",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            row
        }
    };
    let show = |label: &str, (db, files, rows, bytes): (i64, i64, i64, i64)| {
        println!(
            "{label:<34} database {:>8.1} MB | job_files {:>8.1} MB, {rows:>4} rows, {:>8.1} MB of file bytes",
            db as f64 / 1048576.0,
            files as f64 / 1048576.0,
            bytes as f64 / 1048576.0
        );
    };
    let before = sizes().await;
    show("before", before);
    let worker = RunningWorker::start(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"));
    let user = app.user().await;
    let page = "A sentence of some length that fills the page with text to read. ".repeat(30);
    let pdf = text_pdf(&[&page, &page, &page, &page, &page]);
    println!("uploading {JOBS} files of {} bytes", pdf.len());
    let uploads = (0..JOBS).map(|n| {
        let (client, pdf) = (user.client.clone(), pdf.clone());
        async move { client.upload(&format!("{n}.pdf"), pdf).await.unwrap() }
    });
    futures::stream::iter(uploads)
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let completed = app
            .store
            .count_by_status()
            .await
            .unwrap()
            .get(JobStatus::Completed);
        if completed == JOBS as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{completed} completed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let loaded = sizes().await;
    show("1000 jobs completed (sweeps under way)", loaded);
    // The worker's own sweeper (every 15 s) applies FILE_RETENTION.
    loop {
        let (_, _, rows, _) = sizes().await;
        if rows == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{rows} files left");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    worker.stop().await;
    let swept = sizes().await;
    show("after the worker's sweep", swept);
    sqlx::query("vacuum job_files")
        .execute(&pool)
        .await
        .unwrap();
    let vacuumed = sizes().await;
    show("after vacuum (autovacuum's work)", vacuumed);
    assert_eq!((swept.2, swept.3), (0, 0), "no file bytes remain");
    assert!(vacuumed.1 < loaded.1 / 10, "{vacuumed:?} vs {loaded:?}");
}
