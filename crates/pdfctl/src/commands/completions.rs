//! `pdfctl completions SHELL`: a completion script for the shell, printed to stdout.

use std::io::Write as _;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell. Install e.g. with
    /// `pdfctl completions bash > ~/.local/share/bash-completion/completions/pdfctl`.
    shell: clap_complete::Shell,
}

pub fn run(args: &Args, mut command: clap::Command) -> anyhow::Result<ExitCode> {
    // clap_complete panics when its writer fails; a buffer cannot, and the one write to stdout
    // returns its error (a closed pipe ends quietly in main).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pdfctl", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
