//! Turns a batch into Kafka messages: one per OISP event (`oisp_json`) or
//! one OTLP export request per resource (`otlp_proto`, `otlp_json`), each
//! keyed by host and process so that one agent's records keep their order
//! inside one partition (`oisp_json` messages go out in event-time order,
//! since a batch groups records by resource and one agent's records may sit
//! under several resources). Messages above the size limit are set aside
//! here, before anything is sent (`otlp_proto` ones before they are even
//! encoded). OTLP messages are encoded straight from the borrowed batch,
//! never from a copy of its resource groups; `otlp_proto` logs through
//! [`crate::otlp::proto`], which computes nested lengths once.

use super::config::Encoding;
use crate::oisp_view::{json_records, producer_key, record_json};
use crate::otlp::proto::MeasuredLogs;
use oispd_component::Batch;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::encoding::{encode_varint, encoded_len_varint};
use prost::Message;
use serde::Serialize;

/// One message ready to send.
#[derive(Debug)]
pub(crate) struct OutMessage {
    /// Partition key (`host/pid`), if known.
    pub(crate) key: Option<String>,
    /// Encoded value.
    pub(crate) payload: Vec<u8>,
    /// Records the message holds.
    pub(crate) records: u64,
}

/// A message that exceeds the size limit and is not sent.
#[derive(Debug, PartialEq)]
pub(crate) struct Oversized {
    /// Its size in bytes (key plus value).
    pub(crate) bytes: usize,
    /// Records it held.
    pub(crate) records: u64,
    /// OISP event ids of those records (empty for non-OISP records).
    pub(crate) event_ids: Vec<String>,
}

/// A batch as messages, with what was set aside.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    /// Messages to send, in batch order.
    pub(crate) messages: Vec<OutMessage>,
    /// Messages over the limit.
    pub(crate) oversized: Vec<Oversized>,
}

impl Encoded {
    /// Keeps `msg`, or sets it aside when its key and value together exceed
    /// `max_bytes`.
    fn push(&mut self, msg: OutMessage, max_bytes: usize, event_ids: impl FnOnce() -> Vec<String>) {
        let bytes = msg.payload.len() + msg.key.as_ref().map_or(0, String::len);
        if bytes > max_bytes {
            self.oversized.push(Oversized {
                bytes,
                records: msg.records,
                event_ids: event_ids(),
            });
        } else {
            self.messages.push(msg);
        }
    }

    /// Encodes a resource group of `len` bytes, which `write` appends, as
    /// the protobuf export request that carries it alone, straight from the
    /// borrowed group; or sets it aside, unencoded, when the request and
    /// `key` would exceed `max_bytes`.
    ///
    /// Both OTLP export requests hold their resource groups in field 1, so
    /// a request of one group is that field's key, the group's length and
    /// the group: the bytes `Export*ServiceRequest::encode_to_vec` gives,
    /// without copying the group into a request first.
    fn push_proto(
        &mut self,
        key: Option<String>,
        (len, write): (usize, impl FnOnce(&mut Vec<u8>)),
        records: u64,
        max_bytes: usize,
        event_ids: impl FnOnce() -> Vec<String>,
    ) {
        let request_len = 1 + encoded_len_varint(len as u64) + len;
        let bytes = request_len + key.as_ref().map_or(0, String::len);
        if bytes > max_bytes {
            self.oversized.push(Oversized {
                bytes,
                records,
                event_ids: event_ids(),
            });
            return;
        }
        let mut payload = Vec::with_capacity(request_len);
        payload.push(GROUP_FIELD_KEY);
        encode_varint(len as u64, &mut payload);
        write(&mut payload);
        self.messages.push(OutMessage {
            key,
            payload,
            records,
        });
    }
}

/// The key of field 1 (the resource groups) of `ExportLogsServiceRequest`
/// and `ExportTraceServiceRequest`: field number 1, wire type 2
/// (length-delimited).
const GROUP_FIELD_KEY: u8 = (1 << 3) | 2;

/// Encodes `batch` with `encoding`; messages above `max_bytes` go to
/// [`Encoded::oversized`].
pub(crate) fn encode(batch: &Batch, encoding: Encoding, max_bytes: usize) -> Encoded {
    let mut out = Encoded::default();
    match batch {
        Batch::Logs(logs) => match encoding {
            Encoding::OispJson => {
                // Records are grouped by resource in a batch, so one agent's
                // events may sit in several groups; their time restores the
                // order they happened in (stable for equal times).
                let mut records = json_records(logs);
                records.sort_by_key(|r| r.time_unix_nano);
                for rec in records {
                    let key = producer_key(rec.resource, Some(&rec.json));
                    let event_id = rec.event_id().map(String::from);
                    let payload = match serde_json::to_vec(&rec.json) {
                        Ok(p) => p,
                        Err(_) => continue,
                    };
                    let msg = OutMessage {
                        key,
                        payload,
                        records: 1,
                    };
                    out.push(msg, max_bytes, || event_id.into_iter().collect());
                }
            }
            Encoding::OtlpProto => {
                for rl in logs {
                    let key = producer_key(rl.resource.as_ref(), None);
                    let group = MeasuredLogs::new(rl);
                    let encoded = (group.len(), |buf: &mut Vec<u8>| group.write(buf));
                    out.push_proto(key, encoded, log_count(rl), max_bytes, || log_event_ids(rl));
                }
            }
            Encoding::OtlpJson => {
                for rl in logs {
                    let key = producer_key(rl.resource.as_ref(), None);
                    let req = LogsRequest {
                        resource_logs: [rl],
                    };
                    let Ok(payload) = serde_json::to_vec(&req) else {
                        continue;
                    };
                    let msg = OutMessage {
                        key,
                        payload,
                        records: log_count(rl),
                    };
                    out.push(msg, max_bytes, || log_event_ids(rl));
                }
            }
        },
        Batch::Traces(spans) => {
            for rs in spans {
                let key = producer_key(rs.resource.as_ref(), None);
                let records = span_count(rs);
                // oisp_json is rejected for traces by validation; protobuf is
                // the traces default.
                if encoding == Encoding::OtlpJson {
                    let req = TraceRequest {
                        resource_spans: [rs],
                    };
                    let Ok(payload) = serde_json::to_vec(&req) else {
                        continue;
                    };
                    let msg = OutMessage {
                        key,
                        payload,
                        records,
                    };
                    out.push(msg, max_bytes, Vec::new);
                } else {
                    let encoded = (rs.encoded_len(), |buf: &mut Vec<u8>| rs.encode_raw(buf));
                    out.push_proto(key, encoded, records, max_bytes, Vec::new);
                }
            }
        }
        // The exporter refuses metrics before encoding (see `send`).
        Batch::Metrics(_) => {}
    }
    out
}

/// `ExportLogsServiceRequest` with one resource group, borrowed: its
/// OTLP/JSON is the owned request's, without copying the group.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogsRequest<'a> {
    resource_logs: [&'a ResourceLogs; 1],
}

/// `ExportTraceServiceRequest` with one resource group, borrowed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TraceRequest<'a> {
    resource_spans: [&'a ResourceSpans; 1],
}

fn log_count(rl: &ResourceLogs) -> u64 {
    rl.scope_logs
        .iter()
        .map(|s| s.log_records.len() as u64)
        .sum()
}

fn span_count(rs: &ResourceSpans) -> u64 {
    rs.scope_spans.iter().map(|s| s.spans.len() as u64).sum()
}

/// The OISP event ids inside one resource's records.
fn log_event_ids(rl: &ResourceLogs) -> Vec<String> {
    let resource = rl.resource.as_ref();
    rl.scope_logs
        .iter()
        .flat_map(|sl| {
            sl.log_records
                .iter()
                .map(move |r| record_json(resource, sl.scope.as_ref(), r))
        })
        .filter_map(|j| j.get("event_id").and_then(|v| v.as_str()).map(String::from))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use oispd_semconv::otel::events_to_resource_logs;
    use oispd_semconv::OispEvent;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use serde_json::{json, Value};

    /// An OISP event of `event_type` from host `host`, pid `pid`.
    pub(crate) fn event(
        id: &str,
        event_type: &str,
        host: &str,
        pid: i64,
        extra: Value,
    ) -> OispEvent {
        event_at(id, event_type, host, pid, 0, extra)
    }

    /// Like [`event`], `ms` milliseconds after a fixed instant.
    pub(crate) fn event_at(
        id: &str,
        event_type: &str,
        host: &str,
        pid: i64,
        ms: u32,
        extra: Value,
    ) -> OispEvent {
        let mut v = json!({
            "oisp_version": "0.1",
            "event_id": id,
            "event_type": event_type,
            "ts": format!("2025-12-22T14:30:16.{ms:03}Z"),
            "host": {"hostname": host},
            "process": {"pid": pid, "name": "python3"},
            "source": {"collector": "test"},
            "confidence": {"level": "high", "completeness": "full"},
            "data": {}
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        OispEvent::from_value(v).unwrap()
    }

    fn batch(events: Vec<OispEvent>) -> Batch {
        Batch::Logs(events_to_resource_logs(events))
    }

    /// Scenario: three events from two processes, oisp_json.
    /// Guarantees: one message per event, exact OISP JSON, keyed host/pid,
    /// in batch order per key.
    #[test]
    fn oisp_json_is_one_event_per_message_keyed_by_host_and_pid() {
        let b = batch(vec![
            event("01A", "ai.request", "h1", 10, json!({})),
            event("01B", "ai.request", "h1", 11, json!({})),
            event("01C", "ai.response", "h1", 10, json!({})),
        ]);
        let enc = encode(&b, Encoding::OispJson, 1_000_000);
        assert!(enc.oversized.is_empty());
        let got: Vec<(Option<&str>, Value)> = enc
            .messages
            .iter()
            .map(|m| {
                (
                    m.key.as_deref(),
                    serde_json::from_slice(&m.payload).unwrap(),
                )
            })
            .collect();
        assert_eq!(got.len(), 3);
        let ids_of = |key: &str| -> Vec<String> {
            got.iter()
                .filter(|(k, _)| *k == Some(key))
                .map(|(_, v)| v["event_id"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(ids_of("h1/10"), vec!["01A", "01C"]);
        assert_eq!(ids_of("h1/11"), vec!["01B"]);
        assert!(got.iter().all(|(_, v)| v["oisp_version"] == "0.1"));
    }

    /// Scenario: one agent's events come under two resources (its process
    /// name changed), interleaved in time, so the batch groups them apart.
    /// Guarantees: the agent's messages still go out in time order.
    #[test]
    fn oisp_json_keeps_each_agents_time_order_across_resources() {
        let renamed = json!({"process": {"pid": 10, "name": "node"}});
        let b = batch(vec![
            event_at("01A", "ai.request", "h1", 10, 1, json!({})),
            event_at("01B", "ai.request", "h1", 10, 2, renamed.clone()),
            event_at("01C", "ai.response", "h1", 10, 3, json!({})),
            event_at("01D", "ai.response", "h1", 10, 4, renamed),
        ]);
        let Batch::Logs(ref logs) = b else { panic!() };
        assert_eq!(logs.len(), 2, "two resources");
        let enc = encode(&b, Encoding::OispJson, 1_000_000);
        let ids: Vec<String> = enc
            .messages
            .iter()
            .map(|m| {
                assert_eq!(m.key.as_deref(), Some("h1/10"));
                let v: Value = serde_json::from_slice(&m.payload).unwrap();
                v["event_id"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(ids, vec!["01A", "01B", "01C", "01D"]);
    }

    /// Scenario: otlp_proto and otlp_json encodings of two resources.
    /// Guarantees: one decodable export request per resource, with its key.
    #[test]
    fn otlp_encodings_are_one_request_per_resource() {
        let b = batch(vec![
            event("01A", "ai.request", "h1", 10, json!({})),
            event("01B", "ai.request", "h2", 20, json!({})),
            event("01C", "ai.response", "h1", 10, json!({})),
        ]);
        let proto = encode(&b, Encoding::OtlpProto, 1_000_000);
        assert_eq!(proto.messages.len(), 2);
        let first = ExportLogsServiceRequest::decode(proto.messages[0].payload.as_slice()).unwrap();
        assert_eq!(first.resource_logs[0].scope_logs[0].log_records.len(), 2);
        assert_eq!(proto.messages[0].key.as_deref(), Some("h1/10"));
        assert_eq!(proto.messages[0].records, 2);
        let js = encode(&b, Encoding::OtlpJson, 1_000_000);
        let back: ExportLogsServiceRequest =
            serde_json::from_slice(&js.messages[1].payload).unwrap();
        assert_eq!(back.resource_logs[0].scope_logs[0].log_records.len(), 1);
        assert_eq!(js.messages[1].key.as_deref(), Some("h2/20"));
    }

    /// Scenario: a batch of two resources of logs and one of spans, in both
    /// OTLP encodings.
    /// Guarantees: each message is byte for byte the export request built
    /// from a copy of its resource group, so encoding from the borrowed
    /// group changes nothing on the wire.
    #[test]
    fn otlp_messages_are_the_requests_of_one_group() {
        let b = batch(vec![
            event("01A", "ai.request", "h1", 10, json!({"data": {"n": 1}})),
            event("01B", "ai.request", "h2", 20, json!({})),
        ]);
        let Batch::Logs(ref logs) = b else { panic!() };
        let proto = encode(&b, Encoding::OtlpProto, 1_000_000);
        let js = encode(&b, Encoding::OtlpJson, 1_000_000);
        assert_eq!(proto.messages.len(), 2);
        assert_eq!(js.messages.len(), 2);
        for (i, rl) in logs.iter().enumerate() {
            let owned = ExportLogsServiceRequest {
                resource_logs: vec![rl.clone()],
            };
            assert_eq!(proto.messages[i].payload, owned.encode_to_vec());
            assert_eq!(js.messages[i].payload, serde_json::to_vec(&owned).unwrap());
        }
        let spans = vec![ResourceSpans {
            scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                spans: vec![
                    opentelemetry_proto::tonic::trace::v1::Span {
                        name: "call".into(),
                        trace_id: vec![7; 16],
                        span_id: vec![9; 8],
                        ..Default::default()
                    };
                    2
                ],
                ..Default::default()
            }],
            ..Default::default()
        }];
        let owned = ExportTraceServiceRequest {
            resource_spans: spans.clone(),
        };
        let b = Batch::Traces(spans);
        let proto = encode(&b, Encoding::OtlpProto, 1_000_000);
        assert_eq!(proto.messages[0].payload, owned.encode_to_vec());
        let js = encode(&b, Encoding::OtlpJson, 1_000_000);
        assert_eq!(js.messages[0].payload, serde_json::to_vec(&owned).unwrap());
    }

    /// Scenario: protobuf messages right at and just above the limit.
    /// Guarantees: the limit counts the whole request plus the key, as the
    /// encoded message would; one byte over is set aside with its size.
    #[test]
    fn otlp_proto_limit_counts_the_request_and_key() {
        let b = batch(vec![event("01A", "ai.request", "h1", 10, json!({}))]);
        let Batch::Logs(ref logs) = b else { panic!() };
        let exact = ExportLogsServiceRequest {
            resource_logs: logs.clone(),
        }
        .encode_to_vec()
        .len()
            + "h1/10".len();
        let fits = encode(&b, Encoding::OtlpProto, exact);
        assert_eq!(fits.messages.len(), 1);
        let over = encode(&b, Encoding::OtlpProto, exact - 1);
        assert!(over.messages.is_empty());
        assert_eq!(over.oversized[0].bytes, exact);
        assert_eq!(over.oversized[0].event_ids, vec!["01A"]);
    }

    /// Scenario: one event carries a huge payload.
    /// Guarantees: it is set aside with its event id; the others still go.
    #[test]
    fn oversized_message_is_set_aside_with_its_event_id() {
        let big = "x".repeat(5000);
        let b = batch(vec![
            event("01A", "ai.request", "h1", 10, json!({})),
            event(
                "01BIG",
                "ai.request",
                "h1",
                10,
                json!({"data": {"blob": big}}),
            ),
            event("01C", "ai.request", "h1", 10, json!({})),
        ]);
        let enc = encode(&b, Encoding::OispJson, 2000);
        assert_eq!(enc.messages.len(), 2);
        assert_eq!(enc.oversized.len(), 1);
        assert_eq!(enc.oversized[0].event_ids, vec!["01BIG"]);
        assert!(enc.oversized[0].bytes > 5000);
        let proto = encode(&b, Encoding::OtlpProto, 2000);
        assert!(proto.messages.is_empty());
        assert_eq!(proto.oversized[0].event_ids, vec!["01A", "01BIG", "01C"]);
        assert_eq!(proto.oversized[0].records, 3);
    }

    /// Scenario: spans. Guarantees: protobuf by default, one per resource.
    #[test]
    fn traces_are_otlp_requests() {
        let b = Batch::Traces(vec![ResourceSpans {
            scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                spans: vec![Default::default(); 3],
                ..Default::default()
            }],
            ..Default::default()
        }]);
        let enc = encode(&b, Encoding::OtlpProto, 1_000_000);
        assert_eq!(enc.messages.len(), 1);
        assert_eq!(enc.messages[0].records, 3);
        assert_eq!(enc.messages[0].key, None);
        let req = ExportTraceServiceRequest::decode(enc.messages[0].payload.as_slice()).unwrap();
        assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), 3);
    }
}
