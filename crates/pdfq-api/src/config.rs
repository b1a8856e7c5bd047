//! The API's configuration: one typed struct from the environment (and an optional `.env`).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ipnet::IpNet;
use pdfq_domain::limits::{RateLimit, parse_bytes, parse_duration};
use pdfq_domain::secret::Secret;
use pdfq_queue::RedisConfig;
use pdfq_store::DatabaseConfig;

use crate::telemetry::LogFormat;

/// Where the API runs: development relaxes the JWT secret rule and logs as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// The shortest JWT secret accepted outside development (256 bits for HS256).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The API's limits and HTTP settings, read the same way by both ways to run: `pdfq-api`
/// flattens it into [`ApiConfig`], `pdfctl up` into its own arguments. A value left unset keeps
/// the running mode's default ([`crate::Settings::new`], or `pdfctl up`'s).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServiceConfig {
    /// Uploads allowed per user, like 10/hour or 100/minute [default: 10/hour; pdfctl up:
    /// 100/hour].
    #[arg(long, env = "UPLOAD_RATE_LIMIT", value_name = "UPLOAD_RATE_LIMIT")]
    pub upload_rate_limit: Option<RateLimit>,

    /// Failed logins allowed per account from one client address [default: 10/hour]. Only
    /// failures count, and per address, so nobody elsewhere can lock the owner out.
    #[arg(long, env = "LOGIN_RATE_LIMIT", value_name = "LOGIN_RATE_LIMIT")]
    pub login_rate_limit: Option<RateLimit>,

    /// Failed logins allowed from one client address, whatever the account (password
    /// spraying) [default: 30/hour].
    #[arg(
        long,
        env = "LOGIN_ADDRESS_RATE_LIMIT",
        value_name = "LOGIN_ADDRESS_RATE_LIMIT"
    )]
    pub login_address_rate_limit: Option<RateLimit>,

    /// Registrations allowed from one client address [default: 10/hour].
    #[arg(long, env = "REGISTER_RATE_LIMIT", value_name = "REGISTER_RATE_LIMIT")]
    pub register_rate_limit: Option<RateLimit>,

    /// Largest accepted upload (bytes, or 50MB, 1GiB...) [default: 50MB].
    #[arg(long, env = "MAX_UPLOAD_BYTES", value_name = "MAX_UPLOAD_BYTES", value_parser = parse_bytes)]
    pub max_upload_bytes: Option<u64>,

    /// Uploads received at once by this process; more are answered 503 with Retry-After
    /// [default: 8].
    #[arg(
        long,
        env = "MAX_CONCURRENT_UPLOADS",
        value_name = "MAX_CONCURRENT_UPLOADS"
    )]
    pub max_concurrent_uploads: Option<usize>,

    /// Uploads one user may send at once; more are answered 429 with Retry-After [default: 2].
    #[arg(
        long,
        env = "MAX_CONCURRENT_UPLOADS_PER_USER",
        value_name = "MAX_CONCURRENT_UPLOADS_PER_USER"
    )]
    pub max_concurrent_uploads_per_user: Option<usize>,

    /// Open progress streams (SSE) allowed per user [default: 8].
    #[arg(
        long,
        env = "EVENT_STREAMS_PER_USER",
        value_name = "EVENT_STREAMS_PER_USER"
    )]
    pub event_streams_per_user: Option<usize>,

    /// How long a finished job's result stays cached [default: 1h].
    #[arg(long, env = "RESULT_TTL", value_name = "RESULT_TTL", value_parser = parse_duration)]
    pub result_ttl: Option<Duration>,

    /// Origins allowed to call the API from a browser, comma-separated (e.g.
    /// https://app.vercel.app), or * for any.
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        value_name = "ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// A request that takes longer is answered 503 (uploads included) [default: 60s].
    #[arg(long, env = "REQUEST_TIMEOUT", value_name = "REQUEST_TIMEOUT", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,

    /// Proxies whose X-Forwarded-For is believed, comma-separated addresses or CIDR ranges
    /// (e.g. 10.0.0.0/8,fd00::/8 behind Railway's proxy). Unset: the client address is the
    /// connection's peer, and X-Forwarded-For is ignored.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        value_name = "TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Vec<IpNet>,

    /// Bearer token that GET /metrics requires; unset, /metrics is public.
    #[arg(
        long,
        env = "METRICS_TOKEN",
        value_name = "METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<Secret>,

    /// Where files are kept, for how long, and the per-user quotas.
    #[command(flatten)]
    pub storage: pdfq_store::StorageConfig,
    /// Let webhooks call URLs that resolve to loopback, private or link-local addresses
    /// [default: false, refused: a user must not reach the internal network through pdfq].
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", value_name = "WEBHOOK_ALLOW_PRIVATE",
          action = clap::ArgAction::Set)]
    pub webhook_allow_private: Option<bool>,
}

/// An address (a one-host range) or a CIDR range.
fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("expected an IP address or a CIDR range like 10.0.0.0/8, got {s:?}"))
}

/// pdfq-api: the REST API. Every option can be set by the environment variable shown.
#[derive(Debug, Clone, Parser)]
#[command(name = "pdfq-api", version, about, long_about = None)]
pub struct ApiConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub redis: RedisConfig,

    /// development or production. Outside development JWT_SECRET is required.
    #[arg(
        long = "env",
        env = "PDFQ_ENV",
        value_name = "PDFQ_ENV",
        default_value = "production"
    )]
    pub environment: Environment,

    /// Secret that signs access tokens (HS256); at least 32 bytes. Required outside development.
    #[arg(
        long,
        env = "JWT_SECRET",
        value_name = "JWT_SECRET",
        hide_env_values = true
    )]
    pub jwt_secret: Option<Secret>,

    /// Port to listen on, on every address ([::] accepts IPv4 and IPv6).
    #[arg(long, env = "PORT", value_name = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, env = "BIND_ADDR", value_name = "BIND_ADDR", default_value_t = IpAddr::V6(Ipv6Addr::UNSPECIFIED))]
    pub bind_addr: IpAddr,

    #[command(flatten)]
    pub service: ServiceConfig,

    /// Email of an account made admin at start-up (created with PDFQ_ADMIN_PASSWORD if missing,
    /// promoted if it exists). Set both or neither.
    #[arg(long, env = "PDFQ_ADMIN_EMAIL", value_name = "PDFQ_ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Password of that account when it has to be created.
    #[arg(
        long,
        env = "PDFQ_ADMIN_PASSWORD",
        value_name = "PDFQ_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<Secret>,

    /// Apply pending database migrations at start-up (PostgreSQL takes a lock, so several
    /// instances starting at once are safe). Off by default: deployments migrate as a step.
    #[arg(long, env = "MIGRATE_ON_START", value_name = "MIGRATE_ON_START", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,

    /// json or text; default json in production, text in development.
    #[arg(long, env = "LOG_FORMAT", value_name = "LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
}

/// A configuration that parsed but cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ServiceConfig {
    /// The rules that parsing alone does not check.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            (
                "MAX_UPLOAD_BYTES",
                self.max_upload_bytes.map(|v| v as usize),
            ),
            ("MAX_CONCURRENT_UPLOADS", self.max_concurrent_uploads),
            (
                "MAX_CONCURRENT_UPLOADS_PER_USER",
                self.max_concurrent_uploads_per_user,
            ),
            ("EVENT_STREAMS_PER_USER", self.event_streams_per_user),
        ];
        for (name, value) in positive {
            if value == Some(0) {
                return Err(ConfigError(format!("{name} must be more than 0")));
            }
        }
        if self.request_timeout == Some(Duration::ZERO) {
            return Err(ConfigError("REQUEST_TIMEOUT must be more than 0".into()));
        }
        if let Some(token) = &self.metrics_token
            && token.expose().len() < 16
        {
            return Err(ConfigError(
                "METRICS_TOKEN must be at least 16 characters; generate one with `openssl rand -hex 16`".into(),
            ));
        }
        pdfq_store::FileStore::from_config(&self.storage).map_err(ConfigError)?;
        Ok(())
    }
}

impl ApiConfig {
    /// Reads `.env` (if present) and the environment; fails with one line naming the variable.
    pub fn load() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_args(std::env::args_os())
    }

    /// Parses arguments (and the environment) then checks the rules that span variables.
    pub fn from_args<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let config = match Self::try_parse_from(args) {
            Ok(config) => config,
            Err(e) if !e.use_stderr() => e.exit(), // --help and --version
            Err(e) => {
                return Err(ConfigError(pdfq_domain::limits::one_line_error(
                    &e.render().to_string(),
                )));
            }
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.environment == Environment::Production {
            match &self.jwt_secret {
                None => {
                    return Err(ConfigError(
                        "JWT_SECRET is required outside development (set PDFQ_ENV=development for a local run)".into(),
                    ));
                }
                Some(secret) if secret.expose().len() < MIN_JWT_SECRET_BYTES => {
                    return Err(ConfigError(format!(
                        "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (it has {}); generate one with `openssl rand -hex 32`",
                        secret.expose().len()
                    )));
                }
                Some(_) => {}
            }
        }
        self.redis
            .url()
            .map_err(|e| ConfigError(format!("REDIS_URL: {e}")))?;
        if self.admin_email.is_some() != self.admin_password.is_some() {
            return Err(ConfigError(
                "PDFQ_ADMIN_EMAIL and PDFQ_ADMIN_PASSWORD must be set together".into(),
            ));
        }
        self.service.validate()?;
        Ok(())
    }

    /// The log format: LOG_FORMAT, else JSON in production and text in development.
    #[must_use]
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(match self.environment {
            Environment::Production => LogFormat::Json,
            Environment::Development => LogFormat::Text,
        })
    }

    #[must_use]
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind_addr, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "--database-url=postgres://app:dbpass@db.example.com/pdfq";
    const REDIS: &str = "--redis-url=redis://:redispass@cache:6379";
    const SECRET: &str = "--jwt-secret=0123456789abcdef0123456789abcdef";

    fn parse(extra: &[&str]) -> Result<ApiConfig, ConfigError> {
        let mut args = vec!["pdfq-api", DB, REDIS];
        args.extend_from_slice(extra);
        ApiConfig::from_args(args)
    }

    #[test]
    fn defaults_follow_the_design() {
        let config = parse(&[SECRET]).unwrap();
        assert_eq!(config.port, 8000);
        assert_eq!(config.listen_addr().to_string(), "[::]:8000");
        assert_eq!(config.service.upload_rate_limit, None);
        assert_eq!(config.service.result_ttl, None);
        assert_eq!(config.database.max_connections(), 15);
        assert_eq!(config.environment, Environment::Production);
        assert!(!config.migrate_on_start);
        assert!(
            parse(&[SECRET, "--migrate-on-start=true"])
                .unwrap()
                .migrate_on_start
        );
    }

    #[test]
    fn the_jwt_secret_is_required_and_strong_outside_development() {
        let err = parse(&[]).unwrap_err().to_string();
        assert!(err.starts_with("JWT_SECRET is required"), "{err}");
        let err = parse(&["--jwt-secret=short"]).unwrap_err().to_string();
        assert!(
            err.contains("JWT_SECRET must be at least 32 bytes (it has 5)"),
            "{err}"
        );
        assert!(parse(&["--env=development"]).is_ok());
    }

    #[test]
    fn debug_output_redacts_every_secret() {
        let shown = format!("{:?}", parse(&[SECRET]).unwrap());
        for secret in ["dbpass", "redispass", "0123456789abcdef"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(shown.contains("db.example.com"));
    }

    #[test]
    fn malformed_values_fail_with_one_line_naming_the_variable() {
        for (arg, name) in [
            ("--port=eighty", "PORT"),
            ("--upload-rate-limit=lots", "UPLOAD_RATE_LIMIT"),
            ("--login-rate-limit=many", "LOGIN_RATE_LIMIT"),
            ("--max-upload-bytes=big", "MAX_UPLOAD_BYTES"),
            ("--result-ttl=forever", "RESULT_TTL"),
            ("--register-rate-limit=x", "REGISTER_RATE_LIMIT"),
            ("--max-concurrent-uploads=-1", "MAX_CONCURRENT_UPLOADS"),
        ] {
            let err = parse(&[SECRET, arg]).unwrap_err().to_string();
            assert!(err.contains(name), "{arg}: {err}");
            assert!(!err.contains('\n'), "one line expected: {err}");
        }
        let err = ApiConfig::from_args(["pdfq-api", REDIS, SECRET])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn admin_variables_go_together_and_logs_follow_the_environment() {
        let err = parse(&[SECRET, "--admin-email=a@b.c"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("PDFQ_ADMIN_PASSWORD"), "{err}");
        let config =
            parse(&[SECRET, "--admin-email=a@b.c", "--admin-password=longenough"]).unwrap();
        assert!(!format!("{config:?}").contains("longenough"));
        assert_eq!(config.log_format(), LogFormat::Json);
        let dev = parse(&["--env=development"]).unwrap();
        assert_eq!(dev.log_format(), LogFormat::Text);
        let forced = parse(&["--env=development", "--log-format=json"]).unwrap();
        assert_eq!(forced.log_format(), LogFormat::Json);
    }

    #[test]
    fn rate_limits_are_read_as_written() {
        let config = parse(&[SECRET, "--upload-rate-limit=100/minute"]).unwrap();
        let rate = config.service.upload_rate_limit.unwrap();
        assert_eq!(rate.max, 100);
        assert_eq!(rate.window, Duration::from_secs(60));
        let config = parse(&[SECRET, "--trusted-proxies=10.0.0.0/8, 192.0.2.7,fd00::/8"]).unwrap();
        assert_eq!(config.service.trusted_proxies.len(), 3);
        assert!(
            config.service.trusted_proxies[1].contains(&"192.0.2.7".parse::<IpAddr>().unwrap())
        );
        let err = parse(&[SECRET, "--trusted-proxies=railway"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TRUSTED_PROXIES"), "{err}");
        let err = parse(&[SECRET, "--metrics-token=short"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("METRICS_TOKEN must be at least 16"), "{err}");
        let err = parse(&[SECRET, "--max-concurrent-uploads=0"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MAX_CONCURRENT_UPLOADS must be more than 0"),
            "{err}"
        );
    }
}
