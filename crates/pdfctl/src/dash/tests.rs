//! Whole-screen snapshots of the dashboard on a `TestBackend`, from realistic data: every view
//! at the 80x24 minimum and at a roomier size, the overlays, and a lost connection.

use std::collections::BTreeMap;
use std::time::Duration;

use pdfq_api_types::{
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

/// A UUIDv7 as the server makes them: jobs submitted together share the timestamp (the first
/// 12 hex digits) and differ in the random tail.
fn id(n: u32) -> JobId {
    let tail = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16;
    format!("01a23b02-9c1e-7b7d-8a2f-{tail:012x}")
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
        // Each waited 8 s in the queue before a worker claimed it.
        started_at: (status != JobStatus::Pending).then(|| ago(age - 8)),
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
        item(7, JobStatus::Failed, 99, "Failed", "locked.pdf", 1500),
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
        error: "request failed: error sending request for url (http://127.0.0.1:8000/api/v1/admin/overview): client error (Connect): tcp connect error: Connection refused (os error 111)".to_owned(),
        at: ago(26),
    });
    app.last_ok = Some(ago(27));
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
    let gone = format!("job {} is gone", app.shown(&id(1)));
    assert_eq!(app.status.as_deref(), Some(gone.as_str()));
}

/// The text of the screen's line that mentions `needle`.
fn line_with(screen: &TestBackend, needle: &str) -> String {
    screen
        .to_string()
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{screen}"))
        .to_owned()
}

/// The first word of a table row, past the border and the selection mark.
fn first_cell(line: &str) -> String {
    line.trim_start_matches(['"', '│', '>', ' '])
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn ids_in_the_jobs_view_tell_jobs_made_together_apart_and_name_the_confirmed_one() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('2'));
    let listed = screen(&app, 80, 24);
    let files = ["chunk 5/", "chunk 1/", "chunk 9/", "Queued"];
    let shown: Vec<String> = files
        .iter()
        .map(|f| first_cell(&line_with(&listed, f)))
        .collect();
    let mut distinct = shown.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), files.len(), "ids alike: {shown:?}");
    // What is shown is what `pdfctl jobs show` accepts.
    for (n, short) in (1..).zip(&shown) {
        assert!(
            crate::short_id::matches(&id(n), short),
            "{short} for job {n}"
        );
    }
    app.on_key(Key::Char('j'));
    app.on_key(Key::Char('R'));
    let confirming = screen(&app, 80, 24);
    assert!(
        line_with(&confirming, "Retry job").contains(&format!("Retry job {}?", shown[1])),
        "{confirming}"
    );
}

#[test]
fn workers_list_the_jobs_they_run_by_their_short_ids() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('3'));
    let workers = screen(&app, 130, 24);
    let row = line_with(&workers, "worker-a1");
    let short = |n| crate::short_id::show(&id(n), crate::short_id::MIN_LEN);
    assert!(row.contains(&format!("{} {}", short(1), short(2))), "{row}");
}

#[test]
fn with_the_api_down_the_overview_reads_unknown_with_its_age_never_healthy() {
    let mut app = app_with_data(false);
    app.update(Update::Lost {
        error: "request failed: tcp connect error: Connection refused (os error 111)".to_owned(),
        at: ago(25),
    });
    app.last_ok = Some(ago(26));
    let down = screen(&app, 80, 24).to_string();
    assert!(!down.contains("healthy"), "{down}");
    assert!(!down.contains("alive"), "{down}");
    assert!(
        line_with(&screen(&app, 80, 24), "api ").contains("unknown"),
        "{down}"
    );
    assert!(down.contains("unreachable for 25s"), "{down}");
    assert!(down.contains("26s old"), "{down}");
    // Back: fresh values, no banner.
    app.update(Update::Data {
        overview: Box::new(overview(false)),
        jobs: jobs(),
        detail: None,
        detail_of: None,
        traffic: None,
        at: NOW,
    });
    let back = screen(&app, 80, 24).to_string();
    assert!(
        back.contains("healthy") && !back.contains("unreachable"),
        "{back}"
    );
}

#[test]
fn the_jobs_view_splits_queue_wait_from_run_time_and_a_failed_job_has_no_progress_bar() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('2'));
    let listed = screen(&app, 100, 24);
    let header = line_with(&listed, "STATUS");
    assert!(
        header.contains("WAIT") && header.contains("RAN"),
        "{header}"
    );
    // Created 60 s ago, claimed 52 s ago: waited 8 s, has run 52 s; half done, so about 52 s
    // to go at that pace.
    let running = line_with(&listed, "chunk 5/10");
    let cells: Vec<&str> = running.split_whitespace().collect();
    assert!(
        cells.windows(3).any(|w| w == ["8s", "52s", "52s"]),
        "{running}"
    );
    // Pending for 4m05s: waited that long, has not run.
    let pending = line_with(&listed, "Queued");
    assert!(
        pending.contains("4m05s") && pending.contains(" - "),
        "{pending}"
    );
    // Failed at 99%: no bar that reads as nearly done, but where it stopped.
    let failed = line_with(&listed, "locked.pdf");
    assert!(!failed.contains('█') && !failed.contains('░'), "{failed}");
    assert!(failed.contains("stopped 99%"), "{failed}");
}

#[test]
fn busy_workers_and_processing_jobs_come_from_the_same_count() {
    let mut app = app_with_data(false);
    // Heartbeats lag: they still report 4 busy slots while the database has 3 processing.
    let o = app.overview.as_mut().unwrap();
    let heartbeats: u32 = o
        .instances
        .iter()
        .filter(|i| !i.stale && i.kind == "worker")
        .map(|i| i.busy)
        .sum();
    assert_eq!((heartbeats, o.jobs_by_status["processing"]), (4, 3));
    let overview = screen(&app, 80, 24);
    assert!(
        line_with(&overview, "workers").contains("3/6 busy"),
        "{overview}"
    );
    assert!(overview.to_string().contains("processing 3"), "{overview}");
}

#[test]
fn plus_refreshes_more_often_and_minus_less() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('+'));
    assert_eq!(app.interval, Duration::from_secs(1));
    app.on_key(Key::Char('-'));
    app.on_key(Key::Char('-'));
    assert_eq!(app.interval, Duration::from_secs(4));
}

#[test]
fn pool_rows_keep_their_order_whatever_order_the_instances_come_in() {
    let mut app = app_with_data(false);
    let before = screen(&app, 80, 24).to_string();
    app.overview.as_mut().unwrap().instances.reverse();
    let after = screen(&app, 80, 24).to_string();
    let pools = |s: &str| -> Vec<String> {
        s.lines()
            .skip_while(|l| !l.contains("Database pools"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(pools(&before), pools(&after));
}

#[test]
fn the_drain_key_asks_then_drains_the_selected_worker_and_lifts_a_drain() {
    use super::app::{Action, Effect, Prompt};
    let mut app = app_with_data(false);
    app.on_key(Key::Char('3'));
    app.on_key(Key::Char('j')); // worker-a1
    app.on_key(Key::Char('W'));
    let asking = screen(&app, 80, 24);
    assert!(
        line_with(&asking, "Drain worker worker-a1-4123-1a2b3c").contains("y/N"),
        "{asking}"
    );
    assert_eq!(
        app.on_key(Key::Char('y')),
        vec![Effect::Act(Action::Drain(
            "worker-a1-4123-1a2b3c".to_owned()
        ))]
    );
    app.on_key(Key::Char('G')); // worker-d4, draining
    app.on_key(Key::Char('W'));
    assert_eq!(
        app.prompt,
        Prompt::Confirm(Action::Undrain("worker-d4-4123-1a2b3c".to_owned()))
    );
}

#[test]
fn the_jobs_view_pages_past_the_first_hundred() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('2'));
    let effects = app.on_key(Key::Char(']'));
    let super::app::Effect::Settings(settings) = &effects[0] else {
        panic!("{effects:?}");
    };
    assert_eq!(settings.query.page, Some(2));
    let listed = screen(&app, 80, 24).to_string();
    assert!(listed.contains("page 1 of 14"), "{listed}");
    // The last page is as far as it goes; [ goes back.
    for _ in 0..20 {
        app.on_key(Key::Char(']'));
    }
    assert_eq!(app.settings().query.page, Some(14));
    app.on_key(Key::Char('['));
    assert_eq!(app.settings().query.page, Some(13));
}

#[test]
fn the_per_minute_chart_fills_its_width_and_has_a_time_axis() {
    let app = app_with_data(false);
    let wide = screen(&app, 160, 48);
    let bars = |line: String| line.chars().filter(|c| "▁▂▃▄▅▆▇█".contains(*c)).count();
    // 60 minutes over about 140 columns: each minute drawn twice.
    assert!(bars(line_with(&wide, "│processed")) >= 120, "{wide}");
    let axis = line_with(&wide, "now");
    assert!(axis.contains("-30m") && axis.contains("-60m"), "{axis}");
    let narrow = screen(&app, 80, 24);
    assert!(bars(line_with(&narrow, "│processed")) >= 60, "{narrow}");
    assert!(line_with(&narrow, "now").contains("-30m"), "{narrow}");
}

#[test]
fn b_acts_on_every_job_matching_the_filter_after_naming_the_count() {
    use super::app::{Action, Effect};
    use pdfq_api_types::{BulkAction, BulkFilter};
    let mut app = app_with_data(false);
    app.on_key(Key::Char('2'));
    // Without a filter there is nothing to name: refused.
    app.on_key(Key::Char('B'));
    assert!(
        app.status.as_deref().unwrap_or_default().contains("filter"),
        "{:?}",
        app.status
    );
    app.on_key(Key::Char('/'));
    for c in "failed".chars() {
        app.on_key(Key::Char(c));
    }
    app.on_key(Key::Enter);
    app.on_key(Key::Char('B'));
    let choosing = screen(&app, 80, 24);
    assert!(
        line_with(&choosing, "r retry").contains("1309"),
        "{choosing}"
    );
    app.on_key(Key::Char('r'));
    let asking = screen(&app, 80, 24);
    assert!(
        line_with(&asking, "y/N").contains("Retry 1309 jobs matching \"failed\"?"),
        "{asking}"
    );
    assert_eq!(
        app.on_key(Key::Char('y')),
        vec![Effect::Act(Action::Bulk {
            action: BulkAction::Retry,
            filter: BulkFilter {
                status: Some(JobStatus::Failed),
                ..BulkFilter::default()
            },
            count: 1309,
        })]
    );
}

#[test]
fn every_view_at_160x48() {
    let mut app = app_with_data(false);
    let overview = screen(&app, 160, 48);
    app.on_key(Key::Char('2'));
    let jobs = screen(&app, 160, 48);
    app.on_key(Key::Char('3'));
    let workers = screen(&app, 160, 48);
    insta::assert_snapshot!("overview_at_160x48", overview);
    insta::assert_snapshot!("jobs_at_160x48", jobs);
    insta::assert_snapshot!("workers_at_160x48", workers);
}

fn audit_page() -> pdfq_api_types::AuditPage {
    let entry = |id, secs, action: &str, target: Option<&str>, count, detail: Option<&str>| {
        pdfq_api_types::AuditEntryView {
            id,
            at: ago(secs),
            actor_id: Some("0190a1b2-9c1e-7b7d-8a2f-0c5e7d1b3a01".parse().unwrap()),
            actor_email: if id % 2 == 0 {
                "ops@example.com".to_owned()
            } else {
                "admin@pdfq.local".to_owned()
            },
            action: action.to_owned(),
            target: target.map(str::to_owned),
            count,
            detail: detail.map(str::to_owned),
        }
    };
    pdfq_api_types::AuditPage {
        entries: vec![
            entry(
                6,
                40,
                "bulk_retry",
                Some("status failed, error code pdf_encrypted"),
                37,
                Some("matched 40, skipped 3"),
            ),
            entry(5, 300, "drain", Some("worker-d4-4123-1a2b3c"), 1, None),
            entry(
                4,
                900,
                "delete",
                Some(&id(9).to_string()),
                1,
                Some("old-scan.pdf"),
            ),
            entry(3, 1800, "purge_dead_letters", None, 4, None),
            entry(2, 3600, "resume", None, 1, None),
            entry(1, 3700, "pause", None, 1, None),
        ],
        next_before: None,
    }
}

fn app_on_audit() -> App {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('4'));
    app.update(Update::View(super::app::ViewData::Audit(audit_page())));
    app
}

#[test]
fn audit_view_at_80x24_and_160x48() {
    let app = app_on_audit();
    insta::assert_snapshot!("audit_at_80x24", screen(&app, 80, 24));
    insta::assert_snapshot!("audit_at_160x48", screen(&app, 160, 48));
}

#[test]
fn the_audit_view_is_fetched_when_shown_and_lists_who_did_what_newest_first() {
    use super::app::{Effect, View};
    let mut app = app_with_data(false);
    // Switching to it fetches at once, for that view.
    let effects = app.on_key(Key::Char('4'));
    let [Effect::Settings(settings)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(settings.view, View::Audit);
    app.update(Update::View(super::app::ViewData::Audit(audit_page())));
    let shown = screen(&app, 80, 24);
    let rows: Vec<String> = shown
        .to_string()
        .lines()
        .filter(|l| l.contains("@"))
        .map(str::to_owned)
        .collect();
    assert_eq!(rows.len(), 6, "{shown}");
    assert!(
        rows[0].contains("40s") && rows[0].contains("bulk_retry") && rows[0].contains(" 37 "),
        "{shown}"
    );
    assert!(rows[5].contains("pause"), "{shown}");
    // The cursor moves over the entries, and stays within them.
    for _ in 0..10 {
        app.on_key(Key::Char('j'));
    }
    assert_eq!(app.selected, 5);
}

fn error_groups() -> pdfq_api_types::ErrorGroups {
    let group = |code: &str, pattern: &str, count, first, last, n| pdfq_api_types::ErrorGroup {
        code: code.to_owned(),
        pattern: pattern.to_owned(),
        count,
        first_seen: ago(first),
        last_seen: ago(last),
        example_job: id(n),
    };
    pdfq_api_types::ErrorGroups {
        since_secs: 86_400,
        failures: 58,
        groups: vec![
            group(
                "pdf_encrypted",
                "the file is encrypted and no password was given",
                31,
                80_000,
                120,
                11,
            ),
            group(
                "pdf_malformed",
                "page N of N: bad xref at offset N",
                19,
                40_000,
                600,
                12,
            ),
            group(
                "worker_lost",
                "the worker stopped heartbeating",
                8,
                7200,
                3600,
                13,
            ),
        ],
    }
}

fn app_on_errors() -> App {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('5'));
    app.update(Update::View(super::app::ViewData::Errors(error_groups())));
    app
}

#[test]
fn errors_view_at_80x24_and_160x48() {
    let app = app_on_errors();
    insta::assert_snapshot!("errors_at_80x24", screen(&app, 80, 24));
    insta::assert_snapshot!("errors_at_160x48", screen(&app, 160, 48));
}

#[test]
fn r_on_an_error_group_asks_naming_its_count_then_retries_exactly_that_group() {
    use super::app::{Action, Effect};
    use pdfq_api_types::{BulkAction, BulkFilter};
    let mut app = app_on_errors();
    let listed = screen(&app, 80, 24);
    assert!(
        line_with(&listed, "pdf_malformed").contains("19"),
        "{listed}"
    );
    app.on_key(Key::Char('j'));
    app.on_key(Key::Char('R'));
    let asking = screen(&app, 80, 24);
    assert!(
        line_with(&asking, "y/N")
            .contains("Retry the 19 jobs of group pdf_malformed \"page N of N: bad xr…\"?"),
        "{asking}"
    );
    assert_eq!(
        app.on_key(Key::Char('y')),
        vec![Effect::Act(Action::Bulk {
            action: BulkAction::Retry,
            filter: BulkFilter {
                status: Some(JobStatus::Failed),
                error_code: Some("pdf_malformed".to_owned()),
                error_pattern: Some("page N of N: bad xref at offset N".to_owned()),
                finished_since: Some(ago(40_000)),
                ..BulkFilter::default()
            },
            count: 19,
        })]
    );
    // Read-only: refused, nothing asked.
    let mut ro = app_on_errors();
    ro.read_only = true;
    ro.on_key(Key::Char('R'));
    assert_eq!(ro.prompt, super::app::Prompt::None);
}

fn throughput(window: pdfq_api_types::ThroughputWindow) -> pdfq_api_types::Throughput {
    use pdfq_api_types::{ThroughputBucket, WorkerThroughput};
    let (window_secs, bucket_secs) = window.secs();
    let n = window_secs / bucket_secs;
    let buckets = |scale: u64| -> Vec<ThroughputBucket> {
        (0..n)
            .map(|i| ThroughputBucket {
                start: NOW - time::Duration::seconds(i64::try_from((n - i) * bucket_secs).unwrap()),
                completed: [3, 5, 8, 13, 9, 6, 4, 7, 11, 14][usize::try_from(i % 10).unwrap()]
                    * scale,
                failed: u64::from(i % 17 == 3),
                pages: [30, 52, 80, 130, 95, 60, 41, 70, 110, 140]
                    [usize::try_from(i % 10).unwrap()]
                    * scale,
            })
            .collect()
    };
    pdfq_api_types::Throughput {
        window,
        bucket_secs,
        overall: buckets(3),
        workers: vec![
            WorkerThroughput {
                worker_id: "worker-a1-4123-1a2b3c4d".to_owned(),
                buckets: buckets(2),
            },
            WorkerThroughput {
                worker_id: "worker-b2-4123-9f8e7d6c".to_owned(),
                buckets: buckets(1),
            },
        ],
    }
}

fn app_on_throughput() -> App {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('6'));
    app.update(Update::View(super::app::ViewData::Throughput(throughput(
        pdfq_api_types::ThroughputWindow::Hour,
    ))));
    app
}

#[test]
fn throughput_view_at_80x24_and_160x48() {
    let app = app_on_throughput();
    insta::assert_snapshot!("throughput_at_80x24", screen(&app, 80, 24));
    insta::assert_snapshot!("throughput_at_160x48", screen(&app, 160, 48));
}

#[test]
fn throughput_has_sparklines_per_worker_when_narrow_a_chart_when_wide_and_t_switches_the_day() {
    use super::app::Effect;
    use pdfq_api_types::ThroughputWindow;
    let mut app = app_on_throughput();
    let narrow = screen(&app, 80, 24);
    // Totals: 60 minutes of the ten-minute pattern (80 a cycle) times 3 overall, 2 and 1.
    assert!(line_with(&narrow, "completed").contains("1440"), "{narrow}");
    assert!(line_with(&narrow, "…a2b3c4d").contains(" 960"), "{narrow}");
    assert!(line_with(&narrow, "…f8e7d6c").contains(" 480"), "{narrow}");
    let axis = line_with(&narrow, "now");
    assert!(axis.contains("-30m") && axis.contains("-60m"), "{narrow}");
    let wide = screen(&app, 160, 48).to_string();
    // The chart's braille dots and its axes; the workers by their whole ids.
    assert!(
        wide.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "{wide}"
    );
    assert!(wide.contains("worker-a1-4123-1a2b3c4d"), "{wide}");
    assert!(
        !wide.contains("completed  "),
        "the chart, not a sparkline: {wide}"
    );
    // t asks for the day; an hour that arrives late is not shown as the day.
    let effects = app.on_key(Key::Char('t'));
    let [Effect::Settings(settings)] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(settings.throughput_window, ThroughputWindow::Day);
    app.update(Update::View(super::app::ViewData::Throughput(throughput(
        ThroughputWindow::Hour,
    ))));
    app.update(Update::View(super::app::ViewData::Throughput(throughput(
        ThroughputWindow::Day,
    ))));
    let day = screen(&app, 80, 24);
    assert!(
        line_with(&day, "last 1d00h").contains("Throughput, last 1d00h per 15m00s"),
        "{day}"
    );
    let axis = line_with(&day, "now");
    assert!(axis.contains("-12h") && axis.contains("-24h"), "{day}");
}

#[test]
fn worker_rows_keep_their_order_and_the_selection_whatever_order_the_heartbeats_come_in() {
    let mut app = app_with_data(false);
    app.on_key(Key::Char('3'));
    app.on_key(Key::Char('j'));
    app.on_key(Key::Char('j')); // worker-b2
    let rows = |app: &App| -> Vec<String> {
        screen(app, 80, 24)
            .to_string()
            .lines()
            .filter(|l| l.contains("-4123-"))
            .map(first_cell)
            .collect()
    };
    let before = rows(&app);
    assert_eq!(before.len(), 5, "{before:?}");
    let mut shuffled = overview(false);
    shuffled.instances.reverse();
    shuffled.instances.swap(0, 2);
    app.update(Update::Data {
        overview: Box::new(shuffled),
        jobs: jobs(),
        detail: None,
        detail_of: None,
        traffic: None,
        at: NOW,
    });
    assert_eq!(rows(&app), before);
    let selected = line_with(&screen(&app, 80, 24), ">");
    assert!(selected.contains("worker-b2"), "{selected}");
}
