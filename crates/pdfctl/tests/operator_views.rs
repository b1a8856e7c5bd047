//! `pdfctl audit` and `pdfctl throughput` against a live `pdfctl up` (issue 17, items 8 and 9).

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Deployment, text};

#[test]
fn audit_names_the_operator_and_throughput_counts_the_finished_job() {
    let up = Deployment::start();
    let id = up.submit("one.pdf");
    let deadline = Instant::now() + Duration::from_secs(60);
    while up.json(&["jobs", "show", &id, "--json"])["status"] != "completed" {
        assert!(Instant::now() < deadline, "job {id} did not complete");
        std::thread::sleep(Duration::from_millis(200));
    }
    for args in [&["queue", "pause", "--yes"][..], &["queue", "resume"]] {
        let out = up.run(args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    let entries = up.json(&["audit", "--json"]);
    let actions: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["resume", "pause"], "{entries}");
    assert_eq!(entries[0]["actor_email"], "admin@pdfq.local", "{entries}");
    let table = text(&up.run(&["audit", "--since", "1h"]).stdout);
    let row = table
        .lines()
        .find(|l| l.contains("pause"))
        .unwrap_or_default();
    assert!(row.contains("admin@pdfq.local"), "{table}");

    let t = up.json(&["throughput", "--json"]);
    assert_eq!(t["window"], "1h");
    assert_eq!(t["overall"].as_array().unwrap().len(), 60, "{t}");
    let completed: u64 = t["overall"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["completed"].as_u64().unwrap())
        .sum();
    assert_eq!(completed, 1, "{t}");
    assert_eq!(t["workers"].as_array().unwrap().len(), 1, "{t}");
    let day = up.json(&["throughput", "--window", "24h", "--json"]);
    assert_eq!(day["overall"].as_array().unwrap().len(), 96, "{day}");
    let shown = text(&up.run(&["throughput"]).stdout);
    assert!(
        shown.contains("completed, all workers: 1") && shown.contains("pages, all workers: 1"),
        "{shown}"
    );
    let bad = up.run(&["throughput", "--window", "2h"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("expected 1h or 24h"),
        "{}",
        text(&bad.stderr)
    );
}
