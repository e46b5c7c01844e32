#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_support::{counter, ctx, log, logs, names, s, span, traces, yaml};
use opentelemetry_proto::tonic::common::v1::AnyValue;

fn transform(
    config: &str,
    signal: Signal,
) -> (
    Box<dyn Processor>,
    std::sync::Arc<oispd_component::Telemetry>,
) {
    let (ctx, telemetry) = ctx("transform/t");
    let p = TransformFactory
        .create(&ctx, &yaml(config), signal)
        .unwrap();
    (p, telemetry)
}

fn sample() -> Batch {
    logs(vec![
        (
            "web-1",
            vec![(
                "capture",
                vec![
                    log("a", 5, &[("ai.provider", "openai")]),
                    log("b", 17, &[("ai.provider", "anthropic")]),
                    log("c", 13, &[]),
                ],
            )],
        ),
        ("web-2", vec![("capture", vec![log("d", 9, &[])])]),
    ])
}

fn log_attr(batch: &Batch, body: &str, key: &str) -> Option<AnyValue> {
    let Batch::Logs(rls) = batch else { panic!() };
    rls.iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .find(|l| l.body == Some(s(body)))
        .and_then(|l| l.attributes.iter().find(|e| e.key == key))
        .and_then(|e| e.value.clone())
}

fn resource_attr(batch: &Batch, index: usize, key: &str) -> Option<AnyValue> {
    let Batch::Logs(rls) = batch else { panic!() };
    rls[index]
        .resource
        .as_ref()?
        .attributes
        .iter()
        .find(|e| e.key == key)
        .and_then(|e| e.value.clone())
}

/// Scenario: the flat form, with prefixed (inferred) and legacy unprefixed paths.
/// Guarantees: each statement runs per record where its where-clause holds.
#[test]
fn flat_statements() {
    let (mut p, _) = transform(
        r#"
log_statements:
  - 'set(log.attributes["level"], "high") where log.severity_number >= SEVERITY_NUMBER_WARN'
  - 'set(attributes["copy"], body)'
  - 'set(resource.attributes["env"], "prod")'
"#,
        Signal::Logs,
    );
    let out = p.process(sample()).unwrap();
    assert_eq!(log_attr(&out, "a", "level"), None);
    assert_eq!(log_attr(&out, "b", "level"), Some(s("high")));
    assert_eq!(log_attr(&out, "c", "level"), Some(s("high")));
    assert_eq!(log_attr(&out, "d", "copy"), Some(s("d")));
    assert_eq!(resource_attr(&out, 1, "env"), Some(s("prod")));
}

/// Scenario: groups with explicit contexts and conditions.
/// Guarantees: conditions gate the group per item; a resource group runs once
/// per resource (a non-idempotent statement shows it).
#[test]
fn grouped_statements_with_contexts_and_conditions() {
    let (mut p, _) = transform(
        r#"
log_statements:
  - context: log
    conditions: ['attributes["ai.provider"] == "openai"', 'severity_number == 9']
    statements:
      - 'set(attributes["tagged"], "yes")'
      - 'delete_key(attributes, "ai.provider")'
  - context: resource
    statements: ['set(attributes["seen"], Concat([attributes["seen"], "r"], ""))']
  - context: scope
    conditions: ['resource.attributes["host.name"] == "web-2"']
    statements: ['set(name, "renamed")']
"#,
        Signal::Logs,
    );
    let out = p.process(sample()).unwrap();
    assert_eq!(log_attr(&out, "a", "tagged"), Some(s("yes")));
    assert_eq!(log_attr(&out, "a", "ai.provider"), None);
    assert_eq!(log_attr(&out, "b", "tagged"), None);
    assert_eq!(log_attr(&out, "b", "ai.provider"), Some(s("anthropic")));
    assert_eq!(log_attr(&out, "d", "tagged"), Some(s("yes")));
    assert_eq!(resource_attr(&out, 0, "seen"), Some(s("<nil>r")));
    let Batch::Logs(rls) = &out else { panic!() };
    let scope_name = |i: usize| rls[i].scope_logs[0].scope.as_ref().unwrap().name.clone();
    assert_eq!(
        (scope_name(0), scope_name(1)),
        ("capture".into(), "renamed".into())
    );
}

/// Scenario: trace statements on spans.
#[test]
fn trace_statements() {
    let (mut p, _) = transform(
        r#"
trace_statements:
  - context: span
    statements: ['set(name, Concat([name, attributes["k"]], "-")) where attributes["k"] != nil']
log_statements: ['set(attributes["never"], 1)']
"#,
        Signal::Traces,
    );
    let out = p
        .process(traces("h", vec![span("a", &[("k", "1")]), span("b", &[])]))
        .unwrap();
    assert_eq!(names(&out), ["a-1", "b"]);
}

/// Scenario: a statement fails on every record.
/// Guarantees: ignore continues with the next statements and keeps the
/// batch; propagate drops the batch and counts it.
#[test]
fn error_modes() {
    let config = |mode: &str| {
        format!(
            "error_mode: {mode}\nlog_statements:\n  - 'set(attributes[\"n\"], Substring(body, 5, 1))'\n  - 'set(attributes[\"after\"], \"ran\")'\n"
        )
    };
    let (mut p, telemetry) = transform(&config("ignore"), Signal::Logs);
    let out = p.process(sample()).unwrap();
    assert_eq!(log_attr(&out, "a", "after"), Some(s("ran")));
    assert_eq!(
        counter(&telemetry, "oispd_ottl_errors", "component", "transform/t"),
        4
    );

    let (mut p, telemetry) = transform(&config("propagate"), Signal::Logs);
    assert!(p.process(sample()).is_none());
    assert_eq!(
        counter(
            &telemetry,
            "oispd_ottl_error_dropped_log_records",
            "component",
            "transform/t"
        ),
        4
    );

    // A group's error_mode overrides the top-level one.
    let (mut p, _) = transform(
        r#"
error_mode: propagate
log_statements:
  - error_mode: silent
    statements: ['set(attributes["n"], Substring(body, 5, 1))', 'set(attributes["after"], "ran")']
"#,
        Signal::Logs,
    );
    assert_eq!(
        log_attr(&p.process(sample()).unwrap(), "d", "after"),
        Some(s("ran"))
    );
}

fn problems(config: &str) -> Vec<String> {
    TransformFactory
        .validate(&yaml(config))
        .unwrap_err()
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

/// Guarantees: every problem in every statement is found at validation.
#[test]
fn validation_reports_every_problem() {
    assert_eq!(
        problems(
            r#"
log_statements:
  - 'set(attributes["x"], 1'
  - context: log
    statements: ['IsMatch(body, "x")', 'set(name, int(2))']
    conditions: ['Len(body)']
  - context: span
    statements: ['set(name, "x")']
trace_statements:
  - 'set(log.body, "x")'
"#
        ),
        [
            r#"unable to parse OTTL statement "set(attributes["x"], 1" at column 23: expected ")""#,
            r#"unable to parse OTTL condition "Len(body)" at column 1: Len returns an int, not a bool; compare its result (e.g. Len(...) != nil)"#,
            r#"unable to parse OTTL statement "IsMatch(body, "x")" at column 1: editor names must start with a lowercase letter but got 'IsMatch'"#,
            r#"unable to parse OTTL statement "set(name, int(2))" at column 5: unknown path "name" in the log context; name is a span field, not available in the log context"#,
            "'log_statements[2]': context span cannot be used in log_statements (use resource, scope or log)",
            "'trace_statements[0]': context log cannot be used in trace_statements (use resource, scope or span)",
        ]
    );
    assert_eq!(
        problems("log_statements: [{context: log, statement: ['set(body, 1)']}]"),
        ["'log_statements[0]' has invalid keys: statement"]
    );
    assert_eq!(
        problems("metric_statements: []"),
        ["'' has invalid keys: metric_statements"]
    );
    assert!(TransformFactory.validate(&yaml("~")).is_ok());
}
