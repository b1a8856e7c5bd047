//! The PostgreSQL connection pool and the embedded migrations.

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::config::DatabaseConfig;

/// The PostgreSQL schema, from `migrations/postgres`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The embedded store's schema, from `migrations/sqlite`.
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Opens the pool as the original design sizes it: `pool_size` connections plus `max_overflow`
/// under a burst, each recycled after `pool_recycle`, pinged before use, with an acquire timeout.
/// Connections are opened lazily, so a process starts even while the database is down and
/// recovers as soon as it is back.
pub fn connect_postgres(config: &DatabaseConfig) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = config
        .url
        .expose()
        .parse::<PgConnectOptions>()?
        .application_name("pdfq")
        // Statement logging at debug level only: queries are frequent and carry no secrets.
        .log_statements(tracing::log::LevelFilter::Debug);
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections())
        .min_connections(0)
        .max_lifetime(config.db_pool_recycle)
        // Overflow connections beyond the base size are closed once idle for a while.
        .idle_timeout(std::time::Duration::from_secs(600))
        .test_before_acquire(config.db_pool_pre_ping)
        .acquire_timeout(config.db_pool_timeout)
        .connect_lazy_with(options);
    Ok(pool)
}

/// Runs `SELECT 1` on a fresh connection from the pool; the health check's probe.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    conn.ping().await
}

pub use pdfq_domain::PoolStats;

/// The pool's size, in use and idle connections, for metrics and heartbeats. Works for any sqlx
/// pool: the PostgreSQL one and the embedded store's SQLite one.
#[must_use]
pub fn pool_stats_of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolStats {
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
    PoolStats {
        max: pool.options().get_max_connections(),
        size,
        idle,
        in_use: size - idle,
    }
}
