//! The `otlp` receiver in-process: real gRPC and HTTP clients on loopback,
//! records arriving in a pipeline channel.

use oispd_component::{
    Batch, BuildContext, ComponentId, Envelope, Output, PipelineSender, ReceiverFactory, Signal,
    Telemetry,
};
use oispd_receiver::otlp::OtlpFactory;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn request(bodies: &[&str]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: bodies
                    .iter()
                    .map(|b| LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(b.to_string())),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

struct Running {
    grpc: u16,
    http: u16,
    rx: mpsc::Receiver<Batch>,
    stop: CancellationToken,
    telemetry: Arc<Telemetry>,
}

/// The receiver with a stand-in pipeline that takes each batch at once
/// (drops its ack) and passes it to `rx`.
async fn start() -> Running {
    let (mut running, mut envelopes) = start_raw().await;
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(envelope) = envelopes.recv().await {
            if tx.send(envelope.batch).await.is_err() {
                break;
            }
        }
    });
    running.rx = rx;
    running
}

/// The receiver with the pipeline channel itself: the test decides when a
/// batch is handed on (its envelope dropped).
async fn start_raw() -> (Running, mpsc::Receiver<Envelope>) {
    let (grpc, http) = (free_port(), free_port());
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&format!(
        "protocols: {{grpc: {{endpoint: '127.0.0.1:{grpc}'}}, http: {{endpoint: '127.0.0.1:{http}'}}}}"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let telemetry = Arc::new(Telemetry::new().unwrap_or_else(|e| panic!("{e}")));
    let ctx = BuildContext {
        id: ComponentId::parse("otlp").unwrap_or_else(|e| panic!("{e}")),
        telemetry: telemetry.clone(),
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let receiver = OtlpFactory
        .create(&ctx, &config)
        .unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = mpsc::channel(8);
    let output = Output::new(vec![(
        Signal::Logs,
        PipelineSender {
            pipeline: "logs".into(),
            tx,
        },
    )]);
    let stop = CancellationToken::new();
    receiver
        .start(output, stop.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let running = Running {
        grpc,
        http,
        rx: mpsc::channel(1).1,
        stop,
        telemetry,
    };
    (running, rx)
}

/// Scenario: the pipeline holds a request's batch (its exporter queue has
/// not taken it yet), then hands it on; later a consumer refuses one.
/// Guarantees: the client gets no answer while the batch is held, success
/// once it is handed on, and a retryable UNAVAILABLE naming the reason when
/// it is refused: an acknowledged record is always in an exporter's queue.
#[tokio::test]
async fn answers_only_once_the_pipeline_handed_the_batch_on() {
    let (r, mut envelopes) = start_raw().await;
    let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{}", r.grpc))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut second = client.clone();
    let call = tokio::spawn(async move { client.export(request(&["held"])).await });
    let held = envelopes.recv().await.unwrap_or_else(|| panic!("no batch"));
    assert!(held.ack.is_some(), "an OTLP batch carries an ack");
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !call.is_finished(),
        "answered before the batch was handed on"
    );
    drop(held);
    let answered = call.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(answered.is_ok(), "{answered:?}");

    let call = tokio::spawn(async move { second.export(request(&["refused"])).await });
    let refused = envelopes.recv().await.unwrap_or_else(|| panic!("no batch"));
    if let Some(ack) = &refused.ack {
        ack.refuse("sending queue is full");
    }
    drop(refused);
    let status = match call.await.unwrap_or_else(|e| panic!("{e}")) {
        Ok(_) => panic!("a refused batch was acknowledged"),
        Err(status) => status,
    };
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status.message().contains("sending queue is full"),
        "{status:?}"
    );
    assert!(r
        .telemetry
        .render()
        .contains("otelcol_receiver_refused_log_records{receiver=\"otlp\"} 1"));
    r.stop.cancel();
}

/// Scenario: a gRPC client exports two records with gzip.
/// Guarantees: they reach the pipeline unchanged and are counted as accepted.
#[tokio::test]
async fn grpc_records_reach_the_pipeline() {
    let mut r = start().await;
    let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{}", r.grpc))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let req = request(&["a", "b"]);
    client
        .export(req.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = r.rx.recv().await.unwrap_or_else(|| panic!("no batch"));
    assert_eq!(got, Batch::Logs(req.resource_logs));
    assert!(r
        .telemetry
        .render()
        .contains("otelcol_receiver_accepted_log_records{receiver=\"otlp\"} 2"));
    r.stop.cancel();
}

/// Scenario: OTLP/HTTP with protobuf+gzip, with JSON, and with garbage.
/// Guarantees: both encodings are decoded; garbage gets 400 and changes nothing.
#[tokio::test]
async fn http_protobuf_json_and_garbage() {
    let mut r = start().await;
    let url = format!("http://127.0.0.1:{}/v1/logs", r.http);
    let client = reqwest::Client::new();

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &request(&["proto"]).encode_to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    let body = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    let resp = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 200);
    let got = r.rx.recv().await.unwrap_or_else(|| panic!("no batch"));
    assert_eq!(got.record_count(), 1);

    let json = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","body":{"stringValue":"json"},"attributes":[{"key":"n","value":{"intValue":"7"}}]}]}]}]}"#;
    let resp = client
        .post(&url)
        .header("content-type", "application/json")
        .body(json)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let Batch::Logs(rl) = r.rx.recv().await.unwrap_or_else(|| panic!("no batch")) else {
        panic!("not logs")
    };
    let record = &rl[0].scope_logs[0].log_records[0];
    assert_eq!(record.time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(
        record.attributes[0].value,
        Some(AnyValue {
            value: Some(any_value::Value::IntValue(7))
        })
    );

    let resp = client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0x00, 0x13, 0x37])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 400);
    assert!(r.rx.try_recv().is_err());
    r.stop.cancel();
}

/// Scenario: the port is taken. Guarantees: start fails with a message naming
/// the endpoint and the config path to change.
#[tokio::test]
async fn port_in_use_is_a_clear_start_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = busy.local_addr().map(|a| a.port()).unwrap_or_default();
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&format!(
        "protocols: {{grpc: {{endpoint: '127.0.0.1:{port}'}}}}"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let ctx = BuildContext {
        id: ComponentId::parse("otlp/in").unwrap_or_else(|e| panic!("{e}")),
        telemetry: Arc::new(Telemetry::new().unwrap_or_else(|e| panic!("{e}"))),
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let receiver = OtlpFactory
        .create(&ctx, &config)
        .unwrap_or_else(|e| panic!("{e}"));
    let err = match receiver
        .start(Output::default(), CancellationToken::new())
        .await
    {
        Ok(_) => panic!("started on a busy port"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(
        err.contains("receivers::otlp/in::protocols::grpc::endpoint"),
        "{err}"
    );
}

/// Scenario: a memory limiter is above its soft limit.
/// Guarantees: requests are refused with a retryable status and counted as
/// refused; once pressure is released, requests are accepted again.
#[tokio::test]
async fn memory_pressure_refuses_with_a_retryable_status() {
    let mut r = start().await;
    let pressure = r.telemetry.memory_pressure();
    pressure.raise();
    let mut client = LogsServiceClient::connect(format!("http://127.0.0.1:{}", r.grpc))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = match client.export(request(&["x"])).await {
        Ok(_) => panic!("accepted under memory pressure"),
        Err(s) => s,
    };
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(r
        .telemetry
        .render()
        .contains("otelcol_receiver_refused_log_records{receiver=\"otlp\"} 1"));
    assert!(r.rx.try_recv().is_err());
    pressure.release();
    client
        .export(request(&["y"]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.rx.recv().await.map(|b| b.record_count()), Some(1));
    r.stop.cancel();
}
