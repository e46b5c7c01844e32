//! Tests of the `genai_metrics` connector: exact histogram counts, sums
//! and buckets from known events, semconv names and attributes, the
//! cardinality cap, Prometheus exposition, and the final emission when the
//! connector stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::aggregate::*;
use super::*;
use crate::test_support::{ctx, yaml};
use oispd_component::PipelineSender;
use oispd_semconv::otel::events_to_resource_logs;
use oispd_semconv::OispEvent;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Metric, ResourceMetrics,
};
use serde_json::json;
use tokio::sync::mpsc;

/// One call's figures.
struct Call {
    process: &'static str,
    provider: &'static str,
    model: &'static str,
    prompt: u64,
    completion: u64,
    latency_ms: u64,
    ttft_ms: Option<u64>,
    cost: Option<f64>,
    status: u16,
}

fn response(c: &Call) -> OispEvent {
    let mut data = json!({
        "request_id": "req_1",
        "provider": {"name": c.provider},
        "model": {"id": c.model},
        "status_code": c.status,
        "success": c.status < 400,
        "usage": {"prompt_tokens": c.prompt, "completion_tokens": c.completion,
                  "total_tokens": c.prompt + c.completion},
        "latency_ms": c.latency_ms,
    });
    if let Some(t) = c.ttft_ms {
        data["time_to_first_token_ms"] = json!(t);
    }
    if let Some(usd) = c.cost {
        data["usage"]["total_cost_usd"] = json!(usd);
    }
    if c.status >= 400 {
        data["error"] = json!({"type": "rate_limit", "message": "slow down"});
    }
    OispEvent::from_value(json!({
        "oisp_version": "0.1",
        "event_id": "01JFWK8X5S6T7U8V9W0X1Y2Z3A",
        "event_type": "ai.response",
        "ts": "2025-12-22T14:30:18.567890Z",
        "process": {"pid": 42, "name": c.process},
        "source": {"collector": "oispd", "capture_method": "tls_boundary"},
        "confidence": {"level": "high", "completeness": "full"},
        "data": data,
    }))
    .unwrap()
}

fn finding(detector: &str, severity: &str) -> OispEvent {
    OispEvent::from_value(json!({
        "oisp_version": "0.1",
        "event_id": "01JFWK8X5S6T7U8V9W0X1Y2Z3B",
        "event_type": "security.finding",
        "ts": "2025-12-22T14:30:19Z",
        "source": {"collector": "oispd"},
        "confidence": {"level": "high", "completeness": "full"},
        "data": {"finding_id": "f1", "detector_id": detector, "severity": severity,
                 "summary": "something"},
    }))
    .unwrap()
}

/// Three Anthropic calls by `claude` (one streamed, one failed), one
/// OpenAI call by `python3`, two findings.
fn known_events() -> Vec<OispEvent> {
    let ant = |prompt, completion, latency_ms, ttft_ms, cost, status| Call {
        process: "claude",
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        prompt,
        completion,
        latency_ms,
        ttft_ms,
        cost,
        status,
    };
    vec![
        response(&ant(100, 20, 1500, None, Some(0.0006), 200)),
        response(&ant(3000, 500, 12000, Some(300), Some(0.0165), 200)),
        response(&ant(10, 0, 50, None, None, 429)),
        response(&Call {
            process: "python3",
            provider: "openai",
            model: "gpt-4o",
            prompt: 13,
            completion: 7,
            latency_ms: 250,
            ttft_ms: None,
            cost: Some(0.0000025),
            status: 200,
        }),
        finding("SEC-01", "high"),
        finding("SEC-01", "high"),
    ]
}

fn aggregated(events: Vec<OispEvent>, limit: usize) -> Aggregates {
    let mut a = Aggregates::new(limit, 1);
    for rl in events_to_resource_logs(events) {
        let resource = rl.resource.clone().unwrap_or_default().attributes;
        for rec in rl.scope_logs.iter().flat_map(|s| &s.log_records) {
            a.record(&resource, rec);
        }
    }
    a
}

fn metric<'a>(rm: &'a ResourceMetrics, name: &str) -> &'a Metric {
    rm.scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

fn attrs_text(attrs: &[KeyValue]) -> String {
    attrs
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            format!("{}={v}", kv.key)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// (attributes, count, sum, bucket counts) of every point of a histogram.
fn histogram_points(m: &Metric) -> Vec<(String, u64, f64, Vec<u64>)> {
    let Some(metric::Data::Histogram(h)) = &m.data else {
        panic!("{} is not a histogram", m.name)
    };
    assert_eq!(
        h.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    h.data_points
        .iter()
        .map(|p| {
            (
                attrs_text(&p.attributes),
                p.count,
                p.sum.unwrap(),
                p.bucket_counts.clone(),
            )
        })
        .collect()
}

/// (attributes, value as text) of every point of a monotonic sum.
fn sum_points(m: &Metric) -> Vec<(String, String)> {
    let Some(metric::Data::Sum(s)) = &m.data else {
        panic!("{} is not a sum", m.name)
    };
    assert!(s.is_monotonic);
    s.data_points
        .iter()
        .map(|p| {
            let v = match p.value {
                Some(number_data_point::Value::AsInt(i)) => i.to_string(),
                Some(number_data_point::Value::AsDouble(d)) => d.to_string(),
                None => "-".into(),
            };
            (attrs_text(&p.attributes), v)
        })
        .collect()
}

fn buckets(bounds: &[f64], values: &[f64]) -> Vec<u64> {
    let mut out = vec![0; bounds.len() + 1];
    for v in values {
        out[bounds.iter().position(|b| v <= b).unwrap_or(bounds.len())] += 1;
    }
    out
}

const CLAUDE: &str = "gen_ai.operation.name=chat,gen_ai.provider.name=anthropic,gen_ai.response.model=claude-sonnet-4-5";

/// Scenario: the known events through the aggregates.
/// Guarantees: each GenAI histogram and counter has the exact count, sum
/// and buckets per attribute set, with semconv names, units and
/// attributes; failures carry `error.type`; only streamed calls have a
/// time to first chunk; ids and prompt text are never attributes.
#[test]
fn exact_metrics_from_known_events() {
    let rm = aggregated(known_events(), 100).to_otlp(2);
    let tokens = metric(&rm, "gen_ai.client.token.usage");
    assert_eq!(tokens.unit, "{token}");
    let claude = |rest: &str| format!("{CLAUDE},{rest},process.executable.name=claude");
    let mut points = histogram_points(tokens);
    points.sort_by(|a, b| a.0.cmp(&b.0));
    let want_tokens = vec![
        (
            claude("gen_ai.token.type=input"),
            3,
            3110.0,
            buckets(TOKEN_BOUNDS, &[100.0, 3000.0, 10.0]),
        ),
        (
            claude("gen_ai.token.type=output"),
            3,
            520.0,
            buckets(TOKEN_BOUNDS, &[20.0, 500.0, 0.0]),
        ),
        (
            "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.response.model=gpt-4o,gen_ai.token.type=input,process.executable.name=python3".into(),
            1,
            13.0,
            buckets(TOKEN_BOUNDS, &[13.0]),
        ),
        (
            "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.response.model=gpt-4o,gen_ai.token.type=output,process.executable.name=python3".into(),
            1,
            7.0,
            buckets(TOKEN_BOUNDS, &[7.0]),
        ),
    ];
    let mut want_tokens = want_tokens;
    want_tokens.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(points, want_tokens);

    let duration = metric(&rm, "gen_ai.client.operation.duration");
    assert_eq!(duration.unit, "s");
    let mut points = histogram_points(duration);
    points.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        points,
        vec![
            (
                format!("error.type=rate_limit,{CLAUDE},process.executable.name=claude"),
                1,
                0.05,
                buckets(SECONDS_BOUNDS, &[0.05])
            ),
            (
                claude("").replace(",,", ","),
                2,
                13.5,
                buckets(SECONDS_BOUNDS, &[1.5, 12.0])
            ),
            (
                "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.response.model=gpt-4o,process.executable.name=python3".into(),
                1,
                0.25,
                buckets(SECONDS_BOUNDS, &[0.25])
            ),
        ]
    );

    let first = metric(&rm, "gen_ai.client.operation.time_to_first_chunk");
    assert_eq!(
        histogram_points(first),
        vec![(
            claude("").replace(",,", ","),
            1,
            0.3,
            buckets(SECONDS_BOUNDS, &[0.3])
        )]
    );

    let mut calls = sum_points(metric(&rm, "oispd.ai.calls"));
    calls.sort();
    assert_eq!(
        calls,
        vec![
            (
                format!("error.type=rate_limit,{CLAUDE},process.executable.name=claude"),
                "1".into()
            ),
            (claude("").replace(",,", ","), "2".into()),
            (
                "gen_ai.operation.name=chat,gen_ai.provider.name=openai,gen_ai.response.model=gpt-4o,process.executable.name=python3".into(),
                "1".into()
            ),
        ]
    );
    let cost = metric(&rm, "oispd.ai.cost");
    assert_eq!(cost.unit, "USD");
    let mut cost = sum_points(cost);
    cost.sort();
    assert_eq!(
        cost,
        vec![
            (
                "gen_ai.provider.name=anthropic,gen_ai.response.model=claude-sonnet-4-5,process.executable.name=claude".into(),
                (0.0006f64 + 0.0165).to_string()
            ),
            (
                "gen_ai.provider.name=openai,gen_ai.response.model=gpt-4o,process.executable.name=python3".into(),
                "0.0000025".into()
            ),
        ]
    );
    assert_eq!(
        sum_points(metric(&rm, "oispd.security.findings")),
        vec![(
            "ai.sentinel.detector.id=SEC-01,ai.sentinel.severity=high".into(),
            "2".into()
        )]
    );
    let text = format!("{rm:?}");
    for id in ["req_1", "01JFWK8X5S6T7U8V9W0X1Y2Z3A", "f1"] {
        assert!(!text.contains(id), "{id} became an attribute");
    }
}

/// Scenario: more attribute sets than the cap allows.
/// Guarantees: the first `limit` sets keep their series; every later
/// measurement goes to one overflow series marked
/// `otel.metric.overflow=true`, so nothing is lost and the series stay bounded.
#[test]
fn attribute_sets_beyond_the_cap_overflow() {
    let events: Vec<OispEvent> = (0..10)
        .map(|i| {
            let model: &'static str = Box::leak(format!("model-{i}").into_boxed_str());
            response(&Call {
                process: "agent",
                provider: "openai",
                model,
                prompt: 1,
                completion: 1,
                latency_ms: 10,
                ttft_ms: None,
                cost: None,
                status: 200,
            })
        })
        .collect();
    let a = aggregated(events, 3);
    assert_eq!(a.calls.series.len(), 3);
    assert_eq!(a.calls.overflow, Some(7));
    assert_eq!(a.tokens.series.len(), 3);
    let rm = a.to_otlp(2);
    let calls = sum_points(metric(&rm, "oispd.ai.calls"));
    assert_eq!(calls.len(), 4);
    assert!(calls.contains(&("otel.metric.overflow=true".into(), "7".into())));
    let total: u64 = calls.iter().map(|(_, v)| v.parse::<u64>().unwrap()).sum();
    assert_eq!(total, 10);
}

/// Scenario: hostile attribute values: a 10 kB model name, negative and
/// non-finite numbers.
/// Guarantees: values are cut to 256 bytes at a character boundary and
/// bad numbers are not measured; nothing panics.
#[test]
fn hostile_values_are_bounded() {
    let long: &'static str = Box::leak("\u{e9}".repeat(5000).into_boxed_str());
    let a = aggregated(
        vec![response(&Call {
            process: "agent",
            provider: "openai",
            model: long,
            prompt: 1,
            completion: 1,
            latency_ms: 10,
            ttft_ms: None,
            cost: Some(-1.0),
            status: 200,
        })],
        10,
    );
    let key = a.calls.series.keys().next().unwrap();
    let model = &key[3];
    assert_eq!(model.len(), 256);
    assert!(a.cost.is_empty(), "a negative cost is not counted");
}

fn logs_batch(events: Vec<OispEvent>) -> Batch {
    Batch::Logs(events_to_resource_logs(events))
}

/// Scenario: a connector in a logs pipeline feeding a metrics pipeline,
/// with Prometheus on, receives the known events, then its logs pipeline
/// drains (the connector is dropped).
/// Guarantees: the metrics pipeline gets the cumulative metrics once more
/// at the end, then its input closes; the registry's Prometheus text
/// carries the same counts under the Prometheus names.
#[tokio::test]
async fn emits_at_the_end_and_serves_prometheus() {
    let (ctx, telemetry) = ctx("genai_metrics");
    let (tx, mut rx) = mpsc::channel(4);
    let targets = BTreeMap::from([(
        "metrics".to_string(),
        Output::new(vec![(
            Signal::Metrics,
            PipelineSender {
                pipeline: "metrics".into(),
                tx,
            },
        )]),
    )]);
    let connector = GenAiMetricsFactory
        .create(&ctx, &yaml("metrics_flush_interval: 1h"), targets)
        .unwrap();
    connector.consume(logs_batch(known_events())).await.unwrap();
    drop(connector);
    let envelope = rx.recv().await.expect("the final emission");
    let Batch::Metrics(rms) = envelope.batch else {
        panic!("metrics")
    };
    let calls = sum_points(metric(&rms[0], "oispd.ai.calls"));
    let total: u64 = calls.iter().map(|(_, v)| v.parse::<u64>().unwrap()).sum();
    assert_eq!(total, 4);
    assert!(rx.recv().await.is_none(), "the output is dropped after");

    let text = telemetry.render();
    for line in [
        "gen_ai_client_token_usage_count{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"anthropic\",gen_ai_request_model=\"\",gen_ai_response_model=\"claude-sonnet-4-5\",gen_ai_token_type=\"input\",otel_metric_overflow=\"\",process_executable_name=\"claude\"} 3",
        "gen_ai_client_token_usage_sum{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"anthropic\",gen_ai_request_model=\"\",gen_ai_response_model=\"claude-sonnet-4-5\",gen_ai_token_type=\"input\",otel_metric_overflow=\"\",process_executable_name=\"claude\"} 3110",
        "oispd_security_findings_total{ai_sentinel_detector_id=\"SEC-01\",ai_sentinel_severity=\"high\",otel_metric_overflow=\"\"} 2",
        "gen_ai_client_operation_time_to_first_chunk_seconds_count{",
        "oispd_ai_cost_usd_total{",
        "gen_ai_client_operation_duration_seconds_bucket{",
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
}

/// Scenario: two connectors both asking to serve Prometheus, and bad
/// config values.
/// Guarantees: the second is refused with what to do; bad values are
/// config errors naming the key.
#[tokio::test]
async fn config_problems_are_clear() {
    let (ctx, _telemetry) = ctx("genai_metrics");
    let first = GenAiMetricsFactory.create(&ctx, &yaml("{}"), BTreeMap::new());
    assert!(first.is_ok());
    let second = GenAiMetricsFactory.create(&ctx, &yaml("{}"), BTreeMap::new());
    let Err(err) = second else {
        panic!("a second Prometheus registration must fail")
    };
    assert!(err.to_string().contains("prometheus: false"), "{err}");
    let quiet = GenAiMetricsFactory.create(&ctx, &yaml("prometheus: false"), BTreeMap::new());
    assert!(quiet.is_ok());
    let errs = GenAiMetricsFactory
        .validate(&yaml(
            "metrics_flush_interval: 0s\naggregation_cardinality_limit: 0",
        ))
        .unwrap_err();
    let text = errs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    assert!(
        text.contains("metrics_flush_interval") && text.contains("aggregation_cardinality_limit"),
        "{text}"
    );
    assert!(GenAiMetricsFactory.validate(&yaml("interval: 5s")).is_err());
}
