//! A distributed pdfq deployment on this machine: a throwaway PostgreSQL cluster and Redis
//! server (from `pdfq-test-support`, so restarting them or losing their data disturbs nothing
//! else), the `pdfq-api` binary and N `pdfq-worker` processes, all on loopback (or inside
//! whatever network namespace the caller runs in). Every process writes its log to one
//! directory; everything started is stopped on [`Deployment::shutdown`] or, on an error path,
//! when dropped.
//!
//! The chaos suite drives it; the load suite reuses it (N workers, any environment such as
//! `UPLOAD_RATE_LIMIT`, and [`Service::rss_kib`] to follow memory).

use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use pdfq_test_support::{PostgresServer, RedisServer};
use tokio::process::{Child, Command};

/// What to start.
#[derive(Debug, Clone)]
pub struct DeploymentOptions {
    /// Where `pdfq-api` and `pdfq-worker` are (e.g. `target/release`).
    pub bin_dir: PathBuf,
    /// Where each process's log goes (`api.log`, `worker-1.log`...); created when missing.
    pub log_dir: PathBuf,
    pub workers: usize,
    /// Extra environment of the API, applied after the defaults (so it overrides them).
    pub api_env: Vec<(String, String)>,
    /// Extra environment of every worker, applied after the defaults.
    pub worker_env: Vec<(String, String)>,
    /// How long the API may take to answer its health check at start-up.
    pub start_timeout: Duration,
}

impl DeploymentOptions {
    /// Two workers, default settings, logs in `log_dir`.
    #[must_use]
    pub fn new(bin_dir: impl Into<PathBuf>, log_dir: impl Into<PathBuf>) -> Self {
        Self {
            bin_dir: bin_dir.into(),
            log_dir: log_dir.into(),
            workers: 2,
            api_env: Vec::new(),
            worker_env: Vec::new(),
            start_timeout: Duration::from_secs(60),
        }
    }

    #[must_use]
    pub fn api_env(mut self, key: &str, value: &str) -> Self {
        self.api_env.push((key.to_owned(), value.to_owned()));
        self
    }

    #[must_use]
    pub fn worker_env(mut self, key: &str, value: &str) -> Self {
        self.worker_env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// The running deployment.
#[derive(Debug)]
pub struct Deployment {
    postgres: Option<Arc<PostgresServer>>,
    redis: Option<Arc<Mutex<RedisServer>>>,
    database_url: String,
    redis_url: String,
    api_url: String,
    admin_email: String,
    admin_password: String,
    pub api: Service,
    pub workers: Vec<Service>,
}

impl Deployment {
    /// Starts PostgreSQL and Redis, then the API (which migrates the database and creates the
    /// admin), waits until its health check answers 200, then starts the workers.
    pub async fn start(options: DeploymentOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&options.log_dir)
            .with_context(|| format!("creating {}", options.log_dir.display()))?;
        for binary in ["pdfq-api", "pdfq-worker"] {
            let path = options.bin_dir.join(binary);
            if !path.is_file() {
                bail!("{} not found: build it first", path.display());
            }
        }
        // The test-support servers panic with a clear message when they cannot start: run them
        // on the blocking pool, where a panic becomes an error here.
        let postgres = tokio::task::spawn_blocking(PostgresServer::start)
            .await
            .map_err(|e| anyhow::anyhow!("starting a throwaway PostgreSQL: {}", panic_text(e)))?;
        let redis = tokio::task::spawn_blocking(RedisServer::start)
            .await
            .map_err(|e| anyhow::anyhow!("starting a throwaway Redis: {}", panic_text(e)))?;
        let database_url = postgres.url();
        let redis_url = redis.url();
        let port = free_port()?;
        let api_url = format!("http://127.0.0.1:{port}");
        let admin_email = "admin@chaos.invalid".to_owned();
        let admin_password = format!("admin-{}", uuid::Uuid::new_v4().simple());
        let jwt_secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );

        let mut api_env: Vec<(String, String)> = [
            ("DATABASE_URL", database_url.as_str()),
            ("REDIS_URL", redis_url.as_str()),
            ("JWT_SECRET", jwt_secret.as_str()),
            ("PDFQ_ENV", "production"),
            ("PORT", &port.to_string()),
            ("BIND_ADDR", "127.0.0.1"),
            ("PDFQ_ADMIN_EMAIL", admin_email.as_str()),
            ("PDFQ_ADMIN_PASSWORD", admin_password.as_str()),
            ("MIGRATE_ON_START", "true"),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        api_env.extend(options.api_env.iter().cloned());
        let mut worker_env: Vec<(String, String)> = [
            ("DATABASE_URL", database_url.as_str()),
            ("REDIS_URL", redis_url.as_str()),
            ("RUST_LOG", "info"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        worker_env.extend(options.worker_env.iter().cloned());

        let mut deployment = Self {
            postgres: Some(Arc::new(postgres)),
            redis: Some(Arc::new(Mutex::new(redis))),
            database_url,
            redis_url,
            api_url,
            admin_email,
            admin_password,
            api: Service::new(
                "api",
                options.bin_dir.join("pdfq-api"),
                api_env,
                options.log_dir.join("api.log"),
            ),
            workers: (1..=options.workers)
                .map(|n| {
                    Service::new(
                        &format!("worker-{n}"),
                        options.bin_dir.join("pdfq-worker"),
                        worker_env.clone(),
                        options.log_dir.join(format!("worker-{n}.log")),
                    )
                })
                .collect(),
        };
        deployment.api.spawn()?;
        deployment.wait_for_api(options.start_timeout).await?;
        for worker in &mut deployment.workers {
            worker.spawn()?;
        }
        Ok(deployment)
    }

    async fn wait_for_api(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let client = pdfq_client::Client::new(&self.api_url)?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(health) = client.health().await
                && health.status == "healthy"
            {
                return Ok(());
            }
            if let Some(status) = self.api.exited() {
                bail!(
                    "pdfq-api exited at start-up ({status}); see {}",
                    self.api.log().display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "pdfq-api did not answer its health check within {timeout:?}; see {}",
                    self.api.log().display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    #[must_use]
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    #[must_use]
    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// The bootstrap admin's email and password.
    #[must_use]
    pub fn admin(&self) -> (&str, &str) {
        (&self.admin_email, &self.admin_password)
    }

    /// PostgreSQL's TCP port.
    pub fn postgres_port(&self) -> anyhow::Result<u16> {
        port_of(&self.database_url)
    }

    pub fn redis_port(&self) -> anyhow::Result<u16> {
        port_of(&self.redis_url)
    }

    /// A fast shutdown of PostgreSQL (every connection cut) and a start on the same data.
    pub async fn restart_postgres(&self) -> anyhow::Result<()> {
        let postgres = self.postgres()?;
        tokio::task::spawn_blocking(move || postgres.restart())
            .await
            .map_err(|e| anyhow::anyhow!("restarting PostgreSQL: {}", panic_text(e)))
    }

    /// A fast shutdown of PostgreSQL: unreachable until [`Deployment::start_postgres`].
    pub async fn stop_postgres(&self) -> anyhow::Result<()> {
        let postgres = self.postgres()?;
        tokio::task::spawn_blocking(move || postgres.stop())
            .await
            .map_err(|e| anyhow::anyhow!("stopping PostgreSQL: {}", panic_text(e)))
    }

    pub async fn start_postgres(&self) -> anyhow::Result<()> {
        let postgres = self.postgres()?;
        tokio::task::spawn_blocking(move || postgres.start_again())
            .await
            .map_err(|e| anyhow::anyhow!("starting PostgreSQL again: {}", panic_text(e)))
    }

    /// Kills Redis (SIGKILL, no persistence: every key is gone) and starts an empty one on the
    /// same port.
    pub async fn restart_redis_empty(&self) -> anyhow::Result<()> {
        let redis = self.redis.clone().context("Redis is stopped")?;
        tokio::task::spawn_blocking(move || {
            let mut redis = redis
                .lock()
                .map_err(|_| anyhow::anyhow!("the Redis handle is poisoned"))?;
            redis.restart_empty();
            Ok::<_, anyhow::Error>(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("restarting Redis: {}", panic_text(e)))?
    }

    fn postgres(&self) -> anyhow::Result<Arc<PostgresServer>> {
        self.postgres.clone().context("PostgreSQL is stopped")
    }

    /// Stops the workers (SIGTERM: they drain), then the API, then Redis and PostgreSQL.
    /// Returns how each process ended.
    pub async fn shutdown(mut self) -> Vec<(String, Option<ExitStatus>)> {
        let mut ended = Vec::new();
        for worker in &mut self.workers {
            let status = worker.stop(Duration::from_secs(20)).await;
            ended.push((worker.name().to_owned(), status));
        }
        let status = self.api.stop(Duration::from_secs(15)).await;
        ended.push(("api".to_owned(), status));
        let postgres = self.postgres.take();
        let redis = self.redis.take();
        let _ = tokio::task::spawn_blocking(move || {
            drop(redis);
            drop(postgres);
        })
        .await;
        ended
    }
}

/// One process of the deployment (the API or a worker), restartable, logging to a file.
#[derive(Debug)]
pub struct Service {
    name: String,
    program: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    pid: Option<u32>,
    starts: u32,
    /// Process groups of extraction children whose worker was killed: killed at the end if
    /// still alive (they normally die on their own when their pipes close).
    orphans: Vec<u32>,
}

impl Service {
    fn new(name: &str, program: PathBuf, env: Vec<(String, String)>, log: PathBuf) -> Self {
        Self {
            name: name.to_owned(),
            program,
            env,
            log,
            child: None,
            pid: None,
            starts: 0,
            orphans: Vec::new(),
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[must_use]
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The running process's id.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// How many times it was started.
    #[must_use]
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Its resident memory in KiB, from `/proc`.
    #[must_use]
    pub fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(crate::procfs::rss_kib)
    }

    /// Starts the process (appending to its log).
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("{} is already running", self.name);
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut command = Command::new(&self.program);
        command
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        self.pid = child.id();
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// Sends `signal` to the running process.
    pub fn signal(&self, signal: Signal) -> anyhow::Result<()> {
        let pid = self
            .pid
            .with_context(|| format!("{} is not running", self.name))?;
        kill(pid_of(pid)?, signal).with_context(|| format!("sending {signal} to {}", self.name))
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("{} is not running", self.name);
        };
        if let Some(pid) = self.pid.take() {
            self.orphans.extend(crate::procfs::children(pid));
        }
        child.start_kill().ok();
        child
            .wait()
            .await
            .with_context(|| format!("waiting for {} to die", self.name))?;
        Ok(())
    }

    /// Kills the process if it runs, then starts it again.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            self.kill().await?;
        }
        self.spawn()
    }

    /// The exit status, when the process has ended on its own.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGCONT (in case it is stopped) and SIGTERM; SIGKILL after `grace`. `None` when it was
    /// not running.
    pub async fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Some(pid) = self.pid.take()
            && let Ok(pid) = pid_of(pid)
        {
            let _ = kill(pid, Signal::SIGCONT);
            let _ = kill(pid, Signal::SIGTERM);
        }
        let status = match tokio::time::timeout(grace, child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                eprintln!(
                    "pdfq-chaos: {} did not stop within {grace:?}; killing it",
                    self.name
                );
                let _ = child.start_kill();
                child.wait().await.ok()
            }
        };
        self.reap_orphans();
        status
    }

    fn reap_orphans(&mut self) {
        for group in self.orphans.drain(..) {
            if crate::procfs::alive(group)
                && let Ok(pid) = pid_of(group)
            {
                // The extraction child leads its own process group.
                let _ = killpg(pid, Signal::SIGKILL);
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(pid) = self.pid
            && let Ok(pid) = pid_of(pid)
        {
            // A stopped process still dies of SIGKILL (kill_on_drop), but continue it anyway.
            let _ = kill(pid, Signal::SIGCONT);
        }
        self.reap_orphans();
    }
}

fn pid_of(pid: u32) -> anyhow::Result<Pid> {
    Ok(Pid::from_raw(
        i32::try_from(pid).context("process id out of range")?,
    ))
}

/// A free TCP port on loopback (in the current network namespace).
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn port_of(url: &str) -> anyhow::Result<u16> {
    url.rsplit_once(':')
        .and_then(|(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse().ok())
        })
        .with_context(|| format!("no port in {url}"))
}

fn panic_text(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".to_owned()),
        Err(e) => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_from_urls() {
        assert_eq!(
            port_of("postgres://root@127.0.0.1:5433/test").ok(),
            Some(5433)
        );
        assert_eq!(port_of("redis://127.0.0.1:6390").ok(), Some(6390));
        assert!(port_of("redis://localhost").is_err());
    }
}
