//! The checks that both ways to run the API (`pdfq-api`, `pdfctl up`) honour the same
//! settings ([`SERVICE_ENV`]): a browser's CORS preflight from the allowed origin, the upload
//! size limit, a live event stream opened with a ticket from that origin, and the
//! failed-login limit and the per-user storage quota, over HTTP against a running instance.

use reqwest::{Method, StatusCode};

/// The origin of a frontend's dev server, allowed by [`SERVICE_ENV`].
pub const FRONTEND_ORIGIN: &str = "http://localhost:5173";
/// Largest upload [`SERVICE_ENV`] allows.
pub const MAX_UPLOAD_BYTES: usize = 4096;
/// Failed logins [`SERVICE_ENV`] allows per account and address.
pub const LOGIN_FAILURES: usize = 3;

/// The environment both ways to run are started with.
pub const SERVICE_ENV: &[(&str, &str)] = &[
    (
        "ALLOWED_ORIGINS",
        "https://other.example.com,http://localhost:5173",
    ),
    ("MAX_UPLOAD_BYTES", "4096"),
    ("LOGIN_RATE_LIMIT", "3/hour"),
    ("USER_STORAGE_QUOTA", "3KB"),
];

/// [`SERVICE_ENV`] as command-line flags (`--allowed-origins=...`), for code that builds the
/// configuration by parsing arguments rather than the process environment.
#[must_use]
pub fn service_flags() -> Vec<String> {
    SERVICE_ENV
        .iter()
        .map(|(name, value)| format!("--{}={value}", name.to_lowercase().replace('_', "-")))
        .collect()
}

/// Runs every check against the API at `base` (`http://host:port`) with an existing account
/// (which ends up locked out of logins from this address for the hour).
///
/// # Panics
/// When a check fails, naming it.
pub async fn the_service_settings_apply(base: &str, email: &str, password: &str) {
    let http = reqwest::Client::new();
    cors_preflight_allows_the_frontend(&http, base).await;
    let token = login(&http, base, email, password).await;
    assert_eq!(token.0, StatusCode::OK, "the account logs in");
    uploads_past_the_limit_are_refused(&http, base, &token.1).await;
    files_past_the_storage_quota_are_refused(&http, base, &token.1).await;
    a_ticket_opens_the_event_stream_from_the_frontend(&http, base, &token.1).await;
    failed_logins_past_the_limit_are_refused(&http, base, email).await;
}

async fn cors_preflight_allows_the_frontend(http: &reqwest::Client, base: &str) {
    let preflight = |origin: &'static str| {
        http.request(Method::OPTIONS, format!("{base}/api/v1/process-pdf-async"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,idempotency-key",
            )
            .send()
    };
    let allowed = preflight(FRONTEND_ORIGIN).await.expect("preflight");
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or_default()),
        Some(FRONTEND_ORIGIN),
        "ALLOWED_ORIGINS is honoured: {:?}",
        allowed.headers()
    );
    let headers = allowed
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("idempotency-key"),
        "{headers}"
    );
    let other = preflight("https://evil.example.com")
        .await
        .expect("preflight");
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "only the listed origins"
    );
}

async fn uploads_past_the_limit_are_refused(http: &reqwest::Client, base: &str, token: &str) {
    let upload = |len: usize| {
        let mut bytes = b"%PDF-1.4\n".to_vec();
        bytes.resize(len, b' ');
        let part = reqwest::multipart::Part::bytes(bytes).file_name("big.pdf");
        http.post(format!("{base}/api/v1/process-pdf-async"))
            .bearer_auth(token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };
    let over = upload(MAX_UPLOAD_BYTES + 1).await.expect("upload");
    assert_eq!(
        over.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "MAX_UPLOAD_BYTES is honoured"
    );
    let body = over.text().await.unwrap_or_default();
    assert!(body.contains("payload_too_large"), "{body}");
    // The limit itself is not refused as too large (USER_STORAGE_QUOTA may refuse it).
    let at = upload(MAX_UPLOAD_BYTES).await.expect("upload");
    let body = at.text().await.unwrap_or_default();
    assert!(!body.contains("payload_too_large"), "{body}");
}

async fn files_past_the_storage_quota_are_refused(http: &reqwest::Client, base: &str, token: &str) {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    // Over the 3 KB quota, under MAX_UPLOAD_BYTES.
    bytes.resize(3500, b' ');
    let part = reqwest::multipart::Part::bytes(bytes).file_name("big.pdf");
    let refused = http
        .post(format!("{base}/api/v1/process-pdf-async"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(
        refused.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "USER_STORAGE_QUOTA is honoured"
    );
    let body = refused.text().await.unwrap_or_default();
    assert!(body.contains("storage_quota_exceeded"), "{body}");
}

async fn a_ticket_opens_the_event_stream_from_the_frontend(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) {
    let part = reqwest::multipart::Part::bytes(crate::pdf::text_pdf(&["Live."])).file_name("a.pdf");
    let upload = http
        .post(format!("{base}/api/v1/process-pdf-async"))
        .bearer_auth(token)
        .header("origin", FRONTEND_ORIGIN)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), StatusCode::ACCEPTED);
    let job: serde_json::Value = upload.json().await.unwrap_or_default();
    let job = job["job_id"].as_str().unwrap_or_default().to_owned();
    let issued = http
        .post(format!("{base}/api/v1/jobs/{job}/events/ticket"))
        .bearer_auth(token)
        .header("origin", FRONTEND_ORIGIN)
        .send()
        .await
        .expect("ticket");
    assert_eq!(issued.status(), StatusCode::CREATED);
    assert_eq!(
        issued
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(FRONTEND_ORIGIN.as_bytes())
    );
    let ticket: serde_json::Value = issued.json().await.unwrap_or_default();
    let url = format!(
        "{base}/api/v1/jobs/{job}/events?ticket={}",
        ticket["ticket"].as_str().unwrap_or_default()
    );
    let mut stream = http
        .get(&url)
        .header("origin", FRONTEND_ORIGIN)
        .send()
        .await
        .expect("stream");
    assert_eq!(
        stream.status(),
        StatusCode::OK,
        "the ticket opens the stream"
    );
    assert_eq!(
        stream
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(FRONTEND_ORIGIN.as_bytes())
    );
    let mut first = String::new();
    while !first.contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("a first event within 10 s")
            .expect("the stream");
        let Some(chunk) = chunk else { break };
        first.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        first.lines().any(|l| l.starts_with("id:")),
        "events carry an id: {first}"
    );
    assert!(first.contains(&job), "{first}");
    drop(stream);
    let again = http.get(&url).send().await.expect("stream");
    assert_eq!(
        again.status(),
        StatusCode::UNAUTHORIZED,
        "the ticket is spent"
    );
}

async fn failed_logins_past_the_limit_are_refused(http: &reqwest::Client, base: &str, email: &str) {
    for attempt in 1..=LOGIN_FAILURES {
        let (status, _) = login(http, base, email, "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {attempt}");
    }
    let (status, _) = login(http, base, email, "not the password").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "LOGIN_RATE_LIMIT is honoured"
    );
}

/// The status of a login and its access token (empty when refused).
async fn login(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> (StatusCode, String) {
    let response = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("login");
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    (status, token)
}
