#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_support::{counter, ctx, log, logs, names, span, traces, yaml};

fn filter(
    config: &str,
    signal: Signal,
) -> (
    Box<dyn Processor>,
    std::sync::Arc<oispd_component::Telemetry>,
) {
    let (ctx, telemetry) = ctx("filter/t");
    let p = FilterFactory.create(&ctx, &yaml(config), signal).unwrap();
    (p, telemetry)
}

fn sample() -> Batch {
    logs(vec![
        (
            "web-1",
            vec![(
                "capture",
                vec![
                    log("debug noise", 5, &[]),
                    log("warning kept", 13, &[("ai.provider", "openai")]),
                    log("GET /healthz", 13, &[]),
                ],
            )],
        ),
        ("web-2", vec![("capture", vec![log("info only", 9, &[])])]),
    ])
}

/// Scenario: two conditions, each matching different records.
/// Guarantees: a record matching any condition is dropped, others kept in
/// order, empty resource groups removed, drops counted.
#[test]
fn drops_records_matching_any_condition() {
    let (mut p, telemetry) = filter(
        r#"
logs:
  log_record:
    - 'severity_number < SEVERITY_NUMBER_WARN'
    - 'IsMatch(body, ".*healthz.*")'
"#,
        Signal::Logs,
    );
    let out = p.process(sample()).unwrap();
    assert_eq!(names(&out), ["warning kept"]);
    let Batch::Logs(rls) = &out else { panic!() };
    assert_eq!(rls.len(), 1, "the web-2 resource had nothing left");
    assert_eq!(
        counter(
            &telemetry,
            "otelcol_processor_filter_logs_filtered",
            "processor",
            "filter/t"
        ),
        3
    );
}

/// Scenario: every record matches. Guarantees: nothing goes on (None).
#[test]
fn everything_filtered_yields_nothing() {
    let (mut p, _) = filter("logs: {log_record: ['true']}", Signal::Logs);
    assert!(p.process(sample()).is_none());
}

/// Scenario: a condition errors on every record (string body indexed).
/// Guarantees: with ignore (the default) and silent the record is treated as
/// not matching and kept; the error is counted.
#[test]
fn ignore_and_silent_treat_errors_as_no_match() {
    for mode in ["", "error_mode: ignore\n", "error_mode: silent\n"] {
        let (mut p, telemetry) = filter(
            &format!(
                "{mode}logs:\n  log_record:\n    - 'body[\"x\"] == 1'\n    - 'severity_number < 6'\n"
            ),
            Signal::Logs,
        );
        let out = p.process(sample()).unwrap();
        // The failing condition never matches, the second still applies.
        assert_eq!(
            names(&out),
            ["warning kept", "GET /healthz", "info only"],
            "{mode}"
        );
        assert_eq!(
            counter(&telemetry, "oispd_ottl_errors", "component", "filter/t"),
            4
        );
    }
}

/// Scenario: error_mode propagate and a failing condition.
/// Guarantees: the whole batch is dropped and counted as error-dropped.
#[test]
fn propagate_drops_the_batch() {
    let (mut p, telemetry) = filter(
        "error_mode: propagate\nlogs: {log_record: ['body[\"x\"] == 1']}",
        Signal::Logs,
    );
    assert!(p.process(sample()).is_none());
    assert_eq!(
        counter(
            &telemetry,
            "oispd_ottl_error_dropped_log_records",
            "component",
            "filter/t"
        ),
        4
    );
}

/// Scenario: span conditions on a traces pipeline, log conditions ignored there.
#[test]
fn filters_spans() {
    let (mut p, telemetry) = filter(
        r#"
logs: {log_record: ['true']}
traces:
  span: ['attributes["http.route"] == "/healthz"', 'resource.attributes["host.name"] == "noisy"']
"#,
        Signal::Traces,
    );
    let batch = traces(
        "web-1",
        vec![
            span("GET /healthz", &[("http.route", "/healthz")]),
            span("POST /chat", &[("http.route", "/chat")]),
        ],
    );
    assert_eq!(names(&p.process(batch).unwrap()), ["POST /chat"]);
    assert!(p.process(traces("noisy", vec![span("x", &[])])).is_none());
    assert_eq!(
        counter(
            &telemetry,
            "otelcol_processor_filter_spans_filtered",
            "processor",
            "filter/t"
        ),
        2
    );
}

/// Scenario: the collector's newer flat form with inferred contexts and a
/// group with its own error mode.
#[test]
fn flat_conditions_with_inferred_contexts() {
    let (mut p, _) = filter(
        r#"
log_conditions:
  - 'log.severity_number < SEVERITY_NUMBER_WARN'
  - error_mode: silent
    conditions: ['resource.attributes["host.name"] == "web-2"', 'log.body["x"] == 1']
"#,
        Signal::Logs,
    );
    assert_eq!(
        names(&p.process(sample()).unwrap()),
        ["warning kept", "GET /healthz"]
    );
}

/// Scenario: no conditions for the pipeline's signal. Guarantees: pass-through.
#[test]
fn no_conditions_pass_everything() {
    let (mut p, _) = filter("traces: {span: ['true']}", Signal::Logs);
    assert_eq!(p.process(sample()).unwrap(), sample());
}

fn problems(config: &str) -> Vec<String> {
    FilterFactory
        .validate(&yaml(config))
        .unwrap_err()
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

/// Guarantees: every bad condition is reported at validation, all at once,
/// with the statement, the column and what was expected.
#[test]
fn validation_reports_every_bad_condition() {
    assert_eq!(
        problems(
            r#"
logs:
  log_record:
    - 'severity_number < SEVERITY_NUMBER_WARNING'
    - 'IsMatch(body, ".*"'
traces:
  span: ['attributes["x"] = 1']
"#
        ),
        [
            r#"unable to parse OTTL condition "severity_number < SEVERITY_NUMBER_WARNING" at column 19: unknown enum "SEVERITY_NUMBER_WARNING"; did you mean "SEVERITY_NUMBER_WARN"?"#,
            r#"unable to parse OTTL condition "IsMatch(body, ".*"" at column 19: expected ")""#,
            r#"unable to parse OTTL condition "attributes["x"] = 1" at column 17: expected a comparison operator (==, !=, <, <=, >, >=) but found "="; use == to compare"#,
        ]
    );
    assert_eq!(
        problems("log_conditions: ['true']\nlogs: {log_record: ['true']}"),
        ["'log_conditions' and 'logs' cannot be used together; put all logs conditions in one of them"]
    );
    assert_eq!(
        problems("trace_conditions: ['log.body == \"x\"']"),
        ["condition \"log.body == \\\"x\\\"\" uses log paths, which traces pipelines do not have"]
    );
    assert_eq!(
        problems("logs: {log_records: []}"),
        ["'logs' has invalid keys: log_records"]
    );
    assert_eq!(
        problems("error_mode: loud"),
        ["'error_mode' has invalid value \"loud\": expected one of `ignore`, `silent`, `propagate`"]
    );
    assert!(FilterFactory.validate(&yaml("~")).is_ok());
}
