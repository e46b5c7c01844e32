//! `otlp_http` (alias `otlphttp`): sends logs and traces over OTLP/HTTP
//! (protobuf or JSON, gzip/zstd) to a collector or an OTLP-native backend
//! such as Loki (`endpoint: http://loki:3100/otlp`), with the collector
//! exporter's config keys and retry rules: 429, 502, 503 and 504 are
//! retried honouring `Retry-After`; every other non-2xx drops the batch; a
//! partial success counts the rejected records as failed.

pub mod config;
pub mod exporter;
#[cfg(test)]
mod tests;

use crate::factory::config_error;
use config::OtlpHttpConfig;
use exporter::OtlpHttpExporter;
use oispd_component::{
    parse_config, BuildContext, ComponentError, ComponentInfo, ConfigError, Exporter,
    ExporterFactory, ExporterSettings, Signal, Stability,
};
use serde_yaml_ng::Value;

/// Builds `otlp_http` exporters.
pub struct OtlpHttpFactory;

impl ExporterFactory for OtlpHttpFactory {
    fn exports_concurrently(&self) -> bool {
        true
    }

    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "otlp_http",
            aliases: &["otlphttp"],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces, Signal::Metrics],
            description: "Sends logs and traces over OTLP/HTTP (protobuf or JSON, gzip, per-signal URLs, Retry-After)",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<OtlpHttpConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<(Box<dyn Exporter>, ExporterSettings), ComponentError> {
        let config: OtlpHttpConfig = parse_config(config).map_err(config_error)?;
        let settings = config.exporter_settings();
        let id = ctx.id.to_string();
        let health = ctx.telemetry.exporter_health(&id);
        let exporter = OtlpHttpExporter::new(id, config, health)?;
        Ok((Box::new(exporter), settings))
    }
}
