//! The error answers every operation shares, added to the document from the operation's shape
//! so that no handler can forget one: they come from layers and extractors, not from the
//! handler's own code.
//!
//! | when the operation... | it may answer |
//! |---|---|
//! | (any) | 503 `timeout` (REQUEST_TIMEOUT passed), `database_unavailable`, `queue_unavailable` |
//! | needs a bearer token | 401 `unauthorized` |
//! | is tagged `admin` | 403 `forbidden` |
//! | has path parameters | 400 `invalid_path` (e.g. a job id that is not a UUID) |
//! | has query parameters | 400 `invalid_query` (unreadable, or outside the documented range) |
//! | takes a JSON body | 400 `malformed_json`, 413 `payload_too_large` (64 KiB), 415 `unsupported_media_type` (no JSON Content-Type), 422 `invalid_body` (missing field, wrong type) |
//!
//! An operation's own annotation wins: a status it documents is left as it wrote it (e.g. the
//! health check's 503 carries a health report, not an error body).

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};

/// The [`Modify`] that adds the shared error answers.
#[derive(Debug)]
pub struct SharedErrors;

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_shared(op);
            }
        }
    }
}

fn add_shared(op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
    let json_body = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.contains_key("application/json"));
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let admin = op
        .tags
        .as_ref()
        .is_some_and(|tags| tags.iter().any(|t| t == "admin"));

    let mut bad_request = Vec::new();
    if has_path {
        bad_request.push("`invalid_path`: a path parameter is malformed (a job id must be a UUID)");
    }
    if has_query {
        bad_request.push(
            "`invalid_query`: a query parameter is unreadable or outside its documented range",
        );
    }
    if json_body {
        bad_request.push("`malformed_json`: the body is not JSON");
    }
    if !bad_request.is_empty() {
        add(op, "400", &bad_request.join("; "));
    }
    if secured {
        add(
            op,
            "401",
            "`unauthorized`: no access token, or an invalid or expired one",
        );
    }
    if admin {
        add(
            op,
            "403",
            "`forbidden`: the account does not have the admin role",
        );
    }
    if json_body {
        add(
            op,
            "413",
            "`payload_too_large`: the JSON body is over 64 KiB",
        );
        add(
            op,
            "415",
            "`unsupported_media_type`: the body is not sent as `Content-Type: application/json`",
        );
        add(
            op,
            "422",
            "`invalid_body`: the JSON lacks a required field or has one of the wrong type",
        );
    }
    add(
        op,
        "503",
        "`timeout`: no answer within REQUEST_TIMEOUT; `database_unavailable` or \
         `queue_unavailable`: retry later",
    );
}

/// Adds `status` with an error body, unless the operation documents it already.
fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(error_response(description)));
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}
