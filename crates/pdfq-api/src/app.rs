//! [`Application`]: the API bound to its port, ready to serve until told to stop.

use std::future::Future;
use std::time::Duration;

use pdfq_queue::{Broker, Heartbeat, InstanceKind, QueueOptions, RedisBroker};
use pdfq_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::bootstrap::{BootstrapError, bootstrap_admin};
use crate::config::ApiConfig;
use crate::routes::router;
use crate::settings::Settings;
use crate::state::{AppState, hostname};

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Store(#[from] pdfq_store::StoreError),
    #[error("redis: {0}")]
    Queue(#[from] pdfq_queue::QueueError),
    #[error("file store: {0}")]
    FileStore(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("first admin: {0}")]
    Admin(#[from] BootstrapError),
}

/// The API, listening, not yet serving.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
}

impl Application {
    /// The distributed deployment: PostgreSQL and Redis from `config` (both connect lazily, so
    /// the API starts, and says so in its health check, while either is down). Applies the
    /// migrations when MIGRATE_ON_START is true; creates or promotes the first admin when
    /// PDFQ_ADMIN_EMAIL and PDFQ_ADMIN_PASSWORD are set (both need the database up).
    pub async fn build(config: ApiConfig) -> Result<Self, StartupError> {
        let files = pdfq_store::FileStore::from_config(&config.service.storage)
            .map_err(StartupError::FileStore)?;
        let store = Store::postgres(&config.database)?.with_file_store(files);
        let broker: Broker = RedisBroker::connect(&config.redis, QueueOptions::default())
            .await?
            .into();
        if config.migrate_on_start {
            store.migrate().await?;
            tracing::info!("database migrations applied");
        }
        if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
            let admin = bootstrap_admin(&store, &broker, email, password.expose()).await?;
            tracing::info!(email = %admin.email, "admin account ready");
        }
        Self::build_with(store, broker, Settings::from_config(&config)).await
    }

    /// The API over any store and broker (the embedded mode: SQLite and the in-process broker),
    /// bound to `settings.bind_addr` (port 0: a free port).
    pub async fn build_with(
        store: Store,
        broker: Broker,
        settings: Settings,
    ) -> Result<Self, StartupError> {
        let addr = settings.bind_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?
            .port();
        let (state, shutdown_tx) = AppState::new(store, broker, settings);
        Ok(Self {
            listener,
            port,
            state,
            shutdown_tx,
        })
    }

    /// The port actually bound.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (store, broker, settings), e.g. for a worker in the same process.
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, ends open event streams and lets
    /// in-flight requests finish. Writes this instance's heartbeat meanwhile.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            listener,
            state,
            shutdown_tx,
            ..
        } = self;
        let beat = tokio::spawn(heartbeat_loop(state.clone()));
        let app = router(state.clone());
        let tx = shutdown_tx.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = tx.send(true);
        };
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "pdfq-api listening");
        }
        // REQUEST_TIMEOUT also bounds reading a request's head (see `serve`).
        let served =
            crate::serve::serve(listener, app, signal, state.settings.request_timeout).await;
        let _ = shutdown_tx.send(true);
        beat.abort();
        if let Err(e) = state.broker.remove_heartbeat(&state.instance_id).await {
            tracing::debug!(error = %e, "could not remove the heartbeat");
        }
        served
    }
}

/// Every `heartbeat_interval`: this instance and its database pool, for the admin overview.
async fn heartbeat_loop(state: AppState) {
    let host = hostname();
    let mut tick = tokio::time::interval(state.settings.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let pool = state.store.pool_stats();
        let beat = Heartbeat {
            id: state.instance_id.clone(),
            kind: InstanceKind::Api,
            host: host.clone(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: state.started_at,
            concurrency: 0,
            busy: 0,
            current_jobs: Vec::new(),
            last_fetch_at: None,
            status: None,
            pool: Some(pool),
            rss_bytes: pdfq_queue::resident_memory_bytes(),
            draining: false,
        };
        match tokio::time::timeout(Duration::from_secs(5), state.broker.heartbeat(&beat)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "heartbeat not written"),
            Err(_) => tracing::debug!("heartbeat timed out"),
        }
    }
}

/// Completes on SIGTERM (what Railway and Docker send) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
