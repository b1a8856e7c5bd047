//! The worker's configuration: one typed struct from the environment (and an optional `.env`).

use std::time::Duration;

use clap::Parser;
use pdfq_domain::limits::{parse_bytes, parse_duration};
use pdfq_extract::{IsolationLimits, Limits};
use pdfq_queue::RedisConfig;
use pdfq_store::DatabaseConfig;

/// pdfq-worker: runs PDF jobs from the queue. Every option can be set by the environment variable
/// shown.
#[derive(Debug, Clone, Parser)]
#[command(name = "pdfq-worker", version, about, long_about = None)]
pub struct WorkerConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub redis: RedisConfig,

    /// Where files are kept and for how long (the sweeper applies the retention).
    #[command(flatten)]
    pub storage: pdfq_store::StorageConfig,

    /// Jobs this process runs at the same time.
    #[arg(long, env = "WORKER_CONCURRENCY", value_name = "WORKER_CONCURRENCY", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// Let webhooks call URLs that resolve to loopback, private or link-local addresses
    /// (refused by default: a user must not reach the internal network through pdfq).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", value_name = "WEBHOOK_ALLOW_PRIVATE",
          default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// How long a finished job's result stays cached in Redis.
    #[arg(long, env = "RESULT_TTL", value_name = "RESULT_TTL", default_value = "1h", value_parser = parse_duration)]
    pub result_ttl: Duration,

    /// How jobs run: time limits, retries, the extraction's limits, webhook delivery. The same
    /// settings, by the same variables, in `pdfctl up`.
    #[command(flatten)]
    pub jobs: JobConfig,
}

/// How this worker runs its jobs; everything but where the database, queue and files are and
/// how many jobs run at once, so the embedded mode can read the same variables.
#[derive(Debug, Clone, clap::Args)]
pub struct JobConfig {
    /// After this long a job is asked to stop and fails with "soft time limit exceeded".
    #[arg(long, env = "TASK_SOFT_TIME_LIMIT", value_name = "TASK_SOFT_TIME_LIMIT", default_value = "25m",
          value_parser = parse_duration)]
    pub soft_time_limit: Duration,

    /// After this long the job's extraction process is killed.
    #[arg(long, env = "TASK_HARD_TIME_LIMIT", value_name = "TASK_HARD_TIME_LIMIT", default_value = "30m",
          value_parser = parse_duration)]
    pub hard_time_limit: Duration,

    /// Retries after a failed attempt (so at most 1 + this many attempts); then dead-lettered.
    #[arg(
        long,
        env = "TASK_MAX_RETRIES",
        value_name = "TASK_MAX_RETRIES",
        default_value_t = 3
    )]
    pub max_retries: u32,

    /// On SIGTERM, how long running jobs may take to finish before they are handed back.
    #[arg(long, env = "WORKER_DRAIN_TIMEOUT", value_name = "WORKER_DRAIN_TIMEOUT", default_value = "25s",
          value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// A running job's queue entry is reaped by another worker when not renewed for this long.
    #[arg(long, env = "QUEUE_LEASE", value_name = "QUEUE_LEASE", default_value = "120s",
          value_parser = parse_duration)]
    pub lease: Duration,

    /// How often a running job renews its lease and heartbeat (well under QUEUE_LEASE).
    #[arg(long, env = "QUEUE_LEASE_RENEW_EVERY", value_name = "QUEUE_LEASE_RENEW_EVERY",
          default_value = "10s", value_parser = parse_duration)]
    pub lease_renew_every: Duration,

    /// How often the sweeper looks for lost jobs, due retries and dead workers' entries.
    #[arg(long, env = "WORKER_SWEEP_EVERY", value_name = "WORKER_SWEEP_EVERY", default_value = "15s",
          value_parser = parse_duration)]
    pub sweep_every: Duration,

    /// CPU time of one extraction child (RLIMIT_CPU). The child is single-threaded, so this
    /// bounds the parser far below TASK_HARD_TIME_LIMIT; over it the job fails with
    /// resource_limit.
    #[arg(long, env = "EXTRACT_CPU_LIMIT", value_name = "EXTRACT_CPU_LIMIT", default_value = "30s",
          value_parser = parse_duration)]
    pub extract_cpu_limit: Duration,

    /// Address space of one extraction child (RLIMIT_AS; bytes, or 512MB, 1GB...).
    #[arg(long, env = "EXTRACT_MEMORY_LIMIT", value_name = "EXTRACT_MEMORY_LIMIT",
          default_value = "512MB", value_parser = parse_bytes)]
    pub extract_memory_limit: u64,

    /// Extractions one child process runs before it is replaced. Children are started ahead
    /// and reused only for the same user's files, and replaced after any failure; 1 starts a
    /// fresh child for every job (the slowest, for the strictest separation).
    #[arg(long, env = "EXTRACT_CHILD_JOBS", value_name = "EXTRACT_CHILD_JOBS", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub extract_child_jobs: u32,

    /// Most pages of one document; a PDF with more fails with too_large before its pages are
    /// read.
    #[arg(long, env = "MAX_PAGES", value_name = "MAX_PAGES",
          default_value_t = pdfq_extract::DEFAULT_MAX_PAGES,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_pages: u32,

    /// Most objects of one document held parsed while it is read (drawn annotations, forms
    /// and fonts are held packed and not counted); a PDF with more fails with too_large.
    #[arg(long, env = "MAX_OBJECTS", value_name = "MAX_OBJECTS",
          default_value_t = pdfq_extract::DEFAULT_MAX_OBJECTS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_objects: u64,

    /// Most glyphs drawn on one page; over it the job fails with result_too_large.
    #[arg(long, env = "MAX_PAGE_GLYPHS", value_name = "MAX_PAGE_GLYPHS",
          default_value_t = pdfq_extract::DEFAULT_MAX_PAGE_GLYPHS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_page_glyphs: u64,

    /// Most times one Form XObject is drawn on one page; later draws are skipped (they would
    /// only repeat its text).
    #[arg(long, env = "MAX_FORM_DRAWS_PER_PAGE", value_name = "MAX_FORM_DRAWS_PER_PAGE",
          default_value_t = pdfq_extract::DEFAULT_MAX_FORM_DRAWS_PER_PAGE,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_form_draws_per_page: u32,

    /// Most text one page may produce (bytes, or 256KB...); over it the job fails with
    /// result_too_large.
    #[arg(long, env = "MAX_PAGE_TEXT_BYTES", value_name = "MAX_PAGE_TEXT_BYTES",
          default_value_t = pdfq_extract::DEFAULT_MAX_PAGE_TEXT_BYTES, value_parser = parse_bytes)]
    pub max_page_text_bytes: u64,

    /// Most text one job may produce (bytes, or 16MB...); over it the job fails with
    /// result_too_large.
    #[arg(long, env = "MAX_RESULT_TEXT_BYTES", value_name = "MAX_RESULT_TEXT_BYTES",
          default_value_t = pdfq_extract::DEFAULT_MAX_TEXT_BYTES, value_parser = parse_bytes)]
    pub max_result_text_bytes: u64,

    /// Most sentences starting on one page; over it the job fails with result_too_large.
    #[arg(long, env = "MAX_PAGE_SENTENCES", value_name = "MAX_PAGE_SENTENCES",
          default_value_t = pdfq_extract::DEFAULT_MAX_PAGE_SENTENCES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_page_sentences: u64,

    /// Most sentences one job may produce; over it the job fails with result_too_large.
    #[arg(long, env = "MAX_RESULT_SENTENCES", value_name = "MAX_RESULT_SENTENCES",
          default_value_t = pdfq_extract::DEFAULT_MAX_SENTENCES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_result_sentences: u64,

    /// One webhook attempt's time limit, connecting and reading the answer included.
    #[arg(long, env = "WEBHOOK_TIMEOUT", value_name = "WEBHOOK_TIMEOUT", default_value = "10s",
          value_parser = parse_duration)]
    pub webhook_timeout: Duration,

    /// Webhook deliveries this process sends at once, beside its jobs.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", value_name = "WEBHOOK_CONCURRENCY", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub webhook_concurrency: u32,
}

/// A configuration that parsed but cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl WorkerConfig {
    /// Reads `.env` (if present) and the environment; fails with one line naming the variable.
    pub fn load() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_args(std::env::args_os())
    }

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
        self.jobs.validate()?;
        self.redis
            .url()
            .map_err(|e| ConfigError(format!("REDIS_URL: {e}")))?;
        pdfq_store::FileStore::from_config(&self.storage).map_err(ConfigError)?;
        Ok(())
    }

    /// The limits of each extraction child (see [`JobConfig::isolation_limits`]).
    #[must_use]
    pub fn isolation_limits(&self) -> IsolationLimits {
        self.jobs.isolation_limits()
    }

    /// The queue's lease settings (see [`JobConfig::queue_options`]).
    #[must_use]
    pub fn queue_options(&self) -> pdfq_queue::QueueOptions {
        self.jobs.queue_options()
    }
}

impl JobConfig {
    /// Checks what parsing alone cannot; the message names the variable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.soft_time_limit.is_zero() {
            return Err(ConfigError(
                "TASK_SOFT_TIME_LIMIT must be more than 0".into(),
            ));
        }
        if self.hard_time_limit <= self.soft_time_limit {
            return Err(ConfigError(format!(
                "TASK_HARD_TIME_LIMIT ({}s) must be longer than TASK_SOFT_TIME_LIMIT ({}s)",
                self.hard_time_limit.as_secs(),
                self.soft_time_limit.as_secs()
            )));
        }
        if self.lease_renew_every.is_zero() || self.lease_renew_every * 2 > self.lease {
            return Err(ConfigError(format!(
                "QUEUE_LEASE_RENEW_EVERY ({:?}) must be more than 0 and at most half of QUEUE_LEASE ({:?})",
                self.lease_renew_every, self.lease
            )));
        }
        if self.sweep_every.is_zero() {
            return Err(ConfigError("WORKER_SWEEP_EVERY must be more than 0".into()));
        }
        if self.extract_cpu_limit.as_secs() == 0 {
            return Err(ConfigError(
                "EXTRACT_CPU_LIMIT must be at least 1s (RLIMIT_CPU counts whole seconds)".into(),
            ));
        }
        for (name, value) in [
            ("EXTRACT_MEMORY_LIMIT", self.extract_memory_limit),
            ("MAX_PAGE_TEXT_BYTES", self.max_page_text_bytes),
            ("MAX_RESULT_TEXT_BYTES", self.max_result_text_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("{name} must be more than 0")));
            }
        }
        Ok(())
    }

    /// The limits of each extraction child: its resources and what one document may produce.
    #[must_use]
    pub fn isolation_limits(&self) -> IsolationLimits {
        IsolationLimits {
            limits: Limits {
                max_pages: self.max_pages,
                max_objects: self.max_objects,
                max_glyphs_per_page: self.max_page_glyphs,
                max_form_draws_per_page: self.max_form_draws_per_page,
                max_page_text_bytes: self.max_page_text_bytes,
                max_text_bytes: self.max_result_text_bytes,
                max_page_sentences: self.max_page_sentences,
                max_sentences: self.max_result_sentences,
                ..Limits::default()
            },
            memory_bytes: self.extract_memory_limit,
            cpu_seconds: self.extract_cpu_limit.as_secs(),
            ..IsolationLimits::default()
        }
    }

    /// The queue's lease settings from this configuration.
    #[must_use]
    pub fn queue_options(&self) -> pdfq_queue::QueueOptions {
        pdfq_queue::QueueOptions {
            lease: self.lease,
            renew_every: self.lease_renew_every,
            ..pdfq_queue::QueueOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<WorkerConfig, ConfigError> {
        let mut args = vec![
            "pdfq-worker",
            "--database-url=postgres://w:secretpw@db.example.com/pdfq",
            "--redis-url=redis://cache:6379",
        ];
        args.extend_from_slice(extra);
        WorkerConfig::from_args(args)
    }

    #[test]
    fn defaults_follow_the_design() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.concurrency, 2);
        assert_eq!(config.jobs.soft_time_limit, Duration::from_secs(25 * 60));
        assert_eq!(config.jobs.hard_time_limit, Duration::from_secs(30 * 60));
        assert_eq!(config.jobs.max_retries, 3);
        assert_eq!(config.result_ttl, Duration::from_secs(3600));
        assert_eq!(config.jobs.drain_timeout, Duration::from_secs(25));
        assert_eq!(config.queue_options().lease, Duration::from_secs(120));
        assert_eq!(config.queue_options().renew_every, Duration::from_secs(10));
        let err = parse(&["--lease=10s", "--lease-renew-every=8s"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("QUEUE_LEASE_RENEW_EVERY"), "{err}");
        assert!(!format!("{config:?}").contains("secretpw"));
    }

    #[test]
    fn extraction_limits_default_to_the_documented_values_and_can_be_set() {
        let limits = parse(&[]).unwrap().isolation_limits();
        assert_eq!(limits.cpu_seconds, 30);
        assert_eq!(limits.memory_bytes, 512 * 1024 * 1024);
        assert_eq!(limits.limits.max_page_text_bytes, 256 * 1024);
        assert_eq!(limits.limits.max_text_bytes, 16 * 1024 * 1024);
        assert_eq!(limits.limits.max_sentences, 250_000);
        assert_eq!(limits.limits.max_page_sentences, 4_000);
        assert_eq!(limits.limits.max_glyphs_per_page, 500_000);
        assert_eq!(limits.limits.max_form_draws_per_page, 1_000);
        assert_eq!(limits.limits.max_pages, 10_000);
        assert_eq!(limits.limits.max_objects, 150_000);

        let limits = parse(&[
            "--extract-cpu-limit=5s",
            "--max-result-text-bytes=2MB",
            "--max-page-text-bytes=64KB",
            "--max-result-sentences=10",
            "--max-page-sentences=3",
            "--max-page-glyphs=99",
            "--max-form-draws-per-page=7",
            "--max-pages=25000",
            "--max-objects=400000",
            "--extract-memory-limit=1GB",
        ])
        .unwrap()
        .isolation_limits();
        assert_eq!(limits.cpu_seconds, 5);
        assert_eq!(limits.memory_bytes, 1 << 30);
        assert_eq!(limits.limits.max_text_bytes, 2 << 20);
        assert_eq!(limits.limits.max_page_text_bytes, 64 << 10);
        assert_eq!(limits.limits.max_sentences, 10);
        assert_eq!(limits.limits.max_page_sentences, 3);
        assert_eq!(limits.limits.max_glyphs_per_page, 99);
        assert_eq!(limits.limits.max_form_draws_per_page, 7);
        assert_eq!(limits.limits.max_pages, 25_000);
        assert_eq!(limits.limits.max_objects, 400_000);

        let err = parse(&["--max-result-sentences=0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MAX_RESULT_SENTENCES"), "{err}");
        let err = parse(&["--extract-cpu-limit=500ms"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("EXTRACT_CPU_LIMIT"), "{err}");
    }

    #[test]
    fn the_hard_limit_must_exceed_the_soft_one() {
        let err = parse(&["--soft-time-limit=30m", "--hard-time-limit=25m"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("TASK_HARD_TIME_LIMIT"), "{err}");
        assert!(parse(&["--soft-time-limit=1s", "--hard-time-limit=2s"]).is_ok());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = parse(&["--concurrency=0"]).unwrap_err().to_string();
        assert!(err.contains("WORKER_CONCURRENCY"), "{err}");
        let err = WorkerConfig::from_args([
            "pdfq-worker",
            "--database-url=postgres://w@localhost/pdfq",
            "--redis-url=http://nope",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("REDIS_URL"), "{err}");
    }
}
