//! The caller's jobs: `GET /api/v1/jobs/{id}` (served from the result cache when it can be),
//! the list, the sentences page by page, cancel and delete. Another user's job is always 404,
//! as a missing one, so ids cannot be probed.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use pdfq_api_types::{
    ErrorBody, JobInclude, JobList, JobListQuery, JobQuery, JobView, PageQuery, PageSize,
    SentenceBox, SentenceItem, SentencePage,
};
use pdfq_domain::{JobId, JobStatus, UserId};
use pdfq_store::{Job, JobFilter};
use serde::{Deserialize, Serialize};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::etag;
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

/// A job with its sentences once completed, or its status alone with `?include=none`.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "job id"), JobQuery,
           ("If-None-Match" = Option<String>, Header, description = "an ETag of an earlier answer: 304 while the job has not changed")),
    responses((status = 200, body = JobView, description = "the job; its `ETag` header changes whenever the answer does",
               headers(("ETag" = String, description = "strong tag of this answer"))),
              (status = 304, description = "not modified since the ETag in If-None-Match; no body"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's")))]
pub async fn get_job(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<JobId>,
    Query(query): Query<JobQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let include = query.include.unwrap_or_default();
    if include == JobInclude::Sentences
        && let Some(mut view) = cached_job(&state, id, user.id).await?
    {
        let tag = job_tag(&mut view, include);
        if etag::not_modified(&headers, &tag) {
            return Ok(etag::unchanged(tag));
        }
        return Ok(etag::tagged(tag, Json(view)));
    }
    let job = owned_job(&state, id, user.id).await?;
    let mut view = job_view(&job, None);
    // Tagged before the sentences are read, so an unchanged job costs one row.
    let tag = job_tag(&mut view, include);
    if etag::not_modified(&headers, &tag) {
        return Ok(etag::unchanged(tag));
    }
    if include == JobInclude::None || job.status != JobStatus::Completed {
        return Ok(etag::tagged(tag, Json(view)));
    }
    let sentences = state
        .store
        .job_results(id, state.settings.request_timeout)
        .await?
        .unwrap_or_default()
        .into_iter()
        .flat_map(|chunk| chunk.sentences.into_iter().map(|s| s.text))
        .collect();
    view.sentences = Some(sentences);
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
    Ok(etag::tagged(tag, Json(entry.job)))
}

/// A completed job's answer from the result cache, if it is there; 404 for another user's.
async fn cached_job(
    state: &AppState,
    id: JobId,
    user: UserId,
) -> Result<Option<JobView>, ApiError> {
    match state.broker.cached_result(id).await {
        Ok(Some(text)) => match serde_json::from_str::<CachedJob>(&text) {
            Ok(cached) if cached.owner == user => return Ok(Some(cached.job)),
            Ok(_) => return Err(ApiError::NotFound("job")),
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "unreadable cache entry; reading the database");
            }
        },
        Ok(None) => {}
        // The cache is an optimisation: with Redis down the database still answers.
        Err(e) => tracing::warn!(job = %id, error = %e, "result cache unavailable"),
    }
    Ok(None)
}

/// The tag of a job's answer: everything it shows but the sentences (which only change along
/// with its attempt, status and finish time), and which shape was asked for.
fn job_tag(view: &mut JobView, include: JobInclude) -> HeaderValue {
    let sentences = view.sentences.take();
    let tag = etag::tag_of(&(&*view, include));
    view.sentences = sentences;
    tag
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
        ("status" = Option<JobStatus>, Query, description = "only jobs in this status"),
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

/// A page of a job's sentences, each with its PDF page numbers, chunk and line boxes.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/sentences", tag = "jobs", security(("bearer" = [])),
    params(
        ("id" = String, Path, format = "uuid", description = "job id"),
        ("page" = Option<u32>, Query, minimum = 1, maximum = 1000000, description = "1-based page number (default 1)"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "sentences per page (default 100)"),
        ("If-None-Match" = Option<String>, Header, description = "an ETag of an earlier answer: 304 while this page has not changed"),
    ),
    responses((status = 200, body = SentencePage, headers(("ETag" = String, description = "strong tag of this page"))),
              (status = 304, description = "not modified since the ETag in If-None-Match; no body"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such job, or another user's")))]
pub async fn sentences(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<JobId>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (page, per_page, offset) = paging(query.page, query.per_page, SENTENCE_PAGES)?;
    let job = owned_job(&state, id, user.id).await?;
    // A page's rows change only when a chunk is saved or the job changes, which moves
    // updated_at; the last finished chunk is there too for a clock that did not tick.
    let tag = etag::tag_of(&(
        job_view(&job, None),
        job.updated_at.unix_timestamp_nanos().to_string(),
        job.last_finished_chunk,
        page,
        per_page,
    ));
    if etag::not_modified(&headers, &tag) {
        return Ok(etag::unchanged(tag));
    }
    let rows = state
        .store
        .sentences(id, offset, per_page, state.settings.request_timeout)
        .await?;
    let body = Json(SentencePage {
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
                // Rows stored before provenance was kept still name their first page.
                pages: if s.provenance.pages.is_empty() {
                    vec![s.page]
                } else {
                    s.provenance.pages.iter().map(|p| p.page).collect()
                },
                page_sizes: s
                    .provenance
                    .pages
                    .iter()
                    .map(|p| PageSize {
                        page: p.page,
                        width: p.width,
                        height: p.height,
                    })
                    .collect(),
                boxes: s
                    .provenance
                    .boxes
                    .iter()
                    .map(|b| SentenceBox {
                        page: b.page,
                        x0: b.x0,
                        y0: b.y0,
                        x1: b.x1,
                        y1: b.y1,
                    })
                    .collect(),
            })
            .collect(),
    });
    Ok(etag::tagged(tag, body))
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
