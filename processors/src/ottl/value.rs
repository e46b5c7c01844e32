//! Values that OTTL expressions produce: the OTLP `AnyValue` kinds plus nil
//! and time, borrowed from the record where possible so that reading
//! `attributes["k"]` or a 1 KB body copies nothing.

use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use std::borrow::Cow;

/// One OTTL value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// Missing key, unset field, `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// Bytes (`0x...`, trace and span ids).
    Bytes(Cow<'a, [u8]>),
    /// A map (attributes, a kvlist body).
    Map(Cow<'a, [KeyValue]>),
    /// A list.
    List(Cow<'a, [AnyValue]>),
    /// A point in time, nanoseconds since the Unix epoch (`time`, `start_time`).
    Time(i64),
}

/// The kinds of [`Value`], used in messages and static checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `nil`
    Nil,
    /// bool
    Bool,
    /// int
    Int,
    /// double
    Double,
    /// string
    Str,
    /// bytes
    Bytes,
    /// map
    Map,
    /// list
    List,
    /// time
    Time,
}

impl Kind {
    /// The name used in messages (`string`, `int`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nil => "nil",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Double => "double",
            Kind::Str => "string",
            Kind::Bytes => "bytes",
            Kind::Map => "map",
            Kind::List => "list",
            Kind::Time => "time",
        }
    }

    /// The name with an article, for messages (`an int`, `a string`, `nil`).
    pub fn article(self) -> &'static str {
        match self {
            Kind::Nil => "nil",
            Kind::Bool => "a bool",
            Kind::Int => "an int",
            Kind::Double => "a double",
            Kind::Str => "a string",
            Kind::Bytes => "bytes",
            Kind::Map => "a map",
            Kind::List => "a list",
            Kind::Time => "a time",
        }
    }
}

impl<'a> Value<'a> {
    /// A string value.
    pub fn str(s: impl Into<Cow<'a, str>>) -> Value<'a> {
        Value::Str(s.into())
    }

    /// The kind of this value.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Nil => Kind::Nil,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Double(_) => Kind::Double,
            Value::Str(_) => Kind::Str,
            Value::Bytes(_) => Kind::Bytes,
            Value::Map(_) => Kind::Map,
            Value::List(_) => Kind::List,
            Value::Time(_) => Kind::Time,
        }
    }

    /// Views an OTLP value without copying it.
    pub fn from_any(v: &'a AnyValue) -> Value<'a> {
        match &v.value {
            // String-table references exist only in the profiles signal.
            None | Some(any_value::Value::StringValueStrindex(_)) => Value::Nil,
            Some(any_value::Value::StringValue(s)) => Value::Str(Cow::Borrowed(s)),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
            Some(any_value::Value::IntValue(i)) => Value::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
            Some(any_value::Value::BytesValue(b)) => Value::Bytes(Cow::Borrowed(b)),
            Some(any_value::Value::ArrayValue(a)) => Value::List(Cow::Borrowed(&a.values)),
            Some(any_value::Value::KvlistValue(m)) => Value::Map(Cow::Borrowed(&m.values)),
        }
    }

    /// Views an optional OTLP value (`None` is nil).
    pub fn from_opt(v: Option<&'a AnyValue>) -> Value<'a> {
        v.map(Value::from_any).unwrap_or(Value::Nil)
    }

    /// Takes ownership of an OTLP value.
    pub fn from_any_owned(v: AnyValue) -> Value<'static> {
        match v.value {
            None | Some(any_value::Value::StringValueStrindex(_)) => Value::Nil,
            Some(any_value::Value::StringValue(s)) => Value::Str(Cow::Owned(s)),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(b),
            Some(any_value::Value::IntValue(i)) => Value::Int(i),
            Some(any_value::Value::DoubleValue(d)) => Value::Double(d),
            Some(any_value::Value::BytesValue(b)) => Value::Bytes(Cow::Owned(b)),
            Some(any_value::Value::ArrayValue(a)) => Value::List(Cow::Owned(a.values)),
            Some(any_value::Value::KvlistValue(m)) => Value::Map(Cow::Owned(m.values)),
        }
    }

    /// A view of this value that borrows from it (cheap: no data is copied).
    pub fn reborrow(&self) -> Value<'_> {
        match self {
            Value::Nil => Value::Nil,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Double(d) => Value::Double(*d),
            Value::Time(t) => Value::Time(*t),
            Value::Str(s) => Value::Str(Cow::Borrowed(s.as_ref())),
            Value::Bytes(b) => Value::Bytes(Cow::Borrowed(b.as_ref())),
            Value::Map(m) => Value::Map(Cow::Borrowed(m.as_ref())),
            Value::List(l) => Value::List(Cow::Borrowed(l.as_ref())),
        }
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Nil => Value::Nil,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Double(d) => Value::Double(d),
            Value::Time(t) => Value::Time(t),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
            Value::Map(m) => Value::Map(Cow::Owned(m.into_owned())),
            Value::List(l) => Value::List(Cow::Owned(l.into_owned())),
        }
    }

    /// Converts into an OTLP value (nil becomes an empty value; a time its
    /// nanoseconds since the epoch).
    pub fn into_any(self) -> AnyValue {
        let value = match self {
            Value::Nil => None,
            Value::Bool(b) => Some(any_value::Value::BoolValue(b)),
            Value::Int(i) | Value::Time(i) => Some(any_value::Value::IntValue(i)),
            Value::Double(d) => Some(any_value::Value::DoubleValue(d)),
            Value::Str(s) => Some(any_value::Value::StringValue(s.into_owned())),
            Value::Bytes(b) => Some(any_value::Value::BytesValue(b.into_owned())),
            Value::Map(m) => Some(any_value::Value::KvlistValue(KeyValueList {
                values: m.into_owned(),
            })),
            Value::List(l) => Some(any_value::Value::ArrayValue(ArrayValue {
                values: l.into_owned(),
            })),
        };
        AnyValue { value }
    }

    /// The string form used by `String`, `Concat` and comparisons of
    /// stringified values: strings as-is, numbers and bools as Go's
    /// `strconv` writes them, bytes as lower-case hex, maps and lists as JSON.
    /// `None` for nil (and for time, which has no canonical string here).
    pub fn to_string_like(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Nil | Value::Time(_) => None,
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Bytes(b) => Some(Cow::Owned(hex::encode(b))),
            other => Some(Cow::Owned(other.to_go_string())),
        }
    }

    /// The string `IsMatch` matches against: like [`Value::to_string_like`]
    /// but bytes are base64 (as the collector's `IsMatch` documents).
    pub fn to_match_string(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Bytes(b) => {
                use base64::Engine;
                Some(Cow::Owned(
                    base64::engine::general_purpose::STANDARD.encode(b),
                ))
            }
            other => other.to_string_like(),
        }
    }

    fn to_go_string(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) | Value::Time(i) => i.to_string(),
            Value::Double(d) => format_double(*d),
            Value::Str(s) => s.to_string(),
            Value::Nil => String::new(),
            Value::Bytes(_) | Value::Map(_) | Value::List(_) => self.to_json().to_string(),
        }
    }

    /// JSON form (map keys sorted, as Go's encoder writes them).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) | Value::Time(i) => serde_json::Value::from(*i),
            Value::Double(d) => serde_json::Number::from_f64(*d)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Bytes(b) => {
                use base64::Engine;
                serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::Map(m) => {
                let mut entries: Vec<&KeyValue> = m.iter().collect();
                entries.sort_by(|a, b| a.key.cmp(&b.key));
                let mut obj = serde_json::Map::new();
                for kv in entries {
                    obj.insert(kv.key.clone(), Value::from_opt(kv.value.as_ref()).to_json());
                }
                serde_json::Value::Object(obj)
            }
            Value::List(l) => {
                serde_json::Value::Array(l.iter().map(|v| Value::from_any(v).to_json()).collect())
            }
        }
    }
}

/// The kind of an OTLP value (without copying it).
pub fn kind_of(v: &Option<any_value::Value>) -> Kind {
    match v {
        None | Some(any_value::Value::StringValueStrindex(_)) => Kind::Nil,
        Some(any_value::Value::StringValue(_)) => Kind::Str,
        Some(any_value::Value::BoolValue(_)) => Kind::Bool,
        Some(any_value::Value::IntValue(_)) => Kind::Int,
        Some(any_value::Value::DoubleValue(_)) => Kind::Double,
        Some(any_value::Value::BytesValue(_)) => Kind::Bytes,
        Some(any_value::Value::ArrayValue(_)) => Kind::List,
        Some(any_value::Value::KvlistValue(_)) => Kind::Map,
    }
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        "NaN".into()
    } else if d == f64::INFINITY {
        "+Inf".into()
    } else if d == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{d}")
    }
}

/// Converts parsed JSON into an OTLP value (numbers become doubles, as the
/// collector's `ParseJSON` does).
pub fn json_to_any(v: serde_json::Value) -> AnyValue {
    let value = match v {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(any_value::Value::BoolValue(b)),
        serde_json::Value::Number(n) => Some(any_value::Value::DoubleValue(
            n.as_f64().unwrap_or(f64::NAN),
        )),
        serde_json::Value::String(s) => Some(any_value::Value::StringValue(s)),
        serde_json::Value::Array(a) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: a.into_iter().map(json_to_any).collect(),
        })),
        serde_json::Value::Object(o) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: o
                .into_iter()
                .map(|(k, v)| KeyValue {
                    key: k,
                    value: Some(json_to_any(v)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}

/// A key-value pair.
pub fn kv(key: impl Into<String>, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn s(v: &str) -> AnyValue {
        Value::str(v.to_string()).into_any()
    }

    #[test]
    fn string_forms_follow_go() {
        assert_eq!(Value::Double(1.5).to_string_like().unwrap(), "1.5");
        assert_eq!(Value::Double(3.0).to_string_like().unwrap(), "3");
        assert_eq!(
            Value::Double(1e21).to_string_like().unwrap(),
            "1000000000000000000000"
        );
        assert_eq!(
            Value::Double(f64::INFINITY).to_string_like().unwrap(),
            "+Inf"
        );
        assert_eq!(Value::Int(-7).to_string_like().unwrap(), "-7");
        assert_eq!(Value::Bool(true).to_string_like().unwrap(), "true");
        assert_eq!(
            Value::Bytes(Cow::Owned(vec![0xab, 0x01]))
                .to_string_like()
                .unwrap(),
            "ab01"
        );
        assert_eq!(
            Value::Bytes(Cow::Owned(vec![0xab, 0x01]))
                .to_match_string()
                .unwrap(),
            "qwE="
        );
        assert_eq!(Value::Nil.to_string_like(), None);
        let m = Value::Map(Cow::Owned(vec![
            kv("b", s("2")),
            kv("a", Value::Int(1).into_any()),
        ]));
        assert_eq!(m.to_string_like().unwrap(), r#"{"a":1,"b":"2"}"#);
    }

    #[test]
    fn any_round_trips_and_json_numbers_are_doubles() {
        let v = json_to_any(serde_json::json!({"a": [1, "x", null, true]}));
        let back = Value::from_any(&v);
        assert_eq!(back.kind(), Kind::Map);
        assert_eq!(
            back.to_json(),
            serde_json::json!({"a": [1.0, "x", null, true]})
        );
        let owned = back.clone().into_owned();
        assert_eq!(owned.into_any(), v);
    }
}
