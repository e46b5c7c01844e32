//! The `redaction` processor's configuration.
//!
//! ```yaml
//! processors:
//!   redaction:
//!     pii:
//!       email: hash        # off | mask | hash
//!       phone: mask
//!       card_number: mask  # default
//!       iban: mask         # default
//!       national_id: mask  # default
//!     rules_file: /etc/oispd/gitleaks.toml
//! ```
//!
//! Credentials are redacted whatever this says; it only tunes PII and adds
//! rules.

use super::gitleaks;
use super::pii::{PiiClass, PiiSet};
use oispd_component::ComponentConfig;
use serde::Deserialize;
use std::path::PathBuf;

/// What to do with one class of personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiMode {
    /// Leave it as it is.
    Off,
    /// Replace it with a partial mask that keeps its shape (`j***@corp.com`,
    /// `**** **** **** 1111`).
    Mask,
    /// Replace it with a `$redacted` marker or a `[REDACTED:class:sha256:..]`
    /// token carrying a hash prefix, for correlation without exposure.
    Hash,
}

/// PII handling per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PiiConfig {
    /// E-mail addresses. Default `off`.
    pub email: PiiMode,
    /// Phone numbers. Default `off`.
    pub phone: PiiMode,
    /// Payment card numbers (Luhn-valid). Default `mask`.
    pub card_number: PiiMode,
    /// IBANs (mod-97-valid). Default `mask`.
    pub iban: PiiMode,
    /// National ids (US SSN). Default `mask`.
    pub national_id: PiiMode,
}

impl Default for PiiConfig {
    fn default() -> PiiConfig {
        PiiConfig {
            email: PiiMode::Off,
            phone: PiiMode::Off,
            card_number: PiiMode::Mask,
            iban: PiiMode::Mask,
            national_id: PiiMode::Mask,
        }
    }
}

impl PiiConfig {
    /// Every class off: credentials only.
    pub const OFF: PiiConfig = PiiConfig {
        email: PiiMode::Off,
        phone: PiiMode::Off,
        card_number: PiiMode::Off,
        iban: PiiMode::Off,
        national_id: PiiMode::Off,
    };

    /// The mode of `class`.
    pub fn mode(&self, class: PiiClass) -> PiiMode {
        match class {
            PiiClass::Email => self.email,
            PiiClass::Phone => self.phone,
            PiiClass::CardNumber => self.card_number,
            PiiClass::Iban => self.iban,
            PiiClass::NationalId => self.national_id,
        }
    }

    /// The classes that are not `off`.
    pub fn active(&self) -> PiiSet {
        PiiClass::ALL
            .into_iter()
            .filter(|c| self.mode(*c) != PiiMode::Off)
            .fold(PiiSet::NONE, PiiSet::with)
    }
}

/// Configuration of the `redaction` processor (and of the always-on
/// redactor, which uses [`RedactionConfig::credentials_only`]).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    /// PII handling per class.
    pub pii: PiiConfig,
    /// A gitleaks-format TOML file whose `[[rules]]` are added to the
    /// built-in credential rules. Default: none.
    pub rules_file: Option<PathBuf>,
}

impl RedactionConfig {
    /// Built-in credential rules only, no PII masking.
    pub fn credentials_only() -> RedactionConfig {
        RedactionConfig {
            pii: PiiConfig::OFF,
            rules_file: None,
        }
    }
}

impl ComponentConfig for RedactionConfig {
    fn validate(&self) -> Vec<String> {
        match &self.rules_file {
            Some(path) => match gitleaks::load(path) {
                Ok(_) => Vec::new(),
                Err(e) => vec![format!("'rules_file' {e}")],
            },
            None => Vec::new(),
        }
    }
}
