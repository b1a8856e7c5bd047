//! Progress writes of one attempt, coalesced in time: pages arrive far faster than a frontend
//! needs updates, and each write is a database commit. At most one write per interval; a state
//! offered in between waits and is replaced by newer ones, and the last one is always written.

use std::time::Duration;

use pdfq_domain::{CurrentStep, Progress};
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
