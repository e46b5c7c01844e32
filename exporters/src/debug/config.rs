//! `debug` exporter configuration, with the collector's keys.
//!
//! ```yaml
//! exporters:
//!   debug:
//!     verbosity: basic          # basic (default): counts | normal: one line per record | detailed: everything
//!     sampling_initial: 2       # batches printed per second before sampling starts
//!     sampling_thereafter: 1    # then every Nth batch of that second (1 = all)
//! ```

use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{ComponentConfig, ExporterSettings};
use serde::Deserialize;
use std::time::Duration;

/// `verbosity`: how much is printed.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verbosity {
    /// One summary line per batch (record and resource counts).
    #[default]
    Basic,
    /// One line per record: time, event name, attributes.
    Normal,
    /// Every field of every record, the body as JSON.
    Detailed,
}

/// `exporters.debug`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    /// How much to print (default basic).
    pub verbosity: Verbosity,
    /// Batches printed per second before sampling (default 2).
    pub sampling_initial: u64,
    /// After that, every Nth batch in the same second (default 1 = all).
    pub sampling_thereafter: u64,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: Verbosity::Basic,
            sampling_initial: 2,
            sampling_thereafter: 1,
        }
    }
}

impl DebugConfig {
    /// The helper settings: a default queue, no retry (printing cannot
    /// fail in a way worth retrying), no batching.
    pub fn exporter_settings(&self) -> ExporterSettings {
        ExporterSettings {
            queue: QueueSettings::default(),
            retry: RetrySettings {
                enabled: false,
                ..RetrySettings::default()
            },
            batch_size: 0,
            flush_interval: Duration::ZERO,
            timeout: Duration::ZERO,
        }
    }
}

impl ComponentConfig for DebugConfig {
    fn validate(&self) -> Vec<String> {
        if self.sampling_thereafter == 0 {
            vec!["'sampling_thereafter' must be at least 1".to_string()]
        } else {
            Vec::new()
        }
    }
}
