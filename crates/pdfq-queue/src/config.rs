//! Redis configuration, read from the environment.

use clap::Args;
use pdfq_domain::secret::SecretUrl;

/// Where Redis is. Flattened into each binary's config.
#[derive(Debug, Clone, Args)]
pub struct RedisConfig {
    /// Redis URL (redis://[:PASSWORD@]HOST:PORT[/DB]); the queue, rate limits, heartbeats and the
    /// result cache live there.
    #[arg(long = "redis-url", env = "REDIS_URL", value_name = "REDIS_URL")]
    pub raw_url: SecretUrl,

    /// Connect with TLS: turns redis:// into rediss://.
    #[arg(long, env = "REDIS_TLS", value_name = "REDIS_TLS", default_value_t = false,
          action = clap::ArgAction::Set)]
    pub redis_tls: bool,

    /// Prefix of every key pdfq writes, so several deployments (or tests) can share one Redis.
    #[arg(
        long,
        env = "REDIS_KEY_PREFIX",
        value_name = "REDIS_KEY_PREFIX",
        default_value = "pdfq"
    )]
    pub redis_key_prefix: String,
}

impl RedisConfig {
    /// The URL to connect with, TLS applied; fails with a message naming what is wrong.
    pub fn url(&self) -> Result<SecretUrl, String> {
        normalize_redis_url(self.raw_url.expose(), self.redis_tls).map(SecretUrl::new)
    }

    /// A config for tests and tools that build one in code.
    #[must_use]
    pub fn for_url(url: &str, prefix: &str) -> Self {
        Self {
            raw_url: SecretUrl::new(url.to_owned()),
            redis_tls: false,
            redis_key_prefix: prefix.to_owned(),
        }
    }
}

/// Checks a Redis URL; with `tls`, `redis://` becomes `rediss://` (an existing `rediss://` stays).
pub fn normalize_redis_url(raw: &str, tls: bool) -> Result<String, String> {
    let raw = raw.trim();
    let parsed = url::Url::parse(raw).map_err(|e| {
        format!("not a valid URL ({e}); expected redis://[:PASSWORD@]HOST:PORT[/DB]")
    })?;
    match (parsed.scheme(), tls) {
        ("redis", true) => Ok(format!("rediss{}", &raw["redis".len()..])),
        ("redis" | "rediss" | "redis+unix" | "unix", _) => Ok(raw.to_owned()),
        (other, _) => Err(format!(
            "scheme {other:?} is not Redis; expected redis://[:PASSWORD@]HOST:PORT[/DB]"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn tls_turns_redis_into_rediss() {
        assert_eq!(
            normalize_redis_url("redis://default:pw@cache.railway.internal:6379", true).unwrap(),
            "rediss://default:pw@cache.railway.internal:6379"
        );
        assert_eq!(
            normalize_redis_url("rediss://h:6379", true).unwrap(),
            "rediss://h:6379"
        );
        assert_eq!(
            normalize_redis_url("redis://h:6379/2", false).unwrap(),
            "redis://h:6379/2"
        );
    }

    #[test]
    fn non_redis_urls_are_refused() {
        assert!(
            normalize_redis_url("http://h", false)
                .unwrap_err()
                .contains("not Redis")
        );
        assert!(normalize_redis_url("localhost:6379", false).is_err());
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        redis: RedisConfig,
    }

    #[test]
    fn redis_tls_reads_as_a_boolean_and_passwords_are_redacted() {
        let cli = Cli::try_parse_from([
            "t",
            "--redis-url",
            "redis://:topsecret@cache:6379",
            "--redis-tls",
            "true",
        ])
        .unwrap();
        assert!(!format!("{:?}", cli.redis).contains("topsecret"));
        let url = cli.redis.url().unwrap();
        assert_eq!(url.expose(), "rediss://:topsecret@cache:6379");
        assert!(!format!("{url:?}").contains("topsecret"));
        let err = Cli::try_parse_from(["t", "--redis-url", "redis://h", "--redis-tls", "maybe"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("REDIS_TLS"), "{err}");
    }
}
