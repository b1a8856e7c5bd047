//! The pdfq-worker binary: reads its configuration and runs jobs.

use std::process::ExitCode;

use pdfq_worker::WorkerConfig;

fn main() -> ExitCode {
    let config = match WorkerConfig::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("pdfq-worker: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("pdfq-worker: configuration is valid: {config:?}");
    eprintln!("pdfq-worker: the job loop is not built yet (issue 4); exiting");
    ExitCode::FAILURE
}
