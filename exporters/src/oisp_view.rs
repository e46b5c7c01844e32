//! The OISP view of log records, as the OISP-speaking exporters (kafka with
//! `oisp_json`, webhook, websocket) write it: a record that carries an OISP
//! event becomes that event's exact JSON, any other record a readable
//! generic JSON object (`oispd_semconv::otel::log_record_generic_json`).

use oispd_semconv::otel::{
    find_attribute, log_record_event_json, log_record_event_kvlist, log_record_generic_json,
    KeyValuesJson,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::Value;

/// One record of a batch in its JSON view, with the resource it came from.
pub(crate) struct JsonRecord<'a> {
    /// The record's resource (host, process).
    pub(crate) resource: Option<&'a Resource>,
    /// The OISP event, or the generic view of a non-OISP record.
    pub(crate) json: Value,
    /// The record's time (the OISP event's `ts`), 0 when unknown.
    pub(crate) time_unix_nano: u64,
}

impl JsonRecord<'_> {
    /// The OISP `event_id`, when the record is an OISP event.
    pub(crate) fn event_id(&self) -> Option<&str> {
        self.json.get("event_id").and_then(Value::as_str)
    }

    /// The OISP `event_type`, else the record's `event_name`, else "".
    pub(crate) fn event_type(&self) -> &str {
        self.json
            .get("event_type")
            .or_else(|| self.json.get("event_name"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// The JSON view of one record.
pub(crate) fn record_json(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    record: &LogRecord,
) -> Value {
    log_record_event_json(record)
        .unwrap_or_else(|| log_record_generic_json(resource, scope, record))
}

/// Appends the JSON view of one record to `out`; an OISP event held as a
/// kvlist is written straight from it, without building a [`Value`].
pub(crate) fn write_record_json(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    record: &LogRecord,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    match log_record_event_kvlist(record) {
        Some(kvs) => serde_json::to_writer(out, &KeyValuesJson(kvs)),
        None => serde_json::to_writer(out, &record_json(resource, scope, record)),
    }
}

/// Every record of `logs` in its JSON view, in batch order.
pub(crate) fn json_records(logs: &[ResourceLogs]) -> Vec<JsonRecord<'_>> {
    let mut out = Vec::new();
    for rl in logs {
        let resource = rl.resource.as_ref();
        for sl in &rl.scope_logs {
            for record in &sl.log_records {
                out.push(JsonRecord {
                    resource,
                    json: record_json(resource, sl.scope.as_ref(), record),
                    time_unix_nano: record.time_unix_nano,
                });
            }
        }
    }
    out
}

/// The ordering key of a producer: `host.name` and `process.pid` from the
/// resource (`host/pid`), else from the OISP event's `host.hostname` and
/// `process.pid`; `None` when neither is known.
pub(crate) fn producer_key(resource: Option<&Resource>, event: Option<&Value>) -> Option<String> {
    let attrs = resource.map(|r| r.attributes.as_slice()).unwrap_or(&[]);
    let host = find_attribute(attrs, "host.name")
        .and_then(any_to_string)
        .or_else(|| {
            event
                .and_then(|e| e.pointer("/host/hostname"))
                .and_then(json_to_string)
        });
    let pid = find_attribute(attrs, "process.pid")
        .and_then(any_to_string)
        .or_else(|| {
            event
                .and_then(|e| e.pointer("/process/pid"))
                .and_then(json_to_string)
        });
    match (host, pid) {
        (Some(h), Some(p)) => Some(format!("{h}/{p}")),
        (Some(h), None) => Some(h),
        (None, Some(p)) => Some(format!("/{p}")),
        (None, None) => None,
    }
}

fn any_to_string(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        any_value::Value::StringValue(s) if !s.is_empty() => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

fn json_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::KeyValue;
    use serde_json::json;

    fn attr(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    /// Scenario: keys come from the resource first, the event second.
    /// Guarantees: one agent process maps to one stable key.
    #[test]
    fn producer_key_prefers_resource_then_event() {
        let r = Resource {
            attributes: vec![
                attr("host.name", any_value::Value::StringValue("h1".into())),
                attr("process.pid", any_value::Value::IntValue(42)),
            ],
            ..Default::default()
        };
        assert_eq!(producer_key(Some(&r), None).as_deref(), Some("h1/42"));
        let e = json!({"host": {"hostname": "h2"}, "process": {"pid": 7}});
        assert_eq!(producer_key(None, Some(&e)).as_deref(), Some("h2/7"));
        assert_eq!(producer_key(None, None), None);
        let only_pid = json!({"process": {"pid": 9}});
        assert_eq!(producer_key(None, Some(&only_pid)).as_deref(), Some("/9"));
    }

    /// Scenario: a plain log record (not OISP) goes through the JSON view.
    /// Guarantees: it gets the generic view, not dropped.
    #[test]
    fn non_oisp_record_gets_generic_view() {
        let logs = vec![ResourceLogs {
            scope_logs: vec![opentelemetry_proto::tonic::logs::v1::ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("hello".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }];
        let recs = json_records(&logs);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].json["body"], "hello");
        assert_eq!(recs[0].event_id(), None);
        assert_eq!(recs[0].event_type(), "");
    }
}
