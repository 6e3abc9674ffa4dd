//! Bounded retries for the election's API calls. While the API server is
//! unreachable every call fails at once; without a growing pause the
//! elector would retry (and log) in a tight loop for the whole outage.

use std::time::Duration;

use tokio::time::Instant;

/// At most one "still failing" log line this often during an outage.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Exponential backoff for one kind of call, with its logging budget.
#[derive(Debug)]
pub(crate) struct Retry {
    base: Duration,
    cap: Duration,
    failures: u32,
    last_logged: Option<Instant>,
}

/// What to do after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failed {
    /// Wait this long before the next attempt.
    pub delay: Duration,
    /// Failures in a row, this one included.
    pub failures: u32,
    /// Log this failure: the first of a series, then once per [`LOG_EVERY`].
    pub log: bool,
}

impl Retry {
    /// Starts at `base` and doubles up to `cap` (never below `base`).
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            failures: 0,
            last_logged: None,
        }
    }

    /// Records a failure at `now`.
    pub(crate) fn failed(&mut self, now: Instant) -> Failed {
        self.failures = self.failures.saturating_add(1);
        let doublings = self.failures.saturating_sub(1).min(16);
        let delay = self.base.saturating_mul(1 << doublings).min(self.cap);
        let log = self
            .last_logged
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY);
        if log {
            self.last_logged = Some(now);
        }
        Failed {
            delay,
            failures: self.failures,
            log,
        }
    }

    /// Records a success; returns how many failures it ended, if any.
    pub(crate) fn succeeded(&mut self) -> Option<u32> {
        self.last_logged = None;
        match std::mem::take(&mut self.failures) {
            0 => None,
            n => Some(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(500);
    const CAP: Duration = Duration::from_secs(4);

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut retry = Retry::new(BASE, CAP);
        let now = Instant::now();
        let delays: Vec<_> = (0..6).map(|_| retry.failed(now).delay).collect();
        let ms: Vec<_> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 4000, 4000]);
    }

    #[test]
    fn an_outage_logs_its_first_failure_then_once_a_minute() {
        let mut retry = Retry::new(BASE, CAP);
        let start = Instant::now();
        // Ten minutes of failures, one every 4 s (the capped delay).
        let logged = (0..150u32)
            .filter(|i| {
                retry
                    .failed(start + Duration::from_secs(4 * u64::from(*i)))
                    .log
            })
            .count();
        assert_eq!(logged, 10);
    }

    #[test]
    fn success_resets_delay_and_logging() {
        let mut retry = Retry::new(BASE, CAP);
        let now = Instant::now();
        assert!(retry.failed(now).log);
        assert!(!retry.failed(now).log);
        assert_eq!(retry.succeeded(), Some(2));
        assert_eq!(retry.succeeded(), None);
        let next = retry.failed(now);
        assert_eq!(next.delay, BASE);
        assert!(next.log, "a new outage is logged at once");
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        let mut retry = Retry::new(BASE, CAP);
        retry.failures = u32::MAX - 1;
        let now = Instant::now();
        assert_eq!(retry.failed(now).delay, CAP);
        assert_eq!(retry.failed(now).delay, CAP);
    }
}
