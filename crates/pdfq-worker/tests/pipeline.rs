//! The worker end to end on real stores and brokers: PostgreSQL + Redis (distributed) and
//! SQLite + the in-process broker (embedded). Every test runs on both.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use pdfq_domain::{Attempt, JobId, JobStatus, UserId};
use pdfq_extract::IsolationLimits;
use pdfq_queue::{Broker, MemoryBroker, QueueOptions, RedisBroker};
use pdfq_store::{ChunkResult, NewJob, Role, Sentence, Store};
use pdfq_test_support::pdf::{repeated_form_pdf, text_pdf};
use pdfq_test_support::{TestDatabase, TestRedis};
use pdfq_worker::job::Outcome;
use pdfq_worker::{Extractor, Worker, WorkerSettings};

#[derive(Debug, Clone, Copy)]
enum Backend {
    Distributed,
    Embedded,
}

struct Env {
    store: Store,
    broker: Broker,
    owner: UserId,
    _db: Option<TestDatabase>,
    _redis: Option<TestRedis>,
    _dir: Option<tempfile::TempDir>,
}

async fn env(backend: Backend, options: QueueOptions) -> Env {
    let (store, broker, db, redis, dir) = match backend {
        Backend::Distributed => {
            let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
            let redis = TestRedis::new();
            let store = Store::connect(&db.url).await.unwrap();
            let broker: Broker = RedisBroker::connect_url(&redis.url, &redis.prefix, options)
                .await
                .unwrap()
                .into();
            (store, broker, Some(db), Some(redis), None)
        }
        Backend::Embedded => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::sqlite(&dir.path().join("pdfq.db")).await.unwrap();
            store.migrate().await.unwrap();
            let broker: Broker = MemoryBroker::new(options).into();
            (store, broker, None, None, Some(dir))
        }
    };
    let owner = store
        .create_user(&format!("{}@example.com", JobId::new()), "hash", Role::User)
        .await
        .unwrap()
        .id;
    Env {
        store,
        broker,
        owner,
        _db: db,
        _redis: redis,
        _dir: dir,
    }
}

/// The worker's own child, reused for up to 50 jobs as by default.
fn real_extractor() -> Extractor {
    Extractor::new(
        Path::new(env!("CARGO_BIN_EXE_pdfq-worker")),
        &[OsString::from("extract-child")],
        IsolationLimits::default(),
        50,
        2,
    )
}

/// An "extractor" that is a plain program: `false` dies at once, `sleep` never answers.
fn program_extractor(program: &str, args: &[&str]) -> Extractor {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    Extractor::new(Path::new(program), &args, IsolationLimits::default(), 50, 2)
}

fn settings(extractor: Extractor) -> WorkerSettings {
    WorkerSettings {
        retry_delay: Some(Duration::ZERO),
        max_retries: 2,
        ..WorkerSettings::defaults(extractor)
    }
}

async fn submit(env: &Env, bytes: Vec<u8>) -> JobId {
    let id = JobId::new();
    let new = NewJob {
        id,
        owner: env.owner,
        file_name: "test.pdf".into(),
        file_size: bytes.len() as u64,
        sha256: [0; 32],
        content: bytes.into(),
        quotas: pdfq_store::Quotas::NONE,
    };
    env.store.create_job(&new).await.unwrap();
    env.broker.enqueue(id, Attempt::new(1)).await.unwrap();
    id
}

fn pages(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("This is page {i} of the test.\nIt has a second sentence on page {i}."))
        .collect()
}

fn pdf_of(n: usize) -> Vec<u8> {
    let texts = pages(n);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    text_pdf(&refs)
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn distributed() {
                super::$name(super::Backend::Distributed).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name(super::Backend::Embedded).await;
            }
        }
    )*};
}

on_both_backends!(
    a_job_completes_with_chunks_progress_and_sentences,
    a_small_job_commits_its_chunks_together,
    a_many_page_job_reports_its_progress_page_by_page,
    a_duplicate_delivery_is_dropped_and_the_result_written_once,
    input_that_cannot_succeed_fails_at_once,
    a_crashing_extractor_is_retried_then_dead_lettered_without_hurting_other_jobs,
    the_soft_time_limit_stops_a_job,
    the_hard_time_limit_kills_the_extraction,
    a_retried_job_resumes_after_its_last_finished_chunk,
    a_late_commit_after_the_lease_was_lost_is_rejected,
    shutdown_hands_running_jobs_back_at_once,
    a_running_job_can_be_cancelled_from_another_process,
    the_sweeper_enqueues_pending_jobs_that_never_reached_the_queue,
    a_file_that_multiplies_its_text_fails_and_stores_nothing,
    a_result_over_the_sentence_limit_fails_without_storing_more_than_the_limit,
    a_spinning_extractor_is_stopped_by_its_cpu_limit,
    a_file_over_the_page_limit_fails_once_naming_the_setting,
);

/// Every sentence byte stored for `job`: its finished chunks and its result.
async fn stored_sentence_bytes(env: &Env, job: JobId) -> usize {
    let chunks = env.store.finished_chunks(job).await.unwrap();
    let results = env
        .store
        .job_results(job, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap_or_default();
    chunks
        .iter()
        .chain(&results)
        .flat_map(|c| &c.sentences)
        .map(|s| s.text.len())
        .sum()
}

async fn a_file_that_multiplies_its_text_fails_and_stores_nothing(backend: Backend) {
    // 40 pages each drawing one 800-byte form 1,600 times: 52 KB that extracted to 49 MB of
    // text and 24,695 sentences, all stored, before the result limits.
    let env = env(backend, QueueOptions::default()).await;
    let words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";
    let job = submit(&env, repeated_form_pdf(40, 1600, &words.repeat(10))).await;
    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(real_extractor()),
    );
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Failed {
            job,
            code: "result_too_large".into()
        }]
    );
    let stored = env.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
    assert_eq!(stored.attempts, Attempt::new(1), "no retry can help");
    let message = stored.error_message.unwrap_or_default();
    assert!(message.contains("MAX_PAGE_GLYPHS"), "{message}");
    assert_eq!(stored_sentence_bytes(&env, job).await, 0);
}

async fn a_result_over_the_sentence_limit_fails_without_storing_more_than_the_limit(
    backend: Backend,
) {
    let env = env(backend, QueueOptions::default()).await;
    // 12 pages of 2 sentences in 10 chunks; at most 9 sentences may be stored.
    let (job, message) =
        twelve_pages_fail_under(&env, |limits| limits.max_sentences = 9, "result_too_large").await;
    let chunks = env.store.finished_chunks(job).await.unwrap();
    let sentences: usize = chunks.iter().map(|c| c.sentences.len()).sum();
    assert!(sentences <= 9, "{sentences} sentences stored");
    assert!(message.contains("MAX_RESULT_SENTENCES"), "{message}");
}

/// Runs a job of `pdf_of(12)` under the default limits changed by `change`, and checks it
/// failed once, with `code` and no retry: its id and error message.
async fn twelve_pages_fail_under(
    env: &Env,
    change: impl FnOnce(&mut pdfq_extract::Limits),
    code: &str,
) -> (JobId, String) {
    let job = submit(env, pdf_of(12)).await;
    let mut extractor = real_extractor();
    change(&mut extractor.limits.limits);
    let worker = Worker::new(env.store.clone(), env.broker.clone(), settings(extractor));
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Failed {
            job,
            code: code.into()
        }]
    );
    let stored = env.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(stored.attempts, Attempt::new(1), "no retry can help");
    (job, stored.error_message.unwrap_or_default())
}

async fn a_file_over_the_page_limit_fails_once_naming_the_setting(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let (_, message) =
        twelve_pages_fail_under(&env, |limits| limits.max_pages = 5, "too_large").await;
    assert!(
        message.contains("over the limit of 5") && message.contains("MAX_PAGES"),
        "{message}"
    );
}

async fn a_spinning_extractor_is_stopped_by_its_cpu_limit(backend: Backend) {
    // The CPU limit (1 s here, 30 s by default) stops a spinning parser long before the
    // time limit; it used to be raised to the time limit plus one second.
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(1)).await;
    let mut extractor = program_extractor("/bin/sh", &["-c", "while :; do :; done"]);
    extractor.limits.cpu_seconds = 1;
    let mut settings = settings(extractor);
    settings.soft_time_limit = Duration::from_secs(30);
    settings.hard_time_limit = Duration::from_secs(40);
    let worker = Worker::new(env.store.clone(), env.broker.clone(), settings);
    let started = std::time::Instant::now();
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Failed {
            job,
            code: "resource_limit".into()
        }]
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // The operator's next step: which setting to raise, and its value now.
    let stored = env.store.get_job(job).await.unwrap().unwrap();
    let message = stored.error_message.unwrap_or_default();
    assert!(message.contains("EXTRACT_CPU_LIMIT = 1 s"), "{message}");
}

async fn a_job_completes_with_chunks_progress_and_sentences(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(12)).await;
    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(real_extractor()),
    );
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Completed {
            job,
            pages: 12,
            chunks: 10
        }]
    );

    let stored = env.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Completed);
    assert_eq!(stored.progress.get(), 100);
    assert_eq!(stored.attempts, Attempt::new(1));
    assert_eq!(stored.page_count, Some(12));
    assert_eq!(stored.chunk_count, Some(10));
    let results = env
        .store
        .job_results(job, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(results.len(), 10);
    assert_eq!((results[0].first_page, results[0].last_page), (1, 2));
    let sentences: Vec<&Sentence> = results.iter().flat_map(|c| &c.sentences).collect();
    assert_eq!(sentences.len(), 24, "{sentences:#?}");
    assert_eq!(sentences[0].text, "This is page 1 of the test.");
    assert_eq!(sentences[23].text, "It has a second sentence on page 12.");
    assert_eq!(sentences[23].page, 12);

    let events = env.store.job_events(job).await.unwrap();
    let statuses: Vec<JobStatus> = events.iter().map(|e| e.status).collect();
    assert_eq!(statuses.first(), Some(&JobStatus::Pending));
    assert_eq!(statuses.last(), Some(&JobStatus::Completed));
    assert!(statuses.contains(&JobStatus::Processing));
}

/// Issue 18 item 5: a job finished within one progress interval commits its ten chunks in one
/// transaction; it used to take one transaction, and its wait, per chunk and per progress step.
async fn a_small_job_commits_its_chunks_together(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(10)).await;
    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        WorkerSettings {
            progress_interval: Duration::from_secs(60),
            ..settings(real_extractor())
        },
    );
    // PostgreSQL tells which transaction wrote each version of the job's row: a trigger
    // logs them (other tests write to the same server meanwhile, so a global count would not
    // do). SQLite cannot tell; it runs the same code.
    let pool = match &env._db {
        Some(db) => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            for statement in [
                "create table job_writes (job uuid not null, tx bigint not null)",
                "create function log_job_write() returns trigger language plpgsql as $$
                 begin insert into job_writes values (new.id, txid_current()); return new; end $$",
                "create trigger log_job_write after update on jobs
                 for each row execute function log_job_write()",
            ] {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            Some(pool)
        }
        None => None,
    };
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Completed {
            job,
            pages: 10,
            chunks: 10
        }]
    );
    let results = env
        .store
        .job_results(job, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(results.len(), 10);
    if let Some(pool) = &pool {
        let writes: i64 =
            sqlx::query_scalar("select count(distinct tx) from job_writes where job = $1::uuid")
                .bind(job.to_string())
                .fetch_one(pool)
                .await
                .unwrap();
        // The claim; the chunks with the completion.
        assert_eq!(writes, 2, "write transactions for a 10-page job");
    }
}

async fn a_many_page_job_reports_its_progress_page_by_page(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(1000)).await;
    // Every page's progress written (the 250 ms coalescing is the throttle's unit test), so a
    // job this quick still shows how closely progress follows the pages.
    let settings = WorkerSettings {
        progress_interval: Duration::ZERO,
        ..settings(real_extractor())
    };
    let worker = Worker::new(env.store.clone(), env.broker.clone(), settings);
    // A poller's view: every state it sees until the job ends.
    let store = env.store.clone();
    let poller = tokio::spawn(async move {
        let mut seen: Vec<(u8, String)> = Vec::new();
        loop {
            let now = store.get_job(job).await.unwrap().unwrap();
            let state = (now.progress.get(), now.current_step.clone());
            if seen.last() != Some(&state) {
                seen.push(state);
            }
            if now.status.is_terminal() {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let outcomes = worker.run_until_empty().await.unwrap();
    assert!(
        matches!(outcomes[..], [Outcome::Completed { pages: 1000, .. }]),
        "{outcomes:?}"
    );
    let seen = tokio::time::timeout(Duration::from_secs(30), poller)
        .await
        .unwrap()
        .unwrap();
    let percents: Vec<u8> = seen.iter().map(|(p, _)| *p).collect();
    assert!(
        percents.windows(2).all(|w| w[0] <= w[1]),
        "never backwards: {percents:?}"
    );
    let mut distinct = percents;
    distinct.dedup();
    assert!(
        distinct.len() >= 20,
        "{} distinct: {seen:?}",
        distinct.len()
    );
    assert!(
        seen.iter()
            .any(|(_, step)| step.starts_with("Extracting page ") && step.ends_with(" of 1,000")),
        "{seen:?}"
    );
    eprintln!(
        "1,000 pages: the poller saw {} states, {} distinct percentages",
        seen.len(),
        distinct.len()
    );
}

async fn a_duplicate_delivery_is_dropped_and_the_result_written_once(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(2)).await;
    env.broker.enqueue(job, Attempt::new(1)).await.unwrap();
    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(real_extractor()),
    );
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Completed {
                job,
                pages: 2,
                chunks: 2
            },
            Outcome::Dropped { job }
        ]
    );
    let stored = env.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(
        stored.attempts,
        Attempt::new(1),
        "the duplicate must not start an attempt"
    );
    assert_eq!(stored.sentence_count, Some(4));
}

async fn input_that_cannot_succeed_fails_at_once(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(
        &env,
        b"%PDF-1.4\nthis is not really a PDF at all\n".to_vec(),
    )
    .await;
    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(real_extractor()),
    );
    let outcomes = worker.run_until_empty().await.unwrap();
    let [Outcome::Failed { job: failed, code }] = outcomes.as_slice() else {
        panic!("expected one failure, got {outcomes:?}");
    };
    assert_eq!(*failed, job);
    assert!(["damaged", "not_a_pdf"].contains(&code.as_str()), "{code}");
    let stored = env.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
    assert_eq!(
        stored.attempts,
        Attempt::new(1),
        "a permanent failure is not retried"
    );
    assert!(stored.error_message.is_some());
    assert!(env.broker.dead_letters(10).await.unwrap().is_empty());
}

async fn a_crashing_extractor_is_retried_then_dead_lettered_without_hurting_other_jobs(
    backend: Backend,
) {
    let env = env(backend, QueueOptions::default()).await;
    let poison = submit(&env, pdf_of(1)).await;
    let crashing = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(program_extractor("/bin/sh", &["-c", "kill -SEGV $$"])),
    );
    let outcomes = crashing.run_until_empty().await.unwrap();
    let codes: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Retrying { code, .. } => format!("retrying:{code}"),
            Outcome::Failed { code, .. } => format!("failed:{code}"),
            other => format!("{other:?}"),
        })
        .collect();
    // max_retries = 2: three attempts in all.
    assert_eq!(
        codes,
        [
            "retrying:extractor_crashed",
            "retrying:extractor_crashed",
            "failed:extractor_crashed"
        ]
    );
    let stored = env.store.get_job(poison).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
    assert_eq!(stored.attempts, Attempt::new(3));
    let dead = env.broker.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job_id, poison);
    assert!(
        dead[0].reason.contains("gave up after 3 attempts"),
        "{}",
        dead[0].reason
    );

    let healthy = submit(&env, pdf_of(1)).await;
    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(real_extractor()),
    );
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Completed {
            job: healthy,
            pages: 1,
            chunks: 1
        }]
    );
}

async fn the_soft_time_limit_stops_a_job(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(1)).await;
    let mut settings = settings(program_extractor("/bin/sleep", &["30"]));
    settings.soft_time_limit = Duration::from_millis(300);
    settings.hard_time_limit = Duration::from_secs(20);
    let worker = Worker::new(env.store.clone(), env.broker.clone(), settings);
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Failed {
            job,
            code: "soft_time_limit".into()
        }]
    );
    let stored = env.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
    assert!(
        stored
            .error_message
            .unwrap()
            .contains("soft time limit exceeded")
    );
}

async fn the_hard_time_limit_kills_the_extraction(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(1)).await;
    let mut settings = settings(program_extractor("/bin/sleep", &["30"]));
    settings.soft_time_limit = Duration::from_secs(20);
    settings.hard_time_limit = Duration::from_millis(400);
    let worker = Worker::new(env.store.clone(), env.broker.clone(), settings);
    let started = std::time::Instant::now();
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Failed {
            job,
            code: "hard_time_limit".into()
        }]
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the child must be killed, not awaited"
    );
}

async fn a_retried_job_resumes_after_its_last_finished_chunk(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(4)).await;
    // A first attempt finished chunk 0, then its worker died.
    let claimed = env
        .store
        .claim_job(job, &pdfq_domain::WorkerId::generate("gone", 1))
        .await
        .unwrap()
        .unwrap();
    let marker = ChunkResult {
        index: 0,
        first_page: 1,
        last_page: 1,
        sentences: vec![Sentence {
            text: "Saved by the first attempt.".into(),
            page: 1,
            ..Sentence::default()
        }],
    };
    assert!(
        env.store
            .save_chunk(job, claimed.attempt, &marker)
            .await
            .unwrap()
            .is_ok()
    );
    env.store
        .requeue_job(job, claimed.attempt, "test: worker lost")
        .await
        .unwrap();

    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(real_extractor()),
    );
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Completed {
            job,
            pages: 4,
            chunks: 4
        }]
    );
    let results = env
        .store
        .job_results(job, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        results[0].sentences, marker.sentences,
        "chunk 0 must not be redone"
    );
    assert_eq!(results[1].sentences[0].text, "This is page 2 of the test.");
    assert_eq!(
        env.store.get_job(job).await.unwrap().unwrap().attempts,
        Attempt::new(2)
    );
}

async fn a_late_commit_after_the_lease_was_lost_is_rejected(backend: Backend) {
    let options = QueueOptions {
        lease: Duration::from_millis(500),
        ..QueueOptions::default()
    };
    let env = env(backend, options).await;
    let job = submit(&env, pdf_of(2)).await;
    // A worker fetched and claimed the job, then stopped (SIGSTOP) past its lease.
    let paused = pdfq_domain::WorkerId::generate("paused", 2);
    let delivery = env
        .broker
        .fetch(&paused, 1, Duration::from_millis(50))
        .await
        .unwrap()
        .remove(0);
    let claimed = env.store.claim_job(job, &paused).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(real_extractor()),
    );
    let report =
        pdfq_worker::sweeper::sweep(&worker_context(&worker, &env), Duration::from_secs(3600), 4)
            .await
            .unwrap();
    assert_eq!(report.requeued_stale, 1);
    assert_eq!(
        report.reaped.len(),
        1,
        "the paused worker's entry is reaped"
    );
    assert_eq!(report.reaped[0].entry_id, delivery.entry_id);

    let outcome =
        pdfq_worker::job::execute(&worker_context(&worker, &env), report.reaped[0].clone()).await;
    assert_eq!(
        outcome,
        Outcome::Completed {
            job,
            pages: 2,
            chunks: 2
        }
    );
    assert!(
        worker.run_until_empty().await.unwrap().is_empty(),
        "nothing else is queued"
    );
    // The paused worker wakes up and tries to finish its attempt.
    let late = env
        .store
        .complete_job(job, claimed.attempt, 2, 2)
        .await
        .unwrap();
    assert!(!late.is_ok(), "a late commit must be rejected: {late:?}");
    let stored = env.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Completed);
    assert_eq!(stored.attempts, Attempt::new(2));
    assert_eq!(stored.sentence_count, Some(4), "the result is written once");
}

fn worker_context(worker: &Worker, env: &Env) -> pdfq_worker::job::Context {
    pdfq_worker::job::Context {
        store: env.store.clone(),
        broker: env.broker.clone(),
        worker: worker.id().clone(),
        settings: std::sync::Arc::new(settings(real_extractor())),
        running: pdfq_worker::lease::Running::default(),
    }
}

async fn shutdown_hands_running_jobs_back_at_once(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(1)).await;
    let mut settings = settings(program_extractor("/bin/sleep", &["30"]));
    settings.drain_timeout = Duration::from_millis(300);
    let worker = Worker::new(env.store.clone(), env.broker.clone(), settings);
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move {
            worker
                .run(tokio::time::sleep(Duration::from_millis(1500)))
                .await
        })
    };
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let stored = env.store.get_job(job).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        JobStatus::Pending,
        "handed back, not left processing"
    );
    assert!(
        env.broker.has_entry(job).await.unwrap(),
        "queued again at once"
    );
    assert!(worker.heartbeat().current_jobs.is_empty());
}

async fn a_running_job_can_be_cancelled_from_another_process(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    let job = submit(&env, pdf_of(1)).await;
    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(program_extractor("/bin/sleep", &["30"])),
    );
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.try_execute_task().await })
    };
    // Wait until it runs, then cancel as the API does.
    for _ in 0..100 {
        if env.store.get_job(job).await.unwrap().unwrap().status == JobStatus::Processing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.store.cancel_job(job).await.unwrap();
    env.broker.request_cancel(job).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Some(Outcome::Cancelled { job }));
    assert_eq!(
        env.store.get_job(job).await.unwrap().unwrap().status,
        JobStatus::Cancelled
    );
}

async fn the_sweeper_enqueues_pending_jobs_that_never_reached_the_queue(backend: Backend) {
    let env = env(backend, QueueOptions::default()).await;
    // The API stored the job and died before enqueueing it.
    let job = JobId::new();
    let bytes = pdf_of(1);
    env.store
        .create_job(&NewJob {
            id: job,
            owner: env.owner,
            file_name: "lost.pdf".into(),
            file_size: bytes.len() as u64,
            sha256: [0; 32],
            content: bytes.into(),
            quotas: pdfq_store::Quotas::NONE,
        })
        .await
        .unwrap();
    let worker = Worker::new(
        env.store.clone(),
        env.broker.clone(),
        settings(real_extractor()),
    );
    assert!(worker.run_until_empty().await.unwrap().is_empty());
    let report = pdfq_worker::sweeper::sweep(&worker_context(&worker, &env), Duration::ZERO, 0)
        .await
        .unwrap();
    assert_eq!(report.reenqueued, 1);
    let outcomes = worker.run_until_empty().await.unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Completed {
            job,
            pages: 1,
            chunks: 1
        }]
    );
}

/// A job whose commit waits on the database has given its slot back: with one slot, the next
/// job is claimed and extracted meanwhile; jobs still committing are held up to as many as
/// there are slots, so a third waits in the queue. Nothing is lost once the database answers.
/// (PostgreSQL: a lock taken from outside holds the commits up; SQLite has one writer, so a
/// lock there would hold the claims up too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waiting_on_its_commit_gives_its_slot_to_the_next() {
    let env = env(Backend::Distributed, QueueOptions::default()).await;
    let url = &env._db.as_ref().unwrap().url;
    let mut blocker = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    // Chunk rows are written by commits only (a one-page job saves its chunk with its
    // completion); a claim does not touch them.
    sqlx::raw_sql("begin; lock table job_result_chunks in share mode")
        .execute(&mut blocker)
        .await
        .unwrap();
    let jobs = [
        submit(&env, pdf_of(1)).await,
        submit(&env, pdf_of(1)).await,
        submit(&env, pdf_of(1)).await,
    ];
    let mut settings = settings(real_extractor());
    settings.concurrency = 1;
    let worker = Worker::new(env.store.clone(), env.broker.clone(), settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    let status = |job: JobId| {
        let store = env.store.clone();
        async move { store.get_job(job).await.unwrap().unwrap().status }
    };
    let mut claimed = 0;
    for _ in 0..200 {
        claimed = 0;
        for job in &jobs {
            if status(*job).await != JobStatus::Pending {
                claimed += 1;
            }
        }
        if claimed >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        claimed, 2,
        "the second job was claimed while the first one's commit waited"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut waiting = 0;
    for job in &jobs {
        if status(*job).await == JobStatus::Pending {
            waiting += 1;
        }
    }
    assert_eq!(waiting, 1, "two jobs held at once with one slot, no more");

    sqlx::raw_sql("rollback")
        .execute(&mut blocker)
        .await
        .unwrap();
    for job in jobs {
        let mut done = false;
        for _ in 0..200 {
            if status(job).await == JobStatus::Completed {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(done, "job {job} completed once the database answered");
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
