//! Event-stream tickets and `Last-Event-ID`, over HTTP on both backends: a ticket opens one
//! job's stream once, for its session; each event has an id, and a reconnect with it resumes
//! (with the resume ticket in the id when the stream was opened by ticket). The request log
//! never shows a ticket.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::StreamExt as _;
use pdfq_domain::JobId;
use pdfq_e2e::{TestApp, TestUser, on_both_backends, pdf};
use reqwest::StatusCode;

on_both_backends!(
    a_ticket_opens_its_jobs_stream_once,
    a_ticket_is_for_one_job_its_owner_and_a_live_session,
    last_event_id_resumes_and_an_ended_job_answers_end_at_once,
);

/// One SSE event: its name, id and data.
#[derive(Debug)]
struct SseEvent {
    name: String,
    id: String,
    data: String,
}

/// Reads events from a stream response until `count` arrived, `end` came or the stream ends.
async fn read_events(response: reqwest::Response, count: usize) -> Vec<SseEvent> {
    let mut body = Box::pin(response.bytes_stream());
    let mut buffer = String::new();
    let mut events = Vec::new();
    while events.len() < count {
        let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(10), body.next()).await
        else {
            break;
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = SseEvent {
                name: String::new(),
                id: String::new(),
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event.name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("id:") {
                    event.id = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    event.data = v.trim().to_owned();
                }
            }
            if event.name == "end" {
                events.push(event);
                return events;
            }
            if !event.name.is_empty() {
                events.push(event);
            }
        }
    }
    events
}

async fn ticket(user: &TestUser, id: JobId) -> reqwest::Response {
    user.client
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/jobs/{id}/events/ticket"),
        )
        .send()
        .await
        .unwrap()
}

async fn ticket_text(user: &TestUser, id: JobId) -> String {
    let response = ticket(user, id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    body["ticket"].as_str().unwrap().to_owned()
}

/// The stream opened without a bearer token.
async fn open(
    app: &TestApp,
    id: JobId,
    ticket: &str,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(
        app.client
            .url(&format!("/api/v1/jobs/{id}/events?ticket={ticket}")),
    );
    if let Some(last) = last_event_id {
        request = request.header("last-event-id", last);
    }
    request.send().await.unwrap()
}

async fn a_ticket_opens_its_jobs_stream_once(app: TestApp) {
    let user = app.user().await;
    let id = user
        .client
        .upload("a.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let ticket = ticket_text(&user, id).await;
    let stream = open(&app, id, &ticket, None).await;
    assert_eq!(stream.status(), StatusCode::OK);
    let reused = open(&app, id, &ticket, None).await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED, "single use");
    let error: serde_json::Value = reused.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("events/ticket"),
        "says how to get another: {error}"
    );
    let reader = tokio::spawn(read_events(stream, 5));
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.complete_job(id, &["Done."]).await;
    let events = reader.await.unwrap();
    let names: Vec<_> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.last(), Some(&"end"), "{events:?}");
    assert!(events.iter().all(|e| e.id.contains('.')), "{events:?}");
    let end: serde_json::Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
    assert_eq!(end["status"], "completed");
}

async fn a_ticket_is_for_one_job_its_owner_and_a_live_session(app: TestApp) {
    let user = app.user().await;
    let other = app.user().await;
    let first = user
        .client
        .upload("a.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let second = user
        .client
        .upload("b.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    assert_eq!(
        ticket(&other, first).await.status(),
        StatusCode::NOT_FOUND,
        "only the owner gets one"
    );
    let anonymous = reqwest::Client::new()
        .post(
            app.client
                .url(&format!("/api/v1/jobs/{first}/events/ticket")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let for_first = ticket_text(&user, first).await;
    assert_eq!(
        open(&app, second, &for_first, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "not for another job"
    );
    assert_eq!(
        open(&app, app_missing_job(), "made-up", None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let before_logout = ticket_text(&user, second).await;
    user.client
        .logout(Some(&user.tokens.refresh_token))
        .await
        .unwrap();
    assert_eq!(
        open(&app, second, &before_logout, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "the session that asked has ended"
    );
}

fn app_missing_job() -> JobId {
    JobId::new()
}

async fn last_event_id_resumes_and_an_ended_job_answers_end_at_once(app: TestApp) {
    let user = app.user().await;
    let id = user
        .client
        .upload("a.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let ticket = ticket_text(&user, id).await;
    let first = read_events(open(&app, id, &ticket, None).await, 1).await;
    assert_eq!(first[0].name, "progress", "{first:?}");
    let last_id = first[0].id.clone();

    // The browser reconnects: the same (spent) URL, and the last id. Nothing changed, so the
    // state it has is not sent again; the job then ends and `end` arrives.
    let resumed = open(&app, id, &ticket, Some(&last_id)).await;
    assert_eq!(resumed.status(), StatusCode::OK);
    let reader = tokio::spawn(read_events(resumed, 5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.complete_job(id, &["Done."]).await;
    let events = reader.await.unwrap();
    assert!(
        events.iter().all(|e| !e.data.contains("\"pending\"")),
        "the pending state it saw is not sent again: {events:?}"
    );
    assert_eq!(events.last().unwrap().name, "end", "{events:?}");
    let events = [events.into_iter().last().unwrap()];

    assert_eq!(
        open(&app, id, &ticket, Some(&last_id)).await.status(),
        StatusCode::UNAUTHORIZED,
        "a resume ticket is single-use too"
    );

    // With the header: the job already ended, so `end` comes at once.
    let seq = events[0].id.split('.').next().unwrap();
    let response = user
        .client
        .request(reqwest::Method::GET, &format!("/api/v1/jobs/{id}/events"))
        .header("last-event-id", seq)
        .send()
        .await
        .unwrap();
    let again = tokio::time::timeout(Duration::from_secs(2), read_events(response, 5))
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!((again[0].name.as_str(), again[0].id.as_str()), ("end", seq));
}

/// Every log line of this test binary, at every level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || LogSink(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
    .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_never_appear_in_the_logs() {
    let logs = captured_logs();
    let app = TestApp::spawn(pdfq_e2e::Backend::Embedded).await;
    let user = app.user().await;
    let id = user
        .client
        .upload("a.pdf", pdf::hello())
        .await
        .unwrap()
        .job_id;
    let ticket = ticket_text(&user, id).await;
    let stream = open(&app, id, &ticket, None).await;
    let events = read_events(stream, 1).await;
    let _ = open(&app, id, &ticket, None).await; // refused: logged as a 401
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let path = format!("/api/v1/jobs/{id}/events");
    assert!(text.contains(&path), "the request is logged: {text}");
    assert!(!text.contains(&ticket), "the ticket leaked into: {text}");
    let resume = events[0].id.split_once('.').unwrap().1;
    assert!(
        !text.contains(resume),
        "the resume ticket leaked into: {text}"
    );
    let _ = std::io::stderr().flush();
}
