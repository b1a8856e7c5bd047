//! `pdfctl audit`: the operator actions the admin API recorded, newest first.

use std::process::ExitCode;

use pdfq_api_types::{AuditEntryView, AuditQuery};

use super::admin::{client, explain};
use super::format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The window (e.g. 1h, 24h, 7d).
    #[arg(long, default_value = "24h", value_parser = pdfq_domain::limits::parse_duration)]
    since: std::time::Duration,
    /// At most this many entries, the newest.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    limit: u32,
    /// Print JSON (the API's own entries) instead of a table.
    #[arg(long)]
    json: bool,
}

/// Entries asked for per call (the API's largest page).
const PAGE: u32 = 500;

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let client = client(api_url).await?;
    let now = time::OffsetDateTime::now_utc();
    let since = now - time::Duration::try_from(args.since).unwrap_or(time::Duration::MAX);
    let mut entries: Vec<AuditEntryView> = Vec::new();
    let mut before = None;
    while entries.len() < args.limit as usize {
        let page = client
            .admin_audit(&AuditQuery {
                since: Some(since),
                before,
                limit: Some(PAGE.min(args.limit - entries.len() as u32)),
            })
            .await
            .map_err(|e| explain(api_url, "reading the audit log", &e))?;
        entries.extend(page.entries);
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        print!("{}", audit_table(&entries, now));
    }
    Ok(ExitCode::SUCCESS)
}

/// The entries as a table, newest first; an empty log says so.
#[must_use]
pub fn audit_table(entries: &[AuditEntryView], now: time::OffsetDateTime) -> String {
    if entries.is_empty() {
        return "no operator actions in the window\n".to_owned();
    }
    let mut out = format!(
        "{:<21} {:<6} {:<24} {:<18} {:>6}  {}\n",
        "WHEN (UTC)", "AGO", "WHO", "ACTION", "COUNT", "WHAT"
    );
    for e in entries {
        let what = match (&e.target, &e.detail) {
            (Some(t), Some(d)) => format!("{t} ({d})"),
            (Some(t), None) => t.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => "-".to_owned(),
        };
        out.push_str(&format!(
            "{:<21} {:<6} {:<24} {:<18} {:>6}  {what}\n",
            format::timestamp(e.at),
            format::duration(format::secs_between(e.at, now)),
            format::truncate(&e.actor_email, 24),
            e.action,
            e.count,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_says_who_did_what_to_how_many() {
        let at = time::macros::datetime!(2026-12-06 10:00:00 UTC);
        let entry = AuditEntryView {
            id: 7,
            at,
            actor_id: Some("0190a1b2-9c1e-7b7d-8a2f-0c5e7d1b3a01".parse().unwrap()),
            actor_email: "root@example.com".to_owned(),
            action: "bulk_retry".to_owned(),
            target: Some("status failed, error code pdf_encrypted".to_owned()),
            count: 37,
            detail: Some("matched 40, skipped 3".to_owned()),
        };
        let table = audit_table(&[entry], at + time::Duration::minutes(5));
        let row = table.lines().nth(1).unwrap_or_default();
        for part in [
            "2026-12-06 10:00:00Z",
            "5m00s",
            "root@example.com",
            "bulk_retry",
            "37",
            "status failed, error code pdf_encrypted (matched 40, skipped 3)",
        ] {
            assert!(row.contains(part), "{part}: {table}");
        }
        assert_eq!(audit_table(&[], at), "no operator actions in the window\n");
    }
}
