//! SEC-23 PII leakage: personal data in prompts and tool traffic sent to a
//! model, or in a model's output. Uses the redaction scanner's PII classes
//! with their checks (Luhn for cards, mod-97 for IBANs, SSN ranges), so a
//! random 16-digit number is not a card.
//!
//! Severity by class: card numbers and national ids high, IBANs medium,
//! e-mail addresses and phone numbers low. One hit per field and class,
//! with a count; the values themselves are never reported. Markers and
//! tokens left by an earlier `redaction` pass in `hash` mode count too;
//! values masked by `mask` mode are gone and cannot be counted (run the
//! sentinel before redaction).

use super::credentials::redaction_tokens;
use super::detector::Hit;
use super::event::{Segment, Source};
use crate::redaction::{Class, Detection, PiiClass, REASON_PII};
use oispd_semconv::Severity;

/// Severity of personal data of `class`.
pub(crate) fn severity_of(class: PiiClass) -> Severity {
    match class {
        PiiClass::CardNumber | PiiClass::NationalId => Severity::High,
        PiiClass::Iban => Severity::Medium,
        PiiClass::Email | PiiClass::Phone => Severity::Low,
    }
}

/// True when SEC-23 looks at text of this origin (content, not commands or
/// paths).
pub(crate) fn applies(source: Source) -> bool {
    !matches!(source, Source::Command | Source::FilePath)
}

fn push(hits: &mut Vec<Hit>, field: &str, class: PiiClass, count: usize, already_redacted: bool) {
    let mut hit = Hit::new(severity_of(class), field, class.as_str()).with("count", count);
    if already_redacted {
        hit = hit.with("already_redacted", true);
    }
    hits.push(hit);
}

/// One hit per PII class found by the scanner in this segment.
pub(crate) fn inspect(detections: &[Detection<'_>], seg: &Segment<'_, '_>, hits: &mut Vec<Hit>) {
    let mut field = None;
    for class in PiiClass::ALL {
        let count = detections
            .iter()
            .filter(|d| d.class == Class::Pii(class))
            .count();
        if count > 0 {
            let field = field.get_or_insert_with(|| seg.field.render());
            push(hits, field, class, count, false);
        }
    }
}

/// A `$redacted` marker left by an earlier `hash`-mode redaction.
pub(crate) fn inspect_marker(
    reason: &str,
    detector: &str,
    seg: &Segment<'_, '_>,
    hits: &mut Vec<Hit>,
) {
    if reason != REASON_PII {
        return;
    }
    if let Some(class) = PiiClass::from_name(detector) {
        push(hits, &seg.field.render(), class, 1, true);
    }
}

/// PII already replaced by inline tokens.
pub(crate) fn inspect_tokens(text: &str, seg: &Segment<'_, '_>, hits: &mut Vec<Hit>) {
    for class in PiiClass::ALL {
        let count = redaction_tokens(text)
            .filter(|(k, _)| *k == class.as_str())
            .count();
        if count > 0 {
            push(hits, &seg.field.render(), class, count, true);
        }
    }
}

/// The one-line summary of a SEC-23 finding.
pub(crate) fn summary(event_type: &str, provider: Option<&str>, hits: &[Hit]) -> String {
    let mut counts: Vec<(String, u64)> = Vec::new();
    for h in hits {
        let n = h
            .evidence
            .get("count")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1);
        match counts.iter_mut().find(|(k, _)| k == h.kind()) {
            Some((_, c)) => *c += n,
            None => counts.push((h.kind().to_string(), n)),
        }
    }
    let list: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let to = provider.map(|p| format!(" ({p})")).unwrap_or_default();
    format!("PII in {event_type}{to}: {}", list.join(", "))
}
