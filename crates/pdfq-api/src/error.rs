//! The API's one error type. Each variant documents its HTTP status and stable `code`; every
//! error leaves the server as `{"error": {"code": "...", "message": "..."}}`.
//!
//! Extractor rejections (bad JSON, bad query, bad path) and store and queue errors convert into
//! it, so no handler can answer with axum's plain-text rejections or leak an internal error.

use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pdfq_api_types::{ErrorBody, ErrorDetail};
use pdfq_queue::QueueError;
use pdfq_store::{QuotaExceeded, StoreError};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `malformed_json`: the body is not JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 422 `invalid_body`: JSON of the wrong shape (missing field, wrong type).
    #[error("the request body does not have the expected fields: {0}")]
    InvalidBody(String),
    /// 400 `invalid_query`: a query parameter could not be read, or is outside the range the
    /// OpenAPI document gives it (never clamped silently).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// 400 `invalid_path`: a path parameter (e.g. a job id) is malformed.
    #[error("invalid path parameter: {0}")]
    InvalidPath(String),
    /// 422 `validation_failed`: well-formed input that breaks a rule (a short password...).
    #[error("{0}")]
    Validation(String),
    /// 422 `invalid_webhook_url`: not an http(s) URL with a host, or one that does not
    /// resolve.
    #[error("{0}")]
    InvalidWebhookUrl(String),
    /// 422 `webhook_url_forbidden`: the URL's host resolves to a loopback, private or
    /// link-local address and WEBHOOK_ALLOW_PRIVATE is not set (SSRF).
    #[error("{0}")]
    WebhookUrlForbidden(String),
    /// 400 `missing_file`: the upload has no multipart field named `file`.
    #[error("the upload must have a multipart field named \"file\"")]
    MissingFile,
    /// 400 `invalid_multipart`: the multipart body could not be read.
    #[error("the multipart body could not be read: {0}")]
    InvalidMultipart(String),
    /// 401 `unauthorized`: no, or an invalid or expired, access token; wrong credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403 `forbidden`: authenticated but not allowed (admin endpoints).
    #[error("this needs the admin role")]
    Forbidden,
    /// 404 `not_found`: no such resource, or another user's.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 404 `route_not_found`: no such endpoint.
    #[error("no route for {0}")]
    RouteNotFound(String),
    /// 405 `method_not_allowed`.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 409 `email_taken`.
    #[error("this email is already registered")]
    EmailTaken,
    /// 409 `conflict`: the job's status does not allow the action.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`.
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// 415 `unsupported_media_type`: not a PDF, or not JSON where JSON is expected.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 `rate_limited` (uploads per user, logins per email), with `Retry-After` and the
    /// RateLimit headers.
    #[error("rate limit of {limit} per window reached; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited { limit: u32, retry_after: Duration },
    /// 429 `too_many_uploads`: this user already sends MAX_CONCURRENT_UPLOADS_PER_USER
    /// uploads at once; with `Retry-After`.
    #[error("{max} of your uploads are already being received; retry when one has finished")]
    TooManyUploads { max: usize },
    /// 429 `too_many_streams`: this user has EVENT_STREAMS_PER_USER progress streams open.
    #[error("{max} of your progress streams are open already; close one first")]
    TooManyStreams { max: usize },
    /// 503 `busy`: the server receives as many uploads at once as MAX_CONCURRENT_UPLOADS
    /// allows; with `Retry-After`.
    #[error("the server is receiving as many uploads as it can; retry in {} s", retry_after.as_secs().max(1))]
    Busy { retry_after: Duration },
    /// 408 `request_timeout`: the client had not sent its whole body when REQUEST_TIMEOUT ran
    /// out (a stalled or very slow upload); the connection is closed.
    #[error("the request body did not arrive within {0:?}")]
    RequestTimeout(Duration),
    /// 503 `timeout`: the request took longer than REQUEST_TIMEOUT.
    #[error("the request took longer than {0:?}")]
    Timeout(Duration),
    /// 503 `database_unavailable`.
    #[error("the database is unavailable; retry later")]
    DatabaseUnavailable,
    /// 503 `queue_unavailable`.
    #[error("the queue is unavailable; retry later")]
    QueueUnavailable,
    /// 503 `file_store_unavailable`: the bucket of STORAGE_URL cannot be reached; nothing was
    /// stored.
    #[error("the file store is unavailable; nothing was stored, retry later")]
    FileStoreUnavailable,
    /// 410 `file_gone`: the job's file was removed by FILE_RETENTION, so it cannot run again.
    #[error(
        "this job's file is no longer kept (FILE_RETENTION): upload the PDF again to process it"
    )]
    FileGone,
    /// 413 `storage_quota_exceeded`: the upload would take the user's kept files past
    /// USER_STORAGE_QUOTA.
    #[error(
        "your stored files would exceed your quota of {quota} bytes ({used} used): wait for your jobs to end (their files are then removed) or delete some"
    )]
    StorageQuotaExceeded { quota: u64, used: u64 },
    /// 429 `too_many_active_jobs`: the user has USER_MAX_ACTIVE_JOBS jobs not yet ended.
    #[error("{max} of your jobs are still pending or running: wait for one to end, or cancel one")]
    TooManyActiveJobs { max: u64 },
    /// 500 `internal`: a bug or an unexpected failure; logged, never detailed to the client.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_)
            | Self::InvalidQuery(_)
            | Self::InvalidPath(_)
            | Self::MissingFile
            | Self::InvalidMultipart(_) => StatusCode::BAD_REQUEST,
            Self::InvalidBody(_)
            | Self::Validation(_)
            | Self::InvalidWebhookUrl(_)
            | Self::WebhookUrlForbidden(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::RouteNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::EmailTaken | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::FileGone => StatusCode::GONE,
            Self::PayloadTooLarge { .. } | Self::StorageQuotaExceeded { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::TooManyActiveJobs { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::FileStoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. }
            | Self::TooManyUploads { .. }
            | Self::TooManyStreams { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout(_)
            | Self::Busy { .. }
            | Self::DatabaseUnavailable
            | Self::QueueUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::InvalidBody(_) => "invalid_body",
            Self::InvalidQuery(_) => "invalid_query",
            Self::InvalidPath(_) => "invalid_path",
            Self::Validation(_) => "validation_failed",
            Self::InvalidWebhookUrl(_) => "invalid_webhook_url",
            Self::WebhookUrlForbidden(_) => "webhook_url_forbidden",
            Self::MissingFile => "missing_file",
            Self::InvalidMultipart(_) => "invalid_multipart",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::RouteNotFound(_) => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::EmailTaken => "email_taken",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::TooManyUploads { .. } => "too_many_uploads",
            Self::TooManyStreams { .. } => "too_many_streams",
            Self::Busy { .. } => "busy",
            Self::RequestTimeout(_) => "request_timeout",
            Self::Timeout(_) => "timeout",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::QueueUnavailable => "queue_unavailable",
            Self::FileStoreUnavailable => "file_store_unavailable",
            Self::FileGone => "file_gone",
            Self::StorageQuotaExceeded { .. } => "storage_quota_exceeded",
            Self::TooManyActiveJobs { .. } => "too_many_active_jobs",
            Self::Internal(_) => "internal",
        }
    }

    /// The JSON body of an error with this code and message (also used by middleware that
    /// answers before any handler runs).
    #[must_use]
    pub fn body(code: &str, message: String) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            match &self {
                Self::Internal(detail) => {
                    tracing::error!(code = self.code(), %detail, "request failed");
                }
                _ => tracing::warn!(code = self.code(), "request failed: {self}"),
            }
        }
        let body = Self::body(self.code(), self.to_string());
        let mut response = (status, axum::Json(body)).into_response();
        if let Self::RateLimited { retry_after, limit } = &self {
            let secs = retry_after.as_secs().max(1);
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            headers.insert("ratelimit-limit", HeaderValue::from(*limit));
            headers.insert("ratelimit-remaining", HeaderValue::from(0u32));
            headers.insert("ratelimit-reset", HeaderValue::from(secs));
        }
        match &self {
            Self::TooManyUploads { .. } | Self::TooManyStreams { .. } => {
                let secs = crate::limits::UPLOAD_RETRY_AFTER.as_secs();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Self::Busy { retry_after } => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
            }
            _ => {}
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body is not read: the connection cannot carry another request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("resource"),
            StoreError::Conflict(msg) => Self::Conflict(msg.into_owned()),
            // The domain says it in full: "a completed job cannot be cancelled".
            StoreError::IllegalTransition(t) => Self::Conflict(t.to_string()),
            StoreError::StaleAttempt { .. } => Self::Conflict(e.to_string()),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::DatabaseUnavailable
            }
            StoreError::FileStore(_) => {
                tracing::warn!(error = %e, "file store unavailable");
                Self::FileStoreUnavailable
            }
            StoreError::FileGone => Self::FileGone,
            StoreError::QuotaExceeded(QuotaExceeded::ActiveJobs { max }) => {
                Self::TooManyActiveJobs { max }
            }
            StoreError::QuotaExceeded(QuotaExceeded::StoredBytes { quota, used }) => {
                Self::StorageQuotaExceeded { quota, used }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "queue unavailable");
            Self::QueueUnavailable
        } else {
            Self::Internal(e.to_string())
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Self::InvalidBody(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => Self::MalformedJson(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType(
                "expected a JSON body with Content-Type: application/json".into(),
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge {
                limit: crate::routes::JSON_BODY_LIMIT as u64,
            },
            other => Self::MalformedJson(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::InvalidQuery(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::InvalidPath(rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_4xx_or_5xx_status_and_a_snake_case_code() {
        let all = [
            ApiError::MalformedJson(String::new()),
            ApiError::InvalidBody(String::new()),
            ApiError::Unauthorized("x"),
            ApiError::NotFound("job"),
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::RateLimited {
                limit: 10,
                retry_after: Duration::from_secs(5),
            },
            ApiError::Internal("boom".into()),
        ];
        for e in all {
            assert!(e.status().is_client_error() || e.status().is_server_error());
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }

    #[test]
    fn internal_details_never_reach_the_message() {
        let e = ApiError::Internal("password=hunter2".into());
        assert_eq!(e.to_string(), "internal error");
    }

    #[test]
    fn an_illegal_transition_reads_as_english() {
        use pdfq_domain::{JobEvent, JobStatus, TransitionError};
        for (event, said) in [
            (JobEvent::Cancel, "a completed job cannot be cancelled"),
            (JobEvent::Retry, "a completed job cannot be retried"),
        ] {
            let e = ApiError::from(StoreError::IllegalTransition(TransitionError {
                from: JobStatus::Completed,
                event,
            }));
            assert_eq!(e.to_string(), said);
        }
    }

    #[test]
    fn store_errors_answer_their_status() {
        use pdfq_domain::{Attempt, JobEvent, JobId, JobStatus, TransitionError};
        let illegal = TransitionError {
            from: JobStatus::Completed,
            event: JobEvent::Cancel,
        };
        let stale = StoreError::StaleAttempt {
            job: JobId::new(),
            attempt: Attempt::new(1),
        };
        for (e, status) in [
            (StoreError::NotFound, 404),
            (StoreError::Conflict("x".into()), 409),
            (StoreError::IllegalTransition(illegal), 409),
            (stale, 409),
            (StoreError::Corrupt("x".into()), 500),
            (StoreError::FileStore("down".into()), 503),
            (StoreError::FileGone, 410),
            (QuotaExceeded::ActiveJobs { max: 2 }.into(), 429),
            (QuotaExceeded::StoredBytes { quota: 9, used: 9 }.into(), 413),
        ] {
            let what = e.to_string();
            assert_eq!(ApiError::from(e).status().as_u16(), status, "{what}");
        }
    }
}
