//! The scanner: finds credentials and personal data in one string.
//!
//! Fast path: one Aho-Corasick pass (ASCII case-insensitive) over the
//! keywords of every rule decides which regexes run at all, so ordinary text
//! without `sk-`, `AKIA`, `password`, `bearer`... costs a single linear scan.
//! Rules without keywords (possible in a gitleaks file) always run. PII has
//! its own gates (see [`super::pii`]).
//!
//! Overlaps are resolved by tier (specific key formats, then gitleaks rules,
//! then assignments and headers, then PII), then by position and length, so
//! `api_key = "sk-proj-..."` is reported once, as an `openai_api_key`.

use super::gitleaks::{GitleaksCheck, GitleaksRules};
use super::pii::{PiiClass, PiiMatch, PiiScanner, PiiSet};
use super::rules::{Candidate, Extract, BUILTIN_RULES};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

/// What a detection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A credential: always redacted.
    Secret,
    /// Personal data of one class: redacted as the config says.
    Pii(PiiClass),
}

/// One credential or piece of personal data found in a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detection<'s> {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// The rule or class name (`aws_secret_key`, `email`, a gitleaks id).
    pub kind: &'s str,
    /// Credential or personal data.
    pub class: Class,
}

/// How a rule validates its candidates.
pub(crate) enum Check {
    /// A built-in validation function.
    Builtin(fn(&Candidate<'_>) -> bool),
    /// A gitleaks rule's entropy threshold and allowlists.
    Gitleaks(GitleaksCheck),
}

/// A compiled credential rule.
pub(crate) struct Rule {
    pub kind: String,
    pub regex: Regex,
    pub extract: Extract,
    pub check: Check,
    pub tier: u8,
}

/// Tier of PII detections (lowest priority).
const PII_TIER: u8 = 3;

/// Credential and PII detection over strings. Immutable and shareable.
pub struct Scanner {
    rules: Vec<Rule>,
    prefilter: Option<AhoCorasick>,
    /// Aho-Corasick pattern id -> rules that keyword triggers.
    pattern_rules: Vec<Vec<u16>>,
    /// Rules without keywords: they always run.
    unconditional: Vec<u16>,
    pii: PiiScanner,
    pii_set: PiiSet,
    keywords: Vec<(String, u16)>,
}

/// A problem building a scanner.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    /// A built-in regex did not compile (a bug, caught by tests).
    #[error("built-in rule {kind}: {source}")]
    Builtin {
        /// The rule.
        kind: &'static str,
        /// The regex error.
        #[source]
        source: regex::Error,
    },
    /// The keyword automaton could not be built.
    #[error("keyword prefilter: {0}")]
    Prefilter(#[from] aho_corasick::BuildError),
    /// A PII regex did not compile (a bug, caught by tests).
    #[error("PII detector: {0}")]
    Pii(#[source] regex::Error),
}

impl Scanner {
    /// Builds a scanner from the built-in rules, the gitleaks rules if any,
    /// and the PII classes to detect.
    pub fn new(extra: Option<GitleaksRules>, pii_set: PiiSet) -> Result<Scanner, ScannerError> {
        let mut rules = Vec::with_capacity(BUILTIN_RULES.len());
        let mut keywords: Vec<(String, u16)> = Vec::new();
        let mut unconditional = Vec::new();
        for b in BUILTIN_RULES {
            let regex = Regex::new(b.pattern).map_err(|source| ScannerError::Builtin {
                kind: b.kind,
                source,
            })?;
            let idx = rules.len() as u16;
            keywords.extend(b.keywords.iter().map(|k| (k.to_ascii_lowercase(), idx)));
            rules.push(Rule {
                kind: b.kind.to_string(),
                regex,
                extract: b.extract,
                check: Check::Builtin(b.validate),
                tier: b.tier,
            });
        }
        if let Some(extra) = extra {
            for r in extra.rules {
                let idx = rules.len() as u16;
                if r.keywords.is_empty() {
                    unconditional.push(idx);
                }
                keywords.extend(r.keywords.iter().map(|k| (k.to_ascii_lowercase(), idx)));
                rules.push(r.rule);
            }
        }
        // One automaton pattern per distinct keyword.
        keywords.sort();
        let all_keywords = keywords.clone();
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_rules: Vec<Vec<u16>> = Vec::new();
        for (kw, idx) in keywords {
            if patterns.last() != Some(&kw) {
                patterns.push(kw);
                pattern_rules.push(Vec::new());
            }
            if let Some(list) = pattern_rules.last_mut() {
                if !list.contains(&idx) {
                    list.push(idx);
                }
            }
        }
        let prefilter = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)?,
            )
        };
        Ok(Scanner {
            rules,
            prefilter,
            pattern_rules,
            unconditional,
            pii: PiiScanner::new().map_err(ScannerError::Pii)?,
            pii_set,
            keywords: all_keywords,
        })
    }

    /// The PII classes this scanner looks for.
    pub fn pii_set(&self) -> PiiSet {
        self.pii_set
    }

    /// Number of credential rules (built-in plus loaded).
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Every keyword of every rule, lower-case, with the rule it triggers
    /// (for callers that fold these keywords into a larger prefilter).
    pub fn keywords(&self) -> &[(String, u16)] {
        &self.keywords
    }

    /// The rules whose keywords occur in `text`, appended to `out`.
    pub fn triggers(&self, text: &str, out: &mut Vec<u16>) {
        if let Some(ac) = &self.prefilter {
            // Most strings hold no keyword at all: one leftmost search (which
            // can skip ahead with the automaton's prefilter) settles those,
            // and only a string with a keyword pays for the overlapping
            // search that finds every keyword.
            if !ac.is_match(text) {
                return;
            }
            for m in ac.find_overlapping_iter(text) {
                for idx in &self.pattern_rules[m.pattern().as_usize()] {
                    if !out.contains(idx) {
                        out.push(*idx);
                    }
                }
            }
        }
    }

    /// Finds credentials and PII in `text`: non-overlapping, sorted by
    /// position, appended to `out` (which is cleared first).
    pub fn scan<'s>(&'s self, text: &str, out: &mut Vec<Detection<'s>>) {
        let mut triggered: Vec<u16> = Vec::new();
        self.triggers(text, &mut triggered);
        self.scan_triggered(text, &triggered, out);
    }

    /// [`Scanner::scan`] with the keyword pass already done: `triggered`
    /// lists the rules whose keywords occur (see [`Scanner::keywords`]).
    pub fn scan_triggered<'s>(
        &'s self,
        text: &str,
        triggered: &[u16],
        out: &mut Vec<Detection<'s>>,
    ) {
        out.clear();
        let rules = triggered
            .iter()
            .chain(self.unconditional.iter().filter(|u| !triggered.contains(u)));
        let mut found: Vec<(u8, u16, Detection<'s>)> = Vec::new();
        for &idx in rules {
            let rule = &self.rules[idx as usize];
            for caps in rule.regex.captures_iter(text) {
                let Some((start, end)) = rule.extract.range(&caps) else {
                    continue;
                };
                if start == end || inside_redaction_token(text, start) {
                    continue;
                }
                let cand = Candidate {
                    secret: &text[start..end],
                    text,
                    start,
                };
                let ok = match &rule.check {
                    Check::Builtin(f) => f(&cand),
                    Check::Gitleaks(g) => g.accepts(&cand, caps.get(0).map_or("", |m| m.as_str())),
                };
                if ok {
                    found.push((
                        rule.tier,
                        idx,
                        Detection {
                            start,
                            end,
                            kind: &rule.kind,
                            class: Class::Secret,
                        },
                    ));
                }
            }
        }
        if !self.pii_set.is_empty() {
            let mut pii: Vec<PiiMatch> = Vec::new();
            self.pii.scan(text, self.pii_set, &mut pii);
            for p in pii {
                if inside_redaction_token(text, p.start) {
                    continue;
                }
                found.push((
                    PII_TIER,
                    u16::MAX,
                    Detection {
                        start: p.start,
                        end: p.end,
                        kind: p.class.as_str(),
                        class: Class::Pii(p.class),
                    },
                ));
            }
        }
        if found.is_empty() {
            return;
        }
        found.sort_by(|a, b| {
            (a.0, a.2.start, std::cmp::Reverse(a.2.end), a.1).cmp(&(
                b.0,
                b.2.start,
                std::cmp::Reverse(b.2.end),
                b.1,
            ))
        });
        for (_, _, d) in found {
            if out.iter().all(|o| d.end <= o.start || d.start >= o.end) {
                out.push(d);
            }
        }
        out.sort_by_key(|d| d.start);
    }
}

/// True when `pos` falls inside a `[REDACTED:...]` token left by an earlier
/// redaction pass, so that running twice changes nothing.
fn inside_redaction_token(text: &str, pos: usize) -> bool {
    const OPEN: &str = "[REDACTED:";
    let head = &text[..pos];
    match head.rfind(OPEN) {
        Some(open) => !head[open..].contains(']'),
        None => false,
    }
}
