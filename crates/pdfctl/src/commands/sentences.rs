//! `pdfctl sentences [FILE|-]`: the sentence segmenter on plain text.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A UTF-8 text file; `-` or nothing reads standard input.
    file: Option<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let text = match args.file.as_deref() {
        None => read_stdin()?,
        Some(path) if path.as_os_str() == "-" => read_stdin()?,
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    let mut out = std::io::stdout().lock();
    for sentence in pdfq_extract::segment(&text) {
        if writeln!(out, "{sentence}").is_err() {
            break; // a closed pipe (e.g. `| head`) is not an error
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
