//! `otlp_http` exporter configuration, with the collector's keys and
//! defaults.
//!
//! ```yaml
//! exporters:
//!   otlp_http:
//!     endpoint: https://loki.example:3100/otlp   # base URL; /v1/logs, /v1/traces and /v1/metrics are appended
//!     logs_endpoint: ""                            # full URL, overrides endpoint for logs
//!     traces_endpoint: ""                          # full URL, overrides endpoint for traces
//!     metrics_endpoint: ""                         # full URL, overrides endpoint for metrics
//!     encoding: proto                              # proto (default) | json
//!     compression: gzip                            # gzip (default) | zstd | none
//!     headers: {X-Scope-OrgID: acme}
//!     tls: {ca_file: /etc/oispd/ca.pem}
//!     timeout: 30s
//!     sending_queue: {...}
//!     retry_on_failure: {...}
//!     batch_size: 0
//!     flush_interval: 200ms
//! ```

use crate::helper::settings_problems;
use crate::otlp::{header_problems, Compression};
use crate::tls::TlsSettings;
use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{sanitize, ComponentConfig, ExporterSettings, Signal};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Default `timeout` of one request (the collector's HTTP client default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `flush_interval` when `batch_size` is set.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// `encoding`: the request body format.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Binary protobuf, `application/x-protobuf` (default).
    #[default]
    Proto,
    /// OTLP/JSON, `application/json`.
    Json,
}

/// `exporters.otlp_http`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpConfig {
    /// Base URL; `/v1/logs`, `/v1/traces` and `/v1/metrics` are appended
    /// per signal.
    pub endpoint: String,
    /// Full URL for logs (default `<endpoint>/v1/logs`).
    pub logs_endpoint: String,
    /// Full URL for traces (default `<endpoint>/v1/traces`).
    pub traces_endpoint: String,
    /// Full URL for metrics (default `<endpoint>/v1/metrics`).
    pub metrics_endpoint: String,
    /// Body format (default proto).
    pub encoding: Encoding,
    /// Body compression (default gzip).
    pub compression: Compression,
    /// Headers sent with every request.
    pub headers: BTreeMap<String, String>,
    /// TLS client settings, used for `https://` URLs.
    pub tls: TlsSettings,
    /// Deadline of one request (default 30s).
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

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: String::new(),
            logs_endpoint: String::new(),
            traces_endpoint: String::new(),
            metrics_endpoint: String::new(),
            encoding: Encoding::Proto,
            compression: Compression::Gzip,
            headers: BTreeMap::new(),
            tls: TlsSettings::default(),
            timeout: DEFAULT_TIMEOUT,
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
            batch_size: 0,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
        }
    }
}

impl OtlpHttpConfig {
    /// The URL records of `signal` go to, if any is configured.
    pub fn signal_url(&self, signal: Signal) -> Result<Option<reqwest::Url>, String> {
        let (explicit, key, path) = match signal {
            Signal::Logs => (&self.logs_endpoint, "logs_endpoint", "v1/logs"),
            Signal::Traces => (&self.traces_endpoint, "traces_endpoint", "v1/traces"),
            Signal::Metrics => (&self.metrics_endpoint, "metrics_endpoint", "v1/metrics"),
        };
        let (text, key) = if !explicit.trim().is_empty() {
            (explicit.trim().to_string(), key)
        } else if !self.endpoint.trim().is_empty() {
            let base = self.endpoint.trim().trim_end_matches('/');
            (format!("{base}/{path}"), "endpoint")
        } else {
            return Ok(None);
        };
        // Messages show what the user wrote, not the derived URL, and
        // never its credentials.
        let shown = if key == "endpoint" {
            sanitize::url(self.endpoint.trim())
        } else {
            sanitize::url(&text)
        };
        let url = reqwest::Url::parse(&text)
            .map_err(|e| format!("'{key}' {shown:?} is not a valid URL: {e}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!(
                "'{key}' {shown:?} must start with http:// or https://"
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("'{key}' {shown:?} has no host"));
        }
        Ok(Some(url))
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

impl ComponentConfig for OtlpHttpConfig {
    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut any = false;
        for signal in Signal::ALL {
            match self.signal_url(signal) {
                Ok(Some(_)) => any = true,
                Ok(None) => {}
                Err(e) => {
                    if !out.contains(&e) {
                        out.push(e);
                    }
                    any = true;
                }
            }
        }
        if !any {
            out.push(
                "at least one endpoint must be specified ('endpoint', 'logs_endpoint', 'traces_endpoint' or 'metrics_endpoint')"
                    .into(),
            );
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

    fn parse(yaml: &str) -> Result<OtlpHttpConfig, Vec<String>> {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config(&v).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    /// Scenario: a base endpoint with a trailing slash and a logs override.
    /// Guarantees: traces go to `<endpoint>/v1/traces`, logs to the override.
    #[test]
    fn per_signal_urls() {
        let c = parse("endpoint: http://loki:3100/otlp/\nlogs_endpoint: https://l/x").unwrap();
        assert_eq!(
            c.signal_url(Signal::Traces).unwrap().unwrap().as_str(),
            "http://loki:3100/otlp/v1/traces"
        );
        assert_eq!(
            c.signal_url(Signal::Logs).unwrap().unwrap().as_str(),
            "https://l/x"
        );
        let only_logs = parse("logs_endpoint: http://h:4318/v1/logs").unwrap();
        assert_eq!(only_logs.signal_url(Signal::Traces).unwrap(), None);
    }

    /// Scenario: defaults.
    /// Guarantees: proto, gzip, 30s as the collector.
    #[test]
    fn defaults_follow_the_collector() {
        let c = parse("endpoint: http://h:4318").unwrap();
        assert_eq!(c.encoding, Encoding::Proto);
        assert_eq!(c.compression, Compression::Gzip);
        assert_eq!(c.timeout, Duration::from_secs(30));
    }

    /// Scenario: no endpoint at all, a bad scheme, a typo.
    /// Guarantees: the collector's message; the key named.
    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            parse("{}").unwrap_err(),
            vec!["at least one endpoint must be specified ('endpoint', 'logs_endpoint', 'traces_endpoint' or 'metrics_endpoint')"]
        );
        assert_eq!(
            parse("endpoint: ftp://h").unwrap_err(),
            vec!["'endpoint' \"ftp://h\" must start with http:// or https://"]
        );
        assert_eq!(
            parse("endpoint: http://h\nencodign: json").unwrap_err(),
            vec!["'' has invalid keys: encodign"]
        );
    }
}
