//! The migrations that moved results into rows: out of `jobs.chunk_results` (a job completed
//! before reads the same afterwards, page by page and whole), and out of `job_chunks` (a job
//! running across the upgrade keeps its saved chunks and completes with them), on both
//! backends.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::borrow::Cow;
use std::time::Duration;

use pdfq_domain::JobId;
use pdfq_store::{
    ChunkResult, DatabaseConfig, MIGRATOR, Provenance, SQLITE_MIGRATOR, Sentence, SentenceRow,
    Store,
};
use pdfq_test_support::TestDatabase;
use sqlx::migrate::Migrator;
use uuid::Uuid;

/// The first version that stores results as rows.
const RESULT_ROWS: i64 = 20261201000003;

/// The first version that saves finished chunks straight into those rows.
const WRITTEN_ONCE: i64 = 20261207000300;

/// `migrator` without migration `version` and those after it: the schema before.
fn before(migrator: &Migrator, version: i64) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            migrator
                .iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        ),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

/// A SQLite store in `dir` with the schema before migration `version`.
async fn sqlite_before(dir: &tempfile::TempDir, version: i64) -> Store {
    let store = Store::sqlite(&dir.path().join("pdfq.db")).await.unwrap();
    let Store::Sqlite(s) = &store else {
        unreachable!("opened as SQLite")
    };
    before(&SQLITE_MIGRATOR, version)
        .run(s.pool())
        .await
        .unwrap();
    store
}

/// Three chunks as the old schema stored them, the middle one without sentences.
fn old_result() -> Vec<ChunkResult> {
    let s = |text: &str, page| Sentence {
        text: text.to_owned(),
        page,
        ..Sentence::default()
    };
    vec![
        ChunkResult {
            index: 0,
            first_page: 1,
            last_page: 2,
            sentences: vec![s("One.", 1), s("Two \"quoted\".", 2)],
        },
        ChunkResult {
            index: 1,
            first_page: 3,
            last_page: 4,
            sentences: Vec::new(),
        },
        ChunkResult {
            index: 2,
            first_page: 5,
            last_page: 6,
            sentences: vec![s("Three.", 5), s("Four.", 6), s("Five, ünïcode.", 6)],
        },
    ]
}

const INSERT_USER: &str = "insert into users (id, email, password_hash) values ($1, $2, 'h')";
const INSERT_JOB: &str =
    "insert into jobs (id, owner_id, status, file_name, file_size, file_sha256,
                                            page_count, chunk_count, sentence_count, chunk_results)
                          values ($1, $2, 'completed', 'old.pdf', 1, $3, 6, 3, 5, $4)";

async fn reads_as_before(store: &Store, id: JobId) {
    let read = Duration::from_secs(30);
    let page = store.sentences(id, 1, 3, read).await.unwrap();
    assert_eq!(page.total, 5);
    let row = |index, text: &str, page, chunk| SentenceRow {
        index,
        text: text.to_owned(),
        page,
        chunk,
        // Rows from before provenance was kept have none.
        provenance: Provenance::default(),
    };
    assert_eq!(
        page.items,
        [
            row(1, "Two \"quoted\".", 2, 0),
            row(2, "Three.", 5, 2),
            row(3, "Four.", 6, 2)
        ]
    );
    assert_eq!(
        store.job_results(id, read).await.unwrap().unwrap(),
        old_result()
    );
    let diffs = store.verify_schema().await.unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_results_survive_the_move_to_rows() {
    let db = TestDatabase::empty().await;
    before(&MIGRATOR, RESULT_ROWS).run(&db.pool).await.unwrap();
    let (owner, id) = (Uuid::new_v4(), JobId::new());
    sqlx::query(INSERT_USER)
        .bind(owner)
        .bind("ann@example.com")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(INSERT_JOB)
        .bind(id.as_uuid())
        .bind(owner)
        .bind([7_u8; 32].as_slice())
        .bind(sqlx::types::Json(old_result()))
        .execute(&db.pool)
        .await
        .unwrap();
    let store = Store::postgres(&DatabaseConfig::for_url(&db.url)).unwrap();
    store.migrate().await.unwrap();
    reads_as_before(&store, id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_results_survive_the_move_to_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_before(&dir, RESULT_ROWS).await;
    let Store::Sqlite(s) = &store else {
        unreachable!("opened as SQLite")
    };
    let (owner, id) = (Uuid::new_v4(), JobId::new());
    sqlx::query(INSERT_USER)
        .bind(owner.to_string())
        .bind("ann@example.com")
        .execute(s.pool())
        .await
        .unwrap();
    sqlx::query(INSERT_JOB)
        .bind(id.to_string())
        .bind(owner.to_string())
        .bind([7_u8; 32].as_slice())
        .bind(sqlx::types::Json(old_result()))
        .execute(s.pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    reads_as_before(&store, id).await;
}

const INSERT_RUNNING_JOB: &str = "insert into jobs (id, owner_id, status, attempts, file_name,
                                                  file_size, file_sha256, last_finished_chunk)
                                  values ($1, $2, 'processing', 1, 'running.pdf', 1, $3, 2)";
const INSERT_CHUNK: &str = "insert into job_chunks
                                (job_id, chunk_index, attempt, first_page, last_page, sentences)
                            values ($1, $2, 1, $3, $4, $5)";

/// The chunks a running job had saved, as `job_chunks` kept them (the first sentence with
/// its provenance, as the JSON held it).
fn saved_chunks() -> (Vec<ChunkResult>, Provenance) {
    let provenance =
        Provenance::from_compact("[[[1,612.0,792.0]],[[1,72.0,90.5,300.0,102.5]]]").unwrap();
    let mut chunks = old_result();
    chunks[0].sentences[0].provenance = provenance.clone();
    (chunks, provenance)
}

/// Saved chunks survive the upgrade: a retry sees them and the job completes with them,
/// numbered as before, the provenance kept.
async fn completes_with_its_saved_chunks(store: &Store, id: JobId, provenance: Provenance) {
    let mut expected = saved_chunks().0;
    expected[0].sentences[0].provenance = Provenance::default();
    assert_eq!(store.finished_chunks(id).await.unwrap(), expected);
    let attempt = pdfq_domain::Attempt::new(1);
    store.complete_job(id, attempt, 6, 3).await.unwrap();
    let read = Duration::from_secs(30);
    let done = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(done.sentence_count, Some(5));
    let page = store.sentences(id, 0, 10, read).await.unwrap();
    let texts: Vec<(u64, &str, u32)> = page
        .items
        .iter()
        .map(|s| (s.index, s.text.as_str(), s.chunk))
        .collect();
    assert_eq!(
        texts,
        [
            (0, "One.", 0),
            (1, "Two \"quoted\".", 0),
            (2, "Three.", 2),
            (3, "Four.", 2),
            (4, "Five, ünïcode.", 2)
        ]
    );
    assert_eq!(page.items[0].provenance, provenance);
    assert_eq!(
        store.job_results(id, read).await.unwrap().unwrap(),
        expected
    );
    let diffs = store.verify_schema().await.unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_saved_chunks_survive_the_move_to_written_once() {
    let db = TestDatabase::empty().await;
    before(&MIGRATOR, WRITTEN_ONCE).run(&db.pool).await.unwrap();
    let (owner, id) = (Uuid::new_v4(), JobId::new());
    sqlx::query(INSERT_USER)
        .bind(owner)
        .bind("ann@example.com")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(INSERT_RUNNING_JOB)
        .bind(id.as_uuid())
        .bind(owner)
        .bind([7_u8; 32].as_slice())
        .execute(&db.pool)
        .await
        .unwrap();
    let (chunks, provenance) = saved_chunks();
    for chunk in &chunks {
        sqlx::query(INSERT_CHUNK)
            .bind(id.as_uuid())
            .bind(i32::try_from(chunk.index).unwrap())
            .bind(i32::try_from(chunk.first_page).unwrap())
            .bind(i32::try_from(chunk.last_page).unwrap())
            .bind(sqlx::types::Json(&chunk.sentences))
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let store = Store::postgres(&DatabaseConfig::for_url(&db.url)).unwrap();
    store.migrate().await.unwrap();
    completes_with_its_saved_chunks(&store, id, provenance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_saved_chunks_survive_the_move_to_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_before(&dir, WRITTEN_ONCE).await;
    let Store::Sqlite(s) = &store else {
        unreachable!("opened as SQLite")
    };
    let (owner, id) = (Uuid::new_v4(), JobId::new());
    sqlx::query(INSERT_USER)
        .bind(owner.to_string())
        .bind("ann@example.com")
        .execute(s.pool())
        .await
        .unwrap();
    sqlx::query(INSERT_RUNNING_JOB)
        .bind(id.to_string())
        .bind(owner.to_string())
        .bind([7_u8; 32].as_slice())
        .execute(s.pool())
        .await
        .unwrap();
    let (chunks, provenance) = saved_chunks();
    for chunk in &chunks {
        sqlx::query(INSERT_CHUNK)
            .bind(id.to_string())
            .bind(chunk.index)
            .bind(chunk.first_page)
            .bind(chunk.last_page)
            .bind(serde_json::to_string(&chunk.sentences).unwrap())
            .execute(s.pool())
            .await
            .unwrap();
    }
    store.migrate().await.unwrap();
    completes_with_its_saved_chunks(&store, id, provenance).await;
}
