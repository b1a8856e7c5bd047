//! The wire format a frontend depends on, as insta snapshots of the raw JSON: the original
//! design's job shape (pending and completed), the upload and login answers, a sentence page,
//! the health report and an error. Values that change run to run are redacted.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use pdfq_e2e::{Backend, TestApp, pdf};
use serde_json::Value;

/// Replaces ids, times, tokens and latencies with placeholders, keeping the structure.
fn redact(mut value: Value) -> Value {
    fn walk(value: &mut Value, key: Option<&str>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    walk(v, Some(k));
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, key)),
            Value::Null => {}
            other => {
                let placeholder = match key {
                    Some("job_id" | "user_id") => "[id]",
                    Some("created_at" | "started_at" | "finished_at") => "[time]",
                    Some("access_token" | "refresh_token") => "[token]",
                    Some("latency_ms") => "[ms]",
                    _ => return,
                };
                *other = Value::String(placeholder.into());
            }
        }
    }
    walk(&mut value, None);
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_a_frontend_sees() {
    let app = TestApp::spawn(Backend::Distributed).await;
    let http = reqwest::Client::new();
    let body = serde_json::json!({"email": "snap@example.com", "password": "a long password"});

    let registered: Value = http
        .post(app.client.url("/api/v1/auth/register"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    insta::assert_json_snapshot!("register", redact(registered));

    let login: Value = http
        .post(app.client.url("/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    insta::assert_json_snapshot!("login", redact(login));

    let part = reqwest::multipart::Part::bytes(pdf::hello()).file_name("paper.pdf");
    let upload: Value = http
        .post(app.client.url("/api/v1/process-pdf-async"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id: pdfq_domain::JobId = upload["job_id"].as_str().unwrap().parse().unwrap();
    insta::assert_json_snapshot!("upload", redact(upload));

    let get = |path: String| {
        let request = http.get(app.client.url(&path)).bearer_auth(&token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    insta::assert_json_snapshot!(
        "job_pending",
        redact(get(format!("/api/v1/jobs/{id}")).await)
    );
    app.complete_job(id, &["Hello world.", "This is pdfq."])
        .await;
    insta::assert_json_snapshot!(
        "job_completed",
        redact(get(format!("/api/v1/jobs/{id}")).await)
    );
    insta::assert_json_snapshot!(
        "sentences",
        redact(get(format!("/api/v1/jobs/{id}/sentences?per_page=1")).await)
    );
    insta::assert_json_snapshot!("health", redact(get("/api/v1/health".into()).await));
    insta::assert_json_snapshot!(
        "not_found",
        redact(get(format!("/api/v1/jobs/{}", pdfq_domain::JobId::new())).await)
    );
}
