//! The whole flow with the real worker in the same process (as `pdfctl up` runs it): a PDF
//! made in code is uploaded, extracted by the worker's isolated child, followed over SSE, and
//! read back as sentences.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::time::Duration;

use futures::StreamExt;
use pdfq_client::types::{JobView, JobWarning};
use pdfq_domain::{JobId, JobStatus};
use pdfq_e2e::worker::RunningWorker;
use pdfq_e2e::{TestApp, on_both_backends, pdf};
use pdfq_test_support::pdf::{Placed, placed_text_pdf_in, text_pdf, text_pdf_with_corrupt_page};

on_both_backends!(
    a_real_worker_completes_an_upload,
    damaged_files_are_told_apart_from_files_without_text,
    a_thousand_page_job_moves_its_bar_over_sse,
    the_sentences_endpoint_tells_where_each_sentence_is_drawn,
);

/// Waits until the job has ended (polling its status alone) and returns its full view.
async fn ended(client: &pdfq_client::Client, id: JobId) -> JobView {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = client.job_status(id).await.unwrap();
        if job.status.is_terminal() {
            return client.job(id).await.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "{job:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn damaged_files_are_told_apart_from_files_without_text(app: TestApp) {
    let worker = RunningWorker::start(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"));
    let user = app.user().await;

    // One corrupt page among good ones: completed, with a warning naming that page.
    let pages = [
        "The first page reads well.",
        "The second page is lost.",
        "The third page reads well too.",
    ];
    let corrupt = text_pdf_with_corrupt_page(&pages, 1);
    let id = user
        .client
        .upload("corrupt.pdf", corrupt)
        .await
        .unwrap()
        .job_id;
    let job = ended(&user.client, id).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    assert_eq!(
        job.warnings,
        vec![JobWarning {
            page: Some(2),
            message: "its content stream is truncated or corrupt".into(),
        }]
    );
    let text = job.sentences.unwrap().join(" ");
    assert!(
        text.contains("first page") && text.contains("third page"),
        "{text}"
    );
    // The status alone carries them too.
    assert_eq!(
        user.client.job_status(id).await.unwrap().warnings,
        job.warnings
    );

    // A file cut short before any page's text: damaged, with what to do, not "OCR is needed".
    let whole = text_pdf(&["Only this page has text."]);
    let cut = whole[..whole.len() * 60 / 100].to_vec();
    let id = user.client.upload("cut.pdf", cut).await.unwrap().job_id;
    let job = ended(&user.client, id).await;
    assert_eq!(job.status, JobStatus::Failed, "{job:?}");
    let error = job.error.unwrap();
    assert_eq!(error.code, "damaged", "{error:?}");
    assert!(error.message.contains("upload the complete"), "{error:?}");

    // A clean file has no warnings at all, not even an empty list in the JSON.
    let id = user
        .client
        .upload("clean.pdf", text_pdf(&pages))
        .await
        .unwrap()
        .job_id;
    let job = ended(&user.client, id).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    assert!(job.warnings.is_empty());
    let raw = user
        .client
        .request(reqwest::Method::GET, &format!("/api/v1/jobs/{id}"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(raw.get("warnings").is_none(), "{raw}");

    worker.stop().await;
}

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

/// Issue 15 item 7: each sentence of the sentences endpoint carries its pages, their sizes
/// and its lines' boxes (top-left origin, y down), stored with the result and read back page by
/// page. Courier at 10 points advances 6 points a glyph, so each sentence's extent is known.
async fn the_sentences_endpoint_tells_where_each_sentence_is_drawn(app: TestApp) {
    let worker = RunningWorker::start(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"));
    let user = app.user().await;
    let line = |y: f32, text: &str| Placed {
        x: 100.0,
        y,
        size: 10.0,
        text: text.to_owned(),
    };
    let pages = [
        vec![
            line(700.0, "One short sentence. Another that runs"),
            line(688.0, "over the line."),
        ],
        vec![line(500.0, "The second page is turned.")],
    ];
    // The second page is shown turned a quarter clockwise (/Rotate 90 on every page here, so
    // the first is too: its glyph at (x, y) is shown at (y, x)).
    let bytes = placed_text_pdf_in(&pages, "Courier", 90);
    let id = user.client.upload("boxes.pdf", bytes).await.unwrap().job_id;
    let job = ended(&user.client, id).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    let page = user.client.sentences(id, Default::default()).await.unwrap();
    let found: Vec<(&str, &[u32])> = page
        .sentences
        .iter()
        .map(|s| (s.text.as_str(), s.pages.as_slice()))
        .collect();
    assert_eq!(
        found,
        [
            ("One short sentence.", &[1][..]),
            ("Another that runs over the line.", &[1][..]),
            ("The second page is turned.", &[2][..]),
        ]
    );
    let close = |a: f32, b: f32| (a - b).abs() < 0.05;
    for s in &page.sentences {
        assert_eq!(s.page_sizes.len(), 1);
        assert_eq!(
            (s.page_sizes[0].width, s.page_sizes[0].height),
            (792.0, 612.0)
        );
    }
    // "One short sentence.": 19 glyphs from x = 100 on the baseline y = 700, shown running
    // down from (700, 100) to (700, 214).
    let first = &page.sentences[0].boxes;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        close(first[0].y0, 100.0) && close(first[0].y1, 100.0 + 19.0 * 6.0),
        "{first:?}"
    );
    assert!(first[0].x0 < 700.0 && first[0].x1 > 700.0, "{first:?}");
    // The second runs from glyph 20 of the first line over the whole second line.
    let second = &page.sentences[1].boxes;
    assert_eq!(second.len(), 2, "{second:?}");
    assert!(
        close(second[0].y0, 100.0 + 20.0 * 6.0) && close(second[0].y1, 100.0 + 37.0 * 6.0),
        "{second:?}"
    );
    assert!(
        close(second[1].y0, 100.0) && close(second[1].y1, 100.0 + 14.0 * 6.0),
        "{second:?}"
    );
    assert!(second[1].x0 < 688.0 && second[1].x1 > 688.0, "{second:?}");
    assert_eq!(page.sentences[2].boxes[0].page, 2);

    worker.stop().await;
}

/// Issue 18: the bar follows the pages, not the job row's writes (at most every 250 ms): a
/// 1,000-page job extracted in a second or two shows at least 20 distinct values, rising.
async fn a_thousand_page_job_moves_its_bar_over_sse(app: TestApp) {
    let user = app.user().await;
    // Pages as books have them: a couple of thousand characters each.
    let texts: Vec<String> = (1..=1000)
        .map(|n| {
            (1..=20)
                .map(|k| format!("Sentence {k} of page {n} says a little more than nothing at all, for realism."))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let pages: Vec<&str> = texts.iter().map(String::as_str).collect();
    let bytes = text_pdf(&pages);
    let id = user
        .client
        .upload("thousand.pdf", bytes)
        .await
        .unwrap()
        .job_id;
    let mut events = Box::pin(user.client.events(id).await.unwrap());
    // The job runs for a tenth of a second or so here: the worker starts once the stream is
    // open and has had a moment to subscribe to the announcements (as a real frontend's has).
    let queued = events.next().await.unwrap().unwrap();
    assert_eq!(queued.job.unwrap().status, JobStatus::Pending);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let worker = RunningWorker::start(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"));
    let mut told = Vec::new();
    let mut timeline = Vec::new();
    let start = tokio::time::Instant::now();
    let mut end = None;
    while let Some(update) = tokio::time::timeout(Duration::from_secs(120), events.next())
        .await
        .expect("the job ends within two minutes")
    {
        let update = update.unwrap();
        let job = update.job.clone().unwrap();
        if update.event == "end" {
            end = Some(job);
            break;
        }
        told.push(job.progress);
        timeline.push((start.elapsed().as_millis(), job.progress, job.current_step));
    }
    assert_eq!(end.unwrap().status, JobStatus::Completed);
    let mut distinct = told.clone();
    distinct.dedup();
    assert!(
        distinct.len() >= 20,
        "{} distinct: {timeline:?}",
        distinct.len()
    );
    assert!(
        told.windows(2).all(|w| w[0] <= w[1]),
        "never back: {told:?}"
    );

    worker.stop().await;
}
