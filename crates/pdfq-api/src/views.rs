//! Store rows to the JSON the API answers with ([`pdfq_client::types`]).

use pdfq_client::types::{JobError, JobListItem, JobView, PoolView};
use pdfq_store::{Job, JobSummary, PoolStats};

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

/// Page number (from 1) and size, clamped, and the row offset they mean.
#[must_use]
pub fn paging(page: Option<u32>, per_page: Option<u32>, default: u32, max: u32) -> (u32, u32, u64) {
    let page = page.unwrap_or(1).max(1);
    let per_page = per_page.unwrap_or(default).clamp(1, max);
    (page, per_page, u64::from(page - 1) * u64::from(per_page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_clamps() {
        assert_eq!(paging(None, None, 20, 100), (1, 20, 0));
        assert_eq!(paging(Some(0), Some(0), 20, 100), (1, 1, 0));
        assert_eq!(paging(Some(3), Some(500), 20, 100), (3, 100, 200));
    }
}
