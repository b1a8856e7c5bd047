//! What the store's one body per operation is written against: a [`Dialect`] (PostgreSQL or
//! SQLite) says how it stores the values that differ between the two (uuids, times, status
//! lists), which SQL text it runs where the two differ ([`Both`]), and how a transaction that
//! writes begins. Everything else (binding text and numbers, running a statement, reading a
//! column) is the same sqlx code for both, written once here.
//!
//! Queries stay runtime-checked sqlx queries on the dialect's own driver: no `Any` database, no
//! loss of types.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use pdfq_domain::job::JobEvent as Event;
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::decode;

/// A statement with its arguments not bound yet, on database `DB`.
pub type DbQuery<'q, DB> = Query<'q, DB, <DB as Database>::Arguments<'q>>;

/// A row of dialect `D`.
pub type DbRow<D> = <<D as Dialect>::Db as Database>::Row;

/// A connection (or a transaction, which derefs to one) of dialect `D`.
pub type DbConnection<D> = <<D as Dialect>::Db as Database>::Connection;

/// One statement in both dialects, side by side, where their SQL differs.
#[derive(Debug, Clone, Copy)]
pub struct Both {
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

/// A value whose stored form depends on the dialect.
#[derive(Debug, Clone, Copy)]
pub enum Typed {
    Id(Uuid),
    OptId(Option<Uuid>),
    Time(OffsetDateTime),
    OptTime(Option<OffsetDateTime>),
    /// The current time. PostgreSQL reads its own clock (`now()` in the statement) and binds
    /// nothing, so a statement takes it as its last argument.
    Now,
    /// The time this long ago: PostgreSQL binds the seconds (`now() - make_interval(secs => $n)`),
    /// SQLite the time itself.
    Ago(Duration),
    /// The time this long from now, bound as [`Typed::Ago`] is (`now() + make_interval(...)`).
    Later(Duration),
    /// The statuses `Event` may leave the job in: PostgreSQL binds an array (`= any($n)`), SQLite
    /// a JSON array (`in (select value from json_each($n))`).
    Sources(Event),
}

/// The sentences of one save, a vector per column (how [`Dialect::bind_sentences`] takes
/// them): their chunk, their ordinal among the sentences saved together, page, text and
/// stored provenance (`None`: none kept).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct SentenceColumns<'q> {
    pub chunk: Vec<i32>,
    pub ordinal: Vec<i32>,
    pub page: Vec<i32>,
    pub text: Vec<&'q str>,
    pub provenance: Vec<Option<String>>,
}

/// The chunks of one save, a vector per column (how [`Dialect::bind_chunks`] takes them).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct ChunkColumns {
    pub index: Vec<i32>,
    pub first_page: Vec<i32>,
    pub last_page: Vec<i32>,
}

/// A SQL dialect the store runs on. Implemented by [`crate::postgres::PgDialect`] and
/// [`crate::sqlite::SqliteDialect`].
pub trait Dialect: fmt::Debug + Clone + Send + Sync + 'static {
    /// The sqlx driver.
    type Db: Engine;

    /// The statement that opens a transaction that will write.
    const BEGIN_WRITE: &'static str;

    /// Whether the claim's statement reads the claimed job's upload too: a round trip fewer
    /// where statements cross a network (PostgreSQL); SQLite reads it after the claim, for
    /// nothing, instead of holding the database's one write lock while the bytes are copied.
    const CLAIM_READS_FILE: bool;

    /// Whether a statement may change several tables at once (PostgreSQL's data-modifying
    /// `with`): a status change then records its timeline entry and returns the owner's
    /// webhooks itself (a `hooks` column), and a save is one statement, each a round trip
    /// fewer. SQLite runs them one after another, in-process.
    const WRITABLE_CTES: bool;

    /// A statement that bounds every later statement of the transaction to `$1` (`"250ms"`) on
    /// the server, for a database that goes on with a statement nobody waits for any more.
    const STATEMENT_TIMEOUT: Option<&'static str>;

    /// This dialect's text of `statement`.
    fn sql(statement: Both) -> &'static str;

    /// Binds `value` in this dialect's stored form.
    #[doc(hidden)]
    fn bind(query: DbQuery<'_, Self::Db>, value: Typed) -> DbQuery<'_, Self::Db>;

    /// Binds the sentences of a save: PostgreSQL one array per column (read with `unnest`:
    /// nothing to parse, where a JSON text was parsed twice, at bind and at read), SQLite one
    /// JSON array of `{"c", "n", "page", "text", "prov"}` (read with `json_each`).
    #[doc(hidden)]
    fn bind_sentences<'q>(
        query: DbQuery<'q, Self::Db>,
        sentences: SentenceColumns<'q>,
    ) -> Result<DbQuery<'q, Self::Db>, StoreError>;

    /// Binds the chunks of a save: PostgreSQL one array per column (`unnest`), SQLite one JSON
    /// array of `{"i": index, "f": first page, "l": last page}` (`json_each`).
    #[doc(hidden)]
    fn bind_chunks<'q>(
        query: DbQuery<'q, Self::Db>,
        chunks: ChunkColumns,
    ) -> Result<DbQuery<'q, Self::Db>, StoreError>;

    /// A uuid column (`None` for null).
    #[doc(hidden)]
    fn uuid(row: &DbRow<Self>, column: &str) -> Result<Option<Uuid>, StoreError>;

    /// An integer column of any width (`None` for null).
    #[doc(hidden)]
    fn int(row: &DbRow<Self>, column: &str) -> Result<Option<i64>, StoreError>;

    /// How many rows a statement changed.
    #[doc(hidden)]
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;
}

/// What the store asks of a sqlx driver besides the dialect's own values. Implemented for every
/// driver that has it, so that its bounds are written here only.
#[doc(hidden)]
pub trait Engine: Database {
    fn text<'q>(query: DbQuery<'q, Self>, value: Option<&'q str>) -> DbQuery<'q, Self>;
    fn int(query: DbQuery<'_, Self>, value: Option<i64>) -> DbQuery<'_, Self>;
    fn bytes<'q>(query: DbQuery<'q, Self>, value: Option<&'q [u8]>) -> DbQuery<'q, Self>;

    fn execute<'c, 'q>(
        conn: &'c mut Self::Connection,
        query: DbQuery<'q, Self>,
    ) -> impl Future<Output = Result<Self::QueryResult, sqlx::Error>> + Send;
    fn fetch_optional<'c, 'q>(
        conn: &'c mut Self::Connection,
        query: DbQuery<'q, Self>,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send;
    fn fetch_all<'c, 'q>(
        conn: &'c mut Self::Connection,
        query: DbQuery<'q, Self>,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send;

    fn get_text(row: &Self::Row, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn get_bytes(row: &Self::Row, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
    fn get_time(row: &Self::Row, column: &str) -> Result<Option<OffsetDateTime>, sqlx::Error>;
    fn get_flag(row: &Self::Row, column: &str) -> Result<Option<bool>, sqlx::Error>;
}

impl<DB> Engine for DB
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    for<'r> OffsetDateTime: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    fn text<'q>(query: DbQuery<'q, Self>, value: Option<&'q str>) -> DbQuery<'q, Self> {
        query.bind(value)
    }

    fn int(query: DbQuery<'_, Self>, value: Option<i64>) -> DbQuery<'_, Self> {
        query.bind(value)
    }

    fn bytes<'q>(query: DbQuery<'q, Self>, value: Option<&'q [u8]>) -> DbQuery<'q, Self> {
        query.bind(value)
    }

    async fn execute(
        conn: &mut Self::Connection,
        query: DbQuery<'_, Self>,
    ) -> Result<Self::QueryResult, sqlx::Error> {
        query.execute(conn).await
    }

    async fn fetch_optional(
        conn: &mut Self::Connection,
        query: DbQuery<'_, Self>,
    ) -> Result<Option<Self::Row>, sqlx::Error> {
        query.fetch_optional(conn).await
    }

    async fn fetch_all(
        conn: &mut Self::Connection,
        query: DbQuery<'_, Self>,
    ) -> Result<Vec<Self::Row>, sqlx::Error> {
        query.fetch_all(conn).await
    }

    fn get_text(row: &Self::Row, column: &str) -> Result<Option<String>, sqlx::Error> {
        row.try_get(column)
    }

    fn get_bytes(row: &Self::Row, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        row.try_get(column)
    }

    fn get_time(row: &Self::Row, column: &str) -> Result<Option<OffsetDateTime>, sqlx::Error> {
        row.try_get(column)
    }

    fn get_flag(row: &Self::Row, column: &str) -> Result<Option<bool>, sqlx::Error> {
        row.try_get(column)
    }
}

/// A statement being given its arguments, in `$1, $2, ...` order.
pub(crate) struct Stmt<'q, D: Dialect> {
    query: DbQuery<'q, D::Db>,
}

impl<'q, D: Dialect> Stmt<'q, D> {
    /// The statement with the same text in both dialects.
    pub(crate) fn new(sql: &'q str) -> Self {
        Self {
            query: sqlx::query(sql),
        }
    }

    /// The statement whose text differs between the dialects.
    pub(crate) fn of(statement: Both) -> Self {
        Self::new(D::sql(statement))
    }

    pub(crate) fn text(self, value: &'q str) -> Self {
        self.opt_text(Some(value))
    }

    pub(crate) fn opt_text(self, value: Option<&'q str>) -> Self {
        Self {
            query: D::Db::text(self.query, value),
        }
    }

    pub(crate) fn int(self, value: impl Into<i64>) -> Self {
        self.opt_int(Some(value.into()))
    }

    pub(crate) fn opt_int(self, value: Option<i64>) -> Self {
        Self {
            query: D::Db::int(self.query, value),
        }
    }

    /// A count or offset; beyond i64 nothing can match anyway.
    pub(crate) fn count(self, value: u64) -> Self {
        self.int(decode::i64_of(value))
    }

    pub(crate) fn bytes(self, value: &'q [u8]) -> Self {
        self.opt_bytes(Some(value))
    }

    pub(crate) fn opt_bytes(self, value: Option<&'q [u8]>) -> Self {
        Self {
            query: D::Db::bytes(self.query, value),
        }
    }

    pub(crate) fn id(self, value: impl Into<Uuid>) -> Self {
        self.typed(Typed::Id(value.into()))
    }

    pub(crate) fn time(self, value: OffsetDateTime) -> Self {
        self.typed(Typed::Time(value))
    }

    pub(crate) fn now(self) -> Self {
        self.typed(Typed::Now)
    }

    pub(crate) fn ago(self, age: Duration) -> Self {
        self.typed(Typed::Ago(age))
    }

    pub(crate) fn later(self, delay: Duration) -> Self {
        self.typed(Typed::Later(delay))
    }

    pub(crate) fn sources(self, event: Event) -> Self {
        self.typed(Typed::Sources(event))
    }

    pub(crate) fn sentences(self, sentences: SentenceColumns<'q>) -> Result<Self, StoreError> {
        Ok(Self {
            query: D::bind_sentences(self.query, sentences)?,
        })
    }

    pub(crate) fn chunks(self, chunks: ChunkColumns) -> Result<Self, StoreError> {
        Ok(Self {
            query: D::bind_chunks(self.query, chunks)?,
        })
    }

    pub(crate) fn typed(self, value: Typed) -> Self {
        Self {
            query: D::bind(self.query, value),
        }
    }

    /// Runs the statement; how many rows it changed.
    pub(crate) async fn execute(self, conn: &mut DbConnection<D>) -> Result<u64, StoreError> {
        let done = D::Db::execute(conn, self.query).await?;
        Ok(D::rows_affected(&done))
    }

    pub(crate) async fn fetch_optional(
        self,
        conn: &mut DbConnection<D>,
    ) -> Result<Option<DbRow<D>>, StoreError> {
        Ok(D::Db::fetch_optional(conn, self.query).await?)
    }

    /// The one row the statement returns; none is [`StoreError::NotFound`].
    pub(crate) async fn fetch_one(
        self,
        conn: &mut DbConnection<D>,
    ) -> Result<DbRow<D>, StoreError> {
        self.fetch_optional(conn).await?.ok_or(StoreError::NotFound)
    }

    pub(crate) async fn fetch_all(
        self,
        conn: &mut DbConnection<D>,
    ) -> Result<Vec<DbRow<D>>, StoreError> {
        Ok(D::Db::fetch_all(conn, self.query).await?)
    }

    /// The rows the statement returns, each read by `read`.
    pub(crate) async fn fetch_all_as<T>(
        self,
        conn: &mut DbConnection<D>,
        read: impl Fn(&Columns<'_, D>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.fetch_all(conn).await?;
        rows.iter().map(|row| read(&Columns::of(row))).collect()
    }

    /// The one row the statement returns, read by `read`; none is [`StoreError::NotFound`].
    pub(crate) async fn fetch_one_as<T>(
        self,
        conn: &mut DbConnection<D>,
        read: impl Fn(&Columns<'_, D>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        read(&Columns::of(&self.fetch_one(conn).await?))
    }

    /// The row the statement returns, if any, read by `read`.
    pub(crate) async fn fetch_optional_as<T>(
        self,
        conn: &mut DbConnection<D>,
        read: impl Fn(&Columns<'_, D>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = self.fetch_optional(conn).await?;
        row.as_ref().map(|row| read(&Columns::of(row))).transpose()
    }
}

/// The columns of a row of dialect `D`, by name, as domain-neutral values. A null where a value
/// must be is a corrupt row.
pub(crate) struct Columns<'r, D: Dialect> {
    row: &'r DbRow<D>,
    dialect: PhantomData<D>,
}

impl<'r, D: Dialect> Columns<'r, D> {
    pub(crate) fn of(row: &'r DbRow<D>) -> Self {
        Self {
            row,
            dialect: PhantomData,
        }
    }

    pub(crate) fn opt_id<T: From<Uuid>>(&self, column: &str) -> Result<Option<T>, StoreError> {
        Ok(D::uuid(self.row, column)?.map(T::from))
    }

    pub(crate) fn id<T: From<Uuid>>(&self, column: &str) -> Result<T, StoreError> {
        required(self.opt_id(column)?, column)
    }

    pub(crate) fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        D::int(self.row, column)
    }

    pub(crate) fn int(&self, column: &str) -> Result<i64, StoreError> {
        required(self.opt_int(column)?, column)
    }

    /// A count or size, never negative.
    pub(crate) fn count(&self, column: &str) -> Result<u64, StoreError> {
        decode::u64_of(self.int(column)?, column)
    }

    pub(crate) fn u32(&self, column: &str) -> Result<u32, StoreError> {
        decode::u32_of(self.int(column)?, column)
    }

    pub(crate) fn opt_u32(&self, column: &str) -> Result<Option<u32>, StoreError> {
        decode::opt_u32(self.opt_int(column)?, column)
    }

    pub(crate) fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(D::Db::get_text(self.row, column)?)
    }

    pub(crate) fn text(&self, column: &str) -> Result<String, StoreError> {
        required(self.opt_text(column)?, column)
    }

    pub(crate) fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(D::Db::get_bytes(self.row, column)?)
    }

    pub(crate) fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        required(self.opt_bytes(column)?, column)
    }

    pub(crate) fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(D::Db::get_time(self.row, column)?)
    }

    pub(crate) fn time(&self, column: &str) -> Result<OffsetDateTime, StoreError> {
        required(self.opt_time(column)?, column)
    }

    pub(crate) fn opt_flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        Ok(D::Db::get_flag(self.row, column)?)
    }

    pub(crate) fn flag(&self, column: &str) -> Result<bool, StoreError> {
        required(self.opt_flag(column)?, column)
    }
}

fn required<T>(value: Option<T>, column: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Corrupt(format!("{column} is null")))
}
