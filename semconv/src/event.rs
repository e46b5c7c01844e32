//! The OISP v0.1 event envelope ([`OispEvent`]), the typed `data` of every
//! event type ([`EventData`]), the event-type names, and the helpers
//! producers need: ULID event ids and RFC 3339 timestamps with microsecond
//! precision.
//!
//! `data` is typed by `event_type` when the envelope is read: a known type
//! whose `data` does not fit its schema is an error; an unknown type keeps
//! its `data` verbatim in [`EventData::Other`]. Unknown envelope keys are
//! kept in [`OispEvent::extra`] so that nothing read is lost (the schema
//! forbids them, so [`crate`]'s validator reports them).

use crate::agent::{AgentPlanStep, AgentRagRetrieve, AgentSession, AgentToolCall, AgentToolResult};
use crate::ai::{AiEmbedding, AiRequest, AiResponse, AiStreamingChunk};
use crate::common::{
    Actor, App, Confidence, Extra, Host, ProcessInfo, RelatedEvent, Source, TraceContext,
    WebContext,
};
use crate::file::{FileDelete, FileOpen, FileRead, FileRename, FileWrite};
use crate::network::{NetworkAccept, NetworkConnect, NetworkDns, NetworkFlow};
use crate::process::{ProcessExec, ProcessExit, ProcessFork};
use crate::security::SecurityFinding;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The OISP version oispd writes.
pub const OISP_VERSION: &str = "0.1";

/// Event-type names.
pub mod event_type {
    /// `ai.request`.
    pub const AI_REQUEST: &str = "ai.request";
    /// `ai.response`.
    pub const AI_RESPONSE: &str = "ai.response";
    /// `ai.streaming_chunk`.
    pub const AI_STREAMING_CHUNK: &str = "ai.streaming_chunk";
    /// `ai.embedding`.
    pub const AI_EMBEDDING: &str = "ai.embedding";
    /// `agent.tool_call`.
    pub const AGENT_TOOL_CALL: &str = "agent.tool_call";
    /// `agent.tool_result`.
    pub const AGENT_TOOL_RESULT: &str = "agent.tool_result";
    /// `agent.plan_step`.
    pub const AGENT_PLAN_STEP: &str = "agent.plan_step";
    /// `agent.rag_retrieve`.
    pub const AGENT_RAG_RETRIEVE: &str = "agent.rag_retrieve";
    /// `agent.session`.
    pub const AGENT_SESSION: &str = "agent.session";
    /// `process.exec`.
    pub const PROCESS_EXEC: &str = "process.exec";
    /// `process.exit`.
    pub const PROCESS_EXIT: &str = "process.exit";
    /// `process.fork`.
    pub const PROCESS_FORK: &str = "process.fork";
    /// `file.open`.
    pub const FILE_OPEN: &str = "file.open";
    /// `file.read`.
    pub const FILE_READ: &str = "file.read";
    /// `file.write`.
    pub const FILE_WRITE: &str = "file.write";
    /// `file.delete`.
    pub const FILE_DELETE: &str = "file.delete";
    /// `file.rename`.
    pub const FILE_RENAME: &str = "file.rename";
    /// `network.connect`.
    pub const NETWORK_CONNECT: &str = "network.connect";
    /// `network.accept`.
    pub const NETWORK_ACCEPT: &str = "network.accept";
    /// `network.flow`.
    pub const NETWORK_FLOW: &str = "network.flow";
    /// `network.dns`.
    pub const NETWORK_DNS: &str = "network.dns";
    /// `security.finding` (oispd's sentinel; not in OISP v0.1).
    pub const SECURITY_FINDING: &str = "security.finding";
}

/// The typed `data` of an event.
///
/// Variants are held inline (no box): an event is built once and then moved
/// as part of its [`OispEvent`], so an extra allocation per event would cost
/// more than the unused bytes of the smaller variants.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum EventData {
    /// `ai.request`.
    AiRequest(AiRequest),
    /// `ai.response`.
    AiResponse(AiResponse),
    /// `ai.streaming_chunk`.
    AiStreamingChunk(AiStreamingChunk),
    /// `ai.embedding`.
    AiEmbedding(AiEmbedding),
    /// `agent.tool_call`.
    AgentToolCall(AgentToolCall),
    /// `agent.tool_result`.
    AgentToolResult(AgentToolResult),
    /// `agent.plan_step`.
    AgentPlanStep(AgentPlanStep),
    /// `agent.rag_retrieve`.
    AgentRagRetrieve(AgentRagRetrieve),
    /// `agent.session`.
    AgentSession(AgentSession),
    /// `process.exec`.
    ProcessExec(ProcessExec),
    /// `process.exit`.
    ProcessExit(ProcessExit),
    /// `process.fork`.
    ProcessFork(ProcessFork),
    /// `file.open`.
    FileOpen(FileOpen),
    /// `file.read`.
    FileRead(FileRead),
    /// `file.write`.
    FileWrite(FileWrite),
    /// `file.delete`.
    FileDelete(FileDelete),
    /// `file.rename`.
    FileRename(FileRename),
    /// `network.connect`.
    NetworkConnect(NetworkConnect),
    /// `network.accept`.
    NetworkAccept(NetworkAccept),
    /// `network.flow`.
    NetworkFlow(NetworkFlow),
    /// `network.dns`.
    NetworkDns(NetworkDns),
    /// `security.finding`.
    SecurityFinding(SecurityFinding),
    /// The `data` of an event type this crate does not know, verbatim.
    Other(Value),
}

fn typed<T: DeserializeOwned>(
    data: Value,
    wrap: fn(T) -> EventData,
) -> Result<EventData, serde_json::Error> {
    serde_json::from_value(data).map(wrap)
}

impl EventData {
    /// Types `data` by `event_type`. Unknown event types give
    /// [`EventData::Other`]; a known type whose data does not fit is an error.
    pub fn from_value(kind: &str, data: Value) -> Result<EventData, serde_json::Error> {
        use event_type as t;
        match kind {
            t::AI_REQUEST => typed(data, EventData::AiRequest),
            t::AI_RESPONSE => typed(data, EventData::AiResponse),
            t::AI_STREAMING_CHUNK => typed(data, EventData::AiStreamingChunk),
            t::AI_EMBEDDING => typed(data, EventData::AiEmbedding),
            t::AGENT_TOOL_CALL => typed(data, EventData::AgentToolCall),
            t::AGENT_TOOL_RESULT => typed(data, EventData::AgentToolResult),
            t::AGENT_PLAN_STEP => typed(data, EventData::AgentPlanStep),
            t::AGENT_RAG_RETRIEVE => typed(data, EventData::AgentRagRetrieve),
            t::AGENT_SESSION => typed(data, EventData::AgentSession),
            t::PROCESS_EXEC => typed(data, EventData::ProcessExec),
            t::PROCESS_EXIT => typed(data, EventData::ProcessExit),
            t::PROCESS_FORK => typed(data, EventData::ProcessFork),
            t::FILE_OPEN => typed(data, EventData::FileOpen),
            t::FILE_READ => typed(data, EventData::FileRead),
            t::FILE_WRITE => typed(data, EventData::FileWrite),
            t::FILE_DELETE => typed(data, EventData::FileDelete),
            t::FILE_RENAME => typed(data, EventData::FileRename),
            t::NETWORK_CONNECT => typed(data, EventData::NetworkConnect),
            t::NETWORK_ACCEPT => typed(data, EventData::NetworkAccept),
            t::NETWORK_FLOW => typed(data, EventData::NetworkFlow),
            t::NETWORK_DNS => typed(data, EventData::NetworkDns),
            t::SECURITY_FINDING => typed(data, EventData::SecurityFinding),
            _ => Ok(EventData::Other(data)),
        }
    }

    /// The event type this data belongs to; `None` for [`EventData::Other`].
    pub fn event_type(&self) -> Option<&'static str> {
        use event_type as t;
        Some(match self {
            EventData::AiRequest(_) => t::AI_REQUEST,
            EventData::AiResponse(_) => t::AI_RESPONSE,
            EventData::AiStreamingChunk(_) => t::AI_STREAMING_CHUNK,
            EventData::AiEmbedding(_) => t::AI_EMBEDDING,
            EventData::AgentToolCall(_) => t::AGENT_TOOL_CALL,
            EventData::AgentToolResult(_) => t::AGENT_TOOL_RESULT,
            EventData::AgentPlanStep(_) => t::AGENT_PLAN_STEP,
            EventData::AgentRagRetrieve(_) => t::AGENT_RAG_RETRIEVE,
            EventData::AgentSession(_) => t::AGENT_SESSION,
            EventData::ProcessExec(_) => t::PROCESS_EXEC,
            EventData::ProcessExit(_) => t::PROCESS_EXIT,
            EventData::ProcessFork(_) => t::PROCESS_FORK,
            EventData::FileOpen(_) => t::FILE_OPEN,
            EventData::FileRead(_) => t::FILE_READ,
            EventData::FileWrite(_) => t::FILE_WRITE,
            EventData::FileDelete(_) => t::FILE_DELETE,
            EventData::FileRename(_) => t::FILE_RENAME,
            EventData::NetworkConnect(_) => t::NETWORK_CONNECT,
            EventData::NetworkAccept(_) => t::NETWORK_ACCEPT,
            EventData::NetworkFlow(_) => t::NETWORK_FLOW,
            EventData::NetworkDns(_) => t::NETWORK_DNS,
            EventData::SecurityFinding(_) => t::SECURITY_FINDING,
            EventData::Other(_) => return None,
        })
    }
}

impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EventData::AiRequest(d) => d.serialize(s),
            EventData::AiResponse(d) => d.serialize(s),
            EventData::AiStreamingChunk(d) => d.serialize(s),
            EventData::AiEmbedding(d) => d.serialize(s),
            EventData::AgentToolCall(d) => d.serialize(s),
            EventData::AgentToolResult(d) => d.serialize(s),
            EventData::AgentPlanStep(d) => d.serialize(s),
            EventData::AgentRagRetrieve(d) => d.serialize(s),
            EventData::AgentSession(d) => d.serialize(s),
            EventData::ProcessExec(d) => d.serialize(s),
            EventData::ProcessExit(d) => d.serialize(s),
            EventData::ProcessFork(d) => d.serialize(s),
            EventData::FileOpen(d) => d.serialize(s),
            EventData::FileRead(d) => d.serialize(s),
            EventData::FileWrite(d) => d.serialize(s),
            EventData::FileDelete(d) => d.serialize(s),
            EventData::FileRename(d) => d.serialize(s),
            EventData::NetworkConnect(d) => d.serialize(s),
            EventData::NetworkAccept(d) => d.serialize(s),
            EventData::NetworkFlow(d) => d.serialize(s),
            EventData::NetworkDns(d) => d.serialize(s),
            EventData::SecurityFinding(d) => d.serialize(s),
            EventData::Other(v) => v.serialize(s),
        }
    }
}

/// An OISP v0.1 event (`envelope.schema.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawEvent")]
pub struct OispEvent {
    /// Spec version (`0.1`).
    pub oisp_version: String,
    /// Unique event id (a ULID for events oispd creates).
    pub event_id: String,
    /// Event type (`ai.request`).
    pub event_type: String,
    /// RFC 3339 timestamp, kept exactly as written.
    pub ts: String,
    /// Monotonic timestamp in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts_mono: Option<u64>,
    /// Host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    /// Actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// Process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessInfo>,
    /// Application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<App>,
    /// Browser context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_context: Option<WebContext>,
    /// Provenance.
    pub source: Source,
    /// Confidence and completeness.
    pub confidence: Confidence,
    /// Event-type specific payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<EventData>,
    /// Additional attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<Map<String, Value>>,
    /// Namespaced extensions (`ext.oximy.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<Map<String, Value>>,
    /// Related events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_events: Option<Vec<RelatedEvent>>,
    /// W3C trace context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_context: Option<TraceContext>,
    /// Keys the envelope schema does not define (kept, never produced by oispd).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The envelope as read, before `data` is typed by `event_type`.
#[derive(Deserialize)]
struct RawEvent {
    oisp_version: String,
    event_id: String,
    event_type: String,
    ts: String,
    #[serde(default)]
    ts_mono: Option<u64>,
    #[serde(default)]
    host: Option<Host>,
    #[serde(default)]
    actor: Option<Actor>,
    #[serde(default)]
    process: Option<ProcessInfo>,
    #[serde(default)]
    app: Option<App>,
    #[serde(default)]
    web_context: Option<WebContext>,
    source: Source,
    confidence: Confidence,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    attrs: Option<Map<String, Value>>,
    #[serde(default)]
    ext: Option<Map<String, Value>>,
    #[serde(default)]
    related_events: Option<Vec<RelatedEvent>>,
    #[serde(default)]
    trace_context: Option<TraceContext>,
    #[serde(flatten)]
    extra: Extra,
}

impl TryFrom<RawEvent> for OispEvent {
    type Error = String;

    fn try_from(raw: RawEvent) -> Result<OispEvent, String> {
        let data = match raw.data {
            None => None,
            Some(v) => Some(
                EventData::from_value(&raw.event_type, v)
                    .map_err(|e| format!("data of {}: {e}", raw.event_type))?,
            ),
        };
        Ok(OispEvent {
            oisp_version: raw.oisp_version,
            event_id: raw.event_id,
            event_type: raw.event_type,
            ts: raw.ts,
            ts_mono: raw.ts_mono,
            host: raw.host,
            actor: raw.actor,
            process: raw.process,
            app: raw.app,
            web_context: raw.web_context,
            source: raw.source,
            confidence: raw.confidence,
            data,
            attrs: raw.attrs,
            ext: raw.ext,
            related_events: raw.related_events,
            trace_context: raw.trace_context,
            extra: raw.extra,
        })
    }
}

impl OispEvent {
    /// A new event of `data`'s type with a fresh ULID, the current time,
    /// OISP version 0.1 and nothing else set. For [`EventData::Other`] the
    /// event type is left empty: use [`OispEvent::new_other`].
    pub fn new(data: EventData, source: Source, confidence: Confidence) -> OispEvent {
        let event_type = data.event_type().unwrap_or_default().to_string();
        OispEvent::with_type(event_type, Some(data), source, confidence)
    }

    /// A new event of any `event_type` with verbatim `data`.
    pub fn new_other(
        event_type: impl Into<String>,
        data: Value,
        source: Source,
        confidence: Confidence,
    ) -> OispEvent {
        OispEvent::with_type(
            event_type.into(),
            Some(EventData::Other(data)),
            source,
            confidence,
        )
    }

    fn with_type(
        event_type: String,
        data: Option<EventData>,
        source: Source,
        confidence: Confidence,
    ) -> OispEvent {
        OispEvent {
            oisp_version: OISP_VERSION.to_string(),
            event_id: new_event_id(),
            event_type,
            ts: now_ts(),
            ts_mono: None,
            host: None,
            actor: None,
            process: None,
            app: None,
            web_context: None,
            source,
            confidence,
            data,
            attrs: None,
            ext: None,
            related_events: None,
            trace_context: None,
            extra: Extra::new(),
        }
    }

    /// Sets `ts` from a time (RFC 3339, UTC, microseconds).
    pub fn with_time(mut self, t: OffsetDateTime) -> OispEvent {
        self.ts = format_ts(t);
        self
    }

    /// Parses an event from JSON text.
    pub fn from_json(s: &str) -> Result<OispEvent, serde_json::Error> {
        serde_json::from_str(s)
    }

    /// Parses an event from a JSON value.
    pub fn from_value(v: Value) -> Result<OispEvent, serde_json::Error> {
        serde_json::from_value(v)
    }

    /// The event as a JSON value.
    pub fn to_value(&self) -> Value {
        // Serializing these types into a Value cannot fail: every map key is a string.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The event as one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// `ts` as nanoseconds since the Unix epoch; `None` when it is not RFC 3339.
    pub fn ts_unix_nanos(&self) -> Option<u64> {
        parse_ts_nanos(&self.ts)
    }

    /// Appends a related-event link.
    pub fn add_related(&mut self, related: RelatedEvent) {
        self.related_events
            .get_or_insert_with(Vec::new)
            .push(related);
    }
}

/// A new event id: a ULID (26 characters, time-ordered).
pub fn new_event_id() -> String {
    ulid::Ulid::new().to_string()
}

/// Formats a time as OISP writes timestamps: RFC 3339 in UTC with exactly
/// six fractional digits (`2025-12-22T20:15:05.123456Z`).
pub fn format_ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The current time as an OISP timestamp.
pub fn now_ts() -> String {
    format_ts(OffsetDateTime::now_utc())
}

/// Formats nanoseconds since the Unix epoch as an OISP timestamp; `None`
/// when out of range.
pub fn format_ts_nanos(unix_nanos: u64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_nanos))
        .ok()
        .map(format_ts)
}

/// Parses an RFC 3339 timestamp into nanoseconds since the Unix epoch;
/// `None` when it is not RFC 3339 or before 1970.
pub fn parse_ts_nanos(ts: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(ts, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos()).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::ai::{ModelInfo, ProviderInfo};
    use crate::common::{CaptureMethod, Completeness, ConfidenceLevel};
    use serde_json::json;

    fn conf() -> Confidence {
        Confidence::new(ConfidenceLevel::High, Completeness::Full)
    }

    /// Scenario: every spec example is parsed and written back.
    /// Guarantees: the output equals the input as JSON, and known types are typed.
    #[test]
    fn every_spec_example_round_trips_exactly() {
        for (name, v) in crate::test_support::examples() {
            let ev = OispEvent::from_value(v.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                !matches!(ev.data, Some(EventData::Other(_)) | None),
                "{name}: data not typed"
            );
            assert_eq!(
                ev.data.as_ref().and_then(|d| d.event_type()),
                Some(ev.event_type.as_str())
            );
            assert_eq!(ev.to_value(), v, "{name}");
            let again = OispEvent::from_json(&ev.to_json()).unwrap();
            assert_eq!(again, ev, "{name}");
        }
    }

    /// Scenario: integers and floats in number fields, unknown keys at every level.
    /// Guarantees: `1` stays `1`, `0.5` stays `0.5`, extra keys survive.
    #[test]
    fn numbers_and_unknown_keys_survive() {
        let v = json!({
            "oisp_version": "0.1", "event_id": "x", "event_type": "ai.request",
            "ts": "2025-01-01T00:00:00Z",
            "source": {"collector": "c", "future": 1},
            "confidence": {"level": "low", "completeness": "partial"},
            "data": {
                "parameters": {"temperature": 1, "top_p": 0.5, "seed": 7},
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                "vendor_field": {"a": [1, 2.5, null]}
            },
            "unknown_top": true
        });
        let ev = OispEvent::from_value(v.clone()).unwrap();
        assert_eq!(ev.extra.get("unknown_top"), Some(&json!(true)));
        assert_eq!(ev.to_value(), v);
    }

    /// Scenario: an unknown event type and a known type with wrong data.
    /// Guarantees: the first is kept verbatim, the second is an error naming the type.
    #[test]
    fn unknown_types_kept_bad_known_data_rejected() {
        let mut v = json!({
            "oisp_version": "0.1", "event_id": "x", "event_type": "vendor.thing",
            "ts": "2025-01-01T00:00:00Z", "source": {"collector": "c"},
            "confidence": {"level": "low", "completeness": "partial"},
            "data": {"anything": [1]}
        });
        let ev = OispEvent::from_value(v.clone()).unwrap();
        assert_eq!(ev.data, Some(EventData::Other(json!({"anything": [1]}))));
        assert_eq!(ev.to_value(), v);
        v["event_type"] = json!("process.exit");
        let err = OispEvent::from_value(v).unwrap_err().to_string();
        assert!(err.contains("process.exit"), "{err}");
    }

    /// Scenario: a producer builds an ai.request with the constructor.
    /// Guarantees: ULID id, version 0.1, type from the data, and an exact round trip.
    #[test]
    fn constructor_builds_a_complete_envelope() {
        let data = EventData::AiRequest(AiRequest {
            provider: Some(ProviderInfo {
                name: Some("openai".into()),
                ..Default::default()
            }),
            model: Some(ModelInfo {
                id: Some("gpt-4o".into()),
                ..Default::default()
            }),
            streaming: Some(false),
            ..Default::default()
        });
        let ev = OispEvent::new(
            data,
            Source::oispd(CaptureMethod::TlsBoundary, "ssl_write"),
            conf(),
        )
        .with_time(OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap());
        assert_eq!(ev.event_type, "ai.request");
        assert_eq!(ev.oisp_version, "0.1");
        assert_eq!(ev.event_id.len(), 26);
        assert!(ulid::Ulid::from_string(&ev.event_id).is_ok());
        assert_eq!(ev.ts, "2023-11-14T22:13:20.123456Z");
        assert_eq!(ev.ts_unix_nanos(), Some(1_700_000_000_123_456_000));
        assert_eq!(ev.source.collector, "oispd");
        let back = OispEvent::from_json(&ev.to_json()).unwrap();
        assert_eq!(back, ev);
    }

    /// Scenario: timestamps with offsets, without fractions, and garbage.
    /// Guarantees: parsed to the right instant, formatted with 6 digits in UTC.
    #[test]
    fn timestamps_parse_and_format() {
        assert_eq!(
            parse_ts_nanos("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(parse_ts_nanos("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_ts_nanos("yesterday"), None);
        assert_eq!(
            format_ts_nanos(1_000_001_000).unwrap(),
            "1970-01-01T00:00:01.000001Z"
        );
        let now = now_ts();
        assert_eq!(now.len(), "2025-12-22T20:15:05.123456Z".len());
        assert!(parse_ts_nanos(&now).is_some());
    }

    /// Scenario: a security.finding event linked to its trigger.
    /// Guarantees: typed on read, severity lower-case, related_events kept.
    #[test]
    fn security_finding_round_trips() {
        let mut f = SecurityFinding::new("SEC-01", crate::Severity::High, "API key in prompt");
        f.audit = Some(crate::security::AuditLink {
            id: "7".into(),
            hash: "ab".into(),
            previous_hash: Some("cd".into()),
            ..Default::default()
        });
        let mut ev = OispEvent::new(
            EventData::SecurityFinding(f),
            Source::oispd(CaptureMethod::Other, "sentinel"),
            conf(),
        );
        ev.add_related(RelatedEvent::new(
            "01TRIGGER",
            crate::Relationship::CausedBy,
        ));
        let v = ev.to_value();
        assert_eq!(v["event_type"], "security.finding");
        assert_eq!(v["data"]["severity"], "high");
        assert_eq!(v["data"]["audit"]["previous_hash"], "cd");
        assert_eq!(v["related_events"][0]["relationship"], "caused_by");
        assert_eq!(OispEvent::from_value(v).unwrap(), ev);
    }
}
