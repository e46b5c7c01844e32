//! SEC-24 invisible or bidirectional Unicode: characters a person does not
//! see but a model reads (or that reorder what a person sees).
//!
//! - Tag characters (U+E0000..U+E007F) mirror ASCII invisibly ("ASCII
//!   smuggling"): high, critical in tool output, retrieved content, tool
//!   arguments and commands. The hidden text is decoded, redacted and quoted.
//! - Bidi overrides and isolates (U+202A..U+202E, U+2066..U+2069): medium,
//!   high in commands, tool arguments and file paths (Trojan Source).
//! - Zero-width and invisible formatting characters (U+200B, U+2060,
//!   U+2061..U+2064, U+180E, U+FEFF after the start; U+200C/U+200D only
//!   between two ASCII letters, since scripts and emoji use them): low,
//!   medium from 4, high for a run of 8 or more (a hidden binary message).
//! - Variation selectors supplement (U+E0100..U+E01EF), used to hide data
//!   in emoji: medium from 4.
//!
//! ASCII text is skipped with one SIMD check, so the common case is free.

use super::detector::Hit;
use super::event::{Segment, Source};
use crate::redaction::Redactor;
use oispd_semconv::Severity;

/// Longest run of zero-width characters that is not yet a hidden message.
const HIDDEN_RUN: usize = 8;
/// Zero-width characters (outside a run) that raise the severity to medium.
const MANY_ZERO_WIDTH: usize = 4;
/// Variation selectors supplement characters that count as hidden data.
const MANY_VARIATION_SELECTORS: usize = 4;
/// Longest hidden text quoted, in characters.
const HIDDEN_TEXT_MAX: usize = 100;

#[derive(Default)]
struct Tally {
    tags: usize,
    hidden: String,
    bidi: usize,
    zero_width: usize,
    longest_run: usize,
    variation: usize,
}

fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{2060}' | '\u{2061}'..='\u{2064}' | '\u{180E}' | '\u{FEFF}'
    )
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

fn tally(text: &str) -> Tally {
    let mut t = Tally::default();
    let mut run = 0usize;
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let invisible = match c {
            '\u{E0000}'..='\u{E007F}' => {
                t.tags += 1;
                if ('\u{E0020}'..='\u{E007E}').contains(&c)
                    && t.hidden.chars().count() < HIDDEN_TEXT_MAX
                {
                    t.hidden.push(char::from((c as u32 - 0xE0000) as u8));
                }
                true
            }
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
                t.bidi += 1;
                true
            }
            '\u{FEFF}' if first => false,
            c if is_zero_width(c) => {
                t.zero_width += 1;
                true
            }
            c if is_joiner(c) => {
                let between_ascii_letters = prev.is_some_and(|p| p.is_ascii_alphabetic())
                    && chars.peek().is_some_and(|n| {
                        n.is_ascii_alphabetic() || is_zero_width(*n) || is_joiner(*n)
                    });
                let in_run = run > 0;
                if between_ascii_letters || in_run {
                    t.zero_width += 1;
                    true
                } else {
                    false
                }
            }
            '\u{E0100}'..='\u{E01EF}' => {
                t.variation += 1;
                true
            }
            _ => false,
        };
        if invisible && !matches!(c, '\u{E0000}'..='\u{E007F}') {
            run += 1;
            t.longest_run = t.longest_run.max(run);
        } else {
            run = 0;
        }
        if !invisible {
            prev = Some(c);
        }
        first = false;
    }
    t
}

/// Sources where invisible characters are most dangerous.
fn sensitive(source: Source) -> bool {
    matches!(
        source,
        Source::ToolOutput
            | Source::Retrieved
            | Source::ToolArguments
            | Source::Command
            | Source::FilePath
    )
}

/// Looks at one segment; at most one hit per kind of character.
pub(crate) fn inspect(text: &str, seg: &Segment<'_, '_>, redactor: &Redactor, hits: &mut Vec<Hit>) {
    if text.is_ascii() {
        return;
    }
    let t = tally(text);
    if t.tags == 0 && t.bidi == 0 && t.zero_width == 0 && t.variation < MANY_VARIATION_SELECTORS {
        return;
    }
    let field = seg.field.render();
    let hot = sensitive(seg.source);
    if t.tags > 0 {
        let severity = if hot {
            Severity::Critical
        } else {
            Severity::High
        };
        let mut hit = Hit::new(severity, &field, "tag_characters").with("count", t.tags);
        if !t.hidden.is_empty() {
            let hidden = redactor.redact_text(&t.hidden).unwrap_or(t.hidden);
            hit = hit.with("hidden_text", hidden);
        }
        hits.push(hit);
    }
    if t.bidi > 0 {
        let hot = matches!(
            seg.source,
            Source::Command | Source::ToolArguments | Source::FilePath
        );
        let severity = if hot {
            Severity::High
        } else {
            Severity::Medium
        };
        hits.push(Hit::new(severity, &field, "bidi_control").with("count", t.bidi));
    }
    if t.zero_width > 0 {
        let severity = if t.longest_run >= HIDDEN_RUN {
            Severity::High
        } else if t.zero_width >= MANY_ZERO_WIDTH {
            Severity::Medium
        } else {
            Severity::Low
        };
        hits.push(
            Hit::new(severity, &field, "zero_width")
                .with("count", t.zero_width)
                .with("longest_run", t.longest_run),
        );
    }
    if t.variation >= MANY_VARIATION_SELECTORS {
        hits.push(
            Hit::new(Severity::Medium, &field, "variation_selectors").with("count", t.variation),
        );
    }
}

/// The one-line summary of a SEC-24 finding.
pub(crate) fn summary(event_type: &str, hits: &[Hit]) -> String {
    let parts: Vec<String> = hits
        .iter()
        .map(|h| {
            let n = h
                .evidence
                .get("count")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            format!("{n} {} in {}", h.kind().replace('_', " "), h.field())
        })
        .collect();
    let hidden = hits
        .iter()
        .find_map(|h| {
            h.evidence
                .get("hidden_text")
                .and_then(serde_json::Value::as_str)
        })
        .map(|t| format!(" (hidden text: {t:?})"))
        .unwrap_or_default();
    format!(
        "Invisible Unicode in {event_type}: {}{hidden}",
        parts.join(", ")
    )
}
