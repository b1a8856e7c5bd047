//! The test harness: every test gets its own PostgreSQL database and its own Redis key prefix on
//! the real servers of the machine, so tests run in parallel without touching each other.
//!
//! The servers are found through `TEST_DATABASE_URL` (default
//! `postgres://root@127.0.0.1:5432/test`) and `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).
//! `cargo xtask ci` starts throwaway servers and sets these when nothing listens.

pub mod pdf;
mod postgres;
mod postgres_server;
pub mod process;
mod redis_prefix;
mod redis_server;
pub mod s3;
pub mod service_checks;

pub use postgres::{TestDatabase, admin_database_url};
pub use postgres_server::PostgresServer;
pub use redis_prefix::{TestRedis, redis_url};
pub use redis_server::RedisServer;
pub use s3::TestBucket;

/// A short random suffix for database names and key prefixes.
fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
