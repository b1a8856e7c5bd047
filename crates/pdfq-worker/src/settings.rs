//! What the run loop needs, separate from how it is read, so tests can set short limits.

use std::time::Duration;

use pdfq_store::{Retention, StorageConfig};

use crate::config::{JobConfig, WorkerConfig};
use crate::extractor::Extractor;
use crate::webhooks::WebhookSettings;

/// The worker's behaviour. Built from [`WorkerConfig`] in production; tests shorten the limits.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// A job is asked to stop after this long.
    pub soft_time_limit: Duration,
    /// The extraction child is killed after this long.
    pub hard_time_limit: Duration,
    /// Retries after a failed attempt; at most `1 + max_retries` attempts.
    pub max_retries: u32,
    /// How long a completed result stays cached in the broker.
    pub result_ttl: Duration,
    /// On shutdown, how long running jobs may take before they are handed back.
    pub drain_timeout: Duration,
    /// Pages are grouped into at most this many chunks.
    pub max_chunks: usize,
    /// A job's progress is written at most this often (the last state always).
    pub progress_interval: Duration,
    /// How often the sweeper runs.
    pub sweep_every: Duration,
    /// A pending job older than this with no queue entry is enqueued again by the sweeper. The
    /// API enqueues within milliseconds of its commit, so 10 s means the entry was lost (the API
    /// died in between, or Redis lost its data); a duplicate would be dropped by the claim anyway.
    pub lost_pending_after: Duration,
    /// How long a fetch waits for work.
    pub fetch_block: Duration,
    /// Delay between attempts to reach a broker or database that is down (doubles up to 30 s).
    pub reconnect_delay: Duration,
    /// Overrides the retry delay (tests); `None` uses the queue's backoff (30 s, 2 min, 8 min).
    pub retry_delay: Option<Duration>,
    /// How long a file is kept once its job ended (FILE_RETENTION).
    pub file_retention: Retention,
    /// How long an ended job is kept (JOB_RETENTION).
    pub job_retention: Retention,
    /// The extraction child.
    pub extractor: Extractor,
    /// Webhook deliveries, sent beside the jobs.
    pub webhooks: WebhookSettings,
}

impl WorkerSettings {
    /// Settings for `config`, running extraction through `extractor`.
    #[must_use]
    pub fn from_config(config: &WorkerConfig, extractor: Extractor) -> Self {
        let mut settings = Self::from_jobs(&config.jobs, extractor);
        settings.concurrency = usize::try_from(config.concurrency).unwrap_or(2);
        settings.result_ttl = config.result_ttl;
        settings.file_retention = config.storage.file_retention;
        settings.job_retention = config.storage.job_retention;
        settings.webhooks.allow_private = config.webhook_allow_private;
        settings
    }

    /// Settings for how jobs run (`jobs`), the rest at its defaults: what `pdfctl up` shares
    /// with `pdfq-worker`.
    #[must_use]
    pub fn from_jobs(jobs: &JobConfig, extractor: Extractor) -> Self {
        Self {
            soft_time_limit: jobs.soft_time_limit,
            hard_time_limit: jobs.hard_time_limit,
            max_retries: jobs.max_retries,
            drain_timeout: jobs.drain_timeout,
            sweep_every: jobs.sweep_every,
            webhooks: WebhookSettings {
                timeout: jobs.webhook_timeout,
                concurrency: usize::try_from(jobs.webhook_concurrency).unwrap_or(8),
                ..WebhookSettings::default()
            },
            ..Self::defaults(extractor)
        }
    }

    /// The original design's defaults.
    #[must_use]
    pub fn defaults(extractor: Extractor) -> Self {
        Self {
            concurrency: 2,
            soft_time_limit: Duration::from_secs(25 * 60),
            hard_time_limit: Duration::from_secs(30 * 60),
            max_retries: 3,
            result_ttl: Duration::from_secs(3600),
            drain_timeout: Duration::from_secs(25),
            max_chunks: pdfq_extract::DEFAULT_MAX_CHUNKS,
            progress_interval: Duration::from_millis(250),
            sweep_every: Duration::from_secs(15),
            lost_pending_after: Duration::from_secs(10),
            fetch_block: Duration::from_secs(2),
            reconnect_delay: Duration::from_millis(500),
            retry_delay: None,
            file_retention: StorageConfig::default().file_retention,
            job_retention: StorageConfig::default().job_retention,
            extractor,
            webhooks: WebhookSettings::default(),
        }
    }
}
