//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers'
//! annotations and the shared DTOs ([`pdfq_api_types`]).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::handlers as auth;
use crate::routes::{admin, docs, events, health, jobs, metrics, upload, webhooks};

mod errors;

use errors::SharedErrors;
use upload::UploadEncoding;

#[derive(OpenApi)]
#[openapi(
    info(title = "pdfq API", description = "Asynchronous PDF processing: upload a PDF, follow its job, read its sentences."),
    paths(
        auth::register, auth::login, auth::refresh_tokens, auth::logout,
        upload::upload,
        jobs::list_jobs, jobs::get_job, jobs::sentences, jobs::cancel_job, jobs::delete_job,
        events::job_events, events::events_ticket,
        webhooks::create_webhook, webhooks::list_webhooks, webhooks::delete_webhook, webhooks::webhook_deliveries,
        health::health, metrics::metrics, openapi_json, docs::docs_page,
        admin::overview, admin::search_jobs, admin::get_job, admin::job_timeline,
        admin::drain_worker, admin::undrain_worker, admin::retry_job, admin::cancel_job,
        admin::delete_job, admin::pause, admin::resume, admin::dead_letters, admin::purge_dead, admin::bulk_jobs,
        admin::errors, admin::audit_log, admin::throughput,
    ),
    // Referenced only from a query parameter, which utoipa does not collect on its own.
    components(schemas(pdfq_api_types::JobInclude, pdfq_api_types::ThroughputWindow)),
    modifiers(&BearerAuth, &SharedErrors, &UploadEncoding),
    tags((name = "auth"), (name = "jobs"), (name = "webhooks", description = "job status changes POSTed to your endpoint, signed"), (name = "operations"), (name = "admin", description = "role admin"))
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The `bearer` security scheme the handlers refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc.to_pretty_json().unwrap_or_else(|_| "{}".into())
    })
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, content_type = "application/json", description = "OpenAPI 3.1")))]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_and_schemas_are_documented() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        let params = &doc["paths"]["/api/v1/jobs"]["get"]["parameters"];
        let names: Vec<&str> = params
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["status", "page", "per_page"]);
        for schema in [
            "JobView",
            "TokenPair",
            "ErrorBody",
            "HealthReport",
            "Overview",
        ] {
            assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
        }
        // The upload's `file` is a binary part, so generators give it a file type.
        let form = &doc["paths"]["/api/v1/process-pdf-async"]["post"]["requestBody"]["content"]["multipart/form-data"];
        assert_eq!(
            form["encoding"]["file"]["contentType"], "application/pdf",
            "{form}"
        );
        let file = &doc["components"]["schemas"]["UploadForm"]["properties"]["file"];
        assert_eq!(file["format"], "binary", "{file}");
        let job = &doc["components"]["schemas"]["JobView"]["properties"];
        assert_eq!(job["job_id"]["format"], "uuid");
        assert_eq!(job["status"]["$ref"], "#/components/schemas/JobStatus");
        let statuses = &doc["components"]["schemas"]["JobStatus"]["enum"];
        assert_eq!(
            statuses,
            &serde_json::json!([
                "pending",
                "processing",
                "retrying",
                "completed",
                "failed",
                "cancelled"
            ])
        );
    }
}
