//! `GET /api/v1/admin/throughput` (issue 17, item 9): completed, failed and pages per minute
//! over the last hour and per 15 minutes over the last day, overall and per worker, from the
//! job events in the database.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use pdfq_client::types::{ThroughputQuery, ThroughputWindow};
use pdfq_domain::WorkerId;
use pdfq_e2e::{TestApp, on_both_backends, pdf};

on_both_backends!(finished_jobs_and_pages_are_counted_per_bucket_and_worker);

async fn finished_jobs_and_pages_are_counted_per_bucket_and_worker(app: TestApp) {
    let admin = app.admin().await;
    let alice = app.user_with("alice@example.com").await;
    let workers = [
        WorkerId::generate("b-host", 2),
        WorkerId::generate("a-host", 1),
    ];
    for (w, pages, fail) in [(0, 12, false), (0, 3, false), (1, 40, false), (1, 0, true)] {
        let id = alice
            .client
            .upload("x.pdf", pdf::hello())
            .await
            .unwrap()
            .job_id;
        let claimed = app.store.claim_job(id, &workers[w]).await.unwrap().unwrap();
        if fail {
            app.store
                .fail_job(id, claimed.attempt, "not_a_pdf", "no header", None)
                .await
                .unwrap();
        } else {
            app.store
                .complete_job(id, claimed.attempt, pages, 0)
                .await
                .unwrap();
        }
    }
    let read = async |window| {
        admin
            .client
            .admin_throughput(&ThroughputQuery {
                window: Some(window),
            })
            .await
            .unwrap()
    };
    for (window, buckets, width) in [
        (ThroughputWindow::Hour, 60, 60),
        (ThroughputWindow::Day, 96, 900),
    ] {
        let t = read(window).await;
        assert_eq!((t.window, t.bucket_secs), (window, width));
        assert_eq!(t.overall.len(), buckets);
        // Oldest first, one bucket width apart, the last one now.
        for pair in t.overall.windows(2) {
            assert_eq!(
                (pair[1].start - pair[0].start).whole_seconds(),
                width as i64
            );
        }
        let now = time::OffsetDateTime::now_utc();
        let last = t.overall.last().unwrap().start;
        assert!(last <= now && (now - last).whole_seconds() < width as i64);
        let sum = |b: &[pdfq_client::types::ThroughputBucket]| {
            b.iter().fold((0, 0, 0), |(c, f, p), b| {
                (c + b.completed, f + b.failed, p + b.pages)
            })
        };
        assert_eq!(sum(&t.overall), (3, 1, 55));
        // By worker id: a-host's first.
        let ids: Vec<&str> = t.workers.iter().map(|w| w.worker_id.as_str()).collect();
        assert_eq!(ids, [workers[1].as_str(), workers[0].as_str()]);
        assert_eq!(sum(&t.workers[0].buckets), (1, 1, 40));
        assert_eq!(sum(&t.workers[1].buckets), (2, 0, 15));
    }
    // The overview's per-minute chart reads the same events.
    let overview = admin.client.admin_overview().await.unwrap();
    let processed: u64 = overview.throughput.iter().map(|m| m.processed).sum();
    assert_eq!(processed, 3);
}
