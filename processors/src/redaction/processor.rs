//! The `redaction` processor: runs a [`Redactor`] built from its config over
//! every batch. The binary's always-on redactor runs before exporters in any
//! case; this processor lets a pipeline add PII masking and rules files, and
//! redact earlier (before a `transform` copies a value elsewhere, say).

use super::{RedactionConfig, Redactor};
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentError, ComponentInfo, ConfigError, Processor,
    ProcessorFactory, Signal, Stability,
};
use prometheus::IntCounter;
use serde_yaml_ng::Value;
use std::sync::Arc;

/// The processor type name.
pub const TYPE: &str = "redaction";

/// Builds `redaction` processors.
pub struct RedactionFactory;

/// A running `redaction` processor.
pub struct RedactionProcessor {
    redactor: Arc<Redactor>,
    secrets: IntCounter,
    pii: IntCounter,
}

impl RedactionProcessor {
    /// A processor around `redactor` that counts into the given counters.
    pub fn new(
        redactor: Arc<Redactor>,
        secrets: IntCounter,
        pii: IntCounter,
    ) -> RedactionProcessor {
        RedactionProcessor {
            redactor,
            secrets,
            pii,
        }
    }
}

impl Processor for RedactionProcessor {
    fn process(&mut self, mut batch: Batch) -> Option<Batch> {
        let stats = self.redactor.redact_batch(&mut batch);
        self.secrets.inc_by(stats.secrets);
        self.pii.inc_by(stats.pii);
        Some(batch)
    }
}

fn metric_error(e: prometheus::Error) -> ComponentError {
    ComponentError::Config(format!("registering redaction metrics: {e}"))
}

impl ProcessorFactory for RedactionFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: TYPE,
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs, Signal::Traces],
            description: "Redacts credentials (always) and PII (per class: off, mask, hash), with extra gitleaks rules",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<RedactionConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
        _signal: Signal,
    ) -> Result<Box<dyn Processor>, ComponentError> {
        let config: RedactionConfig = parse_config(config).map_err(|errs| {
            ComponentError::Config(
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let redactor = Redactor::new(&config, &ctx.redaction_key)
            .map_err(|e| ComponentError::Config(e.to_string()))?;
        let id = ctx.id.to_string();
        let skipped = redactor.skipped_rules();
        if !skipped.is_empty() {
            let first: Vec<&str> = skipped.iter().take(5).map(|s| s.id.as_str()).collect();
            tracing::warn!(
                processor = %id,
                skipped = skipped.len(),
                first = ?first,
                "rules_file: some rules use syntax oispd cannot run and were skipped"
            );
            ctx.telemetry
                .component_counter(
                    "oispd_redaction_rules_skipped",
                    "Rules of a rules_file that could not be loaded.",
                    "processor",
                    &id,
                )
                .map_err(metric_error)?
                .inc_by(skipped.len() as u64);
        }
        let secrets = ctx
            .telemetry
            .component_counter(
                "oispd_redaction_secrets",
                "Credentials replaced by the redaction processor.",
                "processor",
                &id,
            )
            .map_err(metric_error)?;
        let pii = ctx
            .telemetry
            .component_counter(
                "oispd_redaction_pii_values",
                "PII values masked or hashed by the redaction processor.",
                "processor",
                &id,
            )
            .map_err(metric_error)?;
        Ok(Box::new(RedactionProcessor::new(
            Arc::new(redactor),
            secrets,
            pii,
        )))
    }
}
