//! The caller's jobs: `GET /api/v1/jobs/{id}` (served from the result cache when it can be),
//! the list, the sentences page by page, cancel and delete. Another user's job is always 404,
//! as a missing one, so ids cannot be probed.

use axum::extract::State;
use axum::http::StatusCode;
use pdfq_client::types::{
    ErrorBody, JobList, JobListQuery, JobStatusSchema, JobView, PageQuery, SentenceItem,
    SentencePage,
};
use pdfq_domain::{JobId, JobStatus, UserId};
use pdfq_store::{Job, JobFilter};
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::views::{JOB_PAGES, SENTENCE_PAGES, job_view, list_item, paging};

/// What the result cache holds for a completed job: its answer and its owner, so a hit can be
/// served without the database and still be refused to anyone else.
#[derive(Debug, Serialize, Deserialize)]
struct CachedJob {
    owner: UserId,
    job: JobView,
}

/// A job with its sentences once completed.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 200, body = JobView),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's")))]
pub async fn get_job(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<JobId>,
) -> Result<Json<JobView>, ApiError> {
    match state.broker.cached_result(id).await {
        Ok(Some(text)) => match serde_json::from_str::<CachedJob>(&text) {
            Ok(cached) if cached.owner == user.id => return Ok(Json(cached.job)),
            Ok(_) => return Err(ApiError::NotFound("job")),
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "unreadable cache entry; reading the database");
            }
        },
        Ok(None) => {}
        // The cache is an optimisation: with Redis down the database still answers.
        Err(e) => tracing::warn!(job = %id, error = %e, "result cache unavailable"),
    }
    let job = owned_job(&state, id, user.id).await?;
    if job.status != JobStatus::Completed {
        return Ok(Json(job_view(&job, None)));
    }
    let sentences = state
        .store
        .job_results(id, state.settings.request_timeout)
        .await?
        .unwrap_or_default()
        .into_iter()
        .flat_map(|chunk| chunk.sentences.into_iter().map(|s| s.text))
        .collect();
    let view = job_view(&job, Some(sentences));
    let entry = CachedJob {
        owner: job.owner_id,
        job: view,
    };
    match serde_json::to_string(&entry) {
        Ok(text) => {
            if let Err(e) = state
                .broker
                .cache_result(id, &text, state.settings.result_ttl)
                .await
            {
                tracing::warn!(job = %id, error = %e, "could not cache the result");
            }
        }
        Err(e) => tracing::warn!(job = %id, error = %e, "could not serialise the result"),
    }
    Ok(Json(entry.job))
}

/// The caller's job, or 404 for a missing or someone else's.
pub(crate) async fn owned_job(state: &AppState, id: JobId, owner: UserId) -> Result<Job, ApiError> {
    state
        .store
        .get_job_for_owner(id, owner)
        .await?
        .ok_or(ApiError::NotFound("job"))
}

/// The caller's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", security(("bearer" = [])),
    params(
        ("status" = Option<JobStatusSchema>, Query, description = "only jobs in this status"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1000000, description = "1-based page number (default 1)"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "jobs per page (default 20)"),
    ),
    responses((status = 200, body = JobList)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<JobListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let (page, per_page, offset) = paging(query.page, query.per_page, JOB_PAGES)?;
    let found = state
        .store
        .list_jobs(&JobFilter {
            owner: Some(user.id),
            status: query.status,
            limit: per_page,
            offset,
        })
        .await?;
    Ok(Json(JobList {
        jobs: found
            .items
            .into_iter()
            .map(|j| list_item(j, false))
            .collect(),
        page,
        per_page,
        total: found.total,
    }))
}

/// A page of a job's sentences, each with its PDF page number and chunk.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/sentences", tag = "jobs", security(("bearer" = [])),
    params(
        ("id" = String, Path, format = "uuid", description = "job id"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1000000, description = "1-based page number (default 1)"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "sentences per page (default 100)"),
    ),
    responses((status = 200, body = SentencePage),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's")))]
pub async fn sentences(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<JobId>,
    Query(query): Query<PageQuery>,
) -> Result<Json<SentencePage>, ApiError> {
    let (page, per_page, offset) = paging(query.page, query.per_page, SENTENCE_PAGES)?;
    let job = owned_job(&state, id, user.id).await?;
    let rows = state
        .store
        .sentences(id, offset, per_page, state.settings.request_timeout)
        .await?;
    Ok(Json(SentencePage {
        job_id: id,
        status: job.status,
        page,
        per_page,
        total: rows.total,
        sentences: rows
            .items
            .into_iter()
            .map(|s| SentenceItem {
                index: s.index,
                text: s.text,
                page: s.page,
                chunk: s.chunk,
            })
            .collect(),
    }))
}

/// Cancels a pending, retrying or running job.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 200, body = JobView),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's"),
              (status = 409, body = ErrorBody, description = "`conflict`: the job has already ended")))]
pub async fn cancel_job(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<JobId>,
) -> Result<Json<JobView>, ApiError> {
    owned_job(&state, id, user.id).await?;
    Ok(Json(cancel(&state, id).await?))
}

/// Cancels in the store (the authority), then tells a running worker to stop.
pub(crate) async fn cancel(state: &AppState, id: JobId) -> Result<JobView, ApiError> {
    let job = state.store.cancel_job(id).await?;
    if let Err(e) = state.broker.request_cancel(id).await {
        // The worker's next conditional write is refused anyway; the flag only makes it sooner.
        tracing::warn!(job = %id, error = %e, "could not announce the cancel");
    }
    evict(state, id).await;
    Ok(job_view(&job, None))
}

/// Deletes a job with its file and result; a running job is cancelled first.
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id")),
    responses((status = 204, description = "deleted"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's")))]
pub async fn delete_job(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<JobId>,
) -> Result<StatusCode, ApiError> {
    let job = owned_job(&state, id, user.id).await?;
    delete(&state, &job).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn delete(state: &AppState, job: &Job) -> Result<(), ApiError> {
    if !job.status.is_terminal()
        && let Err(e) = state.broker.request_cancel(job.id).await
    {
        tracing::warn!(job = %job.id, error = %e, "could not announce the cancel");
    }
    state.store.delete_job(job.id).await?;
    evict(state, job.id).await;
    Ok(())
}

pub(crate) async fn evict(state: &AppState, id: JobId) {
    if let Err(e) = state.broker.evict_result(id).await {
        tracing::warn!(job = %id, error = %e, "could not evict the cached result");
    }
}
