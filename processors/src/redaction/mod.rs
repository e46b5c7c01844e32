//! Redaction, always on: credentials anywhere in the strings of log record
//! bodies and attributes, span attributes and resource attributes are
//! replaced before any exporter sees a record, whatever the config says.
//!
//! - [`rules`]: the built-in key formats (OpenAI, Anthropic, Google, AWS
//!   access and secret keys, Azure, GitHub, GitLab, Slack, Stripe, Hugging
//!   Face, JWTs, PEM private keys, URL credentials, `Authorization` values,
//!   `password=` / `api_key:` assignments);
//! - [`gitleaks`]: extra rules from a gitleaks TOML file (`rules_file`);
//! - [`pii`]: personal data (e-mail, phone, Luhn-checked card numbers,
//!   mod-97-checked IBANs, US SSNs), each class `off`, `mask` or `hash`;
//! - [`scanner`]: keyword prefilter, regexes, overlap resolution;
//! - [`rewrite`]: the OISP `$redacted` marker and inline tokens;
//! - [`walk`]: the in-place walk over OTLP records;
//! - [`processor`]: the `redaction` processor.
//!
//! The binary runs [`always_on_redactor`] before every exporter; a
//! `redaction` processor in a pipeline adds PII masking and rules files.
//! Redaction works on the OTLP `AnyValue` tree directly: no JSON round trip,
//! and strings without a keyword hit are not copied.

pub mod config;
pub mod gitleaks;
pub mod pii;
pub mod processor;
pub mod rewrite;
pub mod rules;
pub mod scanner;
pub mod walk;

#[cfg(test)]
pub(crate) mod tests;

pub use config::{PiiConfig, PiiMode, RedactionConfig};
pub use gitleaks::{GitleaksError, GitleaksRules, SkippedRule};
pub use pii::{PiiClass, PiiSet};
pub use rewrite::{Counts, Marker, Rewritten, MARKER_KEY, REASON_PII, REASON_SECRET, TOKEN_PREFIX};
pub use scanner::{Class, Detection, Scanner, ScannerError};

use oispd_component::proto::tonic::logs::v1::LogRecord;
use oispd_component::proto::tonic::trace::v1::Span;
use oispd_component::Batch;
use walk::Walk;

/// A problem building a redactor.
#[derive(Debug, thiserror::Error)]
pub enum RedactionError {
    /// The scanner could not be built.
    #[error(transparent)]
    Scanner(#[from] ScannerError),
    /// The rules file could not be loaded.
    #[error(transparent)]
    Rules(#[from] GitleaksError),
}

/// What one call replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedactionStats {
    /// Records (log records or spans) in which something was replaced.
    pub records: u64,
    /// Credentials replaced.
    pub secrets: u64,
    /// PII values masked or hashed.
    pub pii: u64,
}

/// Redacts records in place. Immutable, `Send + Sync`: share it with an `Arc`.
pub struct Redactor {
    scanner: Scanner,
    pii: PiiConfig,
    skipped: Vec<SkippedRule>,
}

impl Redactor {
    /// Builds a redactor: built-in rules, the rules file if any, and the PII
    /// classes that are not `off`.
    pub fn new(config: &RedactionConfig) -> Result<Redactor, RedactionError> {
        let extra = match &config.rules_file {
            Some(path) => Some(gitleaks::load(path)?),
            None => None,
        };
        Redactor::with_rules(extra, config.pii)
    }

    /// Builds a redactor from already loaded gitleaks rules.
    pub fn with_rules(
        extra: Option<GitleaksRules>,
        pii: PiiConfig,
    ) -> Result<Redactor, RedactionError> {
        let skipped = extra
            .as_ref()
            .map(|e| e.skipped.clone())
            .unwrap_or_default();
        Ok(Redactor {
            scanner: Scanner::new(extra, pii.active())?,
            pii,
            skipped,
        })
    }

    /// The scanner (shared with the sentinel's credential and PII detectors).
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// Rules of the rules file that could not be used.
    pub fn skipped_rules(&self) -> &[SkippedRule] {
        &self.skipped
    }

    /// Redacts every record of `batch`, and resource attributes.
    pub fn redact_batch(&self, batch: &mut Batch) -> RedactionStats {
        let mut stats = RedactionStats::default();
        match batch {
            Batch::Logs(resources) => {
                for r in resources {
                    if let Some(res) = r.resource.as_mut() {
                        let mut w = Walk::new(self);
                        w.attributes(&mut res.attributes);
                        stats.secrets += w.counts.secrets;
                        stats.pii += w.counts.pii;
                    }
                    for s in &mut r.scope_logs {
                        for rec in &mut s.log_records {
                            add(&mut stats, self.redact_log_record(rec));
                        }
                    }
                }
            }
            Batch::Traces(resources) => {
                for r in resources {
                    if let Some(res) = r.resource.as_mut() {
                        let mut w = Walk::new(self);
                        w.attributes(&mut res.attributes);
                        stats.secrets += w.counts.secrets;
                        stats.pii += w.counts.pii;
                    }
                    for s in &mut r.scope_spans {
                        for span in &mut s.spans {
                            add(&mut stats, self.redact_span(span));
                        }
                    }
                }
            }
        }
        stats
    }

    /// Redacts one log record's body and attributes.
    pub fn redact_log_record(&self, rec: &mut LogRecord) -> Counts {
        let mut w = Walk::new(self);
        w.log_record(rec);
        w.counts
    }

    /// Redacts one span.
    pub fn redact_span(&self, span: &mut Span) -> Counts {
        let mut w = Walk::new(self);
        w.span(span);
        w.counts
    }

    /// The text with every detection replaced inline (never a marker);
    /// `None` when nothing was found. For excerpts quoted in findings.
    pub fn redact_text(&self, text: &str) -> Option<String> {
        let mut w = Walk::new(self);
        match w.text(text, false)? {
            Rewritten::Text(t) => Some(t),
            Rewritten::Whole(m) => Some(rewrite::token(&m.detector, text)),
        }
    }
}

fn add(stats: &mut RedactionStats, c: Counts) {
    if !c.is_zero() {
        stats.records += 1;
        stats.secrets += c.secrets;
        stats.pii += c.pii;
    }
}

/// The redactor the binary runs before every exporter, even when no
/// `redaction` processor is configured: the built-in credential rules, no
/// PII masking (that is the `redaction` processor's job). Fails only if a
/// built-in regex does not compile, which the tests rule out.
pub fn always_on_redactor() -> Result<Redactor, RedactionError> {
    Redactor::new(&RedactionConfig::credentials_only())
}
