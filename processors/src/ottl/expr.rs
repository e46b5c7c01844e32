//! Compiled expressions and conditions, and their evaluation against a
//! record. Names are resolved, literal regexes compiled and enums replaced by
//! their numbers before anything runs.

use super::compare::compare;
use super::convert::Converter;
use super::error::EvalError;
use super::lexer::{CmpOp, MathOp};
use super::path::{index_value, Key, PathRef};
use super::record::RecordMut;
use super::value::{kv, Kind, Value};
use std::borrow::Cow;

/// A compiled value expression.
#[derive(Debug)]
pub enum Expr {
    /// A literal (enums are int literals).
    Lit(Value<'static>),
    /// A telemetry path.
    Path(PathRef),
    /// A converter call and indexes on its result.
    Call(Box<Converter>, Vec<Key>),
    /// Arithmetic.
    Math(MathOp, Box<Expr>, Box<Expr>),
    /// A list literal with computed elements.
    List(Vec<Expr>),
    /// A map literal with computed values.
    Map(Vec<(String, Expr)>),
}

impl Expr {
    /// The kind this expression yields when it is not nil, if known before
    /// running (used for argument checks at parse time).
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Expr::Lit(v) => Some(v.kind()),
            Expr::Path(p) if p.keys.is_empty() => p.field.kind(),
            Expr::Path(_) => None,
            Expr::Call(c, keys) if keys.is_empty() => c.kind(),
            Expr::Call(..) => None,
            Expr::Math(_, l, r) => match (l.kind(), r.kind()) {
                (Some(Kind::Double), _) | (_, Some(Kind::Double)) => Some(Kind::Double),
                (Some(Kind::Int), Some(Kind::Int)) => Some(Kind::Int),
                _ => None,
            },
            Expr::List(_) => Some(Kind::List),
            Expr::Map(_) => Some(Kind::Map),
        }
    }

    /// Evaluates the expression; the result may borrow from the record or
    /// from the expression's literals.
    pub fn eval<'s>(&'s self, rec: &'s RecordMut<'_>) -> Result<Value<'s>, EvalError> {
        match self {
            Expr::Lit(v) => Ok(v.reborrow()),
            Expr::Path(p) => p.get(rec),
            Expr::Call(conv, keys) => {
                let mut v = conv.eval(rec)?;
                for key in keys {
                    v = index_value(v, key)?;
                }
                Ok(v)
            }
            Expr::Math(op, l, r) => math(*op, l.eval(rec)?, r.eval(rec)?),
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(item.eval(rec)?.into_owned().into_any());
                }
                Ok(Value::List(Cow::Owned(out)))
            }
            Expr::Map(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (k, item) in items {
                    out.push(kv(k.clone(), item.eval(rec)?.into_owned().into_any()));
                }
                Ok(Value::Map(Cow::Owned(out)))
            }
        }
    }
}

fn math(op: MathOp, l: Value<'_>, r: Value<'_>) -> Result<Value<'static>, EvalError> {
    match (l, r) {
        (Value::Int(a), Value::Int(b)) => {
            let out = match op {
                MathOp::Add => a.checked_add(b),
                MathOp::Sub => a.checked_sub(b),
                MathOp::Mul => a.checked_mul(b),
                MathOp::Div => {
                    if b == 0 {
                        return Err(EvalError::new("attempted to divide by zero"));
                    }
                    a.checked_div(b)
                }
            };
            out.map(Value::Int).ok_or_else(|| {
                EvalError::new(format!("integer overflow in {a} {} {b}", op.as_str()))
            })
        }
        (Value::Double(a), Value::Double(b)) => Ok(Value::Double(match op {
            MathOp::Add => a + b,
            MathOp::Sub => a - b,
            MathOp::Mul => a * b,
            MathOp::Div => {
                if b == 0.0 {
                    return Err(EvalError::new("attempted to divide by zero"));
                }
                a / b
            }
        })),
        (Value::Time(a), Value::Int(b)) if matches!(op, MathOp::Add | MathOp::Sub) => {
            let out = if op == MathOp::Add {
                a.checked_add(b)
            } else {
                a.checked_sub(b)
            };
            out.map(Value::Time)
                .ok_or_else(|| EvalError::new("time arithmetic overflowed"))
        }
        (Value::Time(a), Value::Time(b)) if op == MathOp::Sub => a
            .checked_sub(b)
            .map(Value::Int)
            .ok_or_else(|| EvalError::new("time arithmetic overflowed")),
        (l, r) => Err(EvalError::new(format!(
            "unsupported arithmetic: {} {} {} (both sides must be ints or both doubles)",
            l.kind().name(),
            op.as_str(),
            r.kind().name()
        ))),
    }
}

/// A compiled boolean expression.
#[derive(Debug)]
pub enum Cond {
    /// Any of.
    Or(Vec<Cond>),
    /// All of.
    And(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// A comparison.
    Cmp(Expr, CmpOp, Expr),
    /// `true` / `false`.
    Const(bool),
    /// A converter that must yield a bool.
    Value(Expr, String),
}

impl Cond {
    /// Evaluates with short-circuiting `and` / `or`.
    pub fn eval(&self, rec: &RecordMut<'_>) -> Result<bool, EvalError> {
        match self {
            Cond::Or(items) => {
                for c in items {
                    if c.eval(rec)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Cond::And(items) => {
                for c in items {
                    if !c.eval(rec)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Cond::Not(c) => Ok(!c.eval(rec)?),
            Cond::Cmp(l, op, r) => Ok(compare(&l.eval(rec)?, &r.eval(rec)?, *op)),
            Cond::Const(b) => Ok(*b),
            Cond::Value(e, name) => match e.eval(rec)? {
                Value::Bool(b) => Ok(b),
                other => Err(EvalError::new(format!(
                    "{name} returned {}, not a bool",
                    other.kind().article()
                ))),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_follows_the_collector() {
        assert_eq!(
            math(MathOp::Div, Value::Int(7), Value::Int(2)).unwrap(),
            Value::Int(3)
        );
        assert_eq!(
            math(MathOp::Mul, Value::Double(1.5), Value::Double(2.0)).unwrap(),
            Value::Double(3.0)
        );
        assert_eq!(
            math(MathOp::Sub, Value::Time(10), Value::Time(4)).unwrap(),
            Value::Int(6)
        );
        assert_eq!(
            math(MathOp::Add, Value::Time(10), Value::Int(5)).unwrap(),
            Value::Time(15)
        );
        assert_eq!(
            math(MathOp::Div, Value::Int(1), Value::Int(0))
                .unwrap_err()
                .0,
            "attempted to divide by zero"
        );
        assert_eq!(
            math(MathOp::Add, Value::Int(1), Value::Double(1.0))
                .unwrap_err()
                .0,
            "unsupported arithmetic: int + double (both sides must be ints or both doubles)"
        );
        assert_eq!(
            math(MathOp::Add, Value::Int(i64::MAX), Value::Int(1))
                .unwrap_err()
                .0,
            format!("integer overflow in {} + 1", i64::MAX)
        );
    }
}
