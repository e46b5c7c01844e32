//! OTLP log records as protobuf, with each nested message's length computed
//! once.
//!
//! Protobuf writes a nested message's length before the message. prost
//! computes that length by walking the message every time it writes one, so
//! a value nested d messages deep is walked d times. OISP events travel as
//! log bodies nested six to ten messages deep (a kvlist per JSON object), so
//! those walks were most of the exporters' encoding time. This encoder
//! walks a resource group once to record the lengths, in the order the
//! writer needs them, then writes the group in one more walk. The OTLP
//! exporters' and the file exporter's requests ([`super::encode`]) and the
//! kafka exporter's `otlp_proto` messages go through it.
//!
//! The bytes are prost's (fields in tag order, proto3 defaults left out).
//! Resources and scopes, which are shallow, go through prost. Every struct
//! is destructured without `..`, so a field that a newer opentelemetry-proto
//! adds fails to compile here instead of being left out of the messages.

use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, message, WireType};

/// A resource group whose nested lengths have been computed, ready to write.
pub(crate) struct MeasuredLogs<'a> {
    group: &'a ResourceLogs,
    /// The group's own length.
    len: usize,
    /// Lengths of the nested messages the writer delimits, in writing order.
    nested: Vec<usize>,
}

impl<'a> MeasuredLogs<'a> {
    /// Walks `group` once for the lengths of everything nested in it.
    pub(crate) fn new(group: &'a ResourceLogs) -> MeasuredLogs<'a> {
        let mut sizer = Sizer(Vec::new());
        let len = sizer.resource_logs(group);
        MeasuredLogs {
            group,
            len,
            nested: sizer.0,
        }
    }

    /// The encoded length of the group, without a key or length of its own.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends the group's encoding (its fields; no key or length) to `buf`.
    pub(crate) fn write(&self, buf: &mut Vec<u8>) {
        let mut w = Writer {
            buf,
            nested: &self.nested,
            next: 0,
        };
        w.resource_logs(self.group);
        debug_assert_eq!(w.next, self.nested.len(), "every length written once");
    }
}

/// Length of a length-delimited field of `len` bytes.
fn delimited(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// Length of a proto3 string or bytes field (absent when empty).
fn bytes_len(tag: u32, b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        delimited(tag, b.len())
    }
}

/// Length of a proto3 varint field (absent when zero).
fn varint_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

/// The sizing walk: lengths of delimited messages in writing order.
struct Sizer(Vec<usize>);

impl Sizer {
    /// Reserves the slot of a nested message, sizes it with `f` and returns
    /// the length of the field that carries it.
    fn nested(&mut self, tag: u32, f: impl FnOnce(&mut Sizer) -> usize) -> usize {
        let slot = self.0.len();
        self.0.push(0);
        let len = f(self);
        self.0[slot] = len;
        delimited(tag, len)
    }

    fn resource_logs(&mut self, rl: &ResourceLogs) -> usize {
        let ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        } = rl;
        let mut n = resource.as_ref().map_or(0, |r| message::encoded_len(1, r));
        for s in scope_logs {
            n += self.nested(2, |z| z.scope_logs(s));
        }
        n + bytes_len(3, schema_url.as_bytes())
    }

    fn scope_logs(&mut self, sl: &ScopeLogs) -> usize {
        let ScopeLogs {
            scope,
            log_records,
            schema_url,
        } = sl;
        let mut n = scope.as_ref().map_or(0, |s| message::encoded_len(1, s));
        for r in log_records {
            n += self.nested(2, |z| z.log_record(r));
        }
        n + bytes_len(3, schema_url.as_bytes())
    }

    fn log_record(&mut self, r: &LogRecord) -> usize {
        let LogRecord {
            time_unix_nano,
            observed_time_unix_nano,
            severity_number,
            severity_text,
            body,
            attributes,
            dropped_attributes_count,
            flags,
            trace_id,
            span_id,
            event_name,
        } = r;
        let fixed64 = |tag, v: u64| if v == 0 { 0 } else { key_len(tag) + 8 };
        let mut n = fixed64(1, *time_unix_nano)
            + varint_len(2, *severity_number as u64)
            + bytes_len(3, severity_text.as_bytes());
        if let Some(b) = body {
            n += self.nested(5, |z| z.any_value(b));
        }
        for kv in attributes {
            n += self.nested(6, |z| z.key_value(kv));
        }
        n += varint_len(7, u64::from(*dropped_attributes_count));
        if *flags != 0 {
            n += key_len(8) + 4;
        }
        n + bytes_len(9, trace_id)
            + bytes_len(10, span_id)
            + fixed64(11, *observed_time_unix_nano)
            + bytes_len(12, event_name.as_bytes())
    }

    fn key_value(&mut self, kv: &KeyValue) -> usize {
        let KeyValue {
            key,
            value,
            key_strindex,
        } = kv;
        let mut n = bytes_len(1, key.as_bytes());
        if let Some(v) = value {
            n += self.nested(2, |z| z.any_value(v));
        }
        n + varint_len(3, *key_strindex as u64)
    }

    fn any_value(&mut self, v: &AnyValue) -> usize {
        let AnyValue { value } = v;
        // A oneof member is written even when it holds its default.
        match value {
            None => 0,
            Some(any_value::Value::StringValue(s)) => delimited(1, s.len()),
            Some(any_value::Value::BoolValue(_)) => key_len(2) + 1,
            Some(any_value::Value::IntValue(i)) => key_len(3) + encoded_len_varint(*i as u64),
            Some(any_value::Value::DoubleValue(_)) => key_len(4) + 8,
            Some(any_value::Value::ArrayValue(a)) => self.nested(5, |z| z.array(a)),
            Some(any_value::Value::KvlistValue(l)) => self.nested(6, |z| z.kvlist(l)),
            Some(any_value::Value::BytesValue(b)) => delimited(7, b.len()),
            Some(any_value::Value::StringValueStrindex(i)) => {
                key_len(8) + encoded_len_varint(*i as u64)
            }
        }
    }

    fn array(&mut self, a: &ArrayValue) -> usize {
        let ArrayValue { values } = a;
        values
            .iter()
            .map(|v| self.nested(1, |z| z.any_value(v)))
            .sum()
    }

    fn kvlist(&mut self, l: &KeyValueList) -> usize {
        let KeyValueList { values } = l;
        values
            .iter()
            .map(|kv| self.nested(1, |z| z.key_value(kv)))
            .sum()
    }
}

/// The writing walk, which takes the lengths in the order the sizing walk
/// recorded them.
struct Writer<'b> {
    buf: &'b mut Vec<u8>,
    nested: &'b [usize],
    next: usize,
}

impl Writer<'_> {
    /// Writes the key and recorded length of a nested message, then the
    /// message with `f`.
    fn nested(&mut self, tag: u32, f: impl FnOnce(&mut Self)) {
        let len = self.nested.get(self.next).copied().unwrap_or_default();
        self.next += 1;
        encode_key(tag, WireType::LengthDelimited, self.buf);
        encode_varint(len as u64, self.buf);
        let start = self.buf.len();
        f(self);
        debug_assert_eq!(self.buf.len() - start, len, "recorded length");
    }

    fn bytes(&mut self, tag: u32, b: &[u8]) {
        if !b.is_empty() {
            self.delimited(tag, b);
        }
    }

    /// A length-delimited field, written even when empty (oneof members).
    fn delimited(&mut self, tag: u32, b: &[u8]) {
        encode_key(tag, WireType::LengthDelimited, self.buf);
        encode_varint(b.len() as u64, self.buf);
        self.buf.extend_from_slice(b);
    }

    fn varint(&mut self, tag: u32, v: u64) {
        if v != 0 {
            encode_key(tag, WireType::Varint, self.buf);
            encode_varint(v, self.buf);
        }
    }

    fn fixed64(&mut self, tag: u32, v: u64) {
        if v != 0 {
            encode_key(tag, WireType::SixtyFourBit, self.buf);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn resource_logs(&mut self, rl: &ResourceLogs) {
        let ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        } = rl;
        if let Some(r) = resource {
            message::encode(1, r, self.buf);
        }
        for s in scope_logs {
            self.nested(2, |w| w.scope_logs(s));
        }
        self.bytes(3, schema_url.as_bytes());
    }

    fn scope_logs(&mut self, sl: &ScopeLogs) {
        let ScopeLogs {
            scope,
            log_records,
            schema_url,
        } = sl;
        if let Some(s) = scope {
            message::encode(1, s, self.buf);
        }
        for r in log_records {
            self.nested(2, |w| w.log_record(r));
        }
        self.bytes(3, schema_url.as_bytes());
    }

    fn log_record(&mut self, r: &LogRecord) {
        let LogRecord {
            time_unix_nano,
            observed_time_unix_nano,
            severity_number,
            severity_text,
            body,
            attributes,
            dropped_attributes_count,
            flags,
            trace_id,
            span_id,
            event_name,
        } = r;
        self.fixed64(1, *time_unix_nano);
        self.varint(2, *severity_number as u64);
        self.bytes(3, severity_text.as_bytes());
        if let Some(b) = body {
            self.nested(5, |w| w.any_value(b));
        }
        for kv in attributes {
            self.nested(6, |w| w.key_value(kv));
        }
        self.varint(7, u64::from(*dropped_attributes_count));
        if *flags != 0 {
            encode_key(8, WireType::ThirtyTwoBit, self.buf);
            self.buf.extend_from_slice(&flags.to_le_bytes());
        }
        self.bytes(9, trace_id);
        self.bytes(10, span_id);
        self.fixed64(11, *observed_time_unix_nano);
        self.bytes(12, event_name.as_bytes());
    }

    fn key_value(&mut self, kv: &KeyValue) {
        let KeyValue {
            key,
            value,
            key_strindex,
        } = kv;
        self.bytes(1, key.as_bytes());
        if let Some(v) = value {
            self.nested(2, |w| w.any_value(v));
        }
        self.varint(3, *key_strindex as u64);
    }

    fn any_value(&mut self, v: &AnyValue) {
        let AnyValue { value } = v;
        match value {
            None => {}
            Some(any_value::Value::StringValue(s)) => self.delimited(1, s.as_bytes()),
            Some(any_value::Value::BoolValue(b)) => {
                encode_key(2, WireType::Varint, self.buf);
                encode_varint(u64::from(*b), self.buf);
            }
            Some(any_value::Value::IntValue(i)) => {
                encode_key(3, WireType::Varint, self.buf);
                encode_varint(*i as u64, self.buf);
            }
            Some(any_value::Value::DoubleValue(d)) => {
                encode_key(4, WireType::SixtyFourBit, self.buf);
                self.buf.extend_from_slice(&d.to_le_bytes());
            }
            Some(any_value::Value::ArrayValue(a)) => self.nested(5, |w| w.array(a)),
            Some(any_value::Value::KvlistValue(l)) => self.nested(6, |w| w.kvlist(l)),
            Some(any_value::Value::BytesValue(b)) => self.delimited(7, b),
            Some(any_value::Value::StringValueStrindex(i)) => {
                encode_key(8, WireType::Varint, self.buf);
                encode_varint(*i as u64, self.buf);
            }
        }
    }

    fn array(&mut self, a: &ArrayValue) {
        let ArrayValue { values } = a;
        for v in values {
            self.nested(1, |w| w.any_value(v));
        }
    }

    fn kvlist(&mut self, l: &KeyValueList) {
        let KeyValueList { values } = l;
        for kv in values {
            self.nested(1, |w| w.key_value(kv));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{EntityRef, InstrumentationScope};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use prost::Message as _;

    fn s(v: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(value),
            key_strindex: 0,
        }
    }

    fn kvlist(values: Vec<KeyValue>) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList { values })),
        }
    }

    fn encoded(group: &ResourceLogs) -> Vec<u8> {
        let m = MeasuredLogs::new(group);
        let mut buf = Vec::new();
        m.write(&mut buf);
        assert_eq!(buf.len(), m.len());
        buf
    }

    /// Scenario: a group in which every field of every message the encoder
    /// writes itself is set, including every kind of value, values holding
    /// their defaults inside the oneof, negative numbers, a 300-byte string
    /// (two-byte length) and a body nested ten messages deep; then the same
    /// with every field left at its default.
    /// Guarantees: the bytes are exactly prost's, and decode back to the
    /// group.
    #[test]
    fn bytes_are_prosts_for_every_field_and_value_kind() {
        let mut deep = s("leaf");
        for i in 0..5 {
            deep = kvlist(vec![kv(&format!("level{i}"), deep)]);
        }
        let every_kind = vec![
            kv("s", s(&"x".repeat(300))),
            kv("empty", s("")),
            kv(
                "b",
                AnyValue {
                    value: Some(any_value::Value::BoolValue(false)),
                },
            ),
            kv(
                "i",
                AnyValue {
                    value: Some(any_value::Value::IntValue(-42)),
                },
            ),
            kv(
                "zero",
                AnyValue {
                    value: Some(any_value::Value::IntValue(0)),
                },
            ),
            kv(
                "d",
                AnyValue {
                    value: Some(any_value::Value::DoubleValue(-1.5)),
                },
            ),
            kv(
                "bytes",
                AnyValue {
                    value: Some(any_value::Value::BytesValue(vec![0, 1, 2])),
                },
            ),
            kv(
                "strindex",
                AnyValue {
                    value: Some(any_value::Value::StringValueStrindex(-3)),
                },
            ),
            kv(
                "array",
                AnyValue {
                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                        values: vec![s("a"), AnyValue { value: None }, deep.clone()],
                    })),
                },
            ),
            KeyValue {
                key: String::new(),
                value: None,
                key_strindex: 7,
            },
            kv("unset", AnyValue { value: None }),
        ];
        let record = LogRecord {
            time_unix_nano: 1_766_414_216_000_000_000,
            observed_time_unix_nano: 1_766_414_217_000_000_000,
            severity_number: -1,
            severity_text: "INFO".into(),
            body: Some(kvlist(vec![
                kv("event", deep),
                kv("all", kvlist(every_kind.clone())),
            ])),
            attributes: every_kind.clone(),
            dropped_attributes_count: 3,
            flags: 1,
            trace_id: vec![7; 16],
            span_id: vec![9; 8],
            event_name: "ai.request".into(),
        };
        let group = ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("host.name", s("h1"))],
                dropped_attributes_count: 1,
                entity_refs: vec![EntityRef {
                    schema_url: "u".into(),
                    r#type: "host".into(),
                    id_keys: vec!["host.name".into()],
                    description_keys: vec![String::new()],
                }],
            }),
            scope_logs: vec![
                ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "oispd".into(),
                        version: "0.1".into(),
                        attributes: every_kind,
                        dropped_attributes_count: 2,
                    }),
                    log_records: vec![record.clone(), LogRecord::default(), record],
                    schema_url: "https://opentelemetry.io/schemas/1.38.0".into(),
                },
                ScopeLogs::default(),
            ],
            schema_url: "https://opentelemetry.io/schemas/1.38.0".into(),
        };
        let bytes = encoded(&group);
        assert_eq!(bytes, group.encode_to_vec());
        assert_eq!(ResourceLogs::decode(bytes.as_slice()).unwrap(), group);
        let empty = ResourceLogs::default();
        assert_eq!(encoded(&empty), empty.encode_to_vec());
        assert!(encoded(&empty).is_empty());
    }
}
