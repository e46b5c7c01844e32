//! `ottl`: OTTL statements and conditions as `transform`, `filter` and the
//! routing connector read them from a config: lexing, parsing, compiling
//! against a context, then running once on a sample record.
//!
//! Input: one byte (bits 0-1: statement, condition, route condition, or
//! statement with the context inferred from its paths; bit 2: span
//! instead of log record), then the text (UTF-8, lossy).

use oispd_component::proto::tonic::common::v1::{any_value::Value as Av, AnyValue, KeyValue};
use oispd_component::proto::tonic::logs::v1::LogRecord;
use oispd_component::proto::tonic::trace::v1::Span;
use oispd_processors::ottl::{Condition, Context, RecordMut, Statement};

use crate::input::Input;

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(Av::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// Parses, compiles and runs one statement or condition.
pub fn ottl(data: &[u8]) {
    let mut input = Input::new(data);
    let choice = input.byte();
    let text = String::from_utf8_lossy(input.rest());
    let span = choice & 4 != 0;
    let context = if span { Context::Span } else { Context::Log };
    enum Parsed {
        Statement(Box<Statement>),
        Condition(Condition),
    }
    let parsed = match choice & 3 {
        0 => Statement::parse(&text, context).map(|s| Parsed::Statement(Box::new(s))),
        1 => Condition::parse(&text, context).map(Parsed::Condition),
        2 => Statement::parse_route(&text, context).map(Parsed::Condition),
        _ => Statement::parse_inferred(&text, context).map(|s| Parsed::Statement(Box::new(s))),
    };
    let Ok(parsed) = parsed else { return };
    let attrs = vec![
        string("ai.provider", "openai"),
        string("http.request.header.authorization", "Bearer x"),
    ];
    let mut resource = None;
    let mut scope = None;
    let mut cache = Vec::new();
    let mut log = LogRecord {
        attributes: attrs.clone(),
        body: Some(AnyValue {
            value: Some(Av::StringValue("hello".into())),
        }),
        severity_number: 9,
        ..Default::default()
    };
    let mut sp = Span {
        attributes: attrs,
        name: "chat".into(),
        ..Default::default()
    };
    let mut rec = if span {
        RecordMut::span(&mut resource, &mut scope, &mut sp, &mut cache)
    } else {
        RecordMut::log(&mut resource, &mut scope, &mut log, &mut cache)
    };
    match parsed {
        Parsed::Statement(s) if s.context() == context => {
            let _ = s.execute(&mut rec);
        }
        Parsed::Condition(c) if c.context() == context => {
            let _ = c.eval(&rec);
        }
        _ => {}
    }
}
