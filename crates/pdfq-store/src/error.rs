//! The one error type of the store, and how database errors map onto it. What a client is
//! answered for each is the API's business (pdfq-api's `error.rs`).

use std::borrow::Cow;

use pdfq_domain::{Attempt, JobId, TransitionError};
use sqlx::error::DatabaseError;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (or belongs to someone else).
    #[error("not found")]
    NotFound,

    /// A uniqueness rule was broken, e.g. the email is already registered.
    #[error("{0}")]
    Conflict(Cow<'static, str>),

    /// The job's status does not allow this change, e.g. cancelling a completed job.
    #[error(transparent)]
    IllegalTransition(#[from] TransitionError),

    /// A write for an attempt that is no longer the job's current one (the worker lost its
    /// lease, or the job was cancelled).
    #[error("job {job}: attempt {attempt} is no longer current")]
    StaleAttempt { job: JobId, attempt: Attempt },

    /// The database cannot be reached now: connection refused or reset, pool timeout, server
    /// shutting down, serialization failure or deadlock. Worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),

    /// Anything else the database reported.
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),

    /// Applying the migrations failed (only the CLI and start-up run them).
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// The file store (an S3-compatible bucket) failed or cannot be reached.
    #[error("file store unavailable: {0}")]
    FileStore(String),

    /// The new job would pass one of its owner's quotas.
    #[error(transparent)]
    QuotaExceeded(#[from] crate::files::QuotaExceeded),

    /// The job's file was removed by FILE_RETENTION: the job cannot run again.
    #[error("the job's file is no longer kept")]
    FileGone,

    /// A stored value pdfq cannot read (an unknown status, a malformed checksum...).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A write that refers to a row that does not exist (a job for a deleted user).
    #[must_use]
    pub fn is_missing_reference(&self) -> bool {
        matches!(self, Self::Other(sqlx::Error::Database(db))
            if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
    }

    /// A transient failure: safe commit retries these.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            Self::Unavailable(e)
        } else if matches!(e, sqlx::Error::RowNotFound) {
            Self::NotFound
        } else {
            Self::Other(e)
        }
    }
}

/// Is this error worth retrying? Lost or refused connections, pool timeouts, and the PostgreSQL
/// and SQLite codes that mean "try again": serialization failure, deadlock, server shutting down
/// or not accepting connections yet, too many connections, database busy or locked.
#[must_use]
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
        _ => false,
    }
}

fn transient_code(code: &str) -> bool {
    const POSTGRES: [&str; 10] = [
        "40001", // serialization_failure
        "40P01", // deadlock_detected
        "57P01", // admin_shutdown
        "57P02", // crash_shutdown
        "57P03", // cannot_connect_now
        "53300", // too_many_connections
        "08000", // connection_exception
        "08003", // connection_does_not_exist
        "08006", // connection_failure
        "08001", // sqlclient_unable_to_establish_sqlconnection
    ];
    if POSTGRES.contains(&code) {
        return true;
    }
    // SQLite reports extended result codes; the primary code is the low byte: 5 BUSY, 6 LOCKED.
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// Turns a violation of one named constraint into a chosen error, in one line at the call site:
/// `.on_constraint("users_email_key", |_| StoreError::Conflict("email taken".into()))`.
pub trait ResultExt<T> {
    fn on_constraint(
        self,
        name: &str,
        f: impl FnOnce(Box<dyn DatabaseError>) -> StoreError,
    ) -> Result<T, StoreError>;
}

impl<T, E: Into<StoreError>> ResultExt<T> for Result<T, E> {
    fn on_constraint(
        self,
        name: &str,
        f: impl FnOnce(Box<dyn DatabaseError>) -> StoreError,
    ) -> Result<T, StoreError> {
        self.map_err(|e| match e.into() {
            StoreError::Other(sqlx::Error::Database(db)) if violates(&*db, name) => f(db),
            other => other,
        })
    }
}

/// PostgreSQL names the constraint; SQLite only names it in the message, as an index
/// ("UNIQUE constraint failed: index 'users_email_key'") or as columns ("...: jobs.id").
fn violates(db: &dyn DatabaseError, name: &str) -> bool {
    let message = db.message();
    db.constraint() == Some(name)
        || message.contains(&format!("'{name}'"))
        || message.ends_with(&format!(" {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_recognised() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_transient(&sqlx::Error::Io(reset)));
        assert!(!is_transient(&sqlx::Error::PoolClosed));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        for code in ["40001", "40P01", "57P01", "5", "517", "6"] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["23505", "42P01", "19", "2067"] {
            assert!(!transient_code(code), "{code}");
        }
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
    }
}
