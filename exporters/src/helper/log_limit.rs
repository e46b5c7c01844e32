//! Rate limiting for warnings on the export path, so an unreachable
//! destination yields one warning per interval (with how many were
//! suppressed) rather than one per batch.

use std::time::Duration;
use tokio::time::Instant;

/// The default spacing of repeated warnings.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Lets one event through per interval and counts the rest.
pub(crate) struct LogLimiter {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// A limiter letting one event through per `interval`.
    pub(crate) fn new(interval: Duration) -> LogLimiter {
        LogLimiter {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when the caller should log now, `n` being the number of
    /// events suppressed since the last one logged; `None` to stay quiet.
    pub(crate) fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: five events in one interval, then one after it.
    /// Guarantees: the first logs, four are suppressed and reported with the next.
    #[tokio::test(start_paused = true)]
    async fn one_per_interval_with_suppressed_count() {
        let mut l = LogLimiter::new(Duration::from_secs(10));
        assert_eq!(l.allow(), Some(0));
        for _ in 0..4 {
            assert_eq!(l.allow(), None);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(l.allow(), Some(4));
    }
}
