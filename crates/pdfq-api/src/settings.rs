//! What the running API needs, independent of where it came from: [`crate::ApiConfig`] (the
//! `pdfq-api` binary), or code (`pdfctl up`, the tests).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use pdfq_domain::limits::RateLimit;
use pdfq_domain::secret::Secret;

use crate::config::ApiConfig;

/// Login attempts allowed per email: 30 an hour.
pub const DEFAULT_LOGINS: RateLimit = RateLimit {
    max: 30,
    window: Duration::from_secs(3600),
};

/// The API's run-time settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen; port 0 picks a free one ([`crate::Application::port`] tells which).
    pub bind_addr: SocketAddr,
    /// HS256 key of access tokens.
    pub jwt_secret: Secret,
    /// `iss` of issued tokens, required on presented ones.
    pub jwt_issuer: String,
    /// `aud` of issued tokens, required on presented ones.
    pub jwt_audience: String,
    /// Access tokens live 1 hour (the design).
    pub access_token_ttl: Duration,
    /// Refresh tokens live 30 days (the design).
    pub refresh_token_ttl: Duration,
    /// Clock skew tolerated on `exp`; a few seconds at most.
    pub jwt_leeway: Duration,
    pub upload_rate_limit: RateLimit,
    /// Login attempts per email, right or wrong: slows password guessing against one account.
    pub login_rate_limit: RateLimit,
    pub max_upload_bytes: u64,
    /// How long a completed job's answer stays in the result cache.
    pub result_ttl: Duration,
    /// Browser origins allowed by CORS; `*` allows any.
    pub allowed_origins: Vec<String>,
    pub request_timeout: Duration,
    /// Each health check's time limit (5 s, the design).
    pub health_timeout: Duration,
    /// How often an open progress stream looks at its job.
    pub events_poll_interval: Duration,
    /// How often the API writes its heartbeat (with its pool numbers) to the broker.
    pub heartbeat_interval: Duration,
}

impl Settings {
    /// The design's defaults, listening on 127.0.0.1:8000.
    #[must_use]
    pub fn new(jwt_secret: Secret) -> Self {
        Self {
            bind_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000),
            jwt_secret,
            jwt_issuer: "pdfq".into(),
            jwt_audience: "pdfq-api".into(),
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            jwt_leeway: Duration::from_secs(5),
            upload_rate_limit: RateLimit::DEFAULT_UPLOADS,
            login_rate_limit: DEFAULT_LOGINS,
            max_upload_bytes: 50 << 20,
            result_ttl: Duration::from_secs(3600),
            allowed_origins: Vec::new(),
            request_timeout: Duration::from_secs(60),
            health_timeout: Duration::from_secs(5),
            events_poll_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(10),
        }
    }

    /// From the binary's configuration. In development without `JWT_SECRET` a random key is
    /// used: tokens then stop working at the next start, which is fine on a laptop.
    #[must_use]
    pub fn from_config(config: &ApiConfig) -> Self {
        // Production without a secret never gets here: the configuration refuses it.
        let secret = config.jwt_secret.clone().unwrap_or_else(random_secret);
        Self {
            bind_addr: config.listen_addr(),
            upload_rate_limit: config.upload_rate_limit,
            login_rate_limit: config.login_rate_limit,
            max_upload_bytes: config.max_upload_bytes,
            result_ttl: config.result_ttl,
            allowed_origins: config.allowed_origins.clone(),
            request_timeout: config.request_timeout,
            ..Self::new(secret)
        }
    }
}

/// 256 random bits, hex: a signing key for a process that was given none.
#[must_use]
pub fn random_secret() -> Secret {
    let mut bytes = [0u8; 32];
    // getrandom only fails where the OS has no entropy source; uuid's v4 (also the OS's
    // generator) is the fallback so start-up never fails over this.
    if getrandom::getrandom(&mut bytes).is_err() {
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
