//! Where uploaded files are kept and for how long, read from the environment. Flattened into
//! the API's, the worker's and `pdfctl up`'s configurations, so each honours the same variables.

use std::time::Duration;

use clap::Args;
use pdfq_domain::limits::{parse_bytes, parse_duration};

/// The file store, retention and quota settings.
#[derive(Debug, Clone, Args)]
pub struct StorageConfig {
    /// Where uploaded files are kept: `database` (the default: the job_files table), or an
    /// S3-compatible bucket, `s3://BUCKET/PREFIX` (AWS S3, MinIO, Supabase Storage, Railway).
    /// The endpoint, region and credentials come from the usual AWS variables.
    #[arg(
        long,
        env = "STORAGE_URL",
        value_name = "STORAGE_URL",
        default_value = "database"
    )]
    pub storage_url: String,

    /// The S3-compatible endpoint, for anything but AWS itself (e.g. http://127.0.0.1:9000).
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "AWS_ENDPOINT_URL")]
    pub s3_endpoint: Option<String>,

    /// The bucket's region [default: us-east-1].
    #[arg(long, env = "AWS_REGION", value_name = "AWS_REGION")]
    pub s3_region: Option<String>,

    #[arg(long, env = "AWS_ACCESS_KEY_ID", value_name = "AWS_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        value_name = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,

    /// How long a job's file is kept once the job has ended for good (completed, failed with
    /// no retry left, cancelled); `0` deletes it at the next sweep, `forever` keeps it. A
    /// retry of a job whose file is gone is refused (410 `file_gone`).
    #[arg(long, env = "FILE_RETENTION", value_name = "FILE_RETENTION", default_value = "0",
          value_parser = parse_retention)]
    pub file_retention: Retention,

    /// How long an ended job (its result, chunks and events) is kept; then the sweeper deletes
    /// it in small batches. `forever` keeps jobs.
    #[arg(long, env = "JOB_RETENTION", value_name = "JOB_RETENTION", default_value = "30d",
          value_parser = parse_retention)]
    pub job_retention: Retention,

    /// Most bytes of kept files per user (bytes, or 500MB, 2GB...); an upload past it is
    /// refused with 413 `storage_quota_exceeded` [default: no limit].
    #[arg(long, env = "USER_STORAGE_QUOTA", value_name = "USER_STORAGE_QUOTA",
          value_parser = parse_bytes)]
    pub user_storage_quota: Option<u64>,

    /// Most jobs per user not yet ended (pending, processing, retrying); an upload past it is
    /// refused with 429 `too_many_active_jobs` [default: no limit].
    #[arg(long, env = "USER_MAX_ACTIVE_JOBS", value_name = "USER_MAX_ACTIVE_JOBS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub user_max_active_jobs: Option<u64>,
}

impl Default for StorageConfig {
    /// The defaults the variables have: files in the database, removed once their job ended,
    /// jobs kept 30 days, no quotas.
    fn default() -> Self {
        Self {
            storage_url: "database".into(),
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            file_retention: Retention::For(Duration::ZERO),
            job_retention: Retention::For(Duration::from_secs(30 * 86_400)),
            user_storage_quota: None,
            user_max_active_jobs: None,
        }
    }
}

/// How long something is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    For(Duration),
    Forever,
}

impl Retention {
    /// The latest end time that is due now, or `None` when nothing is (kept forever, or for
    /// longer than the calendar reaches back).
    #[must_use]
    pub fn cutoff(self, now: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
        match self {
            Self::For(keep) => now.checked_sub(time::Duration::try_from(keep).ok()?),
            Self::Forever => None,
        }
    }
}

impl std::fmt::Display for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Forever => f.write_str("forever"),
            Self::For(d) if d.is_zero() => f.write_str("0 (removed once ended)"),
            Self::For(d) => {
                let secs = d.as_secs();
                match secs {
                    s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
                    s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
                    s if s % 60 == 0 => write!(f, "{}m", s / 60),
                    s => write!(f, "{s}s"),
                }
            }
        }
    }
}

/// `forever`, or a duration (`0`, `90s`, `12h`, `7d`).
pub fn parse_retention(raw: &str) -> Result<Retention, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("forever") {
        return Ok(Retention::Forever);
    }
    parse_duration(raw)
        .map(Retention::For)
        .map_err(|e| format!("{e}, or `forever`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_a_duration_or_forever() {
        assert_eq!(parse_retention("forever"), Ok(Retention::Forever));
        assert_eq!(
            parse_retention("7d"),
            Ok(Retention::For(Duration::from_secs(7 * 86_400)))
        );
        assert_eq!(parse_retention("0"), Ok(Retention::For(Duration::ZERO)));
        assert!(parse_retention("soon").is_err());
    }

    #[test]
    fn a_retention_past_the_calendar_is_never_due() {
        let now = time::OffsetDateTime::now_utc();
        let ages = Retention::For(Duration::from_secs(u64::MAX / 4));
        assert_eq!(ages.cutoff(now), None);
        assert_eq!(Retention::Forever.cutoff(now), None);
        assert_eq!(NOW.cutoff(now), Some(now));
    }

    const NOW: Retention = Retention::For(Duration::ZERO);
}
