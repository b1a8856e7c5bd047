//! How long a page of sentences takes, first page against a deep one, on both backends:
//! a completed job of 50,000 sentences in 10 chunks (the worker's default chunk count), then
//! `sentences(offset, 10)` at page 1 and page 2,000, and the whole result read once.
//!
//! `cargo run --release -p pdfq-store --example sentence_pages` (PostgreSQL from
//! TEST_DATABASE_URL, as the tests; SQLite in a temporary file).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a measuring script, not the service

use std::time::{Duration, Instant};

use pdfq_domain::{JobId, WorkerId};
use pdfq_store::{ChunkResult, DatabaseConfig, MIGRATOR, NewJob, Role, Sentence, Store};
use pdfq_test_support::TestDatabase;

const CHUNKS: u32 = 10;
const PER_CHUNK: u32 = 5_000;
const PER_PAGE: u32 = 10;
const DEEP_PAGE: u64 = 2_000;
const READ: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() {
    let db = TestDatabase::migrated(&MIGRATOR).await;
    let pg = Store::postgres(&DatabaseConfig::for_url(&db.url)).unwrap();
    measure("PostgreSQL", &pg).await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::sqlite(&dir.path().join("pdfq.db")).await.unwrap();
    sqlite.migrate().await.unwrap();
    measure("SQLite", &sqlite).await;
}

async fn measure(backend: &str, store: &Store) {
    let id = completed_job(store).await;
    let first = best_of(store, id, 0).await;
    let deep = best_of(store, id, (DEEP_PAGE - 1) * u64::from(PER_PAGE)).await;
    let start = Instant::now();
    let whole = store.job_results(id, READ).await.unwrap().unwrap();
    let whole_time = start.elapsed();
    assert_eq!(whole.len(), CHUNKS as usize);
    println!(
        "{backend:<10} page 1: {:>9.3} ms  page {DEEP_PAGE}: {:>9.3} ms  ratio {:>7.1}  whole result: {:>8.1} ms",
        ms(first),
        ms(deep),
        deep.as_secs_f64() / first.as_secs_f64(),
        ms(whole_time),
    );
}

/// The fastest of five reads of one page (the first warms the caches).
async fn best_of(store: &Store, id: JobId, offset: u64) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let page = store.sentences(id, offset, PER_PAGE, READ).await.unwrap();
        best = best.min(start.elapsed());
        assert_eq!(page.items.len(), PER_PAGE as usize);
        assert_eq!(page.items[0].index, offset);
    }
    best
}

async fn completed_job(store: &Store) -> JobId {
    let owner = store
        .create_user("bench@example.com", "argon2-hash", Role::User)
        .await
        .unwrap();
    let bytes = b"%PDF-1.7 bench".to_vec();
    let job = store
        .create_job(&NewJob {
            id: JobId::new(),
            owner: owner.id,
            file_name: "bench.pdf".into(),
            file_size: bytes.len() as u64,
            sha256: [7; 32],
            content: bytes.into(),
            quotas: pdfq_store::Quotas::NONE,
        })
        .await
        .unwrap();
    let attempt = store
        .claim_job(job.id, &WorkerId::generate("bench", 1))
        .await
        .unwrap()
        .unwrap()
        .attempt;
    for index in 0..CHUNKS {
        let sentences = (0..PER_CHUNK)
            .map(|n| Sentence {
                text: format!("Sentence {n} of chunk {index}, of a typical length for prose."),
                page: index * 100 + n / 50 + 1,
                ..Sentence::default()
            })
            .collect();
        let chunk = ChunkResult {
            index,
            first_page: index * 100 + 1,
            last_page: index * 100 + 100,
            sentences,
        };
        store.save_chunk(job.id, attempt, &chunk).await.unwrap();
    }
    store
        .complete_job(job.id, attempt, CHUNKS * 100, CHUNKS)
        .await
        .unwrap();
    job.id
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
