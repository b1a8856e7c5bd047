//! One module per pdfctl command, and the helpers they share.

pub mod admin;
pub mod api_url;
pub mod audit;
pub mod completions;
pub mod confirm;
pub mod extract;
pub mod format;
pub mod jobs;
pub mod login;
pub mod migrate;
pub mod plan;
pub mod purge;
pub mod queue;
pub mod sentences;
pub mod submit;
pub mod throughput;
pub mod up;
pub mod webhooks;
pub mod workers;
