//! The `otlp_http` exporter: OTLP over HTTP with reqwest. Encodes each batch
//! as an `Export*ServiceRequest` in protobuf or OTLP/JSON, compresses it,
//! POSTs it to the signal's URL and reads the answer as the collector does:
//! 2xx with an optional partial success; 429/502/503/504 retryable with
//! `Retry-After` honoured; any other status permanent. Like the
//! collector, it reads at most 64 KiB of an answer (after reqwest's gzip or
//! zstd decoding), so a hostile or broken server cannot balloon oispd with
//! a large or compressed body.

use super::config::{Encoding, OtlpHttpConfig};
use crate::otlp::encode::{request_json, request_proto};
use crate::otlp::{
    error_chain, partial_success, spawn_reachability_probe, warning_limiter, Compression,
    SharedLogLimiter,
};
use async_trait::async_trait;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use oispd_component::telemetry::ExporterHealth;
use oispd_component::{
    sanitize, Batch, ComponentError, ConcurrentExport, ExportError, Exporter, Signal,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use reqwest::Url;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The most of an answer's body that is read, decoded: the collector's
/// `maxHTTPResponseReadBytes`. An OTLP answer is a few bytes; a longer one
/// is cut here (and then fails to decode, as in the collector).
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Longest error body quoted in a message.
const MAX_QUOTED_BODY: usize = 256;

/// Sends batches to an OTLP/HTTP server. Clones share the client and its
/// connection pool, so the helper sends through a clone from several tasks
/// at once.
#[derive(Clone)]
pub struct OtlpHttpExporter {
    id: String,
    config: OtlpHttpConfig,
    logs_url: Option<Url>,
    traces_url: Option<Url>,
    metrics_url: Option<Url>,
    headers: HeaderMap,
    health: Arc<ExporterHealth>,
    client: Option<reqwest::Client>,
    warnings: SharedLogLimiter,
}

impl OtlpHttpExporter {
    /// An exporter for `config` (already validated), reporting as `id`.
    pub fn new(
        id: String,
        config: OtlpHttpConfig,
        health: Arc<ExporterHealth>,
    ) -> Result<OtlpHttpExporter, ComponentError> {
        let logs_url = config
            .signal_url(Signal::Logs)
            .map_err(ComponentError::Config)?;
        let traces_url = config
            .signal_url(Signal::Traces)
            .map_err(ComponentError::Config)?;
        let metrics_url = config
            .signal_url(Signal::Metrics)
            .map_err(ComponentError::Config)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ComponentError::Config(format!("'headers' has an invalid name {name:?}"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                ComponentError::Config(format!("'headers' {name:?} has an invalid value"))
            })?;
            headers.insert(name, value);
        }
        Ok(OtlpHttpExporter {
            id,
            config,
            logs_url,
            traces_url,
            metrics_url,
            headers,
            health,
            client: None,
            warnings: warning_limiter(),
        })
    }

    fn urls(&self) -> impl Iterator<Item = &Url> {
        self.logs_url
            .iter()
            .chain(self.traces_url.iter())
            .chain(self.metrics_url.iter())
    }

    fn client(&self) -> Result<reqwest::Client, ComponentError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("oispd/", env!("CARGO_PKG_VERSION")))
            .default_headers(self.headers.clone());
        if self.urls().any(|u| u.scheme() == "https") {
            let tls = self.config.tls.client_config(&[b"h2", b"http/1.1"])?;
            builder = builder.use_preconfigured_tls(tls);
        }
        if !self.config.timeout.is_zero() {
            builder = builder.connect_timeout(self.config.timeout);
        }
        builder
            .build()
            .map_err(|e| ComponentError::Config(format!("cannot build the HTTP client: {e}")))
    }

    /// Reads a non-2xx answer into the helper's error.
    async fn failure(&self, url: &Url, response: reqwest::Response) -> ExportError {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let content_type = content_type(response.headers());
        let body = read_capped(response, MAX_RESPONSE_BODY)
            .await
            .unwrap_or_default();
        let detail = status_message(&content_type, &body);
        let message = format!(
            "error exporting items, request to {} responded with HTTP Status Code {}, Message={detail}",
            shown(url),
            status.as_u16()
        );
        match status {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => ExportError::Retryable {
                message,
                retry_after,
            },
            _ => ExportError::Permanent { message },
        }
    }
}

/// `url` as messages show it: no credentials, no query values.
fn shown(url: &Url) -> String {
    sanitize::url(url.as_str())
}

/// The error chain of a reqwest error, without the URL reqwest puts in it
/// (messages name the endpoint through [`shown`]).
fn reqwest_chain(e: reqwest::Error) -> String {
    error_chain(&e.without_url())
}

/// The first `max` bytes of a response's (decoded) body; the rest is never
/// read, let alone decompressed.
async fn read_capped(mut response: reqwest::Response, max: usize) -> reqwest::Result<Bytes> {
    let mut body = Vec::new();
    while body.len() < max {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let take = chunk.len().min(max - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(Bytes::from(body))
}

/// The media type of a response, lower-cased without parameters.
fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_protobuf(content_type: &str) -> bool {
    content_type == "application/x-protobuf" || content_type == "application/protobuf"
}

/// The server's explanation: a `google.rpc.Status` message when the body is
/// one, else the start of the body as text.
fn status_message(content_type: &str, body: &Bytes) -> String {
    if is_protobuf(content_type) {
        if let Ok(status) = tonic_types::pb::Status::decode(body.clone()) {
            return status.message;
        }
    }
    if content_type == "application/json" {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
            if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
                return m.to_string();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(MAX_QUOTED_BODY) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// `Retry-After` as a delay: delta-seconds or an HTTP date (past dates
/// mean no wait).
pub(crate) fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Compresses `body` as configured; returns the body and its
/// `Content-Encoding`.
pub(crate) fn compress(
    body: Vec<u8>,
    compression: Compression,
) -> std::io::Result<(Vec<u8>, Option<&'static str>)> {
    match compression {
        Compression::None => Ok((body, None)),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            encoder.write_all(&body)?;
            Ok((encoder.finish()?, Some("gzip")))
        }
        Compression::Zstd => Ok((zstd::bulk::compress(&body, 0)?, Some("zstd"))),
    }
}

/// The encoded request body of `batch`.
fn encode(batch: &Batch, encoding: Encoding) -> Result<Vec<u8>, ExportError> {
    match encoding {
        Encoding::Proto => Ok(request_proto(batch)),
        Encoding::Json => {
            let mut out = Vec::new();
            request_json(batch, &mut out).map_err(|e| {
                ExportError::permanent(format!("cannot encode the batch as OTLP/JSON: {e}"))
            })?;
            Ok(out)
        }
    }
}

/// The partial success in a 2xx answer: `(rejected, message)`.
fn read_partial(signal: Signal, content_type: &str, body: &Bytes) -> Result<(i64, String), String> {
    if body.is_empty() {
        return Ok((0, String::new()));
    }
    if content_type == "application/json" {
        return read_partial_json(signal, body);
    }
    if !is_protobuf(content_type) {
        // Not an OTLP answer (a proxy's "OK"); nothing to read.
        return Ok((0, String::new()));
    }
    let partial = match signal {
        Signal::Logs => ExportLogsServiceResponse::decode(body.clone())
            .map_err(|e| e.to_string())?
            .partial_success
            .map(|p| (p.rejected_log_records, p.error_message)),
        Signal::Traces => ExportTraceServiceResponse::decode(body.clone())
            .map_err(|e| e.to_string())?
            .partial_success
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(body.clone())
            .map_err(|e| e.to_string())?
            .partial_success
            .map(|p| (p.rejected_data_points, p.error_message)),
    };
    Ok(partial.unwrap_or_default())
}

/// The JSON form of the answer. Read by hand because OTLP/JSON writes
/// int64 counts as strings (`"rejectedLogRecords":"2"`), which the
/// generated serde types do not accept.
fn read_partial_json(signal: Signal, body: &Bytes) -> Result<(i64, String), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Some(partial) = v.get("partialSuccess").filter(|p| !p.is_null()) else {
        return Ok((0, String::new()));
    };
    let key = match signal {
        Signal::Logs => "rejectedLogRecords",
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
    };
    let rejected = match partial.get(key) {
        None | Some(serde_json::Value::Null) => 0,
        Some(serde_json::Value::Number(n)) => {
            n.as_i64().ok_or("rejected count is not an integer")?
        }
        Some(serde_json::Value::String(s)) => s
            .parse::<i64>()
            .map_err(|_| format!("{key} {s:?} is not an integer"))?,
        Some(other) => return Err(format!("{key} is {other}, not an integer")),
    };
    let message = partial
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    Ok((rejected, message))
}

#[async_trait]
impl Exporter for OtlpHttpExporter {
    async fn start(&mut self) -> Result<(), ComponentError> {
        self.client = Some(self.client()?);
        let mut probed: Vec<(String, u16)> = Vec::new();
        let targets: Vec<(String, String, u16)> = self
            .urls()
            .filter_map(|u| {
                let host = u.host_str()?.to_string();
                let port = u.port_or_known_default()?;
                Some((shown(u), host, port))
            })
            .collect();
        for (url, host, port) in targets {
            if probed.contains(&(host.clone(), port)) {
                continue;
            }
            probed.push((host.clone(), port));
            spawn_reachability_probe(self.id.clone(), url, host, port, self.health.clone());
        }
        Ok(())
    }

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
impl ConcurrentExport for OtlpHttpExporter {
    async fn export_ref(&self, batch: &Batch) -> Result<(), ExportError> {
        self.send(batch).await
    }
}

impl OtlpHttpExporter {
    /// One export call; any number may run at once.
    async fn send(&self, batch: &Batch) -> Result<(), ExportError> {
        let Some(client) = self.client.clone() else {
            return Err(ExportError::permanent("exporter used before start"));
        };
        let signal = batch.signal();
        let url = match signal {
            Signal::Logs => self.logs_url.clone(),
            Signal::Traces => self.traces_url.clone(),
            Signal::Metrics => self.metrics_url.clone(),
        };
        let Some(url) = url else {
            return Err(ExportError::permanent(format!(
                "no URL for {signal}: set 'endpoint' or '{signal}_endpoint'"
            )));
        };
        let media_type = match self.config.encoding {
            Encoding::Proto => "application/x-protobuf",
            Encoding::Json => "application/json",
        };
        let body = encode(batch, self.config.encoding)?;
        let (body, content_encoding) = compress(body, self.config.compression)
            .map_err(|e| ExportError::permanent(format!("cannot compress the batch: {e}")))?;
        let mut request = client
            .post(url.clone())
            .header(CONTENT_TYPE, media_type)
            .body(body);
        if let Some(encoding) = content_encoding {
            request = request.header(CONTENT_ENCODING, encoding);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Err(ExportError::retryable(format!(
                    "OTLP/HTTP export to {} failed: {}",
                    shown(&url),
                    reqwest_chain(e)
                )))
            }
        };
        if !response.status().is_success() {
            return Err(self.failure(&url, response).await);
        }
        let answer_type = content_type(response.headers());
        let body = read_capped(response, MAX_RESPONSE_BODY)
            .await
            .map_err(|e| {
                ExportError::retryable(format!(
                    "OTLP/HTTP export to {}: reading the answer failed: {}",
                    shown(&url),
                    reqwest_chain(e)
                ))
            })?;
        let (rejected, message) = read_partial(signal, &answer_type, &body).map_err(|e| {
            ExportError::permanent(format!(
                "OTLP/HTTP export to {}: the 2xx answer does not decode as an OTLP response: {e}",
                shown(&url)
            ))
        })?;
        partial_success(rejected, &message, &self.warnings, &self.id, &shown(&url))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: Retry-After as seconds, an HTTP date, a past date, garbage.
    /// Guarantees: delays of 120s, 30s, 0 and none.
    #[test]
    fn parses_retry_after() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:07 GMT").unwrap();
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(
            parse_retry_after(&h("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(&h("Sun, 06 Nov 1994 08:49:37 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after(&h("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(&h("soon"), now), None);
    }

    /// Scenario: an error answer with a google.rpc.Status body, and a long
    /// plain-text body.
    /// Guarantees: the status message is used; text is cut.
    #[test]
    fn reads_error_bodies() {
        let status = tonic_types::pb::Status {
            code: 3,
            message: "bad field".into(),
            details: vec![],
        };
        let body = Bytes::from(status.encode_to_vec());
        assert_eq!(status_message("application/x-protobuf", &body), "bad field");
        let long = Bytes::from("x".repeat(1000));
        assert_eq!(
            status_message("text/plain", &long).len(),
            MAX_QUOTED_BODY + 3
        );
    }

    /// Scenario: JSON partial success with the count as a number, as a
    /// string, and absent.
    /// Guarantees: all three read; a non-integer is an error.
    #[test]
    fn reads_json_partial_success_leniently() {
        let read = |s: &'static str| read_partial_json(Signal::Traces, &Bytes::from(s));
        assert_eq!(
            read(r#"{"partialSuccess":{"rejectedSpans":4,"errorMessage":"m"}}"#),
            Ok((4, "m".to_string()))
        );
        assert_eq!(
            read(r#"{"partialSuccess":{"rejectedSpans":"5"}}"#),
            Ok((5, String::new()))
        );
        assert_eq!(read("{}"), Ok((0, String::new())));
        assert!(read(r#"{"partialSuccess":{"rejectedSpans":"x"}}"#).is_err());
    }
}
