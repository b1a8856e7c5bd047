//! pdfq's REST API.
//!
//! - [`config`]: the API's configuration, one typed struct read from the environment.

pub mod config;

pub use config::{ApiConfig, Environment};
