//! `GET /metrics`: Prometheus text with the design's monitoring points: request rate, latency
//! histogram, responses by status class, database pool usage, queue depth, jobs by status.
//! A source that cannot be read within the health limit is left out and counted in
//! `pdfq_scrape_errors`, so a scrape never fails because Redis or the database is down.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use pdfq_domain::JobStatus;

use crate::metrics::header as help;
use crate::state::AppState;

/// Metrics in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", description = "Prometheus text format 0.0.4")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::with_capacity(8 * 1024);
    state.metrics.render(&mut out);
    let mut errors = 0u32;

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
    help(
        &mut out,
        "pdfq_scrape_errors",
        "gauge",
        "Sources (queue, database) this scrape could not read.",
    );
    let _ = writeln!(out, "pdfq_scrape_errors {errors}");
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}
