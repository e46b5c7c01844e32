//! One keyword pass per text for every keyword-gated detector: the
//! credential scanner's rule keywords and the phrase keywords that matter
//! for the text's origin (injection and jailbreak for prompts and
//! third-party content, dangerous commands for commands) go into a single
//! ASCII case-insensitive Aho-Corasick automaton, whose matches say which
//! rules and patterns are worth running on that text.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Which table a keyword belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Secret(u16),
    Injection(usize),
    Jailbreak(usize),
    Command(usize),
}

/// What one pass found: rule and pattern indexes per table.
#[derive(Debug, Default)]
pub(crate) struct Triggers {
    pub secret: Vec<u16>,
    pub injection: Vec<usize>,
    pub jailbreak: Vec<usize>,
    pub command: Vec<usize>,
}

impl Triggers {
    /// Empties every list.
    pub(crate) fn clear(&mut self) {
        self.secret.clear();
        self.injection.clear();
        self.jailbreak.clear();
        self.command.clear();
    }
}

fn add<T: PartialEq + Copy>(list: &mut Vec<T>, v: T) {
    if !list.contains(&v) {
        list.push(v);
    }
}

/// The combined automaton (`None` when no keyword-gated detector runs).
pub(crate) struct Combined {
    ac: Option<AhoCorasick>,
    tags: Vec<Vec<Tag>>,
}

impl Combined {
    /// Builds the automaton from each table's `(keyword, index)` pairs;
    /// pass an empty table for a detector that is off.
    pub(crate) fn new(
        secret: &[(String, u16)],
        injection: &[(String, usize)],
        jailbreak: &[(String, usize)],
        command: &[(String, usize)],
    ) -> Result<Combined, aho_corasick::BuildError> {
        let mut all: Vec<(String, Tag)> = Vec::new();
        all.extend(
            secret
                .iter()
                .map(|(k, i)| (k.to_ascii_lowercase(), Tag::Secret(*i))),
        );
        all.extend(
            injection
                .iter()
                .map(|(k, i)| (k.to_ascii_lowercase(), Tag::Injection(*i))),
        );
        all.extend(
            jailbreak
                .iter()
                .map(|(k, i)| (k.to_ascii_lowercase(), Tag::Jailbreak(*i))),
        );
        all.extend(
            command
                .iter()
                .map(|(k, i)| (k.to_ascii_lowercase(), Tag::Command(*i))),
        );
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut patterns: Vec<String> = Vec::new();
        let mut tags: Vec<Vec<Tag>> = Vec::new();
        for (k, t) in all {
            if patterns.last() != Some(&k) {
                patterns.push(k);
                tags.push(Vec::new());
            }
            if let Some(list) = tags.last_mut() {
                add(list, t);
            }
        }
        if patterns.is_empty() {
            return Ok(Combined { ac: None, tags });
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)?;
        Ok(Combined { ac: Some(ac), tags })
    }

    /// Fills `out` with what `text` triggers.
    pub(crate) fn run(&self, text: &str, out: &mut Triggers) {
        out.clear();
        let Some(ac) = &self.ac else {
            return;
        };
        for m in ac.find_overlapping_iter(text) {
            for t in &self.tags[m.pattern().as_usize()] {
                match *t {
                    Tag::Secret(i) => add(&mut out.secret, i),
                    Tag::Injection(i) => add(&mut out.injection, i),
                    Tag::Jailbreak(i) => add(&mut out.jailbreak, i),
                    Tag::Command(i) => add(&mut out.command, i),
                }
            }
        }
    }
}
