//! pdfq's REST API (axum).
//!
//! - [`Application`]: `build(ApiConfig)` (PostgreSQL + Redis) or `build_with(Store, Broker,
//!   Settings)` (any store and broker, e.g. the embedded mode), then `run_until_stopped`.
//! - [`router`]: every route with its middleware, over an [`AppState`].
//! - [`bootstrap_admin`]: create or promote the first admin.
//! - [`config`]: the binary's configuration; [`settings`]: what the running API needs.
//! - [`error`]: [`ApiError`], the one error type, each variant with its status and code.
//! - [`auth`]: JWT access tokens, argon2id passwords, rotating refresh tokens, extractors.
//! - [`routes`]: the handlers; [`views`]: store rows to JSON; [`metrics`]: Prometheus text;
//!   [`middleware`]: request ids, tracing, CORS, compression, timeout; [`etag`]: 304s for
//!   pollers; [`telemetry`]: logs.
//! - [`serve`]: the HTTP/1.1 server loop, with limits on the request head.
//! - [`limits`]: rate limits with a local fallback, concurrent uploads; [`client_addr`]: the
//!   client's address behind TRUSTED_PROXIES.

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod client_addr;
pub mod config;
pub mod error;
pub mod etag;
pub mod extract;
pub mod limits;
pub mod linger;
pub mod live;
pub mod metrics;
pub mod middleware;
pub mod routes;
pub mod serve;
pub mod settings;
pub mod state;
pub mod telemetry;
pub mod views;

pub use app::{Application, StartupError, shutdown_signal};
pub use bootstrap::{BootstrapError, bootstrap_admin};
pub use config::{ApiConfig, Environment, ServiceConfig};
pub use error::ApiError;
pub use routes::router;
pub use settings::Settings;
pub use state::AppState;
