//! The operator commands (jobs, queue, workers, plan, completions) against a live `pdfctl up`.

#![allow(
    clippy::unwrap_used,
    reason = "in tests an unwrap failing is the test failing"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Deployment, text};

/// Polls `jobs show` until the job is in a final state.
fn wait_terminal(up: &Deployment, id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = up.json(&["jobs", "show", id, "--json"]);
        let status = job["status"].as_str().unwrap().to_owned();
        if ["completed", "failed", "cancelled"].contains(&status.as_str()) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} stuck in {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn jobs_queue_and_workers_commands_operate_a_live_deployment() {
    let up = Deployment::start();
    let id = up.submit("kenobi.pdf");

    // list: the job, with its owner, in JSON and as a table.
    let list = up.json(&["jobs", "list", "--json"]);
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["jobs"][0]["job_id"], id.as_str());
    assert_eq!(list["jobs"][0]["owner_email"], "admin@pdfq.local");
    let table = up.run(&["jobs", "list", "--file", "kenobi"]);
    let table = text(&table.stdout);
    assert!(
        table.contains(&id[id.len() - 6..]) && table.contains("1 of 1 jobs"),
        "{table}"
    );

    // show by the first characters of the id.
    let job = wait_terminal(&up, &id[..8]);
    assert_eq!(job["status"], "completed", "{job}");
    let shown = text(&up.run(&["jobs", "show", &id]).stdout);
    assert!(
        shown.contains("completed (100%)") && shown.contains("kenobi.pdf"),
        "{shown}"
    );

    // retry of a completed job is refused with what to do next.
    let retry = up.run(&["jobs", "retry", &id]);
    assert!(!retry.status.success());
    assert!(
        text(&retry.stderr).contains("next:"),
        "{}",
        text(&retry.stderr)
    );

    // queue: stats, then pause (confirmed with --yes) and resume.
    let stats = up.json(&["queue", "stats", "--json"]);
    assert_eq!(stats["broker"], "memory", "{stats}");
    assert_eq!(stats["jobs_by_status"]["completed"], 1, "{stats}");
    let paused = up.json(&["queue", "pause", "--yes", "--json"]);
    assert_eq!(paused["paused"], true);
    let stats = up.json(&["queue", "stats", "--json"]);
    assert_eq!(stats["queue"]["paused"], true, "{stats}");
    // While paused a new job waits.
    let waiting = up.submit("waiting.pdf");
    let stats = up.json(&["queue", "stats", "--json"]);
    assert_eq!(stats["queue"]["waiting"], 1, "{stats}");
    // resume takes --yes as pause does, so scripts can pass the same flags to both.
    let resumed = up.json(&["queue", "resume", "--yes", "--json"]);
    assert_eq!(resumed["paused"], false);
    assert_eq!(wait_terminal(&up, &waiting)["status"], "completed");

    // Destructive commands refuse without --yes when nobody can be asked.
    let purge = up.run(&["queue", "purge-dead"]);
    assert!(!purge.status.success());
    assert!(
        text(&purge.stderr).contains("pass --yes"),
        "{}",
        text(&purge.stderr)
    );
    let purged = up.json(&["queue", "purge-dead", "--yes", "--json"]);
    assert_eq!(purged["purged"], 0);
    let delete = up.run(&["jobs", "delete", &id]);
    assert!(!delete.status.success());
    assert!(text(&delete.stderr).contains("pass --yes"));

    // workers: the embedded instance is there and fresh.
    let workers = up.json(&["workers", "list", "--json"]);
    let instances = workers.as_array().unwrap();
    assert!(!instances.is_empty(), "{workers}");
    assert!(instances.iter().all(|i| i["stale"] == false), "{workers}");
    let worker = instances
        .iter()
        .find(|i| i["kind"] == "worker")
        .and_then(|i| i["id"].as_str())
        .unwrap()
        .to_owned();
    let unknown = up.run(&["workers", "drain", "no-such-worker", "--yes"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("no such worker"),
        "{}",
        text(&unknown.stderr)
    );
    let unconfirmed = up.run(&["workers", "drain", &worker]);
    assert!(!unconfirmed.status.success());
    assert!(text(&unconfirmed.stderr).contains("pass --yes"));
    // Drained and idle: a new job waits; listed as draining; undrained, the job runs.
    let drained = up.json(&["workers", "drain", &worker, "--yes", "--wait", "--json"]);
    assert_eq!(drained["outcome"], "drained, idle", "{drained}");
    let held = up.submit("held.pdf");
    let listed = text(&up.run(&["workers", "list"]).stdout);
    assert!(listed.contains("DRAINING"), "{listed}");
    std::thread::sleep(Duration::from_secs(1));
    let job = up.json(&["jobs", "show", &held, "--json"]);
    assert_eq!(job["status"], "pending", "{job}");
    let undrained = up.json(&["workers", "undrain", &worker, "--json"]);
    assert_eq!(undrained["draining"], false, "{undrained}");
    assert_eq!(wait_terminal(&up, &held)["status"], "completed");

    // delete, confirmed.
    let deleted = up.json(&["jobs", "delete", &id, "--yes", "--json"]);
    assert_eq!(deleted["deleted"], true);
    let list = up.json(&["jobs", "list", "--json"]);
    assert_eq!(list["total"], 2, "{list}");
}

#[test]
fn short_ids_tell_jobs_made_together_apart_and_are_accepted_back() {
    let up = Deployment::start();
    assert!(up.run(&["queue", "pause", "--yes"]).status.success());
    let a = up.submit("a.pdf");
    let b = up.submit("b.pdf");
    // UUIDv7: made in the same minute, the two ids share their first 8 characters.
    assert_eq!(a[..8], b[..8]);

    let table = text(&up.run(&["jobs", "list"]).stdout);
    let shown: Vec<String> = table
        .lines()
        .skip(1)
        .filter(|l| l.contains("pending"))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(shown.len(), 2, "{table}");
    assert_ne!(shown[0], shown[1], "{table}");
    // Newest first: b, then a; each short id finds its own job.
    for (short, full) in shown.iter().zip([&b, &a]) {
        assert!(
            full.ends_with(short.as_str()),
            "{short} is not the end of {full}"
        );
        let job = up.json(&["jobs", "show", short, "--json"]);
        assert_eq!(job["job_id"], full.as_str(), "{short}");
    }
    // The shared start names both: refused, listing each with its short id.
    let ambiguous = up.run(&["jobs", "show", &a[..8]]);
    assert!(!ambiguous.status.success());
    let err = text(&ambiguous.stderr);
    assert!(
        err.contains("more than one job") && err.contains(&shown[0]) && err.contains(&shown[1]),
        "{err}"
    );
}

#[test]
fn cancel_retry_and_dead_letters_of_a_broken_pdf() {
    let up = Deployment::start();
    // A file that is not a PDF fails for good.
    let broken = up.dir.path().join("broken.pdf");
    std::fs::write(&broken, b"%PDF-1.4 this is not really a pdf").unwrap();
    let out = up
        .pdfctl()
        .args(["submit", "--json"])
        .arg(&broken)
        .output()
        .unwrap();
    let accepted: serde_json::Value = if out.status.success() {
        serde_json::from_slice(&out.stdout).unwrap()
    } else {
        panic!("{}", text(&out.stderr));
    };
    let id = accepted["job_id"].as_str().unwrap().to_owned();
    let job = wait_terminal(&up, &id);
    assert_eq!(job["status"], "failed", "{job}");
    let shown = text(&up.run(&["jobs", "show", &id]).stdout);
    assert!(shown.contains("error"), "{shown}");
    let failed = up.json(&["jobs", "list", "--status", "failed", "--json"]);
    assert_eq!(failed["total"], 1, "{failed}");

    let dead = up.json(&["queue", "dead", "--json"]);
    let dead_text = dead.to_string();
    let stats = up.json(&["queue", "stats", "--json"]);
    assert_eq!(
        stats["queue"]["dead"].as_u64().unwrap(),
        u64::try_from(dead.as_array().unwrap().len()).unwrap(),
        "{stats} {dead_text}"
    );

    // Retry puts it back in the queue (it fails again, the file has not changed).
    let retried = up.json(&["jobs", "retry", &id[id.len() - 6..], "--yes", "--json"]);
    assert_ne!(retried["status"], "failed", "{retried}");
    assert_eq!(wait_terminal(&up, &id)["status"], "failed");

    // Cancel a job that waits in a paused queue.
    assert!(up.run(&["queue", "pause", "--yes"]).status.success());
    let waiting = up.submit("waiting.pdf");
    let cancelled = up.json(&["jobs", "cancel", &waiting, "--yes", "--json"]);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    // Purge removes exactly what the queue counted as dead.
    let before = up.json(&["queue", "stats", "--json"]);
    let purged = up.json(&["queue", "purge-dead", "--yes", "--json"]);
    assert_eq!(
        purged["purged"], before["queue"]["dead"],
        "{purged} {before}"
    );
    let after = up.json(&["queue", "stats", "--json"]);
    assert_eq!(after["queue"]["dead"], 0, "{after}");
}

#[test]
fn dash_without_a_terminal_points_to_json_which_prints_the_overview() {
    let up = Deployment::start();
    let out = up.run(&["dash"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("pdfctl dash --json"),
        "{}",
        text(&out.stderr)
    );
    let overview = up.json(&["dash", "--json"]);
    assert_eq!(overview["broker"], "memory", "{overview}");
    assert_eq!(overview["health"]["status"], "healthy", "{overview}");
}

#[test]
fn an_unreachable_api_says_what_to_do() {
    let mut up = Deployment::start();
    up.stop();
    let out = up.run(&["jobs", "list"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("is the API running at") && err.contains("pdfctl up"),
        "{err}"
    );
    // The cause is given, once.
    assert!(err.contains("Connection refused"), "{err}");
    assert_eq!(err.matches("error sending request").count(), 1, "{err}");
    let login = up
        .pdfctl()
        .args(["login", "--email", "a@example.com", "--password", "x"])
        .output()
        .unwrap();
    let err = text(&login.stderr);
    assert_eq!(err.matches("error sending request").count(), 1, "{err}");

    let other = common::pdfctl_in(&up.config())
        .args(["--api-url", "http://127.0.0.1:9", "queue", "stats"])
        .output()
        .unwrap();
    assert!(text(&other.stderr).contains("not logged in"));
}

#[test]
fn plan_prints_the_sizing_and_fails_when_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let ok = common::pdfctl_in(dir.path())
        .args([
            "plan",
            "--api-replicas",
            "1",
            "--workers",
            "3",
            "--concurrency",
            "2",
            "--plan",
            "hobby",
            // The design's examples: direct connections, no redeploy counted.
            "--pooler-max-clients",
            "0",
            "--redeploy-overlap",
            "0",
        ])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    let table = text(&ok.stdout);
    assert!(
        table.contains("verdict: ok") && table.contains("= 12 connections"),
        "{table}"
    );

    let over = common::pdfctl_in(dir.path())
        .args([
            "plan",
            "--api-replicas",
            "3",
            "--workers",
            "4",
            "--concurrency",
            "4",
            "--plan",
            "pro",
            "--db-max-connections",
            "100",
            "--pooler-max-clients",
            "0",
            "--redeploy-overlap",
            "0",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(!over.status.success());
    let sizing: serde_json::Value = serde_json::from_slice(&over.stdout).unwrap();
    assert_eq!(sizing["verdict"], "fail");
    assert_eq!(sizing["total"], 177);
}

#[test]
fn plan_prints_the_largest_pool_that_fits_a_15_client_session_pooler() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::pdfctl_in(dir.path())
        .args([
            "plan",
            "--api-replicas",
            "2",
            "--workers",
            "1",
            "--pooler-max-clients",
            "15",
        ])
        .output()
        .unwrap();
    let table = text(&out.stdout);
    // 10 + 5 each for 2 API, 1 worker and 2 old API replicas during a redeploy, + 2 for pdfctl.
    assert!(!out.status.success(), "{table}");
    assert!(table.contains("77"), "{table}");
    assert!(table.contains("of the pooler's 15 clients"), "{table}");
    assert!(
        table.contains("largest pool that fits: DB_POOL_SIZE=2 DB_MAX_OVERFLOW=0"),
        "{table}"
    );
    assert!(table.contains("verdict: fail"), "{table}");

    // With that pool, the same deployment fits: 5 x 2 + 2 = 12 of 15.
    let fits = common::pdfctl_in(dir.path())
        .args([
            "plan",
            "--api-replicas",
            "2",
            "--workers",
            "1",
            "--concurrency",
            "1",
            "--db-pool-size",
            "2",
            "--max-overflow",
            "0",
            "--pooler-max-clients",
            "15",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(fits.status.success(), "{}", text(&fits.stdout));
    let sizing: serde_json::Value = serde_json::from_slice(&fits.stdout).unwrap();
    assert_eq!(sizing["total"], 12);
    assert_eq!(sizing["verdict"], "ok");
}

#[test]
fn completions_are_printed_for_bash() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::pdfctl_in(dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = text(&out.stdout);
    assert!(
        script.contains("_pdfctl") && script.contains("purge-dead"),
        "{}",
        &script[..200.min(script.len())]
    );
}

#[test]
fn login_prompts_on_its_own_line_and_refuses_an_empty_password_and_submit_wait_names_the_job() {
    use std::io::Write as _;
    use std::process::Stdio;

    let up = Deployment::start();
    let password = std::fs::read_to_string(up.data().join("admin-password")).unwrap();
    let login = |stdin: &str| {
        let mut child = up
            .pdfctl()
            .args(["login", "--email", "admin@pdfq.local"])
            .env_remove("PDFQ_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let piped = login(&password);
    let err = text(&piped.stderr);
    assert!(piped.status.success(), "{err}");
    assert_eq!(
        err.lines().next(),
        Some("password for admin@pdfq.local: "),
        "{err}"
    );
    assert!(
        err.lines().nth(1).unwrap().starts_with("logged in"),
        "{err}"
    );
    let empty = login("");
    let err = text(&empty.stderr);
    assert!(!empty.status.success());
    assert!(err.contains("no password given"), "{err}");

    let pdf = up.dir.path().join("wait.pdf");
    std::fs::write(
        &pdf,
        pdfq_test_support::pdf::text_pdf(&["Hello there. General Kenobi!"]),
    )
    .unwrap();
    let waited = up
        .pdfctl()
        .args(["submit", "--wait"])
        .arg(&pdf)
        .output()
        .unwrap();
    let err = text(&waited.stderr);
    assert!(waited.status.success(), "{err}");
    let first = err.lines().next().unwrap_or_default();
    let id = first
        .strip_prefix("job ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the job id is not said first: {err}"));
    let job = up.json(&["jobs", "show", id, "--json"]);
    assert_eq!(job["status"], "completed", "{job}");
    assert!(text(&waited.stdout).contains("General Kenobi!"));
}

/// `pdfctl submit` of `bytes` named `name`, against `up`.
fn submit_bytes(up: &Deployment, name: &str, bytes: &[u8]) -> std::process::Output {
    let path = up.dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    up.pdfctl().arg("submit").arg(&path).output().unwrap()
}

#[test]
fn refused_uploads_print_the_servers_answer_and_how_to_raise_the_limit() {
    let up =
        Deployment::start_with(&[("MAX_UPLOAD_BYTES", "1MB"), ("UPLOAD_RATE_LIMIT", "1/hour")]);
    // Over the size limit: the server answers 413 from the declared length and closes while
    // the file is still being sent.
    let mut big = pdfq_test_support::pdf::text_pdf(&["Too big."]);
    big.resize(8 << 20, b' ');
    let out = submit_bytes(&up, "big.pdf", &big);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("413") && err.contains("MAX_UPLOAD_BYTES") && !err.contains("Broken pipe"),
        "{err}"
    );

    // The second upload within the hour: 429, with the setting that raises the limit.
    let small = pdfq_test_support::pdf::text_pdf(&["Hello there."]);
    assert!(submit_bytes(&up, "one.pdf", &small).status.success());
    let out = submit_bytes(&up, "two.pdf", &small);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("429") && err.contains("UPLOAD_RATE_LIMIT") && err.contains("100/hour"),
        "{err}"
    );
}

#[test]
fn the_overviews_throughput_comes_from_the_database_and_survives_a_restart() {
    let mut up = Deployment::start();
    let id = up.submit("counted.pdf");
    assert_eq!(wait_terminal(&up, &id)["status"], "completed");
    let processed = |up: &Deployment| -> u64 {
        let overview = up.json(&["dash", "--json"]);
        let minutes = overview["throughput"].as_array().unwrap().clone();
        assert_eq!(minutes.len(), 60, "{overview}");
        minutes
            .iter()
            .map(|m| m["processed"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(processed(&up), 1);
    up.stop();
    up.restart();
    assert_eq!(processed(&up), 1, "the history was lost with the process");
}

#[test]
fn bulk_actions_count_first_ask_naming_the_count_then_act_on_every_match() {
    let up = Deployment::start();
    let mut broken = Vec::new();
    for name in ["x1.pdf", "x2.pdf", "x3.pdf"] {
        let out = submit_bytes(&up, name, b"%PDF-1.4 this is not really a pdf");
        assert!(out.status.success(), "{}", text(&out.stderr));
        broken.push(text(&out.stdout).trim().to_owned());
    }
    let good = up.submit("good.pdf");
    for id in broken.iter().chain([&good]) {
        wait_terminal(&up, id);
    }
    let failed = up.json(&["jobs", "show", &broken[0], "--json"]);
    let code = failed["error"]["code"].as_str().unwrap().to_owned();

    // A filter is required.
    let bare = up.run(&["jobs", "bulk", "retry", "--yes"]);
    assert!(!bare.status.success());
    assert!(
        text(&bare.stderr).contains("needs a filter"),
        "{}",
        text(&bare.stderr)
    );
    // Dry run: the count, nothing done.
    let dry = up.json(&[
        "jobs",
        "bulk",
        "retry",
        "--error-code",
        &code,
        "--dry-run",
        "--json",
    ]);
    assert_eq!(
        (dry["matched"].as_u64(), dry["acted"].as_u64()),
        (Some(3), Some(0)),
        "{dry}"
    );
    // Without --yes and no terminal: refused, naming the count.
    let unconfirmed = up.run(&["jobs", "bulk", "retry", "--error-code", &code]);
    assert!(!unconfirmed.status.success());
    let err = text(&unconfirmed.stderr);
    assert!(
        err.contains("retry 3 job(s)") && err.contains("--yes"),
        "{err}"
    );
    // Confirmed: all three go back to the queue (and fail again: the files have not changed).
    let done = up.json(&[
        "jobs",
        "bulk",
        "retry",
        "--error-code",
        &code,
        "--yes",
        "--json",
    ]);
    assert_eq!(
        (done["matched"].as_u64(), done["acted"].as_u64()),
        (Some(3), Some(3)),
        "{done}"
    );
    for id in &broken {
        let job = wait_terminal(&up, id);
        assert_eq!(job["attempts"], 2, "{job}");
    }
    // Delete by status: only the completed one goes.
    let deleted = up.json(&[
        "jobs",
        "bulk",
        "delete",
        "--status",
        "completed",
        "--yes",
        "--json",
    ]);
    assert_eq!(deleted["acted"], 1, "{deleted}");
    let left = up.json(&["jobs", "list", "--json"]);
    assert_eq!(left["total"], 3, "{left}");
    // Cancel of finished jobs: matched, but skipped, not an error.
    let cancel = up.json(&[
        "jobs", "bulk", "cancel", "--status", "failed", "--yes", "--json",
    ]);
    assert_eq!(
        (cancel["acted"].as_u64(), cancel["skipped"].as_u64()),
        (Some(0), Some(3)),
        "{cancel}"
    );
    // Nothing older than a day.
    let old = up.json(&[
        "jobs",
        "bulk",
        "delete",
        "--older-than",
        "1d",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(old["matched"], 0, "{old}");
}

#[test]
fn errors_are_grouped_by_code_and_pattern_with_counts_and_a_retry_hint() {
    let up = Deployment::start();
    let mut ids = Vec::new();
    for name in ["e1.pdf", "e2.pdf"] {
        let out = submit_bytes(&up, name, b"%PDF-1.4 this is not really a pdf");
        ids.push(text(&out.stdout).trim().to_owned());
    }
    let good = up.submit("fine.pdf");
    for id in ids.iter().chain([&good]) {
        wait_terminal(&up, id);
    }
    let code = up.json(&["jobs", "show", &ids[0], "--json"])["error"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let groups = up.json(&["jobs", "errors", "--json"]);
    assert_eq!(groups["failures"], 2, "{groups}");
    let group = &groups["groups"][0];
    assert_eq!(
        (group["code"].as_str(), group["count"].as_u64()),
        (Some(code.as_str()), Some(2)),
        "{groups}"
    );
    assert!(
        ids.contains(&group["example_job"].as_str().unwrap().to_owned()),
        "{groups}"
    );
    let table = text(&up.run(&["jobs", "errors", "--since", "1h"]).stdout);
    assert!(
        table.contains(&code)
            && table.contains("2 failure(s) in the last 1h00m, 1 group(s)")
            && table.contains(&format!("--error-code {code}")),
        "{table}"
    );
}
