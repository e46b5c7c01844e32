//! `otlp_grpc` exporter configuration, with the collector's keys and
//! defaults.
//!
//! ```yaml
//! exporters:
//!   otlp_grpc:
//!     endpoint: collector.example:4317   # host:port; https:// forces TLS, http:// plaintext
//!     tls: {insecure: false, ca_file: /etc/oispd/ca.pem}
//!     headers: {x-scope-orgid: acme}
//!     compression: gzip                  # gzip (default) | zstd | none
//!     timeout: 5s
//!     sending_queue: {enabled: true, queue_size: 1000, block_on_overflow: false}
//!     retry_on_failure: {enabled: true, initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s}
//!     batch_size: 0                      # 0 = send batches as they come
//!     flush_interval: 200ms
//! ```

use crate::helper::settings_problems;
use crate::otlp::{header_problems, Compression};
use crate::tls::TlsSettings;
use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{sanitize, ComponentConfig, ExporterSettings};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The default OTLP/gRPC port, used when `endpoint` names none.
pub const DEFAULT_PORT: u16 = 4317;
/// Default `timeout` of one export attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `flush_interval` when `batch_size` is set.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// `exporters.otlp_grpc`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    /// `host:port` of the OTLP/gRPC server (required). A `https://` prefix
    /// forces TLS, `http://` plaintext; without a scheme TLS is used unless
    /// `tls.insecure` is true. Port defaults to 4317.
    pub endpoint: String,
    /// TLS client settings.
    pub tls: TlsSettings,
    /// Metadata sent with every request (e.g. an API key).
    pub headers: BTreeMap<String, String>,
    /// Message compression (default gzip).
    pub compression: Compression,
    /// Deadline of one export attempt (default 5s).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The queue in front of the exporter.
    pub sending_queue: QueueSettings,
    /// Retry of retryable failures.
    pub retry_on_failure: RetrySettings,
    /// Records per request at most; 0 (default) sends batches as they come.
    pub batch_size: usize,
    /// Longest a record waits for its batch to fill (default 200ms).
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: String::new(),
            tls: TlsSettings::default(),
            headers: BTreeMap::new(),
            compression: Compression::Gzip,
            timeout: DEFAULT_TIMEOUT,
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
            batch_size: 0,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        }
    }
}

/// Where and how to connect, parsed from `endpoint` and `tls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP literal (IPv6 in brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether to speak TLS.
    pub tls: bool,
}

impl Target {
    /// `host:port` as written in URIs.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The endpoint as users read it in messages (`https://host:port`).
    pub fn display(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.authority())
    }
}

impl OtlpGrpcConfig {
    /// Parses `endpoint` (scheme, host, port) and decides on TLS.
    pub fn target(&self) -> Result<Target, String> {
        let raw = self.endpoint.trim();
        if raw.is_empty() {
            return Err("'endpoint' must be set (host:port of the OTLP/gRPC server)".into());
        }
        // What messages show: never the credentials a typo'd endpoint carries.
        let shown = sanitize::url(raw);
        let (scheme_tls, rest) = if let Some(rest) = raw.strip_prefix("https://") {
            (Some(true), rest)
        } else if let Some(rest) = raw.strip_prefix("http://") {
            (Some(false), rest)
        } else if raw.contains("://") {
            return Err(format!(
                "'endpoint' {shown:?} has an unsupported scheme; use host:port, http:// or https://"
            ));
        } else {
            (None, raw)
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(format!(
                "'endpoint' {shown:?} must be host:port without a path"
            ));
        }
        let authority: http::uri::Authority = rest
            .parse()
            .map_err(|_| format!("'endpoint' {shown:?} is not a valid host:port"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "'endpoint' {shown:?} must not carry credentials; use headers"
            ));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(format!("'endpoint' {shown:?} has no host"));
        }
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Ok(Target {
            host,
            port: authority.port_u16().unwrap_or(DEFAULT_PORT),
            tls: scheme_tls.unwrap_or(!self.tls.insecure),
        })
    }

    /// The helper settings this config asks for.
    pub fn exporter_settings(&self) -> ExporterSettings {
        ExporterSettings {
            queue: self.sending_queue.clone(),
            retry: self.retry_on_failure.clone(),
            batch_size: self.batch_size,
            flush_interval: self.flush_interval,
            timeout: self.timeout,
        }
    }
}

impl ComponentConfig for OtlpGrpcConfig {
    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.target() {
            out.push(e);
        }
        out.extend(self.tls.problems());
        out.extend(header_problems(&self.headers));
        out.extend(settings_problems(
            &self.retry_on_failure,
            &self.sending_queue,
        ));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_component::parse_config;

    fn parse(yaml: &str) -> Result<OtlpGrpcConfig, Vec<String>> {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config(&v).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    /// Scenario: only an endpoint.
    /// Guarantees: the collector's defaults (gzip, 5s, TLS on, ten
    /// consumers); the queue bounded by bytes (oispd's default).
    #[test]
    fn defaults_follow_the_collector() {
        let c = parse("endpoint: collector:4317").unwrap();
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.sending_queue.num_consumers, 10);
        assert_eq!(
            c.sending_queue.bound(),
            (
                oispd_component::exporter::DEFAULT_QUEUE_BYTES,
                oispd_component::exporter::QueueSizer::Bytes
            )
        );
        let t = c.target().unwrap();
        assert!(t.tls);
        assert_eq!(t.authority(), "collector:4317");
    }

    /// Scenario: endpoints with schemes, IPv6, no port.
    /// Guarantees: the scheme decides TLS; the port defaults to 4317.
    #[test]
    fn endpoint_forms() {
        let t = parse("endpoint: http://127.0.0.1:9000")
            .unwrap()
            .target()
            .unwrap();
        assert!(!t.tls);
        assert_eq!(t.port, 9000);
        let t = parse("endpoint: 'h'\ntls: {insecure: true}")
            .unwrap()
            .target()
            .unwrap();
        assert_eq!((t.tls, t.port), (false, 4317));
        let t = parse("endpoint: '[::1]:4317'").unwrap().target().unwrap();
        assert_eq!(t.display(), "https://[::1]:4317");
    }

    /// Scenario: a typo in a nested key, a missing endpoint, a bad compression.
    /// Guarantees: collector-style messages naming the key.
    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            parse("endpoint: h:1\ntls: {insecure_skip_verfy: true}").unwrap_err(),
            vec!["'tls' has invalid keys: insecure_skip_verfy"]
        );
        assert_eq!(
            parse("{}").unwrap_err(),
            vec!["'endpoint' must be set (host:port of the OTLP/gRPC server)"]
        );
        assert!(parse("endpoint: h:1\ncompression: snappy").unwrap_err()[0]
            .starts_with("'compression' has invalid value \"snappy\""));
        assert_eq!(
            parse("endpoint: h:1/v1/logs").unwrap_err(),
            vec!["'endpoint' \"h:1/v1/logs\" must be host:port without a path"]
        );
    }

    /// Scenario: an endpoint with credentials in it, with and without a
    /// scheme.
    /// Guarantees: refused, and the message does not repeat the password.
    #[test]
    fn credentials_in_the_endpoint_are_refused_without_being_shown() {
        for endpoint in ["https://bob:hunter2@h:4317", "bob:hunter2@h:4317"] {
            let e = parse(&format!("endpoint: '{endpoint}'")).unwrap_err();
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].contains("must not carry credentials"), "{e:?}");
            assert!(!e[0].contains("hunter2"), "{e:?}");
        }
    }

    /// Scenario: max_elapsed_time shorter than the first retry interval.
    /// Guarantees: rejected as the collector does.
    #[test]
    fn retry_budget_must_cover_the_intervals() {
        let e = parse("endpoint: h:1\nretry_on_failure: {max_elapsed_time: 1s}").unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("'retry_on_failure.max_elapsed_time'"));
    }
}
