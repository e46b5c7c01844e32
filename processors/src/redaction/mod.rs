//! Redaction, always on: credentials anywhere in the strings of a record
//! (bodies, keys, attributes, names, resources, scopes; raw or hidden by
//! JSON escapes, percent-encoding or base64) are replaced before any
//! exporter sees a record, whatever the config says.
//!
//! - [`rules`]: the built-in key formats (OpenAI, Anthropic, Google, AWS
//!   access and secret keys, Azure, GitHub, GitLab, Slack, Stripe, Hugging
//!   Face, JWTs, PEM private keys, URL credentials, `Authorization` values,
//!   `password=` / `api_key:` assignments);
//! - [`gitleaks`]: extra rules from a gitleaks TOML file (`rules_file`);
//! - [`pii`]: personal data (e-mail, phone, Luhn-checked card numbers,
//!   mod-97-checked IBANs, US SSNs), each class `off`, `mask` or `hash`;
//! - [`scanner`]: keyword prefilter, regexes, decoded views, merging of
//!   overlaps, the scan budget;
//! - [`views`]: JSON-unescaped, percent-decoded and base64 views of a
//!   string, mapped back to its bytes;
//! - [`rewrite`]: the OISP `$redacted` marker and inline tokens, their
//!   HMAC hashes, and recognising them;
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
pub mod views;
pub mod walk;

#[cfg(test)]
pub(crate) mod tests;

pub use config::{PiiConfig, PiiMode, RedactionConfig};
pub use gitleaks::{GitleaksError, GitleaksRules, SkippedRule};
pub use pii::{PiiClass, PiiSet};
pub use rewrite::{
    Counts, Keyed, Marker, RedactionKey, Rewritten, MARKER_KEY, REASON_PII, REASON_SECRET,
    REASON_TOO_LARGE, TOKEN_PREFIX, UNSCANNED_TOKEN,
};
pub use scanner::{Budget, Class, Detection, OverBudget, Scanner, ScannerError};

use oispd_component::proto::tonic::common::v1::InstrumentationScope;
use oispd_component::proto::tonic::logs::v1::LogRecord;
use oispd_component::proto::tonic::resource::v1::Resource;
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
    /// Values replaced unscanned because their record's scan budget ran out.
    pub unscanned: u64,
}

/// Redacts records in place. Immutable, `Send + Sync`: share it with an `Arc`.
pub struct Redactor {
    scanner: Scanner,
    pii: PiiConfig,
    skipped: Vec<SkippedRule>,
    keyed: Keyed,
}

impl Redactor {
    /// Builds a redactor: built-in rules, the rules file if any, and the PII
    /// classes that are not `off`; hashes in markers are keyed with `key`.
    pub fn new(config: &RedactionConfig, key: &RedactionKey) -> Result<Redactor, RedactionError> {
        let extra = match &config.rules_file {
            Some(path) => Some(gitleaks::load(path)?),
            None => None,
        };
        Redactor::with_rules(extra, config.pii, key)
    }

    /// Builds a redactor from already loaded gitleaks rules.
    pub fn with_rules(
        extra: Option<GitleaksRules>,
        pii: PiiConfig,
        key: &RedactionKey,
    ) -> Result<Redactor, RedactionError> {
        let skipped = extra
            .as_ref()
            .map(|e| e.skipped.clone())
            .unwrap_or_default();
        Ok(Redactor {
            scanner: Scanner::new(extra, pii.active())?,
            pii,
            skipped,
            keyed: Keyed::new(key),
        })
    }

    /// `hmac-sha256:` and the first `hex_len` hex digits of the keyed hash
    /// of `value` (the hash tokens and markers carry).
    pub fn hash_prefix(&self, value: &str, hex_len: usize) -> String {
        self.keyed.hash_prefix(value, hex_len)
    }

    /// The scanner (shared with the sentinel's credential and PII detectors).
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// Rules of the rules file that could not be used.
    pub fn skipped_rules(&self) -> &[SkippedRule] {
        &self.skipped
    }

    /// Redacts every record of `batch`, and its resources and scopes.
    pub fn redact_batch(&self, batch: &mut Batch) -> RedactionStats {
        let mut stats = RedactionStats::default();
        match batch {
            Batch::Logs(resources) => {
                for r in resources {
                    self.redact_group(&mut r.schema_url, r.resource.as_mut(), &mut stats);
                    for s in &mut r.scope_logs {
                        self.redact_group(&mut s.schema_url, s.scope.as_mut(), &mut stats);
                        for rec in &mut s.log_records {
                            add(&mut stats, self.redact_log_record(rec));
                        }
                    }
                }
            }
            Batch::Traces(resources) => {
                for r in resources {
                    self.redact_group(&mut r.schema_url, r.resource.as_mut(), &mut stats);
                    for s in &mut r.scope_spans {
                        self.redact_group(&mut s.schema_url, s.scope.as_mut(), &mut stats);
                        for span in &mut s.spans {
                            add(&mut stats, self.redact_span(span));
                        }
                    }
                }
            }
            Batch::Metrics(resources) => {
                for r in resources {
                    self.redact_group(&mut r.schema_url, r.resource.as_mut(), &mut stats);
                    for s in &mut r.scope_metrics {
                        self.redact_group(&mut s.schema_url, s.scope.as_mut(), &mut stats);
                        let mut w = Walk::new(self);
                        for m in &mut s.metrics {
                            w.metric(m);
                        }
                        add_totals(&mut stats, w.counts);
                    }
                }
            }
        }
        stats
    }

    /// Redacts what a resource or scope group says about its records: its
    /// schema URL and the resource or scope (its counts are totals, not
    /// records).
    fn redact_group<G: GroupHead>(
        &self,
        schema_url: &mut String,
        head: Option<&mut G>,
        stats: &mut RedactionStats,
    ) {
        let mut w = Walk::new(self);
        w.field(schema_url);
        if let Some(head) = head {
            head.redact(&mut w);
        }
        add_totals(stats, w.counts);
    }

    /// Redacts one log record: body, attributes, event name, severity text.
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
    /// `None` when nothing was found. For text quoted in findings.
    pub fn redact_text(&self, text: &str) -> Option<String> {
        Walk::new(self).inline(text)
    }

    /// At most about `max` bytes of `text` from `start` (never past `end`),
    /// with whitespace runs collapsed, quoted from the redacted text: the
    /// whole of `text` is scanned first, so a credential that the cut would
    /// split (a URL cut between its password and `@`) is replaced whole by
    /// its token, which may make the excerpt a token longer than `max`.
    pub fn redact_excerpt(&self, text: &str, start: usize, end: usize, max: usize) -> String {
        let mut stop = end.min(text.len()).min(start.saturating_add(max));
        while !text.is_char_boundary(stop) {
            stop -= 1;
        }
        let mut start = start.min(stop);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut found = Vec::new();
        let mut budget = Budget::default();
        let quoted = if self
            .scanner
            .scan_budgeted(text, None, &mut budget, &mut found)
            .is_err()
        {
            UNSCANNED_TOKEN.to_string()
        } else {
            let mut out = String::with_capacity(stop - start + 32);
            let mut pos = start;
            for d in found.iter().filter(|d| d.end > start && d.start < stop) {
                if d.start > pos {
                    out.push_str(&text[pos..d.start]);
                }
                let original = &text[d.start..d.end];
                match d.class {
                    Class::Pii(c) if self.pii.mode(c) == PiiMode::Mask => {
                        out.push_str(&c.mask(original))
                    }
                    // The scanner only finds classes that are not `off`.
                    _ => out.push_str(&rewrite::token(d.kind, original, &self.keyed)),
                }
                pos = d.end;
            }
            if pos < stop {
                out.push_str(&text[pos..stop]);
            }
            out
        };
        collapse_whitespace(&quoted)
    }
}

/// `s` with whitespace runs collapsed to one space, trimmed.
fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out.trim().to_string()
}

/// The head of a group of records: a resource or an instrumentation scope.
trait GroupHead {
    fn redact(&mut self, w: &mut Walk<'_>);
}

impl GroupHead for Resource {
    fn redact(&mut self, w: &mut Walk<'_>) {
        w.attributes(&mut self.attributes);
        w.entity_refs(&mut self.entity_refs);
    }
}

impl GroupHead for InstrumentationScope {
    fn redact(&mut self, w: &mut Walk<'_>) {
        w.scope(self);
    }
}

fn add_totals(stats: &mut RedactionStats, c: Counts) {
    stats.secrets += c.secrets;
    stats.pii += c.pii;
    stats.unscanned += c.unscanned;
}

fn add(stats: &mut RedactionStats, c: Counts) {
    if !c.is_zero() {
        stats.records += 1;
        add_totals(stats, c);
    }
}

/// The redactor the binary runs before every exporter, even when no
/// `redaction` processor is configured: the built-in credential rules, no
/// PII masking (that is the `redaction` processor's job), hashes keyed with
/// the installation's `key`. Fails only if a built-in regex does not
/// compile, which the tests rule out.
pub fn always_on_redactor(key: &RedactionKey) -> Result<Redactor, RedactionError> {
    Redactor::new(&RedactionConfig::credentials_only(), key)
}
