//! `cargo xtask deploy` (Railway target) against a stand-in `railway` put first on PATH
//! (tests/support/fake_railway.py: records its arguments and stdin, answers as the Railway CLI
//! 5.43.1 does, citing its source), a stand-in API on loopback for the verify step, and the
//! local Redis for the worker's heartbeat.
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
    "postgres://postgres.ref:pw@aws-1-eu-west-1.pooler.supabase.com:5432/postgres";

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

    /// A scenario file with some content (see fake_railway.py).
    fn scenario_text(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).unwrap();
    }

    fn deploy(&self, extra: &[&str]) -> Output {
        self.deploy_env(extra, &[])
    }

    fn deploy_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
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
            .env_remove("PDFQ_DEPLOY_WORKSPACE")
            .env_remove("PDFQ_DEPLOY_ENVIRONMENT")
            .env_remove("PDFQ_DEPLOY_GITHUB_REPO")
            .env_remove("PDFQ_DEPLOY_GITHUB_BRANCH")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// The stand-in's account: project, services (with their configuration), deployments.
    fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join("state.json")).unwrap())
            .unwrap()
    }

    /// The service's configuration as `railway environment config` holds it.
    fn config(&self, service: &str) -> serde_json::Value {
        self.state()["services"][service]["config"].clone()
    }

    /// What `environment edit` read on stdin, one entry per call.
    fn stdin_patches(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("stdin.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let text: String = serde_json::from_str(line).unwrap();
                serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
            })
            .collect()
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
    [
        "init ",
        "link ",
        "add ",
        "up ",
        "environment edit",
        "service source connect",
    ]
    .iter()
    .any(|m| call.starts_with(m))
        || (call.starts_with("variables") && call.contains("--set"))
}

fn config_file(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_fresh_deploy_applies_the_files_settings_on_stdin_and_a_rerun_changes_nothing() {
    let fake = Fake::new("fresh");
    fake.heartbeat();
    let out = fake.deploy(&[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let calls = fake.take();
    let p = &fake.prefix;
    let changed: Vec<String> = calls.iter().filter(|c| mutating(c)).cloned().collect();
    assert_eq!(
        changed,
        [
            "init --name pdfq --json".to_owned(),
            "add --database redis --json".to_owned(),
            "add --service pdfq-api --json".to_owned(),
            format!(
                "variables --service pdfq-api --set DATABASE_URL={SUPABASE}?sslmode=require --set JWT_SECRET=<generated> --set PORT=8000 --set PDFQ_ENV=production --set LOG_FORMAT=json --set REDIS_URL=${{{{Redis.REDIS_URL}}}} --set REDIS_KEY_PREFIX={p} --skip-deploys --json"
            ),
            "environment edit --json".to_owned(),
            "up --service pdfq-api --detach --json".to_owned(),
            "add --service pdfq-worker --json".to_owned(),
            "variables --service pdfq-worker --set DATABASE_URL=${{pdfq-api.DATABASE_URL}} --set REDIS_URL=${{Redis.REDIS_URL}} --set REDIS_KEY_PREFIX=${{pdfq-api.REDIS_KEY_PREFIX}} --set LOG_FORMAT=json --skip-deploys --json".to_owned(),
            "environment edit --json".to_owned(),
            "up --service pdfq-worker --detach --json".to_owned(),
        ],
        "stdout:\n{}",
        stdout(&out)
    );
    assert!(
        !calls.iter().any(|c| c.contains("--service-config")),
        "flags the CLI ignores when stdin is not a terminal: {calls:?}"
    );
    // One patch per service on stdin, keyed by service id, with every setting of its file.
    let web = config_file("railway.json");
    let worker = config_file("railway.worker.json");
    assert_eq!(
        fake.stdin_patches(),
        [
            serde_json::json!({"services": {"svc-pdfq-api": {"build": web["build"], "deploy": web["deploy"]}}}),
            serde_json::json!({"services": {"svc-pdfq-worker": {"build": worker["build"], "deploy": worker["deploy"]}}}),
        ]
    );
    // What Railway holds now: the builder, Dockerfile, health check, draining, IPv6 egress.
    let api = fake.config("pdfq-api");
    assert_eq!(api["build"]["builder"], "DOCKERFILE");
    assert_eq!(api["build"]["dockerfilePath"], "Dockerfile.web");
    assert_eq!(api["deploy"]["healthcheckPath"], "/api/v1/health");
    assert_eq!(api["deploy"]["healthcheckTimeout"], 120);
    assert_eq!(api["deploy"]["ipv6EgressEnabled"], true);
    let wk = fake.config("pdfq-worker");
    assert_eq!(wk["build"]["dockerfilePath"], "Dockerfile.worker");
    assert_eq!(wk["deploy"]["drainingSeconds"], 40);
    assert_eq!(wk["deploy"]["ipv6EgressEnabled"], true);
    let text = stdout(&out);
    assert!(text.contains("deployed: every step done"), "{text}");
    assert!(text.contains("--github-repo"), "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("config-as-code"),
        "{text}"
    );
    for step in 1..=6 {
        assert!(text.contains(&format!("[{step}/6]")), "{text}");
    }

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
fn a_second_verify_reads_the_url_from_the_existing_domains_list() {
    let fake = Fake::new("domains");
    fake.heartbeat();
    let out = fake.deploy(&[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    fake.take();
    // Verify again: `railway domain` now prints {"domains": [...]}, the domain existing.
    let state = fake.dir.join("state/state-railway.json");
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    saved.as_object_mut().unwrap().remove("verified_deployment");
    std::fs::write(&state, saved.to_string()).unwrap();
    let out = fake.deploy(&["--only", "verify"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("verified: health 200"),
        "{}",
        stdout(&out)
    );
    assert!(
        fake.take()
            .contains(&"domain --service pdfq-api --json".to_owned())
    );
}

#[test]
fn several_workspaces_need_the_workspace_named() {
    let fake = Fake::new("workspaces");
    fake.scenario_text("workspaces", "Acme\nPersonal Lab\n");
    let out = fake.deploy(&["--only", "project"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("PDFQ_DEPLOY_WORKSPACE"), "{err}");
    assert!(err.contains("--workspace"), "{err}");
    assert!(
        err.contains("Personal Lab") || err.contains("whoami"),
        "{err}"
    );
    fake.take();

    let out = fake.deploy_env(
        &["--only", "project"],
        &[("PDFQ_DEPLOY_WORKSPACE", "Personal Lab")],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        fake.take()
            .contains(&"init --name pdfq --workspace Personal Lab --json".to_owned())
    );
}

#[test]
fn linking_a_project_with_several_environments_needs_the_environment_named() {
    let fake = Fake::new("environments");
    fake.scenario_text("environments", "production\nstaging\n");
    let out = fake.deploy(&["--only", "project", "--link", "pdfq"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("PDFQ_DEPLOY_ENVIRONMENT"), "{err}");
    assert!(err.contains("staging"), "{err}");
    fake.take();

    let out = fake.deploy(&[
        "--only",
        "project",
        "--link",
        "pdfq",
        "--environment",
        "staging",
    ]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        fake.take()
            .contains(&"link --project pdfq --environment staging --json".to_owned())
    );
    assert_eq!(fake.state()["linked"]["environment"], "env-2");
}

#[test]
fn every_status_that_never_goes_live_stops_the_wait_at_once() {
    for (status, said) in [
        ("NEEDS_APPROVAL", "approve it in Railway's dashboard"),
        ("SKIPPED", "it will not go live"),
        ("REMOVING", "it will not go live"),
        ("REMOVED", "it will not go live"),
        ("CRASHED", "CRASHED"),
    ] {
        let fake = Fake::new("status");
        fake.scenario_text("statuses_pdfq-api", &format!("QUEUED BUILDING {status}"));
        let started = std::time::Instant::now();
        let out = fake.deploy(&["--timeout", "60"]);
        assert!(!out.status.success(), "{status}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains(said), "{status}: {err}");
        assert!(err.contains("--from backend"), "{status}: {err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{status}: waited {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_sleeping_deployment_is_live() {
    let fake = Fake::new("sleeping");
    fake.heartbeat();
    fake.scenario_text("statuses_pdfq-api", "BUILDING DEPLOYING SLEEPING");
    let out = fake.deploy(&["--timeout", "60"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("deployment dep-1 SLEEPING"));
}

#[test]
fn the_wait_follows_the_deployment_up_started_not_the_newest() {
    let fake = Fake::new("racing");
    fake.heartbeat();
    // A push lands right after our upload: a newer deployment that fails.
    fake.scenario_text("racing_pdfq-api", "BUILDING FAILED");
    let out = fake.deploy(&["--timeout", "60"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("pdfq-api: deployment dep-1 SUCCESS"),
        "{text}"
    );
    assert!(
        text.contains("newer deployment dep-2 (FAILED)"),
        "the failed newer deployment is mentioned: {text}"
    );
}

#[test]
fn a_line_on_stderr_is_an_error_in_railways_logs_and_fails_verify() {
    let fake = Fake::new("stderr");
    fake.heartbeat();
    fake.scenario_text(
        "output_pdfq-worker",
        "stdout {\"timestamp\":\"t\",\"level\":\"INFO\",\"message\":\"worker started\"}\n\
         stderr thread 'main' panicked at crates/pdfq-worker/src/main.rs:1:1\n",
    );
    let out = fake.deploy(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("step verify failed"), "{err}");
    assert!(err.contains("1 error(s)"), "{err}");
    assert!(err.contains("panicked"), "{err}");
    assert!(!err.contains("worker started"), "{err}");
}

#[test]
fn the_github_repository_is_connected_from_the_cli_once() {
    let fake = Fake::new("github");
    fake.heartbeat();
    let out = fake.deploy(&["--github-repo", "acme/pdfq"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let calls = fake.take();
    for service in ["pdfq-api", "pdfq-worker"] {
        assert!(
            calls.contains(&format!(
                "service source connect --service {service} --repo acme/pdfq --branch main --json"
            )),
            "{calls:?}"
        );
        assert_eq!(fake.config(service)["source"]["repo"], "acme/pdfq");
    }
    assert!(stdout(&out).contains("deploys from GitHub: acme/pdfq (main)"));
    let out = fake.deploy(&["--github-repo", "acme/pdfq"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let changed: Vec<String> = fake.take().into_iter().filter(|c| mutating(c)).collect();
    assert!(changed.is_empty(), "a re-run changed {changed:?}");
}

#[test]
fn the_direct_host_works_because_the_deploy_turns_ipv6_egress_on() {
    let fake = Fake::new("ipv6");
    fake.heartbeat();
    let direct = "postgres://postgres:pw@db.abcdefgh.supabase.co:5432/postgres";
    let out = fake.deploy_env(&[], &[("DATABASE_URL", direct)]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(fake.config("pdfq-api")["deploy"]["ipv6EgressEnabled"], true);
    assert_eq!(
        fake.config("pdfq-worker")["deploy"]["ipv6EgressEnabled"],
        true
    );
}

#[test]
fn both_transaction_mode_poolers_are_refused() {
    for url in [
        "postgres://postgres.ref:pw@aws-1-eu-west-1.pooler.supabase.com:6543/postgres",
        "postgres://postgres:pw@db.abcdefgh.supabase.co:6543/postgres",
    ] {
        let fake = Fake::new("pgbouncer");
        let out = fake.deploy_env(&[], &[("DATABASE_URL", url)]);
        assert!(!out.status.success(), "{url}");
        let err = stderr(&out);
        assert!(err.contains("transaction mode"), "{url}: {err}");
        assert!(err.contains("Session pooler"), "{url}: {err}");
        assert!(!err.contains("pw@"), "a password was printed: {err}");
    }
}

#[test]
fn another_major_cli_version_is_warned_about() {
    let fake = Fake::new("version");
    fake.scenario_text("version", "railway 4.11.0\n");
    let out = fake.deploy(&["--only", "project"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("warning: the Railway CLI is 4.11.0"),
        "{text}"
    );
    assert!(text.contains("5.43.1"), "{text}");
    let fake = Fake::new("version-same");
    let out = fake.deploy(&["--only", "project"]);
    assert!(!stdout(&out).contains("warning: the Railway CLI"));
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
    assert_eq!(
        changed[0], "up --service pdfq-api --detach --json",
        "{changed:?}"
    );
    assert!(
        !changed
            .iter()
            .any(|c| c.starts_with("init") || c.starts_with("add --database"))
    );
    assert!(!changed.contains(&"add --service pdfq-api --json"));
    assert!(changed.contains(&"up --service pdfq-worker --detach --json"));
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
        "[dry-run] $ railway up --service pdfq-api --detach --json",
        "[dry-run] $ railway environment edit --json <<'EOF'",
        "\"drainingSeconds\":40",
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
