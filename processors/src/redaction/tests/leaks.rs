//! The leak matrix: every credential kind, placed in every field of a
//! record that can hold text, in every encoding the scanner decodes; after
//! redaction no decoded form of the serialized record holds the secret, and
//! a second pass changes nothing. Then the attacks on redaction itself
//! (attacker-written markers and tokens) and the argv forms of commands.
//!
//! To add a format: a row in [`credential_kinds`]. A place: a variant of
//! [`Field`]. An encoding: a variant of [`Encoding`].

use super::*;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use oispd_component::proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use oispd_component::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use oispd_component::proto::tonic::resource::v1::Resource;
use oispd_component::proto::tonic::trace::v1::span::{Event, Link};
use oispd_component::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use oispd_semconv::otel::json_to_any_value;
use serde_json::{json, Value};

/// A credential as it appears in text, and the part that must not survive.
pub(crate) struct Kind {
    pub name: &'static str,
    pub text: String,
    pub secret: String,
    /// Length of a vendor prefix at the start of `secret` that matches in
    /// any case (0: none).
    pub prefix: usize,
}

fn kind(name: &'static str, text: String, secret: String, prefix: usize) -> Kind {
    Kind {
        name,
        text,
        secret,
        prefix,
    }
}

/// A fake AWS secret access key that passes the context-free checks.
pub(crate) fn aws_secret() -> String {
    fake(30, 40, B64)
}

/// Every credential kind the redactor promises to catch.
pub(crate) fn credential_kinds() -> Vec<Kind> {
    let mut kinds: Vec<Kind> = samples()
        .into_iter()
        .map(|(name, secret)| {
            let prefix = match name {
                "openai_api_key" if secret.starts_with("sk-proj-") => 8,
                "openai_api_key" => 3,
                "anthropic_api_key" => 7,
                "google_api_key" => 4,
                "github_token" if secret.starts_with("github_pat_") => 11,
                "github_token" => 4,
                "gitlab_token" => 6,
                "slack_token" => 5,
                "stripe_key" => 8,
                "huggingface_token" => 3,
                _ => 0,
            };
            kind(name, secret.clone(), secret, prefix)
        })
        .collect();
    let aws = aws_secret();
    kinds.push(kind("aws_secret_key", aws.clone(), aws, 0));
    let session = fake(101, 320, B64);
    kinds.push(kind(
        "aws_session_token",
        format!("export AWS_SESSION_TOKEN={session}"),
        session,
        0,
    ));
    let storage = format!("{}==", fake(102, 86, B64));
    kinds.push(kind(
        "azure_storage_key",
        format!("DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={storage};EndpointSuffix=core.windows.net"),
        storage,
        0,
    ));
    let hex32 = fake(103, 32, HEX);
    kinds.push(kind("azure_api_key", format!("api-key: {hex32}"), hex32, 0));
    let sig = fake(104, 43, ALNUM);
    kinds.push(kind(
        "azure_sas_signature",
        format!("https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&sp=r&sig={sig}%3D"),
        sig,
        0,
    ));
    let vault = format!("hvs.{}", fake(105, 90, ALNUM));
    kinds.push(kind(
        "vault_token",
        format!("X-Vault-Token: {vault}"),
        vault.clone(),
        0,
    ));
    let vault_legacy = format!("s.{}", fake(106, 24, ALNUM));
    kinds.push(kind(
        "vault_token",
        format!("curl -H \"X-Vault-Token: {vault_legacy}\" https://vault.internal/v1/kv"),
        vault_legacy,
        0,
    ));
    let url_pw = format!("Pw{}", fake(107, 14, ALNUM));
    kinds.push(kind(
        "url_credentials",
        format!("postgres://app:{url_pw}@db.internal:5432/app"),
        url_pw,
        0,
    ));
    let redis_pw = format!("Rd{}", fake(108, 14, ALNUM));
    kinds.push(kind(
        "url_credentials",
        format!("redis://:{redis_pw}@cache.internal:6379/0"),
        redis_pw,
        0,
    ));
    let basic = fake(109, 28, B64);
    kinds.push(kind(
        "basic_auth",
        format!("Authorization: Basic {basic}"),
        basic,
        0,
    ));
    let bearer = fake(110, 40, ALNUM);
    kinds.push(kind(
        "bearer_token",
        format!("Authorization: Bearer {bearer}"),
        bearer,
        0,
    ));
    for (text, secret) in [
        ("password=Quintessential", "Quintessential"),
        (
            "{\"password\": \"correct horse battery staple\"}",
            "correct horse battery staple",
        ),
        ("password: $Ecr3tDollarValue", "$Ecr3tDollarValue"),
        ("db_password=@dminAtSign2024", "@dminAtSign2024"),
        ("env PGPASSWORD=PgSecretValue9 psql -h db", "PgSecretValue9"),
        ("mysql -uroot -pMySecretValue7 shop", "MySecretValue7"),
        (
            "mysql -u root --password=MyLongOption8 shop",
            "MyLongOption8",
        ),
        (
            "docker login -u bob --password SeparateArg5",
            "SeparateArg5",
        ),
        (
            "curl -u alice:CurlSecretValue3 https://api.internal/v1",
            "CurlSecretValue3",
        ),
        (
            "curl --user alice:CurlUserValue4 https://api.internal/v1",
            "CurlUserValue4",
        ),
    ] {
        kinds.push(kind("password", text.to_string(), secret.to_string(), 0));
    }
    let base = fake(111, 128, HEX);
    kinds.push(kind(
        "generic_secret",
        format!("SECRET_KEY_BASE={base}"),
        base,
        0,
    ));
    let api = fake(112, 24, ALNUM);
    kinds.push(kind(
        "generic_secret",
        format!("api_key = \"{api}\""),
        api,
        0,
    ));
    kinds
}

/// A place in a record that holds text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    BodyString,
    BodyMapValue,
    MapKey,
    NestedArray,
    Attribute,
    SensitiveArrayAttribute,
    ResourceAttribute,
    ScopeName,
    ScopeAttribute,
    EventName,
    SeverityText,
    SpanName,
    SpanEventName,
    SpanEventAttribute,
    LinkAttribute,
    TraceState,
    StatusMessage,
    BytesValue,
    EnvelopeSource,
    EnvelopeRelated,
}

const FIELDS: [Field; 20] = [
    Field::BodyString,
    Field::BodyMapValue,
    Field::MapKey,
    Field::NestedArray,
    Field::Attribute,
    Field::SensitiveArrayAttribute,
    Field::ResourceAttribute,
    Field::ScopeName,
    Field::ScopeAttribute,
    Field::EventName,
    Field::SeverityText,
    Field::SpanName,
    Field::SpanEventName,
    Field::SpanEventAttribute,
    Field::LinkAttribute,
    Field::TraceState,
    Field::StatusMessage,
    Field::BytesValue,
    Field::EnvelopeSource,
    Field::EnvelopeRelated,
];

/// How the credential is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Raw,
    JsonEscaped,
    DoubleEscaped,
    UnicodeEscaped,
    PercentEncoded,
    Base64,
    DataUrl,
    OtherCasePrefix,
}

const ENCODINGS: [Encoding; 8] = [
    Encoding::Raw,
    Encoding::JsonEscaped,
    Encoding::DoubleEscaped,
    Encoding::UnicodeEscaped,
    Encoding::PercentEncoded,
    Encoding::Base64,
    Encoding::DataUrl,
    Encoding::OtherCasePrefix,
];

/// The inside of a JSON string literal holding `s`.
fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(&Value::String(s.to_string())).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

/// `text` as written in `encoding`, and the secret as it then reads; `None`
/// when the encoding does not apply (no vendor prefix to change the case of).
pub(crate) fn encode(k: &Kind, encoding: Encoding) -> Option<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    Some(match encoding {
        Encoding::Raw => (k.text.clone(), k.secret.clone()),
        Encoding::JsonEscaped => (
            format!("{{\"note\": \"{}\"}}", json_escape(&k.text)),
            k.secret.clone(),
        ),
        Encoding::DoubleEscaped => (
            json_escape(&format!("{{\"note\": \"{}\"}}", json_escape(&k.text))),
            k.secret.clone(),
        ),
        Encoding::UnicodeEscaped => (
            k.text
                .chars()
                .map(|c| format!("\\u{:04x}", c as u32))
                .collect(),
            k.secret.clone(),
        ),
        Encoding::PercentEncoded => {
            // Every character that is not a letter or digit, and the first
            // character of the secret (`%73k-ant-...`).
            let at = k.text.find(&k.secret).unwrap_or(0);
            let mut out = String::new();
            for (i, b) in k.text.bytes().enumerate() {
                if b.is_ascii_alphanumeric() && i != at {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            (out, k.secret.clone())
        }
        Encoding::Base64 => (b64.encode(k.text.as_bytes()), k.secret.clone()),
        Encoding::DataUrl => (
            format!("data:text/plain;base64,{}", b64.encode(k.text.as_bytes())),
            k.secret.clone(),
        ),
        Encoding::OtherCasePrefix => {
            if k.prefix == 0 {
                return None;
            }
            let p = &k.secret[..k.prefix];
            let flipped: String = p
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
            let secret = format!("{flipped}{}", &k.secret[k.prefix..]);
            (k.text.replacen(&k.secret, &secret, 1), secret)
        }
    })
}

fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.to_string())),
    }
}

fn attr(key: &str, v: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(v),
        ..Default::default()
    }
}

fn oisp_event(source_collector: &str, related: &str) -> Value {
    json!({
        "oisp_version": "0.1",
        "event_id": "01JTESTEVENT0000000000000",
        "event_type": "ai.request",
        "ts": "2026-01-02T03:04:05.000000Z",
        "source": {"collector": source_collector, "capture_method": "ebpf_uprobe"},
        "confidence": {"level": "high", "completeness": "full"},
        "related_events": [{"event_id": related, "relationship": "caused_by"}],
        "data": {"messages": [{"role": "user", "content": "hello"}]}
    })
}

/// A batch with `text` at `field` (and ordinary content around it).
pub(crate) fn place(field: Field, text: &str) -> Batch {
    let mut rec = LogRecord {
        body: Some(s("ordinary body")),
        ..Default::default()
    };
    let mut resource = Resource {
        attributes: vec![attr("service.name", s("agent"))],
        ..Default::default()
    };
    let mut scope = InstrumentationScope {
        name: "oispd".into(),
        ..Default::default()
    };
    let mut span = Span {
        name: "chat".into(),
        ..Default::default()
    };
    let spans = matches!(
        field,
        Field::SpanName
            | Field::SpanEventName
            | Field::SpanEventAttribute
            | Field::LinkAttribute
            | Field::TraceState
            | Field::StatusMessage
    );
    match field {
        Field::BodyString => rec.body = Some(s(text)),
        Field::BodyMapValue => rec.body = Some(json_to_any_value(&json!({"content": text}))),
        Field::MapKey => rec.body = Some(json_to_any_value(&json!({ text: "value" }))),
        Field::NestedArray => {
            rec.body = Some(json_to_any_value(&json!({"parts": [["first", text], 7]})))
        }
        Field::Attribute => rec.attributes.push(attr("ai.prompt", s(text))),
        Field::SensitiveArrayAttribute => rec.attributes.push(attr(
            "http.request.header.authorization",
            AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![s(text)],
                })),
            },
        )),
        Field::ResourceAttribute => resource
            .attributes
            .push(attr("process.command_line", s(text))),
        Field::ScopeName => scope.name = text.to_string(),
        Field::ScopeAttribute => scope.attributes.push(attr("note", s(text))),
        Field::EventName => rec.event_name = text.to_string(),
        Field::SeverityText => rec.severity_text = text.to_string(),
        Field::SpanName => span.name = text.to_string(),
        Field::SpanEventName => span.events.push(Event {
            name: text.to_string(),
            ..Default::default()
        }),
        Field::SpanEventAttribute => span.events.push(Event {
            name: "exception".into(),
            attributes: vec![attr("exception.message", s(text))],
            ..Default::default()
        }),
        Field::LinkAttribute => span.links.push(Link {
            attributes: vec![attr("note", s(text))],
            ..Default::default()
        }),
        Field::TraceState => span.trace_state = text.to_string(),
        Field::StatusMessage => {
            span.status = Some(Status {
                message: text.to_string(),
                ..Default::default()
            })
        }
        Field::BytesValue => {
            rec.body = Some(AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![attr(
                        "payload",
                        AnyValue {
                            value: Some(any_value::Value::BytesValue(text.as_bytes().to_vec())),
                        },
                    )],
                })),
            })
        }
        Field::EnvelopeSource => rec.body = Some(json_to_any_value(&oisp_event(text, "01JOTHER"))),
        Field::EnvelopeRelated => rec.body = Some(json_to_any_value(&oisp_event("oispd", text))),
    }
    if spans {
        Batch::Traces(vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope),
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }])
    } else {
        Batch::Logs(vec![ResourceLogs {
            resource: Some(resource),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope),
                log_records: vec![rec],
                ..Default::default()
            }],
            ..Default::default()
        }])
    }
}

/// The batch as OTLP JSON (bytes values in base64, as exporters write them).
pub(crate) fn serialize(batch: &Batch) -> String {
    match batch {
        Batch::Logs(r) => serde_json::to_string(r).unwrap(),
        Batch::Traces(r) => serde_json::to_string(r).unwrap(),
        Batch::Metrics(r) => serde_json::to_string(r).unwrap(),
    }
}

fn lenient(alphabet: &base64::alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// `s` with `%XX` decoded (an independent decoder, not the scanner's).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every string in a JSON value (keys too).
fn strings_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings_of(x, out)),
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                strings_of(x, out);
            }
        }
        _ => {}
    }
}

/// Every decoded form of `s` the redactor knows, found independently:
/// JSON (as a document or as the inside of a string literal), percent,
/// base64 runs (both alphabets, data URL payloads included), nested.
pub(crate) fn decoded_forms(s: &str, depth: u8, out: &mut Vec<String>) {
    out.push(s.to_string());
    if depth == 0 {
        return;
    }
    let mut next: Vec<String> = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(s) {
        strings_of(&v, &mut next);
    }
    if s.contains('\\') {
        if let Ok(Value::String(inner)) = serde_json::from_str::<Value>(&format!("\"{s}\"")) {
            next.push(inner);
        }
    }
    if s.contains('%') {
        next.push(percent_decoded(s));
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b"+/-_".contains(&b[i])) {
            i += 1;
        }
        if i - start >= 16 {
            let run = &s[start..i];
            let usable = if run.len() % 4 == 1 {
                &run[..run.len() - 1]
            } else {
                run
            };
            for engine in [
                lenient(&base64::alphabet::STANDARD),
                lenient(&base64::alphabet::URL_SAFE),
            ] {
                if let Ok(d) = engine.decode(usable) {
                    next.push(String::from_utf8_lossy(&d).into_owned());
                }
            }
        }
        i += 1;
    }
    for n in next {
        if n != s {
            decoded_forms(&n, depth - 1, out);
        }
    }
}

/// True when `secret` survives in `batch` in any decoded form (ignoring
/// case).
pub(crate) fn survives(batch: &Batch, secret: &str) -> Option<String> {
    let mut forms = Vec::new();
    decoded_forms(&serialize(batch), 4, &mut forms);
    let needle = secret.to_ascii_lowercase();
    forms
        .into_iter()
        .find(|f| f.to_ascii_lowercase().contains(&needle))
}

/// Scenario: every credential kind (built-in key formats, AWS secret and
/// session token, Azure storage/API/SAS, Vault, URL userinfo, basic and
/// bearer, every password form including PGPASSWORD, mysql -p, --password,
/// curl -u), in every text-holding field of logs, spans, resources and
/// scopes, in every encoding (raw, JSON-escaped, double-escaped,
/// `\u`-escaped, percent-encoded, base64, data URL, other-case prefix).
/// Guarantees: no decoded form (raw, JSON, percent, base64) of the
/// serialized record holds the secret, something was counted, and a second
/// pass changes nothing.
#[test]
fn leak_matrix() {
    let r = redactor();
    let mut failures: Vec<String> = Vec::new();
    for k in credential_kinds() {
        for encoding in ENCODINGS {
            let Some((text, secret)) = encode(&k, encoding) else {
                continue;
            };
            for field in FIELDS {
                let case = format!("{} / {encoding:?} / {field:?}", k.name);
                let mut batch = place(field, &text);
                let stats = r.redact_batch(&mut batch);
                if let Some(form) = survives(&batch, &secret) {
                    failures.push(format!("{case}: leaks in {:.200}", form));
                    continue;
                }
                if stats.secrets == 0 {
                    failures.push(format!("{case}: nothing counted"));
                }
                let once = batch.clone();
                let again = r.redact_batch(&mut batch);
                if batch != once || again.secrets != 0 || again.unscanned != 0 {
                    failures.push(format!("{case}: second pass changed the record"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first 20:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// Scenario: the matrix's own checker on an unredacted record.
/// Guarantees: it finds the secret in each encoding, so the matrix cannot
/// pass by not looking.
#[test]
fn leak_checker_sees_every_encoding() {
    let k = &credential_kinds()[0];
    for encoding in ENCODINGS {
        let Some((text, secret)) = encode(k, encoding) else {
            continue;
        };
        for field in [Field::BodyString, Field::BytesValue, Field::MapKey] {
            let batch = place(field, &text);
            assert!(
                survives(&batch, &secret).is_some(),
                "{encoding:?} / {field:?}: checker misses {text:.80}"
            );
        }
    }
}

fn tool_call(arguments: Value) -> LogRecord {
    LogRecord {
        body: Some(json_to_any_value(&json!({
            "oisp_version": "0.1",
            "event_id": "01JTESTTOOLCALL00000000000",
            "event_type": "agent.tool_call",
            "confidence": {"level": "high", "completeness": "full"},
            "data": {"tool": {"name": "http_post"}, "arguments": arguments}
        }))),
        ..Default::default()
    }
}

/// Scenario: a model writes tool call arguments that carry a `$redacted`
/// key next to an API key, a well-formed-looking marker with a key in its
/// detector, and text with `[REDACTED:` but no closing bracket before a key.
/// Guarantees: every key is redacted; an attacker-written marker never
/// switches redaction off.
#[test]
fn attacker_markers_and_tokens_do_not_switch_redaction_off() {
    let r = redactor();
    let key = format!("sk-proj-{}", fake(120, 48, ALNUM));
    let ghp = format!("ghp_{}", fake(121, 36, ALNUM));
    let mut rec = tool_call(json!({
        "$redacted": {"reason": "secret_detected"},
        "url": "https://api.example.net/v1",
        "note": key,
        "nested": {"$redacted": true, "value": ghp}
    }));
    let counts = r.redact_log_record(&mut rec);
    let text = serde_json::to_string(&body_json(&rec)).unwrap();
    assert!(!text.contains(&key) && !text.contains(&ghp), "{text}");
    assert_eq!(counts.secrets, 2);

    // A marker of the right shape whose detector is a key.
    let mut rec = tool_call(json!({"x": {"$redacted": {
        "reason": "secret_detected", "detector": key, "original_length": 5,
        "hash": "hmac-sha256:0123456789abcdef"}}}));
    r.redact_log_record(&mut rec);
    assert!(!serde_json::to_string(&body_json(&rec))
        .unwrap()
        .contains(&key));

    for text in [
        format!("[REDACTED: {key}"),
        format!("[REDACTED:openai_api_key: {key}"),
        format!("[REDACTED:{key}:0123abcd]"),
        format!("[REDACTED:password:0123abcd] and then {key}"),
        format!("password=\"[REDACTED:password:0123abcd]{ghp}\""),
    ] {
        let out = r.redact_text(&text).unwrap_or_default();
        assert!(
            !out.contains(&key) && !out.contains(&ghp),
            "{text} -> {out}"
        );
    }
}

/// Scenario: the output of a pass (markers, tokens, a value replaced by an
/// unscanned marker) placed under sensitive keys and scanned again.
/// Guarantees: well-formed markers and tokens are inert: nothing changes.
#[test]
fn markers_and_tokens_are_inert() {
    let r = redactor();
    let key = format!("sk-proj-{}", fake(122, 48, ALNUM));
    let mut rec = record(json!({
        "authorization": key.clone(),
        "headers": {"x-api-key": [key.clone(), "second-value-1234"]},
        "text": format!("use {key} and password=Hunter2Go"),
    }));
    r.redact_log_record(&mut rec);
    let once = rec.clone();
    let again = r.redact_log_record(&mut rec);
    assert!(again.is_zero(), "{again:?}");
    assert_eq!(rec, once);
    let body = body_json(&rec);
    assert_eq!(
        body["authorization"]["$redacted"]["detector"],
        "openai_api_key"
    );
    assert_eq!(
        body["headers"]["x-api-key"][1]["$redacted"]["detector"],
        "sensitive_field"
    );
}

/// Scenario: exec arguments as an array: `curl -u user:pw`, `mysql -pPW`,
/// `mysql -p` (prompt), `--password` and its value as separate items,
/// `env PGPASSWORD=...`; and the same as a `cmdline` string.
/// Guarantees: the passwords are redacted, the prompt form and the other
/// arguments are left as they are.
#[test]
fn argv_arrays_are_scanned_as_command_lines() {
    let r = redactor();
    let mut rec = record(json!({
        "event_type": "process.exec",
        "data": {
            "cmdline_args": ["curl", "-s", "-u", "alice:CurlPw0rd9", "https://api.internal/v1"],
            "mysql": ["mysql", "-uroot", "-pMyPw0rd77", "shop"],
            "prompt": ["mysql", "-u", "root", "-p", "shop"],
            "long": ["docker", "login", "--password", "DockerPw55", "registry.internal"],
            "env": ["env", "PGPASSWORD=PgPw0rd99", "psql", "-h", "db"],
            "cmdline": "curl -u alice:CurlPw0rd9 https://api.internal/v1"
        }
    }));
    let counts = r.redact_log_record(&mut rec);
    let body = body_json(&rec);
    let text = body.to_string();
    for pw in ["CurlPw0rd9", "MyPw0rd77", "DockerPw55", "PgPw0rd99"] {
        assert!(!text.contains(pw), "{pw}: {text}");
    }
    assert_eq!(counts.secrets, 5, "{text}");
    assert_eq!(body["data"]["cmdline_args"][0], "curl");
    assert_eq!(body["data"]["cmdline_args"][2], "-u");
    assert_eq!(body["data"]["mysql"][1], "-uroot");
    assert_eq!(
        body["data"]["prompt"],
        json!(["mysql", "-u", "root", "-p", "shop"])
    );
    assert_eq!(body["data"]["long"][2], "--password");
    assert_eq!(body["data"]["long"][4], "registry.internal");
}

/// Scenario: command lines written as JSON arrays inside a string (an
/// agent's argument holding `[["mysql", "-uroot", "-pPW"], ...]`, a tool
/// call's `arguments` kept as JSON text), raw and JSON-escaped; and the
/// prompt forms that hold no password.
/// Guarantees: `-pPW`, `--password`, `PW` and `-u user:PW` items are
/// redacted (the end-to-end leak matrix met them in a captured command
/// line); `"mysql", "-p"` and `"curl", "-u", "alice"` are left alone.
#[test]
fn argv_written_as_json_text() {
    let r = redactor();
    let text = r#"[["mysql", "-uroot", "-pMyJsonPw0rd1", "shop"], ["docker", "login", "-u", "bob", "--password", "DockerJson2"], ["curl", "-u", "alice:CurlJson3x", "https://api.internal/v1"], ["curl", "--user", "alice:CurlJson4y", "https://api.internal/v1"]]"#;
    for form in [text.to_string(), serde_json::to_string(text).unwrap()] {
        let out = r.redact_text(&form).unwrap_or_default();
        for pw in ["MyJsonPw0rd1", "DockerJson2", "CurlJson3x", "CurlJson4y"] {
            assert!(!out.contains(pw), "{pw}: {out}");
        }
        assert!(out.contains(r#"docker"#) && out.contains("alice:"), "{out}");
    }
    for prompt in [
        r#"["mysql", "-u", "root", "-p", "shop"]"#,
        r#"["curl", "-u", "alice", "https://api.internal/v1"]"#,
    ] {
        assert_eq!(r.redact_text(prompt), None, "{prompt}");
    }
}

/// Scenario: a map key that is itself a key, and a header given as an
/// array of strings (OISP `headers`) and a nested map under a sensitive
/// key.
/// Guarantees: the key is rewritten to a token; every string under a
/// sensitive key, at any depth, is redacted whole.
#[test]
fn keys_and_values_under_sensitive_keys() {
    let r = redactor();
    let key = format!("sk-ant-api03-{}AA", fake(123, 93, ALNUM));
    let mut rec = record(json!({
        key.clone(): "value",
        "headers": {"x-api-key": ["plainvalue"], "authorization": {"scheme": "Bearer", "v": ["abc", ["deeper"]]}},
    }));
    rec.attributes.push(KeyValue {
        key: "http.request.header.authorization".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![s("Bearer opaque-token-value")],
            })),
        }),
        ..Default::default()
    });
    r.redact_log_record(&mut rec);
    let body = body_json(&rec);
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("[REDACTED:anthropic_api_key:")),
        "{keys:?}"
    );
    let text = body.to_string();
    for v in ["plainvalue", "\"Bearer\"", "\"abc\"", "deeper"] {
        assert!(!text.contains(v), "{v}: {text}");
    }
    let Some(any_value::Value::ArrayValue(a)) = rec.attributes[0]
        .value
        .as_ref()
        .and_then(|v| v.value.as_ref())
    else {
        panic!("attribute is no longer an array");
    };
    assert_eq!(
        a.values[0],
        s(&rewrite::token(
            "sensitive_field",
            "Bearer opaque-token-value",
            &Keyed::new(&key_a())
        ))
    );
}

/// Scenario: a credential inside a byte value, and binary bytes.
/// Guarantees: bytes holding a secret become the redacted text's bytes;
/// binary bytes are left as they are.
#[test]
fn byte_values() {
    let r = redactor();
    let key = format!("glpat-{}", fake(124, 20, ALNUM));
    let bytes = |b: Vec<u8>| AnyValue {
        value: Some(any_value::Value::BytesValue(b)),
    };
    let mut rec = LogRecord::default();
    rec.attributes
        .push(attr("blob", bytes(format!("token {key} end").into_bytes())));
    let binary: Vec<u8> = (0..=255u8).cycle().take(600).collect();
    rec.attributes.push(attr("bin", bytes(binary.clone())));
    r.redact_log_record(&mut rec);
    let Some(any_value::Value::BytesValue(b)) = rec.attributes[0]
        .value
        .as_ref()
        .and_then(|v| v.value.as_ref())
    else {
        panic!("not bytes");
    };
    let text = String::from_utf8(b.clone()).unwrap();
    assert!(
        text.starts_with("token [REDACTED:gitlab_token:") && text.ends_with("] end"),
        "{text}"
    );
    assert_eq!(rec.attributes[1].value, Some(bytes(binary)));
}

/// Scenario: a secret hidden in decoded forms inside longer text.
/// Guarantees: exactly the raw bytes it came from are replaced; the rest of
/// the text (and valid JSON) is kept; base64 runs and data URLs are
/// replaced whole.
#[test]
fn decoded_detections_map_back_to_raw_bytes() {
    let r = redactor();
    let key = format!("sk-proj-{}", fake(125, 48, ALNUM));
    let escaped: String = format!("\\u0073{}", &key[1..]);
    let text = format!("{{\"a\": \"before {escaped} after\", \"b\": 1}}");
    let out = r.redact_text(&text).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    let a = v["a"].as_str().unwrap();
    assert!(
        a.starts_with("before [REDACTED:openai_api_key:") && a.ends_with("] after"),
        "{out}"
    );
    // A bare value runs to the next separator: `&next=...` goes with it.
    let pct = format!(
        "https://x.example/cb?api_key=sk%2Dproj%2D{}&next=%2Fhome",
        &key[8..]
    );
    let out = r.redact_text(&pct).unwrap();
    assert!(
        out.starts_with("https://x.example/cb?api_key=[REDACTED:openai_api_key:"),
        "{out}"
    );
    let pct = format!("note: %73k-proj-{} (rotated)", &key[8..]);
    let out = r.redact_text(&pct).unwrap();
    assert!(
        out.starts_with("note: [REDACTED:openai_api_key:") && out.ends_with("] (rotated)"),
        "{out}"
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("key={key}"));
    let out = r
        .redact_text(&format!("see {b64} and data:text/plain;base64,{b64} end"))
        .unwrap();
    assert_eq!(out.matches("[REDACTED:openai_api_key:").count(), 2, "{out}");
    assert!(
        out.starts_with("see [REDACTED:") && out.ends_with("] end") && !out.contains("data:"),
        "{out}"
    );
    let pem = format!(
        "-----begin rsa private key-----\n{}\n-----end rsa private key-----",
        fake(126, 64, B64)
    );
    assert_eq!(scan_kinds(&r, &pem), vec!["private_key"]);
}

/// Scenario: values under a `password` key: letters only, with spaces,
/// starting with `$`, `@`, `<` or `{`; and true placeholders (templates,
/// variables, masks, empty).
/// Guarantees: every value is redacted whole except the placeholders,
/// which are left as they are.
#[test]
fn values_under_password_keys() {
    let r = redactor();
    let redacted = |v: &str| {
        let mut rec = record(json!({ "password": v }));
        r.redact_log_record(&mut rec);
        let body = body_json(&rec);
        body["password"] != json!(v)
    };
    for v in [
        "Quintessential",
        "correct horse battery staple",
        "$Ecr3tDollar",
        "@dminAtSign",
        "<Zq7!xW>",
        "{\"k\": \"v9\"}",
        "{Zq7 x!}",
    ] {
        assert!(redacted(v), "{v} was left");
    }
    for v in [
        "",
        "${DB_PASSWORD}",
        "$DB_PASSWORD",
        "<your-password>",
        "<PASSWORD>",
        "{{ .Values.db.password }}",
        "{PASSWORD}",
        "***",
        "********",
    ] {
        assert!(!redacted(v), "placeholder {v:?} was redacted");
    }
}
