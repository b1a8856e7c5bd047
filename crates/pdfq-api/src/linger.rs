//! Reading what a client is still sending after its request was answered without its body
//! ("lingering close", as nginx and Apache do). An upload refused from its headers (no token,
//! rate limit, no free slot) is answered at once, while the client may still have megabytes to
//! send. Dropping the unread body makes hyper close the connection, and a socket closed with
//! unread bytes sends a TCP reset, which can destroy the answer in the client's buffers before
//! it reads it: the client (a browser, a generated client, pdfq-client) sees "connection reset"
//! instead of the 429 that says when to retry. So a body left unread is handed to a task that
//! reads and discards the rest once the answer is known, and the connection stays usable. An
//! answer that closes the connection anyway (`Connection: close`: a 408 for a stalled body)
//! is not held up by it.
//!
//! Bounded, as each client's cost must be: at most the largest body the API would accept, at
//! most [`LINGER_IDLE`] between reads and [`LINGER_TOTAL`] in all (nginx's `lingering_timeout`
//! and `lingering_time`), and at most [`MAX_LINGERING`] bodies at once per process; past any
//! bound the body is dropped and the connection closed as before. A body declared bigger than
//! the bound is not read at all.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::state::AppState;

/// Longest wait for the client's next bytes while discarding them.
pub const LINGER_IDLE: Duration = Duration::from_secs(5);
/// Longest time spent discarding one body.
pub const LINGER_TOTAL: Duration = Duration::from_secs(30);
/// Bodies discarded at once per process: each holds only a task and its connection, which the
/// client holds anyway; the bound keeps a flood of refused uploads from holding more.
pub const MAX_LINGERING: usize = 64;

/// The bounds of discarding, shared by every request of a process.
#[derive(Debug, Clone)]
pub struct Lingering {
    slots: Arc<Semaphore>,
    max_bytes: u64,
}

impl Lingering {
    /// Discards at most `max_bytes` of one body.
    #[must_use]
    pub fn new(max_bytes: u64) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(MAX_LINGERING)),
            max_bytes,
        }
    }

    /// Reads `body` to its end in a task of its own, if a slot is free.
    fn discard(&self, body: Body) {
        let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(discard(body, self.max_bytes, permit));
    }
}

/// Middleware: the request's body, if it has one of a size worth reading, is read to its end
/// when the handler leaves it unread, unless the answer closes the connection anyway
/// (`Connection: close`, as a 408 does: that client is not owed the wait).
pub async fn linger(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let lingering = &state.lingering;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let worth_reading = match declared {
        Some(len) => len > 0 && len <= lingering.max_bytes,
        None => chunked,
    };
    if !worth_reading {
        return next.run(req).await;
    }
    let left = Arc::new(Mutex::new(Left::Unanswered(None)));
    let req = req.map(|inner| {
        Body::new(LingeringBody {
            inner,
            ended: false,
            left: Arc::clone(&left),
            lingering: lingering.clone(),
        })
    });
    let response = next.run(req).await;
    let closes = response
        .headers()
        .get(header::CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let parked = match left.lock() {
        Ok(mut left) => std::mem::replace(&mut *left, Left::Answered { closes }),
        Err(_) => return response,
    };
    if let Left::Unanswered(Some(body)) = parked
        && !closes
    {
        lingering.discard(body);
    }
    response
}

/// What became of a body the handler did not read to its end.
enum Left {
    /// No answer yet: a body dropped now waits here for it (`None` until then).
    Unanswered(Option<Body>),
    /// Answered: a body dropped later is discarded at once, unless the connection closes.
    Answered { closes: bool },
}

/// A request body that, dropped before its end, is handed back for discarding.
struct LingeringBody {
    inner: Body,
    ended: bool,
    left: Arc<Mutex<Left>>,
    lingering: Lingering,
}

impl HttpBody for LingeringBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LingeringBody {
    fn drop(&mut self) {
        if self.is_end_stream() {
            return;
        }
        let body = std::mem::take(&mut self.inner);
        let Ok(mut left) = self.left.lock() else {
            return;
        };
        match &mut *left {
            Left::Unanswered(parked) => *parked = Some(body),
            Left::Answered { closes: false } => self.lingering.discard(body),
            Left::Answered { closes: true } => {}
        }
    }
}

/// Reads `body` to its end, or until a bound: then drops it (which closes the connection).
async fn discard(body: Body, max_bytes: u64, _permit: OwnedSemaphorePermit) {
    let mut data = body.into_data_stream();
    let mut read = 0u64;
    let reading = async {
        loop {
            match tokio::time::timeout(LINGER_IDLE, data.next()).await {
                Ok(Some(Ok(chunk))) => {
                    read += chunk.len() as u64;
                    if read > max_bytes {
                        return "more than the largest body accepted";
                    }
                }
                Ok(None) => return "read to its end",
                Ok(Some(Err(_))) => return "the connection failed",
                Err(_) => return "the client stopped sending",
            }
        }
    };
    let outcome = tokio::time::timeout(LINGER_TOTAL, reading)
        .await
        .unwrap_or("still sending when the time ran out");
    tracing::debug!(outcome, "discarded an unread request body");
}
