//! The OTLP exporters, `otlp_grpc` (alias `otlp`) and `otlp_http` (alias
//! `otlphttp`), and what they share: compression, header checks, partial
//! success handling and the start-up reachability probe.
//!
//! Both connect lazily, as the collector does: an unreachable endpoint is
//! not a start-up error. A probe at start tells the user at once (a
//! warning naming the endpoint, and `degraded` on `/api/health`), and the
//! helper keeps retrying batches until the destination comes up.

pub mod encode;
pub mod grpc;
pub mod http;
pub(crate) mod proto;

use crate::helper::log_limit::{LogLimiter, WARN_INTERVAL};
use oispd_component::telemetry::ExporterHealth;
use oispd_component::ExportError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `compression`: how request bodies are compressed.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip (the collector's default).
    #[default]
    Gzip,
    /// Zstandard.
    Zstd,
    /// No compression.
    None,
}

/// Problems with `headers`, for `validate`: names must be valid HTTP header
/// names and values visible ASCII.
pub(crate) fn header_problems(headers: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if ::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            out.push(format!("'headers' has an invalid header name {name:?}"));
        } else if name.to_ascii_lowercase().ends_with("-bin") {
            out.push(format!(
                "'headers' {name:?}: binary (-bin) headers are not supported"
            ));
        }
        if ::http::HeaderValue::from_str(value).is_err() {
            out.push(format!(
                "'headers' {name:?} has a value that is not visible ASCII"
            ));
        }
    }
    out
}

/// Turns an OTLP partial-success answer into the helper's outcome: rejected
/// records are a [`ExportError::Partial`] (never retried); a warning with
/// nothing rejected is logged (rate-limited) and counts as success.
pub(crate) fn partial_success(
    rejected: i64,
    message: &str,
    warnings: &SharedLogLimiter,
    id: &str,
    endpoint: &str,
) -> Result<(), ExportError> {
    if rejected > 0 {
        return Err(ExportError::Partial {
            rejected: rejected.unsigned_abs(),
            message: format!("{endpoint}: {message}"),
        });
    }
    if !message.is_empty() {
        let allowed = warnings.lock().unwrap_or_else(|p| p.into_inner()).allow();
        if let Some(suppressed) = allowed {
            tracing::warn!(exporter = %id, endpoint = %endpoint, suppressed, warning = %message, "destination accepted the batch with a warning");
        }
    }
    Ok(())
}

/// A partial-success warning limiter shared by the clones of an exporter
/// that sends concurrently.
pub(crate) type SharedLogLimiter = Arc<std::sync::Mutex<LogLimiter>>;

/// A fresh limiter for partial-success warnings.
pub(crate) fn warning_limiter() -> SharedLogLimiter {
    Arc::new(std::sync::Mutex::new(LogLimiter::new(WARN_INTERVAL)))
}

/// How long the start-up probe waits for a TCP connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks in the background that `host:port` accepts TCP connections. If
/// not, warns with the endpoint and marks the exporter degraded; start-up
/// goes on either way.
pub(crate) fn spawn_reachability_probe(
    id: String,
    endpoint: String,
    host: String,
    port: u16,
    health: Arc<ExporterHealth>,
) {
    tokio::spawn(async move {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
        let error = match tokio::time::timeout(PROBE_TIMEOUT, connect).await {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {}s", PROBE_TIMEOUT.as_secs()),
        };
        let message = format!("cannot reach {endpoint}: {error}");
        health.record_failure(&message);
        tracing::warn!(
            exporter = %id,
            endpoint = %endpoint,
            error = %error,
            "cannot reach the OTLP endpoint; batches are queued and retried until it answers (check the endpoint and that the destination is running)"
        );
    });
}

/// The error chain of `e` on one line (`a: b: c`), for messages that must
/// say why a connection failed.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: header names and values a server would reject.
    /// Guarantees: each is reported with the header named.
    #[test]
    fn bad_headers_are_reported() {
        let mut h = BTreeMap::new();
        h.insert("bad name".to_string(), "v".to_string());
        h.insert("x-ok".to_string(), "line\nbreak".to_string());
        h.insert("trace-bin".to_string(), "v".to_string());
        let p = header_problems(&h);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("\"bad name\""));
    }

    /// Scenario: partial success answers.
    /// Guarantees: rejected records become Partial; a bare warning is success.
    #[test]
    fn partial_success_outcomes() {
        let l = warning_limiter();
        let r = partial_success(3, "too big", &l, "x", "http://h");
        assert!(matches!(r, Err(ExportError::Partial { rejected: 3, .. })));
        assert!(partial_success(0, "deprecated field", &l, "x", "http://h").is_ok());
        assert!(partial_success(0, "", &l, "x", "http://h").is_ok());
    }
}
