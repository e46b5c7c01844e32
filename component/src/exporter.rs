//! The exporter contract and the settings of the shared exporter helper
//! (queue, batching, retry) that every exporter's config embeds. The helper
//! itself lives in `oispd-exporters`.

use crate::batch::Batch;
use crate::factory::ComponentError;
use async_trait::async_trait;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Why an export attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Worth trying again (connection refused, HTTP 503, gRPC UNAVAILABLE).
    #[error("{message}")]
    Retryable {
        /// What happened.
        message: String,
        /// The peer's requested delay (HTTP `Retry-After`, gRPC `RetryInfo`).
        retry_after: Option<Duration>,
    },
    /// Will never succeed (HTTP 400, a record too large); the batch is dropped.
    #[error("{message}")]
    Permanent {
        /// What happened.
        message: String,
    },
    /// The peer accepted part of the batch and rejected `rejected` records for good.
    #[error("partial success: {rejected} rejected: {message}")]
    Partial {
        /// Records rejected.
        rejected: u64,
        /// The peer's message.
        message: String,
    },
}

impl ExportError {
    /// A retryable error without a requested delay.
    pub fn retryable(message: impl Into<String>) -> ExportError {
        ExportError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A permanent error.
    pub fn permanent(message: impl Into<String>) -> ExportError {
        ExportError::Permanent {
            message: message.into(),
        }
    }
}

/// The sending half of an exporter whose client may carry several requests
/// at once (an HTTP/2 channel, a connection pool, a Kafka producer): the
/// exporter helper calls it from up to `sending_queue.num_consumers` tasks
/// concurrently, so requests complete (and are retried) in any order.
#[async_trait]
pub trait ConcurrentExport: Send + Sync {
    /// Sends one batch the caller keeps for a possible retry.
    async fn export_ref(&self, batch: &Batch) -> Result<(), ExportError>;
}

/// Sends batches somewhere. Driven by the exporter helper, which owns the
/// queue, batching, retry and counters, so an implementation only encodes and
/// sends.
#[async_trait]
pub trait Exporter: Send {
    /// Opens connections or files. An error here stops start-up.
    async fn start(&mut self) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Sends one batch.
    async fn export(&mut self, batch: Batch) -> Result<(), ExportError>;

    /// Sends one batch the caller keeps for a possible retry. The default
    /// copies it into [`Exporter::export`]; exporters that only read the
    /// batch (encoders) override this to spare the helper that copy.
    async fn export_ref(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.export(batch.clone()).await
    }

    /// A sender the helper may call from several tasks at once; asked once,
    /// after [`Exporter::start`]. The default, `None`, keeps one export in
    /// flight through [`Exporter::export`] / [`Exporter::export_ref`], in
    /// order: right for single writers (a file, a terminal, a socket fan-out)
    /// whatever `sending_queue.num_consumers` says.
    fn concurrent_sender(&self) -> Option<Arc<dyn ConcurrentExport>> {
        None
    }

    /// Flushes and closes; called once after the last export.
    async fn shutdown(&mut self) -> Result<(), ComponentError> {
        Ok(())
    }
}

/// `sending_queue`: the bounded queue in front of an exporter, in memory or
/// (with `storage`) persistent on disk.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Whether records are queued at all; without a queue the pipeline waits
    /// for each export.
    pub enabled: bool,
    /// Export requests in flight at once (default 10, as in the collector).
    /// Exporters that write in order to one place (`file`, `debug`,
    /// `websocket`) keep one in flight whatever this says.
    pub num_consumers: usize,
    /// Capacity of the in-memory queue, in the unit `sizer` names. With
    /// neither key written, [`DEFAULT_QUEUE_BYTES`] of OTLP-encoded records
    /// (where the collector holds 1000 requests of any size); see
    /// [`QueueSettings::bound`]. A persistent queue is bounded by
    /// `max_storage_bytes` instead.
    pub queue_size: Option<usize>,
    /// What `queue_size` counts: `requests` (batches; the unit when only
    /// `queue_size` is written, as in the collector), `items` (log records
    /// or spans) or `bytes` (the batches' OTLP-encoded size). Items or bytes
    /// bound the queue's memory whatever the batch sizes.
    pub sizer: Option<QueueSizer>,
    /// When full: wait for room (back-pressure to receivers). Otherwise
    /// (the default) a batch whose sender waits for the answer (OTLP) is
    /// refused, so the sender retries later, and a batch nobody can resend
    /// (capture) makes room by dropping the oldest, counted.
    pub block_on_overflow: bool,
    /// Where a persistent queue lives (default: none, the queue is in
    /// memory): the id of a `file_storage` extension, as in the collector,
    /// or (oispd's older reading) a directory path; the pipeline builder
    /// resolves an id to the extension's directory. Accepted batches are written there before the pipeline goes
    /// on and removed only once exported, so they survive a restart or a
    /// crash (at-least-once delivery). Each exporter keeps its own
    /// subdirectory, so several exporters can share one `storage`.
    pub storage: Option<PathBuf>,
    /// Byte limit of a persistent queue's records (default 256 MiB); when a
    /// new batch would exceed it, the oldest waiting batches are dropped and
    /// counted (or, with `block_on_overflow`, the pipeline waits).
    pub max_storage_bytes: u64,
}

/// `sending_queue.sizer`: the unit of `queue_size`, as in the collector.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum QueueSizer {
    /// Batches, whatever their size.
    #[default]
    Requests,
    /// Log records or spans.
    Items,
    /// Bytes of the batches encoded as OTLP.
    Bytes,
}

impl QueueSizer {
    /// What `batch` counts against a queue sized this way.
    pub fn size_of(self, batch: &Batch) -> u64 {
        let size = match self {
            QueueSizer::Requests => 1,
            QueueSizer::Items => batch.record_count(),
            QueueSizer::Bytes => batch.encoded_len(),
        };
        size as u64
    }
}

/// The default number of export requests in flight per exporter, the
/// collector's `sending_queue.num_consumers` default.
pub const DEFAULT_NUM_CONSUMERS: usize = 10;

/// The in-memory queue's bound when neither `queue_size` nor `sizer` is
/// written (or only `sizer: bytes`): 16 MiB of OTLP-encoded records per
/// exporter. The collector's default, 1000 requests, bounds nothing when a
/// request can carry megabytes; this keeps a stalled destination from
/// growing oispd by more than a few tens of MiB, and still holds about
/// 30 requests of 512 one-KiB records behind the ones in flight.
pub const DEFAULT_QUEUE_BYTES: u64 = 16 * 1024 * 1024;

/// `queue_size` when only `sizer: requests` or `sizer: items` is written,
/// as in the collector.
pub const DEFAULT_QUEUE_SIZE: u64 = 1000;

/// The default byte limit of a persistent sending queue: 256 MiB.
pub const DEFAULT_MAX_STORAGE_BYTES: u64 = 256 * 1024 * 1024;

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            enabled: true,
            num_consumers: DEFAULT_NUM_CONSUMERS,
            queue_size: None,
            sizer: None,
            block_on_overflow: false,
            storage: None,
            max_storage_bytes: DEFAULT_MAX_STORAGE_BYTES,
        }
    }
}

impl QueueSettings {
    /// The in-memory queue's capacity and its unit: as written; only
    /// `queue_size` counts requests (the collector's unit); with neither
    /// key (or only `sizer: bytes`), [`DEFAULT_QUEUE_BYTES`] bytes; only
    /// `sizer: requests | items`, [`DEFAULT_QUEUE_SIZE`] of them.
    pub fn bound(&self) -> (u64, QueueSizer) {
        match (self.queue_size, self.sizer) {
            (Some(size), sizer) => (size as u64, sizer.unwrap_or_default()),
            (None, None | Some(QueueSizer::Bytes)) => (DEFAULT_QUEUE_BYTES, QueueSizer::Bytes),
            (None, Some(sizer)) => (DEFAULT_QUEUE_SIZE, sizer),
        }
    }

    /// Problems with the values, for `validate`: an empty queue, a storage
    /// path that is empty or names something other than a directory, a zero
    /// byte limit, storage on a disabled queue.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.enabled && self.queue_size == Some(0) {
            out.push("'sending_queue.queue_size' must be above 0".to_string());
        }
        if self.num_consumers == 0 {
            out.push("'sending_queue.num_consumers' must be above 0".to_string());
        }
        if let Some(dir) = &self.storage {
            if dir.as_os_str().is_empty() {
                out.push("'sending_queue.storage' must be a directory path".to_string());
            } else if dir.exists() && !dir.is_dir() {
                out.push(format!(
                    "'sending_queue.storage' must be a directory: {} is not one",
                    dir.display()
                ));
            }
            if !self.enabled {
                out.push("'sending_queue.storage' needs 'sending_queue.enabled: true'".to_string());
            }
        }
        if self.max_storage_bytes == 0 {
            out.push("'sending_queue.max_storage_bytes' must be above 0".to_string());
        }
        out
    }
}

/// `retry_on_failure`: exponential backoff with the collector's keys and defaults.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Retry retryable failures at all (default true).
    pub enabled: bool,
    /// First wait (default 5s).
    #[serde(deserialize_with = "duration_or_zero")]
    pub initial_interval: Duration,
    /// Longest wait (default 30s).
    #[serde(deserialize_with = "duration_or_zero")]
    pub max_interval: Duration,
    /// Give up after this long in total; 0 = never (default 300s). A bare
    /// `0` is accepted, as in the collector.
    #[serde(deserialize_with = "duration_or_zero")]
    pub max_elapsed_time: Duration,
    /// Growth factor per attempt (default 1.5).
    pub multiplier: f64,
    /// Jitter as a fraction of the interval (default 0.5).
    pub randomization_factor: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Duration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

impl RetrySettings {
    /// Problems with the values, for `validate`.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.multiplier < 1.0 {
            out.push("'retry_on_failure.multiplier' must be at least 1".to_string());
        }
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            out.push("'retry_on_failure.randomization_factor' must be between 0 and 1".to_string());
        }
        if self.initial_interval.is_zero() && self.enabled {
            out.push("'retry_on_failure.initial_interval' must be above 0".to_string());
        }
        out
    }
}

/// A duration with a unit (`250ms`, `5s`, `1h`), or a bare `0`: the
/// collector's configs write `max_elapsed_time: 0` for "never give up".
/// Other bare numbers are refused rather than guessed at (the collector
/// would read them as nanoseconds).
fn duration_or_zero<'de, D>(deserializer: D) -> Result<Duration, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Number(0) => Ok(Duration::ZERO),
        Raw::Number(n) => Err(D::Error::custom(format!(
            "invalid duration {n}: give a unit, like {n}s (a bare number is only allowed for 0)"
        ))),
        Raw::Text(text) => humantime_serde::re::humantime::parse_duration(&text)
            .map_err(|e| D::Error::custom(format!("invalid duration {text:?}: {e}"))),
    }
}

/// Everything the exporter helper needs to drive one exporter.
#[derive(Clone, Debug, PartialEq)]
pub struct ExporterSettings {
    /// The queue in front of the exporter.
    pub queue: QueueSettings,
    /// Retry policy.
    pub retry: RetrySettings,
    /// Records per export call at most; 0 = export batches as they come.
    pub batch_size: usize,
    /// Longest a record waits for a batch to fill; zero = never wait.
    pub flush_interval: Duration,
    /// Deadline of one export attempt.
    pub timeout: Duration,
}

impl Default for ExporterSettings {
    fn default() -> Self {
        ExporterSettings {
            queue: QueueSettings::default(),
            retry: RetrySettings::default(),
            batch_size: 0,
            flush_interval: Duration::ZERO,
            timeout: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<QueueSettings, serde_yaml_ng::Error> {
        serde_yaml_ng::from_str(yaml)
    }

    /// Scenario: a `sending_queue` written before persistent queues existed.
    /// Guarantees: it still parses, the queue stays in memory, the byte
    /// limit has its default, and nothing is reported.
    #[test]
    fn old_config_still_parses_in_memory() {
        let q = parse("{enabled: true, queue_size: 50, block_on_overflow: true}").unwrap();
        assert_eq!(q.bound(), (50, QueueSizer::Requests));
        assert!(q.block_on_overflow);
        assert_eq!(q.storage, None);
        assert_eq!(q.max_storage_bytes, DEFAULT_MAX_STORAGE_BYTES);
        assert!(q.problems().is_empty());
    }

    /// Scenario: each `sizer` value, and one the collector does not have.
    /// Guarantees: the default counts batches; items and bytes count what
    /// the batch holds; an unknown sizer is refused.
    #[test]
    fn sizer_parses_and_sizes_batches() {
        use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
        let batch = Batch::Logs(vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); 3],
                ..Default::default()
            }],
            ..Default::default()
        }]);
        assert_eq!(QueueSizer::Requests.size_of(&batch), 1);
        let items = parse("{sizer: items, queue_size: 5000}").unwrap();
        assert_eq!(items.bound(), (5000, QueueSizer::Items));
        assert_eq!(QueueSizer::Items.size_of(&batch), 3);
        assert_eq!(
            QueueSizer::Bytes.size_of(&batch),
            batch.encoded_len() as u64
        );
        assert!(parse("{sizer: records}").is_err());
    }

    /// Scenario: no size keys, only `queue_size`, only a sizer.
    /// Guarantees: nothing written bounds the queue by bytes
    /// (DEFAULT_QUEUE_BYTES); `queue_size` alone counts requests, as in the
    /// collector; `sizer: bytes` alone keeps the byte default; `sizer:
    /// items` alone holds 1000 records.
    #[test]
    fn unwritten_size_bounds_the_queue_by_bytes() {
        let bound = |yaml| parse(yaml).unwrap().bound();
        assert_eq!(bound("{}"), (DEFAULT_QUEUE_BYTES, QueueSizer::Bytes));
        assert_eq!(bound("{queue_size: 1000}"), (1000, QueueSizer::Requests));
        assert_eq!(
            bound("{sizer: bytes}"),
            (DEFAULT_QUEUE_BYTES, QueueSizer::Bytes)
        );
        assert_eq!(bound("{sizer: items}"), (1000, QueueSizer::Items));
    }

    /// Scenario: a persistent queue with a byte limit, and a typo.
    /// Guarantees: storage and limit are read; unknown keys are refused.
    #[test]
    fn persistent_options_parse_and_typos_fail() {
        let q = parse("{storage: /var/lib/oispd/queue, max_storage_bytes: 1048576}").unwrap();
        assert_eq!(q.storage, Some(PathBuf::from("/var/lib/oispd/queue")));
        assert_eq!(q.max_storage_bytes, 1 << 20);
        let err = parse("{storage: /tmp/q, max_storage_byte: 10}").unwrap_err();
        assert!(err.to_string().contains("max_storage_byte"), "{err}");
    }

    /// Scenario: retry durations written as the collector's configs write
    /// them: with units, and a bare 0 for "never give up".
    /// Guarantees: both parse; another bare number is refused with a hint.
    #[test]
    fn retry_durations_accept_units_and_a_bare_zero() {
        let r: RetrySettings = serde_yaml_ng::from_str(
            "{initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0}",
        )
        .unwrap();
        assert_eq!(r.initial_interval, Duration::from_millis(100));
        assert_eq!(r.max_interval, Duration::from_millis(500));
        assert_eq!(r.max_elapsed_time, Duration::ZERO);
        let r: RetrySettings = serde_yaml_ng::from_str("{max_elapsed_time: 0s}").unwrap();
        assert_eq!(r.max_elapsed_time, Duration::ZERO);
        let err = serde_yaml_ng::from_str::<RetrySettings>("{max_elapsed_time: 300}").unwrap_err();
        assert!(err.to_string().contains("give a unit, like 300s"), "{err}");
        let err =
            serde_yaml_ng::from_str::<RetrySettings>("{max_interval: 5 parsecs}").unwrap_err();
        assert!(err.to_string().contains("invalid duration"), "{err}");
    }

    /// Scenario: storage names a file, the limit is 0, the queue is off.
    /// Guarantees: every problem is reported at once.
    #[test]
    fn problems_are_reported_together() {
        let file = std::env::current_exe().unwrap();
        let q = QueueSettings {
            enabled: false,
            storage: Some(file.clone()),
            max_storage_bytes: 0,
            ..QueueSettings::default()
        };
        let problems = q.problems();
        assert_eq!(
            problems,
            vec![
                format!(
                    "'sending_queue.storage' must be a directory: {} is not one",
                    file.display()
                ),
                "'sending_queue.storage' needs 'sending_queue.enabled: true'".to_string(),
                "'sending_queue.max_storage_bytes' must be above 0".to_string(),
            ]
        );
        let empty = QueueSettings {
            storage: Some(PathBuf::new()),
            ..QueueSettings::default()
        };
        assert_eq!(
            empty.problems(),
            vec!["'sending_queue.storage' must be a directory path".to_string()]
        );
    }
}
