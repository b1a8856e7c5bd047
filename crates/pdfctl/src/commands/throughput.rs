//! `pdfctl throughput`: jobs completed and failed and pages per minute (last hour) or per 15
//! minutes (last day), overall and per worker, as sparklines with a time axis.

use std::fmt::Write as _;
use std::process::ExitCode;

use pdfq_api_types::{Throughput, ThroughputBucket, ThroughputQuery, ThroughputWindow};

use super::admin::{client, explain};
use super::format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// 1h (per minute) or 24h (per 15 minutes).
    #[arg(long, default_value = "1h", value_parser = parse_window)]
    window: ThroughputWindow,
    /// Print JSON (the API's own buckets) instead of sparklines.
    #[arg(long)]
    json: bool,
}

fn parse_window(s: &str) -> Result<ThroughputWindow, String> {
    match s {
        "1h" => Ok(ThroughputWindow::Hour),
        "24h" | "1d" => Ok(ThroughputWindow::Day),
        _ => Err("expected 1h or 24h".to_owned()),
    }
}

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let client = client(api_url).await?;
    let throughput = client
        .admin_throughput(&ThroughputQuery {
            window: Some(args.window),
        })
        .await
        .map_err(|e| explain(api_url, "reading the throughput", &e))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&throughput)?);
    } else {
        print!("{}", throughput_text(&throughput));
    }
    Ok(ExitCode::SUCCESS)
}

/// Columns a sparkline takes at most, so a line fits in 80 columns.
const COLUMNS: usize = 72;
/// The sparklines' indent, under their titles.
const INDENT: &str = "  ";

/// Completed, failed and pages overall, then each worker: a title with the totals over a
/// sparkline, all under one time axis.
#[must_use]
pub fn throughput_text(t: &Throughput) -> String {
    let per_column = t.overall.len().div_ceil(COLUMNS).max(1);
    let columns = t.overall.len().div_ceil(per_column);
    let secs = t.bucket_secs * per_column as u64;
    #[allow(clippy::cast_precision_loss, reason = "display figures")]
    let (window, column) = (
        format::duration((t.bucket_secs * t.overall.len() as u64) as f64),
        format::duration(secs as f64),
    );
    let mut out =
        format!("finished in the last {window}, a column per {column}, oldest left (job events)\n");
    let _ = writeln!(out, "{INDENT}{}", axis(columns, secs));
    let series = |buckets: &[ThroughputBucket], of: fn(&ThroughputBucket) -> u64| -> Vec<u64> {
        let values: Vec<u64> = buckets.iter().map(of).collect();
        values.chunks(per_column).map(|c| c.iter().sum()).collect()
    };
    for (name, of) in [
        (
            "completed",
            (|b| b.completed) as fn(&ThroughputBucket) -> u64,
        ),
        ("failed", |b| b.failed),
        ("pages", |b| b.pages),
    ] {
        let values = series(&t.overall, of);
        let total: u64 = values.iter().sum();
        let _ = writeln!(out, "{name}, all workers: {total}");
        let _ = writeln!(out, "{INDENT}{}", sparkline(&values));
    }
    for w in &t.workers {
        let (completed, failed, pages) = w.buckets.iter().fold((0, 0, 0), |(c, f, p), b| {
            (c + b.completed, f + b.failed, p + b.pages)
        });
        let _ = writeln!(
            out,
            "worker {}: {completed} completed, {failed} failed, {pages} pages",
            w.worker_id
        );
        let _ = writeln!(
            out,
            "{INDENT}{}",
            sparkline(&series(&w.buckets, |b| b.completed))
        );
    }
    if t.workers.is_empty() {
        out.push_str("no worker finished a job in the window\n");
    }
    out
}

/// One character per value, scaled to the largest; a blank for none.
#[must_use]
pub fn sparkline(values: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                // v in 1..=max picks a bar in 0..=7.
                let at = (v.saturating_mul(8) - 1) / max;
                BARS[usize::try_from(at.min(7)).unwrap_or(7)]
            }
        })
        .collect()
}

/// "-60m  -45m ... now" or "-24h -18h ... now" over `columns` columns of `secs` each: a label every quarter.
fn axis(columns: usize, secs: u64) -> String {
    let mut axis = vec![' '; columns + 3];
    let mut put = |at: usize, text: &str| {
        let chars: Vec<char> = text.chars().collect();
        if at + chars.len() <= axis.len() && axis[at..at + chars.len()].iter().all(|c| *c == ' ') {
            axis[at..at + chars.len()].copy_from_slice(&chars);
        }
    };
    put(columns, "now");
    let step = (columns / 4).max(1);
    for back in (step..=columns).step_by(step) {
        let ago = back as u64 * secs;
        let text = if ago <= 3600 {
            format!("-{}m", ago / 60)
        } else {
            format!("-{}h", ago / 3600)
        };
        put(columns - back, &text);
    }
    axis.into_iter().collect::<String>().trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(i: i64, completed: u64, failed: u64, pages: u64) -> ThroughputBucket {
        ThroughputBucket {
            start: time::macros::datetime!(2026-12-06 10:00:00 UTC) + time::Duration::minutes(i),
            completed,
            failed,
            pages,
        }
    }

    #[test]
    fn an_hour_reads_as_sparklines_with_totals_per_worker() {
        let overall: Vec<ThroughputBucket> = (0..60)
            .map(|i| bucket(i, u64::from(i % 3 == 0) * 2, u64::from(i == 59), 10))
            .collect();
        let worker: Vec<ThroughputBucket> = (0..60)
            .map(|i| bucket(i, u64::from(i % 3 == 0) * 2, 0, 7))
            .collect();
        let t = Throughput {
            window: ThroughputWindow::Hour,
            bucket_secs: 60,
            overall,
            workers: vec![pdfq_api_types::WorkerThroughput {
                worker_id: "worker-a1-4123-1a2b3c".to_owned(),
                buckets: worker,
            }],
        };
        let text = throughput_text(&t);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("last 1h00m, a column per 1m00s"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("now") && lines[1].contains("-30m") && lines[1].contains("-60m"),
            "{text}"
        );
        assert_eq!(lines[2], "completed, all workers: 40", "{text}");
        assert_eq!(lines[3].chars().filter(|c| *c == '█').count(), 20, "{text}");
        assert_eq!(lines[4], "failed, all workers: 1", "{text}");
        assert_eq!(lines[6], "pages, all workers: 600", "{text}");
        assert_eq!(
            lines[8], "worker worker-a1-4123-1a2b3c: 40 completed, 0 failed, 420 pages",
            "{text}"
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{text}");
        assert_eq!(sparkline(&[0, 1, 8, 4]), " ▁█▄");
    }
}
