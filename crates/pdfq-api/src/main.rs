//! The pdfq-api binary: reads its configuration and serves the API.

use std::process::ExitCode;

use pdfq_api::ApiConfig;

fn main() -> ExitCode {
    let config = match ApiConfig::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("pdfq-api: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("pdfq-api: configuration is valid: {config:?}");
    eprintln!("pdfq-api: the HTTP server is not built yet (issue 5); exiting");
    ExitCode::FAILURE
}
