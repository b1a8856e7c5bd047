//! `pdfctl completions SHELL`: a completion script for the shell, printed to stdout.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell. Install e.g. with
    /// `pdfctl completions bash > ~/.local/share/bash-completion/completions/pdfctl`.
    shell: clap_complete::Shell,
}

pub fn run(args: &Args, mut command: clap::Command) -> ExitCode {
    clap_complete::generate(args.shell, &mut command, "pdfctl", &mut std::io::stdout());
    ExitCode::SUCCESS
}
