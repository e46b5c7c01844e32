//! Converters: the pure, upper-case OTTL functions (`IsMatch`, `Len`,
//! `ParseJSON`, ...), how their arguments are checked when a statement is
//! compiled, and what they compute. Semantics follow the collector's
//! `ottlfuncs` (nil handling, string forms, errors on wrong types).

use super::compare::compare;
use super::compile::{Args, Compiler};
use super::error::{EvalError, SyntaxError};
use super::expr::Expr;
use super::lexer::CmpOp;
use super::record::RecordMut;
use super::value::{json_to_any, Kind, Value};
use opentelemetry_proto::tonic::common::v1::AnyValue;
use regex::Regex;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use std::borrow::Cow;

/// A hash function usable as a converter and as the `function` argument of
/// the `replace_*` editors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFn {
    /// `SHA1`
    Sha1,
    /// `SHA256`
    Sha256,
    /// `SHA512`
    Sha512,
}

impl HashFn {
    /// Looks a hash converter up by name.
    pub fn from_name(name: &str) -> Option<HashFn> {
        match name {
            "SHA1" => Some(HashFn::Sha1),
            "SHA256" => Some(HashFn::Sha256),
            "SHA512" => Some(HashFn::Sha512),
            _ => None,
        }
    }

    /// The lower-case hex digest of `s`.
    pub fn digest(self, s: &str) -> String {
        match self {
            HashFn::Sha1 => hex::encode(Sha1::digest(s.as_bytes())),
            HashFn::Sha256 => hex::encode(Sha256::digest(s.as_bytes())),
            HashFn::Sha512 => hex::encode(Sha512::digest(s.as_bytes())),
        }
    }
}

/// A compiled converter call.
#[derive(Debug)]
pub enum Converter {
    /// A call folded into its value at compile time (`TraceID(0x...)`).
    Const(Value<'static>),
    /// `IsMatch(target, pattern)`
    IsMatch(Expr, Regex),
    /// `IsString`, `IsMap`, `IsInt`, `IsBool`, `IsDouble`, `IsList`.
    IsKind(Expr, Kind),
    /// `HasPrefix(target, prefix)`
    HasPrefix(Expr, Expr),
    /// `HasSuffix(target, suffix)`
    HasSuffix(Expr, Expr),
    /// `Contains(target, item)`: list membership.
    Contains(Expr, Expr),
    /// `Len(target)`
    Len(Expr),
    /// `Concat(values, delimiter)`
    Concat(Expr, Expr),
    /// `ToLowerCase` (false) / `ToUpperCase` (true).
    Case(Expr, bool),
    /// `SHA1`, `SHA256`, `SHA512`.
    Hash(Expr, HashFn),
    /// `ParseJSON(target)`
    ParseJson(Expr),
    /// `Int(value)`
    Int(Expr),
    /// `Double(value)`
    Double(Expr),
    /// `String(value)`
    String(Expr),
    /// `Substring(target, start, length)`
    Substring(Expr, Expr, Expr),
    /// `Split(target, delimiter)`
    Split(Expr, Expr),
    /// `UnixNano(time)`
    UnixNano(Expr),
    /// `Unix(seconds, Optional[nanoseconds])`
    Unix(Expr, Option<Expr>),
}

/// Builds the converter `args.spec` names from its bound arguments.
pub fn build(c: &Compiler, args: &Args<'_>) -> Result<Converter, SyntaxError> {
    use Kind as K;
    Ok(match args.spec.name {
        "IsMatch" => Converter::IsMatch(args.expr(c, 0)?, args.regex(1)?),
        "IsString" => Converter::IsKind(args.expr(c, 0)?, K::Str),
        "IsMap" => Converter::IsKind(args.expr(c, 0)?, K::Map),
        "IsInt" => Converter::IsKind(args.expr(c, 0)?, K::Int),
        "IsBool" => Converter::IsKind(args.expr(c, 0)?, K::Bool),
        "IsDouble" => Converter::IsKind(args.expr(c, 0)?, K::Double),
        "IsList" => Converter::IsKind(args.expr(c, 0)?, K::List),
        "HasPrefix" => Converter::HasPrefix(
            args.expr_of(c, 0, &[K::Str])?,
            args.expr_of(c, 1, &[K::Str])?,
        ),
        "HasSuffix" => Converter::HasSuffix(
            args.expr_of(c, 0, &[K::Str])?,
            args.expr_of(c, 1, &[K::Str])?,
        ),
        "Contains" => {
            let target = args.expr(c, 0)?;
            if target.kind() == Some(K::Str) {
                return Err(args.error(
                    0,
                    "checks membership in a list, and the target is a string; for substrings use IsMatch, HasPrefix or HasSuffix",
                ));
            }
            Converter::Contains(args.expr_of(c, 0, &[K::List])?, args.expr(c, 1)?)
        }
        "Len" => Converter::Len(args.expr_of(c, 0, &[K::Str, K::List, K::Map])?),
        "Concat" => Converter::Concat(
            args.expr_of(c, 0, &[K::List])?,
            args.expr_of(c, 1, &[K::Str])?,
        ),
        "ToLowerCase" => Converter::Case(args.expr_of(c, 0, &[K::Str])?, false),
        "ToUpperCase" => Converter::Case(args.expr_of(c, 0, &[K::Str])?, true),
        "SHA1" | "SHA256" | "SHA512" => {
            let f = HashFn::from_name(args.spec.name).unwrap_or(HashFn::Sha256);
            Converter::Hash(args.expr_of(c, 0, &[K::Str])?, f)
        }
        "ParseJSON" => Converter::ParseJson(args.expr_of(c, 0, &[K::Str])?),
        "Int" => Converter::Int(args.expr(c, 0)?),
        "Double" => Converter::Double(args.expr(c, 0)?),
        "String" => Converter::String(args.expr(c, 0)?),
        "Substring" => {
            let start = args.expr_of(c, 1, &[K::Int])?;
            let length = args.expr_of(c, 2, &[K::Int])?;
            if let Expr::Lit(Value::Int(s)) = start {
                if s < 0 {
                    return Err(args.error(1, format!("start {s} cannot be negative")));
                }
            }
            if let Expr::Lit(Value::Int(l)) = length {
                if l <= 0 {
                    return Err(args.error(2, format!("length {l} must be greater than zero")));
                }
            }
            Converter::Substring(args.expr_of(c, 0, &[K::Str])?, start, length)
        }
        "Split" => Converter::Split(
            args.expr_of(c, 0, &[K::Str])?,
            args.expr_of(c, 1, &[K::Str])?,
        ),
        "TraceID" | "SpanID" => {
            let len = if args.spec.name == "TraceID" { 16 } else { 8 };
            match args.expr(c, 0)? {
                Expr::Lit(Value::Bytes(b)) if b.len() == len => Converter::Const(Value::Bytes(b)),
                Expr::Lit(Value::Bytes(b)) => {
                    return Err(
                        args.error(0, format!("needs exactly {len} bytes but got {}", b.len()))
                    )
                }
                _ => {
                    return Err(args.error(
                        0,
                        format!(
                            "needs a bytes literal of {len} bytes such as 0x{}",
                            "00".repeat(len)
                        ),
                    ))
                }
            }
        }
        "UnixNano" => Converter::UnixNano(args.expr_of(c, 0, &[K::Time])?),
        "Unix" => {
            let nanos = match args.get(1) {
                Some(_) => Some(args.expr_of(c, 1, &[K::Int])?),
                None => None,
            };
            Converter::Unix(args.expr_of(c, 0, &[K::Int])?, nanos)
        }
        other => {
            return Err(SyntaxError::new(
                args.call.pos,
                format!("unknown function {other:?}"),
            ))
        }
    })
}

fn want_str<'v>(f: &str, param: &str, v: Value<'v>) -> Result<Cow<'v, str>, EvalError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(EvalError::new(format!(
            "{f}: expected a string for {param:?} but got {}",
            other.kind().article()
        ))),
    }
}

fn want_int(f: &str, param: &str, v: Value<'_>) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(i),
        other => Err(EvalError::new(format!(
            "{f}: expected an int for {param:?} but got {}",
            other.kind().article()
        ))),
    }
}

fn owned_str(s: String) -> Value<'static> {
    Value::Str(Cow::Owned(s))
}

impl Converter {
    /// The kind of the result when it is not nil.
    pub fn kind(&self) -> Option<Kind> {
        Some(match self {
            Converter::Const(v) => v.kind(),
            Converter::IsMatch(..)
            | Converter::IsKind(..)
            | Converter::HasPrefix(..)
            | Converter::HasSuffix(..)
            | Converter::Contains(..) => Kind::Bool,
            Converter::Len(_) | Converter::Int(_) | Converter::UnixNano(_) => Kind::Int,
            Converter::Concat(..)
            | Converter::Case(..)
            | Converter::Hash(..)
            | Converter::String(_)
            | Converter::Substring(..) => Kind::Str,
            Converter::Double(_) => Kind::Double,
            Converter::Split(..) => Kind::List,
            Converter::Unix(..) => Kind::Time,
            Converter::ParseJson(_) => return None,
        })
    }

    /// Computes the converter's value.
    pub fn eval<'s>(&'s self, rec: &'s RecordMut<'_>) -> Result<Value<'s>, EvalError> {
        Ok(match self {
            Converter::Const(v) => v.reborrow(),
            Converter::IsMatch(target, regex) => {
                let v = target.eval(rec)?;
                Value::Bool(match v.to_match_string() {
                    Some(s) => regex.is_match(&s),
                    None => false,
                })
            }
            Converter::IsKind(value, kind) => Value::Bool(value.eval(rec)?.kind() == *kind),
            Converter::HasPrefix(target, prefix) => {
                let t = want_str("HasPrefix", "target", target.eval(rec)?)?;
                let p = want_str("HasPrefix", "prefix", prefix.eval(rec)?)?;
                Value::Bool(t.starts_with(p.as_ref()))
            }
            Converter::HasSuffix(target, suffix) => {
                let t = want_str("HasSuffix", "target", target.eval(rec)?)?;
                let s = want_str("HasSuffix", "suffix", suffix.eval(rec)?)?;
                Value::Bool(t.ends_with(s.as_ref()))
            }
            Converter::Contains(target, item) => {
                let item = item.eval(rec)?;
                match target.eval(rec)? {
                    Value::List(list) => Value::Bool(
                        list.iter()
                            .any(|e| compare(&Value::from_any(e), &item, CmpOp::Eq)),
                    ),
                    Value::Nil => Value::Bool(false),
                    other => {
                        return Err(EvalError::new(format!(
                            "Contains: expected a list for \"target\" but got {}",
                            other.kind().article()
                        )))
                    }
                }
            }
            Converter::Len(target) => match target.eval(rec)? {
                Value::Str(s) => Value::Int(s.len() as i64),
                Value::List(l) => Value::Int(l.len() as i64),
                Value::Map(m) => Value::Int(m.len() as i64),
                other => {
                    return Err(EvalError::new(format!(
                        "Len: expected a string, list or map but got {}",
                        other.kind().article()
                    )))
                }
            },
            Converter::Concat(values, delimiter) => {
                let delimiter = want_str("Concat", "delimiter", delimiter.eval(rec)?)?;
                let mut out = String::new();
                let mut push = |i: usize, v: &Value<'_>| {
                    if i > 0 {
                        out.push_str(&delimiter);
                    }
                    match v.to_string_like() {
                        Some(s) => out.push_str(&s),
                        None => out.push_str("<nil>"),
                    }
                };
                if let Expr::List(items) = values {
                    for (i, item) in items.iter().enumerate() {
                        push(i, &item.eval(rec)?);
                    }
                } else {
                    match values.eval(rec)? {
                        Value::List(list) => {
                            for (i, item) in list.iter().enumerate() {
                                push(i, &Value::from_any(item));
                            }
                        }
                        other => {
                            return Err(EvalError::new(format!(
                                "Concat: expected a list for \"values\" but got {}",
                                other.kind().article()
                            )))
                        }
                    }
                }
                owned_str(out)
            }
            Converter::Case(target, upper) => {
                let name = if *upper { "ToUpperCase" } else { "ToLowerCase" };
                let s = want_str(name, "target", target.eval(rec)?)?;
                owned_str(if *upper {
                    s.to_uppercase()
                } else {
                    s.to_lowercase()
                })
            }
            Converter::Hash(value, f) => {
                let name = match f {
                    HashFn::Sha1 => "SHA1",
                    HashFn::Sha256 => "SHA256",
                    HashFn::Sha512 => "SHA512",
                };
                let s = want_str(name, "value", value.eval(rec)?)?;
                owned_str(f.digest(&s))
            }
            Converter::ParseJson(target) => {
                let s = want_str("ParseJSON", "target", target.eval(rec)?)?;
                let json: serde_json::Value = serde_json::from_str(&s)
                    .map_err(|e| EvalError::new(format!("ParseJSON: invalid JSON: {e}")))?;
                if !(json.is_object() || json.is_array()) {
                    return Err(EvalError::new("ParseJSON: expected a JSON object or array"));
                }
                Value::from_any_owned(json_to_any(json))
            }
            Converter::Int(value) => match value.eval(rec)? {
                Value::Int(i) => Value::Int(i),
                Value::Double(d) if d.is_finite() => Value::Int(d.trunc() as i64),
                Value::Str(s) => s.parse::<i64>().map(Value::Int).unwrap_or(Value::Nil),
                Value::Bool(b) => Value::Int(i64::from(b)),
                _ => Value::Nil,
            },
            Converter::Double(value) => match value.eval(rec)? {
                Value::Double(d) => Value::Double(d),
                Value::Int(i) => Value::Double(i as f64),
                Value::Str(s) => s.parse::<f64>().map(Value::Double).unwrap_or(Value::Nil),
                Value::Bool(b) => Value::Double(if b { 1.0 } else { 0.0 }),
                _ => Value::Nil,
            },
            Converter::String(value) => match value.eval(rec)? {
                Value::Str(s) => Value::Str(s),
                other => other
                    .to_string_like()
                    .map(|s| owned_str(s.into_owned()))
                    .unwrap_or(Value::Nil),
            },
            Converter::Substring(target, start, length) => {
                let start = want_int("Substring", "start", start.eval(rec)?)?;
                let length = want_int("Substring", "length", length.eval(rec)?)?;
                if start < 0 {
                    return Err(EvalError::new(format!(
                        "Substring: start {start} cannot be negative"
                    )));
                }
                if length <= 0 {
                    return Err(EvalError::new(format!(
                        "Substring: length {length} must be greater than zero"
                    )));
                }
                let s = want_str("Substring", "target", target.eval(rec)?)?;
                let bytes = s.as_bytes();
                let end = start.checked_add(length).unwrap_or(i64::MAX);
                if end > bytes.len() as i64 {
                    return Err(EvalError::new(format!(
                        "Substring: start({start})+length({length}) cannot be greater than the length of the target string({})",
                        bytes.len()
                    )));
                }
                let slice = &bytes[start as usize..end as usize];
                owned_str(String::from_utf8_lossy(slice).into_owned())
            }
            Converter::Split(target, delimiter) => {
                let s = want_str("Split", "target", target.eval(rec)?)?;
                let d = want_str("Split", "delimiter", delimiter.eval(rec)?)?;
                let parts: Vec<AnyValue> = if d.is_empty() {
                    s.chars()
                        .map(|c| owned_str(c.to_string()).into_any())
                        .collect()
                } else {
                    s.split(d.as_ref())
                        .map(|p| owned_str(p.to_string()).into_any())
                        .collect()
                };
                Value::List(Cow::Owned(parts))
            }
            Converter::UnixNano(time) => match time.eval(rec)? {
                Value::Time(t) => Value::Int(t),
                other => {
                    return Err(EvalError::new(format!(
                        "UnixNano: expected a time but got {}",
                        other.kind().article()
                    )))
                }
            },
            Converter::Unix(seconds, nanos) => {
                let s = want_int("Unix", "seconds", seconds.eval(rec)?)?;
                let n = match nanos {
                    Some(n) => want_int("Unix", "nanoseconds", n.eval(rec)?)?,
                    None => 0,
                };
                s.checked_mul(1_000_000_000)
                    .and_then(|v| v.checked_add(n))
                    .map(Value::Time)
                    .ok_or_else(|| EvalError::new("Unix: time out of range"))?
            }
        })
    }
}
