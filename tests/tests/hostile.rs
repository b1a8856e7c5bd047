//! Hostile requests against a real server on a port: huge request heads, heads and bodies that
//! stop arriving, broken multipart, path traversal in file names, oversized uploads. Each gets a
//! 4xx (or, for a head that never ends, its connection closed) within the server's request
//! timeout, nothing is written outside the data directory, and afterwards the server is healthy
//! and a normal upload still works. Requests reqwest cannot produce are written over raw TCP.
//!
//! The apps run with REQUEST_TIMEOUT = 2 s, so every wait here is a few seconds at most.

#![allow(
    clippy::unwrap_used,
    reason = "tests may unwrap (clippy.toml); this covers their helper functions too"
)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use pdfq_e2e::{Backend, TestApp, TestUser, pdf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How much longer than the request timeout an answer (or a close) may take.
const SLACK: Duration = Duration::from_secs(3);
const MAX_UPLOAD_BYTES: u64 = 256 * 1024;

/// Two tests per name, one per backend, each on an app with the short request timeout.
macro_rules! hostile {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                super::$name(super::spawn(pdfq_e2e::Backend::Distributed).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_memory() {
                super::$name(super::spawn(pdfq_e2e::Backend::Embedded).await).await;
            }
        }
    )*};
}

hostile!(
    huge_heads_are_refused,
    heads_that_never_end_are_cut_off,
    stalled_bodies_get_408,
    broken_multipart_is_4xx,
    file_names_cannot_escape,
    oversized_uploads_are_413_at_once,
    uploads_in_flight_are_bounded_per_user_and_process,
);

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.request_timeout = REQUEST_TIMEOUT;
        s.max_upload_bytes = MAX_UPLOAD_BYTES;
        s.upload_rate_limit = "1000/hour".parse().unwrap();
        s.max_concurrent_uploads = 3;
        s.max_concurrent_uploads_per_user = 2;
    })
    .await
}

/// What came back on a raw connection.
#[derive(Debug)]
struct Answer {
    /// The status of the first response, if one arrived.
    status: Option<u16>,
    /// Everything read, lossily as text.
    text: String,
    /// The server closed (or reset) the connection.
    closed: bool,
    /// When the first response (or the close) came, from when reading started.
    after: Duration,
}

impl Answer {
    /// The `code` of the JSON error body.
    fn code(&self) -> String {
        let body = self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str::<serde_json::Value>(body).map_or_else(
            |_| String::new(),
            |v| v["error"]["code"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// Sends `bytes` on a new connection (a write the server cuts short is not an error) and reads
/// until one whole response has arrived, the connection closes, or `wait` passes.
async fn raw(port: u16, bytes: &[u8], wait: Duration) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = stream.write_all(bytes).await;
    read_answer(&mut stream, wait).await
}

async fn read_answer(stream: &mut TcpStream, wait: Duration) -> Answer {
    let start = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut closed = false;
    loop {
        if complete_response(&buf) {
            break;
        }
        let left = wait.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok());
    Answer {
        status,
        text,
        closed,
        after: start.elapsed(),
    }
}

/// A head and, when it declares a Content-Length, that many bytes of body.
fn complete_response(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    buf.len() >= end + 4 + length
}

/// Waits for the server to close a connection (or reset it), reading and dropping whatever
/// it sends; true if it did within `wait`.
async fn closes_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// After every hostile request: healthy, and a normal upload is accepted and readable.
async fn still_serves(app: &TestApp) {
    let health = app.client.health().await.unwrap();
    assert!(health.is_healthy(), "{health:?}");
    let user = app.user().await;
    let accepted = user.client.upload("after.pdf", pdf::hello()).await.unwrap();
    let job = user.client.job(accepted.job_id).await.unwrap();
    assert_eq!(job.file_name, "after.pdf");
}

async fn huge_heads_are_refused(app: TestApp) {
    let port = app.port;

    // One header of 100 KB: over the 64 KiB limit of a request head.
    let big = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let answer = raw(port, big.as_bytes(), SLACK).await;
    assert!(
        answer.status == Some(431) || (answer.status.is_none() && answer.closed),
        "100 KB header: {answer:?}"
    );

    // 100 KB in the Authorization header, where a token goes.
    let big_auth = format!(
        "GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        "A".repeat(100 * 1024)
    );
    let answer = raw(port, big_auth.as_bytes(), SLACK).await;
    assert!(
        answer.status == Some(431) || (answer.status.is_none() && answer.closed),
        "100 KB token: {answer:?}"
    );

    // Thousands of small headers: over the limit of 100.
    let mut many = String::from("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n");
    for i in 0..5000 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = raw(port, many.as_bytes(), SLACK).await;
    assert!(
        answer.status == Some(431) || (answer.status.is_none() && answer.closed),
        "5000 headers: {answer:?}"
    );

    // A 1 MB request line (a URI that long).
    let long_uri = format!(
        "GET /api/v1/jobs?x={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let answer = raw(port, long_uri.as_bytes(), SLACK).await;
    assert!(
        matches!(answer.status, Some(414 | 431)) || (answer.status.is_none() && answer.closed),
        "1 MB URI: {answer:?}"
    );

    // Within the limits the server is not fussy: 8 KB of header and 90 headers are fine.
    let mut fine = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n",
        "b".repeat(8 * 1024)
    );
    for i in 0..90 {
        fine.push_str(&format!("X-H{i}: v\r\n"));
    }
    fine.push_str("Connection: close\r\n\r\n");
    let answer = raw(port, fine.as_bytes(), SLACK).await;
    assert_eq!(answer.status, Some(200), "{answer:?}");

    // Not HTTP at all.
    let answer = raw(
        port,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        SLACK,
    )
    .await;
    assert!(
        answer.status == Some(400) || (answer.status.is_none() && answer.closed),
        "garbage: {answer:?}"
    );

    still_serves(&app).await;
}

async fn heads_that_never_end_are_cut_off(app: TestApp) {
    let port = app.port;
    let limit = REQUEST_TIMEOUT + SLACK;

    // Half a head, then nothing (slowloris): the connection is closed.
    let start = Instant::now();
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stalled
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        .await
        .unwrap();
    assert!(
        closes_within(&mut stalled, limit).await,
        "a half head is not cut off"
    );
    assert!(
        start.elapsed() >= REQUEST_TIMEOUT / 2,
        "{:?}",
        start.elapsed()
    );

    // A head dripped a byte at a time: the limit is on the whole head, not between bytes.
    let start = Instant::now();
    let mut drip = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut cut = false;
    for byte in b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Drip: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    {
        if drip.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if start.elapsed() > limit {
            break;
        }
    }
    assert!(
        cut || closes_within(&mut drip, Duration::from_millis(100)).await,
        "a dripped head is not cut off"
    );
    assert!(start.elapsed() < limit, "{:?}", start.elapsed());

    // A connection that says nothing at all.
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert!(
        closes_within(&mut silent, limit).await,
        "a silent connection stays open"
    );

    // A keep-alive connection left idle after a request.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    idle.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_answer(&mut idle, SLACK).await;
    assert_eq!(answer.status, Some(200), "{answer:?}");
    assert!(
        closes_within(&mut idle, limit).await,
        "an idle keep-alive connection stays open"
    );

    still_serves(&app).await;
}

/// A multipart upload whose file part holds `file`, as raw bytes.
fn multipart(boundary: &str, file_name: &str, file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

fn upload_head(user: &TestUser, content_type: &str, length: &str) -> String {
    format!(
        "POST /api/v1/process-pdf-async HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\n{length}\r\n",
        user.tokens.access_token
    )
}

async fn stalled_bodies_get_408(app: TestApp) {
    let port = app.port;
    let user = app.user().await;
    let limit = REQUEST_TIMEOUT + SLACK;

    // An upload that declares 200 KB, sends the start of its file, and stalls.
    let body = multipart("B0undary", "slow.pdf", &vec![b'%'; 150 * 1024]);
    let mut request = upload_head(
        &user,
        "multipart/form-data; boundary=B0undary",
        &format!("Content-Length: {}\r\n", body.len()),
    )
    .into_bytes();
    request.extend_from_slice(&body[..1000]);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let answer = read_answer(&mut stream, limit).await;
    assert_eq!(answer.status, Some(408), "{answer:?}");
    assert_eq!(answer.code(), "request_timeout", "{answer:?}");
    assert!(answer.after >= REQUEST_TIMEOUT / 2, "{answer:?}");
    assert!(
        answer
            .text
            .to_ascii_lowercase()
            .contains("connection: close"),
        "{answer:?}"
    );
    assert!(
        closes_within(&mut stream, SLACK).await,
        "the connection stays open after 408"
    );

    // The same with a chunked body.
    let mut request = upload_head(
        &user,
        "multipart/form-data; boundary=B0undary",
        "Transfer-Encoding: chunked\r\n",
    )
    .into_bytes();
    request.extend_from_slice(format!("{:x}\r\n", 1000).as_bytes());
    request.extend_from_slice(&body[..1000]);
    request.extend_from_slice(b"\r\n");
    let answer = raw(port, &request, limit).await;
    assert_eq!(answer.status, Some(408), "{answer:?}");

    // A trickle: a byte every 300 ms never finishes within the limit either.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = upload_head(
        &user,
        "multipart/form-data; boundary=B0undary",
        &format!("Content-Length: {}\r\n", body.len()),
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let mut sent = 0;
    let answer = loop {
        if stream.write_all(&body[sent..=sent]).await.is_err() {
            break read_answer(&mut stream, SLACK).await;
        }
        sent += 1;
        if let Ok(answer) =
            tokio::time::timeout(Duration::from_millis(300), read_answer(&mut stream, SLACK)).await
        {
            break answer;
        }
        assert!(start.elapsed() < limit, "no answer to a trickle");
    };
    assert_eq!(answer.status, Some(408), "{answer:?}");

    // A JSON body that stops: login declares 100 bytes and sends 10.
    let login = b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\": ";
    let answer = raw(port, login, limit).await;
    assert_eq!(answer.status, Some(408), "{answer:?}");
    assert_eq!(answer.code(), "request_timeout");

    // None of them made a job.
    assert_eq!(
        user.client.jobs(&Default::default()).await.unwrap().total,
        0
    );
    still_serves(&app).await;
}

async fn broken_multipart_is_4xx(app: TestApp) {
    let user = app.user().await;
    let http = reqwest::Client::new();
    let post = |content_type: &str, body: Vec<u8>| {
        http.post(app.client.url("/api/v1/process-pdf-async"))
            .bearer_auth(&user.tokens.access_token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let expect = async |response: reqwest::Response, status: u16, codes: &[&str], case: &str| {
        let got = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(got, status, "{case}: {body}");
        let code = body["error"]["code"].as_str().unwrap();
        assert!(codes.contains(&code), "{case}: {body}");
    };
    let pdf = pdf::hello();
    let good = multipart("XyZ", "a.pdf", &pdf);

    // The boundary in the header is not the one in the body.
    let r = post("multipart/form-data; boundary=AbC", good.clone())
        .await
        .unwrap();
    expect(
        r,
        400,
        &["invalid_multipart", "missing_file"],
        "wrong boundary",
    )
    .await;

    // No boundary at all, an empty one, and not multipart.
    let r = post("multipart/form-data", good.clone()).await.unwrap();
    expect(r, 415, &["unsupported_media_type"], "no boundary").await;
    let r = post("multipart/form-data; boundary=", good.clone())
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!([400, 415].contains(&status), "empty boundary: {status}");
    let codes = ["unsupported_media_type", "invalid_multipart"];
    expect(r, status, &codes, "empty boundary").await;
    let r = post("text/plain", pdf.clone()).await.unwrap();
    expect(r, 415, &["unsupported_media_type"], "text/plain").await;
    let r = post("application/pdf", pdf.clone()).await.unwrap();
    expect(r, 415, &["unsupported_media_type"], "a bare PDF").await;

    // Cut off before the closing boundary, in the part headers, and empty.
    let r = post(
        "multipart/form-data; boundary=XyZ",
        good[..good.len() - 10].to_vec(),
    )
    .await
    .unwrap();
    expect(r, 400, &["invalid_multipart"], "no closing boundary").await;
    let r = post("multipart/form-data; boundary=XyZ", good[..40].to_vec())
        .await
        .unwrap();
    expect(r, 400, &["invalid_multipart"], "cut in the part headers").await;
    let r = post("multipart/form-data; boundary=XyZ", Vec::new())
        .await
        .unwrap();
    expect(r, 400, &["invalid_multipart", "missing_file"], "empty body").await;
    let r = post(
        "multipart/form-data; boundary=XyZ",
        b"\x00\xff garbage \r\n\r\n".to_vec(),
    )
    .await
    .unwrap();
    expect(r, 400, &["invalid_multipart", "missing_file"], "garbage").await;

    // A part with no Content-Disposition, and no part named `file`.
    let r = post(
        "multipart/form-data; boundary=XyZ",
        b"--XyZ\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--XyZ--\r\n".to_vec(),
    )
    .await
    .unwrap();
    expect(
        r,
        400,
        &["invalid_multipart", "missing_file"],
        "no Content-Disposition",
    )
    .await;
    let other = multipart("XyZ", "a.pdf", &pdf);
    let other = String::from_utf8_lossy(&other).replace("name=\"file\"", "name=\"document\"");
    let r = post("multipart/form-data; boundary=XyZ", other.into_bytes())
        .await
        .unwrap();
    expect(r, 400, &["missing_file"], "no file field").await;

    // Two files: which one? Refused.
    let mut two = multipart("XyZ", "one.pdf", &pdf);
    two.truncate(two.len() - "--\r\n".len());
    two.extend_from_slice(
        b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"two.pdf\"\r\n\r\n",
    );
    two.extend_from_slice(&pdf);
    two.extend_from_slice(b"\r\n--XyZ--\r\n");
    let r = post("multipart/form-data; boundary=XyZ", two)
        .await
        .unwrap();
    expect(r, 400, &["invalid_multipart"], "two files").await;

    // A file field that is empty, and one that is not a PDF.
    let r = post(
        "multipart/form-data; boundary=XyZ",
        multipart("XyZ", "e.pdf", b""),
    )
    .await
    .unwrap();
    expect(r, 415, &["unsupported_media_type"], "empty file").await;
    let r = post(
        "multipart/form-data; boundary=XyZ",
        multipart("XyZ", "x.pdf", b"<html>"),
    )
    .await
    .unwrap();
    expect(r, 415, &["unsupported_media_type"], "html").await;

    // A part header line of 100 KB.
    let r = post(
        "multipart/form-data; boundary=XyZ",
        multipart("XyZ", &"n".repeat(100 * 1024), &pdf),
    )
    .await
    .unwrap();
    let status = r.status().as_u16();
    println!("100 KB part header: {status}");
    if status == 202 {
        let job: serde_json::Value = r.json().await.unwrap();
        let id = job["job_id"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            user.client.job(id).await.unwrap().file_name.chars().count(),
            255
        );
    } else {
        assert!((400..500).contains(&status), "100 KB part header: {status}");
    }

    // No job came of any of it, except perhaps that last one.
    assert!(user.client.jobs(&Default::default()).await.unwrap().total <= 1);
    still_serves(&app).await;
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out
}

async fn file_names_cannot_escape(app: TestApp) {
    let user = app.user().await;
    let http = reqwest::Client::new();
    let pdf = pdf::hello();
    let data_files = app.data_dir().map(files_under);
    let cwd = std::env::current_dir().unwrap();
    let cwd_files = files_under(&cwd);
    assert!(!Path::new("/etc/passwd.pdf").exists());

    let long = format!("{}.pdf", "x".repeat(10_000));
    // (name as sent, the name stored); None: anything without a path or control character.
    let cases: Vec<(&[u8], Option<&str>)> = vec![
        (b"../../etc/passwd.pdf", Some("passwd.pdf")),
        (b"/etc/passwd.pdf", Some("passwd.pdf")),
        (b"..\\..\\windows\\win.ini.pdf", Some("win.ini.pdf")),
        (b"C:\\Users\\a\\report.pdf", Some("report.pdf")),
        (b"..", Some("upload.pdf")),
        (b"../", Some("upload.pdf")),
        (b"", Some("upload.pdf")),
        (b"a\x00b.pdf", None),
        (b"a\x01\x1b[31mred.pdf", None),
        (b"evil\xe2\x80\xaefdp.exe", Some("evilfdp.exe")),
        (
            "résumé 日本語 📄.pdf".as_bytes(),
            Some("résumé 日本語 📄.pdf"),
        ),
        (b"..%2F..%2Fetc%2Fpasswd.pdf", None),
        (b"\xff\xfe.pdf", None),
        (long.as_bytes(), None),
    ];
    for (sent, expected) in cases {
        let mut body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".to_vec();
        body.extend_from_slice(sent);
        body.extend_from_slice(b"\"\r\nContent-Type: application/pdf\r\n\r\n");
        body.extend_from_slice(&pdf);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let r = http
            .post(app.client.url("/api/v1/process-pdf-async"))
            .bearer_auth(&user.tokens.access_token)
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let shown = String::from_utf8_lossy(sent);
        let answer: serde_json::Value = r.json().await.unwrap();
        println!("file name {shown:?}: {status} {answer}");
        if status != 202 {
            // A name the multipart parser cannot read is refused; never anything else.
            assert_eq!(status, 400, "{shown:?}: {answer}");
            assert!(expected.is_none(), "{shown:?} refused: {answer}");
            continue;
        }
        let id = answer["job_id"].as_str().unwrap().parse().unwrap();
        let stored = user.client.job(id).await.unwrap().file_name;
        println!("  stored as {stored:?}");
        if let Some(expected) = expected {
            assert_eq!(stored, expected, "{shown:?}");
        }
        assert!(
            !stored.is_empty() && stored.chars().count() <= 255,
            "{shown:?}: {stored:?}"
        );
        assert!(
            !stored.contains(['/', '\\']) && !stored.chars().any(char::is_control),
            "{shown:?}: {stored:?}"
        );
        assert!(stored != "." && stored != "..", "{shown:?}: {stored:?}");
        let listed = user.client.jobs(&Default::default()).await.unwrap();
        assert!(
            listed
                .jobs
                .iter()
                .any(|j| j.job_id == id && j.file_name == stored)
        );
    }

    // Files live in the database: nothing new on disk, in the data directory or anywhere else.
    assert!(!Path::new("/etc/passwd.pdf").exists());
    assert_eq!(files_under(&cwd), cwd_files);
    if let (Some(dir), Some(before)) = (app.data_dir(), data_files) {
        let after = files_under(dir);
        assert!(
            after.iter().all(|f| f.starts_with("pdfq.db")),
            "{before:?} -> {after:?}"
        );
    }
    still_serves(&app).await;
}

async fn oversized_uploads_are_413_at_once(app: TestApp) {
    let port = app.port;
    let user = app.user().await;

    // A declared length of 10 GB with no body: refused before reading, well within the timeout.
    let head = upload_head(
        &user,
        "multipart/form-data; boundary=XyZ",
        "Content-Length: 10737418240\r\n",
    );
    let answer = raw(port, head.as_bytes(), REQUEST_TIMEOUT + SLACK).await;
    assert_eq!(answer.status, Some(413), "{answer:?}");
    assert_eq!(answer.code(), "payload_too_large");
    assert!(answer.after < REQUEST_TIMEOUT, "{answer:?}");

    // A length too large for any number.
    let head = upload_head(
        &user,
        "multipart/form-data; boundary=XyZ",
        "Content-Length: 99999999999999999999999999\r\n",
    );
    let answer = raw(port, head.as_bytes(), REQUEST_TIMEOUT + SLACK).await;
    assert!(
        answer.status.is_some_and(|s| (400..500).contains(&s))
            || (answer.status.is_none() && answer.closed),
        "{answer:?}"
    );

    // Chunked, with no length to refuse up front: cut as the bytes pass the limit.
    let mut big = pdf::hello();
    big.resize(MAX_UPLOAD_BYTES as usize + 1, b' ');
    let body = multipart("XyZ", "big.pdf", &big);
    let mut request = upload_head(
        &user,
        "multipart/form-data; boundary=XyZ",
        "Transfer-Encoding: chunked\r\n",
    )
    .into_bytes();
    for piece in body.chunks(16 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw(port, &request, REQUEST_TIMEOUT + SLACK).await;
    assert_eq!(answer.status, Some(413), "{answer:?}");

    // A JSON body over 64 KiB.
    let json = format!(
        "{{\"email\":\"{}\",\"password\":\"x\"}}",
        "a".repeat(100 * 1024)
    );
    let r = reqwest::Client::new()
        .post(app.client.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(json)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    assert_eq!(
        user.client.jobs(&Default::default()).await.unwrap().total,
        0
    );
    still_serves(&app).await;
}

/// Starts an upload of `user` that declares 200 KB and sends 1 KB of it: it holds its slot
/// until the request timeout.
async fn stalled_upload(port: u16, user: &TestUser) -> TcpStream {
    let body = multipart("B0undary", "slow.pdf", &vec![b'%'; 200 * 1024]);
    let mut request = upload_head(
        user,
        "multipart/form-data; boundary=B0undary",
        &format!("Content-Length: {}\r\n", body.len()),
    )
    .into_bytes();
    request.extend_from_slice(&body[..1024]);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(&request).await.unwrap();
    stream
}

async fn uploads_in_flight_are_bounded_per_user_and_process(app: TestApp) {
    let (ann, bob, cid) = (app.user().await, app.user().await, app.user().await);
    let _a1 = stalled_upload(app.port, &ann).await;
    let _a2 = stalled_upload(app.port, &ann).await;
    // Give the server time to take both slots.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = ann
        .client
        .upload("third.pdf", pdf::hello())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(429), Some("too_many_uploads")),
        "{err}"
    );
    let pdfq_client::ClientError::Api { retry_after, .. } = err else {
        unreachable!()
    };
    assert!(retry_after.is_some_and(|s| s > 0));
    // Another user takes the process's third and last slot, then the fourth upload anywhere is
    // refused with 503 and Retry-After.
    let _b1 = stalled_upload(app.port, &bob).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = cid.client.upload("c.pdf", pdf::hello()).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(503), Some("busy")),
        "{err}"
    );
    // Once the stalled uploads time out, the slots are free again.
    tokio::time::sleep(REQUEST_TIMEOUT + SLACK).await;
    ann.client.upload("later.pdf", pdf::hello()).await.unwrap();
    cid.client.upload("c.pdf", pdf::hello()).await.unwrap();
}
