//! Cost and keys: scanning time linear in the text on adversarial lines,
//! the per-record scan budget (fail closed), false positives of the
//! context-free AWS rule and of decoders, and HMAC-keyed hashes.

use super::*;
use crate::redaction::scanner::Budget;
use crate::redaction::walk::Walk;
use oispd_component::proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use oispd_component::proto::tonic::logs::v1::LogRecord;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// A line of `n` tokens made by `unit`, separated by spaces.
fn line(n: usize, unit: &dyn Fn(usize) -> String) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&unit(i));
        s.push(' ');
    }
    s
}

/// Redacts `text` as a log body; returns the time taken, the bytes the
/// scanner looked at and the redacted text.
fn timed(r: &Redactor, text: &str) -> (Duration, usize, String) {
    let mut rec = LogRecord {
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(text.to_string())),
        }),
        ..Default::default()
    };
    let start = Instant::now();
    let mut w = Walk::new(r);
    w.log_record(&mut rec);
    let took = start.elapsed();
    let out = match rec.body.and_then(|b| b.value) {
        Some(any_value::Value::StringValue(s)) => s,
        other => panic!("body is {other:?}"),
    };
    (took, w.scanned(), out)
}

/// Scenario: 4 MB lines of 64k key-shaped tokens (OpenAI keys; unclosed
/// `[REDACTED:` openers before keys; the redacted output itself, 64k
/// well-formed tokens), each against the same line of 640 tokens (40 KB)
/// in the same test.
/// Guarantees: the scanner looks at a bounded number of bytes per input
/// byte, and the large line takes at most a generous multiple (15x) of the
/// size ratio longer than the small one: linear, not quadratic (a
/// quadratic step would be 100x the size ratio here).
#[test]
fn linear_time_on_key_shaped_lines() {
    let r = redactor();
    let keys = |i: usize| format!("sk-proj-{}7", fake(i as u64, 55, ALNUM));
    let openers = |i: usize| format!("[REDACTED: sk-{}7", fake(i as u64, 49, ALNUM));
    let (big_n, small_n) = (64 * 1024, 640);
    for (name, unit) in [
        ("keys", &keys as &dyn Fn(usize) -> String),
        ("openers", &openers),
    ] {
        let small = line(small_n, unit);
        let big = line(big_n, unit);
        let (t_small, _, small_out) = timed(&r, &small);
        let (t_big, scanned, big_out) = timed(&r, &big);
        assert!(
            scanned <= 2 * big.len(),
            "{name}: scanned {scanned} of {}",
            big.len()
        );
        assert_eq!(
            big_out.matches("[REDACTED:openai_api_key:").count(),
            big_n,
            "{name}"
        );
        let ratio = t_big.as_secs_f64() / t_small.as_secs_f64().max(1e-6);
        let sizes = (big_n / small_n) as f64;
        assert!(
            ratio < 15.0 * sizes,
            "{name}: {t_big:?} vs {t_small:?} (x{ratio:.0})"
        );
        // The second pass over 64k well-formed tokens.
        let (t_small2, _, again_small) = timed(&r, &small_out);
        let (t_big2, _, again) = timed(&r, &big_out);
        assert_eq!(again, big_out, "{name}: second pass changed the line");
        assert_eq!(again_small, small_out);
        let ratio = t_big2.as_secs_f64() / t_small2.as_secs_f64().max(1e-6);
        assert!(
            ratio < 15.0 * sizes,
            "{name} again: {t_big2:?} vs {t_small2:?} (x{ratio:.0})"
        );
    }
}

/// Scenario: a record whose body does not fit in the scan budget (raw
/// text, and escaped text whose decoded views do not fit), with a key in
/// an attribute.
/// Guarantees: the oversized value is replaced by a `too_large_to_scan`
/// marker (token in attributes) and counted; what fits is still scanned
/// and redacted; nothing is exported unscanned.
#[test]
fn over_budget_values_fail_closed() {
    let r = redactor();
    let key = format!("ghp_{}", fake(130, 36, ALNUM));
    let big = format!("{} {key}", "lorem ipsum ".repeat(20_000));
    let mut rec = record(json!({"content": big, "small": format!("also {key}")}));
    rec.attributes.push(KeyValue {
        key: "note".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(format!("{key} here"))),
        }),
        ..Default::default()
    });
    let mut w = Walk::with_budget(&r, Budget::new(100_000));
    w.log_record(&mut rec);
    assert_eq!(w.counts.unscanned, 1, "{:?}", w.counts);
    assert_eq!(w.counts.secrets, 2);
    let body = body_json(&rec);
    let marker = &body["content"]["$redacted"];
    assert_eq!(marker["reason"], "too_large_to_scan");
    assert_eq!(marker["detector"], "scan_budget");
    assert_eq!(marker["original_length"], big.chars().count());
    assert!(!format!("{rec:?}").contains(&key));

    // Raw text fits, its percent-decoded view does not.
    let escaped = format!("{} {}", "%41".repeat(30_000), key);
    let mut rec = LogRecord::default();
    rec.attributes.push(KeyValue {
        key: "q".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(escaped)),
        }),
        ..Default::default()
    });
    let mut w = Walk::with_budget(&r, Budget::new(100_000));
    w.log_record(&mut rec);
    assert_eq!(w.counts.unscanned, 1);
    assert_eq!(
        rec.attributes[0].value,
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(UNSCANNED_TOKEN.into()))
        })
    );
    // The unscanned marker and token are inert.
    let once = rec.clone();
    assert!(r.redact_log_record(&mut rec).is_zero());
    assert_eq!(rec, once);
}

/// Scenario: the AWS secret rule without `aws`/`secret` nearby, on random
/// keys and on 40-character look-alikes: git SHAs, upper-case hex digests,
/// camel-case identifiers, paths, base64 of hashes, UUIDs.
/// Guarantees: random keys are found; none of the look-alikes is.
#[test]
fn aws_secret_key_without_context() {
    let r = redactor();
    let mut found = 0;
    for seed in 0..200 {
        let key = fake(1000 + seed, 40, B64);
        if scan_kinds(&r, &format!("value: {key} end")) == vec!["aws_secret_key"] {
            found += 1;
        }
    }
    assert!(found >= 195, "found {found} of 200 random keys");
    let b64 = base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let sha1 = Sha256::digest(b"x");
    let negatives = [
        fake(140, 40, HEX),
        fake(141, 40, HEX).to_ascii_uppercase(),
        "ThisIsAVeryLongCamelCaseIdentifierName12".to_string(),
        "getUserAccountSettingsFromDatabaseById12".to_string(),
        "AbstractSingletonProxyFactoryBeanImplV2X".to_string(),
        "src/main/java/com/Example/Service/Handle".to_string(),
        "org/apache/commons/lang3/StringUtils/Tes".to_string(),
        "/Users/Alice/Library/Application/Support".to_string(),
        b64.encode(sha1),
        b64.encode(&sha1[..20]),
        "550e8400-e29b-41d4-a716-446655440000".to_string(),
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn".to_string(),
    ];
    for n in negatives {
        let text = format!("see {n} for details");
        assert_eq!(scan_kinds(&r, &text), Vec::<String>::new(), "{n}");
    }
}

/// Scenario: prose, code, identifiers, base64 images (with and without
/// `data:`), a JSON-escaped and a percent-encoded ordinary document.
/// Guarantees: decoders find nothing in ordinary content; nothing changes.
#[test]
fn decoders_leave_ordinary_content_alone() {
    let r = redactor();
    let b64 = base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    png.extend((0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let doc = "Quarterly report: revenue grew 12% and the team shipped the new API.";
    let texts = vec![
        b64.encode(&png),
        format!("data:image/png;base64,{}", b64.encode(&png)),
        b64.encode(doc),
        serde_json::to_string(&json!({"text": doc, "n": "line\nbreak \u{e9}"})).unwrap(),
        format!("q={}", doc.replace(' ', "%20")),
        "fn create_order_for_customer_with_total_price(customer_id: u64) -> Result<Order>".into(),
        "const EXAMPLE_CONFIGURATION_PATH_FOR_INTEGRATION_TESTS = \"/etc/app.toml\";".into(),
        "password: str = Field(..., min_length=12)".into(),
        "let password: &str = &args.password;".into(),
        "if password == confirm_password:\n    token = create_token(user)\n".into(),
        "Enter your password below. The password must have 12 characters.".into(),
        "PWD=/home/alice/project OLDPWD=/home/alice".into(),
        "export DB_PASSWORD=${DB_PASSWORD:?} && echo $PGPASSWORD".into(),
    ];
    for t in texts {
        assert_eq!(scan_kinds(&r, &t), Vec::<String>::new(), "{:.120}", t);
        assert_eq!(r.redact_text(&t), None);
    }
}

/// Scenario: a value redacted by two redactors with the same key and by a
/// third with another key.
/// Guarantees: the same key gives the same marker hash and token, another
/// key other ones; hashes are `hmac-sha256:` + 16 hex, tokens 8 hex, and
/// neither is a prefix of the plain SHA-256 of the value.
#[test]
fn hashes_are_keyed() {
    let value = "Summer2024!";
    let marker = |key: &RedactionKey| {
        let r = always_on_redactor(key).unwrap();
        let mut rec = record(json!({"password": value}));
        r.redact_log_record(&mut rec);
        let hash = body_json(&rec)["password"]["$redacted"]["hash"]
            .as_str()
            .unwrap()
            .to_string();
        let token = r.redact_text(&format!("password={value}")).unwrap();
        (hash, token)
    };
    let (h1, t1) = marker(&key_a());
    let (h2, t2) = marker(&key_a());
    let (h3, t3) = marker(&RedactionKey::from_bytes([0x11; 32]));
    assert_eq!((&h1, &t1), (&h2, &t2));
    assert_ne!(h1, h3);
    assert_ne!(t1, t3);
    assert!(
        h1.starts_with("hmac-sha256:") && h1.len() == 12 + 16,
        "{h1}"
    );
    let hex8 = t1
        .strip_prefix("password=[REDACTED:password:")
        .and_then(|t| t.strip_suffix(']'))
        .unwrap();
    assert_eq!(hex8.len(), 8);
    let plain = hex::encode(Sha256::digest(value.as_bytes()));
    assert!(!plain.starts_with(&h1[12..]) && !plain.starts_with(hex8));
    assert!(
        h1[12..].starts_with(hex8),
        "token and marker share the prefix"
    );
}

/// Scenario: random strings of base64 characters of both alphabets,
/// padding, separators and `data:...;base64,` heads, with runs of every
/// length around the 20-character threshold and the 40-character AWS
/// shape.
/// Guarantees: the sampling pass ([`Structure::of`]) finds exactly the
/// runs, and the AWS shape, that a byte-by-byte pass over the whole string
/// finds.
#[test]
fn sampled_base64_runs_match_a_full_pass() {
    use crate::redaction::views::Structure;
    let pieces = [
        "a",
        "Z",
        "7",
        "+",
        "/",
        "-",
        "_",
        "=",
        " ",
        ";",
        "\"",
        "data:text/plain;base64,",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let len = (next() % 200) as usize;
        let mut text = String::new();
        while text.len() < len {
            let r = next();
            // Mostly letters, so that long runs are common.
            let p = if r % 4 != 0 {
                pieces[(r >> 8) as usize % 3]
            } else {
                pieces[(r >> 8) as usize % pieces.len()]
            };
            text.push_str(p);
        }
        let fast = Structure::of(&text);
        let mut full = Structure::default();
        full.runs_in(text.as_bytes(), 0, text.len());
        assert_eq!(fast.runs, full.runs, "{text:?}");
        assert_eq!(fast.aws_secret_shape, full.aws_secret_shape, "{text:?}");
    }
}
