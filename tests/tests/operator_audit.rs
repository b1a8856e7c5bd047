//! The audit log of operator actions (issue 17, item 8): every admin action is recorded with
//! who, when, what and how many, and read back a page at a time, newest first.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use pdfq_client::types::{AuditQuery, BulkAction, BulkFilter, BulkRequest};
use pdfq_domain::JobStatus;
use pdfq_e2e::{TestApp, on_both_backends, pdf};

on_both_backends!(every_operator_action_is_recorded_with_who_and_how_many);

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
            .all(|e| e.actor_id == admin.id && e.actor_email == admin.email && e.at >= start)
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
