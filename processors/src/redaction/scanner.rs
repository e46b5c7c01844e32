//! The scanner: finds credentials and personal data in one string and in
//! the forms it decodes to.
//!
//! Fast path: one Aho-Corasick pass (ASCII case-insensitive) over the
//! keywords of every rule decides which regexes run at all, and one pass
//! over the bytes ([`Structure`]) finds what the decoders need (escapes,
//! `%XX`, base64 runs) and the shape of an AWS secret key. Ordinary text
//! without `sk-`, `AKIA`, `password`, `bearer`, escapes or long base64 runs
//! costs those two linear passes. Rules without keywords (possible in a
//! gitleaks file) always run. PII has its own gates (see [`super::pii`]).
//!
//! Views: the raw string, then its JSON-unescaped, percent-decoded and
//! base64-decoded views, nested up to [`MAX_VIEW_DEPTH`] decodings, each
//! scanned the same way; a detection in a view is mapped back to the raw
//! bytes it came from ([`super::views`]).
//!
//! Cost is linear in the text: every regex runs once per view, well-formed
//! tokens of an earlier pass are found in one pass and cut out of
//! candidates with a binary search, overlapping detections are merged after
//! one sort. Each call has a budget of view bytes; past it the scan stops
//! with [`OverBudget`] and the caller fails closed.
//!
//! Overlapping detections are merged into one (so no part of either is
//! left), named after the most specific: by tier (specific key formats,
//! then gitleaks rules, then assignments and headers, then PII), then rule
//! order, so `api_key = "sk-proj-..."` is reported once, as an
//! `openai_api_key`.

use super::gitleaks::{GitleaksCheck, GitleaksRules};
use super::pii::{PiiClass, PiiMatch, PiiScanner, PiiSet};
use super::rewrite::{find_tokens, token_finder, DETECTOR_BUDGET, REASON_TOO_LARGE};
use super::rules::{Candidate, Extract, Gate, BUILTIN_RULES};
use super::views::{base64_view, binary_blob, json_unescape, percent_decode, Structure, View};
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
    /// Byte offset of the first byte (in the string as given).
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
/// Decodings applied on top of each other at most (a base64 run inside
/// double-escaped JSON is three).
pub const MAX_VIEW_DEPTH: u8 = 3;
/// Bytes of text (raw and decoded views together) one record may cost:
/// beyond this the rest of the record is replaced unscanned.
pub const SCAN_BUDGET_BYTES: usize = 32 << 20;

/// The scan budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget;

/// Bytes of text a record may still cost the scanner.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    remaining: usize,
    /// View bytes scanned so far (raw and decoded).
    pub scanned: usize,
}

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Budget {
        Budget {
            remaining: bytes,
            scanned: 0,
        }
    }

    /// Takes `bytes` from the budget, or fails without taking anything.
    pub fn charge(&mut self, bytes: usize) -> Result<(), OverBudget> {
        if bytes > self.remaining {
            return Err(OverBudget);
        }
        self.remaining -= bytes;
        self.scanned += bytes;
        Ok(())
    }

    /// True when `bytes` more would not fit.
    pub fn exhausted_by(&self, bytes: usize) -> bool {
        bytes > self.remaining
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(SCAN_BUDGET_BYTES)
    }
}

/// Credential and PII detection over strings. Immutable and shareable.
pub struct Scanner {
    rules: Vec<Rule>,
    prefilter: Option<AhoCorasick>,
    /// Aho-Corasick pattern id -> rules that keyword triggers.
    pattern_rules: Vec<Vec<u16>>,
    /// Rules without keywords: they always run.
    unconditional: Vec<u16>,
    /// Rules gated on the shape of an AWS secret key.
    aws_shape: Vec<u16>,
    pii: PiiScanner,
    pii_set: PiiSet,
    keywords: Vec<(String, u16)>,
    /// Every detector name a token or marker of this scanner may carry,
    /// sorted.
    kinds: Vec<String>,
    /// Finds `[REDACTED:` (see [`token_finder`]).
    token_finder: memchr::memmem::Finder<'static>,
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

/// One detection before merging, in raw offsets.
#[derive(Clone, Copy)]
struct Found<'s> {
    start: usize,
    end: usize,
    /// (tier, rule order): lower is more specific.
    rank: (u8, u16),
    kind: &'s str,
    class: Class,
}

/// Scratch space of one scan.
struct Pass<'s, 'b> {
    found: Vec<Found<'s>>,
    tokens: Vec<(usize, usize)>,
    budget: &'b mut Budget,
}

impl Scanner {
    /// Builds a scanner from the built-in rules, the gitleaks rules if any,
    /// and the PII classes to detect.
    pub fn new(extra: Option<GitleaksRules>, pii_set: PiiSet) -> Result<Scanner, ScannerError> {
        let mut rules = Vec::with_capacity(BUILTIN_RULES.len());
        let mut keywords: Vec<(String, u16)> = Vec::new();
        let mut unconditional = Vec::new();
        let mut aws_shape = Vec::new();
        for b in BUILTIN_RULES {
            let regex = Regex::new(b.pattern).map_err(|source| ScannerError::Builtin {
                kind: b.kind,
                source,
            })?;
            let idx = rules.len() as u16;
            match b.gate {
                Gate::Keywords => {
                    keywords.extend(b.keywords.iter().map(|k| (k.to_ascii_lowercase(), idx)))
                }
                Gate::AwsSecretShape => aws_shape.push(idx),
            }
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
        let mut kinds: Vec<String> = rules.iter().map(|r| r.kind.clone()).collect();
        kinds.extend(PiiClass::ALL.iter().map(|c| c.as_str().to_string()));
        kinds.push(super::walk::SENSITIVE_FIELD.to_string());
        kinds.push(REASON_TOO_LARGE.to_string());
        kinds.push(DETECTOR_BUDGET.to_string());
        kinds.sort();
        kinds.dedup();
        Ok(Scanner {
            rules,
            prefilter,
            pattern_rules,
            unconditional,
            aws_shape,
            pii: PiiScanner::new().map_err(ScannerError::Pii)?,
            pii_set,
            keywords: all_keywords,
            kinds,
            token_finder: token_finder(),
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

    /// True when `name` is a detector this scanner writes into tokens and
    /// markers.
    pub fn is_known_kind(&self, name: &str) -> bool {
        self.kinds
            .binary_search_by(|k| k.as_str().cmp(name))
            .is_ok()
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

    /// Finds credentials and PII in `text` and its decoded views:
    /// non-overlapping, sorted by position, appended to `out` (which is
    /// cleared first). A text too large for one budget is scanned as far as
    /// the budget goes.
    pub fn scan<'s>(&'s self, text: &str, out: &mut Vec<Detection<'s>>) {
        let mut triggered: Vec<u16> = Vec::new();
        self.triggers(text, &mut triggered);
        self.scan_triggered(text, &triggered, out);
    }

    /// [`Scanner::scan`] with the keyword pass over `text` already done:
    /// `triggered` lists the rules whose keywords occur (see
    /// [`Scanner::keywords`]).
    pub fn scan_triggered<'s>(
        &'s self,
        text: &str,
        triggered: &[u16],
        out: &mut Vec<Detection<'s>>,
    ) {
        let mut budget = Budget::default();
        let _ = self.scan_budgeted(text, Some(triggered), &mut budget, out);
    }

    /// Scans `text` within `budget`. `triggered` is the keyword pass over
    /// `text` if the caller did it. On [`OverBudget`] `out` holds what was
    /// found so far and the caller must not trust the text to be clean.
    pub fn scan_budgeted<'s>(
        &'s self,
        text: &str,
        triggered: Option<&[u16]>,
        budget: &mut Budget,
        out: &mut Vec<Detection<'s>>,
    ) -> Result<(), OverBudget> {
        out.clear();
        let mut pass = Pass {
            found: Vec::new(),
            tokens: Vec::new(),
            budget,
        };
        let result = self.scan_view(text, None, triggered, 0, &mut pass);
        merge(&mut pass.found, out);
        result
    }

    /// Scans one view (`view` is `None` for the raw string) and the views
    /// decoded from it.
    fn scan_view<'s>(
        &'s self,
        text: &str,
        view: Option<&View>,
        triggered: Option<&[u16]>,
        depth: u8,
        pass: &mut Pass<'s, '_>,
    ) -> Result<(), OverBudget> {
        pass.budget.charge(text.len())?;
        // An image (a base64 blob that decodes to binary) decodes to
        // nothing worth a view: its raw text is scanned, no more.
        let structure = if binary_blob(text) {
            Structure::default()
        } else {
            Structure::of(text)
        };
        let mut own = Vec::new();
        let triggered = match triggered {
            Some(t) => t,
            None => {
                self.triggers(text, &mut own);
                &own
            }
        };
        let known = |k: &str| self.is_known_kind(k);
        find_tokens(text, &known, &self.token_finder, &mut pass.tokens);
        let shape: &[u16] = if structure.aws_secret_shape {
            &self.aws_shape
        } else {
            &[]
        };
        let rules = triggered
            .iter()
            .chain(self.unconditional.iter().filter(|u| !triggered.contains(u)))
            .chain(shape.iter());
        for &idx in rules {
            self.run_rule(idx, text, view, pass);
        }
        if !self.pii_set.is_empty() {
            let mut pii: Vec<PiiMatch> = Vec::new();
            self.pii.scan(text, self.pii_set, &mut pii);
            for p in pii {
                if overlaps_token(&pass.tokens, p.start, p.end) {
                    continue;
                }
                let (start, end) = raw_range(view, p.start, p.end);
                pass.found.push(Found {
                    start,
                    end,
                    rank: (PII_TIER, u16::MAX),
                    kind: p.class.as_str(),
                    class: Class::Pii(p.class),
                });
            }
        }
        if depth >= MAX_VIEW_DEPTH {
            return Ok(());
        }
        if structure.escapes {
            let v = json_unescape(text, view);
            self.scan_view(&v.text, Some(&v), None, depth + 1, pass)?;
        }
        if structure.percent {
            let v = percent_decode(text, view);
            self.scan_view(&v.text, Some(&v), None, depth + 1, pass)?;
        }
        for run in &structure.runs {
            if pass.budget.exhausted_by(run.end - run.start) {
                return Err(OverBudget);
            }
            if let Some(v) = base64_view(text, run, view) {
                self.scan_view(&v.text, Some(&v), None, depth + 1, pass)?;
            }
        }
        Ok(())
    }

    /// Runs rule `idx` over one view; candidates lose the parts that are
    /// well-formed tokens of an earlier pass.
    fn run_rule<'s>(&'s self, idx: u16, text: &str, view: Option<&View>, pass: &mut Pass<'s, '_>) {
        let rule = &self.rules[idx as usize];
        for caps in rule.regex.captures_iter(text) {
            let Some((start, end)) = rule.extract.range(&caps) else {
                continue;
            };
            let mut pieces = [(0usize, 0usize); 1];
            let owned;
            let pieces: &[(usize, usize)] = if pass.tokens.is_empty() {
                pieces[0] = (start, end);
                &pieces
            } else {
                owned = outside_tokens(&pass.tokens, start, end);
                &owned
            };
            for &(s, e) in pieces {
                let (s, e) = trim(text, s, e);
                if !text[s..e].bytes().any(|b| b.is_ascii_alphanumeric()) {
                    continue;
                }
                let cand = Candidate {
                    secret: &text[s..e],
                    text,
                    start: s,
                };
                let ok = match &rule.check {
                    Check::Builtin(f) => f(&cand),
                    Check::Gitleaks(g) => g.accepts(&cand, caps.get(0).map_or("", |m| m.as_str())),
                };
                if ok {
                    let (rs, re) = raw_range(view, s, e);
                    pass.found.push(Found {
                        start: rs,
                        end: re,
                        rank: (rule.tier, idx),
                        kind: &rule.kind,
                        class: Class::Secret,
                    });
                }
            }
        }
    }
}

/// The raw range of `start..end` of a view (`None` is the raw string).
fn raw_range(view: Option<&View>, start: usize, end: usize) -> (usize, usize) {
    match view {
        Some(v) => v.raw_range(start, end),
        None => (start, end),
    }
}

/// `start..end` without surrounding whitespace.
fn trim(text: &str, start: usize, end: usize) -> (usize, usize) {
    let s = &text[start..end];
    let lead = s.len() - s.trim_start().len();
    let t = s.trim();
    (start + lead, start + lead + t.len())
}

/// The first token that ends after `pos` (tokens are sorted, disjoint).
fn first_token_after(tokens: &[(usize, usize)], pos: usize) -> usize {
    tokens.partition_point(|t| t.1 <= pos)
}

/// True when `start..end` overlaps a token.
fn overlaps_token(tokens: &[(usize, usize)], start: usize, end: usize) -> bool {
    tokens
        .get(first_token_after(tokens, start))
        .is_some_and(|t| t.0 < end)
}

/// The parts of `start..end` outside every token.
fn outside_tokens(tokens: &[(usize, usize)], start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut cur = start;
    for t in &tokens[first_token_after(tokens, start)..] {
        if t.0 >= end {
            break;
        }
        if t.0 > cur {
            out.push((cur, t.0));
        }
        cur = cur.max(t.1);
    }
    if cur < end {
        out.push((cur, end));
    }
    out
}

/// Merges overlapping detections (after one sort) into `out`: each merged
/// range is named after its most specific detection, a credential before
/// personal data.
fn merge<'s>(found: &mut [Found<'s>], out: &mut Vec<Detection<'s>>) {
    found.sort_unstable_by_key(|f| (f.start, f.end));
    let mut cur: Option<Found<'s>> = None;
    for f in found.iter().copied() {
        match cur.as_mut() {
            Some(c) if f.start < c.end => {
                c.end = c.end.max(f.end);
                if f.rank < c.rank {
                    c.rank = f.rank;
                    c.kind = f.kind;
                    c.class = f.class;
                }
            }
            _ => {
                if let Some(c) = cur.take() {
                    out.push(detection(c));
                }
                cur = Some(f);
            }
        }
    }
    if let Some(c) = cur {
        out.push(detection(c));
    }
}

fn detection(f: Found<'_>) -> Detection<'_> {
    Detection {
        start: f.start,
        end: f.end,
        kind: f.kind,
        class: f.class,
    }
}
