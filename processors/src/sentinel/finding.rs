//! Turning findings into audit entries and `security.finding` records.
//!
//! The record is an OISP event like every other record oispd carries: the
//! log record body is the `security.finding` event as a map (so OISP
//! exporters write it, and it validates against the envelope schema), built
//! by `oispd-semconv`'s mapping. The issue asks for "body = the finding's
//! summary": the summary is `data.summary` in that body, right after the
//! finding and detector ids, and the record's severity and `ai.sentinel.*`
//! attributes (detector id, severity, audit id, hash, previous hash) make
//! the finding routable without reading the body. The event copies host,
//! actor, process and trace context from the triggering event and links it
//! in `related_events` (`caused_by`); the log record keeps the trigger's
//! trace and span ids.

use super::engine::Finding;
use super::event::get;
use crate::audit::{AuditEntry, NewEntry};
use oispd_component::proto::tonic::common::v1::KeyValue;
use oispd_component::proto::tonic::logs::v1::LogRecord;
use oispd_semconv::common::{CaptureMethod, Completeness, ConfidenceLevel, Relationship};
use oispd_semconv::otel::{any_value_to_json, event_to_log_record};
use oispd_semconv::security::AuditLink;
use oispd_semconv::{
    format_ts_nanos, Confidence, EventData, OispEvent, RelatedEvent, SecurityFinding, Source,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The capture point of findings' `source`.
const CAPTURE_POINT: &str = "sentinel";

/// The `data` of a finding without its audit link, as chained.
pub(crate) fn security_finding(f: &Finding, finding_id: &str) -> SecurityFinding {
    let mut sf = SecurityFinding::new(f.detector.code(), f.severity, f.summary.clone());
    sf.finding_id = finding_id.to_string();
    sf.detector_name = Some(f.detector.name().to_string());
    if let Some(v) = &f.vector {
        sf.extra.insert("vector".into(), Value::String(v.clone()));
    }
    let mut trigger = Map::new();
    trigger.insert("event_id".into(), Value::String(f.trigger_event_id.clone()));
    trigger.insert(
        "event_type".into(),
        Value::String(f.trigger_event_type.clone()),
    );
    sf.extra.insert("trigger".into(), Value::Object(trigger));
    sf.extra.insert(
        "evidence".into(),
        Value::Array(f.evidence.iter().cloned().map(Value::Object).collect()),
    );
    sf
}

/// The audit entry of a finding detected at `ts_unix_nano`.
pub(crate) fn audit_entry(f: &Finding, sf: &SecurityFinding, ts_unix_nano: i64) -> NewEntry {
    NewEntry {
        ts_unix_nano,
        finding_id: sf.finding_id.clone(),
        detector: f.detector.code().to_string(),
        severity: f.severity,
        trigger_event_id: f.trigger_event_id.clone(),
        summary: f.summary.clone(),
        // Serializing a SecurityFinding cannot fail: every key is a string.
        finding: serde_json::to_string(sf).unwrap_or_default(),
    }
}

fn copy_field<T: DeserializeOwned>(body: &[KeyValue], key: &str) -> Option<T> {
    serde_json::from_value(any_value_to_json(get(body, key)?)).ok()
}

/// The `security.finding` log record of a chained finding.
pub(crate) fn finding_record(
    mut sf: SecurityFinding,
    entry: &AuditEntry,
    trigger: &LogRecord,
    trigger_body: &[KeyValue],
) -> LogRecord {
    sf.audit = Some(AuditLink {
        id: entry.id.to_string(),
        hash: entry.hash.clone(),
        previous_hash: Some(entry.previous_hash.clone()),
        extra: Map::new(),
    });
    let finding_id = sf.finding_id.clone();
    let mut event = OispEvent::new(
        EventData::SecurityFinding(sf),
        Source::oispd(CaptureMethod::Other, CAPTURE_POINT),
        Confidence::new(ConfidenceLevel::High, Completeness::Full),
    );
    event.event_id = finding_id;
    if let Some(ts) = u64::try_from(entry.entry.ts_unix_nano)
        .ok()
        .and_then(format_ts_nanos)
    {
        event.ts = ts;
    }
    event.host = copy_field(trigger_body, "host");
    event.actor = copy_field(trigger_body, "actor");
    event.process = copy_field(trigger_body, "process");
    event.trace_context = copy_field(trigger_body, "trace_context");
    if !entry.entry.trigger_event_id.is_empty() {
        event.add_related(RelatedEvent::new(
            entry.entry.trigger_event_id.clone(),
            Relationship::CausedBy,
        ));
    }
    let mut rec = event_to_log_record(&event);
    if rec.trace_id.is_empty() && !trigger.trace_id.is_empty() {
        rec.trace_id = trigger.trace_id.clone();
        rec.span_id = trigger.span_id.clone();
        rec.flags = trigger.flags;
    }
    rec
}
