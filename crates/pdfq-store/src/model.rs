//! The typed rows the store returns and the inputs it takes.

use std::fmt;
use std::str::FromStr;

use pdfq_domain::{Attempt, JobId, JobStatus, Progress, UserId, WorkerId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::provenance::Provenance;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

/// A refresh token to store. Only its hash is kept; the token itself is the client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub id: Uuid,
    pub user_id: UserId,
    /// Every token issued by rotation from one login shares the family of that login.
    pub family_id: Uuid,
    pub token_hash: Vec<u8>,
    pub expires_at: OffsetDateTime,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was live and is now spent: issue its successor in the same family.
    Valid { user_id: UserId, family_id: Uuid },
    /// The token was already spent or revoked: a sign of theft, so its whole family is now
    /// revoked.
    Reused { family_id: Uuid },
    /// The token is past its expiry.
    Expired,
    /// No such token.
    Unknown,
}

/// An upload to store as a new pending job.
#[derive(Clone)]
pub struct NewJob {
    pub id: JobId,
    pub owner: UserId,
    pub file_name: String,
    pub file_size: u64,
    pub sha256: [u8; 32],
    pub content: crate::files::FileContent,
    /// The owner's limits, checked in the job's transaction ([`crate::Quotas::NONE`]: none).
    pub quotas: crate::files::Quotas,
}

/// An upload's `Idempotency-Key`: a job created with it is the one answered to every upload
/// with the same key by the same user until the key's lifetime ends.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    /// Keys recorded before this are expired.
    pub issued_after: OffsetDateTime,
}

/// The conflict a job's creation meets when its idempotency key is already taken.
pub(crate) const IDEMPOTENCY_KEY_TAKEN: &str = "this idempotency key is taken";

/// What creating a job with an idempotency key did.
#[derive(Debug, Clone)]
pub enum Created {
    /// A new job.
    New(Job),
    /// The key's job, created earlier (or concurrently) by the same user.
    Existing(Job),
}

impl fmt::Debug for NewJob {
    // The file itself would flood any log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewJob")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("file_name", &self.file_name)
            .field("file_size", &self.file_size)
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

/// A job as the API shows it and the worker runs it. The result (rows of `job_result_chunks`
/// and `job_sentences`) is read separately, page by page, through the store's `sentences` or
/// `job_results`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub owner_id: UserId,
    pub status: JobStatus,
    pub progress: Progress,
    pub current_step: String,
    /// The current (or last) attempt; 0 before the first claim.
    pub attempts: Attempt,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub page_count: Option<u32>,
    pub chunk_count: Option<u32>,
    pub last_finished_chunk: Option<u32>,
    pub sentence_count: Option<u32>,
    pub file_name: String,
    pub file_size: u64,
    pub file_sha256: Vec<u8>,
    pub worker_id: Option<WorkerId>,
    pub cancel_requested: bool,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    pub heartbeat_at: Option<OffsetDateTime>,
    pub next_attempt_at: Option<OffsetDateTime>,
    /// What the job could not read although it completed; empty for most.
    pub warnings: Vec<JobWarning>,
}

/// Something a job could not read although it completed: one page (1-based) or, without a
/// page, the file as a whole (a truncated file whose remaining pages are lost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobWarning {
    pub page: Option<u32>,
    pub message: String,
}

/// A job in a list: what a table row shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSummary {
    pub id: JobId,
    pub owner_id: UserId,
    pub owner_email: String,
    pub status: JobStatus,
    pub progress: Progress,
    pub current_step: String,
    pub attempts: Attempt,
    pub file_name: String,
    pub file_size: u64,
    pub error_code: Option<String>,
    /// Why it failed, for grouping failures alike (a bulk action on one group).
    pub error_message: Option<String>,
    pub created_at: OffsetDateTime,
    /// When the current (last) attempt was claimed by a worker.
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
}

/// One entry of a job's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    pub id: i64,
    pub job_id: JobId,
    pub at: OffsetDateTime,
    pub attempt: Attempt,
    pub status: JobStatus,
    pub worker_id: Option<WorkerId>,
    pub message: String,
}

/// A job a worker has just claimed, and the attempt its writes must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub job: Job,
    pub attempt: Attempt,
    /// The upload, read by the claim's own statement where that saves a round trip;
    /// [`crate::Store::claimed_file`] hands it over.
    pub(crate) file: crate::files::ClaimedFile,
}

/// One sentence of the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sentence {
    pub text: String,
    pub page: u32,
    /// Its pages and line boxes; empty for results stored before they were kept, and where
    /// the whole result is read at once (the job's answer with its sentences inline).
    #[serde(default, rename = "prov", skip_serializing_if = "Provenance::is_empty")]
    pub provenance: Provenance,
}

/// The result of one chunk of pages; a job's whole result is these in chunk order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkResult {
    pub index: u32,
    pub first_page: u32,
    pub last_page: u32,
    pub sentences: Vec<Sentence>,
}

/// A sentence as the API pages through them: its place in the whole result and its chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceRow {
    pub index: u64,
    pub text: String,
    pub page: u32,
    pub chunk: u32,
    pub provenance: Provenance,
}

/// One page of a longer list, and how many items the whole list has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Which jobs a user's list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this owner's jobs; `None` for all (admins).
    pub owner: Option<UserId>,
    pub status: Option<JobStatus>,
    pub limit: u32,
    pub offset: u64,
}

impl JobFilter {
    /// The first `limit` jobs of one owner, newest first.
    #[must_use]
    pub fn owner(owner: UserId, limit: u32) -> Self {
        Self {
            owner: Some(owner),
            status: None,
            limit,
            offset: 0,
        }
    }
}

/// The admin dashboard's search. Every field narrows the result; text matches ignore case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobSearch {
    /// A whole job id, or part of one (its first or last characters).
    pub id: Option<String>,
    pub status: Option<JobStatus>,
    /// Part of the owner's email.
    pub owner_email: Option<String>,
    /// Part of the file name.
    pub file_name: Option<String>,
    /// The error code, exactly (e.g. `pdf_encrypted`).
    pub error_code: Option<String>,
    /// Only jobs created before this (older than an age).
    pub created_before: Option<OffsetDateTime>,
    pub limit: u32,
    pub offset: u64,
}

/// A job that failed for good: what the errors view groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub id: JobId,
    pub code: String,
    pub message: String,
    pub finished_at: OffsetDateTime,
}

/// Jobs that finished in one minute, from their events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteFinished {
    /// The start of the minute (UTC).
    pub minute: OffsetDateTime,
    pub completed: u64,
    pub failed: u64,
}

/// Jobs finished in one time bucket by one worker, and the pages of those that completed, from
/// the job events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedBucket {
    /// The start of the bucket (UTC), a multiple of its width since the Unix epoch.
    pub start: OffsetDateTime,
    /// The worker that finished them; `None` for jobs finished without one.
    pub worker_id: Option<WorkerId>,
    pub completed: u64,
    pub failed: u64,
    pub pages: u64,
}

/// An operator action to record in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewAuditEntry<'a> {
    /// The admin's account; `None` for a command run on the database directly, whose
    /// `actor_email` is then the operating system's user@host.
    pub actor_id: Option<UserId>,
    pub actor_email: &'a str,
    /// What was done: `pause`, `retry`, `bulk_delete`, ...
    pub action: &'a str,
    /// What it was done to (a job id, a worker id, a filter); `None` for the queue as a whole.
    pub target: Option<&'a str>,
    /// How many things it changed.
    pub count: u64,
    pub detail: Option<&'a str>,
}

/// A recorded operator action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor_id: Option<UserId>,
    pub actor_email: String,
    pub action: String,
    pub target: Option<String>,
    pub count: u64,
    pub detail: Option<String>,
}

/// How many jobs are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub pending: u64,
    pub processing: u64,
    pub retrying: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl StatusCounts {
    #[must_use]
    pub fn get(&self, status: JobStatus) -> u64 {
        match status {
            JobStatus::Pending => self.pending,
            JobStatus::Processing => self.processing,
            JobStatus::Retrying => self.retrying,
            JobStatus::Completed => self.completed,
            JobStatus::Failed => self.failed,
            JobStatus::Cancelled => self.cancelled,
        }
    }

    pub(crate) fn set(&mut self, status: JobStatus, n: u64) {
        *match status {
            JobStatus::Pending => &mut self.pending,
            JobStatus::Processing => &mut self.processing,
            JobStatus::Retrying => &mut self.retrying,
            JobStatus::Completed => &mut self.completed,
            JobStatus::Failed => &mut self.failed,
            JobStatus::Cancelled => &mut self.cancelled,
        } = n;
    }
}

/// The result of a worker's conditional write.
///
/// Writes name the job and the attempt; one that no longer matches changes nothing. A write
/// repeated by safe commit after its first try did commit reports `AlreadyApplied`, so it is
/// never mistaken for a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The change was made now.
    Applied,
    /// The job is already in the state this write asks for, for the same attempt (a duplicate,
    /// a retried commit, or a progress report behind an earlier one). Nothing changed.
    AlreadyApplied,
    /// The attempt is no longer the job's current one, or the job left the status the write
    /// needs (cancelled, reaped, requeued, deleted). Nothing changed; the worker must stop.
    Stale {
        /// The job's status now; `None` if it was deleted.
        status: Option<JobStatus>,
        /// The job's current attempt.
        attempts: Attempt,
    },
}

impl Commit {
    /// Applied now or before: the worker may go on.
    #[must_use]
    pub const fn is_ok(self) -> bool {
        matches!(self, Self::Applied | Self::AlreadyApplied)
    }

    /// `Stale` as [`crate::StoreError::StaleAttempt`], for callers that propagate it with `?`.
    pub fn or_stale(self, job: JobId, attempt: Attempt) -> Result<Self, crate::StoreError> {
        match self {
            Self::Stale { .. } => Err(crate::StoreError::StaleAttempt { job, attempt }),
            ok => Ok(ok),
        }
    }
}

/// One migration and whether the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    /// When it was applied; `None` while pending.
    pub applied_at: Option<OffsetDateTime>,
    /// The applied script differs from the one built into this binary.
    pub checksum_mismatch: bool,
}

/// A webhook to register. `secret` signs its deliveries and is stored as it is: it must be
/// readable to sign.
#[derive(Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub id: Uuid,
    pub owner: UserId,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
}

/// A registered webhook.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: Uuid,
    pub owner_id: UserId,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub created_at: OffsetDateTime,
}

// The secrets must never reach a log line through a `{:?}`.
impl fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewWebhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not answered with a 2xx yet; another attempt is due at `next_attempt_at`.
    Pending,
    /// An attempt was answered with a 2xx.
    Delivered,
    /// The retry window was spent without a 2xx.
    Failed,
}

impl DeliveryStatus {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown delivery status {other:?}")),
        }
    }
}

/// One delivery of one event to one webhook, with every attempt made so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event: String,
    pub job_id: JobId,
    /// The JSON body sent, the same on every attempt.
    pub payload: String,
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    /// Oldest first.
    pub attempts: Vec<WebhookAttempt>,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// 1 for the first.
    pub attempt: u32,
    pub at: OffsetDateTime,
    /// The answer's status; `None` when no answer came (refused, timed out, unreachable).
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// A delivery a worker took to send now, as attempt `attempt`.
#[derive(Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub attempt: u32,
    pub event: String,
    pub job_id: JobId,
    pub payload: String,
    pub created_at: OffsetDateTime,
    pub url: String,
    pub secret: String,
}

impl fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DueDelivery")
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .field("event", &self.event)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What became of an attempt, and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration: std::time::Duration,
    pub next: NextStep,
}

/// After an attempt: done, another one after a delay, or no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryIn(std::time::Duration),
    GiveUp,
}
