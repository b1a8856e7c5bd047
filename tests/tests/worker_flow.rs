//! The whole flow with the real worker in the same process (as `pdfctl up` runs it): a PDF
//! made in code is uploaded, extracted by the worker's isolated child, followed over SSE, and
//! read back as sentences.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::time::Duration;

use futures::StreamExt;
use pdfq_domain::JobStatus;
use pdfq_e2e::worker::RunningWorker;
use pdfq_e2e::{TestApp, on_both_backends, pdf};

on_both_backends!(a_real_worker_completes_an_upload);

async fn a_real_worker_completes_an_upload(app: TestApp) {
    let worker = RunningWorker::start(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"));

    let user = app.user().await;
    let bytes = pdf::with_pages(&[
        "The first page says hello. It has two sentences.",
        "The second page ends the story.",
    ]);
    let id = user.client.upload("story.pdf", bytes).await.unwrap().job_id;
    let mut events = Box::pin(user.client.events(id).await.unwrap());
    let mut last = None;
    while let Some(update) = tokio::time::timeout(Duration::from_secs(60), events.next())
        .await
        .expect("the job ends within a minute")
    {
        last = Some(update.unwrap());
    }
    let last = last.unwrap();
    assert_eq!(last.event, "end");
    let job = user.client.job(id).await.unwrap();
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    let sentences = job.sentences.unwrap();
    let text = sentences.join(" ");
    assert!(text.contains("The first page says hello."), "{sentences:?}");
    assert!(
        text.contains("The second page ends the story."),
        "{sentences:?}"
    );
    let page = user.client.sentences(id, Default::default()).await.unwrap();
    assert_eq!(page.total, sentences.len() as u64);
    assert_eq!(page.sentences.last().unwrap().page, 2);

    worker.stop().await;
}
