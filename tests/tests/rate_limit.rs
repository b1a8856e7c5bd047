//! The upload rate limit is exact under concurrency: of 50 simultaneous uploads by one user
//! with the design's 10 per hour, exactly 10 are accepted; the others are 429 with Retry-After
//! and the RateLimit headers. Another user has a quota of their own.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use pdfq_e2e::{TestApp, on_both_backends_with, pdf};

on_both_backends_with!(many_slots => fifty_concurrent_uploads_ten_accepted);

/// Enough upload slots for all 50 at once, so only the rate limit refuses.
fn many_slots(settings: &mut pdfq_api::Settings) {
    settings.max_concurrent_uploads = 64;
    settings.max_concurrent_uploads_per_user = 64;
}

async fn fifty_concurrent_uploads_ten_accepted(app: TestApp) {
    assert_eq!(app.settings.upload_rate_limit.max, 10);
    let user = app.user().await;
    let bytes = pdf::hello();
    let uploads = (0..50).map(|i| {
        let client = user.client.clone();
        let bytes = bytes.clone();
        tokio::spawn(async move { client.upload(&format!("f{i}.pdf"), bytes).await })
    });
    let mut accepted = 0;
    let mut limited = 0;
    for outcome in futures::future::join_all(uploads).await {
        match outcome.unwrap() {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert_eq!(
                    (e.status(), e.code()),
                    (Some(429), Some("rate_limited")),
                    "{e}"
                );
                let pdfq_client::ClientError::Api { retry_after, .. } = e else {
                    unreachable!()
                };
                let secs = retry_after.expect("Retry-After");
                assert!((1..=3600).contains(&secs), "{secs}");
                limited += 1;
            }
        }
    }
    assert_eq!((accepted, limited), (10, 40));
    let stored = app
        .store
        .list_jobs(&pdfq_store::JobFilter::owner(user.id, 100))
        .await
        .unwrap();
    assert_eq!(stored.total, 10, "a refused upload stores nothing");

    // The headers of a refusal.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes.clone()).file_name("x.pdf"),
    );
    let response = reqwest::Client::new()
        .post(app.client.url("/api/v1/process-pdf-async"))
        .bearer_auth(&user.tokens.access_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("ratelimit-limit").as_deref(), Some("10"));
    assert_eq!(header("ratelimit-remaining").as_deref(), Some("0"));
    assert!(header("ratelimit-reset").is_some());
    assert!(header("retry-after").is_some());

    // Someone else is not limited by this user's uploads, and sees their quota counting down.
    let other = app.user().await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name("y.pdf"),
    );
    let response = reqwest::Client::new()
        .post(app.client.url("/api/v1/process-pdf-async"))
        .bearer_auth(&other.tokens.access_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(
        response
            .headers()
            .get("ratelimit-remaining")
            .unwrap()
            .to_str()
            .unwrap(),
        "9"
    );
}
