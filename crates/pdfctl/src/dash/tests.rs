//! Whole-screen snapshots of the dashboard on a `TestBackend`, from realistic data: every view
//! at the 80x24 minimum and at a roomier size, the overlays, and a lost connection.

use std::collections::BTreeMap;
use std::time::Duration;

use pdfq_client::types::{
    HealthCheck, HealthReport, InstanceView, JobError, JobEventView, JobList, JobListItem,
    JobTimeline, JobView, MinuteThroughput, Overview, PoolView, QueueView,
};
use pdfq_domain::{JobId, JobStatus};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::OffsetDateTime;
use time::macros::datetime;

use super::app::{App, Key, Update};
use super::metrics::Traffic;
use super::ui;

const NOW: OffsetDateTime = datetime!(2026-11-29 03:00:00 UTC);

fn id(n: u32) -> JobId {
    format!("{n:08x}-9c1e-4b7d-8a2f-0c5e7d1b3a{n:02x}")
        .parse()
        .unwrap()
}

fn ago(secs: i64) -> OffsetDateTime {
    NOW - time::Duration::seconds(secs)
}

fn instance(
    name: &str,
    kind: &str,
    busy: u32,
    jobs: &[u32],
    age: f64,
    pool: (u32, u32),
) -> InstanceView {
    InstanceView {
        id: format!("{name}-4123-1a2b3c"),
        kind: kind.to_owned(),
        host: name.to_owned(),
        pid: 4123,
        version: "0.1.0".to_owned(),
        started_at: ago(7200),
        concurrency: if kind == "worker" { 2 } else { 0 },
        busy,
        current_jobs: jobs.iter().map(|n| id(*n)).collect(),
        last_fetch_at: (kind == "worker").then(|| ago(age as i64)),
        status: None,
        pool: Some(PoolView {
            size: pool.1,
            in_use: pool.0,
            idle: pool.1 - pool.0,
            max: 15,
        }),
        rss_bytes: Some(if kind == "worker" {
            61_440_000
        } else {
            23_552_000
        }),
        draining: false,
        age_secs: age,
        stale: age > 30.0,
    }
}

fn overview(paused: bool) -> Overview {
    let throughput = (0..60u64)
        .map(|m| MinuteThroughput {
            minute: ago(i64::try_from((60 - m) * 60).unwrap()),
            processed: [3, 5, 8, 13, 9, 6, 4, 7, 11, 14][usize::try_from(m % 10).unwrap()],
            failed: u64::from(m % 17 == 3),
        })
        .collect();
    let mut checks = BTreeMap::new();
    for (name, latency) in [("database", 0.8), ("redis", 0.4)] {
        checks.insert(
            name.to_owned(),
            HealthCheck {
                status: "ok".to_owned(),
                latency_ms: latency,
                error: None,
            },
        );
    }
    let jobs_by_status = [
        ("pending", 12),
        ("processing", 3),
        ("retrying", 1),
        ("completed", 1284),
        ("failed", 7),
        ("cancelled", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Overview {
        broker: "redis".to_owned(),
        queue: Some(QueueView {
            waiting: 12,
            in_flight: 3,
            delayed: 1,
            dead: 2,
            oldest_waiting_age_secs: Some(245.0),
            paused,
        }),
        throughput,
        instances: vec![
            instance("api-7f9c", "api", 0, &[], 3.0, (4, 10)),
            instance("worker-a1", "worker", 2, &[1, 2], 4.0, (3, 10)),
            instance("worker-b2", "worker", 1, &[3], 6.0, (2, 10)),
            instance("worker-c3", "worker", 0, &[], 95.0, (0, 10)),
            InstanceView {
                draining: true,
                ..instance("worker-d4", "worker", 1, &[5], 2.0, (1, 10))
            },
        ],
        jobs_by_status,
        oldest_pending_age_secs: Some(245.0),
        redis_memory_bytes: Some(3_456_789),
        api_pool: PoolView {
            size: 10,
            in_use: 4,
            idle: 6,
            max: 15,
        },
        db_max_connections: Some(100),
        health: HealthReport {
            status: "healthy".to_owned(),
            checks,
        },
        problems: Vec::new(),
    }
}

fn item(n: u32, status: JobStatus, progress: u8, step: &str, file: &str, age: i64) -> JobListItem {
    JobListItem {
        job_id: id(n),
        status,
        progress,
        current_step: step.to_owned(),
        file_name: file.to_owned(),
        file_size: 1_234_567,
        attempts: u32::from(status != JobStatus::Pending),
        error_code: (status == JobStatus::Failed).then(|| "pdf_encrypted".to_owned()),
        created_at: ago(age),
        finished_at: matches!(
            status,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
        )
        .then(|| ago(age - 40)),
        owner_email: Some(format!("user{}@example.com", n % 3)),
    }
}

fn jobs() -> JobList {
    let jobs = vec![
        item(
            1,
            JobStatus::Processing,
            50,
            "Processing chunk 5/10",
            "annual-report-2025.pdf",
            60,
        ),
        item(
            2,
            JobStatus::Processing,
            20,
            "Processing chunk 1/5",
            "thesis.pdf",
            30,
        ),
        item(
            3,
            JobStatus::Processing,
            90,
            "Processing chunk 9/10",
            "invoice-4411.pdf",
            120,
        ),
        item(4, JobStatus::Pending, 0, "Queued", "scan-0001.pdf", 245),
        item(
            5,
            JobStatus::Retrying,
            40,
            "Retrying after timeout",
            "big-manual.pdf",
            600,
        ),
        item(6, JobStatus::Completed, 100, "Completed", "notes.pdf", 900),
        item(7, JobStatus::Failed, 0, "Failed", "locked.pdf", 1500),
        item(8, JobStatus::Cancelled, 30, "Cancelled", "draft.pdf", 4000),
    ];
    JobList {
        total: 1309,
        page: 1,
        per_page: 100,
        jobs,
    }
}

fn detail() -> JobTimeline {
    let event = |secs, attempt, status, worker: Option<&str>, message: &str| JobEventView {
        at: ago(secs),
        attempt,
        status,
        worker_id: worker.map(str::to_owned),
        message: message.to_owned(),
    };
    JobTimeline {
        job: detail_job(),
        events: vec![
            event(60, 0, JobStatus::Pending, None, "queued"),
            event(
                58,
                1,
                JobStatus::Processing,
                Some("worker-c3-4123-1a2b3c"),
                "claimed",
            ),
            event(
                56,
                1,
                JobStatus::Processing,
                Some("worker-c3-4123-1a2b3c"),
                "Processing chunk 1/10",
            ),
            event(
                53,
                1,
                JobStatus::Retrying,
                None,
                "worker_lost: the worker stopped heartbeating",
            ),
            event(
                52,
                2,
                JobStatus::Processing,
                Some("worker-a1-4123-1a2b3c"),
                "claimed",
            ),
            event(
                30,
                2,
                JobStatus::Processing,
                Some("worker-a1-4123-1a2b3c"),
                "Processing chunk 5/10",
            ),
        ],
    }
}

fn detail_job() -> JobView {
    JobView {
        job_id: id(1),
        status: JobStatus::Processing,
        progress: 50,
        current_step: "Processing chunk 5/10".to_owned(),
        file_name: "annual-report-2025.pdf".to_owned(),
        file_size: 4_812_003,
        created_at: ago(60),
        started_at: Some(ago(52)),
        finished_at: None,
        attempts: 2,
        error: Some(JobError {
            code: "worker_lost".to_owned(),
            message: "attempt 1: the worker stopped heartbeating".to_owned(),
        }),
        sentence_count: None,
        warnings: Vec::new(),
        sentences: None,
    }
}

fn app_with_data(paused: bool) -> App {
    let mut app = App::new("http://127.0.0.1:8000", Duration::from_secs(2), false);
    app.update(Update::Data {
        overview: Box::new(overview(paused)),
        jobs: jobs(),
        detail: None,
        detail_of: None,
        traffic: Some(Traffic {
            per_second: 4.2,
            error_rate: 0.004,
            p50: Some(0.012),
            p95: Some(0.085),
            p99: Some(0.31),
            in_flight: 2.0,
        }),
        at: ago(1),
    });
    app
}

fn screen(app: &App, width: u16, height: u16) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app, NOW)).unwrap();
    terminal.backend().clone()
}

#[test]
fn overview_at_80x24() {
    insta::assert_snapshot!(screen(&app_with_data(false), 80, 24));
}

#[test]
fn overview_at_120x40_paused_with_a_problem() {
    let mut app = app_with_data(true);
    if let Some(o) = app.overview.as_mut() {
        o.problems
            .push("throughput: queue unavailable: timed out after 5s".to_owned());
    }
    insta::assert_snapshot!(screen(&app, 120, 40));
}

#[test]
fn jobs_at_80x24_with_the_third_selected() {
    let mut app = app_with_data(false);
    app.on_key(Key::Tab);
    app.on_key(Key::Char('j'));
    app.on_key(Key::Down);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn jobs_at_140x30_show_owners() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('2'));
    app.on_key(Key::Char('G'));
    insta::assert_snapshot!(screen(&app, 140, 30));
}

#[test]
fn workers_at_80x24_flag_the_stale_one() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('3'));
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn workers_at_130x24() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('3'));
    insta::assert_snapshot!(screen(&app, 130, 24));
}

/// The jobs view with Enter pressed on the first job and its detail fetched.
fn app_with_detail_open() -> App {
    let mut app = app_with_data(false);
    app.on_key(Key::Tab);
    app.on_key(Key::Enter);
    app.update(Update::Data {
        overview: Box::new(overview(false)),
        jobs: jobs(),
        detail: Some(Box::new(detail())),
        detail_of: Some(id(1)),
        traffic: None,
        at: ago(1),
    });
    app
}

#[test]
fn job_detail_over_the_jobs_view() {
    insta::assert_snapshot!(screen(&app_with_detail_open(), 80, 24));
}

#[test]
fn job_detail_with_its_timeline_at_120x40() {
    insta::assert_snapshot!(screen(&app_with_detail_open(), 120, 40));
}

#[test]
fn help_overlay() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('?'));
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn lost_connection_banner_keeps_the_last_data() {
    let mut app = app_with_data(false);
    app.update(Update::Lost {
        error: "request failed: connection refused".to_owned(),
    });
    app.on_key(Key::Char(' '));
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn filter_prompt_then_confirmation() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('/'));
    for c in "failed".chars() {
        app.on_key(Key::Char(c));
    }
    let typing = screen(&app, 80, 24);
    app.on_key(Key::Enter);
    app.on_key(Key::Char('D'));
    let confirming = screen(&app, 80, 24);
    insta::assert_snapshot!("filter_typing", typing);
    insta::assert_snapshot!("delete_confirmation", confirming);
}

#[test]
fn waiting_for_first_data() {
    let app = App::new("http://127.0.0.1:8000", Duration::from_secs(2), true);
    insta::assert_snapshot!(screen(&app, 80, 24));
}

#[test]
fn a_fetch_from_before_enter_keeps_the_detail_and_a_deleted_job_closes_it() {
    let data = |detail_of, detail: Option<JobTimeline>| Update::Data {
        overview: Box::new(overview(false)),
        jobs: jobs(),
        detail: detail.map(Box::new),
        detail_of,
        traffic: None,
        at: NOW,
    };
    let mut app = app_with_data(false);
    app.on_key(Key::Tab);
    app.on_key(Key::Enter);
    app.update(data(None, None));
    assert_eq!(app.detail_open, Some(id(1)));
    app.update(data(Some(id(1)), Some(detail())));
    assert!(app.detail.is_some());
    app.update(data(Some(id(1)), None));
    assert_eq!(app.detail_open, None);
    assert_eq!(app.status.as_deref(), Some("job 00000001 is gone"));
}
