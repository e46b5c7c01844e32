//! `otlp_grpc` against a real tonic server on 127.0.0.1:0 implementing the
//! OTLP `LogsService` and `TraceService`, scripted to fail, throttle,
//! partially accept or accept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::config::OtlpGrpcConfig;
use super::exporter::OtlpGrpcExporter;
use crate::helper::start_exporter;
use crate::helper::testing::{logs, spans};
use crate::testing::test_pki;
use oispd_component::telemetry::HealthStatus;
use oispd_component::{parse_config, ExportError, Exporter, Signal, Telemetry};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What the server answers next and what it saw.
#[derive(Default)]
struct Seen {
    script: VecDeque<Result<i64, Status>>,
    log_records: usize,
    spans: usize,
    calls: usize,
    encodings: Vec<Option<String>>,
    api_keys: Vec<Option<String>>,
}

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Seen>>);

impl Sink {
    fn scripted(script: Vec<Result<i64, Status>>) -> Sink {
        let s = Sink::default();
        s.0.lock().unwrap().script = script.into();
        s
    }

    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.0.lock().unwrap())
    }

    /// Records the call; returns the scripted rejected count or error.
    fn answer<T>(&self, req: &Request<T>) -> Result<i64, Status> {
        let mut s = self.0.lock().unwrap();
        s.calls += 1;
        let header = |k: &str| {
            req.metadata()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        s.encodings.push(header("grpc-encoding"));
        s.api_keys.push(header("x-api-key"));
        s.script.pop_front().unwrap_or(Ok(0))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let rejected = self.answer(&req)?;
        let n: usize = req
            .get_ref()
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        self.0.lock().unwrap().log_records += n - rejected as usize;
        let partial_success = (rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: rejected,
            error_message: "records too large".into(),
        });
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.answer(&req)?;
        let n: usize = req
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.0.lock().unwrap().spans += n;
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Serves `sink` on 127.0.0.1:0 (TLS with `identity`), returns the address.
async fn serve(sink: Sink, identity: Option<Identity>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = Server::builder();
    if let Some(identity) = identity {
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(identity))
            .unwrap();
    }
    let router = builder
        .add_service(
            LogsServiceServer::new(sink.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd),
        )
        .add_service(TraceServiceServer::new(sink).accept_compressed(CompressionEncoding::Gzip));
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    addr
}

fn config(yaml: &str) -> OtlpGrpcConfig {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    parse_config(&v).unwrap()
}

async fn started(yaml: &str) -> (OtlpGrpcExporter, Arc<Telemetry>) {
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let health = telemetry.exporter_health("otlp_grpc");
    let mut e = OtlpGrpcExporter::new("otlp_grpc".into(), config(yaml), health).unwrap();
    e.start().await.unwrap();
    (e, telemetry)
}

/// Scenario: the server answers UNAVAILABLE twice, then accepts; the
/// exporter runs behind the helper with short retry intervals.
/// Guarantees: the batch arrives exactly once after the retries; counted
/// as sent; gzip was used on the wire and the configured header sent.
#[tokio::test]
async fn retries_unavailable_then_delivers_gzip_with_headers() {
    let sink = Sink::scripted(vec![
        Err(Status::unavailable("warming up")),
        Err(Status::unavailable("warming up")),
    ]);
    let addr = serve(sink.clone(), None).await;
    let yaml = format!(
        "endpoint: {addr}\ntls: {{insecure: true}}\nheaders: {{X-Api-Key: secret}}\nretry_on_failure: {{initial_interval: 10ms, max_interval: 20ms}}"
    );
    let telemetry = Arc::new(Telemetry::new().unwrap());
    let exporter = OtlpGrpcExporter::new(
        "otlp_grpc".into(),
        config(&yaml),
        telemetry.exporter_health("otlp_grpc"),
    )
    .unwrap();
    let cfg = config(&yaml);
    let (consumer, handle) = start_exporter(
        "otlp_grpc",
        Box::new(exporter),
        cfg.exporter_settings(),
        telemetry.clone(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    consumer.consume(logs(5)).await.unwrap();
    drop(consumer);
    handle.await.unwrap();
    sink.seen(|s| {
        assert_eq!(s.calls, 3);
        assert_eq!(s.log_records, 5);
        assert!(
            s.encodings.iter().all(|e| e.as_deref() == Some("gzip")),
            "{:?}",
            s.encodings
        );
        assert!(s.api_keys.iter().all(|k| k.as_deref() == Some("secret")));
    });
    let m = telemetry.exporter("otlp_grpc", Signal::Logs);
    assert_eq!(m.sent.get(), 5);
    assert_eq!(m.send_failed.get(), 0);
    assert_eq!(
        telemetry.health_snapshot()["otlp_grpc"].status,
        HealthStatus::Ok
    );
}

/// Scenario: each status code class from the server.
/// Guarantees: retryable codes give Retryable; RESOURCE_EXHAUSTED only
/// with RetryInfo, whose delay is carried; INVALID_ARGUMENT is permanent.
#[tokio::test]
async fn classifies_status_codes_like_the_collector() {
    let throttled = Status::with_error_details(
        Code::ResourceExhausted,
        "slow down",
        ErrorDetails::with_retry_info(Some(Duration::from_secs(3))),
    );
    let sink = Sink::scripted(vec![
        Err(Status::new(Code::DataLoss, "x")),
        Err(throttled),
        Err(Status::resource_exhausted("message too large")),
        Err(Status::invalid_argument("bad data")),
    ]);
    let addr = serve(sink, None).await;
    let (mut e, _t) = started(&format!("endpoint: http://{addr}")).await;
    assert!(matches!(
        e.export(logs(1)).await,
        Err(ExportError::Retryable {
            retry_after: None,
            ..
        })
    ));
    match e.export(logs(1)).await {
        Err(ExportError::Retryable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(3)))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        e.export(logs(1)).await,
        Err(ExportError::Permanent { .. })
    ));
    match e.export(logs(1)).await {
        Err(ExportError::Permanent { message }) => assert_eq!(
            message,
            format!("OTLP/gRPC export to http://{addr} failed: INVALID_ARGUMENT: bad data")
        ),
        other => panic!("{other:?}"),
    }
}

/// Scenario: the server accepts 3 of 5 log records.
/// Guarantees: a Partial error with 2 rejected and the server's message.
#[tokio::test]
async fn reports_partial_success() {
    let sink = Sink::scripted(vec![Ok(2)]);
    let addr = serve(sink, None).await;
    let (mut e, _t) = started(&format!("endpoint: http://{addr}\ncompression: zstd")).await;
    match e.export(logs(5)).await {
        Err(ExportError::Partial { rejected, message }) => {
            assert_eq!(rejected, 2);
            assert!(message.ends_with("records too large"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// Scenario: spans through the trace service, without compression.
/// Guarantees: all spans arrive, no grpc-encoding is declared.
#[tokio::test]
async fn exports_spans_uncompressed() {
    let sink = Sink::default();
    let addr = serve(sink.clone(), None).await;
    let (mut e, _t) = started(&format!("endpoint: http://{addr}\ncompression: none")).await;
    e.export(spans(4)).await.unwrap();
    sink.seen(|s| {
        assert_eq!(s.spans, 4);
        assert_eq!(s.encodings, vec![None]);
    });
}

/// Scenario: nothing listens on the endpoint.
/// Guarantees: start succeeds (lazy connect); an export is retryable and
/// names the endpoint; the probe marks the exporter degraded.
#[tokio::test]
async fn unreachable_endpoint_is_retryable_and_degrades_health() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (mut e, telemetry) = started(&format!("endpoint: {addr}\ntls: {{insecure: true}}")).await;
    match e.export(logs(1)).await {
        Err(ExportError::Retryable { message, .. }) => {
            assert!(message.contains(&format!("http://{addr}")), "{message}");
            assert!(message.contains("UNAVAILABLE"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    for _ in 0..100 {
        if telemetry.health_snapshot()["otlp_grpc"].status == HealthStatus::Degraded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let health = &telemetry.health_snapshot()["otlp_grpc"];
    assert_eq!(health.status, HealthStatus::Degraded);
    assert!(health
        .last_error
        .as_deref()
        .unwrap()
        .starts_with(&format!("cannot reach http://{addr}")));
}

/// Scenario: a TLS server with a certificate from a private CA.
/// Guarantees: with `ca_file` the export succeeds; without it the
/// handshake fails (retryable, names the endpoint); with
/// `insecure_skip_verify` it succeeds.
#[tokio::test]
async fn tls_with_private_ca() {
    let pki = test_pki();
    let identity = Identity::from_pem(&pki.server_cert_pem, &pki.server_key_pem);
    let sink = Sink::default();
    let addr = serve(sink.clone(), Some(identity)).await;
    let port = addr.port();
    let (mut e, _t) = started(&format!(
        "endpoint: https://localhost:{port}\ntls: {{ca_file: {}}}",
        pki.ca_file.display()
    ))
    .await;
    e.export(logs(2)).await.unwrap();
    let (mut untrusted, _t) = started(&format!("endpoint: localhost:{port}")).await;
    match untrusted.export(logs(1)).await {
        Err(ExportError::Retryable { message, .. }) => {
            assert!(
                message.contains(&format!("https://localhost:{port}")),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let (mut skip, _t) = started(&format!(
        "endpoint: 127.0.0.1:{port}\ntls: {{insecure_skip_verify: true}}"
    ))
    .await;
    skip.export(logs(3)).await.unwrap();
    sink.seen(|s| assert_eq!(s.log_records, 5));
}

/// Scenario: the server speaks plaintext but the endpoint has no scheme and
/// `tls.insecure` is not set (the most common collector config mistake).
/// Guarantees: a retryable error that says how to fix it.
#[tokio::test]
async fn tls_against_plaintext_server_says_what_to_do() {
    let addr = serve(Sink::default(), None).await;
    let (mut e, _t) = started(&format!("endpoint: {addr}")).await;
    match e.export(logs(1)).await {
        Err(ExportError::Retryable { message, .. }) => {
            assert!(
                message.contains("does not speak TLS: set tls.insecure: true"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// Answers every logs export with a partial success whose message is
/// 16 MiB, gzip-compressed on the wire (about 16 KiB).
#[derive(Clone, Default)]
struct HugeAnswer;

#[tonic::async_trait]
impl LogsService for HugeAnswer {
    async fn export(
        &self,
        _req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: 1,
                error_message: "a".repeat(16 << 20),
            }),
        }))
    }
}

/// Scenario: a hostile server answers with a gzip-compressed 16 MiB
/// message.
/// Guarantees: the exporter refuses to inflate it past its 4 MiB answer
/// limit and reports an error naming the size limit instead of decoding it.
#[tokio::test]
async fn compressed_answer_over_the_limit_is_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Server::builder().add_service(
        LogsServiceServer::new(HugeAnswer)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_encoding_message_size(usize::MAX),
    );
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    let (mut e, _t) = started(&format!(
        "endpoint: {addr}\ntls: {{insecure: true}}\ncompression: gzip"
    ))
    .await;
    match e.export(logs(1)).await {
        Err(err) => assert!(
            err.to_string().contains("size limit, of 4194304 bytes"),
            "{err}"
        ),
        Ok(()) => panic!("a 16 MiB answer was decoded"),
    }
}
