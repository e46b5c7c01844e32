//! The built-in credential rules: one regex per key format, the keywords
//! that must occur in a string before the regex is run (the prefilter), the
//! capture group that holds the secret, and a validation step that rejects
//! look-alikes (identifiers, placeholders, git SHAs, documentation keys).
//!
//! Rule names are the `detector` written into `$redacted` markers and
//! `[REDACTED:...]` tokens, and the credential kind the sentinel reports.

use regex::Captures;

/// Where the secret sits in a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extract {
    /// The whole match.
    Whole,
    /// One capture group.
    Group(usize),
    /// The first capture group that matched (gitleaks' default, and the
    /// quoted/unquoted alternatives of the assignment rules).
    FirstNonEmpty,
}

impl Extract {
    /// The byte range of the secret in the haystack, if any.
    pub(crate) fn range(self, caps: &Captures<'_>) -> Option<(usize, usize)> {
        let m = match self {
            Extract::Whole => caps.get(0),
            Extract::Group(n) => caps.get(n),
            Extract::FirstNonEmpty => {
                let mut found = None;
                for i in 1..caps.len() {
                    if let Some(m) = caps.get(i) {
                        if !m.as_str().is_empty() {
                            found = Some(m);
                            break;
                        }
                    }
                }
                // A regex without groups: the whole match is the secret.
                if caps.len() == 1 {
                    caps.get(0)
                } else {
                    found
                }
            }
        }?;
        Some((m.start(), m.end()))
    }
}

/// A secret candidate handed to a rule's validation.
pub(crate) struct Candidate<'t> {
    /// The secret itself.
    pub secret: &'t str,
    /// The whole string it was found in.
    pub text: &'t str,
    /// Byte offset of the secret in `text`.
    pub start: usize,
}

/// A built-in rule as written in the table below.
pub(crate) struct BuiltinRule {
    /// Credential kind (`openai_api_key`).
    pub kind: &'static str,
    /// The regex (Rust `regex` syntax).
    pub pattern: &'static str,
    /// Case-insensitive keywords; the rule runs only when one occurs.
    pub keywords: &'static [&'static str],
    /// Where the secret sits in a match.
    pub extract: Extract,
    /// Rejects look-alikes.
    pub validate: fn(&Candidate<'_>) -> bool,
    /// Specific key formats are tier 0; assignment and header rules, whose
    /// value may itself be a specific key, are tier 2 (gitleaks rules are 1).
    pub tier: u8,
}

/// The built-in rules, most specific first (the order breaks ties between
/// two rules matching the same span).
pub(crate) const BUILTIN_RULES: &[BuiltinRule] = &[
    BuiltinRule {
        kind: "private_key",
        pattern: r"-----BEGIN[A-Z0-9 ]{0,24} PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,24} PRIVATE KEY(?: BLOCK)?-----|\z)",
        keywords: &["private key"],
        extract: Extract::Whole,
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "anthropic_api_key",
        pattern: r"\b(sk-ant-[A-Za-z0-9_\-]{20,})",
        keywords: &["sk-ant-"],
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 0,
    },
    BuiltinRule {
        kind: "openai_api_key",
        pattern: r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,})",
        keywords: &["sk-"],
        extract: Extract::Group(1),
        validate: openai_key,
        tier: 0,
    },
    BuiltinRule {
        kind: "google_api_key",
        pattern: r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|\z)",
        keywords: &["aiza"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "aws_access_key_id",
        pattern: r"\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b",
        keywords: &["akia", "asia", "abia", "acca", "a3t"],
        extract: Extract::Group(1),
        validate: not_documentation_example,
        tier: 0,
    },
    BuiltinRule {
        kind: "aws_secret_key",
        pattern: r"(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|\z)",
        keywords: &["aws", "secret"],
        extract: Extract::Group(1),
        validate: aws_secret_key,
        tier: 0,
    },
    BuiltinRule {
        kind: "azure_storage_key",
        pattern: r"(?i)(?:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{40,88}={0,2})",
        keywords: &["accountkey", "sharedaccesskey"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "azure_ad_client_secret",
        pattern: r"(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|\z)",
        keywords: &["q~"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "azure_api_key",
        pattern: r#"(?i)(?:api-key|ocp-apim-subscription-key|azure[a-z0-9_.\-]{0,30}key)["']?\s*[:=]\s*["']?([a-f0-9]{32}|[a-z0-9]{84})(?:[^a-z0-9]|\z)"#,
        keywords: &["api-key", "ocp-apim", "azure"],
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 0,
    },
    BuiltinRule {
        kind: "github_token",
        pattern: r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "gitlab_token",
        pattern: r"\b(glpat-[A-Za-z0-9_\-]{20,})",
        keywords: &["glpat-"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "slack_webhook",
        pattern: r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+\-]{20,}",
        keywords: &["hooks.slack.com"],
        extract: Extract::Whole,
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "slack_token",
        pattern: r"\b(xox[baprs]-[A-Za-z0-9\-]{10,})",
        keywords: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 0,
    },
    BuiltinRule {
        kind: "stripe_key",
        pattern: r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})",
        keywords: &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "huggingface_token",
        pattern: r"\b(hf_[A-Za-z0-9]{30,})\b",
        keywords: &["hf_"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "jwt",
        pattern: r"\b(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)",
        keywords: &["eyj"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "url_credentials",
        pattern: r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^/\s:@]+:([^/\s:@]{3,})@[A-Za-z0-9.\-\[]",
        keywords: &["://"],
        extract: Extract::Group(1),
        validate: not_placeholder,
        tier: 0,
    },
    BuiltinRule {
        kind: "basic_auth",
        pattern: r#"(?i)authorization["']?\s*[:=]\s*["']?basic\s+([A-Za-z0-9+/]{8,}={0,2})"#,
        keywords: &["basic"],
        extract: Extract::Group(1),
        validate: accept,
        tier: 2,
    },
    BuiltinRule {
        kind: "bearer_token",
        pattern: r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)",
        keywords: &["bearer"],
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 2,
    },
    BuiltinRule {
        kind: "password",
        pattern: r#"(?i)(?:^|[^a-z0-9])(?:password|passwd|pwd)["']?\s*(?:=>|:=|=|:)\s*(?:"([^"\r\n]{3,})"|'([^'\r\n]{3,})'|([^\s"'`,;)}\]]{3,}))"#,
        keywords: &["password", "passwd", "pwd"],
        extract: Extract::FirstNonEmpty,
        validate: assigned_value,
        tier: 2,
    },
    BuiltinRule {
        kind: "generic_secret",
        pattern: r#"(?i)(?:^|[^a-z0-9])(?:secret|client[_\-]?secret|api[_\-]?key|apikey|access[_\-]?key|secret[_\-]?(?:access[_\-]?)?key|private[_\-]?key|auth[_\-]?token|access[_\-]?token|api[_\-]?token|refresh[_\-]?token)["']?\s*(?:=>|:=|=|:)\s*(?:"([^"\r\n]{3,})"|'([^'\r\n]{3,})'|([^\s"'`,;)}\]]{3,}))"#,
        keywords: &[
            "secret",
            "api_key",
            "api-key",
            "apikey",
            "access_key",
            "access-key",
            "accesskey",
            "private_key",
            "private-key",
            "privatekey",
            "token",
        ],
        extract: Extract::FirstNonEmpty,
        validate: assigned_value,
        tier: 2,
    },
];

/// Accepts every candidate.
fn accept(_: &Candidate<'_>) -> bool {
    true
}

/// True when `s` has at least one ASCII digit and one ASCII letter.
fn has_digit_and_letter(c: &Candidate<'_>) -> bool {
    let s = c.secret.as_bytes();
    s.iter().any(u8::is_ascii_digit) && s.iter().any(u8::is_ascii_alphabetic)
}

/// OpenAI keys: a digit and a letter after the prefix and real entropy, so
/// that `sk-learn-compatible-estimators` is not a key.
fn openai_key(c: &Candidate<'_>) -> bool {
    has_digit_and_letter(c) && shannon_entropy(c.secret) >= 3.0
}

/// AWS documents its examples with an `EXAMPLE` suffix; they are not keys.
fn not_documentation_example(c: &Candidate<'_>) -> bool {
    !c.secret.contains("EXAMPLE")
}

/// How far back from a 40-character candidate `aws` or `secret` may occur.
const AWS_CONTEXT_WINDOW: usize = 80;

/// An AWS secret access key: 40 base64 characters with upper case, lower
/// case and a digit or `/`/`+` (git SHAs and hex digests have no upper case),
/// real entropy, and `aws` or `secret` shortly before it.
fn aws_secret_key(c: &Candidate<'_>) -> bool {
    let s = c.secret.as_bytes();
    let upper = s.iter().any(u8::is_ascii_uppercase);
    let lower = s.iter().any(u8::is_ascii_lowercase);
    let other = s
        .iter()
        .any(|b| b.is_ascii_digit() || *b == b'/' || *b == b'+');
    if !(upper && lower && other) || c.secret.contains("EXAMPLE") {
        return false;
    }
    if shannon_entropy(c.secret) < 4.0 {
        return false;
    }
    let mut from = c.start.saturating_sub(AWS_CONTEXT_WINDOW);
    while !c.text.is_char_boundary(from) {
        from += 1;
    }
    let before = c.text[from..c.start].to_ascii_lowercase();
    before.contains("aws") || before.contains("secret")
}

/// Rejects placeholder values (`***`, `<your-key>`, `${VAR}`, `password`).
fn not_placeholder(c: &Candidate<'_>) -> bool {
    !is_placeholder(c.secret)
}

/// The value of a `password=` / `api_key:` assignment. Quoted values are
/// literals and count unless they are placeholders or prose; unquoted values
/// that look like code (identifiers, calls, indexing, variables, numbers
/// only) do not count.
fn assigned_value(c: &Candidate<'_>) -> bool {
    let v = c.secret;
    if is_placeholder(v) {
        return false;
    }
    let quoted =
        c.start > 0 && matches!(c.text.as_bytes().get(c.start - 1), Some(b'"') | Some(b'\''));
    if quoted {
        // Prose ("Enter your password") is not a password.
        return !v.contains(' ') && v.len() >= 4;
    }
    let b = v.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if v.contains('(') || v.contains('[') || v.contains('{') {
        return false;
    }
    let identifier_like = b
        .iter()
        .all(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b'.' || *c == b'-');
    !identifier_like
}

/// Values that stand for a secret without being one.
pub(crate) fn is_placeholder(v: &str) -> bool {
    let t = v.trim();
    if t.is_empty() {
        return true;
    }
    let first = t.as_bytes()[0];
    if matches!(first, b'$' | b'%' | b'<' | b'{' | b'@') {
        return true;
    }
    if t.starts_with("[REDACTED") {
        return true;
    }
    let mut chars = t.chars();
    if let Some(c0) = chars.next() {
        if matches!(c0, '*' | 'x' | 'X' | '.' | '#' | '-' | '_' | '?') && t.chars().all(|c| c == c0)
        {
            return true;
        }
    }
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "changeit",
        "null",
        "none",
        "nil",
        "true",
        "false",
        "undefined",
        "redacted",
        "hidden",
        "required",
        "optional",
        "string",
        "example",
        "your_api_key",
        "your-api-key",
        "xxx",
        "pass",
    ];
    let lower = t.to_ascii_lowercase();
    WORDS.contains(&lower.as_str())
}

/// Shannon entropy of `s` in bits per byte.
pub(crate) fn shannon_entropy(s: &str) -> f64 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in bytes {
        counts[*b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}
