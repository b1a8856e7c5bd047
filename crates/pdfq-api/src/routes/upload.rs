//! `POST /api/v1/process-pdf-async`: the upload. Everything that can refuse it without the
//! body comes first: the token, the declared size, a free upload slot (per user and per
//! process) and the user's rate limit, so a refused client costs no memory. Then the body
//! streams in under the size limit, the `%PDF-` signature is checked whatever the client's
//! Content-Type says, the job and its file are stored in one transaction and the job is
//! queued. A file refused after its rate slot was taken gets the slot back.
//!
//! With an `Idempotency-Key` header, a retried upload (same key, same user, within
//! [`IDEMPOTENCY_KEY_LIFETIME`]) is answered with the first job's 202 at once, costing no rate
//! slot and creating nothing. The key is stored with the job, in its transaction: a job and its
//! key exist together or not at all, durably. A duplicate sent while the first is still being
//! received is received too and then answered with the first's job (its own is never
//! created): the store's unique key makes it wait for the first to commit. Stripe answers such
//! a duplicate 409 instead; here a client that retries because its first connection died need
//! not wait for the server to notice, and gets its job in the same exchange.

use axum::extract::multipart::MultipartError;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pdfq_api_types::{ErrorBody, UploadAccepted};
use pdfq_domain::JobId;
use pdfq_queue::{RateDecision, RateKey};
use pdfq_store::{Created, FileContent, IdempotencyKey, NewJob, Quotas, StoreError};
use sha2::{Digest, Sha256};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// Room for the multipart framing (boundaries, part headers) over the file itself.
const MULTIPART_OVERHEAD: u64 = 16 * 1024;

/// The largest upload body: a file of `max_upload_bytes` in its multipart framing.
#[must_use]
pub fn max_body_bytes(max_upload_bytes: u64) -> u64 {
    max_upload_bytes.saturating_add(MULTIPART_OVERHEAD)
}
/// The PDF header may follow some junk; readers look for it in the first kilobyte.
const SIGNATURE_WINDOW: usize = 1024;
const MAX_FILE_NAME_CHARS: usize = 255;
/// How long an `Idempotency-Key` names its upload's job (Stripe's and the IETF draft's 24 h).
pub const IDEMPOTENCY_KEY_LIFETIME: time::Duration = time::Duration::hours(24);
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The upload's form, for the OpenAPI document (the handler streams it field by field): one
/// field, `file`, and no other (`additionalProperties: false`, from `deny_unknown_fields`).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "only its schema is used")]
pub struct UploadForm {
    /// The PDF (it must start with `%PDF-` within its first kilobyte). Its file name is kept
    /// without any directory part or control characters, at most 255 characters.
    #[schema(value_type = String, format = Binary, content_media_type = "application/pdf")]
    file: Vec<u8>,
}

/// Adds the multipart `encoding` of the upload's `file` part (`application/pdf`), which the
/// `utoipa::path` attribute cannot express: with it, generators see the part as a file.
#[derive(Debug)]
pub struct UploadEncoding;

impl utoipa::Modify for UploadEncoding {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let body = openapi
            .paths
            .paths
            .get_mut("/api/v1/process-pdf-async")
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut());
        if let Some(form) = body.and_then(|b| b.content.get_mut("multipart/form-data")) {
            form.encoding.insert(
                "file".to_owned(),
                utoipa::openapi::encoding::EncodingBuilder::new()
                    .content_type(Some("application/pdf"))
                    .build(),
            );
        }
    }
}

/// Uploads a PDF (multipart field `file`) and queues a job for it.
#[utoipa::path(post, path = "/api/v1/process-pdf-async", tag = "jobs",
    request_body(content = UploadForm, content_type = "multipart/form-data",
                 description = "one field, named `file`, with the PDF"),
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
            pattern = "^[\\x21-\\x7E]{1,255}$",
            description = "A key of your choice (e.g. a UUID) naming this upload: retried with the same key within 24 hours, by the same user, the upload is answered with the first job's 202 (header `Idempotent-Replayed: true`) and creates nothing, costing no rate-limit slot. A duplicate sent while the first is still being received is answered with the first's job once it is stored.")),
    security(("bearer" = [])),
    responses((status = 202, body = UploadAccepted, description = "stored and queued (or, replayed with its Idempotency-Key, the first upload's job)",
               headers(("ratelimit-limit" = u32, description = "uploads allowed per window"),
                       ("ratelimit-remaining" = u32, description = "uploads left in this window"),
                       ("ratelimit-reset" = u64, description = "seconds until the window resets"))),
              (status = 400, body = ErrorBody,
               description = "`missing_file`: no multipart field named `file`; `invalid_multipart`: the body is not readable multipart, or has a field other than one `file`"),
              (status = 408, body = ErrorBody,
               description = "`request_timeout`: the body had not arrived when REQUEST_TIMEOUT passed; the connection is closed"),
              (status = 413, body = ErrorBody, description = "`payload_too_large`: over MAX_UPLOAD_BYTES; `storage_quota_exceeded`: the user's kept files would pass USER_STORAGE_QUOTA"),
              (status = 415, body = ErrorBody,
               description = "`unsupported_media_type`: not `multipart/form-data`, or the file is not a PDF"),
              (status = 422, body = ErrorBody,
               description = "`validation_failed`: the Idempotency-Key is not 1 to 255 printable ASCII characters"),
              (status = 429, body = ErrorBody,
               description = "`rate_limited`: UPLOAD_RATE_LIMIT reached; `too_many_uploads`: MAX_CONCURRENT_UPLOADS_PER_USER of this user's uploads are being received already; `too_many_active_jobs`: USER_MAX_ACTIVE_JOBS of this user's jobs are not yet ended",
               headers(("retry-after" = u64, description = "seconds to wait"))),
              (status = 503, body = ErrorBody,
               description = "`busy`: the server receives MAX_CONCURRENT_UPLOADS uploads already; also `timeout`, `database_unavailable`, `file_store_unavailable` (nothing was stored)",
               headers(("retry-after" = u64, description = "seconds to wait")))))]
pub async fn upload(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let key = key.as_deref().map(|key| IdempotencyKey {
        key,
        issued_after: time::OffsetDateTime::now_utc() - IDEMPOTENCY_KEY_LIFETIME,
    });
    if let Some(key) = &key
        && let Some(job) = state.store.job_for_idempotency_key(user.id, key).await?
    {
        return Ok(replayed(&job));
    }
    let limit = state.settings.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_body_bytes(limit)) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let multipart = multipart.map_err(|_| {
        ApiError::UnsupportedMediaType(
            "expected multipart/form-data with the PDF in a field named \"file\"".into(),
        )
    })?;
    let _slot = state.uploads.acquire(user.id)?;
    check_quotas(&state, user, 0).await?;
    let admission = state
        .limits
        .admit(&RateKey::uploads(user.id), state.settings.upload_rate_limit)
        .await?;
    let decision = admission.decision;
    let job = match receive(&state, user, multipart, limit, key.as_ref()).await {
        Ok(Created::New(job)) => job,
        Ok(Created::Existing(job)) => {
            // A duplicate of an upload stored meanwhile: nothing new, so no quota either.
            state.limits.refund(admission).await;
            return Ok(replayed(&job));
        }
        Err(e) => {
            // Nothing was stored: a refused file costs no quota.
            state.limits.refund(admission).await;
            return Err(e);
        }
    };
    // The job is durable now; if the queue is down the worker's sweeper enqueues pending jobs
    // it finds without an entry, so the upload still succeeds.
    if let Err(e) = state.broker.enqueue(job.id, job.attempts.next()).await {
        tracing::warn!(job = %job.id, error = %e, "enqueue failed; the sweeper will queue the job");
    }
    tracing::info!(job = %job.id, user = %user.id, size = job.file_size, "upload accepted");

    let mut response = accepted(&job);
    rate_headers(response.headers_mut(), &decision);
    Ok(response)
}

/// The 202 of an accepted upload. Its `status` is the one the job was created with, so that a
/// replay answers exactly what the first upload did.
fn accepted(job: &pdfq_store::Job) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(UploadAccepted {
            job_id: job.id,
            status: pdfq_domain::JobStatus::Pending,
        }),
    )
        .into_response()
}

/// The first upload's answer, to a retry with its Idempotency-Key.
fn replayed(job: &pdfq_store::Job) -> Response {
    tracing::info!(job = %job.id, "upload replayed by its idempotency key");
    let mut response = accepted(job);
    response.headers_mut().insert(
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    );
    response
}

/// The `Idempotency-Key` header, if sent: 1 to 255 printable ASCII characters (no spaces or
/// controls, as the IETF draft's examples and Stripe's keys are).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(crate::middleware::IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty()
        || bytes.len() > MAX_IDEMPOTENCY_KEY_CHARS
        || !bytes.iter().all(u8::is_ascii_graphic)
    {
        return Err(ApiError::Validation(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces (a UUID is a good key)".into(),
        ));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// Reads the file, checks it is a PDF and stores the job with it.
async fn receive(
    state: &AppState,
    user: AuthUser,
    mut multipart: Multipart,
    limit: u64,
    key: Option<&IdempotencyKey<'_>>,
) -> Result<Created, ApiError> {
    let (file_name, file) = read_file(&mut multipart, limit).await?;
    if !is_pdf(&file.head) {
        return Err(ApiError::UnsupportedMediaType(
            "the file is not a PDF: it does not start with the %PDF- signature".into(),
        ));
    }
    let quotas = quotas(state);
    check_quotas(state, user, file.content.len()).await?;
    let new = NewJob {
        id: JobId::new(),
        owner: user.id,
        file_name,
        file_size: file.content.len(),
        sha256: file.sha256,
        content: file.content,
        // Checked again in the job's transaction: uploads received together take turns there.
        quotas,
    };
    let created = match key {
        Some(key) => state.store.create_job_once(&new, key).await,
        None => state.store.create_job(&new).await.map(Created::New),
    };
    created.map_err(|e| {
        if e.is_missing_reference() {
            // The token outlived its account (deleted since it was issued).
            ApiError::Unauthorized("the account no longer exists")
        } else {
            e.into()
        }
    })
}

/// USER_STORAGE_QUOTA and USER_MAX_ACTIVE_JOBS.
fn quotas(state: &AppState) -> Quotas {
    Quotas {
        stored_bytes: state.settings.user_storage_quota,
        active_jobs: state.settings.user_max_active_jobs,
    }
}

/// The quotas, for a file of `size` bytes (0 before it is received: then only a user already
/// at a limit is refused, before sending the body). An early, cheap refusal: the store checks
/// again in the job's transaction, which is what holds when uploads arrive together.
async fn check_quotas(state: &AppState, user: AuthUser, size: u64) -> Result<(), ApiError> {
    let quotas = quotas(state);
    if quotas.is_unlimited() {
        return Ok(());
    }
    let usage = state.store.usage(user.id).await?;
    Ok(quotas.check(usage, size).map_err(StoreError::from)?)
}

/// The one field named `file`: its name and bytes, refused as soon as it passes `limit`. The
/// whole body is read, so that a broken ending is noticed and the form must be exactly what the
/// document says: a second `file` field (which one was meant?) or any other field is refused
/// with 400 `invalid_multipart`; a form without a `file` field is 400 `missing_file`.
async fn read_file(multipart: &mut Multipart, limit: u64) -> Result<(String, Received), ApiError> {
    let mut file: Option<(String, Spool)> = None;
    let mut unexpected: Option<String> = None;
    let mut skipped: u64 = 0;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(&e))?
    {
        if field.name() != Some("file") {
            if unexpected.is_none() {
                unexpected = Some(field.name().unwrap_or_default().chars().take(64).collect());
            }
            while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
                skipped += chunk.len() as u64;
                if skipped > MULTIPART_OVERHEAD {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
            }
            continue;
        }
        if file.is_some() {
            return Err(ApiError::InvalidMultipart(
                "more than one field named \"file\": send one PDF per upload".into(),
            ));
        }
        let file_name = sanitize_file_name(field.file_name());
        let mut spool = Spool::default();
        while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
            if spool.len + chunk.len() as u64 > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            spool.push(&chunk).await?;
        }
        file = Some((file_name, spool));
    }
    match (file, unexpected) {
        (None, _) => Err(ApiError::MissingFile),
        (Some(_), Some(name)) => Err(ApiError::InvalidMultipart(format!(
            "unexpected field {name:?}: the form has one field, \"file\""
        ))),
        (Some((name, spool)), None) => Ok((name, spool.finish().await?)),
    }
}

/// What stays in memory of a file being received; past it, the file goes to a temporary file.
const SPOOL_IN_MEMORY: usize = 1 << 20;

/// A received file: its bytes (in memory or spooled), checksum, and first kilobyte.
struct Received {
    content: FileContent,
    sha256: [u8; 32],
    head: Vec<u8>,
}

/// A file being received: in memory up to [`SPOOL_IN_MEMORY`], then in an anonymous temporary
/// file (gone when dropped), so a slow or large upload holds a small buffer while it arrives.
/// The store reads a spooled file back a part at a time for a bucket, or whole for the
/// database. Its checksum and signature window are taken as it arrives.
#[derive(Default)]
struct Spool {
    memory: Vec<u8>,
    file: Option<tokio::fs::File>,
    len: u64,
    sha256: Sha256,
    head: Vec<u8>,
}

impl Spool {
    async fn push(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        use tokio::io::AsyncWriteExt as _;
        self.len += chunk.len() as u64;
        self.sha256.update(chunk);
        let wanted = SIGNATURE_WINDOW.saturating_sub(self.head.len());
        self.head
            .extend_from_slice(&chunk[..wanted.min(chunk.len())]);
        if self.file.is_none() && self.memory.len() + chunk.len() <= SPOOL_IN_MEMORY {
            self.memory.extend_from_slice(chunk);
            return Ok(());
        }
        if self.file.is_none() {
            let file = tokio::task::spawn_blocking(tempfile::tempfile)
                .await
                .map_err(|e| spool_error(&e))?
                .map_err(|e| spool_error(&e))?;
            let mut file = tokio::fs::File::from_std(file);
            file.write_all(&self.memory)
                .await
                .map_err(|e| spool_error(&e))?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        if let Some(file) = &mut self.file {
            file.write_all(chunk).await.map_err(|e| spool_error(&e))?;
        }
        Ok(())
    }

    async fn finish(self) -> Result<Received, ApiError> {
        use tokio::io::AsyncWriteExt as _;
        let content = match self.file {
            None => FileContent::from(self.memory),
            Some(mut file) => {
                // Every write handed to the blocking pool has landed before it is read back.
                file.flush().await.map_err(|e| spool_error(&e))?;
                FileContent::spooled(file.into_std().await, self.len)
            }
        };
        Ok(Received {
            content,
            sha256: self.sha256.finalize().into(),
            head: self.head,
        })
    }
}

fn spool_error(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "an upload could not be spooled to a temporary file");
    ApiError::Internal(format!("spooling the upload: {e}"))
}

fn multipart_error(e: &MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit: 0 }
    } else {
        ApiError::InvalidMultipart(e.body_text())
    }
}

/// `%PDF-` within the first kilobyte.
#[must_use]
pub fn is_pdf(bytes: &[u8]) -> bool {
    let window = &bytes[..bytes.len().min(SIGNATURE_WINDOW)];
    window.windows(5).any(|w| w == b"%PDF-")
}

/// The last path component, without control characters or bidirectional overrides (which make
/// `evil\u{202e}fdp.exe` read as `evilexe.pdf`), at most 255 characters. The name is only
/// shown back: files are stored in the database or under the job's id, never under this name.
#[must_use]
pub fn sanitize_file_name(name: Option<&str>) -> String {
    let name = name
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        "upload.pdf".into()
    } else {
        clean.to_owned()
    }
}

/// The Unicode bidirectional formatting characters (embeddings, overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds), as in the IETF draft.
pub fn rate_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert(
        "ratelimit-reset",
        HeaderValue::from(decision.reset_after.as_secs()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_looked_for_in_the_first_kilobyte() {
        assert!(is_pdf(b"%PDF-1.7\n"));
        assert!(is_pdf(b"junk\n%PDF-1.4"));
        assert!(!is_pdf(b"PK\x03\x04"));
        assert!(!is_pdf(b""));
        let mut late = vec![b' '; 2000];
        late.extend_from_slice(b"%PDF-1.4");
        assert!(!is_pdf(&late));
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(sanitize_file_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(sanitize_file_name(Some("C:\\x\\a.pdf")), "a.pdf");
        assert_eq!(sanitize_file_name(Some("a\nb.pdf")), "ab.pdf");
        assert_eq!(sanitize_file_name(Some("a\0b.pdf")), "ab.pdf");
        assert_eq!(
            sanitize_file_name(Some("evil\u{202e}fdp.exe")),
            "evilfdp.exe"
        );
        assert_eq!(sanitize_file_name(Some("/etc/passwd.pdf")), "passwd.pdf");
        assert_eq!(
            sanitize_file_name(Some("résumé 日本.pdf")),
            "résumé 日本.pdf"
        );
        assert_eq!(sanitize_file_name(None), "upload.pdf");
        assert_eq!(sanitize_file_name(Some("..")), "upload.pdf");
        assert_eq!(sanitize_file_name(Some(&"x".repeat(300))).len(), 255);
    }
}
