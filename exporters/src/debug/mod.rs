//! `debug`: prints records readably to stderr, as the collector's debug
//! exporter does (`verbosity: basic | normal | detailed`, with its
//! sampling). For looking at a pipeline, not for keeping data.

pub mod config;
pub mod exporter;

use crate::factory::config_error;
use config::DebugConfig;
use exporter::DebugExporter;
use oispd_component::{
    parse_config, BuildContext, ComponentError, ComponentInfo, ConfigError, Exporter,
    ExporterFactory, ExporterSettings, Signal, Stability,
};
use serde_yaml_ng::Value;

/// Builds `debug` exporters.
pub struct DebugFactory;

impl ExporterFactory for DebugFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "debug",
            aliases: &[],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces, Signal::Metrics],
            description:
                "Prints records to stderr (basic counts, one line per record, or every field)",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<DebugConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        _ctx: &BuildContext,
        config: &Value,
    ) -> Result<(Box<dyn Exporter>, ExporterSettings), ComponentError> {
        let config: DebugConfig = parse_config(config).map_err(config_error)?;
        let settings = config.exporter_settings();
        Ok((Box::new(DebugExporter::new(config)), settings))
    }
}
