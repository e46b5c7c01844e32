//! Helpers for the tests of the OTTL-based components: build contexts with a
//! fresh telemetry, YAML configs, and small log and span batches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oispd_component::{Batch, BuildContext, ComponentId, Telemetry};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use std::sync::{Arc, Mutex};

/// A build context for component `id` and the telemetry it reports into.
pub fn ctx(id: &str) -> (BuildContext, Arc<Telemetry>) {
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let ctx = BuildContext {
        id: ComponentId::parse(id).unwrap(),
        telemetry: telemetry.clone(),
        admin_routes: Arc::new(Mutex::new(Vec::new())),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    (ctx, telemetry)
}

/// Parses a YAML config body.
pub fn yaml(s: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(s).unwrap()
}

/// A string value.
pub fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    }
}

/// A key-value pair with a string value.
pub fn attr(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(s(v)),
        ..Default::default()
    }
}

/// A log record with a string body, a severity and string attributes.
pub fn log(body: &str, severity: i32, attrs: &[(&str, &str)]) -> LogRecord {
    LogRecord {
        body: Some(s(body)),
        severity_number: severity,
        attributes: attrs.iter().map(|(k, v)| attr(k, v)).collect(),
        ..Default::default()
    }
}

/// A span with a name and string attributes.
pub fn span(name: &str, attrs: &[(&str, &str)]) -> Span {
    Span {
        name: name.into(),
        attributes: attrs.iter().map(|(k, v)| attr(k, v)).collect(),
        ..Default::default()
    }
}

/// Scopes of a resource: `(scope name, records)`.
pub type Scopes<'a> = Vec<(&'a str, Vec<LogRecord>)>;

/// A logs batch: one resource per `(host.name, scopes)`.
pub fn logs(resources: Vec<(&str, Scopes<'_>)>) -> Batch {
    Batch::Logs(
        resources
            .into_iter()
            .map(|(host, scopes)| ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![attr("host.name", host)],
                    ..Default::default()
                }),
                scope_logs: scopes
                    .into_iter()
                    .map(|(name, records)| ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name: name.into(),
                            ..Default::default()
                        }),
                        log_records: records,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    )
}

/// A traces batch with one resource and scope.
pub fn traces(host: &str, spans: Vec<Span>) -> Batch {
    Batch::Traces(vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![attr("host.name", host)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }])
}

/// The string bodies of every log record (or names of every span), in order.
pub fn names(batch: &Batch) -> Vec<String> {
    match batch {
        Batch::Logs(rls) => rls
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .map(|l| match l.body.as_ref().and_then(|b| b.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => format!("{other:?}"),
            })
            .collect(),
        Batch::Traces(rss) => rss
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect(),
        Batch::Metrics(rms) => rms
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| m.name.clone())
            .collect(),
    }
}

/// The value of a counter with label `label="id"` in the Prometheus text.
pub fn counter(telemetry: &Telemetry, name: &str, label: &str, id: &str) -> u64 {
    let text = telemetry.render();
    let needle = format!("{name}{{{label}=\"{id}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}
