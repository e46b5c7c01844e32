//! End-to-end tests of the OTTL engine: statements and conditions parsed,
//! compiled and run against real OTLP log records and spans.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::parser;
use super::value::kv;
use super::*;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    }
}
fn i(v: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    }
}
fn d(v: f64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::DoubleValue(v)),
    }
}
fn b(v: bool) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::BoolValue(v)),
    }
}
fn list(v: Vec<AnyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue { values: v })),
    }
}
fn map(v: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList { values: v })),
    }
}
fn nil() -> AnyValue {
    AnyValue { value: None }
}

struct Fixture {
    resource: Option<Resource>,
    scope: Option<InstrumentationScope>,
    log: LogRecord,
    span: Span,
    cache: Vec<KeyValue>,
}

fn fixture() -> Fixture {
    Fixture {
        resource: Some(Resource {
            attributes: vec![kv("host.name", s("web-1")), kv("service.name", s("svc"))],
            dropped_attributes_count: 2,
            ..Default::default()
        }),
        scope: Some(InstrumentationScope {
            name: "oispd.capture".into(),
            version: "1.0".into(),
            attributes: vec![kv("scope.k", s("v"))],
            dropped_attributes_count: 1,
        }),
        log: LogRecord {
            time_unix_nano: 1_000_000_000,
            observed_time_unix_nano: 2_000_000_000,
            severity_number: 13,
            severity_text: "WARN".into(),
            body: Some(map(vec![
                kv("msg", s("hello world")),
                kv("n", i(3)),
                kv(
                    "list",
                    list(vec![i(1), s("two"), map(vec![kv("k", s("v"))])]),
                ),
                kv("nested", map(vec![kv("a", map(vec![kv("b", s("deep"))]))])),
                kv("json", s(r#"{"user": {"id": 7}, "tags": ["x", "y"]}"#)),
            ])),
            attributes: vec![
                kv("ai.provider", s("openai")),
                kv("http.status", i(200)),
                kv("ratio", d(0.5)),
                kv("flag", b(true)),
                kv(
                    "bytes",
                    AnyValue {
                        value: Some(any_value::Value::BytesValue(vec![0xab, 0xcd])),
                    },
                ),
                kv("tags", list(vec![s("a"), s("b"), i(3)])),
                kv("empty", nil()),
                kv("Authorization", s("Bearer x")),
                kv("password.db", s("hunter2")),
            ],
            dropped_attributes_count: 4,
            flags: 1,
            trace_id: (1..=16).collect(),
            span_id: (1..=8).collect(),
            event_name: "ai.request".into(),
        },
        span: Span {
            trace_id: vec![0xaa; 16],
            span_id: vec![0xbb; 8],
            parent_span_id: vec![0xcc; 8],
            trace_state: "k=v".into(),
            name: "POST /v1/chat".into(),
            kind: 3,
            start_time_unix_nano: 10,
            end_time_unix_nano: 25,
            attributes: vec![kv("http.method", s("POST"))],
            status: Some(Status {
                message: "boom".into(),
                code: 2,
            }),
            dropped_events_count: 5,
            flags: 256,
            ..Default::default()
        },
        cache: Vec::new(),
    }
}

impl Fixture {
    fn log_rec(&mut self) -> RecordMut<'_> {
        RecordMut::log(
            &mut self.resource,
            &mut self.scope,
            &mut self.log,
            &mut self.cache,
        )
    }

    fn span_rec(&mut self) -> RecordMut<'_> {
        RecordMut::span(
            &mut self.resource,
            &mut self.scope,
            &mut self.span,
            &mut self.cache,
        )
    }

    fn attr(&self, key: &str) -> Option<AnyValue> {
        self.log
            .attributes
            .iter()
            .find(|e| e.key == key)
            .and_then(|e| e.value.clone())
    }
}

fn cond_in(ctx: Context, text: &str) -> bool {
    let c = Condition::parse(text, ctx).unwrap_or_else(|e| panic!("{e}"));
    let mut f = fixture();
    let rec = if ctx == Context::Span {
        f.span_rec()
    } else {
        f.log_rec()
    };
    c.eval(&rec).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn cond(text: &str) -> bool {
    cond_in(Context::Log, text)
}

fn eval_err(text: &str) -> String {
    let c = Condition::parse(text, Context::Log).unwrap_or_else(|e| panic!("{e}"));
    let mut f = fixture();
    let rec = f.log_rec();
    c.eval(&rec).unwrap_err().to_string()
}

/// Runs `statements` in the log context and returns the fixture.
fn run(statements: &[&str]) -> Fixture {
    let mut f = fixture();
    for text in statements {
        let st = Statement::parse(text, Context::Log).unwrap_or_else(|e| panic!("{e}"));
        let mut rec = f.log_rec();
        st.execute(&mut rec)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    f
}

fn run_err(text: &str) -> String {
    let mut f = fixture();
    let st = Statement::parse(text, Context::Log).unwrap_or_else(|e| panic!("{e}"));
    let mut rec = f.log_rec();
    st.execute(&mut rec).unwrap_err().to_string()
}

/// Evaluates `expr` (log context) by setting it into the cache.
fn val(expr: &str) -> AnyValue {
    let f = run(&[&format!("set(cache[\"out\"], {expr})")]);
    f.cache
        .iter()
        .find(|e| e.key == "out")
        .and_then(|e| e.value.clone())
        .unwrap_or_default()
}

fn stmt_err(text: &str) -> String {
    Statement::parse(text, Context::Log)
        .unwrap_err()
        .to_string()
}

fn cond_err(text: &str) -> String {
    Condition::parse(text, Context::Log)
        .unwrap_err()
        .to_string()
}

// ---------------------------------------------------------------- paths

#[test]
fn log_paths_read_every_field() {
    assert!(cond(r#"body["msg"] == "hello world""#));
    assert!(cond(r#"body["list"][1] == "two""#));
    assert!(cond(r#"body["list"][2]["k"] == "v""#));
    assert!(cond(r#"body["nested"]["a"]["b"] == "deep""#));
    assert!(cond(r#"attributes["ai.provider"] == "openai""#));
    assert!(cond(r#"resource.attributes["host.name"] == "web-1""#));
    assert!(cond("resource.dropped_attributes_count == 2"));
    assert!(cond(r#"instrumentation_scope.name == "oispd.capture""#));
    assert!(cond(r#"instrumentation_scope.version == "1.0""#));
    assert!(cond(
        r#"instrumentation_scope.attributes["scope.k"] == "v""#
    ));
    assert!(cond("instrumentation_scope.dropped_attributes_count == 1"));
    assert!(cond(r#"scope.name == "oispd.capture""#));
    assert!(cond("severity_number == 13"));
    assert!(cond(r#"severity_text == "WARN""#));
    assert!(cond(r#"event_name == "ai.request""#));
    assert!(cond("time_unix_nano == 1000000000"));
    assert!(cond("observed_time_unix_nano == 2000000000"));
    assert!(cond("time < observed_time"));
    assert!(cond("trace_id == 0x0102030405060708090a0b0c0d0e0f10"));
    assert!(cond(
        r#"trace_id.string == "0102030405060708090a0b0c0d0e0f10""#
    ));
    assert!(cond(r#"span_id.string == "0102030405060708""#));
    assert!(cond("span_id == 0x0102030405060708"));
    assert!(cond("flags == 1"));
    assert!(cond("dropped_attributes_count == 4"));
    assert!(cond(r#"log.attributes["ai.provider"] == "openai""#));
    assert!(cond(r#"log.body["n"] == 3"#));
    assert!(cond(
        "IsMap(attributes) and IsMap(resource.attributes) and IsMap(body)"
    ));
}

#[test]
fn span_paths_read_every_field() {
    let c = |t: &str| cond_in(Context::Span, t);
    assert!(c(r#"name == "POST /v1/chat""#));
    assert!(c("kind == SPAN_KIND_CLIENT"));
    assert!(c("status.code == STATUS_CODE_ERROR"));
    assert!(c(r#"status.message == "boom""#));
    assert!(c(r#"attributes["http.method"] == "POST""#));
    assert!(c("start_time_unix_nano == 10 and end_time_unix_nano == 25"));
    assert!(c("end_time - start_time == 15"));
    assert!(c(
        r#"trace_id.string == "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa""#
    ));
    assert!(c(r#"span_id.string == "bbbbbbbbbbbbbbbb""#));
    assert!(c(r#"parent_span_id.string == "cccccccccccccccc""#));
    assert!(c("parent_span_id == 0xcccccccccccccccc"));
    assert!(c(r#"trace_state == "k=v""#));
    assert!(c("dropped_events_count == 5 and dropped_links_count == 0"));
    assert!(c("dropped_attributes_count == 0 and flags == 256"));
    assert!(c(
        r#"span.name == "POST /v1/chat" and resource.attributes["service.name"] == "svc""#
    ));
    assert!(c(r#"instrumentation_scope.name == "oispd.capture""#));
}

#[test]
fn resource_and_scope_contexts_see_their_own_attributes() {
    let c = Condition::parse(r#"attributes["host.name"] == "web-1""#, Context::Resource).unwrap();
    let mut f = fixture();
    let rec = RecordMut::resource(&mut f.resource, &mut f.cache);
    assert!(c.eval(&rec).unwrap());
    let c = Condition::parse(
        r#"name == "oispd.capture" and attributes["scope.k"] == "v" and resource.attributes["service.name"] == "svc""#,
        Context::Scope,
    )
    .unwrap();
    let mut f = fixture();
    let rec = RecordMut::scope(&mut f.resource, &mut f.scope, &mut f.cache);
    assert!(c.eval(&rec).unwrap());
}

#[test]
fn missing_keys_are_nil_and_unset_parts_are_empty() {
    assert!(cond(r#"attributes["nope"] == nil"#));
    assert!(cond(r#"attributes["empty"] == nil"#));
    assert!(cond(r#"body["nested"]["x"]["y"] == nil"#));
    assert!(cond(r#"attributes["nope"] != "x""#));
    assert!(!cond(r#"attributes["nope"] > 1"#));
    let c = Condition::parse(
        r#"resource.attributes["a"] == nil and instrumentation_scope.name == """#,
        Context::Log,
    )
    .unwrap();
    let (mut r, mut sc, mut l, mut cache) = (None, None, LogRecord::default(), vec![]);
    assert!(c
        .eval(&RecordMut::log(&mut r, &mut sc, &mut l, &mut cache))
        .unwrap());
}

#[test]
fn indexing_errors_are_evaluation_errors() {
    assert_eq!(
        eval_err(r#"body["list"][7] == 1"#),
        "index 7 out of bounds for a list of 3 items"
    );
    assert_eq!(
        eval_err(r#"body["list"]["x"] == 1"#),
        "cannot index a list with the string \"x\""
    );
    assert_eq!(
        eval_err(r#"body[0] == 1"#),
        "cannot index a map with the integer 0"
    );
    assert_eq!(
        eval_err(r#"body["msg"]["x"] == 1"#),
        "cannot index a string with [\"x\"]"
    );
}

// ---------------------------------------------------------------- literals, enums, operators

#[test]
fn literals_of_every_kind() {
    assert_eq!(val(r#""a\"b\n""#), s("a\"b\n"));
    assert_eq!(val("-42"), i(-42));
    assert_eq!(val("1.5"), d(1.5));
    assert_eq!(val(".5"), d(0.5));
    assert_eq!(val("true"), b(true));
    assert_eq!(
        val("0xff00"),
        AnyValue {
            value: Some(any_value::Value::BytesValue(vec![0xff, 0]))
        }
    );
    assert_eq!(val(r#"[1, "x", nil]"#), list(vec![i(1), s("x"), nil()]));
    assert_eq!(
        val(r#"{"a": {"b": [true]}, "c": severity_number}"#),
        map(vec![
            kv("a", map(vec![kv("b", list(vec![b(true)]))])),
            kv("c", i(13))
        ])
    );
    assert_eq!(val("SEVERITY_NUMBER_ERROR"), i(17));
    assert_eq!(val("SEVERITY_NUMBER_FATAL4"), i(24));
    // set(x, nil) is a no-op.
    assert_eq!(val("nil"), nil());
}

#[test]
fn enums_per_context() {
    assert!(cond("severity_number >= SEVERITY_NUMBER_WARN"));
    assert!(cond("severity_number < SEVERITY_NUMBER_ERROR"));
    assert!(cond_in(
        Context::Span,
        "kind != SPAN_KIND_SERVER and status.code > STATUS_CODE_OK"
    ));
}

#[test]
fn comparisons_follow_collector_rules() {
    assert!(cond(r#"attributes["http.status"] == 200.0"#));
    assert!(cond(r#"attributes["ratio"] < 1"#));
    assert!(cond(r#"attributes["http.status"] != "200""#));
    assert!(!cond(r#"attributes["http.status"] == "200""#));
    assert!(!cond(r#"attributes["http.status"] < "300""#));
    assert!(cond(r#"attributes["ai.provider"] > "anthropic""#));
    assert!(cond(
        r#"attributes["flag"] == true and attributes["flag"] > false"#
    ));
    assert!(cond("nil == nil"));
    assert!(cond(r#"attributes["tags"] == ["a", "b", 3]"#));
    assert!(!cond(r#"attributes["tags"] > ["a"]"#));
    assert!(cond(r#"body["nested"] == {"a": {"b": "deep"}}"#));
    assert!(cond(r#"attributes["bytes"] == 0xabcd"#));
}

#[test]
fn precedence_not_and_or_and_parentheses() {
    // and binds tighter than or: true or (false and false)
    assert!(cond("1 == 1 or 1 == 2 and 1 == 3"));
    // parentheses change it: (true or false) and false
    assert!(!cond("(1 == 1 or 1 == 2) and 1 == 3"));
    // not binds tighter than and
    assert!(cond("not 1 == 2 and 1 == 1"));
    assert!(!cond("not (1 == 1 and 1 == 1)"));
    assert!(cond("not false"));
    assert!(cond("true and not false or false"));
    // short-circuit: the erroring right side is never evaluated
    assert!(cond(r#"true or body["list"][9] == 1"#));
    assert!(!cond(r#"false and body["list"][9] == 1"#));
}

#[test]
fn arithmetic() {
    assert_eq!(val("severity_number + 2 * 3"), i(19));
    assert_eq!(val("(severity_number + 2) * 3"), i(45));
    assert_eq!(val("severity_number - 1"), i(12));
    assert_eq!(val("7 / 2"), i(3));
    assert_eq!(val("1.5 * 2.0"), d(3.0));
    assert!(cond(r#"attributes["http.status"] / 100 == 2"#));
    assert_eq!(
        run_err(r#"set(cache["x"], attributes["http.status"] * attributes["ratio"])"#),
        "unsupported arithmetic: int * double (both sides must be ints or both doubles)"
    );
    assert_eq!(
        run_err(r#"set(cache["x"], attributes["http.status"] / 0)"#),
        "attempted to divide by zero"
    );
}

// ---------------------------------------------------------------- converters

#[test]
fn is_match_uses_re2_and_stringifies() {
    assert!(cond(r#"IsMatch(attributes["ai.provider"], "^open.*")"#));
    assert!(cond(r#"IsMatch(body["msg"], "wor")"#), "unanchored");
    assert!(
        !cond(r#"IsMatch(attributes["nope"], ".*")"#),
        "nil never matches"
    );
    assert!(cond(r#"IsMatch(attributes["http.status"], "^2\\d\\d$")"#));
    assert!(cond(r#"IsMatch(attributes["ratio"], "^0\\.5$")"#));
    assert!(
        cond(r#"IsMatch(attributes["bytes"], "^q80=$")"#),
        "bytes as base64"
    );
    assert!(
        cond(r#"IsMatch(body["nested"], "\"b\":\"deep\"")"#),
        "maps as JSON"
    );
    assert!(cond(r#"IsMatch(attributes["ai.provider"], "(?i)OPENAI")"#));
    assert!(cond(r#"not IsMatch(severity_text, "^(INFO|DEBUG)$")"#));
}

#[test]
fn type_checks() {
    assert!(cond(
        r#"IsString(attributes["ai.provider"]) and not IsString(attributes["http.status"])"#
    ));
    assert!(cond(
        r#"IsInt(attributes["http.status"]) and IsDouble(attributes["ratio"])"#
    ));
    assert!(cond(
        r#"IsBool(attributes["flag"]) and IsList(attributes["tags"]) and IsMap(body)"#
    ));
    assert!(!cond(r#"IsMap(attributes["nope"]) or IsString(nil)"#));
}

#[test]
fn string_converters() {
    assert!(cond(r#"HasPrefix(attributes["ai.provider"], "open")"#));
    assert!(cond(r#"HasSuffix(attributes["ai.provider"], "ai")"#));
    assert!(!cond(r#"HasPrefix(attributes["ai.provider"], "anth")"#));
    assert_eq!(val(r#"ToLowerCase("MiXeD")"#), s("mixed"));
    assert_eq!(val(r#"ToUpperCase(severity_text)"#), s("WARN"));
    assert_eq!(
        val(r#"Concat([attributes["ai.provider"], 1, nil, 2.5, true], "-")"#),
        s("openai-1-<nil>-2.5-true")
    );
    assert_eq!(val(r#"Concat(attributes["tags"], "")"#), s("ab3"));
    assert_eq!(val(r#"Substring(body["msg"], 6, 5)"#), s("world"));
    assert_eq!(
        val(r#"Split("a,b,,c", ",")"#),
        list(vec![s("a"), s("b"), s(""), s("c")])
    );
    assert_eq!(
        val(r#"SHA256("abc")"#),
        s("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        val(r#"SHA1("abc")"#),
        s("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert!(matches!(
        val(r#"SHA512("abc")"#).value,
        Some(any_value::Value::StringValue(h)) if h.starts_with("ddaf35a193617aba")
    ));
    assert_eq!(
        run_err(r#"set(cache["x"], Substring(body["msg"], 8, 9))"#),
        "Substring: start(8)+length(9) cannot be greater than the length of the target string(11)"
    );
    assert_eq!(
        run_err(r#"set(cache["x"], HasPrefix(attributes["http.status"], "2"))"#),
        "HasPrefix: expected a string for \"target\" but got an int"
    );
    assert_eq!(
        run_err(r#"set(cache["x"], ToLowerCase(attributes["nope"]))"#),
        "ToLowerCase: expected a string for \"target\" but got nil"
    );
}

#[test]
fn len_contains_and_conversions() {
    assert_eq!(val(r#"Len(body["msg"])"#), i(11));
    assert_eq!(val(r#"Len(attributes["tags"])"#), i(3));
    assert_eq!(val("Len(body)"), i(5));
    assert!(cond(r#"Contains(attributes["tags"], "b")"#));
    assert!(cond(r#"Contains(attributes["tags"], 3.0)"#));
    assert!(!cond(r#"Contains(attributes["tags"], "c")"#));
    assert!(!cond(r#"Contains(attributes["nope"], "c")"#));
    assert_eq!(
        run_err(r#"set(cache["x"], Len(attributes["http.status"]))"#),
        "Len: expected a string, list or map but got an int"
    );
    assert_eq!(
        eval_err(r#"Contains(attributes["ai.provider"], "o")"#),
        "Contains: expected a list for \"target\" but got a string"
    );
    assert_eq!(val(r#"Int("42")"#), i(42));
    assert_eq!(val("Int(2.9)"), i(2));
    assert_eq!(val("Int(-2.9)"), i(-2));
    assert_eq!(val("Int(true)"), i(1));
    assert_eq!(val(r#"Int("2.0")"#), nil());
    assert_eq!(val(r#"Double("2.5")"#), d(2.5));
    assert_eq!(val("Double(3)"), d(3.0));
    assert_eq!(val(r#"Double("x")"#), nil());
    assert_eq!(val(r#"String(attributes["http.status"])"#), s("200"));
    assert_eq!(val(r#"String(attributes["ratio"])"#), s("0.5"));
    assert_eq!(val(r#"String(attributes["bytes"])"#), s("abcd"));
    assert_eq!(val(r#"String(attributes["tags"])"#), s(r#"["a","b",3]"#));
    assert_eq!(val(r#"String(attributes["nope"])"#), nil());
    assert_eq!(val("UnixNano(time)"), i(1_000_000_000));
}

#[test]
fn parse_json_and_indexing_converter_results() {
    assert_eq!(val(r#"ParseJSON(body["json"])["user"]["id"]"#), d(7.0));
    assert_eq!(val(r#"ParseJSON(body["json"])["tags"][1]"#), s("y"));
    assert!(cond(r#"ParseJSON("[1, 2]")[0] == 1"#));
    assert!(
        run_err(r#"set(cache["x"], ParseJSON("{oops"))"#).starts_with("ParseJSON: invalid JSON: ")
    );
    assert_eq!(
        run_err(r#"set(cache["x"], ParseJSON("3"))"#),
        "ParseJSON: expected a JSON object or array"
    );
}

#[test]
fn ids_and_times_convert() {
    let f = run(&[
        "set(trace_id, TraceID(0x000102030405060708090a0b0c0d0e0f))",
        r#"set(span_id.string, "0a0b0c0d0e0f0001")"#,
        "set(time, Unix(5, 7))",
        "set(observed_time_unix_nano, 99)",
    ]);
    assert_eq!(f.log.trace_id, (0..16).collect::<Vec<u8>>());
    assert_eq!(f.log.span_id, vec![10, 11, 12, 13, 14, 15, 0, 1]);
    assert_eq!(f.log.time_unix_nano, 5_000_000_007);
    assert_eq!(f.log.observed_time_unix_nano, 99);
    assert_eq!(
        run_err(r#"set(span_id.string, "xyz")"#),
        "cannot set span_id.string to \"xyz\": expected 16 hex digits"
    );
}

// ---------------------------------------------------------------- editors

#[test]
fn set_creates_nested_maps_and_ignores_nil() {
    let f = run(&[
        r#"set(attributes["new"]["deep"], "x")"#,
        r#"set(attributes["ai.provider"], attributes["nope"])"#,
        r#"set(severity_text, "ERROR") where severity_number >= SEVERITY_NUMBER_WARN"#,
        "set(severity_number, SEVERITY_NUMBER_ERROR)",
        r#"set(body["list"][0], "first")"#,
        r#"set(resource.attributes["env"], "prod")"#,
        r#"set(instrumentation_scope.version, "2.0")"#,
        r#"set(event_name, Concat([event_name, "x"], "."))"#,
        r#"set(severity_text, "never") where false"#,
    ]);
    assert_eq!(f.attr("new"), Some(map(vec![kv("deep", s("x"))])));
    assert_eq!(f.attr("ai.provider"), Some(s("openai")));
    assert_eq!(f.log.severity_text, "ERROR");
    assert_eq!(f.log.severity_number, 17);
    assert_eq!(f.log.event_name, "ai.request.x");
    assert_eq!(f.scope.as_ref().unwrap().version, "2.0");
    assert!(f
        .resource
        .unwrap()
        .attributes
        .iter()
        .any(|e| e.key == "env"));
    let Some(any_value::Value::KvlistValue(body)) = f.log.body.unwrap().value else {
        panic!()
    };
    let first = body.values.iter().find(|e| e.key == "list").unwrap();
    assert_eq!(
        first.value.as_ref().unwrap(),
        &list(vec![s("first"), s("two"), map(vec![kv("k", s("v"))])])
    );
}

#[test]
fn set_checks_field_types_at_run_time() {
    assert_eq!(
        run_err(r#"set(severity_number, attributes["ai.provider"])"#),
        "cannot set severity_number to a string: it takes an int"
    );
    assert_eq!(
        run_err("set(severity_number, attributes[\"http.status\"] * 1000000000000)"),
        "cannot set severity_number to 200000000000000: it must be between 0 and 2147483647"
    );
    assert_eq!(
        run_err(r#"set(attributes, body["msg"])"#),
        "cannot set attributes to a string: it takes a map"
    );
    assert_eq!(
        run_err(r#"set(body["list"][5], 1)"#),
        "index 5 out of bounds for a list of 3 items"
    );
}

#[test]
fn map_editors() {
    let f = run(&[r#"delete_key(attributes, "Authorization")"#]);
    assert_eq!(f.attr("Authorization"), None);
    let f = run(&[r#"delete_matching_keys(attributes, "(?i)^(password|auth).*")"#]);
    assert_eq!(
        (f.attr("Authorization"), f.attr("password.db")),
        (None, None)
    );
    assert!(f.attr("ai.provider").is_some());
    let f = run(&[r#"keep_keys(attributes, ["ratio", "flag"])"#]);
    let keys: Vec<&str> = f.log.attributes.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["ratio", "flag"]);
    let f = run(&[r#"keep_matching_keys(attributes, "^ai\\.")"#]);
    assert_eq!(f.log.attributes.len(), 1);
    let f = run(&[
        r#"delete_key(body["nested"], "a")"#,
        r#"delete_key(attributes["nope"], "a")"#,
    ]);
    assert!(
        matches!(f.log.body.unwrap().value, Some(any_value::Value::KvlistValue(m))
        if m.values.iter().any(|e| e.key == "nested" && e.value == Some(map(vec![]))))
    );
    let f = run(&["limit(attributes, 3, [\"password.db\"])"]);
    let keys: Vec<&str> = f.log.attributes.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["ai.provider", "http.status", "password.db"]);
    let f = run(&["truncate_all(attributes, 3)"]);
    assert_eq!(f.attr("ai.provider"), Some(s("ope")));
    assert_eq!(f.attr("http.status"), Some(i(200)));
    assert_eq!(
        run_err(r#"delete_key(body["msg"], "x")"#),
        "expected a map at body[\"msg\"] but got a string"
    );
}

#[test]
fn merge_maps_strategies() {
    let src = r#"{"ai.provider": "anthropic", "extra": 1}"#;
    let f = run(&[&format!(r#"merge_maps(attributes, {src}, "insert")"#)]);
    assert_eq!(
        (f.attr("ai.provider"), f.attr("extra")),
        (Some(s("openai")), Some(i(1)))
    );
    let f = run(&[&format!(r#"merge_maps(attributes, {src}, "update")"#)]);
    assert_eq!(
        (f.attr("ai.provider"), f.attr("extra")),
        (Some(s("anthropic")), None)
    );
    let f = run(&[&format!(r#"merge_maps(attributes, {src}, "upsert")"#)]);
    assert_eq!(
        (f.attr("ai.provider"), f.attr("extra")),
        (Some(s("anthropic")), Some(i(1)))
    );
    let f = run(&[
        r#"merge_maps(cache, ParseJSON(body["json"]), "upsert")"#,
        r#"set(attributes["user.id"], cache["user"]["id"])"#,
    ]);
    assert_eq!(f.attr("user.id"), Some(d(7.0)));
}

#[test]
fn replace_editors() {
    let f = run(&[r#"replace_pattern(attributes["password.db"], "hun(ter)\\d", "xx$1")"#]);
    assert_eq!(f.attr("password.db"), Some(s("xxter")));
    let f = run(&[r#"replace_pattern(body["msg"], "world", "$$", SHA256, "h:%s")"#]);
    let Some(any_value::Value::KvlistValue(body)) = f.log.body.unwrap().value else {
        panic!()
    };
    let msg = body.values.iter().find(|e| e.key == "msg").unwrap();
    // "$$" expands to "$", which is hashed and formatted.
    let hashed = format!("hello h:{}", super::convert::HashFn::Sha256.digest("$"));
    assert_eq!(msg.value, Some(s(&hashed)));
    // Non-strings are left alone.
    let f = run(&[r#"replace_pattern(attributes["http.status"], "2", "3")"#]);
    assert_eq!(f.attr("http.status"), Some(i(200)));
    let f = run(&[r#"replace_all_patterns(attributes, "value", "^(open)ai$", "${1}source")"#]);
    assert_eq!(f.attr("ai.provider"), Some(s("opensource")));
    let f = run(&[r#"replace_all_patterns(attributes, "key", "^ai\\.", "gen_ai.")"#]);
    assert_eq!(f.attr("gen_ai.provider"), Some(s("openai")));
    let f = run(&[r#"replace_match(attributes["ai.provider"], "open*", "redacted")"#]);
    assert_eq!(f.attr("ai.provider"), Some(s("redacted")));
    let f = run(&[r#"replace_match(attributes["ai.provider"], "anth*", "redacted")"#]);
    assert_eq!(f.attr("ai.provider"), Some(s("openai")));
    let f = run(&[r#"replace_all_matches(attributes, "*er*", "***")"#]);
    assert_eq!(
        (f.attr("password.db"), f.attr("Authorization")),
        (Some(s("***")), Some(s("***")))
    );
}

#[test]
fn transform_statements_in_other_contexts() {
    let st = Statement::parse(r#"set(attributes["k"], "v")"#, Context::Resource).unwrap();
    let mut f = fixture();
    st.execute(&mut RecordMut::resource(&mut f.resource, &mut f.cache))
        .unwrap();
    assert!(f.resource.unwrap().attributes.iter().any(|e| e.key == "k"));
    let st = Statement::parse(
        r#"set(status.code, STATUS_CODE_OK) where name == "POST /v1/chat""#,
        Context::Span,
    )
    .unwrap();
    let mut f = fixture();
    assert!(st.execute(&mut f.span_rec()).unwrap());
    assert_eq!(f.span.status.unwrap().code, 1);
}

// ---------------------------------------------------------------- inference

#[test]
fn contexts_are_inferred_from_prefixes() {
    let ctx = |t: &str| {
        Statement::parse_inferred(t, Context::Log)
            .unwrap()
            .context()
    };
    assert_eq!(ctx(r#"set(log.attributes["a"], "b")"#), Context::Log);
    assert_eq!(
        ctx(r#"set(resource.attributes["a"], "b")"#),
        Context::Resource
    );
    assert_eq!(
        ctx(r#"set(scope.attributes["a"], resource.attributes["b"])"#),
        Context::Scope
    );
    assert_eq!(
        ctx(r#"set(resource.attributes["a"], attributes["b"])"#),
        Context::Log
    );
    assert_eq!(ctx(r#"set(cache["a"], "b")"#), Context::Log);
    let c = Condition::parse_inferred(r#"span.name == "x""#, Context::Span).unwrap();
    assert_eq!(c.context(), Context::Span);
    assert_eq!(
        Condition::parse_inferred(r#"log.body == span.name"#, Context::Log)
            .unwrap_err()
            .to_string(),
        r#"unable to parse OTTL condition "log.body == span.name" at column 13: cannot mix log and span paths in one statement"#
    );
}

// ---------------------------------------------------------------- error paths

#[test]
fn parse_errors_name_statement_column_and_expectation() {
    assert_eq!(
        stmt_err(r#"set(attributes["x"], 1"#),
        r#"unable to parse OTTL statement "set(attributes["x"], 1" at column 23: expected ")""#
    );
    assert_eq!(
        cond_err(r#"attributes["x"] == "#),
        r#"unable to parse OTTL condition "attributes["x"] == " at column 20: expected a value"#
    );
    assert_eq!(
        cond_err(r#"IsMatch(body, "\d")"#),
        r#"unable to parse OTTL condition "IsMatch(body, "\d")" at column 16: invalid escape sequence "\d" in string; write "\\d" for a backslash followed by 'd' (in regex patterns too)"#
    );
}

#[test]
fn unknown_functions_suggest_names() {
    assert_eq!(
        stmt_err("set(attributes[\"x\"], ToLower(body))"),
        "unable to parse OTTL statement \"set(attributes[\"x\"], ToLower(body))\" at column 22: unknown function \"ToLower\"; did you mean \"ToLowerCase\"?"
    );
    assert_eq!(
        cond_err("Frobnicate(body)"),
        "unable to parse OTTL condition \"Frobnicate(body)\" at column 1: unknown function \"Frobnicate\""
    );
    assert_eq!(
        cond_err("Now() == nil"),
        "unable to parse OTTL condition \"Now() == nil\" at column 1: OTTL function \"Now\" is not supported by oispd"
    );
    assert_eq!(
        stmt_err("sett(body, 1)"),
        "unable to parse OTTL statement \"sett(body, 1)\" at column 1: unknown function \"sett\"; did you mean \"set\"?"
    );
}

#[test]
fn function_case_errors_match_the_collector() {
    assert_eq!(
        stmt_err("set(name, int(2))"),
        "unable to parse OTTL statement \"set(name, int(2))\" at column 5: unknown path \"name\" in the log context; name is a span field, not available in the log context"
    );
    assert_eq!(
        stmt_err("set(body, int(2))"),
        "unable to parse OTTL statement \"set(body, int(2))\" at column 11: converter names must start with an uppercase letter but got 'int'; did you mean \"Int\"?"
    );
    assert_eq!(
        stmt_err("set(body, set(body, 1))"),
        "unable to parse OTTL statement \"set(body, set(body, 1))\" at column 11: converter names must start with an uppercase letter but got 'set'; set is an editor and cannot be used as a value"
    );
    assert_eq!(
        cond_err("isMatch(body, \"x\")"),
        "unable to parse OTTL condition \"isMatch(body, \"x\")\" at column 1: converter names must start with an uppercase letter but got 'isMatch'; did you mean \"IsMatch\"?"
    );
    assert_eq!(
        stmt_err("IsMatch(body, \"x\")"),
        "unable to parse OTTL statement \"IsMatch(body, \"x\")\" at column 1: editor names must start with a lowercase letter but got 'IsMatch'"
    );
}

#[test]
fn argument_errors() {
    let e = |t: &str| {
        stmt_err(t)
            .split_once(": ")
            .map(|(_, m)| m.to_string())
            .unwrap()
    };
    assert_eq!(
        cond_err(r#"IsMatch(body)"#),
        "unable to parse OTTL condition \"IsMatch(body)\" at column 1: IsMatch is missing its \"pattern\" argument: IsMatch(target, pattern)"
    );
    let msg = |t: &str| {
        let full = cond_err(t);
        full[full.find(": ").unwrap() + 2..].to_string()
    };
    assert_eq!(
        msg(r#"IsMatch(body, "a", "b")"#),
        "IsMatch takes 2 arguments but got 3: IsMatch(target, pattern)"
    );
    assert_eq!(
        msg(r#"IsMatch(body, patern = "a")"#),
        "IsMatch has no parameter named \"patern\"; did you mean \"pattern\"?"
    );
    assert_eq!(
        msg(r#"IsMatch(target = body, "a")"#),
        "positional arguments must come before named arguments"
    );
    assert_eq!(
        msg(r#"IsMatch(body, pattern = "a", pattern = "b")"#),
        "IsMatch: argument \"pattern\" is given twice"
    );
    assert_eq!(msg(r#"IsMatch(body, attributes["p"])"#),
        "IsMatch: the \"pattern\" regex must be a string literal (it is compiled once, at startup) but got path attributes[\"p\"]");
    assert_eq!(
        msg(r#"IsMatch(body, "(")"#),
        "IsMatch: invalid regex \"(\": unclosed group"
    );
    assert_eq!(
        msg(r#"HasPrefix(body, 1)"#),
        "HasPrefix: \"prefix\" must be a string but the integer 1 is an int"
    );
    assert_eq!(
        msg(r#"HasPrefix(nil, "a")"#),
        "HasPrefix: \"target\" cannot be nil"
    );
    assert_eq!(
        msg(r#"Len(severity_number) > 0"#),
        "Len: \"target\" must be a string or a list or a map but path severity_number is an int"
    );
    assert_eq!(msg(r#"Contains(body["msg"], "x") or Contains("abc", "b")"#),
        "Contains: checks membership in a list, and the target is a string; for substrings use IsMatch, HasPrefix or HasSuffix");
    assert_eq!(
        msg(r#"Len(body) "#),
        "Len returns an int, not a bool; compare its result (e.g. Len(...) != nil)"
    );
    assert_eq!(
        msg("TraceID(0x01) == nil"),
        "TraceID: needs exactly 16 bytes but got 1"
    );
    assert_eq!(
        msg("Substring(body, -1, 2) == nil"),
        "Substring: start -1 cannot be negative"
    );
    assert_eq!(
        e(r#"set("x", 1)"#),
        "set: \"target\" must be a path such as attributes[\"key\"] but got the string \"x\""
    );
    assert_eq!(
        e("truncate_all(attributes, -1)"),
        "truncate_all: limit -1 cannot be negative"
    );
    assert_eq!(
        e(r#"limit(attributes, 1, ["a", "b"])"#),
        "limit: limit 1 cannot be less than the number of priority keys 2"
    );
    assert_eq!(e(r#"keep_keys(attributes, "a")"#), "keep_keys: \"keys\" must be a list of strings like [\"a\", \"b\"] but got the string \"a\"");
    assert_eq!(
        e(r#"keep_keys(attributes, ["a", 1])"#),
        "keep_keys: \"keys\" must be a list of strings but contains the integer 1"
    );
    assert_eq!(
        e(r#"delete_key(severity_text, "a")"#),
        "delete_key: \"target\" must be a map such as attributes but severity_text is a string"
    );
    assert_eq!(
        e(r#"merge_maps(attributes, body, "merge")"#),
        "merge_maps: invalid strategy \"merge\", must be \"insert\", \"update\" or \"upsert\""
    );
    assert_eq!(
        e(r#"replace_all_patterns(attributes, "keys", "a", "b")"#),
        "replace_all_patterns: invalid mode \"keys\", must be \"key\" or \"value\""
    );
    assert_eq!(
        e(r#"replace_pattern(body, "a", "b", MD5)"#),
        "replace_pattern: \"function\" must be one of SHA1, SHA256, SHA512 but got MD5"
    );
    assert_eq!(e(r#"replace_pattern(body, "a", "b", SHA256, "%s-%d")"#),
        "replace_pattern: replacementFormat \"%s-%d\" must contain exactly one %s and no other format specifiers");
    assert_eq!(
        e(r#"replace_match(body, "[a", "b")"#),
        "replace_match: invalid glob \"[a\": unclosed ["
    );
    assert_eq!(
        e("route()"),
        "route() can only be used in the routing connector's table"
    );
}

#[test]
fn path_and_enum_errors() {
    let msg = |t: &str| {
        let full = cond_err(t);
        full[full.find(": ").unwrap() + 2..].to_string()
    };
    assert_eq!(
        msg(r#"attribute["x"] == 1"#),
        "unknown path \"attribute\" in the log context; did you mean \"attributes\"?"
    );
    assert_eq!(
        msg("resource == nil"),
        "path \"resource\" needs a field, e.g. resource.attributes"
    );
    assert_eq!(msg("resource.labels == nil"), "unknown path \"resource.labels\"; valid paths are resource.attributes, resource.dropped_attributes_count");
    assert_eq!(
        msg("resource.atributes == nil"),
        "unknown path \"resource.atributes\"; did you mean \"resource.attributes\"?"
    );
    assert_eq!(
        msg("span.name == nil"),
        "path \"span.name\" is not available in the log context"
    );
    assert_eq!(msg(r#"severity_number["x"] == 1"#), "path \"severity_number[\\\"x\\\"]\" cannot be indexed: severity_number is not a map or list");
    assert_eq!(msg("status.code == 1"), "unknown path \"status.code\" in the log context; status.code is a span field, not available in the log context");
    assert_eq!(
        msg("severity_number > SEVERITY_NUMBER_WARNING"),
        "unknown enum \"SEVERITY_NUMBER_WARNING\"; did you mean \"SEVERITY_NUMBER_WARN\"?"
    );
    assert_eq!(msg("severity_number > SPAN_KIND_SERVER"), "enum \"SPAN_KIND_SERVER\" belongs to the span context and is not available in the log context");
    assert_eq!(
        msg(r#"severity_text + 1 == 2"#),
        "arithmetic needs numbers but path severity_text is a string"
    );
    assert_eq!(
        msg(r#"attributes["a"] + 1.5 == 2 or 1 + 1.5 == 2"#),
        "cannot mix int and double in \"+\"; convert one side with Int() or Double()"
    );
    let e = Condition::parse(r#"labels == "x""#, Context::Resource)
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("unknown path \"labels\" in the resource context; valid paths are attributes, dropped_attributes_count, cache"), "{e}");
    let e = Condition::parse(r#"name == "x""#, Context::Resource)
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("name is a span field, not available in the resource context"),
        "{e}"
    );
    let e = Condition::parse(r#"scope.name == "x""#, Context::Resource)
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("path \"scope.name\" is not available in the resource context (scope paths need the scope, log or span context)"), "{e}");
}

#[test]
fn bool_values_must_be_bools_at_run_time() {
    let c = Condition::parse(r#"ParseJSON(body["json"])"#, Context::Log).unwrap();
    let mut f = fixture();
    assert_eq!(
        c.eval(&f.log_rec()).unwrap_err().to_string(),
        "ParseJSON returned a map, not a bool"
    );
}

#[test]
fn routing_statements() {
    let c = Statement::parse_route(
        r#"route() where attributes["ai.provider"] == "openai""#,
        Context::Log,
    )
    .unwrap();
    let mut f = fixture();
    assert!(c.eval(&f.log_rec()).unwrap());
    let always = Statement::parse_route("route()", Context::Resource).unwrap();
    assert!(always
        .eval(&RecordMut::resource(&mut f.resource, &mut f.cache))
        .unwrap());
    let e = Statement::parse_route(r#"set(body, 1) where true"#, Context::Log).unwrap_err();
    assert_eq!(
        e.message,
        "routing statements must have the form route() where <condition>"
    );
    let e = Statement::parse_route(r#"route(1)"#, Context::Log).unwrap_err();
    assert_eq!(e.message, "route takes 0 arguments but got 1: route()");
}

// ---------------------------------------------------------------- nesting depth

/// Nests `inner` in `levels` copies of `open` ... `close`.
fn nest(open: &str, inner: &str, close: &str, levels: usize) -> String {
    format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
}

/// Every form of nesting, as a condition `levels` deep.
fn nested_conditions(levels: usize) -> Vec<String> {
    vec![
        nest("(", r#"body["msg"] == "hello world""#, ")", levels),
        format!("{} == 2", nest("(", "1 + 1", ")", levels)),
        format!("Len({}) == 1", nest("[", "1", "]", levels - 1)),
        format!(r#"Len({}) == 1"#, nest(r#"{"a": "#, "1", "}", levels - 1)),
        format!(r#"{} == "7""#, nest("String(", "7", ")", levels)),
    ]
}

/// Scenario: conditions and statements nested exactly MAX_DEPTH levels in
/// each way OTTL nests (boolean groups, arithmetic groups, lists, maps,
/// converter calls).
/// Guarantees: they parse, compile and evaluate (on the 2 MiB stack of a
/// test thread, debug build).
#[test]
fn nesting_at_the_limit_compiles_and_runs() {
    for text in nested_conditions(parser::MAX_DEPTH) {
        assert!(cond(&text), "{text}");
    }
    let set = format!(
        r#"set(cache["out"], {})"#,
        nest("[", "1", "]", parser::MAX_DEPTH - 1)
    );
    let f = run(&[&set]);
    assert_eq!(f.cache.len(), 1);
}

/// Scenario: one level past MAX_DEPTH in each way, and the ~6,000 levels
/// (12 KB) of `(` that overflowed the stack before the limit existed.
/// Guarantees: a parse error that says so, for conditions and statements,
/// instead of a stack overflow that aborts oispd.
#[test]
fn nesting_past_the_limit_is_a_clear_error() {
    let limit = parser::MAX_DEPTH;
    let message = format!(
        "OTTL condition nests deeper than {limit} levels of parentheses, lists, maps and calls"
    );
    for text in nested_conditions(limit + 1) {
        let e = cond_err(&text);
        assert!(e.ends_with(&message), "{text}: {e}");
    }
    for levels in [limit + 1, 6_000] {
        let e = stmt_err(&format!(
            r#"set(cache["out"], {})"#,
            nest("(", "1", ")", levels)
        ));
        assert!(
            e.contains(&format!("OTTL statement nests deeper than {limit} levels")),
            "{e}"
        );
    }
    let e = cond_err(&nest("(", "true", ")", 6_000));
    assert!(e.ends_with(&message), "{e}");
}
