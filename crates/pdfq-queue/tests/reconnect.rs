//! Redis going away and coming back, simulated with a TCP proxy in front of the test Redis that
//! the test stops (cutting every connection) and starts again on the same port.

// Tests may unwrap (clippy.toml); helpers outside #[test] functions are tests too.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pdfq_domain::{Attempt, JobId, WorkerId};
use pdfq_queue::{Broker, QueueError, QueueOptions, RedisBroker};
use pdfq_test_support::TestRedis;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy; dropping or stopping it closes every connection through it.
struct Proxy {
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(port: u16, upstream: String) -> (Self, u16) {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let conns = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().unwrap().push(pipe);
            }
        });
        tasks.lock().unwrap().push(accept);
        (Self { tasks }, port)
    }

    fn stop(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn until_ok<T>(
    what: &str,
    mut call: impl AsyncFnMut() -> Result<T, QueueError>,
) -> (T, Duration) {
    let start = Instant::now();
    loop {
        match call().await {
            Ok(v) => return (v, start.elapsed()),
            Err(e) if start.elapsed() < Duration::from_secs(10) => {
                assert!(e.is_unavailable(), "{what}: {e:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{what}: Redis did not come back: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_recovers_when_redis_comes_back() {
    let redis = TestRedis::new();
    let upstream = {
        let u = url::Url::parse(&redis.url).unwrap();
        format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(6379))
    };
    let (proxy, port) = Proxy::start(0, upstream.clone()).await;
    let options = QueueOptions {
        op_timeout: Duration::from_secs(2),
        max_block: Duration::from_secs(1),
        ..QueueOptions::default()
    };
    let b: Broker =
        RedisBroker::connect_url(&format!("redis://127.0.0.1:{port}"), &redis.prefix, options)
            .await
            .unwrap()
            .into();
    let w = WorkerId::generate("t", 1);
    b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
    let mut cancels = b.subscribe_cancels().await.unwrap();

    proxy.stop();
    drop(proxy);
    let start = Instant::now();
    let mut failures = 0;
    for _ in 0..3 {
        match b.enqueue(JobId::new(), Attempt::new(1)).await {
            Err(QueueError::Unavailable(_)) => failures += 1,
            Err(e) => panic!("{e:?}"),
            // The first call may have been written before the cut was noticed; later ones not.
            Ok(_) => {}
        }
    }
    assert!(failures >= 2, "calls must fail while Redis is away");
    assert!(b.fetch(&w, 1, Duration::from_millis(300)).await.is_err());
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );

    let (_proxy, _) = Proxy::start(port, upstream).await;
    let (_, took) = until_ok("ping", async || b.ping().await).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    let j = JobId::new();
    b.enqueue(j, Attempt::new(1)).await.unwrap();
    let got = b.fetch(&w, 10, Duration::ZERO).await.unwrap();
    assert!(got.iter().any(|d| d.job_id == j), "{got:?}");

    // The cancel subscription resubscribes by itself.
    let cancelled = JobId::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        b.request_cancel(cancelled).await.unwrap();
        if let Ok(got) = tokio::time::timeout(Duration::from_millis(500), cancels.recv()).await {
            seen = got == Some(cancelled);
        }
    }
    assert!(seen, "the subscription did not come back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_times_out_instead_of_hanging() {
    // Accepts connections and never answers (a stopped server, a black-holed network).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    let keep = held.clone();
    let accept = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    let options = QueueOptions {
        op_timeout: Duration::from_millis(700),
        max_block: Duration::from_millis(500),
        ..QueueOptions::default()
    };
    let b: Broker = RedisBroker::connect_url(
        &format!("redis://127.0.0.1:{port}"),
        "pdfq-test-silent",
        options,
    )
    .await
    .unwrap()
    .into();
    let w = WorkerId::generate("t", 1);
    for _ in 0..2 {
        let start = Instant::now();
        let e = b.ping().await.unwrap_err();
        assert!(e.is_unavailable(), "{e:?}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        let start = Instant::now();
        let e = b
            .fetch(&w, 1, Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(e.is_unavailable(), "{e:?}");
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
        let start = Instant::now();
        let e = b.subscribe_cancels().await.unwrap_err();
        assert!(e.is_unavailable(), "{e:?}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }
    assert!(!held.lock().unwrap().is_empty(), "the broker did connect");
    accept.abort();
}
