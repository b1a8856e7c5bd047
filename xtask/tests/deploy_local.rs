//! `cargo xtask deploy --target local` end to end on this machine's PostgreSQL and Redis: the
//! six steps (database, Redis, pdfq-api, migrations, pdfq-worker, a real PDF upload that
//! completes), a re-run that finds everything done, and `--down` stopping what it started.
//! Its own database (pdfq_deploy_t<pid>) and Redis key prefix, dropped afterwards.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure is the test's failure"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Deployment {
    instance: String,
    state_dir: PathBuf,
    database_url: String,
    redis_url: String,
    /// The deploy builds the dev binaries itself (`--profile dev`): the test runs the code as
    /// it is now, and the dev profile's dependencies are the ones the tests built already.
    build: Vec<String>,
}

impl Deployment {
    fn new() -> Self {
        let build = vec!["--profile", "dev"];
        let instance = format!("t{}", std::process::id());
        Self {
            state_dir: std::env::temp_dir().join(format!("pdfq-deploy-local-{instance}")),
            instance,
            database_url: std::env::var("TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned()),
            redis_url: std::env::var("TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
            build: build.into_iter().map(str::to_owned).collect(),
        }
    }

    fn deploy(&self, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["deploy", "--target", "local", "--instance", &self.instance])
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(&self.build)
            .args(extra)
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", &self.redis_url)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    }

    fn state(&self) -> serde_json::Value {
        let path = self
            .state_dir
            .join(format!("state-local-{}.json", self.instance));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // Whatever happened, stop the processes and drop what the deployment created.
        let _ = self.deploy(&["--down"]);
        let _ = Command::new("psql")
            .arg(&self.database_url)
            .args([
                "-tAc",
                &format!(
                    "DROP DATABASE IF EXISTS pdfq_deploy_{} WITH (FORCE)",
                    self.instance
                ),
            ])
            .output();
        let prefix = format!("pdfq-deploy-{}", self.instance);
        if let Ok(out) = Command::new("redis-cli")
            .args([
                "-u",
                &self.redis_url,
                "--scan",
                "--pattern",
                &format!("{prefix}:*"),
            ])
            .output()
        {
            let keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            if !keys.is_empty() {
                let _ = Command::new("redis-cli")
                    .args(["-u", &self.redis_url, "DEL"])
                    .args(&keys)
                    .output();
            }
        }
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn alive(pid: u64) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty()
        && !stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
}

fn logs_of(dir: &Path, instance: &str) -> String {
    let dir = dir.join(format!("local-{instance}"));
    ["api.log", "worker.log"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_local_target_deploys_verifies_with_a_real_upload_and_stops() {
    let d = Deployment::new();
    let out = d.deploy(&[]);
    assert!(
        out.status.success(),
        "{}\nlogs:\n{}",
        text(&out),
        logs_of(&d.state_dir, &d.instance)
    );
    let first = text(&out);
    assert!(first.contains("verified: health 200, job"), "{first}");
    let state = d.state();
    let (api, worker) = (
        state["api_pid"].as_u64().unwrap(),
        state["worker_pid"].as_u64().unwrap(),
    );
    assert!(alive(api) && alive(worker));

    // A re-run finds every step done and starts nothing.
    let out = d.deploy(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        text(&out).matches("done already").count(),
        6,
        "{}",
        text(&out)
    );
    let state = d.state();
    assert_eq!(state["api_pid"].as_u64(), Some(api));
    assert_eq!(state["worker_pid"].as_u64(), Some(worker));

    // --down stops both, by pid.
    let out = d.deploy(&["--down"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!alive(api), "pdfq-api still runs");
    assert!(!alive(worker), "pdfq-worker still runs");
    assert!(d.state().get("api_pid").is_none());
}

#[test]
fn a_local_dry_run_prints_the_plan_and_starts_nothing() {
    let mut d = Deployment::new();
    d.instance = format!("dry{}", std::process::id());
    d.build = vec!["--profile".to_owned(), "release".to_owned()];
    let out = d.deploy(&["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    for expected in [
        "[dry-run] $ psql",
        "CREATE DATABASE",
        "$ cargo build --release -p pdfq-api -p pdfq-worker -p pdfctl",
        "pdfctl migrate run",
        "start pdfq-worker",
        "upload a PDF",
        "dry run: nothing was run",
    ] {
        assert!(
            printed.contains(expected),
            "missing {expected:?} in:\n{printed}"
        );
    }
    assert!(!d.state_dir.exists(), "a dry run wrote the state");
}
