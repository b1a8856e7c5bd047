//! The client's error: what the API said (status, code, message) or why it could not be asked.

use reqwest::Response;

use crate::types::ErrorBody;

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error in its `{"error": {"code", "message"}}` shape.
    #[error("HTTP {status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        /// Seconds from `Retry-After`, on 429 and some 503s.
        retry_after: Option<u64>,
    },
    /// The request could not be sent or its answer not read. Its message holds reqwest's
    /// causes (e.g. "tcp connect error: Connection refused"), so the error has no `source`:
    /// a caller printing the chain (anyhow's `{:#}`) would repeat each of them.
    #[error("request failed: {}", causes(.0))]
    Transport(reqwest::Error),
    /// The answer was not the JSON this client expects.
    #[error("unexpected answer (HTTP {status}): {message}")]
    Decode { status: u16, message: String },
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        Self::Transport(e)
    }
}

/// `e` and its sources, joined by ": ", each said once (hyper's errors repeat their source's
/// text in their own).
fn causes(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

impl ClientError {
    /// The HTTP status, when the API answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::Transport(e) => e.status().map(|s| s.as_u16()),
        }
    }

    /// The API's stable error code, e.g. `not_found` or `rate_limited`.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) async fn from_response(response: Response) -> Self {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => return Self::Transport(e),
        };
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Self::Api {
                status,
                code: body.error.code,
                message: body.error.message,
                retry_after,
            },
            Err(_) => Self::Decode {
                status,
                message: crate::truncate(&text).to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_refused_connection_says_so_once() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = crate::Client::new(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .health()
            .await
            .unwrap_err();
        let text = e.to_string();
        assert_eq!(text.matches("error sending request").count(), 1, "{text}");
        assert!(text.contains("Connection refused"), "{text}");
        assert!(std::error::Error::source(&e).is_none());
    }
}
