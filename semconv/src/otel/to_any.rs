//! A serde `Serializer` whose output is an OTLP `AnyValue`: any
//! `Serialize` type (an OISP event above all) becomes the same `AnyValue`
//! that `json_to_any_value(&serde_json::to_value(x))` gives, without the
//! intermediate `serde_json::Value` (which costs a second copy of every
//! string and an index map per object, for each captured event).
//!
//! The mapping follows `serde_json::to_value` exactly: integers that fit
//! an `i64` are `IntValue`, larger unsigned ones `DoubleValue`; floats are
//! `DoubleValue`, non-finite ones null; `None`, `()` and unit structs are
//! null; enum variants are externally tagged; bytes are an array of
//! integers; map keys must be strings, chars, integers, booleans or finite
//! floats (written as strings); a repeated map key keeps its first position and last value.

use std::collections::HashMap;
use std::fmt::Display;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use serde::ser::{self, Serialize};

/// Why a value has no `AnyValue` form (a map key that is not a string,
/// or an error raised by the value's own `Serialize`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ToAnyError(String);

impl ser::Error for ToAnyError {
    fn custom<T: Display>(msg: T) -> Self {
        ToAnyError(msg.to_string())
    }
}

/// The `AnyValue` of a serializable value (see the module doc).
pub fn to_any_value<T: Serialize + ?Sized>(value: &T) -> Result<AnyValue, ToAnyError> {
    value.serialize(AnySerializer)
}

fn any(value: Av) -> AnyValue {
    AnyValue { value: Some(value) }
}

const NULL: AnyValue = AnyValue { value: None };

fn float(f: f64) -> AnyValue {
    if f.is_finite() {
        any(Av::DoubleValue(f))
    } else {
        NULL
    }
}

fn out_of_range() -> ToAnyError {
    ToAnyError("number out of range".into())
}

fn tagged(variant: &str, value: AnyValue) -> AnyValue {
    any(Av::KvlistValue(KeyValueList {
        values: vec![KeyValue {
            key: variant.to_string(),
            value: Some(value),
            ..Default::default()
        }],
    }))
}

/// Key-values in insertion order; a repeated key replaces the value in
/// place, as an insertion into a `serde_json::Map` does. Small objects
/// (every OISP object) are searched linearly; an index is built once an
/// object grows past [`INDEX_FROM`] keys.
#[derive(Default)]
struct Entries {
    values: Vec<KeyValue>,
    index: Option<HashMap<String, usize>>,
}

const INDEX_FROM: usize = 32;

impl Entries {
    fn insert(&mut self, key: String, value: AnyValue) {
        let found = match &self.index {
            Some(index) => index.get(&key).copied(),
            None => self.values.iter().position(|kv| kv.key == key),
        };
        if let Some(i) = found {
            self.values[i].value = Some(value);
            return;
        }
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), self.values.len());
        }
        self.values.push(KeyValue {
            key,
            value: Some(value),
            ..Default::default()
        });
        if self.index.is_none() && self.values.len() > INDEX_FROM {
            let index = self
                .values
                .iter()
                .enumerate()
                .map(|(i, kv)| (kv.key.clone(), i))
                .collect();
            self.index = Some(index);
        }
    }

    fn into_any(self) -> AnyValue {
        any(Av::KvlistValue(KeyValueList {
            values: self.values,
        }))
    }
}

struct AnySerializer;

impl ser::Serializer for AnySerializer {
    type Ok = AnyValue;
    type Error = ToAnyError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<AnyValue, ToAnyError> {
        Ok(any(Av::BoolValue(v)))
    }
    fn serialize_i8(self, v: i8) -> Result<AnyValue, ToAnyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<AnyValue, ToAnyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<AnyValue, ToAnyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<AnyValue, ToAnyError> {
        Ok(any(Av::IntValue(v)))
    }
    fn serialize_i128(self, v: i128) -> Result<AnyValue, ToAnyError> {
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(i), _) => self.serialize_i64(i),
            (_, Ok(u)) => self.serialize_u64(u),
            _ => Err(out_of_range()),
        }
    }
    fn serialize_u8(self, v: u8) -> Result<AnyValue, ToAnyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<AnyValue, ToAnyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<AnyValue, ToAnyError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<AnyValue, ToAnyError> {
        match i64::try_from(v) {
            Ok(i) => self.serialize_i64(i),
            Err(_) => Ok(float(v as f64)),
        }
    }
    fn serialize_u128(self, v: u128) -> Result<AnyValue, ToAnyError> {
        match u64::try_from(v) {
            Ok(u) => self.serialize_u64(u),
            Err(_) => Err(out_of_range()),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<AnyValue, ToAnyError> {
        Ok(float(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<AnyValue, ToAnyError> {
        Ok(float(v))
    }
    fn serialize_char(self, v: char) -> Result<AnyValue, ToAnyError> {
        Ok(any(Av::StringValue(v.to_string())))
    }
    fn serialize_str(self, v: &str) -> Result<AnyValue, ToAnyError> {
        Ok(any(Av::StringValue(v.to_string())))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<AnyValue, ToAnyError> {
        Ok(any(Av::ArrayValue(ArrayValue {
            values: v.iter().map(|b| any(Av::IntValue(i64::from(*b)))).collect(),
        })))
    }
    fn serialize_none(self) -> Result<AnyValue, ToAnyError> {
        Ok(NULL)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<AnyValue, ToAnyError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<AnyValue, ToAnyError> {
        Ok(NULL)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<AnyValue, ToAnyError> {
        Ok(NULL)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<AnyValue, ToAnyError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<AnyValue, ToAnyError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<AnyValue, ToAnyError> {
        Ok(tagged(variant, value.serialize(AnySerializer)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, ToAnyError> {
        Ok(SeqBuilder {
            variant: None,
            values: Vec::with_capacity(len.unwrap_or(0)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, ToAnyError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, ToAnyError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, ToAnyError> {
        Ok(SeqBuilder {
            variant: Some(variant),
            values: Vec::with_capacity(len),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, ToAnyError> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapBuilder, ToAnyError> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapBuilder, ToAnyError> {
        Ok(MapBuilder {
            variant: Some(variant),
            ..MapBuilder::default()
        })
    }
}

/// An array being built (a tuple variant's, when `variant` is set).
struct SeqBuilder {
    variant: Option<&'static str>,
    values: Vec<AnyValue>,
}

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToAnyError> {
        self.values.push(value.serialize(AnySerializer)?);
        Ok(())
    }

    fn finish(self) -> AnyValue {
        let array = any(Av::ArrayValue(ArrayValue {
            values: self.values,
        }));
        match self.variant {
            Some(v) => tagged(v, array),
            None => array,
        }
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = AnyValue;
    type Error = ToAnyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToAnyError> {
        self.push(value)
    }
    fn end(self) -> Result<AnyValue, ToAnyError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = AnyValue;
    type Error = ToAnyError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToAnyError> {
        self.push(value)
    }
    fn end(self) -> Result<AnyValue, ToAnyError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = AnyValue;
    type Error = ToAnyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToAnyError> {
        self.push(value)
    }
    fn end(self) -> Result<AnyValue, ToAnyError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for SeqBuilder {
    type Ok = AnyValue;
    type Error = ToAnyError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToAnyError> {
        self.push(value)
    }
    fn end(self) -> Result<AnyValue, ToAnyError> {
        Ok(self.finish())
    }
}

/// An object being built (a struct variant's, when `variant` is set).
#[derive(Default)]
struct MapBuilder {
    variant: Option<&'static str>,
    entries: Entries,
    key: Option<String>,
}

impl MapBuilder {
    fn finish(self) -> AnyValue {
        let object = self.entries.into_any();
        match self.variant {
            Some(v) => tagged(v, object),
            None => object,
        }
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = AnyValue;
    type Error = ToAnyError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ToAnyError> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToAnyError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ToAnyError("a map value without its key".into()))?;
        self.entries.insert(key, value.serialize(AnySerializer)?);
        Ok(())
    }
    fn end(self) -> Result<AnyValue, ToAnyError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = AnyValue;
    type Error = ToAnyError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ToAnyError> {
        self.entries
            .insert(key.to_string(), value.serialize(AnySerializer)?);
        Ok(())
    }
    fn end(self) -> Result<AnyValue, ToAnyError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = AnyValue;
    type Error = ToAnyError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ToAnyError> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<AnyValue, ToAnyError> {
        Ok(self.finish())
    }
}

/// Map keys: strings, and the scalars JSON writes as strings.
struct KeySerializer;

fn key_error() -> ToAnyError {
    ToAnyError("a map key must be a string".into())
}

/// A float key is written as its JSON number, and must be finite.
fn float_key(finite: bool, text: serde_json::Result<String>) -> Result<String, ToAnyError> {
    match text {
        Ok(t) if finite => Ok(t),
        _ => Err(ToAnyError("a float map key must be finite".into())),
    }
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = ToAnyError;
    type SerializeSeq = ser::Impossible<String, ToAnyError>;
    type SerializeTuple = ser::Impossible<String, ToAnyError>;
    type SerializeTupleStruct = ser::Impossible<String, ToAnyError>;
    type SerializeTupleVariant = ser::Impossible<String, ToAnyError>;
    type SerializeMap = ser::Impossible<String, ToAnyError>;
    type SerializeStruct = ser::Impossible<String, ToAnyError>;
    type SerializeStructVariant = ser::Impossible<String, ToAnyError>;

    fn serialize_str(self, v: &str) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_char(self, v: char) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<String, ToAnyError> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ToAnyError> {
        Ok(variant.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ToAnyError> {
        value.serialize(self)
    }
    fn serialize_f32(self, v: f32) -> Result<String, ToAnyError> {
        float_key(v.is_finite(), serde_json::to_string(&v))
    }
    fn serialize_f64(self, v: f64) -> Result<String, ToAnyError> {
        float_key(v.is_finite(), serde_json::to_string(&v))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ToAnyError> {
        Err(key_error())
    }
    fn serialize_none(self) -> Result<String, ToAnyError> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, ToAnyError> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<String, ToAnyError> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ToAnyError> {
        Err(key_error())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ToAnyError> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ToAnyError> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ToAnyError> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ToAnyError> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ToAnyError> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ToAnyError> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ToAnyError> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ToAnyError> {
        Err(key_error())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::otel::json_to_any_value;
    use serde::Serialize;
    use serde_json::json;
    use std::collections::BTreeMap;

    /// What the two-step path gives: the reference this serializer must match.
    fn via_json<T: Serialize>(v: &T) -> AnyValue {
        json_to_any_value(&serde_json::to_value(v).unwrap())
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { a: Option<u64>, b: f64 },
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Everything {
        small: i8,
        big: u64,
        huge: u128,
        neg: i128,
        float: f32,
        nan: f64,
        inf: f64,
        flag: bool,
        letter: char,
        text: String,
        none: Option<String>,
        unit: (),
        unit_struct: Unit,
        #[serde(with = "serde_bytes_as_slice")]
        bytes: Vec<u8>,
        shapes: Vec<Shape>,
        tuple: (u16, &'static str),
        int_keys: BTreeMap<i32, bool>,
        json: serde_json::Value,
        #[serde(flatten)]
        extra: serde_json::Map<String, serde_json::Value>,
    }

    mod serde_bytes_as_slice {
        pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b)
        }
    }

    /// Scenario: every serde data model kind, nested, with flattened extras
    /// (one repeating a field's key), numbers at the i64 limits, non-finite
    /// floats, integer map keys.
    /// Guarantees: the result equals `json_to_any_value(to_value(x))`, key
    /// order included.
    #[test]
    fn matches_the_json_value_path() {
        let mut extra = serde_json::Map::new();
        extra.insert("later".into(), json!({"x": [1, 2.5, null]}));
        extra.insert("small".into(), json!("replaced"));
        let v = Everything {
            small: -3,
            big: u64::MAX,
            huge: u128::from(u64::MAX),
            neg: i128::from(i64::MIN),
            float: 0.5,
            nan: f64::NAN,
            inf: f64::INFINITY,
            flag: true,
            letter: 'é',
            text: "héllo \"q\"".into(),
            none: None,
            unit: (),
            unit_struct: Unit,
            bytes: vec![0, 255],
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-1, "t".into()),
                Shape::Struct { a: None, b: 1.0 },
            ],
            tuple: (9, "nine"),
            int_keys: BTreeMap::from([(-2, true), (10, false)]),
            json: json!({"z": 1, "a": {"nested": [true, "s"]}, "n": 9_223_372_036_854_775_807i64}),
            extra,
        };
        assert_eq!(to_any_value(&v).unwrap(), via_json(&v));
    }

    /// Scenario: an object with more keys than the linear search handles,
    /// serialized through a map that repeats keys.
    /// Guarantees: first position, last value, as a JSON object insert.
    #[test]
    fn repeated_keys_in_large_objects_keep_first_position_and_last_value() {
        struct Repeats;
        impl Serialize for Repeats {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                for round in 0..2 {
                    for k in 0..50 {
                        m.serialize_entry(&format!("k{k}"), &(round * 100 + k))?;
                    }
                }
                m.end()
            }
        }
        let got = to_any_value(&Repeats).unwrap();
        assert_eq!(got, via_json(&Repeats));
        let Some(Av::KvlistValue(kv)) = got.value else {
            panic!("not an object");
        };
        assert_eq!(kv.values.len(), 50);
        assert_eq!(kv.values[3].key, "k3");
        assert_eq!(kv.values[3].value, Some(any(Av::IntValue(103))));
    }

    /// Scenario: maps keyed by floats (finite and NaN) and by arrays;
    /// integers beyond u64.
    /// Guarantees: the same outcome as `serde_json::to_value`: finite float
    /// keys as their JSON text, errors for the rest.
    #[test]
    fn keys_and_numbers_json_cannot_hold_are_refused_alike() {
        struct FloatKey(f64);
        impl Serialize for FloatKey {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(&self.0, &1)?;
                m.end()
            }
        }
        assert_eq!(
            to_any_value(&FloatKey(1.5e20)).unwrap(),
            via_json(&FloatKey(1.5e20))
        );
        assert!(serde_json::to_value(FloatKey(f64::NAN)).is_err());
        assert!(to_any_value(&FloatKey(f64::NAN)).is_err());
        let array_key = BTreeMap::from([(vec![1], 1)]);
        assert!(serde_json::to_value(&array_key).is_err());
        assert!(to_any_value(&array_key).is_err());
        assert!(serde_json::to_value(u128::MAX).is_err());
        assert!(to_any_value(&u128::MAX).is_err());
    }
}
