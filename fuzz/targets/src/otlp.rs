//! `otlp_request`: OTLP export requests as the `otlp` receiver decodes them
//! (protobuf over gRPC and HTTP, JSON over HTTP), for logs and traces, then
//! what the pipeline does first with every accepted record: the always-on
//! redactor, and the AnyValue -> JSON conversion OISP-speaking exporters
//! run (both recursive over nested values, so decoders must bound depth).
//!
//! Input: one byte choosing the codec (bit 0: 0 protobuf, 1 JSON) and the
//! signal (bit 1: 0 logs, 1 traces), then the request body.

use oispd_component::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use oispd_component::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use oispd_component::Batch;
use oispd_semconv::otel::{key_values_to_json, log_record_event_json, log_record_to_event};
use prost::Message;

use crate::input::Input;
use crate::redactor::always_on;

/// Decodes one request body.
pub fn otlp_request(data: &[u8]) {
    let mut input = Input::new(data);
    let choice = input.byte();
    let body = input.rest();
    let json = choice & 1 != 0;
    let mut batch = if choice & 2 == 0 {
        let req = if json {
            serde_json::from_slice::<ExportLogsServiceRequest>(body).ok()
        } else {
            ExportLogsServiceRequest::decode(body).ok()
        };
        let Some(req) = req else { return };
        for rl in &req.resource_logs {
            for sl in &rl.scope_logs {
                for rec in &sl.log_records {
                    let _ = key_values_to_json(&rec.attributes);
                    let _ = log_record_event_json(rec);
                    let _ = log_record_to_event(rec);
                }
            }
        }
        Batch::Logs(req.resource_logs)
    } else {
        let req = if json {
            serde_json::from_slice::<ExportTraceServiceRequest>(body).ok()
        } else {
            ExportTraceServiceRequest::decode(body).ok()
        };
        let Some(req) = req else { return };
        for rs in &req.resource_spans {
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let _ = key_values_to_json(&span.attributes);
                }
            }
        }
        Batch::Traces(req.resource_spans)
    };
    always_on().redact_batch(&mut batch);
}
