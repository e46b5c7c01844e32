//! `otlp_http` against a real axum server on 127.0.0.1:0 that decodes what
//! it receives (gzip/zstd, protobuf/JSON) and answers as scripted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::config::OtlpHttpConfig;
use super::exporter::OtlpHttpExporter;
use crate::helper::start_exporter;
use crate::helper::testing::{logs, spans};
use crate::testing::test_pki;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures::StreamExt;
use oispd_component::{parse_config, ExportError, Exporter, Signal, Telemetry};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A scripted answer: status, extra headers, content type and body.
#[derive(Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: Vec<u8>,
}

/// What one request looked like.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    content_type: String,
    content_encoding: Option<String>,
    api_key: Option<String>,
    /// The decompressed body.
    body: Vec<u8>,
    records: usize,
}

#[derive(Clone, Default)]
struct Server {
    script: Arc<Mutex<VecDeque<Answer>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    fn scripted(answers: Vec<Answer>) -> Server {
        let s = Server::default();
        *s.script.lock().unwrap() = answers.into();
        s
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn decompress(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    match encoding {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        Some("zstd") => zstd::stream::decode_all(body).unwrap(),
        _ => body.to_vec(),
    }
}

fn count_records(path: &str, content_type: &str, body: &[u8]) -> usize {
    let json = content_type == "application/json";
    if path.ends_with("logs") {
        let req: ExportLogsServiceRequest = if json {
            serde_json::from_slice(body).unwrap()
        } else {
            ExportLogsServiceRequest::decode(body).unwrap()
        };
        req.resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum()
    } else {
        let req: ExportTraceServiceRequest = if json {
            serde_json::from_slice(body).unwrap()
        } else {
            ExportTraceServiceRequest::decode(body).unwrap()
        };
        req.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }
}

async fn handle(
    State(server): State<Server>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let content_type = header("content-type").unwrap_or_default();
    let content_encoding = header("content-encoding");
    let body = decompress(content_encoding.as_deref(), &body);
    let path = uri.path().to_string();
    let records = count_records(&path, &content_type, &body);
    server.received.lock().unwrap().push(Received {
        path,
        content_type: content_type.clone(),
        content_encoding,
        api_key: header("x-api-key"),
        body,
        records,
    });
    let answer = server.script.lock().unwrap().pop_front();
    match answer {
        Some(a) => {
            let mut response = (
                StatusCode::from_u16(a.status).unwrap(),
                [("content-type", a.content_type)],
                a.body,
            )
                .into_response();
            for (k, v) in a.headers {
                response.headers_mut().insert(k, v.parse().unwrap());
            }
            response
        }
        None => (StatusCode::OK, [("content-type", content_type)], Vec::new()).into_response(),
    }
}

fn router(server: Server) -> Router {
    Router::new()
        .route("/v1/logs", post(handle))
        .route("/v1/traces", post(handle))
        .route("/custom/spans", post(handle))
        .with_state(server)
}

async fn serve(server: Server) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(server)).await });
    addr
}

/// Serves over TLS with the test PKI's server certificate.
async fn serve_tls(server: Server, cert_pem: &str, key_pem: &str) -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(server);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

fn config(yaml: &str) -> OtlpHttpConfig {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    parse_config(&v).unwrap()
}

async fn started(yaml: &str) -> OtlpHttpExporter {
    let t = Telemetry::new().unwrap();
    let mut e = OtlpHttpExporter::new(
        "otlp_http".into(),
        config(yaml),
        t.exporter_health("otlp_http"),
    )
    .unwrap();
    e.start().await.unwrap();
    e
}

fn answer(status: u16) -> Answer {
    Answer {
        status,
        headers: vec![],
        content_type: "text/plain",
        body: vec![],
    }
}

/// Scenario: 503 with `Retry-After: 1`, then 200.
/// Guarantees: the first attempt is retryable with a 1s requested delay and
/// names the URL; the second succeeds; the body was gzip protobuf and the
/// configured header was sent.
#[tokio::test]
async fn retryable_503_with_retry_after_then_ok() {
    let mut unavailable = answer(503);
    unavailable.headers.push(("retry-after", "1".into()));
    let server = Server::scripted(vec![unavailable]);
    let addr = serve(server.clone()).await;
    let mut e = started(&format!(
        "endpoint: http://{addr}\nheaders: {{x-api-key: k1}}"
    ))
    .await;
    match e.export(logs(3)).await {
        Err(ExportError::Retryable {
            retry_after,
            message,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
            assert!(
                message.contains(&format!("http://{addr}/v1/logs")) && message.contains("503"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    e.export(logs(3)).await.unwrap();
    let got = server.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].records, 3);
    assert_eq!(got[1].content_type, "application/x-protobuf");
    assert_eq!(got[1].content_encoding.as_deref(), Some("gzip"));
    assert_eq!(got[1].api_key.as_deref(), Some("k1"));
}

/// Scenario: 502, 504, 429 and then success, through the exporter helper.
/// Guarantees: retried until delivered once; counted as sent.
#[tokio::test]
async fn helper_retries_retryable_statuses() {
    let server = Server::scripted(vec![answer(502), answer(504), answer(429)]);
    let addr = serve(server.clone()).await;
    let yaml = format!(
        "endpoint: http://{addr}\nretry_on_failure: {{initial_interval: 10ms, max_interval: 20ms}}"
    );
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let e = OtlpHttpExporter::new(
        "otlp_http".into(),
        config(&yaml),
        telemetry.exporter_health("otlp_http"),
    )
    .unwrap();
    let (consumer, handle) = start_exporter(
        "otlp_http",
        Box::new(e),
        config(&yaml).exporter_settings(),
        telemetry.clone(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    consumer.consume(spans(2)).await.unwrap();
    drop(consumer);
    handle.await.unwrap();
    assert_eq!(server.received().len(), 4);
    assert_eq!(
        telemetry.exporter("otlp_http", Signal::Traces).sent.get(),
        2
    );
}

/// Scenario: 400 with a google.rpc.Status body.
/// Guarantees: permanent, with the server's message in the collector's wording.
#[tokio::test]
async fn bad_request_is_permanent_with_status_message() {
    let status = tonic_types::pb::Status {
        code: 3,
        message: "invalid trace id".into(),
        details: vec![],
    };
    let server = Server::scripted(vec![Answer {
        status: 400,
        headers: vec![],
        content_type: "application/x-protobuf",
        body: status.encode_to_vec(),
    }]);
    let addr = serve(server).await;
    let mut e = started(&format!("endpoint: http://{addr}")).await;
    match e.export(logs(1)).await {
        Err(ExportError::Permanent { message }) => assert_eq!(
            message,
            format!("error exporting items, request to http://{addr}/v1/logs responded with HTTP Status Code 400, Message=invalid trace id")
        ),
        other => panic!("{other:?}"),
    }
}

/// Scenario: JSON encoding without compression.
/// Guarantees: `application/json` body in OTLP/JSON (camelCase keys,
/// string int64, hex ids) that decodes to the same records.
#[tokio::test]
async fn json_encoding_is_otlp_json() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let mut e = started(&format!(
        "endpoint: http://{addr}\nencoding: json\ncompression: none"
    ))
    .await;
    let mut batch = logs(2);
    if let oispd_component::Batch::Logs(rl) = &mut batch {
        rl[0].scope_logs[0].log_records[1].trace_id = vec![0xab; 16];
        rl[0].scope_logs[0].log_records[1].time_unix_nano = 1_700_000_000_000_000_001;
    }
    e.export(batch).await.unwrap();
    let got = &server.received()[0];
    assert_eq!(got.content_type, "application/json");
    assert_eq!(got.content_encoding, None);
    assert_eq!(got.records, 2);
    let text = String::from_utf8(got.body.clone()).unwrap();
    assert!(text.starts_with("{\"resourceLogs\":[{"), "{text}");
    assert!(
        text.contains("\"timeUnixNano\":\"1700000000000000001\""),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"traceId\":\"{}\"", "ab".repeat(16))),
        "{text}"
    );
}

/// Scenario: zstd compression and a traces_endpoint override.
/// Guarantees: spans go to the override path, zstd-compressed.
#[tokio::test]
async fn zstd_and_per_signal_endpoint() {
    let server = Server::default();
    let addr = serve(server.clone()).await;
    let mut e = started(&format!(
        "endpoint: http://{addr}\ntraces_endpoint: http://{addr}/custom/spans\ncompression: zstd"
    ))
    .await;
    e.export(spans(3)).await.unwrap();
    e.export(logs(1)).await.unwrap();
    let got = server.received();
    assert_eq!(got[0].path, "/custom/spans");
    assert_eq!(got[0].content_encoding.as_deref(), Some("zstd"));
    assert_eq!(got[0].records, 3);
    assert_eq!(got[1].path, "/v1/logs");
}

/// Scenario: a 200 answer with a partial success, as protobuf and as JSON.
/// Guarantees: Partial with the rejected count either way.
#[tokio::test]
async fn partial_success_in_proto_and_json_answers() {
    let partial = ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess {
            rejected_log_records: 2,
            error_message: "dropped 2".into(),
        }),
    };
    let server = Server::scripted(vec![
        Answer {
            status: 200,
            headers: vec![],
            content_type: "application/x-protobuf",
            body: partial.encode_to_vec(),
        },
        Answer {
            status: 200,
            headers: vec![],
            content_type: "application/json",
            body: br#"{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"dropped 1"}}"#
                .to_vec(),
        },
    ]);
    let addr = serve(server).await;
    let mut e = started(&format!("endpoint: http://{addr}")).await;
    assert!(matches!(
        e.export(logs(5)).await,
        Err(ExportError::Partial { rejected: 2, .. })
    ));
    assert!(matches!(
        e.export(logs(5)).await,
        Err(ExportError::Partial { rejected: 1, .. })
    ));
}

/// Scenario: nothing listens at the URL.
/// Guarantees: retryable, and the message names the URL.
#[tokio::test]
async fn unreachable_is_retryable_and_names_the_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut e = started(&format!("endpoint: http://{addr}")).await;
    match e.export(logs(1)).await {
        Err(ExportError::Retryable { message, .. }) => {
            assert!(
                message.contains(&format!("http://{addr}/v1/logs")),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// Scenario: an HTTPS server with a certificate from a private CA.
/// Guarantees: `tls.ca_file` makes the export succeed; without it the
/// certificate is refused (retryable).
#[tokio::test]
async fn https_with_private_ca() {
    let pki = test_pki();
    let server = Server::default();
    let addr = serve_tls(server.clone(), &pki.server_cert_pem, &pki.server_key_pem).await;
    let port = addr.port();
    let mut trusted = started(&format!(
        "endpoint: https://localhost:{port}\ntls: {{ca_file: {}}}",
        pki.ca_file.display()
    ))
    .await;
    trusted.export(logs(2)).await.unwrap();
    assert_eq!(server.received()[0].records, 2);
    let mut untrusted = started(&format!("endpoint: https://localhost:{port}")).await;
    assert!(matches!(
        untrusted.export(logs(1)).await,
        Err(ExportError::Retryable { .. })
    ));
}

/// Scenario: a logs URL with a user and password and a token in its
/// query; first nothing listens (a connection error), then the server
/// answers 404; the start-up probe also fails against the closed port.
/// Guarantees: no message and no health record carries the password or
/// the token; they name the host and path.
#[tokio::test]
async fn messages_never_show_url_credentials() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let url = |addr: SocketAddr| {
        format!("logs_endpoint: 'http://alice:hunter2@{addr}/v1/logs?token=t0ken'")
    };
    let t = Telemetry::new().unwrap();
    let health = t.exporter_health("otlp_http");
    let mut e =
        OtlpHttpExporter::new("otlp_http".into(), config(&url(closed)), health.clone()).unwrap();
    e.start().await.unwrap();
    let refused = e.export(logs(1)).await.unwrap_err().to_string();
    assert!(refused.contains("/v1/logs?token=***"), "{refused}");
    // The start-up probe reports the closed port to the health record.
    let mut probed = None;
    for _ in 0..1000 {
        probed = health.snapshot().last_error;
        if probed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let probed = probed.expect("the start-up probe reported the closed port");

    let addr = serve(Server::scripted(vec![answer(404)])).await;
    let mut e = started(&url(addr)).await;
    let answered = e.export(logs(1)).await.unwrap_err().to_string();
    assert!(answered.contains("404"), "{answered}");
    for message in [refused, probed, answered] {
        assert!(message.contains("alice:***@127.0.0.1"), "{message}");
        for secret in ["hunter2", "t0ken"] {
            assert!(!message.contains(secret), "{secret} in {message}");
        }
    }
}

/// Serves `/v1/logs` answering `status` with `Content-Encoding: zstd` and a
/// zstd frame of zeros that goes on for 1 TiB decoded (8,192 chunks of
/// 4 KiB, each 1,024 RLE blocks of 128 KiB); `pulled` counts the chunks
/// the server was asked for.
async fn serve_zstd_bomb(status: u16, pulled: Arc<std::sync::atomic::AtomicUsize>) -> SocketAddr {
    const CHUNKS: usize = 8192;
    let handler = move || {
        let pulled = pulled.clone();
        async move {
            let mut chunk = Vec::with_capacity(4096);
            for _ in 0..1024 {
                // RLE block of 128 KiB zeros, not the last one.
                let header: u32 = (128 * 1024) << 3 | 1 << 1;
                chunk.extend_from_slice(&header.to_le_bytes()[..3]);
                chunk.push(0);
            }
            let chunk = Bytes::from(chunk);
            let frame_header = Bytes::from_static(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, (23 - 10) << 3]);
            let blocks = futures::stream::iter(0..CHUNKS).map(move |_| {
                pulled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, std::io::Error>(chunk.clone())
            });
            let body = futures::stream::once(async move { Ok(frame_header) }).chain(blocks);
            (
                StatusCode::from_u16(status).unwrap(),
                [
                    ("content-type", "application/x-protobuf"),
                    ("content-encoding", "zstd"),
                ],
                axum::body::Body::from_stream(body),
            )
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/v1/logs", post(handler));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Scenario: a hostile server answers 200, then 503, each with a zstd bomb
/// that decodes to 1 TiB.
/// Guarantees: the exporter reads 64 KiB of the decoded answer (as the
/// collector does) and stops: the 200's cut answer does not decode
/// (permanent), the 503 stays retryable, and the server was asked for far
/// fewer chunks than the bomb has.
#[tokio::test]
async fn compressed_answer_bombs_are_read_only_up_to_the_cap() {
    for (status, retryable) in [(200, false), (503, true)] {
        let pulled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let addr = serve_zstd_bomb(status, pulled.clone()).await;
        let mut e = started(&format!("endpoint: http://{addr}\ncompression: none")).await;
        let result = e.export(logs(1)).await;
        match (&result, retryable) {
            (Err(ExportError::Permanent { message }), false) => {
                assert!(message.contains("does not decode"), "{message}")
            }
            (Err(ExportError::Retryable { message, .. }), true) => {
                assert!(message.contains("503"), "{message}")
            }
            _ => panic!("{status}: {result:?}"),
        }
        let pulled = pulled.load(std::sync::atomic::Ordering::SeqCst);
        assert!(pulled < 8192, "{status}: the whole bomb was read");
    }
}
