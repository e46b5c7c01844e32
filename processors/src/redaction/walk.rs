//! Walking OTLP records in place: every string in a log record's body and
//! attributes, a span's attributes, events, links and status message, and
//! resource attributes.
//!
//! Body strings that are entirely a secret become the OISP `$redacted`
//! marker map; in attributes (where backends expect scalars) they become an
//! inline token. Values under sensitive keys (`authorization`, `x-api-key`,
//! `password`, `cookie`...) are redacted whole whatever they look like.
//! Existing markers are skipped, inline tokens are never re-redacted, and
//! `data:` URLs (inline images) are not scanned, so a second pass changes
//! nothing and base64 images cost nothing. The envelope fields oispd writes
//! itself (ids, timestamps, `source`, `confidence`) are not scanned either.

use super::rewrite::{
    rewrite, token, Counts, Marker, Rewritten, MARKER_KEY, REASON_SECRET, TOKEN_PREFIX,
};
use super::rules::is_placeholder;
use super::scanner::{Class, Detection};
use super::Redactor;
use oispd_component::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use oispd_component::proto::tonic::logs::v1::LogRecord;
use oispd_component::proto::tonic::trace::v1::Span;

/// Strings shorter than this hold no credential or PII we detect.
const MIN_SCAN_LEN: usize = 6;

/// Top-level keys of an OISP event that oispd itself writes (ids, times,
/// provenance, confidence): never user content, not scanned.
const ENVELOPE_KEYS: &[&str] = &[
    "oisp_version",
    "event_id",
    "event_type",
    "ts",
    "ts_mono",
    "source",
    "confidence",
    "related_events",
    "trace_context",
];

/// Detector name for a value redacted because of its key.
pub const SENSITIVE_FIELD: &str = "sensitive_field";

/// Keys whose string values are credentials, compared after lower-casing,
/// taking the part after the last `.` and dropping `-` and `_`
/// (`http.request.header.x-api-key` -> `xapikey`).
const SENSITIVE_KEYS: &[&str] = &[
    "authorization",
    "proxyauthorization",
    "xapikey",
    "apikey",
    "xgoogapikey",
    "ocpapimsubscriptionkey",
    "xauthtoken",
    "xamzsecuritytoken",
    "cookie",
    "setcookie",
    "password",
    "passwd",
    "secret",
    "clientsecret",
    "apitoken",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "idtoken",
    "sessiontoken",
    "bearertoken",
    "privatekey",
    "secretkey",
    "secretaccesskey",
    "awssecretaccesskey",
];

/// True when values under `key` are credentials.
pub fn is_sensitive_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    if last.len() > 32 {
        return false;
    }
    let mut norm = [0u8; 32];
    let mut n = 0;
    for b in last.bytes() {
        if b == b'-' || b == b'_' {
            continue;
        }
        norm[n] = b.to_ascii_lowercase();
        n += 1;
    }
    let norm = &norm[..n];
    SENSITIVE_KEYS.iter().any(|k| k.as_bytes() == norm)
}

/// True for `data:<mime>;base64,...` URLs.
fn is_data_url(s: &str) -> bool {
    s.len() > 16
        && s.as_bytes()[..5].eq_ignore_ascii_case(b"data:")
        && s[..s.len().min(128)].contains(";base64,")
}

/// One walk over one record.
pub(crate) struct Walk<'r> {
    redactor: &'r Redactor,
    scratch: Vec<Detection<'r>>,
    pub(crate) counts: Counts,
}

impl<'r> Walk<'r> {
    pub(crate) fn new(redactor: &'r Redactor) -> Walk<'r> {
        Walk {
            redactor,
            scratch: Vec::new(),
            counts: Counts::default(),
        }
    }

    /// Redacts a log record's body and attributes; marks OISP bodies with
    /// `confidence.redaction_applied: true` when something was replaced.
    pub(crate) fn log_record(&mut self, rec: &mut LogRecord) {
        let before = self.counts;
        if let Some(body) = rec.body.as_mut() {
            match body.value.as_mut() {
                Some(any_value::Value::KvlistValue(kv))
                    if kv.values.iter().any(|e| e.key == "event_type") =>
                {
                    self.key_values(&mut kv.values, true, ENVELOPE_KEYS);
                }
                _ => self.value(body, true),
            }
            if self.counts != before {
                mark_redaction_applied(body);
            }
        }
        self.attributes(&mut rec.attributes);
    }

    /// Redacts a span's attributes, event and link attributes, and status
    /// message.
    pub(crate) fn span(&mut self, span: &mut Span) {
        self.attributes(&mut span.attributes);
        for e in &mut span.events {
            self.attributes(&mut e.attributes);
        }
        for l in &mut span.links {
            self.attributes(&mut l.attributes);
        }
        if let Some(status) = span.status.as_mut() {
            if let Some(new) = self.text(&status.message, false) {
                status.message = match new {
                    Rewritten::Text(t) => t,
                    Rewritten::Whole(m) => token(&m.detector, &status.message),
                };
            }
        }
    }

    /// Redacts attribute values (inline tokens only, no marker maps).
    pub(crate) fn attributes(&mut self, attrs: &mut [KeyValue]) {
        self.key_values(attrs, false, &[]);
    }

    fn value(&mut self, v: &mut AnyValue, allow_marker: bool) {
        let replacement = match v.value.as_mut() {
            Some(any_value::Value::StringValue(s)) => match self.text(s, allow_marker) {
                Some(Rewritten::Text(t)) => {
                    *s = t;
                    None
                }
                Some(Rewritten::Whole(m)) => Some(m.to_any_value()),
                None => None,
            },
            Some(any_value::Value::ArrayValue(a)) => {
                for item in &mut a.values {
                    self.value(item, allow_marker);
                }
                None
            }
            Some(any_value::Value::KvlistValue(kv)) => {
                self.key_values(&mut kv.values, allow_marker, &[]);
                None
            }
            _ => None,
        };
        if let Some(r) = replacement {
            *v = r;
        }
    }

    fn key_values(&mut self, kvs: &mut [KeyValue], allow_marker: bool, skip: &[&str]) {
        if kvs.iter().any(|kv| kv.key == MARKER_KEY) {
            return;
        }
        for kv in kvs.iter_mut() {
            if skip.contains(&kv.key.as_str()) {
                continue;
            }
            let Some(val) = kv.value.as_mut() else {
                continue;
            };
            if is_sensitive_key(&kv.key) {
                if let Some(any_value::Value::StringValue(s)) = val.value.as_ref() {
                    if let Some(new) = self.sensitive_value(s, allow_marker) {
                        *val = new;
                    }
                    continue;
                }
            }
            self.value(val, allow_marker);
        }
    }

    /// A credential by position: redacted whole, named after the specific
    /// rule that recognises it if one does.
    fn sensitive_value(&mut self, s: &str, allow_marker: bool) -> Option<AnyValue> {
        if is_placeholder(s) || s.starts_with(TOKEN_PREFIX) {
            return None;
        }
        self.redactor.scanner.scan(s, &mut self.scratch);
        let detector = self
            .scratch
            .iter()
            .find(|d| d.class == Class::Secret)
            .map_or(SENSITIVE_FIELD, |d| d.kind)
            .to_string();
        self.counts.secrets += 1;
        if allow_marker {
            return Some(Marker::new(REASON_SECRET, &detector, s).to_any_value());
        }
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(token(&detector, s))),
        })
    }

    /// Scans and rewrites one string; `None` when nothing changes.
    pub(crate) fn text(&mut self, s: &str, allow_marker: bool) -> Option<Rewritten> {
        if s.len() < MIN_SCAN_LEN || is_data_url(s) {
            return None;
        }
        self.redactor.scanner.scan(s, &mut self.scratch);
        if self.scratch.is_empty() {
            return None;
        }
        let (rewritten, counts) = rewrite(s, &self.scratch, &self.redactor.pii, allow_marker)?;
        self.counts.add(counts);
        Some(rewritten)
    }
}

/// Sets `confidence.redaction_applied = true` in an OISP event body (a map
/// with `event_type` and a `confidence` map); other bodies are left alone.
fn mark_redaction_applied(body: &mut AnyValue) {
    let Some(any_value::Value::KvlistValue(event)) = body.value.as_mut() else {
        return;
    };
    if !event.values.iter().any(|kv| kv.key == "event_type") {
        return;
    }
    let Some(conf) = event.values.iter_mut().find(|kv| kv.key == "confidence") else {
        return;
    };
    let Some(AnyValue {
        value: Some(any_value::Value::KvlistValue(conf)),
    }) = conf.value.as_mut()
    else {
        return;
    };
    let applied = Some(AnyValue {
        value: Some(any_value::Value::BoolValue(true)),
    });
    match conf
        .values
        .iter_mut()
        .find(|kv| kv.key == "redaction_applied")
    {
        Some(kv) => kv.value = applied,
        None => conf.values.push(KeyValue {
            key: "redaction_applied".to_string(),
            value: applied,
            ..Default::default()
        }),
    }
}
