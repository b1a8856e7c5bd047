//! A browser follows a job live: headless Chromium (Debian's `chromium`) loads a page from one
//! loopback origin, which logs in against the API on another with fetch, uploads a PDF, gets an
//! event-stream ticket and follows the job with `EventSource` to its `end` event, run by a real
//! worker in this process. The page reports its outcome by POSTing it to its own origin (the
//! test's page server), so the test needs neither the DevTools protocol nor a DOM dump timed
//! to the job. The browser reaches the API through a loopback proxy that cuts the first event
//! stream after its first event, so the browser's own reconnect (the spent URL ticket, and
//! `Last-Event-ID`) must get back in and still see `end`.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Html;
use axum::routing::{get, post};
use base64::Engine as _;
use pdfq_e2e::worker::test_worker;
use pdfq_e2e::{Backend, TestApp, pdf};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

/// Forwards connections from its port to `upstream`, and cuts the first connection that asks
/// for an event stream as soon as the first event has passed, as a flaky network would.
/// `first_event_passed` fires when that first event has passed and the stream is cut, so the test
/// can hold the job back until then: a job done before the stream's first event would end the
/// stream in its first read, leaving nothing to cut (CI saw that once the extraction children
/// were reused).
async fn cutting_proxy(upstream: u16) -> (u16, Arc<Notify>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cut_done = Arc::new(AtomicBool::new(false));
    let first_event_passed = Arc::new(Notify::new());
    let passed = Arc::clone(&first_event_passed);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
            tokio::spawn(forward(
                client,
                server,
                Arc::clone(&cut_done),
                Arc::clone(&passed),
            ));
        }
    });
    (port, first_event_passed)
}

async fn forward(
    client: TcpStream,
    server: TcpStream,
    cut_done: Arc<AtomicBool>,
    first_event_passed: Arc<Notify>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let streaming = Arc::new(AtomicBool::new(false));
    let asked = Arc::clone(&streaming);
    let requests = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = client_read.read(&mut buf).await {
            if String::from_utf8_lossy(&buf[..n]).contains("/events?ticket=") {
                asked.store(true, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = server_read.read(&mut buf).await {
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
        let has_event = String::from_utf8_lossy(&buf[..n]).contains("\nid:");
        if has_event && streaming.load(Ordering::SeqCst) && !cut_done.swap(true, Ordering::SeqCst) {
            // The stream's first event has passed: only now may the job run.
            first_event_passed.notify_one();
            break;
        }
    }
    requests.abort();
}

/// The Chromium binary, installed with apt-get when missing; `None` (the test is skipped)
/// when it cannot be.
fn chromium() -> Option<&'static str> {
    let found = || {
        Command::new("chromium")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if found() {
        return Some("chromium");
    }
    let installed = Command::new("apt-get")
        .args(["install", "-y", "chromium"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (installed && found()).then_some("chromium")
}

/// Kills the browser however the test ends.
struct Browser(std::process::Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PAGE: &str = r#"<!doctype html>
<html><body><pre id="log"></pre><pre id="result"></pre>
<script>
const API = "__API__", EMAIL = "__EMAIL__", PASSWORD = "__PASSWORD__", PDF = "__PDF__";
const log = (m) => { document.getElementById("log").textContent += m + "\n"; };
function report(result) {
  document.getElementById("result").textContent = JSON.stringify(result);
  fetch("/result", { method: "POST", body: JSON.stringify(result) });
}
async function run() {
  let r = await fetch(API + "/api/v1/auth/login", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }) });
  if (!r.ok) throw new Error("login: " + r.status);
  const auth = { authorization: "Bearer " + (await r.json()).access_token };
  const bytes = Uint8Array.from(atob(PDF), (c) => c.charCodeAt(0));
  const form = new FormData();
  form.append("file", new Blob([bytes], { type: "application/pdf" }), "browser.pdf");
  r = await fetch(API + "/api/v1/process-pdf-async", { method: "POST", headers: auth, body: form });
  if (r.status !== 202) throw new Error("upload: " + r.status);
  const job = (await r.json()).job_id;
  r = await fetch(API + "/api/v1/jobs/" + job + "/events/ticket", { method: "POST", headers: auth });
  if (r.status !== 201) throw new Error("ticket: " + r.status);
  const ticket = (await r.json()).ticket;
  const events = new EventSource(API + "/api/v1/jobs/" + job + "/events?ticket=" + encodeURIComponent(ticket));
  const seen = [];
  let opens = 0;
  events.onopen = () => { opens += 1; };
  events.addEventListener("progress", (e) => { seen.push(JSON.parse(e.data).progress); log("progress " + e.data); });
  events.addEventListener("end", (e) => {
    events.close();
    report({ outcome: "end", job: JSON.parse(e.data), progress: seen, opens, lastEventId: e.lastEventId });
  });
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) report({ outcome: "stream error", progress: seen, opens });
  };
}
run().catch((e) => report({ outcome: "exception", message: String(e) }));
</script></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_on_another_origin_follows_a_job_to_its_end() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED: Chromium is not installed and `apt-get install -y chromium` failed; install Debian's chromium package to run this test"
        );
        return;
    };
    let started = Instant::now();
    let page_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_origin = format!(
        "http://127.0.0.1:{}",
        page_listener.local_addr().unwrap().port()
    );
    let origin = page_origin.clone();
    let app = TestApp::spawn_with(Backend::Embedded, move |s| {
        s.allowed_origins = vec![origin];
    })
    .await;

    let worker = test_worker(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"), |_| {});
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let (proxy, first_event_passed) = cutting_proxy(app.port).await;
    let worker_task = tokio::spawn(async move {
        first_event_passed.notified().await;
        worker
            .run(async {
                let _ = worker_stopped.await;
            })
            .await
    });

    let user = app.user().await;
    let pdf = pdf::with_pages(&["A browser watched this page. It ended well."]);
    let page = PAGE
        .replace("__API__", &format!("http://127.0.0.1:{proxy}"))
        .replace("__EMAIL__", &user.email)
        .replace("__PASSWORD__", &user.password)
        .replace(
            "__PDF__",
            &base64::engine::general_purpose::STANDARD.encode(&pdf),
        );
    let (results_tx, mut results) = mpsc::channel::<String>(1);
    let page_server = Router::new()
        .route("/", get(move || async move { Html(page) }))
        .route(
            "/result",
            post(move |body: String| async move {
                let _ = results_tx.send(body).await;
            }),
        );
    tokio::spawn(async move { axum::serve(page_listener, page_server).await });

    let profile = tempfile::tempdir().unwrap();
    let _browser = Browser(
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("{page_origin}/"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let result = tokio::time::timeout(Duration::from_secs(25), results.recv())
        .await
        .expect("the page reports within 25 s")
        .unwrap();
    let elapsed = started.elapsed();
    eprintln!("the browser followed the job to its end in {elapsed:?}");

    let result: serde_json::Value = serde_json::from_str(&result).unwrap();
    assert_eq!(result["outcome"], "end", "{result}");
    assert_eq!(result["job"]["status"], "completed", "{result}");
    assert!(
        result["lastEventId"].as_str().unwrap().contains('.'),
        "events carry ids: {result}"
    );
    assert_eq!(
        result["opens"], 2,
        "cut after its first event, the stream was reopened by the browser: {result}"
    );
    let job_id: pdfq_domain::JobId = result["job"]["job_id"].as_str().unwrap().parse().unwrap();
    let job = user.client.job(job_id).await.unwrap();
    let text = job.sentences.unwrap().join(" ");
    assert!(text.contains("It ended well."), "{text}");

    let _ = stop_worker.send(());
    tokio::time::timeout(Duration::from_secs(30), worker_task)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
}
