//! Personal data detection: e-mail addresses, phone numbers, payment card
//! numbers (Luhn check and issuer prefix), IBANs (ISO 13616 mod-97 check)
//! and US social security numbers, plus the per-class masks.
//!
//! Each class has a cheap gate before its regex runs: `@` for e-mail; for
//! the numeric classes, runs of digits long enough to be one (found in one
//! pass over the bytes), and the regex runs on that run only; for IBANs,
//! two capitals followed by two digits.

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A class of personal data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiClass {
    /// E-mail addresses.
    Email,
    /// Phone numbers (North American and `+`-prefixed international forms).
    Phone,
    /// Payment card numbers that pass the Luhn check.
    CardNumber,
    /// IBANs that pass the mod-97 check.
    Iban,
    /// National identifiers (US social security numbers, `123-45-6789`).
    NationalId,
}

impl PiiClass {
    /// Every class, in config order.
    pub const ALL: [PiiClass; 5] = [
        PiiClass::Email,
        PiiClass::Phone,
        PiiClass::CardNumber,
        PiiClass::Iban,
        PiiClass::NationalId,
    ];

    /// The name used in config, markers and tokens (`card_number`).
    pub fn as_str(self) -> &'static str {
        match self {
            PiiClass::Email => "email",
            PiiClass::Phone => "phone",
            PiiClass::CardNumber => "card_number",
            PiiClass::Iban => "iban",
            PiiClass::NationalId => "national_id",
        }
    }

    /// The class named `s` (as written by [`PiiClass::as_str`]).
    pub fn from_name(s: &str) -> Option<PiiClass> {
        PiiClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The masked form of `value` (mask mode): e-mail keeps its first
    /// character and domain, phone numbers their last two digits, card
    /// numbers and IBANs their last four characters (IBANs also the country),
    /// national ids nothing. Separators are kept so the shape stays readable.
    pub fn mask(self, value: &str) -> String {
        match self {
            PiiClass::Email => match value.split_once('@') {
                Some((local, domain)) => {
                    let first = local.chars().next().unwrap_or('*');
                    format!("{first}***@{domain}")
                }
                None => "***".to_string(),
            },
            PiiClass::Phone => mask_alnum_keep_last(value, 2, 0),
            PiiClass::CardNumber => mask_alnum_keep_last(value, 4, 0),
            PiiClass::Iban => mask_alnum_keep_last(value, 4, 2),
            PiiClass::NationalId => mask_alnum_keep_last(value, 0, 0),
        }
    }
}

impl fmt::Display for PiiClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Replaces every ASCII letter or digit with `*` except the first `keep_first`
/// and the last `keep_last` ones.
fn mask_alnum_keep_last(value: &str, keep_last: usize, keep_first: usize) -> String {
    let total = value.chars().filter(|c| c.is_ascii_alphanumeric()).count();
    let mut seen = 0usize;
    value
        .chars()
        .map(|c| {
            if !c.is_ascii_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen <= keep_first || seen > total.saturating_sub(keep_last) {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// A set of PII classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PiiSet(u8);

impl PiiSet {
    /// No class.
    pub const NONE: PiiSet = PiiSet(0);
    /// Every class.
    pub const ALL: PiiSet = PiiSet(0b1_1111);

    /// This set plus `class`.
    pub fn with(self, class: PiiClass) -> PiiSet {
        PiiSet(self.0 | (1 << class.index()))
    }

    /// True when `class` is in the set.
    pub fn contains(self, class: PiiClass) -> bool {
        self.0 & (1 << class.index()) != 0
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Compiled PII detectors.
pub(crate) struct PiiScanner {
    email: Regex,
    phone: Regex,
    card: Regex,
    iban: Regex,
    ssn: Regex,
}

/// One PII match: byte range and class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PiiMatch {
    pub start: usize,
    pub end: usize,
    pub class: PiiClass,
}

impl PiiScanner {
    /// Compiles the detectors.
    pub(crate) fn new() -> Result<PiiScanner, regex::Error> {
        Ok(PiiScanner {
            email: Regex::new(
                r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24}\b",
            )?,
            phone: Regex::new(
                r"(?:\+1[\s.\-]?)?(?:\(\d{3}\)[\s.\-]?|\d{3}[\s.\-])\d{3}[\s.\-]\d{4}|\+\d{1,3}(?:[\s.\-]?\d{1,4}){2,5}",
            )?,
            card: Regex::new(r"\d(?:[ \-]?\d){12,18}")?,
            iban: Regex::new(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")?,
            ssn: Regex::new(r"\b\d{3}-\d{2}-\d{4}\b")?,
        })
    }

    /// Appends the matches of the classes in `set` found in `text`.
    pub(crate) fn scan(&self, text: &str, set: PiiSet, out: &mut Vec<PiiMatch>) {
        if set.is_empty() {
            return;
        }
        let bytes = text.as_bytes();
        if set.contains(PiiClass::Email) && bytes.contains(&b'@') {
            for m in self.email.find_iter(text) {
                if valid_email(text, m.start(), m.as_str()) {
                    out.push(PiiMatch {
                        start: m.start(),
                        end: m.end(),
                        class: PiiClass::Email,
                    });
                }
            }
        }
        let numeric = set.contains(PiiClass::Phone)
            || set.contains(PiiClass::CardNumber)
            || set.contains(PiiClass::NationalId);
        let digits = if numeric || set.contains(PiiClass::Iban) {
            count_digits(bytes)
        } else {
            0
        };
        if numeric && digits >= MIN_CLUSTER_DIGITS {
            let mut clusters = Vec::new();
            digit_clusters(bytes, MIN_CLUSTER_DIGITS, &mut clusters);
            for c in clusters {
                let (w0, w1) = window(text, c.start, c.end);
                let slice = &text[w0..w1];
                let mut run = |class: PiiClass, re: &Regex, min: usize, valid: fn(&str) -> bool| {
                    if !set.contains(class) || c.digits < min {
                        return;
                    }
                    for m in re.find_iter(slice) {
                        let (start, end) = (w0 + m.start(), w0 + m.end());
                        if isolated(bytes, start, end) && valid(m.as_str()) {
                            out.push(PiiMatch { start, end, class });
                        }
                    }
                };
                run(PiiClass::CardNumber, &self.card, 13, valid_card);
                run(PiiClass::NationalId, &self.ssn, 9, valid_ssn);
                run(PiiClass::Phone, &self.phone, 10, valid_phone);
            }
        }
        if set.contains(PiiClass::Iban) && digits >= 2 {
            for start in iban_starts(bytes) {
                let (w0, w1) = window(text, start, start + IBAN_WINDOW);
                if let Some(m) = self.iban.find(&text[w0..w1]) {
                    let (s0, e0) = (w0 + m.start(), w0 + m.end());
                    let glued = bytes.get(e0).is_some_and(u8::is_ascii_alphanumeric);
                    if s0 == start && !glued && valid_iban(m.as_str()) {
                        out.push(PiiMatch {
                            start: s0,
                            end: e0,
                            class: PiiClass::Iban,
                        });
                    }
                }
            }
        }
    }
}

/// Fewest digits in a cluster worth a numeric regex (an SSN has 9).
const MIN_CLUSTER_DIGITS: usize = 9;
/// Longest IBAN as written with spaces, plus slack.
const IBAN_WINDOW: usize = 46;

/// Number of ASCII digits in `bytes`, counted per 64-byte chunk so the
/// compiler can vectorise it: most text is rejected here.
fn count_digits(bytes: &[u8]) -> usize {
    bytes
        .chunks(64)
        .map(|c| {
            c.iter()
                .map(|b| u8::from(b.wrapping_sub(b'0') < 10))
                .fold(0u8, u8::wrapping_add) as usize
        })
        .sum()
}

/// A run of digits and the separators numbers are written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cluster {
    start: usize,
    end: usize,
    digits: usize,
}

/// Separators inside written numbers (`+1 (415) 555-2671`, `4111 1111`).
fn number_separator(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+' | b'/')
}

/// The spans made of digits with at most two separator bytes between
/// digits that hold at least `min_digits` digits. One pass over the bytes:
/// prose without long numbers never reaches a regex.
fn digit_clusters(bytes: &[u8], min_digits: usize, out: &mut Vec<Cluster>) {
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut digits = 0;
        let mut j = i;
        while j < bytes.len() {
            if bytes[j].is_ascii_digit() {
                digits += 1;
                end = j + 1;
                j += 1;
            } else if number_separator(bytes[j]) && j - end < 2 {
                j += 1;
            } else {
                break;
            }
        }
        if digits >= min_digits {
            out.push(Cluster { start, end, digits });
        }
        i = end.max(i + 1);
    }
}

/// `start..end` widened by a few bytes for prefixes like `+1 (` and
/// suffixes, on character boundaries.
fn window(text: &str, start: usize, end: usize) -> (usize, usize) {
    let mut s = start.saturating_sub(4);
    while !text.is_char_boundary(s) {
        s -= 1;
    }
    let mut e = (end + 2).min(text.len());
    while !text.is_char_boundary(e) {
        e += 1;
    }
    (s, e)
}

/// Positions where an IBAN may start: two capitals and two digits, not
/// glued to a preceding letter or digit.
fn iban_starts(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    (0..bytes.len().saturating_sub(3)).filter(move |&i| {
        bytes[i].is_ascii_uppercase()
            && bytes[i + 1].is_ascii_uppercase()
            && bytes[i + 2].is_ascii_digit()
            && bytes[i + 3].is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
    })
}

/// True when the match is not part of a longer token: no letter, digit,
/// `.`, `-`, `/` or `_` right before or after it (versions, IPs, paths, ids).
fn isolated(bytes: &[u8], start: usize, end: usize) -> bool {
    let glued = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'/' | b'_' | b'+');
    let before = start == 0 || !glued(bytes[start - 1]);
    let after = end >= bytes.len() || {
        let b = bytes[end];
        // A sentence may end right after a number.
        if b == b'.' {
            bytes
                .get(end + 1)
                .is_none_or(|n| !n.is_ascii_alphanumeric())
        } else {
            !glued(b)
        }
    };
    before && after
}

/// Top-level domains that are really file extensions (`icon@2x.png`).
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "mjs", "ts", "tsx", "jsx", "css",
    "py", "rs", "go", "rb", "java", "json", "yaml", "yml", "toml", "md", "txt", "html", "lock",
];

/// Domains reserved for documentation (RFC 2606) and addresses that are
/// not a person's.
fn valid_email(text: &str, start: usize, m: &str) -> bool {
    // A longer local part than the regex allows: not an address.
    if start > 0 {
        let prev = text.as_bytes()[start - 1];
        if prev.is_ascii_alphanumeric() || matches!(prev, b'.' | b'%' | b'+' | b'-' | b'_') {
            return false;
        }
    }
    let Some((local, domain)) = m.rsplit_once('@') else {
        return false;
    };
    let domain = domain.to_ascii_lowercase();
    let tld = domain.rsplit('.').next().unwrap_or("");
    if FILE_EXTENSIONS.contains(&tld) {
        return false;
    }
    let reserved = ["example.com", "example.org", "example.net"];
    if reserved
        .iter()
        .any(|r| domain == *r || domain.ends_with(&format!(".{r}")))
        || matches!(tld, "example" | "test" | "invalid" | "localhost" | "local")
    {
        return false;
    }
    let local = local.to_ascii_lowercase();
    !matches!(local.as_str(), "git" | "noreply" | "no-reply")
}

/// Digit count of a phone number candidate: 10 to 15 (E.164 allows 15).
fn valid_phone(m: &str) -> bool {
    let digits = m.bytes().filter(u8::is_ascii_digit).count();
    (10..=15).contains(&digits)
}

/// Card number: 13 to 19 digits, one kind of separator used consistently,
/// a known issuer prefix, the Luhn check, and not all one digit.
fn valid_card(m: &str) -> bool {
    let digits: Vec<u8> = m
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let has_space = m.contains(' ');
    let has_dash = m.contains('-');
    if has_space && has_dash {
        return false;
    }
    if digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    known_issuer(&digits) && luhn_valid(&digits)
}

/// Issuer identification prefixes of the major card networks.
fn known_issuer(d: &[u8]) -> bool {
    let prefix = |n: usize| -> u32 {
        d.iter()
            .take(n)
            .fold(0u32, |acc, x| acc * 10 + u32::from(*x))
    };
    let len = d.len();
    match d[0] {
        4 => matches!(len, 13 | 16 | 19),
        5 => (51..=55).contains(&prefix(2)) && len == 16,
        2 => (2221..=2720).contains(&prefix(4)) && len == 16,
        3 => {
            let p2 = prefix(2);
            (matches!(p2, 34 | 37) && len == 15)
                || (matches!(p2, 36 | 38) && len >= 14)
                || ((300..=305).contains(&prefix(3)) && len >= 14)
                || ((3528..=3589).contains(&prefix(4)) && len >= 16)
        }
        6 => {
            prefix(4) == 6011
                || prefix(2) == 65
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 62
        }
        _ => false,
    }
}

/// The Luhn (mod 10) check over decimal digits.
pub(crate) fn luhn_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// IBAN: 15 to 34 characters without spaces, and the ISO 13616 check:
/// move the first four characters to the end, letters to 10..35, mod 97 = 1.
pub(crate) fn valid_iban(m: &str) -> bool {
    let compact: Vec<u8> = m.bytes().filter(|b| *b != b' ').collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rotated = compact[4..].iter().chain(compact[..4].iter());
    let mut rem = 0u32;
    for b in rotated {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000.
fn valid_ssn(m: &str) -> bool {
    let mut parts = m.split('-');
    let (Some(a), Some(g), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let area: u32 = a.parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && g != "00" && s != "0000"
}
