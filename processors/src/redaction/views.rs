//! Decoded views of a string, so that a credential hidden by an encoding is
//! found and redacted where it sits in the original text.
//!
//! A view is the text a decoder produced plus a map from each of its bytes
//! back to the byte of the original (raw) string it came from. Decoders:
//!
//! - JSON (and JavaScript) string escapes: `\"`, `\\`, `\/`, `\n`...,
//!   `\uXXXX` with surrogate pairs, `\xHH`; applied again to the result, a
//!   view of a view decodes double-escaped JSON;
//! - percent-encoding (`%73k-ant-`, `sk%2Dproj`);
//! - base64 runs (standard and URL-safe alphabets) whose first decoded
//!   bytes are text; the run after `data:...;base64,` counts as one. A
//!   detection in a base64 view redacts the whole run (the whole data URL):
//!   its bytes do not map one to one.
//!
//! [`Structure`] is the single pass over a string's bytes that says which
//! decoders apply (escapes, `%XX`, base64 runs) and whether a 40-character
//! base64 run (the shape of an AWS secret access key) occurs.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Shortest base64 run worth decoding: 15 bytes of text.
pub(crate) const MIN_BASE64_RUN: usize = 20;
/// Length of an AWS secret access key.
pub(crate) const AWS_SECRET_LEN: usize = 40;
/// Base64 characters decoded to decide whether a run holds text.
const PROBE_CHARS: usize = 64;
/// How far before `;base64,` the `data:` of a data URL may start.
const DATA_URL_HEAD: usize = 128;
/// Shortest base64 blob that is skipped when it decodes to binary.
const MIN_BLOB: usize = 256;

/// Which base64 alphabet a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// `A-Z a-z 0-9 + /`.
    Standard,
    /// `A-Z a-z 0-9 - _`.
    UrlSafe,
}

/// A maximal run of base64 characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// First byte of the run (of the payload, for a data URL).
    pub start: usize,
    /// After the last base64 character (padding excluded).
    pub end: usize,
    /// The range a detection in the decoded run redacts: the run with its
    /// padding, or the whole data URL.
    pub whole: (usize, usize),
    /// The alphabet.
    pub alphabet: Alphabet,
}

/// What one pass over a string's bytes found.
#[derive(Debug, Default)]
pub(crate) struct Structure {
    /// A valid JSON/JavaScript escape occurs.
    pub escapes: bool,
    /// A `%XX` escape occurs.
    pub percent: bool,
    /// A standard-alphabet run of exactly 40 characters not followed by `=`.
    pub aws_secret_shape: bool,
    /// Base64 runs of at least [`MIN_BASE64_RUN`] characters.
    pub runs: Vec<Run>,
}

const ALNUM: u8 = 1;
const STD_SYM: u8 = 2;
const URL_SYM: u8 = 4;

/// Byte classes for the base64 run finder.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphanumeric() {
            ALNUM
        } else if b == b'+' || b == b'/' {
            STD_SYM
        } else if b == b'-' || b == b'_' {
            URL_SYM
        } else {
            0
        };
        i += 1;
    }
    t
};

/// True when `b` may follow a backslash in a JSON or JavaScript string.
fn escape_letter(b: u8) -> bool {
    matches!(
        b,
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u' | b'x'
    )
}

impl Structure {
    /// One pass over `text`.
    pub(crate) fn of(text: &str) -> Structure {
        let bytes = text.as_bytes();
        let mut s = Structure {
            escapes: memchr::memchr_iter(b'\\', bytes)
                .any(|i| bytes.get(i + 1).is_some_and(|b| escape_letter(*b))),
            percent: memchr::memchr_iter(b'%', bytes).any(|i| {
                bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            }),
            ..Structure::default()
        };
        if bytes.len() < MIN_BASE64_RUN {
            return s;
        }
        // Only runs of at least MIN_BASE64_RUN characters matter, and such
        // a run holds one of every MIN_BASE64_RUN consecutive positions: so
        // probe one byte in MIN_BASE64_RUN, and where it is a base64
        // character (of either alphabet) widen to the whole stretch of
        // base64 characters around it and look at that stretch byte by
        // byte. Prose costs about one probe and one word per 20 bytes.
        let n = bytes.len();
        let any = ALNUM | STD_SYM | URL_SYM;
        let (mut probe, mut done) = (MIN_BASE64_RUN - 1, 0);
        while probe < n {
            if CLASS[bytes[probe] as usize] & any == 0 {
                probe += MIN_BASE64_RUN;
                continue;
            }
            let mut from = probe;
            while from > done && CLASS[bytes[from - 1] as usize] & any != 0 {
                from -= 1;
            }
            let mut to = probe + 1;
            while to < n && CLASS[bytes[to] as usize] & any != 0 {
                to += 1;
            }
            if to - from >= MIN_BASE64_RUN {
                s.runs_in(bytes, from, to);
            }
            // `to` is not a base64 character (or the end): the next long
            // stretch starts after it and holds `to + MIN_BASE64_RUN`.
            done = to;
            probe = to + MIN_BASE64_RUN;
        }
        s
    }

    /// Finds the runs of both alphabets in `from..to`, a stretch of base64
    /// characters bounded by other bytes (or the ends of `bytes`).
    pub(crate) fn runs_in(&mut self, bytes: &[u8], from: usize, to: usize) {
        // Two runs at once: over the standard and the URL-safe alphabet.
        // A run without `+ / - _` is in both and is reported once.
        let (mut std_start, mut url_start) = (from, from);
        let mut url_sym = false;
        for (i, &b) in bytes.iter().enumerate().take(to).skip(from) {
            let c = CLASS[b as usize];
            if c & (ALNUM | STD_SYM) == 0 {
                if i - std_start >= MIN_BASE64_RUN {
                    self.end_std_run(bytes, std_start, i);
                }
                std_start = i + 1;
            }
            if c & (ALNUM | URL_SYM) == 0 {
                if i - url_start >= MIN_BASE64_RUN && url_sym {
                    self.push_run(bytes, url_start, i, Alphabet::UrlSafe);
                }
                url_start = i + 1;
                url_sym = false;
            } else {
                url_sym |= c == URL_SYM;
            }
        }
        if to - std_start >= MIN_BASE64_RUN {
            self.end_std_run(bytes, std_start, to);
        }
        if to - url_start >= MIN_BASE64_RUN && url_sym {
            self.push_run(bytes, url_start, to, Alphabet::UrlSafe);
        }
    }

    /// A standard-alphabet run ended. (A run of letters and digits only is
    /// in both alphabets: it is reported here, and as a URL-safe run only
    /// when that run also holds `-` or `_`.)
    fn end_std_run(&mut self, bytes: &[u8], start: usize, end: usize) {
        if end - start == AWS_SECRET_LEN && bytes.get(end) != Some(&b'=') {
            self.aws_secret_shape = true;
        }
        self.push_run(bytes, start, end, Alphabet::Standard);
    }

    fn push_run(&mut self, bytes: &[u8], start: usize, end: usize, alphabet: Alphabet) {
        let mut pad_end = end;
        while pad_end < bytes.len() && pad_end - end < 2 && bytes[pad_end] == b'=' {
            pad_end += 1;
        }
        let whole = (data_url_start(bytes, start).unwrap_or(start), pad_end);
        self.runs.push(Run {
            start,
            end,
            whole,
            alphabet,
        });
    }
}

/// True when `text` is one base64 blob (after a `data:<mime>;base64,`
/// head, if any) whose first bytes decode to binary: an image. It has no
/// escapes, no `%XX` and no other run, and its one run is not text, so it
/// needs no decoded view (its raw text is still scanned).
pub(crate) fn binary_blob(text: &str) -> bool {
    binary_blob_head(text).is_some()
}

/// The length of the `data:` head of a binary blob (see [`binary_blob`]).
fn binary_blob_head(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.len() < MIN_BLOB {
        return None;
    }
    let head = if bytes[..5].eq_ignore_ascii_case(b"data:") {
        let window = &bytes[..bytes.len().min(DATA_URL_HEAD)];
        window
            .windows(8)
            .position(|w| w.eq_ignore_ascii_case(b";base64,"))?
            + 8
    } else {
        0
    };
    let mut payload = &bytes[head..];
    for _ in 0..2 {
        if let Some(p) = payload.strip_suffix(b"=") {
            payload = p;
        }
    }
    if payload.len() < MIN_BLOB {
        return None;
    }
    let alphabet = if payload
        .iter()
        .all(|b| CLASS[*b as usize] & (ALNUM | STD_SYM) != 0)
    {
        Alphabet::Standard
    } else if payload
        .iter()
        .all(|b| CLASS[*b as usize] & (ALNUM | URL_SYM) != 0)
    {
        Alphabet::UrlSafe
    } else {
        return None;
    };
    let probe = engine(alphabet).decode(&payload[..PROBE_CHARS]).ok()?;
    (!looks_like_text(&probe)).then_some(head)
}

/// Where the data URL whose base64 payload starts at `start` begins, if the
/// payload follows `data:<mime>;base64,`.
fn data_url_start(bytes: &[u8], start: usize) -> Option<usize> {
    const MARK: &[u8] = b";base64,";
    let head = start.checked_sub(MARK.len())?;
    if !bytes[head..start].eq_ignore_ascii_case(MARK) {
        return None;
    }
    let from = head.saturating_sub(DATA_URL_HEAD);
    let window = &bytes[from..head];
    (0..window.len().saturating_sub(4))
        .rev()
        .find(|&i| window[i..i + 5].eq_ignore_ascii_case(b"data:"))
        .map(|i| from + i)
}

/// A decoded view of a string.
pub(crate) struct View {
    /// The decoded text.
    pub text: String,
    /// Raw offset of each byte of `text`, and one more entry for its end;
    /// empty for a view that maps to `whole`.
    map: Vec<u32>,
    /// For base64 views: the raw range any detection redacts.
    pub whole: Option<(usize, usize)>,
}

impl View {
    /// The raw range of `start..end` of this view's text.
    pub(crate) fn raw_range(&self, start: usize, end: usize) -> (usize, usize) {
        match self.whole {
            Some(w) => w,
            None => (self.map[start] as usize, self.map[end] as usize),
        }
    }
}

/// Builds a view from decoded bytes and their offsets in the parent's
/// text (`parent` is `None` for the raw string). Invalid UTF-8 becomes
/// U+FFFD, mapped to the bytes it replaces. A view decoded from a base64
/// view maps to the same whole range.
fn mapped_view(parent: Option<&View>, decoded: Vec<u8>, map: Vec<u32>) -> View {
    let (text, mut local) = match String::from_utf8(decoded) {
        Ok(s) => (s, map),
        Err(e) => {
            let bytes = e.into_bytes();
            let mut out = String::with_capacity(bytes.len() + 8);
            let mut m = Vec::with_capacity(map.len() + 8);
            let mut pos = 0usize;
            for chunk in bytes.utf8_chunks() {
                let valid = chunk.valid();
                out.push_str(valid);
                m.extend_from_slice(&map[pos..pos + valid.len()]);
                pos += valid.len();
                let invalid = chunk.invalid();
                if !invalid.is_empty() {
                    out.push(char::REPLACEMENT_CHARACTER);
                    let at = map[pos];
                    m.extend_from_slice(&[at, at, at]);
                    pos += invalid.len();
                }
            }
            m.push(map[pos]);
            (out, m)
        }
    };
    match parent {
        Some(View { whole: Some(w), .. }) => View {
            text,
            map: Vec::new(),
            whole: Some(*w),
        },
        Some(p) => {
            for m in &mut local {
                *m = p.map[*m as usize];
            }
            View {
                text,
                map: local,
                whole: None,
            }
        }
        None => View {
            text,
            map: local,
            whole: None,
        },
    }
}

fn hex_val(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let h = bytes.get(at..at + 4)?;
    h.iter()
        .try_fold(0u32, |acc, b| Some(acc * 16 + hex_val(*b)?))
}

/// `text` with JSON and JavaScript string escapes decoded.
pub(crate) fn json_unescape(text: &str, parent: Option<&View>) -> View {
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut map: Vec<u32> = Vec::with_capacity(b.len() + 1);
    let mut i = 0usize;
    let push = |out: &mut Vec<u8>, map: &mut Vec<u32>, bytes: &[u8], at: usize| {
        out.extend_from_slice(bytes);
        map.extend(std::iter::repeat_n(at as u32, bytes.len()));
    };
    while i < b.len() {
        let next = memchr::memchr(b'\\', &b[i..]).map_or(b.len(), |p| i + p);
        out.extend_from_slice(&b[i..next]);
        map.extend((i..next).map(|p| p as u32));
        i = next;
        if i >= b.len() {
            break;
        }
        let Some(&e) = b.get(i + 1) else {
            push(&mut out, &mut map, b"\\", i);
            i += 1;
            continue;
        };
        let simple = match e {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            push(&mut out, &mut map, &[c], i);
            i += 2;
            continue;
        }
        if e == b'x' {
            if let (Some(h), Some(l)) = (
                b.get(i + 2).and_then(|x| hex_val(*x)),
                b.get(i + 3).and_then(|x| hex_val(*x)),
            ) {
                let mut buf = [0u8; 4];
                let c = char::from_u32(h * 16 + l).unwrap_or(char::REPLACEMENT_CHARACTER);
                push(&mut out, &mut map, c.encode_utf8(&mut buf).as_bytes(), i);
                i += 4;
                continue;
            }
        }
        if e == b'u' {
            if let Some(cp) = hex4(b, i + 2) {
                let mut used = 6;
                let c = if (0xD800..0xDC00).contains(&cp) {
                    match (b.get(i + 6..i + 8), hex4(b, i + 8)) {
                        (Some(b"\\u"), Some(lo)) if (0xDC00..0xE000).contains(&lo) => {
                            used = 12;
                            char::from_u32(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00))
                        }
                        _ => None,
                    }
                } else {
                    char::from_u32(cp)
                };
                let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                push(&mut out, &mut map, c.encode_utf8(&mut buf).as_bytes(), i);
                i += used;
                continue;
            }
        }
        // Not an escape: the backslash is text.
        push(&mut out, &mut map, b"\\", i);
        i += 1;
    }
    map.push(b.len() as u32);
    mapped_view(parent, out, map)
}

/// `text` with `%XX` escapes decoded (`+` stays: it is part of base64).
pub(crate) fn percent_decode(text: &str, parent: Option<&View>) -> View {
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut map: Vec<u32> = Vec::with_capacity(b.len() + 1);
    let mut i = 0usize;
    while i < b.len() {
        let next = memchr::memchr(b'%', &b[i..]).map_or(b.len(), |p| i + p);
        out.extend_from_slice(&b[i..next]);
        map.extend((i..next).map(|p| p as u32));
        i = next;
        if i >= b.len() {
            break;
        }
        match (
            b.get(i + 1).and_then(|x| hex_val(*x)),
            b.get(i + 2).and_then(|x| hex_val(*x)),
        ) {
            (Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                map.push(i as u32);
                i += 3;
            }
            _ => {
                out.push(b'%');
                map.push(i as u32);
                i += 1;
            }
        }
    }
    map.push(b.len() as u32);
    mapped_view(parent, out, map)
}

/// A lenient decoder (padding optional, trailing bits allowed).
fn engine(alphabet: Alphabet) -> GeneralPurpose {
    let config = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    match alphabet {
        Alphabet::Standard => GeneralPurpose::new(&alphabet::STANDARD, config),
        Alphabet::UrlSafe => GeneralPurpose::new(&alphabet::URL_SAFE, config),
    }
}

/// True when decoded bytes look like text: UTF-8 (a character cut at the
/// end is fine) without control characters other than tab and line ends.
fn looks_like_text(bytes: &[u8]) -> bool {
    let valid = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => {
            // Cut inside a character at the end.
            match std::str::from_utf8(&bytes[..e.valid_up_to()]) {
                Ok(s) => s,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    !valid.is_empty()
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
}

/// The base64 characters of `run` that decode (a last lone character does not).
fn decodable<'t>(text: &'t str, run: &Run) -> &'t str {
    let len = run.end - run.start;
    let usable = if len % 4 == 1 { len - 1 } else { len };
    &text[run.start..run.start + usable]
}

/// The decoded text of a base64 run, if its first bytes are text.
/// `parent` maps the run's range to raw offsets.
pub(crate) fn base64_view(text: &str, run: &Run, parent: Option<&View>) -> Option<View> {
    let chars = decodable(text, run);
    let engine = engine(run.alphabet);
    let probe_len = chars.len().min(PROBE_CHARS) & !3;
    let probe_len = if probe_len == 0 {
        chars.len()
    } else {
        probe_len
    };
    let probe = engine.decode(&chars[..probe_len]).ok()?;
    if !looks_like_text(&probe) {
        return None;
    }
    let decoded = engine.decode(chars).ok()?;
    let text_out = String::from_utf8_lossy(&decoded).into_owned();
    let whole = match parent {
        Some(p) => p.raw_range(run.whole.0, run.whole.1),
        None => run.whole,
    };
    Some(View {
        text: text_out,
        map: Vec::new(),
        whole: Some(whole),
    })
}
