//! Drawing the dashboard from [`App`]: a pure function of the state and the time, so whole
//! screens can be snapshot-tested on a `TestBackend`.

use pdfq_api_types::{InstanceView, JobListItem, JobTimeline, Overview};
use pdfq_domain::JobStatus;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Clear, Dataset, GraphType, LineGauge, Paragraph, Row, Sparkline,
    Table, TableState, Tabs, Wrap,
};
use time::OffsetDateTime;

use super::app::{App, Prompt, View};
use super::metrics::Traffic;
use crate::commands::format;
use crate::short_id;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App, now: OffsetDateTime) {
    // Two lines: the error and what the screen is showing instead, without truncation at 80.
    let banner = if app.lost.is_some() { 2 } else { 0 };
    let [header, banner_area, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app, now);
    if let Some(error) = &app.lost {
        draw_lost(frame, banner_area, app, error, now);
    }
    match (app.view, &app.overview) {
        (_, None) => frame.render_widget(
            Paragraph::new(format!("waiting for {} ...", app.api_url)).block(Block::bordered()),
            body,
        ),
        (View::Overview, Some(overview)) => {
            let stale = app.stale_age(now).map(format::duration);
            draw_overview(
                frame,
                body,
                overview,
                app.traffic.as_ref(),
                stale.as_deref(),
            );
        }
        (View::Jobs, Some(_)) => draw_jobs(frame, body, app, now),
        (View::Workers, Some(overview)) => draw_workers(frame, body, app, overview, now),
        (View::Audit, Some(_)) => draw_audit(frame, body, app, now),
        (View::Errors, Some(_)) => draw_errors(frame, body, app, now),
        (View::Throughput, Some(_)) => draw_throughput_view(frame, body, app),
    }
    draw_footer(frame, footer, app);
    if let Some(detail) = app.detail.as_ref().filter(|_| app.detail_open.is_some()) {
        draw_detail(frame, body, detail, now);
    }
    if app.help {
        draw_help(frame, body, app.read_only);
    }
}

/// Two lines: how long the API has been unreachable and how old the screen is (never cut at
/// 80 columns), then the error, cut to the width.
fn draw_lost(frame: &mut Frame<'_>, area: Rect, app: &App, error: &str, now: OffsetDateTime) {
    let age = |at: Option<OffsetDateTime>| {
        at.map_or_else(
            || "-".to_owned(),
            |at| format::duration(format::secs_between(at, now)),
        )
    };
    let shown = if app.last_ok.is_some() {
        format!("; data {} old", age(app.last_ok))
    } else {
        "; no data yet".to_owned()
    };
    let lines = vec![
        Line::from(format!(
            " API unreachable for {}{shown}; retrying every {}",
            age(app.lost_since),
            interval_text(app.interval)
        ))
        .bold(),
        Line::from(format!(
            " {}",
            format::truncate(error, usize::from(area.width).saturating_sub(2))
        )),
    ];
    frame.render_widget(
        Paragraph::new(lines).style(Style::new().fg(Color::White).bg(Color::Red)),
        area,
    );
}

/// "500ms", "2s": sub-second refresh intervals read as such, not "0s".
fn interval_text(interval: std::time::Duration) -> String {
    if interval < std::time::Duration::from_secs(1) {
        format!("{}ms", interval.as_millis())
    } else {
        format::duration(interval.as_secs_f64())
    }
}

fn draw_header(frame: &mut Frame<'_>, area: Rect, app: &App, now: OffsetDateTime) {
    let refresh = if app.frozen {
        Span::styled(" FROZEN ", Style::new().black().on_yellow())
    } else {
        Span::raw(format!("every {}", interval_text(app.interval)))
    };
    let updated = app.last_ok.map_or_else(String::new, |at| {
        format!(" · {} ago", format::duration(format::secs_between(at, now)))
    });
    let right = Line::from(vec![refresh, Span::raw(updated), Span::raw(" ")]).right_aligned();
    let right_width = u16::try_from(right.width()).unwrap_or(u16::MAX);
    // Below 100 columns the name gives way to the tabs.
    let [left, tabs, right_area] = Layout::horizontal([
        Constraint::Length(if area.width >= 100 { 12 } else { 0 }),
        Constraint::Min(0),
        Constraint::Length(right_width),
    ])
    .areas(area);
    frame.render_widget(Span::styled(" pdfctl dash", Style::new().bold()), left);
    let selected = View::ALL.iter().position(|v| *v == app.view).unwrap_or(0);
    frame.render_widget(
        Tabs::new(View::ALL.iter().map(|v| v.title()))
            .select(selected)
            .highlight_style(Style::new().reversed())
            .padding(" ", " ")
            .divider("|"),
        tabs,
    );
    frame.render_widget(right, right_area);
}

fn draw_footer(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let line = match &app.prompt {
        Prompt::Filter(text) => Line::from(vec![
            Span::styled(" filter: ", Style::new().bold()),
            Span::raw(text.clone()),
            Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::raw("  (status, email, id or file name; Enter applies, Esc cancels)").dim(),
        ]),
        Prompt::Confirm(action) => Line::from(vec![
            Span::styled(
                format!(" {} ", action.question()),
                Style::new().black().on_yellow(),
            ),
            Span::raw(" y/N"),
        ]),
        Prompt::Bulk => Line::from(vec![
            Span::styled(
                format!(
                    " every job matching \"{}\" ({}): r retry  c cancel  d delete ",
                    app.filter,
                    app.jobs.as_ref().map_or(0, |l| l.total)
                ),
                Style::new().black().on_yellow(),
            ),
            Span::raw(" Esc"),
        ]),
        Prompt::None => match &app.status {
            Some(status) => Line::from(format!(" {status}")).bold(),
            None => {
                let mut spans =
                    vec![Span::raw(
                    " ? help  q quit  Tab views  j/k move  / filter  space freeze  +/- rate",
                )
                .dim()];
                if app.read_only {
                    spans.push(Span::styled("  READ-ONLY", Style::new().yellow()));
                }
                if !app.filter.is_empty() {
                    spans.push(Span::styled(
                        format!("  filter: {}", app.filter),
                        Style::new().cyan(),
                    ));
                }
                Line::from(spans)
            }
        },
    };
    frame.render_widget(line, area);
}

fn check_span(status: &str) -> Span<'static> {
    match status {
        "ok" | "healthy" => Span::styled(status.to_owned(), Style::new().green()),
        _ => Span::styled(status.to_owned(), Style::new().red().bold()),
    }
}

/// Draws the overview; `data_age` (how old the data is) when the API cannot be read now: every
/// state then reads "unknown", values are greyed and each box says how old they are.
fn draw_overview(
    frame: &mut Frame<'_>,
    area: Rect,
    o: &Overview,
    traffic: Option<&Traffic>,
    data_age: Option<&str>,
) {
    let problems = u16::try_from(o.problems.len().min(3)).unwrap_or(3);
    let [top, spark, bottom, problems_area] = Layout::vertical([
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Min(3),
        Constraint::Length(if problems > 0 { problems + 2 } else { 0 }),
    ])
    .areas(area);
    let [health, queue] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);

    let state = |status: &str| match data_age {
        Some(_) => Span::styled("unknown", Style::new().fg(Color::DarkGray).bold()),
        None => check_span(status),
    };
    let title = |name: &str| match data_age {
        Some(age) => format!(" {name} · stale, {age} old "),
        None => format!(" {name} "),
    };
    let stale_style = if data_age.is_some() {
        Style::new().fg(Color::DarkGray)
    } else {
        Style::new()
    };

    // Health: the API's own view of its dependencies, and the workers' heartbeats.
    let mut lines = vec![Line::from(vec![
        Span::raw(format!("{:<10}", "api")),
        state(&o.health.status),
        Span::raw(format!("  broker {}", o.broker)).dim(),
    ])];
    for (name, check) in &o.health.checks {
        let mut spans = vec![Span::raw(format!("{name:<10}")), state(&check.status)];
        match (&check.error, data_age) {
            (_, Some(_)) => {}
            (Some(error), None) => spans.push(Span::raw(format!(" {error}")).red()),
            (None, None) => spans.push(Span::raw(format!(" {:.1} ms", check.latency_ms))),
        }
        lines.push(Line::from(spans));
    }
    let workers: Vec<&InstanceView> = o.instances.iter().filter(|i| i.kind == "worker").collect();
    let stale = workers.iter().filter(|i| i.stale).count();
    let alive = workers.len() - stale;
    // Busy slots are the jobs the database has processing, the very count the Queue box
    // shows: heartbeats report their own busy figure up to a beat late, and the two side by
    // side contradicted each other. Each worker's own figure, with its age, is in Workers.
    let busy = o.jobs_by_status.get("processing").copied().unwrap_or(0);
    let slots: u32 = workers
        .iter()
        .filter(|i| !i.stale)
        .map(|i| i.concurrency)
        .sum();
    lines.push(Line::from(match data_age {
        Some(_) => vec![
            Span::raw(format!("{:<10}", "workers")),
            state(""),
            Span::raw(format!(" (had {alive} live, {busy}/{slots} busy)")),
        ],
        None => vec![
            Span::raw(format!("{:<10}", "workers")),
            if alive == 0 {
                Span::styled("none alive", Style::new().red().bold())
            } else {
                Span::styled(format!("{alive} alive"), Style::new().green())
            },
            Span::raw(format!(", {busy}/{slots} busy")),
        ],
    }));
    if stale > 0 {
        lines.push(Line::from(vec![
            Span::raw(format!("{:<10}", "stale")),
            Span::styled(format!("{stale} (no heartbeat)"), Style::new().red().bold()),
        ]));
    }
    if let Some(memory) = o.redis_memory_bytes {
        lines.push(Line::from(format!(
            "{:<10}{}",
            "redis mem",
            format::bytes(memory)
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .style(stale_style)
            .block(Block::bordered().title(title("Health"))),
        health,
    );

    // Queue: the broker's numbers and the database's counts side by side.
    let mut lines = Vec::new();
    match &o.queue {
        Some(q) => {
            let state = match (data_age, q.paused) {
                (Some(_), _) => state(""),
                (None, true) => Span::styled("PAUSED", Style::new().black().on_yellow()),
                (None, false) => Span::styled("running", Style::new().green()),
            };
            lines.push(Line::from(vec![
                Span::raw(format!("waiting  {:>6}   oldest  ", q.waiting)),
                Span::raw(
                    q.oldest_waiting_age_secs
                        .map_or_else(|| "-".to_owned(), format::duration),
                ),
            ]));
            lines.push(Line::from(format!(
                "in flight{:>6}   delayed {}",
                q.in_flight, q.delayed
            )));
            let dead = Span::styled(
                format!("dead     {:>6}", q.dead),
                if q.dead > 0 {
                    Style::new().red()
                } else {
                    Style::new()
                },
            );
            // The queue's state has its own label: after "dead 0" a bare "running" read as a
            // count of running jobs with its number missing.
            lines.push(Line::from(vec![dead, Span::raw("   state   "), state]));
        }
        None => lines.push(Line::from("queue unavailable").red()),
    }
    let count = |s: &str| o.jobs_by_status.get(s).copied().unwrap_or(0);
    lines.push(Line::from(format!(
        "pending {}  processing {}  retrying {}",
        count("pending"),
        count("processing"),
        count("retrying")
    )));
    lines.push(Line::from(format!(
        "completed {}  failed {}  cancelled {}",
        count("completed"),
        count("failed"),
        count("cancelled")
    )));
    frame.render_widget(
        Paragraph::new(lines)
            .style(stale_style)
            .block(Block::bordered().title(title("Queue"))),
        queue,
    );

    draw_throughput(frame, spark, o, traffic);
    draw_pools(frame, bottom, o);

    if problems > 0 {
        let lines: Vec<Line<'_>> = o
            .problems
            .iter()
            .take(3)
            .map(|p| Line::from(p.as_str()).red())
            .collect();
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(Block::bordered().title(" Problems ")),
            problems_area,
        );
    }
}

fn draw_throughput(frame: &mut Frame<'_>, area: Rect, o: &Overview, traffic: Option<&Traffic>) {
    let processed: Vec<u64> = o.throughput.iter().map(|m| m.processed).collect();
    let failed: Vec<u64> = o.throughput.iter().map(|m| m.failed).collect();
    let last = |v: &[u64]| v.last().copied().unwrap_or(0);
    let total = |v: &[u64]| v.iter().sum::<u64>();
    let block = Block::bordered().title(format!(
        " Per minute, last {} min: {} processed, {} failed ",
        processed.len(),
        total(&processed),
        total(&failed)
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [p_row, f_row, axis_row, api_row] =
        Layout::vertical([Constraint::Length(1); 4]).areas(inner);
    frame.render_widget(traffic_line(traffic), api_row);
    let [_, axis_area] =
        Layout::horizontal([Constraint::Length(16), Constraint::Min(0)]).areas(axis_row);
    let scale = BucketScale::new(processed.len(), axis_area.width, 60);
    frame.render_widget(Line::from(scale.axis()).dim(), axis_area);
    for (row, label, data, color) in [
        (p_row, "processed", &processed, Color::Green),
        (f_row, "failed", &failed, Color::Red),
    ] {
        let [label_area, spark_area] =
            Layout::horizontal([Constraint::Length(16), Constraint::Min(0)]).areas(row);
        frame.render_widget(
            Line::from(format!("{label:<10}{:>4}/m", last(data))),
            label_area,
        );
        frame.render_widget(
            Sparkline::default()
                .data(scale.columns(data))
                .style(Style::new().fg(color)),
            spark_area,
        );
    }
}

/// How a chart's buckets (minutes, quarter hours) map onto its columns: each as wide as the
/// columns allow (at least one), the newest at the right edge; when the columns are fewer, the
/// newest buckets.
#[derive(Debug, Clone, Copy)]
struct BucketScale {
    buckets: usize,
    width: usize,
    per_bucket: usize,
    bucket_secs: u64,
}

impl BucketScale {
    fn new(buckets: usize, width: u16, bucket_secs: u64) -> Self {
        let width = usize::from(width);
        Self {
            buckets,
            width,
            per_bucket: (width / buckets.max(1)).max(1),
            bucket_secs,
        }
    }

    /// The columns, padded on the left so the newest bucket ends at the right edge.
    fn columns(&self, data: &[u64]) -> Vec<u64> {
        let shown = &data[data.len().saturating_sub(self.width / self.per_bucket)..];
        let mut columns = vec![0; self.width.saturating_sub(shown.len() * self.per_bucket)];
        for value in shown {
            columns.extend(std::iter::repeat_n(*value, self.per_bucket));
        }
        columns
    }

    /// "-60m      -45m ... now" under the columns: every quarter of the window that is shown.
    fn axis(&self) -> String {
        let mut axis = vec![' '; self.width];
        let shown = self.buckets.min(self.width / self.per_bucket);
        let mut put = |at: usize, text: &str| {
            if at + text.len() <= axis.len() && axis[at..at + text.len()].iter().all(|c| *c == ' ')
            {
                axis[at..at + text.len()].copy_from_slice(&text.chars().collect::<Vec<_>>());
            }
        };
        put(self.width.saturating_sub(3), "now");
        for back in (1..=shown).filter(|b| b * 4 % self.buckets.max(1) == 0) {
            // The column where the bucket `back` buckets ago starts.
            let at = self.width - back * self.per_bucket;
            put(at, &ago_label(back as u64 * self.bucket_secs));
        }
        axis.into_iter().collect()
    }
}

/// "-15m", "-60m", "-6h": how long ago, for a time axis.
fn ago_label(secs: u64) -> String {
    if secs <= 3600 {
        format!("-{}m", secs / 60)
    } else {
        format!("-{}h", secs / 3600)
    }
}

/// The API's request rate, errors and latency percentiles (the design's monitoring points).
fn traffic_line(traffic: Option<&Traffic>) -> Line<'static> {
    let Some(t) = traffic else {
        return Line::from(format!(
            "{:<16}measuring (needs two reads of /metrics)",
            "api requests"
        ))
        .dim();
    };
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{:.0}ms", s * 1000.0));
    let errors = Span::styled(
        format!("5xx {:.1}%", t.error_rate * 100.0),
        if t.error_rate > 0.01 {
            Style::new().red().bold()
        } else {
            Style::new()
        },
    );
    Line::from(vec![
        Span::raw(format!("{:<10}{:>4.1}/s  ", "api", t.per_second)),
        errors,
        Span::raw(format!(
            "  p50 {}  p95 {}  p99 {}  in flight {:.0}",
            ms(t.p50),
            ms(t.p95),
            ms(t.p99),
            t.in_flight
        )),
    ])
}

fn draw_pools(frame: &mut Frame<'_>, area: Rect, o: &Overview) {
    let block = Block::bordered().title(match o.db_max_connections {
        Some(limit) => format!(" Database pools (in use / max), server limit {limit} "),
        None => " Database pools (in use / max) ".to_owned(),
    });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let pools: Vec<(String, pdfq_api_types::PoolView)> = o
        .instances
        .iter()
        .filter_map(|i| i.pool.map(|p| (format!("{} {}", i.kind, i.host), p)))
        .collect();
    let (in_use, max) = pools
        .iter()
        .fold((0u32, 0u32), |(u, m), (_, p)| (u + p.in_use, m + p.max));
    let mut rows: Vec<(String, u32, u32)> = pools
        .iter()
        .map(|(name, p)| (name.clone(), p.in_use, p.max))
        .collect();
    // By name, so rows stay put between refreshes whatever order the instances come in.
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    if pools.is_empty() {
        rows.push(("this api".to_owned(), o.api_pool.in_use, o.api_pool.max));
    }
    let height = usize::from(inner.height);
    let show = rows.len().min(height.saturating_sub(1));
    let mut constraints = vec![Constraint::Length(1); show];
    constraints.push(Constraint::Length(1));
    let areas = Layout::vertical(constraints).split(inner);
    for (i, (name, used, limit)) in rows.iter().take(show).enumerate() {
        let ratio = if *limit == 0 {
            0.0
        } else {
            (f64::from(*used) / f64::from(*limit)).clamp(0.0, 1.0)
        };
        frame.render_widget(
            LineGauge::default()
                .ratio(ratio)
                .label(format!(
                    "{:<22} {used:>3}/{limit:<3}",
                    format::truncate(name, 22)
                ))
                .filled_style(Style::new().fg(if ratio > 0.8 { Color::Red } else { Color::Cyan })),
            areas[i],
        );
    }
    if let Some(total_area) = areas.get(show) {
        let hidden = rows.len() - show;
        let more = if hidden > 0 {
            format!(" ({hidden} more)")
        } else {
            String::new()
        };
        // The pools' maximums together against what the server accepts: past it, connections
        // are refused under load (the design's sizing rule; `pdfctl plan` does the arithmetic).
        let total = match o.db_max_connections {
            Some(limit) => {
                let ratio = if limit == 0 {
                    1.0
                } else {
                    (f64::from(max) / f64::from(limit)).clamp(0.0, 1.0)
                };
                let over = max > limit;
                LineGauge::default()
                    .ratio(ratio)
                    .label(format!(
                        "{:<22} {max:>3}/{limit:<3}{}{more}",
                        format!("all pools, {in_use} in use"),
                        if over { " OVER THE SERVER'S LIMIT" } else { "" }
                    ))
                    .filled_style(Style::new().fg(if over || ratio > 0.8 {
                        Color::Red
                    } else {
                        Color::Green
                    }))
            }
            None => LineGauge::default().ratio(0.0).label(format!(
                "total {in_use}/{max} in use{more}; no server limit (SQLite)"
            )),
        };
        frame.render_widget(total, *total_area);
    }
}

fn status_style(status: JobStatus) -> Style {
    match status {
        JobStatus::Pending => Style::new().fg(Color::Gray),
        JobStatus::Processing => Style::new().fg(Color::Cyan),
        JobStatus::Retrying => Style::new().fg(Color::Yellow),
        JobStatus::Completed => Style::new().fg(Color::Green),
        JobStatus::Failed => Style::new().fg(Color::Red),
        JobStatus::Cancelled => Style::new().fg(Color::DarkGray),
    }
}

fn bar(progress: u8, width: usize) -> String {
    let filled = usize::from(progress.min(100)) * width / 100;
    format!(
        "{}{} {:>3}%",
        "█".repeat(filled),
        "░".repeat(width - filled),
        progress
    )
}

/// The progress cell: a bar, except for a job that stopped short (failed, cancelled), whose
/// last progress would read as "nearly done".
fn progress_cell(job: &JobListItem) -> Cell<'static> {
    match job.status {
        JobStatus::Failed | JobStatus::Cancelled => {
            Cell::from(format!("stopped {:>3}", format!("{}%", job.progress))).dim()
        }
        _ => Cell::from(bar(job.progress, 6)),
    }
}

/// Time waiting in the queue, time running (the current attempt), and for a running job the
/// remaining time at its pace so far; "-" where it does not apply.
fn timing(job: &JobListItem, now: OffsetDateTime) -> [String; 3] {
    let end = job.finished_at.unwrap_or(now);
    let waited = format::secs_between(job.created_at, job.started_at.unwrap_or(end));
    let Some(started) = job.started_at else {
        return [format::duration(waited), "-".to_owned(), "-".to_owned()];
    };
    let ran = format::secs_between(started, end);
    let eta = if job.status == JobStatus::Processing && job.progress > 0 && job.progress < 100 {
        format::duration(ran * f64::from(100 - job.progress) / f64::from(job.progress))
    } else {
        "-".to_owned()
    };
    [format::duration(waited), format::duration(ran), eta]
}

fn draw_jobs(frame: &mut Frame<'_>, area: Rect, app: &App, now: OffsetDateTime) {
    let Some(list) = &app.jobs else {
        return;
    };
    let wide = area.width >= 120;
    let mut header = vec![
        "ID", "STATUS", "PROGRESS", "STEP", "WAIT", "RAN", "ETA", "FILE",
    ];
    let mut widths = vec![
        Constraint::Length(u16::try_from(app.short_len()).unwrap_or(8)),
        Constraint::Length(10),
        Constraint::Length(11),
        Constraint::Fill(3),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Fill(1),
    ];
    if wide {
        header.push("OWNER");
        widths.push(Constraint::Fill(1));
    }
    let id_len = app.short_len();
    let rows = list.jobs.iter().map(|job| {
        let [waited, ran, eta] = timing(job, now);
        let step = job.error_code.as_ref().map_or_else(
            || job.current_step.clone(),
            |code| format!("{} [{code}]", job.current_step),
        );
        let mut cells = vec![
            Cell::from(short_id::show(&job.job_id, id_len)),
            Cell::from(job.status.to_string()).style(status_style(job.status)),
            progress_cell(job),
            Cell::from(step),
            Cell::from(waited),
            Cell::from(ran),
            Cell::from(eta),
            Cell::from(job.file_name.clone()),
        ];
        if wide {
            cells.push(Cell::from(job.owner_email.clone().unwrap_or_default()));
        }
        Row::new(cells)
    });
    let pages = list.total.div_ceil(u64::from(list.per_page.max(1))).max(1);
    let title = format!(
        " Jobs: {} of {}, page {} of {pages}{} ",
        list.jobs.len(),
        list.total,
        list.page,
        if app.filter.is_empty() {
            String::new()
        } else {
            format!(" matching \"{}\"", app.filter)
        }
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().bold()))
        .row_highlight_style(Style::new().reversed())
        .highlight_symbol("> ")
        .block(Block::bordered().title(title));
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_workers(frame: &mut Frame<'_>, area: Rect, app: &App, o: &Overview, now: OffsetDateTime) {
    let wide = area.width >= 120;
    let mut header = vec![
        "ID", "KIND", "BEAT", "BUSY", "JOBS", "FETCHED", "POOL", "MEM",
    ];
    let mut widths = vec![
        Constraint::Fill(2),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(8),
    ];
    if wide {
        header.extend(["VERSION", "HOST"]);
        widths.extend([Constraint::Length(8), Constraint::Fill(1)]);
    }
    let id_len = short_id::len_for(o.instances.iter().flat_map(|i| &i.current_jobs));
    let rows = o.instances.iter().map(|i| {
        let beat = if i.stale {
            Cell::from(format!("{} !", format::duration(i.age_secs)))
                .style(Style::new().red().bold())
        } else {
            Cell::from(format::duration(i.age_secs))
        };
        let mut cells = vec![
            Cell::from(i.id.clone()),
            if i.draining {
                Cell::from("draining").style(Style::new().yellow().bold())
            } else {
                Cell::from(i.kind.clone())
            },
            beat,
            Cell::from(format!("{}/{}", i.busy, i.concurrency)),
            Cell::from(current_jobs(&i.current_jobs, id_len, wide)),
            Cell::from(i.last_fetch_at.map_or_else(
                || "-".to_owned(),
                |at| format::duration(format::secs_between(at, now)),
            )),
            Cell::from(
                i.pool
                    .map_or_else(|| "-".to_owned(), |p| format!("{}/{}", p.in_use, p.max)),
            ),
            Cell::from(i.rss_bytes.map_or_else(|| "-".to_owned(), format::bytes)),
        ];
        if wide {
            cells.push(Cell::from(i.version.clone()));
            cells.push(Cell::from(format!("{} pid {}", i.host, i.pid)));
        }
        let row = Row::new(cells);
        if i.stale {
            row.style(Style::new().red())
        } else {
            row
        }
    });
    let stale = o.instances.iter().filter(|i| i.stale).count();
    let title = format!(
        " Instances: {}{} ",
        o.instances.len(),
        if stale > 0 {
            format!(", {stale} STALE (no heartbeat for 30s+)")
        } else {
            String::new()
        }
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().bold()))
        .row_highlight_style(Style::new().reversed())
        .highlight_symbol("> ")
        .block(Block::bordered().title(title));
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Completed, failed and pages over the hour or the day, overall and per worker: sparklines,
/// and a chart of the overall counts when wide.
fn draw_throughput_view(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(t) = &app.throughput else {
        frame.render_widget(
            Paragraph::new("reading the throughput ...")
                .block(Block::bordered().title(" Throughput ")),
            area,
        );
        return;
    };
    let (window_secs, bucket_secs) = t.window.secs();
    #[allow(clippy::cast_precision_loss, reason = "display figures")]
    let title = format!(
        " Throughput, last {} per {} (t: {}) ",
        format::duration(window_secs as f64),
        format::duration(bucket_secs as f64),
        match t.window {
            pdfq_api_types::ThroughputWindow::Hour => "the day",
            pdfq_api_types::ThroughputWindow::Day => "the hour",
        }
    );
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let wide = area.width >= 120;
    let label = if wide { 30 } else { 16 };
    // More buckets than columns (the day at 80 columns): neighbours summed, so the whole
    // window shows.
    let columns = usize::from(inner.width.saturating_sub(label)).max(1);
    let per_column = t.overall.len().div_ceil(columns).max(1);
    let fit = |values: Vec<u64>| -> Vec<u64> {
        values.chunks(per_column).map(|c| c.iter().sum()).collect()
    };
    let series = |of: fn(&pdfq_api_types::ThroughputBucket) -> u64| -> Vec<u64> {
        fit(t.overall.iter().map(of).collect())
    };
    let completed = series(|b| b.completed);
    let failed = series(|b| b.failed);
    let pages = series(|b| b.pages);
    let chart_height = if wide { inner.height / 2 } else { 0 };
    let overall_rows: u16 = if wide { 1 } else { 3 };
    let workers = u16::try_from(t.workers.len()).unwrap_or(u16::MAX);
    let [chart_area, overall_area, workers_area, axis_area] = Layout::vertical([
        Constraint::Length(chart_height),
        Constraint::Length(overall_rows),
        Constraint::Length(workers.max(1)),
        Constraint::Length(1),
    ])
    .areas(inner);
    let [_, axis_cols] =
        Layout::horizontal([Constraint::Length(label), Constraint::Min(0)]).areas(axis_area);
    let scale = BucketScale::new(
        completed.len(),
        axis_cols.width,
        bucket_secs * per_column as u64,
    );
    frame.render_widget(Line::from(scale.axis()).dim(), axis_cols);
    let row = |frame: &mut Frame<'_>, area: Rect, name: &str, data: &[u64], color: Color| {
        let [label_area, spark_area] =
            Layout::horizontal([Constraint::Length(label), Constraint::Min(0)]).areas(area);
        let total: u64 = data.iter().sum();
        let width = usize::from(label).saturating_sub(7);
        frame.render_widget(
            Line::from(format!(
                "{:<width$}{total:>7}",
                format::truncate(name, width)
            )),
            label_area,
        );
        frame.render_widget(
            Sparkline::default()
                .data(scale.columns(data))
                .style(Style::new().fg(color)),
            spark_area,
        );
    };
    if wide {
        draw_throughput_chart(
            frame,
            chart_area,
            &completed,
            &failed,
            bucket_secs * per_column as u64,
        );
        row(frame, overall_area, "pages", &pages, Color::Cyan);
    } else {
        let rows = Layout::vertical([Constraint::Length(1); 3]).split(overall_area);
        row(frame, rows[0], "completed", &completed, Color::Green);
        row(frame, rows[1], "failed", &failed, Color::Red);
        row(frame, rows[2], "pages", &pages, Color::Cyan);
    }
    if t.workers.is_empty() {
        frame.render_widget(
            Line::from("no worker finished a job in the window").dim(),
            workers_area,
        );
    }
    let rows = Layout::vertical(vec![Constraint::Length(1); t.workers.len()]).split(workers_area);
    for (w, area) in t.workers.iter().zip(rows.iter()) {
        let data = fit(w.buckets.iter().map(|b| b.completed).collect());
        // Narrow: the id's end, its random part, which tells workers of one host apart.
        let name = if wide {
            w.worker_id.clone()
        } else {
            let tail: String = w.worker_id.chars().rev().take(7).collect();
            format!("…{}", tail.chars().rev().collect::<String>())
        };
        row(frame, *area, &name, &data, Color::Green);
    }
}

/// Completed and failed over the window as lines on time and count axes.
fn draw_throughput_chart(
    frame: &mut Frame<'_>,
    area: Rect,
    completed: &[u64],
    failed: &[u64],
    bucket_secs: u64,
) {
    #[allow(clippy::cast_precision_loss, reason = "chart coordinates")]
    let points = |data: &[u64]| -> Vec<(f64, f64)> {
        let n = data.len();
        data.iter()
            .enumerate()
            .map(|(i, v)| ((i as f64) - (n as f64 - 1.0), *v as f64))
            .collect()
    };
    let (done, lost) = (points(completed), points(failed));
    let max = completed
        .iter()
        .chain(failed)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    #[allow(clippy::cast_precision_loss, reason = "chart coordinates")]
    let (span, top) = ((completed.len().max(2) - 1) as f64, max as f64);
    let datasets = vec![
        Dataset::default()
            .name("completed")
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().green())
            .data(&done),
        Dataset::default()
            .name("failed")
            .marker(symbols::Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().red())
            .data(&lost),
    ];
    let window = completed.len() as u64 * bucket_secs;
    let chart = Chart::new(datasets)
        .x_axis(Axis::default().bounds([-span, 0.0]).labels(vec![
            ago_label(window),
            ago_label(window / 2),
            "now".to_owned(),
        ]))
        .y_axis(Axis::default().bounds([0.0, top]).labels(vec![
            "0".to_owned(),
            (max / 2).to_string(),
            max.to_string(),
        ]));
    frame.render_widget(chart, area);
}

/// Failures of the last day grouped by code and message pattern, largest first; `R` retries
/// the selected group.
fn draw_errors(frame: &mut Frame<'_>, area: Rect, app: &App, now: OffsetDateTime) {
    let Some(groups) = &app.errors else {
        frame.render_widget(
            Paragraph::new("reading the failures ...").block(Block::bordered().title(" Errors ")),
            area,
        );
        return;
    };
    let wide = area.width >= 120;
    let ago = |at| format::duration(format::secs_between(at, now));
    let mut header = vec!["COUNT", "CODE", "FIRST", "LAST", "PATTERN"];
    let mut widths = vec![
        Constraint::Length(5),
        Constraint::Length(if wide { 24 } else { 16 }),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let id_len = short_id::len_for(groups.groups.iter().map(|g| &g.example_job));
    if wide {
        header.push("EXAMPLE");
        widths.push(Constraint::Length(u16::try_from(id_len).unwrap_or(8)));
    }
    let rows = groups.groups.iter().map(|g| {
        let mut cells = vec![
            Cell::from(format!("{:>5}", g.count)).style(Style::new().red().bold()),
            Cell::from(g.code.clone()),
            Cell::from(ago(g.first_seen)),
            Cell::from(ago(g.last_seen)),
            Cell::from(g.pattern.clone()),
        ];
        if wide {
            cells.push(Cell::from(short_id::show(&g.example_job, id_len)));
        }
        Row::new(cells)
    });
    #[allow(clippy::cast_precision_loss, reason = "a display figure")]
    let window = format::duration(groups.since_secs as f64);
    let title = format!(
        " Errors: {} failures in the last {window}, {} groups; R retries a group ",
        groups.failures,
        groups.groups.len()
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().bold()))
        .row_highlight_style(Style::new().reversed())
        .highlight_symbol("> ")
        .block(Block::bordered().title(title));
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The operator actions, newest first: when, who, what, to how many.
fn draw_audit(frame: &mut Frame<'_>, area: Rect, app: &App, now: OffsetDateTime) {
    let Some(page) = &app.audit else {
        frame.render_widget(
            Paragraph::new("reading the audit log ...").block(Block::bordered().title(" Audit ")),
            area,
        );
        return;
    };
    let wide = area.width >= 120;
    let mut header = vec!["AGO", "WHO", "ACTION", "COUNT", "WHAT"];
    let mut widths = vec![
        Constraint::Length(6),
        Constraint::Length(if wide { 28 } else { 18 }),
        Constraint::Length(18),
        Constraint::Length(5),
        Constraint::Fill(1),
    ];
    if wide {
        header.insert(0, "WHEN (UTC)");
        widths.insert(0, Constraint::Length(20));
    }
    let rows = page.entries.iter().map(|e| {
        let what = match (&e.target, &e.detail) {
            (Some(t), Some(d)) => format!("{t} ({d})"),
            (Some(t), None) => t.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => "-".to_owned(),
        };
        let mut cells = vec![
            Cell::from(format::duration(format::secs_between(e.at, now))),
            Cell::from(e.actor_email.clone()),
            Cell::from(e.action.clone()).style(if e.action.contains("delete") {
                Style::new().red()
            } else {
                Style::new().cyan()
            }),
            Cell::from(format!("{:>5}", e.count)),
            Cell::from(what),
        ];
        if wide {
            cells.insert(0, Cell::from(format::timestamp(e.at)));
        }
        Row::new(cells)
    });
    let title = format!(
        " Audit: the last {} operator actions, newest first ",
        page.entries.len()
    );
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().bold()))
        .row_highlight_style(Style::new().reversed())
        .highlight_symbol("> ")
        .block(Block::bordered().title(title));
    let mut state = TableState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Short ids of the jobs an instance runs; on a narrow screen the first and how many more.
fn current_jobs(jobs: &[pdfq_domain::JobId], id_len: usize, wide: bool) -> String {
    let short = |j: &pdfq_domain::JobId| short_id::show(j, id_len);
    match jobs {
        [] => String::new(),
        [first, rest @ ..] if !wide && !rest.is_empty() => {
            format!("{}+{}", short(first), rest.len())
        }
        _ => jobs.iter().map(short).collect::<Vec<_>>().join(" "),
    }
}

/// `area` shrunk to a centred box of at most `width` x `height`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// "Processing chunk 5/10" -> (5, 10).
fn chunks(step: &str) -> Option<(u32, u32)> {
    let rest = &step[step.find("chunk ")? + 6..];
    let (done, total) = rest.split_once('/')?;
    let total: String = total.chars().take_while(char::is_ascii_digit).collect();
    Some((done.trim().parse().ok()?, total.parse().ok()?))
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, detail: &JobTimeline, now: OffsetDateTime) {
    let job = &detail.job;
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<10}"), Style::new().bold()),
            Span::raw(value),
        ])
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{:<10}", "status"), Style::new().bold()),
            Span::styled(job.status.to_string(), status_style(job.status)),
            Span::raw(match job.status {
                JobStatus::Failed | JobStatus::Cancelled => {
                    format!("  stopped at {}%", job.progress)
                }
                _ => format!("  {}", bar(job.progress, 20)),
            }),
        ]),
        field("step", job.current_step.clone()),
        field(
            "file",
            format!("{} ({})", job.file_name, format::bytes(job.file_size)),
        ),
        field("attempts", job.attempts.to_string()),
    ];
    if let Some((done, total)) = chunks(&job.current_step) {
        lines.push(field("chunks", format!("{done} of {total} done")));
    }
    lines.push(field("created", format::timestamp(job.created_at)));
    if let Some(started) = job.started_at {
        lines.push(field(
            "started",
            format!(
                "{} (waited {})",
                format::timestamp(started),
                format::duration(format::secs_between(job.created_at, started))
            ),
        ));
    }
    let from = job.started_at.unwrap_or(job.created_at);
    match job.finished_at {
        Some(finished) => lines.push(field(
            "finished",
            format!(
                "{} (ran {})",
                format::timestamp(finished),
                format::duration(format::secs_between(from, finished))
            ),
        )),
        None => lines.push(field(
            "running",
            format::duration(format::secs_between(from, now)),
        )),
    }
    if let Some(count) = job.sentence_count {
        lines.push(field("sentences", count.to_string()));
    }
    if let Some(error) = &job.error {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<10}", "error"), Style::new().bold()),
            Span::styled(
                format!("{}: {}", error.code, error.message),
                Style::new().red(),
            ),
        ]));
    }
    // Room for the fields and as much of the timeline as the screen allows: the newest events
    // that fit, oldest of them first.
    let wanted = lines.len() + 1 + detail.events.len() + 2;
    let popup = centered(area, 100, u16::try_from(wanted).unwrap_or(u16::MAX));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .title(format!(" Job {} ", job.job_id))
        .title_bottom(Line::from(" Esc closes ").right_aligned());
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let room = usize::from(inner.height).saturating_sub(lines.len() + 1);
    let events = &detail.events;
    let shown = &events[events.len().saturating_sub(room)..];
    lines.push(Line::from(vec![
        Span::styled("timeline", Style::new().bold()),
        Span::raw(if shown.len() < events.len() {
            format!("  (last {} of {})", shown.len(), events.len())
        } else {
            format!("  ({} events)", events.len())
        })
        .dim(),
    ]));
    for event in shown {
        let worker = event
            .worker_id
            .as_deref()
            .map_or_else(String::new, |w| format!("  [{w}]"));
        lines.push(Line::from(vec![
            Span::raw(format!("{} #{} ", format::clock(event.at), event.attempt)).dim(),
            Span::styled(
                format!("{:<10}", event.status.to_string()),
                status_style(event.status),
            ),
            Span::raw(format!(" {}", event.message)),
            Span::raw(worker).dim(),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_help(frame: &mut Frame<'_>, area: Rect, read_only: bool) {
    let popup = centered(area, 62, 21);
    frame.render_widget(Clear, popup);
    let keys: &[(&str, &str)] = &[
        ("?", "this help (any key closes it)"),
        ("q, Ctrl-C", "quit"),
        ("Tab, 1-6", "views, from overview to throughput"),
        ("j/k, arrows", "move"),
        ("g / G", "first / last row"),
        ("space", "freeze or resume refreshing"),
        ("+ / -", "refresh more / less often"),
        ("[ / ]", "previous / next page of jobs"),
        ("/", "filter jobs: status, email, id, file"),
        ("Enter", "job detail (Esc closes)"),
        ("R  C  D", "retry, cancel, delete the selected job"),
        ("R (Errors)", "retry every job of the selected group"),
        ("t (Throughput)", "the last hour or the last day"),
        ("P", "pause or resume the queue"),
        ("X", "purge dead letters"),
        ("W", "drain the selected worker, or lift its drain"),
        ("B", "retry, cancel or delete all jobs matching /"),
    ];
    let mut lines: Vec<Line<'_>> = keys
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!(" {key:<15}"), Style::new().bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(if read_only {
        " read-only: the uppercase actions are off"
    } else {
        " every uppercase action asks y/N first"
    }));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Keys ")),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_progress_is_read_from_the_step() {
        assert_eq!(chunks("Processing chunk 5/10"), Some((5, 10)));
        assert_eq!(chunks("Queued"), None);
    }
}
