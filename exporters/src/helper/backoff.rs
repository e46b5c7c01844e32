//! Exponential backoff with jitter, with the collector's `retry_on_failure`
//! semantics: the interval starts at `initial_interval`, grows by
//! `multiplier` up to `max_interval`, each wait is randomised by
//! `randomization_factor` (interval x (1 +/- factor)), a peer's requested
//! delay (`Retry-After`, gRPC `RetryInfo`) is honoured as a lower bound, and
//! retrying stops once the next wait would end past `max_elapsed_time`
//! (0 = never stop).

use oispd_component::exporter::RetrySettings;
use std::time::Duration;

/// Backoff state for retrying one batch.
pub(crate) struct Backoff {
    settings: RetrySettings,
    current: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    /// Fresh state at `initial_interval`.
    pub(crate) fn new(settings: &RetrySettings) -> Backoff {
        Backoff {
            settings: settings.clone(),
            current: settings.initial_interval,
            rng: fastrand::Rng::new(),
        }
    }

    /// The same with a fixed jitter seed, for tests.
    #[cfg(test)]
    pub(crate) fn with_seed(settings: &RetrySettings, seed: u64) -> Backoff {
        Backoff {
            rng: fastrand::Rng::with_seed(seed),
            ..Backoff::new(settings)
        }
    }

    /// The wait before the next attempt, given the time spent so far and the
    /// peer's requested delay; `None` means give up.
    pub(crate) fn next_delay(
        &mut self,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = self.current.as_secs_f64();
        let factor = self.settings.randomization_factor.clamp(0.0, 1.0);
        let jitter = (self.rng.f64() * 2.0 - 1.0) * factor * base;
        let randomized = Duration::from_secs_f64((base + jitter).max(0.0));
        let grown = self.current.as_secs_f64() * self.settings.multiplier.max(1.0);
        self.current = Duration::from_secs_f64(grown.min(self.settings.max_interval.as_secs_f64()))
            .max(
                self.settings
                    .initial_interval
                    .min(self.settings.max_interval),
            );
        let delay = match retry_after {
            Some(requested) => randomized.max(requested),
            None => randomized,
        };
        let limit = self.settings.max_elapsed_time;
        if !limit.is_zero() && elapsed + delay > limit {
            return None;
        }
        Some(delay)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn settings() -> RetrySettings {
        RetrySettings {
            enabled: true,
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(4),
            max_elapsed_time: Duration::from_secs(20),
            multiplier: 2.0,
            randomization_factor: 0.5,
        }
    }

    /// Scenario: repeated failures without a requested delay.
    /// Guarantees: each wait lies within interval x (1 +/- 0.5), the interval
    /// doubles up to max_interval, and retrying stops past max_elapsed_time.
    #[test]
    fn grows_with_jitter_and_stops_at_max_elapsed() {
        let mut b = Backoff::with_seed(&settings(), 7);
        let mut elapsed = Duration::ZERO;
        let mut expected = [1.0, 2.0, 4.0, 4.0, 4.0].into_iter();
        let mut waits = 0;
        while let Some(d) = b.next_delay(elapsed, None) {
            let base = expected.next().unwrap_or(4.0);
            let s = d.as_secs_f64();
            assert!(
                s >= base * 0.5 && s <= base * 1.5,
                "wait {s} for base {base}"
            );
            elapsed += d;
            waits += 1;
        }
        assert!(elapsed <= Duration::from_secs(20));
        assert!(waits >= 4, "{waits}");
    }

    /// Scenario: the peer asks for 10s while the computed wait is ~1s.
    /// Guarantees: the requested delay is honoured.
    #[test]
    fn honours_retry_after_as_lower_bound() {
        let mut b = Backoff::with_seed(&settings(), 1);
        let d = b.next_delay(Duration::ZERO, Some(Duration::from_secs(10)));
        assert_eq!(d, Some(Duration::from_secs(10)));
    }

    /// Scenario: the requested delay would end past max_elapsed_time.
    /// Guarantees: give up rather than wait beyond the budget.
    #[test]
    fn gives_up_when_requested_delay_exceeds_budget() {
        let mut b = Backoff::with_seed(&settings(), 1);
        assert_eq!(
            b.next_delay(Duration::from_secs(15), Some(Duration::from_secs(10))),
            None
        );
    }

    /// Scenario: max_elapsed_time 0 and no jitter.
    /// Guarantees: retries never stop and waits are exact.
    #[test]
    fn zero_max_elapsed_retries_forever() {
        let mut s = settings();
        s.max_elapsed_time = Duration::ZERO;
        s.randomization_factor = 0.0;
        let mut b = Backoff::new(&s);
        for _ in 0..100 {
            assert!(b.next_delay(Duration::from_secs(1_000_000), None).is_some());
        }
        assert_eq!(
            b.next_delay(Duration::ZERO, None),
            Some(Duration::from_secs(4))
        );
    }
}
