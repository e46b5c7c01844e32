//! `otlp_grpc` (alias `otlp`): sends logs and traces to an OTLP/gRPC server
//! such as an OpenTelemetry Collector, with the collector exporter's config
//! keys and retry rules:
//!
//! - retried: `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`,
//!   `UNAVAILABLE`, `DATA_LOSS`, and `RESOURCE_EXHAUSTED` only when the
//!   server sends `google.rpc.RetryInfo`; a `RetryInfo` delay is honoured;
//! - every other status drops the batch (counted as failed);
//! - a partial success counts the rejected records as failed, never retried.

pub mod config;
pub mod exporter;
#[cfg(test)]
mod tests;

use crate::factory::config_error;
use config::OtlpGrpcConfig;
use exporter::OtlpGrpcExporter;
use oispd_component::{
    parse_config, BuildContext, ComponentError, ComponentInfo, ConfigError, Exporter,
    ExporterFactory, ExporterSettings, Signal, Stability,
};
use serde_yaml_ng::Value;

/// Builds `otlp_grpc` exporters.
pub struct OtlpGrpcFactory;

impl ExporterFactory for OtlpGrpcFactory {
    fn exports_concurrently(&self) -> bool {
        true
    }

    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "otlp_grpc",
            aliases: &["otlp"],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces, Signal::Metrics],
            description: "Sends logs and traces over OTLP/gRPC (gzip, TLS, headers, retry on retryable codes)",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<OtlpGrpcConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<(Box<dyn Exporter>, ExporterSettings), ComponentError> {
        let config: OtlpGrpcConfig = parse_config(config).map_err(config_error)?;
        let settings = config.exporter_settings();
        let id = ctx.id.to_string();
        let health = ctx.telemetry.exporter_health(&id);
        let exporter = OtlpGrpcExporter::new(id, config, health)?;
        Ok((Box::new(exporter), settings))
    }
}
