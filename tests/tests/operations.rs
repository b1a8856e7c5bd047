//! Operations: Prometheus metrics, request ids, CORS, the request timeout's shape, and graceful
//! shutdown (open event streams end, the server stops).

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::time::Duration;

use futures::StreamExt;
use pdfq_e2e::{Backend, TestApp, on_both_backends, on_both_backends_with, pdf};

on_both_backends!(metrics_cover_the_monitoring_points);
on_both_backends_with!(with_a_metrics_token => metrics_need_their_token_and_count_jobs_seldom);

const METRICS_TOKEN: &str = "metrics-token-0123456789";

fn with_a_metrics_token(settings: &mut pdfq_api::Settings) {
    settings.metrics_token = Some(pdfq_domain::secret::Secret::new(METRICS_TOKEN.to_owned()));
}

async fn metrics_need_their_token_and_count_jobs_seldom(app: TestApp) {
    let http = reqwest::Client::new();
    let scrape = |token: Option<&str>| {
        let mut request = http.get(app.client.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(scrape(None).await.unwrap().status(), 401);
    assert_eq!(
        scrape(Some("metrics-token-wrong")).await.unwrap().status(),
        401
    );
    let first = scrape(Some(METRICS_TOKEN)).await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(
        first
            .text()
            .await
            .unwrap()
            .contains(r#"pdfq_jobs{status="pending"} 0"#)
    );
    // A job arrives; the next scrapes within metrics_cache reuse the last count instead of
    // running the count over every job again.
    let user = app.user().await;
    user.client.upload("a.pdf", pdf::hello()).await.unwrap();
    for _ in 0..3 {
        let text = scrape(Some(METRICS_TOKEN))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains(r#"pdfq_jobs{status="pending"} 0"#), "{text}");
        assert!(
            text.contains(r#"route="/api/v1/process-pdf-async",status="2xx"} 1"#),
            "request counters are live"
        );
    }
}

async fn metrics_cover_the_monitoring_points(app: TestApp) {
    let user = app.user().await;
    user.client.upload("a.pdf", pdf::hello()).await.unwrap();
    app.client.health().await.unwrap();
    let _ = reqwest::get(app.client.url("/nope")).await.unwrap();

    let text = app.client.metrics().await.unwrap();
    for needle in [
        "# TYPE pdfq_http_requests_total counter",
        r#"pdfq_http_requests_total{method="GET",route="/api/v1/health",status="2xx"} 1"#,
        r#"pdfq_http_requests_total{method="POST",route="/api/v1/process-pdf-async",status="2xx"} 1"#,
        r#"pdfq_http_requests_total{method="GET",route="unmatched",status="4xx"} 1"#,
        "# TYPE pdfq_http_request_duration_seconds histogram",
        r#"pdfq_http_request_duration_seconds_bucket{method="GET",route="/api/v1/health",le="+Inf"} 1"#,
        r#"pdfq_http_request_duration_seconds_count{method="GET",route="/api/v1/health"} 1"#,
        r#"pdfq_http_responses_total{status="4xx"} 1"#,
        r#"pdfq_db_pool_connections{state="max"}"#,
        r#"pdfq_queue_jobs{state="waiting"} 1"#,
        r#"pdfq_jobs{status="pending"} 1"#,
        "pdfq_scrape_errors 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    // Every sample line is `name{labels} value` with a number.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_made_or_kept() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let http = reqwest::Client::new();
    let r = http
        .get(app.client.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 36, "{made}");
    let r = http
        .get(app.client.url("/api/v1/nope"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_configured_origins_only() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| {
        s.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, app.client.url("/api/v1/jobs"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed_headers = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let simple = http
        .get(app.client.url("/api/v1/health"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("retry-after") && exposed.contains("x-request-id"),
        "{exposed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_is_a_503_in_the_error_shape() {
    // A health check that cannot finish in time (its own limit is longer than the request's):
    // the "database" accepts connections and never answers, so its ping hangs.
    let silent = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let mut config =
        pdfq_store::DatabaseConfig::for_url(&format!("postgres://root@127.0.0.1:{silent_port}/x"));
    config.db_pool_timeout = Duration::from_secs(30);
    let store = pdfq_store::Store::postgres(&config).unwrap();
    let mut settings = pdfq_e2e::test_settings();
    settings.request_timeout = Duration::from_millis(300);
    settings.health_timeout = Duration::from_secs(10);
    let app = TestApp::spawn_on(store, pdfq_queue::Broker::memory(), settings).await;
    let r = reqwest::get(app.client.url("/api/v1/health"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "timeout");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_event_streams_and_stops_the_server() {
    let mut app = TestApp::spawn(Backend::Embedded).await;
    let user = app.user().await;
    let id = user
        .client
        .upload("a.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let mut events = Box::pin(user.client.events(id).await.unwrap());
    assert_eq!(events.next().await.unwrap().unwrap().event, "progress");

    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("graceful shutdown does not wait for the open stream")
        .unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        let mut n = 0;
        while events.next().await.is_some() {
            n += 1;
        }
        n
    })
    .await
    .expect("the stream ends");
    assert_eq!(rest, 0);
    assert!(
        user.client.jobs(&Default::default()).await.is_err(),
        "no longer listening"
    );
}

/// Shutdown lets a request in flight finish: an upload still streaming in when the signal
/// comes is read to the end, stored and answered 202.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_requests_finish() {
    let mut app = TestApp::spawn(Backend::Embedded).await;
    let user = app.user().await;
    let mut bytes = pdf::hello();
    bytes.resize(64 * 1024, b' ');
    let chunks: Vec<Vec<u8>> = bytes.chunks(8 * 1024).map(<[u8]>::to_vec).collect();
    // Eight chunks, 150 ms apart: the upload takes over a second.
    let stream = futures::stream::unfold(chunks.into_iter(), |mut rest| async move {
        let chunk = rest.next()?;
        tokio::time::sleep(Duration::from_millis(150)).await;
        Some((Ok::<_, std::io::Error>(chunk), rest))
    });
    let part =
        reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream)).file_name("slow.pdf");
    let url = app.client.url("/api/v1/process-pdf-async");
    let token = user.tokens.access_token.clone();
    let upload = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let store = app.store.clone();
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .unwrap()
        .unwrap();
    let response = upload.await.unwrap().unwrap();
    assert_eq!(response.status(), 202);
    let body: serde_json::Value = response.json().await.unwrap();
    let id: pdfq_domain::JobId = body["job_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(store.job_file(id).await.unwrap().unwrap().len(), 64 * 1024);
}
