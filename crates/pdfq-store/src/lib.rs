//! pdfq's persistence.
//!
//! - [`config`]: `DATABASE_URL` and the pool settings, with the sslmode rules of the original design.
//! - [`pool`]: the PostgreSQL pool (10 + 5 overflow, recycled hourly, pre-pinged) and its migrations.

pub mod config;
pub mod pool;

pub use config::{DatabaseConfig, normalize_database_url};
pub use pool::{MIGRATOR, PoolStats, SQLITE_MIGRATOR, connect_postgres, ping};
