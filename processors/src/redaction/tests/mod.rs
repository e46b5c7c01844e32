//! Tests of redaction: every key format (true positives, whole and
//! embedded), ordinary text that must be left alone, PII modes and
//! checksums, gitleaks rule files, markers, idempotence, records. The leak
//! matrix and the attacks on redaction are in [`leaks`], cost, budget and
//! keyed hashes in [`cost`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cost;
mod leaks;

use super::*;
use oispd_component::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use oispd_component::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use oispd_component::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use oispd_semconv::otel::{any_value_to_json, json_to_any_value};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Deterministic pseudo-random text over `alphabet`, so that no real-looking
/// credential is written in this file and entropy checks see random data.
pub(crate) fn fake(seed: u64, len: usize, alphabet: &str) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            chars[((x >> 33) as usize) % chars.len()]
        })
        .collect()
}

pub(crate) const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub(crate) const UPPER32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub(crate) const HEX: &str = "0123456789abcdef";
pub(crate) const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// One fake credential of every built-in format: (expected kind, secret).
pub(crate) fn samples() -> Vec<(&'static str, String)> {
    vec![
        ("openai_api_key", format!("sk-proj-{}", fake(1, 48, ALNUM))),
        ("openai_api_key", format!("sk-{}", fake(2, 48, ALNUM))),
        (
            "anthropic_api_key",
            format!("sk-ant-api03-{}AA", fake(3, 93, ALNUM)),
        ),
        ("google_api_key", format!("AIza{}", fake(4, 35, ALNUM))),
        ("aws_access_key_id", format!("AKIA{}", fake(5, 16, UPPER32))),
        ("aws_access_key_id", format!("ASIA{}", fake(6, 16, UPPER32))),
        (
            "azure_ad_client_secret",
            format!("{}8Q~{}", fake(7, 3, ALNUM), fake(8, 34, ALNUM)),
        ),
        ("github_token", format!("ghp_{}", fake(9, 36, ALNUM))),
        ("github_token", format!("gho_{}", fake(10, 36, ALNUM))),
        (
            "github_token",
            format!("github_pat_{}", fake(11, 82, ALNUM)),
        ),
        ("gitlab_token", format!("glpat-{}", fake(12, 20, ALNUM))),
        (
            "slack_token",
            format!(
                "xoxb-{}-{}",
                fake(13, 12, "0123456789"),
                fake(14, 24, ALNUM)
            ),
        ),
        (
            "slack_token",
            format!(
                "xoxp-{}-{}",
                fake(15, 12, "0123456789"),
                fake(16, 32, ALNUM)
            ),
        ),
        (
            "slack_webhook",
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                fake(17, 8, UPPER32),
                fake(18, 8, UPPER32),
                fake(19, 24, ALNUM)
            ),
        ),
        ("stripe_key", format!("sk_live_{}", fake(20, 24, ALNUM))),
        ("stripe_key", format!("rk_live_{}", fake(21, 24, ALNUM))),
        ("huggingface_token", format!("hf_{}", fake(22, 34, LETTERS))),
        (
            "jwt",
            format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
                fake(23, 40, ALNUM),
                fake(24, 43, ALNUM)
            ),
        ),
        (
            "private_key",
            format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n{}\n-----END OPENSSH PRIVATE KEY-----",
                fake(25, 70, B64),
                fake(26, 70, B64)
            ),
        ),
    ]
}

/// The redaction key of the tests.
pub(crate) fn key_a() -> RedactionKey {
    RedactionKey::from_bytes([0x5a; 32])
}

pub(crate) fn redactor() -> Redactor {
    always_on_redactor(&key_a()).unwrap()
}

pub(crate) fn scan_kinds(r: &Redactor, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    r.scanner().scan(text, &mut out);
    out.iter().map(|d| d.kind.to_string()).collect()
}

pub(crate) fn record(body: Value) -> LogRecord {
    LogRecord {
        body: Some(json_to_any_value(&body)),
        ..Default::default()
    }
}

pub(crate) fn body_json(rec: &LogRecord) -> Value {
    any_value_to_json(rec.body.as_ref().unwrap())
}

fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

/// Scenario: every built-in rule compiles.
/// Guarantees: the always-on redactor never silently loses a rule.
#[test]
fn builtin_rules_all_compile() {
    let r = redactor();
    assert_eq!(r.scanner().rule_count(), rules::BUILTIN_RULES.len());
}

/// Scenario: each key format alone in a string.
/// Guarantees: it is found with its own kind and becomes a `$redacted` marker
/// with the example's fields.
#[test]
fn each_key_format_alone_becomes_a_marker() {
    let r = redactor();
    for (kind, secret) in samples() {
        assert_eq!(
            scan_kinds(&r, &secret),
            vec![kind.to_string()],
            "{kind}: {secret}"
        );
        let mut rec = record(json!({ "content": secret }));
        let counts = r.redact_log_record(&mut rec);
        assert_eq!(counts.secrets, 1, "{kind}");
        let body = body_json(&rec);
        let marker = &body["content"]["$redacted"];
        assert_eq!(marker["reason"], "secret_detected", "{kind}");
        assert_eq!(marker["detector"], kind);
        assert_eq!(marker["original_length"], secret.chars().count());
        let hash = marker["hash"].as_str().unwrap();
        assert!(
            hash.starts_with("hmac-sha256:") && hash.len() == 12 + 16,
            "{hash}"
        );
        assert!(!body.to_string().contains(&secret));
    }
}

/// Scenario: each key format inside a sentence.
/// Guarantees: only the key is replaced, by a `[REDACTED:kind:..]`
/// token, and the surrounding words stay.
#[test]
fn each_key_format_embedded_is_replaced_inline() {
    let r = redactor();
    for (kind, secret) in samples() {
        let text = format!("Please debug this, the value is {secret} and it fails.");
        let out = r
            .redact_text(&text)
            .unwrap_or_else(|| panic!("{kind} not found"));
        assert!(!out.contains(&secret), "{kind}: {out}");
        assert!(
            out.starts_with("Please debug this, the value is [REDACTED:"),
            "{out}"
        );
        assert!(out.contains(&format!("[REDACTED:{kind}:")), "{kind}: {out}");
        assert!(out.ends_with("] and it fails."), "{out}");
    }
}

/// Scenario: each prefixed key format glued to the word before it
/// (`valueglpat-...`, as the fuzzer's `redactor_leaks` target wrote one)
/// and followed by more key characters; and words ending in `sk-`-like
/// stems in prose.
/// Guarantees: the keys are redacted wherever they start (no key character
/// survives before the marker beyond the glued word); `task-`, `disk-` and
/// `risk-` phrases are left alone.
#[test]
fn prefixed_keys_glued_to_words_are_redacted() {
    let r = redactor();
    for (kind, secret) in samples() {
        let prefixed = [
            "sk-ant-",
            "sk-proj-",
            "AIza",
            "AKIA",
            "ghp_",
            "github_pat_",
            "glpat-",
            "xoxb-",
            "sk_live_",
            "hf_",
            "hvs.",
            "eyJ",
        ]
        .iter()
        .any(|p| secret.starts_with(p));
        if !prefixed {
            continue;
        }
        for text in [
            format!("the value{secret} fails"),
            format!("the value is {secret}Z7 and fails"),
        ] {
            let out = r
                .redact_text(&text)
                .unwrap_or_else(|| panic!("{kind} not found in {text}"));
            assert!(!out.contains(&secret), "{kind}: {out}");
            assert!(out.contains(&format!("[REDACTED:{kind}:")), "{kind}: {out}");
        }
    }
    for t in [
        "the task-2024-quarterly-report-v2-final and the disk-usage-monitor-daemon-7 run nightly",
        "see risk-assessment-framework-2023-revision-b for details",
    ] {
        assert_eq!(r.redact_text(t), None, "{t}");
    }
}

/// Scenario: an AWS secret access key next to aws/secret context, in an env
/// line, in prose and in a JSON tool argument, and the same key alone.
/// Guarantees: detected as `aws_secret_key` in each (alone too: see
/// `cost::aws_secret_key_without_context` for the look-alikes kept out).
#[test]
fn aws_secret_key_with_and_without_context() {
    let r = redactor();
    let key = fake(30, 40, B64);
    for text in [
        format!("AWS_SECRET_ACCESS_KEY={key}"),
        format!("my aws secret key is {key}, can you check my boto config?"),
        format!("{{\"aws_secret_access_key\": \"{key}\"}}"),
        format!(
            "aws_access_key_id = AKIA{}\naws_secret_access_key = {key}",
            fake(31, 16, UPPER32)
        ),
        format!("the checksum is {key}"),
    ] {
        let out = r.redact_text(&text).unwrap();
        assert!(out.contains("[REDACTED:aws_secret_key:"), "{out}");
        assert!(!out.contains(&key));
    }
}

/// Scenario: Azure storage connection string and an Azure OpenAI `api-key`
/// header.
/// Guarantees: the key part is redacted, the rest kept.
#[test]
fn azure_keys() {
    let r = redactor();
    let key = format!("{}==", fake(32, 86, B64));
    let conn = format!(
        "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey={key};EndpointSuffix=core.windows.net"
    );
    let out = r.redact_text(&conn).unwrap();
    assert!(
        out.contains("AccountKey=[REDACTED:azure_storage_key:"),
        "{out}"
    );
    assert!(out.ends_with(";EndpointSuffix=core.windows.net"));
    let hex_key = fake(33, 32, HEX);
    let out = r.redact_text(&format!("api-key: {hex_key}")).unwrap();
    assert_eq!(
        scan_kinds(&r, &format!("api-key: {hex_key}")),
        vec!["azure_api_key"]
    );
    assert!(!out.contains(&hex_key));
}

/// Scenario: generic assignments, URL credentials, Authorization headers.
/// Guarantees: the value is redacted and named, the key name kept.
#[test]
fn assignments_urls_and_authorization_values() {
    let r = redactor();
    let cases = [
        (
            "password=hunter2!",
            "password=[REDACTED:password:",
            "password",
        ),
        (
            "DB_PASSWORD: 'c0rrect-h0rse'",
            "DB_PASSWORD: '[REDACTED:password:",
            "password",
        ),
        (
            "{\"password\": \"s3cr3t-pass\"}",
            "{\"password\": \"[REDACTED:password:",
            "password",
        ),
        (
            "api_key = 9f8e7d6c5b4a39281706",
            "api_key = [REDACTED:generic_secret:",
            "generic_secret",
        ),
        (
            "client_secret: Zx8-qP2_vL9",
            "client_secret: [REDACTED:generic_secret:",
            "generic_secret",
        ),
        (
            "secret: 4f6a1c9e77",
            "secret: [REDACTED:generic_secret:",
            "generic_secret",
        ),
        (
            "postgres://app:Pg4ss-w0rd@db.internal:5432/app",
            "postgres://app:[REDACTED:url_credentials:",
            "url_credentials",
        ),
        (
            "Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543abc",
            "Authorization: Bearer [REDACTED:bearer_token:",
            "bearer_token",
        ),
        (
            "Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==",
            "Authorization: Basic [REDACTED:basic_auth:",
            "basic_auth",
        ),
    ];
    for (text, prefix, kind) in cases {
        assert_eq!(scan_kinds(&r, text), vec![kind.to_string()], "{text}");
        let out = r.redact_text(text).unwrap();
        assert!(out.starts_with(prefix), "{text} -> {out}");
    }
    // A specific key under a generic name is reported as the specific kind.
    let key = format!("sk-proj-{}", fake(34, 48, ALNUM));
    assert_eq!(
        scan_kinds(&r, &format!("api_key = \"{key}\"")),
        vec!["openai_api_key"]
    );
    assert_eq!(
        scan_kinds(&r, &format!("Authorization: Bearer {key}")),
        vec!["openai_api_key"]
    );
}

/// Scenario: assigned and URL-embedded secrets of several hundred
/// characters, quoted and bare.
/// Guarantees: the whole value is redacted, however long (no length cap
/// leaves a tail of it in the output).
#[test]
fn long_assigned_values_are_redacted_whole() {
    let r = redactor();
    let long = fake(35, 600, ALNUM);
    for text in [
        format!("password = \"{long}\""),
        format!("client_secret: {long}"),
        format!("https://app:{long}@db.internal/app"),
    ] {
        let out = r.redact_text(&text).unwrap();
        assert!(out.contains("[REDACTED:"), "{out}");
        assert!(!out.contains(&long[long.len() - 20..]), "{out}");
    }
}

/// Scenario: ordinary prompts, code that handles secrets without containing
/// any, UUIDs, git SHAs (even next to the word "secret"), hashes, base64
/// images, version strings, AWS documentation keys.
/// Guarantees: nothing is found, nothing is changed.
#[test]
fn ordinary_text_is_left_alone() {
    let r = redactor();
    let sha = fake(40, 40, HEX);
    let png = format!("data:image/png;base64,{}", fake(41, 4000, B64));
    let blob = fake(42, 3000, B64);
    let texts = vec![
        "Can you summarize the attached quarterly report in three bullet points?".to_string(),
        "What is the difference between a password manager and a passkey?".to_string(),
        "Use the sk-learn pipeline with a StandardScaler and LogisticRegression.".to_string(),
        "sk-learn-compatible-estimators-for-timeseries are listed in the docs".to_string(),
        "Set max_tokens: 1024 and temperature: 0.7; the response used 512 tokens.".to_string(),
        "import getpass\npassword = getpass.getpass()\napi_key = os.environ[\"OPENAI_API_KEY\"]\n".to_string(),
        "def login(username: str, password: str, api_key: Optional[str] = None):".to_string(),
        "if password == confirm_password:\n    token = create_token(user)\n".to_string(),
        "password_hash = bcrypt.hashpw(password, salt)".to_string(),
        "secret: ${{ secrets.DEPLOY_KEY }}\npassword: <your-password>\napi_key: \"YOUR_API_KEY\"".to_string(),
        "export OPENAI_API_KEY=$OPENAI_API_KEY".to_string(),
        "request id 550e8400-e29b-41d4-a716-446655440000 took 45ms".to_string(),
        format!("commit {sha} fixes the aws secret rotation bug"),
        format!("sha256 of the secret file: {}", fake(43, 64, HEX)),
        png,
        blob,
        "Example: AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY from the AWS docs".to_string(),
        "Version 1.2.3 released on 2024-05-01, see https://example.com/docs?page=2".to_string(),
        "My phone bill was 123.45 and the order number is 2024-0001-7788.".to_string(),
        "The bearer of this letter is my colleague; a secret: nothing to hide.".to_string(),
        "npm install @types/node@20.11.5 and icon@2x.png".to_string(),
    ];
    for t in texts {
        assert_eq!(
            scan_kinds(&r, &t),
            Vec::<String>::new(),
            "{}",
            &t[..t.len().min(120)]
        );
        assert_eq!(r.redact_text(&t), None);
    }
}

/// Scenario: OpenAI keys of random letters only (no digit, as one random
/// 48-character key in about 5,000 is), legacy and project form; and
/// camel-case identifiers and hyphenated words after `sk-`.
/// Guarantees: the keys are found (the end-to-end leak matrix met one that
/// was not); the identifiers and words are not.
#[test]
fn openai_keys_without_a_digit() {
    let r = redactor();
    for (seed, prefix) in [(60, "sk-"), (61, "sk-proj-"), (62, "sk-"), (63, "sk-proj-")] {
        let key = format!("{prefix}{}", fake(seed, 48, LETTERS));
        assert!(!key.bytes().any(|b| b.is_ascii_digit()));
        assert_eq!(
            scan_kinds(&r, &format!("use {key} now")),
            vec!["openai_api_key"],
            "{key}"
        );
    }
    for text in [
        "sk-AbstractFactoryProviderConfigurationLoaderBean",
        "sk-SuperLongCamelCaseIdentifierForTestingPurposes",
        "sk-learn-compatible-estimators-for-timeseries-and-panels",
    ] {
        assert_eq!(scan_kinds(&r, text), Vec::<String>::new(), "{text}");
    }
}

/// Scenario: PII of every class with the default config (card, IBAN,
/// national id masked; e-mail and phone off).
/// Guarantees: masks keep the shape and last digits; off classes untouched;
/// checksums are enforced.
#[test]
fn pii_default_modes_and_checksums() {
    let r = Redactor::new(&RedactionConfig::default(), &key_a()).unwrap();
    let out = r
        .redact_text("card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, ssn 123-45-6789, mail ann@corp.io, call +1 415-555-2671")
        .unwrap();
    assert_eq!(
        out,
        "card **** **** **** 1111, iban DE** **** **** **** **30 00, ssn ***-**-****, mail ann@corp.io, call +1 415-555-2671"
    );
    // Luhn and mod-97 failures are not card numbers or IBANs.
    assert_eq!(
        r.redact_text("card 4111 1111 1111 1112 and DE89 3704 0044 0532 0130 01"),
        None
    );
    // Unix timestamps and ids are not cards.
    assert_eq!(
        r.redact_text("ts_mono 1703254218890123000 id 1703254218890"),
        None
    );
}

/// Scenario: every class in `hash` mode, one value alone in a string and
/// others inline.
/// Guarantees: whole values become `pii_detected` markers, inline values
/// tokens; `mask` for e-mail and phone.
#[test]
fn pii_hash_and_mask_modes() {
    let all_hash = PiiConfig {
        email: PiiMode::Hash,
        phone: PiiMode::Hash,
        card_number: PiiMode::Hash,
        iban: PiiMode::Hash,
        national_id: PiiMode::Hash,
    };
    let r = Redactor::new(
        &RedactionConfig {
            pii: all_hash,
            rules_file: None,
        },
        &key_a(),
    )
    .unwrap();
    let mut rec =
        record(json!({"to": "ann.lee@corp.io", "text": "call (415) 555-2671 or mail bo@corp.io"}));
    let counts = r.redact_log_record(&mut rec);
    assert_eq!(counts.pii, 3);
    let body = body_json(&rec);
    assert_eq!(body["to"]["$redacted"]["reason"], "pii_detected");
    assert_eq!(body["to"]["$redacted"]["detector"], "email");
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("call [REDACTED:phone:"), "{text}");
    assert!(text.contains(" or mail [REDACTED:email:"), "{text}");

    let mask = PiiConfig {
        email: PiiMode::Mask,
        phone: PiiMode::Mask,
        ..PiiConfig::OFF
    };
    let r = Redactor::new(
        &RedactionConfig {
            pii: mask,
            rules_file: None,
        },
        &key_a(),
    )
    .unwrap();
    assert_eq!(
        r.redact_text("ann.lee@corp.io / 415-555-2671").unwrap(),
        "a***@corp.io / ***-***-**71"
    );
}

/// Scenario: text with both a credential and PII whose class is off.
/// Guarantees: the credential is still redacted (always on).
#[test]
fn credentials_are_redacted_whatever_the_pii_config() {
    let r = Redactor::new(
        &RedactionConfig {
            pii: PiiConfig::OFF,
            rules_file: None,
        },
        &key_a(),
    )
    .unwrap();
    let key = format!("ghp_{}", fake(50, 36, ALNUM));
    let out = r
        .redact_text(&format!("mail ann@corp.io token {key}"))
        .unwrap();
    assert!(
        out.starts_with("mail ann@corp.io token [REDACTED:github_token:"),
        "{out}"
    );
}

/// Scenario: redacting an already redacted record again.
/// Guarantees: nothing changes the second time (markers skipped, tokens
/// not re-redacted).
#[test]
fn redaction_is_idempotent() {
    let r = Redactor::new(&RedactionConfig::default(), &key_a()).unwrap();
    let key = fake(51, 40, B64);
    let mut rec = record(json!({
        "event_type": "ai.request",
        "data": {"messages": [
            {"role": "user", "content": format!("aws_secret_access_key={key} card 4111-1111-1111-1111")},
            {"role": "user", "content": format!("sk-ant-api03-{}AA", fake(52, 93, ALNUM))}
        ]}
    }));
    let first = r.redact_log_record(&mut rec);
    assert_eq!(first.secrets, 2);
    assert_eq!(first.pii, 1);
    let once = rec.clone();
    let second = r.redact_log_record(&mut rec);
    assert!(second.is_zero(), "{second:?}");
    assert_eq!(rec, once);
}

/// Scenario: an OISP event body with a secret, headers as a map, and
/// attributes holding a secret and an Authorization header.
/// Guarantees: body gets markers and `confidence.redaction_applied`;
/// sensitive header values are redacted whole, named by the specific rule
/// when one matches; attributes get tokens, never maps.
#[test]
fn records_bodies_headers_and_attributes() {
    let r = redactor();
    let key = format!("sk-proj-{}", fake(60, 48, ALNUM));
    let mut rec = record(json!({
        "oisp_version": "0.1",
        "event_type": "ai.request",
        "confidence": {"level": "high", "completeness": "full"},
        "data": {
            "headers": {"authorization": format!("Bearer {key}"), "x-request-id": "abc-123", "cookie": "session=ab12cd34ef"},
            "messages": [{"role": "user", "content": format!("my key is {key}, why 401?")}],
            "auth": {"type": "api_key", "key_prefix": "sk-proj-"}
        }
    }));
    rec.attributes.push(string_attr(
        "http.request.header.authorization",
        &format!("Bearer {key}"),
    ));
    rec.attributes.push(string_attr("ai.prompt", &key));
    rec.attributes.push(string_attr("ai.model.id", "gpt-4o"));
    let counts = r.redact_log_record(&mut rec);
    assert_eq!(counts.secrets, 5, "{counts:?}");
    let body = body_json(&rec);
    let text = body.to_string();
    assert!(!text.contains(&key));
    assert_eq!(body["confidence"]["redaction_applied"], true);
    assert_eq!(
        body["data"]["headers"]["authorization"]["$redacted"]["detector"],
        "openai_api_key"
    );
    assert_eq!(
        body["data"]["headers"]["cookie"]["$redacted"]["detector"],
        "sensitive_field"
    );
    assert_eq!(body["data"]["headers"]["x-request-id"], "abc-123");
    assert_eq!(body["data"]["auth"]["key_prefix"], "sk-proj-");
    let content = body["data"]["messages"][0]["content"].as_str().unwrap();
    assert!(
        content.starts_with("my key is [REDACTED:openai_api_key:"),
        "{content}"
    );
    for kv in &rec.attributes {
        let Some(any_value::Value::StringValue(s)) =
            kv.value.as_ref().and_then(|v| v.value.as_ref())
        else {
            panic!("attribute {} is no longer a string", kv.key);
        };
        assert!(!s.contains(&key), "{}", kv.key);
    }
}

/// Scenario: a whole batch of logs and one of traces.
/// Guarantees: records, spans (attributes, events, status) and resource
/// attributes are redacted; stats count records with something replaced.
#[test]
fn batches_of_logs_and_spans() {
    let r = redactor();
    let key = format!("glpat-{}", fake(70, 20, ALNUM));
    let mut logs = Batch::Logs(vec![ResourceLogs {
        resource: Some(oispd_component::proto::tonic::resource::v1::Resource {
            attributes: vec![string_attr(
                "process.command_line",
                &format!("git push https://x:{key}@gitlab.com/a/b"),
            )],
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs {
            log_records: vec![
                record(json!({"a": key.clone()})),
                record(json!({"a": "fine"})),
            ],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    let stats = r.redact_batch(&mut logs);
    assert_eq!(stats.records, 1);
    assert_eq!(stats.secrets, 2);
    assert!(!format!("{logs:?}").contains(&key));

    let mut span = Span {
        attributes: vec![string_attr("gen_ai.prompt", &format!("use {key}"))],
        ..Default::default()
    };
    span.events
        .push(oispd_component::proto::tonic::trace::v1::span::Event {
            attributes: vec![string_attr(
                "exception.message",
                &format!("auth failed for {key}"),
            )],
            ..Default::default()
        });
    span.status = Some(oispd_component::proto::tonic::trace::v1::Status {
        message: format!("401 with token {key}"),
        ..Default::default()
    });
    let mut traces = Batch::Traces(vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![span],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    let stats = r.redact_batch(&mut traces);
    assert_eq!(stats.records, 1);
    assert_eq!(stats.secrets, 3);
    assert!(!format!("{traces:?}").contains(&key));
}

/// Scenario: a metrics batch whose resource and data point attributes
/// carry a credential (a model name or process name is attacker-written).
/// Guarantees: both are redacted by the same walk as logs and spans.
#[test]
fn batches_of_metrics() {
    use oispd_component::proto::tonic::metrics::v1::{
        metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    let r = redactor();
    let key = format!("glpat-{}", fake(71, 20, ALNUM));
    let mut metrics = Batch::Metrics(vec![ResourceMetrics {
        resource: Some(oispd_component::proto::tonic::resource::v1::Resource {
            attributes: vec![string_attr("service.name", &format!("svc {key}"))],
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: "oispd.ai.calls".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        attributes: vec![string_attr("gen_ai.response.model", &key)],
                        ..Default::default()
                    }],
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    let stats = r.redact_batch(&mut metrics);
    assert_eq!(stats.secrets, 2);
    assert!(!format!("{metrics:?}").contains(&key));
}

/// Scenario: a metric carrying a credential in its name, description,
/// unit, metadata and an exemplar's filtered attributes (any of them can
/// come from outside: a forwarded OTLP metric).
/// Guarantees: every one is redacted; no field of an exported metric
/// escapes the redactor.
#[test]
fn every_text_field_of_a_metric() {
    use oispd_component::proto::tonic::metrics::v1::{
        metric, Exemplar, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    };
    let r = redactor();
    let key = format!("glpat-{}", fake(72, 20, ALNUM));
    let mut metrics = Batch::Metrics(vec![ResourceMetrics {
        scope_metrics: vec![ScopeMetrics {
            metrics: vec![Metric {
                name: format!("calls.{key}"),
                description: format!("calls of {key}"),
                unit: key.clone(),
                metadata: vec![string_attr("origin", &key)],
                data: Some(metric::Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        exemplars: vec![Exemplar {
                            filtered_attributes: vec![string_attr("prompt", &key)],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
            }],
            ..Default::default()
        }],
        ..Default::default()
    }]);
    let stats = r.redact_batch(&mut metrics);
    assert_eq!(stats.secrets, 5);
    assert!(!format!("{metrics:?}").contains(&key));
}

/// Scenario: the sensitive-key names.
/// Guarantees: header and field names match after normalisation; ordinary
/// names (`max_tokens`, `key_prefix`, `token`) do not.
#[test]
fn sensitive_key_names() {
    for k in [
        "Authorization",
        "x-api-key",
        "X-Goog-Api-Key",
        "http.request.header.cookie",
        "client_secret",
        "AWS_SECRET_ACCESS_KEY",
        "a.b.Proxy-Authorization",
        ".password",
    ] {
        assert!(walk::is_sensitive_key(k), "{k}");
    }
    for k in [
        "max_tokens",
        "key_prefix",
        "token",
        "content_hash",
        "tokens",
        "authority",
        "password.hint",
        "secret.",
        "",
    ] {
        assert!(!walk::is_sensitive_key(k), "{k}");
    }
}

fn gitleaks_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/gitleaks")
        .join(name)
}

/// Scenario: the public gitleaks rule set (`tests/data/gitleaks/`).
/// Guarantees: it loads with nearly every rule, rules the built-ins do not
/// have fire under their gitleaks id, and built-in formats keep their name.
#[test]
fn loads_the_public_gitleaks_rules() {
    let path = gitleaks_data("gitleaks.toml");
    assert!(path.exists(), "{} is missing", path.display());
    let rules = gitleaks::load(&path).unwrap();
    assert!(rules.loaded() >= 200, "loaded {}", rules.loaded());
    assert!(rules.skipped.len() <= 10, "skipped {:?}", rules.skipped);
    let r = Redactor::with_rules(Some(rules), PiiConfig::OFF, &key_a()).unwrap();
    // age-secret-key is not a built-in format.
    let age = format!(
        "AGE-SECRET-KEY-1{}",
        fake(80, 58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")
    );
    let out = r.redact_text(&format!("identity: {age}")).unwrap();
    assert!(out.contains("[REDACTED:age-secret-key:"), "{out}");
    // A fake Slack webhook: redacted (the built-in rule takes precedence).
    let hook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        fake(81, 8, UPPER32),
        fake(82, 10, UPPER32),
        fake(83, 24, ALNUM)
    );
    let out = r.redact_text(&format!("post to {hook} please")).unwrap();
    assert!(!out.contains(&hook), "{out}");
    // Ordinary prose stays untouched even with 200 more rules.
    assert_eq!(
        r.redact_text("Can you summarize the attached quarterly report in three bullet points?"),
        None
    );
}

/// Scenario: a rules file of our own with a lookahead rule, secretGroup,
/// entropy, allowlists (regex on secret, stopwords, AND with paths) and a
/// global allowlist.
/// Guarantees: the lookahead rule is skipped and counted, the others behave
/// as gitleaks documents, and the global allowlist does not touch
/// built-in rules.
#[test]
fn own_rules_file_semantics() {
    let toml = r#"
title = "team rules"
[allowlist]
regexes = ['''^dummy''']

[[rules]]
id = "acme-token"
regex = '''acme_(?:live|test)_([a-z0-9]{24})'''
keywords = ["acme_"]
entropy = 3.0
[[rules.allowlists]]
regexes = ['''^0{24}$''']
stopwords = ["sample"]

[[rules]]
id = "acme-pair"
regex = '''acme_id=(\w+) acme_secret=(\w{16,})'''
secretGroup = 2
keywords = ["acme_secret"]

[[rules]]
id = "lookahead"
regex = '''secret(?=[0-9]{8})'''
keywords = ["secret"]

[[rules]]
id = "path-only-allowlist"
regex = '''zork_[A-Z0-9]{10}'''
keywords = ["zork_"]
[[rules.allowlists]]
condition = "AND"
paths = ['''\.md$''']
regexes = ['''.*''']
"#;
    let rules = gitleaks::parse(toml, "team.toml").unwrap();
    assert_eq!(rules.loaded(), 3);
    assert_eq!(rules.skipped.len(), 1);
    assert_eq!(rules.skipped[0].id, "lookahead");
    assert!(
        rules.skipped[0].reason.contains("not supported"),
        "{:?}",
        rules.skipped[0]
    );
    let r = Redactor::with_rules(Some(rules), PiiConfig::OFF, &key_a()).unwrap();
    let tok = fake(90, 24, "abcdefghijklmnopqrstuvwxyz0123456789");
    let out = r.redact_text(&format!("use acme_live_{tok} now")).unwrap();
    assert_eq!(out.matches("[REDACTED:acme-token:").count(), 1, "{out}");
    assert!(
        out.starts_with("use acme_live_[REDACTED:"),
        "secret group only: {out}"
    );
    // Entropy too low, rule allowlist regex, stopword, global allowlist.
    assert_eq!(r.redact_text("acme_test_aaaaaaaaaaaaaaaaaaaaaaaa"), None);
    assert_eq!(r.redact_text("acme_test_000000000000000000000000"), None);
    assert_eq!(r.redact_text("acme_test_sample9x8y7z6w5v4u3t2s1r0q"), None);
    assert_eq!(r.redact_text("acme_test_dummy9x8y7z6w5v4u3t2s1r0q"), None);
    // secretGroup = 2.
    let out = r
        .redact_text("acme_id=bob acme_secret=Q9w8E7r6T5y4U3i2")
        .unwrap();
    assert!(
        out.starts_with("acme_id=bob acme_secret=[REDACTED:acme-pair:"),
        "{out}"
    );
    // An AND allowlist that needs a path never applies.
    assert!(r.redact_text("zork_AB12CD34EF").is_some());
    // The global allowlist does not excuse built-in formats.
    let key = format!("ghp_{}", fake(91, 36, ALNUM));
    assert!(r.redact_text(&format!("dummy {key}")).is_some());
}

/// Scenario: rules files that do not exist or are not TOML.
/// Guarantees: a clear error naming the file; `validate` reports it.
#[test]
fn bad_rules_files_are_errors() {
    let err = gitleaks::load(&PathBuf::from("/nonexistent/rules.toml"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("/nonexistent/rules.toml"), "{err}");
    let err = gitleaks::parse("[[rules]\nid=", "x.toml").err().unwrap();
    assert!(
        err.to_string().starts_with("parsing rules file x.toml"),
        "{err}"
    );
    let cfg: RedactionConfig =
        serde_yaml_ng::from_str("rules_file: /nonexistent/rules.toml").unwrap();
    let problems = oispd_component::ComponentConfig::validate(&cfg);
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("'rules_file' reading rules file"),
        "{problems:?}"
    );
}

/// Scenario: the processor config in YAML, with a typo.
/// Guarantees: modes parse; unknown keys are rejected in the collector's words.
#[test]
fn config_parsing() {
    let v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str("pii: {email: hash, phone: mask}").unwrap();
    let cfg: RedactionConfig = oispd_component::parse_config(&v).unwrap();
    assert_eq!(cfg.pii.email, PiiMode::Hash);
    assert_eq!(cfg.pii.phone, PiiMode::Mask);
    assert_eq!(cfg.pii.card_number, PiiMode::Mask);
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str("pii: {emial: hash}").unwrap();
    let errs = oispd_component::parse_config::<RedactionConfig>(&v).unwrap_err();
    assert_eq!(errs[0].to_string(), "'pii' has invalid keys: emial");
}

/// Scenario: checksum helpers on known values.
/// Guarantees: Luhn and mod-97 agree with the standards' examples.
#[test]
fn checksums() {
    let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<u8>>();
    assert!(pii::luhn_valid(&digits("4111111111111111")));
    assert!(pii::luhn_valid(&digits("378282246310005")));
    assert!(!pii::luhn_valid(&digits("4111111111111112")));
    assert!(pii::valid_iban("GB82 WEST 1234 5698 7654 32"));
    assert!(pii::valid_iban("NL91ABNA0417164300"));
    assert!(!pii::valid_iban("GB82 WEST 1234 5698 7654 33"));
}
