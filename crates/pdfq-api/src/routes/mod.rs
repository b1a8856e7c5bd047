//! The routes, and [`router`] which puts them together with the middleware.

pub mod admin;
pub mod docs;
pub mod events;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod upload;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::routing::{delete, get, post};

use crate::auth::handlers as auth;
use crate::error::ApiError;
use crate::middleware;
use crate::state::AppState;

/// Largest JSON body: credentials and tokens are a few hundred bytes.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Every route with its middleware.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/auth/register", post(auth::register))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh_tokens))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route(
            "/api/v1/process-pdf-async",
            // The upload counts its own bytes against MAX_UPLOAD_BYTES while streaming.
            post(upload::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/jobs", get(jobs::list_jobs))
        .route(
            "/api/v1/jobs/{id}",
            get(jobs::get_job).delete(jobs::delete_job),
        )
        .route("/api/v1/jobs/{id}/sentences", get(jobs::sentences))
        .route("/api/v1/jobs/{id}/cancel", post(jobs::cancel_job))
        .route("/api/v1/jobs/{id}/events", get(events::job_events))
        .route(
            "/api/v1/jobs/{id}/events/ticket",
            post(events::events_ticket),
        )
        .route(
            "/api/v1/webhooks",
            get(webhooks::list_webhooks).post(webhooks::create_webhook),
        )
        .route("/api/v1/webhooks/{id}", delete(webhooks::delete_webhook))
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::webhook_deliveries),
        )
        .route("/api/v1/health", get(health::health))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/docs", get(docs::docs_page))
        .route("/api/v1/docs/", get(docs::docs_page))
        .route("/api/v1/docs/{*file}", get(docs::docs_asset))
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/admin/overview", get(admin::overview))
        .route("/api/v1/admin/jobs", get(admin::search_jobs))
        .route("/api/v1/admin/jobs/bulk", post(admin::bulk_jobs))
        .route("/api/v1/admin/errors", get(admin::errors))
        .route("/api/v1/admin/audit", get(admin::audit_log))
        .route("/api/v1/admin/throughput", get(admin::throughput))
        .route(
            "/api/v1/admin/jobs/{id}",
            get(admin::get_job).delete(admin::delete_job),
        )
        .route("/api/v1/admin/jobs/{id}/timeline", get(admin::job_timeline))
        .route(
            "/api/v1/admin/workers/{id}/drain",
            post(admin::drain_worker).delete(admin::undrain_worker),
        )
        .route("/api/v1/admin/jobs/{id}/retry", post(admin::retry_job))
        .route("/api/v1/admin/jobs/{id}/cancel", post(admin::cancel_job))
        .route("/api/v1/admin/queue/pause", post(admin::pause))
        .route("/api/v1/admin/queue/resume", post(admin::resume))
        .route("/api/v1/admin/dead-letters", get(admin::dead_letters))
        .route("/api/v1/admin/dead-letters/purge", post(admin::purge_dead))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));
    middleware::apply(api, state.clone()).with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound(uri.path().chars().take(200).collect())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
