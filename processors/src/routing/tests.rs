#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_support::{counter, ctx, log, logs, names, span, traces, yaml};
use oispd_component::{Envelope, PipelineSender};
use tokio::sync::mpsc;

const PIPELINES: [&str; 4] = ["logs/siem", "logs/loki", "logs/billing", "traces/out"];

struct Harness {
    connector: Arc<dyn Consumer>,
    rx: BTreeMap<String, mpsc::Receiver<Envelope>>,
    telemetry: Arc<oispd_component::Telemetry>,
}

impl Harness {
    fn new(config: &str) -> Harness {
        let (ctx, telemetry) = ctx("routing");
        let mut targets = BTreeMap::new();
        let mut rx = BTreeMap::new();
        for name in PIPELINES {
            let (tx, r) = mpsc::channel(16);
            let signal = if name.starts_with("logs") {
                Signal::Logs
            } else {
                Signal::Traces
            };
            targets.insert(
                name.to_string(),
                Output::new(vec![(
                    signal,
                    PipelineSender {
                        pipeline: name.into(),
                        tx,
                    },
                )]),
            );
            rx.insert(name.to_string(), r);
        }
        let connector = RoutingFactory
            .create(&ctx, &yaml(config), targets)
            .unwrap_or_else(|e| panic!("{e}"));
        Harness {
            connector,
            rx,
            telemetry,
        }
    }

    /// Everything pipeline `name` received, as record names.
    fn got(&mut self, name: &str) -> Vec<Vec<String>> {
        let rx = self.rx.get_mut(name).unwrap();
        let mut out = Vec::new();
        while let Ok(e) = rx.try_recv() {
            out.push(names(&e.batch));
        }
        out
    }

    fn batch(&mut self, name: &str) -> Batch {
        self.rx.get_mut(name).unwrap().try_recv().unwrap().batch
    }

    fn unmatched(&self, noun: &str) -> u64 {
        counter(
            &self.telemetry,
            &format!("oispd_connector_routing_unmatched_{noun}"),
            "connector",
            "routing",
        )
    }
}

fn sample() -> Batch {
    logs(vec![
        (
            "web-1",
            vec![
                (
                    "capture",
                    vec![
                        log("finding", 17, &[("ai.sentinel.detector.id", "SEC-01")]),
                        log("chat", 9, &[]),
                    ],
                ),
                (
                    "sentinel",
                    vec![log(
                        "finding-2",
                        21,
                        &[("ai.sentinel.detector.id", "SEC-02")],
                    )],
                ),
            ],
        ),
        ("billing-1", vec![("capture", vec![log("invoice", 9, &[])])]),
    ])
}

/// Scenario: the reference deployment: findings to the SIEM, everything else
/// to Loki. Guarantees: each record reaches exactly one pipeline, in one
/// batch per pipeline, with its resource and scope kept.
#[tokio::test]
async fn first_match_wins_and_defaults_take_the_rest() {
    let mut h = Harness::new(
        r#"
default_pipelines: [logs/loki]
table:
  - context: log
    condition: 'IsMatch(attributes["ai.sentinel.detector.id"], "^SEC-")'
    pipelines: [logs/siem]
  - context: log
    condition: 'severity_number > 0'
    pipelines: [logs/billing]
"#,
    );
    h.connector.consume(sample()).await.unwrap();
    assert_eq!(h.got("logs/siem"), [["finding", "finding-2"]]);
    assert_eq!(h.got("logs/billing"), [["chat", "invoice"]]);
    assert!(h.got("logs/loki").is_empty());

    h.connector.consume(sample()).await.unwrap();
    let siem = h.batch("logs/siem");
    let Batch::Logs(rls) = &siem else { panic!() };
    assert_eq!(rls.len(), 1);
    let scopes: Vec<&str> = rls[0]
        .scope_logs
        .iter()
        .map(|s| s.scope.as_ref().unwrap().name.as_str())
        .collect();
    assert_eq!(scopes, ["capture", "sentinel"]);
    assert_eq!(
        rls[0].resource.as_ref().unwrap().attributes[0].value,
        Some(crate::test_support::s("web-1"))
    );
}

/// Resources of host `billing-1` to logs/billing (legacy statement form),
/// the rest to logs/loki.
const BILLING_BY_HOST: &str = r#"
default_pipelines: [logs/loki]
table:
  - statement: 'route() where attributes["host.name"] == "billing-1"'
    pipelines: [logs/billing]
"#;

/// Scenario: an OTLP receiver waits on an ack while the connector routes
/// its batch to two pipelines. Guarantees: each routed part carries the ack,
/// so the receiver's wait ends only when both pipelines are done with it.
#[tokio::test]
async fn routed_parts_carry_the_receivers_ack() {
    let mut h = Harness::new(BILLING_BY_HOST);
    let (ack, mut outcome) = Ack::new();
    h.connector.consume_acked(sample(), &ack).await.unwrap();
    drop(ack);
    let billing = h.rx.get_mut("logs/billing").unwrap().try_recv().unwrap();
    let loki = h.rx.get_mut("logs/loki").unwrap().try_recv().unwrap();
    assert!(billing.ack.is_some() && loki.ack.is_some());
    drop(billing);
    assert!(
        outcome.try_recv().is_err(),
        "logs/loki still holds its part"
    );
    drop(loki);
    assert_eq!(outcome.try_recv().unwrap(), None);
}

/// Scenario: resource-context routes (the default context) and the legacy
/// statement form. Guarantees: a matching resource goes whole to the route;
/// the rest goes to the defaults.
#[tokio::test]
async fn resource_routes_take_whole_resources() {
    let mut h = Harness::new(BILLING_BY_HOST);
    h.connector.consume(sample()).await.unwrap();
    assert_eq!(h.got("logs/billing"), [["invoice"]]);
    assert_eq!(h.got("logs/loki"), [["finding", "chat", "finding-2"]]);
}

/// Scenario: a route with several pipelines, and no default.
/// Guarantees: matched records go to every pipeline of the route; unmatched
/// records are dropped and counted.
#[tokio::test]
async fn unmatched_without_default_are_dropped_and_counted() {
    let mut h = Harness::new(
        r#"
table:
  - context: log
    condition: 'attributes["ai.sentinel.detector.id"] != nil'
    pipelines: [logs/siem, logs/loki]
"#,
    );
    h.connector.consume(sample()).await.unwrap();
    assert_eq!(h.got("logs/siem"), [["finding", "finding-2"]]);
    assert_eq!(h.got("logs/loki"), [["finding", "finding-2"]]);
    assert!(h.got("logs/billing").is_empty());
    assert_eq!(h.unmatched("log_records"), 2);
}

/// Scenario: a condition fails on every record.
/// Guarantees: propagate (the default) refuses the batch and sends nothing;
/// ignore treats the failure as no match, so records reach the defaults.
#[tokio::test]
async fn error_modes() {
    let table = r#"
default_pipelines: [logs/loki]
table:
  - context: log
    condition: 'body["x"] == 1'
    pipelines: [logs/siem]
"#;
    let mut h = Harness::new(table);
    let err = h.connector.consume(sample()).await.unwrap_err();
    assert!(err.to_string().contains("cannot index a string"), "{err}");
    assert!(h.got("logs/loki").is_empty() && h.got("logs/siem").is_empty());
    assert_eq!(
        counter(
            &h.telemetry,
            "oispd_ottl_error_dropped_log_records",
            "component",
            "routing"
        ),
        4
    );
    let mut h = Harness::new(&format!("error_mode: ignore\n{table}"));
    h.connector.consume(sample()).await.unwrap();
    assert_eq!(
        h.got("logs/loki"),
        [["finding", "chat", "finding-2", "invoice"]]
    );
    assert_eq!(
        counter(&h.telemetry, "oispd_ottl_errors", "component", "routing"),
        4
    );
}

/// Scenario: one connector used by logs and traces pipelines.
/// Guarantees: span routes apply to spans only, log routes to logs only.
#[tokio::test]
async fn routes_spans_by_span_context() {
    let mut h = Harness::new(
        r#"
table:
  - context: span
    condition: 'name == "keep"'
    pipelines: [traces/out]
  - context: log
    condition: 'true'
    pipelines: [logs/loki]
"#,
    );
    h.connector
        .consume(traces("h", vec![span("keep", &[]), span("drop", &[])]))
        .await
        .unwrap();
    assert_eq!(h.got("traces/out"), [["keep"]]);
    assert_eq!(h.unmatched("spans"), 1);
    h.connector.consume(sample()).await.unwrap();
    assert_eq!(h.got("logs/loki").len(), 1);
}

/// Guarantees: every pipeline named anywhere is reported, once.
#[test]
fn referenced_pipelines_lists_every_pipeline() {
    let config = yaml(
        r#"
default_pipelines: [logs/loki]
table:
  - condition: 'true'
    pipelines: [logs/siem, logs/loki]
  - condition: 'false'
    pipelines: [logs/billing]
"#,
    );
    assert_eq!(
        RoutingFactory.referenced_pipelines(&config),
        ["logs/loki", "logs/siem", "logs/billing"]
    );
}

/// Guarantees: a table naming a pipeline the connector does not feed is a
/// build error, not a silent drop.
#[test]
fn unknown_target_pipeline_is_an_error() {
    let (ctx, _) = ctx("routing");
    let err = RoutingFactory
        .create(
            &ctx,
            &yaml("table: [{condition: 'true', pipelines: [logs/nowhere]}]"),
            BTreeMap::new(),
        )
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "the routing table names pipeline \"logs/nowhere\", which does not list routing among its receivers"
    );
}

/// Guarantees: every table problem is reported at validation.
#[test]
fn validation_reports_every_problem() {
    let problems = |c: &str| -> Vec<String> {
        RoutingFactory
            .validate(&yaml(c))
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    };
    assert_eq!(
        problems("~"),
        ["invalid routing table: the routing table is empty"]
    );
    assert_eq!(
        problems(
            r#"
table:
  - condition: 'attributes["x"] == '
    pipelines: [logs/a]
  - condition: 'true'
    statement: 'route()'
    pipelines: [logs/a]
  - pipelines: [logs/a]
  - context: log
    statement: 'set(body, 1) where true'
    pipelines: []
"#
        ),
        [
            r#"unable to parse OTTL condition "attributes["x"] == " at column 20: expected a value"#,
            "'table[1]': set either condition or statement, not both",
            "'table[2]': invalid route: no condition or statement provided",
            r#"unable to parse OTTL statement "set(body, 1) where true" at column 1: routing statements must have the form route() where <condition>"#,
            "'table[3].pipelines': invalid route: no pipelines defined",
        ]
    );
    assert_eq!(
        problems("table: [{context: request, condition: 'true', pipelines: [a]}]"),
        ["'table[0].context' has invalid value \"request\": expected one of `resource`, `log`, `span`"]
    );
    assert_eq!(
        problems("match_once: true\ntable: [{condition: 'true', pipelines: [a]}]"),
        ["'' has invalid keys: match_once"]
    );
}
