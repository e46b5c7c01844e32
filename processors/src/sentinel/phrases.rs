//! Named regex patterns behind a keyword prefilter, shared by the phrase
//! detectors (injection, jailbreak, dangerous commands): one Aho-Corasick
//! pass over the text picks the patterns worth running, so text without any
//! keyword costs one linear scan.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

/// A pattern as written in a detector's table.
pub(crate) struct Phrase {
    /// Pattern name, reported as the evidence `kind`.
    pub name: &'static str,
    /// The regex (write `(?i)` for case-insensitive patterns).
    pub pattern: &'static str,
    /// Case-insensitive keywords, one of which must occur for the regex to run.
    pub keywords: &'static [&'static str],
}

/// A compiled phrase table.
pub(crate) struct PhraseSet {
    prefilter: AhoCorasick,
    keyword_phrases: Vec<Vec<usize>>,
    regexes: Vec<Regex>,
    names: Vec<&'static str>,
}

/// A match of one phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PhraseMatch {
    /// Index of the phrase in its table.
    pub phrase: usize,
    /// Byte range.
    pub start: usize,
    /// Byte range end.
    pub end: usize,
}

/// A phrase table that does not compile (a bug, caught by tests).
#[derive(Debug, thiserror::Error)]
pub enum PhraseError {
    /// A regex does not compile.
    #[error("pattern {name}: {source}")]
    Regex {
        /// The pattern.
        name: &'static str,
        /// The error.
        #[source]
        source: regex::Error,
    },
    /// The keyword automaton could not be built.
    #[error("keywords: {0}")]
    Keywords(#[from] aho_corasick::BuildError),
}

impl PhraseSet {
    /// Compiles a table.
    pub(crate) fn new(phrases: &[Phrase]) -> Result<PhraseSet, PhraseError> {
        let mut keywords: Vec<(String, usize)> = Vec::new();
        let mut regexes = Vec::with_capacity(phrases.len());
        for (i, p) in phrases.iter().enumerate() {
            regexes.push(Regex::new(p.pattern).map_err(|source| PhraseError::Regex {
                name: p.name,
                source,
            })?);
            keywords.extend(p.keywords.iter().map(|k| (k.to_ascii_lowercase(), i)));
        }
        keywords.sort();
        let mut patterns: Vec<String> = Vec::new();
        let mut keyword_phrases: Vec<Vec<usize>> = Vec::new();
        for (k, i) in keywords {
            if patterns.last() != Some(&k) {
                patterns.push(k);
                keyword_phrases.push(Vec::new());
            }
            if let Some(list) = keyword_phrases.last_mut() {
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        let prefilter = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)?;
        Ok(PhraseSet {
            prefilter,
            keyword_phrases,
            regexes,
            names: phrases.iter().map(|p| p.name).collect(),
        })
    }

    /// The name of phrase `i`.
    pub(crate) fn name(&self, i: usize) -> &'static str {
        self.names[i]
    }

    /// All matches in `text`, appended to `out` (cleared first), by phrase.
    pub(crate) fn find(&self, text: &str, out: &mut Vec<PhraseMatch>) {
        out.clear();
        let mut triggered: Vec<usize> = Vec::new();
        for m in self.prefilter.find_overlapping_iter(text) {
            for i in &self.keyword_phrases[m.pattern().as_usize()] {
                if !triggered.contains(i) {
                    triggered.push(*i);
                }
            }
        }
        triggered.sort_unstable();
        for i in triggered {
            for m in self.regexes[i].find_iter(text) {
                out.push(PhraseMatch {
                    phrase: i,
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

/// At most `max` bytes of `text[start..end]` on character boundaries, with
/// whitespace runs collapsed, for quoting a match in a finding.
pub(crate) fn excerpt(text: &str, start: usize, end: usize, max: usize) -> String {
    let mut end = end.min(text.len()).min(start + max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end - start);
    let mut space = false;
    for c in text[start..end].chars() {
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
