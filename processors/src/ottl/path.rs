//! Telemetry paths: resolving `resource.attributes["k"]`, `body["a"][0]`,
//! `severity_number`, `span.status.code`, ... against a context at parse
//! time, and reading and writing them on a [`RecordMut`] at run time.
//!
//! A path may start with a context name (`resource.`, `scope.` /
//! `instrumentation_scope.`, `log.`, `span.`); without one it is relative to
//! the statement's context, as in the collector. Missing map keys read as nil.

use super::ast::{KeyAst, PathAst};
use super::error::{EvalError, SyntaxError};
use super::record::{Context, Item, RecordMut};
use super::suggest::did_you_mean;
use super::value::{kind_of, kv, Kind, Value};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::trace::v1::Status;
use std::borrow::Cow;

/// A resolved field (the part of a path before its indexes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `cache`
    Cache,
    /// `resource.attributes`
    ResourceAttributes,
    /// `resource.dropped_attributes_count`
    ResourceDroppedAttributesCount,
    /// `instrumentation_scope.name`
    ScopeName,
    /// `instrumentation_scope.version`
    ScopeVersion,
    /// `instrumentation_scope.attributes`
    ScopeAttributes,
    /// `instrumentation_scope.dropped_attributes_count`
    ScopeDroppedAttributesCount,
    /// `body`
    Body,
    /// log `attributes`
    LogAttributes,
    /// `severity_number`
    SeverityNumber,
    /// `severity_text`
    SeverityText,
    /// `event_name`
    EventName,
    /// log `time_unix_nano`
    LogTimeUnixNano,
    /// `observed_time_unix_nano`
    ObservedTimeUnixNano,
    /// log `time`
    LogTime,
    /// `observed_time`
    ObservedTime,
    /// log `trace_id`
    LogTraceId,
    /// log `trace_id.string`
    LogTraceIdString,
    /// log `span_id`
    LogSpanId,
    /// log `span_id.string`
    LogSpanIdString,
    /// log `flags`
    LogFlags,
    /// log `dropped_attributes_count`
    LogDroppedAttributesCount,
    /// span `name`
    SpanName,
    /// span `kind`
    SpanKind,
    /// `status.code`
    StatusCode,
    /// `status.message`
    StatusMessage,
    /// span `attributes`
    SpanAttributes,
    /// `start_time_unix_nano`
    StartTimeUnixNano,
    /// `end_time_unix_nano`
    EndTimeUnixNano,
    /// `start_time`
    StartTime,
    /// `end_time`
    EndTime,
    /// span `trace_id`
    SpanTraceId,
    /// span `trace_id.string`
    SpanTraceIdString,
    /// span `span_id`
    SpanSpanId,
    /// span `span_id.string`
    SpanSpanIdString,
    /// `parent_span_id`
    ParentSpanId,
    /// `parent_span_id.string`
    ParentSpanIdString,
    /// `trace_state`
    TraceState,
    /// span `dropped_attributes_count`
    SpanDroppedAttributesCount,
    /// `dropped_events_count`
    DroppedEventsCount,
    /// `dropped_links_count`
    DroppedLinksCount,
    /// span `flags`
    SpanFlags,
}

const RESOURCE_FIELDS: &[(&str, Field)] = &[
    ("attributes", Field::ResourceAttributes),
    (
        "dropped_attributes_count",
        Field::ResourceDroppedAttributesCount,
    ),
    ("cache", Field::Cache),
];

const SCOPE_FIELDS: &[(&str, Field)] = &[
    ("name", Field::ScopeName),
    ("version", Field::ScopeVersion),
    ("attributes", Field::ScopeAttributes),
    (
        "dropped_attributes_count",
        Field::ScopeDroppedAttributesCount,
    ),
    ("cache", Field::Cache),
];

const LOG_FIELDS: &[(&str, Field)] = &[
    ("body", Field::Body),
    ("attributes", Field::LogAttributes),
    ("severity_number", Field::SeverityNumber),
    ("severity_text", Field::SeverityText),
    ("event_name", Field::EventName),
    ("time_unix_nano", Field::LogTimeUnixNano),
    ("observed_time_unix_nano", Field::ObservedTimeUnixNano),
    ("time", Field::LogTime),
    ("observed_time", Field::ObservedTime),
    ("trace_id", Field::LogTraceId),
    ("trace_id.string", Field::LogTraceIdString),
    ("span_id", Field::LogSpanId),
    ("span_id.string", Field::LogSpanIdString),
    ("flags", Field::LogFlags),
    ("dropped_attributes_count", Field::LogDroppedAttributesCount),
    ("cache", Field::Cache),
];

const SPAN_FIELDS: &[(&str, Field)] = &[
    ("name", Field::SpanName),
    ("kind", Field::SpanKind),
    ("status.code", Field::StatusCode),
    ("status.message", Field::StatusMessage),
    ("attributes", Field::SpanAttributes),
    ("start_time_unix_nano", Field::StartTimeUnixNano),
    ("end_time_unix_nano", Field::EndTimeUnixNano),
    ("start_time", Field::StartTime),
    ("end_time", Field::EndTime),
    ("trace_id", Field::SpanTraceId),
    ("trace_id.string", Field::SpanTraceIdString),
    ("span_id", Field::SpanSpanId),
    ("span_id.string", Field::SpanSpanIdString),
    ("parent_span_id", Field::ParentSpanId),
    ("parent_span_id.string", Field::ParentSpanIdString),
    ("trace_state", Field::TraceState),
    (
        "dropped_attributes_count",
        Field::SpanDroppedAttributesCount,
    ),
    ("dropped_events_count", Field::DroppedEventsCount),
    ("dropped_links_count", Field::DroppedLinksCount),
    ("flags", Field::SpanFlags),
    ("cache", Field::Cache),
];

fn fields_of(ctx: Context) -> &'static [(&'static str, Field)] {
    match ctx {
        Context::Resource => RESOURCE_FIELDS,
        Context::Scope => SCOPE_FIELDS,
        Context::Log => LOG_FIELDS,
        Context::Span => SPAN_FIELDS,
    }
}

/// Whether paths of context `owner` can be used in a statement of context `ctx`.
fn visible(owner: Context, ctx: Context) -> bool {
    match owner {
        Context::Resource => true,
        Context::Scope => ctx != Context::Resource,
        Context::Log | Context::Span => owner == ctx,
    }
}

impl Field {
    fn indexable(self) -> bool {
        matches!(
            self,
            Field::Cache
                | Field::ResourceAttributes
                | Field::ScopeAttributes
                | Field::Body
                | Field::LogAttributes
                | Field::SpanAttributes
        )
    }

    /// The kind a read of this field always yields, when it is fixed.
    pub fn kind(self) -> Option<Kind> {
        Some(match self {
            Field::Body => return None,
            Field::Cache
            | Field::ResourceAttributes
            | Field::ScopeAttributes
            | Field::LogAttributes
            | Field::SpanAttributes => Kind::Map,
            Field::ScopeName
            | Field::ScopeVersion
            | Field::SeverityText
            | Field::EventName
            | Field::LogTraceIdString
            | Field::LogSpanIdString
            | Field::SpanName
            | Field::StatusMessage
            | Field::SpanTraceIdString
            | Field::SpanSpanIdString
            | Field::ParentSpanIdString
            | Field::TraceState => Kind::Str,
            Field::LogTime | Field::ObservedTime | Field::StartTime | Field::EndTime => Kind::Time,
            Field::LogTraceId
            | Field::LogSpanId
            | Field::SpanTraceId
            | Field::SpanSpanId
            | Field::ParentSpanId => Kind::Bytes,
            Field::ResourceDroppedAttributesCount
            | Field::ScopeDroppedAttributesCount
            | Field::SeverityNumber
            | Field::LogTimeUnixNano
            | Field::ObservedTimeUnixNano
            | Field::LogFlags
            | Field::LogDroppedAttributesCount
            | Field::SpanKind
            | Field::StatusCode
            | Field::StartTimeUnixNano
            | Field::EndTimeUnixNano
            | Field::SpanDroppedAttributesCount
            | Field::DroppedEventsCount
            | Field::DroppedLinksCount
            | Field::SpanFlags => Kind::Int,
        })
    }
}

/// An index into a map or list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// A map key.
    Str(String),
    /// A list index.
    Int(i64),
}

impl Key {
    fn from_ast(k: &KeyAst) -> Key {
        match k {
            KeyAst::Str(s) => Key::Str(s.clone()),
            KeyAst::Int(i) => Key::Int(*i),
        }
    }

    fn describe(&self) -> String {
        match self {
            Key::Str(s) => format!("[{s:?}]"),
            Key::Int(i) => format!("[{i}]"),
        }
    }
}

/// A resolved path: a field and the indexes applied to it.
#[derive(Clone, Debug, PartialEq)]
pub struct PathRef {
    /// The field.
    pub field: Field,
    /// Indexes, outermost first.
    pub keys: Vec<Key>,
    /// The path as written.
    pub text: String,
}

/// The context prefix of a path, if it has one (`resource` in
/// `resource.attributes`).
pub fn path_prefix(path: &PathAst) -> Option<Context> {
    match path.segments.as_slice() {
        [first, _, ..] if first.keys.is_empty() => Context::from_prefix(&first.name),
        _ => None,
    }
}

/// Resolves `path` for a statement of context `ctx`.
pub fn resolve(path: &PathAst, ctx: Context) -> Result<PathRef, SyntaxError> {
    let (owner, rest) = match path_prefix(path) {
        Some(prefix) => (prefix, &path.segments[1..]),
        None => (ctx, &path.segments[..]),
    };
    if !visible(owner, ctx) {
        let message = if owner == Context::Scope {
            format!(
                "path {:?} is not available in the resource context (scope paths need the scope, log or span context)",
                path.text
            )
        } else {
            format!(
                "path {:?} is not available in the {} context",
                path.text,
                ctx.name()
            )
        };
        return Err(SyntaxError::new(path.pos, message));
    }
    let Some((last, init)) = rest.split_last() else {
        return Err(SyntaxError::new(path.pos, "empty path"));
    };
    if let Some(seg) = init.iter().find(|s| !s.keys.is_empty()) {
        return Err(SyntaxError::new(
            seg.pos,
            format!(
                "field {:?} of path {:?} cannot be indexed",
                seg.name, path.text
            ),
        ));
    }
    let name = rest
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(".");
    let table = fields_of(owner);
    let Some(&(_, field)) = table.iter().find(|(n, _)| *n == name) else {
        return Err(SyntaxError::new(
            path.pos,
            unknown_path_message(path, &name, owner, ctx),
        ));
    };
    if !last.keys.is_empty() && !field.indexable() {
        return Err(SyntaxError::new(
            last.pos,
            format!(
                "path {:?} cannot be indexed: {name} is not a map or list",
                path.text
            ),
        ));
    }
    Ok(PathRef {
        field,
        keys: last.keys.iter().map(Key::from_ast).collect(),
        text: path.text.clone(),
    })
}

fn unknown_path_message(path: &PathAst, name: &str, owner: Context, ctx: Context) -> String {
    let prefix = path_prefix(path).map(|_| format!("{}.", path.segments[0].name));
    let prefix = prefix.as_deref().unwrap_or("");
    if prefix.is_empty() && path.segments.len() == 1 {
        if let Some(c) = Context::from_prefix(name) {
            let example = fields_of(c)
                .first()
                .map(|(f, _)| format!("{name}.{f}"))
                .unwrap_or_default();
            return format!("path {name:?} needs a field, e.g. {example}");
        }
    }
    let shown = format!("{prefix}{name}");
    let mut message = if owner == ctx {
        format!("unknown path {shown:?} in the {} context", owner.name())
    } else {
        format!("unknown path {shown:?}")
    };
    let names: Vec<&str> = fields_of(owner)
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| prefix.is_empty() || *n != "cache")
        .collect();
    let other_record = [Context::Log, Context::Span]
        .into_iter()
        .find(|c| *c != owner && fields_of(*c).iter().any(|(n, _)| *n == name));
    if let (Some(c), true) = (other_record, prefix.is_empty()) {
        message.push_str(&format!(
            "; {name} is a {} field, not available in the {} context",
            c.name(),
            owner.name()
        ));
    } else if let Some(s) = did_you_mean(name, names.iter().copied()) {
        message.push_str(&format!("; did you mean \"{prefix}{s}\"?"));
    } else {
        let listed: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
        message.push_str(&format!("; valid paths are {}", listed.join(", ")));
    }
    message
}

fn clamp_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn missing(part: &str) -> EvalError {
    EvalError::new(format!("the {part} is not available in this context"))
}

impl PathRef {
    /// Reads the path (nil for missing keys).
    pub fn get<'r>(&self, rec: &'r RecordMut<'_>) -> Result<Value<'r>, EvalError> {
        let mut v = self.field_value(rec)?;
        for key in &self.keys {
            v = index_value(v, key)?;
        }
        Ok(v)
    }

    fn field_value<'r>(&self, rec: &'r RecordMut<'_>) -> Result<Value<'r>, EvalError> {
        use Field as F;
        let scope = || -> Result<_, EvalError> {
            rec.scope
                .as_deref()
                .map(Option::as_ref)
                .ok_or_else(|| missing("scope"))
        };
        let log = || match &rec.item {
            Item::Log(l) => Ok(&**l),
            _ => Err(missing("log record")),
        };
        let span = || match &rec.item {
            Item::Span(s) => Ok(&**s),
            _ => Err(missing("span")),
        };
        let str = |s: &'r String| Value::Str(Cow::Borrowed(s.as_str()));
        Ok(match self.field {
            F::Cache => Value::Map(Cow::Borrowed(rec.cache.as_slice())),
            F::ResourceAttributes => Value::Map(Cow::Borrowed(
                rec.resource
                    .as_ref()
                    .map(|r| r.attributes.as_slice())
                    .unwrap_or(&[]),
            )),
            F::ResourceDroppedAttributesCount => Value::Int(
                rec.resource
                    .as_ref()
                    .map(|r| i64::from(r.dropped_attributes_count))
                    .unwrap_or(0),
            ),
            F::ScopeName => scope()?.map(|s| str(&s.name)).unwrap_or(Value::str("")),
            F::ScopeVersion => scope()?.map(|s| str(&s.version)).unwrap_or(Value::str("")),
            F::ScopeAttributes => Value::Map(Cow::Borrowed(
                scope()?.map(|s| s.attributes.as_slice()).unwrap_or(&[]),
            )),
            F::ScopeDroppedAttributesCount => Value::Int(
                scope()?
                    .map(|s| i64::from(s.dropped_attributes_count))
                    .unwrap_or(0),
            ),
            F::Body => Value::from_opt(log()?.body.as_ref()),
            F::LogAttributes => Value::Map(Cow::Borrowed(log()?.attributes.as_slice())),
            F::SeverityNumber => Value::Int(i64::from(log()?.severity_number)),
            F::SeverityText => str(&log()?.severity_text),
            F::EventName => str(&log()?.event_name),
            F::LogTimeUnixNano => Value::Int(clamp_u64(log()?.time_unix_nano)),
            F::ObservedTimeUnixNano => Value::Int(clamp_u64(log()?.observed_time_unix_nano)),
            F::LogTime => Value::Time(clamp_u64(log()?.time_unix_nano)),
            F::ObservedTime => Value::Time(clamp_u64(log()?.observed_time_unix_nano)),
            F::LogTraceId => Value::Bytes(Cow::Borrowed(log()?.trace_id.as_slice())),
            F::LogTraceIdString => Value::Str(Cow::Owned(hex::encode(&log()?.trace_id))),
            F::LogSpanId => Value::Bytes(Cow::Borrowed(log()?.span_id.as_slice())),
            F::LogSpanIdString => Value::Str(Cow::Owned(hex::encode(&log()?.span_id))),
            F::LogFlags => Value::Int(i64::from(log()?.flags)),
            F::LogDroppedAttributesCount => Value::Int(i64::from(log()?.dropped_attributes_count)),
            F::SpanName => str(&span()?.name),
            F::SpanKind => Value::Int(i64::from(span()?.kind)),
            F::StatusCode => Value::Int(
                span()?
                    .status
                    .as_ref()
                    .map(|s| i64::from(s.code))
                    .unwrap_or(0),
            ),
            F::StatusMessage => span()?
                .status
                .as_ref()
                .map(|s| str(&s.message))
                .unwrap_or(Value::str("")),
            F::SpanAttributes => Value::Map(Cow::Borrowed(span()?.attributes.as_slice())),
            F::StartTimeUnixNano => Value::Int(clamp_u64(span()?.start_time_unix_nano)),
            F::EndTimeUnixNano => Value::Int(clamp_u64(span()?.end_time_unix_nano)),
            F::StartTime => Value::Time(clamp_u64(span()?.start_time_unix_nano)),
            F::EndTime => Value::Time(clamp_u64(span()?.end_time_unix_nano)),
            F::SpanTraceId => Value::Bytes(Cow::Borrowed(span()?.trace_id.as_slice())),
            F::SpanTraceIdString => Value::Str(Cow::Owned(hex::encode(&span()?.trace_id))),
            F::SpanSpanId => Value::Bytes(Cow::Borrowed(span()?.span_id.as_slice())),
            F::SpanSpanIdString => Value::Str(Cow::Owned(hex::encode(&span()?.span_id))),
            F::ParentSpanId => Value::Bytes(Cow::Borrowed(span()?.parent_span_id.as_slice())),
            F::ParentSpanIdString => Value::Str(Cow::Owned(hex::encode(&span()?.parent_span_id))),
            F::TraceState => str(&span()?.trace_state),
            F::SpanDroppedAttributesCount => {
                Value::Int(i64::from(span()?.dropped_attributes_count))
            }
            F::DroppedEventsCount => Value::Int(i64::from(span()?.dropped_events_count)),
            F::DroppedLinksCount => Value::Int(i64::from(span()?.dropped_links_count)),
            F::SpanFlags => Value::Int(i64::from(span()?.flags)),
        })
    }

    /// Writes `value` at the path, creating missing maps along the way.
    pub fn set(&self, rec: &mut RecordMut<'_>, value: Value<'static>) -> Result<(), EvalError> {
        if self.keys.is_empty() {
            return self.set_field(rec, value);
        }
        let mut loc = self
            .root_mut(rec, true)?
            .ok_or_else(|| EvalError::new(format!("cannot set {}", self.text)))?;
        for key in &self.keys {
            loc = step(loc, key, true)?.ok_or_else(|| {
                EvalError::new(format!(
                    "cannot set {}: {} is missing",
                    self.text,
                    key.describe()
                ))
            })?;
        }
        match loc {
            Loc::Any(slot) => *slot = value.into_any(),
            Loc::Map(map) => match value {
                Value::Map(m) => *map = m.into_owned(),
                other => return Err(self.type_mismatch("a map", &other)),
            },
        }
        Ok(())
    }

    /// Mutable access to the map at the path, for map editors. `None` when
    /// the path is unset (nil); an error when it holds something else.
    pub fn map_mut<'r>(
        &self,
        rec: &'r mut RecordMut<'_>,
    ) -> Result<Option<&'r mut Vec<KeyValue>>, EvalError> {
        if !self.field.indexable() {
            return Err(EvalError::new(format!(
                "expected a map at {} but got {}",
                self.text,
                self.field.kind().map(Kind::article).unwrap_or("a value")
            )));
        }
        let Some(mut loc) = self.root_mut(rec, false)? else {
            return Ok(None);
        };
        for key in &self.keys {
            match step(loc, key, false)? {
                Some(next) => loc = next,
                None => return Ok(None),
            }
        }
        match loc {
            Loc::Map(m) => Ok(Some(m)),
            Loc::Any(any) => match &mut any.value {
                Some(any_value::Value::KvlistValue(kvl)) => Ok(Some(&mut kvl.values)),
                None => Ok(None),
                other => Err(EvalError::new(format!(
                    "expected a map at {} but got {}",
                    self.text,
                    kind_of(other).article()
                ))),
            },
        }
    }

    fn root_mut<'r>(
        &self,
        rec: &'r mut RecordMut<'_>,
        create: bool,
    ) -> Result<Option<Loc<'r>>, EvalError> {
        use Field as F;
        Ok(match self.field {
            F::Cache => Some(Loc::Map(rec.cache)),
            F::ResourceAttributes => {
                if rec.resource.is_none() && !create {
                    return Ok(None);
                }
                Some(Loc::Map(
                    &mut rec.resource.get_or_insert_with(Default::default).attributes,
                ))
            }
            F::ScopeAttributes => {
                let scope = rec.scope.as_deref_mut().ok_or_else(|| missing("scope"))?;
                if scope.is_none() && !create {
                    return Ok(None);
                }
                Some(Loc::Map(
                    &mut scope.get_or_insert_with(Default::default).attributes,
                ))
            }
            F::LogAttributes => match &mut rec.item {
                Item::Log(l) => Some(Loc::Map(&mut l.attributes)),
                _ => return Err(missing("log record")),
            },
            F::SpanAttributes => match &mut rec.item {
                Item::Span(s) => Some(Loc::Map(&mut s.attributes)),
                _ => return Err(missing("span")),
            },
            F::Body => match &mut rec.item {
                Item::Log(l) => {
                    if l.body.is_none() && !create {
                        return Ok(None);
                    }
                    Some(Loc::Any(l.body.get_or_insert_with(Default::default)))
                }
                _ => return Err(missing("log record")),
            },
            _ => {
                return Err(EvalError::new(format!(
                    "path {} cannot be indexed",
                    self.text
                )))
            }
        })
    }

    fn type_mismatch(&self, expected: &str, got: &Value<'_>) -> EvalError {
        EvalError::new(format!(
            "cannot set {} to {}: it takes {expected}",
            self.text,
            got.kind().article()
        ))
    }

    fn set_field(&self, rec: &mut RecordMut<'_>, value: Value<'static>) -> Result<(), EvalError> {
        use Field as F;
        let int = |v: &Value<'_>| match v {
            Value::Int(i) => Ok(*i),
            other => Err(self.type_mismatch("an int", other)),
        };
        let ranged = |v: &Value<'_>, lo: i64, hi: i64| -> Result<i64, EvalError> {
            let i = int(v)?;
            if i < lo || i > hi {
                return Err(EvalError::new(format!(
                    "cannot set {} to {i}: it must be between {lo} and {hi}",
                    self.text
                )));
            }
            Ok(i)
        };
        let u32v = |v: &Value<'_>| ranged(v, 0, i64::from(u32::MAX)).map(|i| i as u32);
        let i32v = |v: &Value<'_>| ranged(v, 0, i64::from(i32::MAX)).map(|i| i as i32);
        let nanos = |v: &Value<'_>| match v {
            Value::Int(i) | Value::Time(i) if *i >= 0 => Ok(*i as u64),
            Value::Int(i) | Value::Time(i) => Err(EvalError::new(format!(
                "cannot set {} to {i}: timestamps cannot be negative",
                self.text
            ))),
            other => Err(self.type_mismatch("an int", other)),
        };
        let time = |v: &Value<'_>| match v {
            Value::Time(i) if *i >= 0 => Ok(*i as u64),
            other => Err(self.type_mismatch("a time", other)),
        };
        let string = |v: Value<'static>| match v {
            Value::Str(s) => Ok(s.into_owned()),
            other => Err(self.type_mismatch("a string", &other)),
        };
        let map = |v: Value<'static>| match v {
            Value::Map(m) => Ok(m.into_owned()),
            other => Err(self.type_mismatch("a map", &other)),
        };
        let id = |v: Value<'static>, len: usize| match v {
            Value::Bytes(b) if b.len() == len || b.is_empty() => Ok(b.into_owned()),
            Value::Bytes(b) => Err(EvalError::new(format!(
                "cannot set {} to {} bytes: it takes {len}",
                self.text,
                b.len()
            ))),
            other => Err(self.type_mismatch("bytes", &other)),
        };
        let hex_id = |v: Value<'static>, len: usize| -> Result<Vec<u8>, EvalError> {
            let s = string(v)?;
            match hex::decode(&s) {
                Ok(b) if b.len() == len || b.is_empty() => Ok(b),
                _ => Err(EvalError::new(format!(
                    "cannot set {} to {s:?}: expected {} hex digits",
                    self.text,
                    len * 2
                ))),
            }
        };
        match self.field {
            F::Cache => *rec.cache = map(value)?,
            F::ResourceAttributes => {
                rec.resource.get_or_insert_with(Default::default).attributes = map(value)?
            }
            F::ResourceDroppedAttributesCount => {
                rec.resource
                    .get_or_insert_with(Default::default)
                    .dropped_attributes_count = u32v(&value)?
            }
            F::ScopeName
            | F::ScopeVersion
            | F::ScopeAttributes
            | F::ScopeDroppedAttributesCount => {
                let s = rec
                    .scope
                    .as_deref_mut()
                    .ok_or_else(|| missing("scope"))?
                    .get_or_insert_with(Default::default);
                match self.field {
                    F::ScopeName => s.name = string(value)?,
                    F::ScopeVersion => s.version = string(value)?,
                    F::ScopeAttributes => s.attributes = map(value)?,
                    _ => s.dropped_attributes_count = u32v(&value)?,
                }
            }
            _ => match &mut rec.item {
                Item::Log(l) => match self.field {
                    F::Body => l.body = Some(value.into_any()),
                    F::LogAttributes => l.attributes = map(value)?,
                    F::SeverityNumber => l.severity_number = i32v(&value)?,
                    F::SeverityText => l.severity_text = string(value)?,
                    F::EventName => l.event_name = string(value)?,
                    F::LogTimeUnixNano => l.time_unix_nano = nanos(&value)?,
                    F::ObservedTimeUnixNano => l.observed_time_unix_nano = nanos(&value)?,
                    F::LogTime => l.time_unix_nano = time(&value)?,
                    F::ObservedTime => l.observed_time_unix_nano = time(&value)?,
                    F::LogTraceId => l.trace_id = id(value, 16)?,
                    F::LogTraceIdString => l.trace_id = hex_id(value, 16)?,
                    F::LogSpanId => l.span_id = id(value, 8)?,
                    F::LogSpanIdString => l.span_id = hex_id(value, 8)?,
                    F::LogFlags => l.flags = u32v(&value)?,
                    F::LogDroppedAttributesCount => l.dropped_attributes_count = u32v(&value)?,
                    _ => return Err(missing("span")),
                },
                Item::Span(s) => match self.field {
                    F::SpanName => s.name = string(value)?,
                    F::SpanKind => s.kind = ranged(&value, 0, 5)? as i32,
                    F::StatusCode => {
                        s.status.get_or_insert_with(Status::default).code =
                            ranged(&value, 0, 2)? as i32
                    }
                    F::StatusMessage => {
                        s.status.get_or_insert_with(Status::default).message = string(value)?
                    }
                    F::SpanAttributes => s.attributes = map(value)?,
                    F::StartTimeUnixNano => s.start_time_unix_nano = nanos(&value)?,
                    F::EndTimeUnixNano => s.end_time_unix_nano = nanos(&value)?,
                    F::StartTime => s.start_time_unix_nano = time(&value)?,
                    F::EndTime => s.end_time_unix_nano = time(&value)?,
                    F::SpanTraceId => s.trace_id = id(value, 16)?,
                    F::SpanTraceIdString => s.trace_id = hex_id(value, 16)?,
                    F::SpanSpanId => s.span_id = id(value, 8)?,
                    F::SpanSpanIdString => s.span_id = hex_id(value, 8)?,
                    F::ParentSpanId => s.parent_span_id = id(value, 8)?,
                    F::ParentSpanIdString => s.parent_span_id = hex_id(value, 8)?,
                    F::TraceState => s.trace_state = string(value)?,
                    F::SpanDroppedAttributesCount => s.dropped_attributes_count = u32v(&value)?,
                    F::DroppedEventsCount => s.dropped_events_count = u32v(&value)?,
                    F::DroppedLinksCount => s.dropped_links_count = u32v(&value)?,
                    F::SpanFlags => s.flags = u32v(&value)?,
                    _ => return Err(missing("log record")),
                },
                Item::None => return Err(missing("log record or span")),
            },
        }
        Ok(())
    }
}

/// A place in the record that indexes walk through.
enum Loc<'r> {
    Map(&'r mut Vec<KeyValue>),
    Any(&'r mut AnyValue),
}

/// Applies one index to a location; with `create`, missing map entries (and
/// nil values indexed by a string) become maps.
fn step<'r>(loc: Loc<'r>, key: &Key, create: bool) -> Result<Option<Loc<'r>>, EvalError> {
    match loc {
        Loc::Map(map) => match key {
            Key::Str(k) => {
                let index = match map.iter().position(|e| e.key == *k) {
                    Some(i) => i,
                    None if create => {
                        map.push(kv(k.clone(), AnyValue::default()));
                        map.len() - 1
                    }
                    None => return Ok(None),
                };
                Ok(Some(Loc::Any(
                    map[index].value.get_or_insert_with(AnyValue::default),
                )))
            }
            Key::Int(i) => Err(EvalError::new(format!(
                "cannot index a map with the integer {i}"
            ))),
        },
        Loc::Any(any) => {
            if any.value.is_none() {
                if !create {
                    return Ok(None);
                }
                match key {
                    Key::Str(_) => {
                        any.value = Some(any_value::Value::KvlistValue(KeyValueList::default()))
                    }
                    Key::Int(i) => {
                        return Err(EvalError::new(format!(
                            "cannot create list element [{i}] in a nil value"
                        )))
                    }
                }
            }
            match &mut any.value {
                Some(any_value::Value::KvlistValue(kvl)) => {
                    step(Loc::Map(&mut kvl.values), key, create)
                }
                Some(any_value::Value::ArrayValue(arr)) => match key {
                    Key::Int(i) => {
                        let len = arr.values.len();
                        let slot = usize::try_from(*i)
                            .ok()
                            .and_then(|i| arr.values.get_mut(i))
                            .ok_or_else(|| {
                                EvalError::new(format!(
                                    "index {i} out of bounds for a list of {len} items"
                                ))
                            })?;
                        Ok(Some(Loc::Any(slot)))
                    }
                    Key::Str(s) => Err(EvalError::new(format!(
                        "cannot index a list with the string {s:?}"
                    ))),
                },
                other => Err(EvalError::new(format!(
                    "cannot index {} with {}",
                    kind_of(other).article(),
                    key.describe()
                ))),
            }
        }
    }
}

/// Applies one index to a value read from a record.
pub fn index_value<'r>(v: Value<'r>, key: &Key) -> Result<Value<'r>, EvalError> {
    match (v, key) {
        (Value::Nil, _) => Ok(Value::Nil),
        (Value::Map(Cow::Borrowed(m)), Key::Str(k)) => Ok(m
            .iter()
            .find(|e| e.key == *k)
            .map(|e| Value::from_opt(e.value.as_ref()))
            .unwrap_or(Value::Nil)),
        (Value::Map(Cow::Owned(m)), Key::Str(k)) => Ok(m
            .into_iter()
            .find(|e| e.key == *k)
            .and_then(|e| e.value)
            .map(Value::from_any_owned)
            .unwrap_or(Value::Nil)),
        (Value::List(l), Key::Int(i)) => {
            let len = l.len();
            let out_of_bounds =
                || EvalError::new(format!("index {i} out of bounds for a list of {len} items"));
            let idx = usize::try_from(*i).map_err(|_| out_of_bounds())?;
            match l {
                Cow::Borrowed(items) => items
                    .get(idx)
                    .map(Value::from_any)
                    .ok_or_else(out_of_bounds),
                Cow::Owned(items) => items
                    .into_iter()
                    .nth(idx)
                    .map(Value::from_any_owned)
                    .ok_or_else(out_of_bounds),
            }
        }
        (Value::Map(_), Key::Int(i)) => Err(EvalError::new(format!(
            "cannot index a map with the integer {i}"
        ))),
        (Value::List(_), Key::Str(s)) => Err(EvalError::new(format!(
            "cannot index a list with the string {s:?}"
        ))),
        (other, key) => Err(EvalError::new(format!(
            "cannot index {} with {}",
            other.kind().article(),
            key.describe()
        ))),
    }
}
