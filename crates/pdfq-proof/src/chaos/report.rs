//! The run's report: counts, per-fault recovery and API answers, the verdict, printed as a
//! table or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// Everything the run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: String,
    pub passed: bool,
    /// Why it failed, one line each (empty when it passed).
    pub failures: Vec<String>,
    pub duration_secs: f64,
    pub workers: usize,
    pub users: usize,
    pub planned_jobs: usize,
    /// Jobs the API accepted (202).
    pub submitted: usize,
    pub upload_attempts: u64,
    /// Valid jobs completed with the right result.
    pub completed: usize,
    /// Poison jobs that failed (at once, with a permanent error).
    pub failed_as_expected: usize,
    pub poison_failure_codes: BTreeMap<String, usize>,
    /// Accepted jobs that never ended (or vanished).
    pub lost: Vec<JobIssue>,
    /// Jobs whose result was written more than once (more than one completion or failure).
    pub duplicates: Vec<JobIssue>,
    /// Valid jobs that failed or were cancelled.
    pub unexpected_failures: Vec<JobIssue>,
    /// Poison jobs that completed.
    pub unexpected_completions: Vec<JobIssue>,
    /// Completed jobs whose stored result does not match their PDF.
    pub wrong_results: Vec<JobIssue>,
    /// Jobs in the database the driver was never told about (an upload whose answer was lost);
    /// judged like the others.
    pub unacknowledged_jobs: usize,
    /// Uploads refused with a 4xx other than 429.
    pub rejected_uploads: Vec<String>,
    /// Uploads still failing at the submission deadline.
    pub abandoned_uploads: Vec<String>,
    pub faults: Vec<FaultReport>,
    /// Answers the driver got outside any fault window, by call and status.
    pub answers_outside_faults: BTreeMap<String, BTreeMap<String, u64>>,
    /// Calls that got no answer ("transport" above), by call and error.
    pub unanswered: BTreeMap<String, u64>,
    /// 5xx answers other than 503 that the API logged (status -> count).
    pub api_logged_bad_5xx: BTreeMap<String, u64>,
    /// How many times each worker was started.
    pub worker_starts: BTreeMap<String, u32>,
    /// Retries (attempts above one) over all jobs.
    pub extra_attempts: u64,
    pub log_dir: String,
}

/// A job that went wrong, with what was seen.
#[derive(Debug, Clone, Serialize)]
pub struct JobIssue {
    pub job_id: String,
    pub file_name: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    pub fault: String,
    pub target: Option<String>,
    /// Seconds from the start of the run.
    pub at_secs: f64,
    /// How long the fault lasted (0 for a kill or a restart that returns at once).
    pub duration_secs: f64,
    /// Jobs running when it hit (for Redis: every job not yet ended).
    pub touched_jobs: usize,
    /// From the end of the fault to the first job ending after it.
    pub resumed_after_secs: Option<f64>,
    /// From the start of the fault until every touched job had ended.
    pub recovered_after_secs: Option<f64>,
    /// API answers during the fault and its recovery, by call and status.
    pub answers: BTreeMap<String, BTreeMap<String, u64>>,
    /// The slowest answer in that window (a request may wait for a database coming back).
    pub slowest_answer_secs: Option<f64>,
}

fn secs(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"))
}

fn statuses(answers: &BTreeMap<String, BTreeMap<String, u64>>) -> String {
    let mut merged: BTreeMap<&str, u64> = BTreeMap::new();
    for by_status in answers.values() {
        for (status, n) in by_status {
            *merged.entry(status.as_str()).or_insert(0) += n;
        }
    }
    if merged.is_empty() {
        return "-".to_owned();
    }
    merged
        .iter()
        .map(|(s, n)| format!("{s}x{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Report {
    /// The human-readable report.
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = String::new();
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        let _ = writeln!(
            out,
            "\npdfq chaos ({}): {verdict} in {:.0} s, {} workers, {} users",
            self.mode, self.duration_secs, self.workers, self.users
        );
        let _ = writeln!(out, "\n| measure | value | required |");
        let _ = writeln!(out, "|---|---|---|");
        let rows: [(&str, String, &str); 10] = [
            (
                "submitted (accepted, 202)",
                format!(
                    "{} of {} ({} upload attempts)",
                    self.submitted, self.planned_jobs, self.upload_attempts
                ),
                "all",
            ),
            ("completed", self.completed.to_string(), ""),
            (
                "failed as expected (poison)",
                format!(
                    "{} ({})",
                    self.failed_as_expected,
                    self.poison_failure_codes
                        .iter()
                        .map(|(c, n)| format!("{c} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "",
            ),
            ("lost", self.lost.len().to_string(), "0"),
            (
                "results written more than once",
                self.duplicates.len().to_string(),
                "0",
            ),
            (
                "unexpected failures / completions",
                format!(
                    "{} / {}",
                    self.unexpected_failures.len(),
                    self.unexpected_completions.len()
                ),
                "0 / 0",
            ),
            ("wrong results", self.wrong_results.len().to_string(), "0"),
            (
                "uploads rejected / abandoned",
                format!(
                    "{} / {}",
                    self.rejected_uploads.len(),
                    self.abandoned_uploads.len()
                ),
                "0 / 0",
            ),
            (
                "API 5xx other than 503 (logged by the API)",
                self.api_logged_bad_5xx.values().sum::<u64>().to_string(),
                "0",
            ),
            (
                "jobs the driver never heard of / retried attempts",
                format!("{} / {}", self.unacknowledged_jobs, self.extra_attempts),
                "",
            ),
        ];
        for (name, value, required) in rows {
            let _ = writeln!(out, "| {name} | {value} | {required} |");
        }
        let _ = writeln!(
            out,
            "\n| # | fault | at | lasted | jobs hit | queue resumed after | hit jobs ended after | API answers in the window | slowest answer |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
        for (n, fault) in self.faults.iter().enumerate() {
            let name = match &fault.target {
                Some(target) => format!("{} ({target})", fault.fault),
                None => fault.fault.clone(),
            };
            let _ = writeln!(
                out,
                "| {} | {name} | {:.0} s | {:.1} s | {} | {} | {} | {} | {} |",
                n + 1,
                fault.at_secs,
                fault.duration_secs,
                fault.touched_jobs,
                secs(fault.resumed_after_secs),
                secs(fault.recovered_after_secs),
                statuses(&fault.answers),
                secs(fault.slowest_answer_secs)
            );
        }
        let _ = writeln!(
            out,
            "\nAPI answers outside faults: {}",
            statuses(&self.answers_outside_faults)
        );
        for (error, count) in &self.unanswered {
            let _ = writeln!(out, "not answered x{count}: {error}");
        }
        for (title, issues) in [
            ("lost", &self.lost),
            ("written more than once", &self.duplicates),
            ("unexpected failures", &self.unexpected_failures),
            ("unexpected completions", &self.unexpected_completions),
            ("wrong results", &self.wrong_results),
        ] {
            for issue in issues.iter().take(20) {
                let _ = writeln!(
                    out,
                    "{title}: job {} ({}): {}",
                    issue.job_id, issue.file_name, issue.detail
                );
            }
            if issues.len() > 20 {
                let _ = writeln!(out, "{title}: ... and {} more", issues.len() - 20);
            }
        }
        for line in self
            .rejected_uploads
            .iter()
            .chain(&self.abandoned_uploads)
            .take(20)
        {
            let _ = writeln!(out, "upload: {line}");
        }
        for failure in &self.failures {
            let _ = writeln!(out, "FAILURE: {failure}");
        }
        let _ = writeln!(out, "logs: {}", self.log_dir);
        out
    }
}
