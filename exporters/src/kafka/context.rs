//! librdkafka's own log lines and client-wide errors, routed into `tracing`
//! with the exporter's id and rate-limited: an unreachable broker makes
//! librdkafka report the same failure several times a second, and the
//! export failures themselves are already logged (rate-limited) by the
//! exporter helper.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one warning per this interval and kind.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Lets one message through per interval and counts the others.
#[derive(Default)]
struct Limiter {
    last: Option<Instant>,
    suppressed: u64,
}

impl Limiter {
    /// `Some(suppressed since the last one)` when a message may go out now.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(t) if now.duration_since(t) < WARN_INTERVAL => {
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

/// The producer's context: where librdkafka reports.
pub struct KafkaContext {
    exporter: String,
    logs: Mutex<Limiter>,
    errors: Mutex<Limiter>,
}

impl KafkaContext {
    /// A context for exporter `exporter`.
    pub fn new(exporter: String) -> KafkaContext {
        KafkaContext {
            exporter,
            logs: Mutex::new(Limiter::default()),
            errors: Mutex::new(Limiter::default()),
        }
    }

    fn allow(limiter: &Mutex<Limiter>) -> Option<u64> {
        limiter.lock().ok()?.allow(Instant::now())
    }
}

impl ClientContext for KafkaContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                if let Some(suppressed) = Self::allow(&self.logs) {
                    tracing::warn!(
                        exporter = %self.exporter,
                        facility = fac,
                        suppressed,
                        detail = log_message,
                        "librdkafka reported a problem"
                    );
                }
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::debug!(exporter = %self.exporter, facility = fac, detail = log_message, "librdkafka");
            }
            RDKafkaLogLevel::Debug => {
                tracing::trace!(exporter = %self.exporter, facility = fac, detail = log_message, "librdkafka");
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(suppressed) = Self::allow(&self.errors) {
            tracing::warn!(
                exporter = %self.exporter,
                suppressed,
                error = %error,
                reason,
                "kafka client error"
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: a burst of identical failures, then a quiet interval.
    /// Guarantees: one message per interval, carrying the count it hid.
    #[test]
    fn limiter_lets_one_through_per_interval_and_counts_the_rest() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        assert_eq!(l.allow(t0), Some(0));
        for i in 1..=5 {
            assert_eq!(l.allow(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(l.allow(t0 + WARN_INTERVAL), Some(5));
        assert_eq!(l.allow(t0 + WARN_INTERVAL), None);
    }
}
