//! `cargo xtask fuzz`: the OpenAPI document driven through schemathesis against `pdfctl up`.
//!
//! It builds the release `pdfctl`, starts `pdfctl up` (embedded: SQLite and the in-process
//! queue) on a free loopback port with a throwaway data directory and the rate limits raised,
//! logs in as the generated admin, and runs `st run <url>/api/v1/openapi.json` with every check
//! (`--checks all`: no 5xx, status codes, content types, headers and bodies as documented,
//! schema-invalid input refused, schema-valid input accepted, auth not ignored...), bounded by
//! `--max-examples` per operation and `--max-time`. It then reads schemathesis's JSON report and
//! prints the cases run and the failures by check, and checks the server is still healthy and
//! logged no panic. It fails on any failure, any 5xx, or an unhealthy server.
//!
//! `--url` and `--token` fuzz an API that is already running instead (loopback only).
//! schemathesis is not vendored: `pip install schemathesis` (4.x) provides `st`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Test cases per API operation and phase.
    #[arg(long, default_value_t = 50)]
    max_examples: u32,
    /// Time budget of the schemathesis run, in seconds.
    #[arg(long, default_value_t = 300)]
    max_time: u64,
    /// Seed of the data generation, to replay a run.
    #[arg(long)]
    seed: Option<u64>,
    /// Concurrent schemathesis workers (1: schemathesis's generator is not always thread-safe
    /// on Python 3.11, which shows as "AST constructor recursion depth mismatch").
    #[arg(long, default_value_t = 1)]
    workers: u32,
    /// Where the reports go (JSON run report, JUnit XML, the server's log).
    #[arg(long, default_value = "target/fuzz")]
    report_dir: PathBuf,
    /// An API already running on loopback (e.g. http://127.0.0.1:8000); needs --token.
    #[arg(long, requires = "token")]
    url: Option<String>,
    /// An admin's access token for --url.
    #[arg(long)]
    token: Option<String>,
    /// Do not build the release pdfctl first.
    #[arg(long)]
    no_build: bool,
}

/// Per-operation expectations schemathesis cannot read from the document, with why.
const CONFIG: &str = r#"
# Written by `cargo xtask fuzz`.

# A schema-valid upload is any bytes in a field named `file`; only a PDF (the `%PDF-` signature)
# is accepted, which no JSON Schema can say: random bytes are rightly 415.
[[operations]]
include-name = "POST /api/v1/process-pdf-async"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "415"]

# Registering a schema-valid email twice is rightly 409 email_taken.
[[operations]]
include-name = "POST /api/v1/auth/register"
checks.positive_data_acceptance.expected-statuses = ["2xx", "409"]

# Cancelling or retrying a job in the wrong status is rightly 409 conflict.
[[operations]]
include-name-regex = "/(cancel|retry)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409"]
"#;

/// A started `pdfctl up`, killed on drop (its data directory is thrown away).
struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let version = st_version()?;
    println!("schemathesis: {version}");
    std::fs::create_dir_all(&args.report_dir)
        .with_context(|| format!("creating {}", args.report_dir.display()))?;
    let report_dir = std::fs::canonicalize(&args.report_dir)?;
    let log_path = report_dir.join("pdfctl-up.log");

    let (server, host, token) = match (&args.url, &args.token) {
        (Some(url), Some(token)) => (None, host_of(url)?, token.clone()),
        _ => {
            let (server, host) = start_pdfctl_up(args.no_build, &log_path)?;
            let password = std::fs::read_to_string(server.dir.join("admin-password"))
                .context("reading the admin password pdfctl up generated")?;
            let token = login(&host, "admin@pdfq.local", password.trim())?;
            (Some(server), host, token)
        }
    };

    let config = report_dir.join("schemathesis.toml");
    std::fs::write(&config, CONFIG)?;
    let json_report = report_dir.join("report.json");
    let _ = std::fs::remove_file(&json_report);
    let mut st = Command::new("st");
    // schemathesis keeps replay files in `.schemathesis/` of its working directory.
    st.current_dir(&report_dir)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("http://{host}/api/v1/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all"])
        .args(["--max-examples", &args.max_examples.to_string()])
        .args(["--max-time", &args.max_time.to_string()])
        .args(["--workers", &args.workers.to_string()])
        .args(["--request-timeout", "20"])
        .args(["--report", "json,junit"])
        .arg("--report-json-path")
        .arg(&json_report)
        .arg("--report-junit-path")
        .arg(report_dir.join("junit.xml"))
        .args(["--output-truncate", "true"]);
    if let Some(seed) = args.seed {
        st.args(["--seed", &seed.to_string()]);
    }
    println!("fuzzing http://{host} (at most {} s)", args.max_time);
    let started = Instant::now();
    let status = st.status().context("running st")?;
    let elapsed = started.elapsed();

    let mut problems = Vec::new();
    match std::fs::read_to_string(&json_report) {
        Ok(text) => {
            let report: Value = serde_json::from_str(&text).context("reading the JSON report")?;
            summarize(&report, elapsed, &mut problems);
        }
        Err(e) => problems.push(format!("no JSON report at {}: {e}", json_report.display())),
    }
    if !status.success() {
        problems.push(format!("st exited with {status}"));
    }
    match get(&host, "/api/v1/health", None) {
        Ok((200, _)) => println!("after the run: GET /api/v1/health 200"),
        Ok((code, body)) => problems.push(format!("after the run: health answered {code}: {body}")),
        Err(e) => problems.push(format!("after the run: health failed: {e:#}")),
    }
    drop(server);
    if let Ok(log) = std::fs::read_to_string(&log_path) {
        let panics = log.lines().filter(|l| l.contains("panicked")).count();
        let errors = log.lines().filter(|l| l.contains("ERROR")).count();
        println!(
            "server log: {} ({panics} panics, {errors} errors)",
            log_path.display()
        );
        if panics > 0 {
            problems.push(format!("the server panicked {panics} times"));
        }
    }
    println!("reports: {}", report_dir.display());
    if problems.is_empty() {
        println!("fuzz: clean");
        Ok(())
    } else {
        for p in &problems {
            eprintln!("fuzz: {p}");
        }
        bail!("fuzz: {} problem(s)", problems.len())
    }
}

/// `st --version`, or how to install it.
fn st_version() -> anyhow::Result<String> {
    let out = Command::new("st").arg("--version").output();
    match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let major = text
                .rsplit(' ')
                .next()
                .and_then(|v| v.split('.').next())
                .and_then(|m| m.parse::<u32>().ok());
            if major.is_some_and(|m| m < 4) {
                bail!("{text}: schemathesis 4 or later is needed: pip install -U schemathesis");
            }
            Ok(text)
        }
        _ => bail!(
            "schemathesis (`st`) is not installed or not on PATH: install it with \
             `pip install schemathesis` (4.x), then run `cargo xtask fuzz` again"
        ),
    }
}

/// Cases run, failures by kind, errors and warnings, from schemathesis's JSON run report
/// (`report.json`); every failure and error becomes a problem.
fn summarize(report: &Value, elapsed: Duration, problems: &mut Vec<String>) {
    let cases = &report["test_cases"];
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    println!(
        "schemathesis: {} cases on {} operations in {:.0} s (stopped by {}); {} unique failures",
        count(&cases["generated"]),
        count(&report["operations"]["tested"]),
        elapsed.as_secs_f64(),
        report["stop_reason"].as_str().unwrap_or("?"),
        count(&cases["unique_failures"]),
    );
    if let Some(phases) = report["phases"].as_object() {
        let line: Vec<String> = phases
            .iter()
            .map(|(name, p)| format!("{name} {}", p["status"].as_str().unwrap_or("?")))
            .collect();
        println!("  phases: {}", line.join(", "));
    }
    for f in report["failures"].as_array().into_iter().flatten() {
        let ops: Vec<&str> = f["operations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let what = format!(
            "{} {}: {} ({})",
            f["code"].as_str().unwrap_or("?"),
            f["title"].as_str().unwrap_or("?"),
            count(&f["count"]),
            ops.join(", ")
        );
        println!("  failure {what}");
        if f["type"].as_str() == Some("ServerError") {
            problems.push(format!("5xx: {what}"));
        } else {
            problems.push(what);
        }
    }
    for e in report["errors"].as_array().into_iter().flatten() {
        let what = format!(
            "{}: {}",
            e["title"].as_str().unwrap_or("?"),
            count(&e["count"])
        );
        println!("  error {what}");
        problems.push(format!("schemathesis error {what}"));
    }
    for (kind, items) in report["warnings"].as_object().into_iter().flatten() {
        if let Some(items) = items.as_array().filter(|i| !i.is_empty()) {
            println!("  warning {kind}: {}", Value::Array(items.clone()));
        }
    }
}

fn host_of(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must be http://HOST:PORT on loopback")?
        .trim_end_matches('/');
    if !(rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")) {
        bail!("--url must be on loopback: fuzzing sends hostile traffic");
    }
    Ok(rest.to_owned())
}

fn start_pdfctl_up(no_build: bool, log_path: &Path) -> anyhow::Result<(Server, String)> {
    let root = std::env::current_dir()?;
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
    let dir = crate::paths::target_dir(&root).join(format!("fuzz-data-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    let pdfctl = crate::paths::target_dir(&root).join("release/pdfctl");
    let log = File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let child = Command::new(&pdfctl)
        .args(["up", "--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--data-dir")
        .arg(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        // The fuzzer logs in and uploads far more than a person would.
        .env("UPLOAD_RATE_LIMIT", "100000/hour")
        // schemathesis registers and logs in from 127.0.0.1 thousands of times.
        .env("REGISTER_RATE_LIMIT", "1000000/hour")
        .env("LOGIN_ADDRESS_RATE_LIMIT", "1000000/hour")
        .env("LOGIN_RATE_LIMIT", "1000000/hour")
        .env("LOGIN_RATE_LIMIT", "100000/hour")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {} up", pdfctl.display()))?;
    let server = Server { child, dir };
    let host = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if get(&host, "/api/v1/health", None).is_ok_and(|(s, _)| s == 200) {
            return Ok((server, host));
        }
        if Instant::now() > deadline {
            bail!(
                "pdfctl up did not answer /api/v1/health within 30 s; see {}",
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn login(host: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({ "email": email, "password": password }).to_string();
    let request = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, text) = exchange(host, request.as_bytes())?;
    if status != 200 {
        bail!("login as {email} answered {status}: {text}");
    }
    let answer: Value = serde_json::from_str(&text)?;
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token in the login answer")
}

fn get(host: &str, path: &str, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n");
    exchange(host, request.as_bytes())
}

/// One request on a new connection (`Connection: close`); the status and the body.
fn exchange(host: &str, request: &[u8]) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
    }
    let mut body = String::new();
    reader.read_to_string(&mut body)?;
    Ok((status, body))
}
