//! librdkafka's own log lines and client-wide errors, routed into `tracing`
//! with the exporter's id and rate-limited: an unreachable broker makes
//! librdkafka report the same failure several times a second, and the
//! export failures themselves are already logged (rate-limited) by the
//! exporter helper. Every line passes through [`sanitize::text`] first:
//! librdkafka's messages may quote a broker or OAuth URL, and none of its
//! credentials may reach the log.

use oispd_component::sanitize;
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
        let log_message = sanitize::text(log_message);
        let log_message = log_message.as_ref();
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
                error = %sanitize::text(&error.to_string()),
                reason = %sanitize::text(reason),
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

    /// Scenario: librdkafka reports a failure quoting a URL with a
    /// password and a query token, as a log line and as a client error.
    /// Guarantees: the log shows the host but neither secret.
    #[test]
    fn librdkafka_lines_show_no_url_credentials() {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let url = "https://svc:hunter2@idp.example.com/token?client_secret=t0psecret";
        let context = KafkaContext::new("kafka".into());
        context.log(
            RDKafkaLogLevel::Error,
            "OIDC",
            &format!("token fetch from {url} failed"),
        );
        context.error(
            KafkaError::ClientCreation("x".into()),
            &format!("OAUTHBEARER: {url}: 401"),
        );
        let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("librdkafka reported a problem"), "{log}");
        assert!(log.contains("kafka client error"), "{log}");
        assert!(log.contains("svc:***@idp.example.com"), "{log}");
        for secret in ["hunter2", "t0psecret"] {
            assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        }
    }
}
