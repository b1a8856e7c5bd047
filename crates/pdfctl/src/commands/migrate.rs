//! `pdfctl migrate run|status|verify`: the database schema, directly on DATABASE_URL.

use std::process::ExitCode;

use anyhow::Context as _;
use pdfq_store::{MigrationStatus, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// The database: a PostgreSQL URL, or `sqlite:PATH` for an embedded store.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    database_url: Option<String>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Apply every pending migration.
    Run,
    /// List the migrations and whether each is applied.
    Status,
    /// Compare the live schema with the migrations (tables, columns, types, indexes, triggers
    /// and functions, applied versions and checksums); exits 1 on any difference.
    Verify,
}

pub async fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let url = args.database_url.as_deref().context(
        "DATABASE_URL is not set: pass --database-url or set DATABASE_URL (postgres://... or sqlite:PATH)",
    )?;
    let url = if url.starts_with("sqlite:") {
        url.to_owned()
    } else {
        pdfq_store::normalize_database_url(url).map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?
    };
    let store = Store::connect(&url).await.context("opening the database")?;
    let shown = pdfq_domain::secret::redact_url(&url);
    let code = match args.action {
        Action::Run => {
            store
                .migrate()
                .await
                .with_context(|| format!("migrating {shown}"))?;
            let applied = store
                .migration_status()
                .await?
                .iter()
                .filter(|m| m.applied_at.is_some())
                .count();
            if args.json {
                println!("{}", serde_json::json!({"applied": applied}));
            } else {
                println!("{shown}: {applied} migrations applied, none pending");
            }
            ExitCode::SUCCESS
        }
        Action::Status => {
            let migrations = store
                .migration_status()
                .await
                .with_context(|| format!("reading {shown}"))?;
            print_status(&migrations, args.json);
            let pending = migrations.iter().filter(|m| m.applied_at.is_none()).count();
            let changed = migrations.iter().filter(|m| m.checksum_mismatch).count();
            // The exit status says "not up to date"; stderr says why, even under --json.
            if pending > 0 {
                eprintln!(
                    "pdfctl: {pending} migration(s) pending on {shown}; apply them with `pdfctl migrate run`"
                );
            }
            if changed > 0 {
                eprintln!(
                    "pdfctl: {changed} applied migration(s) differ from their files (edited after being applied); restore the files, `pdfctl migrate verify` compares the schema"
                );
            }
            if pending + changed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Action::Verify => {
            let differences = store
                .verify_schema()
                .await
                .with_context(|| format!("verifying {shown}"))?;
            if args.json {
                let list: Vec<String> = differences.iter().map(ToString::to_string).collect();
                println!(
                    "{}",
                    serde_json::json!({"ok": list.is_empty(), "differences": list})
                );
            } else if differences.is_empty() {
                println!("{shown}: the schema matches the migrations");
            } else {
                println!(
                    "{shown}: {} differences from the migrations:",
                    differences.len()
                );
                for difference in &differences {
                    println!("  - {difference}");
                }
                println!(
                    "fix: `pdfctl migrate run` applies pending migrations; other differences were made by hand"
                );
            }
            if differences.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    };
    store.close().await;
    Ok(code)
}

fn print_status(migrations: &[MigrationStatus], json: bool) {
    if json {
        let list: Vec<_> = migrations
            .iter()
            .map(|m| {
                serde_json::json!({
                    "version": m.version,
                    "description": m.description,
                    "applied": m.applied_at.is_some(),
                    "checksum_mismatch": m.checksum_mismatch,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return;
    }
    println!("{:<16} {:<10} description", "version", "state");
    for m in migrations {
        let state = match (m.applied_at.is_some(), m.checksum_mismatch) {
            (true, false) => "applied",
            (true, true) => "CHANGED",
            (false, _) => "pending",
        };
        println!("{:<16} {:<10} {}", m.version, state, m.description);
    }
}
