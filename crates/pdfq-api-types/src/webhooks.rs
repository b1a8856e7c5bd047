//! The bodies of `/api/v1/webhooks`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// The body of `POST /api/v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewWebhookRequest {
    /// http or https, at most 2048 characters, no user name or password. A host that resolves
    /// to a loopback, private or link-local address is refused unless the server sets
    /// WEBHOOK_ALLOW_PRIVATE=true.
    #[cfg_attr(
        feature = "openapi",
        schema(
            format = "uri",
            max_length = 2048,
            example = "https://example.com/pdfq-hook"
        )
    )]
    pub url: String,
    /// The events to send, each `job.<status>`: job.pending, job.processing, job.retrying,
    /// job.completed, job.failed, job.cancelled. Left out: all of them.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = json!(["job.completed", "job.failed"])))]
    pub events: Option<Vec<String>>,
}

/// A registered webhook. Its secret is shown once, when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookView {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

/// The answer to `POST /api/v1/webhooks`: the webhook and its signing secret, which is never
/// shown again.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedWebhook {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// The HMAC-SHA256 key of `Pdfq-Signature` (the whole string, as UTF-8 bytes). Keep it:
    /// it is not shown again.
    #[cfg_attr(feature = "openapi", schema(example = "whsec_3f1c..."))]
    pub secret: String,
}

impl std::fmt::Debug for CreatedWebhook {
    // The secret must never reach a log line through a `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The caller's webhooks, oldest first; no secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not answered with a 2xx yet; retried at `next_attempt_at`.
    Pending,
    /// An attempt was answered with a 2xx.
    Delivered,
    /// No attempt was answered with a 2xx within a day; no more are made.
    Failed,
}

/// One event sent (or being sent) to a webhook, with each attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookDeliveryView {
    /// Also the `Pdfq-Delivery` header and the body's `id`: the same on every attempt, for
    /// receivers to drop duplicates.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(example = "job.completed"))]
    pub event: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub job_id: Uuid,
    pub status: DeliveryState,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// When the next attempt is due; null once delivered or failed.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<OffsetDateTime>,
    /// The exact body sent (JSON text), the same on every attempt.
    pub payload: String,
    /// Oldest first.
    pub attempts: Vec<WebhookAttemptView>,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookAttemptView {
    /// 1 for the first.
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    /// The answer's HTTP status; null when none came (refused, unreachable, timed out).
    pub status_code: Option<u16>,
    /// Why the attempt failed; null when it was answered with a 2xx.
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// A webhook's newest deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookDeliveries {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    pub webhook_id: Uuid,
    pub deliveries: Vec<WebhookDeliveryView>,
}

/// The query of `GET /api/v1/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DeliveriesQuery {
    /// How many of the newest deliveries, 1 to 500 (default 50).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<u32>,
}
