//! A database of its own for each test: created, migrated, and dropped when the test ends.

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

/// The server tests create their databases on.
#[must_use]
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

/// A database that exists for one test. Dropped (with `WITH (FORCE)`) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// The database's name, `pdfq_test_<random>`.
    pub name: String,
    /// A URL that connects to it.
    pub url: String,
    /// A small pool on it.
    pub pool: PgPool,
    admin_url: String,
}

impl TestDatabase {
    /// A new database with `migrator`'s migrations applied.
    pub async fn migrated(migrator: &Migrator) -> Self {
        let db = Self::empty().await;
        if let Err(e) = migrator.run(&db.pool).await {
            panic!("migrating test database {}: {e}", db.name);
        }
        db
    }

    /// A new, empty database.
    pub async fn empty() -> Self {
        let admin_url = admin_database_url();
        let mut admin = connect_admin(&admin_url).await;
        let name = format!("pdfq_test_{}", crate::unique_suffix());
        admin
            .execute(format!(r#"create database "{name}""#).as_str())
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let _ = admin.close().await;

        let url = with_database(&admin_url, &name);
        let options: PgConnectOptions = url
            .parse()
            .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is not a PostgreSQL URL: {e}"));
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(options.disable_statement_logging())
            .await
            .unwrap_or_else(|e| panic!("connecting to test database {name}: {e}"));
        Self {
            name,
            url,
            pool,
            admin_url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop may run inside or outside a runtime, so the cleanup gets a thread and a runtime
        // of its own. The pool is not closed from there (its connections belong to the test's
        // runtime, which is blocked on this join); FORCE ends them on the server instead.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin
                        .execute(
                            format!(r#"drop database if exists "{name}" with (force)"#).as_str(),
                        )
                        .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

async fn connect_admin(admin_url: &str) -> PgConnection {
    match PgConnection::connect(admin_url).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {admin_url} ({e}). Run the tests with `cargo xtask ci`, \
             which starts a throwaway server when none is running, or set TEST_DATABASE_URL."
        ),
    }
}

/// `admin_url` pointing at database `name` instead.
fn with_database(admin_url: &str, name: &str) -> String {
    match url::Url::parse(admin_url) {
        Ok(mut url) => {
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        Err(e) => panic!("TEST_DATABASE_URL is not a URL: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path_only() {
        assert_eq!(
            with_database(
                "postgres://root:p%40w@127.0.0.1:5432/test?sslmode=disable",
                "x"
            ),
            "postgres://root:p%40w@127.0.0.1:5432/x?sslmode=disable"
        );
    }

    #[tokio::test]
    async fn each_test_gets_a_database_that_is_dropped_afterwards() {
        let db = TestDatabase::empty().await;
        let name = db.name.clone();
        let (current,): (String,) = sqlx::query_as("select current_database()")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(current, name);
        sqlx::query("create table t (x int)")
            .execute(&db.pool)
            .await
            .unwrap();

        let other = TestDatabase::empty().await;
        let (tables,): (i64,) =
            sqlx::query_as("select count(*) from information_schema.tables where table_name = 't'")
                .fetch_one(&other.pool)
                .await
                .unwrap();
        assert_eq!(tables, 0, "databases must not share tables");

        drop(db);
        let mut admin = PgConnection::connect(&admin_database_url()).await.unwrap();
        let (left,): (i64,) = sqlx::query_as("select count(*) from pg_database where datname = $1")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert_eq!(left, 0, "the test database must be dropped");
    }
}
