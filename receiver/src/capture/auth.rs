//! Credentials reduced to OISP `auth {type, key_prefix, key_hash}`: the
//! `Authorization`, `x-api-key`, `x-goog-api-key` and `api-key` headers and
//! the `key=` query parameter are read here and nowhere else, and never
//! copied. The prefix is at most 8 characters and only for keys whose
//! vendor prefix is public (`sk-proj-`, `sk-ant-`, `AIza`, ...); the hash
//! is the first 16 hex digits of the key's SHA-256.

use oispd_semconv::ai::AuthInfo;
use sha2::{Digest, Sha256};

use super::message::Head;

/// Public vendor prefixes of API keys, longest first.
const KEY_PREFIXES: [&str; 14] = [
    "sk-svcacct-",
    "sk-admin-",
    "sk-proj-",
    "sk-ant-",
    "sk-or-",
    "pplx-",
    "ya29.",
    "gsk_",
    "xai-",
    "AIza",
    "hf_",
    "r8_",
    "fw_",
    "sk-",
];

/// Characters of a key shown at most (the schema's limit).
const MAX_PREFIX: usize = 8;

/// The auth of a request, from its head and path; `type: none` when it
/// carries no credential.
pub(crate) fn auth_of(head: &Head, path: &str) -> AuthInfo {
    let header = |n: &str| head.header(n).filter(|v| !v.trim().is_empty());
    let (kind, secret) = if let Some(v) = header("authorization") {
        let v = v.trim();
        match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                let token = token.trim();
                (bearer_kind(token), token.to_string())
            }
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("basic") => {
                ("unknown", token.trim().to_string())
            }
            _ => ("unknown", v.to_string()),
        }
    } else if let Some(v) = header("x-api-key")
        .or_else(|| header("x-goog-api-key"))
        .or_else(|| header("api-key"))
    {
        ("api_key", v.trim().to_string())
    } else if let Some(k) = query_key(path) {
        ("api_key", k)
    } else {
        return AuthInfo {
            kind: Some("none".into()),
            ..AuthInfo::default()
        };
    };
    AuthInfo {
        kind: Some(kind.into()),
        key_prefix: key_prefix(&secret),
        key_hash: Some(key_hash(&secret)),
        ..AuthInfo::default()
    }
}

fn bearer_kind(token: &str) -> &'static str {
    if token.starts_with("ya29.") || token.split('.').count() == 3 {
        // Google OAuth access tokens and JWTs.
        "oauth"
    } else {
        "api_key"
    }
}

/// The public vendor prefix of a key, if it has one.
fn key_prefix(secret: &str) -> Option<String> {
    KEY_PREFIXES
        .iter()
        .find(|p| secret.starts_with(**p) && secret.len() > p.len() + 8)
        .map(|p| p.chars().take(MAX_PREFIX).collect())
}

/// `sha256:` and the first 16 hex digits of the key's SHA-256.
fn key_hash(secret: &str) -> String {
    let digest = hex::encode(Sha256::digest(secret.as_bytes()));
    format!("sha256:{}", &digest[..16])
}

/// The `key` query parameter (Gemini API keys).
fn query_key(path: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "key")
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The path with its query removed (so a `key=` never reaches an event).
pub(crate) fn path_without_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::capture::message::StartLine;

    fn head(headers: &[(&str, &str)]) -> Head {
        Head {
            start: StartLine::Request {
                method: "POST".into(),
                path: "/".into(),
            },
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            authority: None,
            scheme: None,
            http_version: 1,
        }
    }

    #[test]
    fn bearer_project_key() {
        let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
        let a = auth_of(
            &head(&[("authorization", &format!("Bearer {key}"))]),
            "/v1/chat/completions",
        );
        assert_eq!(a.kind.as_deref(), Some("api_key"));
        assert_eq!(a.key_prefix.as_deref(), Some("sk-proj-"));
        let h = a.key_hash.unwrap();
        assert_eq!(h.len(), "sha256:".len() + 16);
        assert!(!h.contains("abcdefgh"));
    }

    #[test]
    fn anthropic_google_and_query() {
        let a = auth_of(
            &head(&[("x-api-key", "sk-ant-api03-0123456789abcdef")]),
            "/v1/messages",
        );
        assert_eq!(a.key_prefix.as_deref(), Some("sk-ant-"));
        let g = auth_of(
            &head(&[]),
            "/v1beta/models/m:generateContent?alt=sse&key=AIzaSyA0123456789abcdef",
        );
        assert_eq!(g.kind.as_deref(), Some("api_key"));
        assert_eq!(g.key_prefix.as_deref(), Some("AIza"));
        let unknown = auth_of(
            &head(&[("x-goog-api-key", "opaque-secret-value-1234567")]),
            "/",
        );
        assert_eq!(unknown.key_prefix, None);
        let none = auth_of(&head(&[]), "/api/chat");
        assert_eq!(none.kind.as_deref(), Some("none"));
        assert_eq!(path_without_query("/a?key=x"), "/a");
    }

    #[test]
    fn oauth_tokens() {
        let a = auth_of(
            &head(&[("authorization", "Bearer ya29.a0AfH6SMBxxxxxxxxxxxxxxxx")]),
            "/",
        );
        assert_eq!(a.kind.as_deref(), Some("oauth"));
        assert_eq!(a.key_prefix.as_deref(), Some("ya29."));
    }
}
