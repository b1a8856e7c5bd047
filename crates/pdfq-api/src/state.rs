//! The state every handler shares: store, broker, settings, keys and metrics.

use std::sync::Arc;

use pdfq_domain::WorkerId;
use pdfq_queue::Broker;
use pdfq_store::Store;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::auth::jwt::JwtKeys;
use crate::limits::{Limiter, PerUser, UploadSlots};
use crate::linger::Lingering;
use crate::live::LiveHub;
use crate::metrics::HttpMetrics;
use crate::settings::Settings;

/// Cheap to clone: everything inside is shared.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub broker: Broker,
    pub settings: Arc<Settings>,
    pub jwt: Arc<JwtKeys>,
    pub metrics: Arc<HttpMetrics>,
    /// Rate limits (on the broker, local when it is unreachable).
    pub limits: Arc<Limiter>,
    /// Uploads being received at once.
    pub uploads: Arc<UploadSlots>,
    /// Open progress streams per user.
    pub streams: Arc<PerUser>,
    /// Bodies left unread by an early answer, still being read (see `linger`).
    pub lingering: Lingering,
    /// Live progress announced by the workers, for the open progress streams.
    pub live: Arc<LiveHub>,
    /// `/metrics`'s queue and job gauges, counted at most every `metrics_cache`.
    pub gauges: Arc<crate::routes::metrics::CachedGauges>,
    /// This process's identity in heartbeats.
    pub instance_id: WorkerId,
    pub started_at: OffsetDateTime,
    /// Turns true when the server begins to shut down, so open event streams end and graceful
    /// shutdown is not held up by them.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// State for `settings`, and the sender that announces shutdown.
    #[must_use]
    pub fn new(store: Store, broker: Broker, settings: Settings) -> (Self, watch::Sender<bool>) {
        let (tx, rx) = watch::channel(false);
        let jwt = JwtKeys::new(&settings);
        let state = Self {
            store,
            limits: Arc::new(Limiter::new(broker.clone())),
            uploads: Arc::new(UploadSlots::new(
                settings.max_concurrent_uploads,
                settings.max_concurrent_uploads_per_user,
            )),
            streams: Arc::new(PerUser::new(settings.event_streams_per_user)),
            lingering: Lingering::new(crate::routes::upload::max_body_bytes(
                settings.max_upload_bytes,
            )),
            gauges: Arc::default(),
            live: Arc::new(LiveHub::new(broker.clone())),
            broker,
            jwt: Arc::new(jwt),
            settings: Arc::new(settings),
            metrics: Arc::new(HttpMetrics::default()),
            instance_id: WorkerId::generate(&hostname(), std::process::id()),
            started_at: OffsetDateTime::now_utc(),
            shutdown: rx,
        };
        (state, tx)
    }
}

pub use pdfq_queue::hostname;
