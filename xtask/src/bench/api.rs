//! `cargo xtask bench api`: requests per second and latency percentiles of
//! `GET /api/v1/jobs/{id}` and `GET /api/v1/health`, from a load generator on loopback, and
//! the cost of a deep page of sentences: page 1 against page 2,000 (10 per page) of a
//! 50,000-sentence result, as a ratio measured in the same run.
//!
//! By default it builds the release `pdfctl`, starts `pdfctl up` (embedded: SQLite and the
//! in-process queue) on a free port with a throwaway data directory, registers a user, uploads
//! one small PDF, then for each endpoint runs `--connections` keep-alive connections, each on
//! its own thread sending requests back to back for `--duration`. `--url` benchmarks an API
//! that is already running instead (e.g. the distributed one). HTTP/1.1 is written by hand:
//! xtask has only std, anyhow and clap.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::summary::Row;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An API already running (e.g. http://127.0.0.1:8000); without it `pdfctl up` is started.
    #[arg(long)]
    url: Option<String>,
    /// Seconds of load per endpoint.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds of warm-up per endpoint, not counted.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Do not build the release pdfctl first.
    #[arg(long)]
    no_build: bool,
}

/// A started `pdfctl up`, stopped (SIGKILL is enough: its data directory is thrown away) on drop.
struct Server {
    child: Child,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory under target/ removed on drop (no tempfile crate in xtask).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let (_server, host) = match &args.url {
        Some(url) => (None, host_of(url)?),
        None => {
            let (server, host) = start_pdfctl_up(args.no_build)?;
            (Some(server), host)
        }
    };
    let token = login(&host)?;
    let job = upload(&host, &token, &small_pdf())?;
    let status = wait_for_job(&host, &token, &job, Duration::from_secs(60))?;
    let large = upload(&host, &token, &large_pdf())?;
    let large_status = wait_for_job(&host, &token, &large, Duration::from_secs(600))?;
    if large_status != "completed" {
        bail!(
            "the {LARGE_SENTENCES}-sentence job ended {large_status}: its sentences cannot be paged"
        );
    }
    let (_, deep) = Connection::open(&host)?.send(&get_request(
        &host,
        &format!("/api/v1/jobs/{large}/sentences?page=2000&per_page=10"),
        Some(&token),
    ))?;
    let total = json_number(&deep, "total").unwrap_or(0);
    if total < 20_000 {
        bail!("the large job has {total} sentences, not enough for a page 2,000 of 10: {deep}");
    }
    println!("large job {large}: {total} sentences");
    // The server's memory once it has served a little, before the load.
    let pid = _server.as_ref().map(|s| s.child.id());
    let idle_kib = pid.and_then(rss_kib);
    println!("job {job}: {status}");
    println!(
        "target http://{host}  connections {}  {} s per endpoint",
        args.connections, args.duration
    );
    println!(
        "{:<28} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "endpoint", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    let mut rows = Vec::new();
    let mut p50s = Vec::new();
    for (name, path, auth) in [
        (
            "GET /api/v1/jobs/{id}",
            format!("/api/v1/jobs/{job}"),
            Some(token.as_str()),
        ),
        ("GET /api/v1/health", "/api/v1/health".to_owned(), None),
        (
            SENTENCES_FIRST,
            format!("/api/v1/jobs/{large}/sentences?page=1&per_page=10"),
            Some(token.as_str()),
        ),
        (
            SENTENCES_DEEP,
            format!("/api/v1/jobs/{large}/sentences?page=2000&per_page=10"),
            Some(token.as_str()),
        ),
    ] {
        let request = get_request(&host, &path, auth);
        let _ = load(
            &host,
            &request,
            args.connections,
            Duration::from_secs(args.warmup),
        );
        let mut result = load(
            &host,
            &request,
            args.connections,
            Duration::from_secs(args.duration),
        )?;
        p50s.push((name, result.percentile_ms(0.50)));
        rows.push(result.print(name, args.connections));
    }
    rows.push(deep_page_ratio(&p50s));
    if let (Some(idle), Some(loaded)) = (idle_kib, pid.and_then(rss_kib)) {
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "pdfctl up resident memory: {:.1} MiB idle, {:.1} MiB after the load",
            mib(idle),
            mib(loaded)
        );
        rows.push(Row::new(
            "api",
            "memory of `pdfctl up` (API + worker, SQLite): idle / after the load",
            format!("{:.0} / {:.0} MiB", mib(idle), mib(loaded)),
        ));
    }
    Ok(rows)
}

/// Page 2,000 against page 1 of the large result, from the p50s measured in this run: near 1
/// when a page costs the same at any depth.
fn deep_page_ratio(p50s: &[(&str, f64)]) -> Row {
    let p50 = |wanted: &str| {
        p50s.iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, ms)| *ms)
    };
    let figure = format!(
        "sentences of a {LARGE_SENTENCES}-sentence result, 10 per page: p50 of page 2,000 / page 1"
    );
    match (p50(SENTENCES_DEEP), p50(SENTENCES_FIRST)) {
        (Some(deep), Some(first)) if first > 0.0 && deep > 0.0 => {
            println!("deep page: p50 of page 2000 / page 1 = {:.2}", deep / first);
            Row::new(
                "api",
                figure,
                format!("{:.2}x ({deep:.2} / {first:.2} ms)", deep / first),
            )
        }
        _ => Row::new("api", figure, "not measured: no page was answered"),
    }
}

/// `VmRSS` of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

fn host_of(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must be http://HOST:PORT (loopback)")?;
    Ok(rest.trim_end_matches('/').to_owned())
}

fn start_pdfctl_up(no_build: bool) -> anyhow::Result<(Server, String)> {
    if !no_build {
        let status = Command::new("cargo")
            .args(["build", "--release", "-p", "pdfctl"])
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("building pdfctl failed");
        }
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let dir = TempDir(PathBuf::from(format!("target/bench-api-{port}")));
    let _ = std::fs::remove_dir_all(&dir.0);
    let pdfctl = crate::paths::target_dir(&std::env::current_dir()?).join("release/pdfctl");
    let child = Command::new(&pdfctl)
        .args(["up", "--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--data-dir")
        .arg(&dir.0)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        // A limit the single upload never meets, whatever the environment says.
        .env("UPLOAD_RATE_LIMIT", "1000/hour")
        .env("REGISTER_RATE_LIMIT", "100000/hour")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {} up", pdfctl.display()))?;
    let server = Server { child, _dir: dir };
    let host = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut conn) = Connection::open(&host)
            && conn
                .send(&get_request(&host, "/api/v1/health", None))
                .is_ok_and(|(s, _)| s == 200)
        {
            return Ok((server, host));
        }
        if Instant::now() > deadline {
            bail!("pdfctl up did not answer /api/v1/health within 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Registers a fresh user and returns an access token.
pub(super) fn login(host: &str) -> anyhow::Result<String> {
    let email = format!("bench-{}@example.com", std::process::id());
    let body = format!(r#"{{"email":"{email}","password":"benchmark password"}}"#);
    let mut conn = Connection::open(host)?;
    let (status, text) = conn.send(&post_json(host, "/api/v1/auth/register", &body))?;
    if status != 201 && status != 409 {
        bail!("register answered {status}: {text}");
    }
    let (status, text) = conn.send(&post_json(host, "/api/v1/auth/login", &body))?;
    if status != 200 {
        bail!("login answered {status}: {text}");
    }
    json_string(&text, "access_token").context("no access_token in the login answer")
}

/// A valid one-page PDF with a few sentences, cross-reference table and all.
fn small_pdf() -> Vec<u8> {
    text_pdf(&["pdfq benchmark. A second sentence. And a third one.".to_owned()])
}

/// The large result of the deep-page figure: 500 pages of 100 short sentences (two a line).
const LARGE_PAGES: usize = 500;
const LARGE_SENTENCES: usize = 50_000;
const SENTENCES_FIRST: &str = "GET .../sentences page 1";
const SENTENCES_DEEP: &str = "GET .../sentences page 2000";

fn large_pdf() -> Vec<u8> {
    let pages: Vec<String> = (1..=LARGE_PAGES)
        .map(|page| {
            (0..LARGE_SENTENCES / LARGE_PAGES / 2)
                .map(|line| {
                    format!("Page {page} line {line} says one thing. And then another one.\n")
                })
                .collect()
        })
        .collect();
    text_pdf(&pages)
}

/// A valid PDF with one page per entry, each line of text (`\n`-separated) shown 10 points
/// below the last, cross-reference table and all.
fn text_pdf(pages: &[String]) -> Vec<u8> {
    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", 4 + 2 * i))
        .collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    for (i, text) in pages.iter().enumerate() {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let mut stream = String::from("BT /F1 8 Tf 10 TL 36 770 Td\n");
        for line in text.lines() {
            stream.push_str(&format!("({line}) Tj T*\n"));
        }
        stream.push_str("ET");
        objects.push(format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ));
    }
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{body}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        out.push_str(&format!("{offset:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}

/// Waits up to `within` for the job to finish (a worker must be running: `pdfctl up` has one),
/// so the benchmark reads a completed job with its sentences; returns its status.
fn wait_for_job(host: &str, token: &str, job: &str, within: Duration) -> anyhow::Result<String> {
    let deadline = Instant::now() + within;
    let mut conn = Connection::open(host)?;
    loop {
        let (_, text) = conn.send(&get_request(
            host,
            &format!("/api/v1/jobs/{job}"),
            Some(token),
        ))?;
        let status = json_string(&text, "status").unwrap_or_default();
        if ["completed", "failed", "cancelled"].contains(&status.as_str())
            || Instant::now() > deadline
        {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Uploads `pdf`; returns its job id.
pub(super) fn upload(host: &str, token: &str, pdf: &[u8]) -> anyhow::Result<String> {
    let boundary = "pdfqbenchboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut request = format!(
        "POST /api/v1/process-pdf-async HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let (status, text) = Connection::open(host)?.send(&request)?;
    if status != 202 {
        bail!("upload answered {status}: {text}");
    }
    json_string(&text, "job_id").context("no job_id in the upload answer")
}

/// The string value of `"key":"..."` in a flat JSON answer.
fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let end = json[start..].find('"')? + start;
    Some(json[start..end].to_owned())
}

/// The unsigned integer value of `"key":123` in a JSON answer.
fn json_number(json: &str, key: &str) -> Option<u64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub(super) fn get_request(host: &str, path: &str, token: Option<&str>) -> Vec<u8> {
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n").into_bytes()
}

fn post_json(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One keep-alive HTTP/1.1 connection.
pub(super) struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    pub(super) fn open(host: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Self {
            reader: BufReader::new(stream),
        })
    }

    /// Sends a request and reads the answer (Content-Length bodies only: what the API sends).
    pub(super) fn send(&mut self, request: &[u8]) -> anyhow::Result<(u16, String)> {
        self.reader.get_mut().write_all(request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed in the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

struct LoadResult {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
}

impl LoadResult {
    /// The latency below which a fraction `p` of the requests finished, in ms (0 without any).
    fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.sort_unstable();
        let i =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    fn print(mut self, name: &str, connections: usize) -> Row {
        let [p50, p95, p99, max] = [0.50, 0.95, 0.99, 1.0].map(|p| self.percentile_ms(p));
        let n = self.latencies.len();
        let per_second = n as f64 / self.elapsed.as_secs_f64();
        println!(
            "{name:<28} {n:>9} {:>7} {per_second:>10.0} {p50:>8.2} {p95:>8.2} {p99:>8.2} {max:>8.2}",
            self.errors,
        );
        Row::new(
            "api",
            format!("`{name}`, {connections} connections: req/s, p50 / p95 / p99"),
            format!(
                "{per_second:.0}, {p50:.2} / {p95:.2} / {p99:.2} ms ({} errors)",
                self.errors
            ),
        )
    }
}

/// `connections` threads, each sending `request` back to back on its own connection until
/// `duration` has passed. Non-2xx answers and I/O failures count as errors.
fn load(
    host: &str,
    request: &[u8],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let start = Instant::now();
    let deadline = start + duration;
    let threads: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let host = host.to_owned();
            let request = request.to_vec();
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let mut conn = Connection::open(&host).ok();
                while Instant::now() < deadline {
                    let Some(c) = conn.as_mut() else {
                        errors += 1;
                        std::thread::sleep(Duration::from_millis(10));
                        conn = Connection::open(&host).ok();
                        continue;
                    };
                    let sent = Instant::now();
                    match c.send(&request) {
                        Ok((status, _)) if (200..300).contains(&status) => {
                            latencies.push(sent.elapsed());
                        }
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            conn = Connection::open(&host).ok();
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut result = LoadResult {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for thread in threads {
        let (latencies, errors) = thread
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
        result.latencies.extend(latencies);
        result.errors += errors;
    }
    result.elapsed = start.elapsed();
    Ok(result)
}
