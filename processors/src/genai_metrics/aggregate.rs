//! What the connector counts: the GenAI metrics of the OTel semantic
//! conventions and oispd's own, aggregated cumulatively per attribute set,
//! and their OTLP form.
//!
//! | metric | kind, unit | from | attributes |
//! |---|---|---|---|
//! | `gen_ai.client.token.usage` | histogram, `{token}` | `ai.response`, `ai.embedding`: `gen_ai.usage.input_tokens` / `output_tokens` | [`TOKEN_DIMS`] |
//! | `gen_ai.client.operation.duration` | histogram, `s` | `ai.latency_ms` | [`CALL_DIMS`] (`error.type` on failures) |
//! | `gen_ai.client.operation.time_to_first_chunk` | histogram, `s` | `ai.time_to_first_token_ms` (streams) | [`CHUNK_DIMS`] |
//! | `oispd.ai.calls` | counter, `{call}` | every `ai.response` / `ai.embedding` | [`CALL_DIMS`] |
//! | `oispd.ai.cost` | counter, `USD` | `ai.cost.total_usd` | [`COST_DIMS`] |
//! | `oispd.security.findings` | counter, `{finding}` | every `security.finding` | [`FINDING_DIMS`] |
//!
//! Attributes come from the log record and its resource
//! (`process.executable.name`); an `ai.response` without
//! `gen_ai.operation.name` is a `chat` (embeddings are `ai.embedding`). No prompt text and no ids are attributes;
//! values are cut to [`MAX_VALUE_BYTES`]; each metric keeps at most the
//! configured number of attribute sets, and measurements of any further set
//! go to one overflow series (`otel.metric.overflow: true`).

use oispd_semconv::attributes::{gen_ai, oisp, otel, resource, sentinel};
use oispd_semconv::otel::{find_attribute, oispd_scope};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Histogram as OtlpHistogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::collections::HashMap;

/// Longest attribute value kept, in bytes (cut at a character boundary).
pub const MAX_VALUE_BYTES: usize = 256;
/// The attribute of overflow series.
pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";

/// `gen_ai.token.type`.
pub const TOKEN_TYPE: &str = "gen_ai.token.type";

/// Attributes of `gen_ai.client.token.usage`.
pub const TOKEN_DIMS: &[&str] = &[
    gen_ai::OPERATION_NAME,
    gen_ai::PROVIDER_NAME,
    gen_ai::REQUEST_MODEL,
    gen_ai::RESPONSE_MODEL,
    TOKEN_TYPE,
    resource::PROCESS_EXECUTABLE_NAME,
];
/// Attributes of `gen_ai.client.operation.duration` and `oispd.ai.calls`.
pub const CALL_DIMS: &[&str] = &[
    gen_ai::OPERATION_NAME,
    gen_ai::PROVIDER_NAME,
    gen_ai::REQUEST_MODEL,
    gen_ai::RESPONSE_MODEL,
    otel::ERROR_TYPE,
    resource::PROCESS_EXECUTABLE_NAME,
];
/// Attributes of `gen_ai.client.operation.time_to_first_chunk`.
pub const CHUNK_DIMS: &[&str] = &[
    gen_ai::OPERATION_NAME,
    gen_ai::PROVIDER_NAME,
    gen_ai::REQUEST_MODEL,
    gen_ai::RESPONSE_MODEL,
    resource::PROCESS_EXECUTABLE_NAME,
];
/// Attributes of `oispd.ai.cost`.
pub const COST_DIMS: &[&str] = &[
    gen_ai::PROVIDER_NAME,
    gen_ai::REQUEST_MODEL,
    gen_ai::RESPONSE_MODEL,
    resource::PROCESS_EXECUTABLE_NAME,
];
/// Attributes of `oispd.security.findings`.
pub const FINDING_DIMS: &[&str] = &[sentinel::DETECTOR_ID, sentinel::SEVERITY];

/// Bucket bounds of `gen_ai.client.token.usage` (the convention's advice).
pub const TOKEN_BOUNDS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Bucket bounds of the duration histograms in seconds (the convention's advice).
pub const SECONDS_BOUNDS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// The values of one metric's attributes, in its dims' order; an empty
/// string is an absent attribute.
pub type SeriesKey = Vec<String>;

/// An explicit-bucket histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramState {
    /// Counts per bucket: `bounds.len() + 1` of them.
    pub bucket_counts: Vec<u64>,
    /// Measurements.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl HistogramState {
    fn new(bounds: &[f64]) -> HistogramState {
        HistogramState {
            bucket_counts: vec![0; bounds.len() + 1],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Adds `v` to the bucket whose upper bound is the first at or above it.
    fn record(&mut self, bounds: &[f64], v: f64) {
        let i = bounds.partition_point(|b| *b < v);
        if let Some(c) = self.bucket_counts.get_mut(i) {
            *c += 1;
        }
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

/// The series of one metric, with the cardinality cap.
#[derive(Clone, Debug)]
pub struct Family<T> {
    /// The attribute names.
    pub dims: &'static [&'static str],
    /// Series by attribute values.
    pub series: HashMap<SeriesKey, T>,
    /// Everything beyond the cap.
    pub overflow: Option<T>,
    limit: usize,
}

impl<T> Family<T> {
    fn new(dims: &'static [&'static str], limit: usize) -> Family<T> {
        Family {
            dims,
            series: HashMap::new(),
            overflow: None,
            limit,
        }
    }

    /// The series of `key`, created if the cap allows, else the overflow
    /// series; the flag says which.
    fn slot(&mut self, key: SeriesKey, fresh: impl FnOnce() -> T) -> (&mut T, bool) {
        if self.series.contains_key(&key) || self.series.len() < self.limit {
            (self.series.entry(key).or_insert_with(fresh), false)
        } else {
            (self.overflow.get_or_insert_with(fresh), true)
        }
    }

    /// Number of series, overflow included.
    pub fn len(&self) -> usize {
        self.series.len() + usize::from(self.overflow.is_some())
    }

    /// No series yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which series a measurement went to: its attribute values, or the
/// overflow series. What [`super::prom`] labels a sample with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A series of its own.
    Series(SeriesKey),
    /// The overflow series.
    Overflow,
}

/// One measurement the aggregates took, for the Prometheus side.
#[derive(Clone, Debug, PartialEq)]
pub enum Measurement {
    /// Tokens of one type.
    Tokens(Recorded, f64),
    /// Call duration in seconds.
    Duration(Recorded, f64),
    /// Time to first chunk in seconds.
    FirstChunk(Recorded, f64),
    /// One call.
    Call(Recorded),
    /// Cost in USD.
    Cost(Recorded, f64),
    /// One finding.
    Finding(Recorded),
}

/// Every metric of the connector.
#[derive(Clone, Debug)]
pub struct Aggregates {
    /// `gen_ai.client.token.usage`.
    pub tokens: Family<HistogramState>,
    /// `gen_ai.client.operation.duration`.
    pub duration: Family<HistogramState>,
    /// `gen_ai.client.operation.time_to_first_chunk`.
    pub first_chunk: Family<HistogramState>,
    /// `oispd.ai.calls`.
    pub calls: Family<u64>,
    /// `oispd.ai.cost`.
    pub cost: Family<f64>,
    /// `oispd.security.findings`.
    pub findings: Family<u64>,
    start_unix_nano: u64,
}

/// A string, integer or double attribute as text, cut to [`MAX_VALUE_BYTES`].
fn text_of(v: &AnyValue) -> Option<String> {
    let text = match v.value.as_ref()? {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        _ => return None,
    };
    let mut end = text.len().min(MAX_VALUE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_string())
}

/// A non-negative finite number attribute.
fn number_of(attrs: &[KeyValue], key: &str) -> Option<f64> {
    let v = match find_attribute(attrs, key)?.value.as_ref()? {
        any_value::Value::IntValue(i) => *i as f64,
        any_value::Value::DoubleValue(d) => *d,
        _ => return None,
    };
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// Where a record's attributes are looked up: the record, then its resource.
struct Source<'a> {
    record: &'a [KeyValue],
    resource: &'a [KeyValue],
}

impl Source<'_> {
    /// The values of `dims`: `overrides` first, then the record's and the
    /// resource's attributes, then `defaults`.
    fn key(
        &self,
        dims: &[&str],
        overrides: &[(&str, &str)],
        defaults: &[(&str, &str)],
    ) -> SeriesKey {
        let given = |list: &[(&str, &str)], d: &str| {
            list.iter()
                .find(|(k, _)| *k == d)
                .map(|(_, v)| v.to_string())
        };
        dims.iter()
            .map(|d| {
                given(overrides, d)
                    .or_else(|| {
                        find_attribute(self.record, d)
                            .or_else(|| find_attribute(self.resource, d))
                            .and_then(text_of)
                    })
                    .or_else(|| given(defaults, d))
                    .unwrap_or_default()
            })
            .collect()
    }
}

impl Aggregates {
    /// Empty aggregates; cumulative points start at `start_unix_nano`.
    pub fn new(limit: usize, start_unix_nano: u64) -> Aggregates {
        Aggregates {
            tokens: Family::new(TOKEN_DIMS, limit),
            duration: Family::new(CALL_DIMS, limit),
            first_chunk: Family::new(CHUNK_DIMS, limit),
            calls: Family::new(CALL_DIMS, limit),
            cost: Family::new(COST_DIMS, limit),
            findings: Family::new(FINDING_DIMS, limit),
            start_unix_nano,
        }
    }

    /// Counts one log record (an OISP event or any record with the same
    /// attributes); returns what it measured.
    pub fn record(&mut self, resource: &[KeyValue], rec: &LogRecord) -> Vec<Measurement> {
        let src = Source {
            record: &rec.attributes,
            resource,
        };
        let mut out = Vec::new();
        match rec.event_name.as_str() {
            "ai.response" => self.call(&src, gen_ai::operation::CHAT, &mut out),
            "ai.embedding" => self.call(&src, gen_ai::operation::EMBEDDINGS, &mut out),
            "security.finding" => {
                let key = src.key(FINDING_DIMS, &[], &[]);
                let (n, overflow) = self.findings.slot(key.clone(), || 0);
                *n += 1;
                out.push(Measurement::Finding(recorded(key, overflow)));
            }
            _ => {}
        }
        out
    }

    fn call(&mut self, src: &Source<'_>, operation: &str, out: &mut Vec<Measurement>) {
        let attrs = src.record;
        let defaults = [(gen_ai::OPERATION_NAME, operation)];
        for (key_name, token_type) in [
            (gen_ai::USAGE_INPUT_TOKENS, "input"),
            (gen_ai::USAGE_OUTPUT_TOKENS, "output"),
        ] {
            if let Some(n) = number_of(attrs, key_name) {
                let key = src.key(TOKEN_DIMS, &[(TOKEN_TYPE, token_type)], &defaults);
                let (h, overflow) = self
                    .tokens
                    .slot(key.clone(), || HistogramState::new(TOKEN_BOUNDS));
                h.record(TOKEN_BOUNDS, n);
                out.push(Measurement::Tokens(recorded(key, overflow), n));
            }
        }
        let call_key = src.key(CALL_DIMS, &[], &defaults);
        if let Some(ms) = number_of(attrs, oisp::AI_LATENCY_MS) {
            let seconds = ms / 1000.0;
            let (h, overflow) = self
                .duration
                .slot(call_key.clone(), || HistogramState::new(SECONDS_BOUNDS));
            h.record(SECONDS_BOUNDS, seconds);
            out.push(Measurement::Duration(
                recorded(call_key.clone(), overflow),
                seconds,
            ));
        }
        if let Some(ms) = number_of(attrs, oisp::AI_TIME_TO_FIRST_TOKEN_MS) {
            let seconds = ms / 1000.0;
            let key = src.key(CHUNK_DIMS, &[], &defaults);
            let (h, overflow) = self
                .first_chunk
                .slot(key.clone(), || HistogramState::new(SECONDS_BOUNDS));
            h.record(SECONDS_BOUNDS, seconds);
            out.push(Measurement::FirstChunk(recorded(key, overflow), seconds));
        }
        let (n, overflow) = self.calls.slot(call_key.clone(), || 0);
        *n += 1;
        out.push(Measurement::Call(recorded(call_key, overflow)));
        if let Some(usd) = number_of(attrs, oisp::AI_COST_TOTAL_USD) {
            let key = src.key(COST_DIMS, &[], &defaults);
            let (total, overflow) = self.cost.slot(key.clone(), || 0.0);
            *total += usd;
            out.push(Measurement::Cost(recorded(key, overflow), usd));
        }
    }

    /// True when nothing has been counted yet.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.calls.is_empty() && self.findings.is_empty()
    }

    /// The cumulative metrics at `now_unix_nano`, under the resource
    /// `service.name: oispd` and oispd's scope.
    pub fn to_otlp(&self, now_unix_nano: u64) -> ResourceMetrics {
        let t = (self.start_unix_nano, now_unix_nano);
        let mut metrics = Vec::new();
        let mut histogram =
            |f: &Family<HistogramState>, name: &str, unit: &str, desc: &str, bounds: &[f64]| {
                if !f.is_empty() {
                    metrics.push(histogram_metric(f, name, unit, desc, bounds, t));
                }
            };
        histogram(
            &self.tokens,
            "gen_ai.client.token.usage",
            "{token}",
            "Number of input and output tokens used.",
            TOKEN_BOUNDS,
        );
        histogram(
            &self.duration,
            "gen_ai.client.operation.duration",
            "s",
            "GenAI operation duration.",
            SECONDS_BOUNDS,
        );
        histogram(
            &self.first_chunk,
            "gen_ai.client.operation.time_to_first_chunk",
            "s",
            "Time to receive the first chunk of a streamed response.",
            SECONDS_BOUNDS,
        );
        if !self.calls.is_empty() {
            metrics.push(sum_metric(
                &self.calls,
                "oispd.ai.calls",
                "{call}",
                "AI API calls, per agent process, provider and model.",
                |n| number_data_point::Value::AsInt(i64::try_from(*n).unwrap_or(i64::MAX)),
                t,
            ));
        }
        if !self.cost.is_empty() {
            metrics.push(sum_metric(
                &self.cost,
                "oispd.ai.cost",
                "USD",
                "Cost of AI API calls in USD, from the catalogue's prices.",
                |usd| number_data_point::Value::AsDouble(*usd),
                t,
            ));
        }
        if !self.findings.is_empty() {
            metrics.push(sum_metric(
                &self.findings,
                "oispd.security.findings",
                "{finding}",
                "Security findings, per detector and severity.",
                |n| number_data_point::Value::AsInt(i64::try_from(*n).unwrap_or(i64::MAX)),
                t,
            ));
        }
        ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![string_kv(resource::SERVICE_NAME, "oispd")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(oispd_scope()),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }
}

fn recorded(key: SeriesKey, overflow: bool) -> Recorded {
    if overflow {
        Recorded::Overflow
    } else {
        Recorded::Series(key)
    }
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// The attributes of a series (absent ones left out), or the overflow
/// series' single attribute. Sorted by key, so equal sets look equal.
fn series_attributes<T>(f: &Family<T>) -> Vec<(Vec<KeyValue>, &T)> {
    let mut out: Vec<(Vec<KeyValue>, &T)> = f
        .series
        .iter()
        .map(|(key, v)| {
            let mut attrs: Vec<KeyValue> = f
                .dims
                .iter()
                .zip(key)
                .filter(|(_, value)| !value.is_empty())
                .map(|(dim, value)| string_kv(dim, value))
                .collect();
            attrs.sort_by(|a, b| a.key.cmp(&b.key));
            (attrs, v)
        })
        .collect();
    out.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
    if let Some(v) = &f.overflow {
        out.push((
            vec![KeyValue {
                key: OVERFLOW_ATTRIBUTE.to_string(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::BoolValue(true)),
                }),
                ..Default::default()
            }],
            v,
        ));
    }
    out
}

fn histogram_metric(
    f: &Family<HistogramState>,
    name: &str,
    unit: &str,
    description: &str,
    bounds: &[f64],
    (start, now): (u64, u64),
) -> Metric {
    let data_points = series_attributes(f)
        .into_iter()
        .map(|(attributes, h)| HistogramDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: now,
            count: h.count,
            sum: Some(h.sum),
            bucket_counts: h.bucket_counts.clone(),
            explicit_bounds: bounds.to_vec(),
            exemplars: Vec::new(),
            flags: 0,
            min: Some(h.min),
            max: Some(h.max),
        })
        .collect();
    Metric {
        name: name.to_string(),
        description: description.to_string(),
        unit: unit.to_string(),
        metadata: Vec::new(),
        data: Some(metric::Data::Histogram(OtlpHistogram {
            data_points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
    }
}

fn sum_metric<T>(
    f: &Family<T>,
    name: &str,
    unit: &str,
    description: &str,
    value: impl Fn(&T) -> number_data_point::Value,
    (start, now): (u64, u64),
) -> Metric {
    let data_points = series_attributes(f)
        .into_iter()
        .map(|(attributes, v)| NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: now,
            exemplars: Vec::new(),
            flags: 0,
            value: Some(value(v)),
        })
        .collect();
    Metric {
        name: name.to_string(),
        description: description.to_string(),
        unit: unit.to_string(),
        metadata: Vec::new(),
        data: Some(metric::Data::Sum(Sum {
            data_points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
    }
}
