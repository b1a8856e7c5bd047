//! The caller's webhooks: register (the secret is answered once), list, delete, and the
//! delivery log. Deliveries are sent by the workers, never from a request. Another user's
//! webhook is always 404, as a missing one.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use pdfq_api_types::{
    CreatedWebhook, DeliveriesQuery, DeliveryState, ErrorBody, NewWebhookRequest,
    WebhookAttemptView, WebhookDeliveries, WebhookDeliveryView, WebhookList, WebhookView,
};
use pdfq_domain::webhook::{self, UrlRefused};
use pdfq_store::{DeliveryStatus, NewWebhook, Webhook, WebhookDelivery};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// Webhooks one user may have.
pub const MAX_WEBHOOKS_PER_USER: usize = 20;

/// How long the registration waits for the URL's host to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Registers a webhook for the caller's jobs and answers its signing secret, once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = NewWebhookRequest,
    responses((status = 201, body = CreatedWebhook, description = "registered; `secret` is not shown again"),
              (status = 422, body = ErrorBody, description = "`invalid_webhook_url`: not an http(s) URL with a host, or it does not resolve; \
               `webhook_url_forbidden`: the host resolves to a loopback, private or link-local address (WEBHOOK_ALLOW_PRIVATE is off); \
               `validation_failed`: an unknown event, an empty list, or the caller already has 20 webhooks; `invalid_body`: a field is missing or of the wrong type")))]
pub async fn create_webhook(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<NewWebhookRequest>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let events = events_of(body.events)?;
    let url = webhook::parse_url(body.url.trim())
        .map_err(|e| ApiError::InvalidWebhookUrl(e.to_string()))?;
    if !state.settings.webhook_allow_private {
        refuse_internal(&url).await?;
    }
    if state.store.webhooks_of(user.id).await?.len() >= MAX_WEBHOOKS_PER_USER {
        return Err(ApiError::Validation(format!(
            "you have {MAX_WEBHOOKS_PER_USER} webhooks already; delete one first"
        )));
    }
    let secret = new_secret()?;
    let hook = state
        .store
        .create_webhook(&NewWebhook {
            id: Uuid::now_v7(),
            owner: user.id,
            url: url.to_string(),
            events,
            secret,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            id: hook.id,
            url: hook.url,
            events: hook.events,
            created_at: hook.created_at,
            secret: hook.secret,
        }),
    ))
}

/// The caller's webhooks, oldest first, without their secrets.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookList)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = state.store.webhooks_of(user.id).await?;
    Ok(Json(WebhookList {
        webhooks: webhooks.into_iter().map(view).collect(),
    }))
}

/// Deletes a webhook and its delivery log; pending deliveries are not sent.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "webhook id")),
    responses((status = 204, description = "deleted"),
              (status = 404, body = ErrorBody, description = "`not_found`: no such webhook, or another user's")))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    match state.store.delete_webhook(id, user.id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(pdfq_store::StoreError::NotFound) => Err(ApiError::NotFound("webhook")),
        Err(e) => Err(e.into()),
    }
}

/// A webhook's newest deliveries, newest first, each with every attempt's outcome.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "webhook id"), DeliveriesQuery),
    responses((status = 200, body = WebhookDeliveries),
              (status = 404, body = ErrorBody, description = "`not_found`: no such webhook, or another user's")))]
pub async fn webhook_deliveries(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Json<WebhookDeliveries>, ApiError> {
    let limit = match query.limit {
        None => 50,
        Some(n @ 1..=500) => n,
        Some(n) => {
            return Err(ApiError::InvalidQuery(format!(
                "limit must be 1 to 500, not {n}"
            )));
        }
    };
    state
        .store
        .webhook_for_owner(id, user.id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let deliveries = state.store.webhook_deliveries(id, limit).await?;
    Ok(Json(WebhookDeliveries {
        webhook_id: id,
        deliveries: deliveries.into_iter().map(delivery_view).collect(),
    }))
}

/// The requested events, checked and without repeats; every event when none were given.
fn events_of(requested: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let Some(requested) = requested else {
        return Ok(webhook::EVENTS.iter().map(|&e| e.to_owned()).collect());
    };
    if requested.is_empty() {
        return Err(ApiError::Validation(
            "events is empty; leave it out to receive every event".into(),
        ));
    }
    let mut events: Vec<String> = Vec::new();
    for event in requested {
        if !webhook::EVENTS.contains(&event.as_str()) {
            return Err(ApiError::Validation(format!(
                "unknown event {:?}; the events are {}",
                event.chars().take(64).collect::<String>(),
                webhook::EVENTS.join(", ")
            )));
        }
        if !events.contains(&event) {
            events.push(event);
        }
    }
    Ok(events)
}

/// Refuses a URL whose host is, or resolves to, an internal address. The workers check again
/// at each delivery: DNS answers change.
async fn refuse_internal(url: &url::Url) -> Result<(), ApiError> {
    let (host, addrs): (String, Vec<IpAddr>) = match url.host() {
        Some(url::Host::Ipv4(ip)) => (ip.to_string(), vec![IpAddr::V4(ip)]),
        Some(url::Host::Ipv6(ip)) => (ip.to_string(), vec![IpAddr::V6(ip)]),
        Some(url::Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let unresolvable = |reason: String| {
                ApiError::InvalidWebhookUrl(
                    UrlRefused::Unresolvable {
                        host: name.to_owned(),
                        reason,
                    }
                    .to_string(),
                )
            };
            let found =
                tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
                    .await
                    .map_err(|_| unresolvable("the lookup timed out".into()))?
                    .map_err(|e| unresolvable(e.to_string()))?;
            (name.to_owned(), found.map(|a| a.ip()).collect())
        }
        None => return Err(ApiError::InvalidWebhookUrl(UrlRefused::NoHost.to_string())),
    };
    webhook::check_addresses(&host, addrs).map_err(|e| ApiError::WebhookUrlForbidden(e.to_string()))
}

/// `whsec_` and 256 random bits from the OS, hex.
fn new_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("random source: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("whsec_{hex}"))
}

fn view(hook: Webhook) -> WebhookView {
    WebhookView {
        id: hook.id,
        url: hook.url,
        events: hook.events,
        created_at: hook.created_at,
    }
}

fn delivery_view(d: WebhookDelivery) -> WebhookDeliveryView {
    WebhookDeliveryView {
        id: d.id,
        event: d.event,
        job_id: d.job_id.into(),
        status: match d.status {
            DeliveryStatus::Pending => DeliveryState::Pending,
            DeliveryStatus::Delivered => DeliveryState::Delivered,
            DeliveryStatus::Failed => DeliveryState::Failed,
        },
        created_at: d.created_at,
        next_attempt_at: d.next_attempt_at,
        finished_at: d.finished_at,
        payload: d.payload,
        attempts: d
            .attempts
            .into_iter()
            .map(|a| WebhookAttemptView {
                attempt: a.attempt,
                at: a.at,
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
    }
}
