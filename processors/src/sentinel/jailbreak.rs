//! SEC-05 jailbreak phrasing: the well-known scripts that ask a model to
//! drop its rules (DAN, "developer mode enabled", "you are free from all
//! restrictions", unrestricted personas, "never refuse").
//!
//! Looked for in user messages (medium) and in third-party content (high:
//! a document that tries to jailbreak the agent reading it). Two different
//! patterns in one text raise the severity one level. "Never refuse" and
//! "stay in character" only count next to another pattern. "Enable
//! developer mode on Android" and a person named Dan do not match.

use super::detector::{escalate, Hit};
use super::event::{Segment, Source};
use super::phrases::{Phrase, PhraseError, PhraseMatch, PhraseSet};
use crate::redaction::Redactor;
use oispd_semconv::Severity;

const EXCERPT_MAX: usize = 120;

pub(crate) const PHRASES: &[Phrase] = &[
    Phrase {
        name: "dan",
        pattern: r"(?i)\bdo\s+anything\s+now\b|\bDAN\s+(?:mode|prompt|jailbreak)\b|\b(?:you\s+are|you're|act\s+as|pretend\s+to\s+be|become)\s+(?:now\s+)?DAN\b|\bDAN\s+\d+(?:\.\d+)?\b",
        keywords: &[
            "do anything now",
            "dan mode",
            "dan prompt",
            "dan jailbreak",
            "are dan",
            "you're dan",
            "as dan",
            "be dan",
            "become dan",
            "now dan",
            "dan 1",
            "dan 2",
            "dan 3",
            "dan 4",
            "dan 5",
            "dan 6",
            "dan 7",
            "dan 8",
            "dan 9",
        ],
    },
    Phrase {
        name: "mode_switch",
        pattern: r"(?i)\b(?:god|jailbreak|jailbroken|unrestricted|unfiltered|uncensored|evil|chaos|opposite|dan)\s+mode\b|\bdeveloper\s+mode\s+(?:enabled|output|activated)\b",
        keywords: &[
            "god mode",
            "jailbreak mode",
            "jailbroken mode",
            "unrestricted mode",
            "unfiltered mode",
            "uncensored mode",
            "evil mode",
            "chaos mode",
            "opposite mode",
            "dan mode",
            "developer mode enabled",
            "developer mode output",
            "developer mode activated",
        ],
    },
    Phrase {
        name: "no_restrictions",
        pattern: r"(?i)\b(?:freed?|liberated|unbound|released|exempt)\s+from\s+(?:(?:all|any|your|the|of|its)\s+)*(?:restrictions|rules|guidelines|filters|limitations|constraints|policies|censorship|programming)\b|\b(?:without|ignore|ignoring|bypass|bypassing|not\s+bound\s+by|no\s+longer\s+bound\s+by|disregard)\s+(?:(?:any|all|your|the|openai'?s?|anthropic'?s?|google'?s?)\s+)*(?:ethical|moral|content|safety|usage)\s+(?:guidelines|policies|policy|restrictions|filters|rules|constraints|boundaries)\b",
        keywords: &[
            "restrictions",
            "rules",
            "guidelines",
            "filters",
            "limitations",
            "constraints",
            "censorship",
            "boundaries",
            "ethical",
            "moral",
            "content polic",
            "safety polic",
            "usage polic",
            "programming",
        ],
    },
    Phrase {
        name: "unrestricted_persona",
        pattern: r"(?i)\b(?:act|behave|respond|pretend|roleplay|role-play)\s+(?:as|like|to\s+be)\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|amoral|unethical|evil|jailbroken|rogue)\s+(?:ai|assistant|model|chatbot|version|language\s+model)\b|\bpretend\s+(?:that\s+)?you\s+(?:have|are\s+under)\s+no\s+(?:restrictions|rules|filters|guidelines|limits|limitations)\b|\b(?:BetterDAN|AntiGPT|EvilBOT)\b",
        keywords: &[
            "unrestricted",
            "unfiltered",
            "uncensored",
            "amoral",
            "unethical",
            "evil",
            "jailbroken",
            "rogue",
            "no restrictions",
            "no rules",
            "no filters",
            "no guidelines",
            "no limit",
            "betterdan",
            "antigpt",
        ],
    },
    Phrase {
        name: "never_refuse",
        pattern: r"(?i)\b(?:never|must\s+not|cannot|can't|won't)\s+(?:ever\s+)?(?:refuse|decline|break\s+character)\b|\bstay\s+in\s+character\s+(?:no\s+matter\s+what|at\s+all\s+times|whatever)\b",
        keywords: &["refuse", "decline", "break character", "stay in character"],
    },
];

/// Patterns that also occur in ordinary instructions ("never refuse a
/// refund"): they strengthen another pattern but never fire alone.
const WEAK: &[&str] = &["never_refuse"];

/// The SEC-05 detector.
pub(crate) struct Jailbreak {
    set: PhraseSet,
}

impl Jailbreak {
    pub(crate) fn new() -> Result<Jailbreak, PhraseError> {
        Ok(Jailbreak {
            set: PhraseSet::new(PHRASES)?,
        })
    }

    /// The keywords that gate each pattern.
    pub(crate) fn keywords(&self) -> &[(String, usize)] {
        self.set.keywords()
    }

    /// Looks at one segment; at most one hit per segment.
    pub(crate) fn inspect(
        &self,
        text: &str,
        seg: &Segment<'_, '_>,
        triggered: &[usize],
        redactor: &Redactor,
        scratch: &mut Vec<PhraseMatch>,
        hits: &mut Vec<Hit>,
    ) {
        let indirect = seg.source.is_third_party();
        if !(indirect || seg.source == Source::UserPrompt) {
            return;
        }
        if triggered.is_empty() {
            return;
        }
        self.set.find_triggered(text, triggered, scratch);
        let Some(first) = scratch.first().copied() else {
            return;
        };
        let mut names: Vec<&'static str> =
            scratch.iter().map(|m| self.set.name(m.phrase)).collect();
        names.dedup();
        if names.iter().all(|n| WEAK.contains(n)) {
            return;
        }
        let first = scratch
            .iter()
            .find(|m| !WEAK.contains(&self.set.name(m.phrase)))
            .copied()
            .unwrap_or(first);
        let mut severity = if indirect {
            Severity::High
        } else {
            Severity::Medium
        };
        if names.len() >= 2 {
            severity = escalate(severity);
        }
        // Cut from the redacted text, so no credential is cut in half.
        let quoted = redactor.redact_excerpt(text, first.start, first.end, EXCERPT_MAX);
        hits.push(
            Hit::new(severity, &seg.field.render(), self.set.name(first.phrase))
                .with("vector", if indirect { "indirect" } else { "direct" })
                .with("patterns", names)
                .with("excerpt", quoted),
        );
    }
}
