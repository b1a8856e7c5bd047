//! [`RunningWorker`]: the real worker on a [`TestApp`]'s store and broker, in this process (as
//! `pdfctl up` runs it), extracting with the e2e extraction child.

use std::time::Duration;

use pdfq_worker::{Extractor, Worker, WorkerSettings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::TestApp;

/// A worker (concurrency 1, polling every 200 ms) on `app`'s store and broker, not yet running,
/// with its settings changed by `configure`; for tests that run it themselves (to read its id
/// first, or to start it at a moment of their choosing). `extract_child` as for
/// [`RunningWorker::start`].
#[must_use]
pub fn test_worker(
    app: &TestApp,
    extract_child: &str,
    configure: impl FnOnce(&mut WorkerSettings),
) -> Worker {
    let extractor = Extractor::new(
        std::path::Path::new(extract_child),
        &[],
        Default::default(),
        50,
        1,
    );
    let mut settings = WorkerSettings {
        concurrency: 1,
        fetch_block: Duration::from_millis(200),
        ..WorkerSettings::defaults(extractor)
    };
    configure(&mut settings);
    Worker::new(app.store.clone(), app.broker.clone(), settings)
}

/// A worker task; [`RunningWorker::stop`] ends it.
#[derive(Debug)]
pub struct RunningWorker {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), String>>,
}

impl RunningWorker {
    /// Starts one worker (concurrency 1) on `app`. `extract_child` is the path of the
    /// `pdfq-e2e-extract-child` binary (`env!("CARGO_BIN_EXE_pdfq-e2e-extract-child")`, which
    /// only integration tests see).
    #[must_use]
    pub fn start(app: &TestApp, extract_child: &str) -> Self {
        Self::start_with(app, extract_child, |_| {})
    }

    /// [`Self::start`] with the settings changed by `configure` (e.g. webhooks' timings).
    #[must_use]
    pub fn start_with(
        app: &TestApp,
        extract_child: &str,
        configure: impl FnOnce(&mut WorkerSettings),
    ) -> Self {
        let worker = test_worker(app, extract_child, configure);
        let (stop, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            worker
                .run(async {
                    let _ = stop_rx.await;
                })
                .await
                .map_err(|e| format!("{e:#}"))
        });
        Self { stop, task }
    }

    /// Asks the worker to stop and waits up to 30 s for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the worker stops within 30 s")
            .expect("the worker task does not panic")
            .unwrap_or_else(|e| panic!("the worker failed: {e}"));
    }
}
