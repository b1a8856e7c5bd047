//! The PostgreSQL dialect: the distributed mode's database. Uuids, times and status lists are
//! native types, and the statements read the server's clock (`now()`).

use sqlx::postgres::{PgQueryResult, PgRow};
use sqlx::{Column, Row, TypeInfo};
use uuid::Uuid;

use crate::StoreError;
use crate::decode;
use crate::dialect::{Both, ChunkColumns, DbQuery, Dialect, SentenceColumns, Typed};
use crate::sql_store::SqlStore;

/// The store on a PostgreSQL pool.
pub type PgStore = SqlStore<PgDialect>;

/// PostgreSQL's side of every statement that differs.
#[derive(Debug, Clone, Copy)]
pub struct PgDialect;

impl Dialect for PgDialect {
    type Db = sqlx::Postgres;

    const BEGIN_WRITE: &'static str = "begin";

    const CLAIM_READS_FILE: bool = true;

    const WRITABLE_CTES: bool = true;

    // PostgreSQL goes on with a statement whose future was dropped; the server must be told.
    // (The limit is local to the transaction.)
    const STATEMENT_TIMEOUT: Option<&'static str> =
        Some("select set_config('statement_timeout', $1, true)");

    fn sql(statement: Both) -> &'static str {
        statement.postgres
    }

    fn bind(query: DbQuery<'_, sqlx::Postgres>, value: Typed) -> DbQuery<'_, sqlx::Postgres> {
        match value {
            Typed::Id(id) => query.bind(id),
            Typed::OptId(id) => query.bind(id),
            Typed::Time(t) => query.bind(t),
            Typed::OptTime(t) => query.bind(t),
            Typed::Now => query,
            Typed::Ago(age) | Typed::Later(age) => query.bind(age.as_secs_f64()),
            Typed::Sources(event) => query.bind(decode::sources(event)),
        }
    }

    fn bind_sentences<'q>(
        query: DbQuery<'q, sqlx::Postgres>,
        sentences: SentenceColumns<'q>,
    ) -> Result<DbQuery<'q, sqlx::Postgres>, StoreError> {
        Ok(query
            .bind(sentences.chunk)
            .bind(sentences.ordinal)
            .bind(sentences.page)
            .bind(sentences.text)
            .bind(sentences.provenance))
    }

    fn bind_chunks<'q>(
        query: DbQuery<'q, sqlx::Postgres>,
        chunks: ChunkColumns,
    ) -> Result<DbQuery<'q, sqlx::Postgres>, StoreError> {
        Ok(query
            .bind(chunks.index)
            .bind(chunks.first_page)
            .bind(chunks.last_page))
    }

    fn uuid(row: &PgRow, column: &str) -> Result<Option<Uuid>, StoreError> {
        Ok(row.try_get(column)?)
    }

    fn int(row: &PgRow, column: &str) -> Result<Option<i64>, StoreError> {
        // Each integer column has its own width (smallint, integer, bigint, count's bigint).
        Ok(match row.try_column(column)?.type_info().name() {
            "INT2" => row.try_get::<Option<i16>, _>(column)?.map(i64::from),
            "INT4" => row.try_get::<Option<i32>, _>(column)?.map(i64::from),
            _ => row.try_get(column)?,
        })
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }
}
