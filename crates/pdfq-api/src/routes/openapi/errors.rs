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
//! | takes a JSON body | 400 `malformed_json`, 408 `request_timeout` (the body stopped arriving), 413 `payload_too_large` (64 KiB), 415 `unsupported_media_type` (no JSON Content-Type), 422 `invalid_body` (missing field, wrong type) |
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
            "408",
            "`request_timeout`: the body had not arrived when REQUEST_TIMEOUT passed; the \
             connection is closed",
        );
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn param<'a>(op: &'a Value, name: &str) -> &'a Value {
        op["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .unwrap_or_else(|| panic!("no parameter {name}"))
    }

    #[test]
    fn every_operation_documents_its_errors_and_parameters_their_bounds() {
        let doc: Value = serde_json::from_str(super::super::document()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let has = |status: &str| responses.contains_key(status);
                assert!(has("503"), "{method} {path}");
                if op.get("security").is_some() {
                    assert!(has("401"), "{method} {path}");
                }
                if path.starts_with("/api/v1/admin/") {
                    assert!(has("403"), "{method} {path}");
                }
                if op.get("parameters").is_some() || op.get("requestBody").is_some() {
                    assert!(has("400"), "{method} {path}");
                }
                for (status, response) in responses {
                    if status.starts_with('4') {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
                if path.starts_with("/api/v1/jobs/{id}")
                    || path.starts_with("/api/v1/admin/jobs/{id}")
                {
                    assert_eq!(
                        param(op, "id")["schema"]["format"],
                        "uuid",
                        "{method} {path}"
                    );
                }
            }
        }
        for (path, name, max) in [
            ("/api/v1/jobs", "per_page", 100),
            ("/api/v1/jobs/{id}/sentences", "per_page", 1000),
            ("/api/v1/admin/jobs", "per_page", 500),
            ("/api/v1/admin/dead-letters", "limit", 1000),
            ("/api/v1/jobs", "page", 1_000_000),
        ] {
            let schema = &param(&doc["paths"][path]["get"], name)["schema"];
            assert_eq!(
                schema["minimum"].as_f64(),
                Some(1.0),
                "{path} {name}: {schema}"
            );
            assert_eq!(
                schema["maximum"].as_f64(),
                Some(f64::from(max)),
                "{path} {name}: {schema}"
            );
        }
        let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"];
        for status in [
            "200", "400", "401", "408", "413", "415", "422", "429", "503",
        ] {
            assert!(login[status].is_object(), "login {status}");
        }
        let upload = &doc["paths"]["/api/v1/process-pdf-async"]["post"];
        for status in ["202", "400", "401", "408", "413", "415", "429", "503"] {
            assert!(upload["responses"][status].is_object(), "upload {status}");
        }
        let form = &doc["components"]["schemas"]["UploadForm"];
        assert_eq!(form["additionalProperties"], false, "{form}");
        assert_eq!(form["required"], serde_json::json!(["file"]), "{form}");
    }
}
