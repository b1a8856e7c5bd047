//! `pdfctl doctor`: the original design's troubleshoot.py, grown up. Every check says ok, warn
//! or fail, what it saw and the fix; --json; exit 1 on any failure; no secret is ever printed.

mod api;
mod database;
mod env;
mod queue;
mod redis;
pub mod report;
mod storage;

use std::process::ExitCode;

use report::{Level, Report};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Checks, in order:
  env       DATABASE_URL and REDIS_URL present and well-formed; JWT_SECRET at least 32 bytes
            and not a placeholder (read from the environment only, never from a flag)
  database  reachable and latency; TLS in use for a non-local host; server version;
            max_connections (and, on Supabase's session pooler, its client limit) against
            (API replicas + workers + a redeploy's overlap) x (DB_POOL_SIZE + DB_MAX_OVERFLOW)
            + 2 for pdfctl; migrations applied and the schema verified; Supabase: the
            transaction poolers on port 6543 (shared, and the dedicated PgBouncer on
            db.<ref>.supabase.co) refused, IPv6-only db.<ref>.supabase.co
  redis     reachable and latency; TLS; maxmemory-policy noeviction; persistence; memory
  queue     live worker heartbeats; running jobs with a stale heartbeat; dead letters and
            whether they still grow; age of the oldest waiting job; paused
  storage   STORAGE_URL (a bucket is written to and deleted from), FILE_RETENTION and
            JOB_RETENTION, the per-user quotas, the database's size against
            DATABASE_SIZE_LIMIT (warn from 80%)
  api       GET /api/v1/health from here (--no-api skips it)

Each line: ok, warn, FAIL or skip, what was seen, and the fix. Exit status 1 on any FAIL.
Passwords and JWT_SECRET are never printed.

Example, against a Railway deployment from a laptop:
  DATABASE_URL=... REDIS_URL=... JWT_SECRET=... pdfctl --api-url https://pdfq.up.railway.app \\
    doctor --api-replicas 2 --workers 3")]
pub struct Args {
    /// The database to check (PostgreSQL URL, or sqlite:PATH).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The Redis to check.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// Whether the deployment connects to Redis with TLS.
    #[arg(long, env = "REDIS_TLS", default_value_t = false, action = clap::ArgAction::Set)]
    redis_tls: bool,
    /// The deployment's Redis key prefix.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "pdfq")]
    redis_key_prefix: String,
    /// API replicas, for the database connection budget.
    #[arg(long, default_value_t = 1)]
    api_replicas: u32,
    /// Worker replicas, for the database connection budget.
    #[arg(long, default_value_t = 1)]
    workers: u32,
    /// Each process's pool size, as the deployment sets it.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 10)]
    db_pool_size: u32,
    /// Each process's overflow, as the deployment sets it.
    #[arg(long, env = "DB_MAX_OVERFLOW", default_value_t = 5)]
    db_max_overflow: u32,
    /// The session pooler's client limit (Supabase: its pool size, 15 on small projects),
    /// checked when DATABASE_URL is Supabase's session pooler.
    #[arg(long, env = "DB_POOLER_MAX_CLIENTS", default_value_t = 15)]
    pooler_max_clients: u32,
    /// Processes a redeploy runs next to the new ones (default: the larger of --api-replicas
    /// and --workers).
    #[arg(long)]
    redeploy_overlap: Option<u32>,
    /// Where files are kept and for how long, and the quotas, as the deployment sets them.
    #[command(flatten)]
    storage: pdfq_store::StorageConfig,
    /// The database plan's size limit (Supabase's free plan: 500MB); the size warns from 80%
    /// of it. `none` for no limit.
    #[arg(long, env = "DATABASE_SIZE_LIMIT", default_value = "500MB", value_parser = parse_size_limit)]
    database_size_limit: SizeLimit,
    /// Do not check the API (e.g. before it is deployed).
    #[arg(long)]
    no_api: bool,
    /// Print JSON: {"ok", "summary", "checks": [{section, name, level, saw, fix}]}.
    #[arg(long)]
    json: bool,
}

/// What the checks look at. JWT_SECRET is read from the environment only, never from a flag,
/// so it does not end up in shell history or `ps`.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub redis_tls: bool,
    pub redis_key_prefix: String,
    pub jwt_secret: Option<String>,
    pub api_replicas: u32,
    pub workers: u32,
    pub db_pool_size: u32,
    pub db_max_overflow: u32,
    pub pooler_max_clients: u32,
    pub redeploy_overlap: Option<u32>,
    pub storage: pdfq_store::StorageConfig,
    /// `None`: no limit to compare the database's size with.
    pub database_size_limit: Option<u64>,
}

/// DATABASE_SIZE_LIMIT: bytes, or none.
#[derive(Debug, Clone, Copy)]
struct SizeLimit(Option<u64>);

fn parse_size_limit(raw: &str) -> Result<SizeLimit, String> {
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(SizeLimit(None));
    }
    pdfq_domain::limits::parse_bytes(raw)
        .map(|n| SizeLimit(Some(n)))
        .map_err(|e| format!("{e}, or `none`"))
}

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let inputs = Inputs {
        database_url: nonempty(&args.database_url),
        redis_url: nonempty(&args.redis_url),
        redis_tls: args.redis_tls,
        redis_key_prefix: args.redis_key_prefix.clone(),
        jwt_secret: std::env::var("JWT_SECRET").ok().filter(|s| !s.is_empty()),
        api_replicas: args.api_replicas,
        workers: args.workers,
        db_pool_size: args.db_pool_size,
        db_max_overflow: args.db_max_overflow,
        pooler_max_clients: args.pooler_max_clients,
        redeploy_overlap: args.redeploy_overlap,
        storage: args.storage.clone(),
        database_size_limit: args.database_size_limit.0,
    };
    let report = diagnose(api_url, &inputs, !args.no_api).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        print!("{}", report.text());
    }
    Ok(if report.worst() == Level::Fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Every check, in the order an operator would look.
pub async fn diagnose(api_url: &str, inputs: &Inputs, check_api: bool) -> Report {
    let mut report = Report::default();
    for url in [&inputs.database_url, &inputs.redis_url]
        .into_iter()
        .flatten()
    {
        report.secret_url(url);
    }
    if let Some(secret) = &inputs.jwt_secret {
        report.secret(secret);
    }
    report.add(env::check(inputs));
    let (database, store) = database::check(inputs).await;
    report.add(database);
    let (redis, broker) = redis::check(inputs).await;
    report.add(redis);
    report.add(queue::check(broker.as_ref(), store.as_ref()).await);
    report.add(storage::check(inputs, store.as_ref()).await);
    if check_api {
        report.add(api::check(api_url).await);
    }
    if let Some(store) = store {
        store.close().await;
    }
    report
}
