//! The exporter's metric handles for every signal, taken once at start so
//! the hot path only bumps atomics. One exporter instance can be listed in
//! logs, traces and metrics pipelines at once; each signal keeps its own
//! counters, as the collector's `otelcol_exporter_*_log_records` /
//! `*_spans` / `*_metric_points` do.

use oispd_component::telemetry::ExporterMetrics;
use oispd_component::{Signal, Telemetry};

/// Counters and gauges of one exporter, per signal.
#[derive(Clone)]
pub(crate) struct SignalMetrics {
    by_signal: [ExporterMetrics; 3],
}

impl SignalMetrics {
    /// Takes the handles for exporter `id` and publishes the queue capacity
    /// (the queue is shared by the signals): in the sizer's unit for the
    /// in-memory queue, in bytes for the persistent one, the unit its size
    /// gauge uses.
    pub(crate) fn new(telemetry: &Telemetry, id: &str, capacity: u64) -> SignalMetrics {
        let by_signal = Signal::ALL.map(|signal| telemetry.exporter(id, signal));
        let capacity = i64::try_from(capacity).unwrap_or(i64::MAX);
        for m in &by_signal {
            m.queue_capacity.set(capacity);
        }
        SignalMetrics { by_signal }
    }

    /// The handles of `signal`.
    pub(crate) fn of(&self, signal: Signal) -> &ExporterMetrics {
        &self.by_signal[signal.index()]
    }

    /// Moves the queue gauges of `signal` by `size` (in the queue's unit:
    /// batches, records or bytes) and `records`; negative when leaving the queue.
    pub(crate) fn queue_moved(&self, signal: Signal, size: i64, records: i64) {
        let m = self.of(signal);
        m.queue_size.add(size);
        m.queue_records.add(records);
    }
}
