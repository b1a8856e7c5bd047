//! The layers around every route: request ids, tracing, compression, panics as JSON 500s, CORS,
//! metrics, reading bodies left unread (`linger`) and the request timeout.

use std::any::Any;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Sent by a reconnecting `EventSource` (see `routes::events`).
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
/// Makes a retried upload return the first job (see `routes::upload`).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Wraps `router` in the layers, outermost first: request id, trace span, compression, panic
/// catcher, CORS, metrics, lingering, timeout.
pub fn apply(router: Router<AppState>, state: AppState) -> Router<AppState> {
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(
                    |res: &axum::http::Response<_>, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_millis() as u64, "answered");
                    },
                ),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // gzip or br as Accept-Encoding asks; the default predicate leaves bodies under 32
        // bytes, images and text/event-stream alone (an event stream must not be buffered).
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors(&state.settings.allowed_origins))
        .layer(from_fn_with_state(state.clone(), record_metrics))
        // Outside the timeout, so that what it reads is the connection's own body.
        .layer(from_fn_with_state(state.clone(), crate::linger::linger))
        .layer(from_fn_with_state(state, timeout));
    router.layer(layers)
}

fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    ApiError::Internal("a handler panicked".into()).into_response()
}

/// CORS for the configured origins (`*` for any). Tokens travel in the Authorization header,
/// not cookies, so credentials are not allowed.
fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o.trim() == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim().trim_end_matches('/')).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        // If-None-Match and ETag: a browser poller's 304s.
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            REQUEST_ID,
            LAST_EVENT_ID,
            IDEMPOTENCY_KEY,
        ])
        .expose_headers([
            REQUEST_ID,
            header::ETAG,
            header::RETRY_AFTER,
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(3600))
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    state.metrics.started();
    let response = next.run(req).await;
    state
        .metrics
        .finished(&method, &route, response.status().as_u16(), start.elapsed());
    response
}

/// REQUEST_TIMEOUT for producing the response head (an event stream's body is not limited).
/// When it runs out while the handler waits for the client's body (a stalled upload), the
/// answer is 408 `request_timeout`, the client's doing; otherwise 503 `timeout`.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.settings.request_timeout;
    let (req, waiting) = watch_body(req);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) if waiting.load(Ordering::Relaxed) => {
            ApiError::RequestTimeout(limit).into_response()
        }
        Err(_) => ApiError::Timeout(limit).into_response(),
    }
}

/// The request with its body wrapped so that the flag tells whether the handler is waiting for
/// the client's next bytes right now. Requests without a body are left as they are.
fn watch_body(req: Request) -> (Request, Arc<AtomicBool>) {
    let waiting = Arc::new(AtomicBool::new(false));
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if !has_body {
        return (req, waiting);
    }
    let (parts, body) = req.into_parts();
    let body = Body::from_stream(WatchedBody {
        inner: body.into_data_stream(),
        waiting: Arc::clone(&waiting),
    });
    (Request::from_parts(parts, body), waiting)
}

/// A body stream that records whether its last poll found no data ready.
struct WatchedBody {
    inner: BodyDataStream,
    waiting: Arc<AtomicBool>,
}

impl Stream for WatchedBody {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        self.waiting.store(polled.is_pending(), Ordering::Relaxed);
        polled
    }
}
