//! The OpenAPI document: valid (3.1, every `$ref` resolves, every path parameter declared,
//! every operation answers something), lists every route of issue 5, and every route it lists
//! exists on the server (no 404 `route_not_found`, no 405).

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::collections::BTreeSet;

use pdfq_e2e::{Backend, TestApp};
use reqwest::Method;
use serde_json::Value;

/// Every route the API must serve (issue 5), as `METHOD path`.
const ROUTES: &[&str] = &[
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/logout",
    "POST /api/v1/process-pdf-async",
    "GET /api/v1/jobs",
    "GET /api/v1/jobs/{id}",
    "DELETE /api/v1/jobs/{id}",
    "GET /api/v1/jobs/{id}/sentences",
    "POST /api/v1/jobs/{id}/cancel",
    "GET /api/v1/jobs/{id}/events",
    "POST /api/v1/jobs/{id}/events/ticket",
    "GET /api/v1/health",
    "GET /api/v1/openapi.json",
    "GET /api/v1/docs",
    "GET /metrics",
    "GET /api/v1/admin/overview",
    "GET /api/v1/admin/jobs",
    "GET /api/v1/admin/jobs/{id}",
    "DELETE /api/v1/admin/jobs/{id}",
    "GET /api/v1/admin/jobs/{id}/timeline",
    "POST /api/v1/admin/workers/{id}/drain",
    "DELETE /api/v1/admin/workers/{id}/drain",
    "POST /api/v1/admin/jobs/{id}/retry",
    "POST /api/v1/admin/jobs/{id}/cancel",
    "POST /api/v1/admin/queue/pause",
    "POST /api/v1/admin/queue/resume",
    "GET /api/v1/admin/dead-letters",
    "POST /api/v1/admin/dead-letters/purge",
];

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_and_lists_every_route() {
    let app = TestApp::spawn(Backend::Distributed).await;
    let doc = app.client.openapi().await.unwrap();

    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "pdfq API");
    assert!(!doc["info"]["version"].as_str().unwrap().is_empty());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Every reference resolves.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 20, "schemas are referenced: {refs:?}");
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} does not resolve"
        );
    }

    // The documented operations are exactly the routes.
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            // Every {param} of the path is declared.
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(declared, "{method} {path}: {name} is not declared");
            }
        }
    }
    let expected: BTreeSet<String> = ROUTES.iter().map(|r| (*r).to_owned()).collect();
    assert_eq!(documented, expected);

    // Every documented route exists on the server.
    let admin = app.admin().await;
    let http = reqwest::Client::new();
    let some_id = pdfq_domain::JobId::new().to_string();
    for route in &documented {
        let (method, path) = route.split_once(' ').unwrap();
        let method: Method = method.parse().unwrap();
        let response = http
            .request(method, app.client.url(&path.replace("{id}", &some_id)))
            .bearer_auth(&admin.tokens.access_token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status != 405 && !text.contains("route_not_found"),
            "{route}: {status} {text}"
        );
        assert!(
            status < 500 || route.contains("health"),
            "{route}: {status} {text}"
        );
    }
}
