//! Detector identities and what detectors report: ids in the `SEC-NN`
//! scheme, hits with their evidence, and the per-detector severity floor
//! and cap.
//!
//! Ids follow AI.Sentinel where the detector does the same thing (SEC-01
//! prompt injection, SEC-02 credential exposure, SEC-05 jailbreak, SEC-23
//! PII leakage, SEC-24 adversarial Unicode). AI.Sentinel splits indirect
//! injection out as SEC-09; here SEC-01 covers both and says which in its
//! `vector` field, so one SIEM rule on SEC-01 sees both. oispd's own
//! detectors start at SEC-40, clear of AI.Sentinel's range.

use oispd_semconv::Severity;
use serde_json::{Map, Value};
use std::fmt;

/// A detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DetectorId {
    /// SEC-01: instructions that try to take over the model, in user
    /// messages (direct) and in tool results or retrieved content (indirect).
    PromptInjection,
    /// SEC-02: credentials in prompts, responses, tool traffic and commands.
    CredentialExposure,
    /// SEC-05: jailbreak phrasing (DAN, "developer mode", "no restrictions").
    Jailbreak,
    /// SEC-23: personal data sent to or returned by a model.
    PiiLeakage,
    /// SEC-24: invisible or bidirectional Unicode (tag characters,
    /// zero-width characters, bidi overrides).
    InvisibleUnicode,
    /// SEC-40: an agent running a dangerous command (`curl | sh`,
    /// `rm -rf /`, clearing shell history, adding SSH keys, reverse shells).
    DangerousCommand,
    /// SEC-41: an agent reading credential files (`~/.ssh/id_*`,
    /// `~/.aws/credentials`, `.env`).
    CredentialFileAccess,
    /// SEC-42: calls to AI providers outside the allow-list (shadow AI).
    ShadowAi,
    /// SEC-43: unusually large uploads to an AI provider.
    LargeUpload,
}

impl DetectorId {
    /// Every detector, in id order.
    pub const ALL: [DetectorId; 9] = [
        DetectorId::PromptInjection,
        DetectorId::CredentialExposure,
        DetectorId::Jailbreak,
        DetectorId::PiiLeakage,
        DetectorId::InvisibleUnicode,
        DetectorId::DangerousCommand,
        DetectorId::CredentialFileAccess,
        DetectorId::ShadowAi,
        DetectorId::LargeUpload,
    ];

    /// The `SEC-NN` id.
    pub fn code(self) -> &'static str {
        match self {
            DetectorId::PromptInjection => "SEC-01",
            DetectorId::CredentialExposure => "SEC-02",
            DetectorId::Jailbreak => "SEC-05",
            DetectorId::PiiLeakage => "SEC-23",
            DetectorId::InvisibleUnicode => "SEC-24",
            DetectorId::DangerousCommand => "SEC-40",
            DetectorId::CredentialFileAccess => "SEC-41",
            DetectorId::ShadowAi => "SEC-42",
            DetectorId::LargeUpload => "SEC-43",
        }
    }

    /// The snake-case name (`prompt_injection`), also accepted in config.
    pub fn name(self) -> &'static str {
        match self {
            DetectorId::PromptInjection => "prompt_injection",
            DetectorId::CredentialExposure => "credential_exposure",
            DetectorId::Jailbreak => "jailbreak",
            DetectorId::PiiLeakage => "pii_leakage",
            DetectorId::InvisibleUnicode => "invisible_unicode",
            DetectorId::DangerousCommand => "dangerous_command",
            DetectorId::CredentialFileAccess => "credential_file_access",
            DetectorId::ShadowAi => "shadow_ai",
            DetectorId::LargeUpload => "large_upload",
        }
    }

    /// The detector named by its id or name (case-insensitive).
    pub fn parse(s: &str) -> Option<DetectorId> {
        DetectorId::ALL
            .into_iter()
            .find(|d| d.code().eq_ignore_ascii_case(s) || d.name().eq_ignore_ascii_case(s))
    }

    /// Position in [`DetectorId::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DetectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One thing a detector saw, with where it saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// How bad this hit is on its own.
    pub severity: Severity,
    /// Where and what: `field` (a path in the event, `data.messages[1].content`),
    /// `kind` (pattern or credential kind) and detector-specific keys. Never a
    /// secret: excerpts are redacted before they get here.
    pub evidence: Map<String, Value>,
}

impl Hit {
    /// A hit at `field` of `kind`.
    pub fn new(severity: Severity, field: &str, kind: &str) -> Hit {
        let mut evidence = Map::new();
        evidence.insert("field".into(), Value::String(field.to_string()));
        evidence.insert("kind".into(), Value::String(kind.to_string()));
        Hit { severity, evidence }
    }

    /// Adds an evidence key.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Hit {
        self.evidence.insert(key.to_string(), value.into());
        self
    }

    /// The `kind` evidence.
    pub fn kind(&self) -> &str {
        self.evidence
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The `field` evidence.
    pub fn field(&self) -> &str {
        self.evidence
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// A detector's severity bounds from config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeverityBounds {
    /// Every finding is raised to at least this.
    pub floor: Severity,
    /// Every finding is lowered to at most this.
    pub cap: Severity,
}

impl Default for SeverityBounds {
    fn default() -> SeverityBounds {
        SeverityBounds {
            floor: Severity::None,
            cap: Severity::Critical,
        }
    }
}

impl SeverityBounds {
    /// `s` raised to the floor and lowered to the cap.
    pub fn apply(self, s: Severity) -> Severity {
        s.max(self.floor).min(self.cap)
    }
}

/// One level up (for a hit backed by a second, independent signal),
/// capped at critical.
pub fn escalate(s: Severity) -> Severity {
    match s {
        Severity::None => Severity::Low,
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        Severity::High | Severity::Critical => Severity::Critical,
    }
}
