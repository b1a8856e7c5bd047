//! Store rows to the JSON the API answers with ([`pdfq_api_types`]).

use pdfq_api_types::{JobError, JobListItem, JobView, JobWarning, PoolView};
use pdfq_store::{Job, JobSummary, PoolStats};

use crate::error::ApiError;

/// A job in the original design's shape; `sentences` only for a completed job's full view.
#[must_use]
pub fn job_view(job: &Job, sentences: Option<Vec<String>>) -> JobView {
    JobView {
        job_id: job.id,
        status: job.status,
        progress: job.progress.get(),
        current_step: job.current_step.clone(),
        file_name: job.file_name.clone(),
        file_size: job.file_size,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
        attempts: job.attempts.get(),
        error: job_error(job.error_code.as_deref(), job.error_message.as_deref()),
        sentence_count: job.sentence_count,
        warnings: job
            .warnings
            .iter()
            .map(|w| JobWarning {
                page: w.page,
                message: w.message.clone(),
            })
            .collect(),
        sentences,
    }
}

fn job_error(code: Option<&str>, message: Option<&str>) -> Option<JobError> {
    if code.is_none() && message.is_none() {
        return None;
    }
    Some(JobError {
        code: code.unwrap_or("error").to_owned(),
        message: message.unwrap_or_default().to_owned(),
    })
}

/// A list row; the owner's email only where admins look.
#[must_use]
pub fn list_item(job: JobSummary, with_owner: bool) -> JobListItem {
    JobListItem {
        job_id: job.id,
        status: job.status,
        progress: job.progress.get(),
        current_step: job.current_step,
        file_name: job.file_name,
        file_size: job.file_size,
        attempts: job.attempts.get(),
        error_code: job.error_code,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
        owner_email: with_owner.then_some(job.owner_email),
    }
}

#[must_use]
pub fn pool_view(p: PoolStats) -> PoolView {
    PoolView {
        size: p.size,
        in_use: p.in_use,
        idle: p.idle,
        max: p.max,
    }
}

/// The largest page number any list accepts.
pub const MAX_PAGE: u32 = 1_000_000;

/// The bounds of one list's `page` and `per_page` query parameters, as documented in OpenAPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// `per_page` when the query has none.
    pub default: u32,
    /// The largest `per_page`.
    pub max: u32,
}

/// `GET /api/v1/jobs`: 20 per page, at most 100.
pub const JOB_PAGES: Paging = Paging {
    default: 20,
    max: 100,
};
/// `GET /api/v1/jobs/{id}/sentences`: 100 per page, at most 1000.
pub const SENTENCE_PAGES: Paging = Paging {
    default: 100,
    max: 1000,
};
/// `GET /api/v1/admin/jobs`: 50 per page, at most 500.
pub const ADMIN_JOB_PAGES: Paging = Paging {
    default: 50,
    max: 500,
};

/// Page number (from 1) and size, and the row offset they mean. A value outside its documented
/// range (`page` 1 to [`MAX_PAGE`], `per_page` 1 to `bounds.max`) is refused with 400
/// `invalid_query`, never clamped: a client asking for 500 rows must not believe it got them all.
pub fn paging(
    page: Option<u32>,
    per_page: Option<u32>,
    bounds: Paging,
) -> Result<(u32, u32, u64), ApiError> {
    let page = in_range("page", page.unwrap_or(1), 1, MAX_PAGE)?;
    let per_page = in_range(
        "per_page",
        per_page.unwrap_or(bounds.default),
        1,
        bounds.max,
    )?;
    Ok((page, per_page, u64::from(page - 1) * u64::from(per_page)))
}

/// `value` when `min <= value <= max`, else 400 `invalid_query` naming the parameter and range.
pub fn in_range(name: &str, value: u32, min: u32, max: u32) -> Result<u32, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::InvalidQuery(format!(
            "{name} must be between {min} and {max}, not {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_refuses_what_it_cannot_serve() {
        assert_eq!(paging(None, None, JOB_PAGES).unwrap(), (1, 20, 0));
        assert_eq!(
            paging(Some(3), Some(100), JOB_PAGES).unwrap(),
            (3, 100, 200)
        );
        for (page, per_page) in [
            (Some(0), None),
            (None, Some(0)),
            (None, Some(101)),
            (Some(MAX_PAGE + 1), None),
        ] {
            let e = paging(page, per_page, JOB_PAGES).unwrap_err();
            assert_eq!((e.status().as_u16(), e.code()), (400, "invalid_query"));
        }
        assert_eq!(
            paging(Some(MAX_PAGE), Some(1000), SENTENCE_PAGES)
                .unwrap()
                .2,
            u64::from(MAX_PAGE - 1) * 1000
        );
    }
}
