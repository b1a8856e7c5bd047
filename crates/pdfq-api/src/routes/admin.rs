//! `/api/v1/admin/*` (role admin), for pdfctl's dashboard: the overview, job search, job
//! actions on anyone's job, queue pause and resume, and the dead letters.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use pdfq_api_types::{
    AdminJobQuery, AuditEntryView, AuditPage, AuditQuery, BulkAction, BulkOutcome, BulkRequest,
    DeadLetterView, DrainQuery, ErrorBody, ErrorGroup, ErrorGroups, ErrorsQuery, InstanceView,
    JobEventView, JobList, JobTimeline, JobView, MinuteThroughput, Overview, Purged, QueueState,
    QueueView, Throughput, ThroughputBucket, ThroughputQuery, WorkerDrain, WorkerThroughput,
};
use pdfq_domain::{JobId, JobStatus, WorkerId};
use pdfq_queue::{DrainMode, InstanceKind};
use pdfq_store::{FinishedBucket, Job, JobSearch, NewAuditEntry};
use serde::Deserialize;

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::routes::health;
use crate::routes::jobs::{cancel, delete, evict};
use crate::state::AppState;
use crate::views::{ADMIN_JOB_PAGES, in_range, job_view, list_item, paging, pool_view};

/// Minutes of throughput in the overview.
const THROUGHPUT_MINUTES: i64 = 60;

/// Queue, throughput, instances with their pools, jobs by status, Redis memory and health.
/// Answers 200 with `problems` filled when Redis or the database cannot be read.
#[utoipa::path(get, path = "/api/v1/admin/overview", tag = "admin", operation_id = "admin_overview", security(("bearer" = [])),
    responses((status = 200, body = Overview)))]
pub async fn overview(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<Overview>, ApiError> {
    // Throughput from the job events in the database: it covers every worker and survives
    // restarts (the broker's counters lived in process memory in the embedded mode).
    let now = time::OffsetDateTime::now_utc();
    let this_minute = now
        .replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now);
    let first_minute = this_minute - time::Duration::minutes(THROUGHPUT_MINUTES - 1);
    let (stats, throughput, instances, counts, oldest, max_connections, health) = tokio::join!(
        state.broker.stats(),
        state.store.finished_per_minute(first_minute),
        state.broker.instances(),
        state.store.count_by_status(),
        state.store.oldest_pending_age(),
        state.store.max_connections(),
        health::report(&state),
    );
    let mut problems = Vec::new();
    let mut note = |what: &str, e: &dyn std::fmt::Display| problems.push(format!("{what}: {e}"));
    let stats = stats.map_err(|e| note("queue statistics", &e)).ok();
    let throughput = throughput
        .map_err(|e| note("throughput", &e))
        .unwrap_or_default();
    let instances = instances
        .map_err(|e| note("instances", &e))
        .unwrap_or_default();
    let jobs_by_status: BTreeMap<String, u64> = match counts {
        Ok(counts) => JobStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), counts.get(*s)))
            .collect(),
        Err(e) => {
            note("jobs by status", &e);
            BTreeMap::new()
        }
    };
    let oldest = oldest
        .map_err(|e| note("oldest pending job", &e))
        .ok()
        .flatten();
    let db_max_connections = max_connections
        .map_err(|e| note("database connection limit", &e))
        .ok()
        .flatten();
    Ok(Json(Overview {
        broker: state.broker.kind().to_owned(),
        queue: stats.as_ref().map(|stats| QueueView {
            waiting: stats.waiting,
            in_flight: stats.in_flight,
            delayed: stats.delayed,
            dead: stats.dead,
            oldest_waiting_age_secs: stats.oldest_waiting_age.map(|d| d.as_secs_f64()),
            paused: stats.paused,
        }),
        throughput: (0..THROUGHPUT_MINUTES)
            .map(|i| {
                let minute = first_minute + time::Duration::minutes(i);
                let found = throughput.iter().find(|m| m.minute == minute);
                MinuteThroughput {
                    minute,
                    processed: found.map_or(0, |m| m.completed),
                    failed: found.map_or(0, |m| m.failed),
                }
            })
            .collect(),
        instances: instances
            .into_iter()
            .map(|i| {
                let hb = i.heartbeat;
                InstanceView {
                    id: hb.id.to_string(),
                    kind: match hb.kind {
                        InstanceKind::Api => "api",
                        InstanceKind::Worker => "worker",
                    }
                    .into(),
                    host: hb.host,
                    pid: hb.pid,
                    version: hb.version,
                    started_at: hb.started_at,
                    concurrency: hb.concurrency,
                    busy: hb.busy,
                    current_jobs: hb.current_jobs,
                    last_fetch_at: hb.last_fetch_at,
                    status: hb.status,
                    pool: hb.pool.map(|p| pdfq_api_types::PoolView {
                        size: p.size,
                        in_use: p.in_use,
                        idle: p.idle,
                        max: p.max,
                    }),
                    rss_bytes: hb.rss_bytes,
                    draining: hb.draining,
                    age_secs: i.age.as_secs_f64(),
                    stale: i.stale,
                }
            })
            .collect(),
        jobs_by_status,
        oldest_pending_age_secs: oldest.map(|d| d.as_secs_f64()),
        redis_memory_bytes: stats.and_then(|s| s.memory_used_bytes),
        api_pool: pool_view(state.store.pool_stats()),
        db_max_connections,
        health,
        problems,
    }))
}

/// Every user's jobs, narrowed by id prefix, status, owner email or file name.
#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "admin", operation_id = "admin_search_jobs", security(("bearer" = [])),
    params(
        ("id" = Option<String>, Query, pattern = "^[^\\x00]*$", description = "a job id or part of it: its first characters, or its last (random) ones"),
        ("status" = Option<JobStatus>, Query, description = "only jobs in this status"),
        ("owner" = Option<String>, Query, pattern = "^[^\\x00]*$", description = "part of the owner's email"),
        ("file_name" = Option<String>, Query, pattern = "^[^\\x00]*$", description = "part of the file name"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1000000, description = "1-based page number (default 1)"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 500, description = "jobs per page (default 50)"),
    ),
    responses((status = 200, body = JobList)))]
pub async fn search_jobs(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<AdminJobQuery>,
) -> Result<Json<JobList>, ApiError> {
    let (page, per_page, offset) = paging(query.page, query.per_page, ADMIN_JOB_PAGES)?;
    let found = state
        .store
        .search_jobs(&JobSearch {
            id: non_empty("id", query.id)?,
            status: query.status,
            owner_email: non_empty("owner", query.owner)?,
            file_name: non_empty("file_name", query.file_name)?,
            limit: per_page,
            offset,
            ..JobSearch::default()
        })
        .await?;
    Ok(Json(JobList {
        jobs: found
            .items
            .into_iter()
            .map(|j| list_item(j, true))
            .collect(),
        page,
        per_page,
        total: found.total,
    }))
}

/// A search term, trimmed; none when empty. A NUL byte is refused (400 `invalid_query`): no
/// stored value can hold one, and PostgreSQL's text type does not accept it.
fn non_empty(name: &str, s: Option<String>) -> Result<Option<String>, ApiError> {
    if s.as_deref().is_some_and(|s| s.contains('\0')) {
        return Err(ApiError::InvalidQuery(format!(
            "{name} must not contain a NUL byte"
        )));
    }
    Ok(s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

async fn any_job(state: &AppState, id: JobId) -> Result<Job, ApiError> {
    state
        .store
        .get_job(id)
        .await?
        .ok_or(ApiError::NotFound("job"))
}

/// Any user's job, without its sentences.
#[utoipa::path(get, path = "/api/v1/admin/jobs/{id}", tag = "admin", operation_id = "admin_get_job", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody, description = "`not_found`: no such job")))]
pub async fn get_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<JobId>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(job_view(&any_job(&state, id).await?, None)))
}

/// Any user's job with its whole history (status changes, claims, retries, errors), oldest
/// first: the dashboard's job detail.
#[utoipa::path(get, path = "/api/v1/admin/jobs/{id}/timeline", tag = "admin", operation_id = "admin_job_timeline", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 200, body = JobTimeline),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job")))]
pub async fn job_timeline(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<JobId>,
) -> Result<Json<JobTimeline>, ApiError> {
    let (job, events) = tokio::join!(any_job(&state, id), state.store.job_events(id));
    Ok(Json(JobTimeline {
        job: job_view(&job?, None),
        events: events?
            .into_iter()
            .map(|e| JobEventView {
                at: e.at,
                attempt: e.attempt.get(),
                status: e.status,
                worker_id: e.worker_id.map(|w| w.as_str().to_owned()),
                message: e.message,
            })
            .collect(),
    }))
}

/// Asks a worker to take no new jobs; its running jobs finish. With `exit=true` it then exits
/// (before a machine is removed); otherwise it stays up idle until the drain is lifted.
#[utoipa::path(post, path = "/api/v1/admin/workers/{id}/drain", tag = "admin", operation_id = "admin_drain_worker", security(("bearer" = [])),
    params(("id" = String, Path, description = "worker id, as `pdfctl workers list` shows it"), DrainQuery),
    responses((status = 200, body = WorkerDrain), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn drain_worker(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
    Query(query): Query<DrainQuery>,
) -> Result<Json<WorkerDrain>, ApiError> {
    let worker = known_worker(&state, &id).await?;
    let mode = if query.exit {
        DrainMode::Exit
    } else {
        DrainMode::Stay
    };
    state.broker.request_drain(&worker, mode).await?;
    tracing::info!(worker = %worker, exit = query.exit, "drain requested");
    let detail = query.exit.then_some("exit when idle");
    audit(&state, admin, "drain", Some(&id), 1, detail).await;
    Ok(Json(WorkerDrain {
        worker_id: id,
        draining: true,
        exit_when_idle: query.exit,
    }))
}

/// Lifts a drain request: the worker takes jobs again (unless it has already exited).
#[utoipa::path(delete, path = "/api/v1/admin/workers/{id}/drain", tag = "admin", operation_id = "admin_undrain_worker", security(("bearer" = [])),
    params(("id" = String, Path, description = "worker id")),
    responses((status = 200, body = WorkerDrain), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn undrain_worker(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<WorkerDrain>, ApiError> {
    let worker = WorkerId::from_stored(id.clone());
    let lifted = state.broker.cancel_drain(&worker).await?;
    if !lifted {
        known_worker(&state, &id).await?;
    }
    tracing::info!(worker = %worker, lifted, "drain lifted");
    audit(&state, admin, "undrain", Some(&id), u64::from(lifted), None).await;
    Ok(Json(WorkerDrain {
        worker_id: id,
        draining: false,
        exit_when_idle: false,
    }))
}

/// The worker with this id among the live heartbeats (stale ones included: a stopped process
/// may come back).
async fn known_worker(state: &AppState, id: &str) -> Result<WorkerId, ApiError> {
    let instances = state.broker.instances().await?;
    instances
        .into_iter()
        .find(|i| i.heartbeat.kind == InstanceKind::Worker && i.heartbeat.id.as_str() == id)
        .map(|i| i.heartbeat.id)
        .ok_or(ApiError::NotFound("worker"))
}

/// Puts a failed or cancelled job back in the queue.
#[utoipa::path(post, path = "/api/v1/admin/jobs/{id}/retry", tag = "admin", operation_id = "admin_retry_job", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody, description = "`not_found`: no such job"),
              (status = 409, body = ErrorBody, description = "`conflict`: only a failed or cancelled job can be retried"),
              (status = 410, body = ErrorBody, description = "`file_gone`: the job's file is no longer kept (FILE_RETENTION); upload the PDF again")))]
pub async fn retry_job(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<JobId>,
) -> Result<Json<JobView>, ApiError> {
    any_job(&state, id).await?;
    let job = retry(&state, id).await?;
    audit(&state, admin, "retry", Some(&id.to_string()), 1, None).await;
    Ok(Json(job_view(&job, None)))
}

/// Puts a failed or cancelled job back in the queue.
async fn retry(state: &AppState, id: JobId) -> Result<Job, ApiError> {
    let job = state.store.retry_job(id).await?;
    evict(state, id).await;
    if let Err(e) = state.broker.clear_cancel(id).await {
        tracing::warn!(job = %id, error = %e, "could not clear the cancel flag");
    }
    if let Err(e) = state.broker.enqueue(id, job.attempts.next()).await {
        tracing::warn!(job = %id, error = %e, "enqueue failed; the sweeper will queue the job");
    }
    Ok(job)
}

/// Cancels anyone's job.
#[utoipa::path(post, path = "/api/v1/admin/jobs/{id}/cancel", tag = "admin", operation_id = "admin_cancel_job", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody, description = "`not_found`: no such job"),
              (status = 409, body = ErrorBody, description = "`conflict`: the job has already ended")))]
pub async fn cancel_job(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<JobId>,
) -> Result<Json<JobView>, ApiError> {
    any_job(&state, id).await?;
    let job = cancel(&state, id).await?;
    audit(&state, admin, "cancel", Some(&id.to_string()), 1, None).await;
    Ok(Json(job))
}

/// Deletes anyone's job.
#[utoipa::path(delete, path = "/api/v1/admin/jobs/{id}", tag = "admin", operation_id = "admin_delete_job", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody, description = "`not_found`: no such job")))]
pub async fn delete_job(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<JobId>,
) -> Result<StatusCode, ApiError> {
    let job = any_job(&state, id).await?;
    delete(&state, &job).await?;
    audit(
        &state,
        admin,
        "delete",
        Some(&id.to_string()),
        1,
        Some(&job.file_name),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops workers from taking new jobs (running ones finish).
#[utoipa::path(post, path = "/api/v1/admin/queue/pause", tag = "admin", operation_id = "admin_pause_queue", security(("bearer" = [])),
    responses((status = 200, body = QueueState)))]
pub async fn pause(
    State(state): State<AppState>,
    admin: AdminUser,
) -> Result<Json<QueueState>, ApiError> {
    state.broker.pause().await?;
    tracing::info!("queue paused");
    audit(&state, admin, "pause", None, 1, None).await;
    Ok(Json(QueueState { paused: true }))
}

#[utoipa::path(post, path = "/api/v1/admin/queue/resume", tag = "admin", operation_id = "admin_resume_queue", security(("bearer" = [])),
    responses((status = 200, body = QueueState)))]
pub async fn resume(
    State(state): State<AppState>,
    admin: AdminUser,
) -> Result<Json<QueueState>, ApiError> {
    state.broker.resume().await?;
    tracing::info!("queue resumed");
    audit(&state, admin, "resume", None, 1, None).await;
    Ok(Json(QueueState { paused: false }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadQuery {
    /// How many, newest first (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The newest dead letters.
#[utoipa::path(get, path = "/api/v1/admin/dead-letters", tag = "admin", operation_id = "admin_dead_letters", security(("bearer" = [])),
    params(DeadQuery),
    responses((status = 200, body = Vec<DeadLetterView>)))]
pub async fn dead_letters(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<DeadQuery>,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let limit = in_range("limit", query.limit.unwrap_or(100), 1, 1000)? as usize;
    let letters = state.broker.dead_letters(limit).await?;
    Ok(Json(
        letters
            .into_iter()
            .map(|d| DeadLetterView {
                entry_id: d.entry_id,
                job_id: d.job_id,
                attempt: d.attempt.get(),
                code: d.code,
                reason: d.reason,
                at: d.at,
            })
            .collect(),
    ))
}

/// The errors view's window: a day unless asked, at most 30 days.
const ERRORS_DEFAULT_SECS: u64 = 86_400;
const ERRORS_MAX_SECS: u64 = 30 * 86_400;
/// Failures grouped at most (the newest).
const ERRORS_READ: u32 = 10_000;

/// Jobs that failed for good in a window, grouped by error code and message pattern (numbers
/// as N, ids as <id>), with counts and first and last seen; largest group first.
#[utoipa::path(get, path = "/api/v1/admin/errors", tag = "admin", operation_id = "admin_errors", security(("bearer" = [])),
    params(ErrorsQuery),
    responses((status = 200, body = ErrorGroups)))]
pub async fn errors(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<ErrorsQuery>,
) -> Result<Json<ErrorGroups>, ApiError> {
    let since_secs = query
        .since_secs
        .unwrap_or(ERRORS_DEFAULT_SECS)
        .clamp(1, ERRORS_MAX_SECS);
    let since = time::OffsetDateTime::now_utc()
        - time::Duration::seconds(i64::try_from(since_secs).unwrap_or(i64::MAX / 2));
    let failures = state.store.failures_since(since, ERRORS_READ).await?;
    let mut groups: Vec<ErrorGroup> = Vec::new();
    // Newest first, so the first of a group is its example and last seen.
    for f in &failures {
        let pattern = message_pattern(&f.message);
        match groups
            .iter_mut()
            .find(|g| g.code == f.code && g.pattern == pattern)
        {
            Some(g) => {
                g.count += 1;
                g.first_seen = f.finished_at;
            }
            None => groups.push(ErrorGroup {
                code: f.code.clone(),
                pattern,
                count: 1,
                first_seen: f.finished_at,
                last_seen: f.finished_at,
                example_job: f.id,
            }),
        }
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    Ok(Json(ErrorGroups {
        since_secs,
        failures: failures.len() as u64,
        groups,
    }))
}

/// `message` with what differs between alike failures taken out: ids as `<id>`, runs of
/// digits as `N` ("page 12 of 40" and "page 3 of 9" are one pattern).
fn message_pattern(message: &str) -> String {
    message
        .split(' ')
        .map(|word| {
            if word.len() >= 32 && word.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return "<id>".to_owned();
            }
            let mut out = String::with_capacity(word.len());
            let mut in_digits = false;
            for c in word.chars() {
                if c.is_ascii_digit() {
                    if !in_digits {
                        out.push('N');
                    }
                    in_digits = true;
                } else {
                    out.push(c);
                    in_digits = false;
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Jobs a bulk action takes at most: collected first, so acting never moves the pages under it.
const BULK_MAX: u64 = 10_000;
/// Jobs read per page while collecting.
const BULK_PAGE: u32 = 500;

/// Retries, cancels or deletes every job matching a filter, one job at a time in the order
/// found (newest first); a dry run only counts. The matching jobs are collected first, up to
/// 10,000 (more is a 400 asking for a narrower filter). `error_pattern` and `finished_since`
/// narrow to one group of `GET /api/v1/admin/errors`.
#[utoipa::path(post, path = "/api/v1/admin/jobs/bulk", tag = "admin", operation_id = "admin_bulk_jobs", security(("bearer" = [])),
    request_body = BulkRequest,
    responses((status = 200, body = BulkOutcome),
              (status = 400, body = ErrorBody, description = "`invalid_query`: no filter, or more than 10,000 jobs match")))]
pub async fn bulk_jobs(
    State(state): State<AppState>,
    admin: AdminUser,
    Json(request): Json<BulkRequest>,
) -> Result<Json<BulkOutcome>, ApiError> {
    let f = request.filter;
    let search = JobSearch {
        status: f.status,
        owner_email: non_empty("owner", f.owner)?,
        file_name: non_empty("file_name", f.file_name)?,
        error_code: non_empty("error_code", f.error_code)?,
        created_before: f.older_than_secs.map(|secs| {
            time::OffsetDateTime::now_utc()
                - time::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2))
        }),
        limit: BULK_PAGE,
        ..JobSearch::default()
    };
    let pattern = non_empty("error_pattern", f.error_pattern)?;
    if search.status.is_none()
        && search.owner_email.is_none()
        && search.file_name.is_none()
        && search.error_code.is_none()
        && search.created_before.is_none()
        && pattern.is_none()
        && f.finished_since.is_none()
    {
        return Err(ApiError::InvalidQuery(
            "a bulk action needs a filter (status, owner, file_name, error_code, older_than_secs, error_pattern or finished_since)"
                .into(),
        ));
    }
    let first = state.store.search_jobs(&search).await?;
    if first.total > BULK_MAX {
        return Err(ApiError::InvalidQuery(format!(
            "{} jobs match; a bulk action takes at most {BULK_MAX}: narrow the filter",
            first.total
        )));
    }
    // The message pattern and the finish time are read from the rows, so with either every
    // row is collected before counting.
    let by_row = pattern.is_some() || f.finished_since.is_some();
    if request.dry_run && !by_row {
        return Ok(Json(BulkOutcome {
            matched: first.total,
            acted: 0,
            skipped: 0,
        }));
    }
    let mut found = first.items;
    while (found.len() as u64) < first.total {
        let page = state
            .store
            .search_jobs(&JobSearch {
                offset: found.len() as u64,
                ..search.clone()
            })
            .await?;
        if page.items.is_empty() {
            break;
        }
        found.extend(page.items);
    }
    let ids: Vec<JobId> = found
        .iter()
        .filter(|j| {
            pattern.as_ref().is_none_or(|p| {
                *p == message_pattern(j.error_message.as_deref().unwrap_or_default())
            }) && f
                .finished_since
                .is_none_or(|since| j.finished_at.is_some_and(|at| at >= since))
        })
        .map(|j| j.id)
        .collect();
    let matched = ids.len() as u64;
    if request.dry_run {
        return Ok(Json(BulkOutcome {
            matched,
            acted: 0,
            skipped: 0,
        }));
    }
    let (mut acted, mut skipped) = (0, 0);
    for id in &ids {
        let done = match request.action {
            BulkAction::Retry => retry(&state, *id).await.map(drop),
            BulkAction::Cancel => cancel(&state, *id).await.map(drop),
            BulkAction::Delete => match state.store.get_job(*id).await? {
                Some(job) => delete(&state, &job).await,
                None => Err(ApiError::NotFound("job")),
            },
        };
        match done {
            Ok(()) => acted += 1,
            Err(ApiError::Conflict(_) | ApiError::NotFound(_)) => skipped += 1,
            Err(e) => return Err(e),
        }
    }
    tracing::info!(action = ?request.action, matched, acted, skipped, "bulk action");
    let action = match request.action {
        BulkAction::Retry => "bulk_retry",
        BulkAction::Cancel => "bulk_cancel",
        BulkAction::Delete => "bulk_delete",
    };
    let mut filter = describe_search(&search);
    if let Some(p) = &pattern {
        filter.push(format!("message \"{p}\""));
    }
    if let Some(since) = f.finished_since {
        filter.push(format!("finished since {since}"));
    }
    let detail = format!("matched {matched}, skipped {skipped}");
    audit(
        &state,
        admin,
        action,
        Some(&filter.join(", ")),
        acted,
        Some(&detail),
    )
    .await;
    Ok(Json(BulkOutcome {
        matched,
        acted,
        skipped,
    }))
}

/// A bulk search in words, for the audit log.
fn describe_search(search: &JobSearch) -> Vec<String> {
    let mut words = Vec::new();
    if let Some(status) = search.status {
        words.push(format!("status {status}"));
    }
    for (name, value) in [
        ("owner", &search.owner_email),
        ("file", &search.file_name),
        ("error code", &search.error_code),
    ] {
        if let Some(value) = value {
            words.push(format!("{name} {value}"));
        }
    }
    if let Some(before) = search.created_before {
        words.push(format!("created before {before}"));
    }
    words
}

/// Records an operator action in the audit log, right after it succeeded (not in the same
/// transaction): pause, resume, drains and dead letters live in the queue, not the database,
/// and a bulk action is one transaction per job. A failed write is logged, not answered: the
/// action is done, and an error would invite the operator to do it twice.
async fn audit(
    state: &AppState,
    admin: AdminUser,
    action: &str,
    target: Option<&str>,
    count: u64,
    detail: Option<&str>,
) {
    let actor = admin.0.id;
    let recorded = async {
        let email = state
            .store
            .user_by_id(actor)
            .await?
            .map_or_else(|| "(deleted account)".to_owned(), |u| u.email);
        state
            .store
            .record_audit(&NewAuditEntry {
                actor_id: Some(actor),
                actor_email: &email,
                action,
                target,
                count,
                detail,
            })
            .await
    };
    if let Err(e) = recorded.await {
        tracing::error!(error = %e, %actor, action, ?target, count, "the audit log could not record an operator action");
    }
}

/// Completed, failed and pages per minute over the last hour, or per 15 minutes over the last
/// day, overall and per worker, from the job events in the database (the same read as the
/// overview's per-minute chart).
#[utoipa::path(get, path = "/api/v1/admin/throughput", tag = "admin", operation_id = "admin_throughput", security(("bearer" = [])),
    params(ThroughputQuery),
    responses((status = 200, body = Throughput)))]
pub async fn throughput(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<ThroughputQuery>,
) -> Result<Json<Throughput>, ApiError> {
    let window = query.window.unwrap_or_default();
    let (window_secs, bucket_secs) = window.secs();
    let count = window_secs / bucket_secs;
    let bucket = i64::try_from(bucket_secs).unwrap_or(60);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let first = time::OffsetDateTime::from_unix_timestamp(
        now / bucket * bucket - bucket * i64::try_from(count - 1).unwrap_or(0),
    )
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let rows = state
        .store
        .finished_buckets(first, std::time::Duration::from_secs(bucket_secs))
        .await?;
    let series = |rows: &mut dyn Iterator<Item = &FinishedBucket>| {
        let mut buckets: Vec<ThroughputBucket> = (0..count)
            .map(|i| ThroughputBucket {
                start: first + time::Duration::seconds(bucket * i64::try_from(i).unwrap_or(0)),
                completed: 0,
                failed: 0,
                pages: 0,
            })
            .collect();
        for row in rows {
            let at = (row.start - first).whole_seconds() / bucket;
            if let Some(b) = usize::try_from(at).ok().and_then(|i| buckets.get_mut(i)) {
                b.completed += row.completed;
                b.failed += row.failed;
                b.pages += row.pages;
            }
        }
        buckets
    };
    let mut workers: Vec<String> = rows
        .iter()
        .filter_map(|r| r.worker_id.as_ref().map(|w| w.as_str().to_owned()))
        .collect();
    workers.sort();
    workers.dedup();
    Ok(Json(Throughput {
        window,
        bucket_secs,
        overall: series(&mut rows.iter()),
        workers: workers
            .into_iter()
            .map(|id| WorkerThroughput {
                buckets: series(
                    &mut rows
                        .iter()
                        .filter(|r| r.worker_id.as_ref().is_some_and(|w| w.as_str() == id)),
                ),
                worker_id: id,
            })
            .collect(),
    }))
}

/// Largest page of the audit log.
const AUDIT_MAX_PAGE: u32 = 500;

/// Operator actions (pause, resume, retry, cancel, delete, purges, drains, bulk actions) with
/// who, when, what and how many; newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", operation_id = "admin_audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage),
              (status = 400, body = ErrorBody, description = "`invalid_query`: limit outside 1 to 500, or a bad time")))]
pub async fn audit_log(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = in_range("limit", query.limit.unwrap_or(100), 1, AUDIT_MAX_PAGE)?;
    let entries = state
        .store
        .audit_entries(query.since, query.before, limit)
        .await?;
    let next_before = entries
        .last()
        .filter(|_| entries.len() == limit as usize)
        .map(|e| e.id);
    Ok(Json(AuditPage {
        entries: entries
            .into_iter()
            .map(|e| AuditEntryView {
                id: e.id,
                at: e.at,
                actor_id: e.actor_id,
                actor_email: e.actor_email,
                action: e.action,
                target: e.target,
                count: e.count,
                detail: e.detail,
            })
            .collect(),
        next_before,
    }))
}

/// Removes every dead letter.
#[utoipa::path(post, path = "/api/v1/admin/dead-letters/purge", tag = "admin", operation_id = "admin_purge_dead_letters", security(("bearer" = [])),
    responses((status = 200, body = Purged)))]
pub async fn purge_dead(
    State(state): State<AppState>,
    admin: AdminUser,
) -> Result<Json<Purged>, ApiError> {
    let purged = state.broker.purge_dead().await?;
    tracing::info!(purged, "dead letters purged");
    audit(&state, admin, "purge_dead_letters", None, purged, None).await;
    Ok(Json(Purged { purged }))
}

#[cfg(test)]
mod tests {
    use super::message_pattern;

    #[test]
    fn alike_messages_share_a_pattern() {
        assert_eq!(
            message_pattern("page 12 of 40: bad xref at offset 4096"),
            message_pattern("page 3 of 9: bad xref at offset 17")
        );
        assert_eq!(
            message_pattern("job 0190a1b2-9c1e-7b7d-8a2f-0c5e7d1b3a01 lost"),
            "job <id> lost"
        );
        assert_ne!(message_pattern("no header"), message_pattern("no trailer"));
    }
}
