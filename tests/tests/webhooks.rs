//! Webhooks end to end: a real receiver (an axum server on 127.0.0.1, so these apps allow
//! private addresses) verifies every signature with its own HMAC, fails the first attempts and
//! sees the retries, and the delivery log matches what it saw. A receiver that never answers
//! does not slow jobs. Internal URLs are refused at registration and at delivery.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use pdfq_api::Settings;
use pdfq_client::ClientError;
use pdfq_client::types::{CreatedWebhook, DeliveryState, NewWebhookRequest, WebhookDeliveryView};
use pdfq_domain::{JobId, JobStatus};
use pdfq_e2e::worker::RunningWorker;
use pdfq_e2e::{TestApp, TestUser, on_both_backends_with};
use pdfq_test_support::pdf::text_pdf;
use pdfq_worker::WorkerSettings;
use pdfq_worker::webhooks::{Backoff, Deliverer, WebhookSettings};
use sha2::Sha256;

on_both_backends_with!(allowing_private =>
    a_receiver_verifies_signatures_and_sees_the_retries_the_log_shows,
    a_hanging_endpoint_does_not_slow_jobs,
    internal_addresses_are_refused_again_at_delivery,
    redirects_are_not_followed_and_answers_are_read_in_part,
);

fn allowing_private(settings: &mut Settings) {
    settings.webhook_allow_private = true;
}

/// Webhook timings for tests: retries within milliseconds, given up after 1.5 s.
fn quick(settings: &mut WorkerSettings) {
    settings.webhooks = WebhookSettings {
        allow_private: true,
        timeout: Duration::from_secs(2),
        concurrency: 4,
        poll_every: Duration::from_millis(25),
        backoff: Backoff {
            first: Duration::from_millis(20),
            max: Duration::from_millis(100),
            give_up_after: Duration::from_millis(1500),
        },
        ..WebhookSettings::default()
    };
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    delivery: String,
    event: String,
    attempt: u32,
    signature: String,
    body: String,
    answered: u16,
}

/// A webhook receiver on 127.0.0.1: `/ok/{n}` fails each delivery's first `n` attempts with
/// 500, `/fail` always does, `/hang` never answers.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Self::default();
        let app = axum::Router::new()
            .route("/ok/{fails}", axum::routing::post(Self::ok))
            .route("/fail", axum::routing::post(Self::fail))
            .route("/hang", axum::routing::post(Self::hang))
            .route("/redirect", axum::routing::post(Self::redirect))
            .route("/endless", axum::routing::post(Self::endless))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, base)
    }

    fn record(&self, path: &str, headers: &HeaderMap, body: &Bytes, answered: u16) -> Received {
        let header = |name: &str| {
            headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let received = Received {
            path: path.to_owned(),
            delivery: header("pdfq-delivery"),
            event: header("pdfq-event"),
            attempt: header("pdfq-attempt").parse().unwrap_or(0),
            signature: header("pdfq-signature"),
            body: String::from_utf8(body.to_vec()).unwrap(),
            answered,
        };
        assert_eq!(header("content-type"), "application/json");
        self.seen.lock().unwrap().push(received.clone());
        received
    }

    async fn ok(
        State(me): State<Self>,
        Path(fails): Path<u32>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let attempt: u32 = headers["pdfq-attempt"].to_str().unwrap().parse().unwrap();
        let status = if attempt <= fails {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::NO_CONTENT
        };
        me.record(&format!("/ok/{fails}"), &headers, &body, status.as_u16());
        status
    }

    async fn fail(State(me): State<Self>, headers: HeaderMap, body: Bytes) -> StatusCode {
        me.record("/fail", &headers, &body, 500);
        StatusCode::INTERNAL_SERVER_ERROR
    }

    async fn hang(State(me): State<Self>, headers: HeaderMap, body: Bytes) -> StatusCode {
        me.record("/hang", &headers, &body, 0);
        std::future::pending::<()>().await;
        StatusCode::OK
    }

    async fn redirect(
        State(me): State<Self>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, [(&'static str, &'static str); 1]) {
        me.record("/redirect", &headers, &body, 307);
        (StatusCode::TEMPORARY_REDIRECT, [("location", "/ok/0")])
    }

    /// 200 with a body that never ends.
    async fn endless(State(me): State<Self>, headers: HeaderMap, body: Bytes) -> axum::body::Body {
        me.record("/endless", &headers, &body, 200);
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        axum::body::Body::from_stream(futures::stream::repeat_with(move || {
            Ok::<_, std::io::Error>(chunk.clone())
        }))
    }

    fn seen(&self, path: &str) -> Vec<Received> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|r| r.path == path).cloned().collect()
    }
}

/// Checks `Pdfq-Signature: t=...,v1=...` against HMAC-SHA256(secret, "t.body").
fn assert_signed(received: &Received, secret: &str) {
    let (t, v1) = received
        .signature
        .split_once(',')
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("bad signature header {:?}", received.signature));
    let t: i64 = t.parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - t).abs() < 60, "a fresh timestamp: {t} vs {now}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", received.body).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "signature of {received:?}");
}

async fn register(user: &TestUser, url: &str, events: &[&str]) -> CreatedWebhook {
    user.client
        .create_webhook(&NewWebhookRequest {
            url: url.to_owned(),
            events: Some(events.iter().map(|&e| e.to_owned()).collect()),
        })
        .await
        .unwrap()
}

/// The webhook's log once every delivery in it is settled (delivered or failed), at least
/// `count` of them.
async fn settled(user: &TestUser, hook: uuid::Uuid, count: usize) -> Vec<WebhookDeliveryView> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let log = user
            .client
            .webhook_deliveries(hook, None)
            .await
            .unwrap()
            .deliveries;
        if log.len() >= count && log.iter().all(|d| d.status != DeliveryState::Pending) {
            return log;
        }
        assert!(tokio::time::Instant::now() < deadline, "{log:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn upload_and_wait(user: &TestUser, name: &str) -> JobId {
    let pdf = text_pdf(&["A page that says hello."]);
    let id = user.client.upload(name, pdf).await.unwrap().job_id;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = user.client.job_status(id).await.unwrap();
        if job.status.is_terminal() {
            assert_eq!(job.status, JobStatus::Completed, "{job:?}");
            return id;
        }
        assert!(tokio::time::Instant::now() < deadline, "{job:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn a_receiver_verifies_signatures_and_sees_the_retries_the_log_shows(app: TestApp) {
    let (receiver, base) = Receiver::start().await;
    let user = app.user().await;
    let flaky = register(
        &user,
        &format!("{base}/ok/2"),
        &["job.processing", "job.completed"],
    )
    .await;
    let broken = register(&user, &format!("{base}/fail"), &["job.completed"]).await;
    assert!(flaky.secret.starts_with("whsec_") && flaky.secret.len() == 70);
    assert_ne!(flaky.secret, broken.secret);
    let worker =
        RunningWorker::start_with(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"), quick);
    let job = upload_and_wait(&user, "a.pdf").await;

    // Two deliveries, each failed twice with 500 then answered 204.
    let log = settled(&user, flaky.id, 2).await;
    let mut events: Vec<&str> = log.iter().map(|d| d.event.as_str()).collect();
    events.sort_unstable();
    assert_eq!(events, ["job.completed", "job.processing"]);
    let seen = receiver.seen("/ok/2");
    assert_eq!(seen.len(), 6, "three attempts of each: {seen:#?}");
    for delivery in &log {
        assert_eq!(delivery.status, DeliveryState::Delivered, "{delivery:#?}");
        assert!(delivery.next_attempt_at.is_none() && delivery.finished_at.is_some());
        assert_eq!(delivery.job_id, uuid::Uuid::from(job));
        let outcomes: Vec<(u32, Option<u16>)> = delivery
            .attempts
            .iter()
            .map(|a| (a.attempt, a.status_code))
            .collect();
        assert_eq!(outcomes, [(1, Some(500)), (2, Some(500)), (3, Some(204))]);
        assert_eq!(delivery.attempts[0].error.as_deref(), Some("answered 500"));
        assert_eq!(delivery.attempts[2].error, None);

        // What the receiver saw is what the log says, attempt by attempt.
        let mine: Vec<&Received> = seen
            .iter()
            .filter(|r| r.delivery == delivery.id.to_string())
            .collect();
        assert_eq!(
            mine.iter()
                .map(|r| (r.attempt, r.answered))
                .collect::<Vec<_>>(),
            [(1, 500), (2, 500), (3, 204)]
        );
        for received in mine {
            assert_signed(received, &flaky.secret);
            assert_eq!(received.event, delivery.event);
            assert_eq!(
                received.body, delivery.payload,
                "the same body every attempt"
            );
        }
        let body: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap();
        assert_eq!(body["id"], delivery.id.to_string());
        assert_eq!(body["event"], delivery.event);
        assert_eq!(body["data"]["job_id"], job.to_string());
        assert_eq!(
            body["data"]["status"],
            delivery.event.trim_start_matches("job.")
        );
        time::OffsetDateTime::parse(
            body["created_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
    }

    // The endpoint that always fails is retried with backoff, then given up.
    let log = settled(&user, broken.id, 1).await;
    let given_up = &log[0];
    assert_eq!(given_up.status, DeliveryState::Failed, "{given_up:#?}");
    let seen = receiver.seen("/fail");
    assert!(seen.len() >= 3, "retried before giving up: {seen:#?}");
    assert_eq!(given_up.attempts.len(), seen.len(), "every attempt logged");
    let gaps: Vec<i128> = given_up
        .attempts
        .windows(2)
        .map(|w| (w[1].at - w[0].at).whole_milliseconds())
        .collect();
    assert!(
        gaps.iter().all(|&ms| ms >= 10),
        "backoff between attempts: {gaps:?}"
    );
    for received in &seen {
        assert_signed(received, &broken.secret);
        assert_ne!(received.signature, "", "{received:?}");
    }
    worker.stop().await;
}

async fn a_hanging_endpoint_does_not_slow_jobs(app: TestApp) {
    let (receiver, base) = Receiver::start().await;
    let user = app.user().await;
    let hook = register(
        &user,
        &format!("{base}/hang"),
        &pdfq_domain::webhook::EVENTS,
    )
    .await;
    // One delivery at a time, each allowed a minute: the first holds its slot all along.
    let worker = RunningWorker::start_with(
        &app,
        env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"),
        |settings| {
            quick(settings);
            settings.webhooks.concurrency = 1;
            settings.webhooks.timeout = Duration::from_secs(60);
        },
    );
    let started = tokio::time::Instant::now();
    for n in 0..3 {
        upload_and_wait(&user, &format!("{n}.pdf")).await;
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "three jobs took {took:?}");
    let log = user
        .client
        .webhook_deliveries(hook.id, None)
        .await
        .unwrap()
        .deliveries;
    assert_eq!(log.len(), 9, "pending, processing, completed of three jobs");
    assert!(log.iter().all(|d| d.status == DeliveryState::Pending));
    assert_eq!(receiver.seen("/hang").len(), 1, "one delivery in flight");
    worker.stop().await;
}

async fn internal_addresses_are_refused_again_at_delivery(app: TestApp) {
    // Registered while private addresses were allowed (this app allows them); a worker that
    // does not allow them refuses to send, whatever the registration found.
    let (receiver, base) = Receiver::start().await;
    let user = app.user().await;
    let hook = register(&user, &format!("{base}/ok/0"), &["job.pending"]).await;
    let localhost = base.replace("127.0.0.1", "localhost");
    let by_name = register(&user, &format!("{localhost}/ok/0"), &["job.pending"]).await;
    user.client
        .upload("a.pdf", text_pdf(&["Hello."]))
        .await
        .unwrap();
    let mut settings = WebhookSettings::default();
    settings.backoff.first = Duration::from_secs(3600);
    let deliverer = Deliverer::new(app.store.clone(), settings).unwrap();
    assert_eq!(deliverer.deliver_due().await.unwrap(), 2);
    for (id, needle) in [(hook.id, "127.0.0.1"), (by_name.id, "localhost")] {
        let log = user.client.webhook_deliveries(id, None).await.unwrap();
        let attempt = &log.deliveries[0].attempts[0];
        assert_eq!(attempt.status_code, None);
        let error = attempt.error.as_deref().unwrap();
        assert!(
            error.contains(needle) && error.contains("loopback"),
            "{error}"
        );
        assert_eq!(
            log.deliveries[0].status,
            DeliveryState::Pending,
            "retried later"
        );
    }
    assert!(receiver.seen("/ok/0").is_empty());
}

async fn redirects_are_not_followed_and_answers_are_read_in_part(app: TestApp) {
    let (receiver, base) = Receiver::start().await;
    let user = app.user().await;
    let redirect = register(&user, &format!("{base}/redirect"), &["job.pending"]).await;
    let endless = register(&user, &format!("{base}/endless"), &["job.pending"]).await;
    user.client
        .upload("a.pdf", text_pdf(&["Hello."]))
        .await
        .unwrap();
    let settings = WebhookSettings {
        allow_private: true,
        timeout: Duration::from_secs(10),
        ..WebhookSettings::default()
    };
    let deliverer = Deliverer::new(app.store.clone(), settings).unwrap();
    assert_eq!(deliverer.deliver_due().await.unwrap(), 2);

    let log = user
        .client
        .webhook_deliveries(redirect.id, None)
        .await
        .unwrap();
    let attempt = &log.deliveries[0].attempts[0];
    assert_eq!(attempt.status_code, Some(307));
    assert_eq!(attempt.error.as_deref(), Some("answered 307"));
    assert_eq!(
        log.deliveries[0].status,
        DeliveryState::Pending,
        "retried later"
    );
    assert!(
        receiver.seen("/ok/0").is_empty(),
        "the redirect was not followed"
    );

    // Delivered once the status is in; the rest of the body is not waited for.
    let log = user
        .client
        .webhook_deliveries(endless.id, None)
        .await
        .unwrap();
    let attempt = &log.deliveries[0].attempts[0];
    assert_eq!(log.deliveries[0].status, DeliveryState::Delivered);
    assert_eq!(attempt.status_code, Some(200));
    assert!(attempt.duration_ms < 5_000, "{attempt:?}");
}

/// The API without WEBHOOK_ALLOW_PRIVATE (the default): internal URLs are refused, a public
/// one is registered; webhooks are their owner's only; the list never shows secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refuses_internal_urls_and_keeps_webhooks_private() {
    let app = TestApp::spawn(pdfq_e2e::Backend::Embedded).await;
    let user = app.user().await;
    let attempt = |url: &str, events: Option<Vec<String>>| {
        let client = user.client.clone();
        let request = NewWebhookRequest {
            url: url.to_owned(),
            events,
        };
        async move { client.create_webhook(&request).await }
    };
    let code_of = |result: Result<CreatedWebhook, ClientError>| match result {
        Err(ClientError::Api { status, code, .. }) => (status, code),
        other => panic!("{other:?}"),
    };
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://[fd12::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://[::]/hook",
    ] {
        assert_eq!(
            code_of(attempt(url, None).await),
            (422, "webhook_url_forbidden".to_owned()),
            "{url}"
        );
    }
    for url in ["ftp://example.com/", "https://user:pw@example.com/", "hook"] {
        assert_eq!(
            code_of(attempt(url, None).await),
            (422, "invalid_webhook_url".to_owned()),
            "{url}"
        );
    }
    let public = "https://93.184.216.34/hook";
    for events in [vec![], vec!["job.done".to_owned()]] {
        assert_eq!(
            code_of(attempt(public, Some(events)).await),
            (422, "validation_failed".to_owned())
        );
    }

    let created = attempt(public, None).await.unwrap();
    assert_eq!(created.events, pdfq_domain::webhook::EVENTS);
    assert_eq!(created.url, public);
    let raw: serde_json::Value = user
        .client
        .request(reqwest::Method::GET, "/api/v1/webhooks")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["webhooks"][0]["id"], created.id.to_string());
    assert!(
        !raw.to_string().contains(&created.secret) && raw["webhooks"][0].get("secret").is_none(),
        "{raw}"
    );

    // Another user sees nothing of it.
    let other = app.user().await;
    assert!(other.client.webhooks().await.unwrap().webhooks.is_empty());
    let not_found = |result: Result<(), ClientError>| match result {
        Err(ClientError::Api { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (404, "not_found"));
        }
        other => panic!("{other:?}"),
    };
    not_found(
        other
            .client
            .webhook_deliveries(created.id, None)
            .await
            .map(drop),
    );
    not_found(other.client.delete_webhook(created.id).await);
    let bad_limit = user.client.webhook_deliveries(created.id, Some(0)).await;
    assert!(
        matches!(&bad_limit, Err(ClientError::Api { code, .. }) if code == "invalid_query"),
        "{bad_limit:?}"
    );

    user.client.delete_webhook(created.id).await.unwrap();
    not_found(user.client.delete_webhook(created.id).await);
    assert!(user.client.webhooks().await.unwrap().webhooks.is_empty());
}
