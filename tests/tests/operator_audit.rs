//! The audit log of operator actions (issue 17, item 8): every admin action is recorded with
//! who, when, what and how many, and read back a page at a time, newest first.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use pdfq_client::types::{AuditQuery, BulkAction, BulkFilter, BulkRequest};
use pdfq_domain::JobStatus;
use pdfq_e2e::{TestApp, on_both_backends, pdf};

on_both_backends!(
    every_operator_action_is_recorded_with_who_and_how_many,
    a_bulk_retry_of_an_error_group_takes_exactly_that_group,
);

async fn every_operator_action_is_recorded_with_who_and_how_many(app: TestApp) {
    let admin = app.admin().await;
    let alice = app.user_with("alice@example.com").await;
    let mut jobs = Vec::new();
    for name in ["a.pdf", "b.pdf", "c.pdf"] {
        jobs.push(
            alice
                .client
                .upload(name, pdf::hello())
                .await
                .unwrap()
                .job_id,
        );
    }
    let start = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let c = &admin.client;
    c.pause_queue().await.unwrap();
    c.resume_queue().await.unwrap();
    c.admin_cancel(jobs[0]).await.unwrap();
    c.admin_retry(jobs[0]).await.unwrap();
    c.admin_delete(jobs[1]).await.unwrap();
    let bulk = |dry_run| BulkRequest {
        action: BulkAction::Cancel,
        filter: BulkFilter {
            status: Some(JobStatus::Pending),
            ..BulkFilter::default()
        },
        dry_run,
    };
    // A dry run changes nothing, so it is not recorded.
    assert_eq!(c.admin_bulk(&bulk(true)).await.unwrap().matched, 2);
    assert_eq!(c.admin_bulk(&bulk(false)).await.unwrap().acted, 2);
    c.purge_dead_letters().await.unwrap();
    // A refused action is not recorded either.
    assert!(c.admin_cancel(jobs[1]).await.is_err());

    let page = c
        .admin_audit(&AuditQuery {
            since: Some(start),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let actions: Vec<(&str, u64)> = page
        .entries
        .iter()
        .map(|e| (e.action.as_str(), e.count))
        .collect();
    assert_eq!(
        actions,
        [
            ("purge_dead_letters", 0),
            ("bulk_cancel", 2),
            ("delete", 1),
            ("retry", 1),
            ("cancel", 1),
            ("resume", 1),
            ("pause", 1),
        ]
    );
    assert!(
        page.entries
            .iter()
            .all(|e| e.actor_id == Some(admin.id) && e.actor_email == admin.email && e.at >= start)
    );
    let bulk = &page.entries[1];
    assert_eq!(bulk.target.as_deref(), Some("status pending"));
    assert_eq!(bulk.detail.as_deref(), Some("matched 2, skipped 0"));
    assert_eq!(page.entries[2].target, Some(jobs[1].to_string()));
    assert_eq!(page.next_before, None);

    // Pages of two: each starts before the last entry of the one before, none is lost.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = c
            .admin_audit(&AuditQuery {
                since: Some(start),
                before,
                limit: Some(2),
            })
            .await
            .unwrap();
        seen.extend(page.entries.iter().map(|e| e.action.clone()));
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(seen[0], "purge_dead_letters");

    // Admins only; a page outside 1 to 500 is refused, never clamped.
    let denied = alice.client.admin_audit(&AuditQuery::default()).await;
    assert_eq!(denied.unwrap_err().status(), Some(403));
    let too_big = c
        .admin_audit(&AuditQuery {
            limit: Some(501),
            ..AuditQuery::default()
        })
        .await;
    assert_eq!(too_big.unwrap_err().status(), Some(400));
}

/// A group of `GET /api/v1/admin/errors` is its code and message pattern in its window; the
/// bulk filter's `error_pattern` and `finished_since` take exactly its jobs, no others of the
/// same code.
async fn a_bulk_retry_of_an_error_group_takes_exactly_that_group(app: TestApp) {
    let admin = app.admin().await;
    let alice = app.user_with("alice@example.com").await;
    let fail = |code, message| failed_job(&app, &alice.client, code, message);
    let a = fail("pdf_malformed", "page 12 of 40: bad xref at offset 4096").await;
    let b = fail("pdf_malformed", "page 3 of 9: bad xref at offset 17").await;
    let other_pattern = fail("pdf_malformed", "no trailer").await;
    let other_code = fail("pdf_encrypted", "page 1 of 2: bad xref at offset 1").await;

    let c = &admin.client;
    let groups = c
        .admin_errors(&pdfq_client::types::ErrorsQuery::default())
        .await
        .unwrap();
    let group = groups
        .groups
        .iter()
        .find(|g| g.code == "pdf_malformed" && g.count == 2)
        .unwrap_or_else(|| panic!("{groups:?}"));
    assert_eq!(group.pattern, "page N of N: bad xref at offset N");
    let request = |dry_run| BulkRequest {
        action: BulkAction::Retry,
        filter: BulkFilter {
            status: Some(JobStatus::Failed),
            error_code: Some(group.code.clone()),
            error_pattern: Some(group.pattern.clone()),
            finished_since: Some(group.first_seen),
            ..BulkFilter::default()
        },
        dry_run,
    };
    assert_eq!(c.admin_bulk(&request(true)).await.unwrap().matched, 2);
    let done = c.admin_bulk(&request(false)).await.unwrap();
    assert_eq!((done.matched, done.acted, done.skipped), (2, 2, 0));
    for (id, status) in [
        (a, JobStatus::Pending),
        (b, JobStatus::Pending),
        (other_pattern, JobStatus::Failed),
        (other_code, JobStatus::Failed),
    ] {
        assert_eq!(c.admin_job(id).await.unwrap().status, status, "{id}");
    }
    // The same filter from after the group's failures matches none of them.
    let later = BulkRequest {
        filter: BulkFilter {
            finished_since: Some(time::OffsetDateTime::now_utc() + time::Duration::minutes(1)),
            ..request(true).filter
        },
        ..request(true)
    };
    assert_eq!(c.admin_bulk(&later).await.unwrap().matched, 0);
    // The retry of the group is in the audit log, with its filter.
    let audit = c.admin_audit(&AuditQuery::default()).await.unwrap();
    let entry = &audit.entries[0];
    assert_eq!((entry.action.as_str(), entry.count), ("bulk_retry", 2));
    let target = entry.target.as_deref().unwrap_or_default();
    assert!(
        target.contains("error code pdf_malformed")
            && target.contains("message \"page N of N: bad xref at offset N\""),
        "{target}"
    );
}

/// A job of `client`'s user, failed for good by a worker with `code` and `message`.
async fn failed_job(
    app: &TestApp,
    client: &pdfq_client::Client,
    code: &str,
    message: &str,
) -> pdfq_domain::JobId {
    let id = client.upload("x.pdf", pdf::hello()).await.unwrap().job_id;
    let worker = pdfq_domain::WorkerId::generate("e2e", 1);
    let claimed = app.store.claim_job(id, &worker).await.unwrap().unwrap();
    app.store
        .fail_job(id, claimed.attempt, code, message, None)
        .await
        .unwrap();
    id
}
