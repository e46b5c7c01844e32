//! The `webhook` exporter's config.

use crate::tls::TlsSettings;
use oispd_component::exporter::{QueueSettings, RetrySettings};
use oispd_component::{ComponentConfig, ExporterSettings};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `exporters: {webhook: ...}`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL the batches are sent to (required).
    pub endpoint: String,
    /// HTTP method: POST (default), PUT or PATCH.
    pub method: Method,
    /// Extra request headers (`Authorization: ...`).
    pub headers: BTreeMap<String, String>,
    /// `sensor_id` of every body (default: this host's name).
    pub sensor_id: Option<String>,
    /// When set, each body is signed with HMAC-SHA256 under this key, in
    /// the `X-OISP-Signature: sha256=<hex>` header.
    pub secret: Option<String>,
    /// Events per request at most (default 100).
    pub batch_size: usize,
    /// Longest an event waits for a batch to fill (default 1s).
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Deadline of one request (default 10s).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// TLS for an `https://` endpoint, with the collector's client keys
    /// (default: the host's CA store).
    pub tls: TlsSettings,
    /// `sending_queue` of the exporter helper.
    pub sending_queue: QueueSettings,
    /// `retry_on_failure` of the exporter helper.
    pub retry_on_failure: RetrySettings,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            endpoint: String::new(),
            method: Method::Post,
            headers: BTreeMap::new(),
            sensor_id: None,
            secret: None,
            batch_size: 100,
            flush_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            tls: TlsSettings::default(),
            sending_queue: QueueSettings::default(),
            retry_on_failure: RetrySettings::default(),
        }
    }
}

/// HTTP methods a webhook accepts bodies with.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
}

impl Method {
    /// The `http` method.
    pub fn as_http(self) -> http::Method {
        match self {
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Patch => http::Method::PATCH,
        }
    }
}

impl WebhookConfig {
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

impl ComponentConfig for WebhookConfig {
    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.endpoint.is_empty() {
            out.push("'endpoint' must be set (http:// or https:// URL)".to_string());
        } else {
            match reqwest::Url::parse(&self.endpoint) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => out.push(format!(
                    "'endpoint' {:?} is not an http:// or https:// URL",
                    oispd_component::sanitize::webhook_url(&self.endpoint)
                )),
            }
        }
        for (name, value) in &self.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                out.push(format!("'headers' has an invalid header name {name:?}"));
            }
            if http::HeaderValue::from_str(value).is_err() {
                out.push(format!("'headers.{name}' has an invalid value"));
            }
        }
        if self
            .sensor_id
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            out.push("'sensor_id' must not be empty".to_string());
        }
        if self.secret.as_deref().is_some_and(str::is_empty) {
            out.push("'secret' must not be empty".to_string());
        }
        if self.timeout.is_zero() {
            out.push("'timeout' must be above 0".to_string());
        }
        out.extend(self.tls.problems());
        out.extend(crate::helper::settings_problems(
            &self.retry_on_failure,
            &self.sending_queue,
        ));
        out
    }
}

/// This host's name, the default `sensor_id`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use oispd_component::parse_config;
    use serde_yaml_ng::Value;

    fn parse(yaml: &str) -> Result<WebhookConfig, Vec<String>> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        parse_config::<WebhookConfig>(&v).map_err(|e| e.iter().map(|e| e.to_string()).collect())
    }

    /// Scenario: the smallest config. Guarantees: documented defaults.
    #[test]
    fn defaults() {
        let c = parse("endpoint: https://siem.example/hook").unwrap();
        assert_eq!(c.method, Method::Post);
        let s = c.exporter_settings();
        assert_eq!(s.batch_size, 100);
        assert_eq!(s.flush_interval, Duration::from_secs(1));
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert!(s.retry.enabled);
    }

    /// Scenario: bad values. Guarantees: each is reported with its key.
    #[test]
    fn problems_are_reported_together() {
        let e = parse("~").unwrap_err();
        assert_eq!(e, vec!["'endpoint' must be set (http:// or https:// URL)"]);
        let e = parse("endpoint: ftp://x\nheaders: {'bad name': v}\nsecret: ''\ntimeout: 0s")
            .unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0].contains("not an http"));
        assert!(e[1].contains("invalid header name"));
        let e = parse("endpoint: http://x\nmethod: GET").unwrap_err();
        assert!(
            e[0].starts_with("'method' has invalid value \"GET\""),
            "{e:?}"
        );
        let e = parse("endpoint: http://x\nurl: http://y").unwrap_err();
        assert_eq!(e, vec!["'' has invalid keys: url"]);
    }

    /// Scenario: the host name lookup. Guarantees: never empty.
    #[test]
    fn host_name_is_not_empty() {
        assert!(!host_name().is_empty());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod queue_validation_tests {
    use super::*;
    use oispd_component::parse_config;

    /// Guarantees: `oispd validate` checks the webhook's `sending_queue`
    /// through the helper's shared check (a zero queue size is refused).
    #[test]
    fn sending_queue_is_validated() {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(
            "endpoint: http://127.0.0.1:9/hook\nsending_queue: {queue_size: 0}",
        )
        .unwrap();
        let errs = parse_config::<WebhookConfig>(&v).unwrap_err();
        assert!(
            errs.iter().any(|e| e.to_string().contains("queue_size")),
            "{errs:?}"
        );
    }
}
