//! oispd's own telemetry: Prometheus counters and gauges under the
//! collector's metric names, and per-exporter health for `/api/health`.
//!
//! One [`Telemetry`] is created per run and handed to every component through
//! its build context; components take labelled handles once at build time so
//! the hot path only bumps atomics.

use crate::batch::Signal;
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// Metric families and exporter health of one oispd run.
pub struct Telemetry {
    registry: Registry,
    receiver_accepted: [IntCounterVec; 3],
    receiver_refused: [IntCounterVec; 3],
    exporter_sent: [IntCounterVec; 3],
    exporter_send_failed: [IntCounterVec; 3],
    exporter_enqueue_failed: [IntCounterVec; 3],
    exporter_dropped: [IntCounterVec; 3],
    exporter_queue_size: IntGaugeVec,
    exporter_queue_capacity: IntGaugeVec,
    exporter_queue_records: IntGaugeVec,
    exporter_in_flight: IntGaugeVec,
    processor_incoming: IntCounterVec,
    processor_outgoing: IntCounterVec,
    custom: RwLock<BTreeMap<String, IntCounterVec>>,
    health: RwLock<BTreeMap<String, Arc<ExporterHealth>>>,
    receiver_status: RwLock<BTreeMap<String, serde_json::Value>>,
    memory_pressure: MemoryPressure,
}

/// Whether any `memory_limiter` is above its soft limit right now. Memory
/// limiters raise and release it; receivers poll it to refuse data early
/// (OTLP answers "try later", the eBPF receiver counts its drops).
#[derive(Clone, Debug, Default)]
pub struct MemoryPressure {
    refusing: Arc<AtomicUsize>,
}

impl MemoryPressure {
    /// True while at least one limiter is refusing.
    pub fn is_refusing(&self) -> bool {
        self.refusing.load(Ordering::Relaxed) > 0
    }

    /// A limiter went above its soft limit.
    pub fn raise(&self) {
        self.refusing.fetch_add(1, Ordering::Relaxed);
    }

    /// A limiter came back under its soft limit (or went away while above).
    pub fn release(&self) {
        let _ = self
            .refusing
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

impl Telemetry {
    /// Registers every shared family. Fails only on a programming error
    /// (duplicate names), which the tests catch.
    pub fn new() -> Result<Telemetry, prometheus::Error> {
        let registry = Registry::new();
        let per_signal = |verb: &str,
                          help: &str,
                          label: &str|
         -> Result<[IntCounterVec; 3], prometheus::Error> {
            let make = |signal: Signal| -> Result<IntCounterVec, prometheus::Error> {
                let name = format!("otelcol_{verb}_{}", signal.item_noun());
                let c = IntCounterVec::new(Opts::new(name, help), &[label])?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
            Ok([
                make(Signal::Logs)?,
                make(Signal::Traces)?,
                make(Signal::Metrics)?,
            ])
        };
        let receiver_accepted = per_signal(
            "receiver_accepted",
            "Records successfully pushed into the pipeline.",
            "receiver",
        )?;
        let receiver_refused = per_signal(
            "receiver_refused",
            "Records that could not be pushed into the pipeline.",
            "receiver",
        )?;
        let exporter_sent = per_signal(
            "exporter_sent",
            "Records successfully sent to the destination.",
            "exporter",
        )?;
        let exporter_send_failed = per_signal(
            "exporter_send_failed",
            "Records the exporter failed to send for good.",
            "exporter",
        )?;
        let exporter_enqueue_failed = per_signal(
            "exporter_enqueue_failed",
            "Records that could not be added to the sending queue.",
            "exporter",
        )?;
        let exporter_dropped = per_signal(
            "exporter_queue_dropped",
            "Records dropped from a full sending queue (oldest first).",
            "exporter",
        )?;
        let exporter_queue_size = IntGaugeVec::new(
            Opts::new(
                "otelcol_exporter_queue_size",
                "Current size of the sending queue in the unit of sending_queue.sizer (bytes unless a size is written), or bytes for a persistent queue (sending_queue.storage).",
            ),
            &["exporter", "data_type"],
        )?;
        registry.register(Box::new(exporter_queue_size.clone()))?;
        let exporter_queue_capacity = IntGaugeVec::new(
            Opts::new(
                "otelcol_exporter_queue_capacity",
                "Capacity of the sending queue in the unit of sending_queue.sizer (bytes unless a size is written), or bytes for a persistent queue (sending_queue.storage).",
            ),
            &["exporter", "data_type"],
        )?;
        registry.register(Box::new(exporter_queue_capacity.clone()))?;
        let exporter_queue_records = IntGaugeVec::new(
            Opts::new(
                "oispd_exporter_queue_size_records",
                "Records in the sending queue (a persistent queue counts those in flight too).",
            ),
            &["exporter", "data_type"],
        )?;
        registry.register(Box::new(exporter_queue_records.clone()))?;
        let exporter_in_flight = IntGaugeVec::new(
            Opts::new(
                "otelcol_exporter_in_flight_requests",
                "Export requests under way (at most sending_queue.num_consumers).",
            ),
            &["exporter"],
        )?;
        registry.register(Box::new(exporter_in_flight.clone()))?;
        let processor_incoming = IntCounterVec::new(
            Opts::new(
                "otelcol_processor_incoming_items",
                "Items passed to the processor.",
            ),
            &["processor", "pipeline", "otel_signal"],
        )?;
        registry.register(Box::new(processor_incoming.clone()))?;
        let processor_outgoing = IntCounterVec::new(
            Opts::new(
                "otelcol_processor_outgoing_items",
                "Items emitted by the processor.",
            ),
            &["processor", "pipeline", "otel_signal"],
        )?;
        registry.register(Box::new(processor_outgoing.clone()))?;
        Ok(Telemetry {
            registry,
            receiver_accepted,
            receiver_refused,
            exporter_sent,
            exporter_send_failed,
            exporter_enqueue_failed,
            exporter_dropped,
            exporter_queue_size,
            exporter_queue_capacity,
            exporter_queue_records,
            exporter_in_flight,
            processor_incoming,
            processor_outgoing,
            custom: RwLock::new(BTreeMap::new()),
            health: RwLock::new(BTreeMap::new()),
            receiver_status: RwLock::new(BTreeMap::new()),
            memory_pressure: MemoryPressure::default(),
        })
    }

    /// The memory pressure shared by memory limiters and receivers.
    pub fn memory_pressure(&self) -> MemoryPressure {
        self.memory_pressure.clone()
    }

    /// The underlying registry, for component-specific metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Registers (or finds) a component-specific counter family labelled by
    /// component id (`oispd_receiver_malformed_records{receiver="jsonl"}`),
    /// and returns the handle for `id`.
    pub fn component_counter(
        &self,
        name: &str,
        help: &str,
        label: &str,
        id: &str,
    ) -> Result<IntCounter, prometheus::Error> {
        self.component_counter_with(name, help, &[label], &[id])
    }

    /// Like [`Telemetry::component_counter`], for a family with several
    /// labels (`oispd_receiver_ebpf_dropped_records{receiver, reason}`):
    /// returns the handle for `values`, given in the order of `labels`. A
    /// family already registered with other labels is an error.
    pub fn component_counter_with(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        values: &[&str],
    ) -> Result<IntCounter, prometheus::Error> {
        let mut custom = self
            .custom
            .write()
            .map_err(|_| prometheus::Error::Msg("metric cache poisoned".into()))?;
        let family = match custom.get(name) {
            Some(f) => f.clone(),
            None => {
                let f = IntCounterVec::new(Opts::new(name, help), labels)?;
                self.registry.register(Box::new(f.clone()))?;
                custom.insert(name.to_string(), f.clone());
                f
            }
        };
        family.get_metric_with_label_values(values)
    }

    /// Handles for a receiver's accepted/refused counters.
    pub fn receiver(&self, id: &str, signal: Signal) -> ReceiverMetrics {
        let i = signal.index();
        ReceiverMetrics {
            accepted: self.receiver_accepted[i].with_label_values(&[id]),
            refused: self.receiver_refused[i].with_label_values(&[id]),
        }
    }

    /// Handles for an exporter's counters and queue gauges.
    pub fn exporter(&self, id: &str, signal: Signal) -> ExporterMetrics {
        let i = signal.index();
        ExporterMetrics {
            sent: self.exporter_sent[i].with_label_values(&[id]),
            send_failed: self.exporter_send_failed[i].with_label_values(&[id]),
            enqueue_failed: self.exporter_enqueue_failed[i].with_label_values(&[id]),
            dropped: self.exporter_dropped[i].with_label_values(&[id]),
            queue_size: self
                .exporter_queue_size
                .with_label_values(&[id, signal.as_str()]),
            queue_capacity: self
                .exporter_queue_capacity
                .with_label_values(&[id, signal.as_str()]),
            queue_records: self
                .exporter_queue_records
                .with_label_values(&[id, signal.as_str()]),
        }
    }

    /// The gauge of exporter `id`'s requests in flight
    /// (`otelcol_exporter_in_flight_requests`).
    pub fn exporter_in_flight(&self, id: &str) -> IntGauge {
        self.exporter_in_flight.with_label_values(&[id])
    }

    /// Handles for a processor's incoming/outgoing counters in one pipeline.
    pub fn processor(&self, id: &str, pipeline: &str, signal: Signal) -> ProcessorMetrics {
        ProcessorMetrics {
            incoming: self
                .processor_incoming
                .with_label_values(&[id, pipeline, signal.as_str()]),
            outgoing: self
                .processor_outgoing
                .with_label_values(&[id, pipeline, signal.as_str()]),
        }
    }

    /// The health record of exporter `id`, created on first use.
    pub fn exporter_health(&self, id: &str) -> Arc<ExporterHealth> {
        if let Ok(map) = self.health.read() {
            if let Some(h) = map.get(id) {
                return h.clone();
            }
        }
        match self.health.write() {
            Ok(mut map) => map
                .entry(id.to_string())
                .or_insert_with(|| Arc::new(ExporterHealth::default()))
                .clone(),
            Err(_) => Arc::new(ExporterHealth::default()),
        }
    }

    /// A snapshot of every exporter's health, by id.
    pub fn health_snapshot(&self) -> BTreeMap<String, HealthSnapshot> {
        match self.health.read() {
            Ok(map) => map.iter().map(|(k, v)| (k.clone(), v.snapshot())).collect(),
            Err(_) => BTreeMap::new(),
        }
    }

    /// Sets what `/api/health` shows for receiver `id` (a receiver-specific
    /// document, e.g. which binaries the `ebpf` receiver probes); the
    /// receiver keeps it bounded.
    pub fn set_receiver_status(&self, id: &str, status: serde_json::Value) {
        if let Ok(mut map) = self.receiver_status.write() {
            map.insert(id.to_string(), status);
        }
    }

    /// Every receiver's status document, by id.
    pub fn receiver_status_snapshot(&self) -> BTreeMap<String, serde_json::Value> {
        match self.receiver_status.read() {
            Ok(map) => map.clone(),
            Err(_) => BTreeMap::new(),
        }
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        let families = self.registry.gather();
        if encoder.encode(&families, &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// A receiver's counters.
#[derive(Clone)]
pub struct ReceiverMetrics {
    /// `otelcol_receiver_accepted_*`.
    pub accepted: IntCounter,
    /// `otelcol_receiver_refused_*`.
    pub refused: IntCounter,
}

/// An exporter's counters and gauges.
#[derive(Clone)]
pub struct ExporterMetrics {
    /// `otelcol_exporter_sent_*`.
    pub sent: IntCounter,
    /// `otelcol_exporter_send_failed_*`.
    pub send_failed: IntCounter,
    /// `otelcol_exporter_enqueue_failed_*`.
    pub enqueue_failed: IntCounter,
    /// `otelcol_exporter_queue_dropped_*`.
    pub dropped: IntCounter,
    /// `otelcol_exporter_queue_size`.
    pub queue_size: IntGauge,
    /// `otelcol_exporter_queue_capacity`.
    pub queue_capacity: IntGauge,
    /// `oispd_exporter_queue_size_records`: records in the queue, whatever
    /// unit its size gauge uses.
    pub queue_records: IntGauge,
}

/// A processor's counters in one pipeline.
#[derive(Clone)]
pub struct ProcessorMetrics {
    /// `otelcol_processor_incoming_items`.
    pub incoming: IntCounter,
    /// `otelcol_processor_outgoing_items`.
    pub outgoing: IntCounter,
}

/// Live health of one exporter, updated by the exporter helper.
#[derive(Default)]
pub struct ExporterHealth {
    state: RwLock<HealthSnapshot>,
}

/// What `/api/health` reports for one exporter.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct HealthSnapshot {
    /// `ok` or `degraded`.
    pub status: HealthStatus,
    /// Records exported successfully so far.
    pub events_exported: u64,
    /// The last failure's message, cleared by the next success.
    pub last_error: Option<String>,
}

/// Exporter status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Last attempt succeeded (or none yet).
    #[default]
    Ok,
    /// Last attempt failed.
    Degraded,
}

impl ExporterHealth {
    /// Records a successful export of `records`.
    pub fn record_success(&self, records: u64) {
        if let Ok(mut s) = self.state.write() {
            s.status = HealthStatus::Ok;
            s.events_exported += records;
            s.last_error = None;
        }
    }

    /// Records a failed attempt. URLs in `message` are shown as
    /// [`crate::sanitize::text`] shows them: `/api/health` never carries
    /// credentials or tokens.
    pub fn record_failure(&self, message: &str) {
        let message = crate::sanitize::text(message).into_owned();
        if let Ok(mut s) = self.state.write() {
            s.status = HealthStatus::Degraded;
            s.last_error = Some(message);
        }
    }

    /// Current state.
    pub fn snapshot(&self) -> HealthSnapshot {
        self.state.read().map(|s| s.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_collector_metric_names() {
        let t = Telemetry::new().unwrap_or_else(|e| panic!("{e}"));
        t.exporter("file", Signal::Logs).sent.inc_by(3);
        t.receiver("otlp", Signal::Logs).accepted.inc();
        let c = t
            .component_counter("oispd_receiver_malformed_records", "x", "receiver", "jsonl")
            .unwrap_or_else(|e| panic!("{e}"));
        c.inc();
        // A second instance gets a handle on the same family.
        let c2 = t
            .component_counter(
                "oispd_receiver_malformed_records",
                "x",
                "receiver",
                "jsonl/b",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        c2.inc();
        let text = t.render();
        assert!(
            text.contains("otelcol_exporter_sent_log_records{exporter=\"file\"} 3"),
            "{text}"
        );
        assert!(text.contains("otelcol_receiver_accepted_log_records{receiver=\"otlp\"} 1"));
        assert!(text.contains("oispd_receiver_malformed_records{receiver=\"jsonl/b\"} 1"));
    }

    #[test]
    fn multi_label_counters_share_one_family() {
        let t = Telemetry::new().unwrap_or_else(|e| panic!("{e}"));
        let labels = ["receiver", "reason"];
        let a = t
            .component_counter_with("oispd_x_dropped", "x", &labels, &["ebpf", "ring"])
            .unwrap_or_else(|e| panic!("{e}"));
        a.inc_by(2);
        t.component_counter_with("oispd_x_dropped", "x", &labels, &["ebpf", "parse"])
            .unwrap_or_else(|e| panic!("{e}"))
            .inc();
        // A wrong number of values is refused, not a panic.
        assert!(t
            .component_counter_with("oispd_x_dropped", "x", &labels, &["ebpf"])
            .is_err());
        let text = t.render();
        assert!(
            text.contains("oispd_x_dropped{reason=\"ring\",receiver=\"ebpf\"} 2"),
            "{text}"
        );
        assert!(text.contains("oispd_x_dropped{reason=\"parse\",receiver=\"ebpf\"} 1"));
    }

    #[test]
    fn health_tracks_last_error_and_recovery() {
        let t = Telemetry::new().unwrap_or_else(|e| panic!("{e}"));
        let h = t.exporter_health("otlp_grpc");
        h.record_failure("connection refused");
        assert_eq!(
            t.health_snapshot()["otlp_grpc"].status,
            HealthStatus::Degraded
        );
        h.record_success(5);
        let s = &t.health_snapshot()["otlp_grpc"];
        assert_eq!(s.status, HealthStatus::Ok);
        assert_eq!(s.events_exported, 5);
        assert_eq!(s.last_error, None);
    }

    /// Scenario: a failure message that embeds an endpoint URL with a
    /// password and a query token (as reqwest errors do).
    /// Guarantees: the health snapshot shows neither.
    #[test]
    fn health_never_shows_url_credentials() {
        let t = Telemetry::new().unwrap_or_else(|e| panic!("{e}"));
        let h = t.exporter_health("otlp_http");
        h.record_failure(
            "error sending request for url (https://user:hunter2@siem:4318/v1/logs?token=t0ken)",
        );
        let shown = t.health_snapshot()["otlp_http"]
            .last_error
            .clone()
            .unwrap_or_default();
        assert!(
            !shown.contains("hunter2") && !shown.contains("t0ken"),
            "{shown}"
        );
        assert!(
            shown.contains("https://user:***@siem:4318/v1/logs?token=***"),
            "{shown}"
        );
    }
}
