//! `oisp_json`: OISP JSON events as the `jsonl` receiver and OISP-speaking
//! peers hand them to oispd (semconv's serde model), then the OISP -> OTel
//! mapping and back (log record -> event JSON -> event).
//!
//! Input: one JSON document.

use oispd_semconv::otel::{event_to_log_record, log_record_event_json, log_record_to_event};
use oispd_semconv::OispEvent;

/// Parses one event and maps it.
pub fn oisp_json(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<OispEvent>(data) else {
        return;
    };
    let record = event_to_log_record(&event);
    let _ = log_record_event_json(&record);
    let _ = log_record_to_event(&record);
    let _ = serde_json::to_vec(&event);
}
