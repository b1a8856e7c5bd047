//! The store's behaviour, run against both backends: every case is a function taking a `Store`,
//! instantiated once on a real PostgreSQL database and once on an SQLite file.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

mod common;
mod store_webhooks;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{claimed_job, job, new_job, tick, user, worker};
use pdfq_domain::job::JobEvent as Event;
use pdfq_domain::{Attempt, CurrentStep, JobId, JobStatus, Progress, TransitionError};
use pdfq_store::{
    ChunkResult, Commit, Created, IdempotencyKey, JobFilter, JobSearch, JobWarning,
    NewRefreshToken, PageSize, Provenance, RefreshOutcome, Role, Sentence, SentenceBox, Store,
    StoreError,
};
use time::OffsetDateTime;
use uuid::Uuid;

macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = crate::common::Harness::postgres().await;
                    crate::cases::$case(&h.store).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = crate::common::Harness::sqlite().await;
                    crate::cases::$case(&h.store).await;
                }
            )*
        }
    };
}

both_backends!(
    emails_are_unique_whatever_their_case,
    roles_and_admin_count,
    a_job_is_stored_with_its_file_and_first_event,
    another_owners_job_is_invisible,
    an_idempotency_key_creates_one_job_per_user,
    claims_follow_the_state_machine,
    concurrent_claims_one_wins,
    a_late_commit_after_requeue_and_reclaim_is_rejected,
    progress_never_moves_backwards_within_an_attempt,
    chunks_and_progress_are_saved_together_or_not_at_all,
    chunks_are_written_once_and_a_retry_resumes_after_them,
    chunks_are_saved_in_order_and_shown_only_once_completed,
    the_last_chunks_are_saved_with_the_completion,
    warnings_are_kept_with_the_attempt_that_found_them,
    concurrent_completers_complete_once,
    failures_retry_and_operator_actions,
    cancelling_a_running_job_stops_its_worker,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    concurrent_consumers_of_one_token_one_wins,
    a_replay_within_the_grace_gets_the_same_successor,
    logout_revokes_only_the_callers_family,
    resetting_credentials_ends_every_session,
    lists_page_and_filter,
    admin_search_narrows_by_each_field,
    finished_jobs_are_counted_per_minute_from_their_events,
    finished_jobs_and_pages_are_counted_per_bucket_and_worker,
    operator_actions_are_recorded_and_read_back_newest_first,
    sentences_page_through_the_result,
    sentences_read_back_as_saved_with_their_provenance,
    a_large_result_pages_right_at_any_depth,
    a_deep_page_reads_no_more_than_the_first,
    a_deleted_jobs_sentences_go_with_it,
    a_result_read_past_its_timeout_is_stopped_by_postgres,
    recovery_queries_find_stale_and_forgotten_jobs,
    pool_stats_are_reported,
    the_servers_connection_limit_is_read,
    webhooks_belong_to_their_owner,
    each_subscribed_status_change_writes_a_delivery,
    deliveries_are_retried_until_delivered_or_given_up,
    a_delivery_whose_lease_ran_out_is_taken_again,
    concurrent_claimers_take_each_delivery_once,
    deleting_a_webhook_deletes_its_deliveries,
    settled_deliveries_are_pruned_after_their_retention,
    retries_keep_their_delay_between_settled_deliveries,
);

/// What the tests allow a result read before the server cancels it.
const READ: Duration = Duration::from_secs(30);

/// The large result: 40 chunks of 2,500 sentences, with an empty chunk (index 1) among them.
const LARGE_CHUNKS: u32 = 41;
const LARGE_PER_CHUNK: u32 = 2_500;
const LARGE_TOTAL: u64 = 100_000;

fn large_chunk(index: u32) -> ChunkResult {
    let count = if index == 1 { 0 } else { LARGE_PER_CHUNK };
    ChunkResult {
        index,
        first_page: index * 10 + 1,
        last_page: index * 10 + 10,
        sentences: (0..count)
            .map(|n| Sentence {
                text: format!("c{index} s{n}"),
                page: index * 10 + 1 + n / 250,
                ..Sentence::default()
            })
            .collect(),
    }
}

/// A completed job with the large result.
async fn large_job(store: &Store) -> JobId {
    let ann = user(store, "ann@example.com").await;
    let (j, a) = claimed_job(store, ann.id, "large.pdf").await;
    for index in 0..LARGE_CHUNKS {
        store
            .save_chunk(j.id, a, &large_chunk(index))
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .complete_job(j.id, a, LARGE_CHUNKS * 10, LARGE_CHUNKS)
            .await
            .unwrap(),
        Commit::Applied
    );
    j.id
}

fn sentences(texts: &[&str], page: u32) -> Vec<Sentence> {
    texts
        .iter()
        .map(|t| Sentence {
            text: (*t).to_owned(),
            page,
            ..Sentence::default()
        })
        .collect()
}

fn chunk(index: u32, texts: &[&str]) -> ChunkResult {
    ChunkResult {
        index,
        first_page: index * 10 + 1,
        last_page: index * 10 + 10,
        sentences: sentences(texts, index * 10 + 1),
    }
}

/// The virtual machine instructions SQLite runs for the store's page of 10 at `offset`, counted
/// by a progress handler on a connection of the store's pool (closed afterwards).
async fn sqlite_steps(pool: &sqlx::SqlitePool, id: JobId, offset: u64) -> u64 {
    let mut conn = pool.acquire().await.unwrap().detach();
    let page = || {
        sqlx::query(pdfq_store::SENTENCE_PAGE)
            .bind(id.to_string())
            .bind(offset as i64)
            .bind(offset as i64 + 10)
    };
    // Once first, so that preparing the statement is not counted.
    page().fetch_all(&mut conn).await.unwrap();
    let steps = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&steps);
    conn.lock_handle()
        .await
        .unwrap()
        .set_progress_handler(1, move || {
            counter.fetch_add(1, Ordering::Relaxed);
            true
        });
    let rows = page().fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows.len(), 10);
    sqlx::Connection::close(conn).await.unwrap();
    steps.load(Ordering::Relaxed)
}

/// The shared buffers (hit or read) PostgreSQL touches for the store's page of 10 at `offset`,
/// after checking that the plan reads the primary key and scans no table.
async fn postgres_blocks(pool: &sqlx::PgPool, id: JobId, offset: u64) -> i64 {
    let explained: serde_json::Value = sqlx::query_scalar(&format!(
        "explain (analyze, buffers, format json) {}",
        pdfq_store::SENTENCE_PAGE
    ))
    .bind(id.as_uuid())
    .bind(offset as i64)
    .bind(offset as i64 + 10)
    .fetch_one(pool)
    .await
    .unwrap();
    let plan = &explained[0]["Plan"];
    let text = plan.to_string();
    assert!(!text.contains("Seq Scan"), "{text}");
    assert!(
        text.contains("\"Index Name\":\"job_sentences_pkey\""),
        "{text}"
    );
    assert_eq!(plan["Actual Rows"], 10, "{text}");
    plan["Shared Hit Blocks"].as_i64().unwrap() + plan["Shared Read Blocks"].as_i64().unwrap()
}

/// Rows of job `id` left in job_sentences, read past the store (which shows none of a
/// deleted job): what deleting a job must not leave behind.
async fn sentence_rows(store: &Store, id: JobId) -> i64 {
    let sql = "select count(*) from job_sentences where job_id = ";
    match store {
        Store::Sqlite(s) => sqlx::query_scalar(&format!("{sql}$1"))
            .bind(id.to_string())
            .fetch_one(s.pool())
            .await
            .unwrap(),
        Store::Postgres(s) => sqlx::query_scalar(&format!("{sql}$1"))
            .bind(id.as_uuid())
            .fetch_one(s.pool())
            .await
            .unwrap(),
    }
}

fn stale(status: JobStatus, attempts: u32) -> Commit {
    Commit::Stale {
        status: Some(status),
        attempts: Attempt::new(attempts),
    }
}

mod cases {
    use super::*;
    pub use crate::store_webhooks::*;

    pub async fn emails_are_unique_whatever_their_case(store: &Store) {
        let ann = user(store, "Ann@Example.com").await;
        let err = store
            .create_user("ann@example.COM", "h", Role::User)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let found = store
            .user_by_email("ANN@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, ann.id);
        assert_eq!(found.email, "Ann@Example.com", "stored as typed");
        assert!(
            store
                .user_by_email("bob@example.com")
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn roles_and_admin_count(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        assert_eq!(ann.role, Role::User);
        assert_eq!(store.count_admins().await.unwrap(), 0);
        let admin = store.set_role(ann.id, Role::Admin).await.unwrap();
        assert_eq!(admin.role, Role::Admin);
        assert_eq!(store.count_admins().await.unwrap(), 1);
        assert_eq!(
            store.user_by_id(ann.id).await.unwrap().unwrap().role,
            Role::Admin
        );
        let missing = store
            .set_role(pdfq_domain::UserId::new(), Role::Admin)
            .await
            .unwrap_err();
        assert!(matches!(missing, StoreError::NotFound), "{missing:?}");
    }

    pub async fn a_job_is_stored_with_its_file_and_first_event(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let new = new_job(ann.id, "report.pdf");
        let created = store.create_job(&new).await.unwrap();
        assert_eq!(created.status, JobStatus::Pending);
        assert_eq!(created.attempts, Attempt::NONE);
        assert_eq!(created.progress, Progress::ZERO);
        assert_eq!(created.file_size, new.file_size);
        assert_eq!(created.file_sha256, new.sha256.to_vec());
        let fetched = store.get_job(new.id).await.unwrap().unwrap();
        assert_eq!(fetched, created);
        assert_eq!(
            store.job_file(new.id).await.unwrap().unwrap(),
            new.content.to_vec().await.unwrap()
        );
        let events = store.job_events(new.id).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].status, JobStatus::Pending);
        assert_eq!(events[0].attempt, Attempt::NONE);

        let dup = store.create_job(&new).await.unwrap_err();
        assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");

        store.delete_job(new.id).await.unwrap();
        assert!(store.get_job(new.id).await.unwrap().is_none());
        assert!(store.job_file(new.id).await.unwrap().is_none());
        assert!(store.job_events(new.id).await.unwrap().is_empty());
        assert!(matches!(
            store.delete_job(new.id).await.unwrap_err(),
            StoreError::NotFound
        ));
    }

    pub async fn another_owners_job_is_invisible(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let bob = user(store, "bob@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        assert!(
            store
                .get_job_for_owner(j.id, ann.id)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .get_job_for_owner(j.id, bob.id)
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn finished_jobs_are_counted_per_minute_from_their_events(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let since = OffsetDateTime::now_utc() - time::Duration::minutes(60);
        assert!(store.finished_per_minute(since).await.unwrap().is_empty());
        let mut ids = Vec::new();
        for name in ["a.pdf", "b.pdf", "c.pdf", "d.pdf"] {
            let j = job(store, ann.id, name).await;
            let claimed = store.claim_job(j.id, &worker(1)).await.unwrap().unwrap();
            ids.push((j.id, claimed.attempt));
        }
        for (id, attempt) in &ids[..2] {
            store.complete_job(*id, *attempt, 1, 0).await.unwrap();
        }
        store
            .fail_job(ids[2].0, ids[2].1, "not_a_pdf", "no header", None)
            .await
            .unwrap();
        // The fourth is still processing: not counted.
        let minutes = store.finished_per_minute(since).await.unwrap();
        let (completed, failed) = minutes
            .iter()
            .fold((0, 0), |(c, f), m| (c + m.completed, f + m.failed));
        assert_eq!((completed, failed), (2, 1), "{minutes:?}");
        // Minutes start on the minute, in the last hour.
        let now = OffsetDateTime::now_utc();
        assert!(minutes.iter().all(|m| m.minute.second() == 0
            && m.minute.nanosecond() == 0
            && m.minute > since - time::Duration::minutes(1)
            && m.minute <= now));
        // The failure itself, for the errors view.
        let failures = store.failures_since(since, 10).await.unwrap();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(
            (
                failures[0].id,
                failures[0].code.as_str(),
                failures[0].message.as_str()
            ),
            (ids[2].0, "not_a_pdf", "no header")
        );
        // Nothing after now.
        assert!(
            store
                .finished_per_minute(now + time::Duration::minutes(1))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn finished_jobs_and_pages_are_counted_per_bucket_and_worker(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let since = OffsetDateTime::now_utc() - time::Duration::hours(1);
        let workers = [worker(1), worker(2)];
        let mut claims = Vec::new();
        for (name, w) in [("a.pdf", 0), ("b.pdf", 0), ("c.pdf", 1), ("d.pdf", 1)] {
            let j = job(store, ann.id, name).await;
            let claimed = store.claim_job(j.id, &workers[w]).await.unwrap().unwrap();
            claims.push((j.id, claimed.attempt));
        }
        store
            .complete_job(claims[0].0, claims[0].1, 12, 0)
            .await
            .unwrap();
        store
            .complete_job(claims[1].0, claims[1].1, 3, 0)
            .await
            .unwrap();
        store
            .complete_job(claims[2].0, claims[2].1, 40, 0)
            .await
            .unwrap();
        store
            .fail_job(claims[3].0, claims[3].1, "not_a_pdf", "no header", None)
            .await
            .unwrap();
        let buckets = store
            .finished_buckets(since, Duration::from_secs(900))
            .await
            .unwrap();
        let of = |w: usize| {
            buckets
                .iter()
                .filter(|b| b.worker_id.as_ref() == Some(&workers[w]))
                .fold((0, 0, 0), |(c, f, p), b| {
                    (c + b.completed, f + b.failed, p + b.pages)
                })
        };
        assert_eq!(of(0), (2, 0, 15), "{buckets:?}");
        assert_eq!(of(1), (1, 1, 40), "{buckets:?}");
        // Buckets start on a quarter hour.
        assert!(
            buckets
                .iter()
                .all(|b| b.start.minute() % 15 == 0 && b.start.second() == 0),
            "{buckets:?}"
        );
        // The per-minute view is the same events summed over the workers.
        let minutes = store.finished_per_minute(since).await.unwrap();
        let total: u64 = minutes.iter().map(|m| m.completed).sum();
        assert_eq!(total, 3, "{minutes:?}");
    }

    pub async fn operator_actions_are_recorded_and_read_back_newest_first(store: &Store) {
        let admin = user(store, "root@example.com").await;
        let start = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        assert!(
            store
                .audit_entries(None, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let mut recorded = Vec::new();
        for (action, target, count) in [
            ("pause", None, 1),
            ("retry", Some("0190a1b2-9c1e-7b7d-8a2f-0c5e7d1b3a01"), 1),
            ("bulk_delete", Some("status failed"), 37),
        ] {
            let entry = store
                .record_audit(&pdfq_store::NewAuditEntry {
                    actor_id: Some(admin.id),
                    actor_email: &admin.email,
                    action,
                    target,
                    count,
                    detail: (count > 1).then_some("matched 40, skipped 3"),
                })
                .await
                .unwrap();
            recorded.push(entry);
        }
        let all = store.audit_entries(Some(start), None, 10).await.unwrap();
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["bulk_delete", "retry", "pause"]);
        assert_eq!(all[0], recorded[2]);
        assert_eq!(
            (all[0].actor_id, all[0].actor_email.as_str(), all[0].count),
            (Some(admin.id), "root@example.com", 37)
        );
        assert_eq!(all[0].detail.as_deref(), Some("matched 40, skipped 3"));
        assert!(all[0].at >= start && all[0].at <= OffsetDateTime::now_utc());
        // Pages: the next one starts before the last entry of the previous one.
        let first = store.audit_entries(None, None, 2).await.unwrap();
        assert_eq!(first.len(), 2);
        let next = store
            .audit_entries(None, Some(first[1].id), 2)
            .await
            .unwrap();
        assert_eq!(next, [recorded[0].clone()]);
        // A command run on the database directly has no account, only who ran it where.
        let direct = store
            .record_audit(&pdfq_store::NewAuditEntry {
                actor_id: None,
                actor_email: "ops@build-host",
                action: "purge_jobs",
                target: Some("older than 7d"),
                count: 12,
                detail: None,
            })
            .await
            .unwrap();
        let newest = store.audit_entries(None, None, 1).await.unwrap();
        assert_eq!(newest, [direct]);
        assert_eq!(newest[0].actor_id, None);
        // Nothing from after now.
        let later = OffsetDateTime::now_utc() + time::Duration::minutes(1);
        assert!(
            store
                .audit_entries(Some(later), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn an_idempotency_key_creates_one_job_per_user(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let bob = user(store, "bob@example.com").await;
        let day_ago = OffsetDateTime::now_utc() - time::Duration::hours(24);
        let key = IdempotencyKey {
            key: "upload-1",
            issued_after: day_ago,
        };
        let Created::New(first) = store
            .create_job_once(&new_job(ann.id, "a.pdf"), &key)
            .await
            .unwrap()
        else {
            panic!("the first upload creates its job");
        };
        let again = store
            .create_job_once(&new_job(ann.id, "a.pdf"), &key)
            .await
            .unwrap();
        assert!(
            matches!(&again, Created::Existing(j) if j.id == first.id),
            "{again:?}"
        );
        let found = store.job_for_idempotency_key(ann.id, &key).await.unwrap();
        assert_eq!(found.map(|j| j.id), Some(first.id));
        // Keys are per user.
        let bobs = store
            .create_job_once(&new_job(bob.id, "b.pdf"), &key)
            .await
            .unwrap();
        assert!(matches!(bobs, Created::New(ref j) if j.id != first.id));

        // Concurrent duplicates: one job, and every caller gets it.
        let mut racers = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let store = store.clone();
            racers.spawn(async move {
                let racing = IdempotencyKey {
                    key: "raced",
                    issued_after: day_ago,
                };
                store
                    .create_job_once(&new_job(ann.id, "r.pdf"), &racing)
                    .await
            });
        }
        let outcomes = racers.join_all().await;
        let ids: HashSet<JobId> = outcomes
            .iter()
            .map(|o| match o.as_ref().unwrap() {
                Created::New(j) | Created::Existing(j) => j.id,
            })
            .collect();
        assert_eq!(ids.len(), 1, "{outcomes:?}");
        let new = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Created::New(_))))
            .count();
        assert_eq!(new, 1, "{outcomes:?}");

        // Expired (recorded before the lifetime's start): free again, for a new job.
        let later = IdempotencyKey {
            key: "upload-1",
            issued_after: OffsetDateTime::now_utc() + time::Duration::seconds(1),
        };
        assert!(
            store
                .job_for_idempotency_key(ann.id, &later)
                .await
                .unwrap()
                .is_none()
        );
        let renewed = store
            .create_job_once(&new_job(ann.id, "a.pdf"), &later)
            .await
            .unwrap();
        assert!(
            matches!(renewed, Created::New(ref j) if j.id != first.id),
            "{renewed:?}"
        );

        // Gone with its job: a retry after deleting the job makes a new one.
        let Created::New(renewed) = renewed else {
            unreachable!()
        };
        store.delete_job(renewed.id).await.unwrap();
        assert!(
            store
                .job_for_idempotency_key(ann.id, &key)
                .await
                .unwrap()
                .is_none()
        );
    }

    pub async fn claims_follow_the_state_machine(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let w1 = worker(1);
        let claimed = store.claim_job(j.id, &w1).await.unwrap().unwrap();
        assert_eq!(claimed.attempt, Attempt::new(1));
        assert_eq!(claimed.job.status, JobStatus::Processing);
        assert_eq!(claimed.job.worker_id.as_ref(), Some(&w1));
        assert!(claimed.job.started_at.is_some() && claimed.job.heartbeat_at.is_some());

        // A duplicate delivery, to this worker or another, matches nothing.
        assert!(store.claim_job(j.id, &w1).await.unwrap().is_none());
        assert!(store.claim_job(j.id, &worker(2)).await.unwrap().is_none());
        assert_eq!(
            store.get_job(j.id).await.unwrap().unwrap().attempts,
            Attempt::new(1)
        );

        // Finished jobs are never claimed; nor are unknown ones.
        assert_eq!(
            store
                .complete_job(j.id, claimed.attempt, 1, 0)
                .await
                .unwrap(),
            Commit::Applied
        );
        assert!(store.claim_job(j.id, &w1).await.unwrap().is_none());
        assert!(store.claim_job(JobId::new(), &w1).await.unwrap().is_none());

        // Cancelled jobs are not claimable until an operator retries them.
        let k = job(store, ann.id, "b.pdf").await;
        store.cancel_job(k.id).await.unwrap();
        assert!(store.claim_job(k.id, &w1).await.unwrap().is_none());
        store.retry_job(k.id).await.unwrap();
        let again = store.claim_job(k.id, &w1).await.unwrap().unwrap();
        assert_eq!(again.attempt, Attempt::new(1));

        let events: Vec<JobStatus> = store
            .job_events(j.id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.status)
            .collect();
        assert_eq!(
            events,
            [
                JobStatus::Pending,
                JobStatus::Processing,
                JobStatus::Completed
            ]
        );
    }

    pub async fn concurrent_claims_one_wins(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let tasks: Vec<_> = (0..6)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move { store.claim_job(j.id, &worker(n)).await })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            if let Some(claimed) = t.await.unwrap().unwrap() {
                winners.push(claimed.attempt);
            }
        }
        assert_eq!(winners, [Attempt::new(1)]);
        assert_eq!(
            store.get_job(j.id).await.unwrap().unwrap().attempts,
            Attempt::new(1)
        );
    }

    pub async fn a_late_commit_after_requeue_and_reclaim_is_rejected(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let (w1, w2) = (worker(1), worker(2));
        let first = store.claim_job(j.id, &w1).await.unwrap().unwrap().attempt;
        // The reaper hands the job back; another worker claims it.
        assert_eq!(
            store.requeue_job(j.id, first, "worker lost").await.unwrap(),
            Commit::Applied
        );
        assert_eq!(
            store.requeue_job(j.id, first, "worker lost").await.unwrap(),
            Commit::AlreadyApplied,
            "a repeated requeue is recognised"
        );
        let second = store.claim_job(j.id, &w2).await.unwrap().unwrap().attempt;
        assert_eq!(second, Attempt::new(2));

        // Everything the first worker still sends is stale.
        let step = CurrentStep::chunk(1, 2);
        let p = Progress::new(50).unwrap();
        assert_eq!(
            store.heartbeat(j.id, first, &w1).await.unwrap(),
            stale(JobStatus::Processing, 2)
        );
        assert_eq!(
            store.report_progress(j.id, first, p, &step).await.unwrap(),
            stale(JobStatus::Processing, 2)
        );
        assert_eq!(
            store
                .save_chunk(j.id, first, &chunk(0, &["late"]))
                .await
                .unwrap(),
            stale(JobStatus::Processing, 2)
        );
        let late = store.complete_job(j.id, first, 1, 1).await.unwrap();
        assert_eq!(late, stale(JobStatus::Processing, 2));
        assert!(matches!(
            late.or_stale(j.id, first).unwrap_err(),
            StoreError::StaleAttempt { .. }
        ));
        assert_eq!(
            store.fail_job(j.id, first, "x", "y", None).await.unwrap(),
            stale(JobStatus::Processing, 2)
        );
        // The heartbeat of the right attempt from the wrong worker is stale too.
        assert!(matches!(
            store.heartbeat(j.id, second, &w1).await.unwrap(),
            Commit::Stale { .. }
        ));
        assert!(store.finished_chunks(j.id).await.unwrap().is_empty());

        assert_eq!(
            store.heartbeat(j.id, second, &w2).await.unwrap(),
            Commit::Applied
        );
        assert_eq!(
            store.complete_job(j.id, second, 1, 0).await.unwrap(),
            Commit::Applied
        );
        let done = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(done.status, JobStatus::Completed);
        assert_eq!(done.attempts, second);
        let events = store.job_events(j.id).await.unwrap();
        let summary: Vec<(JobStatus, u32)> =
            events.iter().map(|e| (e.status, e.attempt.get())).collect();
        assert_eq!(
            summary,
            [
                (JobStatus::Pending, 0),
                (JobStatus::Processing, 1),
                (JobStatus::Pending, 1),
                (JobStatus::Processing, 2),
                (JobStatus::Completed, 2),
            ]
        );
        assert_eq!(events[2].message, "worker lost");
        assert_eq!(events[2].worker_id.as_ref(), Some(&w1));
    }

    pub async fn progress_never_moves_backwards_within_an_attempt(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let w = worker(1);
        let a1 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        let pct = |n| Progress::new(n).unwrap();
        assert_eq!(
            store
                .report_progress(j.id, a1, pct(40), &CurrentStep::chunk(4, 10))
                .await
                .unwrap(),
            Commit::Applied
        );
        assert_eq!(
            store
                .report_progress(j.id, a1, pct(30), &CurrentStep::chunk(3, 10))
                .await
                .unwrap(),
            Commit::AlreadyApplied,
            "a report behind the current one changes nothing"
        );
        let now = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(now.progress, pct(40));
        assert_eq!(now.current_step, "Processing chunk 4/10");
        assert_eq!(
            store
                .report_progress(j.id, a1, pct(40), &CurrentStep::chunk(4, 10))
                .await
                .unwrap(),
            Commit::Applied,
            "the same value again is fine"
        );
        store
            .report_progress(j.id, a1, pct(60), &CurrentStep::chunk(6, 10))
            .await
            .unwrap();
        assert_eq!(
            store.get_job(j.id).await.unwrap().unwrap().progress,
            pct(60)
        );

        // A new attempt starts again from zero and may report less than the last one did.
        store.requeue_job(j.id, a1, "shutdown").await.unwrap();
        let a2 = store.claim_job(j.id, &w).await.unwrap().unwrap();
        assert_eq!(a2.job.progress, Progress::ZERO);
        assert_eq!(
            store
                .report_progress(j.id, a2.attempt, pct(10), &CurrentStep::chunk(1, 10))
                .await
                .unwrap(),
            Commit::Applied
        );
        assert_eq!(
            store.get_job(j.id).await.unwrap().unwrap().progress,
            pct(10)
        );
    }

    pub async fn warnings_are_kept_with_the_attempt_that_found_them(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "cut.pdf").await;
        assert!(j.warnings.is_empty(), "a new job has none");
        let w = worker(1);
        let a1 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        let warnings = vec![
            JobWarning {
                page: None,
                message: "the file is truncated".into(),
            },
            JobWarning {
                page: Some(3),
                message: "its content stream is \"corrupt\" \u{e9}".into(),
            },
        ];
        assert_eq!(
            store.record_warnings(j.id, a1, &warnings).await.unwrap(),
            Commit::Applied
        );
        // Recording them again (a retried write) changes nothing.
        assert!(
            store
                .record_warnings(j.id, a1, &warnings)
                .await
                .unwrap()
                .is_ok()
        );
        assert_eq!(
            store.get_job(j.id).await.unwrap().unwrap().warnings,
            warnings
        );

        // The next attempt starts without them; the old one can no longer write any.
        store
            .fail_job(
                j.id,
                a1,
                "extractor_crashed",
                "child died",
                Some(OffsetDateTime::now_utc()),
            )
            .await
            .unwrap();
        let a2 = store.claim_job(j.id, &w).await.unwrap().unwrap();
        assert!(a2.job.warnings.is_empty(), "{:?}", a2.job.warnings);
        assert!(matches!(
            store.record_warnings(j.id, a1, &warnings).await.unwrap(),
            Commit::Stale { .. }
        ));
        let found_again = &warnings[1..];
        store
            .record_warnings(j.id, a2.attempt, found_again)
            .await
            .unwrap();
        store
            .save_chunk(j.id, a2.attempt, &chunk(0, &["Readable."]))
            .await
            .unwrap();
        assert!(
            store
                .complete_job(j.id, a2.attempt, 3, 1)
                .await
                .unwrap()
                .is_ok()
        );
        let done = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(done.status, JobStatus::Completed);
        assert_eq!(done.warnings, found_again, "kept once completed");
        let listed = store
            .get_job_for_owner(j.id, ann.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(listed.warnings, found_again);
    }

    pub async fn chunks_and_progress_are_saved_together_or_not_at_all(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let w = worker(1);
        let a1 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        let step = CurrentStep::chunk(3, 4);
        let batch = [
            chunk(0, &["One."]),
            chunk(1, &["Two."]),
            chunk(2, &["Three."]),
        ];
        let reached = Progress::new(75).unwrap();
        assert_eq!(
            store
                .save_chunks(j.id, a1, &batch, Some((reached, &step)))
                .await
                .unwrap(),
            Commit::Applied
        );
        let now = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(now.last_finished_chunk, Some(2));
        assert_eq!(
            (now.progress, now.current_step.as_str()),
            (reached, step.as_str())
        );
        assert_eq!(store.finished_chunks(j.id).await.unwrap(), batch.to_vec());
        // Progress alone (no chunk finished since) and progress behind are both fine.
        let behind = Progress::new(10).unwrap();
        let earlier = CurrentStep::page(1, 4);
        assert!(
            store
                .save_chunks(j.id, a1, &[], Some((behind, &earlier)))
                .await
                .unwrap()
                .is_ok()
        );
        assert_eq!(
            store.get_job(j.id).await.unwrap().unwrap().progress,
            reached
        );

        // A stale attempt saves none of its batch.
        store.requeue_job(j.id, a1, "lost").await.unwrap();
        let late = [chunk(3, &["Four."]), chunk(4, &["Five."])];
        assert!(matches!(
            store
                .save_chunks(j.id, a1, &late, Some((reached, &step)))
                .await
                .unwrap(),
            Commit::Stale { .. }
        ));
        assert_eq!(store.finished_chunks(j.id).await.unwrap().len(), 3);
    }

    pub async fn chunks_are_written_once_and_a_retry_resumes_after_them(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let w = worker(1);
        let a1 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        let c0 = chunk(0, &["One.", "Two."]);
        assert_eq!(
            store.save_chunk(j.id, a1, &c0).await.unwrap(),
            Commit::Applied
        );
        assert_eq!(
            store
                .save_chunk(j.id, a1, &chunk(0, &["Different."]))
                .await
                .unwrap(),
            Commit::AlreadyApplied
        );
        let c1 = chunk(1, &["Three."]);
        store.save_chunk(j.id, a1, &c1).await.unwrap();
        assert_eq!(
            store
                .get_job(j.id)
                .await
                .unwrap()
                .unwrap()
                .last_finished_chunk,
            Some(1)
        );

        // The attempt fails transiently; the next resumes after chunk 1.
        let retry_at = OffsetDateTime::now_utc();
        store
            .fail_job(j.id, a1, "extract_crashed", "child died", Some(retry_at))
            .await
            .unwrap();
        let a2 = store.claim_job(j.id, &w).await.unwrap().unwrap();
        assert_eq!(a2.job.last_finished_chunk, Some(1));
        assert_eq!(
            store.finished_chunks(j.id).await.unwrap(),
            vec![c0.clone(), c1.clone()]
        );
        assert_eq!(
            store.save_chunk(j.id, a2.attempt, &c1).await.unwrap(),
            Commit::AlreadyApplied
        );
        let c2 = chunk(2, &["Four.", "Five.", "Six."]);
        store.save_chunk(j.id, a2.attempt, &c2).await.unwrap();
        // The old attempt can add nothing.
        assert!(matches!(
            store
                .save_chunk(j.id, a1, &chunk(3, &["ghost"]))
                .await
                .unwrap(),
            Commit::Stale { .. }
        ));
        assert_eq!(store.finished_chunks(j.id).await.unwrap().len(), 3);

        // A result with a chunk missing is refused, and changes nothing.
        let err = store
            .complete_job(j.id, a2.attempt, 40, 4)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(
            store.get_job(j.id).await.unwrap().unwrap().status,
            JobStatus::Processing
        );
        assert_eq!(
            store.complete_job(j.id, a2.attempt, 30, 3).await.unwrap(),
            Commit::Applied
        );
        let done = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(done.status, JobStatus::Completed);
        assert_eq!(done.progress, Progress::DONE);
        assert_eq!(
            (done.page_count, done.chunk_count, done.sentence_count),
            (Some(30), Some(3), Some(6))
        );
        assert!(done.finished_at.is_some());
        assert_eq!(done.error_code, None, "the earlier failure is cleared");
        assert_eq!(
            store.job_results(j.id, READ).await.unwrap().unwrap(),
            vec![c0.clone(), c1.clone(), c2.clone()]
        );
        assert_eq!(
            store.finished_chunks(j.id).await.unwrap(),
            vec![c0, c1, c2],
            "the saved chunks are the result: written once"
        );
    }

    pub async fn chunks_are_saved_in_order_and_shown_only_once_completed(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let w = worker(1);
        let a1 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        let c0 = chunk(0, &["One.", "Two."]);
        store.save_chunk(j.id, a1, &c0).await.unwrap();
        // Each chunk numbers its sentences after those saved before it, so a gap is refused
        // rather than numbered wrongly, and changes nothing.
        let err = store
            .save_chunk(j.id, a1, &chunk(2, &["Five."]))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.finished_chunks(j.id).await.unwrap(), vec![c0.clone()]);
        // So is a batch with a gap inside it, the chunk before the gap included (PostgreSQL
        // writes the batch in one statement, then finds the gap: its transaction is undone).
        let gapped = [chunk(1, &["Three."]), chunk(3, &["Seven."])];
        let err = store
            .save_chunks(j.id, a1, &gapped, None)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let err = store
            .complete_job_with_chunks(j.id, a1, 40, 4, &gapped)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(store.finished_chunks(j.id).await.unwrap(), vec![c0.clone()]);
        let held = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(
            (held.status, held.last_finished_chunk),
            (JobStatus::Processing, Some(0))
        );
        // A running job's saved chunks are not yet a result.
        let page = store.sentences(j.id, 0, 10, READ).await.unwrap();
        assert_eq!((page.items.len(), page.total), (0, 0));
        assert_eq!(store.job_results(j.id, READ).await.unwrap(), None);

        let c1 = chunk(1, &["Three."]);
        store.save_chunk(j.id, a1, &c1).await.unwrap();
        store.complete_job(j.id, a1, 20, 2).await.unwrap();
        let page = store.sentences(j.id, 1, 10, READ).await.unwrap();
        let read: Vec<(u64, &str, u32)> = page
            .items
            .iter()
            .map(|s| (s.index, s.text.as_str(), s.chunk))
            .collect();
        assert_eq!(read, vec![(1, "Two.", 0), (2, "Three.", 1)]);
        assert_eq!(page.total, 3);
    }

    pub async fn the_last_chunks_are_saved_with_the_completion(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let w = worker(1);
        let a1 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        // Several chunks in one save (one empty), numbered on across them.
        let (c0, c1, c2) = (
            chunk(0, &["One.", "Two."]),
            chunk(1, &[]),
            chunk(2, &["Three."]),
        );
        let saved = store
            .save_chunks(j.id, a1, &[c0.clone(), c1.clone(), c2.clone()], None)
            .await
            .unwrap();
        assert_eq!(saved, Commit::Applied);
        assert_eq!(
            store.finished_chunk_indexes(j.id).await.unwrap(),
            vec![0, 1, 2]
        );
        // A stale attempt completes nothing and saves none of its chunks.
        let late = store
            .complete_job_with_chunks(j.id, Attempt::new(7), 40, 4, &[chunk(3, &["Late."])])
            .await
            .unwrap();
        assert!(matches!(late, Commit::Stale { .. }), "{late:?}");
        assert_eq!(
            store.finished_chunk_indexes(j.id).await.unwrap(),
            vec![0, 1, 2]
        );
        // The last chunks (one saved already: it keeps what it has) and the completion.
        let c3 = chunk(3, &["Four.", "Five."]);
        let last = [chunk(2, &["Other."]), c3.clone()];
        let done = store
            .complete_job_with_chunks(j.id, a1, 40, 4, &last)
            .await
            .unwrap();
        assert_eq!(done, Commit::Applied);
        let again = store
            .complete_job_with_chunks(j.id, a1, 40, 4, &last)
            .await
            .unwrap();
        assert_eq!(again, Commit::AlreadyApplied);
        let job = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(
            (job.status, job.chunk_count, job.sentence_count),
            (JobStatus::Completed, Some(4), Some(5))
        );
        assert_eq!(
            job.last_finished_chunk,
            Some(3),
            "the completion records its last chunk (PostgreSQL's save in it only locks the row)"
        );
        let page = store.sentences(j.id, 0, 10, READ).await.unwrap();
        let read: Vec<(u64, &str, u32)> = page
            .items
            .iter()
            .map(|s| (s.index, s.text.as_str(), s.chunk))
            .collect();
        assert_eq!(
            read,
            vec![
                (0, "One.", 0),
                (1, "Two.", 0),
                (2, "Three.", 2),
                (3, "Four.", 3),
                (4, "Five.", 3)
            ]
        );
        assert_eq!(
            store.job_results(j.id, READ).await.unwrap(),
            Some(vec![c0, c1, c2, c3])
        );
    }

    pub async fn concurrent_completers_complete_once(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let (j, a) = claimed_job(store, ann.id, "a.pdf").await;
        store
            .save_chunk(j.id, a, &chunk(0, &["Only."]))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.complete_job(j.id, a, 10, 1).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap().unwrap());
        }
        let applied = outcomes.iter().filter(|c| **c == Commit::Applied).count();
        assert_eq!(applied, 1, "{outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|c| matches!(c, Commit::Applied | Commit::AlreadyApplied)),
            "{outcomes:?}"
        );
        let completions = store
            .job_events(j.id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.status == JobStatus::Completed)
            .count();
        assert_eq!(completions, 1);
        assert_eq!(
            store.job_results(j.id, READ).await.unwrap().unwrap().len(),
            1
        );
        // Later, too: a repeat is "already done", never an error that would fail the job.
        assert_eq!(
            store.complete_job(j.id, a, 10, 1).await.unwrap(),
            Commit::AlreadyApplied
        );
    }

    pub async fn failures_retry_and_operator_actions(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let w = worker(1);
        let a1 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        let retry_at = OffsetDateTime::now_utc() + Duration::from_secs(30);
        assert_eq!(
            store
                .fail_job(
                    j.id,
                    a1,
                    "timeout",
                    "soft time limit exceeded",
                    Some(retry_at)
                )
                .await
                .unwrap(),
            Commit::Applied
        );
        let waiting = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(waiting.status, JobStatus::Retrying);
        assert_eq!(waiting.error_code.as_deref(), Some("timeout"));
        let next = waiting.next_attempt_at.unwrap();
        assert!(
            (next - retry_at).abs() < Duration::from_millis(2),
            "{next} vs {retry_at}"
        );
        let later = OffsetDateTime::now_utc() + Duration::from_secs(60);
        assert_eq!(store.retrying_due(later, 10).await.unwrap(), [(j.id, a1)]);
        assert!(
            store
                .retrying_due(OffsetDateTime::now_utc(), 10)
                .await
                .unwrap()
                .is_empty()
        );

        let a2 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        assert_eq!(a2, Attempt::new(2));
        assert_eq!(
            store
                .fail_job(j.id, a2, "not_a_pdf", "no header", None)
                .await
                .unwrap(),
            Commit::Applied
        );
        assert_eq!(
            store
                .fail_job(j.id, a2, "not_a_pdf", "no header", None)
                .await
                .unwrap(),
            Commit::AlreadyApplied
        );
        let failed = store.get_job(j.id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(failed.finished_at.is_some());
        assert!(store.claim_job(j.id, &w).await.unwrap().is_none());

        // Illegal operator actions are typed 409s.
        let err = store.cancel_job(j.id).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::IllegalTransition(TransitionError {
                    from: JobStatus::Failed,
                    event: Event::Cancel
                })
            ),
            "{err:?}"
        );
        assert!(matches!(
            store.cancel_job(JobId::new()).await.unwrap_err(),
            StoreError::NotFound
        ));

        let back = store.retry_job(j.id).await.unwrap();
        assert_eq!(back.status, JobStatus::Pending);
        assert_eq!(back.error_code, None);
        assert_eq!(back.finished_at, None);
        assert_eq!(back.attempts, a2, "attempt numbers are never reused");
        assert!(matches!(
            store.retry_job(j.id).await.unwrap_err(),
            StoreError::IllegalTransition(_)
        ));
        let a3 = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        assert_eq!(a3, Attempt::new(3));
        let messages: Vec<String> = store
            .job_events(j.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| format!("{}@{}", e.status, e.attempt))
            .collect();
        assert_eq!(
            messages,
            [
                "pending@0",
                "processing@1",
                "retrying@1",
                "processing@2",
                "failed@2",
                "pending@2",
                "processing@3"
            ]
        );
    }

    pub async fn cancelling_a_running_job_stops_its_worker(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let w = worker(1);
        let a = store.claim_job(j.id, &w).await.unwrap().unwrap().attempt;
        let cancelled = store.cancel_job(j.id).await.unwrap();
        assert_eq!(cancelled.status, JobStatus::Cancelled);
        assert!(cancelled.cancel_requested);
        assert_eq!(
            store.heartbeat(j.id, a, &w).await.unwrap(),
            stale(JobStatus::Cancelled, 1)
        );
        assert_eq!(
            store.complete_job(j.id, a, 1, 0).await.unwrap(),
            stale(JobStatus::Cancelled, 1)
        );
        assert_eq!(
            store.requeue_job(j.id, a, "shutdown").await.unwrap(),
            stale(JobStatus::Cancelled, 1)
        );
        assert!(store.claim_job(j.id, &w).await.unwrap().is_none());
        assert_eq!(
            store.get_job(j.id).await.unwrap().unwrap().status,
            JobStatus::Cancelled
        );
    }

    fn token(user_id: pdfq_domain::UserId, family: Uuid, hash: &[u8], ttl: i64) -> NewRefreshToken {
        NewRefreshToken {
            id: Uuid::new_v4(),
            user_id,
            family_id: family,
            token_hash: hash.to_vec(),
            expires_at: OffsetDateTime::now_utc() + time::Duration::seconds(ttl),
        }
    }

    pub async fn refresh_tokens_rotate_and_reuse_revokes_the_family(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let family = Uuid::new_v4();
        store
            .insert_refresh_token(&token(ann.id, family, b"t1", 3600))
            .await
            .unwrap();
        // The successor's user and family come from the spent token.
        let t2 = token(pdfq_domain::UserId::new(), Uuid::new_v4(), b"t2", 3600);
        assert_eq!(
            store
                .rotate_refresh_token(b"t1", &t2, Duration::ZERO)
                .await
                .unwrap(),
            RefreshOutcome::Valid {
                user_id: ann.id,
                family_id: family
            }
        );
        // t1 comes back: theft. The family, t2 included, is revoked.
        assert_eq!(
            store.consume_refresh_token(b"t1").await.unwrap(),
            RefreshOutcome::Reused { family_id: family }
        );
        assert_eq!(
            store.consume_refresh_token(b"t2").await.unwrap(),
            RefreshOutcome::Reused { family_id: family }
        );
        assert_eq!(
            store.consume_refresh_token(b"nope").await.unwrap(),
            RefreshOutcome::Unknown
        );

        let other = Uuid::new_v4();
        store
            .insert_refresh_token(&token(ann.id, other, b"old", -10))
            .await
            .unwrap();
        assert_eq!(
            store.consume_refresh_token(b"old").await.unwrap(),
            RefreshOutcome::Expired
        );

        let third = Uuid::new_v4();
        store
            .insert_refresh_token(&token(ann.id, third, b"t3", 3600))
            .await
            .unwrap();
        store
            .insert_refresh_token(&token(ann.id, third, b"t4", 3600))
            .await
            .unwrap();
        assert_eq!(store.revoke_family(third).await.unwrap(), 2);
        assert_eq!(
            store.consume_refresh_token(b"t3").await.unwrap(),
            RefreshOutcome::Reused { family_id: third }
        );

        store
            .insert_refresh_token(&token(ann.id, Uuid::new_v4(), b"t5", 3600))
            .await
            .unwrap();
        assert!(!store.revoke_all_for_user(ann.id).await.unwrap().is_empty());
        assert!(matches!(
            store.consume_refresh_token(b"t5").await.unwrap(),
            RefreshOutcome::Reused { .. }
        ));
    }

    pub async fn a_replay_within_the_grace_gets_the_same_successor(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let family = Uuid::new_v4();
        store
            .insert_refresh_token(&token(ann.id, family, b"g1", 3600))
            .await
            .unwrap();
        let grace = Duration::from_secs(30);
        // Four at once, all presenting the same successor (derived from the token): all keep
        // the session, and the successor is stored once.
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                let next = token(ann.id, Uuid::new_v4(), b"g2", 3600);
                tokio::spawn(async move { store.rotate_refresh_token(b"g1", &next, grace).await })
            })
            .collect();
        for t in tasks {
            assert_eq!(
                t.await.unwrap().unwrap(),
                RefreshOutcome::Valid {
                    user_id: ann.id,
                    family_id: family
                }
            );
        }
        // Once the successor is used, the old token is a theft signal again.
        let g3 = token(ann.id, family, b"g3", 3600);
        assert!(matches!(
            store.rotate_refresh_token(b"g2", &g3, grace).await.unwrap(),
            RefreshOutcome::Valid { .. }
        ));
        let again = token(ann.id, family, b"g2", 3600);
        assert_eq!(
            store
                .rotate_refresh_token(b"g1", &again, grace)
                .await
                .unwrap(),
            RefreshOutcome::Reused { family_id: family }
        );
        assert_eq!(
            store.consume_refresh_token(b"g3").await.unwrap(),
            RefreshOutcome::Reused { family_id: family },
            "the family is revoked"
        );
        // Without a grace window the first replay revokes at once.
        let other = Uuid::new_v4();
        store
            .insert_refresh_token(&token(ann.id, other, b"h1", 3600))
            .await
            .unwrap();
        let h2 = token(ann.id, other, b"h2", 3600);
        store
            .rotate_refresh_token(b"h1", &h2, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            store
                .rotate_refresh_token(b"h1", &h2, Duration::ZERO)
                .await
                .unwrap(),
            RefreshOutcome::Reused { family_id: other }
        );
    }

    pub async fn logout_revokes_only_the_callers_family(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let bob = user(store, "bob@example.com").await;
        let family = Uuid::new_v4();
        store
            .insert_refresh_token(&token(ann.id, family, b"a1", 3600))
            .await
            .unwrap();
        assert_eq!(store.revoke_family_of(b"a1", bob.id).await.unwrap(), None);
        assert_eq!(store.revoke_family_of(b"zz", ann.id).await.unwrap(), None);
        let next = token(ann.id, family, b"a2", 3600);
        assert!(
            matches!(
                store
                    .rotate_refresh_token(b"a1", &next, Duration::ZERO)
                    .await
                    .unwrap(),
                RefreshOutcome::Valid { .. }
            ),
            "bob's attempt neither spent nor revoked it"
        );
        assert_eq!(
            store.revoke_family_of(b"a1", ann.id).await.unwrap(),
            Some(family)
        );
        assert!(matches!(
            store.consume_refresh_token(b"a2").await.unwrap(),
            RefreshOutcome::Reused { .. }
        ));
    }

    pub async fn resetting_credentials_ends_every_session(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let (f1, f2) = (Uuid::new_v4(), Uuid::new_v4());
        for (family, hash) in [(f1, b"r1"), (f2, b"r2")] {
            store
                .insert_refresh_token(&token(ann.id, family, hash, 3600))
                .await
                .unwrap();
        }
        let (user, mut sessions) = store
            .reset_credentials(ann.id, "new-hash", Role::Admin)
            .await
            .unwrap();
        sessions.sort();
        let mut expected = vec![f1, f2];
        expected.sort();
        assert_eq!(sessions, expected);
        assert_eq!(
            (user.role, user.password_hash.as_str()),
            (Role::Admin, "new-hash")
        );
        assert!(matches!(
            store.consume_refresh_token(b"r1").await.unwrap(),
            RefreshOutcome::Reused { .. }
        ));
        store.delete_user(ann.id).await.unwrap();
        assert!(store.user_by_id(ann.id).await.unwrap().is_none());
        assert!(matches!(
            store.delete_user(ann.id).await,
            Err(StoreError::NotFound)
        ));
    }

    pub async fn concurrent_consumers_of_one_token_one_wins(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        for round in 0..5u8 {
            let family = Uuid::new_v4();
            let hash = [b'r', round];
            store
                .insert_refresh_token(&token(ann.id, family, &hash, 3600))
                .await
                .unwrap();
            let tasks: Vec<_> = (0..4u8)
                .map(|n| {
                    let store = store.clone();
                    let next = token(ann.id, family, &[b's', round, n], 3600);
                    tokio::spawn(async move {
                        store
                            .rotate_refresh_token(&hash, &next, Duration::ZERO)
                            .await
                    })
                })
                .collect();
            let mut outcomes = Vec::new();
            for t in tasks {
                outcomes.push(t.await.unwrap().unwrap());
            }
            let valid: Vec<_> = outcomes
                .iter()
                .filter(|o| matches!(o, RefreshOutcome::Valid { .. }))
                .collect();
            assert_eq!(valid.len(), 1, "{outcomes:?}");
            assert_eq!(
                outcomes
                    .iter()
                    .filter(|o| **o == RefreshOutcome::Reused { family_id: family })
                    .count(),
                3,
                "{outcomes:?}"
            );
            // The winner's successor went down with the family.
            for n in 0..4u8 {
                let outcome = store
                    .consume_refresh_token(&[b's', round, n])
                    .await
                    .unwrap();
                assert!(
                    matches!(
                        outcome,
                        RefreshOutcome::Reused { .. } | RefreshOutcome::Unknown
                    ),
                    "successor {n}: {outcome:?}"
                );
            }
        }
    }

    pub async fn lists_page_and_filter(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let bob = user(store, "bob@example.com").await;
        let mut ids = Vec::new();
        for n in 0..5 {
            ids.push(job(store, ann.id, &format!("ann-{n}.pdf")).await.id);
        }
        for n in 0..2 {
            job(store, bob.id, &format!("bob-{n}.pdf")).await;
        }
        let mut seen = Vec::new();
        for offset in [0, 2, 4] {
            let page = store
                .list_jobs(&JobFilter {
                    offset,
                    ..JobFilter::owner(ann.id, 2)
                })
                .await
                .unwrap();
            assert_eq!(page.total, 5);
            assert_eq!(page.items.len(), if offset == 4 { 1 } else { 2 });
            assert!(
                page.items
                    .iter()
                    .all(|j| j.owner_email == "ann@example.com")
            );
            seen.extend(page.items.iter().map(|j| (j.created_at, j.id)));
        }
        let unique: HashSet<JobId> = seen.iter().map(|s| s.1).collect();
        assert_eq!(unique, ids.iter().copied().collect());
        assert!(
            seen.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {seen:?}"
        );
        let beyond = store
            .list_jobs(&JobFilter {
                offset: 50,
                ..JobFilter::owner(ann.id, 2)
            })
            .await
            .unwrap();
        assert!(beyond.items.is_empty());
        assert_eq!(beyond.total, 5);

        store.claim_job(ids[2], &worker(1)).await.unwrap().unwrap();
        let running = store
            .list_jobs(&JobFilter {
                status: Some(JobStatus::Processing),
                ..JobFilter::owner(ann.id, 10)
            })
            .await
            .unwrap();
        assert_eq!(running.total, 1);
        assert_eq!(running.items[0].id, ids[2]);
        assert_eq!(running.items[0].attempts, Attempt::new(1));
        let everyone = store
            .list_jobs(&JobFilter {
                owner: None,
                status: None,
                limit: 100,
                offset: 0,
            })
            .await
            .unwrap();
        assert_eq!((everyone.total, everyone.items.len()), (7, 7));
    }

    pub async fn admin_search_narrows_by_each_field(store: &Store) {
        let ann = user(store, "Ann@Example.com").await;
        let bob = user(store, "bob@corp.example").await;
        let report = job(store, ann.id, "Annual-Report.pdf").await;
        let pct = job(store, bob.id, "100%_done.pdf").await;
        let other = job(store, bob.id, "invoice.pdf").await;
        let search = |s: JobSearch| async move {
            store
                .search_jobs(&JobSearch { limit: 50, ..s })
                .await
                .unwrap()
        };
        let ids = |page: pdfq_store::Page<pdfq_store::JobSummary>| -> HashSet<JobId> {
            page.items.iter().map(|j| j.id).collect()
        };

        let all = search(JobSearch::default()).await;
        assert_eq!(all.total, 3);
        // By age and error code, for the bulk actions.
        let now = OffsetDateTime::now_utc();
        let older = |before| {
            search(JobSearch {
                created_before: Some(before),
                ..JobSearch::default()
            })
        };
        assert_eq!(older(now + time::Duration::minutes(1)).await.total, 3);
        assert_eq!(older(now - time::Duration::hours(1)).await.total, 0);
        let coded = search(JobSearch {
            error_code: Some("pdf_encrypted".into()),
            ..JobSearch::default()
        })
        .await;
        assert_eq!(coded.total, 0);
        assert!(all.items.iter().all(|j| j.started_at.is_none()));
        let by_prefix = search(JobSearch {
            id: Some(report.id.to_string()[..13].to_uppercase()),
            ..JobSearch::default()
        })
        .await;
        assert!(ids(by_prefix).contains(&report.id));
        // The random end of an id, as pdfctl shows it, finds the job too.
        let text = report.id.to_string();
        let by_tail = search(JobSearch {
            id: Some(text[text.len() - 6..].to_uppercase()),
            ..JobSearch::default()
        })
        .await;
        assert_eq!(ids(by_tail), HashSet::from([report.id]));
        let exact = search(JobSearch {
            id: Some(other.id.to_string()),
            ..JobSearch::default()
        })
        .await;
        assert_eq!(ids(exact), HashSet::from([other.id]));
        let by_email = search(JobSearch {
            owner_email: Some("CORP".into()),
            ..JobSearch::default()
        })
        .await;
        assert_eq!(by_email.total, 2);
        assert_eq!(ids(by_email), HashSet::from([pct.id, other.id]));
        let by_name = search(JobSearch {
            file_name: Some("report".into()),
            ..JobSearch::default()
        })
        .await;
        assert_eq!(ids(by_name), HashSet::from([report.id]));
        // Wildcards in the input are matched literally.
        let literal = search(JobSearch {
            file_name: Some("%_".into()),
            ..JobSearch::default()
        })
        .await;
        assert_eq!(ids(literal), HashSet::from([pct.id]));
        store
            .claim_job(other.id, &worker(1))
            .await
            .unwrap()
            .unwrap();
        let by_status = search(JobSearch {
            status: Some(JobStatus::Processing),
            owner_email: Some("bob".into()),
            ..JobSearch::default()
        })
        .await;
        // Claimed: the summary says when, so a list can tell queue wait from run time.
        assert!(by_status.items.iter().all(|j| j.started_at.is_some()));
        assert_eq!(ids(by_status), HashSet::from([other.id]));
        let nothing = search(JobSearch {
            id: Some("zz".into()),
            ..JobSearch::default()
        })
        .await;
        assert_eq!((nothing.total, nothing.items.len()), (0, 0));
    }

    /// Every column of a saved sentence reads back as it was given: text with quotes, escapes
    /// and non-ASCII, the page, the chunk, and the provenance (or none).
    pub async fn sentences_read_back_as_saved_with_their_provenance(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let (j, a) = claimed_job(store, ann.id, "a.pdf").await;
        let drawn = Provenance {
            pages: vec![PageSize {
                page: 12,
                width: 595.276,
                height: 841.89,
            }],
            boxes: vec![
                SentenceBox {
                    page: 12,
                    x0: 72.0,
                    y0: 90.25,
                    x1: 300.5,
                    y1: 102.75,
                },
                SentenceBox {
                    page: 12,
                    x0: 72.0,
                    y0: 104.0,
                    x1: 150.125,
                    y1: 116.0,
                },
            ],
        };
        let mut first = chunk(0, &["Plain."]);
        first.sentences.push(Sentence {
            text: "\"Quoted\" \\ back\tslash, caf\u{e9} \u{4e2d}\u{6587}, {\"json\": [1]}.".into(),
            page: 12,
            provenance: drawn.clone(),
        });
        let second = chunk(1, &["Last."]);
        assert_eq!(
            store
                .complete_job_with_chunks(j.id, a, 20, 2, &[first.clone(), second.clone()])
                .await
                .unwrap(),
            Commit::Applied
        );
        let page = store.sentences(j.id, 0, 10, READ).await.unwrap();
        let read: Vec<(u64, Sentence, u32)> = page
            .items
            .into_iter()
            .map(|s| {
                (
                    s.index,
                    Sentence {
                        text: s.text,
                        page: s.page,
                        provenance: s.provenance,
                    },
                    s.chunk,
                )
            })
            .collect();
        let expected = vec![
            (0, first.sentences[0].clone(), 0),
            (1, first.sentences[1].clone(), 0),
            (2, second.sentences[0].clone(), 1),
        ];
        assert_eq!(read, expected);
        assert_eq!(read[1].1.provenance, drawn);
    }

    pub async fn sentences_page_through_the_result(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let j = job(store, ann.id, "a.pdf").await;
        let empty = store.sentences(j.id, 0, 10, READ).await.unwrap();
        assert_eq!((empty.total, empty.items.len()), (0, 0));
        let a = store
            .claim_job(j.id, &worker(1))
            .await
            .unwrap()
            .unwrap()
            .attempt;
        store
            .save_chunk(j.id, a, &chunk(0, &["One.", "Two.", "Three."]))
            .await
            .unwrap();
        store
            .save_chunk(j.id, a, &chunk(1, &["Four.", "Five."]))
            .await
            .unwrap();
        store.complete_job(j.id, a, 20, 2).await.unwrap();

        let first = store.sentences(j.id, 0, 2, READ).await.unwrap();
        assert_eq!(first.total, 5);
        let shown: Vec<(u64, &str, u32, u32)> = first
            .items
            .iter()
            .map(|s| (s.index, s.text.as_str(), s.page, s.chunk))
            .collect();
        assert_eq!(shown, [(0, "One.", 1, 0), (1, "Two.", 1, 0)]);
        let rest = store.sentences(j.id, 2, 10, READ).await.unwrap();
        let shown: Vec<(u64, &str, u32, u32)> = rest
            .items
            .iter()
            .map(|s| (s.index, s.text.as_str(), s.page, s.chunk))
            .collect();
        assert_eq!(
            shown,
            [
                (2, "Three.", 1, 0),
                (3, "Four.", 11, 1),
                (4, "Five.", 11, 1)
            ]
        );
        let past = store.sentences(j.id, 9, 10, READ).await.unwrap();
        assert_eq!((past.total, past.items.len()), (5, 0));
    }

    pub async fn a_large_result_pages_right_at_any_depth(store: &Store) {
        let id = large_job(store).await;
        let page = |offset: u64, limit: u32| async move {
            let page = store.sentences(id, offset, limit, READ).await.unwrap();
            assert_eq!(page.total, LARGE_TOTAL);
            page.items
                .into_iter()
                .map(|s| (s.index, s.text, s.page, s.chunk))
                .collect::<Vec<_>>()
        };
        let row = |index: u64, chunk: u32, n: u32| {
            (
                index,
                format!("c{chunk} s{n}"),
                chunk * 10 + 1 + n / 250,
                chunk,
            )
        };
        assert_eq!(page(0, 3).await, [row(0, 0, 0), row(1, 0, 1), row(2, 0, 2)]);
        // Across the end of chunk 0 and the empty chunk 1, into chunk 2.
        assert_eq!(
            page(2_498, 4).await,
            [
                row(2_498, 0, 2_498),
                row(2_499, 0, 2_499),
                row(2_500, 2, 0),
                row(2_501, 2, 1)
            ]
        );
        // The API's page 2,000 of 10.
        assert_eq!(page(19_990, 10).await[0], row(19_990, 8, 2_490));
        // The last page is short; past it there is nothing.
        assert_eq!(
            page(99_998, 10).await,
            [row(99_998, 40, 2_498), row(99_999, 40, 2_499)]
        );
        assert!(page(LARGE_TOTAL, 10).await.is_empty());
        assert!(page(u64::MAX, 10).await.is_empty());
        // The whole result is the chunks as saved, in chunk order, the empty one included.
        let whole = store.job_results(id, READ).await.unwrap().unwrap();
        assert_eq!(
            whole,
            (0..LARGE_CHUNKS).map(large_chunk).collect::<Vec<_>>()
        );
    }

    /// Sentences carry no foreign key (a check per row cost half their saving): deleting a
    /// job, or its owner, must still delete them, and only theirs.
    pub async fn a_deleted_jobs_sentences_go_with_it(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let bob = user(store, "bob@example.com").await;
        let mut ids = Vec::new();
        for owner in [ann.id, ann.id, bob.id] {
            let (j, a) = claimed_job(store, owner, "kept.pdf").await;
            let chunks = [chunk(0, &["One.", "Two."]), chunk(1, &["Three."])];
            assert_eq!(
                store
                    .complete_job_with_chunks(j.id, a, 20, 2, &chunks)
                    .await
                    .unwrap(),
                Commit::Applied
            );
            assert_eq!(sentence_rows(store, j.id).await, 3);
            ids.push(j.id);
        }
        store.delete_job(ids[0]).await.unwrap();
        assert_eq!(sentence_rows(store, ids[0]).await, 0);
        assert_eq!(sentence_rows(store, ids[1]).await, 3, "another job's stay");
        assert_eq!(sentence_rows(store, ids[2]).await, 3);
        store.delete_user(bob.id).await.unwrap();
        assert_eq!(
            sentence_rows(store, ids[2]).await,
            0,
            "deleted with the owner"
        );
        assert_eq!(sentence_rows(store, ids[1]).await, 3);
    }

    /// The work of a page is measured, not timed: SQLite's virtual machine steps (a progress
    /// handler called at every instruction) and PostgreSQL's buffers touched (`EXPLAIN
    /// (ANALYZE, BUFFERS)`), on the store's own page query.
    pub async fn a_deep_page_reads_no_more_than_the_first(store: &Store) {
        let id = large_job(store).await;
        let last = LARGE_TOTAL - 10;
        match store {
            Store::Sqlite(s) => {
                let plan: Vec<String> =
                    sqlx::query(&format!("explain query plan {}", pdfq_store::SENTENCE_PAGE))
                        .bind(id.to_string())
                        .bind(0_i64)
                        .bind(10_i64)
                        .fetch_all(s.pool())
                        .await
                        .unwrap()
                        .iter()
                        .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
                        .collect();
                assert_eq!(
                    plan,
                    ["SEARCH job_sentences USING PRIMARY KEY \
                      (job_id=? AND sentence_index>? AND sentence_index<?)"],
                    "a page must be one primary-key range, with no scan and no sort"
                );
                let first = sqlite_steps(s.pool(), id, 0).await;
                let deep = sqlite_steps(s.pool(), id, last).await;
                assert!(
                    deep <= first * 2,
                    "the last page took {deep} VM steps, the first {first}"
                );
                // Under one instruction per 100 sentences of the result: nothing walks it.
                assert!(
                    deep * 100 < LARGE_TOTAL,
                    "a page of 10 took {deep} VM steps in a result of {LARGE_TOTAL}"
                );
            }
            Store::Postgres(p) => {
                let first = postgres_blocks(p.pool(), id, 0).await;
                let deep = postgres_blocks(p.pool(), id, last).await;
                let stored: i64 = sqlx::query_scalar(
                    "select (pg_total_relation_size('job_sentences')
                             / current_setting('block_size')::bigint)",
                )
                .fetch_one(p.pool())
                .await
                .unwrap();
                assert!(
                    deep <= first * 2 + 2,
                    "the last page touched {deep} blocks, the first {first}"
                );
                assert!(
                    deep * 50 < stored,
                    "a page touched {deep} of the result's {stored} blocks"
                );
            }
        }
    }

    /// The API passes REQUEST_TIMEOUT; a read still running then is cancelled by PostgreSQL
    /// itself (a dropped future would leave it running), and the limit ends with the read.
    pub async fn a_result_read_past_its_timeout_is_stopped_by_postgres(store: &Store) {
        let id = large_job(store).await;
        let outcome = store.job_results(id, Duration::from_millis(1)).await;
        match store {
            Store::Postgres(p) => {
                let Err(StoreError::Other(sqlx::Error::Database(e))) = outcome else {
                    panic!("reading 100,000 sentences within 1 ms: {outcome:?}");
                };
                assert_eq!(e.code().as_deref(), Some("57014"), "query_canceled: {e}");
                // The limit was the transaction's own: every pooled connection is unlimited.
                for _ in 0..p.pool().size() {
                    let limit: String = sqlx::query_scalar("show statement_timeout")
                        .fetch_one(p.pool())
                        .await
                        .unwrap();
                    assert_eq!(limit, "0");
                }
            }
            // SQLite is given no limit (a page streams; the whole read is bounded by its size).
            Store::Sqlite(_) => assert_eq!(outcome.unwrap().unwrap().len(), 41),
        }
        let whole = store.job_results(id, READ).await.unwrap().unwrap();
        assert_eq!(whole.len(), LARGE_CHUNKS as usize);
    }

    pub async fn recovery_queries_find_stale_and_forgotten_jobs(store: &Store) {
        let ann = user(store, "ann@example.com").await;
        let running = job(store, ann.id, "a.pdf").await;
        let waiting = job(store, ann.id, "b.pdf").await;
        let a = store
            .claim_job(running.id, &worker(1))
            .await
            .unwrap()
            .unwrap()
            .attempt;
        tick().await;
        assert_eq!(
            store.stale_processing(Duration::ZERO, 10).await.unwrap(),
            [(running.id, a)]
        );
        assert!(
            store
                .stale_processing(Duration::from_secs(120), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.pending_older_than(Duration::ZERO, 10).await.unwrap(),
            [waiting.id]
        );
        assert!(
            store
                .pending_older_than(Duration::from_secs(3600), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let counts = store.count_by_status().await.unwrap();
        assert_eq!(
            (counts.pending, counts.processing, counts.completed),
            (1, 1, 0)
        );
        assert_eq!(counts.get(JobStatus::Pending), 1);
        let age = store.oldest_pending_age().await.unwrap().unwrap();
        assert!(age < Duration::from_secs(60), "{age:?}");

        // A fresh heartbeat takes the job out of the stale list.
        tick().await;
        store.heartbeat(running.id, a, &worker(1)).await.unwrap();
        assert!(
            store
                .stale_processing(Duration::from_secs(5), 10)
                .await
                .unwrap()
                .is_empty()
        );
        store.cancel_job(waiting.id).await.unwrap();
        assert!(store.oldest_pending_age().await.unwrap().is_none());
    }

    pub async fn pool_stats_are_reported(store: &Store) {
        store.ping().await.unwrap();
        let stats = store.pool_stats();
        assert!(stats.size >= 1, "{stats:?}");
        assert_eq!(stats.size, stats.idle + stats.in_use);
        assert!(stats.max >= stats.size);
        if matches!(store, Store::Postgres(_)) {
            assert_eq!(stats.max, 15, "10 + 5 overflow");
        }
    }

    pub async fn the_servers_connection_limit_is_read(store: &Store) {
        let limit = store.max_connections().await.unwrap();
        if matches!(store, Store::Postgres(_)) {
            // PostgreSQL refuses to start below 1 connection; its default is 100.
            assert!(limit.is_some_and(|n| n >= 1), "{limit:?}");
        } else {
            assert_eq!(limit, None, "SQLite has no connection limit");
        }
    }
}
