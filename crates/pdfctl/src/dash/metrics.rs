//! The original design's monitoring points for the API, from its Prometheus `/metrics`: request
//! rate, error rate and p50/p95/p99 latency between two samples, and requests in flight.

/// The cumulative numbers of one `/metrics` read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    responses: f64,
    server_errors: f64,
    /// (upper bound in seconds, cumulative count), summed over every route; +Inf last.
    buckets: Vec<(f64, f64)>,
    in_flight: f64,
}

/// API traffic over the time between two samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    pub per_second: f64,
    /// 5xx responses as a fraction of all.
    pub error_rate: f64,
    /// Seconds; `None` when no request finished in the window.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub in_flight: f64,
}

/// The value of a metric line, and its labels.
fn split(line: &str) -> Option<(&str, &str, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    match series.split_once('{') {
        Some((name, labels)) => Some((name, labels.trim_end_matches('}'), value)),
        None => Some((series, "", value)),
    }
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim_matches('"'))
    })
}

#[must_use]
pub fn parse(text: &str) -> Sample {
    let mut sample = Sample::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, labels, value)) = split(line) else {
            continue;
        };
        match name {
            "pdfq_http_responses_total" => {
                sample.responses += value;
                if label(labels, "status") == Some("5xx") {
                    sample.server_errors += value;
                }
            }
            "pdfq_http_request_duration_seconds_bucket" => {
                let bound = match label(labels, "le") {
                    Some("+Inf") => f64::INFINITY,
                    Some(le) => match le.parse() {
                        Ok(bound) => bound,
                        Err(_) => continue,
                    },
                    None => continue,
                };
                match sample
                    .buckets
                    .iter_mut()
                    .find(|(b, _)| b.total_cmp(&bound).is_eq())
                {
                    Some((_, count)) => *count += value,
                    None => sample.buckets.push((bound, value)),
                }
            }
            "pdfq_http_requests_in_flight" => sample.in_flight = value,
            _ => {}
        }
    }
    sample.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    sample
}

/// The traffic from `before` to `after`, `secs` apart.
#[must_use]
pub fn traffic(before: &Sample, after: &Sample, secs: f64) -> Traffic {
    let responses = (after.responses - before.responses).max(0.0);
    let errors = (after.server_errors - before.server_errors).max(0.0);
    // Bucket counts in the window; a restarted API (counters reset) shows its totals instead.
    let reset = after.responses < before.responses;
    let window: Vec<(f64, f64)> = after
        .buckets
        .iter()
        .map(|&(bound, count)| {
            let earlier = before
                .buckets
                .iter()
                .find(|(b, _)| b.total_cmp(&bound).is_eq())
                .map_or(0.0, |(_, c)| *c);
            (
                bound,
                if reset {
                    count
                } else {
                    (count - earlier).max(0.0)
                },
            )
        })
        .collect();
    Traffic {
        per_second: if secs > 0.0 { responses / secs } else { 0.0 },
        error_rate: if responses > 0.0 {
            errors / responses
        } else {
            0.0
        },
        p50: quantile(&window, 0.50),
        p95: quantile(&window, 0.95),
        p99: quantile(&window, 0.99),
        in_flight: after.in_flight,
    }
}

/// Prometheus's histogram_quantile: linear within the bucket that holds the rank.
fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                // Beyond the largest finite bound: that bound is all we know.
                return Some(lower.0);
            }
            let in_bucket = count - lower.1;
            let fraction = if in_bucket > 0.0 {
                (rank - lower.1) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * fraction);
        }
        lower = (bound, count);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# TYPE pdfq_http_responses_total counter
pdfq_http_responses_total{status="2xx"} 100
pdfq_http_responses_total{status="5xx"} 0
pdfq_http_request_duration_seconds_bucket{method="GET",route="/a",le="0.01"} 50
pdfq_http_request_duration_seconds_bucket{method="GET",route="/a",le="0.1"} 100
pdfq_http_request_duration_seconds_bucket{method="GET",route="/a",le="+Inf"} 100
pdfq_http_requests_in_flight 0
"#;

    const AFTER: &str = r#"pdfq_http_responses_total{status="2xx"} 190
pdfq_http_responses_total{status="5xx"} 10
pdfq_http_request_duration_seconds_bucket{method="GET",route="/a",le="0.01"} 100
pdfq_http_request_duration_seconds_bucket{method="GET",route="/a",le="0.1"} 190
pdfq_http_request_duration_seconds_bucket{method="GET",route="/a",le="+Inf"} 200
pdfq_http_requests_in_flight 3
"#;

    #[test]
    fn rates_and_percentiles_come_from_the_window() {
        let t = traffic(&parse(BEFORE), &parse(AFTER), 10.0);
        assert!((t.per_second - 10.0).abs() < 1e-9, "{t:?}");
        assert!((t.error_rate - 0.1).abs() < 1e-9, "{t:?}");
        // 50 of the 100 new requests under 10 ms: the median is the 10 ms bound.
        assert!((t.p50.unwrap_or_default() - 0.01).abs() < 1e-9, "{t:?}");
        // The slowest 10 went over 100 ms: p95 and p99 are past the last finite bound.
        assert_eq!(t.p99, Some(0.1));
        assert!((t.in_flight - 3.0).abs() < 1e-9);
    }
}
