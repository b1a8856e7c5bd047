//! What only the Redis broker has: an unreachable server, lost data, key layout and TTLs,
//! foreign entries in the stream.

// Tests may unwrap (clippy.toml); helpers outside #[test] functions are tests too.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use pdfq_domain::limits::RateLimit;
use pdfq_domain::{Attempt, JobId, UserId, WorkerId};
use pdfq_queue::{Broker, Heartbeat, InstanceKind, QueueError, QueueOptions, RateKey, RedisBroker};
use pdfq_test_support::TestRedis;

fn options() -> QueueOptions {
    QueueOptions {
        lease: Duration::from_millis(400),
        op_timeout: Duration::from_secs(2),
        max_block: Duration::from_secs(1),
        ..QueueOptions::default()
    }
}

async fn broker(redis: &TestRedis) -> Broker {
    RedisBroker::connect_url(&redis.url, &redis.prefix, options())
        .await
        .unwrap()
        .into()
}

fn raw(redis: &TestRedis) -> redis::Connection {
    redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn worker() -> WorkerId {
    WorkerId::generate("t", std::process::id())
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable_quickly() {
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let b: Broker = RedisBroker::connect_url(&url, "pdfq-test-closed", options())
        .await
        .expect("construction does not wait for Redis")
        .into();
    let w = worker();
    let start = Instant::now();
    let unavailable = |r: Result<(), QueueError>| match r {
        Err(QueueError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    };
    unavailable(b.ping().await.map(drop));
    unavailable(b.enqueue(JobId::new(), Attempt::new(1)).await.map(drop));
    unavailable(b.fetch(&w, 1, Duration::from_millis(500)).await.map(drop));
    unavailable(b.stats().await.map(drop));
    unavailable(
        b.check_rate(&RateKey::uploads(UserId::new()), RateLimit::DEFAULT_UPLOADS)
            .await
            .map(drop),
    );
    unavailable(b.subscribe_cancels().await.map(drop));
    unavailable(b.promote_due().await.map(drop));
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let e = b.ping().await.unwrap_err();
    assert!(e.is_unavailable());
    assert!(e.to_string().starts_with("queue unavailable"), "{e}");
}

#[tokio::test]
async fn tls_against_a_plain_or_closed_port_fails_without_panicking() {
    let redis = TestRedis::new();
    let plain = redis.url.replacen("redis://", "rediss://", 1);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for url in [plain, format!("rediss://127.0.0.1:{port}")] {
        let b = RedisBroker::connect_url(&url, &redis.prefix, options())
            .await
            .unwrap();
        let start = Instant::now();
        let e = b.ping().await.unwrap_err();
        assert!(
            matches!(e, QueueError::Unavailable(_) | QueueError::Command(_)),
            "{url}: {e:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn absurd_durations_mean_never() {
    let redis = TestRedis::new();
    let b = broker(&redis).await;
    let j = JobId::new();
    b.cache_result(j, "{}", Duration::MAX).await.unwrap();
    assert!(b.cached_result(j).await.unwrap().is_some());
    b.schedule(JobId::new(), Attempt::new(2), Duration::MAX)
        .await
        .unwrap();
    assert_eq!(b.promote_due().await.unwrap(), 0);
}

#[tokio::test]
async fn a_bad_url_is_a_config_error() {
    let e = RedisBroker::connect_url("http://nope", "p", options())
        .await
        .unwrap_err();
    assert!(matches!(e, QueueError::Config(_)), "{e:?}");
}

#[tokio::test]
async fn losing_redis_data_recreates_the_group() {
    let redis = TestRedis::new();
    let b = broker(&redis).await;
    let w = worker();
    b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
    assert_eq!(b.fetch(&w, 1, Duration::ZERO).await.unwrap().len(), 1);
    // Redis restarted without its data: every key of the prefix is gone, the group too.
    let keys = redis.keys();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query(&mut raw(&redis))
        .unwrap();
    assert!(redis.keys().is_empty());
    let s = b.stats().await.unwrap();
    assert_eq!((s.waiting, s.in_flight), (0, 0));
    assert!(b.reap(&w, 5).await.unwrap().is_empty());
    let j = JobId::new();
    b.enqueue(j, Attempt::new(1)).await.unwrap();
    let got = b.fetch(&w, 1, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job_id, j);
    assert!(b.ack(&got[0]).await.unwrap());
}

#[tokio::test]
async fn a_stale_index_record_does_not_hide_a_lost_job() {
    let redis = TestRedis::new();
    let b = broker(&redis).await;
    let (j, k) = (JobId::new(), JobId::new());
    b.enqueue(j, Attempt::new(1)).await.unwrap();
    b.schedule(k, Attempt::new(2), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(b.missing_entries(&[j, k]).await.unwrap().is_empty());
    // The entries vanish behind the index's back (say, evicted).
    let p = &redis.prefix;
    let _: () = redis::cmd("DEL")
        .arg(format!("{p}:jobs"))
        .arg(format!("{p}:delayed"))
        .query(&mut raw(&redis))
        .unwrap();
    assert_eq!(b.missing_entries(&[j, k]).await.unwrap(), vec![j, k]);
    assert!(!b.has_entry(j).await.unwrap());
    assert!(
        b.enqueue_if_absent(j, Attempt::new(1))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        b.enqueue_if_absent(k, Attempt::new(2))
            .await
            .unwrap()
            .is_some()
    );
    assert!(b.missing_entries(&[j, k]).await.unwrap().is_empty());
}

#[tokio::test]
async fn entries_queued_before_any_worker_are_delivered() {
    let redis = TestRedis::new();
    let b = broker(&redis).await;
    // The API enqueues before a worker ever read: the stream exists, the group does not.
    let j = JobId::new();
    b.enqueue(j, Attempt::new(1)).await.unwrap();
    let got = b.fetch(&worker(), 5, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job_id, j);
}

#[tokio::test]
async fn foreign_entries_are_dropped_not_redelivered() {
    let redis = TestRedis::new();
    let b = broker(&redis).await;
    let j = JobId::new();
    let _: String = redis::cmd("XADD")
        .arg(format!("{}:jobs", redis.prefix))
        .arg("*")
        .arg("job")
        .arg("not-a-uuid")
        .query(&mut raw(&redis))
        .unwrap();
    b.enqueue(j, Attempt::new(2)).await.unwrap();
    let got = b.fetch(&worker(), 10, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].job_id, j);
    let s = b.stats().await.unwrap();
    assert_eq!(
        (s.waiting, s.in_flight),
        (0, 1),
        "the foreign entry is gone: {s:?}"
    );
}

#[tokio::test]
async fn prefixes_keep_deployments_apart() {
    let (ra, rb) = (TestRedis::new(), TestRedis::new());
    let (a, b) = (broker(&ra).await, broker(&rb).await);
    a.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
    a.pause().await.unwrap();
    assert!(
        b.fetch(&worker(), 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!b.is_paused().await.unwrap());
    assert_eq!(b.stats().await.unwrap().waiting, 0);
}

#[tokio::test]
async fn every_key_is_under_the_prefix_with_a_ttl_where_it_should_have_one() {
    let redis = TestRedis::new();
    let b = broker(&redis).await;
    let (j, user, w) = (JobId::new(), UserId::new(), worker());
    b.enqueue(j, Attempt::new(1)).await.unwrap();
    let d = b.fetch(&w, 1, Duration::ZERO).await.unwrap().remove(0);
    b.retry_later(&d, Attempt::new(2), Duration::from_secs(30))
        .await
        .unwrap();
    b.dead_letter(JobId::new(), Attempt::new(1), "x", "y")
        .await
        .unwrap();
    b.pause().await.unwrap();
    b.request_cancel(j).await.unwrap();
    b.count_processed().await.unwrap();
    b.count_failed().await.unwrap();
    b.cache_result(j, "{}", QueueOptions::DEFAULT_RESULT_TTL)
        .await
        .unwrap();
    b.check_rate(&RateKey::uploads(user), RateLimit::DEFAULT_UPLOADS)
        .await
        .unwrap();
    b.heartbeat(&Heartbeat {
        id: w.clone(),
        kind: InstanceKind::Worker,
        host: "h".into(),
        pid: 1,
        version: "v".into(),
        started_at: time::OffsetDateTime::now_utc(),
        concurrency: 2,
        busy: 0,
        current_jobs: vec![],
        last_fetch_at: None,
        status: None,
        pool: None,
        rss_bytes: None,
        draining: false,
    })
    .await
    .unwrap();

    let p = &redis.prefix;
    let mut keys = redis.keys();
    keys.retain(|k| !k.contains(":stats:")); // checked below; the minute may have turned
    let mut expected = vec![
        format!("{p}:cancel:{j}"),
        format!("{p}:dead"),
        format!("{p}:delayed"),
        format!("{p}:jobs"),
        format!("{p}:jobs:index"),
        format!("{p}:paused"),
        format!("{p}:rate:{user}"),
        format!("{p}:result:{j}"),
        format!("{p}:workers"),
        format!("{p}:workers:{w}"),
    ];
    expected.sort();
    assert_eq!(keys, expected);

    let mut c = raw(&redis);
    // Nothing this test wrote landed outside the prefix.
    for needle in [j.to_string(), user.to_string(), w.to_string()] {
        let found: Vec<String> = redis::cmd("KEYS")
            .arg(format!("*{needle}*"))
            .query(&mut c)
            .unwrap();
        assert!(
            found.iter().all(|k| k.starts_with(&format!("{p}:"))),
            "{found:?}"
        );
    }
    let pttl = |c: &mut redis::Connection, key: String| -> i64 {
        redis::cmd("PTTL").arg(key).query(c).unwrap()
    };
    let hour = 3_600_000;
    let cancel = pttl(&mut c, format!("{p}:cancel:{j}"));
    assert!(cancel > 23 * hour && cancel <= 24 * hour, "{cancel}");
    let result = pttl(&mut c, format!("{p}:result:{j}"));
    assert!(result > hour - 60_000 && result <= hour, "{result}");
    let rate = pttl(&mut c, format!("{p}:rate:{user}"));
    assert!(rate > hour - 60_000 && rate <= hour, "{rate}");
    let beat = pttl(&mut c, format!("{p}:workers:{w}"));
    assert!(beat > 50_000 && beat <= 60_000, "{beat}");
    let stats: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{p}:stats:*"))
        .query(&mut c)
        .unwrap();
    assert!(stats.len() >= 2, "{stats:?}");
    for key in stats {
        assert!(
            key.starts_with(&format!("{p}:stats:processed:"))
                || key.starts_with(&format!("{p}:stats:failed:"))
        );
        let ttl = pttl(&mut c, key);
        assert!(ttl > 47 * hour && ttl <= 48 * hour, "{ttl}");
    }
    assert_eq!(
        pttl(&mut c, format!("{p}:jobs")),
        -1,
        "the stream itself never expires"
    );
}
