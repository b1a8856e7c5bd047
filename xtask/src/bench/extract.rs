//! `cargo xtask bench extract`: pdfq's extraction against pdftotext on the shared corpus.

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!("the extraction benchmark is not written yet")
}
