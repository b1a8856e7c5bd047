//! Queue and worker checks: live worker heartbeats, jobs stuck in processing, dead letters,
//! and how long the oldest job has waited.

use std::time::Duration;

use pdfq_queue::RedisBroker;
use pdfq_store::Store;

use super::report::Section;
use crate::commands::format;

/// A running job whose heartbeat is older than this is stuck (workers beat every 10 s; the
/// queue's lease is 2 min).
const STUCK_AFTER: Duration = Duration::from_secs(120);
/// A job waiting longer than this means the workers are not keeping up (or not there).
const SLOW_WAIT_SECS: f64 = 300.0;

pub async fn check(broker: Option<&RedisBroker>, store: Option<&Store>) -> Section {
    let mut s = Section::new("queue");
    match broker {
        Some(broker) => {
            workers(&mut s, broker).await;
            stats(&mut s, broker).await;
        }
        None => s.skip("workers", "Redis is not available (see redis)"),
    }
    match store {
        Some(store) => stuck(&mut s, store).await,
        None => s.skip("stuck", "the database is not available (see database)"),
    }
    s
}

async fn workers(s: &mut Section, broker: &RedisBroker) {
    let instances = match broker.instances().await {
        Ok(instances) => instances,
        Err(e) => {
            s.warn(
                "workers",
                format!("cannot read heartbeats: {e}"),
                "see redis.reachable",
            );
            return;
        }
    };
    let workers: Vec<_> = instances
        .iter()
        .filter(|i| i.heartbeat.kind == pdfq_queue::InstanceKind::Worker)
        .collect();
    let stale: Vec<String> = workers
        .iter()
        .filter(|i| i.stale)
        .map(|i| {
            format!(
                "{} (last beat {} ago)",
                i.heartbeat.id.as_str(),
                format::duration(i.age.as_secs_f64())
            )
        })
        .collect();
    let alive = workers.len() - stale.len();
    if alive == 0 {
        s.fail(
            "workers",
            if stale.is_empty() {
                "no worker heartbeat: nothing is processing jobs".to_owned()
            } else {
                format!("no live worker; stale: {}", stale.join(", "))
            },
            "start a worker (pdfq-worker with the same DATABASE_URL, REDIS_URL and REDIS_KEY_PREFIX) and check its logs",
        );
    } else if !stale.is_empty() {
        s.warn(
            "workers",
            format!("{alive} alive, stale: {}", stale.join(", ")),
            "a stale worker stopped heartbeating: check its logs or restart it; its jobs go back to the queue after the 2 min lease",
        );
    } else {
        let busy: u32 = workers.iter().map(|i| i.heartbeat.busy).sum();
        let slots: u32 = workers.iter().map(|i| i.heartbeat.concurrency).sum();
        s.ok(
            "workers",
            format!("{alive} alive, {busy} of {slots} slots busy"),
        );
    }
}

async fn stats(s: &mut Section, broker: &RedisBroker) {
    let stats = match broker.stats().await {
        Ok(stats) => stats,
        Err(e) => {
            s.warn(
                "stats",
                format!("cannot read queue statistics: {e}"),
                "see redis.reachable",
            );
            return;
        }
    };
    if stats.paused {
        s.warn(
            "paused",
            "the queue is paused: workers take no new jobs",
            "`pdfctl queue resume` when ready",
        );
    }
    if stats.dead > 0 {
        // "Growing": how many of the newest arrived in the last hour, from their timestamps.
        let hour_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
        let recent = broker.dead_letters(100).await.map_or(0, |letters| {
            letters.iter().filter(|d| d.at > hour_ago).count()
        });
        let growing = if recent > 0 {
            format!(", {recent} of them in the last hour: still growing")
        } else {
            ", none in the last hour".to_owned()
        };
        s.warn(
            "dead-letters",
            format!("{} jobs will not be retried automatically{growing}", stats.dead),
            "read them with `pdfctl queue dead`, retry with `pdfctl jobs retry ID`, then `pdfctl queue purge-dead`",
        );
    } else {
        s.ok("dead-letters", "none");
    }
    let oldest = stats.oldest_waiting_age.map(|a| a.as_secs_f64());
    let saw = format!(
        "{} waiting, {} in flight, {} delayed; oldest waiting {}",
        stats.waiting,
        stats.in_flight,
        stats.delayed,
        oldest.map_or_else(|| "-".to_owned(), format::duration)
    );
    match oldest {
        Some(age) if age > SLOW_WAIT_SECS && !stats.paused => s.warn(
            "waiting",
            saw,
            "the workers are not keeping up: add workers or WORKER_CONCURRENCY (`pdfctl plan` checks the database can take it)",
        ),
        _ => s.ok("waiting", saw),
    }
}

async fn stuck(s: &mut Section, store: &Store) {
    match store.stale_processing(STUCK_AFTER, 20).await {
        Ok(jobs) if jobs.is_empty() => s.ok("stuck", "no running job with a stale heartbeat"),
        Ok(jobs) => s.warn(
            "stuck",
            format!(
                "{} running jobs with no heartbeat for {}: {}",
                jobs.len(),
                format::duration(STUCK_AFTER.as_secs_f64()),
                jobs.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>().join(", ")
            ),
            "their worker died or hangs: the sweeper re-queues them; if they stay, restart the workers and see `pdfctl jobs show ID`",
        ),
        Err(e) => s.warn("stuck", format!("cannot read: {e}"), "see database.reachable"),
    }
}
