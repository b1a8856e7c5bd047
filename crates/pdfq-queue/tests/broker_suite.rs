//! One suite, run against both brokers: the Redis broker on the real Redis (a key prefix of its
//! own per test) and the in-process broker. Durations are shortened through `QueueOptions`.

// Tests may unwrap (clippy.toml); helpers outside #[test] functions are tests too.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use pdfq_domain::limits::RateLimit;
use pdfq_domain::{Attempt, JobId, UserId, WorkerId};
use pdfq_queue::{
    Broker, DrainMode, Heartbeat, InstanceKind, MemoryBroker, PoolStats, QueueOptions, RateKey,
    RedisBroker,
};
use pdfq_test_support::TestRedis;

const LEASE: Duration = Duration::from_millis(400);

fn fast_options() -> QueueOptions {
    QueueOptions {
        lease: LEASE,
        renew_every: Duration::from_millis(100),
        dead_letter_cap: 5,
        cancel_ttl: Duration::from_secs(60),
        heartbeat_ttl: Duration::from_millis(1500),
        heartbeat_stale_after: Duration::from_millis(300),
        op_timeout: Duration::from_secs(3),
        max_block: Duration::from_secs(2),
        ..QueueOptions::default()
    }
}

/// A broker and, for Redis, the prefix that must outlive it.
struct Fixture {
    broker: Broker,
    _redis: Option<TestRedis>,
}

async fn redis_fixture() -> Fixture {
    let redis = TestRedis::new();
    let broker = RedisBroker::connect_url(&redis.url, &redis.prefix, fast_options())
        .await
        .unwrap();
    Fixture {
        broker: broker.into(),
        _redis: Some(redis),
    }
}

async fn memory_fixture() -> Fixture {
    Fixture {
        broker: MemoryBroker::new(fast_options()).into(),
        _redis: None,
    }
}

fn worker(name: &str) -> WorkerId {
    WorkerId::generate(name, std::process::id())
}

const NOW: Duration = Duration::ZERO;

/// The cases; each takes the broker under test.
mod cases {
    use super::*;

    pub async fn enqueue_fetch_ack(b: &Broker) {
        let w = worker("a");
        let (j1, j2) = (JobId::new(), JobId::new());
        b.enqueue(j1, Attempt::new(1)).await.unwrap();
        b.enqueue(j2, Attempt::new(3)).await.unwrap();
        assert!(b.has_entry(j1).await.unwrap());
        let got = b.fetch(&w, 10, NOW).await.unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].job_id, got[0].attempt), (j1, Attempt::new(1)));
        assert_eq!((got[1].job_id, got[1].attempt), (j2, Attempt::new(3)));
        assert!(got.iter().all(|d| d.delivery_count == 1 && d.consumer == w));
        let s = b.stats().await.unwrap();
        assert_eq!((s.waiting, s.in_flight), (0, 2), "{s:?}");
        assert!(b.ack(&got[0]).await.unwrap());
        assert!(
            !b.ack(&got[0]).await.unwrap(),
            "a second ack changes nothing"
        );
        assert!(!b.has_entry(j1).await.unwrap());
        assert!(b.has_entry(j2).await.unwrap(), "still in flight");
        assert!(b.ack(&got[1]).await.unwrap());
        let s = b.stats().await.unwrap();
        assert_eq!((s.waiting, s.in_flight), (0, 0), "{s:?}");
        assert!(b.fetch(&w, 10, NOW).await.unwrap().is_empty());
    }

    pub async fn a_second_consumer_does_not_get_an_in_flight_entry(b: &Broker) {
        let (a, c) = (worker("a"), worker("c"));
        let j = JobId::new();
        b.enqueue(j, Attempt::new(1)).await.unwrap();
        let got = b.fetch(&a, 1, NOW).await.unwrap();
        assert_eq!(got.len(), 1);
        let start = Instant::now();
        let other = b.fetch(&c, 10, Duration::from_millis(200)).await.unwrap();
        assert!(other.is_empty(), "{other:?}");
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "fetch should block"
        );
        assert!(
            b.reap(&c, 10).await.unwrap().is_empty(),
            "lease not expired yet"
        );
    }

    pub async fn a_dead_consumers_entry_is_reaped_and_redelivered(b: &Broker) {
        let (dead, live) = (worker("dead"), worker("live"));
        let j = JobId::new();
        b.enqueue(j, Attempt::new(1)).await.unwrap();
        let first = b.fetch(&dead, 1, NOW).await.unwrap().remove(0);
        tokio::time::sleep(LEASE + Duration::from_millis(150)).await;
        let reaped = b.reap(&live, 10).await.unwrap();
        assert_eq!(reaped.len(), 1, "{reaped:?}");
        let r = &reaped[0];
        assert_eq!(
            (r.job_id, r.attempt, r.delivery_count),
            (j, Attempt::new(1), 2)
        );
        assert_eq!(r.consumer, live);
        assert_eq!(r.entry_id, first.entry_id);
        // The worker that lost the lease can neither renew nor ack it away from the new owner.
        assert!(!b.renew(&first).await.unwrap());
        assert!(!b.ack(&first).await.unwrap());
        assert!(b.has_entry(j).await.unwrap());
        assert!(b.reap(&live, 10).await.unwrap().is_empty(), "just claimed");
        assert!(b.ack(r).await.unwrap());
        assert!(!b.has_entry(j).await.unwrap());
    }

    pub async fn reaping_takes_at_most_count(b: &Broker) {
        let (dead, live) = (worker("dead"), worker("live"));
        for _ in 0..3 {
            b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        }
        assert_eq!(b.fetch(&dead, 3, NOW).await.unwrap().len(), 3);
        tokio::time::sleep(LEASE + Duration::from_millis(150)).await;
        assert_eq!(b.reap(&live, 2).await.unwrap().len(), 2);
        assert!(b.reap(&live, 0).await.unwrap().is_empty());
        assert_eq!(b.reap(&live, 5).await.unwrap().len(), 1);
    }

    pub async fn an_abandoned_entry_behind_many_healthy_ones_is_reaped(b: &Broker) {
        let (busy, dead, reaper) = (worker("busy"), worker("dead"), worker("reaper"));
        for _ in 0..30 {
            b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        }
        let healthy = b.fetch(&busy, 29, NOW).await.unwrap();
        assert_eq!(healthy.len(), 29);
        let lost = b.fetch(&dead, 1, NOW).await.unwrap().remove(0);
        for _ in 0..4 {
            tokio::time::sleep(LEASE / 3).await;
            for d in &healthy {
                assert!(b.renew(d).await.unwrap());
            }
        }
        let reaped = b.reap(&reaper, 1).await.unwrap();
        assert_eq!(reaped.len(), 1, "{reaped:?}");
        assert_eq!(reaped[0].entry_id, lost.entry_id);
    }

    pub async fn renewing_keeps_an_entry_from_being_reaped(b: &Broker) {
        let (runner, reaper) = (worker("runner"), worker("reaper"));
        b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        let d = b.fetch(&runner, 1, NOW).await.unwrap().remove(0);
        for _ in 0..6 {
            tokio::time::sleep(LEASE / 3).await;
            assert!(b.renew(&d).await.unwrap());
            assert!(
                b.reap(&reaper, 10).await.unwrap().is_empty(),
                "renewed entry reaped"
            );
        }
        // Renewal must not count deliveries.
        tokio::time::sleep(LEASE + Duration::from_millis(150)).await;
        let reaped = b.reap(&reaper, 10).await.unwrap();
        assert_eq!(reaped.len(), 1);
        assert_eq!(reaped[0].delivery_count, 2);
    }

    pub async fn dead_consumers_are_removed_from_the_group(b: &Broker) {
        let (gone, live) = (worker("gone"), worker("live"));
        b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        let d = b.fetch(&gone, 1, NOW).await.unwrap().remove(0);
        assert!(b.ack(&d).await.unwrap());
        let names = |c: Vec<(String, u64)>| c.into_iter().map(|c| c.0).collect::<Vec<_>>();
        assert!(names(b.consumers().await.unwrap()).contains(&gone.to_string()));
        let held = b.fetch(&live, 1, NOW).await.unwrap().remove(0);
        tokio::time::sleep(LEASE + Duration::from_millis(150)).await;
        assert!(b.renew(&held).await.unwrap());
        // `gone` owns nothing and was idle past the lease; `live` holds an entry.
        assert_eq!(b.prune_consumers(&live).await.unwrap(), 1);
        assert_eq!(b.consumers().await.unwrap(), vec![(live.to_string(), 1)]);
        // The reaper prunes too, and never removes the consumer it reaps for.
        assert!(b.ack(&held).await.unwrap());
        tokio::time::sleep(LEASE + Duration::from_millis(150)).await;
        b.reap(&live, 1).await.unwrap();
        assert!(
            b.consumers()
                .await
                .unwrap()
                .iter()
                .all(|c| c.0 == live.to_string())
        );
    }

    pub async fn a_consumer_holding_entries_is_kept(b: &Broker) {
        let (holder, live) = (worker("holder"), worker("live"));
        b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        b.fetch(&holder, 1, NOW).await.unwrap();
        tokio::time::sleep(LEASE + Duration::from_millis(150)).await;
        assert_eq!(b.prune_consumers(&live).await.unwrap(), 0);
        let c = b.consumers().await.unwrap();
        assert_eq!(c, vec![(holder.to_string(), 1)]);
    }

    pub async fn a_released_delivery_goes_to_another_worker_at_once(b: &Broker) {
        let (leaving, staying) = (worker("leaving"), worker("staying"));
        let (j1, j2) = (JobId::new(), JobId::new());
        b.enqueue(j1, Attempt::new(2)).await.unwrap();
        b.enqueue(j2, Attempt::new(1)).await.unwrap();
        let held = b.fetch(&leaving, 1, NOW).await.unwrap().remove(0);
        assert_eq!(held.job_id, j1);
        let new_id = b.release(&held).await.unwrap().unwrap();
        assert_ne!(new_id, held.entry_id);
        assert_eq!(b.release(&held).await.unwrap(), None, "released once");
        assert!(!b.ack(&held).await.unwrap());
        let got = b.fetch(&staying, 10, NOW).await.unwrap();
        let jobs: Vec<(JobId, Attempt, u32)> = got
            .iter()
            .map(|d| (d.job_id, d.attempt, d.delivery_count))
            .collect();
        assert_eq!(
            jobs,
            vec![(j2, Attempt::new(1), 1), (j1, Attempt::new(2), 1)],
            "to the back"
        );
        assert!(b.has_entry(j1).await.unwrap());
        assert!(b.ack(&got[1]).await.unwrap());
        assert!(!b.has_entry(j1).await.unwrap());
    }

    pub async fn a_blocked_fetch_wakes_on_enqueue(b: &Broker) {
        let w = worker("w");
        let waiter = {
            let b = b.clone();
            let w = w.clone();
            tokio::spawn(async move { b.fetch(&w, 1, Duration::from_secs(2)).await })
        };
        tokio::time::sleep(Duration::from_millis(150)).await;
        let start = Instant::now();
        let j = JobId::new();
        b.enqueue(j, Attempt::new(1)).await.unwrap();
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].job_id, j);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    pub async fn a_duplicate_enqueue_delivers_twice_and_both_ack(b: &Broker) {
        let w = worker("w");
        let j = JobId::new();
        b.enqueue(j, Attempt::new(1)).await.unwrap();
        b.enqueue(j, Attempt::new(1)).await.unwrap();
        let got = b.fetch(&w, 10, NOW).await.unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|d| d.job_id == j));
        assert!(b.ack(&got[0]).await.unwrap());
        assert!(b.ack(&got[1]).await.unwrap());
        assert_eq!(b.stats().await.unwrap().in_flight, 0);
    }

    pub async fn enqueue_if_absent_sees_every_kind_of_entry(b: &Broker) {
        let w = worker("w");
        let j = JobId::new();
        assert_eq!(b.missing_entries(&[j]).await.unwrap(), vec![j]);
        assert!(
            b.enqueue_if_absent(j, Attempt::new(1))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            b.enqueue_if_absent(j, Attempt::new(1))
                .await
                .unwrap()
                .is_none(),
            "waiting"
        );
        let d = b.fetch(&w, 1, NOW).await.unwrap().remove(0);
        assert!(
            b.enqueue_if_absent(j, Attempt::new(1))
                .await
                .unwrap()
                .is_none(),
            "in flight"
        );
        b.retry_later(&d, Attempt::new(2), Duration::from_secs(60))
            .await
            .unwrap();
        assert!(
            b.enqueue_if_absent(j, Attempt::new(2))
                .await
                .unwrap()
                .is_none(),
            "delayed"
        );
        assert!(b.missing_entries(&[j]).await.unwrap().is_empty());
        b.dead_letter(j, Attempt::new(2), "gave_up", "test")
            .await
            .unwrap();
        assert_eq!(
            b.stats().await.unwrap().delayed,
            0,
            "dead letter unschedules"
        );
        assert!(!b.has_entry(j).await.unwrap());
        assert!(
            b.enqueue_if_absent(j, Attempt::new(3))
                .await
                .unwrap()
                .is_some()
        );
        let other = JobId::new();
        assert_eq!(b.missing_entries(&[j, other]).await.unwrap(), vec![other]);
    }

    pub async fn a_delayed_retry_is_promoted_once_when_due(b: &Broker) {
        let w = worker("w");
        let j = JobId::new();
        b.enqueue(j, Attempt::new(1)).await.unwrap();
        let d = b.fetch(&w, 1, NOW).await.unwrap().remove(0);
        b.retry_later(&d, Attempt::new(2), Duration::from_millis(500))
            .await
            .unwrap();
        let s = b.stats().await.unwrap();
        assert_eq!((s.waiting, s.in_flight, s.delayed), (0, 0, 1), "{s:?}");
        assert!(b.has_entry(j).await.unwrap());
        assert_eq!(b.promote_due().await.unwrap(), 0, "not due yet");
        assert!(b.fetch(&w, 1, NOW).await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(600)).await;
        // Many promoters at once: the retry reaches the stream exactly once.
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move { b.promote_due().await.unwrap() }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(total, 1);
        let got = b.fetch(&w, 10, NOW).await.unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].job_id, got[0].attempt), (j, Attempt::new(2)));
        assert_eq!(b.stats().await.unwrap().delayed, 0);
        assert!(b.ack(&got[0]).await.unwrap());
        assert!(!b.has_entry(j).await.unwrap());
    }

    pub async fn a_newer_retry_replaces_the_delayed_one(b: &Broker) {
        let j = JobId::new();
        b.schedule(j, Attempt::new(2), Duration::from_secs(60))
            .await
            .unwrap();
        b.schedule(j, Attempt::new(3), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(b.stats().await.unwrap().delayed, 1);
        assert_eq!(b.promote_due().await.unwrap(), 1);
        let got = b.fetch(&worker("w"), 10, NOW).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].attempt, Attempt::new(3));
    }

    pub async fn dead_letters_are_capped_newest_first(b: &Broker) {
        let jobs: Vec<JobId> = (0..8).map(|_| JobId::new()).collect();
        for (i, j) in jobs.iter().enumerate() {
            b.dead_letter(
                *j,
                Attempt::new(4),
                "retries_exhausted",
                &format!("boom {i}"),
            )
            .await
            .unwrap();
        }
        let dead = b.dead_letters(100).await.unwrap();
        assert_eq!(dead.len(), 5, "cap from the options");
        let ids: Vec<JobId> = dead.iter().map(|d| d.job_id).collect();
        let newest: Vec<JobId> = jobs.iter().rev().take(5).copied().collect();
        assert_eq!(ids, newest);
        assert_eq!(dead[0].reason, "boom 7");
        assert_eq!(dead[0].code, "retries_exhausted");
        assert_eq!(dead[0].attempt, Attempt::new(4));
        let age = time::OffsetDateTime::now_utc() - dead[0].at;
        assert!(age.whole_seconds().abs() < 60, "{age}");
        assert_eq!(b.dead_letters(2).await.unwrap().len(), 2);
        assert_eq!(b.stats().await.unwrap().dead, 5);
        assert_eq!(b.purge_dead().await.unwrap(), 5);
        assert!(b.dead_letters(100).await.unwrap().is_empty());
    }

    pub async fn pause_stops_delivery_and_resume_restores_it(b: &Broker) {
        let w = worker("w");
        b.pause().await.unwrap();
        assert!(b.is_paused().await.unwrap());
        b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        let start = Instant::now();
        assert!(
            b.fetch(&w, 1, Duration::from_millis(200))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "a paused fetch still waits"
        );
        let s = b.stats().await.unwrap();
        assert!(s.paused);
        assert_eq!(s.waiting, 1);
        b.resume().await.unwrap();
        assert!(!b.is_paused().await.unwrap());
        assert_eq!(b.fetch(&w, 1, NOW).await.unwrap().len(), 1);
    }

    pub async fn a_drain_request_is_per_worker_and_can_be_lifted(b: &Broker) {
        let (w, other) = (worker("w"), worker("other"));
        assert_eq!(b.drain_requested(&w).await.unwrap(), None);
        b.request_drain(&w, DrainMode::Stay).await.unwrap();
        assert_eq!(b.drain_requested(&w).await.unwrap(), Some(DrainMode::Stay));
        assert_eq!(b.drain_requested(&other).await.unwrap(), None);
        b.request_drain(&w, DrainMode::Exit).await.unwrap();
        assert_eq!(b.drain_requested(&w).await.unwrap(), Some(DrainMode::Exit));
        assert!(b.cancel_drain(&w).await.unwrap());
        assert!(!b.cancel_drain(&w).await.unwrap());
        assert_eq!(b.drain_requested(&w).await.unwrap(), None);
    }

    pub async fn cancel_is_announced_and_flagged(b: &Broker) {
        let mut sub = b.subscribe_cancels().await.unwrap();
        let (j, other) = (JobId::new(), JobId::new());
        assert!(!b.cancel_requested(j).await.unwrap());
        b.request_cancel(j).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(3), sub.recv())
            .await
            .unwrap();
        assert_eq!(got, Some(j));
        assert!(b.cancel_requested(j).await.unwrap());
        assert!(!b.cancel_requested(other).await.unwrap());
        b.clear_cancel(j).await.unwrap();
        assert!(!b.cancel_requested(j).await.unwrap());
    }

    pub async fn live_progress_reaches_every_subscriber_as_published(b: &Broker) {
        let (mut api_one, mut api_two) = (
            b.subscribe_progress().await.unwrap(),
            b.subscribe_progress().await.unwrap(),
        );
        let progress = pdfq_queue::LiveProgress {
            job: JobId::new(),
            attempt: Attempt::new(2),
            percent: pdfq_domain::Progress::new(37).unwrap(),
            step: pdfq_domain::CurrentStep::page(370, 1000),
            at: time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        };
        b.publish_progress(&progress).await.unwrap();
        for sub in [&mut api_one, &mut api_two] {
            let got = tokio::time::timeout(Duration::from_secs(3), sub.recv())
                .await
                .unwrap();
            assert_eq!(got.as_ref(), Some(&progress));
        }
    }

    pub async fn counters_feed_throughput(b: &Broker) {
        for _ in 0..3 {
            b.count_processed().await.unwrap();
        }
        b.count_failed().await.unwrap();
        let t = b.throughput(5).await.unwrap();
        assert_eq!(t.len(), 5);
        assert!(
            t.windows(2)
                .all(|w| w[1].minute - w[0].minute == time::Duration::MINUTE)
        );
        // The calls may straddle a minute boundary: sum the last two minutes.
        let processed: u64 = t.iter().map(|m| m.processed).sum();
        let failed: u64 = t.iter().map(|m| m.failed).sum();
        assert_eq!((processed, failed), (3, 1));
        assert!(t[..3].iter().all(|m| m.processed == 0 && m.failed == 0));
        assert!(b.throughput(0).await.unwrap().is_empty());
    }

    fn beat(id: &WorkerId, kind: InstanceKind) -> Heartbeat {
        Heartbeat {
            id: id.clone(),
            kind,
            host: "host-1".into(),
            pid: 42,
            version: "0.1.0".into(),
            started_at: time::OffsetDateTime::now_utc(),
            concurrency: 2,
            busy: 1,
            current_jobs: vec![JobId::new()],
            last_fetch_at: Some(time::OffsetDateTime::now_utc()),
            status: Some("database unreachable, retrying".into()),
            pool: Some(PoolStats {
                size: 10,
                in_use: 3,
                idle: 7,
                max: 15,
            }),
            rss_bytes: Some(48 << 20),
            draining: false,
        }
    }

    pub async fn heartbeats_expire_and_go_stale(b: &Broker) {
        let (w, api) = (worker("w"), worker("api"));
        b.heartbeat(&beat(&w, InstanceKind::Worker)).await.unwrap();
        b.heartbeat(&beat(&api, InstanceKind::Api)).await.unwrap();
        let list = b.instances().await.unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|i| !i.stale), "{list:?}");
        let mine = list.iter().find(|i| i.heartbeat.id == w).unwrap();
        assert_eq!(
            mine.heartbeat,
            beat(&w, InstanceKind::Worker).with_times(&mine.heartbeat)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(b.instances().await.unwrap().iter().all(|i| i.stale));
        b.heartbeat(&beat(&w, InstanceKind::Worker)).await.unwrap();
        let list = b.instances().await.unwrap();
        let fresh = list.iter().find(|i| i.heartbeat.id == w).unwrap();
        assert!(!fresh.stale && fresh.age < Duration::from_millis(300));
        // The API's record outlives its TTL no longer; the worker's, refreshed later, does.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let list = b.instances().await.unwrap();
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0].heartbeat.id, w);
        assert!(list[0].stale);
        b.remove_heartbeat(&w).await.unwrap();
        assert!(b.instances().await.unwrap().is_empty());
    }

    pub async fn results_are_cached_until_their_ttl(b: &Broker) {
        let j = JobId::new();
        assert_eq!(b.cached_result(j).await.unwrap(), None);
        b.cache_result(j, r#"{"sentences":["a"]}"#, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            b.cached_result(j).await.unwrap().as_deref(),
            Some(r#"{"sentences":["a"]}"#)
        );
        b.evict_result(j).await.unwrap();
        assert_eq!(b.cached_result(j).await.unwrap(), None);
        b.cache_result(j, "{}", Duration::from_millis(300))
            .await
            .unwrap();
        assert!(b.cached_result(j).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(b.cached_result(j).await.unwrap(), None);
    }

    pub async fn stats_count_each_place_a_job_can_be(b: &Broker) {
        let w = worker("w");
        let s = b.stats().await.unwrap();
        assert_eq!((s.waiting, s.in_flight, s.delayed, s.dead), (0, 0, 0, 0));
        assert_eq!(s.oldest_waiting_age, None);
        for _ in 0..4 {
            b.enqueue(JobId::new(), Attempt::new(1)).await.unwrap();
        }
        let d = b.fetch(&w, 2, NOW).await.unwrap();
        b.retry_later(&d[0], Attempt::new(2), Duration::from_secs(60))
            .await
            .unwrap();
        b.dead_letter(JobId::new(), Attempt::new(1), "not_a_pdf", "no header")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        let s = b.stats().await.unwrap();
        assert_eq!(
            (s.waiting, s.in_flight, s.delayed, s.dead),
            (2, 1, 1, 1),
            "{s:?}"
        );
        let age = s.oldest_waiting_age.unwrap();
        assert!(
            age >= Duration::from_millis(100) && age < Duration::from_secs(10),
            "{age:?}"
        );
        assert!(!s.paused);
        match b {
            Broker::Redis(_) => assert!(s.memory_used_bytes.unwrap() > 0),
            Broker::Memory(_) => assert_eq!(s.memory_used_bytes, None),
        }
        assert!(b.ping().await.unwrap().latency < Duration::from_secs(1));
    }

    pub async fn the_rate_limiter_is_exact_under_concurrency(b: &Broker) {
        let user = UserId::new();
        let limit = RateLimit::DEFAULT_UPLOADS;
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                b.check_rate(&RateKey::uploads(user), limit)
                    .await
                    .unwrap()
                    .0
            }));
        }
        let mut allowed = 0;
        for t in tasks {
            let d = t.await.unwrap();
            assert_eq!(d.limit, 10);
            if d.allowed {
                allowed += 1;
            } else {
                assert_eq!(d.remaining, 0);
            }
        }
        assert_eq!(allowed, 10);
        let d = b
            .check_rate(&RateKey::uploads(user), limit)
            .await
            .unwrap()
            .0;
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(
            d.reset_after > Duration::from_secs(3500) && d.reset_after <= Duration::from_secs(3600),
            "{:?}",
            d.reset_after
        );
        // Another user has a window of their own.
        let d = b
            .check_rate(&RateKey::uploads(UserId::new()), limit)
            .await
            .unwrap()
            .0;
        assert!(d.allowed);
        assert_eq!(d.remaining, 9);
    }

    pub async fn the_rate_window_slides(b: &Broker) {
        let user = UserId::new();
        let limit = RateLimit {
            max: 2,
            window: Duration::from_millis(400),
        };
        let first = b
            .check_rate(&RateKey::uploads(user), limit)
            .await
            .unwrap()
            .0;
        assert!(first.allowed);
        assert_eq!(first.remaining, 1);
        assert!(
            first.reset_after <= Duration::from_millis(400)
                && first.reset_after > Duration::from_millis(300)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            b.check_rate(&RateKey::uploads(user), limit)
                .await
                .unwrap()
                .0
                .allowed
        );
        let refused = b
            .check_rate(&RateKey::uploads(user), limit)
            .await
            .unwrap()
            .0;
        assert!(!refused.allowed);
        assert!(
            refused.reset_after <= Duration::from_millis(250),
            "{:?}",
            refused.reset_after
        );
        // The first event leaves the window; the second still counts.
        tokio::time::sleep(Duration::from_millis(260)).await;
        let d = b
            .check_rate(&RateKey::uploads(user), limit)
            .await
            .unwrap()
            .0;
        assert!(d.allowed, "{d:?}");
        assert_eq!(d.remaining, 0);
        assert!(
            !b.check_rate(&RateKey::uploads(user), limit)
                .await
                .unwrap()
                .0
                .allowed
        );
    }

    pub async fn an_ended_session_is_known_for_its_ttl(b: &Broker) {
        let (ended, live) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        b.end_session(ended, Duration::from_millis(300))
            .await
            .unwrap();
        assert!(b.session_ended(ended).await.unwrap());
        assert!(!b.session_ended(live).await.unwrap());
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert!(
            !b.session_ended(ended).await.unwrap(),
            "forgotten once no token of it can be alive"
        );
    }

    pub async fn a_ticket_is_taken_once_and_expires(b: &Broker) {
        let (once, expiring, never) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        b.put_ticket(&once, "job-a", Duration::from_secs(60))
            .await
            .unwrap();
        b.put_ticket(&expiring, "job-b", Duration::from_millis(200))
            .await
            .unwrap();
        let takes = futures::future::join_all((0..8).map(|_| b.take_ticket(&once))).await;
        let taken: Vec<_> = takes.into_iter().filter_map(Result::unwrap).collect();
        assert_eq!(taken, ["job-a"], "one of eight concurrent takes gets it");
        assert_eq!(b.take_ticket(&never).await.unwrap(), None);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(
            b.take_ticket(&expiring).await.unwrap(),
            None,
            "expired unused"
        );
    }

    pub async fn a_refunded_event_no_longer_counts(b: &Broker) {
        let key = RateKey::login_failures("owner@example.com", "192.0.2.1".parse().unwrap());
        let limit = RateLimit {
            max: 2,
            window: Duration::from_secs(60),
        };
        let (first, ticket) = b.check_rate(&key, limit).await.unwrap();
        assert!(first.allowed);
        let (second, _) = b.check_rate(&key, limit).await.unwrap();
        assert!(second.allowed);
        let (third, none) = b.check_rate(&key, limit).await.unwrap();
        assert!(!third.allowed);
        assert!(none.is_none(), "a refused event has no ticket");
        b.refund_rate(&ticket.unwrap()).await.unwrap();
        let (again, _) = b.check_rate(&key, limit).await.unwrap();
        assert!(again.allowed, "the refunded slot is free again: {again:?}");
        assert_eq!(again.remaining, 0);
        // Keys are separate: the same account from another address has its own log.
        let other = RateKey::login_failures("owner@example.com", "192.0.2.2".parse().unwrap());
        assert!(b.check_rate(&other, limit).await.unwrap().0.allowed);
    }
}

/// Lets the heartbeat comparison ignore the times the test cannot know in advance.
trait WithTimes {
    fn with_times(self, from: &Heartbeat) -> Heartbeat;
}

impl WithTimes for Heartbeat {
    fn with_times(mut self, from: &Heartbeat) -> Heartbeat {
        self.started_at = from.started_at;
        self.last_fetch_at = from.last_fetch_at;
        self.current_jobs.clone_from(&from.current_jobs);
        self
    }
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let f = super::redis_fixture().await;
                    super::cases::$case(&f.broker).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let f = super::memory_fixture().await;
                    super::cases::$case(&f.broker).await;
                }
            )*
        }
    };
}

suite!(
    enqueue_fetch_ack,
    a_second_consumer_does_not_get_an_in_flight_entry,
    a_dead_consumers_entry_is_reaped_and_redelivered,
    reaping_takes_at_most_count,
    renewing_keeps_an_entry_from_being_reaped,
    an_abandoned_entry_behind_many_healthy_ones_is_reaped,
    dead_consumers_are_removed_from_the_group,
    a_consumer_holding_entries_is_kept,
    a_released_delivery_goes_to_another_worker_at_once,
    a_blocked_fetch_wakes_on_enqueue,
    a_duplicate_enqueue_delivers_twice_and_both_ack,
    enqueue_if_absent_sees_every_kind_of_entry,
    a_delayed_retry_is_promoted_once_when_due,
    a_newer_retry_replaces_the_delayed_one,
    dead_letters_are_capped_newest_first,
    pause_stops_delivery_and_resume_restores_it,
    a_drain_request_is_per_worker_and_can_be_lifted,
    cancel_is_announced_and_flagged,
    live_progress_reaches_every_subscriber_as_published,
    counters_feed_throughput,
    heartbeats_expire_and_go_stale,
    results_are_cached_until_their_ttl,
    stats_count_each_place_a_job_can_be,
    the_rate_limiter_is_exact_under_concurrency,
    the_rate_window_slides,
    a_refunded_event_no_longer_counts,
    an_ended_session_is_known_for_its_ttl,
    a_ticket_is_taken_once_and_expires,
);
