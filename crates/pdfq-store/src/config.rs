//! Database configuration, read from the environment.

use std::net::IpAddr;
use std::time::Duration;

use clap::Args;
use pdfq_domain::limits::parse_duration;
use pdfq_domain::secret::SecretUrl;

/// Where the database is and how the pool behaves. Flattened into each binary's config.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// PostgreSQL URL. For a host that is not local and names no sslmode, `sslmode=require` is
    /// added (Supabase and other managed databases require TLS); an explicit sslmode is kept.
    #[arg(long = "database-url", env = "DATABASE_URL", value_name = "DATABASE_URL",
          value_parser = parse_database_url)]
    pub url: SecretUrl,

    /// Connections each process keeps in its pool.
    #[arg(long, env = "DB_POOL_SIZE", value_name = "DB_POOL_SIZE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: u32,

    /// Extra connections a process may open under a burst; at most size + overflow in all.
    #[arg(long, env = "DB_MAX_OVERFLOW", value_name = "DB_MAX_OVERFLOW", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub db_max_overflow: u32,

    /// A connection older than this is closed and replaced (seconds, or 1h, 30m...).
    #[arg(long, env = "DB_POOL_RECYCLE_SECS", value_name = "DB_POOL_RECYCLE_SECS",
          default_value = "3600", value_parser = parse_duration)]
    pub db_pool_recycle: Duration,

    /// Test each connection with a ping before handing it out, so a dropped one is replaced.
    #[arg(long, env = "DB_POOL_PRE_PING", value_name = "DB_POOL_PRE_PING", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub db_pool_pre_ping: bool,

    /// How long a request waits for a free connection before failing.
    #[arg(long, env = "DB_POOL_TIMEOUT_SECS", value_name = "DB_POOL_TIMEOUT_SECS",
          default_value = "30", value_parser = parse_duration)]
    pub db_pool_timeout: Duration,
}

impl DatabaseConfig {
    /// The most connections this process will hold: pool size plus overflow.
    #[must_use]
    pub fn max_connections(&self) -> u32 {
        self.db_pool_size.saturating_add(self.db_max_overflow)
    }

    /// Defaults for a given URL, for tests and tools that build a config in code.
    #[must_use]
    pub fn for_url(url: &str) -> Self {
        Self {
            url: SecretUrl::new(normalize_database_url(url).unwrap_or_else(|_| url.to_owned())),
            db_pool_size: 10,
            db_max_overflow: 5,
            db_pool_recycle: Duration::from_secs(3600),
            db_pool_pre_ping: true,
            db_pool_timeout: Duration::from_secs(30),
        }
    }
}

fn parse_database_url(raw: &str) -> Result<SecretUrl, String> {
    normalize_database_url(raw).map(SecretUrl::new)
}

/// Checks a PostgreSQL URL and adds `sslmode=require` when the host is not local and no mode is
/// given. The rest of the URL is kept byte for byte (percent-encoded passwords stay encoded).
pub fn normalize_database_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let parsed = url::Url::parse(raw).map_err(|e| {
        format!("not a valid URL ({e}); expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")
    })?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "scheme {:?} is not PostgreSQL; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            parsed.scheme()
        ));
    }
    let has_mode = parsed.query_pairs().any(|(key, _)| {
        key.eq_ignore_ascii_case("sslmode") || key.eq_ignore_ascii_case("ssl-mode")
    });
    if has_mode || is_local(&parsed) {
        return Ok(raw.to_owned());
    }
    // Insert before any fragment, joining with & when a query exists (even an empty one).
    let (before_fragment, fragment) = match raw.find('#') {
        Some(at) => raw.split_at(at),
        None => (raw, ""),
    };
    let separator = match before_fragment.find('?') {
        None => "?",
        Some(at) if at + 1 == before_fragment.len() || before_fragment.ends_with('&') => "",
        Some(_) => "&",
    };
    Ok(format!(
        "{before_fragment}{separator}sslmode=require{fragment}"
    ))
}

/// Loopback, a Unix socket (no host, or a `host=/path` parameter) or `localhost`.
fn is_local(url: &url::Url) -> bool {
    let socket_param = url
        .query_pairs()
        .any(|(key, value)| key == "host" && value.starts_with('/'));
    if socket_param {
        return true;
    }
    match url.host() {
        None => true,
        // postgres:// is not a "special" scheme to the url crate, so IP hosts arrive as names.
        Some(url::Host::Domain(name)) => {
            let name = name.trim_matches(['[', ']']).to_ascii_lowercase();
            match name.parse::<IpAddr>() {
                Ok(ip) => ip.is_loopback(),
                Err(_) => name == "localhost" || name.ends_with(".localhost") || name.is_empty(),
            }
        }
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn remote_hosts_get_sslmode_require() {
        assert_eq!(
            normalize_database_url("postgres://u:p@db.abc.supabase.co:5432/postgres").unwrap(),
            "postgres://u:p@db.abc.supabase.co:5432/postgres?sslmode=require"
        );
    }

    #[test]
    fn an_existing_query_is_joined_with_ampersand() {
        assert_eq!(
            normalize_database_url("postgresql://u:p@10.0.0.5/app?application_name=pdfq").unwrap(),
            "postgresql://u:p@10.0.0.5/app?application_name=pdfq&sslmode=require"
        );
        assert_eq!(
            normalize_database_url("postgres://u:p@h/app?").unwrap(),
            "postgres://u:p@h/app?sslmode=require"
        );
    }

    #[test]
    fn an_explicit_mode_is_never_overridden() {
        for url in [
            "postgres://u:p@db.example.com/app?sslmode=disable",
            "postgres://u:p@db.example.com/app?x=1&sslmode=verify-full",
            "postgres://u:p@db.example.com/app?SSLMODE=prefer",
        ] {
            assert_eq!(normalize_database_url(url).unwrap(), url);
        }
    }

    #[test]
    fn local_hosts_are_left_alone() {
        for url in [
            "postgres://root@127.0.0.1:5432/test",
            "postgres://root@localhost/test",
            "postgres://root@[::1]:5432/test",
            "postgres://root@127.0.0.2/test",
            "postgres:///test?host=/var/run/postgresql",
        ] {
            assert_eq!(normalize_database_url(url).unwrap(), url);
        }
    }

    #[test]
    fn percent_encoded_passwords_stay_intact() {
        let url =
            "postgres://postgres.ref:p%40ss%2Fw%3Ard@aws-0-eu.pooler.supabase.com:5432/postgres";
        let normalized = normalize_database_url(url).unwrap();
        assert_eq!(normalized, format!("{url}?sslmode=require"));
    }

    #[test]
    fn fragments_stay_last() {
        assert_eq!(
            normalize_database_url("postgres://u@db.example.com/app#x").unwrap(),
            "postgres://u@db.example.com/app?sslmode=require#x"
        );
    }

    #[test]
    fn bad_urls_say_what_was_expected() {
        let err = normalize_database_url("mysql://u@h/db").unwrap_err();
        assert!(err.contains("not PostgreSQL"), "{err}");
        let err = normalize_database_url("just words").unwrap_err();
        assert!(err.contains("expected postgres://"), "{err}");
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        db: DatabaseConfig,
    }

    #[test]
    fn pool_defaults_match_the_design() {
        let cli =
            Cli::try_parse_from(["t", "--database-url", "postgres://u:pw@db.example.com/app"])
                .unwrap();
        assert_eq!(cli.db.db_pool_size, 10);
        assert_eq!(cli.db.db_max_overflow, 5);
        assert_eq!(cli.db.max_connections(), 15);
        assert_eq!(cli.db.db_pool_recycle, Duration::from_secs(3600));
        assert!(cli.db.db_pool_pre_ping);
        let shown = format!("{:?}", cli.db);
        assert!(!shown.contains("pw@"), "password leaked: {shown}");
        assert!(shown.contains("sslmode=require"), "{shown}");
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let err = Cli::try_parse_from([
            "t",
            "--database-url",
            "postgres://u@h/db",
            "--db-pool-size",
            "lots",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("DB_POOL_SIZE"), "{err}");
    }
}
