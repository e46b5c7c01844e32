//! The `webhook` exporter: POSTs batches of OISP events as
//! `{"events": [...], "sensor_id": "...", "batch_id": "..."}` ([`body`]).
//!
//! A retried batch keeps its `batch_id` (derived from the content, see
//! [`body`]) and is also named in the `X-OISP-Batch-Id` header, so that a
//! receiver de-duplicates deliveries that reached it although the answer
//! did not reach oispd. With a `secret`, each body is signed:
//! `X-OISP-Signature: sha256=<hex HMAC-SHA256 of the body>`.
//!
//! Answers: 2xx delivered; 408, 429 and 5xx retryable, honouring
//! `Retry-After` (seconds or HTTP date); any other status is permanent and
//! the batch is dropped. Connection failures and timeouts are retryable.

mod body;
pub mod config;

use async_trait::async_trait;
use config::{host_name, WebhookConfig};
use oispd_component::{
    parse_config, sanitize, Batch, BuildContext, ComponentError, ComponentInfo, ConcurrentExport,
    ConfigError, ExportError, Exporter, ExporterFactory, ExporterSettings, Signal, Stability,
};
use serde_yaml_ng::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::oisp_view::json_records;
use crate::otlp::error_chain;

/// Header holding the body's HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "X-OISP-Signature";
/// Header repeating the body's `batch_id`.
pub const BATCH_ID_HEADER: &str = "X-OISP-Batch-Id";

/// Builds `webhook` exporters.
pub struct WebhookFactory;

impl ExporterFactory for WebhookFactory {
    fn exports_concurrently(&self) -> bool {
        true
    }

    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "webhook",
            aliases: &[],
            stability: Stability::Alpha,
            signals: &[Signal::Logs],
            description: "POSTs batches of OISP events as JSON to an HTTP endpoint, with a stable batch_id and an optional HMAC-SHA256 signature",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<WebhookConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        _ctx: &BuildContext,
        config: &Value,
    ) -> Result<(Box<dyn Exporter>, ExporterSettings), ComponentError> {
        let cfg = parse_config::<WebhookConfig>(config).map_err(|e| {
            ComponentError::Config(
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let settings = cfg.exporter_settings();
        Ok((Box::new(WebhookExporter::new(&cfg)?), settings))
    }
}

/// One `webhook` exporter instance. Clones share the HTTP client and its
/// connection pool, so the helper sends through a clone from several tasks
/// at once.
#[derive(Clone)]
pub struct WebhookExporter {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    /// The endpoint as messages show it: a webhook URL is a secret
    /// ([`sanitize::webhook_url`]).
    shown: String,
    method: http::Method,
    headers: http::HeaderMap,
    sensor_id: String,
    secret: Option<Vec<u8>>,
}

impl WebhookExporter {
    /// An exporter for a validated `cfg`.
    pub fn new(cfg: &WebhookConfig) -> Result<WebhookExporter, ComponentError> {
        let endpoint = reqwest::Url::parse(&cfg.endpoint)
            .map_err(|e| ComponentError::Config(format!("'endpoint': {e}")))?;
        let mut headers = http::HeaderMap::new();
        for (k, v) in &cfg.headers {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| ComponentError::Config(format!("'headers' {k:?}: {e}")))?;
            let value = http::HeaderValue::from_str(v)
                .map_err(|e| ComponentError::Config(format!("'headers.{k}': {e}")))?;
            headers.insert(name, value);
        }
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .user_agent(concat!("oispd/", env!("CARGO_PKG_VERSION")));
        if endpoint.scheme() == "https" {
            builder = builder.use_preconfigured_tls(cfg.tls.client_config(&[b"http/1.1"])?);
        }
        let client = builder.build().map_err(|e| {
            ComponentError::Environment(format!("cannot build the HTTP client: {e}"))
        })?;
        Ok(WebhookExporter {
            client,
            shown: sanitize::webhook_url(endpoint.as_str()),
            endpoint,
            method: cfg.method.as_http(),
            headers,
            sensor_id: cfg.sensor_id.clone().unwrap_or_else(host_name),
            secret: cfg.secret.as_ref().map(|s| s.as_bytes().to_vec()),
        })
    }
}

impl WebhookExporter {
    /// Sends one batch, read by reference (the helper may keep it for a retry).
    async fn send(&self, batch: &Batch) -> Result<(), ExportError> {
        let Batch::Logs(logs) = batch else {
            return Err(ExportError::permanent(
                "the webhook exporter takes logs only",
            ));
        };
        let events: Vec<serde_json::Value> =
            json_records(logs).into_iter().map(|r| r.json).collect();
        let body = body::build(&events, &self.sensor_id)
            .map_err(|e| ExportError::permanent(format!("cannot serialize the batch: {e}")))?;
        drop(events);
        let mut req = self
            .client
            .request(self.method.clone(), self.endpoint.clone())
            .headers(self.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(BATCH_ID_HEADER, &body.batch_id);
        if let Some(secret) = &self.secret {
            req = req.header(SIGNATURE_HEADER, body::signature(secret, &body.bytes));
        }
        let resp = req.body(body.bytes).send().await.map_err(|e| {
            // reqwest's message embeds the whole URL, secret path included.
            ExportError::retryable(format!(
                "webhook request to {} failed: {}",
                self.shown,
                error_chain(&e.without_url())
            ))
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        classify(status, retry_after).map_err(|e| match e {
            ExportError::Retryable {
                message,
                retry_after,
            } => ExportError::Retryable {
                message: format!("{}: {message}", self.shown),
                retry_after,
            },
            ExportError::Permanent { message } => {
                ExportError::permanent(format!("{}: {message}", self.shown))
            }
            other => other,
        })
    }
}

#[async_trait]
impl Exporter for WebhookExporter {
    async fn export(&mut self, batch: Batch) -> Result<(), ExportError> {
        self.send(&batch).await
    }

    async fn export_ref(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.send(batch).await
    }

    fn concurrent_sender(&self) -> Option<Arc<dyn ConcurrentExport>> {
        Some(Arc::new(self.clone()))
    }
}

#[async_trait]
impl ConcurrentExport for WebhookExporter {
    async fn export_ref(&self, batch: &Batch) -> Result<(), ExportError> {
        self.send(batch).await
    }
}

/// What an HTTP status means for the batch.
fn classify(status: http::StatusCode, retry_after: Option<Duration>) -> Result<(), ExportError> {
    if status.is_success() {
        return Ok(());
    }
    let message = format!("webhook answered {status}");
    let code = status.as_u16();
    if code == 408 || code == 429 || status.is_server_error() {
        Err(ExportError::Retryable {
            message,
            retry_after,
        })
    } else {
        Err(ExportError::permanent(message))
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 10.2.3).
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: the statuses a webhook answers with.
    /// Guarantees: 2xx delivered, 408/429/5xx retryable with the delay,
    /// other 4xx permanent.
    #[test]
    fn statuses_are_classified() {
        let s = |c: u16| http::StatusCode::from_u16(c).unwrap();
        assert!(classify(s(200), None).is_ok());
        assert!(classify(s(204), None).is_ok());
        for c in [408, 429, 500, 502, 503, 504] {
            match classify(s(c), Some(Duration::from_secs(3))) {
                Err(ExportError::Retryable { retry_after, .. }) => {
                    assert_eq!(retry_after, Some(Duration::from_secs(3)), "{c}")
                }
                other => panic!("{c}: {other:?}"),
            }
        }
        for c in [400, 401, 403, 404, 413, 422] {
            assert!(
                matches!(classify(s(c), None), Err(ExportError::Permanent { .. })),
                "{c}"
            );
        }
    }

    /// Scenario: both forms of Retry-After, and garbage.
    /// Guarantees: seconds and dates become delays; garbage is ignored.
    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    /// Scenario: a span batch reaches a webhook. Guarantees: permanent error.
    #[tokio::test]
    async fn traces_are_refused() {
        let v: Value = serde_yaml_ng::from_str("endpoint: http://127.0.0.1:9/x").unwrap();
        let cfg = parse_config::<WebhookConfig>(&v).unwrap();
        let mut e = WebhookExporter::new(&cfg).unwrap();
        let err = e.export(Batch::Traces(vec![])).await.unwrap_err();
        assert!(matches!(err, ExportError::Permanent { .. }));
    }
}
