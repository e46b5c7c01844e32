//! The lossless mapping between OISP events and OpenTelemetry records
//! (`opentelemetry_proto::tonic` types).
//!
//! An OISP event becomes a log record whose
//! - `event_name` is the event type and `time_unix_nano` /
//!   `observed_time_unix_nano` the event's `ts`;
//! - `body` is the whole event as a structured kvlist (key order kept), so
//!   [`log_record_event_json`] gives back the identical OISP JSON;
//! - `attributes` are the flattened semantic attributes of both OISP
//!   (`ai.*`, `agent.*`) and the OTel GenAI conventions (`gen_ai.*`), see
//!   [`event_attributes`];
//! - `severity` is INFO, WARN for a failed AI call, and the finding's
//!   severity for `security.finding`;
//! - `trace_id` / `span_id` come from the event's `trace_context`.
//!
//! Host, process, container and Kubernetes context also go to the resource
//! ([`event_resource`]); [`events_to_resource_logs`] groups events by
//! identical resource under one scope `oispd`. A request/response pair also
//! yields a GenAI CLIENT span ([`span_from_exchange`]).

mod anyvalue;
mod flatten;
mod span;

pub use anyvalue::{any_value_to_json, json_to_any_value, key_values_to_json};
pub use flatten::event_attributes;
pub use span::span_from_exchange;

use crate::attributes::{otel_host_arch, resource as res};
use crate::event::{format_ts_nanos, EventData, OispEvent};
use flatten::Attrs;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// OTel severity number INFO.
pub const SEVERITY_INFO: i32 = 9;
/// OTel severity number WARN.
pub const SEVERITY_WARN: i32 = 13;

/// The instrumentation scope of every record oispd creates: `oispd` at this
/// crate's version.
pub fn oispd_scope() -> InstrumentationScope {
    InstrumentationScope {
        name: crate::COLLECTOR_NAME.to_string(),
        version: crate::VERSION.to_string(),
        ..Default::default()
    }
}

/// The OTel log record of an OISP event (see the module doc).
pub fn event_to_log_record(event: &OispEvent) -> LogRecord {
    let ts = event.ts_unix_nanos().unwrap_or(0);
    let (severity_number, severity_text) = severity(event);
    let (trace_id, span_id, flags) = trace_fields(event);
    LogRecord {
        time_unix_nano: ts,
        observed_time_unix_nano: ts,
        severity_number,
        severity_text: severity_text.to_string(),
        body: Some(json_to_any_value(&event.to_value())),
        attributes: event_attributes(event),
        dropped_attributes_count: 0,
        flags,
        trace_id,
        span_id,
        event_name: event.event_type.clone(),
    }
}

fn severity(event: &OispEvent) -> (i32, &'static str) {
    match &event.data {
        Some(EventData::SecurityFinding(f)) => (
            f.severity.otel_severity_number(),
            f.severity.otel_severity_text(),
        ),
        Some(EventData::AiResponse(r)) if r.is_error() => (SEVERITY_WARN, "WARN"),
        _ => (SEVERITY_INFO, "INFO"),
    }
}

fn trace_fields(event: &OispEvent) -> (Vec<u8>, Vec<u8>, u32) {
    let Some(tc) = &event.trace_context else {
        return (Vec::new(), Vec::new(), 0);
    };
    let trace_id = tc
        .trace_id
        .as_deref()
        .and_then(|h| decode_hex_id(h, 16))
        .unwrap_or_default();
    let span_id = tc
        .span_id
        .as_deref()
        .and_then(|h| decode_hex_id(h, 8))
        .unwrap_or_default();
    (trace_id, span_id, u32::from(tc.trace_flags.unwrap_or(0)))
}

/// Decodes a hex id of exactly `len` bytes that is not all zero.
pub(crate) fn decode_hex_id(hex: &str, len: usize) -> Option<Vec<u8>> {
    if hex.len() != len * 2 || !hex.is_ascii() {
        return None;
    }
    let bytes = (0..len)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    bytes.iter().any(|b| *b != 0).then_some(bytes)
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The OTel resource of an event: host (`host.name`, `host.id`,
/// `host.arch`, `os.*`, `cloud.*`), container (`container.*`), Kubernetes
/// (`k8s.*`), and process (`process.pid`, `process.parent_pid`,
/// `process.executable.path`, `process.executable.name`,
/// `process.command_line`, `process.owner`, `process.real_user.id`,
/// `service.name` = the process name).
pub fn event_resource(event: &OispEvent) -> Resource {
    let mut a = Attrs::default();
    let mut container_id = None;
    if let Some(h) = &event.host {
        a.str(res::HOST_NAME, h.hostname.as_deref());
        a.str(res::HOST_ID, h.device_id.as_deref());
        a.str(res::HOST_ARCH, h.arch.as_deref().map(otel_host_arch));
        a.str(res::OS_TYPE, h.os.as_deref());
        a.str(res::OS_DESCRIPTION, h.os_version.as_deref());
        a.str(res::OS_VERSION, h.kernel_version.as_deref());
        if let Some(c) = &h.cloud {
            a.str(res::CLOUD_PROVIDER, c.provider.as_deref());
            a.str(res::CLOUD_REGION, c.region.as_deref());
        }
        if let Some(c) = &h.container {
            container_id = c.id.as_deref();
            a.str(res::CONTAINER_NAME, c.name.as_deref());
            a.str(res::CONTAINER_IMAGE_NAME, c.image.as_deref());
            a.str(res::CONTAINER_RUNTIME, c.runtime.as_deref());
        }
        if let Some(k) = &h.k8s {
            a.str(res::K8S_CLUSTER_NAME, k.cluster_name.as_deref());
            a.str(res::K8S_NAMESPACE_NAME, k.namespace.as_deref());
            a.str(res::K8S_POD_NAME, k.pod_name.as_deref());
            a.str(res::K8S_POD_UID, k.pod_uid.as_deref());
            a.str(res::K8S_NODE_NAME, k.node_name.as_deref());
            a.str(res::K8S_DEPLOYMENT_NAME, k.deployment.as_deref());
        }
    }
    if let Some(p) = &event.process {
        container_id = container_id.or(p.container_id.as_deref());
        a.int(res::PROCESS_PID, p.pid);
        a.int(res::PROCESS_PARENT_PID, p.ppid);
        a.str(res::PROCESS_EXECUTABLE_PATH, p.exe.as_deref());
        a.str(res::PROCESS_EXECUTABLE_NAME, p.name.as_deref());
        a.str(res::PROCESS_COMMAND_LINE, p.cmdline.as_deref());
        a.str(res::SERVICE_NAME, p.name.as_deref());
    }
    a.str(res::CONTAINER_ID, container_id);
    if let Some(actor) = &event.actor {
        a.str(res::PROCESS_OWNER, actor.user.as_deref());
        a.int(res::PROCESS_USER_ID, actor.uid);
    }
    Resource {
        attributes: a.0,
        ..Default::default()
    }
}

/// Turns events into OTLP resource logs: one `ResourceLogs` per distinct
/// resource (first-seen order), each with one `ScopeLogs` of scope `oispd`
/// holding that resource's records in input order.
pub fn events_to_resource_logs(events: Vec<OispEvent>) -> Vec<ResourceLogs> {
    let mut out: Vec<ResourceLogs> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for event in &events {
        let resource = event_resource(event);
        let key = format!("{:?}", resource.attributes);
        let i = *index.entry(key).or_insert_with(|| {
            out.push(ResourceLogs {
                resource: Some(resource),
                scope_logs: vec![ScopeLogs {
                    scope: Some(oispd_scope()),
                    log_records: Vec::new(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            });
            out.len() - 1
        });
        if let Some(scope) = out[i].scope_logs.first_mut() {
            scope.log_records.push(event_to_log_record(event));
        }
    }
    out
}

/// The OISP JSON of a record that carries an OISP event, `None` otherwise.
///
/// A record carries an event when its body is a kvlist with the keys
/// `oisp_version` and `event_type` (what [`event_to_log_record`] writes),
/// or a string holding such a JSON object (what some producers send). The
/// check looks at the body's keys only; the conversion happens only for
/// records that pass it.
pub fn log_record_event_json(record: &LogRecord) -> Option<Value> {
    match record.body.as_ref()?.value.as_ref()? {
        Av::KvlistValue(kv) => {
            let has = |k: &str| kv.values.iter().any(|e| e.key == k);
            if has("oisp_version") && has("event_type") {
                Some(Value::Object(key_values_to_json(&kv.values)))
            } else {
                None
            }
        }
        Av::StringValue(s) => {
            let t = s.trim_start();
            if !(t.starts_with('{') && t.contains("\"oisp_version\"")) {
                return None;
            }
            match serde_json::from_str::<Value>(t) {
                Ok(v @ Value::Object(_)) if v.get("event_type").is_some_and(Value::is_string) => {
                    Some(v)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The OISP event a record carries, `None` when it carries none or the
/// event does not parse.
pub fn log_record_to_event(record: &LogRecord) -> Option<OispEvent> {
    OispEvent::from_value(log_record_event_json(record)?).ok()
}

/// A readable JSON view of any log record, for records that are not OISP
/// events: `time` and `observed_time` (RFC 3339), `severity_number`,
/// `severity_text`, `event_name`, `body`, `attributes`, `resource`,
/// `scope` (`name`, `version`, `attributes`), `trace_id`, `span_id`,
/// `flags`, `dropped_attributes_count`. Empty fields are left out.
pub fn log_record_generic_json(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    record: &LogRecord,
) -> Value {
    let mut m = Map::new();
    let time = |n: u64| (n != 0).then(|| format_ts_nanos(n)).flatten();
    if let Some(t) = time(record.time_unix_nano) {
        m.insert("time".into(), Value::String(t));
    }
    if let Some(t) = time(record.observed_time_unix_nano) {
        m.insert("observed_time".into(), Value::String(t));
    }
    if record.severity_number != 0 {
        m.insert("severity_number".into(), record.severity_number.into());
    }
    if !record.severity_text.is_empty() {
        m.insert("severity_text".into(), record.severity_text.clone().into());
    }
    if !record.event_name.is_empty() {
        m.insert("event_name".into(), record.event_name.clone().into());
    }
    if let Some(body) = &record.body {
        m.insert("body".into(), any_value_to_json(body));
    }
    if !record.attributes.is_empty() {
        m.insert(
            "attributes".into(),
            Value::Object(key_values_to_json(&record.attributes)),
        );
    }
    if let Some(r) = resource.filter(|r| !r.attributes.is_empty()) {
        m.insert(
            "resource".into(),
            Value::Object(key_values_to_json(&r.attributes)),
        );
    }
    if let Some(s) = scope.filter(|s| !s.name.is_empty() || !s.attributes.is_empty()) {
        let mut sm = Map::new();
        sm.insert("name".into(), s.name.clone().into());
        if !s.version.is_empty() {
            sm.insert("version".into(), s.version.clone().into());
        }
        if !s.attributes.is_empty() {
            sm.insert(
                "attributes".into(),
                Value::Object(key_values_to_json(&s.attributes)),
            );
        }
        m.insert("scope".into(), Value::Object(sm));
    }
    if !record.trace_id.is_empty() {
        m.insert("trace_id".into(), encode_hex(&record.trace_id).into());
    }
    if !record.span_id.is_empty() {
        m.insert("span_id".into(), encode_hex(&record.span_id).into());
    }
    if record.flags != 0 {
        m.insert("flags".into(), record.flags.into());
    }
    if record.dropped_attributes_count != 0 {
        m.insert(
            "dropped_attributes_count".into(),
            record.dropped_attributes_count.into(),
        );
    }
    Value::Object(m)
}

/// The value of attribute `key` in `attrs`, if present.
pub fn find_attribute<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}
