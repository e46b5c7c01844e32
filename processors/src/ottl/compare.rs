//! OTTL comparison rules (the collector's `pkg/ottl/compare.go` and
//! `LANGUAGE.md#comparison-rules`):
//!
//! - `nil == nil`; nil against anything else is only "not equal";
//! - ints and doubles compare numerically across the two types;
//! - strings compare byte-wise, bytes byte-wise, bools with `false < true`,
//!   times chronologically;
//! - maps and lists support only `==` / `!=` (deep, map order ignored);
//! - any other pair of kinds is "not equal": `!=` is true and every other
//!   operator false.

use super::lexer::CmpOp;
use super::value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use std::cmp::Ordering;

/// Evaluates `a op b`.
pub fn compare(a: &Value<'_>, b: &Value<'_>, op: CmpOp) -> bool {
    let ordering = match (a, b) {
        (Value::Nil, Value::Nil) => Some(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Double(y)) => (*x as f64).partial_cmp(y),
        (Value::Double(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        (Value::Map(x), Value::Map(y)) => {
            return equality_only(maps_equal(x, y), op);
        }
        (Value::List(x), Value::List(y)) => {
            return equality_only(lists_equal(x, y), op);
        }
        _ => None,
    };
    match ordering {
        // Different kinds, or a NaN: only "not equal" holds.
        None => op == CmpOp::Ne,
        Some(o) => match op {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        },
    }
}

fn equality_only(equal: bool, op: CmpOp) -> bool {
    match op {
        CmpOp::Eq => equal,
        CmpOp::Ne => !equal,
        _ => false,
    }
}

/// Deep equality of two OTLP values with the same kind (no int/double mixing,
/// as Go's `reflect.DeepEqual` on raw values).
pub fn values_equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Map(x), Value::Map(y)) => maps_equal(x, y),
        (Value::List(x), Value::List(y)) => lists_equal(x, y),
        (Value::Double(x), Value::Double(y)) => x == y,
        (x, y) if x.kind() == y.kind() => compare(x, y, CmpOp::Eq),
        _ => false,
    }
}

fn any_equal(a: Option<&AnyValue>, b: Option<&AnyValue>) -> bool {
    values_equal(&Value::from_opt(a), &Value::from_opt(b))
}

fn maps_equal(a: &[KeyValue], b: &[KeyValue]) -> bool {
    a.len() == b.len()
        && a.iter().all(|kv| {
            b.iter()
                .find(|other| other.key == kv.key)
                .is_some_and(|other| any_equal(kv.value.as_ref(), other.value.as_ref()))
        })
}

fn lists_equal(a: &[AnyValue], b: &[AnyValue]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| any_equal(Some(x), Some(y)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::value::kv;
    use super::*;
    use std::borrow::Cow;

    const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    /// Results for == != < <= > >=.
    fn table(a: Value<'_>, b: Value<'_>) -> [bool; 6] {
        ALL.map(|op| compare(&a, &b, op))
    }

    #[test]
    fn nil_rules() {
        assert_eq!(
            table(Value::Nil, Value::Nil),
            [true, false, false, true, false, true]
        );
        assert_eq!(
            table(Value::Nil, Value::Int(1)),
            [false, true, false, false, false, false]
        );
        assert_eq!(
            table(Value::str("x"), Value::Nil),
            [false, true, false, false, false, false]
        );
    }

    #[test]
    fn numbers_compare_across_int_and_double() {
        assert_eq!(
            table(Value::Int(1), Value::Double(1.0)),
            [true, false, false, true, false, true]
        );
        assert_eq!(
            table(Value::Double(0.5), Value::Int(1)),
            [false, true, true, true, false, false]
        );
        assert_eq!(
            table(Value::Int(2), Value::Int(1)),
            [false, true, false, false, true, true]
        );
        assert_eq!(
            table(Value::Double(f64::NAN), Value::Double(f64::NAN)),
            [false, true, false, false, false, false]
        );
    }

    #[test]
    fn strings_bytes_bools_and_times_order() {
        assert_eq!(
            table(Value::str("a"), Value::str("b")),
            [false, true, true, true, false, false]
        );
        assert_eq!(
            table(Value::str("B"), Value::str("a")),
            [false, true, true, true, false, false]
        );
        assert_eq!(
            table(
                Value::Bytes(Cow::Owned(vec![1])),
                Value::Bytes(Cow::Owned(vec![1, 0]))
            ),
            [false, true, true, true, false, false]
        );
        assert_eq!(
            table(Value::Bool(false), Value::Bool(true)),
            [false, true, true, true, false, false]
        );
        assert_eq!(
            table(Value::Time(5), Value::Time(5)),
            [true, false, false, true, false, true]
        );
    }

    #[test]
    fn mixed_kinds_are_only_not_equal() {
        assert_eq!(
            table(Value::Int(1), Value::str("1")),
            [false, true, false, false, false, false]
        );
        assert_eq!(
            table(Value::Bool(true), Value::Int(1)),
            [false, true, false, false, false, false]
        );
        assert_eq!(
            table(Value::Time(1), Value::Int(1)),
            [false, true, false, false, false, false]
        );
    }

    #[test]
    fn maps_and_lists_compare_deeply_for_equality_only() {
        let m1 = Value::Map(Cow::Owned(vec![
            kv("a", Value::Int(1).into_any()),
            kv("b", Value::str("x").into_any()),
        ]));
        let m2 = Value::Map(Cow::Owned(vec![
            kv("b", Value::str("x").into_any()),
            kv("a", Value::Int(1).into_any()),
        ]));
        let m3 = Value::Map(Cow::Owned(vec![kv("a", Value::Double(1.0).into_any())]));
        assert_eq!(
            table(m1.clone(), m2),
            [true, false, false, false, false, false]
        );
        assert_eq!(table(m1, m3), [false, true, false, false, false, false]);
        let l1 = Value::List(Cow::Owned(vec![Value::Int(1).into_any()]));
        let l2 = Value::List(Cow::Owned(vec![Value::Int(2).into_any()]));
        assert_eq!(
            table(l1.clone(), l1.clone()),
            [true, false, false, false, false, false]
        );
        assert_eq!(table(l1, l2), [false, true, false, false, false, false]);
    }
}
