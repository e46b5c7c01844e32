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

/// What must occur in a string before a built-in rule's regex runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// One of the rule's keywords (ASCII case-insensitive).
    Keywords,
    /// A run of exactly 40 standard-base64 characters (see
    /// [`super::views::Structure`]): the shape of an AWS secret access key.
    AwsSecretShape,
}

/// A built-in rule as written in the table below.
pub(crate) struct BuiltinRule {
    /// Credential kind (`openai_api_key`).
    pub kind: &'static str,
    /// The regex (Rust `regex` syntax).
    pub pattern: &'static str,
    /// Case-insensitive keywords; the rule runs only when one occurs.
    pub keywords: &'static [&'static str],
    /// What makes the rule run.
    pub gate: Gate,
    /// Where the secret sits in a match.
    pub extract: Extract,
    /// Rejects look-alikes.
    pub validate: fn(&Candidate<'_>) -> bool,
    /// Specific key formats are tier 0; assignment and header rules, whose
    /// value may itself be a specific key, are tier 2 (gitleaks rules are 1).
    pub tier: u8,
}

/// An assignment's value: `"quoted"`, `'quoted'` or bare up to a separator.
macro_rules! assigned {
    () => {
        r#"(?:"([^"\r\n]{1,})"|'([^'\r\n]{1,})'|([^\s"'`,;)}\]]{1,}))"#
    };
}

/// The built-in rules, most specific first (the order breaks ties between
/// two rules matching the same span). Vendor prefixes match in any case
/// (`SK-PROJ-`, `Ghp_`): the keyword prefilter is case-insensitive too.
/// A distinctive vendor prefix matches wherever it starts, even glued to the
/// word before it (`isglpat-...`, `keyAKIA...`) or followed by more key
/// characters: for a redactor a missed key is a leak, while a redacted
/// look-alike costs a few characters of text. Only the bare legacy OpenAI
/// form (`sk-` and no project/service/admin part) keeps a word boundary
/// before it, since `task-`, `disk-` and `risk-` would otherwise start one.
pub(crate) const BUILTIN_RULES: &[BuiltinRule] = &[
    BuiltinRule {
        kind: "private_key",
        pattern: r"(?i)-----BEGIN[A-Z0-9 ]{0,24} PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,24} PRIVATE KEY(?: BLOCK)?-----|\z)",
        keywords: &["private key"],
        gate: Gate::Keywords,
        extract: Extract::Whole,
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "anthropic_api_key",
        pattern: r"((?i:sk-ant-)[A-Za-z0-9_\-]{20,})",
        keywords: &["sk-ant-"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 0,
    },
    BuiltinRule {
        kind: "openai_api_key",
        pattern: r"((?i:sk-(?:proj|svcacct|admin)-)[A-Za-z0-9_\-]{20,})|\b((?i:sk-)[A-Za-z0-9_\-]{20,})",
        keywords: &["sk-"],
        gate: Gate::Keywords,
        extract: Extract::FirstNonEmpty,
        validate: openai_key,
        tier: 0,
    },
    BuiltinRule {
        kind: "google_api_key",
        pattern: r"((?i:AIza)[0-9A-Za-z_\-]{35})",
        keywords: &["aiza"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "aws_access_key_id",
        pattern: r"((?i:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})",
        keywords: &["akia", "asia", "abia", "acca", "a3t"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: not_documentation_example,
        tier: 0,
    },
    BuiltinRule {
        kind: "aws_secret_key",
        pattern: r"(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|\z)",
        keywords: &[],
        gate: Gate::AwsSecretShape,
        extract: Extract::Group(1),
        validate: aws_secret_key,
        tier: 0,
    },
    BuiltinRule {
        kind: "aws_session_token",
        pattern: r#"(?i)(?:aws[_\-]?session[_\-]?token|x-amz-security-token)["']?[ \t]*(?:=>|:=|=|:)[ \t]*["']?([A-Za-z0-9/+=%]{16,})"#,
        keywords: &[
            "session_token",
            "sessiontoken",
            "session-token",
            "x-amz-security-token",
        ],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: not_placeholder,
        tier: 0,
    },
    BuiltinRule {
        kind: "azure_storage_key",
        pattern: r"(?i)(?:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{40,88}={0,2})",
        keywords: &["accountkey", "sharedaccesskey"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "azure_sas_signature",
        pattern: r#"(?i)(?:^|[?&;\s"'])sig=([A-Za-z0-9%+/=_\-]{16,})"#,
        keywords: &["sig="],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 0,
    },
    BuiltinRule {
        kind: "azure_ad_client_secret",
        pattern: r"(?:^|[^A-Za-z0-9_~.\-])([A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|\z)",
        keywords: &["q~"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "azure_api_key",
        pattern: r#"(?i)(?:api-key|ocp-apim-subscription-key|azure[a-z0-9_.\-]{0,30}key)["']?\s*[:=]\s*["']?([a-f0-9]{32}|[a-z0-9]{84})(?:[^a-z0-9]|\z)"#,
        keywords: &["api-key", "ocp-apim", "azure"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 0,
    },
    BuiltinRule {
        kind: "github_token",
        pattern: r"((?i:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|(?i:github_pat_)[A-Za-z0-9_]{22,255})",
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "gitlab_token",
        pattern: r"((?i:glpat-)[A-Za-z0-9_\-]{20,})",
        keywords: &["glpat-"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "slack_webhook",
        pattern: r"(?i:https?://)?(?i:hooks\.slack\.com)/(?i:services|workflows|triggers)/[A-Za-z0-9/_+\-]{20,}",
        keywords: &["hooks.slack.com"],
        gate: Gate::Keywords,
        extract: Extract::Whole,
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "slack_token",
        pattern: r"((?i:xox[baprs])-[A-Za-z0-9\-]{10,})",
        keywords: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 0,
    },
    BuiltinRule {
        kind: "stripe_key",
        pattern: r"((?i:(?:sk|rk)_(?:live|test)_)[A-Za-z0-9]{16,})",
        keywords: &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "huggingface_token",
        pattern: r"((?i:hf_)[A-Za-z0-9]{30,})",
        keywords: &["hf_"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "vault_token",
        pattern: r"((?i:hv[sbr])\.[A-Za-z0-9_\-]{20,})",
        keywords: &["hvs.", "hvb.", "hvr."],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 0,
    },
    BuiltinRule {
        kind: "jwt",
        pattern: r"(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)",
        keywords: &["eyj"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 0,
    },
    BuiltinRule {
        kind: "url_credentials",
        pattern: r"\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^/\s:@]*:([^/\s:@]{3,})@[A-Za-z0-9.\-\[]",
        keywords: &["://"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: not_placeholder,
        tier: 0,
    },
    BuiltinRule {
        kind: "vault_token",
        pattern: concat!(
            r#"(?i)(?:x-vault-token|vault[_\-]?token)["']?[ \t]*(?:=>|:=|=|:)[ \t]*"#,
            assigned!()
        ),
        keywords: &["vault-token", "vault_token", "vaulttoken"],
        gate: Gate::Keywords,
        extract: Extract::FirstNonEmpty,
        validate: token_value,
        tier: 2,
    },
    BuiltinRule {
        kind: "basic_auth",
        pattern: r#"(?i)authorization["']?\s*[:=]\s*["']?basic\s+([A-Za-z0-9+/]{8,}={0,2})"#,
        keywords: &["basic"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: accept,
        tier: 2,
    },
    BuiltinRule {
        kind: "basic_auth",
        // `curl -u user:password` (also `--user`, and the proxy forms):
        // the password after the first colon. Arguments may be separated
        // as in a JSON array too (`"curl", "-u", "user:password"`).
        pattern: r#"(?:^|[\s/"'])curl\b[^\n;|&]*?[\s"'](?:-u|-U|--user|--proxy-user)(?:=|["']?\s*,?\s*)["']?[^\s:"']*:([^\s"']+)"#,
        keywords: &["curl"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: not_placeholder,
        tier: 2,
    },
    BuiltinRule {
        kind: "bearer_token",
        pattern: r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)",
        keywords: &["bearer"],
        gate: Gate::Keywords,
        extract: Extract::Group(1),
        validate: has_digit_and_letter,
        tier: 2,
    },
    BuiltinRule {
        kind: "password",
        // `password=`, `DB_PASSWORD:`, `PGPASSWORD=`, `MYSQL_PWD=`,
        // `--password=`, `"password": "..."`.
        pattern: concat!(
            r#"(?i)(?:^|[^a-z0-9])[a-z0-9]{0,16}(?:password|passwd|pwd)["']?[ \t]*(?:=>|:=|=|:)[ \t]*"#,
            assigned!()
        ),
        keywords: &["password", "passwd", "pwd"],
        gate: Gate::Keywords,
        extract: Extract::FirstNonEmpty,
        validate: password_value,
        tier: 2,
    },
    BuiltinRule {
        kind: "password",
        // `--password VALUE` as separate arguments (and the wget forms),
        // also as items of a JSON array (`"--password", "VALUE"`).
        pattern: r#"(?:^|[\s"'])--(?:password|passwd|http-password|ftp-password|proxy-password)(?:\s+|["']\s*,\s*)(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^\s"'\-][^\s"']*))"#,
        keywords: &["password", "passwd"],
        gate: Gate::Keywords,
        extract: Extract::FirstNonEmpty,
        validate: password_value,
        tier: 2,
    },
    BuiltinRule {
        kind: "password",
        // `mysql -pSECRET` (the value glued to `-p`; `-p` alone prompts),
        // also as an item of a JSON array (`"mysql", "-pSECRET"`).
        pattern: r#"(?:^|[\s/"'])(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlsh|mariadb|mariadb-dump)\b[^\n;|&]*?(?:\s-p(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^\s"']+))|["']-p([^\s"']+))"#,
        keywords: &["mysql", "mariadb"],
        gate: Gate::Keywords,
        extract: Extract::FirstNonEmpty,
        validate: not_placeholder,
        tier: 2,
    },
    BuiltinRule {
        kind: "generic_secret",
        pattern: concat!(
            r#"(?i)(?:^|[^a-z0-9])(?:secret|client[_\-]?secret|api[_\-]?key|apikey|access[_\-]?key|secret[_\-]?key[_\-]?base|secret[_\-]?(?:access[_\-]?)?key|private[_\-]?key|auth[_\-]?token|access[_\-]?token|api[_\-]?token|refresh[_\-]?token|session[_\-]?token|security[_\-]?token)["']?[ \t]*(?:=>|:=|=|:)[ \t]*"#,
            assigned!()
        ),
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
        gate: Gate::Keywords,
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

/// Shortest OpenAI key taken for one without a digit.
const OPENAI_DIGITLESS_MIN_LEN: usize = 40;
/// Entropy of an OpenAI key without a digit (random letters: about 5).
const OPENAI_DIGITLESS_ENTROPY: f64 = 4.0;

/// OpenAI keys: a digit and a letter and real entropy, so that
/// `sk-learn-compatible-estimators` is not a key. A random 48-character
/// key has no digit once in about 5,000; such a key is still taken when it
/// is long, mixes upper and lower case, is random and is mostly not words
/// (under three quarters of it in word-like chunks: random letters stay
/// below that 9,997 times in 10,000, camel-case identifiers such as
/// `sk-AbstractFactoryProviderConfiguration` are above 90%).
fn openai_key(c: &Candidate<'_>) -> bool {
    let entropy = shannon_entropy(c.secret);
    if has_digit_and_letter(c) {
        return entropy >= 3.0;
    }
    let s = c.secret.as_bytes();
    s.len() >= OPENAI_DIGITLESS_MIN_LEN
        && s.iter().any(u8::is_ascii_uppercase)
        && s.iter().any(u8::is_ascii_lowercase)
        && entropy >= OPENAI_DIGITLESS_ENTROPY
        && word_chars(s) * 4 < s.len() * 3
}

/// AWS documents its examples with an `EXAMPLE` suffix; they are not keys.
fn not_documentation_example(c: &Candidate<'_>) -> bool {
    !c.secret.contains("EXAMPLE")
}

/// How far back from a 40-character candidate `aws` or `secret` may occur.
const AWS_CONTEXT_WINDOW: usize = 80;
/// Entropy (bits per character) of an AWS secret next to `aws`/`secret`.
const AWS_ENTROPY_WITH_CONTEXT: f64 = 4.0;
/// Entropy of an AWS secret on its own: random 40-character base64 strings
/// stay above 4.1; this keeps one in ten thousand out.
const AWS_ENTROPY_ALONE: f64 = 4.2;
/// Characters of a lone candidate that may be in words (a capital and three
/// or more lower-case letters: `Factory`, `commons`). Identifiers and paths
/// of 40 characters are mostly words; about one random key in a thousand has
/// this many.
const AWS_MAX_WORD_CHARS: usize = 24;

/// An AWS secret access key: 40 base64 characters (the run finder bounds
/// them by non-base64 characters) with upper case, lower case and a digit
/// or `/`/`+` (git SHAs and hex digests have no upper case), and real
/// entropy. With `aws` or `secret` shortly before it that is enough; alone
/// it must be more random, and not made of words (camel-case identifiers,
/// paths).
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
    let entropy = shannon_entropy(c.secret);
    let from = c.start.saturating_sub(AWS_CONTEXT_WINDOW);
    let before = &c.text.as_bytes()[from..c.start];
    let near = |word: &[u8]| {
        before
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    if near(b"aws") || near(b"secret") {
        return entropy >= AWS_ENTROPY_WITH_CONTEXT;
    }
    entropy >= AWS_ENTROPY_ALONE && word_chars(s) < AWS_MAX_WORD_CHARS
}

/// Characters in word-like chunks: an optional capital and at least three
/// lower-case letters.
fn word_chars(s: &[u8]) -> usize {
    let mut total = 0;
    let mut i = 0;
    while i < s.len() {
        let start = i;
        if s[i].is_ascii_uppercase() {
            i += 1;
        }
        let lower_from = i;
        while i < s.len() && s[i].is_ascii_lowercase() {
            i += 1;
        }
        if i - lower_from >= 3 {
            total += i - start;
        }
        if i == start {
            i += 1;
        }
    }
    total
}

/// Rejects placeholder values (`***`, `<your-key>`, `${VAR}`).
fn not_placeholder(c: &Candidate<'_>) -> bool {
    !is_placeholder(c.secret)
}

/// True when the candidate is a quoted literal.
fn quoted(c: &Candidate<'_>) -> bool {
    c.start > 0 && matches!(c.text.as_bytes().get(c.start - 1), Some(b'"') | Some(b'\''))
}

/// The value under a password key. A value under a key named password is a
/// password, whatever it looks like (letters only, with spaces, `$` or `@`
/// first), unless it is a placeholder; bare values that are code (a call,
/// a variable, a type in a signature, a path) are not values.
fn password_value(c: &Candidate<'_>) -> bool {
    let v = c.secret;
    if is_placeholder(v) {
        return false;
    }
    quoted(c) || !(code_like(v) || v.starts_with('/') || v.starts_with("~/"))
}

/// Type names that follow `password:` in signatures (`password: str`).
const TYPE_NAMES: &[&str] = &[
    "str",
    "string",
    "bytes",
    "int",
    "bool",
    "text",
    "char",
    "any",
    "secretstr",
    "securestring",
];

/// Bare words that are code rather than a value: calls and indexing,
/// attribute paths (`os.environ`, `getpass.getpass`), `snake_case`
/// variables, references (`&str`), type names.
fn code_like(v: &str) -> bool {
    let b = v.as_bytes();
    if v.contains('(') || v.contains('[') || v.contains('{') {
        return true;
    }
    if matches!(b.first(), Some(b'&') | Some(b'*')) && b.get(1).is_some_and(u8::is_ascii_alphabetic)
    {
        return true;
    }
    let identifier = |s: &str| {
        let mut chars = s.bytes();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == b'_')
    };
    // A long segment with digits and both cases is random, not a name
    // (a legacy Vault token `s.` + 24 characters).
    let random = |s: &str| {
        let b = s.as_bytes();
        b.len() >= 16
            && b.iter().any(u8::is_ascii_digit)
            && b.iter().any(u8::is_ascii_uppercase)
            && b.iter().any(u8::is_ascii_lowercase)
    };
    if v.contains('.') && v.split('.').all(identifier) && !v.split('.').any(random) {
        return true;
    }
    if v.contains('_') && b.iter().all(|c| c.is_ascii_lowercase() || *c == b'_') {
        return true;
    }
    TYPE_NAMES.iter().any(|t| v.eq_ignore_ascii_case(t))
}

/// The value of a token header or assignment (`X-Vault-Token: ...`):
/// anything of eight characters or more that is not a placeholder or code.
fn token_value(c: &Candidate<'_>) -> bool {
    let v = c.secret;
    v.len() >= 8 && !is_placeholder(v) && !code_like(v)
}

/// The value of an `api_key:` / `secret=` assignment. Quoted values are
/// literals and count unless they are placeholders or prose; bare values
/// that look like code (identifiers, calls, indexing, variables, numbers
/// only) do not count.
fn assigned_value(c: &Candidate<'_>) -> bool {
    let v = c.secret;
    if is_placeholder(v) || v.len() < 3 {
        return false;
    }
    if quoted(c) {
        // Prose ("Enter your secret") is not a secret.
        return !v.contains(' ') && v.len() >= 4;
    }
    let b = v.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if code_like(v) {
        return false;
    }
    let identifier_like = b
        .iter()
        .all(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b'.' || *c == b'-');
    !identifier_like
}

/// Words that stand for a value without being one.
const PLACEHOLDER_WORDS: &[&str] = &[
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "redacted",
    "hidden",
    "required",
    "optional",
    "placeholder",
    "example",
    "your_api_key",
    "your-api-key",
    "your_password",
    "your-password",
    "yourpassword",
    "xxx",
];

/// True placeholders: empty, templates and variables (`${VAR}`, `$VAR`,
/// `{{ x }}`, `<your-password>`, `%s`), masks (`***`, `xxxx`) and words
/// that stand for a value (`null`, `required`). Anything else under a
/// credential key is a credential.
pub(crate) fn is_placeholder(v: &str) -> bool {
    let t = v.trim();
    let b = t.as_bytes();
    let Some(&first) = b.first() else {
        return true;
    };
    match first {
        // `<your-password>`, `{{ .Values.password }}`, `{PASSWORD}`: a
        // name in brackets. `<Zq7!>` or `{"a": 1}` is a value.
        b'<' | b'{' => {
            let close = if first == b'<' { b'>' } else { b'}' };
            return b.len() >= 3
                && b.last() == Some(&close)
                && b.iter().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, b'-' | b'_' | b'.' | b' ' | b'<' | b'>' | b'{' | b'}')
                });
        }
        b'$' => {
            // `${VAR}`, `$(cmd)`, `$VAR`, `$var`: expansions. `$ecr3t!`
            // (mixed case, digits, symbols) is a value.
            let rest = &b[1..];
            if matches!(rest.first(), Some(b'{') | Some(b'(')) {
                return true;
            }
            let var = |upper: bool| {
                !rest.is_empty()
                    && rest.iter().all(|c| {
                        *c == b'_'
                            || if upper {
                                c.is_ascii_uppercase() || c.is_ascii_digit()
                            } else {
                                c.is_ascii_lowercase()
                            }
                    })
            };
            return var(true) || var(false);
        }
        b'%' => {
            // `%s`, `%(password)s`, `%PASSWORD%`.
            return t.len() <= 2 || b.get(1) == Some(&b'(') || (t.len() > 2 && t.ends_with('%'));
        }
        _ => {}
    }
    if t.contains("***") {
        return true;
    }
    let c0 = first;
    if matches!(c0, b'*' | b'x' | b'X' | b'.' | b'#' | b'-' | b'_' | b'?')
        && b.iter().all(|c| *c == c0)
    {
        return true;
    }
    PLACEHOLDER_WORDS.iter().any(|w| t.eq_ignore_ascii_case(w))
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
