//! The HTTP/1.1 server loop: the router on hyper, one task per connection, with limits that
//! `axum::serve` does not set. Without them a client that sends half a request head (a
//! "slowloris") holds its connection, a task and a file descriptor forever.
//!
//! - The request head (request line and headers) must arrive within `head_timeout`
//!   (REQUEST_TIMEOUT); the same limit closes a keep-alive connection left idle that long.
//! - The head may be at most [`MAX_HEAD_BYTES`] with at most [`MAX_HEADERS`] headers; more is
//!   answered 431 by hyper, and the connection closed.
//! - The body is bounded by the request timeout middleware (408 `request_timeout` for a body
//!   that stops arriving) and by each route's size limit.
//!
//! On shutdown it stops accepting, lets each connection finish its request in flight, and
//! returns once every connection has closed.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Largest request head: the request line and every header together. Tokens are under 1 KiB;
/// browsers send a few KiB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers one request may carry (hyper's default).
pub const MAX_HEADERS: usize = 100;

/// Serves `app` on `listener` until `shutdown` completes, then drains the connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    head_timeout: Duration,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a receiver; `closed()` completes when the last one is gone.
    let (open_tx, open_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to be freed.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // The peer address, for the client address of rate limits (see `client_addr`).
        // Wrapping the whole router (not `Router::layer`, which rewraps every route).
        let service = TowerToHyperService::new(tower::Layer::layer(
            &axum::Extension(axum::extract::ConnectInfo(peer)),
            app.clone(),
        ));
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(head_timeout)
                .max_header_size(MAX_HEAD_BYTES)
                .max_headers(MAX_HEADERS);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let done = tokio::select! {
                done = conn.as_mut() => Some(done),
                _ = stop.wait_for(|stop| *stop) => None,
            };
            let done = match done {
                Some(done) => done,
                None => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = done {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

/// Errors of one connection that do not concern the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
