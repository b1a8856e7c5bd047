//! pdfq's persistence: one [`Store`] with a PostgreSQL backend (the distributed mode) and an
//! SQLite backend (the embedded mode, `pdfctl up`), with the same operations and tests.
//!
//! - [`config`]: `DATABASE_URL` and the pool settings, with the sslmode rules of the original design.
//! - [`pool`]: the PostgreSQL pool (10 + 5 overflow, recycled hourly, pre-pinged) and the migrations.
//! - [`store`]: the interface, dispatching to the PostgreSQL or the SQLite store.
//! - `sql_store`: every operation, written once for both dialects ([`dialect`]): the SQL that
//!   differs between [`postgres`] and [`sqlite`] stands side by side there.
//! - [`model`]: the typed rows and inputs; [`provenance`]: where a sentence is drawn, stored compactly.
//! - [`files`]: where uploaded files are kept (the database or an S3-compatible bucket),
//!   retention and per-user usage.
//! - [`error`]: [`StoreError`], and which database errors are transient.
//! - [`retry`]: safe commit (at once, after 1 s, after 2 s).
//! - [`verify`]: the live schema and applied migrations against the embedded migrations.

pub mod config;
mod decode;
pub mod dialect;
pub mod error;
pub mod files;
pub mod model;
pub mod pool;
pub mod postgres;
pub mod provenance;
pub mod retry;
mod sql_store;
pub mod sqlite;
pub mod store;
pub mod verify;

pub use config::{DatabaseConfig, normalize_database_url};
pub use error::StoreError;
pub use files::{FileContent, FileStore, QuotaExceeded, Quotas, Retention, StorageConfig, Usage};
pub use model::{
    AttemptOutcome, AuditEntry, ChunkResult, Claimed, Commit, Created, DeliveryStatus, DueDelivery,
    Failure, FinishedBucket, IdempotencyKey, Job, JobEvent, JobFilter, JobSearch, JobSummary,
    JobWarning, MigrationStatus, MinuteFinished, NewAuditEntry, NewJob, NewRefreshToken,
    NewWebhook, NextStep, Page, RefreshOutcome, Role, Sentence, SentenceRow, StatusCounts, User,
    Webhook, WebhookAttempt, WebhookDelivery,
};
pub use pool::{MIGRATOR, PoolStats, SQLITE_MIGRATOR, connect_postgres, ping};
pub use postgres::{PgDialect, PgStore};
pub use provenance::{PageSize, Provenance, SentenceBox};
pub use retry::{RetryPolicy, with_retry};
pub use sql_store::{SENTENCE_PAGE, SqlStore};
pub use sqlite::{SqliteDialect, SqliteStore};
pub use store::Store;
pub use verify::{SchemaDifference, SchemaObject};
