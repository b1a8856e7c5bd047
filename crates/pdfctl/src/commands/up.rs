//! `pdfctl up`: the API and a worker in one process. On SQLite and the in-process queue by
//! default (nothing to install); on PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};

use pdfq_api::{Application, ServiceConfig, Settings};
use pdfq_domain::limits::RateLimit;
use pdfq_domain::secret::Secret;
use pdfq_queue::{Broker, RedisBroker, RedisConfig};
use pdfq_store::{DatabaseConfig, Store};
use pdfq_worker::{Extractor, JobConfig, Worker, WorkerSettings};
use tokio::sync::watch;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the embedded database and the local credentials live.
    #[arg(long, env = "PDFQ_DATA_DIR", default_value = ".pdfq")]
    data_dir: PathBuf,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    port: u16,
    /// Address to listen on (127.0.0.1: this machine only; `::` for every interface).
    #[arg(long, env = "BIND_ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Jobs the embedded worker runs at once.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 2)]
    concurrency: usize,
    /// Use this PostgreSQL instead of the embedded SQLite (needs REDIS_URL too).
    #[arg(
        long,
        env = "DATABASE_URL",
        requires = "redis_url",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Use this Redis instead of the in-process queue (needs DATABASE_URL too).
    #[arg(
        long,
        env = "REDIS_URL",
        requires = "database_url",
        hide_env_values = true
    )]
    redis_url: Option<String>,
    /// The API's limits and HTTP settings, the same variables as pdfq-api reads.
    #[command(flatten)]
    service: ServiceConfig,
    /// How the embedded worker runs jobs, the same variables as pdfq-worker reads.
    #[command(flatten)]
    jobs: JobConfig,
}

/// Uploads per user when UPLOAD_RATE_LIMIT is unset: a first-time user trying pdfq on their own
/// machine should not meet the production limit at the eleventh file.
const EMBEDDED_UPLOADS: RateLimit = RateLimit {
    max: 100,
    window: std::time::Duration::from_secs(3600),
};

/// The local administrator `pdfctl up` creates on first start.
const ADMIN_EMAIL: &str = "admin@pdfq.local";

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    init_tracing();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: &Args) -> anyhow::Result<()> {
    args.service
        .validate()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    args.jobs.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let data_dir = private_dir(&args.data_dir)?;

    let (store, broker, where_data_lives) = match (&args.database_url, &args.redis_url) {
        (Some(database_url), Some(redis_url)) => {
            let store =
                Store::postgres(&DatabaseConfig::for_url(database_url)).context("DATABASE_URL")?;
            let redis = RedisConfig::for_url(redis_url, "pdfq");
            let broker: Broker = RedisBroker::connect(&redis, args.jobs.queue_options())
                .await
                .context("REDIS_URL")?
                .into();
            (
                store,
                broker,
                "PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)".to_owned(),
            )
        }
        _ => {
            let file = data_dir.join("pdfq.db");
            let store = Store::sqlite(&file)
                .await
                .with_context(|| format!("cannot open {}", file.display()))?;
            (
                store,
                Broker::from(pdfq_queue::MemoryBroker::new(args.jobs.queue_options())),
                format!("{} (SQLite) and an in-process queue", file.display()),
            )
        }
    };
    let files =
        pdfq_store::FileStore::from_config(&args.service.storage).map_err(anyhow::Error::msg)?;
    let store = store.with_file_store(files);
    store
        .migrate()
        .await
        .context("applying the database migrations")?;

    // The SQLite file and its -wal/-shm exist now: private, whatever the umask made them.
    private_files(&data_dir)?;

    let (jwt_secret, _) = persistent_secret(&data_dir.join("jwt-secret"), 64)?;
    let (admin_password, generated) = persistent_secret(&data_dir.join("admin-password"), 24)?;
    pdfq_api::bootstrap_admin(&store, &broker, ADMIN_EMAIL, admin_password.expose())
        .await
        .context("creating the local admin")?;

    let mut settings = Settings::new(jwt_secret);
    settings.bind_addr = SocketAddr::new(args.bind, args.port);
    settings.upload_rate_limit = EMBEDDED_UPLOADS;
    settings.apply(&args.service);
    settings.reserve_email(ADMIN_EMAIL);
    let app = Application::build_with(store.clone(), broker.clone(), settings)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{} (is another pdfq running? try --port)",
                args.bind, args.port
            )
        })?;

    let extractor = Extractor::current_exe(
        crate::EXTRACT_CHILD,
        args.jobs.isolation_limits(),
        args.jobs.extract_child_jobs,
        u32::try_from(args.concurrency.max(1)).unwrap_or(u32::MAX),
    )
    .context("cannot find pdfctl's own executable")?;
    extractor.prestart();
    let mut worker_settings = WorkerSettings {
        concurrency: args.concurrency.max(1),
        file_retention: args.service.storage.file_retention,
        job_retention: args.service.storage.job_retention,
        ..WorkerSettings::from_jobs(&args.jobs, extractor)
    };
    // RESULT_TTL is read once, by the API's settings, for both.
    if let Some(ttl) = args.service.result_ttl {
        worker_settings.result_ttl = ttl;
    }
    // The same WEBHOOK_ALLOW_PRIVATE as the API's: registration and delivery agree.
    worker_settings.webhooks.allow_private = args.service.webhook_allow_private.unwrap_or(false);
    let worker = Worker::new(store.clone(), broker, worker_settings);

    let host = match args.bind {
        IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    let url = format!("http://{host}:{}", app.port());
    println!(
        "pdfq is up at {url}  (API reference: {url}/api/v1/docs, health: {url}/api/v1/health)"
    );
    println!("data: {where_data_lives}");
    let password_file = data_dir.join("admin-password");
    if generated {
        println!(
            "admin: {ADMIN_EMAIL} / {}  (generated now; kept in {}, readable only by you)",
            admin_password.expose(),
            password_file.display()
        );
    } else {
        println!(
            "admin: {ADMIN_EMAIL}, password in {}",
            password_file.display()
        );
    }
    println!(
        "try:   pdfctl --api-url {url} login --email {ADMIN_EMAIL}   then   pdfctl submit FILE.pdf --wait"
    );
    println!("Ctrl-C stops it.");

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    tokio::spawn(async move {
        pdfq_api::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let (served, worked) = tokio::join!(
        app.run_until_stopped(stopped(stop_rx.clone())),
        worker.run(stopped(stop_rx)),
    );
    served.context("the API stopped with an error")?;
    worked.context("the worker stopped with an error")?;
    store.close().await;
    println!("pdfq stopped cleanly.");
    Ok(())
}

/// A random hex secret of `len` characters kept in `path` (mode 0600), so tokens and the admin
/// password survive restarts; `true` when it was generated now. A kept secret shorter than
/// `len` or with fewer than [`MIN_DISTINCT`] distinct characters (typed by hand, truncated,
/// a repeated pattern) is refused: whoever could guess it could sign tokens or log in as the
/// admin.
fn persistent_secret(path: &Path, len: usize) -> anyhow::Result<(Secret, bool)> {
    match std::fs::read_to_string(path) {
        Ok(existing) => {
            restrict(path, 0o600)?;
            let existing = existing.trim();
            let distinct = distinct_chars(existing);
            if existing.len() < len || distinct < MIN_DISTINCT {
                anyhow::bail!(
                    "{} holds a weak secret ({} characters, {distinct} distinct; at least {len} random ones are needed): delete the file and pdfctl up makes a new one{}",
                    path.display(),
                    existing.len(),
                    if path.ends_with("jwt-secret") {
                        " (everyone then logs in again)"
                    } else {
                        ""
                    }
                );
            }
            return Ok((Secret::new(existing.to_owned()), false));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    // Drawn again in the rare case a random one would fail the rule above on the next start.
    let secret = loop {
        let random = pdfq_api::settings::random_secret();
        let secret = random
            .expose()
            .get(..len)
            .unwrap_or(random.expose())
            .to_owned();
        if distinct_chars(&secret) >= MIN_DISTINCT {
            break secret;
        }
    };
    write_private(path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((Secret::new(secret), true))
}

/// Distinct characters a kept secret needs: a random hex secret of 24 characters has about 12,
/// and fewer than 8 with a chance of 1 in 37,000 (such draws are not kept).
const MIN_DISTINCT: usize = 8;

fn distinct_chars(s: &str) -> usize {
    s.chars().collect::<std::collections::HashSet<_>>().len()
}

/// Creates `dir` (and its parents) if missing and makes it 0700: it holds every uploaded PDF,
/// email and password hash.
fn private_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    restrict(dir, 0o700)?;
    Ok(dir.canonicalize().unwrap_or_else(|_| dir.to_owned()))
}

/// Every file directly in `dir` made 0600 (the database and its journal files, secrets).
fn private_files(dir: &Path) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            restrict(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

/// Sets `path`'s permission bits to `mode` when they allow more.
fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.permissions().mode() & 0o777 & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).with_context(
            || {
                format!(
                    "cannot make {} private (chmod {mode:o}); fix its owner or permissions",
                    path.display()
                )
            },
        )?;
    }
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

fn init_tracing() {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    // Colours only for a person at a terminal: in a file or a log collector they are noise.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
