//! Extra credential rules from a gitleaks-format TOML file (`rules_file`),
//! so teams reuse the rules they already maintain.
//!
//! Supported per rule: `id`, `regex`, `keywords`, `secretGroup` (default:
//! the first non-empty group, as gitleaks does), `entropy` (a secret whose
//! Shannon entropy is at or below it is ignored), and `[[rules.allowlists]]`
//! (also the older single `[rules.allowlist]`) with `regexes`,
//! `regexTarget = secret|match|line`, `stopwords` and `condition = OR|AND`.
//! The file's top-level `[allowlist]` / `[[allowlists]]` apply to every rule
//! of the file, never to oispd's built-in rules: a rules file can add
//! redaction, not take it away.
//!
//! Not applicable to a stream of records: `paths` and `commits` in
//! allowlists (they never match, so an `AND` allowlist that lists them never
//! applies) and rules that only match file paths (`path`). A rule whose
//! regex uses syntax the `regex` crate lacks (lookaround, backreferences) is
//! skipped and counted, never fatal; the caller logs the count.

use super::rules::{shannon_entropy, Candidate, Extract};
use super::scanner::{Check, Rule};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// Compiled size limit per rule regex; the public rule set's largest
/// patterns need more than the `regex` crate's default.
const REGEX_SIZE_LIMIT: usize = 64 << 20;

/// Tier of gitleaks rules: after oispd's specific formats, before the
/// generic assignment rules.
const GITLEAKS_TIER: u8 = 1;

/// Why a rule of the file was not loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedRule {
    /// The rule id.
    pub id: String,
    /// Why it was skipped.
    pub reason: String,
}

/// A rule ready for the scanner, with its keywords.
pub(crate) struct LoadedRule {
    pub rule: Rule,
    pub keywords: Vec<String>,
}

/// The usable rules of a gitleaks file and the ones that were skipped.
pub struct GitleaksRules {
    pub(crate) rules: Vec<LoadedRule>,
    /// Rules that could not be used, with the reason.
    pub skipped: Vec<SkippedRule>,
}

impl GitleaksRules {
    /// Number of rules loaded.
    pub fn loaded(&self) -> usize {
        self.rules.len()
    }

    /// Ids of the rules loaded, in file order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.rule.kind.as_str())
    }
}

/// A problem loading a rules file.
#[derive(Debug, thiserror::Error)]
pub enum GitleaksError {
    /// The file could not be read.
    #[error("reading rules file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid gitleaks TOML.
    #[error("parsing rules file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the TOML parser said.
        message: String,
    },
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    allowlist: Option<RawAllowlist>,
    #[serde(default)]
    allowlists: Vec<RawAllowlist>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    id: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    allowlist: Option<RawAllowlist>,
    #[serde(default)]
    allowlists: Vec<RawAllowlist>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAllowlist {
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    regex_target: Option<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    commits: Vec<String>,
}

/// What an allowlist regex is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Secret,
    Match,
    Line,
}

/// A compiled allowlist.
pub(crate) struct Allowlist {
    regexes: Vec<Regex>,
    target: Target,
    stopwords: Vec<String>,
    and: bool,
    /// Lists paths or commits, which a record never matches.
    needs_path_or_commit: bool,
}

impl Allowlist {
    fn compile(raw: &RawAllowlist) -> Result<Allowlist, String> {
        let target = match raw.regex_target.as_deref() {
            None | Some("secret") => Target::Secret,
            Some("match") => Target::Match,
            Some("line") => Target::Line,
            Some(other) => return Err(format!("unknown regexTarget {other:?}")),
        };
        let and = match raw.condition.as_deref() {
            None => false,
            Some(c) if c.eq_ignore_ascii_case("or") => false,
            Some(c) if c.eq_ignore_ascii_case("and") => true,
            Some(other) => return Err(format!("unknown allowlist condition {other:?}")),
        };
        let regexes = raw
            .regexes
            .iter()
            .map(|r| compile(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Allowlist {
            regexes,
            target,
            stopwords: raw.stopwords.iter().map(|s| s.to_lowercase()).collect(),
            and,
            needs_path_or_commit: !raw.paths.is_empty() || !raw.commits.is_empty(),
        })
    }

    /// True when this allowlist excuses the candidate.
    fn excuses(&self, c: &Candidate<'_>, matched: &str) -> bool {
        let regex_hit = !self.regexes.is_empty() && {
            let hay = match self.target {
                Target::Secret => c.secret,
                Target::Match => matched,
                Target::Line => line_around(c.text, c.start),
            };
            self.regexes.iter().any(|r| r.is_match(hay))
        };
        let stop_hit = !self.stopwords.is_empty() && {
            let lower = c.secret.to_lowercase();
            self.stopwords.iter().any(|s| lower.contains(s.as_str()))
        };
        if self.and {
            if self.needs_path_or_commit {
                return false;
            }
            let mut any = false;
            let mut all = true;
            if !self.regexes.is_empty() {
                any = true;
                all &= regex_hit;
            }
            if !self.stopwords.is_empty() {
                any = true;
                all &= stop_hit;
            }
            any && all
        } else {
            regex_hit || stop_hit
        }
    }
}

/// How far the line of a candidate is looked for on each side: a bound, so
/// that many candidates on one long line cost linear time. A cut line can
/// only make an allowlist excuse less, never hide more.
const LINE_REACH: usize = 1024;

/// The line of `text` that contains byte `pos`, at most [`LINE_REACH`]
/// bytes on each side.
fn line_around(text: &str, pos: usize) -> &str {
    let mut lo = pos.saturating_sub(LINE_REACH);
    while !text.is_char_boundary(lo) {
        lo += 1;
    }
    let mut hi = pos.saturating_add(LINE_REACH).min(text.len());
    while !text.is_char_boundary(hi) {
        hi -= 1;
    }
    let start = text[lo..pos].rfind('\n').map_or(lo, |i| lo + i + 1);
    let end = text[pos..hi].find('\n').map_or(hi, |i| pos + i);
    &text[start..end]
}

/// A gitleaks rule's validation: entropy threshold and allowlists (its own
/// and the file's).
pub(crate) struct GitleaksCheck {
    entropy: Option<f64>,
    allowlists: Vec<Arc<Allowlist>>,
}

impl GitleaksCheck {
    /// True when the candidate is a finding for this rule.
    pub(crate) fn accepts(&self, c: &Candidate<'_>, matched: &str) -> bool {
        if let Some(min) = self.entropy {
            if min > 0.0 && shannon_entropy(c.secret) <= min {
                return false;
            }
        }
        !self.allowlists.iter().any(|a| a.excuses(c, matched))
    }
}

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(s) => s
                .lines()
                .last()
                .unwrap_or("syntax error")
                .trim()
                .to_string(),
            other => other.to_string(),
        })
}

/// Parses gitleaks TOML text. `origin` names the source in errors.
pub fn parse(text: &str, origin: &str) -> Result<GitleaksRules, GitleaksError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| GitleaksError::Parse {
        path: origin.to_string(),
        message: e.to_string().trim().to_string(),
    })?;
    let mut skipped = Vec::new();
    let mut global: Vec<Arc<Allowlist>> = Vec::new();
    for a in raw.allowlist.iter().chain(raw.allowlists.iter()) {
        match Allowlist::compile(a) {
            Ok(a) => global.push(Arc::new(a)),
            Err(reason) => skipped.push(SkippedRule {
                id: "(global allowlist)".to_string(),
                reason,
            }),
        }
    }
    let mut rules = Vec::new();
    for r in raw.rules {
        match load_rule(&r, &global) {
            Ok(rule) => rules.push(rule),
            Err(reason) => skipped.push(SkippedRule { id: r.id, reason }),
        }
    }
    Ok(GitleaksRules { rules, skipped })
}

/// Reads and parses a gitleaks TOML file.
pub fn load(path: &Path) -> Result<GitleaksRules, GitleaksError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| GitleaksError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

fn load_rule(r: &RawRule, global: &[Arc<Allowlist>]) -> Result<LoadedRule, String> {
    if r.path.is_some() {
        return Err("matches file paths, which records do not have".to_string());
    }
    let Some(pattern) = r.regex.as_deref() else {
        return Err("has no regex".to_string());
    };
    let regex = compile(pattern).map_err(|e| format!("regex not supported: {e}"))?;
    let extract = match r.secret_group {
        Some(0) | None => Extract::FirstNonEmpty,
        Some(n) if n < regex.captures_len() => Extract::Group(n),
        Some(n) => return Err(format!("secretGroup {n} does not exist in its regex")),
    };
    let mut allowlists = Vec::new();
    for a in r.allowlist.iter().chain(r.allowlists.iter()) {
        allowlists.push(Arc::new(Allowlist::compile(a)?));
    }
    allowlists.extend(global.iter().cloned());
    Ok(LoadedRule {
        keywords: r.keywords.iter().map(|k| k.to_lowercase()).collect(),
        rule: Rule {
            kind: r.id.clone(),
            regex,
            extract,
            check: Check::Gitleaks(GitleaksCheck {
                entropy: r.entropy,
                allowlists,
            }),
            tier: GITLEAKS_TIER,
        },
    })
}
