//! The record an OTTL statement runs against: a resource, optionally a scope
//! and optionally one log record or span, plus the per-record `cache` map.
//! Which parts are present is decided by the statement's [`Context`].

use oispd_component::Signal;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde::Deserialize;

/// The OTTL context: which telemetry item a statement or condition is about,
/// and so what unprefixed paths such as `attributes` mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Context {
    /// A resource (`attributes` = resource attributes).
    Resource,
    /// An instrumentation scope (`name`, `version`, `attributes`).
    #[serde(alias = "instrumentation_scope")]
    Scope,
    /// A log record.
    Log,
    /// A span.
    Span,
}

impl Context {
    /// The collector's name for the context.
    pub fn name(self) -> &'static str {
        match self {
            Context::Resource => "resource",
            Context::Scope => "scope",
            Context::Log => "log",
            Context::Span => "span",
        }
    }

    /// Whether the context can be used in pipelines of `signal`.
    pub fn supports(self, signal: Signal) -> bool {
        match self {
            Context::Resource | Context::Scope => true,
            Context::Log => signal == Signal::Logs,
            Context::Span => signal == Signal::Traces,
        }
    }

    /// Parses a path prefix (`resource`, `scope`, `instrumentation_scope`,
    /// `log`, `span`).
    pub fn from_prefix(s: &str) -> Option<Context> {
        match s {
            "resource" => Some(Context::Resource),
            "scope" | "instrumentation_scope" => Some(Context::Scope),
            "log" => Some(Context::Log),
            "span" => Some(Context::Span),
            _ => None,
        }
    }
}

/// The item of a record view.
pub enum Item<'a> {
    /// No item: the statement runs per resource or per scope.
    None,
    /// A log record.
    Log(&'a mut LogRecord),
    /// A span.
    Span(&'a mut Span),
}

/// Mutable access to the parts of a batch that one OTTL evaluation sees.
pub struct RecordMut<'a> {
    /// The resource (`None` until a statement sets something on it).
    pub resource: &'a mut Option<Resource>,
    /// The scope, in scope, log and span contexts.
    pub scope: Option<&'a mut Option<InstrumentationScope>>,
    /// The log record or span, in log and span contexts.
    pub item: Item<'a>,
    /// The `cache` map, private to this evaluation.
    pub cache: &'a mut Vec<KeyValue>,
}

impl<'a> RecordMut<'a> {
    /// A view for the log context.
    pub fn log(
        resource: &'a mut Option<Resource>,
        scope: &'a mut Option<InstrumentationScope>,
        record: &'a mut LogRecord,
        cache: &'a mut Vec<KeyValue>,
    ) -> RecordMut<'a> {
        RecordMut {
            resource,
            scope: Some(scope),
            item: Item::Log(record),
            cache,
        }
    }

    /// A view for the span context.
    pub fn span(
        resource: &'a mut Option<Resource>,
        scope: &'a mut Option<InstrumentationScope>,
        span: &'a mut Span,
        cache: &'a mut Vec<KeyValue>,
    ) -> RecordMut<'a> {
        RecordMut {
            resource,
            scope: Some(scope),
            item: Item::Span(span),
            cache,
        }
    }

    /// A view for the scope context.
    pub fn scope(
        resource: &'a mut Option<Resource>,
        scope: &'a mut Option<InstrumentationScope>,
        cache: &'a mut Vec<KeyValue>,
    ) -> RecordMut<'a> {
        RecordMut {
            resource,
            scope: Some(scope),
            item: Item::None,
            cache,
        }
    }

    /// A view for the resource context.
    pub fn resource(
        resource: &'a mut Option<Resource>,
        cache: &'a mut Vec<KeyValue>,
    ) -> RecordMut<'a> {
        RecordMut {
            resource,
            scope: None,
            item: Item::None,
            cache,
        }
    }
}
