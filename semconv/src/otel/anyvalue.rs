//! JSON <-> OTLP `AnyValue`, lossless for everything OISP events hold:
//! integers stay `IntValue`, floats stay `DoubleValue`, objects become
//! `KvlistValue` in key order, arrays `ArrayValue`, null an empty `AnyValue`.
//!
//! Two values have no exact counterpart: an unsigned integer above
//! `i64::MAX` becomes a `DoubleValue`, and a non-finite double (NaN, +-inf,
//! which JSON cannot hold) becomes its name as a string. `BytesValue`
//! becomes a base64 string.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Number, Value};
use std::collections::HashSet;

/// Converts a JSON value to an OTLP `AnyValue`.
pub fn json_to_any_value(v: &Value) -> AnyValue {
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(Av::BoolValue(*b)),
        Value::Number(n) => Some(number_to_any(n)),
        Value::String(s) => Some(Av::StringValue(s.clone())),
        Value::Array(a) => Some(Av::ArrayValue(ArrayValue {
            values: a.iter().map(json_to_any_value).collect(),
        })),
        Value::Object(o) => Some(Av::KvlistValue(KeyValueList {
            values: o
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(json_to_any_value(v)),
                    ..Default::default()
                })
                .collect(),
        })),
    };
    AnyValue { value }
}

fn number_to_any(n: &Number) -> Av {
    if let Some(i) = n.as_i64() {
        Av::IntValue(i)
    } else {
        Av::DoubleValue(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Converts an OTLP `AnyValue` to JSON (see the module doc for the few
/// values without an exact JSON form).
pub fn any_value_to_json(v: &AnyValue) -> Value {
    match &v.value {
        None => Value::Null,
        Some(Av::StringValue(s)) => Value::String(s.clone()),
        Some(Av::BoolValue(b)) => Value::Bool(*b),
        Some(Av::IntValue(i)) => Value::Number((*i).into()),
        Some(Av::DoubleValue(d)) => double_to_json(*d),
        Some(Av::ArrayValue(a)) => Value::Array(a.values.iter().map(any_value_to_json).collect()),
        Some(Av::KvlistValue(kv)) => Value::Object(key_values_to_json(&kv.values)),
        Some(Av::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(Av::StringValueStrindex(_)) => Value::Null,
    }
}

/// Converts a list of key-values (attributes, a kvlist) to a JSON object;
/// a repeated key keeps its last value.
pub fn key_values_to_json(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| {
            let v = kv
                .value
                .as_ref()
                .map(any_value_to_json)
                .unwrap_or(Value::Null);
            (kv.key.clone(), v)
        })
        .collect()
}

/// Serializes an `AnyValue` as the JSON [`any_value_to_json`] gives,
/// without building that JSON value first (the exporters write each
/// captured event this way).
pub struct AnyValueJson<'a>(pub &'a AnyValue);

/// Serializes key-values as the JSON object [`key_values_to_json`] gives.
pub struct KeyValuesJson<'a>(pub &'a [KeyValue]);

impl Serialize for AnyValueJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0.value {
            None | Some(Av::StringValueStrindex(_)) => s.serialize_unit(),
            Some(Av::StringValue(v)) => s.serialize_str(v),
            Some(Av::BoolValue(b)) => s.serialize_bool(*b),
            Some(Av::IntValue(i)) => s.serialize_i64(*i),
            Some(Av::DoubleValue(d)) if d.is_finite() => s.serialize_f64(*d),
            Some(Av::DoubleValue(d)) => s.serialize_str(&d.to_string()),
            Some(Av::ArrayValue(a)) => {
                let mut seq = s.serialize_seq(Some(a.values.len()))?;
                for v in &a.values {
                    seq.serialize_element(&AnyValueJson(v))?;
                }
                seq.end()
            }
            Some(Av::KvlistValue(kv)) => KeyValuesJson(&kv.values).serialize(s),
            Some(Av::BytesValue(b)) => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
            }
        }
    }
}

impl Serialize for KeyValuesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if has_repeated_key(self.0) {
            // A JSON object keeps one value per key: the slow path has
            // exactly `key_values_to_json`'s answer.
            return key_values_to_json(self.0).serialize(s);
        }
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for kv in self.0 {
            match &kv.value {
                Some(v) => map.serialize_entry(&kv.key, &AnyValueJson(v))?,
                None => map.serialize_entry(&kv.key, &())?,
            }
        }
        map.end()
    }
}

/// Whether two key-values share a key (linear for the small lists events
/// hold, hashed beyond).
fn has_repeated_key(kvs: &[KeyValue]) -> bool {
    if kvs.len() <= 16 {
        return kvs
            .iter()
            .enumerate()
            .any(|(i, a)| kvs[..i].iter().any(|b| b.key == a.key));
    }
    let mut seen = HashSet::with_capacity(kvs.len());
    !kvs.iter().all(|kv| seen.insert(kv.key.as_str()))
}

fn double_to_json(d: f64) -> Value {
    match Number::from_f64(d) {
        Some(n) => Value::Number(n),
        None => Value::String(d.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Scenario: every JSON kind, nested, with ints, floats and key order.
    /// Guarantees: JSON -> AnyValue -> JSON is the identity, order included.
    #[test]
    fn json_round_trips_through_any_value() {
        let v = json!({"z": 1, "a": 1.0, "m": [true, null, "s", -5, 2.5e-3],
                       "o": {"y": {}, "x": []}, "big": 9_223_372_036_854_775_807i64});
        let back = any_value_to_json(&json_to_any_value(&v));
        assert_eq!(back, v);
        let keys: Vec<_> = back.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a", "m", "o", "big"]);
        assert!(matches!(
            json_to_any_value(&json!(1)).value,
            Some(Av::IntValue(1))
        ));
        assert!(matches!(
            json_to_any_value(&json!(1.0)).value,
            Some(Av::DoubleValue(_))
        ));
    }

    /// `depth` levels of kvlists and arrays around an integer.
    fn nested(depth: usize) -> AnyValue {
        let mut v = AnyValue {
            value: Some(Av::IntValue(1)),
        };
        for i in 0..depth {
            let value = if i % 2 == 0 {
                Av::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(v),
                        ..Default::default()
                    }],
                })
            } else {
                Av::ArrayValue(ArrayValue { values: vec![v] })
            };
            v = AnyValue { value: Some(value) };
        }
        v
    }

    /// Scenario: an AnyValue nested 1,000 levels, as OTLP protobuf and as
    /// OTLP JSON (how one reaches oispd from outside), and one nested 20
    /// levels.
    /// Guarantees: both decoders refuse the deep one (prost's recursion
    /// limit of 100 messages, serde_json's of 128 levels), so the recursive
    /// conversions of this module never see input deeper than ~40 levels;
    /// the shallow one decodes and converts to JSON and back.
    #[test]
    fn decoders_bound_the_depth_of_values() {
        use prost::Message;
        let deep = nested(1_000);
        assert!(AnyValue::decode(deep.encode_to_vec().as_slice()).is_err());
        // Written by hand: serializing 1,000 levels would itself recurse.
        let shallow_json = serde_json::to_string(&nested(2)).unwrap();
        let (open, close) = shallow_json.split_once("{\"intValue\"").unwrap();
        let close = close.split_once('}').unwrap().1;
        let json = |reps: usize| {
            format!(
                "{}{{\"intValue\":1}}{}",
                open.repeat(reps),
                close.repeat(reps)
            )
        };
        let e = serde_json::from_str::<AnyValue>(&json(500)).unwrap_err();
        assert!(e.to_string().contains("recursion limit"), "{e}");
        // The deepest OTLP JSON value accepted converts (on this 2 MiB
        // stack, in a debug build).
        let deepest = (1..500)
            .map_while(|reps| serde_json::from_str::<AnyValue>(&json(reps)).ok())
            .last()
            .unwrap();
        let back = json_to_any_value(&any_value_to_json(&deepest));
        assert_eq!(back, deepest);

        let shallow = nested(20);
        let decoded = AnyValue::decode(shallow.encode_to_vec().as_slice()).unwrap();
        let from_json: AnyValue =
            serde_json::from_str(&serde_json::to_string(&shallow).unwrap()).unwrap();
        assert_eq!(decoded, shallow);
        assert_eq!(from_json, shallow);
        assert_eq!(json_to_any_value(&any_value_to_json(&decoded)), shallow);
    }

    /// Scenario: values JSON cannot hold directly.
    /// Guarantees: bytes become base64, NaN its name, u64 beyond i64 a double.
    #[test]
    fn odd_values_have_defined_json() {
        let b = AnyValue {
            value: Some(Av::BytesValue(vec![0, 1, 2])),
        };
        assert_eq!(any_value_to_json(&b), json!("AAEC"));
        let nan = AnyValue {
            value: Some(Av::DoubleValue(f64::NAN)),
        };
        assert_eq!(any_value_to_json(&nan), json!("NaN"));
        let big = json_to_any_value(&json!(u64::MAX));
        assert!(matches!(big.value, Some(Av::DoubleValue(_))));
    }

    /// Scenario: values of every kind (nested, bytes, NaN, infinities, a
    /// strindex, a key without value) and kvlists with repeated keys, short
    /// and past the linear check.
    /// Guarantees: the text written directly is the text of
    /// `any_value_to_json`'s value.
    #[test]
    fn direct_json_is_the_json_of_the_value() {
        let kv = |k: &str, v: Option<Av>| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: v }),
            ..Default::default()
        };
        let mut long: Vec<KeyValue> = (0..40)
            .map(|i| kv(&format!("k{i}"), Some(Av::IntValue(i))))
            .collect();
        long.push(kv("k7", Some(Av::StringValue("last".into()))));
        let values = vec![
            Av::StringValue("é \"q\" \n".into()),
            Av::BoolValue(false),
            Av::IntValue(i64::MIN),
            Av::DoubleValue(0.1),
            Av::DoubleValue(f64::NAN),
            Av::DoubleValue(f64::NEG_INFINITY),
            Av::BytesValue(vec![1, 2, 3, 250]),
            Av::StringValueStrindex(3),
            Av::KvlistValue(KeyValueList {
                values: vec![
                    kv("b", Some(Av::IntValue(1))),
                    kv("a", None),
                    KeyValue {
                        key: "none".into(),
                        ..Default::default()
                    },
                    kv("b", Some(Av::IntValue(2))),
                ],
            }),
            Av::KvlistValue(KeyValueList { values: long }),
        ];
        let all = AnyValue {
            value: Some(Av::ArrayValue(ArrayValue {
                values: values
                    .into_iter()
                    .map(|v| AnyValue { value: Some(v) })
                    .chain([AnyValue { value: None }])
                    .collect(),
            })),
        };
        assert_eq!(
            serde_json::to_string(&AnyValueJson(&all)).unwrap(),
            serde_json::to_string(&any_value_to_json(&all)).unwrap()
        );
    }
}
