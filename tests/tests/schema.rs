//! Both stores' migrations apply to real servers and define the same tables and columns.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

use std::collections::BTreeMap;

use pdfq_store::{MIGRATOR, SQLITE_MIGRATOR};
use pdfq_test_support::TestDatabase;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

type Columns = BTreeMap<String, Vec<String>>;

async fn postgres_columns() -> Columns {
    let db = TestDatabase::migrated(&MIGRATOR).await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select table_name::text, column_name::text from information_schema.columns
         where table_schema = 'public' and table_name <> '_sqlx_migrations'
         order by table_name, column_name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    group(rows)
}

async fn sqlite_columns() -> Columns {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("pdfq.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .unwrap();
    SQLITE_MIGRATOR.run(&pool).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select m.name, p.name from sqlite_master m, pragma_table_info(m.name) p
         where m.type = 'table' and m.name not like 'sqlite_%' and m.name <> '_sqlx_migrations'
         order by m.name, p.name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    group(rows)
}

fn group(rows: Vec<(String, String)>) -> Columns {
    let mut tables = Columns::new();
    for (table, column) in rows {
        tables.entry(table).or_default().push(column);
    }
    tables
}

#[tokio::test]
async fn postgres_and_sqlite_schemas_match() {
    let postgres = postgres_columns().await;
    let sqlite = sqlite_columns().await;
    for table in [
        "users",
        "refresh_tokens",
        "jobs",
        "job_files",
        "job_result_chunks",
        "job_sentences",
        "job_events",
        "audit_log",
    ] {
        assert!(
            postgres.contains_key(table),
            "PostgreSQL lacks {table}: {postgres:?}"
        );
    }
    assert_eq!(
        postgres, sqlite,
        "the two schemas must define the same tables and columns"
    );
}
