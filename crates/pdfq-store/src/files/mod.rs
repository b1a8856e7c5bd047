//! Where uploaded files are kept: in the database (the default; table `job_files`, written in
//! the job's own transaction) or in an S3-compatible bucket ([`ObjectFiles`]).
//!
//! An object is recorded in `stored_files` before it is written and linked to its job by the
//! job's transaction, so the database always knows every object: an unlinked row (the job never
//! committed, was deleted, or its file's retention ended) names an object the sweeper deletes.

mod config;
mod content;
mod objects;
mod quotas;
mod store_ops;

pub use config::{Retention, StorageConfig, parse_retention};
pub use content::FileContent;
pub use objects::ObjectFiles;
pub use quotas::{QuotaExceeded, Quotas};
pub use store_ops::{FileSweep, Usage};

/// The file store the [`crate::Store`] writes uploads to.
#[derive(Debug, Clone, Default)]
pub enum FileStore {
    /// In the database, next to the job: nothing else to run.
    #[default]
    Database,
    /// In an S3-compatible bucket.
    Objects(ObjectFiles),
}

impl FileStore {
    /// The store `config` names: `database`, or `s3://BUCKET/PREFIX`.
    pub fn from_config(config: &StorageConfig) -> Result<Self, String> {
        let url = config.storage_url.trim();
        if url.is_empty() || url.eq_ignore_ascii_case("database") {
            return Ok(Self::Database);
        }
        ObjectFiles::from_config(config).map(Self::Objects)
    }

    /// What `pdfctl doctor` and the logs show: `database`, or the bucket and endpoint (never a
    /// credential).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Database => "database".into(),
            Self::Objects(objects) => objects.describe(),
        }
    }
}

/// Where one job's file is.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum StoredFile {
    /// The bytes, kept in the database.
    Bytes(Vec<u8>),
    /// The key of the object that holds it.
    Object(String),
}

/// A claimed job's upload, as the claim left it ([`crate::Store::claimed_file`] hands it over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClaimedFile {
    /// Not read by the claim (see `Dialect::CLAIM_READS_FILE`): read when it is asked for.
    Unread,
    /// Read by the claim's statement: where it is, or `None` when it is gone.
    Read(Option<StoredFile>),
    /// Handed over already.
    Taken,
}

impl std::fmt::Debug for StoredFile {
    /// The size, not the bytes: a job's file can be tens of megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            Self::Object(key) => f.debug_tuple("Object").field(key).finish(),
        }
    }
}
