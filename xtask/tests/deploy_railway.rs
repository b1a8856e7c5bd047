//! `cargo xtask deploy` (Railway target) against a stand-in `railway` put first on PATH
//! (tests/support/fake_railway.py: records its arguments, answers as the real CLI does), a
//! stand-in API on loopback for the verify step, and the local Redis for the worker's heartbeat.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure is the test's failure"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

const SUPABASE: &str =
    "postgres://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres";

struct Fake {
    dir: PathBuf,
    bin: PathBuf,
    api: String,
    prefix: String,
}

impl Fake {
    fn new(name: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("pdfq-deploy-{name}-{}-{nanos}", std::process::id()));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_railway.py");
        std::fs::copy(&script, bin.join("railway")).unwrap();
        let prefix = format!("deploytest-{}-{nanos}", std::process::id());
        Self {
            dir,
            bin,
            api: fake_api(),
            prefix,
        }
    }

    fn scenario(&self, file: &str, count: u32) {
        std::fs::write(self.dir.join(file), count.to_string()).unwrap();
    }

    fn deploy(&self, extra: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["deploy", "--yes", "--poll-ms", "10"])
            .args(if extra.contains(&"--timeout") {
                &[][..]
            } else {
                &["--timeout", "5"][..]
            })
            .arg("--state-dir")
            .arg(self.dir.join("state"))
            .args(["--pdfctl", "/opt/pdfq/pdfctl", "--key-prefix", &self.prefix])
            .args(extra)
            .env("PATH", path)
            .env("FAKE_RAILWAY_DIR", &self.dir)
            .env("FAKE_DOMAIN", &self.api)
            .env("FAKE_REDIS_PUBLIC_URL", redis_url())
            .env("DATABASE_URL", SUPABASE)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    }

    /// The calls recorded since the last `take`, as space-joined command lines, the generated
    /// JWT secret masked.
    fn take(&self) -> Vec<String> {
        let log = self.dir.join("calls.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines()
            .map(|line| {
                let args: Vec<String> = serde_json_lite(line);
                args.iter()
                    .map(|a| {
                        if a.starts_with("JWT_SECRET=") {
                            "JWT_SECRET=<generated>".to_owned()
                        } else {
                            a.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// A live worker heartbeat under the deployment's key prefix, as pdfq-worker writes it.
    fn heartbeat(&self) {
        redis(&["ZADD", &format!("{}:workers", self.prefix), "1", "w1"]);
        redis(&[
            "SET",
            &format!("{}:workers:w1", self.prefix),
            r#"{"kind":"worker","pid":1}"#,
            "PX",
            "60000",
        ]);
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        redis(&[
            "DEL",
            &format!("{}:workers", self.prefix),
            &format!("{}:workers:w1", self.prefix),
        ]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The arguments of one calls.log line (a JSON array of strings; serde_json is a dependency
/// of xtask, so usable here).
fn serde_json_lite(line: &str) -> Vec<String> {
    serde_json::from_str(line).unwrap()
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn redis(args: &[&str]) {
    let host = redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let mut conn = TcpStream::connect(host).unwrap();
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    conn.write_all(req.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(conn).read_line(&mut line).unwrap();
    assert!(!line.starts_with('-'), "redis: {line}");
}

/// A stand-in pdfq API on loopback: health 200, register, login, upload (checks a PDF came),
/// and the job completed. It serves until the test process ends.
fn fake_api() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = serve(stream);
        }
    });
    url
}

fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0;
    let mut expect = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("expect:") {
            expect = true;
        }
    }
    if expect {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body);
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, answer) = match (method, path) {
        ("GET", "/api/v1/health") => (200, r#"{"status":"ok"}"#),
        ("POST", "/api/v1/auth/register") => (201, r#"{"id":"u1"}"#),
        ("POST", "/api/v1/auth/login") => (200, r#"{"access_token":"tok"}"#),
        ("POST", "/api/v1/process-pdf-async") if body.contains("%PDF-1.4") => {
            (202, r#"{"job_id":"job-1","status":"pending"}"#)
        }
        ("GET", "/api/v1/jobs/job-1") => (200, r#"{"job_id":"job-1","status":"completed"}"#),
        _ => (404, r#"{"error":"not found"}"#),
    };
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Commands that change the Railway project.
fn mutating(call: &str) -> bool {
    ["init ", "link ", "add ", "up ", "environment edit"]
        .iter()
        .any(|m| call.starts_with(m))
        || (call.starts_with("variables") && call.contains("--set"))
}

const SETTINGS_WEB: [&str; 7] = [
    // In railway.json's key order within each section, sorted (serde_json's map).
    "environment edit --service-config pdfq-api build.builder DOCKERFILE --json",
    "environment edit --service-config pdfq-api build.dockerfilePath Dockerfile.web --json",
    "environment edit --service-config pdfq-api deploy.healthcheckPath /api/v1/health --json",
    "environment edit --service-config pdfq-api deploy.healthcheckTimeout 120 --json",
    "environment edit --service-config pdfq-api deploy.preDeployCommand [\"pdfctl migrate run\"] --json",
    "environment edit --service-config pdfq-api deploy.restartPolicyMaxRetries 5 --json",
    "environment edit --service-config pdfq-api deploy.restartPolicyType ON_FAILURE --json",
];

const SETTINGS_WORKER: [&str; 5] = [
    "environment edit --service-config pdfq-worker build.builder DOCKERFILE --json",
    "environment edit --service-config pdfq-worker build.dockerfilePath Dockerfile.worker --json",
    "environment edit --service-config pdfq-worker deploy.drainingSeconds 40 --json",
    "environment edit --service-config pdfq-worker deploy.restartPolicyMaxRetries 5 --json",
    "environment edit --service-config pdfq-worker deploy.restartPolicyType ON_FAILURE --json",
];

#[test]
fn a_fresh_deploy_runs_the_exact_sequence_and_a_rerun_changes_nothing() {
    let fake = Fake::new("fresh");
    fake.heartbeat();
    let out = fake.deploy(&[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let calls = fake.take();
    let p = &fake.prefix;
    let mut expected: Vec<String> = [
        "--version",
        "whoami --json",
        // project
        "status --json",
        "init --name pdfq --json",
        "status --json",
        // redis
        "status --json",
        "add --database redis --json",
        "status --json",
        // backend: check, then create, variables, settings, deploy, wait, domain, re-check
        "status --json",
        "status --json",
        "add --service pdfq-api --json",
        "status --json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.push(format!(
        "variables --service pdfq-api --set DATABASE_URL={SUPABASE}?sslmode=require --set JWT_SECRET=<generated> --set PORT=8000 --set PDFQ_ENV=production --set LOG_FORMAT=json --set REDIS_URL=${{{{Redis.REDIS_URL}}}} --set REDIS_KEY_PREFIX={p} --skip-deploys --json"
    ));
    expected.push("environment config --json".to_owned());
    expected.extend(SETTINGS_WEB.iter().map(|s| s.to_string()));
    expected.extend(
        [
            "deployment list --service pdfq-api --limit 1 --json",
            "up --service pdfq-api --detach",
            "deployment list --service pdfq-api --limit 1 --json",
            "domain --service pdfq-api --json",
            "status --json",
            "variables --service pdfq-api --json",
            "environment config --json",
            "deployment list --service pdfq-api --limit 1 --json",
            // migrations: the pre-deploy command migrated already, so the check passes
            "run --service pdfq-api -- /opt/pdfq/pdfctl migrate verify",
            // worker
            "status --json",
            "status --json",
            "add --service pdfq-worker --json",
            "status --json",
            "variables --service pdfq-worker --set DATABASE_URL=${{pdfq-api.DATABASE_URL}} --set REDIS_URL=${{Redis.REDIS_URL}} --set REDIS_KEY_PREFIX=${{pdfq-api.REDIS_KEY_PREFIX}} --set LOG_FORMAT=json --skip-deploys --json",
            "environment config --json",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    expected.extend(SETTINGS_WORKER.iter().map(|s| s.to_string()));
    expected.extend(
        [
            "deployment list --service pdfq-worker --limit 1 --json",
            "up --service pdfq-worker --detach",
            "deployment list --service pdfq-worker --limit 1 --json",
            "variables --service Redis --json",
            "variables --service pdfq-api --json",
            "status --json",
            "variables --service pdfq-worker --json",
            "environment config --json",
            "deployment list --service pdfq-worker --limit 1 --json",
            "variables --service Redis --json",
            "variables --service pdfq-api --json",
            // verify: never verified, so health, upload and logs, then re-checked
            "domain --service pdfq-api --json",
            "logs --service pdfq-api --lines 500 --json",
            "logs --service pdfq-worker --lines 500 --json",
            "deployment list --service pdfq-api --limit 1 --json",
            "deployment list --service pdfq-worker --limit 1 --json",
            // no GitHub source: the dashboard clicks are printed
            "status --json",
            "environment config --json",
            "deployment list --service pdfq-api --limit 1 --json",
            "deployment list --service pdfq-worker --limit 1 --json",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    assert_eq!(calls, expected, "stdout:\n{}", stdout(&out));
    assert!(stdout(&out).contains("deployed: every step done"));
    assert!(stdout(&out).contains("Settings → Source → Connect Repo"));

    // A re-run checks every step and changes nothing.
    let out = fake.deploy(&[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let calls = fake.take();
    let changed: Vec<&String> = calls.iter().filter(|c| mutating(c)).collect();
    assert!(changed.is_empty(), "a re-run changed {changed:?}");
    assert_eq!(
        stdout(&out).matches("done already").count(),
        6,
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_interrupted_deploy_resumes_at_the_failed_step() {
    let fake = Fake::new("resume");
    fake.heartbeat();
    fake.scenario("fail_up_pdfq-api", 1);
    let out = fake.deploy(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("step backend failed"), "{err}");
    assert!(
        err.contains("FAILED") && err.contains("could not compile"),
        "{err}"
    );
    assert!(err.contains("--from backend"), "{err}");
    let first = fake.take();
    assert!(
        !first
            .iter()
            .any(|c| c.starts_with("up --service pdfq-worker"))
    );

    let out = fake.deploy(&[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("resuming: the last run stopped at step backend"));
    let calls = fake.take();
    let changed: Vec<&str> = calls
        .iter()
        .filter(|c| mutating(c))
        .map(String::as_str)
        .collect();
    // The project, Redis, the service, its variables and settings exist: only the deploy is
    // repeated, then the worker is created.
    assert_eq!(changed[0], "up --service pdfq-api --detach", "{changed:?}");
    assert!(
        !changed
            .iter()
            .any(|c| c.starts_with("init") || c.starts_with("add --database"))
    );
    assert!(!changed.contains(&"add --service pdfq-api --json"));
    assert!(changed.contains(&"up --service pdfq-worker --detach"));
}

#[test]
fn a_health_check_that_times_out_says_what_to_check() {
    let fake = Fake::new("health");
    fake.scenario("healthcheck_pdfq-api", 1);
    let out = fake.deploy(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("health check /api/v1/health did not answer 200"),
        "{err}"
    );
    assert!(err.contains("session pooler"), "{err}");
}

#[test]
fn not_logged_in_stops_before_anything() {
    let fake = Fake::new("login");
    fake.scenario("logged_out", 1);
    let out = fake.deploy(&[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("railway login"), "{}", stderr(&out));
    assert_eq!(fake.take(), ["--version", "whoami --json"]);
}

#[test]
fn a_dry_run_prints_the_commands_and_runs_none() {
    let fake = Fake::new("dry");
    let out = fake.deploy(&["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "[dry-run] $ railway init --name pdfq --json",
        "[dry-run] $ railway add --database redis --json",
        "[dry-run] $ railway up --service pdfq-api --detach",
        "[dry-run] $ railway environment edit --service-config pdfq-worker deploy.drainingSeconds 40 --json",
        "JWT_SECRET=***",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("pw@"), "a password was printed:\n{text}");
    assert!(fake.take().is_empty(), "a dry run ran the CLI");
}

#[test]
fn only_and_from_select_steps() {
    let fake = Fake::new("only");
    let out = fake.deploy(&["--only", "project"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let calls = fake.take();
    assert_eq!(
        calls,
        [
            "--version",
            "whoami --json",
            "status --json",
            "init --name pdfq --json",
            "status --json"
        ]
    );
    let out = fake.deploy(&["--from", "redis", "--dry-run"]);
    assert!(out.status.success());
    assert!(!stdout(&out).contains("[1/6]"));
    assert!(stdout(&out).contains("[2/6] redis"));
}

#[test]
fn a_deployment_whose_health_check_never_passes_times_out_with_advice() {
    let fake = Fake::new("stuck");
    fake.scenario("stuck_pdfq-api", 1);
    let out = fake.deploy(&["--timeout", "1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("is still dep-1 DEPLOYING after 1 s"), "{err}");
    assert!(err.contains("health check has not passed"), "{err}");
    assert!(err.contains("--from backend"), "{err}");
}

#[test]
fn without_yes_a_non_interactive_run_asks_and_changes_nothing() {
    let fake = Fake::new("noyes");
    let path = format!(
        "{}:{}",
        fake.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["deploy", "--state-dir"])
        .arg(fake.dir.join("state"))
        .env("PATH", path)
        .env("FAKE_RAILWAY_DIR", &fake.dir)
        .env("RUST_BACKTRACE", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert!(
        fake.take().is_empty(),
        "the CLI was run without confirmation"
    );
}
