//! `GET /api/v1/health`, as designed: the database (`SELECT 1`) and Redis (`PING`), each with a
//! 5 s limit, checked at once; 200 when all are ok, 503 when any is not; never a 500.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use pdfq_api_types::{HealthCheck, HealthReport};

use crate::extract::Json;
use crate::state::AppState;

/// The health of the database and the broker.
#[utoipa::path(get, path = "/api/v1/health", tag = "operations",
    responses((status = 200, body = HealthReport, description = "every check ok"),
              (status = 503, body = HealthReport, description = "a check failed or timed out")))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let report = report(&state).await;
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}

/// Both checks, run concurrently.
pub async fn report(state: &AppState) -> HealthReport {
    let limit = state.settings.health_timeout;
    let (database, broker) = tokio::join!(
        check(limit, async {
            state.store.ping().await.map_err(|e| e.to_string())
        }),
        check(limit, async {
            state
                .broker
                .ping()
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }),
    );
    let broker_name = if state.broker.kind() == "redis" {
        "redis"
    } else {
        "queue"
    };
    let checks = BTreeMap::from([
        ("database".to_owned(), database),
        (broker_name.to_owned(), broker),
    ]);
    let healthy = checks.values().all(|c| c.status == "ok");
    HealthReport {
        status: if healthy { "healthy" } else { "unhealthy" }.into(),
        checks,
    }
}

async fn check(limit: Duration, probe: impl Future<Output = Result<(), String>>) -> HealthCheck {
    let start = Instant::now();
    let outcome = tokio::time::timeout(limit, probe).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(format!("no answer within {} s", limit.as_secs_f64())),
    };
    HealthCheck {
        status: if error.is_none() { "ok" } else { "error" }.into(),
        latency_ms: (latency_ms * 100.0).round() / 100.0,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_probe_is_an_error_after_the_limit() {
        let slow = check(Duration::from_millis(20), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        })
        .await;
        assert_eq!(slow.status, "error");
        assert!(slow.latency_ms < 1000.0);
        let ok = check(Duration::from_secs(1), async { Ok(()) }).await;
        assert_eq!((ok.status.as_str(), ok.error), ("ok", None));
    }
}
