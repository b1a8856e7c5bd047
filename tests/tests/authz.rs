//! Object-level authorisation: another user gets 404 (never 403) for every one of a user's jobs
//! and every action on them, and the jobs are untouched afterwards. Admin endpoints are 403 for
//! users.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use futures::StreamExt;
use pdfq_client::types::{AdminJobQuery, JobListQuery, PageQuery};
use pdfq_domain::{JobId, JobStatus};
use pdfq_e2e::{TestApp, on_both_backends, pdf};

on_both_backends!(
    another_users_jobs_are_404,
    admin_endpoints_need_the_admin_role
);

async fn another_users_jobs_are_404(app: TestApp) {
    let alice = app.user().await;
    let bob = app.user().await;
    let pending = alice
        .client
        .upload("a.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let done = alice
        .client
        .upload("b.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    app.complete_job(done, &["Secret sentence."]).await;
    // Alice reads it first, so it is in the result cache too: the cache must not leak it.
    alice.client.job(done).await.unwrap();

    for id in [pending, done, JobId::new()] {
        let outcomes = [
            ("job", bob.client.job(id).await.map(drop)),
            (
                "sentences",
                bob.client
                    .sentences(id, PageQuery::default())
                    .await
                    .map(drop),
            ),
            ("cancel", bob.client.cancel(id).await.map(drop)),
            ("delete", bob.client.delete(id).await),
            ("events", bob.client.events(id).await.map(drop)),
        ];
        for (what, outcome) in outcomes {
            let err = outcome.expect_err(what);
            assert_eq!(
                (err.status(), err.code()),
                (Some(404), Some("not_found")),
                "{what} {id}"
            );
        }
    }
    assert_eq!(
        bob.client
            .jobs(&JobListQuery::default())
            .await
            .unwrap()
            .total,
        0
    );

    // Nothing Bob tried changed Alice's jobs.
    assert_eq!(
        alice.client.job(pending).await.unwrap().status,
        JobStatus::Pending
    );
    let done_view = alice.client.job(done).await.unwrap();
    assert_eq!(done_view.sentences.unwrap(), ["Secret sentence."]);
    let mut events = Box::pin(alice.client.events(done).await.unwrap());
    assert_eq!(events.next().await.unwrap().unwrap().event, "end");
}

async fn admin_endpoints_need_the_admin_role(app: TestApp) {
    let user = app.user().await;
    let id = user
        .client
        .upload("a.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let outcomes = [
        ("overview", user.client.admin_overview().await.map(drop)),
        (
            "search",
            user.client
                .admin_jobs(&AdminJobQuery::default())
                .await
                .map(drop),
        ),
        ("job", user.client.admin_job(id).await.map(drop)),
        ("retry", user.client.admin_retry(id).await.map(drop)),
        ("cancel", user.client.admin_cancel(id).await.map(drop)),
        ("delete", user.client.admin_delete(id).await),
        ("pause", user.client.pause_queue().await.map(drop)),
        ("resume", user.client.resume_queue().await.map(drop)),
        ("dead letters", user.client.dead_letters(10).await.map(drop)),
        ("purge", user.client.purge_dead_letters().await.map(drop)),
    ];
    for (what, outcome) in outcomes {
        let err = outcome.expect_err(what);
        assert_eq!(
            (err.status(), err.code()),
            (Some(403), Some("forbidden")),
            "{what}"
        );
    }
    let err = app.client.admin_overview().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        user.client.job(id).await.unwrap().status,
        JobStatus::Pending
    );

    // Promotion (with the account's own password) takes effect at once, with the same token.
    pdfq_api::bootstrap_admin(&app.store, &app.broker, &user.email, &user.password)
        .await
        .unwrap();
    user.client.admin_overview().await.unwrap();
}
