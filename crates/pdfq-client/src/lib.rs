//! Typed async client of the pdfq REST API, used by pdfctl and the end-to-end tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pdfq_client::ClientError> {
//! let anon = pdfq_client::Client::new("http://127.0.0.1:8000")?;
//! anon.register("me@example.com", "a long passphrase").await?;
//! let tokens = anon.login("me@example.com", "a long passphrase").await?;
//! let me = anon.with_token(&tokens.access_token);
//! let job = me.upload("paper.pdf", std::fs::read("paper.pdf").unwrap_or_default()).await?;
//! let view = me.job(job.job_id).await?;
//! # let _ = view; Ok(()) }
//! ```
//!
//! - [`types`]: the JSON bodies, shared with the API (crate pdfq-api-types).
//! - [`ClientError`]: the API's error code and message with the HTTP status, or a transport
//!   failure.

mod error;
mod sse;

pub use pdfq_api_types as types;

use std::time::Duration;

use futures::Stream;
use pdfq_domain::JobId;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

pub use error::ClientError;
use types::{
    AdminJobQuery, AuditPage, AuditQuery, BulkOutcome, BulkRequest, Credentials, DeadLetterView,
    DrainQuery, ErrorGroups, ErrorsQuery, HealthReport, JobInclude, JobList, JobListQuery,
    JobQuery, JobTimeline, JobUpdate, JobView, LogoutRequest, Overview, PageQuery, Purged,
    QueueState, RefreshRequest, RegisteredUser, SentencePage, TokenPair, UploadAccepted,
    WorkerDrain,
};
use types::{CreatedWebhook, DeliveriesQuery, NewWebhookRequest, WebhookDeliveries, WebhookList};

/// A handle on one pdfq API, optionally authenticated with an access token. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("authenticated", &self.token.is_some())
            .finish()
    }
}

impl Client {
    /// A client of the API at `base_url` (e.g. `http://127.0.0.1:8000`), not authenticated.
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self::with_http(http, base_url))
    }

    /// A client over a configured `reqwest::Client` (timeouts, proxies...).
    #[must_use]
    pub fn with_http(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            token: None,
        }
    }

    /// The same client sending `access_token` as its bearer token.
    #[must_use]
    pub fn with_token(&self, access_token: &str) -> Self {
        Self {
            token: Some(access_token.to_owned()),
            ..self.clone()
        }
    }

    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The full URL of an API path such as `/api/v1/health`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` with the bearer token, for calls this client has no method for.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.http.request(method, self.url(path));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    // Auth.

    /// Creates an account (201); a taken email is 409 `email_taken`.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
    ) -> Result<RegisteredUser, ClientError> {
        let body = Credentials {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        json(
            self.request(Method::POST, "/api/v1/auth/register")
                .json(&body),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair, ClientError> {
        let body = Credentials {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        json(self.request(Method::POST, "/api/v1/auth/login").json(&body)).await
    }

    /// Spends `refresh_token` for a new pair. Presenting a spent token revokes its family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, ClientError> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        json(
            self.request(Method::POST, "/api/v1/auth/refresh")
                .json(&body),
        )
        .await
    }

    /// Ends the session of `refresh_token`, or every session of the caller without one.
    pub async fn logout(&self, refresh_token: Option<&str>) -> Result<(), ClientError> {
        let body = LogoutRequest {
            refresh_token: refresh_token.map(str::to_owned),
        };
        empty(
            self.request(Method::POST, "/api/v1/auth/logout")
                .json(&body),
        )
        .await
    }

    // Jobs.

    /// Uploads a PDF (multipart field `file`); 202 with the new job's id.
    pub async fn upload(
        &self,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<UploadAccepted, ClientError> {
        let size = bytes.len();
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str("application/pdf")?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let sent = json(
            self.request(Method::POST, "/api/v1/process-pdf-async")
                .multipart(form),
        )
        .await;
        match sent {
            Err(ClientError::Transport(e)) if closed_while_sending(&e) => Err(self
                .refusal_of_size(size)
                .await
                .unwrap_or(ClientError::Transport(e))),
            other => other,
        }
    }

    /// Why the server closed the connection during an upload of `size` bytes, if it refuses
    /// uploads of that size: it answers (413) from the declared length alone, then closes
    /// while the file is still being sent, and HTTP clients report only the broken pipe. This
    /// asks again declaring the same length but sending nothing, so the answer can be read;
    /// `None` when no refusal comes within a few seconds.
    async fn refusal_of_size(&self, size: usize) -> Option<ClientError> {
        // Room for the multipart framing around the file, as in the real upload.
        const FRAMING: usize = 512;
        let nothing = futures::stream::pending::<Result<Vec<u8>, std::io::Error>>();
        let response = self
            .request(Method::POST, "/api/v1/process-pdf-async")
            .header(
                reqwest::header::CONTENT_TYPE,
                "multipart/form-data; boundary=pdfq-size-probe",
            )
            .header(reqwest::header::CONTENT_LENGTH, size + FRAMING)
            .body(reqwest::Body::wrap_stream(nothing))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        check(response).await.err()
    }

    /// The job, with its sentences once completed.
    pub async fn job(&self, id: JobId) -> Result<JobView, ClientError> {
        json(self.request(Method::GET, &format!("/api/v1/jobs/{id}"))).await
    }

    /// The job's status without its sentences (`?include=none`), cheap however big the result.
    pub async fn job_status(&self, id: JobId) -> Result<JobView, ClientError> {
        let query = JobQuery {
            include: Some(JobInclude::None),
        };
        json(
            self.request(Method::GET, &format!("/api/v1/jobs/{id}"))
                .query(&query),
        )
        .await
    }

    /// The caller's jobs, newest first.
    pub async fn jobs(&self, query: &JobListQuery) -> Result<JobList, ClientError> {
        json(self.request(Method::GET, "/api/v1/jobs").query(query)).await
    }

    /// A page of a job's sentences, each with its page number and chunk.
    pub async fn sentences(&self, id: JobId, page: PageQuery) -> Result<SentencePage, ClientError> {
        json(
            self.request(Method::GET, &format!("/api/v1/jobs/{id}/sentences"))
                .query(&page),
        )
        .await
    }

    pub async fn cancel(&self, id: JobId) -> Result<JobView, ClientError> {
        json(self.request(Method::POST, &format!("/api/v1/jobs/{id}/cancel"))).await
    }

    pub async fn delete(&self, id: JobId) -> Result<(), ClientError> {
        empty(self.request(Method::DELETE, &format!("/api/v1/jobs/{id}"))).await
    }

    /// The job's progress as Server-Sent Events until it ends; the stream closes after the
    /// `end` event.
    pub async fn events(
        &self,
        id: JobId,
    ) -> Result<impl Stream<Item = Result<JobUpdate, ClientError>> + Send + use<>, ClientError>
    {
        let response = self
            .request(Method::GET, &format!("/api/v1/jobs/{id}/events"))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await?;
        let response = check(response).await?;
        Ok(sse::job_updates(response))
    }

    // Webhooks.

    /// Registers a webhook; the answer carries its signing secret, shown this once.
    pub async fn create_webhook(
        &self,
        request: &NewWebhookRequest,
    ) -> Result<CreatedWebhook, ClientError> {
        json(self.request(Method::POST, "/api/v1/webhooks").json(request)).await
    }

    pub async fn webhooks(&self) -> Result<WebhookList, ClientError> {
        json(self.request(Method::GET, "/api/v1/webhooks")).await
    }

    pub async fn delete_webhook(&self, id: uuid::Uuid) -> Result<(), ClientError> {
        empty(self.request(Method::DELETE, &format!("/api/v1/webhooks/{id}"))).await
    }

    /// The webhook's newest `limit` deliveries (the API's default, 50, when `None`).
    pub async fn webhook_deliveries(
        &self,
        id: uuid::Uuid,
        limit: Option<u32>,
    ) -> Result<WebhookDeliveries, ClientError> {
        json(
            self.request(Method::GET, &format!("/api/v1/webhooks/{id}/deliveries"))
                .query(&DeliveriesQuery { limit }),
        )
        .await
    }

    // Operations.

    /// The health report, whether the API answered 200 (healthy) or 503 (unhealthy).
    pub async fn health(&self) -> Result<HealthReport, ClientError> {
        let response = self.request(Method::GET, "/api/v1/health").send().await?;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            let status = response.status().as_u16();
            let text = response.text().await?;
            return serde_json::from_str(&text).map_err(|e| ClientError::Decode {
                status,
                message: format!("{e}: {text}"),
            });
        }
        decode(check(response).await?).await
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let response = check(self.request(Method::GET, "/metrics").send().await?).await?;
        Ok(response.text().await?)
    }

    /// The OpenAPI document.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        json(self.request(Method::GET, "/api/v1/openapi.json")).await
    }

    // Admin (role admin).

    pub async fn admin_overview(&self) -> Result<Overview, ClientError> {
        json(self.request(Method::GET, "/api/v1/admin/overview")).await
    }

    pub async fn admin_jobs(&self, query: &AdminJobQuery) -> Result<JobList, ClientError> {
        json(self.request(Method::GET, "/api/v1/admin/jobs").query(query)).await
    }

    /// Any user's job, without its sentences.
    pub async fn admin_job(&self, id: JobId) -> Result<JobView, ClientError> {
        json(self.request(Method::GET, &format!("/api/v1/admin/jobs/{id}"))).await
    }

    /// Any user's job with its whole event history.
    pub async fn admin_job_timeline(&self, id: JobId) -> Result<JobTimeline, ClientError> {
        json(self.request(Method::GET, &format!("/api/v1/admin/jobs/{id}/timeline"))).await
    }

    /// Asks a worker to take no new jobs; with `exit`, to exit once its running jobs finish.
    pub async fn drain_worker(
        &self,
        worker_id: &str,
        exit: bool,
    ) -> Result<WorkerDrain, ClientError> {
        json(
            self.request(
                Method::POST,
                &format!("/api/v1/admin/workers/{}/drain", segment(worker_id)),
            )
            .query(&DrainQuery { exit }),
        )
        .await
    }

    /// Lifts a drain request: the worker takes jobs again (if it has not exited).
    pub async fn undrain_worker(&self, worker_id: &str) -> Result<WorkerDrain, ClientError> {
        json(self.request(
            Method::DELETE,
            &format!("/api/v1/admin/workers/{}/drain", segment(worker_id)),
        ))
        .await
    }

    /// Puts a failed or cancelled job back in the queue.
    pub async fn admin_retry(&self, id: JobId) -> Result<JobView, ClientError> {
        json(self.request(Method::POST, &format!("/api/v1/admin/jobs/{id}/retry"))).await
    }

    pub async fn admin_cancel(&self, id: JobId) -> Result<JobView, ClientError> {
        json(self.request(Method::POST, &format!("/api/v1/admin/jobs/{id}/cancel"))).await
    }

    pub async fn admin_delete(&self, id: JobId) -> Result<(), ClientError> {
        empty(self.request(Method::DELETE, &format!("/api/v1/admin/jobs/{id}"))).await
    }

    pub async fn pause_queue(&self) -> Result<QueueState, ClientError> {
        json(self.request(Method::POST, "/api/v1/admin/queue/pause")).await
    }

    pub async fn resume_queue(&self) -> Result<QueueState, ClientError> {
        json(self.request(Method::POST, "/api/v1/admin/queue/resume")).await
    }

    /// The newest dead letters, newest first.
    pub async fn dead_letters(&self, limit: u32) -> Result<Vec<DeadLetterView>, ClientError> {
        json(
            self.request(Method::GET, "/api/v1/admin/dead-letters")
                .query(&[("limit", limit)]),
        )
        .await
    }

    pub async fn purge_dead_letters(&self) -> Result<Purged, ClientError> {
        json(self.request(Method::POST, "/api/v1/admin/dead-letters/purge")).await
    }

    /// Failures of a window grouped by error code and message pattern.
    pub async fn admin_errors(&self, query: &ErrorsQuery) -> Result<ErrorGroups, ClientError> {
        json(
            self.request(Method::GET, "/api/v1/admin/errors")
                .query(query),
        )
        .await
    }

    /// Completed, failed and pages over the last hour or day, overall and per worker.
    pub async fn admin_throughput(
        &self,
        query: &types::ThroughputQuery,
    ) -> Result<types::Throughput, ClientError> {
        json(
            self.request(Method::GET, "/api/v1/admin/throughput")
                .query(query),
        )
        .await
    }

    /// A page of the audit log, newest first.
    pub async fn admin_audit(&self, query: &AuditQuery) -> Result<AuditPage, ClientError> {
        json(
            self.request(Method::GET, "/api/v1/admin/audit")
                .query(query),
        )
        .await
    }

    /// Retries, cancels or deletes every job matching a filter (or counts them, dry).
    pub async fn admin_bulk(&self, request: &BulkRequest) -> Result<BulkOutcome, ClientError> {
        json(
            self.request(Method::POST, "/api/v1/admin/jobs/bulk")
                .json(request),
        )
        .await
    }
}

/// Everything but RFC 3986's unreserved characters (letters, digits, `-._~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A value as one URL path segment.
fn segment(value: &str) -> String {
    utf8_percent_encode(value, NOT_UNRESERVED).to_string()
}

/// Sends and decodes a JSON answer.
/// Whether the connection was closed by the server while the request was being written.
fn closed_while_sending(e: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = next {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            )
        {
            return true;
        }
        next = cause.source();
    }
    false
}

async fn json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, ClientError> {
    decode(check(request.send().await?).await?).await
}

/// Sends and expects a success without a body.
async fn empty(request: RequestBuilder) -> Result<(), ClientError> {
    check(request.send().await?).await.map(drop)
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ClientError> {
    let status = response.status().as_u16();
    let text = response.text().await?;
    serde_json::from_str(&text).map_err(|e| ClientError::Decode {
        status,
        message: format!("{e}: {}", truncate(&text)),
    })
}

/// Turns a 4xx or 5xx answer into [`ClientError::Api`].
async fn check(response: Response) -> Result<Response, ClientError> {
    if response.status().is_success() {
        return Ok(response);
    }
    Err(ClientError::from_response(response).await)
}

fn truncate(text: &str) -> &str {
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::segment;

    #[test]
    fn path_segments_escape_all_but_unreserved() {
        assert_eq!(segment("web-1.internal-42-ab12"), "web-1.internal-42-ab12");
        assert_eq!(segment("a/b c?d%"), "a%2Fb%20c%3Fd%25");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
