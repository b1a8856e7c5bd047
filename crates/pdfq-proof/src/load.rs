//! The load suite run by `cargo xtask load`: many users upload PDFs one after the other and poll
//! each job until it ends (so uploads and status reads run side by side), against a distributed
//! deployment with the upload rate limit raised. It reports throughput, latency percentiles per
//! kind of call, the error rate, and the resident memory of the API and each worker over time,
//! which must stay flat after warm-up (less than 10% growth).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use pdfq_client::{Client, ClientError};
use pdfq_domain::JobStatus;
use serde::Serialize;

use crate::chaos::traffic::create_users;
use crate::deployment::{Deployment, DeploymentOptions};
use crate::procfs;

/// Memory may grow this much from just after warm-up to the end of the run.
pub const MAX_GROWTH: f64 = 0.10;

/// How the run is shaped.
#[derive(Debug, Clone)]
pub struct Options {
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
    /// Users, each with one job in flight at a time.
    pub users: usize,
    pub workers: usize,
    /// Jobs each worker runs at once.
    pub concurrency: usize,
    /// Load after the warm-up, measured.
    pub duration: Duration,
    /// Load before the measurement starts, so caches, pools and allocators settle.
    pub warmup: Duration,
    /// How often a user reads its job's status while it runs.
    pub poll_every: Duration,
    /// How often memory is read.
    pub sample_every: Duration,
}

/// One call's outcome.
#[derive(Debug, Clone, Copy)]
struct Call {
    kind: Kind,
    at: Instant,
    latency: Duration,
    /// `None`: no answer (transport error).
    status: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Upload,
    Status,
}

/// A job seen from upload to its end.
#[derive(Debug, Clone, Copy)]
struct Finished {
    at: Instant,
    took: Duration,
    completed: bool,
}

#[derive(Debug, Default)]
struct Log {
    calls: Vec<Call>,
    jobs: Vec<Finished>,
}

/// Memory of every process at one moment, in KiB (`None`: not running then).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub secs: f64,
    pub rss_kib: Vec<Option<u64>>,
}

/// Latency percentiles and counts of one kind of call, over the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct CallStats {
    pub kind: String,
    pub count: usize,
    pub per_second: f64,
    pub errors: usize,
    pub server_errors: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// One process's memory: at idle, just after warm-up, at the end, and the growth between.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryStats {
    pub process: String,
    pub idle_mib: f64,
    pub after_warmup_mib: f64,
    pub end_mib: f64,
    pub peak_mib: f64,
    pub growth: f64,
    pub flat: bool,
}

/// What the run found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub users: usize,
    pub workers: usize,
    pub concurrency: usize,
    pub measured_secs: f64,
    pub jobs_completed: usize,
    pub jobs_failed: usize,
    pub jobs_per_second: f64,
    pub job_p50_ms: f64,
    pub job_p95_ms: f64,
    pub job_p99_ms: f64,
    pub calls: Vec<CallStats>,
    pub error_rate: f64,
    pub memory: Vec<MemoryStats>,
    pub processes: Vec<String>,
    pub samples: Vec<Sample>,
}

impl Report {
    /// Flat memory, no 5xx, no failed job, and under 1% of calls in error.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.memory.iter().all(|m| m.flat)
            && self.calls.iter().all(|c| c.server_errors == 0)
            && self.jobs_failed == 0
            && self.error_rate < 0.01
            && self.jobs_completed > 0
    }

    /// The report as a table for people.
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "load: {} users, {} workers x {} concurrency, measured {:.0} s after warm-up",
            self.users, self.workers, self.concurrency, self.measured_secs
        );
        let _ = writeln!(
            out,
            "jobs: {} completed, {} failed, {:.1} jobs/s; upload to completion p50/p95/p99 {:.0}/{:.0}/{:.0} ms",
            self.jobs_completed,
            self.jobs_failed,
            self.jobs_per_second,
            self.job_p50_ms,
            self.job_p95_ms,
            self.job_p99_ms
        );
        let _ = writeln!(
            out,
            "\n{:<8} {:>8} {:>8} {:>7} {:>5} {:>9} {:>9} {:>9}",
            "call", "count", "req/s", "errors", "5xx", "p50 ms", "p95 ms", "p99 ms"
        );
        for c in &self.calls {
            let _ = writeln!(
                out,
                "{:<8} {:>8} {:>8.1} {:>7} {:>5} {:>9.2} {:>9.2} {:>9.2}",
                c.kind,
                c.count,
                c.per_second,
                c.errors,
                c.server_errors,
                c.p50_ms,
                c.p95_ms,
                c.p99_ms
            );
        }
        let _ = writeln!(out, "error rate {:.3}%", self.error_rate * 100.0);
        let _ = writeln!(
            out,
            "\nresident memory (MiB)\n{:<10} {:>8} {:>12} {:>8} {:>8} {:>8}",
            "process", "idle", "after warmup", "end", "peak", "growth"
        );
        for m in &self.memory {
            let _ = writeln!(
                out,
                "{:<10} {:>8.1} {:>12.1} {:>8.1} {:>8.1} {:>7.1}%{}",
                m.process,
                m.idle_mib,
                m.after_warmup_mib,
                m.end_mib,
                m.peak_mib,
                m.growth * 100.0,
                if m.flat { "" } else { "  NOT FLAT" }
            );
        }
        let _ = write!(out, "\nover time (s: MiB per process)\n{:>6}", "s");
        for p in &self.processes {
            let _ = write!(out, " {p:>9}");
        }
        out.push('\n');
        // About twelve rows whatever the length of the run.
        let step = (self.samples.len() / 12).max(1);
        for (i, s) in self.samples.iter().enumerate() {
            if i % step != 0 && i + 1 != self.samples.len() {
                continue;
            }
            let _ = write!(out, "{:>6.0}", s.secs);
            for kib in &s.rss_kib {
                match kib {
                    Some(kib) => {
                        let _ = write!(out, " {:>9.1}", mib(*kib));
                    }
                    None => {
                        let _ = write!(out, " {:>9}", "-");
                    }
                }
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "\n{}",
            if self.passed() {
                "PASSED: memory flat (growth under 10% after warm-up), no 5xx, no failed job"
            } else {
                "FAILED: see above"
            }
        );
        out
    }
}

#[allow(clippy::cast_precision_loss, reason = "KiB to MiB for display")]
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Starts the deployment, runs the load, stops everything, and reports.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let deployment = Deployment::start(
        DeploymentOptions {
            workers: options.workers,
            ..DeploymentOptions::new(&options.bin_dir, &options.log_dir)
        }
        // The design's 10 uploads per hour per user would stop the run at once.
        .api_env("UPLOAD_RATE_LIMIT", "1000000/minute")
        // Every simulated user registers from 127.0.0.1.
        .api_env("REGISTER_RATE_LIMIT", "100000/hour")
        .api_env("RUST_LOG", "warn")
        .worker_env("WORKER_CONCURRENCY", &options.concurrency.to_string())
        .worker_env("RUST_LOG", "warn"),
    )
    .await
    .context("starting the deployment")?;
    let result = drive(&deployment, options).await;
    deployment.shutdown().await;
    result
}

async fn drive(deployment: &Deployment, options: &Options) -> anyhow::Result<Report> {
    let mut pids = vec![("api".to_owned(), deployment.api.pid())];
    for w in &deployment.workers {
        pids.push((w.name().to_owned(), w.pid()));
    }
    let processes: Vec<String> = pids.iter().map(|(name, _)| name.clone()).collect();
    let pids: Vec<Option<u32>> = pids.into_iter().map(|(_, pid)| pid).collect();

    let users: Vec<Client> = create_users(deployment.api_url(), "load", options.users)
        .await?
        .into_iter()
        .map(|user| user.client)
        .collect();
    // Idle: everything started, nothing asked of it yet.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: Vec<Option<u64>> = pids.iter().map(|p| p.and_then(procfs::rss_kib)).collect();

    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let log = Arc::new(Mutex::new(Log::default()));
    let samples = Arc::new(Mutex::new(Vec::new()));

    let sampler = {
        let samples = Arc::clone(&samples);
        let pids = pids.clone();
        let every = options.sample_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            while Instant::now() < end {
                tick.tick().await;
                let sample = Sample {
                    secs: start.elapsed().as_secs_f64(),
                    rss_kib: pids.iter().map(|p| p.and_then(procfs::rss_kib)).collect(),
                };
                if let Ok(mut s) = samples.lock() {
                    s.push(sample);
                }
            }
        })
    };
    let pdfs = Arc::new(documents());
    let mut tasks = tokio::task::JoinSet::new();
    for (n, client) in users.into_iter().enumerate() {
        let log = Arc::clone(&log);
        let pdfs = Arc::clone(&pdfs);
        let poll_every = options.poll_every;
        tasks.spawn(async move { user_loop(n, &client, &pdfs, poll_every, end, &log).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a user task panicked")?;
    }
    let _ = sampler.await;

    let log = log
        .lock()
        .map_err(|_| anyhow::anyhow!("the call log was poisoned"))?;
    let samples = samples
        .lock()
        .map_err(|_| anyhow::anyhow!("the samples were poisoned"))?
        .clone();
    Ok(report(
        options,
        &log,
        &processes,
        &idle,
        samples,
        measure_from,
        end,
        start,
    ))
}

/// Uploads, polls until the job ends, and again, until `end`.
async fn user_loop(
    n: usize,
    client: &Client,
    pdfs: &[Vec<u8>],
    poll_every: Duration,
    end: Instant,
    log: &Mutex<Log>,
) {
    let record = |call: Call| {
        if let Ok(mut log) = log.lock() {
            log.calls.push(call);
        }
    };
    let mut i = n;
    while Instant::now() < end {
        i += 1;
        let bytes = pdfs[i % pdfs.len()].clone();
        let sent = Instant::now();
        let accepted = client.upload(&format!("load-{n}-{i}.pdf"), bytes).await;
        record(Call {
            kind: Kind::Upload,
            at: sent,
            latency: sent.elapsed(),
            status: status_of(accepted.as_ref().map(|_| 202)),
        });
        let Ok(accepted) = accepted else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        // The job runs to its end even past `end`: no job is left half-seen (bounded anyway).
        let give_up = Instant::now() + Duration::from_secs(120);
        loop {
            tokio::time::sleep(poll_every).await;
            let asked = Instant::now();
            let job = client.job(accepted.job_id).await;
            record(Call {
                kind: Kind::Status,
                at: asked,
                latency: asked.elapsed(),
                status: status_of(job.as_ref().map(|_| 200)),
            });
            let ended = match &job {
                Ok(job) if job.status.is_terminal() => Some(job.status == JobStatus::Completed),
                _ if Instant::now() > give_up => Some(false),
                _ => None,
            };
            if let Some(completed) = ended {
                if let Ok(mut log) = log.lock() {
                    log.jobs.push(Finished {
                        at: Instant::now(),
                        took: sent.elapsed(),
                        completed,
                    });
                }
                break;
            }
        }
    }
}

fn status_of(result: Result<u16, &ClientError>) -> Option<u16> {
    match result {
        Ok(status) => Some(status),
        Err(e) => e.status(),
    }
}

/// A few real PDFs of different sizes (1 to 12 pages of prose), generated here.
fn documents() -> Vec<Vec<u8>> {
    let paragraph = "The committee met on a grey morning to review the quarterly figures. \
        Revenue rose slightly while costs fell, which pleased nobody as much as expected. \
        Dr. Smith asked whether the numbers for Q3 were final; they were not. \
        The meeting ended at 11 a.m. with three actions and one open question.";
    [1usize, 2, 4, 8, 12]
        .iter()
        .map(|pages| {
            let texts: Vec<String> = (1..=*pages)
                .map(|p| format!("Page {p}. {paragraph} {paragraph}"))
                .collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            pdfq_test_support::pdf::text_pdf(&refs)
        })
        .collect()
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the pieces of one run"
)]
fn report(
    options: &Options,
    log: &Log,
    processes: &[String],
    idle: &[Option<u64>],
    samples: Vec<Sample>,
    measure_from: Instant,
    end: Instant,
    start: Instant,
) -> Report {
    let window = end.duration_since(measure_from).as_secs_f64();
    let measured = |at: Instant| at >= measure_from && at < end;
    let mut calls = Vec::new();
    let mut all = 0usize;
    let mut errors_total = 0usize;
    for kind in [Kind::Upload, Kind::Status] {
        let of_kind: Vec<&Call> = log
            .calls
            .iter()
            .filter(|c| c.kind == kind && measured(c.at))
            .collect();
        let mut latencies: Vec<f64> = of_kind
            .iter()
            .map(|c| c.latency.as_secs_f64() * 1000.0)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let errors = of_kind
            .iter()
            .filter(|c| !c.status.is_some_and(|s| (200..300).contains(&s)))
            .count();
        let server_errors = of_kind
            .iter()
            .filter(|c| c.status.is_some_and(|s| s >= 500))
            .count();
        all += of_kind.len();
        errors_total += errors;
        calls.push(CallStats {
            kind: match kind {
                Kind::Upload => "upload".to_owned(),
                Kind::Status => "status".to_owned(),
            },
            count: of_kind.len(),
            per_second: per_second(of_kind.len(), window),
            errors,
            server_errors,
            p50_ms: percentile(&latencies, 0.50),
            p95_ms: percentile(&latencies, 0.95),
            p99_ms: percentile(&latencies, 0.99),
        });
    }
    let jobs: Vec<&Finished> = log.jobs.iter().filter(|j| measured(j.at)).collect();
    let mut took: Vec<f64> = jobs
        .iter()
        .filter(|j| j.completed)
        .map(|j| j.took.as_secs_f64() * 1000.0)
        .collect();
    took.sort_by(f64::total_cmp);
    let completed = took.len();
    // Failed jobs count over the whole run: none may fail, warm-up or not.
    let failed = log.jobs.iter().filter(|j| !j.completed).count();
    let warm_secs = measure_from.duration_since(start).as_secs_f64();
    let memory = memory_stats(processes, idle, &samples, warm_secs);
    #[allow(clippy::cast_precision_loss, reason = "a ratio of counts")]
    let error_rate = if all == 0 {
        0.0
    } else {
        errors_total as f64 / all as f64
    };
    Report {
        users: options.users,
        workers: options.workers,
        concurrency: options.concurrency,
        measured_secs: window,
        jobs_completed: completed,
        jobs_failed: failed,
        jobs_per_second: per_second(completed, window),
        job_p50_ms: percentile(&took, 0.50),
        job_p95_ms: percentile(&took, 0.95),
        job_p99_ms: percentile(&took, 0.99),
        calls,
        error_rate,
        memory,
        processes: processes.to_vec(),
        samples,
    }
}

#[allow(clippy::cast_precision_loss, reason = "a rate for display")]
fn per_second(count: usize, secs: f64) -> f64 {
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// The nearest-rank percentile of sorted values; 0 when there are none.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index from a fraction of a length"
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Growth from just after warm-up to the end, each the median of three samples so that one
/// allocation burst does not decide it.
fn memory_stats(
    processes: &[String],
    idle: &[Option<u64>],
    samples: &[Sample],
    warm_secs: f64,
) -> Vec<MemoryStats> {
    let measured: Vec<&Sample> = samples.iter().filter(|s| s.secs >= warm_secs).collect();
    processes
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let series: Vec<u64> = measured.iter().filter_map(|s| s.rss_kib[i]).collect();
            let first = median3(series.iter().take(3).copied());
            let last = median3(series.iter().rev().take(3).copied());
            let peak = samples
                .iter()
                .filter_map(|s| s.rss_kib[i])
                .max()
                .unwrap_or(0);
            #[allow(clippy::cast_precision_loss, reason = "a ratio of sizes")]
            let growth = if first == 0 {
                0.0
            } else {
                (last as f64 - first as f64) / first as f64
            };
            MemoryStats {
                process: name.clone(),
                idle_mib: mib(idle[i].unwrap_or(0)),
                after_warmup_mib: mib(first),
                end_mib: mib(last),
                peak_mib: mib(peak),
                growth,
                // A process that went away mid-run has no flat memory to show.
                flat: series.len() >= 3 && growth < MAX_GROWTH,
            }
        })
        .collect()
}

fn median3(values: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// The report as a Markdown table row set, for the README's performance section.
#[must_use]
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| load: jobs per second ({} users, {} workers x {}) | {:.1} |",
        report.users, report.workers, report.concurrency, report.jobs_per_second
    );
    for c in &report.calls {
        let _ = writeln!(
            out,
            "| load: {} p50 / p95 / p99 | {:.1} / {:.1} / {:.1} ms ({:.0} req/s) |",
            c.kind, c.p50_ms, c.p95_ms, c.p99_ms, c.per_second
        );
    }
    let _ = writeln!(
        out,
        "| load: error rate | {:.3}% |",
        report.error_rate * 100.0
    );
    for m in &report.memory {
        let _ = writeln!(
            out,
            "| memory of {}: idle / under load (growth after warm-up) | {:.0} / {:.0} MiB ({:+.1}%) |",
            m.process,
            m.idle_mib,
            m.end_mib,
            m.growth * 100.0
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&v, 0.50) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&v, 0.99) - 99.0).abs() < f64::EPSILON);
        assert!((percentile(&[7.0], 0.95) - 7.0).abs() < f64::EPSILON);
        assert!(percentile(&[], 0.5).abs() < f64::EPSILON);
    }

    #[test]
    fn memory_growth_compares_medians_after_warm_up() {
        let sample = |secs: f64, kib: u64| Sample {
            secs,
            rss_kib: vec![Some(kib)],
        };
        // Warm-up growth (1000 -> 5000) does not count; 5000 -> 5200 is 4%.
        let samples = [
            sample(1.0, 1000),
            sample(5.0, 5000),
            sample(10.0, 5000),
            sample(11.0, 9000),
            sample(12.0, 5000),
            sample(20.0, 5200),
            sample(21.0, 5200),
            sample(22.0, 5100),
        ];
        let stats = memory_stats(&["api".to_owned()], &[Some(900)], &samples, 10.0);
        assert!((stats[0].growth - 0.04).abs() < 1e-9, "{stats:?}");
        assert!(stats[0].flat);
        let leaking = [
            sample(10.0, 5000),
            sample(11.0, 5000),
            sample(12.0, 5000),
            sample(20.0, 6000),
            sample(21.0, 6000),
            sample(22.0, 6000),
        ];
        let stats = memory_stats(&["api".to_owned()], &[None], &leaking, 10.0);
        assert!(!stats[0].flat, "20% growth is not flat: {stats:?}");
    }
}
