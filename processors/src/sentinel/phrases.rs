//! Named regex patterns with the keywords that gate them, shared by the
//! phrase detectors (injection, jailbreak, dangerous commands). The engine
//! folds every table's keywords into one Aho-Corasick pass per text (with
//! the credential scanner's), and only the patterns whose keywords occur
//! run, so text without any keyword costs that one linear scan.

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
    keywords: Vec<(String, usize)>,
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
        keywords.dedup();
        Ok(PhraseSet {
            keywords,
            regexes,
            names: phrases.iter().map(|p| p.name).collect(),
        })
    }

    /// The name of phrase `i`.
    pub(crate) fn name(&self, i: usize) -> &'static str {
        self.names[i]
    }

    /// Every keyword, lower-case, with the phrase it triggers (for a
    /// caller's combined prefilter).
    pub(crate) fn keywords(&self) -> &[(String, usize)] {
        &self.keywords
    }

    /// All matches in `text` of the `triggered` phrases, appended to `out`
    /// (cleared first), in phrase order.
    pub(crate) fn find_triggered(
        &self,
        text: &str,
        triggered: &[usize],
        out: &mut Vec<PhraseMatch>,
    ) {
        out.clear();
        let mut order: Vec<usize> = triggered.to_vec();
        order.sort_unstable();
        for i in order {
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
