//! `pdfctl extract FILE.pdf`: the extraction engine with no server, in an isolated child
//! process exactly as the worker runs it.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use pdfq_extract::{IsolationLimits, OutputFormat};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The PDF to read.
    file: PathBuf,
    /// text: the pages' text, pages separated by form feeds; sentences: one per line;
    /// chunks: the page chunks a job reports progress by, with their sentences.
    #[arg(long, default_value = "text", value_parser = clap::builder::ValueParser::new(parse_format))]
    format: OutputFormat,
    /// Print JSON instead of text (errors too, as {"error": {"code", ...}, "message"}).
    #[arg(long)]
    json: bool,
}

fn parse_format(s: &str) -> Result<OutputFormat, String> {
    s.parse()
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let program = std::env::current_exe().context("cannot find pdfctl's own executable")?;
    let child_args = [OsString::from(crate::EXTRACT_CHILD)];
    let result = pdfq_extract::extract_isolated(
        &program,
        &child_args,
        &bytes,
        &IsolationLimits::default(),
        |_, _| {},
    );
    match result {
        Ok(document) => {
            let rendered = pdfq_extract::render(&document, args.format, args.json);
            std::io::stdout()
                .lock()
                .write_all(rendered.as_bytes())
                .context("cannot write the output")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                let error =
                    serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}});
                println!("{error}");
            }
            eprintln!("pdfctl: {}: {e} ({})", args.file.display(), e.code());
            Ok(ExitCode::FAILURE)
        }
    }
}
