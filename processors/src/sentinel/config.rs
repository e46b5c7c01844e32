//! The `sentinel` processor's configuration.
//!
//! ```yaml
//! processors:
//!   sentinel:
//!     detectors:                     # by id or name; every detector is on by default
//!       SEC-01: {min_severity: high}             # floor: raise every SEC-01 finding to high
//!       pii_leakage: {max_severity: medium}      # cap
//!       SEC-24: {enabled: false}
//!     allowed_providers: [openai, anthropic]     # SEC-42; empty = every provider allowed
//!     shadow_ai_repeat_interval: 1h              # SEC-42: one finding per process/provider per interval
//!     upload_threshold_bytes: 4194304            # SEC-43
//!     credential_readers: [ssh, git, aws]        # SEC-41: programs allowed to read credential files
//!     rules_file: /etc/oispd/gitleaks.toml       # SEC-02: extra credential rules
//!     store: {path: /var/lib/oispd/audit.db, max_age: 30d, max_rows: 1000000}
//! ```

use super::credential_files::DEFAULT_READERS;
use super::detector::{DetectorId, SeverityBounds};
use crate::audit::StoreConfig;
use crate::redaction::gitleaks;
use oispd_component::ComponentConfig;
use oispd_semconv::Severity;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Default SEC-43 threshold: 4 MiB of content in one request.
pub const DEFAULT_UPLOAD_THRESHOLD_BYTES: u64 = 4 * 1024 * 1024;
/// Default SEC-42 repeat interval: one hour.
pub const DEFAULT_SHADOW_AI_REPEAT_INTERVAL: Duration = Duration::from_secs(3600);

/// One detector's settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// Whether the detector runs. Default true.
    pub enabled: bool,
    /// Floor: findings below this severity are raised to it. Default none.
    #[serde(deserialize_with = "severity_opt")]
    pub min_severity: Option<Severity>,
    /// Cap: findings above this severity are lowered to it; `none` silences
    /// the detector's findings. Default none (no cap).
    #[serde(deserialize_with = "severity_opt")]
    pub max_severity: Option<Severity>,
}

impl Default for DetectorConfig {
    fn default() -> DetectorConfig {
        DetectorConfig {
            enabled: true,
            min_severity: None,
            max_severity: None,
        }
    }
}

impl DetectorConfig {
    /// The floor and cap.
    pub fn bounds(&self) -> SeverityBounds {
        SeverityBounds {
            floor: self.min_severity.unwrap_or(Severity::None),
            cap: self.max_severity.unwrap_or(Severity::Critical),
        }
    }
}

/// Severity names are accepted in any case (`high`, `High`, `HIGH`).
fn severity_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => s
            .parse::<Severity>()
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

fn default_readers() -> Vec<String> {
    DEFAULT_READERS.iter().map(|s| s.to_string()).collect()
}

/// Configuration of the `sentinel` processor.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SentinelConfig {
    /// Per-detector settings, keyed by id (`SEC-01`) or name
    /// (`prompt_injection`). Detectors not listed run with defaults.
    pub detectors: BTreeMap<String, DetectorConfig>,
    /// SEC-42: provider names or catalogue ids that may be used. Empty (the
    /// default) allows every provider and so disables SEC-42.
    pub allowed_providers: Vec<String>,
    /// SEC-42: a process/provider pair is reported again only after this
    /// much event time. Default 1h.
    #[serde(with = "humantime_serde")]
    pub shadow_ai_repeat_interval: Duration,
    /// SEC-43: content bytes of one request (or bytes sent in one flow) from
    /// which an upload is unusually large. Default 4 MiB.
    pub upload_threshold_bytes: u64,
    /// SEC-41: program names allowed to read credential files.
    pub credential_readers: Vec<String>,
    /// SEC-02: a gitleaks-format TOML file with extra credential rules.
    pub rules_file: Option<PathBuf>,
    /// The durable audit store. Without it the audit chain lives in memory
    /// and starts over on each run.
    pub store: Option<StoreConfig>,
}

impl Default for SentinelConfig {
    fn default() -> SentinelConfig {
        SentinelConfig {
            detectors: BTreeMap::new(),
            allowed_providers: Vec::new(),
            shadow_ai_repeat_interval: DEFAULT_SHADOW_AI_REPEAT_INTERVAL,
            upload_threshold_bytes: DEFAULT_UPLOAD_THRESHOLD_BYTES,
            credential_readers: default_readers(),
            rules_file: None,
            store: None,
        }
    }
}

impl SentinelConfig {
    /// The settings of `id` (defaults when not listed).
    pub fn detector(&self, id: DetectorId) -> DetectorConfig {
        self.detectors
            .iter()
            .find(|(k, _)| DetectorId::parse(k) == Some(id))
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }
}

impl ComponentConfig for SentinelConfig {
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen: Vec<DetectorId> = Vec::new();
        for (key, cfg) in &self.detectors {
            match DetectorId::parse(key) {
                None => {
                    let known: Vec<String> = DetectorId::ALL
                        .iter()
                        .map(|d| format!("{} ({})", d.code(), d.name()))
                        .collect();
                    problems.push(format!(
                        "'detectors' has unknown detector {key:?}: expected one of {}",
                        known.join(", ")
                    ));
                }
                Some(id) => {
                    if seen.contains(&id) {
                        problems.push(format!(
                            "'detectors' lists {} twice (by id and by name)",
                            id.code()
                        ));
                    }
                    seen.push(id);
                    if let (Some(lo), Some(hi)) = (cfg.min_severity, cfg.max_severity) {
                        if lo > hi {
                            problems.push(format!(
                                "'detectors.{key}' min_severity {lo} is above max_severity {hi}"
                            ));
                        }
                    }
                }
            }
        }
        if self.upload_threshold_bytes == 0 {
            problems.push("'upload_threshold_bytes' must be at least 1".to_string());
        }
        if let Some(path) = &self.rules_file {
            if let Err(e) = gitleaks::load(path) {
                problems.push(format!("'rules_file' {e}"));
            }
        }
        if let Some(store) = &self.store {
            problems.extend(store.validate());
        }
        problems
    }
}
