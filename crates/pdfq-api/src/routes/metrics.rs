//! `GET /metrics`: Prometheus text with the design's monitoring points: request rate, latency
//! histogram, responses by status class, database pool usage, queue depth, jobs by status.
//! A source that cannot be read within the health limit is left out and counted in
//! `pdfq_scrape_errors`, so a scrape never fails because Redis or the database is down.
//!
//! With METRICS_TOKEN set, a scrape must bring it as a bearer token. The queue and job gauges
//! (a Redis round trip and a GROUP BY over jobs) are computed at most once per
//! `metrics_cache` (10 s), by one scrape while others wait for it, so frequent or concurrent
//! scrapes cost the database nothing more.

use std::fmt::Write as _;

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use pdfq_domain::JobStatus;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::metrics::header as help;
use crate::state::AppState;

/// The queue and job gauges as last rendered, with when and how many sources failed.
pub type CachedGauges = tokio::sync::Mutex<Option<(Instant, String, u32)>>;

/// Metrics in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", description = "Prometheus text format 0.0.4"),
              (status = 401, body = pdfq_api_types::ErrorBody,
               description = "`unauthorized`: METRICS_TOKEN is set and the request does not bear it")))]
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = &state.settings.metrics_token
        && !bears(&headers, token.expose())
    {
        return Err(ApiError::Unauthorized(
            "GET /metrics needs the header Authorization: Bearer <METRICS_TOKEN>",
        ));
    }
    let mut out = String::with_capacity(8 * 1024);
    state.metrics.render(&mut out);

    let pool = state.store.pool_stats();
    help(
        &mut out,
        "pdfq_db_pool_connections",
        "gauge",
        "This API's database pool: size, in use, idle and maximum.",
    );
    for (kind, n) in [
        ("size", pool.size),
        ("in_use", pool.in_use),
        ("idle", pool.idle),
        ("max", pool.max),
    ] {
        let _ = writeln!(out, "pdfq_db_pool_connections{{state=\"{kind}\"}} {n}");
    }

    let errors = {
        let mut cached = state.gauges.lock().await;
        match &*cached {
            Some((at, text, errors)) if at.elapsed() < state.settings.metrics_cache => {
                out.push_str(text);
                *errors
            }
            _ => {
                let (text, errors) = gauges(&state).await;
                out.push_str(&text);
                *cached = Some((Instant::now(), text, errors));
                errors
            }
        }
    };
    help(
        &mut out,
        "pdfq_scrape_errors",
        "gauge",
        "Sources (queue, database) the last count of the gauges could not read.",
    );
    let _ = writeln!(out, "pdfq_scrape_errors {errors}");
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}

/// Whether the request's bearer token is `token` (compared as digests, in constant time).
fn bears(headers: &HeaderMap, token: &str) -> bool {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, t)| t.trim());
    let (a, b) = (Sha256::digest(presented), Sha256::digest(token));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The queue and job gauges, and how many of their sources could not be read.
async fn gauges(state: &AppState) -> (String, u32) {
    let mut out = String::with_capacity(2 * 1024);
    let mut errors = 0u32;
    let limit = state.settings.health_timeout;
    let (stats, counts) = tokio::join!(
        tokio::time::timeout(limit, state.broker.stats()),
        tokio::time::timeout(limit, state.store.count_by_status()),
    );
    match stats {
        Ok(Ok(s)) => {
            help(
                &mut out,
                "pdfq_queue_jobs",
                "gauge",
                "Queue entries: waiting, in flight, delayed (retry backoff), dead.",
            );
            for (kind, n) in [
                ("waiting", s.waiting),
                ("in_flight", s.in_flight),
                ("delayed", s.delayed),
                ("dead", s.dead),
            ] {
                let _ = writeln!(out, "pdfq_queue_jobs{{state=\"{kind}\"}} {n}");
            }
            help(
                &mut out,
                "pdfq_queue_oldest_waiting_seconds",
                "gauge",
                "Age of the oldest waiting entry.",
            );
            let age = s.oldest_waiting_age.map_or(0.0, |d| d.as_secs_f64());
            let _ = writeln!(out, "pdfq_queue_oldest_waiting_seconds {age}");
            help(
                &mut out,
                "pdfq_queue_paused",
                "gauge",
                "1 while the queue is paused.",
            );
            let _ = writeln!(out, "pdfq_queue_paused {}", u8::from(s.paused));
            if let Some(bytes) = s.memory_used_bytes {
                help(
                    &mut out,
                    "pdfq_redis_memory_used_bytes",
                    "gauge",
                    "Memory used by Redis.",
                );
                let _ = writeln!(out, "pdfq_redis_memory_used_bytes {bytes}");
            }
        }
        _ => errors += 1,
    }
    match counts {
        Ok(Ok(c)) => {
            help(
                &mut out,
                "pdfq_jobs",
                "gauge",
                "Jobs in the database by status.",
            );
            for status in JobStatus::ALL {
                let _ = writeln!(
                    out,
                    "pdfq_jobs{{status=\"{}\"}} {}",
                    status.as_str(),
                    c.get(status)
                );
            }
        }
        _ => errors += 1,
    }
    (out, errors)
}
