//! `pdfctl migrate` against a real PostgreSQL database.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::process::Command;

use pdfq_test_support::TestDatabase;

fn migrate(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pdfctl"))
        .arg("migrate")
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

#[tokio::test]
async fn run_status_and_verify_report_what_the_database_has() {
    let db = TestDatabase::empty().await;
    let status = migrate(&db.url, &["status"]);
    assert!(
        !status.status.success(),
        "pending migrations are a failure of status"
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("pending"));
    let why = String::from_utf8_lossy(&status.stderr);
    assert!(
        why.contains("pending") && why.contains("pdfctl migrate run"),
        "status exits 1 without saying why: {why:?}"
    );

    let run = migrate(&db.url, &["run"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let verify = migrate(&db.url, &["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    sqlx::query("alter table jobs drop column current_step")
        .execute(&db.pool)
        .await
        .unwrap();
    let verify = migrate(&db.url, &["verify", "--json"]);
    assert!(!verify.status.success());
    let report: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let differences = report["differences"].to_string();
    assert!(differences.contains("current_step"), "{differences}");
}

#[test]
fn a_missing_database_url_says_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_pdfctl"))
        .args(["migrate", "verify"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL is not set"));
}
