//! `file`: writes records to a local file, in the collector's formats or
//! as OISP JSONL.
//!
//! - `format: json` (default, as in the collector): one OTLP/JSON
//!   `ExportLogsServiceRequest` or `ExportTraceServiceRequest` per line, as
//!   the collector's file exporter writes (camelCase keys, hex trace/span
//!   ids, int64 as strings).
//! - `format: proto`: the same requests as protobuf, each preceded by its
//!   length as a big-endian unsigned 32-bit integer, as the collector's
//!   file exporter writes `proto` (read the length, then that many bytes).
//! - `format: oisp_jsonl`: one OISP event per line, exactly the event's
//!   OISP JSON, so `jq '.event_type' oisp-events.jsonl` works and every
//!   line validates against the OISP schema. Log records that carry no OISP
//!   event are written as a readable generic object
//!   (`oispd_semconv::otel::log_record_generic_json`); spans as their
//!   OTLP/JSON.
//!
//! Whole records only, also across crashes and rotation; rotated files are
//! named `<stem>-<YYYY-MM-DDTHH-MM-SS.mmm>[-N]<.ext>` beside the active file
//! (`oisp-events-2026-11-22T05-30-00.123.jsonl`), as lumberjack names them
//! for the collector; see [`writer`] for the rules. New files are created
//! with mode 0600: they hold prompts and responses.

pub mod config;
pub mod encode;
pub mod exporter;
#[cfg(test)]
mod tests;
mod writer;

use crate::factory::config_error;
use config::FileConfig;
use exporter::FileExporter;
use oispd_component::{
    parse_config, BuildContext, ComponentError, ComponentInfo, ConfigError, Exporter,
    ExporterFactory, ExporterSettings, Signal, Stability,
};
use serde_yaml_ng::Value;

/// Builds `file` exporters.
pub struct FileFactory;

impl ExporterFactory for FileFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "file",
            aliases: &[],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces, Signal::Metrics],
            description:
                "Writes OTLP/JSON lines, length-prefixed OTLP protobuf or OISP JSONL to a local file, with size-based rotation",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<FileConfig>(config).map(|_| ())
    }

    /// `flush_interval: 0`: oispd writes every batch before its export
    /// returns; the collector reads 0 as unset and flushes every second.
    fn collector_differences(&self, config: &Value, _signals: &[Signal]) -> Vec<ConfigError> {
        match parse_config::<FileConfig>(config) {
            Ok(c) if c.flush_interval.is_zero() => vec![ConfigError::new(
                &["flush_interval"],
                "0 writes every batch before its export returns, where the collector's file exporter reads 0 as unset and flushes every 1s",
            )],
            _ => Vec::new(),
        }
    }

    fn create(
        &self,
        _ctx: &BuildContext,
        config: &Value,
    ) -> Result<(Box<dyn Exporter>, ExporterSettings), ComponentError> {
        let config: FileConfig = parse_config(config).map_err(config_error)?;
        let settings = config.exporter_settings();
        Ok((Box::new(FileExporter::new(config)), settings))
    }
}
