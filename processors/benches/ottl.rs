//! OTTL condition evaluation on a realistic OISP log record: an `ai.request`
//! event with a ~1 KB body map (chat messages, model parameters) and `ai.*`
//! attributes, as the capture receiver emits it.
//!
//! Each benchmark evaluates one compiled condition against one record
//! (throughput = records/s). Setup (parsing, building the record) is outside
//! the timed loop. Run with `cargo bench -p oispd-processors --bench ottl`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oispd_processors::ottl::{Condition, Context, RecordMut, Statement};
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::hint::black_box;
use std::time::Duration;

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

fn kv(k: &str, v: AnyValue) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(v),
        ..Default::default()
    }
}

fn map(values: Vec<KeyValue>) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList { values })),
    }
}

fn message(role: &str, content: &str) -> AnyValue {
    map(vec![kv("role", s(role)), kv("content", s(content))])
}

/// An `ai.request` record shaped like the capture receiver's output.
fn oisp_record() -> (Option<Resource>, Option<InstrumentationScope>, LogRecord) {
    let resource = Resource {
        attributes: vec![
            kv("host.name", s("build-agent-07")),
            kv("service.name", s("oispd")),
            kv("os.type", s("linux")),
        ],
        ..Default::default()
    };
    let scope = InstrumentationScope {
        name: "oispd.capture".into(),
        version: "0.1.0".into(),
        ..Default::default()
    };
    let body = map(vec![
        kv("event_type", s("ai.request")),
        kv("event_id", s("01J9Z3Q4W8X7YV6T5S4R3Q2P1N")),
        kv("ts", s("2026-08-22T10:15:30.123456Z")),
        kv(
            "data",
            map(vec![
                kv("provider", map(vec![kv("name", s("openai")), kv("endpoint", s("https://api.openai.com/v1/chat/completions"))])),
                kv("model", map(vec![kv("id", s("gpt-4o-2024-08-06")), kv("family", s("gpt-4o"))])),
                kv(
                    "messages",
                    AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: vec![
                                message("system", "You are a careful coding assistant working inside a CI runner. Answer with patches only, never run commands on the host, and keep explanations short."),
                                message("user", "The integration test for the OTLP exporter fails with a timeout after the retry loop; here is the log output from the last run, please find the cause and suggest a fix."),
                                message("assistant", "The retry loop never honours Retry-After, so the exporter backs off for the full max_interval; honour the header and cap the elapsed time."),
                                message("user", "Apply that change and show me the diff for exporters/src/helper/retry.rs please."),
                            ],
                        })),
                    },
                ),
                kv("parameters", map(vec![kv("temperature", AnyValue { value: Some(any_value::Value::DoubleValue(0.2)) }), kv("max_tokens", i(1024)), kv("stream", AnyValue { value: Some(any_value::Value::BoolValue(true)) })])),
                kv("tools_count", i(3)),
            ]),
        ),
    ]);
    let record = LogRecord {
        time_unix_nano: 1_787_000_000_000_000_000,
        observed_time_unix_nano: 1_787_000_000_000_100_000,
        severity_number: 9,
        severity_text: "INFO".into(),
        event_name: "ai.request".into(),
        body: Some(body),
        attributes: vec![
            kv("ai.provider", s("openai")),
            kv("ai.model", s("gpt-4o-2024-08-06")),
            kv("ai.request.id", s("req_8f2d0c1e")),
            kv(
                "ai.request.streaming",
                AnyValue {
                    value: Some(any_value::Value::BoolValue(true)),
                },
            ),
            kv("ai.request.message_count", i(4)),
            kv("agent.name", s("ci-assistant")),
            kv("process.pid", i(48213)),
            kv("process.executable.name", s("python3")),
            kv(
                "process.command_line",
                s("python3 -m agent.run --task fix-ci"),
            ),
            kv("network.peer.address", s("162.159.140.245")),
            kv("network.peer.port", i(443)),
            kv("tls.server_name", s("api.openai.com")),
        ],
        trace_id: vec![7; 16],
        span_id: vec![3; 8],
        ..Default::default()
    };
    (Some(resource), Some(scope), record)
}

const CONDITIONS: &[(&str, &str)] = &[
    (
        "presence_missing",
        r#"attributes["ai.sentinel.detector.id"] != nil"#,
    ),
    (
        "is_match_prefix",
        r#"IsMatch(attributes["ai.provider"], "^open.*")"#,
    ),
    (
        "severity_and_resource",
        r#"severity_number >= SEVERITY_NUMBER_WARN and resource.attributes["host.name"] == "x""#,
    ),
    (
        "nested_body_path",
        r#"body["data"]["model"]["family"] == "gpt-4o""#,
    ),
    (
        "body_regex",
        r#"IsMatch(body["data"]["messages"][1]["content"], "(?i)timeout")"#,
    ),
];

fn conditions(c: &mut Criterion) {
    let mut group = c.benchmark_group("ottl_condition");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    group.noise_threshold(0.03);
    let (mut resource, mut scope, mut record) = oisp_record();
    for (name, text) in CONDITIONS {
        let condition = Condition::parse(text, Context::Log).unwrap_or_else(|e| panic!("{e}"));
        let mut cache = Vec::new();
        let rec = RecordMut::log(&mut resource, &mut scope, &mut record, &mut cache);
        group.bench_function(*name, |b| {
            b.iter(|| condition.eval(black_box(&rec)).unwrap_or(false))
        });
    }
    group.finish();
}

fn statements(c: &mut Criterion) {
    let mut group = c.benchmark_group("ottl_statement");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    let statement = Statement::parse(
        r#"set(attributes["ai.model.family"], body["data"]["model"]["family"]) where attributes["ai.provider"] == "openai""#,
        Context::Log,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (resource, scope, record) = oisp_record();
    group.bench_function("set_from_body_where", |b| {
        b.iter_batched(
            || (resource.clone(), scope.clone(), record.clone()),
            |(mut r, mut sc, mut l)| {
                let mut cache = Vec::new();
                let mut rec = RecordMut::log(&mut r, &mut sc, &mut l, &mut cache);
                statement.execute(&mut rec).unwrap_or(false)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, conditions, statements);
criterion_main!(benches);
