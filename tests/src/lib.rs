//! The end-to-end harness: [`TestApp`] runs the API on a free port, over its own PostgreSQL
//! database and Redis key prefix ([`Backend::Distributed`]) or over a temporary SQLite file and
//! the in-process broker ([`Backend::Embedded`]), and talks to it through `pdfq-client`.
//! [`on_both_backends!`] runs one test body against both.

pub mod openapi_tools;
pub mod pdf;
pub mod worker;

use std::time::Duration;

use pdfq_api::{Application, Settings};
use pdfq_client::Client;
use pdfq_client::types::TokenPair;
use pdfq_domain::secret::Secret;
use pdfq_domain::{CurrentStep, JobId, Progress, UserId, WorkerId};
use pdfq_queue::{Broker, QueueOptions, RedisBroker};
use pdfq_store::{ChunkResult, Sentence, Store};
use pdfq_test_support::{TestDatabase, TestRedis};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which store and broker the API runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL and Redis, as deployed.
    Distributed,
    /// SQLite and the in-process broker, as `pdfctl up` runs.
    Embedded,
}

/// The signing key of every test app, so tests can forge tokens against it.
pub const JWT_SECRET: &str = "e2e-test-secret-0123456789abcdef0123456789";

/// Settings for tests: a free port, quick progress polling and heartbeats.
#[must_use]
pub fn test_settings() -> Settings {
    let mut settings = Settings::new(Secret::new(JWT_SECRET.to_owned()));
    settings.bind_addr = "127.0.0.1:0".parse().expect("a literal address");
    settings.events_poll_interval = Duration::from_millis(50);
    settings.heartbeat_interval = Duration::from_millis(200);
    // Every test user registers from 127.0.0.1; tests of the limit set it lower.
    settings.register_rate_limit = "100000/hour".parse().expect("a literal limit");
    settings
}

/// A running API and what it runs on.
#[derive(Debug)]
pub struct TestApp {
    pub backend: Backend,
    pub port: u16,
    pub settings: Settings,
    pub store: Store,
    pub broker: Broker,
    /// Not authenticated.
    pub client: Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    // Dropped last: the database, the Redis prefix, the SQLite directory.
    _db: Option<TestDatabase>,
    _redis: Option<TestRedis>,
    _dir: Option<tempfile::TempDir>,
}

/// A registered and logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: UserId,
    pub email: String,
    pub password: String,
    pub tokens: TokenPair,
    /// Sends the user's access token.
    pub client: Client,
}

impl TestApp {
    /// The API on `backend` with the test settings.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// The API on `backend`, with settings changed by `configure`.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with_files(backend, pdfq_store::FileStore::Database, configure).await
    }

    /// The API on `backend` keeping uploads in `files`, with settings changed by `configure`.
    pub async fn spawn_with_files(
        backend: Backend,
        files: pdfq_store::FileStore,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = test_settings();
        configure(&mut settings);
        match backend {
            Backend::Distributed => {
                let db = TestDatabase::migrated(&pdfq_store::MIGRATOR).await;
                let redis = TestRedis::new();
                let store = Store::connect(&db.url)
                    .await
                    .expect("store")
                    .with_file_store(files);
                let broker: Broker =
                    RedisBroker::connect_url(&redis.url, &redis.prefix, QueueOptions::default())
                        .await
                        .expect("broker")
                        .into();
                Self::start(
                    backend,
                    store,
                    broker,
                    settings,
                    Some(db),
                    Some(redis),
                    None,
                )
                .await
            }
            Backend::Embedded => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let store = Store::sqlite(&dir.path().join("pdfq.db"))
                    .await
                    .expect("sqlite store")
                    .with_file_store(files);
                store.migrate().await.expect("sqlite migrations");
                Self::start(
                    backend,
                    store,
                    Broker::memory(),
                    settings,
                    None,
                    None,
                    Some(dir),
                )
                .await
            }
        }
    }

    /// The API over a given store and broker (e.g. a broker on a private Redis server).
    pub async fn spawn_on(store: Store, broker: Broker, settings: Settings) -> Self {
        Self::start(
            Backend::Distributed,
            store,
            broker,
            settings,
            None,
            None,
            None,
        )
        .await
    }

    async fn start(
        backend: Backend,
        store: Store,
        broker: Broker,
        settings: Settings,
        db: Option<TestDatabase>,
        redis: Option<TestRedis>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let app = Application::build_with(store.clone(), broker.clone(), settings.clone())
            .await
            .expect("the API starts");
        let port = app.port();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        let client = Client::new(&format!("http://127.0.0.1:{port}")).expect("client");
        Self {
            backend,
            port,
            settings,
            store,
            broker,
            client,
            shutdown: Some(tx),
            server: Some(server),
            _db: db,
            _redis: redis,
            _dir: dir,
        }
    }

    /// The embedded backend's data directory (its SQLite files); none for the distributed one.
    #[must_use]
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(tempfile::TempDir::path)
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.expect("the server task does not panic"),
            None => Ok(()),
        }
    }

    /// Registers and logs in a new user with a unique email.
    pub async fn user(&self) -> TestUser {
        let email = format!("user-{}@example.com", uuid_suffix());
        self.user_with(&email).await
    }

    pub async fn user_with(&self, email: &str) -> TestUser {
        let password = "correct horse battery staple".to_owned();
        let registered = self
            .client
            .register(email, &password)
            .await
            .expect("register");
        let tokens = self.client.login(email, &password).await.expect("login");
        TestUser {
            id: registered.user_id,
            email: email.to_owned(),
            client: self.client.with_token(&tokens.access_token),
            password,
            tokens,
        }
    }

    /// Deletes a user behind the API's back, as an operator with SQL would.
    pub async fn delete_user(&self, id: UserId) {
        self.store.delete_user(id).await.expect("delete the user");
    }

    /// A user promoted to admin through [`pdfq_api::bootstrap_admin`].
    pub async fn admin(&self) -> TestUser {
        let user = self.user().await;
        pdfq_api::bootstrap_admin(&self.store, &self.broker, &user.email, &user.password)
            .await
            .expect("promote to admin");
        user
    }

    /// Runs a job as a worker would, through the store's worker-side writes: claim, report
    /// progress, save one chunk with `sentences` (on page 1), complete.
    pub async fn complete_job(&self, id: JobId, sentences: &[&str]) {
        let worker = WorkerId::generate("e2e", std::process::id());
        let claimed = self
            .store
            .claim_job(id, &worker)
            .await
            .expect("claim")
            .expect("the job is claimable");
        let attempt = claimed.attempt;
        let commit = self
            .store
            .report_progress(
                id,
                attempt,
                Progress::new(50).expect("a percentage"),
                &CurrentStep::chunk(1, 1),
            )
            .await
            .expect("progress");
        assert!(commit.is_ok(), "{commit:?}");
        let chunk = ChunkResult {
            index: 0,
            first_page: 1,
            last_page: 1,
            sentences: sentences
                .iter()
                .map(|s| Sentence {
                    text: (*s).to_owned(),
                    page: 1,
                    ..Sentence::default()
                })
                .collect(),
        };
        let commit = self
            .store
            .save_chunk(id, attempt, &chunk)
            .await
            .expect("save chunk");
        assert!(commit.is_ok(), "{commit:?}");
        let commit = self
            .store
            .complete_job(id, attempt, 1, 1)
            .await
            .expect("complete");
        assert!(commit.is_ok(), "{commit:?}");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

fn uuid_suffix() -> String {
    JobId::new().to_string().replace('-', "")[..12].to_owned()
}

/// Like [`on_both_backends!`], each app's settings changed first by a function of the test file
/// (`on_both_backends_with!(configure => test_a, test_b)`).
#[macro_export]
macro_rules! on_both_backends_with {
    ($configure:ident => $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                let app =
                    $crate::TestApp::spawn_with($crate::Backend::Distributed, super::$configure);
                super::$name(app.await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_memory() {
                let app = $crate::TestApp::spawn_with($crate::Backend::Embedded, super::$configure);
                super::$name(app.await).await;
            }
        }
    )*};
}

/// Defines `mod $name` with two tests running `async fn $name(app: TestApp)` on each backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                super::$name($crate::TestApp::spawn($crate::Backend::Distributed).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_memory() {
                super::$name($crate::TestApp::spawn($crate::Backend::Embedded).await).await;
            }
        }
    )*};
}
