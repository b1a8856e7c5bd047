//! `pdfctl jobs purge` on a real PostgreSQL database and on an SQLite file: a dry run counts,
//! no terminal and no --yes refuses, --yes deletes only what matched.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

use std::process::{Command, Output, Stdio};

use pdfq_domain::{JobId, JobStatus, WorkerId};
use pdfq_store::{NewJob, Role, Store};
use pdfq_test_support::TestDatabase;

fn purge(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdfctl"))
        .args(["jobs", "purge"])
        .args(args)
        .env("DATABASE_URL", url)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Two failed jobs, one completed, one pending; returns the pending one.
async fn jobs(store: &Store) -> JobId {
    let owner = store
        .create_user("ann@example.com", "h", Role::User)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..4 {
        let new = NewJob {
            id: JobId::new(),
            owner: owner.id,
            file_name: format!("{n}.pdf"),
            file_size: 5,
            sha256: [0; 32],
            content: b"%PDF-".to_vec().into(),
            quotas: pdfq_store::Quotas::NONE,
        };
        ids.push(store.create_job(&new).await.unwrap().id);
    }
    let worker = WorkerId::generate("t", 1);
    for (id, status) in ids
        .iter()
        .zip([JobStatus::Failed, JobStatus::Failed, JobStatus::Completed])
    {
        let attempt = store
            .claim_job(*id, &worker)
            .await
            .unwrap()
            .unwrap()
            .attempt;
        if status == JobStatus::Failed {
            store.fail_job(*id, attempt, "x", "x", None).await.unwrap();
        } else {
            store.complete_job(*id, attempt, 0, 0).await.unwrap();
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ids[3]
}

async fn purges_only_what_matched(url: &str, store: &Store) {
    let pending = jobs(store).await;
    let dry = json(&purge(
        url,
        &[
            "--older-than",
            "1s",
            "--status",
            "failed",
            "--dry-run",
            "--json",
        ],
    ));
    assert_eq!(
        dry,
        serde_json::json!({"matched": 2, "deleted": 0, "dry_run": true})
    );
    let old = json(&purge(url, &["--older-than", "7d", "--json", "--yes"]));
    assert_eq!(old["matched"], 0, "nothing ended a week ago");

    let refused = purge(url, &["--older-than", "1s", "--status", "failed"]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("2 failed jobs") && why.contains("--yes"),
        "{why}"
    );

    let live = purge(url, &["--older-than", "1s", "--status", "pending", "--yes"]);
    assert!(!live.status.success());
    assert!(String::from_utf8_lossy(&live.stderr).contains("only ended jobs"));

    let done = json(&purge(
        url,
        &[
            "--older-than",
            "1s",
            "--status",
            "failed",
            "--yes",
            "--json",
        ],
    ));
    assert_eq!(
        done,
        serde_json::json!({"matched": 2, "deleted": 2, "dry_run": false})
    );
    let text = purge(url, &["--older-than", "1s", "--yes"]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("deleted 1 job"));
    let counts = store.count_by_status().await.unwrap();
    let total: u64 = JobStatus::ALL.into_iter().map(|s| counts.get(s)).sum();
    assert_eq!((counts.get(JobStatus::Pending), total), (1, 1));
    assert!(store.get_job(pending).await.unwrap().is_some());
    // Each purge that deleted something is in the audit log (the dry run is not).
    let audit = store.audit_entries(None, None, 10).await.unwrap();
    let purges: Vec<(&str, u64, Option<&str>)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.count, e.target.as_deref()))
        .collect();
    assert_eq!(
        purges,
        vec![
            ("purge_jobs", 1, Some("older than 1s")),
            ("purge_jobs", 2, Some("older than 1s, status failed")),
        ]
    );
    assert!(
        audit
            .iter()
            .all(|e| e.actor_id.is_none() && e.actor_email.contains('@'))
    );
}

#[tokio::test]
async fn postgres_purges_only_what_matched() {
    let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
    let store = Store::connect(&db.url).await.unwrap();
    purges_only_what_matched(&db.url, &store).await;
}

#[tokio::test]
async fn sqlite_purges_only_what_matched() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("pdfq.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    purges_only_what_matched(&url, &store).await;
}
