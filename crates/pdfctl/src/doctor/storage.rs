//! Files and size: where uploads are kept (and that the bucket answers), the retention the
//! sweeper applies, the per-user quotas, and the database's size against the plan's limit.

use pdfq_store::{FileStore, Store};

use super::Inputs;
use super::report::Section;

/// The share of the plan's limit past which the size is a warning.
const WARN_AT_PERCENT: u64 = 80;

pub async fn check(inputs: &Inputs, store: Option<&Store>) -> Section {
    let mut s = Section::new("storage");
    let config = &inputs.storage;
    match FileStore::from_config(config) {
        Err(e) => s.fail(
            "STORAGE_URL",
            e,
            "set STORAGE_URL=database, or s3://BUCKET/PREFIX with AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
        Ok(FileStore::Database) => s.ok(
            "STORAGE_URL",
            "database: uploaded files are kept in the job_files table",
        ),
        Ok(FileStore::Objects(objects)) => match objects.probe().await {
            Ok(()) => s.ok(
                "STORAGE_URL",
                format!("{}: a test object was written and deleted", objects.describe()),
            ),
            Err(e) => s.fail(
                "STORAGE_URL",
                format!("{}: {e}", objects.describe()),
                "check the bucket exists, AWS_ENDPOINT_URL (path-style S3 endpoint, e.g. Supabase's https://<ref>.supabase.co/storage/v1/s3), AWS_REGION and the key's write and delete rights",
            ),
        },
    }
    s.ok(
        "retention",
        format!(
            "FILE_RETENTION {}, JOB_RETENTION {} (applied by the workers' sweeper)",
            config.file_retention, config.job_retention
        ),
    );
    let limit =
        |v: Option<u64>, unit: &str| v.map_or("no limit".to_owned(), |n| format!("{n}{unit}"));
    s.ok(
        "quotas",
        format!(
            "USER_STORAGE_QUOTA {}, USER_MAX_ACTIVE_JOBS {}",
            limit(config.user_storage_quota, " bytes"),
            limit(config.user_max_active_jobs, "")
        ),
    );
    let Some(store) = store else {
        s.skip("database_size", "no database to measure");
        return s;
    };
    match store.database_size().await {
        Err(e) => s.warn(
            "database_size",
            format!("could not be read: {e}"),
            "run `pdfctl doctor` again once the database answers",
        ),
        Ok(size) => size_against_limit(&mut s, size, inputs.database_size_limit),
    }
    s
}

fn size_against_limit(s: &mut Section, size: u64, limit: Option<u64>) {
    let Some(limit) = limit.filter(|l| *l > 0) else {
        s.ok("database_size", format!("{} (no plan limit set)", mb(size)));
        return;
    };
    let percent = size.saturating_mul(100) / limit;
    let saw = format!("{} of the plan's {} ({percent}%)", mb(size), mb(limit));
    if percent >= WARN_AT_PERCENT {
        s.warn(
            "database_size",
            saw,
            "free room: keep files out of the database (STORAGE_URL=s3://...), shorten JOB_RETENTION, or `pdfctl jobs purge --older-than 7d`; or raise the plan (and DATABASE_SIZE_LIMIT)",
        );
    } else {
        s.ok("database_size", saw);
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / f64::from(1 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::report::Level;

    #[test]
    fn the_size_warns_from_eighty_percent_of_the_limit() {
        let limit = 500 << 20;
        for (size, level) in [
            (0, Level::Ok),
            (399 << 20, Level::Ok),
            (400 << 20, Level::Warn),
            (600 << 20, Level::Warn),
        ] {
            let mut s = Section::new("storage");
            size_against_limit(&mut s, size, Some(limit));
            assert_eq!(s.checks[0].level, level, "{}", s.checks[0].saw);
        }
        let mut s = Section::new("storage");
        size_against_limit(&mut s, 1 << 30, None);
        assert_eq!(s.checks[0].level, Level::Ok);
    }
}
