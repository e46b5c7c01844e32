//! The `debug` exporter: prints batches readably to stderr, one write per
//! batch so lines of concurrent batches never interleave.

use super::config::{DebugConfig, Verbosity};
use crate::oisp_view::record_json;
use async_trait::async_trait;
use oispd_component::{Batch, ExportError, Exporter};
use oispd_semconv::format_ts_nanos;
use oispd_semconv::otel::{any_value_to_json, key_values_to_json};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, ResourceMetrics};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use std::fmt::Write as _;
use std::io::Write;
use tokio::time::Instant;

/// Where the text goes: stderr, or a buffer in tests.
pub type Output = Box<dyn Write + Send>;

/// Prints batches.
pub struct DebugExporter {
    config: DebugConfig,
    out: Output,
    window: Option<Instant>,
    seen_in_window: u64,
}

impl DebugExporter {
    /// An exporter printing to stderr.
    pub fn new(config: DebugConfig) -> DebugExporter {
        DebugExporter::with_output(config, Box::new(std::io::stderr()))
    }

    /// An exporter printing to `out`.
    pub fn with_output(config: DebugConfig, out: Output) -> DebugExporter {
        DebugExporter {
            config,
            out,
            window: None,
            seen_in_window: 0,
        }
    }

    /// The collector's sampling: the first `sampling_initial` batches of
    /// each second, then every `sampling_thereafter`-th.
    fn sampled(&mut self) -> bool {
        let now = Instant::now();
        match self.window {
            Some(start) if now.duration_since(start).as_secs() < 1 => self.seen_in_window += 1,
            _ => {
                self.window = Some(now);
                self.seen_in_window = 1;
            }
        }
        let n = self.seen_in_window;
        let initial = self.config.sampling_initial;
        n <= initial || (n - initial).is_multiple_of(self.config.sampling_thereafter.max(1))
    }
}

/// The text printed for `batch` at `verbosity`.
pub fn render(batch: &Batch, verbosity: Verbosity) -> String {
    let mut s = String::new();
    match batch {
        Batch::Logs(rl) => {
            let _ = writeln!(
                s,
                "Logs: resource logs={} log records={}",
                rl.len(),
                batch.record_count()
            );
            match verbosity {
                Verbosity::Basic => {}
                Verbosity::Normal => logs_normal(&mut s, rl),
                Verbosity::Detailed => logs_detailed(&mut s, rl),
            }
        }
        Batch::Traces(rs) => {
            let _ = writeln!(
                s,
                "Traces: resource spans={} spans={}",
                rs.len(),
                batch.record_count()
            );
            match verbosity {
                Verbosity::Basic => {}
                Verbosity::Normal => spans_normal(&mut s, rs),
                Verbosity::Detailed => spans_detailed(&mut s, rs),
            }
        }
        Batch::Metrics(rm) => {
            let _ = writeln!(
                s,
                "Metrics: resource metrics={} data points={}",
                rm.len(),
                batch.record_count()
            );
            if verbosity != Verbosity::Basic {
                metric_points(&mut s, rm);
            }
        }
    }
    s
}

/// One line per data point: name, attributes, and the value, or a
/// histogram's count, sum and bucket counts.
fn metric_points(s: &mut String, rm: &[ResourceMetrics]) {
    let number = |v: Option<&number_data_point::Value>| match v {
        Some(number_data_point::Value::AsInt(i)) => i.to_string(),
        Some(number_data_point::Value::AsDouble(d)) => d.to_string(),
        None => "-".into(),
    };
    for m in rm
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|sm| &sm.metrics)
    {
        match &m.data {
            Some(metric::Data::Sum(sum)) => {
                for p in &sum.data_points {
                    let _ = write!(s, "{} sum", m.name);
                    attrs_inline(s, &p.attributes);
                    let _ = writeln!(s, " value={}", number(p.value.as_ref()));
                }
            }
            Some(metric::Data::Gauge(g)) => {
                for p in &g.data_points {
                    let _ = write!(s, "{} gauge", m.name);
                    attrs_inline(s, &p.attributes);
                    let _ = writeln!(s, " value={}", number(p.value.as_ref()));
                }
            }
            Some(metric::Data::Histogram(h)) => {
                for p in &h.data_points {
                    let _ = write!(s, "{} histogram", m.name);
                    attrs_inline(s, &p.attributes);
                    let _ = writeln!(
                        s,
                        " count={} sum={} buckets={:?}",
                        p.count,
                        p.sum.map_or("-".into(), |v| v.to_string()),
                        p.bucket_counts
                    );
                }
            }
            Some(_) | None => {
                let _ = writeln!(s, "{} (not shown)", m.name);
            }
        }
    }
}

fn time(nanos: u64) -> String {
    if nanos == 0 {
        return "-".into();
    }
    format_ts_nanos(nanos).unwrap_or_else(|| nanos.to_string())
}

/// A value on one line: strings bare, everything else as compact JSON.
fn value_text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.escape_debug().to_string(),
        Some(_) => v
            .map(|v| any_value_to_json(v).to_string())
            .unwrap_or_default(),
    }
}

fn attrs_inline(s: &mut String, attrs: &[KeyValue]) {
    for kv in attrs {
        let _ = write!(s, " {}={}", kv.key, value_text(kv.value.as_ref()));
    }
}

fn logs_normal(s: &mut String, rl: &[ResourceLogs]) {
    for r in rl {
        for sl in &r.scope_logs {
            for rec in &sl.log_records {
                let name = if rec.event_name.is_empty() {
                    rec.severity_text.as_str()
                } else {
                    rec.event_name.as_str()
                };
                let _ = write!(s, "{} {}", time(rec.time_unix_nano), name);
                attrs_inline(s, &rec.attributes);
                // An OISP event's body repeats its attributes; others show it.
                if rec.event_name.is_empty() {
                    let _ = write!(s, " body={}", value_text(rec.body.as_ref()));
                }
                s.push('\n');
            }
        }
    }
}

fn section(s: &mut String, title: &str, attrs: &[KeyValue]) {
    if attrs.is_empty() {
        return;
    }
    let _ = writeln!(s, "  {title}:");
    for kv in attrs {
        let _ = writeln!(s, "    {}: {}", kv.key, value_text(kv.value.as_ref()));
    }
}

fn logs_detailed(s: &mut String, rl: &[ResourceLogs]) {
    for (ri, r) in rl.iter().enumerate() {
        let _ = writeln!(s, "ResourceLog #{ri}");
        if let Some(res) = &r.resource {
            section(s, "Resource attributes", &res.attributes);
        }
        for (si, sl) in r.scope_logs.iter().enumerate() {
            if let Some(scope) = &sl.scope {
                let _ = writeln!(s, "ScopeLogs #{si} {} {}", scope.name, scope.version);
            }
            for (li, rec) in sl.log_records.iter().enumerate() {
                let _ = writeln!(s, "LogRecord #{li}");
                let _ = writeln!(s, "  Timestamp: {}", time(rec.time_unix_nano));
                let _ = writeln!(
                    s,
                    "  ObservedTimestamp: {}",
                    time(rec.observed_time_unix_nano)
                );
                let _ = writeln!(s, "  EventName: {}", rec.event_name);
                let _ = writeln!(
                    s,
                    "  Severity: {} ({})",
                    rec.severity_text, rec.severity_number
                );
                if !rec.trace_id.is_empty() {
                    let _ = writeln!(s, "  TraceId: {}", hex(&rec.trace_id));
                    let _ = writeln!(s, "  SpanId: {}", hex(&rec.span_id));
                }
                section(s, "Attributes", &rec.attributes);
                let body = record_json(r.resource.as_ref(), sl.scope.as_ref(), rec);
                let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
                let _ = writeln!(s, "  Body:");
                for line in pretty.lines() {
                    let _ = writeln!(s, "    {line}");
                }
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut acc, b| {
        let _ = write!(acc, "{b:02x}");
        acc
    })
}

fn duration_ms(start: u64, end: u64) -> f64 {
    end.saturating_sub(start) as f64 / 1e6
}

fn spans_normal(s: &mut String, rs: &[ResourceSpans]) {
    for r in rs {
        for ss in &r.scope_spans {
            for span in &ss.spans {
                let _ = write!(
                    s,
                    "{} {} {:.1}ms trace={}",
                    time(span.start_time_unix_nano),
                    span.name,
                    duration_ms(span.start_time_unix_nano, span.end_time_unix_nano),
                    hex(&span.trace_id)
                );
                attrs_inline(s, &span.attributes);
                s.push('\n');
            }
        }
    }
}

fn spans_detailed(s: &mut String, rs: &[ResourceSpans]) {
    for (ri, r) in rs.iter().enumerate() {
        let _ = writeln!(s, "ResourceSpans #{ri}");
        if let Some(res) = &r.resource {
            section(s, "Resource attributes", &res.attributes);
        }
        for ss in &r.scope_spans {
            for (i, span) in ss.spans.iter().enumerate() {
                let _ = writeln!(s, "Span #{i}");
                let _ = writeln!(s, "  Name: {}", span.name);
                let _ = writeln!(s, "  Kind: {}", span.kind);
                let _ = writeln!(s, "  TraceId: {}", hex(&span.trace_id));
                let _ = writeln!(s, "  SpanId: {}", hex(&span.span_id));
                let _ = writeln!(s, "  ParentSpanId: {}", hex(&span.parent_span_id));
                let _ = writeln!(s, "  Start: {}", time(span.start_time_unix_nano));
                let _ = writeln!(s, "  End: {}", time(span.end_time_unix_nano));
                if let Some(st) = &span.status {
                    let _ = writeln!(s, "  Status: {} {}", st.code, st.message);
                }
                section(s, "Attributes", &span.attributes);
                for ev in &span.events {
                    let attrs = serde_json::Value::Object(key_values_to_json(&ev.attributes));
                    let _ = writeln!(
                        s,
                        "  Event: {} {} {attrs}",
                        time(ev.time_unix_nano),
                        ev.name
                    );
                }
            }
        }
    }
}

#[async_trait]
impl Exporter for DebugExporter {
    async fn export(&mut self, batch: Batch) -> Result<(), ExportError> {
        self.export_ref(&batch).await
    }

    async fn export_ref(&mut self, batch: &Batch) -> Result<(), ExportError> {
        if !self.sampled() {
            return Ok(());
        }
        let text = render(batch, self.config.verbosity);
        // A closed stderr must not stall the pipeline; the batch counts as
        // handled either way.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::helper::testing::{logs, metrics, spans};
    use crate::testing::{oisp_batch, spec_examples};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Scenario: an OISP ai.request event at each verbosity.
    /// Guarantees: basic prints counts; normal one line per record with the
    /// event name, time and attributes; detailed the full OISP body.
    #[test]
    fn verbosity_levels() {
        let examples = spec_examples();
        let request = examples
            .iter()
            .find(|e| e["event_type"] == "ai.request")
            .unwrap();
        let batch = oisp_batch(std::slice::from_ref(request));
        let basic = render(&batch, Verbosity::Basic);
        assert_eq!(basic, "Logs: resource logs=1 log records=1\n");
        let normal = render(&batch, Verbosity::Normal);
        let lines: Vec<&str> = normal.lines().collect();
        assert_eq!(lines.len(), 2, "{normal}");
        assert!(lines[1].contains(" ai.request "), "{normal}");
        assert!(lines[1].contains(" ai.provider="), "{normal}");
        assert!(lines[1].starts_with(request["ts"].as_str().unwrap().get(..10).unwrap()));
        let detailed = render(&batch, Verbosity::Detailed);
        let event_id = request["event_id"].as_str().unwrap();
        assert!(
            detailed.contains(&format!("\"event_id\": \"{event_id}\"")),
            "{detailed}"
        );
        assert!(detailed.contains("EventName: ai.request"));
    }

    /// Scenario: spans and plain log records at normal verbosity.
    /// Guarantees: one line each, bodies of plain records shown.
    #[test]
    fn spans_and_plain_records() {
        let s = render(&spans(2), Verbosity::Normal);
        assert_eq!(s.lines().count(), 3);
        let l = render(&logs(1), Verbosity::Normal);
        assert!(l.lines().nth(1).unwrap().ends_with(" body="), "{l}");
    }

    /// Scenario: a metrics batch of three gauges at basic and normal verbosity.
    /// Guarantees: the count line, then one line per data point with its value.
    #[test]
    fn metric_points() {
        let batch = metrics(3);
        assert_eq!(
            render(&batch, Verbosity::Basic),
            "Metrics: resource metrics=1 data points=3\n"
        );
        let normal = render(&batch, Verbosity::Normal);
        let lines: Vec<&str> = normal.lines().collect();
        assert_eq!(
            lines[1..],
            ["g0 gauge value=0", "g1 gauge value=1", "g2 gauge value=2"]
        );
    }

    /// Scenario: 10 batches within one second, sampling 2 then every 3rd.
    /// Guarantees: batches 1, 2, 5 and 8 are printed.
    #[tokio::test(start_paused = true)]
    async fn samples_like_the_collector() {
        let buf = Buf::default();
        let config = DebugConfig {
            sampling_initial: 2,
            sampling_thereafter: 3,
            ..DebugConfig::default()
        };
        let mut e = DebugExporter::with_output(config, Box::new(buf.clone()));
        for _ in 0..10 {
            e.export(logs(1)).await.unwrap();
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 4);
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        e.export(logs(1)).await.unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 5);
    }
}
