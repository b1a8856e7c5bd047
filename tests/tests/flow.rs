//! The whole flow through the client: register, login, upload, poll and follow the progress
//! stream while a job runs (driven through the store's worker-side writes), completed with its
//! sentences; then the sentence pages, the list, the result cache and deletion.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use futures::StreamExt;
use pdfq_client::types::{JobListQuery, PageQuery};
use pdfq_domain::JobStatus;
use pdfq_e2e::{TestApp, on_both_backends, pdf};

on_both_backends!(upload_poll_follow_and_read_the_sentences, cancel_and_list);

async fn upload_poll_follow_and_read_the_sentences(app: TestApp) {
    let user = app.user().await;
    let accepted = user.client.upload("paper.pdf", pdf::hello()).await.unwrap();
    assert_eq!(accepted.status, JobStatus::Pending);
    let id = accepted.job_id;

    let pending = user.client.job(id).await.unwrap();
    assert_eq!(pending.status, JobStatus::Pending);
    assert_eq!(pending.progress, 0);
    assert_eq!(pending.file_name, "paper.pdf");
    assert_eq!(pending.sentences, None);
    assert_eq!(pending.error, None);

    // Follow the stream while the "worker" runs the job.
    let mut events = Box::pin(user.client.events(id).await.unwrap());
    let first = events.next().await.unwrap().unwrap();
    assert_eq!(first.event, "progress");
    assert_eq!(first.job.unwrap().status, JobStatus::Pending);
    let sentences = ["Hello world.", "This is pdfq.", "A third sentence."];
    app.complete_job(id, &sentences).await;
    let mut last = None;
    while let Some(update) = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
        .await
        .expect("the stream ends within 10 s")
    {
        last = Some(update.unwrap());
    }
    let last = last.expect("an end event");
    assert_eq!(last.event, "end");
    let ended = last.job.unwrap();
    assert_eq!(ended.status, JobStatus::Completed);
    assert_eq!(ended.progress, 100);

    // Polling shows the original design's completed shape.
    let done = user.client.job(id).await.unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.progress, 100);
    assert_eq!(done.attempts, 1);
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    assert_eq!(
        done.sentences.as_deref(),
        Some(&sentences.map(String::from)[..])
    );
    assert_eq!(done.sentence_count, Some(3));

    // The answer is now cached, with its owner.
    let cached = app.broker.cached_result(id).await.unwrap().expect("cached");
    assert!(cached.contains("This is pdfq."), "{cached}");
    assert_eq!(user.client.job(id).await.unwrap(), done);

    // Sentences page by page, with page number and chunk.
    let page = user
        .client
        .sentences(
            id,
            PageQuery {
                page: Some(2),
                per_page: Some(2),
            },
        )
        .await
        .unwrap();
    assert_eq!((page.page, page.per_page, page.total), (2, 2, 3));
    assert_eq!(page.sentences.len(), 1);
    assert_eq!(page.sentences[0].text, "A third sentence.");
    assert_eq!(
        (
            page.sentences[0].index,
            page.sentences[0].page,
            page.sentences[0].chunk
        ),
        (2, 1, 0)
    );

    let list = user.client.jobs(&JobListQuery::default()).await.unwrap();
    assert_eq!(list.total, 1);
    assert_eq!(list.jobs[0].job_id, id);
    assert_eq!(list.jobs[0].status, JobStatus::Completed);
    assert_eq!(list.jobs[0].owner_email, None);

    // Deleting removes the job and its cached answer.
    user.client.delete(id).await.unwrap();
    assert_eq!(app.broker.cached_result(id).await.unwrap(), None);
    let err = user.client.job(id).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("not_found")));
}

async fn cancel_and_list(app: TestApp) {
    let user = app.user().await;
    let a = user
        .client
        .upload("a.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let b = user
        .client
        .upload("b.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;

    let cancelled = user.client.cancel(a).await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    // A job that has ended cannot be cancelled again.
    let err = user.client.cancel(a).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("conflict")));

    let all = user.client.jobs(&JobListQuery::default()).await.unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(all.jobs[0].job_id, b, "newest first");
    let only = user
        .client
        .jobs(&JobListQuery {
            status: Some(JobStatus::Cancelled),
            ..JobListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(only.total, 1);
    assert_eq!(only.jobs[0].job_id, a);
    let paged = user
        .client
        .jobs(&JobListQuery {
            page: Some(2),
            per_page: Some(1),
            ..JobListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((paged.page, paged.per_page, paged.total), (2, 1, 2));
    assert_eq!(paged.jobs[0].job_id, a);
}
