//! The SQLite dialect: the embedded mode's database (`pdfctl up`).
//!
//! SQLite keeps uuids as text, times as fixed-width RFC 3339 text in UTC (millisecond precision,
//! the same shape as the schema's `strftime` defaults, so text order is time order) and JSON as
//! text; the current time is bound by the store. Writes take the database's write lock at
//! `begin immediate`, so a transaction never fails half way on a lock upgrade; the busy timeout
//! makes concurrent writers wait their turn.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteRow,
    SqliteSynchronous,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::decode;
use crate::dialect::{Both, ChunkColumns, DbQuery, Dialect, SentenceColumns, Typed};
use crate::sql_store::SqlStore;

/// The store on an SQLite database file.
pub type SqliteStore = SqlStore<SqliteDialect>;

/// SQLite's side of every statement that differs.
#[derive(Debug, Clone, Copy)]
pub struct SqliteDialect;

/// How long a writer waits for another one before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Dialect for SqliteDialect {
    type Db = sqlx::Sqlite;

    const BEGIN_WRITE: &'static str = "begin immediate";

    const CLAIM_READS_FILE: bool = false;

    const WRITABLE_CTES: bool = false;

    // Not needed: the driver stops a statement at its next row once nobody waits for it.
    const STATEMENT_TIMEOUT: Option<&'static str> = None;

    fn sql(statement: Both) -> &'static str {
        statement.sqlite
    }

    fn bind(query: DbQuery<'_, sqlx::Sqlite>, value: Typed) -> DbQuery<'_, sqlx::Sqlite> {
        match value {
            Typed::Id(id) => query.bind(id.to_string()),
            Typed::OptId(id) => query.bind(id.map(|id| id.to_string())),
            Typed::Time(t) => query.bind(ts(t)),
            Typed::OptTime(t) => query.bind(t.map(ts)),
            Typed::Now => query.bind(ts(OffsetDateTime::now_utc())),
            Typed::Ago(age) => query.bind(ts(OffsetDateTime::now_utc() - age)),
            Typed::Later(delay) => query.bind(ts(OffsetDateTime::now_utc() + delay)),
            Typed::Sources(event) => query.bind(decode::sources_json(event)),
        }
    }

    fn bind_sentences<'q>(
        query: DbQuery<'q, sqlx::Sqlite>,
        sentences: SentenceColumns<'q>,
    ) -> Result<DbQuery<'q, sqlx::Sqlite>, StoreError> {
        /// A sentence as the statement reads it from the JSON array.
        #[derive(serde::Serialize)]
        struct Row<'a> {
            c: i32,
            n: i32,
            page: i32,
            text: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            prov: Option<&'a str>,
        }
        let rows: Vec<Row<'_>> = (0..sentences.text.len())
            .map(|i| Row {
                c: sentences.chunk[i],
                n: sentences.ordinal[i],
                page: sentences.page[i],
                text: sentences.text[i],
                prov: sentences.provenance[i].as_deref(),
            })
            .collect();
        let json = serde_json::to_string(&rows)
            .map_err(|e| StoreError::Corrupt(format!("sentences to save: {e}")))?;
        Ok(query.bind(json))
    }

    fn bind_chunks<'q>(
        query: DbQuery<'q, sqlx::Sqlite>,
        chunks: ChunkColumns,
    ) -> Result<DbQuery<'q, sqlx::Sqlite>, StoreError> {
        /// A chunk as the statement reads it from the JSON array.
        #[derive(serde::Serialize)]
        struct Row {
            i: i32,
            f: i32,
            l: i32,
        }
        let rows: Vec<Row> = (0..chunks.index.len())
            .map(|k| Row {
                i: chunks.index[k],
                f: chunks.first_page[k],
                l: chunks.last_page[k],
            })
            .collect();
        let json = serde_json::to_string(&rows)
            .map_err(|e| StoreError::Corrupt(format!("chunks to save: {e}")))?;
        Ok(query.bind(json))
    }

    fn uuid(row: &SqliteRow, column: &str) -> Result<Option<Uuid>, StoreError> {
        let text: Option<String> = row.try_get(column)?;
        text.map(|text| {
            Uuid::parse_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("{column}: bad uuid {text:?}: {e}")))
        })
        .transpose()
    }

    fn int(row: &SqliteRow, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(row.try_get(column)?)
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`, `sqlite:path` or
    /// `sqlite::memory:`), in WAL mode with foreign keys on and a busy timeout.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::with_options(SqliteConnectOptions::from_str(url)?, in_memory).await
    }

    /// Opens (creating if needed) the database file at `path`. The path is used as it is, so
    /// characters that mean something in a URL (`?`, `#`, `%`) are fine.
    pub async fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        Self::with_options(SqliteConnectOptions::new().filename(path), false).await
    }

    async fn with_options(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // Each connection to an in-memory database is a database of its own: keep exactly one,
        // and never let it be closed for being idle or old.
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            // WAL lets readers run beside the one writer; writers queue on the busy timeout.
            SqlitePoolOptions::new().max_connections(4)
        };
        let pool = pool.connect_with(options).await?;
        Ok(Self::new(pool))
    }
}

/// A time as the embedded schema stores it: `2026-11-29T03:00:00.123Z`. Fixed width, so text
/// comparison in SQL is time comparison.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_fixed_width_utc() {
        let t = time::macros::datetime!(2026-11-29 03:04:05.006789 +02:00);
        assert_eq!(ts(t), "2026-11-29T01:04:05.006Z");
        let whole = time::macros::datetime!(2026-11-29 03:04:05 UTC);
        assert_eq!(ts(whole), "2026-11-29T03:04:05.000Z");
        assert!(ts(whole) < ts(t + Duration::from_secs(7200)));
    }
}
