//! Results that stay cheap to read: compressed bodies (gzip, br; never an event stream), ETags
//! with 304 Not Modified for pollers, and `?include=none` for the status without sentences.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::io::Read;
use std::time::Duration;

use pdfq_client::types::JobView;
use pdfq_domain::{CurrentStep, JobId, JobStatus, Progress, WorkerId};
use pdfq_e2e::{TestApp, TestUser, on_both_backends, pdf};
use pdfq_store::{ChunkResult, Sentence};
use reqwest::{Method, StatusCode, header};

on_both_backends!(
    bodies_are_compressed_as_asked,
    pollers_get_304_until_the_job_changes,
    include_none_leaves_the_sentences_out,
);

/// Enough distinct sentences that the body is kilobytes, as a real result's would be.
fn sentences(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("Sentence number {i} of a long document, with some words in it."))
        .collect()
}

async fn completed_job(app: &TestApp, user: &TestUser, count: usize) -> (JobId, Vec<String>) {
    let id = user
        .client
        .upload("big.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let texts = sentences(count);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    app.complete_job(id, &refs).await;
    (id, texts)
}

/// The raw answer to GET `path` with `headers`: status, headers and undecoded body.
async fn get_raw(
    user: &TestUser,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let mut request = user.client.request(Method::GET, path);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    (status, headers, body)
}

fn encoding(headers: &header::HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap())
}

async fn bodies_are_compressed_as_asked(app: TestApp) {
    let user = app.user().await;
    let (id, texts) = completed_job(&app, &user, 2_000).await;
    let path = format!("/api/v1/jobs/{id}");

    let (status, headers, plain) = get_raw(&user, &path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding(&headers), None, "no Accept-Encoding, no coding");
    let expected: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    let view: JobView = serde_json::from_value(expected.clone()).unwrap();
    assert_eq!(view.sentences.as_deref(), Some(&texts[..]));

    let (status, headers, gzipped) =
        get_raw(&user, &path, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding(&headers), Some("gzip"));
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&decoded).unwrap(),
        expected
    );

    let (status, headers, brotli) = get_raw(&user, &path, &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding(&headers), Some("br"));
    let mut decoded = Vec::new();
    brotli_decompressor::Decompressor::new(&brotli[..], 4096)
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&decoded).unwrap(),
        expected
    );
    eprintln!(
        "GET {path} with {} sentences: identity {} B, gzip {} B, br {} B",
        texts.len(),
        plain.len(),
        gzipped.len(),
        brotli.len()
    );
    // Repetitive text: both codings shrink it several times.
    assert!(
        gzipped.len() * 4 < plain.len(),
        "{} vs {}",
        gzipped.len(),
        plain.len()
    );
    assert!(
        brotli.len() * 4 < plain.len(),
        "{} vs {}",
        brotli.len(),
        plain.len()
    );

    // The sentence pages are compressed too.
    let (_, headers, _) = get_raw(
        &user,
        &format!("{path}/sentences?per_page=1000"),
        &[(header::ACCEPT_ENCODING, "gzip, br")],
    )
    .await;
    assert!(encoding(&headers).is_some(), "{headers:?}");

    // An event stream is never compressed: a coder would hold its events back.
    let events = tokio::time::timeout(
        Duration::from_secs(10),
        get_raw(
            &user,
            &format!("{path}/events"),
            &[(header::ACCEPT_ENCODING, "gzip, br")],
        ),
    )
    .await
    .expect("the stream of a finished job ends");
    assert_eq!(
        events.1[header::CONTENT_TYPE].to_str().unwrap(),
        "text/event-stream"
    );
    assert_eq!(encoding(&events.1), None);
    assert!(
        String::from_utf8(events.2).unwrap().contains("event: end"),
        "a readable stream"
    );
}

fn etag(headers: &header::HeaderMap) -> String {
    let tag = headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"'),
        "a strong tag: {tag}"
    );
    tag
}

async fn pollers_get_304_until_the_job_changes(app: TestApp) {
    let user = app.user().await;
    let id = user
        .client
        .upload("paper.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let path = format!("/api/v1/jobs/{id}");

    let (status, headers, _) = get_raw(&user, &path, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let pending = etag(&headers);
    let (status, headers, body) = get_raw(&user, &path, &[(header::IF_NONE_MATCH, &pending)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(etag(&headers), pending);
    // Another tag in the list, or the weak form of ours, still matches.
    let listed = format!("\"stale\", W/{pending}");
    let (status, _, _) = get_raw(&user, &path, &[(header::IF_NONE_MATCH, &listed)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // The status alone is another representation, with its own tag.
    let (_, headers, _) = get_raw(&user, &format!("{path}?include=none"), &[]).await;
    assert_ne!(etag(&headers), pending);

    // A worker takes the job and reports progress: the old tag no longer matches.
    let worker = WorkerId::generate("e2e", std::process::id());
    let claimed = app.store.claim_job(id, &worker).await.unwrap().unwrap();
    let (status, headers, _) = get_raw(&user, &path, &[(header::IF_NONE_MATCH, &pending)]).await;
    assert_eq!(status, StatusCode::OK, "claimed: processing now");
    let started = etag(&headers);
    assert_ne!(started, pending);
    let mut seen = vec![started];
    for percent in [10_u8, 20] {
        let step = CurrentStep::chunk(usize::from(percent / 10), 10);
        let commit = app
            .store
            .report_progress(
                id,
                claimed.attempt,
                Progress::new(u32::from(percent)).unwrap(),
                &step,
            )
            .await
            .unwrap();
        assert!(commit.is_ok(), "{commit:?}");
        let last = seen.last().unwrap().clone();
        let (status, headers, body) =
            get_raw(&user, &path, &[(header::IF_NONE_MATCH, &last)]).await;
        assert_eq!(status, StatusCode::OK, "progress {percent}% is news");
        let view: JobView = serde_json::from_slice(&body).unwrap();
        assert_eq!(view.progress, percent);
        let tag = etag(&headers);
        assert!(!seen.contains(&tag), "a new tag for {percent}%");
        let (status, _, _) = get_raw(&user, &path, &[(header::IF_NONE_MATCH, &tag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "and unchanged again");
        seen.push(tag);
    }

    // The sentence pages have tags of their own, per page.
    let pages = format!("{path}/sentences");
    let (status, headers, _) = get_raw(&user, &pages, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let first_page = etag(&headers);
    let (status, _, _) = get_raw(&user, &pages, &[(header::IF_NONE_MATCH, &first_page)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = get_raw(
        &user,
        &format!("{pages}?page=2"),
        &[(header::IF_NONE_MATCH, &first_page)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "another page, another tag");

    // Completion changes both, and the completed answer (from the cache on the second read)
    // keeps one tag.
    let chunk = ChunkResult {
        index: 0,
        first_page: 1,
        last_page: 1,
        sentences: sentences(3)
            .into_iter()
            .map(|text| Sentence {
                text,
                page: 1,
                ..Sentence::default()
            })
            .collect(),
    };
    let saved = app
        .store
        .save_chunk(id, claimed.attempt, &chunk)
        .await
        .unwrap();
    assert!(saved.is_ok(), "{saved:?}");
    let done = app
        .store
        .complete_job(id, claimed.attempt, 1, 1)
        .await
        .unwrap();
    assert!(done.is_ok(), "{done:?}");
    let (status, headers, body) = get_raw(
        &user,
        &path,
        &[(header::IF_NONE_MATCH, seen.last().unwrap())],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let view: JobView = serde_json::from_slice(&body).unwrap();
    assert_eq!(view.status, JobStatus::Completed);
    let completed = etag(&headers);
    assert!(!seen.contains(&completed));
    assert!(app.broker.cached_result(id).await.unwrap().is_some());
    let (status, headers, body) =
        get_raw(&user, &path, &[(header::IF_NONE_MATCH, &completed)]).await;
    assert_eq!(
        status,
        StatusCode::NOT_MODIFIED,
        "served from the cache, still 304"
    );
    assert!(body.is_empty());
    assert_eq!(etag(&headers), completed);
    let (status, _, _) = get_raw(&user, &pages, &[(header::IF_NONE_MATCH, &first_page)]).await;
    assert_eq!(status, StatusCode::OK, "the page now has the sentences");
}

async fn include_none_leaves_the_sentences_out(app: TestApp) {
    let user = app.user().await;
    let (id, texts) = completed_job(&app, &user, 500).await;

    let full = user.client.job(id).await.unwrap();
    assert_eq!(full.sentences.as_deref(), Some(&texts[..]));

    let status = user.client.job_status(id).await.unwrap();
    assert_eq!(status.status, JobStatus::Completed);
    assert_eq!(status.sentences, None);
    assert_eq!(status.sentence_count, Some(500));
    assert_eq!(
        JobView {
            sentences: None,
            ..full.clone()
        },
        status
    );
    // The raw body has no `sentences` key at all, and is small.
    let (_, _, body) = get_raw(&user, &format!("/api/v1/jobs/{id}?include=none"), &[]).await;
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(value.get("sentences").is_none(), "{value}");
    assert!(body.len() < 1_000, "{} bytes", body.len());

    // `include=sentences` is the default made explicit; anything else is refused.
    let (_, _, body) = get_raw(&user, &format!("/api/v1/jobs/{id}?include=sentences"), &[]).await;
    let explicit: JobView = serde_json::from_slice(&body).unwrap();
    assert_eq!(explicit, full);
    let (code, _, body) = get_raw(&user, &format!("/api/v1/jobs/{id}?include=all"), &[]).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("invalid_query"));

    // Another user's job is 404 in this shape too.
    let other = app.user().await;
    let err = other.client.job_status(id).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
}
