//! `cargo xtask bench <which>`: benchmarks that print figures.

mod all;
mod api;
mod big_document;
mod corpus_jobs;
mod extract;
mod pipeline;
mod reading_order;
mod summary;
mod upload_memory;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Which {
    /// Extraction quality and speed against pdftotext on ../shared/corpus.
    Extract(extract::Args),
    /// Jobs per second, overhead per job and enqueue-to-start latency of the job pipeline.
    Pipeline(pipeline::Args),
    /// Requests per second and latency percentiles of GET /api/v1/jobs/{id}, /api/v1/health and
    /// page 1 against page 2,000 of a 50,000-sentence result.
    Api(api::Args),
    /// Peak resident memory of the API process while it stores one 45 MB upload in a bucket
    /// (or the database).
    UploadMemory(upload_memory::Args),
    /// Every benchmark above plus the load suite (memory at idle and under load), then one
    /// Markdown table written into the README's performance section.
    All(all::Args),
}

pub fn run(which: Which) -> anyhow::Result<()> {
    match which {
        Which::Extract(args) => extract::run(&args).map(|rows| {
            println!("{}", summary::markdown(&rows, "## Summary"));
        }),
        Which::Pipeline(args) => pipeline::run(&args).map(drop),
        Which::Api(args) => api::run(&args).map(drop),
        Which::UploadMemory(args) => upload_memory::run(&args),
        Which::All(args) => all::run(&args),
    }
}
