//! The connector's metrics in oispd's Prometheus registry, so that the
//! admin server's `/metrics` serves them next to the collector's own
//! (`prometheus` crate: families, buckets and text exposition).
//!
//! Names follow the OpenTelemetry-to-Prometheus convention: dots become
//! underscores, the unit becomes a suffix (`_seconds`, `_usd`; `{token}`
//! style annotations add none) and counters end in `_total`:
//! `gen_ai_client_token_usage`, `gen_ai_client_operation_duration_seconds`,
//! `gen_ai_client_operation_time_to_first_chunk_seconds`,
//! `oispd_ai_calls_total`, `oispd_ai_cost_usd_total`,
//! `oispd_security_findings_total`. Labels are the attribute names with
//! dots as underscores, plus `otel_metric_overflow`, `"true"` on the
//! overflow series (whose other labels are empty) and empty elsewhere.

use super::aggregate::{
    Measurement, Recorded, CALL_DIMS, CHUNK_DIMS, COST_DIMS, FINDING_DIMS, SECONDS_BOUNDS,
    TOKEN_BOUNDS, TOKEN_DIMS,
};
use prometheus::{CounterVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The overflow label.
const OVERFLOW_LABEL: &str = "otel_metric_overflow";

/// The families, registered once per oispd.
pub struct PromMetrics {
    tokens: HistogramVec,
    duration: HistogramVec,
    first_chunk: HistogramVec,
    calls: IntCounterVec,
    cost: CounterVec,
    findings: IntCounterVec,
}

fn label_names(dims: &[&str]) -> Vec<String> {
    dims.iter()
        .map(|d| d.replace('.', "_"))
        .chain(std::iter::once(OVERFLOW_LABEL.to_string()))
        .collect()
}

fn label_values(dims: &[&str], recorded: &Recorded) -> Vec<String> {
    match recorded {
        Recorded::Series(key) => key
            .iter()
            .cloned()
            .chain(std::iter::once(String::new()))
            .collect(),
        Recorded::Overflow => std::iter::repeat_n(String::new(), dims.len())
            .chain(std::iter::once("true".to_string()))
            .collect(),
    }
}

fn refs(values: &[String]) -> Vec<&str> {
    values.iter().map(String::as_str).collect()
}

impl PromMetrics {
    /// Registers the families in `registry`; fails when they already are
    /// (a second connector with `prometheus: true`).
    pub fn register(registry: &Registry) -> Result<PromMetrics, prometheus::Error> {
        let histogram = |name: &str, help: &str, dims: &[&str], bounds: &[f64]| {
            let names = label_names(dims);
            let v = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(bounds.to_vec()),
                &refs(&names),
            )?;
            registry.register(Box::new(v.clone()))?;
            Ok::<_, prometheus::Error>(v)
        };
        let counter = |name: &str, help: &str, dims: &[&str]| {
            let names = label_names(dims);
            let v = IntCounterVec::new(Opts::new(name, help), &refs(&names))?;
            registry.register(Box::new(v.clone()))?;
            Ok::<_, prometheus::Error>(v)
        };
        let cost_names = label_names(COST_DIMS);
        let cost = CounterVec::new(
            Opts::new(
                "oispd_ai_cost_usd_total",
                "Cost of AI API calls in USD, from the catalogue's prices.",
            ),
            &refs(&cost_names),
        )?;
        registry.register(Box::new(cost.clone()))?;
        Ok(PromMetrics {
            tokens: histogram(
                "gen_ai_client_token_usage",
                "Number of input and output tokens used.",
                TOKEN_DIMS,
                TOKEN_BOUNDS,
            )?,
            duration: histogram(
                "gen_ai_client_operation_duration_seconds",
                "GenAI operation duration.",
                CALL_DIMS,
                SECONDS_BOUNDS,
            )?,
            first_chunk: histogram(
                "gen_ai_client_operation_time_to_first_chunk_seconds",
                "Time to receive the first chunk of a streamed response.",
                CHUNK_DIMS,
                SECONDS_BOUNDS,
            )?,
            calls: counter(
                "oispd_ai_calls_total",
                "AI API calls, per agent process, provider and model.",
                CALL_DIMS,
            )?,
            cost,
            findings: counter(
                "oispd_security_findings_total",
                "Security findings, per detector and severity.",
                FINDING_DIMS,
            )?,
        })
    }

    /// Adds what the aggregates measured.
    pub fn observe(&self, measurements: &[Measurement]) {
        for m in measurements {
            match m {
                Measurement::Tokens(r, n) => {
                    let values = label_values(TOKEN_DIMS, r);
                    self.tokens.with_label_values(&refs(&values)).observe(*n);
                }
                Measurement::Duration(r, s) => {
                    let values = label_values(CALL_DIMS, r);
                    self.duration.with_label_values(&refs(&values)).observe(*s);
                }
                Measurement::FirstChunk(r, s) => {
                    let values = label_values(CHUNK_DIMS, r);
                    self.first_chunk
                        .with_label_values(&refs(&values))
                        .observe(*s);
                }
                Measurement::Call(r) => {
                    let values = label_values(CALL_DIMS, r);
                    self.calls.with_label_values(&refs(&values)).inc();
                }
                Measurement::Cost(r, usd) => {
                    let values = label_values(COST_DIMS, r);
                    self.cost.with_label_values(&refs(&values)).inc_by(*usd);
                }
                Measurement::Finding(r) => {
                    let values = label_values(FINDING_DIMS, r);
                    self.findings.with_label_values(&refs(&values)).inc();
                }
            }
        }
    }
}
