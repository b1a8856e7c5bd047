//! A live embedded deployment (`pdfctl up --port 0`) with pdfctl logged in as its admin, for
//! the tests of the operator commands.

#![allow(dead_code, reason = "each test file uses part of it")]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub struct Deployment {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Deployment {
    /// Starts `pdfctl up` and logs in as admin@pdfq.local.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts `pdfctl up` with these environment variables (its settings) and logs in.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (child, url) = spawn_up(
            &dir.path().join("config"),
            &dir.path().join("data"),
            env,
            "0",
        );
        let deployment = Self { child, url, dir };
        let password = std::fs::read_to_string(deployment.data().join("admin-password")).unwrap();
        let login = deployment.run(&[
            "login",
            "--email",
            "admin@pdfq.local",
            "--password",
            password.trim(),
        ]);
        assert!(login.status.success(), "{}", text(&login.stderr));
        deployment
    }

    /// Starts the stopped deployment again, on the same port and data (the login stays valid).
    pub fn restart(&mut self) {
        let port = self.url.rsplit(':').next().unwrap().to_owned();
        let (child, url) = spawn_up(&self.config(), &self.data(), &[], &port);
        assert_eq!(url, self.url);
        self.child = child;
    }

    /// Stops the deployment; the saved login stays.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// pdfctl with --api-url pointing here, stdin closed.
    pub fn pdfctl(&self) -> Command {
        let mut command = pdfctl_in(&self.config());
        command.args(["--api-url", &self.url]).stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.pdfctl().args(args).output().unwrap()
    }

    /// Runs and parses stdout as JSON, failing the test on a non-zero exit.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pdfctl {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "pdfctl {args:?} printed no JSON ({e}): {}",
                text(&out.stdout)
            )
        })
    }

    /// Uploads a small PDF; returns its job id.
    pub fn submit(&self, name: &str) -> String {
        let pdf = self.dir.path().join(name);
        std::fs::write(
            &pdf,
            pdfq_test_support::pdf::text_pdf(&["Hello there. General Kenobi!"]),
        )
        .unwrap();
        let out = self
            .pdfctl()
            .args(["submit", "--json"])
            .arg(&pdf)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let accepted: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        accepted["job_id"].as_str().unwrap().to_owned()
    }
}

/// `pdfctl up` on `port` (0: any free one) with its data in `data`; returns it and its URL.
fn spawn_up(config: &Path, data: &Path, env: &[(&str, &str)], port: &str) -> (Child, String) {
    let mut child = pdfctl_in(config)
        .envs(env.iter().copied())
        .args(["up", "--port", port, "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    (child, url)
}

pub fn pdfctl_in(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pdfctl"));
    command
        .env("PDFQ_CONFIG_DIR", config)
        .env_remove("PDFQ_API_URL")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL");
    command
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
