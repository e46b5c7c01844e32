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
use serde_json::{Map, Number, Value};

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
}
