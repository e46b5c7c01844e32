//! Editors: the lower-case OTTL functions that change a record (`set`,
//! `delete_key`, `replace_pattern`, `truncate_all`, ...), their argument
//! checks at compile time, and what they do. Semantics follow the
//! collector's `ottlfuncs` (`set` of nil is a no-op, pattern replacements use
//! `$1` / `${name}` group references, `replace_match` uses glob patterns).

use super::compile::{Args, Compiler};
use super::convert::HashFn;
use super::error::{EvalError, SyntaxError};
use super::expr::Expr;
use super::path::PathRef;
use super::record::RecordMut;
use super::value::{kv, Kind, Value};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use regex::{Captures, Regex};
use std::borrow::Cow;
use std::collections::HashSet;

/// How `merge_maps` treats keys present in both maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Only add keys the target lacks.
    Insert,
    /// Only overwrite keys the target has.
    Update,
    /// Both.
    Upsert,
}

/// What `replace_all_patterns` rewrites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Map keys.
    Key,
    /// String values.
    Value,
}

/// The optional `function` and `replacementFormat` of the `replace_*`
/// editors: the replacement is hashed, then placed into the format.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rewrite {
    /// Hash applied to the replacement.
    pub function: Option<HashFn>,
    /// Text around the `%s` of `replacementFormat`.
    pub format: Option<(String, String)>,
}

impl Rewrite {
    fn apply(&self, replacement: String) -> String {
        let hashed = match self.function {
            Some(f) => f.digest(&replacement),
            None => replacement,
        };
        match &self.format {
            Some((before, after)) => format!("{before}{hashed}{after}"),
            None => hashed,
        }
    }

    fn is_plain(&self) -> bool {
        self.function.is_none() && self.format.is_none()
    }
}

/// A compiled editor call.
#[derive(Debug)]
pub enum Editor {
    /// `set(target, value)`
    Set(PathRef, Expr),
    /// `delete_key(target, key)`
    DeleteKey(PathRef, Expr),
    /// `delete_matching_keys(target, pattern)`
    DeleteMatchingKeys(PathRef, Regex),
    /// `keep_keys(target, keys)`
    KeepKeys(PathRef, Vec<String>),
    /// `keep_matching_keys(target, pattern)`
    KeepMatchingKeys(PathRef, Regex),
    /// `replace_pattern(target, regex, replacement, ...)`
    ReplacePattern(PathRef, Regex, Expr, Rewrite),
    /// `replace_all_patterns(target, mode, regex, replacement, ...)`
    ReplaceAllPatterns(PathRef, Mode, Regex, Expr, Rewrite),
    /// `replace_match(target, glob, replacement, ...)`
    ReplaceMatch(PathRef, Regex, Expr, Rewrite),
    /// `replace_all_matches(target, glob, replacement, ...)`
    ReplaceAllMatches(PathRef, Regex, Expr, Rewrite),
    /// `truncate_all(target, limit)`
    TruncateAll(PathRef, usize),
    /// `limit(target, limit, priority_keys)`
    Limit(PathRef, usize, Vec<String>),
    /// `merge_maps(target, source, strategy)`
    MergeMaps(PathRef, Expr, Strategy),
    /// `route()`: the routing connector's marker; does nothing itself.
    Route,
}

fn rewrite(args: &Args<'_>, function: usize, format: usize) -> Result<Rewrite, SyntaxError> {
    let function_name = args.hash_fn(function)?;
    let format = match args.get(format) {
        None => None,
        Some(_) => {
            let f = args.lit_str(format)?;
            let parts: Vec<&str> = f.split("%s").collect();
            let stray = parts.iter().any(|p| p.contains('%'));
            if parts.len() != 2 || stray {
                return Err(args.error(
                    format,
                    format!(
                        "replacementFormat {f:?} must contain exactly one %s and no other format specifiers"
                    ),
                ));
            }
            Some((parts[0].to_string(), parts[1].to_string()))
        }
    };
    Ok(Rewrite {
        function: function_name,
        format,
    })
}

/// Converts a glob pattern (gobwas/glob syntax without separators, as the
/// collector's `replace_match`) into an anchored regex: `*` any text, `?` one
/// character, `[abc]` / `[!abc]` / `[a-z]` classes, `{a,b}` alternatives,
/// `\` escapes.
pub fn glob_to_regex(glob: &str) -> Result<Regex, String> {
    let mut re = String::from("(?s)^");
    let mut chars = glob.chars().peekable();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '\\' => match chars.next() {
                Some(e) => re.push_str(&regex::escape(&e.to_string())),
                None => return Err(format!("invalid glob {glob:?}: trailing backslash")),
            },
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    if d == '\\' || d == '[' || d == '^' {
                        re.push('\\');
                    }
                    re.push(d);
                }
                if !closed {
                    return Err(format!("invalid glob {glob:?}: unclosed ["));
                }
                re.push(']');
            }
            '{' => {
                depth += 1;
                re.push_str("(?:");
            }
            '}' if depth > 0 => {
                depth -= 1;
                re.push(')');
            }
            ',' if depth > 0 => re.push('|'),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    if depth > 0 {
        return Err(format!("invalid glob {glob:?}: unclosed {{"));
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("invalid glob {glob:?}: {e}"))
}

/// Builds the editor `args.spec` names from its bound arguments.
pub fn build(c: &Compiler, args: &Args<'_>) -> Result<Editor, SyntaxError> {
    let non_negative = |i: usize| -> Result<usize, SyntaxError> {
        let v = args.lit_int(i)?;
        usize::try_from(v).map_err(|_| args.error(i, format!("limit {v} cannot be negative")))
    };
    let glob = |i: usize| -> Result<Regex, SyntaxError> {
        let g = args.lit_str(i)?;
        glob_to_regex(&g).map_err(|e| args.error(i, e))
    };
    Ok(match args.spec.name {
        "set" => Editor::Set(args.path(c, 0)?, args.expr(c, 1)?),
        "delete_key" => Editor::DeleteKey(args.map_path(c, 0)?, args.expr_of(c, 1, &[Kind::Str])?),
        "delete_matching_keys" => Editor::DeleteMatchingKeys(args.map_path(c, 0)?, args.regex(1)?),
        "keep_keys" => Editor::KeepKeys(args.map_path(c, 0)?, args.lit_str_list(1)?),
        "keep_matching_keys" => Editor::KeepMatchingKeys(args.map_path(c, 0)?, args.regex(1)?),
        "replace_pattern" => Editor::ReplacePattern(
            args.path(c, 0)?,
            args.regex(1)?,
            args.expr_of(c, 2, &[Kind::Str])?,
            rewrite(args, 3, 4)?,
        ),
        "replace_all_patterns" => {
            let mode = match args.lit_str(1)?.as_str() {
                "key" => Mode::Key,
                "value" => Mode::Value,
                other => {
                    return Err(args.error(
                        1,
                        format!("invalid mode {other:?}, must be \"key\" or \"value\""),
                    ))
                }
            };
            Editor::ReplaceAllPatterns(
                args.map_path(c, 0)?,
                mode,
                args.regex(2)?,
                args.expr_of(c, 3, &[Kind::Str])?,
                rewrite(args, 4, 5)?,
            )
        }
        "replace_match" => Editor::ReplaceMatch(
            args.path(c, 0)?,
            glob(1)?,
            args.expr_of(c, 2, &[Kind::Str])?,
            rewrite(args, 3, 4)?,
        ),
        "replace_all_matches" => Editor::ReplaceAllMatches(
            args.map_path(c, 0)?,
            glob(1)?,
            args.expr_of(c, 2, &[Kind::Str])?,
            rewrite(args, 3, 4)?,
        ),
        "truncate_all" => Editor::TruncateAll(args.map_path(c, 0)?, non_negative(1)?),
        "limit" => {
            let limit = non_negative(1)?;
            let priority = args.lit_str_list(2)?;
            if priority.len() > limit {
                return Err(args.error(
                    1,
                    format!(
                        "limit {limit} cannot be less than the number of priority keys {}",
                        priority.len()
                    ),
                ));
            }
            Editor::Limit(args.map_path(c, 0)?, limit, priority)
        }
        "merge_maps" => {
            let strategy = match args.lit_str(2)?.as_str() {
                "insert" => Strategy::Insert,
                "update" => Strategy::Update,
                "upsert" => Strategy::Upsert,
                other => {
                    return Err(args.error(
                        2,
                        format!(
                        "invalid strategy {other:?}, must be \"insert\", \"update\" or \"upsert\""
                    ),
                    ))
                }
            };
            Editor::MergeMaps(
                args.map_path(c, 0)?,
                args.expr_of(c, 1, &[Kind::Map])?,
                strategy,
            )
        }
        "route" => Editor::Route,
        other => {
            return Err(SyntaxError::new(
                args.call.pos,
                format!("unknown function {other:?}"),
            ))
        }
    })
}

/// Truncates `s` to at most `limit` bytes without splitting a character.
fn truncate_str(s: &mut String, limit: usize) {
    if s.len() > limit {
        let mut end = limit;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `regex.replace_all` with optional hashing/formatting of each replacement.
fn replace_all<'t>(regex: &Regex, text: &'t str, replacement: &str, rw: &Rewrite) -> Cow<'t, str> {
    if rw.is_plain() {
        regex.replace_all(text, replacement)
    } else {
        regex.replace_all(text, |caps: &Captures<'_>| {
            let mut expanded = String::new();
            caps.expand(replacement, &mut expanded);
            rw.apply(expanded)
        })
    }
}

fn string_values(map: &mut [KeyValue]) -> impl Iterator<Item = &mut String> {
    map.iter_mut()
        .filter_map(|e| match e.value.as_mut()?.value.as_mut()? {
            any_value::Value::StringValue(s) => Some(s),
            _ => None,
        })
}

impl Editor {
    /// Applies the editor to the record.
    pub fn apply(&self, rec: &mut RecordMut<'_>) -> Result<(), EvalError> {
        match self {
            Editor::Route => Ok(()),
            Editor::Set(target, value) => {
                let v = value.eval(rec)?.into_owned();
                if v == Value::Nil {
                    return Ok(());
                }
                target.set(rec, v)
            }
            Editor::DeleteKey(target, key) => {
                let key = match key.eval(rec)? {
                    Value::Str(s) => s.into_owned(),
                    other => {
                        return Err(EvalError::new(format!(
                            "delete_key: expected a string key but got {}",
                            other.kind().article()
                        )))
                    }
                };
                if let Some(map) = target.map_mut(rec)? {
                    map.retain(|e| e.key != key);
                }
                Ok(())
            }
            Editor::DeleteMatchingKeys(target, regex) => {
                if let Some(map) = target.map_mut(rec)? {
                    map.retain(|e| !regex.is_match(&e.key));
                }
                Ok(())
            }
            Editor::KeepKeys(target, keys) => {
                if let Some(map) = target.map_mut(rec)? {
                    map.retain(|e| keys.contains(&e.key));
                }
                Ok(())
            }
            Editor::KeepMatchingKeys(target, regex) => {
                if let Some(map) = target.map_mut(rec)? {
                    map.retain(|e| regex.is_match(&e.key));
                }
                Ok(())
            }
            Editor::ReplacePattern(target, regex, replacement, rw) => {
                let replacement = replacement_string("replace_pattern", replacement, rec)?;
                let updated = {
                    let Value::Str(s) = target.get(rec)? else {
                        return Ok(());
                    };
                    match replace_all(regex, &s, &replacement, rw) {
                        Cow::Borrowed(_) => return Ok(()),
                        Cow::Owned(u) => u,
                    }
                };
                target.set(rec, Value::Str(Cow::Owned(updated)))
            }
            Editor::ReplaceMatch(target, glob, replacement, rw) => {
                let replacement = replacement_string("replace_match", replacement, rec)?;
                let matched = matches!(target.get(rec)?, Value::Str(s) if glob.is_match(&s));
                if matched {
                    target.set(rec, Value::Str(Cow::Owned(rw.apply(replacement))))?;
                }
                Ok(())
            }
            Editor::ReplaceAllMatches(target, glob, replacement, rw) => {
                let replacement =
                    rw.apply(replacement_string("replace_all_matches", replacement, rec)?);
                if let Some(map) = target.map_mut(rec)? {
                    for s in string_values(map) {
                        if glob.is_match(s) {
                            s.clone_from(&replacement);
                        }
                    }
                }
                Ok(())
            }
            Editor::ReplaceAllPatterns(target, mode, regex, replacement, rw) => {
                let replacement = replacement_string("replace_all_patterns", replacement, rec)?;
                let Some(map) = target.map_mut(rec)? else {
                    return Ok(());
                };
                match mode {
                    Mode::Value => {
                        for s in string_values(map) {
                            if let Cow::Owned(u) = replace_all(regex, s, &replacement, rw) {
                                *s = u;
                            }
                        }
                    }
                    Mode::Key => {
                        let mut renamed = false;
                        for e in map.iter_mut() {
                            if let Cow::Owned(u) = replace_all(regex, &e.key, &replacement, rw) {
                                e.key = u;
                                renamed = true;
                            }
                        }
                        if renamed {
                            dedup_keep_last(map);
                        }
                    }
                }
                Ok(())
            }
            Editor::TruncateAll(target, limit) => {
                if let Some(map) = target.map_mut(rec)? {
                    for s in string_values(map) {
                        truncate_str(s, *limit);
                    }
                }
                Ok(())
            }
            Editor::Limit(target, limit, priority) => {
                let Some(map) = target.map_mut(rec)? else {
                    return Ok(());
                };
                if map.len() <= *limit {
                    return Ok(());
                }
                let mut kept = map.iter().filter(|e| priority.contains(&e.key)).count();
                map.retain(|e| {
                    if priority.contains(&e.key) {
                        return true;
                    }
                    if kept < *limit {
                        kept += 1;
                        return true;
                    }
                    false
                });
                Ok(())
            }
            Editor::MergeMaps(target, source, strategy) => {
                let source = match source.eval(rec)? {
                    Value::Map(m) => m.into_owned(),
                    Value::Nil => return Ok(()),
                    other => {
                        return Err(EvalError::new(format!(
                            "merge_maps: expected a map for \"source\" but got {}",
                            other.kind().article()
                        )))
                    }
                };
                if target.map_mut(rec)?.is_none() {
                    if *strategy == Strategy::Update {
                        return Ok(());
                    }
                    target.set(rec, Value::Map(Cow::Owned(Vec::new())))?;
                }
                let Some(map) = target.map_mut(rec)? else {
                    return Ok(());
                };
                for e in source {
                    match map.iter_mut().find(|t| t.key == e.key) {
                        Some(existing) if *strategy != Strategy::Insert => {
                            existing.value = e.value;
                        }
                        Some(_) => {}
                        None if *strategy != Strategy::Update => {
                            map.push(kv(e.key, e.value.unwrap_or_default()));
                        }
                        None => {}
                    }
                }
                Ok(())
            }
        }
    }
}

fn replacement_string(f: &str, e: &Expr, rec: &RecordMut<'_>) -> Result<String, EvalError> {
    match e.eval(rec)? {
        Value::Str(s) => Ok(s.into_owned()),
        other => Err(EvalError::new(format!(
            "{f}: expected a string replacement but got {}",
            other.kind().article()
        ))),
    }
}

/// After renaming keys, keeps only the last entry of each key.
fn dedup_keep_last(map: &mut Vec<KeyValue>) {
    let mut seen = HashSet::new();
    let mut keep = vec![false; map.len()];
    for (i, e) in map.iter().enumerate().rev() {
        keep[i] = seen.insert(e.key.clone());
    }
    let mut flags = keep.into_iter();
    map.retain(|_| flags.next().unwrap_or(true));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn globs_translate_like_gobwas() {
        let g = glob_to_regex("/user/*/list/?").unwrap();
        assert!(g.is_match("/user/42/list/7"));
        assert!(g.is_match("/user/a/b/list/7"));
        assert!(!g.is_match("/user/42/list/77"));
        let g = glob_to_regex("{a,b}[!x]c.*").unwrap();
        assert!(g.is_match("ayc.txt"));
        assert!(!g.is_match("axc.txt"));
        assert!(!g.is_match("cyc.txt"));
        assert!(glob_to_regex("[abc").is_err());
        assert!(glob_to_regex("{a,b").is_err());
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        let mut s = "héllo".to_string();
        truncate_str(&mut s, 2);
        assert_eq!(s, "h");
        let mut s = "hello".to_string();
        truncate_str(&mut s, 3);
        assert_eq!(s, "hel");
    }

    #[test]
    fn renamed_keys_keep_the_last_value() {
        let mut m = vec![
            kv("a", Value::Int(1).into_any()),
            kv("b", Value::Int(2).into_any()),
            kv("a", Value::Int(3).into_any()),
        ];
        dedup_keep_last(&mut m);
        let keys: Vec<&str> = m.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
    }
}
