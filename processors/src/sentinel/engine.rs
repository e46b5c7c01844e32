//! The detector engine: one pass over an event's text segments feeds every
//! text detector (the credential/PII scan runs once per segment and serves
//! SEC-02 and SEC-23), then the provider detectors look at the event; hits
//! are grouped into at most one finding per detector and event, whose
//! severity is the worst hit's, bounded by the detector's floor and cap.
//! A finding whose severity ends at `none` is dropped.

use super::commands::{self, Commands};
use super::config::SentinelConfig;
use super::credential_files::{self, CredentialFiles};
use super::credentials;
use super::detector::{DetectorId, Hit, SeverityBounds};
use super::event::{for_each_segment, Content, EventView, Source};
use super::injection::Injection;
use super::jailbreak::Jailbreak;
use super::phrases::{PhraseError, PhraseMatch};
use super::pii_leak;
use super::prefilter::{Combined, Triggers};
use super::providers::{provider_of, shadow_summary, upload_summary, LargeUpload, ShadowAi};
use super::unicode;
use crate::redaction::{
    gitleaks, Detection, PiiConfig, PiiMode, RedactionError, RedactionKey, Redactor, TOKEN_PREFIX,
};
use oispd_component::proto::tonic::logs::v1::LogRecord;
use oispd_semconv::providers::ProviderCatalog;
use oispd_semconv::Severity;
use serde_json::{Map, Value};

/// Most evidence items kept in one finding.
const MAX_EVIDENCE: usize = 10;

/// A problem building the sentinel.
#[derive(Debug, thiserror::Error)]
pub enum SentinelError {
    /// The credential scanner or rules file.
    #[error(transparent)]
    Redaction(#[from] RedactionError),
    /// The rules file could not be loaded.
    #[error(transparent)]
    Rules(#[from] gitleaks::GitleaksError),
    /// A built-in pattern does not compile (a bug, caught by tests).
    #[error(transparent)]
    Phrase(#[from] PhraseError),
    /// A built-in path pattern does not compile (a bug, caught by tests).
    #[error("credential file patterns: {0}")]
    Regex(#[from] regex::Error),
    /// The combined keyword automaton could not be built.
    #[error("keyword prefilter: {0}")]
    Prefilter(#[from] aho_corasick::BuildError),
}

/// A finding before it enters the audit chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The detector.
    pub detector: DetectorId,
    /// Final severity (after floor and cap).
    pub severity: Severity,
    /// One line for people.
    pub summary: String,
    /// Where and what, at most ten items; never a secret.
    pub evidence: Vec<Map<String, Value>>,
    /// `direct` or `indirect` for SEC-01 and SEC-05.
    pub vector: Option<String>,
    /// `event_id` of the triggering event.
    pub trigger_event_id: String,
    /// `event_type` of the triggering event.
    pub trigger_event_type: String,
}

/// Every detector, ready to inspect events.
pub struct Sentinel {
    enabled: [bool; DetectorId::ALL.len()],
    bounds: [SeverityBounds; DetectorId::ALL.len()],
    redactor: Redactor,
    injection: Injection,
    jailbreak: Jailbreak,
    commands: Commands,
    credential_files: CredentialFiles,
    shadow_ai: ShadowAi,
    large_upload: LargeUpload,
    catalog: ProviderCatalog,
    content_keywords: Combined,
    command_keywords: Combined,
}

/// Every PII class hashed: excerpts quoted in findings lose credentials and
/// personal data alike, and the scanner looks for every class (SEC-23).
const EXCERPT_PII: PiiConfig = PiiConfig {
    email: PiiMode::Hash,
    phone: PiiMode::Hash,
    card_number: PiiMode::Hash,
    iban: PiiMode::Hash,
    national_id: PiiMode::Hash,
};

impl Sentinel {
    /// Builds every detector from the config; `key` keys the hash prefixes
    /// in evidence and excerpt tokens (the same key as the redactors', so
    /// they correlate).
    pub fn new(config: &SentinelConfig, key: &RedactionKey) -> Result<Sentinel, SentinelError> {
        let extra = match &config.rules_file {
            Some(p) => Some(gitleaks::load(p)?),
            None => None,
        };
        let mut enabled = [true; DetectorId::ALL.len()];
        let mut bounds = [SeverityBounds::default(); DetectorId::ALL.len()];
        for id in DetectorId::ALL {
            let c = config.detector(id);
            enabled[id.index()] = c.enabled;
            bounds[id.index()] = c.bounds();
        }
        let redactor = Redactor::with_rules(extra, EXCERPT_PII, key)?;
        let injection = Injection::new()?;
        let jailbreak = Jailbreak::new()?;
        let commands = Commands::new()?;
        let on = |id: DetectorId| enabled[id.index()];
        let scans = on(DetectorId::CredentialExposure) || on(DetectorId::PiiLeakage);
        // Injection and jailbreak phrases matter in prompts and third-party
        // content, command phrases in commands; other text needs only the
        // scanner's own keywords.
        let secret: &[(String, u16)] = if scans {
            redactor.scanner().keywords()
        } else {
            &[]
        };
        let content_keywords = Combined::new(
            secret,
            if on(DetectorId::PromptInjection) {
                injection.keywords()
            } else {
                &[]
            },
            if on(DetectorId::Jailbreak) {
                jailbreak.keywords()
            } else {
                &[]
            },
            &[],
        )?;
        let command_keywords = Combined::new(
            secret,
            &[],
            &[],
            if on(DetectorId::DangerousCommand) {
                commands.keywords()
            } else {
                &[]
            },
        )?;
        Ok(Sentinel {
            enabled,
            bounds,
            redactor,
            injection,
            jailbreak,
            commands,
            credential_files: CredentialFiles::new(&config.credential_readers)?,
            shadow_ai: ShadowAi::new(
                &config.allowed_providers,
                u64::try_from(config.shadow_ai_repeat_interval.as_nanos()).unwrap_or(u64::MAX),
            ),
            large_upload: LargeUpload::new(config.upload_threshold_bytes),
            catalog: ProviderCatalog::builtin(),
            content_keywords,
            command_keywords,
        })
    }

    fn on(&self, id: DetectorId) -> bool {
        self.enabled[id.index()]
    }

    /// Inspects one log record; records that carry no OISP event, and
    /// findings themselves, yield nothing.
    pub fn inspect(&mut self, rec: &LogRecord) -> Vec<Finding> {
        let Some(ev) = EventView::from_record(rec) else {
            return Vec::new();
        };
        if ev.event_type == oispd_semconv::event::event_type::SECURITY_FINDING {
            return Vec::new();
        }
        let mut hits: [Vec<Hit>; DetectorId::ALL.len()] = Default::default();
        let scan_creds = self.on(DetectorId::CredentialExposure);
        let scan_pii = self.on(DetectorId::PiiLeakage);
        let mut detections: Vec<Detection<'_>> = Vec::new();
        let mut phrases: Vec<PhraseMatch> = Vec::new();
        let mut trig = Triggers::default();
        let this = &*self;
        for_each_segment(&ev, &mut |seg| {
            let text = match seg.content {
                Content::Text(t) => t,
                Content::Redacted { reason, detector } => {
                    if scan_creds && credentials::applies(seg.source) {
                        credentials::inspect_marker(
                            reason,
                            detector,
                            seg,
                            &mut hits[DetectorId::CredentialExposure.index()],
                        );
                    }
                    if scan_pii && pii_leak::applies(seg.source) {
                        pii_leak::inspect_marker(
                            reason,
                            detector,
                            seg,
                            &mut hits[DetectorId::PiiLeakage.index()],
                        );
                    }
                    return;
                }
            };
            let creds = scan_creds && credentials::applies(seg.source);
            let pii = scan_pii && pii_leak::applies(seg.source);
            match seg.source {
                Source::UserPrompt | Source::ToolOutput | Source::Retrieved => {
                    this.content_keywords.run(text, &mut trig)
                }
                Source::Command => this.command_keywords.run(text, &mut trig),
                _ => {
                    trig.clear();
                    if creds || pii {
                        this.redactor.scanner().triggers(text, &mut trig.secret);
                    }
                }
            }
            let tokens = text.contains(TOKEN_PREFIX);
            if creds || pii {
                this.redactor
                    .scanner()
                    .scan_triggered(text, &trig.secret, &mut detections);
                if creds {
                    let h = &mut hits[DetectorId::CredentialExposure.index()];
                    credentials::inspect(text, &detections, &this.redactor, seg, h);
                    if tokens {
                        credentials::inspect_tokens(text, seg, h);
                    }
                }
                if pii {
                    let h = &mut hits[DetectorId::PiiLeakage.index()];
                    pii_leak::inspect(&detections, seg, h);
                    if tokens {
                        pii_leak::inspect_tokens(text, seg, h);
                    }
                }
            }
            if this.on(DetectorId::PromptInjection) {
                this.injection.inspect(
                    text,
                    seg,
                    &trig.injection,
                    &this.redactor,
                    &mut phrases,
                    &mut hits[DetectorId::PromptInjection.index()],
                );
            }
            if this.on(DetectorId::Jailbreak) {
                this.jailbreak.inspect(
                    text,
                    seg,
                    &trig.jailbreak,
                    &this.redactor,
                    &mut phrases,
                    &mut hits[DetectorId::Jailbreak.index()],
                );
            }
            if this.on(DetectorId::InvisibleUnicode) {
                unicode::inspect(
                    text,
                    seg,
                    &this.redactor,
                    &mut hits[DetectorId::InvisibleUnicode.index()],
                );
            }
            if this.on(DetectorId::DangerousCommand) {
                let h = &mut hits[DetectorId::DangerousCommand.index()];
                this.commands
                    .inspect(text, seg, &trig.command, &this.redactor, &mut phrases, h);
                if seg.source == Source::FilePath {
                    this.commands.inspect_file(&ev, text, seg, h);
                }
            }
            if this.on(DetectorId::CredentialFileAccess) {
                this.credential_files.inspect(
                    &ev,
                    text,
                    seg,
                    &mut hits[DetectorId::CredentialFileAccess.index()],
                );
            }
        });
        let shadow = self.on(DetectorId::ShadowAi);
        let upload = self.on(DetectorId::LargeUpload);
        if shadow || upload {
            let provider = provider_of(&ev, &self.catalog);
            if shadow {
                let time = if rec.time_unix_nano != 0 {
                    rec.time_unix_nano
                } else {
                    rec.observed_time_unix_nano
                };
                self.shadow_ai.inspect(
                    &ev,
                    provider.as_ref(),
                    time,
                    &mut hits[DetectorId::ShadowAi.index()],
                );
            }
            if upload {
                self.large_upload.inspect(
                    &ev,
                    provider.as_ref(),
                    &mut hits[DetectorId::LargeUpload.index()],
                );
            }
        }
        let mut findings = Vec::new();
        for id in DetectorId::ALL {
            let h = &hits[id.index()];
            let Some(worst) = h.iter().map(|h| h.severity).max() else {
                continue;
            };
            let severity = self.bounds[id.index()].apply(worst);
            if severity == Severity::None {
                continue;
            }
            let mut evidence: Vec<Map<String, Value>> = h
                .iter()
                .take(MAX_EVIDENCE)
                .map(|h| h.evidence.clone())
                .collect();
            for e in &mut evidence {
                for v in e.values_mut() {
                    self.sanitize(v);
                }
            }
            let summary = summary(id, &ev, h);
            findings.push(Finding {
                detector: id,
                severity,
                summary: self.redactor.redact_text(&summary).unwrap_or(summary),
                evidence,
                vector: vector(h),
                trigger_event_id: ev.event_id.to_string(),
                trigger_event_type: ev.event_type.to_string(),
            });
        }
        findings
    }

    /// Redacts every string of an evidence value: excerpts are cut from
    /// redacted text already, but paths, field names (map keys), tool and
    /// process names and marker detectors come from the event as they are.
    /// Findings are rare, so this costs nothing on ordinary records.
    fn sanitize(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Some(r) = self.redactor.redact_text(s) {
                    *s = r;
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.sanitize(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.sanitize(x)),
            _ => {}
        }
    }
}

/// `indirect` if any hit came from third-party content, else `direct`, for
/// the detectors that tell them apart.
fn vector(hits: &[Hit]) -> Option<String> {
    let vectors: Vec<&str> = hits
        .iter()
        .filter_map(|h| h.evidence.get("vector").and_then(Value::as_str))
        .collect();
    if vectors.is_empty() {
        None
    } else if vectors.contains(&"indirect") {
        Some("indirect".to_string())
    } else {
        Some("direct".to_string())
    }
}

/// Where the text of the first hit came from, for injection summaries.
fn origin(ev: &EventView<'_>, hits: &[Hit]) -> String {
    let indirect = vector(hits).as_deref() == Some("indirect");
    let tool = ev
        .tool_name()
        .map(|t| format!(" of tool {t}"))
        .unwrap_or_default();
    match (indirect, ev.event_type) {
        (true, "agent.tool_result") => format!("a tool result{tool}"),
        (true, "agent.rag_retrieve") => "retrieved content".to_string(),
        (true, _) => format!("third-party content in {}", ev.event_type),
        (false, t) => format!("a user message in {t}"),
    }
}

fn quoted_excerpt(hits: &[Hit]) -> String {
    hits.iter()
        .find_map(|h| h.evidence.get("excerpt").and_then(Value::as_str))
        .map(|e| format!(": {e:?}"))
        .unwrap_or_default()
}

fn summary(id: DetectorId, ev: &EventView<'_>, hits: &[Hit]) -> String {
    match id {
        DetectorId::PromptInjection => {
            let kind = if vector(hits).as_deref() == Some("indirect") {
                "Indirect prompt injection"
            } else {
                "Prompt injection"
            };
            format!("{kind} in {}{}", origin(ev, hits), quoted_excerpt(hits))
        }
        DetectorId::Jailbreak => format!(
            "Jailbreak attempt in {}{}",
            origin(ev, hits),
            quoted_excerpt(hits)
        ),
        DetectorId::CredentialExposure => credentials::summary(ev.event_type, hits),
        DetectorId::PiiLeakage => pii_leak::summary(ev.event_type, ev.provider_name(), hits),
        DetectorId::InvisibleUnicode => unicode::summary(ev.event_type, hits),
        DetectorId::DangerousCommand => commands::summary(ev, hits),
        DetectorId::CredentialFileAccess => credential_files::summary(ev, hits),
        DetectorId::ShadowAi => shadow_summary(ev, hits),
        DetectorId::LargeUpload => upload_summary(ev, hits),
    }
}
