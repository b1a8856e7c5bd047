//! `cargo xtask bench <which>`: benchmarks that print figures.

mod extract;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Which {
    /// Extraction quality and speed against pdftotext on ../shared/corpus.
    Extract(extract::Args),
}

pub fn run(which: Which) -> anyhow::Result<()> {
    match which {
        Which::Extract(args) => extract::run(&args),
    }
}
