//! `pdfctl submit FILE.pdf [--wait]`: upload a PDF; with --wait, follow its progress and print
//! its sentences.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use pdfq_api_types::JobView;
use pdfq_domain::JobStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The PDF to upload.
    file: PathBuf,
    /// Wait for the job to finish, showing its progress, then print its sentences.
    #[arg(long)]
    wait: bool,
    /// Print JSON (the job as the API returns it) instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn run(api_url: &str, args: &Args) -> anyhow::Result<ExitCode> {
    let client = crate::session::authenticated(api_url).await?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let name = args.file.file_name().map_or_else(
        || "upload.pdf".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let size = bytes.len() as u64;
    let accepted = client
        .upload(&name, bytes)
        .await
        .map_err(|e| refused(api_url, &e, size))?;
    if !args.wait {
        if args.json {
            println!("{}", serde_json::to_string(&accepted)?);
        } else {
            println!("{}", accepted.job_id);
            eprintln!(
                "queued; follow it with `pdfctl jobs show {}`",
                accepted.job_id
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    // Said first, so that the job can be found again if the wait is interrupted.
    eprintln!("job {} queued", accepted.job_id);
    let mut bar = ProgressBar::new();
    let job = loop {
        let job = client
            .job(accepted.job_id)
            .await
            .context("reading the job's status")?;
        bar.show(&job);
        if job.status.is_terminal() {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    bar.finish();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&job)?);
    } else if job.status == JobStatus::Completed {
        let mut out = std::io::stdout().lock();
        for sentence in job.sentences.iter().flatten() {
            if writeln!(out, "{sentence}").is_err() {
                break;
            }
        }
    }
    match (job.status, &job.error) {
        (JobStatus::Completed, _) => Ok(ExitCode::SUCCESS),
        (status, Some(error)) => {
            eprintln!(
                "pdfctl: job {} {status}: {} ({})",
                job.job_id, error.message, error.code
            );
            Ok(ExitCode::FAILURE)
        }
        (status, None) => {
            eprintln!("pdfctl: job {} {status}", job.job_id);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The upload's error with what to do next: most refusals are the server's limits, which
/// only the server's operator can raise.
fn refused(api_url: &str, e: &pdfq_client::ClientError, size: u64) -> anyhow::Error {
    let next = match e.status() {
        Some(413) => format!(
            "the file is {}; split or compress it, or raise MAX_UPLOAD_BYTES for the server",
            super::format::bytes(size)
        ),
        Some(429) => "the server limits uploads per user; wait, or raise the limit: set UPLOAD_RATE_LIMIT (e.g. 100/hour) for the server".to_owned(),
        Some(503) => "the server is busy or cannot reach its database; try again shortly, `pdfctl doctor` checks it".to_owned(),
        Some(_) => return anyhow::anyhow!("uploading: {e}"),
        None => format!(
            "is the API running at {api_url}? start one with `pdfctl up`, or pass --api-url / set PDFQ_API_URL"
        ),
    };
    anyhow::anyhow!("uploading: {e}\n  next: {next}")
}

/// A one-line progress bar on a terminal; plain lines when stderr is a file or a pipe.
struct ProgressBar {
    terminal: bool,
    last: Option<(JobStatus, u8, String)>,
}

impl ProgressBar {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn show(&mut self, job: &JobView) {
        let now = (job.status, job.progress, job.current_step.clone());
        if self.last.as_ref() == Some(&now) {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let filled = usize::from(job.progress.min(100)) * 30 / 100;
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {:>3}% {} ({})",
                "#".repeat(filled),
                ".".repeat(30 - filled),
                job.progress,
                job.current_step,
                job.status
            );
            let _ = err.flush();
        } else {
            let _ = writeln!(
                err,
                "{:>3}% {} ({})",
                job.progress, job.current_step, job.status
            );
        }
        self.last = Some(now);
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}
