//! API check: /api/v1/health reachable and healthy from here.

use std::time::{Duration, Instant};

use super::report::Section;

pub async fn check(api_url: &str) -> Section {
    let mut s = Section::new("api");
    let client = match pdfq_client::Client::new(api_url) {
        Ok(client) => client,
        Err(e) => {
            s.fail(
                "health",
                format!("{api_url}: {e}"),
                "pass --api-url http://HOST:PORT or set PDFQ_API_URL",
            );
            return s;
        }
    };
    let started = Instant::now();
    match tokio::time::timeout(Duration::from_secs(10), client.health()).await {
        Ok(Ok(report)) => {
            let checks: Vec<String> = report
                .checks
                .iter()
                .map(|(name, c)| match &c.error {
                    Some(error) => format!("{name} {} ({error})", c.status),
                    None => format!("{name} {} {:.1} ms", c.status, c.latency_ms),
                })
                .collect();
            let saw = format!(
                "{api_url}/api/v1/health {} in {:.0} ms: {}",
                report.status,
                started.elapsed().as_secs_f64() * 1000.0,
                checks.join(", ")
            );
            if report.is_healthy() {
                s.ok("health", saw);
            } else {
                s.fail("health", saw, "the API cannot reach a dependency: see the database and redis checks above, with the API's own DATABASE_URL and REDIS_URL");
            }
        }
        Ok(Err(e)) => s.fail(
            "health",
            format!("{api_url}/api/v1/health: {e}"),
            "is the API running there? start it (`pdfctl up`, or the pdfq-api service), or pass --api-url / set PDFQ_API_URL",
        ),
        Err(_) => s.fail(
            "health",
            format!("{api_url}/api/v1/health: no answer within 10s"),
            "check the URL and that the API is up",
        ),
    }
    s
}
