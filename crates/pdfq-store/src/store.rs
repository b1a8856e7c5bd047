//! The one interface the API and the worker use: a [`Store`] on PostgreSQL or on SQLite.
//!
//! Every method dispatches to the backend with a `match`; the worker's writes go through safe
//! commit ([`crate::retry::with_retry`]) here, once, for both backends.

use std::time::Duration;

use pdfq_domain::{Attempt, CurrentStep, JobId, Progress, UserId, WorkerId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::DatabaseConfig;
use crate::files::StoredFile;
use crate::model::{AttemptOutcome, DueDelivery, NewWebhook, Webhook, WebhookDelivery};
use crate::model::{
    AuditEntry, ChunkResult, Claimed, Commit, Created, Failure, FinishedBucket,
    IDEMPOTENCY_KEY_TAKEN, IdempotencyKey, Job, JobEvent, JobFilter, JobSearch, JobSummary,
    JobWarning, MigrationStatus, MinuteFinished, NewAuditEntry, NewJob, NewRefreshToken, Page,
    RefreshOutcome, Role, SentenceRow, StatusCounts, User,
};
use crate::pool::{MIGRATOR, PoolStats, SQLITE_MIGRATOR, connect_postgres, pool_stats_of};
use crate::postgres::PgStore;
use crate::retry::{RetryPolicy, with_retry};
use crate::sqlite::SqliteStore;
use crate::{StoreError, verify};

/// pdfq's database: PostgreSQL in the distributed mode, SQLite in the embedded one.
#[derive(Debug, Clone)]
pub enum Store {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

macro_rules! dispatch {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Store::Postgres($s) => $body,
            Store::Sqlite($s) => $body,
        }
    };
}
pub(crate) use dispatch;

impl Store {
    /// Connects by URL: `sqlite:...` opens the embedded store, anything else is PostgreSQL with
    /// the design's pool settings.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(SqliteStore::connect(url).await?))
        } else {
            Self::postgres(&DatabaseConfig::for_url(url))
        }
    }

    /// PostgreSQL with the pool `config` describes. Connections open lazily, so this succeeds
    /// while the database is down.
    pub fn postgres(config: &DatabaseConfig) -> Result<Self, StoreError> {
        Ok(Self::Postgres(PgStore::new(connect_postgres(config)?)))
    }

    /// The embedded store in the SQLite file at `path`, created if missing.
    pub async fn sqlite(path: &std::path::Path) -> Result<Self, StoreError> {
        Ok(Self::Sqlite(SqliteStore::open(path).await?))
    }

    /// The same store with another safe-commit schedule (tests shorten it).
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        dispatch!(&mut self, s => s.set_retry(policy));
        self
    }

    #[must_use]
    pub fn retry_policy(&self) -> &RetryPolicy {
        dispatch!(self, s => s.retry())
    }

    /// Applies the pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(s) => MIGRATOR.run(s.pool()).await?,
            Self::Sqlite(s) => SQLITE_MIGRATOR.run(s.pool()).await?,
        }
        Ok(())
    }

    /// Each migration this binary knows, applied or pending.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>, StoreError> {
        verify::migration_status(self.live()).await
    }

    /// Differences between the live schema and the one the migrations define; empty when they
    /// agree.
    pub async fn verify_schema(&self) -> Result<Vec<verify::SchemaDifference>, StoreError> {
        verify::verify_schema(self.live()).await
    }

    /// The pool, for the schema checks.
    fn live(&self) -> verify::Live<'_> {
        match self {
            Self::Postgres(s) => verify::Live::Postgres(s.pool()),
            Self::Sqlite(s) => verify::Live::Sqlite(s.pool()),
        }
    }

    /// Size, in use, idle and maximum connections of the pool, for metrics.
    #[must_use]
    pub fn pool_stats(&self) -> PoolStats {
        dispatch!(self, s => pool_stats_of(s.pool()))
    }

    /// The health check's probe: one round trip on a pooled connection.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Postgres(s) => crate::pool::ping(s.pool()).await?,
            Self::Sqlite(s) => {
                sqlx::query("select 1").execute(s.pool()).await?;
            }
        }
        Ok(())
    }

    /// The server's connection limit (PostgreSQL's `max_connections`), against which the
    /// dashboard sets the pools of every instance; `None` for SQLite, which has none.
    pub async fn max_connections(&self) -> Result<Option<u32>, StoreError> {
        match self {
            Self::Postgres(s) => {
                let value: String = sqlx::query_scalar("show max_connections")
                    .fetch_one(s.pool())
                    .await?;
                Ok(value.trim().parse().ok())
            }
            Self::Sqlite(_) => Ok(None),
        }
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        dispatch!(self, s => s.pool().close().await);
    }

    // Users.

    /// A new user. An email registered before, in any case, is [`StoreError::Conflict`].
    pub async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError> {
        dispatch!(self, s => s.create_user(email, password_hash, role).await)
    }

    /// The user with this email, whatever its case.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        dispatch!(self, s => s.user_by_email(email).await)
    }

    pub async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        dispatch!(self, s => s.user_by_id(id).await)
    }

    pub async fn set_role(&self, id: UserId, role: Role) -> Result<User, StoreError> {
        dispatch!(self, s => s.set_role(id, role).await)
    }

    /// Sets the account's password and role and revokes every refresh token it has, in one
    /// transaction: how the configured admin takes back an account someone else registered.
    /// Returns the account and the login sessions (token families) that were ended.
    pub async fn reset_credentials(
        &self,
        id: UserId,
        password_hash: &str,
        role: Role,
    ) -> Result<(User, Vec<Uuid>), StoreError> {
        dispatch!(self, s => s.reset_credentials(id, password_hash, role).await)
    }

    /// Deletes the account with everything it owns (jobs, files, tokens: the foreign keys
    /// cascade). [`StoreError::NotFound`] when there is none.
    pub async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_user(id).await)
    }

    pub async fn count_admins(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.count_admins().await)
    }

    // Refresh tokens.

    /// Stores a token issued at login (a new family) or by rotation.
    pub async fn insert_refresh_token(&self, token: &NewRefreshToken) -> Result<(), StoreError> {
        dispatch!(self, s => s.insert_refresh_token(token).await)
    }

    /// Spends a presented token. Of concurrent consumers of one token exactly one gets
    /// [`RefreshOutcome::Valid`]; a spent or revoked token revokes its whole family.
    ///
    /// Not retried by safe commit: a repeat after a lost answer would find the token spent and
    /// revoke the family; a lost answer costs the client a new login, the price of detecting theft.
    pub async fn consume_refresh_token(
        &self,
        token_hash: &[u8],
    ) -> Result<RefreshOutcome, StoreError> {
        dispatch!(self, s => s.consume_refresh_token(token_hash, None, Duration::ZERO).await)
    }

    /// Spends a presented token and, if it was valid, stores `successor` in its family (the
    /// successor's `user_id` and `family_id` are taken from the spent token) in the same
    /// transaction, so a concurrent reuse that revokes the family also revokes the successor.
    ///
    /// A token spent less than `grace` ago whose `successor` (same hash: the caller derives
    /// successors from the token, so a replay presents the same one) is stored and still
    /// unused is answered [`RefreshOutcome::Valid`] again without a new row: two tabs or a
    /// retry refreshing at once both keep the session (RFC 9700, 4.14.2). Once the successor
    /// is used, the old token revokes the family as always.
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &[u8],
        successor: &NewRefreshToken,
        grace: Duration,
    ) -> Result<RefreshOutcome, StoreError> {
        dispatch!(self, s => s.consume_refresh_token(token_hash, Some(successor), grace).await)
    }

    /// Revokes the family of the token `token_hash` when it is `user_id`'s (logout); its id,
    /// or `None` when the token is unknown or someone else's (left untouched).
    pub async fn revoke_family_of(
        &self,
        token_hash: &[u8],
        user_id: UserId,
    ) -> Result<Option<Uuid>, StoreError> {
        dispatch!(self, s => s.revoke_family_of(token_hash, user_id).await)
    }

    /// Revokes every token of a family; returns how many were still live.
    pub async fn revoke_family(&self, family_id: Uuid) -> Result<u64, StoreError> {
        dispatch!(self, s => s.revoke_family(family_id).await)
    }

    /// Logout everywhere: revokes all of a user's tokens; the login sessions (token families)
    /// that were live.
    pub async fn revoke_all_for_user(&self, user_id: UserId) -> Result<Vec<Uuid>, StoreError> {
        dispatch!(self, s => s.revoke_all_for_user(user_id).await)
    }

    // Jobs: the API's side.

    /// Stores the job, its file and its first timeline entry in one transaction, through safe
    /// commit, after checking `new.quotas` in that transaction. A repeat that finds the job
    /// already there (the first try committed but its answer was lost) returns it rather than
    /// a conflict.
    /// With files in a bucket, the file is written first and the job commits only after it is
    /// stored; an object whose job never commits is deleted by the sweeper.
    pub async fn create_job(&self, new: &NewJob) -> Result<Job, StoreError> {
        let file = self.store_file(new).await?;
        let created = with_retry(self.retry_policy(), "create_job", |try_no| {
            self.create_job_try(new, None, &file, try_no > 1)
        })
        .await;
        self.discard_unused(&file, &created).await;
        created
    }

    /// Creates the job unless `key` already names one of the same owner, recorded after
    /// `key.issued_after`; then that job is returned. A concurrent creation with the same key
    /// waits for the other to commit (PostgreSQL's unique index; SQLite's single writer) and
    /// returns its job: one job per key whatever the timing.
    pub async fn create_job_once(
        &self,
        new: &NewJob,
        key: &IdempotencyKey<'_>,
    ) -> Result<Created, StoreError> {
        let file = self.store_file(new).await?;
        let created = with_retry(self.retry_policy(), "create_job_once", |try_no| {
            self.create_job_try(new, Some(key), &file, try_no > 1)
        })
        .await;
        self.discard_unused(&file, &created).await;
        match created {
            Ok(job) => Ok(Created::New(job)),
            Err(StoreError::Conflict(why)) if why == IDEMPOTENCY_KEY_TAKEN => self
                .job_for_idempotency_key(new.owner, key)
                .await?
                .map(Created::Existing)
                // Taken, then deleted with its job in between: rare; the client may retry.
                .ok_or(StoreError::Conflict(why)),
            Err(e) => Err(e),
        }
    }

    /// Deletes at once the object written for a job the store refused by rule (a quota, a
    /// taken key). Any other failure leaves it to the sweeper after its grace (after a
    /// transient error the job may even have committed; the sweeper deletes only what no job
    /// holds).
    async fn discard_unused(&self, file: &StoredFile, created: &Result<Job, StoreError>) {
        if let (
            StoredFile::Object(key),
            Err(StoreError::QuotaExceeded(_) | StoreError::Conflict(_)),
        ) = (file, created)
        {
            self.discard_object(key).await;
        }
    }

    /// The job `owner` created with `key`, unless the key expired (recorded before
    /// `key.issued_after`) or the job was deleted.
    pub async fn job_for_idempotency_key(
        &self,
        owner: UserId,
        key: &IdempotencyKey<'_>,
    ) -> Result<Option<Job>, StoreError> {
        dispatch!(self, s => s.job_for_idempotency_key(owner, key.key, key.issued_after).await)
    }

    async fn create_job_try(
        &self,
        new: &NewJob,
        key: Option<&IdempotencyKey<'_>>,
        file: &StoredFile,
        repeat: bool,
    ) -> Result<Job, StoreError> {
        match dispatch!(self, s => s.create_job(new, key, file).await) {
            Err(StoreError::Conflict(why)) if repeat => match self.get_job(new.id).await? {
                Some(job) if job.owner_id == new.owner && job.file_sha256 == new.sha256 => Ok(job),
                _ => Err(StoreError::Conflict(why)),
            },
            other => other,
        }
    }

    pub async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        dispatch!(self, s => s.get_job(id).await)
    }

    /// The job if `owner` owns it; another owner's job is `None`, as a missing one.
    pub async fn get_job_for_owner(
        &self,
        id: JobId,
        owner: UserId,
    ) -> Result<Option<Job>, StoreError> {
        dispatch!(self, s => s.get_job_for_owner(id, owner).await)
    }

    /// Jobs newest first, with the total that matches the filter.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Page<JobSummary>, StoreError> {
        dispatch!(self, s => s.list_jobs(filter).await)
    }

    /// The admin search, newest first, with the total.
    pub async fn search_jobs(&self, search: &JobSearch) -> Result<Page<JobSummary>, StoreError> {
        dispatch!(self, s => s.search_jobs(search).await)
    }

    /// The job's timeline, oldest first.
    pub async fn job_events(&self, id: JobId) -> Result<Vec<JobEvent>, StoreError> {
        dispatch!(self, s => s.job_events(id).await)
    }

    /// Deletes the job with its file, chunks and timeline.
    pub async fn delete_job(&self, id: JobId) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_job(id).await)
    }

    pub async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        dispatch!(self, s => s.count_by_status().await)
    }

    /// Jobs completed and failed per minute since `since`, from the job events (so the
    /// history survives restarts and covers every worker), oldest first; minutes with none are
    /// left out. Deleted jobs take their events with them.
    pub async fn finished_per_minute(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<MinuteFinished>, StoreError> {
        let buckets = self
            .finished_buckets(since, Duration::from_secs(60))
            .await?;
        // Oldest first, each minute's workers together: summed into one row per minute.
        let mut minutes: Vec<MinuteFinished> = Vec::new();
        for b in buckets {
            match minutes.last_mut() {
                Some(m) if m.minute == b.start => {
                    m.completed += b.completed;
                    m.failed += b.failed;
                }
                _ => minutes.push(MinuteFinished {
                    minute: b.start,
                    completed: b.completed,
                    failed: b.failed,
                }),
            }
        }
        Ok(minutes)
    }

    /// Jobs completed and failed and the pages completed since `since`, per `bucket` (its
    /// start a multiple of its width since the Unix epoch) and per worker, from the job events;
    /// oldest first, buckets with none left out.
    pub async fn finished_buckets(
        &self,
        since: OffsetDateTime,
        bucket: Duration,
    ) -> Result<Vec<FinishedBucket>, StoreError> {
        dispatch!(self, s => s.finished_buckets(since, bucket).await)
    }

    /// Records an operator action in the audit log.
    pub async fn record_audit(&self, entry: &NewAuditEntry<'_>) -> Result<AuditEntry, StoreError> {
        dispatch!(self, s => s.record_audit(entry).await)
    }

    /// Audit entries at or after `since` and before entry `before`, newest first, at most
    /// `limit`.
    pub async fn audit_entries(
        &self,
        since: Option<OffsetDateTime>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        dispatch!(self, s => s.audit_entries(since, before, limit).await)
    }

    /// Jobs that failed for good since `since`, newest first, at most `limit`.
    pub async fn failures_since(
        &self,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Failure>, StoreError> {
        dispatch!(self, s => s.failures_since(since, limit).await)
    }

    /// How long the job that has waited longest in `pending` has waited.
    pub async fn oldest_pending_age(&self) -> Result<Option<Duration>, StoreError> {
        dispatch!(self, s => s.oldest_pending_age().await)
    }

    /// A page of a completed job's sentences in reading order; the total is the job's sentence
    /// count (0 while it has no result). A page costs the same at any depth: one key-range read
    /// of `limit` rows.
    ///
    /// `timeout` bounds the work after the caller stops waiting (the API passes
    /// REQUEST_TIMEOUT). PostgreSQL goes on with a statement whose future was dropped, so the
    /// server is told to cancel it (`statement_timeout`). SQLite is not told: the page's rows
    /// come in key order with no sort first, and the driver stops a statement at the next row
    /// once nobody waits for it.
    pub async fn sentences(
        &self,
        id: JobId,
        offset: u64,
        limit: u32,
        timeout: Duration,
    ) -> Result<Page<SentenceRow>, StoreError> {
        dispatch!(self, s => s.sentences(id, offset, limit, timeout).await)
    }

    /// The whole result of a completed job (`None` before it completes): the chunks, then
    /// every sentence aggregated into one JSON value in key order, O(result). `timeout` as for
    /// [`Self::sentences`]; on SQLite the aggregate runs to its end (tens of ms for 100,000
    /// sentences) even when nobody waits for it.
    pub async fn job_results(
        &self,
        id: JobId,
        timeout: Duration,
    ) -> Result<Option<Vec<ChunkResult>>, StoreError> {
        dispatch!(self, s => s.job_results(id, timeout).await)
    }

    /// Cancels a pending, retrying or running job (the running one's worker sees its next write
    /// rejected). Any other status is [`StoreError::IllegalTransition`].
    pub async fn cancel_job(&self, id: JobId) -> Result<Job, StoreError> {
        dispatch!(self, s => s.cancel_job(id).await)
    }

    /// Puts a failed or cancelled job back to pending. Its attempt count is kept, so attempt
    /// numbers never repeat.
    pub async fn retry_job(&self, id: JobId) -> Result<Job, StoreError> {
        dispatch!(self, s => s.retry_job(id).await)
    }

    // Jobs: the worker's side, every write through safe commit.

    /// Takes a pending or retrying job for a new attempt; `None` if it is not claimable (a
    /// duplicate delivery, a cancelled or finished job).
    pub async fn claim_job(
        &self,
        id: JobId,
        worker: &WorkerId,
    ) -> Result<Option<Claimed>, StoreError> {
        with_retry(self.retry_policy(), "claim_job", |try_no| async move {
            dispatch!(self, s => s.claim_job(id, worker, try_no > 1).await)
        })
        .await
    }

    pub async fn heartbeat(
        &self,
        id: JobId,
        attempt: Attempt,
        worker: &WorkerId,
    ) -> Result<Commit, StoreError> {
        with_retry(self.retry_policy(), "heartbeat", |_| async move {
            dispatch!(self, s => s.heartbeat(id, attempt, worker).await)
        })
        .await
    }

    /// Records progress; a report below the current value within the attempt changes nothing.
    pub async fn report_progress(
        &self,
        id: JobId,
        attempt: Attempt,
        progress: Progress,
        step: &CurrentStep,
    ) -> Result<Commit, StoreError> {
        with_retry(self.retry_policy(), "report_progress", |_| async move {
            dispatch!(self, s => s.report_progress(id, attempt, progress, step).await)
        })
        .await
    }

    /// Saves one finished chunk, once: a chunk already saved is kept as it was.
    pub async fn save_chunk(
        &self,
        id: JobId,
        attempt: Attempt,
        chunk: &ChunkResult,
    ) -> Result<Commit, StoreError> {
        self.save_chunks(id, attempt, std::slice::from_ref(chunk), None)
            .await
    }

    /// Saves finished chunks (each once) and optionally the progress reached, in one
    /// transaction.
    pub async fn save_chunks(
        &self,
        id: JobId,
        attempt: Attempt,
        chunks: &[ChunkResult],
        progress: Option<(Progress, &CurrentStep)>,
    ) -> Result<Commit, StoreError> {
        with_retry(self.retry_policy(), "save_chunks", |_| async move {
            dispatch!(self, s => s.save_chunks(id, attempt, chunks, progress).await)
        })
        .await
    }

    /// The chunks saved so far, in order: a retried attempt resumes after the last one.
    pub async fn finished_chunks(&self, id: JobId) -> Result<Vec<ChunkResult>, StoreError> {
        dispatch!(self, s => s.finished_chunks(id).await)
    }

    /// The indexes of the chunks saved so far, in order: what a retried attempt skips.
    pub async fn finished_chunk_indexes(&self, id: JobId) -> Result<Vec<u32>, StoreError> {
        dispatch!(self, s => s.finished_chunk_indexes(id).await)
    }

    /// Completes the job with the saved chunks as its result, exactly once. `chunk_count` must
    /// equal the chunks saved (by this attempt and earlier ones); otherwise nothing changes and
    /// the answer is [`StoreError::Conflict`], since the result would have holes.
    pub async fn complete_job(
        &self,
        id: JobId,
        attempt: Attempt,
        page_count: u32,
        chunk_count: u32,
    ) -> Result<Commit, StoreError> {
        self.complete_job_with_chunks(id, attempt, page_count, chunk_count, &[])
            .await
    }

    /// [`Store::complete_job`] with the last finished chunks saved in the same transaction
    /// (as [`Store::save_chunks`] saves them): a small job's whole result costs one commit.
    pub async fn complete_job_with_chunks(
        &self,
        id: JobId,
        attempt: Attempt,
        page_count: u32,
        chunk_count: u32,
        last_chunks: &[ChunkResult],
    ) -> Result<Commit, StoreError> {
        with_retry(self.retry_policy(), "complete_job", |_| async move {
            dispatch!(self, s => s.complete_job(id, attempt, page_count, chunk_count, last_chunks).await)
        })
        .await
    }

    /// Records what the attempt could not read (replacing what an earlier call recorded), to
    /// be shown with the job once it completes. A new claim clears them.
    pub async fn record_warnings(
        &self,
        id: JobId,
        attempt: Attempt,
        warnings: &[JobWarning],
    ) -> Result<Commit, StoreError> {
        with_retry(self.retry_policy(), "record_warnings", |_| async move {
            dispatch!(self, s => s.record_warnings(id, attempt, warnings).await)
        })
        .await
    }

    /// Fails the attempt: to `retrying` until `retry_at` when given, else to `failed`.
    pub async fn fail_job(
        &self,
        id: JobId,
        attempt: Attempt,
        code: &str,
        message: &str,
        retry_at: Option<OffsetDateTime>,
    ) -> Result<Commit, StoreError> {
        with_retry(self.retry_policy(), "fail_job", |_| async move {
            dispatch!(self, s => s.fail_job(id, attempt, code, message, retry_at).await)
        })
        .await
    }

    /// Hands a running job back to `pending` without counting a failure (shutdown, or a reaped
    /// job whose worker died).
    pub async fn requeue_job(
        &self,
        id: JobId,
        attempt: Attempt,
        reason: &str,
    ) -> Result<Commit, StoreError> {
        with_retry(self.retry_policy(), "requeue_job", |_| async move {
            dispatch!(self, s => s.requeue_job(id, attempt, reason).await)
        })
        .await
    }

    // Recovery.

    /// Running jobs whose heartbeat is older than `older_than`, oldest first.
    pub async fn stale_processing(
        &self,
        older_than: Duration,
        limit: u32,
    ) -> Result<Vec<(JobId, Attempt)>, StoreError> {
        dispatch!(self, s => s.stale_processing(older_than, limit).await)
    }

    /// Jobs pending for longer than `age`: stored but perhaps never enqueued.
    pub async fn pending_older_than(
        &self,
        age: Duration,
        limit: u32,
    ) -> Result<Vec<JobId>, StoreError> {
        dispatch!(self, s => s.pending_older_than(age, limit).await)
    }

    /// Retrying jobs whose backoff has ended by `now`.
    pub async fn retrying_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(JobId, Attempt)>, StoreError> {
        dispatch!(self, s => s.retrying_due(now, limit).await)
    }

    // Webhooks. Their deliveries are written by every job status change (the outbox).

    pub async fn create_webhook(&self, new: &NewWebhook) -> Result<Webhook, StoreError> {
        dispatch!(self, s => s.create_webhook(new).await)
    }

    /// The owner's webhooks, oldest first.
    pub async fn webhooks_of(&self, owner: UserId) -> Result<Vec<Webhook>, StoreError> {
        dispatch!(self, s => s.webhooks_of(owner).await)
    }

    /// The webhook if `owner` owns it; another owner's is `None`, as a missing one.
    pub async fn webhook_for_owner(
        &self,
        id: Uuid,
        owner: UserId,
    ) -> Result<Option<Webhook>, StoreError> {
        dispatch!(self, s => s.webhook_for_owner(id, owner).await)
    }

    /// Deletes the webhook with its deliveries; [`StoreError::NotFound`] when `owner` has none
    /// with this id.
    pub async fn delete_webhook(&self, id: Uuid, owner: UserId) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete_webhook(id, owner).await)
    }

    /// The webhook's newest `limit` deliveries, newest first, each with its attempts.
    pub async fn webhook_deliveries(
        &self,
        webhook: Uuid,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        dispatch!(self, s => s.webhook_deliveries(webhook, limit).await)
    }

    /// Takes up to `limit` due deliveries for their next attempt. Each is due again after
    /// `lease` unless its attempt is recorded first (its worker died: at least once). Several
    /// workers may call this at once: each delivery goes to one of them.
    pub async fn claim_webhook_deliveries(
        &self,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        dispatch!(self, s => s.claim_webhook_deliveries(limit, lease).await)
    }

    /// Deletes the deliveries settled (delivered or failed) more than `age` ago, with their
    /// attempts; how many.
    pub async fn prune_webhook_deliveries(&self, age: Duration) -> Result<u64, StoreError> {
        dispatch!(self, s => s.prune_webhook_deliveries(age).await)
    }

    /// Logs attempt `attempt` of delivery `id` and settles the delivery as `outcome` says;
    /// `false` when a later attempt had taken it over (the lease ran out), which then decides.
    pub async fn record_webhook_attempt(
        &self,
        id: Uuid,
        attempt: u32,
        outcome: &AttemptOutcome,
    ) -> Result<bool, StoreError> {
        with_retry(
            self.retry_policy(),
            "record_webhook_attempt",
            |_| async move {
                dispatch!(self, s => s.record_webhook_attempt(id, attempt, outcome).await)
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use pdfq_domain::JobId;
    use pdfq_test_support::TestDatabase;

    use super::*;

    async fn pending_job(store: &Store) -> JobId {
        let owner = store
            .create_user("a@example.com", "h", Role::User)
            .await
            .unwrap();
        let new = NewJob {
            id: JobId::new(),
            owner: owner.id,
            file_name: "a.pdf".into(),
            file_size: 3,
            sha256: [0; 32],
            content: b"pdf".to_vec().into(),
            quotas: crate::Quotas::NONE,
        };
        store.create_job(&new).await.unwrap().id
    }

    /// A claim whose commit succeeded but whose answer was lost is found again by safe
    /// commit's next try, by the same worker only, and never counts a second attempt.
    async fn a_repeated_claim_finds_its_own_commit(store: &Store) {
        let id = pending_job(store).await;
        let (me, other) = (WorkerId::generate("h", 1), WorkerId::generate("h", 2));
        let first = dispatch!(store, s => s.claim_job(id, &me, false).await)
            .unwrap()
            .unwrap();
        let lost = dispatch!(store, s => s.claim_job(id, &me, true).await)
            .unwrap()
            .unwrap();
        assert_eq!(lost.attempt, first.attempt);
        assert_eq!(lost.attempt, Attempt::new(1));
        let mut lost = lost;
        let upload = store.job_file(id).await.unwrap();
        assert!(upload.is_some());
        assert_eq!(
            store.claimed_file(&mut lost).await.unwrap(),
            upload,
            "the repeat brings the upload as the claim does"
        );
        let fresh = dispatch!(store, s => s.claim_job(id, &me, false).await).unwrap();
        assert!(
            fresh.is_none(),
            "a first try never takes over a running job"
        );
        let theirs = dispatch!(store, s => s.claim_job(id, &other, true).await).unwrap();
        assert!(theirs.is_none(), "another worker's repeat finds nothing");
        let events = store.job_events(id).await.unwrap();
        assert_eq!(events.len(), 2, "one claim event: {events:?}");
    }

    #[tokio::test]
    async fn postgres_a_repeated_claim_finds_its_own_commit() {
        let db = TestDatabase::migrated(&MIGRATOR).await;
        let store = Store::postgres(&DatabaseConfig::for_url(&db.url)).unwrap();
        a_repeated_claim_finds_its_own_commit(&store).await;
    }

    #[tokio::test]
    async fn sqlite_a_repeated_claim_finds_its_own_commit() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        a_repeated_claim_finds_its_own_commit(&store).await;
    }

    #[tokio::test]
    async fn a_repeated_create_finds_its_own_commit() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let id = pending_job(&store).await;
        let job = store.get_job(id).await.unwrap().unwrap();
        let mut new = NewJob {
            id,
            owner: job.owner_id,
            file_name: "a.pdf".into(),
            file_size: 3,
            sha256: [0; 32],
            content: b"pdf".to_vec().into(),
            quotas: crate::Quotas::NONE,
        };
        let file = StoredFile::Bytes(b"pdf".to_vec());
        assert_eq!(
            store.create_job_try(&new, None, &file, true).await.unwrap(),
            job
        );
        assert!(matches!(
            store
                .create_job_try(&new, None, &file, false)
                .await
                .unwrap_err(),
            StoreError::Conflict(_)
        ));
        new.sha256 = [1; 32];
        assert!(matches!(
            store
                .create_job_try(&new, None, &file, true)
                .await
                .unwrap_err(),
            StoreError::Conflict(_)
        ));
        assert_eq!(store.job_events(id).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn connect_picks_the_backend_by_url() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        assert!(matches!(store, Store::Sqlite(_)));
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        assert_eq!(
            store.pool_stats().max,
            1,
            "one connection is the in-memory database"
        );
        let pg = Store::connect("postgres://root@127.0.0.1:1/none")
            .await
            .unwrap();
        assert!(matches!(pg, Store::Postgres(_)));
        assert_eq!(pg.pool_stats().max, 15);
    }
}
