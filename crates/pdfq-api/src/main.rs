//! The pdfq-api binary: reads its configuration and serves the API until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use anyhow::Context as _;
use pdfq_api::{ApiConfig, Application, shutdown_signal, telemetry};

fn main() -> ExitCode {
    let config = match ApiConfig::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("pdfq-api: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format());
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("pdfq-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: ApiConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        if config.jwt_secret.is_none() {
            tracing::warn!("JWT_SECRET is not set: using a random key; tokens end at restart");
        }
        let app = Application::build(config)
            .await
            .context("starting pdfq-api")?;
        app.run_until_stopped(shutdown_signal())
            .await
            .context("serving")?;
        tracing::info!("pdfq-api stopped");
        Ok(())
    })
}
