//! Migration verification against real databases: a clean one agrees with the migrations, and a
//! dropped column, a changed type, an extra index and missing or edited migrations are each
//! reported.

#![allow(clippy::unwrap_used)] // tests may unwrap (clippy.toml); this covers their helper functions too

mod common;

use common::Harness;
use pdfq_store::{SchemaDifference, SchemaObject, Store};

fn has(diffs: &[SchemaDifference], wanted: &SchemaDifference) -> bool {
    diffs.contains(wanted)
}

async fn exec(store: &Store, sql: &str) {
    match store {
        Store::Postgres(s) => {
            sqlx::raw_sql(sql).execute(s.pool()).await.unwrap();
        }
        Store::Sqlite(s) => {
            sqlx::raw_sql(sql).execute(s.pool()).await.unwrap();
        }
    }
}

async fn damage_is_reported(h: &Harness) {
    let store = &h.store;
    let clean = store.verify_schema().await.unwrap();
    assert!(clean.is_empty(), "{clean:#?}");
    let status = store.migration_status().await.unwrap();
    assert!(!status.is_empty());
    assert!(
        status
            .iter()
            .all(|m| m.applied_at.is_some() && !m.checksum_mismatch)
    );

    exec(store, "alter table jobs drop column worker_id").await;
    exec(store, "create index jobs_file_name_idx on jobs (file_name)").await;
    exec(store, "alter table job_events add column extra integer").await;
    exec(store, "delete from _sqlx_migrations").await;
    // The trigger that deletes a deleted job's sentences (they have no foreign key).
    exec(
        store,
        match store {
            Store::Postgres(_) => "drop trigger jobs_delete_sentences on jobs",
            Store::Sqlite(_) => "drop trigger jobs_delete_sentences",
        },
    )
    .await;
    let diffs = store.verify_schema().await.unwrap();
    let shown: Vec<String> = diffs.iter().map(ToString::to_string).collect();
    assert!(
        has(
            &diffs,
            &SchemaDifference::MissingColumn {
                table: "jobs".into(),
                column: "worker_id".into()
            }
        ),
        "{shown:#?}"
    );
    assert!(
        diffs.iter().any(|d| matches!(d, SchemaDifference::ExtraObject { object: SchemaObject::Index, name, .. } if name == "jobs_file_name_idx")),
        "{shown:#?}"
    );
    assert!(
        has(
            &diffs,
            &SchemaDifference::ExtraColumn {
                table: "job_events".into(),
                column: "extra".into(),
            }
        ),
        "{shown:#?}"
    );
    assert!(
        diffs.iter().any(|d| matches!(
            d,
            SchemaDifference::MigrationPending {
                version: 20261129000001,
                ..
            }
        )),
        "{shown:#?}"
    );
    assert!(
        diffs.iter().any(|d| matches!(d, SchemaDifference::MissingObject { object: SchemaObject::Trigger, name, .. } if name == "jobs_delete_sentences")),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|s| s == "column jobs.worker_id is missing"),
        "{shown:#?}"
    );
    let status = store.migration_status().await.unwrap();
    assert!(status.iter().all(|m| m.applied_at.is_none()), "{status:?}");
}

#[tokio::test]
async fn postgres_differences_are_reported() {
    let h = Harness::postgres().await;
    damage_is_reported(&h).await;
    // A changed type and nullability on an existing column.
    exec(
        &h.store,
        "alter table jobs alter column file_name type varchar(20)",
    )
    .await;
    exec(
        &h.store,
        "alter table jobs alter column error_code set not null",
    )
    .await;
    // A trigger's body replaced by one that does nothing: the trigger itself is unchanged.
    exec(
        &h.store,
        "create or replace function delete_sentences_of_deleted_jobs() returns trigger
         language plpgsql as $$ begin return null; end $$",
    )
    .await;
    let diffs = h.store.verify_schema().await.unwrap();
    assert!(
        diffs.iter().any(|d| matches!(d, SchemaDifference::ObjectDefinition { object: SchemaObject::Function, name, .. } if name == "delete_sentences_of_deleted_jobs")),
        "{diffs:#?}"
    );
    assert!(
        diffs.contains(&SchemaDifference::ColumnType {
            table: "jobs".into(),
            column: "file_name".into(),
            expected: "text".into(),
            found: "character varying".into(),
        }),
        "{diffs:#?}"
    );
    assert!(
        diffs.contains(&SchemaDifference::ColumnNullability {
            table: "jobs".into(),
            column: "error_code".into(),
            expected_nullable: true,
        }),
        "{diffs:#?}"
    );
    // The scratch schema is always dropped.
    let left: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.schemata where schema_name like 'pdfq_verify_%'",
    )
    .fetch_one(&h.pg().pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn postgres_edited_and_unknown_migrations_are_reported() {
    let h = Harness::postgres().await;
    exec(
        &h.store,
        "update _sqlx_migrations set checksum = '\\x00'::bytea",
    )
    .await;
    exec(
        &h.store,
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (29990101000000, 'from the future', true, '\\x01'::bytea, 1)",
    )
    .await;
    let diffs = h.store.verify_schema().await.unwrap();
    assert!(
        diffs.iter().any(|d| matches!(
            d,
            SchemaDifference::MigrationChecksum {
                version: 20261129000001,
                ..
            }
        )),
        "{diffs:#?}"
    );
    assert!(
        diffs.iter().any(|d| matches!(
            d,
            SchemaDifference::MigrationUnknown {
                version: 29990101000000,
                ..
            }
        )),
        "{diffs:#?}"
    );
    assert!(h.store.migration_status().await.unwrap()[0].checksum_mismatch);
}

#[tokio::test]
async fn postgres_an_empty_database_misses_everything() {
    let db = pdfq_test_support::TestDatabase::empty().await;
    let store = Store::postgres(&pdfq_store::DatabaseConfig::for_url(&db.url)).unwrap();
    let diffs = store.verify_schema().await.unwrap();
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
            diffs.contains(&SchemaDifference::MissingTable {
                table: table.into()
            }),
            "{table}: {diffs:#?}"
        );
    }
    store.migrate().await.unwrap();
    assert!(store.verify_schema().await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_differences_are_reported() {
    let h = Harness::sqlite().await;
    damage_is_reported(&h).await;
}

#[tokio::test]
async fn sqlite_edited_migrations_are_reported() {
    let h = Harness::sqlite().await;
    exec(&h.store, "update _sqlx_migrations set checksum = x'00'").await;
    let diffs = h.store.verify_schema().await.unwrap();
    assert!(
        diffs
            .iter()
            .any(|d| matches!(d, SchemaDifference::MigrationChecksum { .. })),
        "{diffs:#?}"
    );
}
