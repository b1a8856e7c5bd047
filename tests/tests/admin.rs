//! The admin endpoints pdfctl uses: overview (queue, throughput, instances with pools, jobs by
//! status, health), search, retry, cancel, delete, pause and resume, dead letters.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::time::{Duration, Instant};

use pdfq_client::types::AdminJobQuery;
use pdfq_domain::JobStatus;
use pdfq_e2e::{TestApp, on_both_backends, pdf};

on_both_backends!(overview_search_and_actions);

async fn overview_search_and_actions(app: TestApp) {
    let admin = app.admin().await;
    let alice = app.user_with("alice@example.com").await;
    let bob = app.user_with("bob@example.com").await;
    let a1 = alice
        .client
        .upload("report-2024.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let a2 = alice
        .client
        .upload("invoice.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let b1 = bob
        .client
        .upload("report-2025.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;

    // The overview, once this API's own heartbeat has been written.
    let deadline = Instant::now() + Duration::from_secs(10);
    let overview = loop {
        let overview = admin.client.admin_overview().await.unwrap();
        if !overview.instances.is_empty() || Instant::now() > deadline {
            break overview;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(overview.jobs_by_status["pending"], 3);
    assert_eq!(overview.jobs_by_status["completed"], 0);
    assert_eq!(overview.jobs_by_status.len(), 6);
    assert_eq!(overview.queue.as_ref().unwrap().waiting, 3);
    assert!(!overview.queue.as_ref().unwrap().paused);
    assert!(overview.problems.is_empty(), "{:?}", overview.problems);
    assert_eq!(overview.throughput.len(), 60);
    assert!(overview.oldest_pending_age_secs.is_some());
    assert!(overview.health.is_healthy());
    assert!(overview.api_pool.max > 0);
    let api = overview
        .instances
        .iter()
        .find(|i| i.kind == "api")
        .expect("this API's heartbeat");
    assert!(api.pool.is_some_and(|p| p.max == overview.api_pool.max));
    assert!(!api.stale);
    assert!(api.rss_bytes.is_some_and(|b| b > 0), "{api:?}");
    match overview.broker.as_str() {
        "redis" => {
            assert!(overview.redis_memory_bytes.is_some_and(|b| b > 0));
            // PostgreSQL's max_connections, which every instance's pool shares.
            assert!(overview.db_max_connections.is_some_and(|n| n > 0));
        }
        other => {
            assert_eq!((other, overview.redis_memory_bytes), ("memory", None));
            assert_eq!(overview.db_max_connections, None, "SQLite has no limit");
        }
    }

    // Search by owner, file name, status and id prefix.
    let by_owner = admin
        .client
        .admin_jobs(&AdminJobQuery {
            owner: Some("alice".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_owner.total, 2);
    assert!(
        by_owner
            .jobs
            .iter()
            .all(|j| j.owner_email.as_deref() == Some("alice@example.com"))
    );
    let by_name = admin
        .client
        .admin_jobs(&AdminJobQuery {
            file_name: Some("REPORT".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<_> = by_name.jobs.iter().map(|j| j.job_id).collect();
    ids.sort();
    let mut expected = vec![a1, b1];
    expected.sort();
    assert_eq!(ids, expected);
    // Ids are UUIDv7: jobs made in the same millisecond share their first characters.
    let prefix = a2.to_string()[..32].to_owned();
    let by_id = admin
        .client
        .admin_jobs(&AdminJobQuery {
            id: Some(prefix),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_id.jobs.iter().map(|j| j.job_id).collect::<Vec<_>>(),
        [a2]
    );

    // Actions on anyone's job.
    assert_eq!(
        admin.client.admin_job(b1).await.unwrap().file_name,
        "report-2025.pdf"
    );
    assert_eq!(
        admin.client.admin_cancel(b1).await.unwrap().status,
        JobStatus::Cancelled
    );
    let err = admin.client.admin_cancel(b1).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    let cancelled = admin
        .client
        .admin_jobs(&AdminJobQuery {
            status: Some(JobStatus::Cancelled),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cancelled.total, 1);
    assert_eq!(
        admin.client.admin_retry(b1).await.unwrap().status,
        JobStatus::Pending
    );
    let err = admin.client.admin_retry(a1).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(409), Some("conflict")),
        "a pending job cannot be retried"
    );
    admin.client.admin_delete(a2).await.unwrap();
    let err = alice.client.job(a2).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    let err = admin.client.admin_delete(a2).await.unwrap_err();
    assert_eq!(err.status(), Some(404));

    // The queue.
    assert!(admin.client.pause_queue().await.unwrap().paused);
    assert!(
        admin
            .client
            .admin_overview()
            .await
            .unwrap()
            .queue
            .unwrap()
            .paused
    );
    assert!(!admin.client.resume_queue().await.unwrap().paused);
    assert!(
        !admin
            .client
            .admin_overview()
            .await
            .unwrap()
            .queue
            .unwrap()
            .paused
    );

    // Dead letters.
    app.broker
        .dead_letter(a1, pdfq_domain::Attempt::new(1), "not_a_pdf", "no header")
        .await
        .unwrap();
    let dead = admin.client.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].job_id, dead[0].code.as_str()), (a1, "not_a_pdf"));
    assert_eq!(admin.client.purge_dead_letters().await.unwrap().purged, 1);
    assert!(admin.client.dead_letters(10).await.unwrap().is_empty());
}
