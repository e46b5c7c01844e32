//! Turning detections into redacted text: the OISP `$redacted` marker for a
//! string that is entirely one secret, compact inline tokens for secrets
//! inside longer text, and masks for PII in `mask` mode; and recognising
//! that output by its exact shape.
//!
//! Formats:
//!
//! - marker: `{"$redacted": {"reason": "secret_detected", "detector":
//!   "openai_api_key", "original_length": 51, "hash": "hmac-sha256:<16 hex>"}}`
//!   (`original_length` in characters; `reason` is `secret_detected` or
//!   `pii_detected`);
//! - inline token: `[REDACTED:<detector>:<8 hex>]`, short to keep prose
//!   readable;
//! - a value that could not be scanned within the per-record budget: the
//!   marker `{"$redacted": {"reason": "too_large_to_scan", "detector":
//!   "scan_budget", "original_length": N}}` (no hash) or the token
//!   `[REDACTED:too_large_to_scan]`.
//!
//! The hex digits are a prefix of HMAC-SHA256 of the original value under
//! the installation's redaction key ([`RedactionKey`]): the same value gives
//! the same hash across records and restarts, so it can be correlated, but
//! without the key a dictionary cannot recover a weak password from it.
//!
//! Redaction is idempotent because its output is inert, not because
//! anything that looks redacted is skipped: a token counts as one only in
//! exactly the shape above with a detector the redactor knows, a marker
//! only as a map holding nothing but `$redacted` with exactly these fields.
//! `[REDACTED: sk-...` or a map with a `$redacted` key next to other keys
//! is scanned like any other text.

use super::config::{PiiConfig, PiiMode};
use super::scanner::{Class, Detection};
use hmac::{Hmac, Mac};
use oispd_component::proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
pub use oispd_component::RedactionKey;
use sha2::Sha256;

/// The key of the OISP redaction marker.
pub const MARKER_KEY: &str = "$redacted";
/// Start of an inline redaction token.
pub const TOKEN_PREFIX: &str = "[REDACTED:";
/// `reason` of a marker for a credential.
pub const REASON_SECRET: &str = "secret_detected";
/// `reason` of a marker for personal data.
pub const REASON_PII: &str = "pii_detected";
/// `reason` of a marker for a value left unscanned (over the budget).
pub const REASON_TOO_LARGE: &str = "too_large_to_scan";
/// `detector` of a marker for a value left unscanned.
pub const DETECTOR_BUDGET: &str = "scan_budget";
/// The token for a value left unscanned.
pub const UNSCANNED_TOKEN: &str = "[REDACTED:too_large_to_scan]";
/// Prefix of marker hashes.
pub const HASH_SCHEME: &str = "hmac-sha256:";

/// Hex digits of the hash in a marker.
const MARKER_HASH_HEX: usize = 16;
/// Hex digits of the hash in an inline token.
pub const TOKEN_HASH_HEX: usize = 8;
/// Longest detector name a token may carry.
const MAX_DETECTOR_LEN: usize = 64;

/// HMAC-SHA256 keyed with the redaction key, ready to hash values.
#[derive(Clone)]
pub struct Keyed(Hmac<Sha256>);

impl Keyed {
    /// Keys the MAC (done once per redactor).
    pub fn new(key: &RedactionKey) -> Keyed {
        // HMAC takes keys of any length; 32 bytes cannot be refused.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        Keyed(mac)
    }

    /// The first `hex_len` hex digits of HMAC-SHA256(key, `value`).
    pub fn hex(&self, value: &[u8], hex_len: usize) -> String {
        let mut mac = self.0.clone();
        mac.update(value);
        let mut hex = hex::encode(mac.finalize().into_bytes());
        hex.truncate(hex_len);
        hex
    }

    /// `hmac-sha256:` and the first `hex_len` hex digits of the HMAC of `value`.
    pub fn hash_prefix(&self, value: &str, hex_len: usize) -> String {
        format!("{HASH_SCHEME}{}", self.hex(value.as_bytes(), hex_len))
    }
}

/// The OISP `$redacted` marker for a whole value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// `secret_detected`, `pii_detected` or `too_large_to_scan`.
    pub reason: &'static str,
    /// The rule or class that fired.
    pub detector: String,
    /// Length of the original value in characters.
    pub original_length: usize,
    /// `hmac-sha256:` + hash prefix of the original value (none for a
    /// value too large to scan).
    pub hash: Option<String>,
}

impl Marker {
    /// The marker for `original`, found by `detector`.
    pub fn new(reason: &'static str, detector: &str, original: &str, keyed: &Keyed) -> Marker {
        Marker {
            reason,
            detector: detector.to_string(),
            original_length: original.chars().count(),
            hash: Some(keyed.hash_prefix(original, MARKER_HASH_HEX)),
        }
    }

    /// The marker for a value of `original_length` characters that was not
    /// scanned because the record's scan budget ran out.
    pub fn unscanned(original_length: usize) -> Marker {
        Marker {
            reason: REASON_TOO_LARGE,
            detector: DETECTOR_BUDGET.to_string(),
            original_length,
            hash: None,
        }
    }

    /// The marker as an OTLP map value (`{"$redacted": {...}}`).
    pub fn to_any_value(&self) -> AnyValue {
        let field = |key: &str, value: any_value::Value| KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        };
        let mut values = vec![
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
                any_value::Value::IntValue(i64::try_from(self.original_length).unwrap_or(i64::MAX)),
            ),
        ];
        if let Some(hash) = &self.hash {
            values.push(field("hash", any_value::Value::StringValue(hash.clone())));
        }
        AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![field(
                    MARKER_KEY,
                    any_value::Value::KvlistValue(KeyValueList { values }),
                )],
            })),
        }
    }
}

/// The inline token for a secret or hashed PII value.
pub fn token(detector: &str, original: &str, keyed: &Keyed) -> String {
    format!(
        "{TOKEN_PREFIX}{detector}:{}]",
        keyed.hex(original.as_bytes(), TOKEN_HASH_HEX)
    )
}

/// True for characters of detector names (rule ids, PII classes).
fn detector_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The length of the well-formed token at the start of `s`, if any:
/// `[REDACTED:<known detector>:<8 lower-case hex>]` or the unscanned token.
pub(crate) fn token_len(s: &[u8], known: &dyn Fn(&str) -> bool) -> Option<usize> {
    if s.starts_with(UNSCANNED_TOKEN.as_bytes()) {
        return Some(UNSCANNED_TOKEN.len());
    }
    let rest = s.strip_prefix(TOKEN_PREFIX.as_bytes())?;
    let name_len = rest
        .iter()
        .take(MAX_DETECTOR_LEN + 1)
        .position(|b| !detector_char(*b))?;
    if name_len == 0 || rest.get(name_len) != Some(&b':') {
        return None;
    }
    let hex = rest.get(name_len + 1..name_len + 1 + TOKEN_HASH_HEX)?;
    if !hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    if rest.get(name_len + 1 + TOKEN_HASH_HEX) != Some(&b']') {
        return None;
    }
    // Detector names are ASCII by construction of `detector_char`.
    let name = std::str::from_utf8(&rest[..name_len]).ok()?;
    known(name).then_some(TOKEN_PREFIX.len() + name_len + 1 + TOKEN_HASH_HEX + 1)
}

/// A searcher for [`TOKEN_PREFIX`], built once per scanner (building one
/// costs more than searching a short string).
pub(crate) fn token_finder() -> memchr::memmem::Finder<'static> {
    memchr::memmem::Finder::new(TOKEN_PREFIX.as_bytes())
}

/// The byte ranges of well-formed tokens in `text`, in order (one pass);
/// `finder` is [`token_finder`].
pub(crate) fn find_tokens(
    text: &str,
    known: &dyn Fn(&str) -> bool,
    finder: &memchr::memmem::Finder<'_>,
    out: &mut Vec<(usize, usize)>,
) {
    out.clear();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = finder.find(&bytes[from..]) {
        let at = from + i;
        match token_len(&bytes[at..], known) {
            Some(len) => {
                out.push((at, at + len));
                from = at + len;
            }
            None => from = at + 1,
        }
    }
}

/// True when `s` is exactly one well-formed token (surrounding whitespace
/// allowed).
pub(crate) fn is_token(s: &str, known: &dyn Fn(&str) -> bool) -> bool {
    let t = s.trim();
    token_len(t.as_bytes(), known) == Some(t.len())
}

/// True when `kvs` is a well-formed marker: only the `$redacted` key, whose
/// map has exactly `reason`, `detector`, `original_length` and (except for
/// an unscanned value) `hash`, each in its exact shape.
pub(crate) fn is_marker(kvs: &[KeyValue], known: &dyn Fn(&str) -> bool) -> bool {
    let [kv] = kvs else {
        return false;
    };
    if kv.key != MARKER_KEY {
        return false;
    }
    let Some(any_value::Value::KvlistValue(inner)) =
        kv.value.as_ref().and_then(|v| v.value.as_ref())
    else {
        return false;
    };
    let str_of = |key: &str| {
        inner.values.iter().find(|e| e.key == key).and_then(|e| {
            match e.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(s.as_str()),
                _ => None,
            }
        })
    };
    let length_ok = inner.values.iter().any(|e| {
        e.key == "original_length"
            && matches!(
                e.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(any_value::Value::IntValue(n)) if *n >= 0
            )
    });
    let (Some(reason), Some(detector)) = (str_of("reason"), str_of("detector")) else {
        return false;
    };
    if !length_ok {
        return false;
    }
    if reason == REASON_TOO_LARGE {
        return detector == DETECTOR_BUDGET && inner.values.len() == 3;
    }
    let hash_ok = str_of("hash").is_some_and(|h| {
        h.strip_prefix(HASH_SCHEME).is_some_and(|hex| {
            hex.len() == MARKER_HASH_HEX
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
    });
    inner.values.len() == 4
        && (reason == REASON_SECRET || reason == REASON_PII)
        && hash_ok
        && detector.len() <= MAX_DETECTOR_LEN
        && known(detector)
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
    /// Values replaced unscanned because the record's scan budget ran out.
    pub unscanned: u64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: Counts) {
        self.secrets += other.secrets;
        self.pii += other.pii;
        self.unscanned += other.unscanned;
    }

    /// True when nothing was replaced.
    pub fn is_zero(&self) -> bool {
        self.secrets == 0 && self.pii == 0 && self.unscanned == 0
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
    keyed: &Keyed,
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
                    Rewritten::Whole(Marker::new(REASON_SECRET, d.kind, original, keyed)),
                    counts,
                ));
            }
            Class::Pii(c) if whole && pii.mode(c) == PiiMode::Hash => {
                counts.pii = 1;
                return Some((
                    Rewritten::Whole(Marker::new(REASON_PII, d.kind, original, keyed)),
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
                out.push_str(&token(d.kind, original, keyed));
            }
            Class::Pii(c) => {
                counts.pii += 1;
                match pii.mode(c) {
                    PiiMode::Mask => out.push_str(&c.mask(original)),
                    PiiMode::Hash | PiiMode::Off => out.push_str(&token(d.kind, original, keyed)),
                }
            }
        }
        last = d.end;
    }
    out.push_str(&text[last..]);
    Some((Rewritten::Text(out), counts))
}
