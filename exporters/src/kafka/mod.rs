//! The `kafka` exporter: publishes records to Kafka with librdkafka
//! (`rdkafka`), in the OTel Collector's config shape ([`config`]).
//!
//! Each export encodes the batch ([`encode`](mod@encode)), drops and counts messages
//! above `producer.max_message_bytes` (`oispd_exporter_kafka_oversized_messages`,
//! logged with their event ids; never retried), hands the rest to
//! librdkafka in batch order and awaits every delivery report.
//! librdkafka's queue is bounded ([`config`]): when it is full the export
//! waits for deliveries to make room (`oispd_exporter_kafka_queue_full_waits`
//! counts the waits), so a slow broker slows the caller down instead of
//! filling memory. Once the export waits, whether for room or for its
//! delivery reports, it asks librdkafka to send what it holds at once:
//! `producer.linger` only gathers messages while the export is still
//! handing them over, never delays the last ones. A message
//! the broker rejects for its size is dropped the same way; any other
//! failure makes the export retryable, and the helper sends the batch again
//! (at least once: messages of a failed attempt that did arrive are sent
//! twice). Messages are keyed by `host.name`/`process.pid`, so one agent's
//! events keep their order inside one partition; with `required_acks: all`
//! the producer is idempotent, otherwise one request is in flight per
//! broker, so librdkafka's own retries never reorder them.

pub mod config;
mod context;
mod encode;

use async_trait::async_trait;
use config::{Encoding, KafkaConfig, Target};
use context::KafkaContext;
use encode::{encode, OutMessage, Oversized};
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentError, ComponentInfo, ConfigError, ExportError,
    Exporter, ExporterFactory, ExporterSettings, Signal, Stability,
};
use prometheus::IntCounter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use serde_yaml_ng::Value;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Name of the counter of messages dropped for their size.
pub const OVERSIZED_METRIC: &str = "oispd_exporter_kafka_oversized_messages";
/// Name of the counter of waits for room in librdkafka's bounded queue.
pub const QUEUE_FULL_METRIC: &str = "oispd_exporter_kafka_queue_full_waits";

/// Builds `kafka` exporters.
pub struct KafkaFactory;

impl ExporterFactory for KafkaFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "kafka",
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Publishes OTLP (protobuf by default, or JSON) or OISP events (one JSON message each) to Kafka topics, keyed by host and process",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<KafkaConfig>(config).map(|_| ())
    }

    /// OTLP messages: one per resource, keyed `host.name/process.pid`, where
    /// the collector writes one per batch with no key.
    fn collector_differences(&self, config: &Value, signals: &[Signal]) -> Vec<ConfigError> {
        let Ok(cfg) = parse_config::<KafkaConfig>(config) else {
            return Vec::new();
        };
        signals
            .iter()
            .filter_map(|signal| {
                let encoding = match cfg.target(*signal)?.encoding {
                    Encoding::OispJson => return None,
                    Encoding::OtlpProto => "otlp_proto",
                    Encoding::OtlpJson => "otlp_json",
                };
                let key = signal.as_str();
                Some(ConfigError::new(
                    &[key, "encoding"],
                    format!("{encoding} messages hold one resource each, keyed host.name/process.pid so that one agent's records keep their order in one partition, where the collector writes one message per batch with no key"),
                ))
            })
            .collect()
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<(Box<dyn Exporter>, ExporterSettings), ComponentError> {
        let cfg = parse_config::<KafkaConfig>(config).map_err(|e| {
            ComponentError::Config(
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let id = ctx.id.to_string();
        let oversized = ctx
            .telemetry
            .component_counter(
                OVERSIZED_METRIC,
                "Kafka messages dropped because they exceed producer.max_message_bytes.",
                "exporter",
                &id,
            )
            .map_err(|e| ComponentError::Config(format!("cannot register metrics: {e}")))?;
        let queue_full = ctx
            .telemetry
            .component_counter(
                QUEUE_FULL_METRIC,
                "Times an export waited for room in librdkafka's full producer queue.",
                "exporter",
                &id,
            )
            .map_err(|e| ComponentError::Config(format!("cannot register metrics: {e}")))?;
        let settings = cfg.exporter_settings();
        let metrics = Metrics {
            oversized,
            queue_full,
        };
        Ok((Box::new(KafkaExporter::new(id, &cfg, metrics)), settings))
    }
}

/// The exporter's counters.
pub struct Metrics {
    /// Messages dropped for their size.
    pub oversized: IntCounter,
    /// Waits for room in librdkafka's queue.
    pub queue_full: IntCounter,
}

/// One `kafka` exporter instance.
pub struct KafkaExporter {
    id: String,
    client_config: ClientConfig,
    producer: Option<FutureProducer<KafkaContext>>,
    logs: Target,
    traces: Target,
    max_message_bytes: usize,
    delivery_timeout: Duration,
    metrics: Metrics,
    /// Sizes and first event ids of the messages dropped in the last failed
    /// attempt, so that the helper's retry of the same batch does not count
    /// and log them twice.
    last_dropped: Vec<(usize, Option<String>)>,
}

impl KafkaExporter {
    /// An exporter for `cfg`; the producer is created by `start`.
    pub fn new(id: String, cfg: &KafkaConfig, metrics: Metrics) -> KafkaExporter {
        KafkaExporter {
            id,
            client_config: cfg.client_config(),
            producer: None,
            logs: cfg.logs_target(),
            traces: cfg.traces_target(),
            max_message_bytes: cfg.producer.max_message_bytes,
            delivery_timeout: cfg.timeout,
            metrics,
            last_dropped: Vec::new(),
        }
    }

    /// Counts and logs dropped messages, once per batch across retries.
    fn drop_oversized(&mut self, dropped: &[Oversized], retrying: bool) {
        let fingerprint: Vec<(usize, Option<String>)> = dropped
            .iter()
            .map(|o| (o.bytes, o.event_ids.first().cloned()))
            .collect();
        let already = !fingerprint.is_empty() && fingerprint == self.last_dropped;
        if !already {
            for o in dropped {
                self.metrics.oversized.inc();
                tracing::warn!(
                    exporter = %self.id,
                    bytes = o.bytes,
                    max_message_bytes = self.max_message_bytes,
                    records = o.records,
                    event_ids = %o.event_ids.join(","),
                    "kafka message too large; dropped"
                );
            }
        }
        self.last_dropped = if retrying { fingerprint } else { Vec::new() };
    }

    /// Sends one batch, read by reference (the helper may keep it for a retry).
    async fn send(&mut self, batch: &Batch) -> Result<(), ExportError> {
        let target = match batch.signal() {
            Signal::Logs => self.logs.clone(),
            Signal::Traces => self.traces.clone(),
            Signal::Metrics => {
                return Err(ExportError::permanent(
                    "the kafka exporter does not export metrics",
                ))
            }
        };
        let Some(producer) = self.producer.clone() else {
            return Err(ExportError::retryable("kafka producer not started"));
        };
        let total = batch.record_count() as u64;
        let enc = encode(batch, target.encoding, self.max_message_bytes);
        let deadline = Instant::now() + self.delivery_timeout;
        let outcome = deliver(
            &producer,
            &target.topic,
            &enc.messages,
            deadline,
            &self.metrics.queue_full,
        )
        .await;
        let mut dropped = enc.oversized;
        dropped.extend(outcome.rejected);
        self.drop_oversized(&dropped, outcome.retryable.is_some());
        if let Some(message) = outcome.retryable {
            return Err(ExportError::retryable(message));
        }
        let rejected: u64 = dropped.iter().map(|o| o.records).sum();
        if rejected == 0 {
            Ok(())
        } else if rejected >= total {
            Err(ExportError::permanent(format!(
                "every message exceeded max_message_bytes ({} bytes)",
                self.max_message_bytes
            )))
        } else {
            Err(ExportError::Partial {
                rejected,
                message: format!(
                    "{} message(s) exceeded max_message_bytes ({} bytes)",
                    dropped.len(),
                    self.max_message_bytes
                ),
            })
        }
    }
}

/// What became of the messages handed to librdkafka.
#[derive(Default)]
struct Outcome {
    /// Messages rejected for their size, for logging and counting.
    rejected: Vec<Oversized>,
    /// The first retryable failure.
    retryable: Option<String>,
}

/// Is this a per-message failure that no retry can fix?
fn is_size_rejection(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidRecord)
    )
}

async fn settle(pending: DeliveryFuture, records: u64, bytes: usize, outcome: &mut Outcome) {
    match pending.await {
        Ok(Ok(_)) => {}
        Ok(Err((e, _))) if is_size_rejection(&e) => {
            outcome.rejected.push(Oversized {
                bytes,
                records,
                event_ids: Vec::new(),
            });
        }
        Ok(Err((e, _))) => {
            outcome
                .retryable
                .get_or_insert_with(|| format!("kafka delivery failed: {e}"));
        }
        Err(_) => {
            outcome
                .retryable
                .get_or_insert_with(|| "kafka producer dropped the message".to_string());
        }
    }
}

/// Tells librdkafka to send the messages it holds now, without waiting
/// `linger` for more, until none is left or `deadline` passes.
///
/// `rd_kafka_flush` does that for as long as it runs (librdkafka's broker
/// threads treat linger as elapsed while a flush is in progress); it blocks
/// until every message is delivered, so it runs on a blocking thread and
/// the export awaits the delivery reports themselves as before. The `rdkafka`
/// crate's `flush` cannot serve: it calls `rd_kafka_flush` with no wait
/// between polls, so librdkafka sees the flush only for an instant.
fn send_now(producer: &FutureProducer<KafkaContext>, deadline: Instant) -> JoinHandle<()> {
    let producer = producer.clone();
    let wait_ms = i32::try_from(
        deadline
            .saturating_duration_since(Instant::now())
            .as_millis(),
    )
    .unwrap_or(i32::MAX);
    tokio::task::spawn_blocking(move || {
        // SAFETY: the handle belongs to `producer`, which this closure owns,
        // so it stays valid until the call returns; rd_kafka_flush may be
        // called from any thread. Its result is not needed: every message's
        // outcome arrives through its delivery report.
        unsafe {
            rdkafka::bindings::rd_kafka_flush(producer.client().native_ptr(), wait_ms);
        }
    })
}

/// Sends `messages` to `topic` in order and awaits every delivery report.
/// When librdkafka's queue is full, waits for the oldest message handed over
/// to be delivered (or, if none of this call's is pending, a moment) and
/// tries again, until `deadline`; each wait counts in `queue_full`.
async fn deliver(
    producer: &FutureProducer<KafkaContext>,
    topic: &str,
    messages: &[OutMessage],
    deadline: Instant,
    queue_full: &IntCounter,
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut pending: VecDeque<(DeliveryFuture, u64, usize)> = VecDeque::new();
    // The running flush, started whenever this call starts waiting and
    // none is running.
    let mut flush: Option<JoinHandle<()>> = None;
    let flush_now = |flush: &mut Option<JoinHandle<()>>| {
        if flush.as_ref().is_none_or(JoinHandle::is_finished) {
            *flush = Some(send_now(producer, deadline));
        }
    };
    for m in messages {
        let bytes = m.payload.len() + m.key.as_ref().map_or(0, String::len);
        loop {
            let mut record = FutureRecord::<str, [u8]>::to(topic).payload(&m.payload);
            if let Some(k) = &m.key {
                record = record.key(k.as_str());
            }
            match producer.send_result(record) {
                Ok(f) => {
                    pending.push_back((f, m.records, bytes));
                    break;
                }
                Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                    // librdkafka's bounded queue is full: wait for a
                    // delivery to free room, or a moment if nothing of
                    // this call is in flight.
                    if Instant::now() >= deadline {
                        outcome
                            .retryable
                            .get_or_insert_with(|| format!("kafka producer queue full: {e}"));
                        break;
                    }
                    queue_full.inc();
                    flush_now(&mut flush);
                    match pending.pop_front() {
                        Some((f, records, bytes)) => settle(f, records, bytes, &mut outcome).await,
                        None => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
                Err((e, _)) if is_size_rejection(&e) => {
                    outcome.rejected.push(Oversized {
                        bytes,
                        records: m.records,
                        event_ids: Vec::new(),
                    });
                    break;
                }
                Err((e, _)) => {
                    outcome
                        .retryable
                        .get_or_insert_with(|| format!("kafka produce failed: {e}"));
                    break;
                }
            }
        }
        if outcome.retryable.is_some() {
            break;
        }
    }
    if !pending.is_empty() {
        flush_now(&mut flush);
    }
    for (f, records, bytes) in pending {
        settle(f, records, bytes, &mut outcome).await;
    }
    outcome
}

#[async_trait]
impl Exporter for KafkaExporter {
    async fn start(&mut self) -> Result<(), ComponentError> {
        let context = KafkaContext::new(self.id.clone());
        let producer: FutureProducer<KafkaContext> = self
            .client_config
            .create_with_context(context)
            .map_err(|e| {
                ComponentError::Config(format!("cannot create the Kafka producer: {e}"))
            })?;
        self.producer = Some(producer);
        tracing::info!(
            exporter = %self.id,
            brokers = self.client_config.get("bootstrap.servers").unwrap_or(""),
            logs_topic = %self.logs.topic,
            traces_topic = %self.traces.topic,
            "kafka exporter started"
        );
        Ok(())
    }

    async fn export(&mut self, batch: Batch) -> Result<(), ExportError> {
        self.send(&batch).await
    }

    async fn export_ref(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.send(batch).await
    }

    async fn shutdown(&mut self) -> Result<(), ComponentError> {
        let Some(producer) = self.producer.take() else {
            return Ok(());
        };
        let timeout = self.delivery_timeout;
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        match flushed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ComponentError::Environment(format!(
                "kafka producer flush failed: {e}"
            ))),
            Err(e) => Err(ComponentError::Environment(format!(
                "kafka producer flush task failed: {e}"
            ))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::encode::tests::event;
    use super::*;
    use oispd_component::{ComponentId, Telemetry};
    use oispd_semconv::otel::events_to_resource_logs;
    use rdkafka::mocking::MockCluster;
    use serde_json::json;
    use std::sync::Arc;

    fn ctx(telemetry: &Arc<Telemetry>) -> BuildContext {
        BuildContext {
            id: ComponentId::parse("kafka/test").unwrap(),
            telemetry: telemetry.clone(),
            admin_routes: Default::default(),
            redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
        }
    }

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    /// Scenario: every message of a batch (one OISP event each, `oisp_json`)
    /// is above the limit; the broker is
    /// unreachable (nothing listens on port 1), which no message reaches.
    /// Guarantees: the batch fails permanently (never retried), each message
    /// is counted once, and a retry of the same batch does not count again.
    #[tokio::test]
    async fn oversized_batch_is_dropped_counted_and_never_retried() {
        let telemetry = Arc::new(Telemetry::new().unwrap());
        let (mut exporter, settings) = KafkaFactory
            .create(
                &ctx(&telemetry),
                &yaml(
                    "brokers: 127.0.0.1:1\nlogs: {encoding: oisp_json}\n\
                     producer: {max_message_bytes: 100}\ntimeout: 1s",
                ),
            )
            .unwrap();
        assert_eq!(settings.timeout, Duration::from_secs(6));
        exporter.start().await.unwrap();
        let batch = Batch::Logs(events_to_resource_logs(vec![
            event("01A", "ai.request", "h", 1, json!({})),
            event("01B", "ai.request", "h", 1, json!({})),
        ]));
        let err = exporter.export(batch).await.unwrap_err();
        assert!(matches!(err, ExportError::Permanent { .. }), "{err:?}");
        let text = telemetry.render();
        assert!(
            text.contains("oispd_exporter_kafka_oversized_messages{exporter=\"kafka/test\"} 2"),
            "{text}"
        );
        exporter.shutdown().await.unwrap();
    }

    /// Scenario: the broker is unreachable and messages fit.
    /// Guarantees: the export fails as retryable once the delivery deadline passes.
    #[tokio::test]
    async fn unreachable_broker_is_retryable() {
        let telemetry = Arc::new(Telemetry::new().unwrap());
        let (mut exporter, _) = KafkaFactory
            .create(
                &ctx(&telemetry),
                &yaml("brokers: 127.0.0.1:1\ntimeout: 300ms"),
            )
            .unwrap();
        exporter.start().await.unwrap();
        let batch = Batch::Logs(events_to_resource_logs(vec![event(
            "01A",
            "ai.request",
            "h",
            1,
            json!({}),
        )]));
        let err = exporter.export(batch).await.unwrap_err();
        assert!(matches!(err, ExportError::Retryable { .. }), "{err:?}");
    }

    /// Scenario: a metrics batch reaches a kafka exporter (validation keeps
    /// kafka out of metrics pipelines; this is the guard behind it).
    /// Guarantees: a permanent error, not a retry loop.
    #[tokio::test]
    async fn metrics_are_refused_for_good() {
        let telemetry = Arc::new(Telemetry::new().unwrap());
        let mut exporter = exporter(&telemetry, "brokers: 127.0.0.1:1");
        let err = exporter
            .export(crate::helper::testing::metrics(1))
            .await
            .unwrap_err();
        assert!(matches!(err, ExportError::Permanent { .. }), "{err:?}");
    }

    /// An exporter for `config` with its counters registered in `telemetry`,
    /// as the factory builds it, but with its librdkafka settings reachable.
    fn exporter(telemetry: &Telemetry, config: &str) -> KafkaExporter {
        let cfg: KafkaConfig = parse_config(&yaml(config)).unwrap();
        let counter = |name| {
            telemetry
                .component_counter(name, "test", "exporter", "kafka/test")
                .unwrap()
        };
        let metrics = Metrics {
            oversized: counter(OVERSIZED_METRIC),
            queue_full: counter(QUEUE_FULL_METRIC),
        };
        KafkaExporter::new("kafka/test".into(), &cfg, metrics)
    }

    /// Three agents' events: one OTLP resource (one message) each.
    fn three_agents() -> Batch {
        Batch::Logs(events_to_resource_logs(vec![
            event("01A", "ai.request", "h1", 10, json!({})),
            event("01B", "ai.request", "h2", 20, json!({})),
            event("01C", "ai.request", "h3", 30, json!({})),
        ]))
    }

    /// Reads every message of partition 0 of `topic` on `brokers`:
    /// (key, records inside).
    fn read_topic(brokers: &str, topic: &str, expected: usize) -> Vec<(String, usize)> {
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        use prost::Message as _;
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::{Message as _, Offset, TopicPartitionList};
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "kafka-test")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&tpl).unwrap();
        let mut out = Vec::new();
        while out.len() < expected {
            let Some(m) = consumer.poll(Duration::from_secs(30)) else {
                panic!("only {} of {expected} messages read", out.len());
            };
            let m = m.unwrap();
            let key = String::from_utf8(m.key().unwrap().to_vec()).unwrap();
            let req = ExportLogsServiceRequest::decode(m.payload().unwrap()).unwrap();
            let records = req.resource_logs[0].scope_logs[0].log_records.len();
            out.push((key, records));
        }
        out
    }

    /// Scenario: librdkafka's queue holds one message and the (mock) broker
    /// is down when an export of three messages starts; it comes up once
    /// the export waits for room.
    /// Guarantees: a full queue makes the export wait (counted), neither
    /// failing nor buffering more; once the broker is back every message is
    /// delivered, in batch order, with its key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_queue_makes_the_export_wait_then_deliver_in_order() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        cluster.broker_down(-1).unwrap();
        let telemetry = Arc::new(Telemetry::new().unwrap());
        let mut exporter = exporter(
            &telemetry,
            &format!("brokers: {brokers}\nlogs: {{topic: t, encoding: otlp_proto}}\ntimeout: 60s"),
        );
        exporter
            .client_config
            .set("queue.buffering.max.messages", "1");
        exporter.start().await.unwrap();
        let export = tokio::spawn(async move {
            let result = exporter.export(three_agents()).await;
            (exporter, result)
        });
        let waits = "oispd_exporter_kafka_queue_full_waits{exporter=\"kafka/test\"}";
        while !telemetry
            .render()
            .lines()
            .any(|l| l.starts_with(waits) && !l.ends_with(" 0"))
        {
            assert!(!export.is_finished(), "the export ended without waiting");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cluster.broker_up(-1).unwrap();
        let (mut exporter, result) = export.await.unwrap();
        result.unwrap();
        exporter.shutdown().await.unwrap();
        let got = tokio::task::spawn_blocking(move || read_topic(&brokers, "t", 3))
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![
                ("h1/10".into(), 1),
                ("h2/20".into(), 1),
                ("h3/30".into(), 1)
            ]
        );
    }

    /// Scenario: `producer.linger` is five minutes (the delivery timeout
    /// ten), so librdkafka left alone would hold the messages that long.
    /// Guarantees: the export still delivers at once: once it has handed
    /// every message over it has librdkafka send them without lingering.
    /// (The 60 s guard only stops a broken build from hanging for minutes.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handed_over_messages_do_not_wait_for_linger() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let telemetry = Arc::new(Telemetry::new().unwrap());
        let mut exporter = exporter(
            &telemetry,
            &format!(
                "brokers: {brokers}\nlogs: {{topic: t, encoding: otlp_proto}}\n\
                 producer: {{linger: 5m}}\ntimeout: 10m"
            ),
        );
        exporter.start().await.unwrap();
        tokio::time::timeout(Duration::from_secs(60), exporter.export(three_agents()))
            .await
            .expect("the export waited for linger")
            .unwrap();
        exporter.shutdown().await.unwrap();
        let got = tokio::task::spawn_blocking(move || read_topic(&brokers, "t", 3))
            .await
            .unwrap();
        assert_eq!(got.len(), 3);
    }

    /// Scenario: an exporter written with a topic and no `encoding` (as a
    /// collector config is) exports three agents' events to a (mock)
    /// broker.
    /// Guarantees: each message is a protobuf `ExportLogsServiceRequest`
    /// (the collector's `otlp_proto` default) holding exactly one
    /// resource's group of the batch, so an OTLP consumer reads the records
    /// unchanged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_encoding_writes_otlp_protobuf_export_requests() {
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        use prost::Message as _;
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::{Message as _, Offset, TopicPartitionList};
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 1, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let telemetry = Arc::new(Telemetry::new().unwrap());
        let mut exporter = exporter(
            &telemetry,
            &format!("brokers: {brokers}\nlogs: {{topic: t}}"),
        );
        exporter.start().await.unwrap();
        let batch = three_agents();
        exporter.export_ref(&batch).await.unwrap();
        exporter.shutdown().await.unwrap();
        let Batch::Logs(sent) = batch else {
            unreachable!("three_agents is a logs batch")
        };
        let payloads = tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", "kafka-test")
                .create()
                .unwrap();
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset("t", 0, Offset::Beginning).unwrap();
            consumer.assign(&tpl).unwrap();
            (0..3)
                .map(|_| {
                    let m = consumer.poll(Duration::from_secs(30)).unwrap().unwrap();
                    m.payload().unwrap().to_vec()
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        let got: Vec<ExportLogsServiceRequest> = payloads
            .iter()
            .map(|p| ExportLogsServiceRequest::decode(p.as_slice()).unwrap())
            .collect();
        let want: Vec<ExportLogsServiceRequest> = sent
            .into_iter()
            .map(|rl| ExportLogsServiceRequest {
                resource_logs: vec![rl],
            })
            .collect();
        assert_eq!(got, want);
    }

    /// Scenario: a config with a typo. Guarantees: validate names the key.
    #[test]
    fn factory_validate_reports_typos() {
        let errs = KafkaFactory.validate(&yaml("brokerz: [a:1]")).unwrap_err();
        assert_eq!(errs[0].to_string(), "'' has invalid keys: brokerz");
    }
}
