//! The API's request metrics, kept in process and written in the Prometheus text format by
//! `GET /metrics` (hand-written: a few counters and one histogram do not justify an exporter
//! crate and its dependencies).
//!
//! Labels are bounded: the route is the matched route template (`/api/v1/jobs/{id}`), or
//! `unmatched`, never the raw path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds: p50, p95 and p99 are derivable with
/// `histogram_quantile` from 5 ms to 10 s.
pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket, plus the overflow slot.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (method, route, status class) → requests.
    requests: BTreeMap<(String, String, &'static str), u64>,
    /// (method, route) → latency.
    latency: BTreeMap<(String, String), Histogram>,
}

/// Request counters and latency histograms.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    inner: Mutex<Inner>,
    in_flight: AtomicI64,
}

/// `2xx`, `4xx`...
#[must_use]
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl HttpMetrics {
    pub fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        // A poisoned lock only means another request panicked mid-update: counts stay usable.
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *inner
            .requests
            .entry((method.to_owned(), route.to_owned(), status_class(status)))
            .or_default() += 1;
        let h = inner
            .latency
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        let slot = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        h.counts[slot] += 1;
        h.sum += secs;
        h.count += 1;
    }

    /// The request metrics in the text format.
    pub fn render(&self, out: &mut String) {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        header(
            out,
            "pdfq_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route and status class.",
        );
        for ((method, route, class), n) in &inner.requests {
            let _ = writeln!(
                out,
                "pdfq_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{class}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        let mut by_class: BTreeMap<&str, u64> = BTreeMap::new();
        for ((_, _, class), n) in &inner.requests {
            *by_class.entry(class).or_default() += n;
        }
        header(
            out,
            "pdfq_http_responses_total",
            "counter",
            "HTTP responses by status class (error rate: 4xx and 5xx over all).",
        );
        for class in ["1xx", "2xx", "3xx", "4xx", "5xx"] {
            let n = by_class.get(class).copied().unwrap_or(0);
            let _ = writeln!(out, "pdfq_http_responses_total{{status=\"{class}\"}} {n}");
        }
        header(
            out,
            "pdfq_http_request_duration_seconds",
            "histogram",
            "Time to answer (until the response head), by method and route.",
        );
        for ((method, route), h) in &inner.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "pdfq_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "pdfq_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "pdfq_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "pdfq_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        header(
            out,
            "pdfq_http_requests_in_flight",
            "gauge",
            "Requests being answered now.",
        );
        let _ = writeln!(
            out,
            "pdfq_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
    }
}

/// `# HELP` and `# TYPE` lines.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped, as the format requires.
#[must_use]
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counters_grouped_by_class() {
        let m = HttpMetrics::default();
        for (status, ms) in [(200, 3), (200, 30), (404, 700), (503, 60_000)] {
            m.started();
            m.finished(
                "GET",
                "/api/v1/jobs/{id}",
                status,
                Duration::from_millis(ms),
            );
        }
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains(
                r#"pdfq_http_requests_total{method="GET",route="/api/v1/jobs/{id}",status="2xx"} 2"#
            ),
            "{out}"
        );
        assert!(out.contains(r#"pdfq_http_responses_total{status="5xx"} 1"#));
        assert!(out.contains(r#"le="0.005"} 1"#));
        assert!(out.contains(r#"le="0.05"} 2"#));
        assert!(out.contains(r#"le="1"} 3"#));
        assert!(out.contains(r#"le="30"} 3"#));
        assert!(out.contains(r#"le="+Inf"} 4"#));
        assert!(out.contains("pdfq_http_requests_in_flight 0"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
