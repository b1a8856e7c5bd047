//! The pdfq-worker binary: runs jobs until SIGTERM or SIGINT; `pdfq-worker extract-child` is
//! the isolated extraction process it starts for each job.

use std::process::ExitCode;

use anyhow::Context as _;
use pdfq_queue::{Broker, RedisBroker};
use pdfq_store::Store;
use pdfq_worker::{Extractor, Worker, WorkerConfig, WorkerSettings};

/// The subcommand the worker re-executes itself with for each extraction.
const CHILD_SUBCOMMAND: &str = "extract-child";

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == CHILD_SUBCOMMAND)
    {
        return pdfq_extract::child_main();
    }
    let config = match WorkerConfig::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("pdfq-worker: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pdfq-worker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("pdfq-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: WorkerConfig) -> anyhow::Result<()> {
    let files = pdfq_store::FileStore::from_config(&config.storage).map_err(anyhow::Error::msg)?;
    let store = Store::postgres(&config.database)
        .context("opening the database pool")?
        .with_file_store(files);
    let broker: Broker = RedisBroker::connect(&config.redis, config.queue_options())
        .await
        .context("configuring Redis")?
        .into();
    let extractor = Extractor::current_exe(
        CHILD_SUBCOMMAND,
        config.isolation_limits(),
        config.jobs.extract_child_jobs,
        config.concurrency,
    )
    .context("locating this executable")?;
    extractor.prestart();
    let worker = Worker::new(
        store,
        broker,
        WorkerSettings::from_config(&config, extractor),
    );
    worker.run(shutdown_signal()).await
}

/// SIGTERM (Railway, Docker, systemd) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}

/// Log lines go to stdout: Railway shows every line a service writes to stderr as an error.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT")
        .map(|f| f == "json")
        .unwrap_or(false);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
