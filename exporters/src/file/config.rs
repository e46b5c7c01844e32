//! `file` exporter configuration, with the collector's keys and defaults.
//!
//! ```yaml
//! exporters:
//!   file:
//!     path: ./otlp.json              # required
//!     format: json                   # json (default) | proto | oisp_jsonl
//!     append: false                  # false (default) truncates at start; true keeps what the file holds
//!     flush_interval: 1s             # 0 = write every batch before the export returns
//!     create_directory: false        # true creates missing parent directories
//!     rotation:                      # only when present
//!       max_megabytes: 100
//!       max_backups: 100             # 0 = keep all
//!       localtime: false             # backup names in UTC (default) or local time
//!     sending_queue: {...}
//!     retry_on_failure: {...}        # a failed write (disk full) is retried
//! ```
//!
//! `format`, `append` and `create_directory` mean what they mean in the
//! collector's file exporter, defaults included, so a copied collector
//! config writes the same file. OISP JSONL is the explicit `format:
//! oisp_jsonl` (oispd's embedded default config writes it, appending).
//! oispd also allows `append: true` with `rotation`, which the collector
//! refuses.

use crate::helper::settings_problems;
use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{ComponentConfig, ExporterSettings};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Default `flush_interval`, as the collector's file exporter.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Default `rotation.max_megabytes`.
pub const DEFAULT_MAX_MEGABYTES: u64 = 100;
/// Default `rotation.max_backups`.
pub const DEFAULT_MAX_BACKUPS: usize = 100;

/// `format`: what the file holds.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One OTLP/JSON `ExportLogsServiceRequest` / `ExportTraceServiceRequest`
    /// per line, as the collector's file exporter writes (its default).
    /// `otlp_json`, oispd's earlier name for it, is accepted.
    #[default]
    #[serde(alias = "otlp_json")]
    Json,
    /// Protobuf `Export*ServiceRequest`s, each preceded by its length as a
    /// big-endian unsigned 32-bit integer, as the collector writes `proto`.
    Proto,
    /// One OISP event per line (`jq '.event_type'` works); log records that
    /// carry no OISP event as a readable generic object; spans as their
    /// OTLP/JSON.
    OispJsonl,
}

/// `rotation`: size-based rotation.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Rotation {
    /// Rotate before the file would exceed this many MiB (default 100).
    pub max_megabytes: u64,
    /// Backups to keep, newest first; 0 keeps all (default 100).
    pub max_backups: usize,
    /// Timestamps in backup names in local time instead of UTC.
    pub localtime: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Rotation {
            max_megabytes: DEFAULT_MAX_MEGABYTES,
            max_backups: DEFAULT_MAX_BACKUPS,
            localtime: false,
        }
    }
}

/// `exporters.file`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// The file to write (required).
    pub path: PathBuf,
    /// What the file holds (default `json`, OTLP/JSON lines).
    pub format: Format,
    /// Append to an existing file, or truncate it at start (default).
    pub append: bool,
    /// How long lines may sit in memory before they are written; 0 writes
    /// every batch before its export returns (default 1s).
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Create missing parent directories (default false).
    pub create_directory: bool,
    /// Size-based rotation; none when absent.
    pub rotation: Option<Rotation>,
    /// The queue in front of the exporter.
    pub sending_queue: QueueSettings,
    /// Retry of failed writes.
    pub retry_on_failure: RetrySettings,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            path: PathBuf::new(),
            format: Format::Json,
            append: false,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            create_directory: false,
            rotation: None,
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
        }
    }
}

impl FileConfig {
    /// The helper settings this config asks for: no batching (lines are
    /// written as batches come) and no attempt timeout (a local write).
    pub fn exporter_settings(&self) -> ExporterSettings {
        ExporterSettings {
            queue: self.sending_queue.clone(),
            retry: self.retry_on_failure.clone(),
            batch_size: 0,
            flush_interval: Duration::ZERO,
            timeout: Duration::ZERO,
        }
    }
}

impl ComponentConfig for FileConfig {
    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.path.as_os_str().is_empty() {
            out.push("'path' must be set".to_string());
        } else if self.path.file_name().is_none() {
            out.push(format!("'path' {:?} must name a file", self.path));
        }
        if let Some(r) = &self.rotation {
            if r.max_megabytes == 0 {
                out.push("'rotation.max_megabytes' must be above 0".to_string());
            }
        }
        out.extend(settings_problems(
            &self.retry_on_failure,
            &self.sending_queue,
        ));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_component::parse_config;

    fn parse(yaml: &str) -> Result<FileConfig, Vec<String>> {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config(&v).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    /// Scenario: only a path; then each format by name.
    /// Guarantees: the collector's defaults: OTLP/JSON, truncate, 1s flush,
    /// no directories created, no rotation; `oisp_jsonl` and `proto` by
    /// name, `otlp_json` as the earlier name of `json`.
    #[test]
    fn defaults() {
        let c = parse("path: /tmp/x.jsonl").unwrap();
        assert_eq!(c.format, Format::Json);
        assert!(!c.append && !c.create_directory);
        for (name, format) in [
            ("json", Format::Json),
            ("otlp_json", Format::Json),
            ("proto", Format::Proto),
            ("oisp_jsonl", Format::OispJsonl),
        ] {
            let c = parse(&format!("path: x\nformat: {name}")).unwrap();
            assert_eq!(c.format, format, "{name}");
        }
        assert_eq!(c.flush_interval, Duration::from_secs(1));
        assert_eq!(c.rotation, None);
        let r = parse("path: x\nrotation: {}").unwrap().rotation.unwrap();
        assert_eq!((r.max_megabytes, r.max_backups), (100, 100));
    }

    /// Scenario: the typo from the issue, a missing path, an unknown format.
    /// Guarantees: the collector's wording, naming the key.
    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            parse("path: x\nrotation: {max_mb: 3}").unwrap_err(),
            vec!["'rotation' has invalid keys: max_mb"]
        );
        assert_eq!(
            parse("format: json").unwrap_err(),
            vec!["'path' must be set"]
        );
        assert!(parse("path: x\nformat: xml").unwrap_err()[0]
            .starts_with("'format' has invalid value \"xml\""));
        assert_eq!(
            parse("path: x\nrotation: {max_megabytes: 0}").unwrap_err(),
            vec!["'rotation.max_megabytes' must be above 0"]
        );
    }
}
