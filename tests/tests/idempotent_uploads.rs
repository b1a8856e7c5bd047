//! `Idempotency-Key` on uploads: a retry with the same key (same user, 24 h) gets the first
//! job's 202, creates no job and costs no rate-limit slot; concurrent duplicates end with one
//! job, which both are answered with.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use pdfq_api::Settings;
use pdfq_e2e::{TestApp, TestUser, on_both_backends, on_both_backends_with, pdf};
use reqwest::StatusCode;

on_both_backends_with!(one_upload_per_hour => a_retry_returns_the_first_job_and_costs_no_slot);
on_both_backends!(
    concurrent_duplicates_make_one_job,
    keys_are_per_user_and_must_be_printable_ascii,
);

fn one_upload_per_hour(settings: &mut Settings) {
    settings.upload_rate_limit = "1/hour".parse().unwrap();
}

async fn upload(user: &TestUser, key: Option<&str>) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(pdf::hello()).file_name("a.pdf");
    let mut request = user
        .client
        .request(reqwest::Method::POST, "/api/v1/process-pdf-async")
        .multipart(reqwest::multipart::Form::new().part("file", part));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn job_count(user: &TestUser) -> u64 {
    user.client.jobs(&Default::default()).await.unwrap().total
}

async fn a_retry_returns_the_first_job_and_costs_no_slot(app: TestApp) {
    let user = app.user().await;
    let key = "7c0e8f3e-5b0a-4c1e-9b51-0f2a1d7e6c55";
    let first = upload(&user, Some(key)).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = first.json().await.unwrap();

    app.complete_job(
        first["job_id"].as_str().unwrap().parse().unwrap(),
        &["Done."],
    )
    .await;
    let retry = upload(&user, Some(key)).await;
    assert_eq!(
        retry.status(),
        StatusCode::ACCEPTED,
        "the one slot of the hour is used, yet the retry is answered"
    );
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: serde_json::Value = retry.json().await.unwrap();
    assert_eq!(retry, first, "the same body");
    assert_eq!(job_count(&user).await, 1);

    let other = upload(&user, Some("another-upload")).await;
    assert_eq!(
        other.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a new key is a new upload"
    );
}

async fn concurrent_duplicates_make_one_job(app: TestApp) {
    let user = app.user().await;
    let (a, b) = tokio::join!(upload(&user, Some("same")), upload(&user, Some("same")));
    assert_eq!(
        (a.status(), b.status()),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    let a: serde_json::Value = a.json().await.unwrap();
    let b: serde_json::Value = b.json().await.unwrap();
    assert_eq!(a["job_id"], b["job_id"]);
    assert_eq!(job_count(&user).await, 1);
    // Each upload is counted once: the duplicate's slot was given back.
    let next = upload(&user, None).await;
    assert_eq!(
        next.headers()["ratelimit-remaining"],
        "8",
        "{:?}",
        next.headers()
    );
}

async fn keys_are_per_user_and_must_be_printable_ascii(app: TestApp) {
    let (ann, bob) = (app.user().await, app.user().await);
    let a: serde_json::Value = upload(&ann, Some("k")).await.json().await.unwrap();
    let b: serde_json::Value = upload(&bob, Some("k")).await.json().await.unwrap();
    assert_ne!(a["job_id"], b["job_id"]);
    for bad in ["has space", &"x".repeat(256), "tab\there"] {
        let response = upload(&ann, Some(bad)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad:?}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "{body}"
        );
    }
    let longest = upload(&ann, Some(&"x".repeat(255))).await;
    assert_eq!(longest.status(), StatusCode::ACCEPTED);
    assert_eq!(job_count(&ann).await, 2);
}
