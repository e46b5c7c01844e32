//! SEC-02 credential exposure: a credential in a prompt (sent to a
//! provider), a model's output, tool arguments or results, or a command line.
//!
//! Order with redaction: the sentinel should run before the `redaction`
//! processor, and the binary's always-on redactor runs after every
//! processor, so by default the sentinel sees the raw text. It uses the
//! redaction scanner to learn the credential's kind, position and length,
//! and reports only those plus the same keyed hash prefix the redaction
//! token carries: the finding never holds the secret. If a `redaction` processor
//! runs first, the sentinel still reports the exposure from the `$redacted`
//! markers and `[REDACTED:kind:...]` tokens it left, which keep the kind.
//!
//! Severity by kind: private keys and cloud account keys critical, provider
//! and platform tokens high, passwords, bearer values, JWTs and generic
//! assignments medium.

use super::detector::Hit;
use super::event::{Segment, Source};
use crate::redaction::rewrite::TOKEN_HASH_HEX;
use crate::redaction::{Class, Detection, PiiClass, Redactor, TOKEN_PREFIX, UNSCANNED_TOKEN};
use oispd_semconv::Severity;

/// Kinds that give control of an account or a host.
const CRITICAL_KINDS: &[&str] = &[
    "private_key",
    "aws_secret_key",
    "azure_storage_key",
    "azure_ad_client_secret",
];

/// Kinds that are weaker evidence or narrower credentials.
const MEDIUM_KINDS: &[&str] = &[
    "password",
    "generic_secret",
    "bearer_token",
    "basic_auth",
    "url_credentials",
    "jwt",
    "sensitive_field",
    "generic-api-key",
];

/// Severity of a credential of `kind`.
pub(crate) fn severity_of(kind: &str) -> Severity {
    if CRITICAL_KINDS.contains(&kind) {
        Severity::Critical
    } else if MEDIUM_KINDS.contains(&kind) {
        Severity::Medium
    } else {
        Severity::High
    }
}

/// True when SEC-02 looks at text of this origin.
pub(crate) fn applies(source: Source) -> bool {
    source != Source::FilePath
}

/// One hit per credential found by the scanner, with the hash prefix its
/// redaction token carries.
pub(crate) fn inspect(
    text: &str,
    detections: &[Detection<'_>],
    redactor: &Redactor,
    seg: &Segment<'_, '_>,
    hits: &mut Vec<Hit>,
) {
    let mut field = None;
    for d in detections.iter().filter(|d| d.class == Class::Secret) {
        let secret = &text[d.start..d.end];
        let field = field.get_or_insert_with(|| seg.field.render());
        hits.push(
            Hit::new(severity_of(d.kind), field, d.kind)
                .with("length", secret.chars().count())
                .with("hash", redactor.hash_prefix(secret, TOKEN_HASH_HEX)),
        );
    }
}

/// A `$redacted` marker left by an earlier redaction of a credential.
pub(crate) fn inspect_marker(
    reason: &str,
    detector: &str,
    seg: &Segment<'_, '_>,
    hits: &mut Vec<Hit>,
) {
    if reason == crate::redaction::REASON_SECRET {
        hits.push(
            Hit::new(severity_of(detector), &seg.field.render(), detector)
                .with("already_redacted", true),
        );
    }
}

/// The `[REDACTED:kind:hash]` tokens in `text`: kind and hash (the token
/// of a value too large to scan is not a credential).
pub(crate) fn redaction_tokens(text: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    text.match_indices(TOKEN_PREFIX).filter_map(move |(i, _)| {
        if text[i..].starts_with(UNSCANNED_TOKEN) {
            return None;
        }
        let rest = &text[i + TOKEN_PREFIX.len()..];
        let close = rest.find(']')?;
        let inner = &rest[..close];
        let (kind, hash) = match inner.split_once(':') {
            Some((k, h)) => (k, Some(h)),
            None => (inner, None),
        };
        (!kind.is_empty()).then_some((kind, hash))
    })
}

/// Credentials already replaced by inline tokens.
pub(crate) fn inspect_tokens(text: &str, seg: &Segment<'_, '_>, hits: &mut Vec<Hit>) {
    for (kind, hash) in redaction_tokens(text) {
        if PiiClass::from_name(kind).is_some() {
            continue;
        }
        let mut hit =
            Hit::new(severity_of(kind), &seg.field.render(), kind).with("already_redacted", true);
        if let Some(h) = hash {
            hit = hit.with("hash", h);
        }
        hits.push(hit);
    }
}

/// The one-line summary of a SEC-02 finding.
pub(crate) fn summary(event_type: &str, hits: &[Hit]) -> String {
    let mut kinds: Vec<&str> = hits.iter().map(Hit::kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let first = &hits[0];
    let more = if hits.len() > 1 {
        format!(" (+{} more)", hits.len() - 1)
    } else {
        String::new()
    };
    format!(
        "Credential exposure in {event_type}: {} in {}{more}",
        kinds.join(", "),
        first.field()
    )
}
