//! Walking OTLP records in place: every string of a record is scanned.
//! Log records: body (every value and every map key, at any depth),
//! attributes, `event_name`, `severity_text`. Spans: name, `trace_state`,
//! attributes, event names and attributes, link attributes and
//! `trace_state`, status message. Resources and scopes: attributes, scope
//! name and version, entity references, schema URLs. Byte values are
//! scanned as (lossy) UTF-8 and, if something is found, replaced by the
//! redacted text's bytes. The OISP envelope is scanned like the rest.
//!
//! Body strings that are entirely a secret become the OISP `$redacted`
//! marker map; in attributes and keys (where a map would be out of place)
//! they become an inline token. Every string under a sensitive key
//! (`authorization`, `x-api-key`, `password`, `cookie`...), at any depth
//! (arrays, nested maps), is redacted whole whatever it looks like. Arrays
//! of strings are also scanned as one command line (`["curl", "-u",
//! "alice:..."]`), so a flag and its value in separate items are seen
//! together.
//!
//! Nothing is skipped because it looks redacted: only well-formed markers
//! and tokens (exact shape, known detector, see [`super::rewrite`]) are
//! left alone, and they hold nothing a scan would find.
//!
//! Each record has a scan budget ([`super::scanner::SCAN_BUDGET_BYTES`] of raw and decoded
//! text): a value that does not fit is replaced unscanned (fail closed) and
//! counted.

use super::rewrite::{
    is_marker, is_token, rewrite, token, Counts, Marker, Rewritten, REASON_SECRET, UNSCANNED_TOKEN,
};
use super::rules::is_placeholder;
use super::scanner::{Budget, Class, Detection};
use super::Redactor;
use oispd_component::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue,
};
use oispd_component::proto::tonic::logs::v1::LogRecord;
use oispd_component::proto::tonic::metrics::v1::{metric, Exemplar, Metric};
use oispd_component::proto::tonic::trace::v1::Span;

/// Strings shorter than this hold no credential or PII we detect.
const MIN_SCAN_LEN: usize = 6;

/// Detector name for a value redacted because of its key.
pub const SENSITIVE_FIELD: &str = "sensitive_field";

/// Keys whose string values are credentials, compared after lower-casing,
/// taking the part after the last `.` and dropping `-` and `_`
/// (`http.request.header.x-api-key` -> `xapikey`).
const SENSITIVE_KEYS: &[&str] = &[
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "mysqlpwd",
    "ocpapimsubscriptionkey",
    "sig",
];

/// Endings of sensitive keys (after the same normalisation): `password`
/// covers `db_password` and `PGPASSWORD`, `apikey` covers `x-api-key`.
const SENSITIVE_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "apitoken",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "idtoken",
    "sessiontoken",
    "securitytoken",
    "bearertoken",
    "vaulttoken",
    "privatekey",
    "secretkey",
    "secretaccesskey",
    "secretkeybase",
];

/// Longest key (last part, normalised) compared with the lists.
const MAX_KEY_LEN: usize = 64;

/// True when values under `key` are credentials.
pub fn is_sensitive_key(key: &str) -> bool {
    // A byte scan, not `rsplit('.')`: keys are short, and this runs for
    // every key of every record (the char searcher's set-up cost more than
    // the search).
    let bytes = key.as_bytes();
    let last = match bytes.iter().rposition(|&b| b == b'.') {
        Some(dot) => &bytes[dot + 1..],
        None => bytes,
    };
    if last.len() > MAX_KEY_LEN {
        return false;
    }
    let mut norm = [0u8; MAX_KEY_LEN];
    let mut n = 0;
    for &b in last {
        if b == b'-' || b == b'_' {
            continue;
        }
        norm[n] = b.to_ascii_lowercase();
        n += 1;
    }
    let norm = &norm[..n];
    SENSITIVE_KEYS.iter().any(|k| k.as_bytes() == norm)
        || SENSITIVE_SUFFIXES
            .iter()
            .any(|k| norm.ends_with(k.as_bytes()))
}

/// Where a value sits.
#[derive(Clone, Copy)]
struct At {
    /// A whole-secret string may become a marker map (bodies), not only a
    /// token (attributes, keys).
    marker: bool,
    /// Under a sensitive key.
    sensitive: bool,
}

/// One walk over one record.
pub(crate) struct Walk<'r> {
    redactor: &'r Redactor,
    scratch: Vec<Detection<'r>>,
    budget: Budget,
    pub(crate) counts: Counts,
}

impl<'r> Walk<'r> {
    pub(crate) fn new(redactor: &'r Redactor) -> Walk<'r> {
        Walk::with_budget(redactor, Budget::default())
    }

    pub(crate) fn with_budget(redactor: &'r Redactor, budget: Budget) -> Walk<'r> {
        Walk {
            redactor,
            scratch: Vec::new(),
            budget,
            counts: Counts::default(),
        }
    }

    /// Bytes of text scanned so far (raw and decoded views).
    #[cfg(test)]
    pub(crate) fn scanned(&self) -> usize {
        self.budget.scanned
    }

    /// Redacts a log record; marks OISP bodies with
    /// `confidence.redaction_applied: true` when something was replaced.
    pub(crate) fn log_record(&mut self, rec: &mut LogRecord) {
        let before = self.counts;
        if let Some(body) = rec.body.as_mut() {
            self.value(
                body,
                At {
                    marker: true,
                    sensitive: false,
                },
            );
            if self.counts != before {
                mark_redaction_applied(body);
            }
        }
        self.attributes(&mut rec.attributes);
        self.field(&mut rec.event_name);
        self.field(&mut rec.severity_text);
    }

    /// Redacts a span: name, trace state, attributes, events, links, status.
    pub(crate) fn span(&mut self, span: &mut Span) {
        self.field(&mut span.name);
        self.field(&mut span.trace_state);
        self.attributes(&mut span.attributes);
        for e in &mut span.events {
            self.field(&mut e.name);
            self.attributes(&mut e.attributes);
        }
        for l in &mut span.links {
            self.field(&mut l.trace_state);
            self.attributes(&mut l.attributes);
        }
        if let Some(status) = span.status.as_mut() {
            self.field(&mut status.message);
        }
    }

    /// Redacts a metric: name, description, unit, metadata, and every data
    /// point's attributes and its exemplars' filtered attributes.
    pub(crate) fn metric(&mut self, m: &mut Metric) {
        self.field(&mut m.name);
        self.field(&mut m.description);
        self.field(&mut m.unit);
        self.attributes(&mut m.metadata);
        let point = |w: &mut Self, attrs: &mut [KeyValue], exemplars: &mut [Exemplar]| {
            w.attributes(attrs);
            for e in exemplars {
                w.attributes(&mut e.filtered_attributes);
            }
        };
        match m.data.as_mut() {
            Some(metric::Data::Gauge(g)) => g
                .data_points
                .iter_mut()
                .for_each(|p| point(self, &mut p.attributes, &mut p.exemplars)),
            Some(metric::Data::Sum(s)) => s
                .data_points
                .iter_mut()
                .for_each(|p| point(self, &mut p.attributes, &mut p.exemplars)),
            Some(metric::Data::Histogram(h)) => h
                .data_points
                .iter_mut()
                .for_each(|p| point(self, &mut p.attributes, &mut p.exemplars)),
            Some(metric::Data::ExponentialHistogram(h)) => h
                .data_points
                .iter_mut()
                .for_each(|p| point(self, &mut p.attributes, &mut p.exemplars)),
            Some(metric::Data::Summary(s)) => s
                .data_points
                .iter_mut()
                .for_each(|p| point(self, &mut p.attributes, &mut [])),
            None => {}
        }
    }

    /// Redacts an instrumentation scope: name, version, attributes.
    pub(crate) fn scope(&mut self, scope: &mut InstrumentationScope) {
        self.field(&mut scope.name);
        self.field(&mut scope.version);
        self.attributes(&mut scope.attributes);
    }

    /// Redacts resource entity references.
    pub(crate) fn entity_refs(&mut self, refs: &mut [EntityRef]) {
        for r in refs {
            self.field(&mut r.schema_url);
            self.field(&mut r.r#type);
            for k in r.id_keys.iter_mut().chain(r.description_keys.iter_mut()) {
                self.field(k);
            }
        }
    }

    /// Redacts attribute keys and values (inline tokens only, no marker maps).
    pub(crate) fn attributes(&mut self, attrs: &mut [KeyValue]) {
        self.key_values(
            attrs,
            At {
                marker: false,
                sensitive: false,
            },
        );
    }

    /// Redacts a plain string field in place (inline tokens only).
    pub(crate) fn field(&mut self, s: &mut String) {
        if let Some(new) = self.inline(s) {
            *s = new;
        }
    }

    /// The redacted form of `s` as text, if anything changes.
    pub(crate) fn inline(&mut self, s: &str) -> Option<String> {
        Some(match self.string(s, false, false)? {
            Rewritten::Text(t) => t,
            Rewritten::Whole(m) => token(&m.detector, s, &self.redactor.keyed),
        })
    }

    fn value(&mut self, v: &mut AnyValue, at: At) {
        let replacement = match v.value.as_mut() {
            Some(any_value::Value::StringValue(s)) => match self.string(s, at.marker, at.sensitive)
            {
                Some(Rewritten::Text(t)) => {
                    *s = t;
                    None
                }
                Some(Rewritten::Whole(m)) => Some(m.to_any_value()),
                None => None,
            },
            Some(any_value::Value::BytesValue(b)) => {
                let text = String::from_utf8_lossy(b).into_owned();
                match self.string(&text, false, at.sensitive) {
                    Some(Rewritten::Text(t)) => *b = t.into_bytes(),
                    Some(Rewritten::Whole(m)) => {
                        *b = token(&m.detector, &text, &self.redactor.keyed).into_bytes()
                    }
                    None => {}
                }
                None
            }
            Some(any_value::Value::ArrayValue(a)) => {
                self.array(a, at);
                None
            }
            Some(any_value::Value::KvlistValue(kv)) => {
                let redactor = self.redactor;
                let known = |k: &str| redactor.scanner.is_known_kind(k);
                if !is_marker(&kv.values, &known) {
                    self.key_values(&mut kv.values, at);
                }
                None
            }
            _ => None,
        };
        if let Some(r) = replacement {
            *v = r;
        }
    }

    fn key_values(&mut self, kvs: &mut [KeyValue], at: At) {
        for kv in kvs.iter_mut() {
            let sensitive = at.sensitive || is_sensitive_key(&kv.key);
            if let Some(new) = self.inline(&kv.key) {
                kv.key = new;
            }
            if let Some(val) = kv.value.as_mut() {
                self.value(val, At { sensitive, ..at });
            }
        }
    }

    /// An array: items one by one, and its strings together as one command
    /// line (`curl -u alice:...` split into arguments).
    fn array(&mut self, a: &mut ArrayValue, at: At) {
        let strings = a
            .values
            .iter()
            .filter(|v| matches!(v.value, Some(any_value::Value::StringValue(_))))
            .count();
        if at.sensitive || strings < 2 {
            for item in &mut a.values {
                self.value(item, at);
            }
            return;
        }
        for item in &mut a.values {
            if !matches!(item.value, Some(any_value::Value::StringValue(_))) {
                self.value(item, at);
            }
        }
        let mut joined = String::new();
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(strings);
        for item in &a.values {
            if let Some(any_value::Value::StringValue(s)) = &item.value {
                if !joined.is_empty() {
                    joined.push(' ');
                }
                spans.push((joined.len(), joined.len() + s.len()));
                joined.push_str(s);
            }
        }
        let redactor = self.redactor;
        if redactor
            .scanner
            .scan_budgeted(&joined, None, &mut self.budget, &mut self.scratch)
            .is_err()
        {
            for item in &mut a.values {
                if let Some(any_value::Value::StringValue(s)) = &item.value {
                    if let Some(r) = self.unscanned(s, at.marker) {
                        replace(item, r);
                    }
                }
            }
            return;
        }
        if self.scratch.is_empty() {
            return;
        }
        let detections = std::mem::take(&mut self.scratch);
        let mut local: Vec<Detection<'_>> = Vec::new();
        let mut k = 0;
        for item in &mut a.values {
            let Some(any_value::Value::StringValue(s)) = &item.value else {
                continue;
            };
            let (from, to) = spans[k];
            k += 1;
            local.clear();
            for d in &detections {
                let (s0, e0) = (d.start.max(from), d.end.min(to));
                if s0 < e0 {
                    local.push(Detection {
                        start: s0 - from,
                        end: e0 - from,
                        ..*d
                    });
                }
            }
            if local.is_empty() {
                continue;
            }
            if let Some((r, counts)) = rewrite(s, &local, &redactor.pii, &redactor.keyed, at.marker)
            {
                self.counts.add(counts);
                replace(item, r);
            }
        }
        self.scratch = detections;
    }

    /// The replacement for a value that does not fit in the scan budget
    /// (`None` for short strings and for tokens, which hold nothing).
    fn unscanned(&mut self, s: &str, allow_marker: bool) -> Option<Rewritten> {
        let redactor = self.redactor;
        let known = |k: &str| redactor.scanner.is_known_kind(k);
        if s.len() < MIN_SCAN_LEN || is_token(s, &known) {
            return None;
        }
        self.counts.unscanned += 1;
        Some(if allow_marker {
            Rewritten::Whole(Marker::unscanned(s.chars().count()))
        } else {
            Rewritten::Text(UNSCANNED_TOKEN.to_string())
        })
    }

    /// Scans and rewrites one string; `None` when nothing changes.
    pub(crate) fn string(
        &mut self,
        s: &str,
        allow_marker: bool,
        sensitive: bool,
    ) -> Option<Rewritten> {
        let redactor = self.redactor;
        let known = |k: &str| redactor.scanner.is_known_kind(k);
        if sensitive && !is_placeholder(s) && !is_token(s, &known) {
            return Some(self.sensitive_value(s, allow_marker));
        }
        if s.len() < MIN_SCAN_LEN {
            return None;
        }
        if self.budget.exhausted_by(s.len()) {
            return self.unscanned(s, allow_marker);
        }
        if redactor
            .scanner
            .scan_budgeted(s, None, &mut self.budget, &mut self.scratch)
            .is_err()
        {
            return self.unscanned(s, allow_marker);
        }
        if self.scratch.is_empty() {
            return None;
        }
        let (rewritten, counts) = rewrite(
            s,
            &self.scratch,
            &redactor.pii,
            &redactor.keyed,
            allow_marker,
        )?;
        self.counts.add(counts);
        Some(rewritten)
    }

    /// A credential by position: redacted whole, named after the specific
    /// rule that recognises it if one does.
    fn sensitive_value(&mut self, s: &str, allow_marker: bool) -> Rewritten {
        let redactor = self.redactor;
        let detector = if self.budget.exhausted_by(s.len()) {
            SENSITIVE_FIELD
        } else {
            // Over budget the kind is unknown, the value is redacted anyway.
            let _ = redactor
                .scanner
                .scan_budgeted(s, None, &mut self.budget, &mut self.scratch);
            self.scratch
                .iter()
                .find(|d| d.class == Class::Secret)
                .map_or(SENSITIVE_FIELD, |d| d.kind)
        };
        self.counts.secrets += 1;
        if allow_marker {
            Rewritten::Whole(Marker::new(REASON_SECRET, detector, s, &redactor.keyed))
        } else {
            Rewritten::Text(token(detector, s, &redactor.keyed))
        }
    }
}

/// Puts a rewritten string in place of an array item.
fn replace(item: &mut AnyValue, r: Rewritten) {
    match r {
        Rewritten::Text(t) => item.value = Some(any_value::Value::StringValue(t)),
        Rewritten::Whole(m) => *item = m.to_any_value(),
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
