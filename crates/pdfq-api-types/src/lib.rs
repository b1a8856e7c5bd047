//! The JSON bodies of the pdfq API, shared by the API (which serialises them and derives its
//! OpenAPI schemas from them, feature `openapi`), the client and pdfctl (which deserialise them),
//! so they cannot drift apart. No HTTP client here: the server links none.
//!
//! A job's status is the domain's [`JobStatus`] itself, whose schema pdfq-domain derives (its
//! feature `openapi`).

mod webhooks;

use std::collections::BTreeMap;

use pdfq_domain::{JobId, JobStatus, UserId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

pub use webhooks::{
    CreatedWebhook, DeliveriesQuery, DeliveryState, NewWebhookRequest, WebhookAttemptView,
    WebhookDeliveries, WebhookDeliveryView, WebhookList, WebhookView,
};

/// Every error the API answers: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable machine-readable `code` and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// The body of register and login.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Credentials {
    /// An address: one `@` with text on both sides, no whitespace, at most 254 bytes.
    #[cfg_attr(
        feature = "openapi",
        schema(format = "email", max_length = 254, example = "ada@example.com")
    )]
    pub email: String,
    /// 8 to 1024 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 8,
            max_length = 1024,
            example = "correct horse battery staple"
        )
    )]
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // A password must never reach a log line through a `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A newly registered account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisteredUser {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub user_id: UserId,
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
}

/// What login and refresh answer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenPair {
    /// A JWT (HS256), valid `expires_in` seconds; send it as `Authorization: Bearer ...`.
    pub access_token: String,
    /// Opaque, valid 30 days, good for one use: each refresh returns a new one.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    pub expires_in: u64,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The body of refresh.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest").finish_non_exhaustive()
    }
}

/// The body of logout: the refresh token whose family ends; without one, every session of the
/// caller ends.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LogoutRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for LogoutRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutRequest")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The answer to an accepted upload (202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UploadAccepted {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub job_id: JobId,
    #[cfg_attr(feature = "openapi", schema(example = "pending"))]
    pub status: JobStatus,
}

/// A one-time ticket for a job's event stream (`GET /api/v1/jobs/{id}/events?ticket=...`),
/// for a browser's `EventSource`, which cannot send an Authorization header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EventTicket {
    /// Opens this job's stream once; keep it out of logs and history.
    pub ticket: String,
    /// Seconds left to use it.
    pub expires_in: u64,
}

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobError {
    pub code: String,
    pub message: String,
}

/// A job as its owner sees it: the original design's shape. `sentences` is present (strings, in
/// reading order) only when the job is completed and only on `GET /api/v1/jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobView {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub job_id: JobId,
    /// pending, processing, retrying, completed, failed or cancelled.
    #[cfg_attr(feature = "openapi", schema(example = "processing"))]
    pub status: JobStatus,
    /// Percent done, 0 to 100.
    pub progress: u8,
    /// e.g. "Processing chunk 5/10".
    pub current_step: String,
    pub file_name: String,
    pub file_size: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<OffsetDateTime>,
    /// The current (or last) attempt; 0 before a worker first takes the job.
    pub attempts: u32,
    pub error: Option<JobError>,
    pub sentence_count: Option<u32>,
    /// What the job could not read (pages of a damaged or truncated file); left out when
    /// there is nothing to say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<JobWarning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentences: Option<Vec<String>>,
}

/// A page a completed job could not read (its text is missing from the result), or, without
/// `page`, damage to the whole file (pages may be missing altogether).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobWarning {
    /// 1-based page number; null for the file as a whole.
    pub page: Option<u32>,
    /// Why, e.g. "its content stream is missing from the file".
    pub message: String,
}

/// One row of a job list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobListItem {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub job_id: JobId,
    pub status: JobStatus,
    pub progress: u8,
    pub current_step: String,
    pub file_name: String,
    pub file_size: u64,
    pub attempts: u32,
    pub error_code: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// When a worker claimed the current attempt: the time before it was spent waiting.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<OffsetDateTime>,
    /// The owner's email: admin search only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobList {
    pub jobs: Vec<JobListItem>,
    pub page: u32,
    pub per_page: u32,
    /// Jobs matching the filter, over all pages.
    pub total: u64,
}

/// The query of `GET /api/v1/jobs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct JobListQuery {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// 1-based page number (default 1).
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 20).
    pub per_page: Option<u32>,
}

/// What `GET /api/v1/jobs/{id}` answers with besides the job's status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobInclude {
    /// The status and, once completed, every sentence inline (the original design's shape).
    #[default]
    Sentences,
    /// The status alone, whatever the result's size: for pollers.
    None,
}

/// The query of `GET /api/v1/jobs/{id}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct JobQuery {
    /// `sentences` (default): a completed job's sentences inline; `none`: the status alone.
    /// Big results are read page by page from `/api/v1/jobs/{id}/sentences`.
    #[cfg_attr(feature = "openapi", param(value_type = Option<JobInclude>))]
    pub include: Option<JobInclude>,
}

/// Page and page size of any paginated list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct PageQuery {
    /// 1-based page number (default 1).
    pub page: Option<u32>,
    /// Items per page (default 100 for sentences, 20 for jobs; at most 1000 and 100).
    pub per_page: Option<u32>,
}

/// One sentence of a result, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SentenceItem {
    /// Position in the whole result, from 0.
    pub index: u64,
    pub text: String,
    /// The PDF page it starts on (1-based).
    pub page: u32,
    /// The chunk of pages that produced it (0-based).
    pub chunk: u32,
    /// Every page (1-based) its lines are on, ascending: more than one when it flows over a
    /// page break. Empty for results stored before pdfq kept where sentences are drawn.
    #[serde(default)]
    pub pages: Vec<u32>,
    /// The size of each of `pages` as a viewer shows it: the frame of `boxes`.
    #[serde(default)]
    pub page_sizes: Vec<PageSize>,
    /// Where it is drawn, for highlighting: one box per line, or part of a line, it covers, in
    /// reading order, at most 64 (parts of lines past the 64th widen the last box when on its
    /// page, and have no box otherwise). Empty where the page's layout is unknown.
    #[serde(default)]
    pub boxes: Vec<SentenceBox>,
}

/// A page as a viewer shows it: the crop box (the media box when there is none) turned by the
/// page's /Rotate, in PDF points. Scale `boxes` by the rendered page's width over `width`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PageSize {
    /// The page (1-based).
    pub page: u32,
    /// Width in points (1/72 inch), after /Rotate.
    pub width: f32,
    /// Height in points, after /Rotate.
    pub height: f32,
}

/// A rectangle of a sentence on one page, in PDF points from the top-left corner of the page
/// as a viewer shows it (crop box, /Rotate applied), x to the right and y downwards, the frame
/// PDF.js viewports and browsers use; `x0 <= x1`, `y0 <= y1`. It covers the glyphs' ascent
/// and descent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SentenceBox {
    /// The page (1-based).
    pub page: u32,
    /// Left edge, points from the page's left edge.
    pub x0: f32,
    /// Top edge, points from the page's top edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Bottom edge.
    pub y1: f32,
}

/// A page of a completed job's sentences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SentencePage {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub job_id: JobId,
    pub status: JobStatus,
    pub page: u32,
    pub per_page: u32,
    /// Sentences in the whole result (0 until the job completes).
    pub total: u64,
    pub sentences: Vec<SentenceItem>,
}

/// One dependency's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HealthCheck {
    /// `ok` or `error`.
    pub status: String,
    pub latency_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/v1/health`: 200 when every check is ok, 503 otherwise, with this body either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HealthReport {
    /// `healthy` or `unhealthy`.
    pub status: String,
    /// `database` and `redis` (`queue` for the in-process broker of the embedded mode).
    pub checks: BTreeMap<String, HealthCheck>,
}

impl HealthReport {
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        self.status == "healthy"
    }
}

/// The admin job search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AdminJobQuery {
    /// A job id or part of it: its first characters, or its last (random) ones.
    pub id: Option<String>,
    pub status: Option<JobStatus>,
    /// Part of the owner's email.
    pub owner: Option<String>,
    /// Part of the file name.
    pub file_name: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// The queue's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct QueueView {
    pub waiting: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub dead: u64,
    pub oldest_waiting_age_secs: Option<f64>,
    pub paused: bool,
}

/// Jobs finished in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MinuteThroughput {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub minute: OffsetDateTime,
    /// Jobs completed in the minute (from the job events in the database).
    pub processed: u64,
    /// Jobs that failed for good in the minute.
    pub failed: u64,
}

/// A database pool's connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PoolView {
    pub size: u32,
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// An API or worker process, from its latest heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InstanceView {
    pub id: String,
    /// `api` or `worker`.
    pub kind: String,
    pub host: String,
    pub pid: u32,
    pub version: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: OffsetDateTime,
    pub concurrency: u32,
    pub busy: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub current_jobs: Vec<JobId>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_fetch_at: Option<OffsetDateTime>,
    pub status: Option<String>,
    pub pool: Option<PoolView>,
    /// The process's resident memory in bytes (extraction children not included).
    #[serde(default)]
    pub rss_bytes: Option<u64>,
    /// An operator asked this worker to take no new jobs (`pdfctl workers drain`).
    #[serde(default)]
    pub draining: bool,
    /// Seconds since its last heartbeat.
    pub age_secs: f64,
    /// No heartbeat for a while: probably gone or stuck.
    pub stale: bool,
}

/// Everything the operator's dashboard shows, in one call. A source that cannot be read (Redis
/// or the database down) leaves its fields empty and is named in `problems`, so the dashboard
/// still shows the rest, health included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Overview {
    /// `redis` or `memory`.
    pub broker: String,
    /// Absent when the queue could not be read.
    pub queue: Option<QueueView>,
    /// Processed and failed per minute, the last 60 minutes, oldest first.
    pub throughput: Vec<MinuteThroughput>,
    pub instances: Vec<InstanceView>,
    /// Jobs in each status, from the database.
    pub jobs_by_status: BTreeMap<String, u64>,
    /// How long the oldest pending job has waited, from the database.
    pub oldest_pending_age_secs: Option<f64>,
    /// Memory used by Redis; absent for the in-process broker.
    pub redis_memory_bytes: Option<u64>,
    /// This API instance's database pool.
    pub api_pool: PoolView,
    /// The database server's connection limit (PostgreSQL's max_connections), which every
    /// instance's pool shares; absent for SQLite or when it could not be read.
    #[serde(default)]
    pub db_max_connections: Option<u32>,
    pub health: HealthReport,
    /// What could not be read, e.g. "queue statistics: queue unavailable: ...".
    #[serde(default)]
    pub problems: Vec<String>,
}

/// One entry of a job's history: a status change or a note by the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobEventView {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    /// The attempt it belongs to (0 before the first claim).
    pub attempt: u32,
    pub status: JobStatus,
    /// The worker that wrote it, if a worker did.
    pub worker_id: Option<String>,
    pub message: String,
}

/// A job and its whole history, oldest event first: the dashboard's job detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct JobTimeline {
    pub job: JobView,
    pub events: Vec<JobEventView>,
}

/// A worker's drain request as it now stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkerDrain {
    pub worker_id: String,
    /// The worker takes no new jobs.
    pub draining: bool,
    /// It exits once its running jobs have finished.
    pub exit_when_idle: bool,
}

/// `?exit=true` on a drain request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DrainQuery {
    /// Exit once the running jobs have finished, instead of staying up idle.
    #[serde(default)]
    pub exit: bool,
}

/// Whether the queue hands out jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct QueueState {
    pub paused: bool,
}

/// The errors view's window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ErrorsQuery {
    /// Failures of the last this many seconds (default a day, at most 30 days).
    pub since_secs: Option<u64>,
}

/// Failures alike: one error code and message pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorGroup {
    pub code: String,
    /// The message with its numbers as N and ids as <id>.
    pub pattern: String,
    pub count: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_seen: OffsetDateTime,
    /// The newest job of the group.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub example_job: JobId,
}

/// Jobs that failed for good in a window, grouped; largest group first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorGroups {
    pub since_secs: u64,
    /// Failures read (at most 10,000, the newest).
    pub failures: u64,
    pub groups: Vec<ErrorGroup>,
}

/// What a bulk action does to each matching job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Retry,
    Cancel,
    Delete,
}

/// Which jobs a bulk action takes: every field narrows; at least one must be given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkFilter {
    pub status: Option<JobStatus>,
    /// Part of the owner's email.
    pub owner: Option<String>,
    /// Part of the file name.
    pub file_name: Option<String>,
    /// The error code, exactly.
    pub error_code: Option<String>,
    /// Only jobs created at least this many seconds ago.
    pub older_than_secs: Option<u64>,
    /// Only jobs whose error message has this pattern (numbers as N, ids as <id>), as
    /// `GET /api/v1/admin/errors` groups them: with `error_code`, exactly one group.
    #[serde(default)]
    pub error_pattern: Option<String>,
    /// Only jobs that finished at or after this time (a group's first seen).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_since: Option<OffsetDateTime>,
}

/// A bulk action on every job matching a filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkRequest {
    pub action: BulkAction,
    pub filter: BulkFilter,
    /// Count the matching jobs, act on none.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a bulk action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BulkOutcome {
    /// Jobs matching the filter when the action started.
    pub matched: u64,
    /// Jobs the action applied to (0 on a dry run).
    pub acted: u64,
    /// Jobs whose state did not allow it (a retry of a running job, a cancel of a finished
    /// one) or that went away meanwhile.
    pub skipped: u64,
}

/// A page of the audit log: `since` and `before` narrow, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// Only entries recorded at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, format = DateTime))]
    pub since: Option<OffsetDateTime>,
    /// Only entries older than this one: the previous page's `next_before`.
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub before: Option<i64>,
    /// Entries per page, 1 to 500 (default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
}

/// One operator action: who, when, what and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditEntryView {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    /// The admin's account; absent for a command run on the database directly (`pdfctl jobs
    /// purge`), whose `actor_email` is the operating system's user@host.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "uuid"))]
    pub actor_id: Option<UserId>,
    pub actor_email: String,
    /// `pause`, `resume`, `retry`, `cancel`, `delete`, `purge_dead_letters`, `drain`,
    /// `undrain`, `bulk_retry`, `bulk_cancel` or `bulk_delete`.
    pub action: String,
    /// A job id, a worker id or a bulk filter; absent for the queue as a whole.
    pub target: Option<String>,
    /// How many things it changed.
    pub count: u64,
    pub detail: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// `before` for the next (older) page; absent on the last one.
    pub next_before: Option<i64>,
}

/// The throughput view's window: the last hour per minute, or the last day per 15 minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum ThroughputWindow {
    #[default]
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
}

impl ThroughputWindow {
    /// The window's length and its buckets' width, in seconds.
    #[must_use]
    pub const fn secs(self) -> (u64, u64) {
        match self {
            Self::Hour => (3600, 60),
            Self::Day => (86_400, 900),
        }
    }
}

/// `?window=1h|24h`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ThroughputQuery {
    /// `1h` (per minute, the default) or `24h` (per 15 minutes).
    pub window: Option<ThroughputWindow>,
}

/// Jobs finished in one bucket, and the pages of those that completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ThroughputBucket {
    /// The bucket's start.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub start: OffsetDateTime,
    pub completed: u64,
    pub failed: u64,
    pub pages: u64,
}

/// One worker's buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WorkerThroughput {
    pub worker_id: String,
    pub buckets: Vec<ThroughputBucket>,
}

/// Completed, failed and pages over a window, from the job events in the database: every
/// bucket of the window oldest first (empty ones included), overall and per worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Throughput {
    pub window: ThroughputWindow,
    pub bucket_secs: u64,
    pub overall: Vec<ThroughputBucket>,
    /// The workers that finished a job in the window, by id.
    pub workers: Vec<WorkerThroughput>,
}

/// How many dead letters a purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Purged {
    pub purged: u64,
}

/// A job that will not be retried automatically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeadLetterView {
    pub entry_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub job_id: JobId,
    pub attempt: u32,
    pub code: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
}

/// One Server-Sent Event of `GET /api/v1/jobs/{id}/events`: `progress` while the job runs, then
/// one `end` when it is completed, failed or cancelled (or deleted: `gone`, with no job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobUpdate {
    pub event: String,
    pub job: Option<JobView>,
}
