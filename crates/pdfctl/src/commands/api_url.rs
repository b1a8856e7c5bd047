//! `--api-url`, offered only by the commands that talk to the API.

/// Where the API is when nothing says otherwise: `pdfctl up`'s default address.
const DEFAULT: &str = "http://127.0.0.1:8000";

#[derive(Debug, Clone, clap::Args)]
pub struct ApiUrl {
    /// The pdfq API to talk to [env: PDFQ_API_URL] [default: http://127.0.0.1:8000].
    #[arg(long = "api-url", value_name = "URL", global = true)]
    url: Option<String>,
}

impl ApiUrl {
    /// The URL to use, without a trailing slash: this command's `--api-url`, else the one
    /// given before the command's name (`top`), else PDFQ_API_URL, else the default.
    #[must_use]
    pub fn resolve(&self, top: Option<&str>) -> String {
        let url = self
            .url
            .clone()
            .or_else(|| top.map(str::to_owned))
            .or_else(|| std::env::var("PDFQ_API_URL").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| DEFAULT.to_owned());
        url.trim_end_matches('/').to_owned()
    }
}
