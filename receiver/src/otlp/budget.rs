//! How much memory an OTLP request will take once decoded, found before it
//! is decoded. A body can be small and still decode into a lot: an empty
//! `LogRecord` is 2 bytes of protobuf (3 of JSON) but a 184-byte struct, so
//! 20 MiB of them would become gigabytes. [`check`] walks the protobuf wire
//! format (or scans the JSON text) once, adds up what decoding would
//! allocate (one struct per element of a repeated message field, the bytes
//! of every string), and refuses the request when that is over the budget.
//! Nesting deeper than the decoders allow (prost: 100 messages, serde_json:
//! 128 levels) is refused here too, without recursing that deep.

use opentelemetry_proto::tonic::common::v1::{AnyValue, EntityRef, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};
use std::mem::size_of;

/// The decoded-size budget of a request whose body may be `max_body`
/// bytes: four times that, and at least 64 MiB. Realistic requests need
/// one to three times their protobuf size; only floods of tiny records
/// (tens of bytes each) come near the budget.
pub(crate) fn decoded_budget(max_body: usize) -> u64 {
    let max = u64::try_from(max_body).unwrap_or(u64::MAX);
    max.saturating_mul(4).max(64 << 20)
}

/// Nesting accepted in protobuf: prost's recursion limit.
const PROTOBUF_DEPTH: usize = 100;
/// Nesting accepted in JSON: serde_json's recursion limit.
const JSON_DEPTH: usize = 128;

/// The request types the receiver decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `ExportLogsServiceRequest`.
    Logs,
    /// `ExportTraceServiceRequest`.
    Traces,
}

/// Why a request is refused before decoding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum BudgetError {
    /// Decoding would take more than the budget.
    #[error("the request would take {needed} bytes of memory once decoded, over the receiver's budget of {budget} bytes; send smaller batches")]
    TooLarge {
        /// What decoding would take (at least; the walk stops at the budget).
        needed: u64,
        /// The budget.
        budget: u64,
    },
    /// Messages or values nested deeper than the decoder allows.
    #[error("nested more than {0} levels deep")]
    TooDeep(usize),
    /// Not valid protobuf wire format (a truncated field, a bad varint).
    #[error("invalid protobuf wire format at byte {0}")]
    Malformed(usize),
}

/// Checks that `body` (protobuf when `protobuf`, else OTLP/JSON) decodes
/// as `request` within `budget` bytes.
pub(crate) fn check(
    request: Request,
    protobuf: bool,
    body: &[u8],
    budget: u64,
) -> Result<(), BudgetError> {
    let needed = estimate(request, protobuf, body, budget)?;
    if needed > budget {
        return Err(BudgetError::TooLarge { needed, budget });
    }
    Ok(())
}

/// What decoding `body` would allocate; the scan stops once that is over
/// `stop_over`.
fn estimate(
    request: Request,
    protobuf: bool,
    body: &[u8],
    stop_over: u64,
) -> Result<u64, BudgetError> {
    if !protobuf {
        return json_cost(body, stop_over);
    }
    let root = match request {
        Request::Logs => Msg::LogsRequest,
        Request::Traces => Msg::TracesRequest,
    };
    let mut walk = Walk {
        cost: 0,
        budget: stop_over,
    };
    walk.message(root, body, 0, 0)?;
    Ok(walk.cost)
}

/// The OTLP messages of the logs and traces requests.
#[derive(Clone, Copy, Debug)]
enum Msg {
    LogsRequest,
    TracesRequest,
    ResourceLogs,
    ResourceSpans,
    Resource,
    EntityRef,
    ScopeLogs,
    ScopeSpans,
    Scope,
    LogRecord,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

/// What a length-delimited field holds.
enum Field {
    /// A message; `Some(size)` when the field is repeated (each element is
    /// a struct of that size in a `Vec`), `None` when it is inline.
    Message(Msg, Option<usize>),
    /// A string or bytes value; `Some(size)` when repeated.
    Bytes(Option<usize>),
}

/// The length-delimited field `number` of `msg`; unknown fields are bytes
/// (prost skips them, so counting their length only errs on the safe side).
fn field(msg: Msg, number: u64) -> Field {
    use Field::{Bytes, Message};
    let repeated = |m: Msg, size: usize| Message(m, Some(size));
    let inline = |m: Msg| Message(m, None);
    match (msg, number) {
        (Msg::LogsRequest, 1) => repeated(Msg::ResourceLogs, size_of::<ResourceLogs>()),
        (Msg::TracesRequest, 1) => repeated(Msg::ResourceSpans, size_of::<ResourceSpans>()),
        (Msg::ResourceLogs | Msg::ResourceSpans, 1) => inline(Msg::Resource),
        (Msg::ResourceLogs, 2) => repeated(Msg::ScopeLogs, size_of::<ScopeLogs>()),
        (Msg::ResourceSpans, 2) => repeated(Msg::ScopeSpans, size_of::<ScopeSpans>()),
        (Msg::Resource, 1) | (Msg::Scope, 3) | (Msg::LogRecord, 6) | (Msg::Span, 9) => {
            repeated(Msg::KeyValue, size_of::<KeyValue>())
        }
        (Msg::Event, 3) | (Msg::Link, 4) | (Msg::KeyValueList, 1) => {
            repeated(Msg::KeyValue, size_of::<KeyValue>())
        }
        (Msg::Resource, 3) => repeated(Msg::EntityRef, size_of::<EntityRef>()),
        (Msg::EntityRef, 3 | 4) => Bytes(Some(size_of::<String>())),
        (Msg::ScopeLogs | Msg::ScopeSpans, 1) => inline(Msg::Scope),
        (Msg::ScopeLogs, 2) => repeated(Msg::LogRecord, size_of::<LogRecord>()),
        (Msg::ScopeSpans, 2) => repeated(Msg::Span, size_of::<Span>()),
        (Msg::LogRecord, 5) | (Msg::KeyValue, 2) => inline(Msg::AnyValue),
        (Msg::Span, 11) => repeated(Msg::Event, size_of::<span::Event>()),
        (Msg::Span, 13) => repeated(Msg::Link, size_of::<span::Link>()),
        (Msg::Span, 15) => inline(Msg::Status),
        (Msg::AnyValue, 5) => inline(Msg::ArrayValue),
        (Msg::AnyValue, 6) => inline(Msg::KeyValueList),
        (Msg::ArrayValue, 1) => repeated(Msg::AnyValue, size_of::<AnyValue>()),
        _ => Bytes(None),
    }
}

struct Walk {
    cost: u64,
    budget: u64,
}

impl Walk {
    fn add(&mut self, bytes: usize) {
        self.cost = self
            .cost
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
    }

    /// Adds up the message `msg` encoded in `buf` (which starts at byte
    /// `offset` of the body), `depth` messages deep.
    fn message(
        &mut self,
        msg: Msg,
        buf: &[u8],
        offset: usize,
        depth: usize,
    ) -> Result<(), BudgetError> {
        if depth > PROTOBUF_DEPTH {
            return Err(BudgetError::TooDeep(PROTOBUF_DEPTH));
        }
        let mut at = 0;
        while at < buf.len() {
            let malformed = |at: usize| BudgetError::Malformed(offset + at);
            let (key, n) = varint(&buf[at..]).ok_or(malformed(at))?;
            at += n;
            match key & 7 {
                0 => at += varint(&buf[at..]).ok_or(malformed(at))?.1,
                1 => at += 8,
                5 => at += 4,
                2 => {
                    let (len, n) = varint(&buf[at..]).ok_or(malformed(at))?;
                    at += n;
                    let len = usize::try_from(len).map_err(|_| malformed(at))?;
                    let end = at.checked_add(len).ok_or(malformed(at))?;
                    let value = buf.get(at..end).ok_or(malformed(at))?;
                    match field(msg, key >> 3) {
                        Field::Message(child, element) => {
                            self.add(element.unwrap_or(0));
                            self.message(child, value, offset + at, depth + 1)?;
                        }
                        Field::Bytes(element) => self.add(element.unwrap_or(0) + len),
                    }
                    at = end;
                }
                // Groups (3, 4) are not part of OTLP; 6 and 7 do not exist.
                _ => return Err(malformed(at)),
            }
            if at > buf.len() {
                return Err(malformed(buf.len()));
            }
            if self.cost > self.budget {
                // No need to walk further: the answer is no.
                return Ok(());
            }
        }
        Ok(())
    }
}

/// A protobuf varint at the start of `buf`: its value and length.
fn varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, b) in buf.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The struct size of each element of the JSON array under `key`; an
/// unknown key gets the largest, so the estimate never falls short.
fn json_element(key: &[u8]) -> usize {
    match key {
        b"resourceLogs" | b"resource_logs" => size_of::<ResourceLogs>(),
        b"resourceSpans" | b"resource_spans" => size_of::<ResourceSpans>(),
        b"scopeLogs" | b"scope_logs" => size_of::<ScopeLogs>(),
        b"scopeSpans" | b"scope_spans" => size_of::<ScopeSpans>(),
        b"logRecords" | b"log_records" => size_of::<LogRecord>(),
        b"spans" => size_of::<Span>(),
        b"events" => size_of::<span::Event>(),
        b"links" => size_of::<span::Link>(),
        b"attributes" => size_of::<KeyValue>(),
        b"values" => size_of::<KeyValue>().max(size_of::<AnyValue>()),
        b"entityRefs" | b"entity_refs" => size_of::<EntityRef>(),
        b"idKeys" | b"id_keys" | b"descriptionKeys" | b"description_keys" => size_of::<String>(),
        _ => LARGEST,
    }
}

/// The largest struct an OTLP JSON array element can become.
const LARGEST: usize = {
    let sizes = [
        size_of::<ResourceLogs>(),
        size_of::<ResourceSpans>(),
        size_of::<ScopeLogs>(),
        size_of::<ScopeSpans>(),
        size_of::<LogRecord>(),
        size_of::<Span>(),
        size_of::<span::Event>(),
        size_of::<span::Link>(),
        size_of::<KeyValue>(),
        size_of::<AnyValue>(),
        size_of::<EntityRef>(),
    ];
    let mut max = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > max {
            max = sizes[i];
        }
        i += 1;
    }
    max
};

/// An open JSON object, or an open array with the size of its elements and
/// whether the next value starts a new element.
enum Open {
    Object,
    Array { element: usize, expecting: bool },
}

/// What decoding the OTLP/JSON `body` would allocate: one struct per array
/// element (sized by the array's key) and the length of every string.
/// The text is only scanned, not validated: serde_json does that next.
fn json_cost(body: &[u8], budget: u64) -> Result<u64, BudgetError> {
    let mut cost: u64 = 0;
    let mut open: Vec<Open> = Vec::new();
    // The last string seen in an object: the key of a value that follows.
    let mut key: &[u8] = b"";
    let mut at = 0;
    while at < body.len() && cost <= budget {
        let byte = body[at];
        if byte.is_ascii_whitespace() || byte == b':' {
            at += 1;
            continue;
        }
        if byte == b',' {
            if let Some(Open::Array { expecting, .. }) = open.last_mut() {
                *expecting = true;
            }
            at += 1;
            continue;
        }
        if byte == b']' || byte == b'}' {
            open.pop();
            at += 1;
            continue;
        }
        // Any other byte starts a value (or a key, inside an object).
        if let Some(Open::Array { element, expecting }) = open.last_mut() {
            if *expecting {
                *expecting = false;
                cost = cost.saturating_add(*element as u64);
            }
        }
        match byte {
            b'{' | b'[' => {
                if open.len() >= JSON_DEPTH {
                    return Err(BudgetError::TooDeep(JSON_DEPTH));
                }
                let entry = if byte == b'{' {
                    Open::Object
                } else {
                    let element = match open.last() {
                        Some(Open::Object) => json_element(key),
                        _ => LARGEST,
                    };
                    Open::Array {
                        element,
                        expecting: true,
                    }
                };
                open.push(entry);
                at += 1;
            }
            b'"' => {
                let start = at + 1;
                let mut end = start;
                while end < body.len() && body[end] != b'"' {
                    end += if body[end] == b'\\' { 2 } else { 1 };
                }
                let end = end.min(body.len());
                key = &body[start..end];
                cost = cost.saturating_add((end - start) as u64);
                at = end + 1;
            }
            _ => at += 1,
        }
    }
    Ok(cost)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use prost::Message;

    const BUDGET: u64 = 64 << 20;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn logs(records: usize) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: (0..records)
                        .map(|_| LogRecord {
                            body: Some(AnyValue {
                                value: Some(Value::StringValue("hello".into())),
                            }),
                            attributes: vec![kv("k", "v")],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn needed(request: Request, protobuf: bool, body: &[u8]) -> u64 {
        estimate(request, protobuf, body, u64::MAX).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Scenario: a request of three records, each with a string body and
    /// one attribute, in protobuf.
    /// Guarantees: the estimate is exactly the structs and strings prost
    /// allocates for it.
    #[test]
    fn protobuf_estimate_is_what_decoding_allocates() {
        let body = logs(3).encode_to_vec();
        let per_record = size_of::<LogRecord>() + "hello".len() + size_of::<KeyValue>() + 2;
        let expected = size_of::<ResourceLogs>() + size_of::<ScopeLogs>() + 3 * per_record;
        assert_eq!(needed(Request::Logs, true, &body), expected as u64);
        assert_eq!(check(Request::Logs, true, &body, BUDGET), Ok(()));
    }

    /// Scenario: 4 MiB of empty log records (2 bytes each in protobuf, 3
    /// in JSON) and of empty spans.
    /// Guarantees: refused, naming what decoding would take (about 2M
    /// structs of 184 or 264 bytes, far over the 64 MiB budget).
    #[test]
    fn floods_of_empty_records_are_refused() {
        let n = 2 << 20;
        let mut scope = Vec::new();
        for _ in 0..n {
            scope.extend_from_slice(&[0x12, 0x00]);
        }
        let wrap = |tag: u8, inner: &[u8]| {
            let mut out = vec![tag];
            prost::encoding::encode_varint(inner.len() as u64, &mut out);
            out.extend_from_slice(inner);
            out
        };
        let body = wrap(0x0a, &wrap(0x12, &scope));
        match check(Request::Logs, true, &body, BUDGET) {
            Err(BudgetError::TooLarge { needed, budget }) => {
                assert!(needed > budget && budget == BUDGET, "{needed}")
            }
            other => panic!("{other:?}"),
        }
        match check(Request::Traces, true, &body, BUDGET) {
            Err(BudgetError::TooLarge { .. }) => {}
            other => panic!("{other:?}"),
        }

        let mut json = String::from(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":["#);
        json.push_str(&vec!["{}"; n].join(","));
        json.push_str("]}]}]}");
        match check(Request::Logs, false, json.as_bytes(), BUDGET) {
            Err(BudgetError::TooLarge { needed, .. }) => assert!(needed > BUDGET),
            other => panic!("{other:?}"),
        }
    }

    /// Scenario: the same realistic request in protobuf and in JSON.
    /// Guarantees: both fit the budget, and the JSON estimate stays within
    /// a small factor of the protobuf one (the text scan is coarser).
    #[test]
    fn realistic_requests_fit() {
        let request = logs(1000);
        let proto = needed(Request::Logs, true, &request.encode_to_vec());
        let json = serde_json::to_vec(&request).unwrap();
        let from_json = needed(Request::Logs, false, &json);
        assert!(from_json >= proto, "{from_json} < {proto}");
        assert!(from_json < proto * 2, "{from_json} vs {proto}");
        assert_eq!(check(Request::Logs, false, &json, BUDGET), Ok(()));
        let spans = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: "GET /".into(),
                        attributes: vec![kv("http.method", "GET")],
                        events: vec![span::Event::default()],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let body = spans.encode_to_vec();
        let expected = size_of::<ResourceSpans>()
            + size_of::<ScopeSpans>()
            + size_of::<Span>()
            + "GET /".len()
            + size_of::<KeyValue>()
            + "http.method".len()
            + "GET".len()
            + size_of::<span::Event>();
        assert_eq!(needed(Request::Traces, true, &body), expected as u64);
    }

    /// Scenario: an attribute value nested 200 levels deep (kvlist in
    /// kvlist), in protobuf and in JSON.
    /// Guarantees: TooDeep from the scan, which itself recurses at most as
    /// deep as the decoder would.
    #[test]
    fn deep_nesting_is_refused() {
        let mut value = AnyValue {
            value: Some(Value::StringValue("leaf".into())),
        };
        for _ in 0..200 {
            value = AnyValue {
                value: Some(Value::KvlistValue(
                    opentelemetry_proto::tonic::common::v1::KeyValueList {
                        values: vec![KeyValue {
                            key: "k".into(),
                            value: Some(value),
                            ..Default::default()
                        }],
                    },
                )),
            };
        }
        let mut request = logs(1);
        request.resource_logs[0].scope_logs[0].log_records[0].body = Some(value);
        let body = request.encode_to_vec();
        assert_eq!(
            check(Request::Logs, true, &body, BUDGET),
            Err(BudgetError::TooDeep(PROTOBUF_DEPTH))
        );
        let json = serde_json::to_vec(&request).unwrap();
        assert_eq!(
            check(Request::Logs, false, &json, BUDGET),
            Err(BudgetError::TooDeep(JSON_DEPTH))
        );
        // Brackets alone, a million deep: refused at the limit.
        let brackets = "[".repeat(1 << 20);
        assert_eq!(
            check(Request::Logs, false, brackets.as_bytes(), BUDGET),
            Err(BudgetError::TooDeep(JSON_DEPTH))
        );
    }

    /// Scenario: truncated and invalid protobuf, and JSON with an
    /// unterminated string or escapes.
    /// Guarantees: protobuf errors give the byte offset; the JSON scan
    /// never fails on text serde_json will reject anyway, and skips
    /// escaped quotes inside strings.
    #[test]
    fn malformed_input() {
        let body = logs(2).encode_to_vec();
        assert!(matches!(
            check(Request::Logs, true, &body[..body.len() - 3], BUDGET),
            Err(BudgetError::Malformed(_))
        ));
        assert!(matches!(
            check(Request::Logs, true, &[0xff; 11], BUDGET),
            Err(BudgetError::Malformed(0))
        ));
        assert!(matches!(
            check(Request::Logs, true, &[0x0b, 0x00], BUDGET),
            Err(BudgetError::Malformed(_))
        ));
        assert_eq!(
            check(Request::Logs, false, br#"{"a":"unterminated"#, BUDGET),
            Ok(())
        );
        // `"x\"]"` is one string: the bracket inside it closes nothing.
        assert_eq!(
            needed(Request::Logs, false, br#"{"logRecords":["x\"]",{}]}"#),
            (b"logRecords".len() + br#"x\"]"#.len() + 2 * size_of::<LogRecord>()) as u64
        );
    }
}
