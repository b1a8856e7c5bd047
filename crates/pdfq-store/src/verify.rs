//! Migration verification, after the original design's verify_migrations.py: does the live
//! database have the schema the migrations define, and the migrations this binary carries?
//!
//! The expected schema is not written down twice: the migrations are applied to a scratch
//! space (a throwaway schema on PostgreSQL, an in-memory database for SQLite) and the catalogs
//! of the two are compared: tables, columns (type and nullability), and indexes, triggers and
//! functions (definition: a job's sentences are deleted with it by a trigger), then the applied
//! migration versions and checksums against the embedded migrator.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sqlx::migrate::Migrator;
use sqlx::{Connection, Row};
use time::OffsetDateTime;

use crate::StoreError;
use crate::model::MigrationStatus;
use crate::pool::{MIGRATOR, SQLITE_MIGRATOR};

/// A part of a schema compared by its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SchemaObject {
    Index,
    Trigger,
    /// A function (PostgreSQL: a trigger's body).
    Function,
}

impl fmt::Display for SchemaObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Index => "index",
            Self::Trigger => "trigger",
            Self::Function => "function",
        })
    }
}

/// One way the live database differs from what the migrations define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaDifference {
    MissingTable {
        table: String,
    },
    ExtraTable {
        table: String,
    },
    MissingColumn {
        table: String,
        column: String,
    },
    ExtraColumn {
        table: String,
        column: String,
    },
    ColumnType {
        table: String,
        column: String,
        expected: String,
        found: String,
    },
    ColumnNullability {
        table: String,
        column: String,
        expected_nullable: bool,
    },
    MissingObject {
        object: SchemaObject,
        name: String,
        definition: String,
    },
    ExtraObject {
        object: SchemaObject,
        name: String,
        definition: String,
    },
    ObjectDefinition {
        object: SchemaObject,
        name: String,
        expected: String,
        found: String,
    },
    /// A migration of this binary the database has not applied.
    MigrationPending {
        version: i64,
        description: String,
    },
    /// An applied migration whose script differs from this binary's (it was edited).
    MigrationChecksum {
        version: i64,
        description: String,
    },
    /// An applied migration this binary does not know (the database is newer).
    MigrationUnknown {
        version: i64,
        description: String,
    },
    /// A migration that started and did not finish.
    MigrationFailed {
        version: i64,
        description: String,
    },
}

impl fmt::Display for SchemaDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingTable { table } => write!(f, "table {table} is missing"),
            Self::ExtraTable { table } => write!(f, "table {table} is not in the migrations"),
            Self::MissingColumn { table, column } => {
                write!(f, "column {table}.{column} is missing")
            }
            Self::ExtraColumn { table, column } => {
                write!(f, "column {table}.{column} is not in the migrations")
            }
            Self::ColumnType {
                table,
                column,
                expected,
                found,
            } => write!(
                f,
                "column {table}.{column} has type {found}, the migrations say {expected}"
            ),
            Self::ColumnNullability {
                table,
                column,
                expected_nullable,
            } => write!(
                f,
                "column {table}.{column} is {}, the migrations say {}",
                if *expected_nullable {
                    "not null"
                } else {
                    "nullable"
                },
                if *expected_nullable {
                    "nullable"
                } else {
                    "not null"
                },
            ),
            Self::MissingObject {
                object,
                name,
                definition,
            } => write!(f, "{object} {name} is missing ({definition})"),
            Self::ExtraObject {
                object,
                name,
                definition,
            } => write!(f, "{object} {name} is not in the migrations ({definition})"),
            Self::ObjectDefinition {
                object,
                name,
                expected,
                found,
            } => write!(
                f,
                "{object} {name} is defined as {found}, the migrations say {expected}"
            ),
            Self::MigrationPending {
                version,
                description,
            } => {
                write!(f, "migration {version} ({description}) is not applied")
            }
            Self::MigrationChecksum {
                version,
                description,
            } => write!(
                f,
                "migration {version} ({description}) was applied from a different script (checksum mismatch)"
            ),
            Self::MigrationUnknown {
                version,
                description,
            } => write!(
                f,
                "migration {version} ({description}) is applied but unknown to this binary"
            ),
            Self::MigrationFailed {
                version,
                description,
            } => {
                write!(f, "migration {version} ({description}) failed part way")
            }
        }
    }
}

/// The database to check, by its pool: the store hands its own over, so this module needs
/// nothing of the store.
#[derive(Debug, Clone, Copy)]
pub enum Live<'a> {
    Postgres(&'a sqlx::PgPool),
    Sqlite(&'a sqlx::SqlitePool),
}

/// A schema as its catalog describes it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Schema {
    tables: BTreeSet<String>,
    /// (table, column) -> (type, nullable)
    columns: BTreeMap<(String, String), (String, bool)>,
    /// (kind, name) -> normalised definition
    objects: BTreeMap<(SchemaObject, String), String>,
}

/// A row of the migrations table.
#[derive(Debug, Clone)]
struct Applied {
    version: i64,
    description: String,
    checksum: Vec<u8>,
    success: bool,
    installed_on: Option<OffsetDateTime>,
}

/// Every difference between the live schema and the migrations; empty when they agree.
pub async fn verify_schema(database: Live<'_>) -> Result<Vec<SchemaDifference>, StoreError> {
    let (expected, live, applied, migrator) = match database {
        Live::Postgres(pool) => {
            let (expected, live) = postgres_schemas(pool).await?;
            (expected, live, postgres_applied(pool).await?, &MIGRATOR)
        }
        Live::Sqlite(pool) => {
            let mut scratch = sqlx::SqliteConnection::connect("sqlite::memory:").await?;
            SQLITE_MIGRATOR.run(&mut scratch).await?;
            let expected = sqlite_schema(&mut scratch).await?;
            let _ = scratch.close().await;
            let mut conn = pool.acquire().await?;
            let live = sqlite_schema(&mut conn).await?;
            (
                expected,
                live,
                sqlite_applied(&mut conn).await?,
                &SQLITE_MIGRATOR,
            )
        }
    };
    let mut diffs = diff_schemas(&expected, &live);
    diffs.extend(diff_migrations(migrator, &applied));
    Ok(diffs)
}

/// Each migration this binary carries, with when it was applied.
pub async fn migration_status(database: Live<'_>) -> Result<Vec<MigrationStatus>, StoreError> {
    let (applied, migrator) = match database {
        Live::Postgres(pool) => (postgres_applied(pool).await?, &MIGRATOR),
        Live::Sqlite(pool) => {
            let mut conn = pool.acquire().await?;
            (sqlite_applied(&mut conn).await?, &SQLITE_MIGRATOR)
        }
    };
    let by_version: BTreeMap<i64, &Applied> = applied.iter().map(|a| (a.version, a)).collect();
    Ok(migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| {
            let applied = by_version.get(&m.version).filter(|a| a.success);
            MigrationStatus {
                version: m.version,
                description: m.description.to_string(),
                applied_at: applied.and_then(|a| a.installed_on),
                checksum_mismatch: applied.is_some_and(|a| a.checksum != *m.checksum),
            }
        })
        .collect())
}

fn diff_schemas(expected: &Schema, live: &Schema) -> Vec<SchemaDifference> {
    let mut out = Vec::new();
    for table in expected.tables.difference(&live.tables) {
        out.push(SchemaDifference::MissingTable {
            table: table.clone(),
        });
    }
    for table in live.tables.difference(&expected.tables) {
        out.push(SchemaDifference::ExtraTable {
            table: table.clone(),
        });
    }
    // Columns of a table missing (or extra) as a whole are covered by the table's entry.
    let shared = |table: &str| expected.tables.contains(table) && live.tables.contains(table);
    for ((table, column), (ty, nullable)) in &expected.columns {
        if !shared(table) {
            continue;
        }
        match live.columns.get(&(table.clone(), column.clone())) {
            None => out.push(SchemaDifference::MissingColumn {
                table: table.clone(),
                column: column.clone(),
            }),
            Some((live_ty, live_nullable)) => {
                if live_ty != ty {
                    out.push(SchemaDifference::ColumnType {
                        table: table.clone(),
                        column: column.clone(),
                        expected: ty.clone(),
                        found: live_ty.clone(),
                    });
                }
                if live_nullable != nullable {
                    out.push(SchemaDifference::ColumnNullability {
                        table: table.clone(),
                        column: column.clone(),
                        expected_nullable: *nullable,
                    });
                }
            }
        }
    }
    for (table, column) in live.columns.keys() {
        if shared(table)
            && !expected
                .columns
                .contains_key(&(table.clone(), column.clone()))
        {
            out.push(SchemaDifference::ExtraColumn {
                table: table.clone(),
                column: column.clone(),
            });
        }
    }
    for ((object, name), definition) in &expected.objects {
        match live.objects.get(&(*object, name.clone())) {
            None => out.push(SchemaDifference::MissingObject {
                object: *object,
                name: name.clone(),
                definition: definition.clone(),
            }),
            Some(found) if found != definition => out.push(SchemaDifference::ObjectDefinition {
                object: *object,
                name: name.clone(),
                expected: definition.clone(),
                found: found.clone(),
            }),
            Some(_) => {}
        }
    }
    for ((object, name), definition) in &live.objects {
        if !expected.objects.contains_key(&(*object, name.clone())) {
            out.push(SchemaDifference::ExtraObject {
                object: *object,
                name: name.clone(),
                definition: definition.clone(),
            });
        }
    }
    out
}

fn diff_migrations(migrator: &Migrator, applied: &[Applied]) -> Vec<SchemaDifference> {
    let mut out = Vec::new();
    let known: BTreeMap<i64, _> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m))
        .collect();
    let by_version: BTreeMap<i64, &Applied> = applied.iter().map(|a| (a.version, a)).collect();
    for (version, m) in &known {
        let description = m.description.to_string();
        match by_version.get(version) {
            None => out.push(SchemaDifference::MigrationPending {
                version: *version,
                description,
            }),
            Some(a) if !a.success => out.push(SchemaDifference::MigrationFailed {
                version: *version,
                description,
            }),
            Some(a) if a.checksum != *m.checksum => out.push(SchemaDifference::MigrationChecksum {
                version: *version,
                description,
            }),
            Some(_) => {}
        }
    }
    for a in applied {
        if !known.contains_key(&a.version) {
            out.push(SchemaDifference::MigrationUnknown {
                version: a.version,
                description: a.description.clone(),
            });
        }
    }
    out
}

/// The expected schema (migrations applied to a scratch schema in the same database) and the
/// live one. The scratch schema is dropped whatever happens.
async fn postgres_schemas(pool: &sqlx::PgPool) -> Result<(Schema, Schema), StoreError> {
    let live_schema: String = sqlx::query_scalar("select current_schema()")
        .fetch_one(pool)
        .await?;
    let scratch = format!(
        "pdfq_verify_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    // A connection of its own: its search_path is changed, so it must not go back to the pool.
    let mut conn = pool.acquire().await?.detach();
    sqlx::query(&format!(r#"create schema "{scratch}""#))
        .execute(&mut conn)
        .await?;
    let result = async {
        sqlx::query(&format!(r#"set search_path to "{scratch}""#))
            .execute(&mut conn)
            .await?;
        MIGRATOR.run(&mut conn).await?;
        let expected = postgres_schema(&mut conn, &scratch).await?;
        let live = postgres_schema(&mut conn, &live_schema).await?;
        Ok::<_, StoreError>((expected, live))
    }
    .await;
    let dropped = sqlx::query(&format!(r#"drop schema "{scratch}" cascade"#))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    let schemas = result?;
    dropped?;
    Ok(schemas)
}

async fn postgres_schema(
    conn: &mut sqlx::PgConnection,
    schema: &str,
) -> Result<Schema, StoreError> {
    let mut out = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = $1 and table_type = 'BASE TABLE' and table_name <> '_sqlx_migrations'",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    out.tables = tables.into_iter().collect();
    let columns = sqlx::query(
        "select table_name::text as table_name, column_name::text as column_name,
                data_type::text as data_type, is_nullable = 'YES' as nullable
         from information_schema.columns
         where table_schema = $1 and table_name <> '_sqlx_migrations'",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    for row in columns {
        out.columns.insert(
            (row.try_get("table_name")?, row.try_get("column_name")?),
            (row.try_get("data_type")?, row.try_get("nullable")?),
        );
    }
    // Each kind with its definition as PostgreSQL writes it out; internal triggers (those of
    // foreign keys) come with their constraint, and an extension's functions are its own.
    let objects = sqlx::query(
        "select 'index' as kind, indexname::text as name, indexdef::text as definition
         from pg_indexes where schemaname = $1 and tablename <> '_sqlx_migrations'
         union all
         select 'trigger', t.tgname::text, pg_get_triggerdef(t.oid)
         from pg_trigger t join pg_class c on c.oid = t.tgrelid
              join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = $1 and not t.tgisinternal
         union all
         select 'function', p.proname::text, pg_get_functiondef(p.oid)
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = $1
           and not exists (select 1 from pg_depend d
                           where d.classid = 'pg_proc'::regclass and d.objid = p.oid
                             and d.deptype = 'e')",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    // Definitions name tables and functions with their schema; drop it so the two compare.
    let qualifiers = [format!("{schema}."), format!("\"{schema}\".")];
    for row in objects {
        let kind: String = row.try_get("kind")?;
        let object = match kind.as_str() {
            "index" => SchemaObject::Index,
            "trigger" => SchemaObject::Trigger,
            _ => SchemaObject::Function,
        };
        let mut definition: String = row.try_get("definition")?;
        for q in &qualifiers {
            definition = definition.replace(q.as_str(), "");
        }
        out.objects
            .insert((object, row.try_get("name")?), normalized(&definition));
    }
    Ok(out)
}

async fn postgres_applied(pool: &sqlx::PgPool) -> Result<Vec<Applied>, StoreError> {
    let exists: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "select version, description, checksum, success, installed_on
         from _sqlx_migrations order by version",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Applied {
                version: row.try_get("version")?,
                description: row.try_get("description")?,
                checksum: row.try_get("checksum")?,
                success: row.try_get("success")?,
                installed_on: row.try_get("installed_on")?,
            })
        })
        .collect()
}

async fn sqlite_schema(conn: &mut sqlx::SqliteConnection) -> Result<Schema, StoreError> {
    let mut out = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "select name from sqlite_master
         where type = 'table' and name not like 'sqlite\\_%' escape '\\' and name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for table in &tables {
        let columns =
            sqlx::query(r#"select name, type, "notnull" as not_null from pragma_table_info($1)"#)
                .bind(table)
                .fetch_all(&mut *conn)
                .await?;
        for row in columns {
            let not_null: i64 = row.try_get("not_null")?;
            let ty: String = row.try_get("type")?;
            out.columns.insert(
                (table.clone(), row.try_get("name")?),
                (ty.to_lowercase(), not_null == 0),
            );
        }
    }
    out.tables = tables.into_iter().collect();
    // Indexes SQLite makes itself (for primary keys and unique constraints) have no SQL.
    let objects = sqlx::query(
        "select type, name, sql from sqlite_master
         where type in ('index', 'trigger') and sql is not null and tbl_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in objects {
        let kind: String = row.try_get("type")?;
        let object = match kind.as_str() {
            "index" => SchemaObject::Index,
            _ => SchemaObject::Trigger,
        };
        let sql: String = row.try_get("sql")?;
        out.objects
            .insert((object, row.try_get("name")?), normalized(&sql));
    }
    Ok(out)
}

/// A definition with its runs of white space made one space.
fn normalized(definition: &str) -> String {
    definition.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn sqlite_applied(conn: &mut sqlx::SqliteConnection) -> Result<Vec<Applied>, StoreError> {
    let exists: bool = sqlx::query_scalar(
        "select count(*) > 0 from sqlite_master where type = 'table' and name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "select version, description, checksum, success, installed_on
         from _sqlx_migrations order by version",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Applied {
                version: row.try_get("version")?,
                description: row.try_get("description")?,
                checksum: row.try_get("checksum")?,
                success: row.try_get("success")?,
                installed_on: row.try_get("installed_on")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(columns: &[(&str, &str, &str, bool)], indexes: &[(&str, &str)]) -> Schema {
        Schema {
            tables: columns.iter().map(|c| c.0.to_owned()).collect(),
            columns: columns
                .iter()
                .map(|(t, c, ty, n)| ((t.to_string(), c.to_string()), (ty.to_string(), *n)))
                .collect(),
            objects: indexes
                .iter()
                .map(|(n, d)| ((SchemaObject::Index, n.to_string()), d.to_string()))
                .collect(),
        }
    }

    #[test]
    fn each_kind_of_difference_is_reported() {
        let expected = schema(
            &[
                ("jobs", "id", "uuid", false),
                ("jobs", "status", "text", false),
                ("jobs", "note", "text", true),
                ("users", "id", "uuid", false),
            ],
            &[
                ("a", "create index a on jobs (status)"),
                ("b", "create index b on jobs (id)"),
            ],
        );
        let live = schema(
            &[
                ("jobs", "id", "text", false),
                ("jobs", "status", "text", true),
                ("jobs", "extra", "int", true),
                ("other", "x", "int", true),
            ],
            &[
                ("a", "create index a on jobs (id)"),
                ("c", "create index c on jobs (x)"),
            ],
        );
        let diffs: Vec<String> = diff_schemas(&expected, &live)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            diffs,
            [
                "table users is missing",
                "table other is not in the migrations",
                "column jobs.id has type text, the migrations say uuid",
                "column jobs.note is missing",
                "column jobs.status is nullable, the migrations say not null",
                "column jobs.extra is not in the migrations",
                "index a is defined as create index a on jobs (id), the migrations say create index a on jobs (status)",
                "index b is missing (create index b on jobs (id))",
                "index c is not in the migrations (create index c on jobs (x))",
            ]
        );
        assert!(diff_schemas(&expected, &expected).is_empty());
    }
}
