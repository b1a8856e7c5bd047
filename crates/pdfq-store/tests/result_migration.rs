//! The migration that moves results out of `jobs.chunk_results` into rows: a job completed
//! before it reads the same afterwards, page by page and whole, on both backends.

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

/// `migrator` without the result-rows migration and those after it: the schema before.
fn before(migrator: &Migrator) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            migrator
                .iter()
                .filter(|m| m.version < RESULT_ROWS)
                .cloned()
                .collect(),
        ),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
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
    before(&MIGRATOR).run(&db.pool).await.unwrap();
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
    let store = Store::sqlite(&dir.path().join("pdfq.db")).await.unwrap();
    let Store::Sqlite(s) = &store else {
        unreachable!("opened as SQLite")
    };
    before(&SQLITE_MIGRATOR).run(s.pool()).await.unwrap();
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
