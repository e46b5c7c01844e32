//! The one record type that flows through pipelines: OTLP resource logs,
//! resource spans or resource metrics, exactly as `opentelemetry-proto`
//! defines them. OISP events travel as log records whose body is the event
//! (see `oispd-semconv`); metrics come from connectors (`genai_metrics`).

use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::{metric, ResourceMetrics};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use std::fmt;

/// The telemetry signal a pipeline carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Log records (OISP events are log records).
    Logs,
    /// Spans.
    Traces,
    /// Metrics (sums, gauges, histograms).
    Metrics,
}

impl Signal {
    /// The collector's name for the signal (`logs`, `traces`).
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    /// Parses the signal part of a pipeline id (`logs/siem` -> `Logs`).
    pub fn from_pipeline_type(s: &str) -> Option<Signal> {
        match s {
            "logs" => Some(Signal::Logs),
            "traces" => Some(Signal::Traces),
            "metrics" => Some(Signal::Metrics),
            _ => None,
        }
    }

    /// The noun used in collector metric names (`log_records`, `spans`,
    /// `metric_points`).
    pub fn item_noun(self) -> &'static str {
        match self {
            Signal::Logs => "log_records",
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
        }
    }

    /// Every signal, in order.
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Traces, Signal::Metrics];

    /// The position of the signal in [`Signal::ALL`], for per-signal tables.
    pub fn index(self) -> usize {
        match self {
            Signal::Logs => 0,
            Signal::Traces => 1,
            Signal::Metrics => 2,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A batch of records of one signal.
#[derive(Clone, Debug, PartialEq)]
pub enum Batch {
    /// Logs, grouped by resource and scope as in OTLP.
    Logs(Vec<ResourceLogs>),
    /// Spans, grouped by resource and scope as in OTLP.
    Traces(Vec<ResourceSpans>),
    /// Metrics, grouped by resource and scope as in OTLP.
    Metrics(Vec<ResourceMetrics>),
}

impl Batch {
    /// The signal of this batch.
    pub fn signal(&self) -> Signal {
        match self {
            Batch::Logs(_) => Signal::Logs,
            Batch::Traces(_) => Signal::Traces,
            Batch::Metrics(_) => Signal::Metrics,
        }
    }

    /// Number of log records, spans or metric data points in the batch (the
    /// collector counts metric points, not metrics).
    pub fn record_count(&self) -> usize {
        match self {
            Batch::Logs(rl) => rl
                .iter()
                .flat_map(|r| r.scope_logs.iter())
                .map(|s| s.log_records.len())
                .sum(),
            Batch::Traces(rs) => rs
                .iter()
                .flat_map(|r| r.scope_spans.iter())
                .map(|s| s.spans.len())
                .sum(),
            Batch::Metrics(rm) => rm
                .iter()
                .flat_map(|r| r.scope_metrics.iter())
                .flat_map(|s| s.metrics.iter())
                .map(|m| data_point_count(m.data.as_ref()))
                .sum(),
        }
    }

    /// The size of the batch encoded as an OTLP export request, in bytes:
    /// what a queue with `sizer: bytes` counts.
    pub fn encoded_len(&self) -> usize {
        use prost::Message;
        // Each resource is a length-delimited field 1 of the request.
        fn field(len: usize) -> usize {
            1 + prost::encoding::encoded_len_varint(len as u64) + len
        }
        match self {
            Batch::Logs(rl) => rl.iter().map(|r| field(r.encoded_len())).sum(),
            Batch::Traces(rs) => rs.iter().map(|r| field(r.encoded_len())).sum(),
            Batch::Metrics(rm) => rm.iter().map(|r| field(r.encoded_len())).sum(),
        }
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.record_count() == 0
    }

    /// An empty batch of `signal`.
    pub fn empty(signal: Signal) -> Batch {
        match signal {
            Signal::Logs => Batch::Logs(Vec::new()),
            Signal::Traces => Batch::Traces(Vec::new()),
            Signal::Metrics => Batch::Metrics(Vec::new()),
        }
    }

    /// Appends the records of `other` (same signal) to this batch. A batch of
    /// the other signal is returned unchanged as the error.
    pub fn append(&mut self, other: Batch) -> Result<(), Batch> {
        match (self, other) {
            (Batch::Logs(a), Batch::Logs(b)) => {
                a.extend(b);
                Ok(())
            }
            (Batch::Traces(a), Batch::Traces(b)) => {
                a.extend(b);
                Ok(())
            }
            (Batch::Metrics(a), Batch::Metrics(b)) => {
                a.extend(b);
                Ok(())
            }
            (_, other) => Err(other),
        }
    }

    /// Drops resource and scope groups left without records.
    pub fn prune_empty(&mut self) {
        match self {
            Batch::Logs(rl) => {
                for r in rl.iter_mut() {
                    r.scope_logs.retain(|s| !s.log_records.is_empty());
                }
                rl.retain(|r| !r.scope_logs.is_empty());
            }
            Batch::Traces(rs) => {
                for r in rs.iter_mut() {
                    r.scope_spans.retain(|s| !s.spans.is_empty());
                }
                rs.retain(|r| !r.scope_spans.is_empty());
            }
            Batch::Metrics(rm) => {
                for r in rm.iter_mut() {
                    for s in r.scope_metrics.iter_mut() {
                        s.metrics.retain(|m| data_point_count(m.data.as_ref()) > 0);
                    }
                    r.scope_metrics.retain(|s| !s.metrics.is_empty());
                }
                rm.retain(|r| !r.scope_metrics.is_empty());
            }
        }
    }
}

/// Number of data points of one metric.
fn data_point_count(data: Option<&metric::Data>) -> usize {
    match data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ScopeLogs};

    fn logs(n: usize) -> Batch {
        Batch::Logs(vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); n],
                ..Default::default()
            }],
            ..Default::default()
        }])
    }

    #[test]
    fn counts_and_appends_records() {
        let mut b = logs(2);
        assert_eq!(b.record_count(), 2);
        assert!(b.append(logs(3)).is_ok());
        assert_eq!(b.record_count(), 5);
        assert!(b.append(Batch::Traces(vec![])).is_err());
    }

    /// Guarantees: `encoded_len` is the size of the OTLP request the batch
    /// would be sent as, byte for byte.
    #[test]
    fn encoded_len_is_the_request_size() {
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
        use prost::Message;
        let mut b = logs(3);
        assert!(b.append(logs(200)).is_ok());
        let Batch::Logs(rl) = &b else { panic!("logs") };
        let request = ExportLogsServiceRequest {
            resource_logs: rl.clone(),
        };
        assert_eq!(b.encoded_len(), request.encode_to_vec().len());
    }

    /// Scenario: a metrics batch with a histogram of two points, a sum of
    /// one and a metric without data.
    /// Guarantees: records are counted in data points, as the collector's
    /// `*_metric_points` counters do; pruning drops the empty metric; the
    /// signal and metric pipeline name parse.
    #[test]
    fn metrics_count_data_points() {
        use opentelemetry_proto::tonic::metrics::v1::{
            Histogram, HistogramDataPoint, Metric, NumberDataPoint, ScopeMetrics, Sum,
        };
        let metric = |data| Metric {
            data,
            ..Default::default()
        };
        let mut b = Batch::Metrics(vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    metric(Some(metric::Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint::default(); 2],
                        aggregation_temporality: 2,
                    }))),
                    metric(Some(metric::Data::Sum(Sum {
                        data_points: vec![NumberDataPoint::default()],
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    }))),
                    metric(None),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }]);
        assert_eq!(b.record_count(), 3);
        assert_eq!(b.signal(), Signal::Metrics);
        b.prune_empty();
        let Batch::Metrics(rm) = &b else {
            panic!("metrics")
        };
        assert_eq!(rm[0].scope_metrics[0].metrics.len(), 2);
        assert_eq!(Signal::from_pipeline_type("metrics"), Some(Signal::Metrics));
        assert_eq!(Signal::Metrics.item_noun(), "metric_points");
        assert!(Batch::empty(Signal::Metrics).is_empty());
    }

    #[test]
    fn prune_removes_empty_groups() {
        let mut b = logs(0);
        assert!(b.is_empty());
        b.prune_empty();
        assert_eq!(b, Batch::Logs(vec![]));
    }
}
