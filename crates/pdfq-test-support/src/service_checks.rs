//! The checks that both ways to run the API (`pdfq-api`, `pdfctl up`) honour the same
//! settings ([`SERVICE_ENV`]): a browser's CORS preflight from the allowed origin, the upload
//! size limit and the failed-login limit, over HTTP against a running instance.

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
    // The limit itself is not refused for size (the file is not a real PDF, so it is 415).
    let at = upload(MAX_UPLOAD_BYTES).await.expect("upload");
    assert_ne!(at.status(), StatusCode::PAYLOAD_TOO_LARGE);
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
