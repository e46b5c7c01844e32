//! The one place that decides how a URL is shown: in `/api/health`, in
//! logs, in error messages and in config errors. Endpoint URLs carry
//! credentials (`https://user:pass@siem/...`, `?api_key=...`) and webhook
//! URLs are themselves secrets (`https://hooks.slack.com/services/T0/B0/XXXX`),
//! so nothing oispd shows may carry them.
//!
//! Rules, for every URL:
//! - userinfo: with a password, the password is hidden (`user:***@`);
//!   a user name alone is hidden too (`***@`), since services put tokens
//!   there (`https://TOKEN@host`);
//! - query: every value is hidden, names stay (`?token=***&page=***`); a
//!   part without `=` is hidden whole;
//! - fragment: hidden;
//! - webhook URLs ([`webhook_url`]): the path beyond its first segment is
//!   hidden too (`https://hooks.slack.com/services/***`).
//!
//! [`text`] applies the URL rules to every URL found in free text (error
//! messages from libraries, which embed the URL they failed on: reqwest's
//! `error sending request for url (...)`). Exporters show their endpoints
//! through [`url()`] / [`webhook_url`]; the exporter helper and
//! [`crate::telemetry::ExporterHealth::record_failure`] pass every message
//! through [`text`] as a second line of defence.

use std::borrow::Cow;

/// What replaces a hidden part.
pub const HIDDEN: &str = "***";

/// How much of the path is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// All of it (OTLP endpoints: `/v1/logs` helps to find a wrong path).
    Keep,
    /// Its first segment only (webhooks: the rest is the secret).
    FirstSegment,
}

/// An endpoint URL as oispd shows it: credentials, query values and the
/// fragment hidden, the path kept. A URL with nothing to hide is returned
/// as written.
pub fn url(raw: &str) -> String {
    redact(raw, Path::Keep)
}

/// A webhook URL as oispd shows it: as [`url()`], and the path beyond its
/// first segment hidden.
pub fn webhook_url(raw: &str) -> String {
    redact(raw, Path::FirstSegment)
}

/// `text` with every URL in it shown as [`url()`] shows it. Borrowed when
/// there was nothing to hide.
pub fn text(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let at = search + found;
        let start = scheme_start(text, at);
        let end = url_end(text, at + 3);
        search = end.max(at + 3);
        if start == at {
            continue; // "://" without a scheme
        }
        let span = &text[start..end];
        if !needs_hiding(&span[at - start + 3..]) {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(&url(span));
        copied = end;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Where the scheme ending at `colon` starts (`colon` itself if none).
fn scheme_start(text: &str, colon: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = colon;
    while start > 0 {
        let b = bytes[start - 1];
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.') {
            start -= 1;
        } else {
            break;
        }
    }
    // A scheme starts with a letter.
    while start < colon && !bytes[start].is_ascii_alphabetic() {
        start += 1;
    }
    start
}

/// Where a URL starting before `from` ends in free text: at white space or
/// a quote, without trailing punctuation or an unbalanced `)`.
fn url_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let mut end = from
        + rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(rest.len());
    loop {
        let span = &text[from..end];
        let Some(last) = span.chars().last() else {
            break;
        };
        let trim = match last {
            '.' | ',' | ';' | ':' | '!' | ']' => true,
            ')' => span.matches(')').count() > span.matches('(').count(),
            _ => false,
        };
        if !trim {
            break;
        }
        end -= last.len_utf8();
    }
    end
}

/// Whether a URL (or the part after its `://`) holds anything [`url()`]
/// hides.
fn needs_hiding(after_scheme: &str) -> bool {
    after_scheme.contains(['@', '?', '#'])
}

fn redact(raw: &str, path: Path) -> String {
    let trimmed = raw.trim();
    if path == Path::Keep && !needs_hiding(trimmed) {
        // Nothing to hide: shown as written, not normalised.
        return trimmed.to_string();
    }
    match url::Url::parse(trimmed) {
        Ok(parsed) if !parsed.cannot_be_a_base() => redact_parsed(parsed, path),
        _ => redact_unparsed(trimmed, path),
    }
}

fn redact_parsed(mut u: url::Url, path: Path) -> String {
    if u.password().is_some() {
        let _ = u.set_password(Some(HIDDEN));
    } else if !u.username().is_empty() {
        let _ = u.set_username(HIDDEN);
    }
    if let Some(q) = u.query() {
        let hidden = hide_query(q);
        u.set_query(Some(&hidden));
    }
    if u.fragment().is_some() {
        u.set_fragment(Some(HIDDEN));
    }
    if path == Path::FirstSegment {
        let first = u
            .path_segments()
            .and_then(|mut s| s.find(|s| !s.is_empty()).map(str::to_string));
        let more = u.path_segments().is_some_and(|s| s.count() > 1);
        if let Some(first) = first.filter(|_| more) {
            u.set_path(&format!("/{first}/{HIDDEN}"));
        }
    }
    u.to_string()
}

/// A string that does not parse as a URL (a config typo, a cut-off URL
/// in a message): everything up to the last `@` before the query is taken
/// as userinfo, wherever a `/` in it would end the authority, so that a
/// password with a `/` in it is hidden whole.
fn redact_unparsed(raw: &str, path: Path) -> String {
    let (scheme, rest) = match raw.find("://") {
        Some(i) => raw.split_at(i + 3),
        None => ("", raw),
    };
    let (main, fragment) = match rest.find('#') {
        Some(i) => (&rest[..i], Some(HIDDEN)),
        None => (rest, None),
    };
    let (main, query) = match main.find('?') {
        Some(i) => (&main[..i], Some(hide_query(&main[i + 1..]))),
        None => (main, None),
    };
    let main = match main.rfind('@') {
        Some(i) => Cow::Owned(format!("{HIDDEN}@{}", &main[i + 1..])),
        None => Cow::Borrowed(main),
    };
    let main = match (path, main.find(['/', '\\'])) {
        (Path::FirstSegment, Some(slash)) => {
            let (authority, path) = main.split_at(slash);
            let mut segments = path[1..].split(['/', '\\']).filter(|s| !s.is_empty());
            match (segments.next(), segments.next()) {
                (Some(first), Some(_)) => Cow::Owned(format!("{authority}/{first}/{HIDDEN}")),
                _ => main,
            }
        }
        _ => main,
    };
    let mut out = format!("{scheme}{main}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(&q);
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// `a=1&b&c=` as `a=***&***&c=***`.
fn hide_query(query: &str) -> String {
    query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((name, _)) => format!("{name}={HIDDEN}"),
            None if part.is_empty() => String::new(),
            None => HIDDEN.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario: endpoint URLs with a password, a user name alone, query
    /// tokens and a fragment.
    /// Guarantees: none of the secrets is shown; host, port, path and
    /// query names are.
    #[test]
    fn endpoint_secrets_are_hidden() {
        assert_eq!(
            url("https://user:s3cret@siem.example.com:8443/v1/logs"),
            "https://user:***@siem.example.com:8443/v1/logs"
        );
        assert_eq!(
            url("https://glpat-TOKEN@git.example.com/x"),
            "https://***@git.example.com/x"
        );
        assert_eq!(
            url("http://h:4318/v1/logs?api_key=abc&debug&x="),
            "http://h:4318/v1/logs?api_key=***&***&x=***"
        );
        assert_eq!(url("https://h/p#access_token=abc"), "https://h/p#***");
        assert_eq!(url("http://collector:4318"), "http://collector:4318");
    }

    /// Scenario: webhook URLs of the usual shapes (Slack, Discord, a
    /// single-segment path, a query token).
    /// Guarantees: only the first path segment is shown; tokens in the
    /// query are hidden.
    #[test]
    fn webhook_paths_beyond_the_first_segment_are_hidden() {
        assert_eq!(
            webhook_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com/services/***"
        );
        assert_eq!(
            webhook_url("https://hooks.example.com/T000/B000/XXXXSECRET?token=abc"),
            "https://hooks.example.com/T000/***?token=***"
        );
        assert_eq!(
            webhook_url("https://discord.com/api/webhooks/1/tok"),
            "https://discord.com/api/***"
        );
        assert_eq!(
            webhook_url("http://127.0.0.1:9000/ingest"),
            "http://127.0.0.1:9000/ingest"
        );
    }

    /// Scenario: strings that do not parse as URLs: a password with a `/`
    /// in it, credentials without a scheme, a cut-off URL.
    /// Guarantees: the credentials are hidden anyway.
    #[test]
    fn unparsable_urls_are_hidden_conservatively() {
        let shown = url("https://user:pa/ss@host:4318/x");
        assert!(
            !shown.contains("pa/ss") && !shown.contains("ss@"),
            "{shown}"
        );
        assert_eq!(shown, "https://***@host:4318/x");
        assert_eq!(url("user:pw@host:4317"), "***@host:4317");
        assert_eq!(
            url("https://u:p@h:99999/?k=v"),
            "https://***@h:99999/?k=***"
        );
        assert_eq!(
            webhook_url("https://u:p@h:99999/T0/B0/SECRET"),
            "https://***@h:99999/T0/***"
        );
    }

    /// Scenario: error messages with URLs inside, as reqwest and tonic
    /// write them: in parentheses, quoted, at the end of a sentence, two
    /// in one message; and a message without URLs.
    /// Guarantees: every secret is hidden, the surrounding text is kept
    /// byte for byte, and a message with nothing to hide is not copied.
    #[test]
    fn urls_in_text_are_hidden() {
        let m =
            "error sending request for url (https://u:pw@h/v1/logs?token=t0k): connection refused";
        assert_eq!(
            text(m),
            "error sending request for url (https://u:***@h/v1/logs?token=***): connection refused"
        );
        let m = r#"'endpoint' "http://a:b@x/" is bad; see https://h/?k=v."#;
        assert_eq!(
            text(m),
            r#"'endpoint' "http://a:***@x/" is bad; see https://h/?k=***."#
        );
        let plain = "request to http://collector:4318/v1/logs responded with HTTP Status Code 404";
        assert!(matches!(text(plain), Cow::Borrowed(_)));
        assert!(matches!(text("no url here :// at all"), Cow::Borrowed(_)));
    }

    /// Scenario: redacted output is redacted again (the helper and the
    /// health record both sanitise).
    /// Guarantees: the second pass changes nothing.
    #[test]
    fn sanitising_is_idempotent() {
        for raw in [
            "https://user:pw@h/p?q=1#f",
            "https://tok@h/",
            "https://u:p/w@h/x?y",
        ] {
            let once = url(raw);
            assert_eq!(url(&once), once, "{raw}");
            let in_text = format!("failed: {raw}");
            let once = text(&in_text).into_owned();
            assert_eq!(text(&once), once, "{raw}");
        }
    }
}
