//! What the running API needs, independent of where it came from: [`crate::ApiConfig`] (the
//! `pdfq-api` binary), or code (`pdfctl up`, the tests).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use pdfq_domain::limits::RateLimit;
use pdfq_domain::secret::Secret;

use ipnet::IpNet;

use crate::config::{ApiConfig, ServiceConfig};

/// Failed logins allowed per account from one client address: 10 an hour (OWASP ASVS 2.2.1
/// asks for a limit low enough to stop online guessing; per address so that nobody can lock an
/// account's owner out from elsewhere).
pub const DEFAULT_LOGIN_FAILURES: RateLimit = RateLimit {
    max: 10,
    window: Duration::from_secs(3600),
};

/// Failed logins allowed from one client address over every account: 30 an hour (password
/// spraying tries one password on many accounts).
pub const DEFAULT_LOGIN_FAILURES_PER_ADDRESS: RateLimit = RateLimit {
    max: 30,
    window: Duration::from_secs(3600),
};

/// Registrations allowed from one client address: 10 an hour.
pub const DEFAULT_REGISTRATIONS: RateLimit = RateLimit {
    max: 10,
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
    /// How long a just-rotated refresh token may be presented again and get the same
    /// successor (two tabs, a retried request), while that successor is unused.
    pub refresh_reuse_grace: Duration,
    /// Clock skew tolerated on `exp`; a few seconds at most.
    pub jwt_leeway: Duration,
    pub upload_rate_limit: RateLimit,
    /// Failed logins per account and client address: slows guessing one account's password.
    pub login_rate_limit: RateLimit,
    /// Failed logins per client address over every account: slows password spraying.
    pub login_address_rate_limit: RateLimit,
    /// Registrations per client address.
    pub register_rate_limit: RateLimit,
    pub max_upload_bytes: u64,
    /// Uploads this process receives at once (503 past it).
    pub max_concurrent_uploads: usize,
    /// Uploads one user sends at once (429 past it).
    pub max_concurrent_uploads_per_user: usize,
    /// Open progress streams per user.
    pub event_streams_per_user: usize,
    /// Peers whose `X-Forwarded-For` is believed; empty: the peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Secret>,
    /// How long `/metrics` serves the same job and queue gauges before counting again.
    pub metrics_cache: Duration,
    /// Emails nobody may register (lower case): the bootstrap admin's, so that nobody can
    /// register it first and be promoted.
    pub reserved_emails: Vec<String>,
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
    /// Most bytes of kept files per user (USER_STORAGE_QUOTA); `None` for no limit.
    pub user_storage_quota: Option<u64>,
    /// Most jobs not yet ended per user (USER_MAX_ACTIVE_JOBS); `None` for no limit.
    pub user_max_active_jobs: Option<u64>,
    /// Whether webhooks may point at loopback, private or link-local addresses.
    pub webhook_allow_private: bool,
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
            refresh_reuse_grace: Duration::from_secs(30),
            jwt_leeway: Duration::from_secs(5),
            upload_rate_limit: RateLimit::DEFAULT_UPLOADS,
            login_rate_limit: DEFAULT_LOGIN_FAILURES,
            login_address_rate_limit: DEFAULT_LOGIN_FAILURES_PER_ADDRESS,
            register_rate_limit: DEFAULT_REGISTRATIONS,
            max_upload_bytes: 50 << 20,
            max_concurrent_uploads: 8,
            max_concurrent_uploads_per_user: 2,
            event_streams_per_user: 8,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            metrics_cache: Duration::from_secs(10),
            reserved_emails: Vec::new(),
            result_ttl: Duration::from_secs(3600),
            allowed_origins: Vec::new(),
            request_timeout: Duration::from_secs(60),
            health_timeout: Duration::from_secs(5),
            events_poll_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(10),
            user_storage_quota: None,
            user_max_active_jobs: None,
            webhook_allow_private: false,
        }
    }

    /// From the binary's configuration. In development without `JWT_SECRET` a random key is
    /// used: tokens then stop working at the next start, which is fine on a laptop.
    #[must_use]
    pub fn from_config(config: &ApiConfig) -> Self {
        // Production without a secret never gets here: the configuration refuses it.
        let secret = config.jwt_secret.clone().unwrap_or_else(random_secret);
        let mut settings = Self {
            bind_addr: config.listen_addr(),
            ..Self::new(secret)
        };
        settings.apply(&config.service);
        if let Some(email) = &config.admin_email {
            settings.reserve_email(email);
        }
        settings
    }

    /// Keeps `email` from being registered.
    pub fn reserve_email(&mut self, email: &str) {
        self.reserved_emails.push(email.trim().to_lowercase());
    }

    /// Whether `email` is reserved (compared as the store compares emails: trimmed, any case).
    #[must_use]
    pub fn is_reserved_email(&self, email: &str) -> bool {
        let email = email.trim().to_lowercase();
        self.reserved_emails.contains(&email)
    }

    /// Takes every value `service` sets; the others keep what these settings have (the
    /// running mode's defaults).
    pub fn apply(&mut self, service: &ServiceConfig) {
        let ServiceConfig {
            upload_rate_limit,
            login_rate_limit,
            login_address_rate_limit,
            register_rate_limit,
            max_upload_bytes,
            max_concurrent_uploads,
            max_concurrent_uploads_per_user,
            event_streams_per_user,
            result_ttl,
            allowed_origins,
            request_timeout,
            trusted_proxies,
            metrics_token,
            storage,
            webhook_allow_private,
        } = service;
        fn set<T: Clone>(target: &mut T, value: Option<&T>) {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        set(&mut self.upload_rate_limit, upload_rate_limit.as_ref());
        set(&mut self.login_rate_limit, login_rate_limit.as_ref());
        set(
            &mut self.login_address_rate_limit,
            login_address_rate_limit.as_ref(),
        );
        set(&mut self.register_rate_limit, register_rate_limit.as_ref());
        set(&mut self.max_upload_bytes, max_upload_bytes.as_ref());
        set(
            &mut self.max_concurrent_uploads,
            max_concurrent_uploads.as_ref(),
        );
        set(
            &mut self.max_concurrent_uploads_per_user,
            max_concurrent_uploads_per_user.as_ref(),
        );
        set(
            &mut self.event_streams_per_user,
            event_streams_per_user.as_ref(),
        );
        set(&mut self.result_ttl, result_ttl.as_ref());
        set(&mut self.request_timeout, request_timeout.as_ref());
        if !allowed_origins.is_empty() {
            self.allowed_origins.clone_from(allowed_origins);
        }
        if !trusted_proxies.is_empty() {
            self.trusted_proxies.clone_from(trusted_proxies);
        }
        if metrics_token.is_some() {
            self.metrics_token.clone_from(metrics_token);
        }
        self.user_storage_quota = storage.user_storage_quota;
        self.user_max_active_jobs = storage.user_max_active_jobs;
        set(
            &mut self.webhook_allow_private,
            webhook_allow_private.as_ref(),
        );
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
