//! Turns syntax trees into runnable [`Expr`] / [`Cond`] / [`Editor`] values:
//! resolves paths for the statement's context, looks functions up and binds
//! their arguments (positional or named), replaces enums by numbers, checks
//! literal argument types and compiles literal regexes once. Every problem is
//! reported with the position of the node it concerns.

use super::ast::{ArgAst, BoolAst, CallAst, PathAst, StatementAst, ValueAst};
use super::convert::{self, Converter, HashFn};
use super::edit::{self, Editor};
use super::error::SyntaxError;
use super::expr::{Cond, Expr};
use super::path::{path_prefix, resolve, Key, PathRef};
use super::record::Context;
use super::suggest::did_you_mean;
use super::value::{Kind, Value};
use regex::Regex;
use std::borrow::Cow;

/// One parameter of a function.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its name (usable as `name = value`).
    pub name: &'static str,
    /// Whether it may be left out.
    pub optional: bool,
}

const fn req(name: &'static str) -> Param {
    Param {
        name,
        optional: false,
    }
}

const fn opt(name: &'static str) -> Param {
    Param {
        name,
        optional: true,
    }
}

/// A function oispd implements.
pub struct FnSpec {
    /// The name as called.
    pub name: &'static str,
    /// Editors change the record; converters compute values.
    pub editor: bool,
    /// Parameters in order.
    pub params: &'static [Param],
}

const fn conv(name: &'static str, params: &'static [Param]) -> FnSpec {
    FnSpec {
        name,
        editor: false,
        params,
    }
}

const fn editor(name: &'static str, params: &'static [Param]) -> FnSpec {
    FnSpec {
        name,
        editor: true,
        params,
    }
}

/// Every function oispd implements, with the collector's parameter names.
pub const FUNCTIONS: &[FnSpec] = &[
    conv("IsMatch", &[req("target"), req("pattern")]),
    conv("IsString", &[req("value")]),
    conv("IsMap", &[req("value")]),
    conv("IsInt", &[req("value")]),
    conv("IsBool", &[req("value")]),
    conv("IsDouble", &[req("value")]),
    conv("IsList", &[req("value")]),
    conv("HasPrefix", &[req("target"), req("prefix")]),
    conv("HasSuffix", &[req("target"), req("suffix")]),
    conv("Contains", &[req("target"), req("item")]),
    conv("Len", &[req("target")]),
    conv("Concat", &[req("values"), req("delimiter")]),
    conv("ToLowerCase", &[req("target")]),
    conv("ToUpperCase", &[req("target")]),
    conv("SHA1", &[req("value")]),
    conv("SHA256", &[req("value")]),
    conv("SHA512", &[req("value")]),
    conv("ParseJSON", &[req("target")]),
    conv("Int", &[req("value")]),
    conv("Double", &[req("value")]),
    conv("String", &[req("value")]),
    conv("Substring", &[req("target"), req("start"), req("length")]),
    conv("Split", &[req("target"), req("delimiter")]),
    conv("TraceID", &[req("bytes")]),
    conv("SpanID", &[req("bytes")]),
    conv("UnixNano", &[req("time")]),
    conv("Unix", &[req("seconds"), opt("nanoseconds")]),
    editor("set", &[req("target"), req("value")]),
    editor("delete_key", &[req("target"), req("key")]),
    editor("delete_matching_keys", &[req("target"), req("pattern")]),
    editor("keep_keys", &[req("target"), req("keys")]),
    editor("keep_matching_keys", &[req("target"), req("pattern")]),
    editor(
        "replace_pattern",
        &[
            req("target"),
            req("regex"),
            req("replacement"),
            opt("function"),
            opt("replacementFormat"),
        ],
    ),
    editor(
        "replace_all_patterns",
        &[
            req("target"),
            req("mode"),
            req("regex"),
            req("replacement"),
            opt("function"),
            opt("replacementFormat"),
        ],
    ),
    editor(
        "replace_match",
        &[
            req("target"),
            req("pattern"),
            req("replacement"),
            opt("function"),
            opt("replacementFormat"),
        ],
    ),
    editor(
        "replace_all_matches",
        &[
            req("target"),
            req("pattern"),
            req("replacement"),
            opt("function"),
            opt("replacementFormat"),
        ],
    ),
    editor("truncate_all", &[req("target"), req("limit")]),
    editor(
        "limit",
        &[req("target"), req("limit"), req("priority_keys")],
    ),
    editor(
        "merge_maps",
        &[req("target"), req("source"), req("strategy")],
    ),
    editor("route", &[]),
];

/// Collector functions oispd does not implement, so that a config written for
/// the collector gets "not supported" instead of "unknown".
const NOT_SUPPORTED: &[&str] = &[
    "Base64Decode",
    "Decode",
    "ConvertCase",
    "ConvertAttributesToElementsXML",
    "ConvertTextToElementsXML",
    "Day",
    "Duration",
    "ExtractPatterns",
    "ExtractGrokPatterns",
    "FNV",
    "Format",
    "FormatTime",
    "GetXML",
    "Hex",
    "Hour",
    "Hours",
    "Index",
    "InsertXML",
    "IsRootSpan",
    "IsValidLuhn",
    "Keys",
    "Log",
    "MD5",
    "Microseconds",
    "Milliseconds",
    "Minute",
    "Minutes",
    "Month",
    "Murmur3Hash",
    "Murmur3Hash128",
    "Nanosecond",
    "Nanoseconds",
    "Now",
    "ParseCSV",
    "ParseKeyValue",
    "ParseSimplifiedXML",
    "ParseXML",
    "RemoveXML",
    "Second",
    "Seconds",
    "SliceToMap",
    "Sort",
    "Time",
    "ToCamelCase",
    "ToKeyValueString",
    "ToSnakeCase",
    "Trim",
    "TruncateTime",
    "UnixMicro",
    "UnixMilli",
    "UnixSeconds",
    "UserAgent",
    "UUID",
    "Weekday",
    "Year",
    "append",
    "delete_index",
    "delete_matching_values",
    "flatten",
];

fn spec(name: &str) -> Option<&'static FnSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

fn names(editors: bool) -> impl Iterator<Item = &'static str> {
    FUNCTIONS
        .iter()
        .filter(move |f| f.editor == editors && f.name != "route")
        .map(|f| f.name)
}

const LOG_ENUMS: &[(&str, i64)] = &[
    ("SEVERITY_NUMBER_UNSPECIFIED", 0),
    ("SEVERITY_NUMBER_TRACE", 1),
    ("SEVERITY_NUMBER_TRACE2", 2),
    ("SEVERITY_NUMBER_TRACE3", 3),
    ("SEVERITY_NUMBER_TRACE4", 4),
    ("SEVERITY_NUMBER_DEBUG", 5),
    ("SEVERITY_NUMBER_DEBUG2", 6),
    ("SEVERITY_NUMBER_DEBUG3", 7),
    ("SEVERITY_NUMBER_DEBUG4", 8),
    ("SEVERITY_NUMBER_INFO", 9),
    ("SEVERITY_NUMBER_INFO2", 10),
    ("SEVERITY_NUMBER_INFO3", 11),
    ("SEVERITY_NUMBER_INFO4", 12),
    ("SEVERITY_NUMBER_WARN", 13),
    ("SEVERITY_NUMBER_WARN2", 14),
    ("SEVERITY_NUMBER_WARN3", 15),
    ("SEVERITY_NUMBER_WARN4", 16),
    ("SEVERITY_NUMBER_ERROR", 17),
    ("SEVERITY_NUMBER_ERROR2", 18),
    ("SEVERITY_NUMBER_ERROR3", 19),
    ("SEVERITY_NUMBER_ERROR4", 20),
    ("SEVERITY_NUMBER_FATAL", 21),
    ("SEVERITY_NUMBER_FATAL2", 22),
    ("SEVERITY_NUMBER_FATAL3", 23),
    ("SEVERITY_NUMBER_FATAL4", 24),
];

const SPAN_ENUMS: &[(&str, i64)] = &[
    ("SPAN_KIND_UNSPECIFIED", 0),
    ("SPAN_KIND_INTERNAL", 1),
    ("SPAN_KIND_SERVER", 2),
    ("SPAN_KIND_CLIENT", 3),
    ("SPAN_KIND_PRODUCER", 4),
    ("SPAN_KIND_CONSUMER", 5),
    ("STATUS_CODE_UNSET", 0),
    ("STATUS_CODE_OK", 1),
    ("STATUS_CODE_ERROR", 2),
];

fn enums_of(ctx: Context) -> &'static [(&'static str, i64)] {
    match ctx {
        Context::Log => LOG_ENUMS,
        Context::Span => SPAN_ENUMS,
        Context::Resource | Context::Scope => &[],
    }
}

/// Which editors a statement may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Conditions only (filter, routing `condition`).
    Condition,
    /// Transform statements: every editor except `route`.
    Transform,
    /// Routing statements: only `route() where ...`.
    Route,
}

/// Compiles syntax trees for one context.
pub struct Compiler {
    /// The statement's context.
    pub ctx: Context,
    /// What the statement is for.
    pub purpose: Purpose,
}

impl Compiler {
    /// Compiles a condition.
    pub fn condition(&self, ast: &BoolAst) -> Result<Cond, SyntaxError> {
        Ok(match ast {
            BoolAst::Or(items) => Cond::Or(
                items
                    .iter()
                    .map(|c| self.condition(c))
                    .collect::<Result<_, _>>()?,
            ),
            BoolAst::And(items) => Cond::And(
                items
                    .iter()
                    .map(|c| self.condition(c))
                    .collect::<Result<_, _>>()?,
            ),
            BoolAst::Not(inner) => Cond::Not(Box::new(self.condition(inner)?)),
            BoolAst::Cmp { left, op, right } => {
                Cond::Cmp(self.value(left)?, *op, self.value(right)?)
            }
            BoolAst::Const(b) => Cond::Const(*b),
            BoolAst::Call(call) => {
                let expr = self.call(call)?;
                match expr.kind() {
                    Some(Kind::Bool) | None => Cond::Value(expr, call.name.clone()),
                    Some(kind) => {
                        return Err(SyntaxError::new(
                            call.pos,
                            format!(
                            "{} returns {}, not a bool; compare its result (e.g. {}(...) != nil)",
                            call.name,
                            kind.article(),
                            call.name
                        ),
                        ))
                    }
                }
            }
        })
    }

    /// Compiles a statement into its editor and optional `where` condition.
    pub fn statement(&self, ast: &StatementAst) -> Result<(Editor, Option<Cond>), SyntaxError> {
        let call = &ast.editor;
        let found = spec(&call.name).filter(|s| s.editor);
        let Some(spec) = found else {
            return Err(self.unknown_function(call, true));
        };
        if self.purpose == Purpose::Route && spec.name != "route" {
            return Err(SyntaxError::new(
                call.pos,
                "routing statements must have the form route() where <condition>",
            ));
        }
        if self.purpose != Purpose::Route && spec.name == "route" {
            return Err(SyntaxError::new(
                call.pos,
                "route() can only be used in the routing connector's table",
            ));
        }
        let args = self.bind(call, spec)?;
        let editor = edit::build(self, &args)?;
        let cond = ast
            .where_clause
            .as_ref()
            .map(|w| self.condition(w))
            .transpose()?;
        Ok((editor, cond))
    }

    /// Compiles a value expression.
    pub fn value(&self, ast: &ValueAst) -> Result<Expr, SyntaxError> {
        Ok(match ast {
            ValueAst::Nil(_) => Expr::Lit(Value::Nil),
            ValueAst::Str(s, _) => Expr::Lit(Value::Str(Cow::Owned(s.clone()))),
            ValueAst::Int(i, _) => Expr::Lit(Value::Int(*i)),
            ValueAst::Float(f, _) => Expr::Lit(Value::Double(*f)),
            ValueAst::Bytes(b, _) => Expr::Lit(Value::Bytes(Cow::Owned(b.clone()))),
            ValueAst::Bool(b, _) => Expr::Lit(Value::Bool(*b)),
            ValueAst::Ident(name, pos) => Expr::Lit(Value::Int(self.enum_value(name, *pos)?)),
            ValueAst::Map(items, _) => Expr::Map(
                items
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.value(v)?)))
                    .collect::<Result<_, SyntaxError>>()?,
            ),
            ValueAst::List(items, _) => Expr::List(
                items
                    .iter()
                    .map(|v| self.value(v))
                    .collect::<Result<_, _>>()?,
            ),
            ValueAst::Path(p) => Expr::Path(self.path(p)?),
            ValueAst::Call(call) => self.call(call)?,
            ValueAst::Math {
                op,
                left,
                right,
                pos,
            } => {
                let l = self.value(left)?;
                let r = self.value(right)?;
                for (side, expr) in [(left, &l), (right, &r)] {
                    if let Some(kind) = expr.kind() {
                        if !matches!(kind, Kind::Int | Kind::Double | Kind::Time) {
                            return Err(SyntaxError::new(
                                side.pos(),
                                format!(
                                    "arithmetic needs numbers but {} is {}",
                                    side.describe(),
                                    kind.article()
                                ),
                            ));
                        }
                    }
                }
                if let (Some(a), Some(b)) = (l.kind(), r.kind()) {
                    if (a == Kind::Int && b == Kind::Double)
                        || (a == Kind::Double && b == Kind::Int)
                    {
                        return Err(SyntaxError::new(
                            *pos,
                            format!(
                                "cannot mix int and double in \"{}\"; convert one side with Int() or Double()",
                                op.as_str()
                            ),
                        ));
                    }
                }
                Expr::Math(*op, Box::new(l), Box::new(r))
            }
        })
    }

    /// Resolves a path in this compiler's context.
    pub fn path(&self, path: &PathAst) -> Result<PathRef, SyntaxError> {
        resolve(path, self.ctx)
    }

    fn enum_value(&self, name: &str, pos: usize) -> Result<i64, SyntaxError> {
        if let Some((_, v)) = enums_of(self.ctx).iter().find(|(n, _)| *n == name) {
            return Ok(*v);
        }
        let elsewhere = [Context::Log, Context::Span]
            .into_iter()
            .find(|c| enums_of(*c).iter().any(|(n, _)| *n == name));
        let message = if let Some(c) = elsewhere {
            format!(
                "enum {name:?} belongs to the {} context and is not available in the {} context",
                c.name(),
                self.ctx.name()
            )
        } else if spec(name).is_some() {
            format!("{name} is a function; call it as {name}(...)")
        } else {
            let all = LOG_ENUMS.iter().chain(SPAN_ENUMS).map(|(n, _)| *n);
            match did_you_mean(name, all) {
                Some(s) => format!("unknown enum {name:?}; did you mean {s:?}?"),
                None => format!("unknown enum {name:?}"),
            }
        };
        Err(SyntaxError::new(pos, message))
    }

    /// Compiles a converter call (with indexes on its result).
    fn call(&self, call: &CallAst) -> Result<Expr, SyntaxError> {
        if call.name.starts_with(|c: char| c.is_ascii_lowercase()) {
            let mut message = format!(
                "converter names must start with an uppercase letter but got '{}'",
                call.name
            );
            if spec(&call.name).is_some_and(|s| s.editor) {
                message.push_str(&format!(
                    "; {} is an editor and cannot be used as a value",
                    call.name
                ));
            } else if let Some(s) = did_you_mean(&call.name, names(false)) {
                message.push_str(&format!("; did you mean {s:?}?"));
            }
            return Err(SyntaxError::new(call.pos, message));
        }
        let Some(spec) = spec(&call.name).filter(|s| !s.editor) else {
            return Err(self.unknown_function(call, false));
        };
        let args = self.bind(call, spec)?;
        let keys = call
            .keys
            .iter()
            .map(|k| match k {
                super::ast::KeyAst::Str(s) => Key::Str(s.clone()),
                super::ast::KeyAst::Int(i) => Key::Int(*i),
            })
            .collect();
        Ok(match convert::build(self, &args)? {
            Converter::Const(v) if call.keys.is_empty() => Expr::Lit(v),
            conv => Expr::Call(Box::new(conv), keys),
        })
    }

    fn unknown_function(&self, call: &CallAst, as_editor: bool) -> SyntaxError {
        let name = &call.name;
        let message = if NOT_SUPPORTED.contains(&name.as_str()) {
            format!("OTTL function {name:?} is not supported by oispd")
        } else if as_editor && spec(name).is_some_and(|s| !s.editor) {
            format!("{name} is a converter and cannot be used as a statement")
        } else {
            match did_you_mean(name, names(as_editor)) {
                Some(s) => format!("unknown function {name:?}; did you mean {s:?}?"),
                None => format!("unknown function {name:?}"),
            }
        };
        SyntaxError::new(call.pos, message)
    }

    /// Matches the arguments of `call` to the parameters of `spec`.
    pub fn bind<'a>(
        &self,
        call: &'a CallAst,
        spec: &'static FnSpec,
    ) -> Result<Args<'a>, SyntaxError> {
        let signature = format!(
            "{}({})",
            spec.name,
            spec.params
                .iter()
                .map(|p| if p.optional {
                    format!("Optional[{}]", p.name)
                } else {
                    p.name.to_string()
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut slots: Vec<Option<&ArgAst>> = vec![None; spec.params.len()];
        let mut seen_named = false;
        for (i, arg) in call.args.iter().enumerate() {
            let index = match &arg.name {
                None => {
                    if seen_named {
                        return Err(SyntaxError::new(
                            arg.pos,
                            "positional arguments must come before named arguments",
                        ));
                    }
                    if i >= spec.params.len() {
                        return Err(SyntaxError::new(
                            arg.pos,
                            format!(
                                "{} takes {} argument{} but got {}: {signature}",
                                spec.name,
                                spec.params.len(),
                                if spec.params.len() == 1 { "" } else { "s" },
                                call.args.len()
                            ),
                        ));
                    }
                    i
                }
                Some(name) => {
                    seen_named = true;
                    match spec.params.iter().position(|p| p.name == name) {
                        Some(index) => index,
                        None => {
                            let hint = match did_you_mean(name, spec.params.iter().map(|p| p.name))
                            {
                                Some(s) => format!("; did you mean {s:?}?"),
                                None => format!("; its parameters are: {signature}"),
                            };
                            return Err(SyntaxError::new(
                                arg.pos,
                                format!("{} has no parameter named {name:?}{hint}", spec.name),
                            ));
                        }
                    }
                }
            };
            if slots[index].is_some() {
                return Err(SyntaxError::new(
                    arg.pos,
                    format!(
                        "{}: argument {:?} is given twice",
                        spec.name, spec.params[index].name
                    ),
                ));
            }
            slots[index] = Some(arg);
        }
        if let Some((i, _)) = spec
            .params
            .iter()
            .enumerate()
            .find(|(i, p)| !p.optional && slots[*i].is_none())
        {
            return Err(SyntaxError::new(
                call.pos,
                format!(
                    "{} is missing its {:?} argument: {signature}",
                    spec.name, spec.params[i].name
                ),
            ));
        }
        Ok(Args { call, spec, slots })
    }
}

/// A call's arguments bound to parameters.
pub struct Args<'a> {
    /// The call.
    pub call: &'a CallAst,
    /// The function.
    pub spec: &'static FnSpec,
    slots: Vec<Option<&'a ArgAst>>,
}

impl<'a> Args<'a> {
    /// The argument for parameter `i`, if given.
    pub fn get(&self, i: usize) -> Option<&'a ArgAst> {
        self.slots.get(i).copied().flatten()
    }

    fn arg(&self, i: usize) -> Result<&'a ArgAst, SyntaxError> {
        self.get(i).ok_or_else(|| {
            SyntaxError::new(
                self.call.pos,
                format!(
                    "{} is missing its {:?} argument",
                    self.spec.name,
                    self.param(i)
                ),
            )
        })
    }

    fn param(&self, i: usize) -> &'static str {
        self.spec.params.get(i).map(|p| p.name).unwrap_or("?")
    }

    /// An error about argument `i`.
    pub fn error(&self, i: usize, message: impl std::fmt::Display) -> SyntaxError {
        let pos = self.get(i).map(|a| a.value.pos()).unwrap_or(self.call.pos);
        SyntaxError::new(pos, format!("{}: {message}", self.spec.name))
    }

    /// Argument `i` compiled as a value.
    pub fn expr(&self, c: &Compiler, i: usize) -> Result<Expr, SyntaxError> {
        c.value(&self.arg(i)?.value)
    }

    /// Argument `i` compiled, checked to be of one of `kinds` when its kind is
    /// known before running (nil literals are rejected too).
    pub fn expr_of(&self, c: &Compiler, i: usize, kinds: &[Kind]) -> Result<Expr, SyntaxError> {
        let arg = self.arg(i)?;
        let expr = c.value(&arg.value)?;
        if let Some(kind) = expr.kind() {
            if kind == Kind::Nil {
                return Err(self.error(i, format!("{:?} cannot be nil", self.param(i))));
            }
            if !kinds.contains(&kind) {
                let wanted = kinds
                    .iter()
                    .map(|k| k.article())
                    .collect::<Vec<_>>()
                    .join(" or ");
                return Err(self.error(
                    i,
                    format!(
                        "{:?} must be {wanted} but {} is {}",
                        self.param(i),
                        arg.value.describe(),
                        kind.article()
                    ),
                ));
            }
        }
        Ok(expr)
    }

    /// Argument `i`, which must be a string literal.
    pub fn lit_str(&self, i: usize) -> Result<String, SyntaxError> {
        match &self.arg(i)?.value {
            ValueAst::Str(s, _) => Ok(s.clone()),
            other => Err(self.error(
                i,
                format!(
                    "{:?} must be a string literal but got {}",
                    self.param(i),
                    other.describe()
                ),
            )),
        }
    }

    /// Argument `i`, which must be an integer literal.
    pub fn lit_int(&self, i: usize) -> Result<i64, SyntaxError> {
        match &self.arg(i)?.value {
            ValueAst::Int(v, _) => Ok(*v),
            other => Err(self.error(
                i,
                format!(
                    "{:?} must be an integer literal but got {}",
                    self.param(i),
                    other.describe()
                ),
            )),
        }
    }

    /// Argument `i`, which must be a list literal of strings.
    pub fn lit_str_list(&self, i: usize) -> Result<Vec<String>, SyntaxError> {
        match &self.arg(i)?.value {
            ValueAst::List(items, _) => items
                .iter()
                .map(|item| match item {
                    ValueAst::Str(s, _) => Ok(s.clone()),
                    other => Err(SyntaxError::new(
                        other.pos(),
                        format!(
                            "{}: {:?} must be a list of strings but contains {}",
                            self.spec.name,
                            self.param(i),
                            other.describe()
                        ),
                    )),
                })
                .collect(),
            other => Err(self.error(
                i,
                format!(
                    "{:?} must be a list of strings like [\"a\", \"b\"] but got {}",
                    self.param(i),
                    other.describe()
                ),
            )),
        }
    }

    /// Argument `i` as a regex compiled now (RE2 syntax).
    pub fn regex(&self, i: usize) -> Result<Regex, SyntaxError> {
        let pattern = match &self.arg(i)?.value {
            ValueAst::Str(s, _) => s.clone(),
            other => {
                return Err(self.error(
                    i,
                    format!(
                        "the {:?} regex must be a string literal (it is compiled once, at startup) but got {}",
                        self.param(i),
                        other.describe()
                    ),
                ))
            }
        };
        compile_regex(&pattern).map_err(|e| self.error(i, e))
    }

    /// Argument `i`, which must be a path (the target of an editor).
    pub fn path(&self, c: &Compiler, i: usize) -> Result<PathRef, SyntaxError> {
        match &self.arg(i)?.value {
            ValueAst::Path(p) => c.path(p),
            other => Err(self.error(
                i,
                format!(
                    "{:?} must be a path such as attributes[\"key\"] but got {}",
                    self.param(i),
                    other.describe()
                ),
            )),
        }
    }

    /// Argument `i`, which must be a path to a map (attributes, body, cache).
    pub fn map_path(&self, c: &Compiler, i: usize) -> Result<PathRef, SyntaxError> {
        let path = self.path(c, i)?;
        if let (true, Some(kind)) = (path.keys.is_empty(), path.field.kind()) {
            if kind != Kind::Map {
                return Err(self.error(
                    i,
                    format!(
                        "{:?} must be a map such as attributes but {} is {}",
                        self.param(i),
                        path.text,
                        kind.article()
                    ),
                ));
            }
        }
        Ok(path)
    }

    /// Argument `i`, an optional function name (`SHA256`) for replacements.
    pub fn hash_fn(&self, i: usize) -> Result<Option<HashFn>, SyntaxError> {
        let Some(arg) = self.get(i) else {
            return Ok(None);
        };
        match &arg.value {
            ValueAst::Ident(name, _) => HashFn::from_name(name).map(Some).ok_or_else(|| {
                self.error(
                    i,
                    format!(
                        "{:?} must be one of SHA1, SHA256, SHA512 but got {name}",
                        self.param(i)
                    ),
                )
            }),
            other => Err(self.error(
                i,
                format!(
                    "{:?} must be a function name such as SHA256 but got {}",
                    self.param(i),
                    other.describe()
                ),
            )),
        }
    }
}

/// Compiles an RE2-syntax regex, with a one-line error.
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| {
        let detail = e
            .to_string()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().trim_start_matches("error: ").to_string())
            .unwrap_or_default();
        format!("invalid regex {pattern:?}: {detail}")
    })
}

/// Infers the context of a statement or condition written without one, from
/// the prefixes of its paths: a `log.` / `span.` path selects that context;
/// otherwise any unprefixed path means the record context (`default`); a
/// statement about scopes or resources only runs per scope or resource.
pub fn infer_context(paths: &[&PathAst], default: Context) -> Result<Context, SyntaxError> {
    let mut record: Option<(Context, usize)> = None;
    let mut has_unprefixed = false;
    let mut has_scope = false;
    let mut has_resource = false;
    for p in paths {
        match path_prefix(p) {
            Some(c @ (Context::Log | Context::Span)) => match record {
                Some((other, _)) if other != c => {
                    return Err(SyntaxError::new(
                        p.pos,
                        format!(
                            "cannot mix {} and {} paths in one statement",
                            other.name(),
                            c.name()
                        ),
                    ))
                }
                _ => record = Some((c, p.pos)),
            },
            Some(Context::Scope) => has_scope = true,
            Some(Context::Resource) => has_resource = true,
            None => {
                let is_cache = p.segments.first().is_some_and(|s| s.name == "cache");
                has_unprefixed |= !is_cache;
            }
        }
    }
    Ok(match record {
        Some((c, _)) => c,
        None if has_unprefixed => default,
        None if has_scope => Context::Scope,
        None if has_resource => Context::Resource,
        None => default,
    })
}

/// Every path in a condition.
pub fn condition_paths(ast: &BoolAst) -> Vec<&PathAst> {
    let mut out = Vec::new();
    collect_bool(ast, &mut out);
    out
}

/// Every path in a statement.
pub fn statement_paths(ast: &StatementAst) -> Vec<&PathAst> {
    let mut out = Vec::new();
    for a in &ast.editor.args {
        collect_value(&a.value, &mut out);
    }
    if let Some(w) = &ast.where_clause {
        collect_bool(w, &mut out);
    }
    out
}

fn collect_bool<'a>(ast: &'a BoolAst, out: &mut Vec<&'a PathAst>) {
    match ast {
        BoolAst::Or(items) | BoolAst::And(items) => items.iter().for_each(|c| collect_bool(c, out)),
        BoolAst::Not(c) => collect_bool(c, out),
        BoolAst::Cmp { left, right, .. } => {
            collect_value(left, out);
            collect_value(right, out);
        }
        BoolAst::Const(_) => {}
        BoolAst::Call(call) => call.args.iter().for_each(|a| collect_value(&a.value, out)),
    }
}

fn collect_value<'a>(ast: &'a ValueAst, out: &mut Vec<&'a PathAst>) {
    match ast {
        ValueAst::Path(p) => out.push(p),
        ValueAst::Call(call) => call.args.iter().for_each(|a| collect_value(&a.value, out)),
        ValueAst::Map(items, _) => items.iter().for_each(|(_, v)| collect_value(v, out)),
        ValueAst::List(items, _) => items.iter().for_each(|v| collect_value(v, out)),
        ValueAst::Math { left, right, .. } => {
            collect_value(left, out);
            collect_value(right, out);
        }
        _ => {}
    }
}
