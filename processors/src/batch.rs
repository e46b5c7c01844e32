//! The `batch` processor: holds records until `send_batch_size` of them are
//! pending or `timeout` has passed since the first one arrived, then sends
//! them on as one batch of at most `send_batch_max_size` records, as the
//! collector's batchprocessor does.
//!
//! ```yaml
//! processors:
//!   batch:
//!     send_batch_size: 8192      # size that triggers a send (0: only the timeout does)
//!     send_batch_max_size: 0     # upper bound of a sent batch; 0 = no bound
//!     timeout: 200ms             # 0: send at once (still split by send_batch_max_size)
//! ```
//!
//! Sends are counted in `otelcol_processor_batch_batch_size_trigger_send` and
//! `otelcol_processor_batch_timeout_trigger_send`. When more than one
//! `send_batch_max_size` chunk is pending, [`Processor::next_flush`] asks to
//! be flushed at once, and [`Processor::flush`] hands out one chunk per call.

use oispd_component::{
    parse_config, Batch, BuildContext, ComponentConfig, ComponentError, ComponentInfo, ConfigError,
    Processor, ProcessorFactory, Signal, Stability,
};
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prometheus::IntCounter;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::time::Duration;
use tokio::time::Instant;

/// The processor type name.
pub const TYPE: &str = "batch";

/// The `batch` processor's configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Pending records that trigger a send (default 8192; 0 = timeout only).
    pub send_batch_size: usize,
    /// Most records in one sent batch (default 0 = unbounded).
    pub send_batch_max_size: usize,
    /// Longest a record waits (default 200ms; 0 = send immediately).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            send_batch_size: 8192,
            send_batch_max_size: 0,
            timeout: Duration::from_millis(200),
        }
    }
}

impl ComponentConfig for BatchConfig {
    fn validate(&self) -> Vec<String> {
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            vec!["'send_batch_max_size' must be greater or equal to 'send_batch_size'".into()]
        } else {
            Vec::new()
        }
    }
}

/// Moves the first `n` records of `rls` into a new list, splitting a
/// resource or scope group where the cut falls (both halves keep the
/// resource and scope).
macro_rules! split_front {
    ($groups:expr, $n:expr, $resource:ident, $scopes:ident, $scope:ident, $records:ident) => {{
        let groups = $groups;
        let mut need: usize = $n;
        let mut whole = 0;
        for g in groups.iter() {
            let count: usize = g.$scopes.iter().map(|s| s.$records.len()).sum();
            if count > need {
                break;
            }
            need -= count;
            whole += 1;
        }
        let mut taken: Vec<$resource> = groups.drain(..whole).collect();
        if need > 0 {
            if let Some(g) = groups.first_mut() {
                let mut part = $resource {
                    resource: g.resource.clone(),
                    $scopes: Vec::new(),
                    schema_url: g.schema_url.clone(),
                };
                let mut whole_scopes = 0;
                for s in g.$scopes.iter() {
                    if s.$records.len() > need {
                        break;
                    }
                    need -= s.$records.len();
                    whole_scopes += 1;
                }
                part.$scopes.extend(g.$scopes.drain(..whole_scopes));
                if need > 0 {
                    if let Some(s) = g.$scopes.first_mut() {
                        let rest = s.$records.split_off(need);
                        let head = std::mem::replace(&mut s.$records, rest);
                        part.$scopes.push($scope {
                            scope: s.scope.clone(),
                            $records: head,
                            schema_url: s.schema_url.clone(),
                        });
                    }
                }
                taken.push(part);
            }
        }
        taken
    }};
}

/// Removes and returns the first `n` records of `batch`.
pub fn split_front(batch: &mut Batch, n: usize) -> Batch {
    match batch {
        Batch::Logs(rls) => Batch::Logs(split_front!(
            rls,
            n,
            ResourceLogs,
            scope_logs,
            ScopeLogs,
            log_records
        )),
        Batch::Traces(rss) => Batch::Traces(split_front!(
            rss,
            n,
            ResourceSpans,
            scope_spans,
            ScopeSpans,
            spans
        )),
        // Metrics are not cut between their points: the whole batch goes.
        Batch::Metrics(rms) => Batch::Metrics(std::mem::take(rms)),
    }
}

/// A running `batch` processor for one pipeline.
pub struct BatchProcessor {
    config: BatchConfig,
    pending: Option<Batch>,
    count: usize,
    deadline: Option<Instant>,
    size_trigger: IntCounter,
    timeout_trigger: IntCounter,
}

impl BatchProcessor {
    /// Whether pending records must go now (size reached, or no waiting).
    fn due(&self) -> bool {
        self.count > 0
            && (self.config.timeout.is_zero()
                || (self.config.send_batch_size > 0 && self.count >= self.config.send_batch_size)
                || (self.config.send_batch_max_size > 0
                    && self.count > self.config.send_batch_max_size))
    }

    /// Hands out everything pending, or one `send_batch_max_size` chunk.
    fn take(&mut self) -> Option<Batch> {
        let mut pending = self.pending.take()?;
        let max = self.config.send_batch_max_size;
        if max > 0 && self.count > max {
            let head = split_front(&mut pending, max);
            self.count -= max;
            self.pending = Some(pending);
            Some(head)
        } else {
            self.count = 0;
            self.deadline = None;
            Some(pending)
        }
    }
}

impl Processor for BatchProcessor {
    fn process(&mut self, batch: Batch) -> Option<Batch> {
        let n = batch.record_count();
        if n == 0 {
            return None;
        }
        match &mut self.pending {
            None => {
                self.pending = Some(batch);
                self.deadline = Some(Instant::now() + self.config.timeout);
            }
            Some(pending) => {
                if let Err(other) = pending.append(batch) {
                    // A pipeline carries one signal; pass a stray batch through.
                    return Some(other);
                }
            }
        }
        self.count += n;
        if self.due() {
            self.size_trigger.inc();
            return self.take();
        }
        None
    }

    fn next_flush(&self) -> Option<Instant> {
        self.pending.as_ref()?;
        if self.due() {
            Some(Instant::now())
        } else {
            self.deadline
        }
    }

    fn flush(&mut self) -> Option<Batch> {
        self.pending.as_ref()?;
        if self.due() {
            self.size_trigger.inc();
        } else {
            self.timeout_trigger.inc();
        }
        self.take()
    }
}

/// Builds `batch` processors.
pub struct BatchFactory;

impl ProcessorFactory for BatchFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE,
            aliases: &[],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Groups records into batches by size and timeout",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<BatchConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        _signal: Signal,
    ) -> Result<Box<dyn Processor>, ComponentError> {
        let config: BatchConfig = parse_config(config).map_err(|errors| {
            ComponentError::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let id = ctx.id.to_string();
        let counter = |name: &str, help: &str| {
            ctx.telemetry
                .component_counter(name, help, "processor", &id)
                .map_err(|e| ComponentError::Config(format!("registering batch metrics: {e}")))
        };
        Ok(Box::new(BatchProcessor {
            config,
            pending: None,
            count: 0,
            deadline: None,
            size_trigger: counter(
                "otelcol_processor_batch_batch_size_trigger_send",
                "Batches sent because of the size trigger.",
            )?,
            timeout_trigger: counter(
                "otelcol_processor_batch_timeout_trigger_send",
                "Batches sent because of the timeout trigger.",
            )?,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::{counter, ctx, log, logs, names, span, traces, yaml};
    use std::sync::Arc;

    fn batch(config: &str) -> (Box<dyn Processor>, Arc<oispd_component::Telemetry>) {
        let (ctx, telemetry) = ctx("batch");
        (
            BatchFactory
                .create(&ctx, &yaml(config), Signal::Logs)
                .unwrap(),
            telemetry,
        )
    }

    fn records(prefix: &str, n: usize) -> Batch {
        logs(vec![(
            "h",
            vec![(
                "s",
                (0..n)
                    .map(|i| log(&format!("{prefix}{i}"), 9, &[]))
                    .collect(),
            )],
        )])
    }

    /// Scenario: records below the size trigger.
    /// Guarantees: they wait until exactly `timeout` after the first arrived,
    /// then leave together (tokio's paused clock, no wall time).
    #[tokio::test(start_paused = true)]
    async fn timeout_sends_what_is_pending() {
        let (mut p, telemetry) = batch("send_batch_size: 10\ntimeout: 200ms");
        let start = Instant::now();
        assert!(p.process(records("a", 3)).is_none());
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(p.process(records("b", 2)).is_none());
        assert_eq!(p.next_flush(), Some(start + Duration::from_millis(200)));
        tokio::time::sleep_until(p.next_flush().unwrap()).await;
        let out = p.flush().unwrap();
        assert_eq!(names(&out), ["a0", "a1", "a2", "b0", "b1"]);
        assert_eq!(p.next_flush(), None);
        assert!(p.flush().is_none());
        assert_eq!(
            counter(
                &telemetry,
                "otelcol_processor_batch_timeout_trigger_send",
                "processor",
                "batch"
            ),
            1
        );
    }

    /// Scenario: pending records reach send_batch_size.
    /// Guarantees: the batch leaves at once with everything pending.
    #[tokio::test(start_paused = true)]
    async fn size_trigger_sends_immediately() {
        let (mut p, telemetry) = batch("send_batch_size: 4");
        assert!(p.process(records("a", 3)).is_none());
        let out = p.process(records("b", 3)).unwrap();
        assert_eq!(out.record_count(), 6);
        assert_eq!(p.next_flush(), None);
        assert_eq!(
            counter(
                &telemetry,
                "otelcol_processor_batch_batch_size_trigger_send",
                "processor",
                "batch"
            ),
            1
        );
    }

    /// Scenario: send_batch_max_size below what is pending.
    /// Guarantees: batches never exceed the max; the remainder asks for an
    /// immediate flush while a full chunk is left, else waits for the timeout.
    #[tokio::test(start_paused = true)]
    async fn max_size_splits_batches() {
        let (mut p, _) = batch("send_batch_size: 2\nsend_batch_max_size: 3\ntimeout: 1s");
        let out = p.process(records("a", 8)).unwrap();
        assert_eq!(names(&out), ["a0", "a1", "a2"]);
        assert_eq!(p.next_flush(), Some(Instant::now()));
        assert_eq!(names(&p.flush().unwrap()), ["a3", "a4", "a5"]);
        assert_eq!(names(&p.flush().unwrap()), ["a6", "a7"]);
        assert!(p.flush().is_none());

        let (mut p, _) = batch("send_batch_size: 4\nsend_batch_max_size: 4\ntimeout: 1s");
        let start = Instant::now();
        assert_eq!(p.process(records("b", 5)).unwrap().record_count(), 4);
        assert_eq!(p.next_flush(), Some(start + Duration::from_secs(1)));
        assert_eq!(names(&p.flush().unwrap()), ["b4"]);
    }

    /// Scenario: timeout 0. Guarantees: nothing is held back.
    #[tokio::test(start_paused = true)]
    async fn zero_timeout_passes_through() {
        let (mut p, _) = batch("timeout: 0s");
        assert_eq!(p.process(records("a", 2)).unwrap().record_count(), 2);
        assert_eq!(p.next_flush(), None);
    }

    /// Guarantees: splitting keeps resource and scope on both sides.
    #[test]
    fn split_front_cuts_inside_groups() {
        let mut b = logs(vec![
            (
                "r1",
                vec![
                    ("s1", vec![log("a", 9, &[]), log("b", 9, &[])]),
                    ("s2", vec![log("c", 9, &[])]),
                ],
            ),
            ("r2", vec![("s3", vec![log("d", 9, &[])])]),
        ]);
        let head = split_front(&mut b, 1);
        assert_eq!(
            (names(&head), names(&b)),
            (
                vec!["a".to_string()],
                vec!["b".into(), "c".into(), "d".into()]
            )
        );
        let Batch::Logs(rest) = &b else { panic!() };
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[0].scope_logs.len(), 2);
        let head = split_front(&mut b, 3);
        assert_eq!(names(&head), ["b", "c", "d"]);
        assert!(b.is_empty());
        let mut t = traces("h", vec![span("x", &[]), span("y", &[])]);
        assert_eq!(names(&split_front(&mut t, 1)), ["x"]);
        assert_eq!(names(&t), ["y"]);
    }

    #[test]
    fn validation() {
        let errs = BatchFactory
            .validate(&yaml("send_batch_size: 10\nsend_batch_max_size: 5"))
            .unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "'send_batch_max_size' must be greater or equal to 'send_batch_size'"
        );
        assert!(BatchFactory.validate(&yaml("~")).is_ok());
        assert!(BatchFactory
            .validate(&yaml("timeout: 1s\nsend_batch_max_size: 0"))
            .is_ok());
        assert_eq!(
            BatchFactory
                .validate(&yaml("metadata_keys: []"))
                .unwrap_err()[0]
                .to_string(),
            "'' has invalid keys: metadata_keys"
        );
    }
}
