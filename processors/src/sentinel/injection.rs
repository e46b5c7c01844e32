//! SEC-01 prompt injection: text that tries to replace the instructions a
//! model follows, hide actions from the user, leak the system prompt, or
//! send data out.
//!
//! Looked for in user messages (direct injection, medium) and, more
//! importantly, in tool results, retrieved documents, tool definitions and
//! file previews (indirect injection, high): there the text comes from a
//! third party and the user never typed it. Two different patterns in one
//! text, or an exfiltration or concealment pattern in third-party content,
//! raise the severity one level. System prompts and model output are not
//! scanned: operators legitimately write "do not reveal this to the user".
//!
//! Patterns are phrased to miss ordinary requests: "ignore my previous
//! instructions" (a user correcting themselves) and "ignore previous
//! commits" do not match; "ignore all previous instructions" does. The
//! keywords that gate a pattern are written with single spaces: text that
//! spreads a phrase over odd whitespace to dodge them is out of reach of a
//! phrase detector anyway.

use super::detector::{escalate, Hit};
use super::event::{Segment, Source};
use super::phrases::{Phrase, PhraseError, PhraseMatch, PhraseSet};
use crate::redaction::Redactor;
use oispd_semconv::Severity;

/// Longest quoted excerpt, in bytes.
const EXCERPT_MAX: usize = 120;

pub(crate) const PHRASES: &[Phrase] = &[
    Phrase {
        name: "instruction_override",
        pattern: r"(?i)\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:all|any|the|your|every|of|these|those)\s+)*(?:previous|prior|above|earlier|preceding|former|initial|original|system|developer|existing|current)\s+(?:instructions?|prompts?|rules|directions|directives|guidelines|context|messages|commands|constraints|programming)\b",
        keywords: &["ignore", "disregard", "forget", "override", "bypass"],
    },
    Phrase {
        name: "new_instructions",
        pattern: r"(?i)\b(?:new|updated|real|actual|true|hidden|secret|revised)\s+(?:system\s+)?instructions?\s*(?::|are\s*:|follow\b)|\bsystem\s+(?:prompt\s+)?override\b|\b(?:begin|start)\s+(?:of\s+)?(?:the\s+)?new\s+system\s+prompt\b|\byour\s+new\s+(?:task|goal|objective|instructions?)\s+(?:is|are)\b",
        keywords: &[
            "instructions:",
            "instruction:",
            "instructions are",
            "instructions follow",
            "system override",
            "prompt override",
            "new system prompt",
            "your new task",
            "your new goal",
            "your new objective",
            "your new instruction",
        ],
    },
    Phrase {
        name: "chat_template_tokens",
        pattern: r"(?im)<\|im_start\|>\s*system|<\|system\|>|\[/?INST\]|<</?SYS>>|<\|start_header_id\|>\s*system|^\s*#{2,}\s*(?:system|new\s+instructions?)\s*:?\s*$",
        keywords: &[
            "<|im_start|>",
            "<|system|>",
            "[inst]",
            "[/inst]",
            "<<sys>>",
            "<</sys>>",
            "<|start_header_id|>",
            "# system",
            "# new instruction",
        ],
    },
    Phrase {
        name: "concealment",
        pattern: r"(?i)\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|mention\s+(?:this|it)\s+to|mention|reveal\s+(?:this|it)\s+to|alert|notify)\s+(?:the\s+)?user\b|\b(?:do\s+not|don'?t|never)\s+let\s+(?:the\s+)?user\s+know\b|\bwithout\s+(?:telling|informing|notifying|alerting|asking)\s+(?:the\s+)?user\b|\b(?:secretly|silently|covertly)\s+(?:send|run|execute|call|forward|upload|delete|post|exfiltrate|include)\b",
        keywords: &[
            "not tell",
            "n't tell",
            "never tell",
            "not inform",
            "n't inform",
            "never inform",
            "not mention",
            "n't mention",
            "never mention",
            "not reveal",
            "n't reveal",
            "never reveal",
            "not alert",
            "n't alert",
            "not notify",
            "n't notify",
            "never notify",
            "let the user know",
            "let user know",
            "without telling",
            "without informing",
            "without notifying",
            "without alerting",
            "without asking",
            "secretly",
            "silently",
            "covertly",
        ],
    },
    Phrase {
        name: "exfiltration",
        pattern: r"(?i)\b(?:send|forward|exfiltrate|upload|post|e-?mail|transmit|leak|copy)\s+(?:(?:all|the|your|any|this|my|of)\s+)*(?:conversation|chat\s+history|system\s+prompt|api\s+keys?|credentials|secrets?|passwords?|access\s+tokens?|ssh\s+keys?|private\s+keys?|env(?:ironment)?\s+variables|\.env(?:\s+file)?|cookies)\s+(?:to|into|via|at)\b",
        keywords: &[
            "conversation",
            "chat history",
            "system prompt",
            "api key",
            "credentials",
            "secret",
            "password",
            "access token",
            "ssh key",
            "private key",
            "environment variable",
            "env variable",
            ".env",
            "cookies",
        ],
    },
    Phrase {
        name: "addresses_the_ai",
        pattern: r"(?i)\b(?:attention|important|note|notice|message)\s*(?:[:!,\-]\s*)?(?:to\s+|for\s+)?(?:all\s+|any\s+|the\s+)?(?:ai\s+)?(?:ai|llm|language\s+model|assistant|agent|chatbot)s?\b\s*[:!,\-]|\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|large\s+language\s+model|language\s+model|ai\s+assistant|ai\s+agent)\b(?:\s+(?:reading|processing|summari[sz]ing|parsing)\b)?|\b(?:ai|llm)\s+(?:agents?|assistants?|models?)\s+(?:reading|processing|parsing|summari[sz]ing)\s+this\b",
        keywords: &[
            "ai agent",
            "ai assistant",
            "ai model",
            "llm",
            "language model",
            "if you are",
            "chatbot",
            "to the ai",
            "to all ai",
            "for the ai",
            "to the assistant",
            "for the assistant",
            "to the agent",
            "to all agents",
            "ai:",
            "ai,",
            "ai!",
            "ais:",
        ],
    },
    Phrase {
        name: "prompt_leak",
        pattern: r"(?i)\b(?:reveal|print|output|show|repeat|display|dump|leak|tell\s+me|give\s+me)\s+(?:me\s+)?(?:your|the)\s+(?:(?:full|entire|complete|original|hidden|initial|exact|secret)\s+)*(?:system\s+prompt|system\s+message|hidden\s+instructions|initial\s+instructions|instructions\s+above|prompt\s+above)\b",
        keywords: &[
            "system prompt",
            "system message",
            "hidden instructions",
            "initial instructions",
            "instructions above",
            "prompt above",
        ],
    },
];

/// Patterns that make third-party content worse than an ordinary injection.
const AGGRAVATING: &[&str] = &["exfiltration", "concealment"];

/// The SEC-01 detector.
pub(crate) struct Injection {
    set: PhraseSet,
}

impl Injection {
    pub(crate) fn new() -> Result<Injection, PhraseError> {
        Ok(Injection {
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
        let mut severity = if indirect {
            Severity::High
        } else {
            Severity::Medium
        };
        let aggravated = indirect && names.iter().any(|n| AGGRAVATING.contains(n));
        if names.len() >= 2 || aggravated {
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
