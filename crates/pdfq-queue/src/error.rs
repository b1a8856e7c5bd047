//! The one error type of the queue, so callers can tell "Redis is down, back off and retry" from
//! "this is a bug or bad data".

/// What went wrong talking to the broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The broker cannot be reached now (connection refused or lost, timeout, server loading).
    /// Transient: callers back off and retry; the worker reports it in its heartbeat.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// Redis answered with an error that retrying will not fix (a script error, a wrong type).
    #[error("queue command failed: {0}")]
    Command(String),
    /// Data read from the broker is not what pdfq writes there (a corrupted or foreign entry).
    #[error("malformed queue data: {0}")]
    Malformed(String),
    /// The Redis configuration is unusable (bad URL).
    #[error("invalid queue configuration: {0}")]
    Config(String),
}

impl QueueError {
    /// True when retrying later may succeed.
    #[must_use]
    pub const fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<redis::RedisError> for QueueError {
    fn from(e: redis::RedisError) -> Self {
        use redis::{ErrorKind, ServerErrorKind};
        let text = e.to_string();
        match e.kind() {
            ErrorKind::Io
            | ErrorKind::ClusterConnectionNotFound
            | ErrorKind::AuthenticationFailed
            | ErrorKind::Server(
                ServerErrorKind::BusyLoading
                | ServerErrorKind::MasterDown
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::ReadOnly,
            ) => Self::Unavailable(text),
            ErrorKind::InvalidClientConfig => Self::Config(text),
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => Self::Malformed(text),
            _ if e.is_connection_dropped() || e.is_timeout() => Self::Unavailable(text),
            _ => Self::Command(text),
        }
    }
}

impl From<serde_json::Error> for QueueError {
    fn from(e: serde_json::Error) -> Self {
        Self::Malformed(e.to_string())
    }
}
