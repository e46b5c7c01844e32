//! Turning detections into redacted text: the OISP `$redacted` marker for a
//! string that is entirely one secret, compact inline tokens for secrets
//! inside longer text, and masks for PII in `mask` mode.
//!
//! Marker (`reason`, `detector`, `original_length` in characters, `hash`):
//! `{"$redacted": {"reason": "secret_detected", "detector": "openai_api_key",
//! "original_length": 51, "hash": "sha256:<16 hex>"}}`.
//! Inline token: `[REDACTED:<detector>:sha256:<8 hex>]`; the shorter prefix
//! keeps prose readable. Both hashes are prefixes of the SHA-256 of the
//! original value, enough to correlate the same value across records.

use super::config::{PiiConfig, PiiMode};
use super::scanner::{Class, Detection};
use oispd_component::proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use sha2::{Digest, Sha256};

/// The key of the OISP redaction marker.
pub const MARKER_KEY: &str = "$redacted";
/// Start of an inline redaction token.
pub const TOKEN_PREFIX: &str = "[REDACTED:";
/// `reason` of a marker for a credential.
pub const REASON_SECRET: &str = "secret_detected";
/// `reason` of a marker for personal data.
pub const REASON_PII: &str = "pii_detected";

/// Hex digits of the hash in a marker.
const MARKER_HASH_HEX: usize = 16;
/// Hex digits of the hash in an inline token.
const TOKEN_HASH_HEX: usize = 8;

/// `sha256:` and the first `hex_len` hex digits of SHA-256(`value`).
pub fn hash_prefix(value: &str, hex_len: usize) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let mut hex = hex::encode(digest);
    hex.truncate(hex_len);
    format!("sha256:{hex}")
}

/// The OISP `$redacted` marker for a whole value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// `secret_detected` or `pii_detected`.
    pub reason: &'static str,
    /// The rule or class that fired.
    pub detector: String,
    /// Length of the original value in characters.
    pub original_length: usize,
    /// `sha256:` + hash prefix of the original value.
    pub hash: String,
}

impl Marker {
    /// The marker for `original`, found by `detector`.
    pub fn new(reason: &'static str, detector: &str, original: &str) -> Marker {
        Marker {
            reason,
            detector: detector.to_string(),
            original_length: original.chars().count(),
            hash: hash_prefix(original, MARKER_HASH_HEX),
        }
    }

    /// The marker as an OTLP map value (`{"$redacted": {...}}`).
    pub fn to_any_value(&self) -> AnyValue {
        let field = |key: &str, value: any_value::Value| KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        };
        let inner = KeyValueList {
            values: vec![
                field(
                    "reason",
                    any_value::Value::StringValue(self.reason.to_string()),
                ),
                field(
                    "detector",
                    any_value::Value::StringValue(self.detector.clone()),
                ),
                field(
                    "original_length",
                    any_value::Value::IntValue(
                        i64::try_from(self.original_length).unwrap_or(i64::MAX),
                    ),
                ),
                field("hash", any_value::Value::StringValue(self.hash.clone())),
            ],
        };
        AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![field(MARKER_KEY, any_value::Value::KvlistValue(inner))],
            })),
        }
    }
}

/// The inline token for a secret or hashed PII value.
pub fn token(detector: &str, original: &str) -> String {
    format!(
        "{TOKEN_PREFIX}{detector}:{}]",
        hash_prefix(original, TOKEN_HASH_HEX)
    )
}

/// What became of a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rewritten {
    /// The string with inline replacements.
    Text(String),
    /// The whole string is one secret (or hashed PII value).
    Whole(Marker),
}

/// How many values of each class a rewrite replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Credentials replaced.
    pub secrets: u64,
    /// PII values masked or hashed.
    pub pii: u64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: Counts) {
        self.secrets += other.secrets;
        self.pii += other.pii;
    }

    /// True when nothing was replaced.
    pub fn is_zero(&self) -> bool {
        self.secrets == 0 && self.pii == 0
    }
}

/// Applies non-overlapping, position-sorted `detections` to `text`. PII of a
/// class whose mode is `off` is left alone. `allow_marker` is false where a
/// map value would be out of place (attributes): then whole-string secrets
/// become a token too.
pub fn rewrite(
    text: &str,
    detections: &[Detection<'_>],
    pii: &PiiConfig,
    allow_marker: bool,
) -> Option<(Rewritten, Counts)> {
    let mut counts = Counts::default();
    let active = |d: &&Detection<'_>| match d.class {
        Class::Secret => true,
        Class::Pii(c) => pii.mode(c) != PiiMode::Off,
    };
    let mut kept = detections.iter().filter(active).peekable();
    kept.peek()?;
    let kept: Vec<&Detection<'_>> = kept.collect();
    if allow_marker && kept.len() == 1 {
        let d = kept[0];
        let whole = text[..d.start].trim().is_empty() && text[d.end..].trim().is_empty();
        let original = &text[d.start..d.end];
        match d.class {
            Class::Secret if whole => {
                counts.secrets = 1;
                return Some((
                    Rewritten::Whole(Marker::new(REASON_SECRET, d.kind, original)),
                    counts,
                ));
            }
            Class::Pii(c) if whole && pii.mode(c) == PiiMode::Hash => {
                counts.pii = 1;
                return Some((
                    Rewritten::Whole(Marker::new(REASON_PII, d.kind, original)),
                    counts,
                ));
            }
            _ => {}
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for d in kept {
        out.push_str(&text[last..d.start]);
        let original = &text[d.start..d.end];
        match d.class {
            Class::Secret => {
                counts.secrets += 1;
                out.push_str(&token(d.kind, original));
            }
            Class::Pii(c) => {
                counts.pii += 1;
                match pii.mode(c) {
                    PiiMode::Mask => out.push_str(&c.mask(original)),
                    PiiMode::Hash | PiiMode::Off => out.push_str(&token(d.kind, original)),
                }
            }
        }
        last = d.end;
    }
    out.push_str(&text[last..]);
    Some((Rewritten::Text(out), counts))
}
