//! OTLP request bodies encoded straight from a borrowed [`Batch`], so the
//! exporters never copy a batch to wrap it in an `Export*ServiceRequest`.
//!
//! The protobuf form writes each resource group as field 1 of the request,
//! which is byte-for-byte what encoding `ExportLogsServiceRequest` /
//! `ExportTraceServiceRequest` / `ExportMetricsServiceRequest` gives; the
//! JSON form is the OTLP/JSON envelope (`{"resourceLogs":[...]}`) that
//! opentelemetry-proto's serde support writes (camelCase keys, hex ids,
//! int64 as strings). Log groups are written by [`super::proto`], which
//! computes each nested length once (prost recomputes it at every
//! enclosing level).

use super::proto::MeasuredLogs;
use oispd_component::Batch;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, message, WireType};
use serde::Serialize;

/// Field number of `resource_logs` / `resource_spans` / `resource_metrics`
/// in the requests.
const RESOURCE_FIELD: u32 = 1;

/// The protobuf `Export*ServiceRequest` of `batch`.
pub fn request_proto(batch: &Batch) -> Vec<u8> {
    match batch {
        Batch::Logs(groups) => {
            let measured: Vec<MeasuredLogs<'_>> = groups.iter().map(MeasuredLogs::new).collect();
            let len: usize = measured
                .iter()
                .map(|m| key_len(RESOURCE_FIELD) + encoded_len_varint(m.len() as u64) + m.len())
                .sum();
            let mut buf = Vec::with_capacity(len);
            for m in &measured {
                encode_key(RESOURCE_FIELD, WireType::LengthDelimited, &mut buf);
                encode_varint(m.len() as u64, &mut buf);
                m.write(&mut buf);
            }
            buf
        }
        Batch::Traces(groups) => encode_groups(groups),
        Batch::Metrics(groups) => encode_groups(groups),
    }
}

/// Each group as field 1 of a request.
fn encode_groups<M: prost::Message>(groups: &[M]) -> Vec<u8> {
    let len: usize = groups
        .iter()
        .map(|g| message::encoded_len(RESOURCE_FIELD, g))
        .sum();
    let mut buf = Vec::with_capacity(len);
    for g in groups {
        message::encode(RESOURCE_FIELD, g, &mut buf);
    }
    buf
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogsRequest<'a> {
    resource_logs: &'a [ResourceLogs],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TraceRequest<'a> {
    resource_spans: &'a [ResourceSpans],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetricsRequest<'a> {
    resource_metrics: &'a [ResourceMetrics],
}

/// Appends the OTLP/JSON `Export*ServiceRequest` of `batch` to `out`.
pub fn request_json(batch: &Batch, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match batch {
        Batch::Logs(resource_logs) => serde_json::to_writer(out, &LogsRequest { resource_logs }),
        Batch::Traces(resource_spans) => {
            serde_json::to_writer(out, &TraceRequest { resource_spans })
        }
        Batch::Metrics(resource_metrics) => {
            serde_json::to_writer(out, &MetricsRequest { resource_metrics })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::helper::testing::{logs, metrics, spans};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    /// Scenario: a logs, a traces and a metrics batch.
    /// Guarantees: the bytes and the JSON equal those of the generated
    /// request types.
    #[test]
    fn matches_the_generated_requests() {
        let Batch::Logs(rl) = logs(3) else {
            panic!("logs")
        };
        let owned = ExportLogsServiceRequest {
            resource_logs: rl.clone(),
        };
        let batch = Batch::Logs(rl);
        assert_eq!(request_proto(&batch), owned.encode_to_vec());
        let mut json = Vec::new();
        request_json(&batch, &mut json).unwrap();
        assert_eq!(json, serde_json::to_vec(&owned).unwrap());

        let Batch::Traces(rs) = spans(2) else {
            panic!("traces")
        };
        let owned = ExportTraceServiceRequest {
            resource_spans: rs.clone(),
        };
        let batch = Batch::Traces(rs);
        assert_eq!(request_proto(&batch), owned.encode_to_vec());
        let mut json = Vec::new();
        request_json(&batch, &mut json).unwrap();
        assert_eq!(json, serde_json::to_vec(&owned).unwrap());

        let Batch::Metrics(rm) = metrics(3) else {
            panic!("metrics")
        };
        let owned = ExportMetricsServiceRequest {
            resource_metrics: rm.clone(),
        };
        let batch = Batch::Metrics(rm);
        assert_eq!(request_proto(&batch), owned.encode_to_vec());
        let mut json = Vec::new();
        request_json(&batch, &mut json).unwrap();
        assert_eq!(json, serde_json::to_vec(&owned).unwrap());
    }
}
