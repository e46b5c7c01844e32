//! The `transform` processor: runs OTTL statements that change records, as
//! the collector's transformprocessor does.
//!
//! ```yaml
//! processors:
//!   transform:
//!     error_mode: ignore               # ignore (default) | silent | propagate
//!     log_statements:
//!       # flat form: context inferred from path prefixes (log., resource., scope.)
//!       - 'set(log.attributes["ai.model.family"], "gpt") where IsMatch(log.attributes["ai.model"], "^gpt")'
//!       # group form
//!       - context: log                 # resource | scope | log (span for trace_statements)
//!         conditions: ['attributes["ai.provider"] != nil']   # ORed; gate the group per item
//!         error_mode: propagate        # optional, overrides the top-level one
//!         statements:
//!           - delete_key(attributes, "http.request.header.authorization")
//!           - replace_pattern(attributes["cmd"], "password=\\S+", "password=***")
//!     trace_statements:
//!       - context: span
//!         statements: ['set(status.code, STATUS_CODE_ERROR) where attributes["http.status_code"] >= 500']
//! ```
//!
//! Groups run in order over the whole batch; a group in the resource or
//! scope context runs once per resource or scope. Statements that fail are
//! handled per `error_mode` and counted in `oispd_ottl_errors`.

use crate::ottl::{
    infer_group_context, visit, Condition, Context, ErrorCounters, ErrorLog, ErrorMode, Statement,
    StatementGroup,
};
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentConfig, ComponentError, ComponentInfo, ConfigError,
    Processor, ProcessorFactory, Signal, Stability,
};
use serde::Deserialize;
use serde_yaml_ng::Value;

/// The processor type name.
pub const TYPE: &str = "transform";

/// The `transform` processor's configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransformConfig {
    /// What to do when a statement fails on a record (default `ignore`).
    pub error_mode: ErrorMode,
    /// Statements for logs pipelines.
    pub log_statements: Vec<StatementGroup>,
    /// Statements for traces pipelines.
    pub trace_statements: Vec<StatementGroup>,
}

/// A compiled group.
struct Group {
    context: Context,
    conditions: Vec<Condition>,
    statements: Vec<Statement>,
    error_mode: ErrorMode,
}

impl TransformConfig {
    /// Compiles the groups for `signal`, or lists every problem.
    fn compile(&self, signal: Signal) -> Result<Vec<Group>, Vec<String>> {
        let (record, items, key) = match signal {
            Signal::Logs => (Context::Log, &self.log_statements, "log_statements"),
            Signal::Traces => (Context::Span, &self.trace_statements, "trace_statements"),
            Signal::Metrics => {
                return Err(vec![
                    "the transform processor does not transform metrics".to_string()
                ])
            }
        };
        let mut problems = Vec::new();
        let mut groups = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let (statements, conditions, context, mode) = match item {
                StatementGroup::Single(text) => {
                    (std::slice::from_ref(text), &[][..], None, self.error_mode)
                }
                StatementGroup::Group(g) => (
                    g.statements.as_slice(),
                    g.conditions.as_slice(),
                    g.context,
                    g.error_mode.unwrap_or(self.error_mode),
                ),
            };
            let context = match context {
                Some(c) => c,
                None => match infer_group_context(statements, conditions, record) {
                    Ok(c) => c,
                    Err(e) => {
                        problems.push(e.to_string());
                        continue;
                    }
                },
            };
            if !context.supports(signal) {
                problems.push(format!(
                    "'{key}[{index}]': context {} cannot be used in {key} (use resource, scope or {})",
                    context.name(),
                    record.name()
                ));
                continue;
            }
            let mut group = Group {
                context,
                conditions: Vec::new(),
                statements: Vec::new(),
                error_mode: mode,
            };
            for text in conditions {
                match Condition::parse(text, context) {
                    Ok(c) => group.conditions.push(c),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            for text in statements {
                match Statement::parse(text, context) {
                    Ok(s) => group.statements.push(s),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            groups.push(group);
        }
        if problems.is_empty() {
            Ok(groups)
        } else {
            Err(problems)
        }
    }
}

impl ComponentConfig for TransformConfig {
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

/// A running `transform` processor for one pipeline.
pub struct TransformProcessor {
    groups: Vec<Group>,
    counters: ErrorCounters,
    log: ErrorLog,
}

impl TransformProcessor {
    /// Runs every group; `Err` when an error propagated.
    fn run(&self, batch: &mut Batch) -> Result<(), String> {
        for group in &self.groups {
            visit(batch, group.context, |rec| -> Result<(), String> {
                if !group.conditions.is_empty() {
                    let mut any = false;
                    for c in &group.conditions {
                        match c.eval(rec) {
                            Ok(true) => {
                                any = true;
                                break;
                            }
                            Ok(false) => {}
                            Err(e) => self.failed(group.error_mode, c.text(), &e)?,
                        }
                    }
                    if !any {
                        return Ok(());
                    }
                }
                for st in &group.statements {
                    if let Err(e) = st.execute(rec) {
                        self.failed(group.error_mode, st.text(), &e)?;
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn failed(
        &self,
        mode: ErrorMode,
        text: &str,
        error: &crate::ottl::EvalError,
    ) -> Result<(), String> {
        self.counters.errors.inc();
        if mode == ErrorMode::Propagate {
            return Err(format!("{text:?}: {error}"));
        }
        self.log.report(mode, text, error);
        Ok(())
    }
}

impl Processor for TransformProcessor {
    fn process(&mut self, mut batch: Batch) -> Option<Batch> {
        if let Err(e) = self.run(&mut batch) {
            self.counters.dropped.inc_by(batch.record_count() as u64);
            self.log
                .report(ErrorMode::Propagate, "dropping the whole batch", &e);
            return None;
        }
        Some(batch)
    }
}

/// Builds `transform` processors.
pub struct TransformFactory;

impl ProcessorFactory for TransformFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE,
            aliases: &[],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Changes log records and spans with OTTL statements",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<TransformConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        signal: Signal,
    ) -> Result<Box<dyn Processor>, ComponentError> {
        let cfg: TransformConfig = parse_config(config).map_err(|errors| {
            ComponentError::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let groups = cfg
            .compile(signal)
            .map_err(|p| ComponentError::Config(p.join("; ")))?;
        let id = ctx.id.to_string();
        let counters = ErrorCounters::new(&ctx.telemetry, &id, signal)
            .map_err(|e| ComponentError::Config(format!("registering transform metrics: {e}")))?;
        Ok(Box::new(TransformProcessor {
            groups,
            counters,
            log: ErrorLog::new(id),
        }))
    }
}

#[cfg(test)]
mod tests;
