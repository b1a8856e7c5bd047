//! The OpenAPI document as third-party tools read it (issue 16): openapi-spec-validator
//! accepts it, the TypeScript types openapi-typescript generates compile under `tsc --strict`
//! (no skipLibCheck) and reject misuse, and the Python client openapi-python-client generates
//! runs the whole flow against a live API and a real worker. The tools are installed on first
//! use under the target directory ([`pdfq_e2e::openapi_tools`]).

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::path::{Path, PathBuf};
use std::process::Command;

use pdfq_e2e::openapi_tools::{NodeTools, PythonTools, run_ok};
use pdfq_e2e::worker::RunningWorker;
use pdfq_e2e::{Backend, TestApp, pdf};

/// tests/openapi: the scripts and TypeScript sources the tests run.
fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi")
}

/// Where the tools are installed and reused: under the target directory.
fn tool_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi-tools")
}

/// The served document, written to `dir/openapi.json`.
async fn served_document(app: &TestApp, dir: &Path) -> PathBuf {
    let text = reqwest::get(app.client.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    let path = dir.join("openapi.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_spec_validator_accepts_the_document() {
    let python = match PythonTools::ensure(&tool_cache()) {
        Ok(tools) => tools,
        Err(why) => return why.skip("openapi_spec_validator_accepts_the_document"),
    };
    let app = TestApp::spawn(Backend::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = served_document(&app, dir.path()).await;
    let output = run_ok(
        python
            .python(None)
            .args(["-m", "openapi_spec_validator"])
            .arg(&spec),
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains(": OK"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_typescript_types_compile_strictly_and_reject_misuse() {
    let node = match NodeTools::ensure(&tool_cache()) {
        Ok(tools) => tools,
        Err(why) => {
            return why.skip("generated_typescript_types_compile_strictly_and_reject_misuse");
        }
    };
    let app = TestApp::spawn(Backend::Embedded).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = served_document(&app, dir.path()).await;
    // Node resolves the script's imports from its own directory, so it runs from the tools'.
    let generator = node.dir().join("generate-types.mjs");
    std::fs::copy(assets().join("generate-types.mjs"), &generator).unwrap();
    run_ok(
        Command::new("node")
            .arg(&generator)
            .arg(&spec)
            .arg(dir.path().join("schema.d.ts")),
    );
    for source in ["flow.ts", "wrong.ts"] {
        std::fs::copy(assets().join(source), dir.path().join(source)).unwrap();
    }
    let tsc = |files: &[&str]| {
        let mut tsc = Command::new(node.bin("tsc"));
        tsc.current_dir(dir.path())
            .args([
                "--strict", "--noEmit", "--target", "es2022", "--module", "esnext",
            ])
            .args(["--moduleResolution", "bundler", "--lib", "es2022,dom"])
            .arg("schema.d.ts")
            .args(files);
        tsc
    };
    // flow.ts uses the types for the main flow; wrong.ts marks mistakes `@ts-expect-error`,
    // which tsc reports when a marked line is not an error.
    run_ok(&mut tsc(&["flow.ts", "wrong.ts"]));

    // And the check can fail: the same flow with a status the document does not have.
    let flow = std::fs::read_to_string(dir.path().join("flow.ts")).unwrap();
    let broken = flow.replace(
        r#"["completed", "failed", "cancelled"]"#,
        r#"["completed", "done"]"#,
    );
    assert_ne!(broken, flow, "flow.ts lists the ended statuses");
    std::fs::write(dir.path().join("broken.ts"), broken).unwrap();
    let output = tsc(&["broken.ts"]).output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success() && said.contains("\"done\""),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_python_client_runs_the_whole_flow() {
    let python = match PythonTools::ensure(&tool_cache()) {
        Ok(tools) => tools,
        Err(why) => return why.skip("the_generated_python_client_runs_the_whole_flow"),
    };
    let app = TestApp::spawn(Backend::Distributed).await;
    let worker = RunningWorker::start(&app, env!("CARGO_BIN_EXE_pdfq-e2e-extract-child"));
    let dir = tempfile::tempdir().unwrap();
    let spec = served_document(&app, dir.path()).await;

    // `post_hooks: []`: the default hooks run ruff, which is not installed; with them gone any
    // warning left is about the document.
    let config = dir.path().join("generator.yaml");
    std::fs::write(&config, "post_hooks: []\n").unwrap();
    let package = dir.path().join("pdfq_api_client");
    let output = run_ok(
        python
            .python(None)
            .args([
                "-m",
                "openapi_python_client",
                "generate",
                "--meta",
                "none",
                "--path",
            ])
            .arg(&spec)
            .arg("--config")
            .arg(&config)
            .arg("--output-path")
            .arg(&package),
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(!said.contains("Warning"), "the generator warns:\n{said}");

    let story = dir.path().join("story.pdf");
    std::fs::write(
        &story,
        pdf::with_pages(&[
            "The first page says hello. It has two sentences.",
            "The second page ends the story.",
        ]),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port);
    let output = tokio::task::spawn_blocking(move || {
        python
            .python(Some(dir.path()))
            .arg(assets().join("flow.py"))
            .args([
                base.as_str(),
                story.to_str().unwrap(),
                "The second page ends the story.",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "flow.py failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("sentences, last on page 2"), "{said}");
    worker.stop().await;
}
