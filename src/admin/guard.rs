//! Who may use the admin server: the checks every request passes before a
//! route sees it.
//!
//! 1. Host (TCP listeners): only `localhost`, `127.0.0.1`, `[::1]`, the
//!    listener's own address (with or without its port) and
//!    `allowed_hosts`. A web page on a hostile domain that resolves to
//!    127.0.0.1 (DNS rebinding) still sends its own name, and is refused.
//!    Unix sockets skip this: no browser reaches one.
//! 2. Origin: a request that carries `Origin` (every browser WebSocket
//!    handshake, every cross-origin fetch) must come from the admin
//!    server's own origin (its scheme-less authority equals `Host`) or from
//!    `cors.allowed_origins`. Requests without `Origin` are not from a web
//!    page and go on to authentication.
//! 3. Token (with `auth`, on routes that carry data): `Authorization:
//!    Bearer <token>`, or `?token=` on a WebSocket upgrade, the one thing a
//!    browser can attach to one. It is compared in constant time (SHA-256
//!    of both, then `subtle`), and taken out of the query before the route
//!    sees it.
//!
//! Refusals are counted in `oispd_admin_requests_refused{reason}` and
//! logged at most once a minute.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::IntCounter;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Name of the counter of refused requests.
pub const REFUSED_METRIC: &str = "oispd_admin_requests_refused";
/// Query parameter that carries the token on a WebSocket upgrade.
const TOKEN_PARAM: &str = "token";
/// Longest silence between two warnings about refused requests.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What the listener knows about a connection.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Peer {
    /// A TCP connection and the local address it reached.
    Tcp {
        /// The listener's address as the client reached it.
        local: Option<SocketAddr>,
    },
    /// A Unix socket connection.
    Unix,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `Host` is not one of the accepted names.
    Host,
    /// `Origin` is a foreign web page.
    Origin,
    /// No token, or the wrong one.
    Token,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Host => "host",
            Refusal::Origin => "origin",
            Refusal::Token => "token",
        }
    }

    fn response(self) -> Response {
        match self {
            Refusal::Host => (
                StatusCode::FORBIDDEN,
                "Host not allowed: use localhost, 127.0.0.1 or [::1], or add the name to extensions::admin::allowed_hosts\n",
            )
                .into_response(),
            Refusal::Origin => (
                StatusCode::FORBIDDEN,
                "Origin not allowed: only the admin server's own pages, or extensions::admin::cors::allowed_origins\n",
            )
                .into_response(),
            Refusal::Token => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"oispd\"")],
                "missing or wrong admin token: send Authorization: Bearer <token>\n",
            )
                .into_response(),
        }
    }
}

/// Counters of refused requests, by reason.
pub(crate) struct RefusedCounters {
    /// Wrong Host.
    pub(crate) host: IntCounter,
    /// Foreign Origin.
    pub(crate) origin: IntCounter,
    /// No or wrong token.
    pub(crate) token: IntCounter,
}

/// A `Host` (or `allowed_hosts` entry): lower-case name, IPv6 in
/// brackets, and the port if one was given.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostName {
    name: String,
    port: Option<u16>,
}

impl HostName {
    /// `name[:port]`, `[v6][:port]`; `None` if the port is not a number.
    fn parse(text: &str) -> Option<HostName> {
        let text = text.trim();
        let (name, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inner, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?.parse().ok()?),
            };
            (format!("[{inner}]"), port)
        } else {
            match text.rsplit_once(':') {
                Some((name, port)) => (name.to_string(), Some(port.parse().ok()?)),
                None => (text.to_string(), None),
            }
        };
        if name.is_empty() || name == "[]" {
            return None;
        }
        Some(HostName {
            name: name.to_ascii_lowercase(),
            port,
        })
    }
}

/// An IP as it appears in a `Host` header.
fn host_form(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// An entry of `cors.allowed_origins`: `*` matches any run of characters.
#[derive(Clone, Debug)]
struct OriginPattern(String);

impl OriginPattern {
    fn matches(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        let mut parts = self.0.split('*');
        let Some(first) = parts.next() else {
            return false;
        };
        let Some(mut rest) = origin.strip_prefix(first) else {
            return false;
        };
        let pieces: Vec<&str> = parts.collect();
        let Some((last, middle)) = pieces.split_last() else {
            return rest.is_empty();
        };
        for piece in middle {
            match rest.find(piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        rest.ends_with(last)
    }
}

/// The checks of one admin server.
pub(crate) struct Guard {
    /// Whether `Host` is checked (TCP listeners).
    check_host: bool,
    /// The listener's port.
    port: Option<u16>,
    /// Names accepted with no port or the listener's port.
    own_names: Vec<String>,
    /// `allowed_hosts`.
    allowed_hosts: Vec<HostName>,
    /// `cors.allowed_origins`.
    origins: Vec<OriginPattern>,
    /// SHA-256 of the token, when `auth` is configured.
    token: Option<[u8; 32]>,
    refused: RefusedCounters,
    last_warning: Mutex<Option<Instant>>,
}

/// What the guard is built from.
pub(crate) struct GuardSettings<'a> {
    /// `Some(local address)` for a TCP listener, `None` for a Unix socket.
    pub(crate) tcp: Option<SocketAddr>,
    /// The host part of `endpoint` as written (`localhost`, `10.0.0.5`).
    pub(crate) endpoint_host: Option<&'a str>,
    /// `allowed_hosts`.
    pub(crate) allowed_hosts: &'a [String],
    /// `cors.allowed_origins`.
    pub(crate) allowed_origins: &'a [String],
    /// The token, when `auth` is configured.
    pub(crate) token: Option<&'a str>,
}

impl Guard {
    /// The guard for one listener.
    pub(crate) fn new(settings: GuardSettings<'_>, refused: RefusedCounters) -> Guard {
        let mut own_names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(addr) = settings.tcp.filter(|a| !a.ip().is_unspecified()) {
            own_names.push(host_form(addr.ip()));
        }
        if let Some(host) = settings
            .endpoint_host
            .and_then(HostName::parse)
            .filter(|h| {
                let bare = h.name.trim_start_matches('[').trim_end_matches(']');
                !bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified())
            })
        {
            own_names.push(host.name);
        }
        Guard {
            check_host: settings.tcp.is_some(),
            port: settings.tcp.map(|a| a.port()),
            own_names,
            allowed_hosts: settings
                .allowed_hosts
                .iter()
                .filter_map(|h| HostName::parse(h))
                .collect(),
            origins: settings
                .allowed_origins
                .iter()
                .map(|o| OriginPattern(o.trim().trim_end_matches('/').to_ascii_lowercase()))
                .collect(),
            token: settings.token.map(|t| Sha256::digest(t.as_bytes()).into()),
            refused,
            last_warning: Mutex::new(None),
        }
    }

    /// Whether a page of `origin` may use the admin server cross-origin.
    pub(crate) fn origin_listed(&self, origin: &str) -> bool {
        self.origins.iter().any(|p| p.matches(origin))
    }

    /// Whether `Host` names this server.
    fn host_allowed(&self, host: Option<&str>, peer: Option<Peer>) -> bool {
        if !self.check_host {
            return true;
        }
        let Some(host) = host.and_then(HostName::parse) else {
            return false;
        };
        let own_port = host.port.is_none() || host.port == self.port;
        let local = match peer {
            Some(Peer::Tcp { local: Some(addr) }) => Some(host_form(addr.ip())),
            _ => None,
        };
        if own_port && (self.own_names.contains(&host.name) || local == Some(host.name.clone())) {
            return true;
        }
        self.allowed_hosts
            .iter()
            .any(|a| a.name == host.name && (a.port.is_none() || a.port == host.port))
    }

    /// Whether a request carrying `Origin: origin` may go on.
    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let same_origin = origin
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .zip(host)
            .is_some_and(|((_, authority), host)| authority.eq_ignore_ascii_case(host.trim()));
        same_origin || self.origin_listed(origin)
    }

    /// Whether `presented` is the token.
    fn token_matches(&self, presented: &str) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(expected).into()
    }

    fn refuse(&self, why: Refusal, detail: &str) -> Response {
        match why {
            Refusal::Host => self.refused.host.inc(),
            Refusal::Origin => self.refused.origin.inc(),
            Refusal::Token => self.refused.token.inc(),
        }
        let now = Instant::now();
        let warn = match self.last_warning.lock() {
            Ok(mut last) => {
                let due = last.is_none_or(|at| now.duration_since(at) >= WARN_EVERY);
                if due {
                    *last = Some(now);
                }
                due
            }
            Err(_) => false,
        };
        if warn {
            tracing::warn!(
                reason = why.label(),
                detail = %detail,
                "admin server refused a request (further refusals are only counted for a minute, in {REFUSED_METRIC})"
            );
        }
        why.response()
    }
}

/// The name the client asked for: the URI's authority (HTTP/2) or `Host`.
fn request_host(req: &Request) -> Option<String> {
    if let Some(a) = req.uri().authority() {
        return Some(a.as_str().to_string());
    }
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The Host check, first on every route; also the security headers of
/// every answer.
pub(crate) async fn check_host(
    State(guard): State<std::sync::Arc<Guard>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<ConnectInfo<Peer>>().map(|c| c.0);
    let host = request_host(&req);
    if !guard.host_allowed(host.as_deref(), peer) {
        let shown = host.as_deref().unwrap_or("(none)");
        return with_security_headers(guard.refuse(Refusal::Host, shown));
    }
    with_security_headers(next.run(req).await)
}

/// The Origin check, on every route (after CORS has answered preflights).
pub(crate) async fn check_origin(
    State(guard): State<std::sync::Arc<Guard>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        let host = request_host(&req);
        if !guard.origin_allowed(origin, host.as_deref()) {
            return guard.refuse(Refusal::Origin, origin);
        }
    }
    next.run(req).await
}

/// The token check, on routes that carry data.
pub(crate) async fn require_token(
    State(guard): State<std::sync::Arc<Guard>>,
    mut req: Request,
    next: Next,
) -> Response {
    if guard.token.is_none() {
        return next.run(req).await;
    }
    let upgrade = is_websocket_upgrade(req.method(), req.headers());
    let from_query = if upgrade {
        take_query_token(req.uri_mut())
    } else {
        None
    };
    let presented = bearer(req.headers()).or(from_query);
    match presented {
        Some(t) if guard.token_matches(&t) => next.run(req).await,
        Some(_) => guard.refuse(Refusal::Token, "wrong token"),
        None => guard.refuse(Refusal::Token, "no token"),
    }
}

fn is_websocket_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Removes `token=` from the query of `uri` and returns it.
fn take_query_token(uri: &mut Uri) -> Option<String> {
    let query = uri.query()?;
    let mut token = None;
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name == TOKEN_PARAM {
            token = Some(value.into_owned());
        } else {
            rest.append_pair(&name, &value);
        }
    }
    let rest = rest.finish();
    let path_and_query = if rest.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{rest}", uri.path())
    };
    let mut parts = std::mem::take(uri).into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(rebuilt) = Uri::from_parts(parts) {
        *uri = rebuilt;
    }
    token
}

/// Answers are not cached, framed or sniffed, and send no Referer on.
fn with_security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn counters() -> RefusedCounters {
        RefusedCounters {
            host: IntCounter::new("h", "h").unwrap(),
            origin: IntCounter::new("o", "o").unwrap(),
            token: IntCounter::new("t", "t").unwrap(),
        }
    }

    fn guard(tcp: &str, endpoint_host: &str, allowed: &[&str], origins: &[&str]) -> Guard {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        let origins: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
        Guard::new(
            GuardSettings {
                tcp: Some(tcp.parse().unwrap()),
                endpoint_host: Some(endpoint_host),
                allowed_hosts: &allowed,
                allowed_origins: &origins,
                token: Some("0123456789abcdef-token"),
            },
            counters(),
        )
    }

    /// Scenario: Host headers a browser, curl, a DNS-rebinding page and a
    /// proxy send to a server on 127.0.0.1:7777 with one allowed host.
    /// Guarantees: loopback names with the right port or none pass; the
    /// rebinding name, a wrong port, a missing or malformed Host fail;
    /// allowed hosts pass with any port unless they name one.
    #[test]
    fn host_rules() {
        let g = guard("127.0.0.1:7777", "127.0.0.1", &["oispd.internal"], &[]);
        let local = Some(Peer::Tcp {
            local: Some("127.0.0.1:7777".parse().unwrap()),
        });
        for ok in [
            "127.0.0.1:7777",
            "localhost:7777",
            "LOCALHOST",
            "[::1]:7777",
            "127.0.0.1",
            "oispd.internal:443",
            "oispd.internal",
        ] {
            assert!(g.host_allowed(Some(ok), local), "{ok}");
        }
        for bad in [
            "evil.example:7777",
            "localhost:8080",
            "localhost.evil.example",
            "127.0.0.1:x",
            "",
        ] {
            assert!(!g.host_allowed(Some(bad), local), "{bad}");
        }
        assert!(!g.host_allowed(None, local));
        let pinned = guard("127.0.0.1:7777", "127.0.0.1", &["oispd.internal:8443"], &[]);
        assert!(pinned.host_allowed(Some("oispd.internal:8443"), local));
        assert!(!pinned.host_allowed(Some("oispd.internal:9443"), local));
    }

    /// Scenario: a server bound to 0.0.0.0 reached through 10.1.2.3.
    /// Guarantees: the address the client reached is accepted as Host;
    /// 0.0.0.0 itself and other addresses are not.
    #[test]
    fn listener_address_is_an_allowed_host() {
        let g = guard("0.0.0.0:7777", "0.0.0.0", &[], &[]);
        let peer = Some(Peer::Tcp {
            local: Some("10.1.2.3:7777".parse().unwrap()),
        });
        assert!(g.host_allowed(Some("10.1.2.3:7777"), peer));
        assert!(!g.host_allowed(Some("0.0.0.0:7777"), peer));
        assert!(!g.host_allowed(Some("10.9.9.9:7777"), peer));
    }

    /// Scenario: Origins of the server's own page, another port on the same
    /// host, a foreign site, `null`, and listed origins with a wildcard.
    /// Guarantees: same origin and listed origins pass; the rest fail.
    #[test]
    fn origin_rules() {
        let g = guard(
            "127.0.0.1:7777",
            "127.0.0.1",
            &[],
            &["https://grafana.internal", "https://*.example.com"],
        );
        let host = Some("127.0.0.1:7777");
        assert!(g.origin_allowed("http://127.0.0.1:7777", host));
        assert!(!g.origin_allowed("http://127.0.0.1:8080", host));
        assert!(!g.origin_allowed("http://evil.example", host));
        assert!(!g.origin_allowed("null", host));
        assert!(g.origin_allowed("https://grafana.internal", host));
        assert!(g.origin_allowed("https://dash.example.com", host));
        assert!(!g.origin_allowed("https://example.com.evil.test", host));
        assert!(!g.origin_allowed("http://dash.example.com", host));
    }

    /// Scenario: the right token, a wrong one of the same length, a prefix.
    /// Guarantees: only the right one matches.
    #[test]
    fn token_comparison() {
        let g = guard("127.0.0.1:7777", "127.0.0.1", &[], &[]);
        assert!(g.token_matches("0123456789abcdef-token"));
        assert!(!g.token_matches("0123456789abcdef-tokem"));
        assert!(!g.token_matches("0123456789abcdef"));
        assert!(!g.token_matches(""));
    }

    /// Scenario: a stream URL with the token among other parameters.
    /// Guarantees: the token is returned and removed; the rest is kept.
    #[test]
    fn query_token_is_taken_out() {
        let mut uri: Uri = "/ws/events?event_type=ai.&token=a%2Bb".parse().unwrap();
        assert_eq!(take_query_token(&mut uri).as_deref(), Some("a+b"));
        assert_eq!(uri.to_string(), "/ws/events?event_type=ai.");
        let mut uri: Uri = "/ws/events?token=x".parse().unwrap();
        assert_eq!(take_query_token(&mut uri).as_deref(), Some("x"));
        assert_eq!(uri.to_string(), "/ws/events");
    }
}
