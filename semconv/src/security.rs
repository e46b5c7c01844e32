//! The `data` of `security.finding`, the event oispd's sentinel processor
//! emits when a detector fires. Not part of OISP v0.1: it travels as an
//! ordinary event type (the envelope allows any `event_type`), links the
//! event that triggered it through the envelope's `related_events`, and
//! carries its place in the sentinel's hash-chained audit log.

use crate::common::Extra;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Severity of a finding, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational, no risk.
    None,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Lower-case name (`none`, `low`, `medium`, `high`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The OTel log severity number of a finding of this severity:
    /// none and low = INFO (9), medium = WARN (13),
    /// high = ERROR (17), critical = FATAL (21).
    pub fn otel_severity_number(self) -> i32 {
        match self {
            Severity::None | Severity::Low => 9,
            Severity::Medium => 13,
            Severity::High => 17,
            Severity::Critical => 21,
        }
    }

    /// The OTel severity text matching [`Severity::otel_severity_number`].
    pub fn otel_severity_text(self) -> &'static str {
        match self {
            Severity::None | Severity::Low => "INFO",
            Severity::Medium => "WARN",
            Severity::High => "ERROR",
            Severity::Critical => "FATAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of parsing a [`Severity`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}: expected none, low, medium, high or critical")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    /// Parses a severity name, case-insensitively.
    fn from_str(s: &str) -> Result<Severity, UnknownSeverity> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Severity::None),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

/// A finding's place in the sentinel's hash-chained audit log.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditLink {
    /// Audit record id.
    pub id: String,
    /// Hash of this audit record (lower-case hex).
    pub hash: String,
    /// Hash of the previous record; absent for the first record of a chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_hash: Option<String>,
    /// Unknown keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `security.finding`: a sentinel detector fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityFinding {
    /// Finding id (unique).
    pub finding_id: String,
    /// Detector id, `SEC-NN`.
    pub detector_id: String,
    /// Detector name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_name: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// One-line human summary.
    pub summary: String,
    /// Audit log link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditLink>,
    /// Unknown keys (detector-specific evidence).
    #[serde(flatten)]
    pub extra: Extra,
}

impl SecurityFinding {
    /// A finding with a fresh ULID finding id and no audit link yet.
    pub fn new(
        detector_id: impl Into<String>,
        severity: Severity,
        summary: impl Into<String>,
    ) -> SecurityFinding {
        SecurityFinding {
            finding_id: crate::event::new_event_id(),
            detector_id: detector_id.into(),
            detector_name: None,
            severity,
            summary: summary.into(),
            audit: None,
            extra: Extra::new(),
        }
    }
}

#[cfg(test)]
mod severity_mapping_tests {
    use super::Severity;

    /// Guarantees: the mapping a SIEM's collector config relies on
    /// (Critical 21 FATAL, High 17 ERROR, Medium 13 WARN, Low/None 9 INFO).
    #[test]
    fn findings_map_to_the_documented_otel_severities() {
        let got: Vec<(i32, &str)> = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::None,
        ]
        .iter()
        .map(|s| (s.otel_severity_number(), s.otel_severity_text()))
        .collect();
        assert_eq!(
            got,
            vec![
                (21, "FATAL"),
                (17, "ERROR"),
                (13, "WARN"),
                (9, "INFO"),
                (9, "INFO")
            ]
        );
    }
}
