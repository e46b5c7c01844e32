//! `extensions: {admin: ...}`: where the admin server listens and who may
//! use it. Key names follow the collector's confighttp server settings
//! where one exists (`endpoint`, `transport`, `cors.allowed_origins`,
//! `cors.allowed_headers`, `cors.max_age`, `auth`); `allowed_hosts` and
//! `socket_group` are oispd's own.
//!
//! ```yaml
//! extensions:
//!   admin:
//!     endpoint: 127.0.0.1:7777          # or /run/oispd/admin.sock with transport: unix
//!     allowed_hosts: [oispd.internal]   # Host names accepted besides loopback
//!     cors:
//!       allowed_origins: [https://grafana.internal]
//!     auth:
//!       bearer_token_file: /etc/oispd/admin.token   # or bearer_token: ${env:OISPD_ADMIN_TOKEN}
//! ```

use oispd_component::ComponentConfig;
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// Default listen address, loopback only.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:7777";
/// Shortest token accepted: 16 characters (`openssl rand -hex 32` gives 64).
pub const MIN_TOKEN_LEN: usize = 16;
/// Prefix that makes `endpoint` a Unix socket path without `transport`.
const UNIX_SCHEME: &str = "unix://";

/// `extensions: {admin: ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// `host:port` to listen on (default `127.0.0.1:7777`); with
    /// `transport: unix`, the socket's path (`unix:///run/oispd/admin.sock`
    /// also selects a Unix socket).
    pub endpoint: String,
    /// `tcp` (default) or `unix`, as the collector's `transport`.
    pub transport: Option<Transport>,
    /// Unix socket only: the group whose members may connect. The socket
    /// is then mode 0660 and owned by that group; without it, 0600 (its
    /// owner, root, only).
    pub socket_group: Option<String>,
    /// Host names (`oispd.internal`) or `host:port` accepted in the `Host`
    /// header besides `localhost`, `127.0.0.1`, `[::1]` and the listener's
    /// own address (all with or without the listener's port). A name
    /// without a port matches any port. Any other Host is refused (403),
    /// which stops DNS rebinding: a hostile domain that resolves to
    /// 127.0.0.1 still sends its own name.
    pub allowed_hosts: Vec<String>,
    /// Cross-origin access, as the collector's `cors`: web pages of other
    /// origins allowed to read the admin server (and to open `/ws/events`).
    /// Without it, only the admin server's own pages may.
    pub cors: Option<CorsConfig>,
    /// Authentication of every route that carries data (`/api/health`,
    /// `/metrics`, `/ws/events`). Without it, anyone who can connect may
    /// read what oispd sees.
    pub auth: Option<AuthConfig>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            transport: None,
            socket_group: None,
            allowed_hosts: Vec::new(),
            cors: None,
            auth: None,
        }
    }
}

/// `transport`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// A TCP socket at `host:port`.
    #[default]
    Tcp,
    /// A Unix socket at a path; file permissions decide who connects.
    Unix,
}

/// `cors`, with the collector's keys and meaning.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins (`https://grafana.internal`) whose pages may use the admin
    /// server; `*` stands for any characters (`https://*.internal`).
    pub allowed_origins: Vec<String>,
    /// Request headers such pages may send besides the CORS-safelisted
    /// ones and `Authorization`.
    pub allowed_headers: Vec<String>,
    /// Seconds a browser may cache a preflight answer.
    pub max_age: Option<u64>,
}

/// `auth`: one bearer token.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The token itself, usually `${env:OISPD_ADMIN_TOKEN}`.
    pub bearer_token: Option<String>,
    /// A file holding the token (trailing white space ignored); read at
    /// start.
    pub bearer_token_file: Option<PathBuf>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "***"))
            .field("bearer_token_file", &self.bearer_token_file)
            .finish()
    }
}

/// Where the admin server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// `host:port`.
    Tcp(String),
    /// A Unix socket's path.
    Unix(PathBuf),
}

impl AdminConfig {
    /// Where to listen, or why `endpoint` and `transport` do not fit.
    pub fn listen(&self) -> Result<Listen, String> {
        let endpoint = self.endpoint.trim();
        if let Some(path) = endpoint.strip_prefix(UNIX_SCHEME) {
            if self.transport == Some(Transport::Tcp) {
                return Err("'endpoint' is a unix:// path but 'transport' is tcp".to_string());
            }
            return unix_path(path);
        }
        match self.transport.unwrap_or_default() {
            Transport::Unix => unix_path(endpoint),
            Transport::Tcp => match endpoint.rsplit_once(':') {
                Some((_, port)) if port.parse::<u16>().is_ok() => Ok(Listen::Tcp(endpoint.into())),
                _ => Err(format!("'endpoint' must be host:port, got {endpoint:?}")),
            },
        }
    }
}

fn unix_path(path: &str) -> Result<Listen, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "'endpoint' must be an absolute path for a Unix socket, got {path:?}"
        ));
    }
    Ok(Listen::Unix(PathBuf::from(path)))
}

impl ComponentConfig for AdminConfig {
    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        let listen = self.listen();
        if let Err(e) = &listen {
            out.push(e.clone());
        }
        if self.socket_group.is_some() && !matches!(listen, Ok(Listen::Unix(_))) {
            out.push("'socket_group' applies to a Unix socket only (transport: unix)".into());
        }
        if self
            .socket_group
            .as_deref()
            .is_some_and(|g| g.trim().is_empty())
        {
            out.push("'socket_group' must not be empty".into());
        }
        for h in &self.allowed_hosts {
            if h.trim().is_empty() || h.contains(['/', '@', ' ']) {
                out.push(format!(
                    "'allowed_hosts' entry {h:?} must be a host name or host:port"
                ));
            }
        }
        if let Some(cors) = &self.cors {
            for o in &cors.allowed_origins {
                if o.trim() == "*" {
                    out.push("'cors.allowed_origins' must not be \"*\": any web page could read every prompt; list the origins (a wildcard needs at least the scheme, as in \"https://*.example.com\")".into());
                } else if !o.contains("://") {
                    out.push(format!(
                        "'cors.allowed_origins' entry {o:?} must be scheme://host[:port]"
                    ));
                }
            }
        }
        if let Some(auth) = &self.auth {
            match (&auth.bearer_token, &auth.bearer_token_file) {
                (Some(_), Some(_)) => out.push(
                    "'auth' takes either 'bearer_token' or 'bearer_token_file', not both".into(),
                ),
                (None, None) => {
                    out.push("'auth' needs 'bearer_token' or 'bearer_token_file'".into())
                }
                (Some(t), None) => out.extend(token_problem(t)),
                (None, Some(_)) => {}
            }
        }
        out
    }
}

/// Why `token` cannot be the admin token, if it cannot.
pub fn token_problem(token: &str) -> Option<String> {
    let len = token.trim().chars().count();
    (len < MIN_TOKEN_LEN).then(|| {
        format!(
            "'auth' token must be at least {MIN_TOKEN_LEN} characters (got {len}); generate one with `openssl rand -hex 32`"
        )
    })
}

/// Whether a `host:port` listen address stays on this machine: a loopback
/// IP or `localhost`. An unspecified address (`0.0.0.0`, `[::]`, `:port`)
/// or any other name listens beyond it.
pub fn is_loopback_endpoint(endpoint: &str) -> bool {
    let host = match endpoint.trim().rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => endpoint.trim(),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_component::parse_config;
    use serde_yaml_ng::Value;

    fn parse(yaml: &str) -> Result<AdminConfig, Vec<String>> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config::<AdminConfig>(&v).map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    /// Scenario: the default config, a Unix socket written both ways, and
    /// the collector's `cors` keys.
    /// Guarantees: loopback TCP by default; both Unix forms give the path;
    /// the collector's keys parse.
    #[test]
    fn parses_defaults_unix_sockets_and_collector_keys() {
        let c = parse("~").unwrap();
        assert_eq!(c.listen().unwrap(), Listen::Tcp("127.0.0.1:7777".into()));
        assert!(c.auth.is_none() && c.cors.is_none());
        let sock = Listen::Unix("/run/oispd/admin.sock".into());
        assert_eq!(
            parse("endpoint: unix:///run/oispd/admin.sock")
                .unwrap()
                .listen()
                .unwrap(),
            sock
        );
        let c = parse("{transport: unix, endpoint: /run/oispd/admin.sock, socket_group: oispd}")
            .unwrap();
        assert_eq!(c.listen().unwrap(), sock);
        let c = parse(
            "cors: {allowed_origins: ['https://*.example.com'], allowed_headers: [X-A], max_age: 60}",
        )
        .unwrap();
        assert_eq!(c.cors.unwrap().max_age, Some(60));
    }

    /// Scenario: every kind of mistake at once, and a typo'd key.
    /// Guarantees: each is reported, naming its key.
    #[test]
    fn reports_every_problem() {
        let e = parse(
            "{endpoint: 'nope', socket_group: g, allowed_hosts: ['http://x/'], cors: {allowed_origins: ['*', 'example.com']}, auth: {bearer_token: short}}",
        )
        .unwrap_err();
        assert_eq!(
            e,
            vec![
                "'endpoint' must be host:port, got \"nope\"",
                "'socket_group' applies to a Unix socket only (transport: unix)",
                "'allowed_hosts' entry \"http://x/\" must be a host name or host:port",
                "'cors.allowed_origins' must not be \"*\": any web page could read every prompt; list the origins (a wildcard needs at least the scheme, as in \"https://*.example.com\")",
                "'cors.allowed_origins' entry \"example.com\" must be scheme://host[:port]",
                "'auth' token must be at least 16 characters (got 5); generate one with `openssl rand -hex 32`",
            ]
        );
        assert_eq!(
            parse("auth: {bearer_token: 0123456789abcdef, bearer_token_file: /x}").unwrap_err(),
            vec!["'auth' takes either 'bearer_token' or 'bearer_token_file', not both"]
        );
        assert_eq!(
            parse("{transport: unix, endpoint: relative.sock}").unwrap_err(),
            vec!["'endpoint' must be an absolute path for a Unix socket, got \"relative.sock\""]
        );
        assert_eq!(
            parse("auth: {token: x}").unwrap_err(),
            vec!["'auth' has invalid keys: token"]
        );
    }

    /// Scenario: a token in the config.
    /// Guarantees: Debug output never shows it.
    #[test]
    fn debug_hides_the_token() {
        let c = parse("auth: {bearer_token: 0123456789abcdefXYZ}").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("0123456789abcdefXYZ"), "{shown}");
    }

    /// Scenario: listen addresses on and beyond loopback.
    /// Guarantees: only loopback IPs and localhost count as local.
    #[test]
    fn loopback_endpoints() {
        for local in [
            "127.0.0.1:7777",
            "localhost:4317",
            "[::1]:4318",
            "127.0.0.2:1",
        ] {
            assert!(is_loopback_endpoint(local), "{local}");
        }
        for wide in [
            "0.0.0.0:7777",
            "[::]:4317",
            ":4318",
            "10.0.0.5:1",
            "collector:4317",
        ] {
            assert!(!is_loopback_endpoint(wide), "{wide}");
        }
    }
}
