//! The dashboard's state and what keys do to it. No terminal types here: keys arrive as
//! [`Key`], data as [`Update`], and what should happen outside (fetch, act, quit) leaves as
//! [`Effect`], so the whole behaviour is testable without a terminal.

use std::time::Duration;

use pdfq_api_types::{
    AdminJobQuery, AuditPage, BulkAction, BulkFilter, ErrorGroup, ErrorGroups, JobList,
    JobTimeline, Overview, Throughput, ThroughputWindow,
};
use pdfq_domain::{JobId, JobStatus};
use time::OffsetDateTime;

use super::metrics::Traffic;
use crate::short_id;

/// A key press, already decoded from the terminal's event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Up,
    Down,
    Home,
    End,
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    CtrlC,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Overview,
    Jobs,
    Workers,
    Audit,
    Errors,
    Throughput,
}

impl View {
    pub const ALL: [Self; 6] = [
        Self::Overview,
        Self::Jobs,
        Self::Workers,
        Self::Audit,
        Self::Errors,
        Self::Throughput,
    ];

    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Jobs => "Jobs",
            Self::Workers => "Workers",
            Self::Audit => "Audit",
            Self::Errors => "Errors",
            Self::Throughput => "Throughput",
        }
    }
}

/// What a view shows beyond the overview and the jobs, fetched only while it is on screen.
#[derive(Debug, Clone)]
pub enum ViewData {
    Audit(AuditPage),
    Errors(ErrorGroups),
    Throughput(Throughput),
}

/// A job as the screen names it: its id and the short id shown for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    pub id: JobId,
    pub shown: String,
}

/// A change the operator asked for, carried out by the fetcher once confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Retry(JobRef),
    Cancel(JobRef),
    Delete(JobRef),
    Pause,
    Resume,
    PurgeDead,
    /// Stop a worker taking new jobs (by its instance id); its running jobs finish.
    Drain(String),
    Undrain(String),
    /// The action on every job matching the filter; `count` is how many the list showed.
    Bulk {
        action: BulkAction,
        filter: BulkFilter,
        count: u64,
    },
}

impl Action {
    #[must_use]
    pub fn question(&self) -> String {
        match self {
            Self::Retry(job) => format!("Retry job {}?", job.shown),
            Self::Cancel(job) => format!("Cancel job {}?", job.shown),
            Self::Delete(job) => format!("Delete job {} with its file and results?", job.shown),
            Self::Pause => "Pause the queue (workers take no new jobs)?".to_owned(),
            Self::Resume => "Resume the queue?".to_owned(),
            Self::PurgeDead => "Remove every dead letter?".to_owned(),
            Self::Drain(worker) => {
                format!("Drain worker {worker} (no new jobs until undrained)?")
            }
            Self::Undrain(worker) => format!("Lift the drain on worker {worker}?"),
            Self::Bulk {
                action,
                filter,
                count,
            } if filter.error_pattern.is_some() => format!(
                "{} the {count} jobs of group {} \"{}\"?",
                verb(*action),
                filter.error_code.as_deref().unwrap_or_default(),
                crate::commands::format::truncate(
                    filter.error_pattern.as_deref().unwrap_or_default(),
                    20
                )
            ),
            Self::Bulk {
                action,
                filter,
                count,
            } => format!(
                "{} {count} jobs matching \"{}\"?",
                verb(*action),
                describe(filter)
            ),
        }
    }
}

fn verb(action: BulkAction) -> &'static str {
    match action {
        BulkAction::Retry => "Retry",
        BulkAction::Cancel => "Cancel",
        BulkAction::Delete => "Delete",
    }
}

/// What the background fetcher reports.
#[derive(Debug, Clone)]
pub enum Update {
    Data {
        overview: Box<Overview>,
        jobs: JobList,
        detail: Option<Box<JobTimeline>>,
        /// The job whose detail was asked for: a fetch that started before Enter was pressed
        /// answers for no job, which must not read as "the job is gone".
        detail_of: Option<JobId>,
        /// API traffic since the previous fetch; `None` on the first, or without `/metrics`.
        traffic: Option<Traffic>,
        at: OffsetDateTime,
    },
    /// The API could not be read at `at`; the last data stays on screen, marked stale.
    Lost { error: String, at: OffsetDateTime },
    /// The outcome of an [`Action`], for the status line.
    Done(String),
    /// The current view's own data.
    View(ViewData),
}

/// What the app asks of the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Fetch now with these settings (after a change of filter, detail, freeze or interval).
    Settings(FetchSettings),
    Act(Action),
}

/// What the fetcher fetches, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    pub interval: Duration,
    pub frozen: bool,
    pub query: AdminJobQuery,
    pub detail: Option<JobId>,
    /// The view on screen: its own data is fetched too.
    pub view: View,
    pub throughput_window: ThroughputWindow,
}

/// What the bottom line is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    None,
    /// Typing a filter after `/`.
    Filter(String),
    Confirm(Action),
    /// After `B`: which action to take on every job matching the filter.
    Bulk,
}

#[derive(Debug, Clone)]
pub struct App {
    pub api_url: String,
    pub read_only: bool,
    pub view: View,
    pub overview: Option<Overview>,
    pub jobs: Option<JobList>,
    pub detail: Option<JobTimeline>,
    pub traffic: Option<Traffic>,
    /// The newest operator actions, once the audit view has been shown.
    pub audit: Option<AuditPage>,
    /// Failures grouped, once the errors view has been shown.
    pub errors: Option<ErrorGroups>,
    /// Finished jobs and pages over time, once the throughput view has been shown.
    pub throughput: Option<Throughput>,
    /// The throughput view's window (`t` switches between the hour and the day).
    pub throughput_window: ThroughputWindow,
    /// Enter was pressed on this job; its detail shows once fetched.
    pub detail_open: Option<JobId>,
    pub selected: usize,
    /// The page of the jobs list asked for, from 1.
    pub page: u32,
    pub filter: String,
    pub prompt: Prompt,
    pub help: bool,
    pub frozen: bool,
    pub interval: Duration,
    pub last_ok: Option<OffsetDateTime>,
    pub lost: Option<String>,
    /// When the API was first found unreachable, in the current outage.
    pub lost_since: Option<OffsetDateTime>,
    pub status: Option<String>,
}

const MIN_INTERVAL: Duration = Duration::from_millis(500);
const MAX_INTERVAL: Duration = Duration::from_secs(60);

impl App {
    #[must_use]
    pub fn new(api_url: &str, interval: Duration, read_only: bool) -> Self {
        Self {
            api_url: api_url.to_owned(),
            read_only,
            view: View::Overview,
            overview: None,
            jobs: None,
            detail: None,
            traffic: None,
            audit: None,
            errors: None,
            throughput: None,
            throughput_window: ThroughputWindow::Hour,
            detail_open: None,
            selected: 0,
            page: 1,
            filter: String::new(),
            prompt: Prompt::None,
            help: false,
            frozen: false,
            interval: interval.clamp(MIN_INTERVAL, MAX_INTERVAL),
            last_ok: None,
            lost: None,
            lost_since: None,
            status: None,
        }
    }

    /// How old the data on screen is, when it is stale (the API cannot be read now).
    #[must_use]
    pub fn stale_age(&self, now: OffsetDateTime) -> Option<f64> {
        self.lost.as_ref()?;
        self.last_ok.map(|at| (now - at).as_seconds_f64().max(0.0))
    }

    /// What the fetcher should do now.
    #[must_use]
    pub fn settings(&self) -> FetchSettings {
        FetchSettings {
            interval: self.interval,
            frozen: self.frozen,
            query: AdminJobQuery {
                page: Some(self.page),
                ..filter_query(&self.filter)
            },
            detail: self.detail_open,
            view: self.view,
            throughput_window: self.throughput_window,
        }
    }

    pub fn update(&mut self, update: Update) {
        match update {
            Update::Data {
                overview,
                jobs,
                detail,
                detail_of,
                traffic,
                at,
            } => {
                if traffic.is_some() {
                    self.traffic = traffic;
                }
                let mut overview = *overview;
                // The heartbeats come in no set order: sorted, rows (and the selection with
                // them) stay put between refreshes.
                overview
                    .instances
                    .sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
                self.overview = Some(overview);
                self.jobs = Some(jobs);
                if detail_of == self.detail_open {
                    self.detail = detail.map(|d| *d);
                }
                if let (Some(id), None, true) = (
                    self.detail_open,
                    &self.detail,
                    detail_of == self.detail_open,
                ) {
                    // The job went away (deleted) while its detail was open.
                    self.detail_open = None;
                    self.status = Some(format!("job {} is gone", self.shown(&id)));
                }
                self.last_ok = Some(at);
                self.lost = None;
                self.lost_since = None;
                self.clamp_selection();
            }
            Update::Lost { error, at } => {
                self.lost = Some(error);
                self.lost_since.get_or_insert(at);
            }
            Update::Done(message) => self.status = Some(message),
            Update::View(ViewData::Audit(page)) => {
                self.audit = Some(page);
                self.clamp_selection();
            }
            Update::View(ViewData::Errors(groups)) => {
                self.errors = Some(groups);
                self.clamp_selection();
            }
            // A fetch from before `t` answers for the other window: not shown.
            Update::View(ViewData::Throughput(t)) if t.window == self.throughput_window => {
                self.throughput = Some(t);
            }
            Update::View(ViewData::Throughput(_)) => {}
        }
    }

    fn rows(&self) -> usize {
        match self.view {
            View::Overview => 0,
            View::Jobs => self.jobs.as_ref().map_or(0, |j| j.jobs.len()),
            View::Workers => self.overview.as_ref().map_or(0, |o| o.instances.len()),
            View::Audit => self.audit.as_ref().map_or(0, |a| a.entries.len()),
            View::Errors => self.errors.as_ref().map_or(0, |e| e.groups.len()),
            View::Throughput => 0,
        }
    }

    fn clamp_selection(&mut self) {
        self.selected = self.selected.min(self.rows().saturating_sub(1));
    }

    /// The job under the cursor in the jobs view.
    #[must_use]
    pub fn selected_job(&self) -> Option<JobId> {
        if self.view != View::Jobs {
            return None;
        }
        self.jobs
            .as_ref()
            .and_then(|j| j.jobs.get(self.selected))
            .map(|j| j.job_id)
    }

    /// How many last digits the jobs view shows of each id (see [`short_id`]).
    #[must_use]
    pub fn short_len(&self) -> usize {
        short_id::len_for(
            self.jobs
                .iter()
                .flat_map(|l| l.jobs.iter().map(|j| &j.job_id)),
        )
    }

    /// `id` as the jobs view shows it.
    #[must_use]
    pub fn shown(&self, id: &JobId) -> String {
        short_id::show(id, self.short_len())
    }

    fn selected_ref(&self) -> Option<JobRef> {
        self.selected_job().map(|id| JobRef {
            shown: self.shown(&id),
            id,
        })
    }

    pub fn on_key(&mut self, key: Key) -> Vec<Effect> {
        if key == Key::CtrlC {
            return vec![Effect::Quit];
        }
        match self.prompt.clone() {
            Prompt::Filter(text) => return self.on_filter_key(key, text),
            Prompt::Confirm(action) => {
                self.prompt = Prompt::None;
                return if matches!(key, Key::Char('y' | 'Y')) {
                    self.status = Some(format!("{}...", action.question().trim_end_matches('?')));
                    vec![Effect::Act(action)]
                } else {
                    self.status = Some("cancelled".to_owned());
                    Vec::new()
                };
            }
            Prompt::Bulk => {
                self.prompt = Prompt::None;
                let action = match key {
                    Key::Char('r') => BulkAction::Retry,
                    Key::Char('c') => BulkAction::Cancel,
                    Key::Char('d') => BulkAction::Delete,
                    _ => {
                        self.status = Some("cancelled".to_owned());
                        return Vec::new();
                    }
                };
                let query = filter_query(&self.filter);
                self.prompt = Prompt::Confirm(Action::Bulk {
                    action,
                    filter: BulkFilter {
                        status: query.status,
                        owner: query.owner,
                        file_name: query.file_name,
                        ..BulkFilter::default()
                    },
                    count: self.jobs.as_ref().map_or(0, |l| l.total),
                });
                return Vec::new();
            }
            Prompt::None => {}
        }
        if self.help {
            // Any key closes the help; q still quits.
            self.help = false;
            return if key == Key::Char('q') {
                vec![Effect::Quit]
            } else {
                Vec::new()
            };
        }
        if self.detail_open.is_some() && matches!(key, Key::Esc | Key::Enter | Key::Char('q')) {
            self.detail_open = None;
            self.detail = None;
            return vec![Effect::Settings(self.settings())];
        }
        match key {
            Key::Char('q') => vec![Effect::Quit],
            Key::Esc => {
                self.status = None;
                Vec::new()
            }
            Key::Char('?') => {
                self.help = true;
                Vec::new()
            }
            Key::Tab => self.switch(1),
            Key::BackTab => self.switch(View::ALL.len() - 1),
            Key::Char('1') => self.go(View::Overview),
            Key::Char('2') => self.go(View::Jobs),
            Key::Char('3') => self.go(View::Workers),
            Key::Char('4') => self.go(View::Audit),
            Key::Char('5') => self.go(View::Errors),
            Key::Char('6') => self.go(View::Throughput),
            Key::Char('t') if self.view == View::Throughput => {
                self.throughput_window = match self.throughput_window {
                    ThroughputWindow::Hour => ThroughputWindow::Day,
                    ThroughputWindow::Day => ThroughputWindow::Hour,
                };
                vec![Effect::Settings(self.settings())]
            }
            Key::Char('j') | Key::Down => {
                if self.selected + 1 < self.rows() {
                    self.selected += 1;
                }
                Vec::new()
            }
            Key::Char('k') | Key::Up => {
                self.selected = self.selected.saturating_sub(1);
                Vec::new()
            }
            Key::Char('g') | Key::Home => {
                self.selected = 0;
                Vec::new()
            }
            Key::Char('G') | Key::End => {
                self.selected = self.rows().saturating_sub(1);
                Vec::new()
            }
            Key::Char(' ') => {
                self.frozen = !self.frozen;
                vec![Effect::Settings(self.settings())]
            }
            // + for more: more refreshes, a shorter interval.
            Key::Char('+' | '=') => {
                self.interval = (self.interval / 2).max(MIN_INTERVAL);
                vec![Effect::Settings(self.settings())]
            }
            Key::Char('-') => {
                self.interval = (self.interval * 2).min(MAX_INTERVAL);
                vec![Effect::Settings(self.settings())]
            }
            Key::Char(']') => self.turn_page(true),
            Key::Char('[') => self.turn_page(false),
            Key::Char('/') => {
                self.view = View::Jobs;
                self.prompt = Prompt::Filter(self.filter.clone());
                Vec::new()
            }
            Key::Enter => match self.selected_job() {
                Some(id) => {
                    self.detail_open = Some(id);
                    vec![Effect::Settings(self.settings())]
                }
                None => Vec::new(),
            },
            Key::Char('B') => {
                self.ask_bulk();
                Vec::new()
            }
            Key::Char(c @ ('R' | 'C' | 'D' | 'P' | 'X' | 'W')) => {
                self.ask(c);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Asks which action to take on every job matching the filter (Jobs view, with a filter
    /// the bulk endpoint can apply: status, owner, file name).
    fn ask_bulk(&mut self) {
        let refusal = if self.read_only {
            Some("read-only: actions are off (started with --read-only)")
        } else if self.view != View::Jobs || self.filter.is_empty() {
            Some("B acts on every job matching a filter: filter the Jobs view with / first")
        } else if filter_query(&self.filter).id.is_some() {
            Some("bulk actions filter by status, owner and file name, not by id")
        } else {
            None
        };
        match refusal {
            Some(why) => self.status = Some(why.to_owned()),
            None => self.prompt = Prompt::Bulk,
        }
    }

    /// The next or previous page of the jobs list, within the pages there are.
    fn turn_page(&mut self, forward: bool) -> Vec<Effect> {
        let pages = self.jobs.as_ref().map_or(1, |l| {
            let pages = l.total.div_ceil(u64::from(l.per_page.max(1))).max(1);
            u32::try_from(pages).unwrap_or(u32::MAX)
        });
        let page = if forward {
            (self.page + 1).min(pages)
        } else {
            self.page.saturating_sub(1).max(1)
        };
        if page == self.page || self.view != View::Jobs {
            return Vec::new();
        }
        self.page = page;
        self.selected = 0;
        vec![Effect::Settings(self.settings())]
    }

    /// The error group under the cursor in the errors view.
    #[must_use]
    pub fn selected_group(&self) -> Option<&ErrorGroup> {
        if self.view != View::Errors {
            return None;
        }
        self.errors.as_ref()?.groups.get(self.selected)
    }

    /// Retrying every job of the selected group, exactly: its code, its message pattern, and
    /// failed since the group was first seen in the window.
    fn retry_group(&self) -> Option<Action> {
        let group = self.selected_group()?;
        Some(Action::Bulk {
            action: BulkAction::Retry,
            filter: BulkFilter {
                status: Some(JobStatus::Failed),
                error_code: Some(group.code.clone()),
                error_pattern: Some(group.pattern.clone()),
                finished_since: Some(group.first_seen),
                ..BulkFilter::default()
            },
            count: group.count,
        })
    }

    /// The worker under the cursor in the workers view, and whether it is draining.
    fn selected_worker(&self) -> Option<(String, bool)> {
        if self.view != View::Workers {
            return None;
        }
        self.overview
            .as_ref()
            .and_then(|o| o.instances.get(self.selected))
            .filter(|i| i.kind == "worker")
            .map(|i| (i.id.clone(), i.draining))
    }

    /// Shows `view`; fetches now, so a view with its own data does not wait a whole interval.
    fn go(&mut self, view: View) -> Vec<Effect> {
        if self.view == view {
            return Vec::new();
        }
        self.view = view;
        self.selected = 0;
        vec![Effect::Settings(self.settings())]
    }

    fn switch(&mut self, by: usize) -> Vec<Effect> {
        let at = View::ALL.iter().position(|v| *v == self.view).unwrap_or(0);
        self.go(View::ALL[(at + by) % View::ALL.len()])
    }

    /// Asks to confirm the action on an uppercase key; nothing in --read-only mode.
    fn ask(&mut self, key: char) {
        if self.read_only {
            self.status = Some("read-only: actions are off (started with --read-only)".to_owned());
            return;
        }
        let paused = self
            .overview
            .as_ref()
            .and_then(|o| o.queue.as_ref())
            .is_some_and(|q| q.paused);
        let action = match key {
            'P' if paused => Some(Action::Resume),
            'P' => Some(Action::Pause),
            'X' => Some(Action::PurgeDead),
            'R' if self.view == View::Errors => self.retry_group(),
            'R' => self.selected_ref().map(Action::Retry),
            'C' => self.selected_ref().map(Action::Cancel),
            'D' => self.selected_ref().map(Action::Delete),
            'W' => self.selected_worker().map(|(id, draining)| {
                if draining {
                    Action::Undrain(id)
                } else {
                    Action::Drain(id)
                }
            }),
            _ => None,
        };
        match (action, key) {
            (Some(action), _) => self.prompt = Prompt::Confirm(action),
            (None, 'W') => {
                self.status = Some("select a worker in the Workers view first".to_owned());
            }
            (None, 'R') if self.view == View::Errors => {
                self.status = Some("no error group to retry in this window".to_owned());
            }
            (None, _) => self.status = Some("select a job in the Jobs view first".to_owned()),
        }
    }

    fn on_filter_key(&mut self, key: Key, mut text: String) -> Vec<Effect> {
        match key {
            Key::Enter => {
                self.prompt = Prompt::None;
                self.filter = text.trim().to_owned();
                self.selected = 0;
                self.page = 1;
                vec![Effect::Settings(self.settings())]
            }
            Key::Esc => {
                self.prompt = Prompt::None;
                Vec::new()
            }
            Key::Backspace => {
                text.pop();
                self.prompt = Prompt::Filter(text);
                Vec::new()
            }
            Key::Char(c) => {
                text.push(c);
                self.prompt = Prompt::Filter(text);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

/// A bulk filter in the words of the `/` filter.
fn describe(filter: &BulkFilter) -> String {
    [
        filter.status.map(|s| s.to_string()),
        filter.owner.clone(),
        filter.file_name.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
}

/// The admin search for a filter: a status name, an email (has `@`), part of an id (hex: its
/// short form or its start),
/// or else part of a file name. Several words combine.
#[must_use]
pub fn filter_query(filter: &str) -> AdminJobQuery {
    let mut query = AdminJobQuery {
        per_page: Some(100),
        ..AdminJobQuery::default()
    };
    for word in filter.split_whitespace() {
        if let Ok(status) = word.parse::<JobStatus>() {
            query.status = Some(status);
        } else if word.contains('@') || word.starts_with("owner:") {
            query.owner = Some(word.trim_start_matches("owner:").to_owned());
        } else if word.len() >= 4 && word.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            query.id = Some(word.to_owned());
        } else {
            query.file_name = Some(word.to_owned());
        }
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_searches() {
        let q = filter_query("failed alice@example.com");
        assert_eq!(q.status, Some(JobStatus::Failed));
        assert_eq!(q.owner.as_deref(), Some("alice@example.com"));
        assert_eq!(filter_query("3f2a").id.as_deref(), Some("3f2a"));
        assert_eq!(filter_query("report").file_name.as_deref(), Some("report"));
    }

    #[test]
    fn keys_move_freeze_and_confirm() {
        let mut app = App::new("http://x", Duration::from_secs(2), false);
        assert_eq!(app.on_key(Key::Char('q')), vec![Effect::Quit]);
        app.on_key(Key::Tab);
        assert_eq!(app.view, View::Jobs);
        let effects = app.on_key(Key::Char(' '));
        assert!(app.frozen && matches!(effects[0], Effect::Settings(_)));
        app.on_key(Key::Char('-'));
        assert_eq!(app.interval, Duration::from_secs(4));
        app.on_key(Key::Char('P'));
        assert_eq!(app.prompt, Prompt::Confirm(Action::Pause));
        assert_eq!(app.on_key(Key::Char('n')), Vec::new());
        app.on_key(Key::Char('P'));
        assert_eq!(app.on_key(Key::Char('y')), vec![Effect::Act(Action::Pause)]);

        let mut ro = App::new("http://x", Duration::from_secs(2), true);
        ro.on_key(Key::Char('X'));
        assert_eq!(ro.prompt, Prompt::None);
        assert!(
            ro.status
                .as_deref()
                .unwrap_or_default()
                .contains("read-only")
        );
    }
}
