//! The OpenAPI document: valid (3.1, every `$ref` resolves, every path parameter declared,
//! every operation answers something), lists every route of issue 5, and every route it lists
//! exists on the server (no 404 `route_not_found`, no 405).

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::collections::BTreeSet;
use std::process::Command;

use pdfq_e2e::openapi_tools::require_program;
use pdfq_e2e::{Backend, TestApp};
use reqwest::Method;
use serde_json::Value;

/// Where the reference page's HTML may load a script, style or icon from.
const DOCS_ASSETS: &str = "/api/v1/docs/";

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
    "POST /api/v1/webhooks",
    "GET /api/v1/webhooks",
    "DELETE /api/v1/webhooks/{id}",
    "GET /api/v1/webhooks/{id}/deliveries",
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
    "POST /api/v1/admin/jobs/bulk",
    "GET /api/v1/admin/errors",
    "GET /api/v1/admin/audit",
    "GET /api/v1/admin/throughput",
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

    // The documented operations are exactly the routes, each with its own operationId (client
    // generators name functions and types after it).
    let mut documented = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                operation_ids.insert(id.to_owned()),
                "{method} {path}: operationId {id:?} is not unique"
            );
            // A generated client's admin functions sort and read as one group.
            if path.starts_with("/api/v1/admin/") {
                assert!(
                    id.starts_with("admin_"),
                    "{method} {path}: operationId {id:?} lacks the admin_ prefix"
                );
            }
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

/// `src` and `href` attribute values of `html`.
fn linked_urls(html: &str) -> Vec<&str> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| html.split(attr).skip(1))
        .map(|rest| rest.split('"').next().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_page_is_served_whole_by_the_api() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in ["/api/v1/docs", "/api/v1/docs/"] {
        let response = http.get(app.client.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert!(
            content_type.to_str().unwrap().starts_with("text/html"),
            "{path}: {content_type:?}"
        );
        let html = response.text().await.unwrap();
        assert!(
            html.contains("/api/v1/openapi.json"),
            "{path} names the document: {html}"
        );
        assert!(!html.contains("//"), "{path} names no other host: {html}");
        let urls = linked_urls(&html);
        assert!(urls.len() >= 4, "{urls:?}");
        for url in urls {
            if url == "/api/v1/openapi.json" {
                continue;
            }
            assert!(
                url.starts_with(DOCS_ASSETS),
                "{path}: {url} is not the API's"
            );
            let asset = http.get(app.client.url(url)).send().await.unwrap();
            assert_eq!(asset.status(), 200, "{url}");
            let body = asset.text().await.unwrap_or_default();
            assert!(!body.is_empty(), "{url}");
        }
    }
    // The page's settings point Swagger UI at the document, with try-it on.
    let init = http
        .get(app.client.url("/api/v1/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"url\": \"/api/v1/openapi.json\""), "{init}");
    assert!(init.contains("\"tryItOutEnabled\": true"), "{init}");
    assert!(!init.contains("petstore"), "{init}");
    // An unknown file, or one outside Swagger UI's (debug builds read them from disk), is the
    // API's JSON 404.
    for path in [
        "/api/v1/docs/nothing.js",
        "/api/v1/docs/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/v1/docs/%2Fetc%2Fpasswd",
    ] {
        let missing = http.get(app.client.url(path)).send().await.unwrap();
        assert_eq!(missing.status(), 404, "{path}");
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["error"]["code"], "route_not_found", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_page_renders_operations_offline_in_chromium() {
    if let Err(why) = require_program("chromium", "apt-get install chromium") {
        return why.skip("the_reference_page_renders_operations_offline_in_chromium");
    }
    let app = TestApp::spawn(Backend::Embedded).await;
    let profile = tempfile::tempdir().unwrap();
    let url = app.client.url("/api/v1/docs");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .arg("60")
            .arg("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu"])
            // Offline: every host but the API's fails to resolve.
            .arg("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--virtual-time-budget=15000", "--dump-dom"])
            .arg(url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    // Swagger UI drew the document: its title, and operations by their operationIds.
    for shown in [
        "pdfq API",
        r#"opblock-summary-operation-id">upload<"#,
        r#"opblock-summary-operation-id">get_job<"#,
        r#"opblock-summary-operation-id">admin_get_job<"#,
    ] {
        assert!(
            dom.contains(shown),
            "{shown} is not in the rendered page:\n{dom}"
        );
    }
}
