//! Environment expansion in config values, as the collector does it:
//! `${env:VAR}` and `${VAR}`, `${env:VAR:-default}`, and `$$` for a literal
//! `$`. A value that is exactly one `${...}` is re-read as YAML, so
//! `port: ${env:PORT}` yields a number; inline uses stay strings. References
//! nest (`${env:${NAME}}`) at most [`MAX_NESTING`] deep.

use serde_yaml_ng::Value;

/// The deepest nesting of references inside references. Each level is a
/// recursion, so a config of nothing but `${` would otherwise overflow the
/// stack and abort oispd instead of failing validation.
pub const MAX_NESTING: usize = 16;

/// Looks a variable up; injected so tests never touch the process environment.
pub trait Env {
    /// The value of `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// Expands every string scalar of `value` in place. Returns the problems
/// found (invalid names, unterminated references), each naming its path.
pub fn expand_value(value: &mut Value, env: &dyn Env, path: &mut Vec<String>) -> Vec<String> {
    let mut problems = Vec::new();
    match value {
        Value::String(s) => match expand_str(s, env) {
            Ok(Expanded::Whole(text)) => {
                *value = reparse_scalar(&text);
            }
            Ok(Expanded::Inline(text)) => *s = text,
            Err(e) => problems.push(format!("{}: {e}", path.join("::"))),
        },
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                path.push(key_name(k));
                problems.extend(expand_value(v, env, path));
                path.pop();
            }
        }
        Value::Sequence(seq) => {
            for (i, v) in seq.iter_mut().enumerate() {
                path.push(i.to_string());
                problems.extend(expand_value(v, env, path));
                path.pop();
            }
        }
        Value::Tagged(t) => problems.extend(expand_value(&mut t.value, env, path)),
        _ => {}
    }
    problems
}

fn key_name(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other)
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    }
}

/// The result of expanding one string.
#[derive(Debug, PartialEq)]
pub enum Expanded {
    /// The string was exactly one reference: its value, to be re-typed.
    Whole(String),
    /// Anything else: the expanded string.
    Inline(String),
}

/// Expands references in one string.
pub fn expand_str(s: &str, env: &dyn Env) -> Result<Expanded, String> {
    expand_nested(s, env, 0)
}

/// [`expand_str`] inside `depth` enclosing references.
fn expand_nested(s: &str, env: &dyn Env, depth: usize) -> Result<Expanded, String> {
    if !s.contains('$') {
        return Ok(Expanded::Inline(s.to_string()));
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut references = 0;
    let mut literal_text = false;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            match bytes.get(i + 1) {
                Some(b'$') => {
                    out.push('$');
                    literal_text = true;
                    i += 2;
                    continue;
                }
                Some(b'{') => {
                    let Some(close) = find_closing(s, i + 2) else {
                        return Err(format!(
                            "unterminated reference in {:?}: missing '}}'",
                            abbreviate(s)
                        ));
                    };
                    if depth >= MAX_NESTING {
                        return Err(format!(
                            "references nest deeper than {MAX_NESTING} levels in {:?}",
                            abbreviate(s)
                        ));
                    }
                    let inner = &s[i + 2..close];
                    // Nested references resolve first (`${env:${NAME}}`).
                    let inner = match expand_nested(inner, env, depth + 1)? {
                        Expanded::Whole(v) | Expanded::Inline(v) => v,
                    };
                    out.push_str(&resolve(&inner, env)?);
                    references += 1;
                    i = close + 1;
                    continue;
                }
                _ => {}
            }
        }
        let ch_len = utf8_len(bytes[i]);
        out.push_str(&s[i..i + ch_len]);
        literal_text = true;
        i += ch_len;
    }
    if references == 1 && !literal_text {
        Ok(Expanded::Whole(out))
    } else {
        Ok(Expanded::Inline(out))
    }
}

/// The start of `s`, for error messages about very long values.
fn abbreviate(s: &str) -> String {
    const KEEP: usize = 60;
    match s.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_string(),
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Index of the `}` closing a reference that starts at `from`, allowing nesting.
fn find_closing(s: &str, from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (off, b) in s.as_bytes()[from..].iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(from + off),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn resolve(reference: &str, env: &dyn Env) -> Result<String, String> {
    let body = match reference.split_once(':') {
        Some(("env", rest)) => rest,
        // `${VAR:-default}`: the first colon starts the default.
        Some((_, rest)) if rest.starts_with('-') => reference,
        Some((scheme, _)) => {
            return Err(format!(
            "unsupported config provider {scheme:?} in \"${{{reference}}}\"; only env is supported"
        ))
        }
        None => reference,
    };
    let (name, default) = match body.split_once(":-") {
        Some((n, d)) => (n, Some(d)),
        None => (body, None),
    };
    if !valid_name(name) {
        return Err(format!(
            "environment variable {name:?} has invalid name: must match '^[a-zA-Z_][a-zA-Z0-9_]*$'"
        ));
    }
    match (env.var(name), default) {
        (Some(v), Some(d)) if v.is_empty() => Ok(d.to_string()),
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d.to_string()),
        (None, None) => {
            tracing::warn!(
                variable = name,
                "configuration references an unset environment variable; it expands to an empty string"
            );
            Ok(String::new())
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 200
}

/// Re-reads an expanded whole-field value as a YAML scalar (numbers, bools);
/// anything that is not a scalar stays a string.
fn reparse_scalar(text: &str) -> Value {
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(v @ (Value::Bool(_) | Value::Number(_))) => v,
        Ok(Value::Null) if text.trim().is_empty() => Value::String(String::new()),
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    fn env() -> MapEnv {
        MapEnv(HashMap::from([
            ("HOST", "siem.local"),
            ("PORT", "4317"),
            ("NAME", "HOST"),
            ("EMPTY", ""),
        ]))
    }

    fn inline(s: &str) -> String {
        match expand_str(s, &env()).unwrap() {
            Expanded::Inline(v) | Expanded::Whole(v) => v,
        }
    }

    #[test]
    fn expands_both_forms_and_defaults() {
        assert_eq!(inline("${env:HOST}:${PORT}"), "siem.local:4317");
        assert_eq!(inline("${env:MISSING:-fallback}"), "fallback");
        assert_eq!(inline("${env:EMPTY:-fallback}"), "fallback");
        assert_eq!(inline("${env:MISSING:-}"), "");
        assert_eq!(inline("${env:MISSING}"), "");
        assert_eq!(inline("${env:${NAME}}"), "siem.local");
        assert!(expand_str("${file:/etc/x}", &env()).is_err());
    }

    #[test]
    fn double_dollar_is_a_literal_dollar() {
        assert_eq!(inline("pa$$word"), "pa$word");
        assert_eq!(inline("$${env:HOST}"), "${env:HOST}");
        assert_eq!(inline("cost: $5"), "cost: $5");
    }

    #[test]
    fn whole_field_reference_is_retyped() {
        let mut v: Value =
            serde_yaml_ng::from_str("port: ${env:PORT}\nurl: http://h:${env:PORT}").unwrap();
        assert!(expand_value(&mut v, &env(), &mut vec![]).is_empty());
        assert_eq!(v["port"], Value::Number(4317.into()));
        assert_eq!(v["url"], Value::String("http://h:4317".into()));
    }

    #[test]
    fn bad_references_are_errors_with_path() {
        let mut v: Value = serde_yaml_ng::from_str("a: {b: '${env:1BAD}'}\nc: '${env:X'").unwrap();
        let problems = expand_value(&mut v, &env(), &mut vec![]);
        assert_eq!(problems.len(), 2);
        assert!(
            problems[0].starts_with("a::b: environment variable \"1BAD\" has invalid name"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("c: unterminated reference"),
            "{problems:?}"
        );
    }

    /// `levels` references, each the default of the one around it.
    fn nested_defaults(levels: usize) -> String {
        format!(
            "{}x{}",
            "${env:MISSING:-".repeat(levels),
            "}".repeat(levels)
        )
    }

    /// Scenario: references nested as defaults of each other, MAX_NESTING
    /// deep, one deeper, and the ~15,400 levels (46 KB) that overflowed the
    /// stack before the limit existed.
    /// Guarantees: the limit expands; past it, an error that says so and
    /// quotes only the start of the value; no stack overflow.
    #[test]
    fn nesting_is_limited() {
        assert_eq!(inline(&nested_defaults(MAX_NESTING)), "x");
        for levels in [MAX_NESTING + 1, 15_400] {
            let text = nested_defaults(levels);
            let e = expand_str(&text, &env()).unwrap_err();
            assert!(
                e.starts_with(&format!(
                    "references nest deeper than {MAX_NESTING} levels in \"env:MISSING:-"
                )),
                "{e}"
            );
            assert!(e.len() < 200, "{e}");
        }
        let mut v: Value =
            serde_yaml_ng::from_str(&format!("a: '{}'", nested_defaults(15_400))).unwrap();
        let problems = expand_value(&mut v, &env(), &mut vec![]);
        assert!(
            problems[0].starts_with("a: references nest deeper"),
            "{problems:?}"
        );
    }
}
