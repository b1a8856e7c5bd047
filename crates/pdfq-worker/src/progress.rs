//! Progress of one attempt, told two ways.
//!
//! - The job row, coalesced in time ([`Throttle`]): pages arrive far faster than a frontend
//!   needs updates, and each write is a database commit. At most one write per interval; a
//!   state offered in between waits and is replaced by newer ones, and the last one is always
//!   written.
//! - Live announcements ([`LiveFeed`]) through the broker, at every new percent, for the event
//!   streams: a 1,000-page job extracted in two seconds still shows its bar moving. They never
//!   hold the job up: a background task publishes the latest state and skips what it could
//!   not keep up with.

use std::time::Duration;

use pdfq_domain::{Attempt, CurrentStep, JobId, Progress};
use pdfq_queue::{Broker, LiveProgress};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::Instant;

/// A state to write: how far, and what the job is doing.
pub type Report = (Progress, CurrentStep);

/// Decides which progress reports of one attempt are written, and when.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    last_write: Option<Instant>,
    last_written: Option<Report>,
    pending: Option<Report>,
}

impl Throttle {
    #[must_use]
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_write: None,
            last_written: None,
            pending: None,
        }
    }

    /// A throttle whose last write was at `at` (the claim, which set the first state).
    #[must_use]
    pub fn after_write(interval: Duration, at: Instant) -> Self {
        Self {
            last_write: Some(at),
            ..Self::new(interval)
        }
    }

    /// Offers the attempt's state at `now`: returned when it is to be written now, otherwise
    /// kept (replacing an older one) until [`Self::due_at`]. A state equal to the last written
    /// one is dropped.
    pub fn offer(&mut self, now: Instant, report: Report) -> Option<Report> {
        if self.last_written.as_ref() == Some(&report) {
            return None;
        }
        match self.last_write {
            Some(at) if now < at + self.interval => {
                self.pending = Some(report);
                None
            }
            _ => {
                self.pending = None;
                Some(self.written(now, report))
            }
        }
    }

    /// When the state held back is due, if one is.
    #[must_use]
    pub fn due_at(&self) -> Option<Instant> {
        self.pending.as_ref().map(|_| {
            self.last_write
                .map_or(Instant::now(), |at| at + self.interval)
        })
    }

    /// The state held back, to be written now (when due, or at the end of the attempt: the
    /// last state is always written).
    pub fn take_pending(&mut self, now: Instant) -> Option<Report> {
        let report = self.pending.take()?;
        Some(self.written(now, report))
    }

    fn written(&mut self, now: Instant, report: Report) -> Report {
        self.last_write = Some(now);
        self.last_written = Some(report.clone());
        report
    }
}

/// The live announcements of one attempt; publishing ends when it is dropped.
#[derive(Debug)]
pub struct LiveFeed {
    job: JobId,
    attempt: Attempt,
    latest: watch::Sender<Option<LiveProgress>>,
    last_percent: Option<Progress>,
}

impl LiveFeed {
    #[must_use]
    pub fn start(broker: Broker, job: JobId, attempt: Attempt) -> Self {
        let (latest, mut rx) = watch::channel(None::<LiveProgress>);
        tokio::spawn(async move {
            // Ends when the attempt drops its feed; a state set meanwhile replaces the older.
            while rx.changed().await.is_ok() {
                let Some(progress) = rx.borrow_and_update().clone() else {
                    continue;
                };
                if let Err(e) = broker.publish_progress(&progress).await {
                    tracing::debug!(job = %progress.job, error = %e, "live progress not announced");
                }
            }
        });
        Self {
            job,
            attempt,
            latest,
            last_percent: None,
        }
    }

    /// Announces `report` if its percent is new: at most 100 announcements per attempt.
    pub fn offer(&mut self, (percent, step): &Report) {
        if self.last_percent == Some(*percent) {
            return;
        }
        self.last_percent = Some(*percent);
        self.latest.send_replace(Some(LiveProgress {
            job: self.job,
            attempt: self.attempt,
            percent: *percent,
            step: step.clone(),
            at: OffsetDateTime::now_utc(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(k: usize) -> Report {
        (
            Progress::fraction(k as u64, 1000).min(Progress::new(99).unwrap()),
            CurrentStep::page(k, 1000),
        )
    }

    #[test]
    fn a_page_a_millisecond_is_written_at_most_every_interval_and_the_last_always() {
        let interval = Duration::from_millis(250);
        let mut throttle = Throttle::new(interval);
        let start = Instant::now();
        let mut writes = Vec::new();
        for k in 1..=1000 {
            let now = start + Duration::from_millis(k as u64);
            // What a select loop does: the held-back state is written once due.
            if throttle.due_at().is_some_and(|due| due <= now)
                && let Some(report) = throttle.take_pending(now)
            {
                writes.push((now, report));
            }
            if let Some(report) = throttle.offer(now, page(k)) {
                writes.push((now, report));
            }
        }
        let end = start + Duration::from_millis(1000);
        if let Some(report) = throttle.take_pending(end) {
            writes.push((end, report));
        }
        // 1 s of pages: the first at once, one per 250 ms after it, and the last.
        assert!((4..=6).contains(&writes.len()), "{writes:?}");
        for pair in writes.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= interval || pair[1].1 == page(1000));
        }
        assert_eq!(writes[0].1, page(1));
        assert_eq!(writes.last().unwrap().1, page(1000), "the last is written");
    }

    #[tokio::test]
    async fn every_new_percent_is_announced_and_nothing_else() {
        let broker = Broker::memory();
        let mut announced = broker.subscribe_progress().await.unwrap();
        let job = JobId::new();
        let mut feed = LiveFeed::start(broker, job, Attempt::new(1));
        let mut told = Vec::new();
        for k in 1..=1000 {
            feed.offer(&page(k));
            // What a real attempt does between pages: the publisher gets a turn.
            tokio::task::yield_now().await;
            if k % 100 == 0 {
                feed.offer(&(page(k).0, CurrentStep::chunk(k / 100, 10)));
            }
        }
        drop(feed);
        while let Some(live) = announced.recv().await {
            assert_eq!((live.job, live.attempt), (job, Attempt::new(1)));
            told.push(live.percent.get());
            if live.percent.get() == 99 {
                break;
            }
        }
        // 1,000 pages: one announcement per percent, none repeated (a chunk at a page's
        // percent adds nothing), in order.
        assert!(told.len() >= 90, "{told:?}");
        assert!(told.windows(2).all(|w| w[0] < w[1]), "{told:?}");
    }

    #[test]
    fn nothing_new_is_not_written_and_nothing_is_held_for_it() {
        let mut throttle = Throttle::new(Duration::from_millis(250));
        let now = Instant::now();
        assert_eq!(throttle.offer(now, page(1)), Some(page(1)));
        assert_eq!(throttle.offer(now + Duration::from_secs(1), page(1)), None);
        assert_eq!(throttle.due_at(), None);
        assert_eq!(throttle.take_pending(now), None);
        // After a quiet interval the next state goes out at once.
        let later = now + Duration::from_secs(2);
        assert_eq!(throttle.offer(later, page(2)), Some(page(2)));
        // Within the interval it waits until it is due.
        let soon = later + Duration::from_millis(10);
        assert_eq!(throttle.offer(soon, page(3)), None);
        assert_eq!(throttle.due_at(), Some(later + Duration::from_millis(250)));
    }
}
