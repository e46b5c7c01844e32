//! How often the reader looks at the ring buffer without being woken.
//!
//! The kernel wakes the reader only once 64 KiB wait (see
//! `loader::wakeup_bytes`), so smaller records are found by polling. While
//! TLS records flow, the reader polls every [`POLL_INTERVAL`] so that a lone
//! record waits at most that long. Once no TLS record has come for
//! [`IDLE_AFTER`], it polls every [`IDLE_POLL_INTERVAL`] instead: a host
//! where no AI call is being made should not wake oispd 500 times a second
//! (on a VM each wake-up is tens of microseconds of CPU, ~3% of a core in
//! all). The first record after a quiet spell then waits up to the idle
//! interval, and the reader is back to the fast pace as soon as it sees a
//! TLS record. Process activity (exits, forks, connects, files) does not
//! keep the pace fast: it waits for a poll either way and is not worth the
//! wake-ups on a host that runs many short processes. Exec and new
//! executable mappings are the exception: the kernel side wakes the reader
//! for each at once, because the reader probes the new program's OpenSSL
//! on them.

use std::time::{Duration, Instant};

/// Poll period while TLS records flow.
pub const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// Poll period once no TLS record has come for [`IDLE_AFTER`].
pub const IDLE_POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Time without a TLS record after which the reader slows down.
pub const IDLE_AFTER: Duration = Duration::from_secs(1);

/// The reader's poll timer and the pace it runs at.
pub struct PollPace {
    timer: tokio::time::Interval,
    period: Duration,
    /// A TLS record was taken since the last tick.
    seen: bool,
    last_record: Instant,
}

impl PollPace {
    /// A fast-paced timer. Must be called inside a tokio runtime.
    pub fn new(now: Instant) -> PollPace {
        PollPace {
            timer: timer(POLL_INTERVAL),
            period: POLL_INTERVAL,
            seen: false,
            last_record: now,
        }
    }

    /// Waits for the next time to look at the ring, and slows down if no
    /// TLS record came for [`IDLE_AFTER`] before it.
    pub async fn tick(&mut self) {
        self.timer.tick().await;
        self.ticked(Instant::now());
    }

    /// A TLS record was taken from the ring: poll fast from now on. Cheap
    /// enough for every record (no clock read).
    pub fn record_seen(&mut self) {
        self.seen = true;
        self.set_period(POLL_INTERVAL);
    }

    fn ticked(&mut self, now: Instant) {
        if std::mem::take(&mut self.seen) {
            self.last_record = now;
        } else if now.saturating_duration_since(self.last_record) >= IDLE_AFTER {
            self.set_period(IDLE_POLL_INTERVAL);
        }
    }

    fn set_period(&mut self, period: Duration) {
        if self.period != period {
            self.period = period;
            self.timer = timer(period);
        }
    }
}

fn timer(period: Duration) -> tokio::time::Interval {
    let start = tokio::time::Instant::now() + period;
    let mut timer = tokio::time::interval_at(start, period);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: records, then a quiet spell shorter and then longer than
    /// IDLE_AFTER, then a record again.
    /// Guarantees: fast while records come and for IDLE_AFTER after the last
    /// one, slow after that, fast again at the next record.
    #[tokio::test]
    async fn slows_down_when_idle_and_speeds_up_on_a_record() {
        let t0 = Instant::now();
        let mut pace = PollPace::new(t0);
        assert_eq!(pace.period, POLL_INTERVAL);
        pace.record_seen();
        pace.ticked(t0 + POLL_INTERVAL);
        pace.ticked(t0 + IDLE_AFTER);
        assert_eq!(pace.period, POLL_INTERVAL, "quiet for less than IDLE_AFTER");
        pace.ticked(t0 + POLL_INTERVAL + IDLE_AFTER);
        assert_eq!(pace.period, IDLE_POLL_INTERVAL);
        pace.ticked(t0 + IDLE_AFTER * 3);
        assert_eq!(pace.period, IDLE_POLL_INTERVAL);
        pace.record_seen();
        assert_eq!(pace.period, POLL_INTERVAL);
        pace.ticked(t0 + IDLE_AFTER * 4);
        pace.ticked(t0 + IDLE_AFTER * 4 + POLL_INTERVAL);
        assert_eq!(
            pace.period, POLL_INTERVAL,
            "the quiet spell starts again at the record"
        );
    }

    /// Scenario: the pace changes while the timer runs.
    /// Guarantees: the next tick is one new period away.
    #[tokio::test(start_paused = true)]
    async fn a_new_pace_starts_a_full_period_later() {
        let mut pace = PollPace::new(Instant::now());
        let before = tokio::time::Instant::now();
        pace.tick().await;
        assert_eq!(before.elapsed(), POLL_INTERVAL);
        pace.ticked(Instant::now() + IDLE_AFTER);
        assert_eq!(pace.period, IDLE_POLL_INTERVAL);
        let before = tokio::time::Instant::now();
        pace.tick().await;
        assert_eq!(before.elapsed(), IDLE_POLL_INTERVAL);
    }
}
