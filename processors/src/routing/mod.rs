//! The `routing` connector: sends each record to the pipelines of the first
//! route whose OTTL condition it matches, as the collector's
//! routingconnector does (since `match_once` became the only behaviour).
//!
//! ```yaml
//! connectors:
//!   routing:
//!     default_pipelines: [logs/loki]   # records no route matched; dropped (and counted) when empty
//!     error_mode: propagate            # propagate (default) | ignore | silent
//!     table:
//!       - context: log                 # resource (default) | log | span
//!         condition: 'attributes["ai.sentinel.detector.id"] != nil'
//!         pipelines: [logs/siem]
//!       - statement: 'route() where attributes["service.name"] == "billing"'   # resource context
//!         pipelines: [logs/billing, logs/loki]
//! ```
//!
//! Routes are tried in table order and the first match wins; a route in the
//! resource context takes a whole resource (its condition is evaluated once
//! per resource). A condition that fails on a record counts as "no match"
//! with `ignore`/`silent`; with `propagate` the batch is refused. Records are
//! regrouped per target pipeline keeping their resource and scope. Records
//! that match nothing and have no default pipeline are dropped and counted in
//! `oispd_connector_routing_unmatched_log_records` / `..._spans`.

use crate::ottl::{Condition, Context, ErrorCounters, ErrorLog, ErrorMode, RecordMut, Statement};
use async_trait::async_trait;
use oispd_component::{
    parse_config, Ack, Batch, BuildContext, ComponentConfig, ComponentError, ComponentInfo,
    ConfigError, ConnectorFactory, ConsumeError, Consumer, Output, Signal, Stability,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prometheus::IntCounter;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The connector type name.
pub const TYPE: &str = "routing";

/// The context a route's condition is evaluated in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteContext {
    /// Per resource (the default): a match routes the whole resource.
    #[default]
    Resource,
    /// Per log record (logs pipelines).
    Log,
    /// Per span (traces pipelines).
    Span,
}

impl RouteContext {
    fn context(self) -> Context {
        match self {
            RouteContext::Resource => Context::Resource,
            RouteContext::Log => Context::Log,
            RouteContext::Span => Context::Span,
        }
    }
}

/// One entry of the routing table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Where the condition is evaluated (default `resource`).
    #[serde(default)]
    pub context: RouteContext,
    /// An OTTL condition.
    pub condition: Option<String>,
    /// The legacy form `route() where <condition>`.
    pub statement: Option<String>,
    /// Target pipelines.
    #[serde(default)]
    pub pipelines: Vec<String>,
}

fn default_error_mode() -> ErrorMode {
    ErrorMode::Propagate
}

/// The `routing` connector's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Pipelines for records no route matched.
    #[serde(default)]
    pub default_pipelines: Vec<String>,
    /// What to do when a condition fails on a record (default `propagate`).
    #[serde(default = "default_error_mode")]
    pub error_mode: ErrorMode,
    /// The routes, tried in order.
    #[serde(default)]
    pub table: Vec<RouteConfig>,
}

impl RouteConfig {
    fn compile(&self) -> Result<Condition, String> {
        let ctx = self.context.context();
        match (&self.condition, &self.statement) {
            (Some(c), None) => Condition::parse(c, ctx).map_err(|e| e.to_string()),
            (None, Some(s)) => Statement::parse_route(s, ctx).map_err(|e| e.to_string()),
            (Some(_), Some(_)) => Err("set either condition or statement, not both".into()),
            (None, None) => Err("invalid route: no condition or statement provided".into()),
        }
    }
}

impl ComponentConfig for RoutingConfig {
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.table.is_empty() {
            problems.push("invalid routing table: the routing table is empty".to_string());
        }
        for (i, route) in self.table.iter().enumerate() {
            if let Err(e) = route.compile() {
                if e.starts_with("unable to parse") {
                    problems.push(e);
                } else {
                    problems.push(format!("'table[{i}]': {e}"));
                }
            }
            if route.pipelines.is_empty() {
                problems.push(format!(
                    "'table[{i}].pipelines': invalid route: no pipelines defined"
                ));
            }
        }
        problems
    }
}

impl RoutingConfig {
    /// Every pipeline the config names, defaults first, without repeats.
    fn pipelines(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in self
            .default_pipelines
            .iter()
            .chain(self.table.iter().flat_map(|r| &r.pipelines))
        {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }
}

/// A route compiled for one signal.
struct Route {
    condition: Condition,
    /// Indexes into the connector's outputs.
    targets: Vec<usize>,
}

/// Routing state for one signal.
struct SignalRouter {
    routes: Vec<Route>,
    unmatched: IntCounter,
    counters: ErrorCounters,
}

/// A running `routing` connector.
pub struct RoutingConnector {
    outputs: Vec<(String, Output)>,
    defaults: Vec<usize>,
    error_mode: ErrorMode,
    logs: SignalRouter,
    traces: SignalRouter,
    log: ErrorLog,
}

/// Moves `item` into the lists of `targets` (cloning for all but the last).
fn distribute<T: Clone>(lists: &mut [Vec<T>], targets: &[usize], item: T) {
    if let Some((last, rest)) = targets.split_last() {
        for &t in rest {
            lists[t].push(item.clone());
        }
        lists[*last].push(item);
    }
}

impl RoutingConnector {
    /// The targets of the record in `rec`: the first matching route's, the
    /// defaults, or `None` (dropped). `memo` caches resource-context results
    /// for the current resource.
    fn decide<'s>(
        &'s self,
        router: &'s SignalRouter,
        rec: &RecordMut<'_>,
        memo: &mut [Option<bool>],
    ) -> Result<Option<&'s [usize]>, String> {
        for (i, route) in router.routes.iter().enumerate() {
            let per_resource = route.condition.context() == Context::Resource;
            let matched = match memo[i] {
                Some(m) if per_resource => m,
                _ => {
                    let m = match route.condition.eval(rec) {
                        Ok(m) => m,
                        Err(e) => {
                            router.counters.errors.inc();
                            if self.error_mode == ErrorMode::Propagate {
                                return Err(format!("{:?}: {e}", route.condition.text()));
                            }
                            self.log.report(self.error_mode, route.condition.text(), &e);
                            false
                        }
                    };
                    if per_resource {
                        memo[i] = Some(m);
                    }
                    m
                }
            };
            if matched {
                return Ok(Some(&route.targets));
            }
        }
        if self.defaults.is_empty() {
            Ok(None)
        } else {
            Ok(Some(&self.defaults))
        }
    }

    fn split_logs(&self, rls: Vec<ResourceLogs>) -> Result<(Vec<Batch>, u64), String> {
        let n = self.outputs.len();
        let mut out: Vec<Vec<ResourceLogs>> = vec![Vec::new(); n];
        let mut unmatched = 0;
        for rl in rls {
            let ResourceLogs {
                mut resource,
                scope_logs,
                schema_url,
            } = rl;
            let mut memo = vec![None; self.logs.routes.len()];
            let mut scopes: Vec<Vec<ScopeLogs>> = vec![Vec::new(); n];
            for sl in scope_logs {
                let ScopeLogs {
                    mut scope,
                    log_records,
                    schema_url: scope_url,
                } = sl;
                let mut records: Vec<Vec<LogRecord>> = vec![Vec::new(); n];
                for mut lr in log_records {
                    let mut cache = Vec::new();
                    let rec = RecordMut::log(&mut resource, &mut scope, &mut lr, &mut cache);
                    match self.decide(&self.logs, &rec, &mut memo)? {
                        Some(targets) => distribute(&mut records, targets, lr),
                        None => unmatched += 1,
                    }
                }
                for (o, log_records) in records.into_iter().enumerate() {
                    if !log_records.is_empty() {
                        scopes[o].push(ScopeLogs {
                            scope: scope.clone(),
                            log_records,
                            schema_url: scope_url.clone(),
                        });
                    }
                }
            }
            for (o, scope_logs) in scopes.into_iter().enumerate() {
                if !scope_logs.is_empty() {
                    out[o].push(ResourceLogs {
                        resource: resource.clone(),
                        scope_logs,
                        schema_url: schema_url.clone(),
                    });
                }
            }
        }
        Ok((out.into_iter().map(Batch::Logs).collect(), unmatched))
    }

    fn split_spans(&self, rss: Vec<ResourceSpans>) -> Result<(Vec<Batch>, u64), String> {
        let n = self.outputs.len();
        let mut out: Vec<Vec<ResourceSpans>> = vec![Vec::new(); n];
        let mut unmatched = 0;
        for rs in rss {
            let ResourceSpans {
                mut resource,
                scope_spans,
                schema_url,
            } = rs;
            let mut memo = vec![None; self.traces.routes.len()];
            let mut scopes: Vec<Vec<ScopeSpans>> = vec![Vec::new(); n];
            for ss in scope_spans {
                let ScopeSpans {
                    mut scope,
                    spans,
                    schema_url: scope_url,
                } = ss;
                let mut routed: Vec<Vec<Span>> = vec![Vec::new(); n];
                for mut span in spans {
                    let mut cache = Vec::new();
                    let rec = RecordMut::span(&mut resource, &mut scope, &mut span, &mut cache);
                    match self.decide(&self.traces, &rec, &mut memo)? {
                        Some(targets) => distribute(&mut routed, targets, span),
                        None => unmatched += 1,
                    }
                }
                for (o, spans) in routed.into_iter().enumerate() {
                    if !spans.is_empty() {
                        scopes[o].push(ScopeSpans {
                            scope: scope.clone(),
                            spans,
                            schema_url: scope_url.clone(),
                        });
                    }
                }
            }
            for (o, scope_spans) in scopes.into_iter().enumerate() {
                if !scope_spans.is_empty() {
                    out[o].push(ResourceSpans {
                        resource: resource.clone(),
                        scope_spans,
                        schema_url: schema_url.clone(),
                    });
                }
            }
        }
        Ok((out.into_iter().map(Batch::Traces).collect(), unmatched))
    }
}

#[async_trait]
impl Consumer for RoutingConnector {
    async fn consume(&self, batch: Batch) -> Result<(), ConsumeError> {
        self.route(batch, None).await
    }

    async fn consume_acked(&self, batch: Batch, ack: &Ack) -> Result<(), ConsumeError> {
        self.route(batch, Some(ack)).await
    }
}

impl RoutingConnector {
    /// Splits `batch` by the routing table and sends each part to its
    /// pipelines, which hold `ack` (the waiting receiver's) while they work.
    async fn route(&self, batch: Batch, ack: Option<&Ack>) -> Result<(), ConsumeError> {
        let total = batch.record_count() as u64;
        let (split, router) = match batch {
            Batch::Logs(rls) => (self.split_logs(rls), &self.logs),
            Batch::Traces(rss) => (self.split_spans(rss), &self.traces),
            Batch::Metrics(_) => {
                return Err(ConsumeError::Refused(
                    "the routing connector does not route metrics".into(),
                ))
            }
        };
        let (batches, unmatched) = match split {
            Ok(s) => s,
            Err(e) => {
                router.counters.dropped.inc_by(total);
                self.log
                    .report(ErrorMode::Propagate, "refusing the whole batch", &e);
                return Err(ConsumeError::Refused(format!(
                    "routing condition failed: {e}"
                )));
            }
        };
        router.unmatched.inc_by(unmatched);
        let mut failure = None;
        for ((_, output), batch) in self.outputs.iter().zip(batches) {
            if batch.is_empty() {
                continue;
            }
            if let Err(e) = output.send_with(batch, ack.cloned()).await {
                failure = Some(e);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Builds `routing` connectors.
pub struct RoutingFactory;

fn signal_router(
    ctx: &BuildContext,
    cfg: &RoutingConfig,
    index: &BTreeMap<&str, usize>,
    signal: Signal,
) -> Result<SignalRouter, ComponentError> {
    let id = ctx.id.to_string();
    let metric_error =
        |e: prometheus::Error| ComponentError::Config(format!("registering routing metrics: {e}"));
    let mut routes = Vec::new();
    for entry in &cfg.table {
        if !entry.context.context().supports(signal) {
            continue;
        }
        let condition = entry.compile().map_err(ComponentError::Config)?;
        let targets = entry
            .pipelines
            .iter()
            .filter_map(|p| index.get(p.as_str()).copied())
            .collect();
        routes.push(Route { condition, targets });
    }
    Ok(SignalRouter {
        routes,
        unmatched: ctx
            .telemetry
            .component_counter(
                &format!("oispd_connector_routing_unmatched_{}", signal.item_noun()),
                "Records no route matched and that had no default pipeline (dropped).",
                "connector",
                &id,
            )
            .map_err(metric_error)?,
        counters: ErrorCounters::new(&ctx.telemetry, &id, signal).map_err(metric_error)?,
    })
}

impl ConnectorFactory for RoutingFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE,
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Routes each record to the pipelines of the first matching OTTL condition",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<RoutingConfig>(config).map(|_| ())
    }

    fn referenced_pipelines(&self, config: &Value) -> Vec<String> {
        parse_config::<RoutingConfig>(config)
            .map(|c| c.pipelines())
            .unwrap_or_default()
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        targets: BTreeMap<String, Output>,
    ) -> Result<Arc<dyn Consumer>, ComponentError> {
        let cfg: RoutingConfig = parse_config(config).map_err(|errors| {
            ComponentError::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let mut outputs = Vec::new();
        for name in cfg.pipelines() {
            let Some(output) = targets.get(&name) else {
                return Err(ComponentError::Config(format!(
                    "the routing table names pipeline {name:?}, which does not list {} among its receivers",
                    ctx.id
                )));
            };
            outputs.push((name, output.clone()));
        }
        let index: BTreeMap<&str, usize> = outputs
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.as_str(), i))
            .collect();
        let defaults = cfg
            .default_pipelines
            .iter()
            .filter_map(|p| index.get(p.as_str()).copied())
            .collect();
        let logs = signal_router(ctx, &cfg, &index, Signal::Logs)?;
        let traces = signal_router(ctx, &cfg, &index, Signal::Traces)?;
        Ok(Arc::new(RoutingConnector {
            defaults,
            error_mode: cfg.error_mode,
            logs,
            traces,
            log: ErrorLog::new(ctx.id.to_string()),
            outputs,
        }))
    }
}

#[cfg(test)]
mod tests;
