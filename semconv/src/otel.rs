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
mod to_any;

pub use anyvalue::{
    any_value_to_json, json_to_any_value, key_values_to_json, AnyValueJson, KeyValuesJson,
};
pub use flatten::event_attributes;
pub use span::span_from_exchange;
pub use to_any::{to_any_value, ToAnyError};

use crate::attributes::{otel_host_arch, resource as res};
use crate::event::{format_ts_nanos, EventData, OispEvent};
use flatten::Attrs;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};

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
        body: Some(event_body(event)),
        attributes: event_attributes(event),
        dropped_attributes_count: 0,
        flags,
        trace_id,
        span_id,
        event_name: event.event_type.clone(),
    }
}

/// The event as a kvlist, built straight from its fields.
fn event_body(event: &OispEvent) -> AnyValue {
    // Every map key of an event is a string, so this cannot fail; should a
    // future field break that, the JSON path still gives the same value.
    to_any_value(event).unwrap_or_else(|_| json_to_any_value(&event.to_value()))
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
            a.str(res::K8S_CONTAINER_NAME, k.container_name.as_deref());
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
    for event in &events {
        let resource = event_resource(event);
        // A batch holds few distinct resources, and events of one process
        // tend to be adjacent: a search from the latest group is cheaper
        // than hashing every resource.
        let found = out
            .iter()
            .rposition(|rl| rl.resource.as_ref() == Some(&resource));
        let i = match found {
            Some(i) => i,
            None => {
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
            }
        };
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
    if let Some(kvs) = log_record_event_kvlist(record) {
        return Some(Value::Object(key_values_to_json(kvs)));
    }
    match record.body.as_ref()?.value.as_ref()? {
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

/// The body of a record that carries an OISP event as a kvlist (what
/// [`event_to_log_record`] writes); [`KeyValuesJson`] writes it as the
/// event's JSON without building a [`Value`].
pub fn log_record_event_kvlist(record: &LogRecord) -> Option<&[KeyValue]> {
    match record.body.as_ref()?.value.as_ref()? {
        Av::KvlistValue(kv) => {
            let has = |k: &str| kv.values.iter().any(|e| e.key == k);
            (has("oisp_version") && has("event_type")).then_some(kv.values.as_slice())
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    use prost::Message;
    use serde_json::json;

    fn example(name: &str) -> OispEvent {
        let (_, v) = crate::test_support::examples()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap();
        OispEvent::from_value(v).unwrap()
    }

    fn attr(attrs: &[KeyValue], key: &str) -> Value {
        any_value_to_json(find_attribute(attrs, key).unwrap_or_else(|| panic!("no {key}")))
    }

    /// Scenario: every spec example goes OISP -> LogRecord -> OISP.
    /// Guarantees: the JSON that comes back is identical, and parses to the same event;
    /// the body is the event's JSON as a kvlist in key order.
    #[test]
    fn every_example_round_trips_through_a_log_record() {
        for (name, v) in crate::test_support::examples() {
            let ev = OispEvent::from_value(v.clone()).unwrap();
            let rec = event_to_log_record(&ev);
            assert_eq!(rec.event_name, ev.event_type, "{name}");
            assert_eq!(rec.time_unix_nano, ev.ts_unix_nanos().unwrap(), "{name}");
            assert_eq!(rec.observed_time_unix_nano, rec.time_unix_nano, "{name}");
            assert_eq!(rec.severity_number, SEVERITY_INFO, "{name}");
            assert_eq!(log_record_event_json(&rec).unwrap(), v, "{name}");
            assert_eq!(log_record_to_event(&rec).unwrap(), ev, "{name}");
            // Built straight from the event, the body is exactly the JSON
            // path's, key order included.
            assert_eq!(rec.body, Some(json_to_any_value(&ev.to_value())), "{name}");
        }
    }

    /// Scenario: all examples are grouped into resource logs, encoded as an
    /// OTLP export request with protobuf, and decoded again.
    /// Guarantees: every event comes back identical, in order.
    #[test]
    fn every_example_round_trips_through_protobuf() {
        let examples = crate::test_support::examples();
        let events: Vec<OispEvent> = examples
            .iter()
            .map(|(_, v)| OispEvent::from_value(v.clone()).unwrap())
            .collect();
        let req = ExportLogsServiceRequest {
            resource_logs: events_to_resource_logs(events.clone()),
        };
        let bytes = req.encode_to_vec();
        let back = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, req);
        let mut got: Vec<Value> = back
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .map(|r| log_record_event_json(r).unwrap())
            .collect();
        let mut want: Vec<Value> = examples.into_iter().map(|(_, v)| v).collect();
        let id = |v: &Value| v["event_id"].as_str().unwrap().to_string();
        got.sort_by_key(id);
        want.sort_by_key(id);
        assert_eq!(got, want);
    }

    /// Scenario: the OpenAI request and response examples are flattened.
    /// Guarantees: both conventions' attributes carry the example's values.
    #[test]
    fn openai_examples_flatten_to_both_conventions() {
        let req = event_attributes(&example("ai-request-openai.json"));
        assert_eq!(attr(&req, "ai.provider"), json!("openai"));
        assert_eq!(attr(&req, "gen_ai.provider.name"), json!("openai"));
        assert_eq!(attr(&req, "ai.model.id"), json!("gpt-4o"));
        assert_eq!(attr(&req, "ai.model.family"), json!("gpt-4o"));
        assert_eq!(attr(&req, "gen_ai.request.model"), json!("gpt-4o"));
        assert_eq!(attr(&req, "ai.request_type"), json!("chat"));
        assert_eq!(attr(&req, "gen_ai.operation.name"), json!("chat"));
        assert_eq!(attr(&req, "ai.streaming"), json!(true));
        assert_eq!(attr(&req, "gen_ai.request.stream"), json!(true));
        assert_eq!(attr(&req, "gen_ai.request.temperature"), json!(0.7));
        assert_eq!(attr(&req, "gen_ai.request.max_tokens"), json!(4096));
        assert_eq!(attr(&req, "ai.tools_count"), json!(3));
        assert_eq!(
            attr(&req, "gen_ai.conversation.id"),
            json!("conv_01JFWK8X4A1B2C3D")
        );
        assert_eq!(attr(&req, "oisp.capture_method"), json!("tls_boundary"));

        let resp = event_attributes(&example("ai-response-openai.json"));
        assert_eq!(attr(&resp, "ai.tokens.prompt"), json!(1823));
        assert_eq!(attr(&resp, "ai.tokens.completion"), json!(156));
        assert_eq!(attr(&resp, "ai.tokens.total"), json!(1979));
        assert_eq!(attr(&resp, "gen_ai.usage.input_tokens"), json!(1823));
        assert_eq!(attr(&resp, "gen_ai.usage.output_tokens"), json!(156));
        assert_eq!(
            attr(&resp, "gen_ai.response.id"),
            json!("chatcmpl-abc123xyz789")
        );
        assert_eq!(
            attr(&resp, "gen_ai.response.model"),
            json!("gpt-4o-2024-11-20")
        );
        assert_eq!(
            attr(&resp, "gen_ai.response.finish_reasons"),
            json!(["tool_calls"])
        );
        assert_eq!(attr(&resp, "ai.latency_ms"), json!(2222));
        assert_eq!(
            attr(&resp, "gen_ai.response.time_to_first_chunk"),
            json!(0.187)
        );
        assert!(find_attribute(&resp, "error.type").is_none());

        let tool = event_attributes(&example("agent-tool-call.json"));
        assert_eq!(attr(&tool, "agent.tool.name"), json!("read_file"));
        assert_eq!(attr(&tool, "agent.tool.type"), json!("file_read"));
        assert_eq!(attr(&tool, "gen_ai.tool.name"), json!("read_file"));
        assert_eq!(attr(&tool, "gen_ai.tool.call.id"), json!("call_abc123"));
        assert_eq!(attr(&tool, "gen_ai.operation.name"), json!("execute_tool"));

        let net = event_attributes(&example("network-connect.json"));
        assert_eq!(attr(&net, "server.address"), json!("api.openai.com"));
        assert_eq!(attr(&net, "server.port"), json!(443));
    }

    /// Scenario: resources of a laptop event and a Kubernetes event.
    /// Guarantees: host, process, container and pod attributes are set.
    #[test]
    fn resources_carry_host_process_and_k8s() {
        let r = event_resource(&example("ai-request-openai.json")).attributes;
        assert_eq!(attr(&r, "host.name"), json!("dev-laptop"));
        assert_eq!(attr(&r, "host.arch"), json!("arm64"));
        assert_eq!(attr(&r, "os.type"), json!("darwin"));
        assert_eq!(attr(&r, "process.pid"), json!(12345));
        assert_eq!(attr(&r, "process.parent_pid"), json!(1234));
        assert_eq!(
            attr(&r, "process.executable.path"),
            json!("/usr/local/bin/python3")
        );
        assert_eq!(attr(&r, "process.executable.name"), json!("python3"));
        assert_eq!(
            attr(&r, "process.command_line"),
            json!("python3 /Users/alice/projects/agent/main.py --mode=production")
        );
        assert_eq!(attr(&r, "process.owner"), json!("alice"));
        let k = event_resource(&example("ai-request-redacted.json")).attributes;
        assert_eq!(attr(&k, "k8s.pod.name"), json!("chatbot-7b8c9d0e-abc12"));
        assert_eq!(attr(&k, "k8s.namespace.name"), json!("ai-services"));
        assert_eq!(attr(&k, "container.id"), json!("abc123def456"));
        let mut named = example("ai-request-redacted.json");
        if let Some(k8s) = named.host.as_mut().and_then(|h| h.k8s.as_mut()) {
            k8s.container_name = Some("chatbot".into());
        }
        let k = event_resource(&named).attributes;
        assert_eq!(attr(&k, "k8s.container.name"), json!("chatbot"));
    }

    /// Scenario: three events, two of them from the same process.
    /// Guarantees: two resource groups in first-seen order, scope `oispd`, order kept.
    #[test]
    fn groups_events_by_identical_resource() {
        let a = example("network-connect.json");
        let mut b = a.clone();
        b.event_id = "second".into();
        let c = example("ai-request-redacted.json");
        let rl = events_to_resource_logs(vec![a.clone(), c.clone(), b.clone()]);
        assert_eq!(rl.len(), 2);
        let scope = &rl[0].scope_logs[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "oispd");
        assert_eq!(scope.scope.as_ref().unwrap().version, crate::VERSION);
        let ids: Vec<_> = scope
            .log_records
            .iter()
            .map(|r| log_record_to_event(r).unwrap().event_id)
            .collect();
        assert_eq!(ids, [a.event_id, b.event_id]);
        assert_eq!(rl[1].scope_logs[0].log_records.len(), 1);
    }

    /// Scenario: records that are not OISP events, and one whose body is OISP JSON text.
    /// Guarantees: the first give None, the second its JSON.
    #[test]
    fn recognises_only_oisp_bodies() {
        let plain = LogRecord {
            body: Some(json_to_any_value(
                &json!({"msg": "hello", "event_type": "x"}),
            )),
            ..Default::default()
        };
        assert_eq!(log_record_event_json(&plain), None);
        assert_eq!(log_record_event_json(&LogRecord::default()), None);
        let v = example("process-exec.json").to_value();
        let text = LogRecord {
            body: Some(json_to_any_value(&Value::String(v.to_string()))),
            ..Default::default()
        };
        assert_eq!(log_record_event_json(&text), Some(v));
    }

    /// Scenario: a plain SDK log record with resource and scope.
    /// Guarantees: a readable JSON view with times, severity, body, attributes, ids.
    #[test]
    fn generic_json_of_a_plain_record() {
        let rec = LogRecord {
            time_unix_nano: 1_000_000_000,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: Some(json_to_any_value(&json!("disk full"))),
            attributes: vec![KeyValue {
                key: "k".into(),
                value: Some(json_to_any_value(&json!(1))),
                ..Default::default()
            }],
            trace_id: vec![0xab; 16],
            span_id: vec![1; 8],
            ..Default::default()
        };
        let resource = Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(json_to_any_value(&json!("svc"))),
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = log_record_generic_json(Some(&resource), Some(&oispd_scope()), &rec);
        assert_eq!(
            v,
            json!({
                "time": "1970-01-01T00:00:01.000000Z",
                "severity_number": 17,
                "severity_text": "ERROR",
                "body": "disk full",
                "attributes": {"k": 1},
                "resource": {"service.name": "svc"},
                "scope": {"name": "oispd", "version": crate::VERSION},
                "trace_id": "abababababababababababababababab",
                "span_id": "0101010101010101"
            })
        );
    }

    /// Scenario: the OpenAI request/response examples become a span.
    /// Guarantees: GenAI name, CLIENT kind, the call's duration, ids stable.
    #[test]
    fn span_of_the_openai_exchange() {
        let req = example("ai-request-openai.json");
        let resp = example("ai-response-openai.json");
        let span = span_from_exchange(&req, &resp).unwrap();
        assert_eq!(span.name, "chat gpt-4o");
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(span.start_time_unix_nano, req.ts_unix_nanos().unwrap());
        assert_eq!(span.end_time_unix_nano, resp.ts_unix_nanos().unwrap());
        assert_eq!(
            span.end_time_unix_nano - span.start_time_unix_nano,
            2_222_212_000
        );
        assert_eq!(span.trace_id.len(), 16);
        assert_eq!(span.span_id.len(), 8);
        assert!(span.parent_span_id.is_empty());
        assert!(span.status.is_none());
        assert_eq!(
            attr(&span.attributes, "gen_ai.request.model"),
            json!("gpt-4o")
        );
        assert_eq!(
            attr(&span.attributes, "gen_ai.response.model"),
            json!("gpt-4o-2024-11-20")
        );
        assert_eq!(
            attr(&span.attributes, "gen_ai.usage.output_tokens"),
            json!(156)
        );
        assert_eq!(
            attr(&span.attributes, "server.address"),
            json!("api.openai.com")
        );
        assert_eq!(attr(&span.attributes, "server.port"), json!(443));
        assert_eq!(span_from_exchange(&req, &resp).unwrap(), span);
        assert!(span_from_exchange(&resp, &req).is_none());
    }

    /// Scenario: a failed call whose response time is unusable, in a caller's trace.
    /// Guarantees: error status, end = start + latency, the caller's trace id and parent.
    #[test]
    fn span_of_a_failed_call_in_a_callers_trace() {
        let mut req = example("ai-request-openai.json");
        req.trace_context = Some(crate::common::TraceContext {
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
            span_id: Some("b7ad6b7169203331".into()),
            ..Default::default()
        });
        let mut resp = example("ai-response-openai.json");
        resp.ts = "not a time".into();
        if let Some(EventData::AiResponse(r)) = &mut resp.data {
            r.status_code = Some(429);
            r.success = Some(false);
            r.latency_ms = Some(150);
        }
        let span = span_from_exchange(&req, &resp).unwrap();
        assert_eq!(
            span.end_time_unix_nano - span.start_time_unix_nano,
            150_000_000
        );
        let status = span.status.unwrap();
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "HTTP 429");
        assert_eq!(attr(&span.attributes, "error.type"), json!("429"));
        assert_eq!(
            span.trace_id,
            decode_hex_id("0af7651916cd43dd8448eb211c80319c", 16).unwrap()
        );
        assert_eq!(
            span.parent_span_id,
            decode_hex_id("b7ad6b7169203331", 8).unwrap()
        );
        let rec = event_to_log_record(&resp);
        assert_eq!(rec.severity_number, SEVERITY_WARN);
        let rec = event_to_log_record(&req);
        assert_eq!(rec.trace_id, span.trace_id);
    }

    /// Scenario: a security finding becomes a log record.
    /// Guarantees: severity from the finding, sentinel attributes set.
    #[test]
    fn security_finding_record() {
        let mut f = crate::SecurityFinding::new("SEC-02", crate::Severity::Critical, "key leak");
        f.audit = Some(crate::security::AuditLink {
            id: "1".into(),
            hash: "h1".into(),
            previous_hash: Some("h0".into()),
            ..Default::default()
        });
        let ev = OispEvent::new(
            EventData::SecurityFinding(f),
            crate::Source::oispd(crate::CaptureMethod::Other, "sentinel"),
            crate::Confidence::new(crate::ConfidenceLevel::High, crate::Completeness::Full),
        );
        let rec = event_to_log_record(&ev);
        assert_eq!(rec.severity_number, 21);
        assert_eq!(rec.severity_text, "FATAL");
        assert_eq!(
            attr(&rec.attributes, "ai.sentinel.detector.id"),
            json!("SEC-02")
        );
        assert_eq!(
            attr(&rec.attributes, "ai.sentinel.severity"),
            json!("critical")
        );
        assert_eq!(
            attr(&rec.attributes, "ai.sentinel.audit.previous_hash"),
            json!("h0")
        );
        assert_eq!(log_record_to_event(&rec).unwrap(), ev);
    }
}
