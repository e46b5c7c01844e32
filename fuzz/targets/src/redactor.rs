//! `redactor_leaks`: a differential check of the always-on redactor. A
//! known credential from [`SECRETS`] is planted in fuzzer-chosen text, in a
//! fuzzer-chosen encoding and place of a log record (or given to
//! `redact_text`); after redaction, the credential must not survive in any
//! form the scanner claims to see through: raw, inside JSON strings
//! (unescaped), percent-decoded or base64-decoded.
//!
//! The credential is set off from the surrounding text by a fuzzer-chosen
//! delimiter (space, quote, newline, ...): glued to letters it would be a
//! different token, which no scanner can tell apart. Nothing else about
//! the property is relaxed: a finding here is a credential that reaches an
//! exporter.
//!
//! Input: bytes choosing the credential, encoding, place, delimiters and
//! attribute key, then the text around the credential (split in two by a
//! chosen position; UTF-8, lossy).

use std::sync::OnceLock;

use base64::Engine;
use oispd_component::proto::tonic::common::v1::{
    any_value::Value as Av, AnyValue, ArrayValue, KeyValue, KeyValueList,
};
use oispd_component::proto::tonic::logs::v1::LogRecord;
use oispd_component::RedactionKey;
use oispd_processors::redaction::{always_on_redactor, Redactor};

use crate::input::Input;

/// Credentials of formats the built-in rules know (all fake).
pub const SECRETS: &[&str] = &[
    "sk-ant-api03-Qx7vK2mPz9LwR4tYb8NcE1dGh5JkS3fUa6VoI0qXrT2yW7eZn4MpL9sKd1FgH3jA8bC5vN0xQ2wE6rT4yU7iO1pAAS3dF5gH7jK9lZ2xC4vB6nM8qW0eR1tY3uI5oP7aS9dF2gH4jKAA",
    "sk-proj-Tq3Lm8Zx1Vb6Nc4Kd9Hs2Jf7Gp0Wr5Ye3Ua8Io1Pz6Xc",
    "AKIAZ7QRST2345ABCDEF",
    "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "glpat-Xk3mP9qR2sT7vW1yZ4bC",
    "xoxb-2740219683-Hq8Lk3Vz6Nb1Mc9Xd4Ps",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "hf_kXq3LmZ8vB2nC7dF4gH9jK1pQ6rS0tUwY5",
    "AIzaSyD3kL9mN2pQ7rS4tU8vW1xY6zA5bC0dE3f",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
];

/// Characters that set a credential off from the text around it.
const DELIMITERS: &[&str] = &[
    " ", "\n", "\"", "'", ",", ";", "(", ")", "<", ">", "\t", "=", ": ", "\r\n",
];

/// Attribute keys the credential is placed under.
const KEYS: &[&str] = &[
    "gen_ai.prompt",
    "authorization",
    "ai.request.body",
    "x",
    "message.content",
];

/// The redactor the binary runs before every exporter, built once, with a
/// fixed marker key (the key changes hashes in markers, not what is found).
pub(crate) fn always_on() -> &'static Redactor {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    REDACTOR.get_or_init(
        || match always_on_redactor(&RedactionKey::from_bytes([7; 32])) {
            Ok(r) => r,
            Err(e) => panic!("the built-in rules do not compile: {e}"),
        },
    )
}

fn pick<'a>(table: &[&'a str], b: u8) -> &'a str {
    table[usize::from(b) % table.len()]
}

fn string(s: String) -> AnyValue {
    AnyValue {
        value: Some(Av::StringValue(s)),
    }
}

/// `secret` as it appears in the text, per the chosen encoding.
fn encode(secret: &str, how: u8, every: u8) -> String {
    match how % 6 {
        0 => secret.to_string(),
        // A JSON string whose characters are \u-escaped every `every`th one.
        1 => {
            let n = usize::from(every).max(1);
            secret
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if every != 0 && i % n == 0 {
                        format!("\\u{:04x}", u32::from(c))
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        }
        // Percent-encoded: every byte, or only those outside the unreserved set.
        2 => secret.bytes().map(|b| format!("%{b:02X}")).collect(),
        3 => percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
        4 => base64::engine::general_purpose::STANDARD.encode(secret),
        _ => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    }
}

/// Plants a credential, redacts, and checks nothing of it survives.
pub fn redactor_leaks(data: &[u8]) {
    let mut input = Input::new(data);
    let secret = pick(SECRETS, input.byte());
    let how = input.byte();
    let every = input.byte();
    let place = input.byte();
    let (open, close) = (
        pick(DELIMITERS, input.byte()),
        pick(DELIMITERS, input.byte()),
    );
    let key = pick(KEYS, input.byte());
    let split = usize::from(input.u16());
    let text = String::from_utf8_lossy(input.rest()).into_owned();
    let at = (0..=split.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let (before, after) = text.split_at(at);
    let encoded = encode(secret, how, every);
    let mut line = format!("{before}{open}{encoded}{close}{after}");
    if how % 6 == 1 {
        // The \u escapes only mean something inside a JSON string.
        line = format!(
            "{{\"{key}\": \"{line}\"}}",
            line = line.replace('"', "\\\"")
        );
    }
    let redactor = always_on();
    let surviving: Vec<String> = if place.is_multiple_of(5) {
        vec![redactor.redact_text(&line).unwrap_or(line)]
    } else {
        let mut rec = LogRecord::default();
        let value = string(line);
        match place % 5 {
            1 => rec.body = Some(value),
            2 => rec.attributes.push(KeyValue {
                key: key.to_string(),
                value: Some(value),
                ..Default::default()
            }),
            3 => {
                rec.body = Some(AnyValue {
                    value: Some(Av::KvlistValue(KeyValueList {
                        values: vec![KeyValue {
                            key: key.to_string(),
                            value: Some(value),
                            ..Default::default()
                        }],
                    })),
                })
            }
            _ => rec.attributes.push(KeyValue {
                key: key.to_string(),
                value: Some(AnyValue {
                    value: Some(Av::ArrayValue(ArrayValue {
                        values: vec![string("first".into()), value],
                    })),
                }),
                ..Default::default()
            }),
        }
        redactor.redact_log_record(&mut rec);
        let mut out = Vec::new();
        if let Some(body) = &rec.body {
            strings(body, &mut out);
        }
        for kv in &rec.attributes {
            out.push(kv.key.clone());
            if let Some(v) = &kv.value {
                strings(v, &mut out);
            }
        }
        out
    };
    for s in &surviving {
        if let Some(form) = leak_form(s, secret) {
            panic!("credential {secret:?} survived redaction ({form}) in {s:?}");
        }
    }
}

/// Which decoded form of `s` (raw, JSON-unescaped, percent-decoded,
/// base64-decoded, two decodings deep) holds `secret`: the check the
/// target applies after redaction.
pub fn leak_form(s: &str, secret: &str) -> Option<&'static str> {
    leak(s, secret, 2)
}

/// Every string (and bytes, lossy) in a value, keys included.
fn strings(v: &AnyValue, out: &mut Vec<String>) {
    match &v.value {
        Some(Av::StringValue(s)) => out.push(s.clone()),
        Some(Av::BytesValue(b)) => out.push(String::from_utf8_lossy(b).into_owned()),
        Some(Av::ArrayValue(a)) => a.values.iter().for_each(|v| strings(v, out)),
        Some(Av::KvlistValue(kv)) => {
            for e in &kv.values {
                out.push(e.key.clone());
                if let Some(v) = &e.value {
                    strings(v, out);
                }
            }
        }
        _ => {}
    }
}

/// Which decoded form of `s` holds `secret`, looking `depth` decodings deep.
fn leak(s: &str, secret: &str, depth: u8) -> Option<&'static str> {
    if s.contains(secret) {
        return Some("raw");
    }
    if depth == 0 {
        return None;
    }
    let mut forms: Vec<(&'static str, String)> = Vec::new();
    if s.contains('\\') || s.contains('{') || s.contains('[') {
        // JSON: the whole text, or any string literal in it.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(s) {
            let mut all = Vec::new();
            json_strings(&v, &mut all);
            forms.extend(all.into_iter().map(|x| ("JSON-unescaped", x)));
        }
        for literal in string_literals(s) {
            forms.push(("JSON-unescaped", literal));
        }
    }
    if s.contains('%') {
        forms.push((
            "percent-decoded",
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned(),
        ));
    }
    for run in s.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c))) {
        if run.len() < 16 {
            continue;
        }
        let run = run.trim_end_matches('=');
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            // Decode at each of the 4 alignments a run embedded in text can have.
            for skip in 0..4.min(run.len()) {
                if let Ok(bytes) = engine.decode(&run[skip..]) {
                    forms.push((
                        "base64-decoded",
                        String::from_utf8_lossy(&bytes).into_owned(),
                    ));
                }
            }
        }
    }
    forms
        .iter()
        .find_map(|(name, form)| leak(form, secret, depth - 1).map(|_| *name))
}

fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(o) => {
            for (k, v) in o {
                out.push(k.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Every `"..."` in `s` that is a valid JSON string literal, unescaped.
fn string_literals(s: &str) -> Vec<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < bytes.len() && bytes[i] != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        if i < bytes.len() {
            if let Ok(v) = serde_json::from_str::<String>(&s[start..=i]) {
                out.push(v);
            }
        }
        i += 1;
    }
    out
}
