//! The `filter` processor: drops every log record or span that matches any
//! of its OTTL conditions, as the collector's filterprocessor does.
//!
//! ```yaml
//! processors:
//!   filter/noise:
//!     error_mode: ignore              # ignore (default) | silent | propagate
//!     logs:
//!       log_record:
//!         - 'severity_number < SEVERITY_NUMBER_WARN'
//!         - 'IsMatch(body, ".*healthz.*")'
//!     traces:
//!       span: ['attributes["http.route"] == "/healthz"']
//!   filter/new:                       # the collector's newer flat form
//!     log_conditions:
//!       - 'log.severity_number < SEVERITY_NUMBER_WARN'
//!       - error_mode: propagate
//!         conditions: ['resource.attributes["service.name"] == "noisy"']
//! ```
//!
//! Dropped records are counted in `otelcol_processor_filter_logs_filtered` /
//! `otelcol_processor_filter_spans_filtered`; conditions that fail on a record
//! are handled per `error_mode` and counted in `oispd_ottl_errors`.

use crate::ottl::{
    retain, Condition, ConditionGroup, Context, ErrorCounters, ErrorLog, ErrorMode, RecordMut,
};
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentConfig, ComponentError, ComponentInfo, ConfigError,
    Processor, ProcessorFactory, Signal, Stability,
};
use prometheus::IntCounter;
use serde::Deserialize;
use serde_yaml_ng::Value;

/// The processor type name.
pub const TYPE: &str = "filter";

/// `logs:` of the legacy form.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConditions {
    /// Conditions in the log context.
    pub log_record: Vec<String>,
}

/// `traces:` of the legacy form.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConditions {
    /// Conditions in the span context.
    pub span: Vec<String>,
}

/// The `filter` processor's configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// What to do when a condition fails on a record (default `ignore`).
    pub error_mode: ErrorMode,
    /// Log conditions with the log context (`logs.log_record`).
    pub logs: Option<LogsConditions>,
    /// Span conditions with the span context (`traces.span`).
    pub traces: Option<TracesConditions>,
    /// Log conditions with inferred contexts (`log.`, `resource.` prefixes).
    pub log_conditions: Vec<ConditionGroup>,
    /// Span conditions with inferred contexts.
    pub trace_conditions: Vec<ConditionGroup>,
}

/// Conditions sharing one error mode.
struct Group {
    error_mode: ErrorMode,
    conditions: Vec<Condition>,
}

impl FilterConfig {
    /// Compiles the conditions for `signal`, or lists every problem.
    fn compile(&self, signal: Signal) -> Result<Vec<Group>, Vec<String>> {
        let (record, legacy, legacy_key, inferred, inferred_key) = match signal {
            Signal::Logs => (
                Context::Log,
                self.logs.as_ref().map(|l| l.log_record.as_slice()),
                "logs",
                &self.log_conditions,
                "log_conditions",
            ),
            Signal::Traces => (
                Context::Span,
                self.traces.as_ref().map(|t| t.span.as_slice()),
                "traces",
                &self.trace_conditions,
                "trace_conditions",
            ),
            Signal::Metrics => {
                return Err(vec![
                    "the filter processor does not filter metrics".to_string()
                ])
            }
        };
        let mut problems = Vec::new();
        let mut groups = Vec::new();
        if legacy.is_some_and(|l| !l.is_empty()) && !inferred.is_empty() {
            problems.push(format!(
                "'{inferred_key}' and '{legacy_key}' cannot be used together; put all {} conditions in one of them",
                signal.as_str()
            ));
        }
        let mut compile_all = |texts: &[String], mode: ErrorMode, explicit: bool| {
            let mut conditions = Vec::new();
            for text in texts {
                let parsed = if explicit {
                    Condition::parse(text, record)
                } else {
                    Condition::parse_inferred(text, record)
                };
                match parsed {
                    Ok(c) if !c.context().supports(signal) => problems.push(format!(
                        "condition {text:?} uses {} paths, which {} pipelines do not have",
                        c.context().name(),
                        signal.as_str()
                    )),
                    Ok(c) => conditions.push(c),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            if !conditions.is_empty() {
                groups.push(Group {
                    error_mode: mode,
                    conditions,
                });
            }
        };
        if let Some(texts) = legacy {
            compile_all(texts, self.error_mode, true);
        }
        for item in inferred {
            match item {
                ConditionGroup::Single(text) => {
                    compile_all(std::slice::from_ref(text), self.error_mode, false)
                }
                ConditionGroup::Group(g) => compile_all(
                    &g.conditions,
                    g.error_mode.unwrap_or(self.error_mode),
                    false,
                ),
            }
        }
        if problems.is_empty() {
            Ok(groups)
        } else {
            Err(problems)
        }
    }
}

impl ComponentConfig for FilterConfig {
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for signal in [Signal::Logs, Signal::Traces] {
            if let Err(p) = self.compile(signal) {
                problems.extend(p);
            }
        }
        problems
    }
}

/// A running `filter` processor for one pipeline.
pub struct FilterProcessor {
    groups: Vec<Group>,
    filtered: IntCounter,
    counters: ErrorCounters,
    log: ErrorLog,
}

impl FilterProcessor {
    /// Whether `rec` matches any condition (and so is dropped). `Err` means an
    /// error propagated.
    fn matches(&self, rec: &RecordMut<'_>) -> Result<bool, String> {
        for group in &self.groups {
            for condition in &group.conditions {
                match condition.eval(rec) {
                    Ok(true) => return Ok(true),
                    Ok(false) => {}
                    Err(e) => {
                        self.counters.errors.inc();
                        if group.error_mode == ErrorMode::Propagate {
                            return Err(format!("condition {:?}: {e}", condition.text()));
                        }
                        self.log.report(group.error_mode, condition.text(), &e);
                    }
                }
            }
        }
        Ok(false)
    }
}

impl Processor for FilterProcessor {
    fn process(&mut self, mut batch: Batch) -> Option<Batch> {
        if self.groups.is_empty() {
            return Some(batch);
        }
        let before = batch.record_count();
        let outcome = retain(&mut batch, |rec| self.matches(rec).map(|m| !m));
        if let Err(e) = outcome {
            self.counters.dropped.inc_by(before as u64);
            self.log
                .report(ErrorMode::Propagate, "dropping the whole batch", &e);
            return None;
        }
        let after = batch.record_count();
        self.filtered.inc_by((before - after) as u64);
        if batch.is_empty() {
            None
        } else {
            Some(batch)
        }
    }
}

/// Builds `filter` processors.
pub struct FilterFactory;

fn config_error(errors: Vec<ConfigError>) -> ComponentError {
    ComponentError::Config(
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn metric_error(e: prometheus::Error) -> ComponentError {
    ComponentError::Config(format!("registering filter metrics: {e}"))
}

impl ProcessorFactory for FilterFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE,
            aliases: &[],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Drops log records or spans that match any OTTL condition",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<FilterConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        signal: Signal,
    ) -> Result<Box<dyn Processor>, ComponentError> {
        let cfg: FilterConfig = parse_config(config).map_err(config_error)?;
        let groups = cfg
            .compile(signal)
            .map_err(|p| ComponentError::Config(p.join("; ")))?;
        let id = ctx.id.to_string();
        let noun = match signal {
            Signal::Logs => "logs",
            Signal::Traces => "spans",
            Signal::Metrics => "datapoints",
        };
        let filtered = ctx
            .telemetry
            .component_counter(
                &format!("otelcol_processor_filter_{noun}_filtered"),
                "Records dropped by the filter processor because a condition matched.",
                "processor",
                &id,
            )
            .map_err(metric_error)?;
        let counters = ErrorCounters::new(&ctx.telemetry, &id, signal).map_err(metric_error)?;
        Ok(Box::new(FilterProcessor {
            groups,
            filtered,
            counters,
            log: ErrorLog::new(id),
        }))
    }
}

#[cfg(test)]
mod tests;
