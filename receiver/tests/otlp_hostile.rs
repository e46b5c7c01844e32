//! The `otlp` receiver against hostile requests, in-process over real
//! loopback connections: decompression bombs in every coding on OTLP/HTTP
//! and OTLP/gRPC (raw HTTP/2 frames, so the bomb is sent as it is), floods
//! of empty records, deep nesting, unsupported encodings, oversized
//! headers. Each is refused with a clear status, counted in
//! `oispd_receiver_rejected_requests`, and logged once per reason without
//! the request's content. The binary's peak memory under the same bombs is
//! checked end to end in tests/e2e/test_hostile_input.py.

mod log_support;

use bytes::Bytes;
use log_support::capture_logs;
use oispd_component::{
    Batch, BuildContext, ComponentId, Envelope, Output, PipelineSender, ReceiverFactory, Signal,
    Telemetry,
};
use oispd_receiver::otlp::OtlpFactory;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use std::io::Write;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const FAKE_KEY: &str = "sk-proj-HOSTILEFAKEKEY0123456789abcdefghijklmnop";
const LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

struct Running {
    grpc: u16,
    http: u16,
    rx: mpsc::Receiver<Batch>,
    stop: CancellationToken,
    telemetry: Arc<Telemetry>,
}

impl Running {
    fn metric(&self, name_and_labels: &str) -> u64 {
        let text = self.telemetry.render();
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    fn rejected(&self, transport: &str, reason: &str) -> u64 {
        self.metric(&format!(
            "oispd_receiver_rejected_requests{{reason=\"{reason}\",receiver=\"otlp\",transport=\"{transport}\"}}"
        ))
    }

    /// Nothing reached the pipeline, and no record was counted as refused
    /// (the collector counts none for a request it cannot decode).
    fn nothing_passed(&mut self) {
        assert!(self.rx.try_recv().is_err(), "a batch reached the pipeline");
        assert_eq!(
            self.metric("otelcol_receiver_refused_log_records{receiver=\"otlp\"}"),
            0
        );
    }
}

/// The receiver with both protocols at 1 MiB limits (so bombs can be small
/// and quick to build), its records arriving in `rx`.
async fn start() -> Running {
    start_with(1).await
}

/// The receiver with both protocols at `mib` MiB limits; a stand-in
/// pipeline takes each batch at once (drops its ack, so the sender gets
/// its answer) and passes it to `rx`.
async fn start_with(mib: usize) -> Running {
    let (grpc, http) = (free_port(), free_port());
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&format!(
        "protocols: {{grpc: {{endpoint: '127.0.0.1:{grpc}', max_recv_msg_size_mib: {mib}}}, \
         http: {{endpoint: '127.0.0.1:{http}', max_request_body_size_mib: {mib}}}}}"
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
    let (tx, mut envelopes) = mpsc::channel::<Envelope>(8);
    let (batches, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(envelope) = envelopes.recv().await {
            if batches.send(envelope.batch).await.is_err() {
                break;
            }
        }
    });
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
    Running {
        grpc,
        http,
        rx,
        stop,
        telemetry,
    }
}

fn request(body: &str) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(body.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A raw deflate stream that inflates to `mib` MiB of zeros: one 1 MiB
/// block compressed with a full flush (which resets the history), repeated.
fn deflate_bomb(mib: usize) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut block = |flush| {
        let mut out = Vec::with_capacity(1 << 16);
        c.compress_vec(&zeros, &mut out, flush)
            .unwrap_or_else(|e| panic!("{e}"));
        out
    };
    let first = block(flate2::FlushCompress::Full);
    let repeated = block(flate2::FlushCompress::Full);
    let mut out = first;
    for _ in 1..mib {
        out.extend_from_slice(&repeated);
    }
    // The final empty block.
    out.extend_from_slice(&[0x03, 0x00]);
    out
}

/// gzip around [`deflate_bomb`]. The trailer's CRC is not computed (a
/// receiver stops long before it).
fn gzip_bomb(mib: usize) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(deflate_bomb(mib));
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&((mib as u32) << 20).to_le_bytes());
    out
}

/// zlib around [`deflate_bomb`] (what `deflate` means in HTTP).
fn zlib_bomb(mib: usize) -> Vec<u8> {
    let mut out = vec![0x78, 0xda];
    out.extend(deflate_bomb(mib));
    out.extend_from_slice(&[0; 4]);
    out
}

/// A zstd frame of `mib` MiB of zeros as 128 KiB RLE blocks (4 bytes each:
/// 2 GiB in 64 KiB), with an 8 MiB window.
fn zstd_bomb(mib: usize) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (23 - 10) << 3];
    let blocks = mib * 8;
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = (128 * 1024) << 3 | 1 << 1 | last;
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    out
}

fn snappy_framed(data: &[u8]) -> Vec<u8> {
    let mut e = snap::write::FrameEncoder::new(Vec::new());
    e.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    e.into_inner().unwrap_or_else(|e| panic!("{e}"))
}

fn lz4_frame(data: &[u8]) -> Vec<u8> {
    let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
    e.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    e.finish().unwrap_or_else(|e| panic!("{e}"))
}

/// An answer of the HTTP receiver: status and its google.rpc.Status message.
async fn post(
    port: u16,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/logs"))
        .header("content-type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = resp.status().as_u16();
    let proto = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == b"application/x-protobuf");
    let body = resp.bytes().await.unwrap_or_else(|e| panic!("{e}"));
    let message = if proto {
        #[derive(Clone, PartialEq, prost::Message)]
        struct RpcStatus {
            #[prost(int32, tag = "1")]
            code: i32,
            #[prost(string, tag = "2")]
            message: String,
        }
        RpcStatus::decode(&body[..])
            .map(|s| s.message)
            .unwrap_or_else(|e| panic!("not a google.rpc.Status: {e}"))
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    (status, message)
}

/// Sends one gRPC message to `path` as raw HTTP/2, compressed flag set when
/// `encoding` is given, and returns the grpc-status and grpc-message.
async fn grpc_raw(
    port: u16,
    path: &str,
    encoding: Option<&str>,
    message: &[u8],
    metadata: &[(&str, String)],
) -> (i32, String) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (client, connection) = h2::client::handshake(tcp)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = match client.ready().await {
        Ok(c) => c,
        Err(e) => return (-1, e.to_string()),
    };
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(e) = encoding {
        builder = builder.header("grpc-encoding", e);
    }
    for (k, v) in metadata {
        builder = builder.header(*k, v.as_str());
    }
    let req = builder.body(()).unwrap_or_else(|e| panic!("{e}"));
    let (response, mut send) = match client.send_request(req, false) {
        Ok(v) => v,
        Err(e) => return (-1, e.to_string()),
    };
    let mut frame = vec![u8::from(encoding.is_some())];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    // h2 buffers what the flow-control window does not take yet.
    let _ = send.send_data(Bytes::from(frame), true);
    let response = match response.await {
        Ok(r) => r,
        Err(e) => return (-1, e.to_string()),
    };
    let (parts, mut body) = response.into_parts();
    let from = |headers: &http::HeaderMap| {
        let status = tonic::Status::from_header_map(headers)?;
        Some((status.code() as i32, status.message().to_string()))
    };
    if let Some(found) = from(&parts.headers) {
        return found;
    }
    while let Some(chunk) = body.data().await {
        if chunk.is_err() {
            break;
        }
    }
    match body.trailers().await {
        Ok(Some(trailers)) => from(&trailers).unwrap_or((-1, "no grpc-status".into())),
        other => (-1, format!("no trailers: {other:?}")),
    }
}

/// Scenario: a bomb in every content coding the HTTP receiver decodes,
/// each inflating to at least 64 times its 1 MiB limit (gzip, deflate and
/// zstd to 2 GiB; gzip and deflate to 512 MiB, as deflate's ratio tops
/// out near 1:1032 and the bomb must fit in the 1 MiB body limit).
/// Guarantees: 413 with a google.rpc.Status saying the decompressed body
/// is over the limit, counted as too_large; nothing reaches the pipeline.
#[tokio::test]
async fn http_bombs_in_every_coding_are_refused() {
    let mut r = start().await;
    let zeros = vec![0u8; 64 << 20];
    let bombs: Vec<(&str, Vec<u8>)> = vec![
        ("gzip", gzip_bomb(512)),
        ("deflate", zlib_bomb(512)),
        ("zlib", zlib_bomb(512)),
        ("zstd", zstd_bomb(2048)),
        ("x-snappy-framed", snappy_framed(&zeros[..16 << 20])),
        ("lz4", lz4_frame(&zeros)),
        // A snappy block claiming 1 GiB.
        ("snappy", vec![0x80, 0x80, 0x80, 0x80, 0x04, 0x00]),
    ];
    for (i, (coding, body)) in bombs.into_iter().enumerate() {
        assert!(body.len() < 1 << 20, "{coding}: {} bytes", body.len());
        let (status, message) = post(r.http, "application/x-protobuf", Some(coding), body).await;
        assert_eq!(status, 413, "{coding}: {message}");
        assert!(
            message.contains("exceeds 1048576 bytes"),
            "{coding}: {message}"
        );
        assert_eq!(r.rejected("http", "too_large"), i as u64 + 1, "{coding}");
    }
    r.nothing_passed();
    r.stop.cancel();
}

/// Scenario: a body over the limit as sent, a zstd frame asking for a
/// 128 MiB window, corrupt gzip, a brotli body, a text/plain body.
/// Guarantees: 413, 400, 400, 400 naming the supported codings, 415; each
/// counted under its reason.
#[tokio::test]
async fn http_size_encoding_and_media_type_errors() {
    let mut r = start().await;
    let (status, message) = post(r.http, "application/x-protobuf", None, vec![0; 2 << 20]).await;
    assert_eq!(status, 413, "{message}");
    assert!(message.contains("request body exceeds"), "{message}");
    assert_eq!(r.rejected("http", "too_large"), 1);

    let mut wide =
        zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap_or_else(|e| panic!("{e}"));
    wide.set_parameter(zstd::stream::raw::CParameter::WindowLog(27))
        .unwrap_or_else(|e| panic!("{e}"));
    wide.write_all(&request("x").encode_to_vec())
        .unwrap_or_else(|e| panic!("{e}"));
    let wide = wide.finish().unwrap_or_else(|e| panic!("{e}"));
    let (status, message) = post(r.http, "application/x-protobuf", Some("zstd"), wide).await;
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("invalid zstd body"), "{message}");
    assert_eq!(r.rejected("http", "bad_compression"), 1);

    let (status, message) = post(
        r.http,
        "application/x-protobuf",
        Some("gzip"),
        b"\x1f\x8b\x08\x00garbage".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{message}");
    assert_eq!(r.rejected("http", "bad_compression"), 2);

    let (status, message) = post(r.http, "application/json", Some("br"), b"{}".to_vec()).await;
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("unsupported Content-Encoding"),
        "{message}"
    );
    assert!(message.contains("x-snappy-framed"), "{message}");
    assert_eq!(r.rejected("http", "unsupported_encoding"), 1);

    let (status, _) = post(r.http, "text/plain", None, b"hello".to_vec()).await;
    assert_eq!(status, 415);
    assert_eq!(r.rejected("http", "unsupported_media_type"), 1);
    r.nothing_passed();
    r.stop.cancel();
}

/// Scenario: 1 MB of empty log records (2 bytes each, 500,000 records
/// of 184 bytes once decoded, over the 64 MiB budget), as protobuf and
/// gzip-compressed, and 1.3 million empty records in 3.9 MB of JSON (4 MiB
/// body limit here, so the JSON flood fits).
/// Guarantees: 413 saying what decoding would take, before any record is
/// decoded.
#[tokio::test]
async fn http_record_floods_are_refused_before_decoding() {
    let mut r = start_with(4).await;
    let flood = record_flood(500_000);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&flood).unwrap_or_else(|e| panic!("{e}"));
    let gz = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    for (encoding, body) in [(None, flood), (Some("gzip"), gz)] {
        let (status, message) = post(r.http, "application/x-protobuf", encoding, body).await;
        assert_eq!(status, 413, "{message}");
        assert!(message.contains("once decoded"), "{message}");
    }
    let json = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
        vec!["{}"; 1_300_000].join(",")
    );
    let (status, message) = post(r.http, "application/json", None, json.into_bytes()).await;
    assert_eq!(status, 413, "{message}");
    assert_eq!(r.rejected("http", "too_large"), 3);
    r.nothing_passed();
    r.stop.cancel();
}

/// `records` empty log records in one scope, as protobuf.
fn record_flood(records: usize) -> Vec<u8> {
    let scope = [0x12, 0x00].repeat(records);
    wrap(0x0a, &wrap(0x12, &scope))
}

/// A request whose record body is a kvlist nested `depth` levels deep.
fn nested(depth: usize) -> ExportLogsServiceRequest {
    let mut value = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for _ in 0..depth {
        value = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(value),
                    ..Default::default()
                }],
            })),
        };
    }
    let mut req = request("");
    req.resource_logs[0].scope_logs[0].log_records[0].body = Some(value);
    req
}

/// Protobuf field `tag` (its key byte) holding `inner`.
fn wrap(tag: u8, inner: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    prost::encoding::encode_varint(inner.len() as u64, &mut out);
    out.extend_from_slice(inner);
    out
}

/// The protobuf of [`nested`], built level by level without recursion (so
/// the test itself cannot overflow its stack).
fn nested_protobuf(depth: usize) -> Vec<u8> {
    // AnyValue { string_value: "leaf" }
    let mut value = wrap(0x0a, b"leaf");
    for _ in 0..depth {
        // KeyValue { key: "k", value }, in KeyValueList.values, in
        // AnyValue.kvlist_value.
        let mut kv = wrap(0x0a, b"k");
        kv.extend(wrap(0x12, &value));
        value = wrap(0x32, &wrap(0x0a, &kv));
    }
    // LogRecord.body, ScopeLogs.log_records, ResourceLogs.scope_logs,
    // ExportLogsServiceRequest.resource_logs.
    wrap(0x0a, &wrap(0x12, &wrap(0x12, &wrap(0x2a, &value))))
}

/// The OTLP/JSON of [`nested`], built as text.
fn nested_json(depth: usize) -> Vec<u8> {
    format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}{{"stringValue":"leaf"}}{}}}]}}]}}]}}"#,
        r#"{"kvlistValue":{"values":[{"key":"k","value":"#.repeat(depth),
        "}]}}".repeat(depth)
    )
    .into_bytes()
}

/// Scenario: an attribute value nested 5,000 levels deep in protobuf and
/// 20,000 in JSON (and raw JSON brackets 100,000 deep); then one nested 10
/// levels.
/// Guarantees: 400 "nested more than ... levels deep", no stack overflow,
/// the receiver keeps serving; 10 levels decode fine.
#[tokio::test]
async fn http_deep_nesting_is_a_clean_400() {
    let mut r = start().await;
    let (status, message) = post(
        r.http,
        "application/x-protobuf",
        None,
        nested_protobuf(5_000),
    )
    .await;
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("levels deep"), "{message}");
    let (status, message) = post(r.http, "application/json", None, nested_json(20_000)).await;
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("levels deep"), "{message}");
    let brackets = "[".repeat(100_000).into_bytes();
    let (status, _) = post(r.http, "application/json", None, brackets).await;
    assert_eq!(status, 400);
    assert_eq!(r.rejected("http", "malformed"), 3);
    r.nothing_passed();

    assert_eq!(nested_protobuf(10), nested(10).encode_to_vec());
    let (status, message) = post(r.http, "application/x-protobuf", None, nested_protobuf(10)).await;
    assert_eq!(status, 200, "{message}");
    let (status, message) = post(r.http, "application/json", None, nested_json(10)).await;
    assert_eq!(status, 200, "{message}");
    assert!(r.rx.recv().await.is_some());
    assert!(r.rx.recv().await.is_some());
    r.stop.cancel();
}

/// Scenario: a gzip bomb of 512 MiB and a zstd bomb of 2 GiB sent as one
/// gRPC message each, with the compressed flag set (1 MiB message limit).
/// Guarantees: RESOURCE_EXHAUSTED from tonic's bounded decompression,
/// counted as too_large; nothing reaches the pipeline.
#[tokio::test]
async fn grpc_bombs_are_resource_exhausted() {
    let mut r = start().await;
    for (i, (encoding, bomb)) in [("gzip", gzip_bomb(512)), ("zstd", zstd_bomb(2048))]
        .into_iter()
        .enumerate()
    {
        assert!(bomb.len() < 1 << 20);
        let (code, message) = grpc_raw(r.grpc, LOGS, Some(encoding), &bomb, &[]).await;
        assert_eq!(
            code,
            tonic::Code::ResourceExhausted as i32,
            "{encoding}: {message}"
        );
        assert!(message.contains("size limit"), "{encoding}: {message}");
        assert_eq!(r.rejected("grpc", "too_large"), i as u64 + 1);
    }
    r.nothing_passed();
    r.stop.cancel();
}

/// Scenario: a message frame over the 1 MiB limit, a flood of empty
/// records (gzip), a deflate-encoded message, corrupt gzip, garbage
/// protobuf, and a body nested 5,000 levels deep, over gRPC.
/// Guarantees: RESOURCE_EXHAUSTED (not tonic's retryable OUT_OF_RANGE),
/// RESOURCE_EXHAUSTED, UNIMPLEMENTED, and INVALID_ARGUMENT for the last
/// three (not INTERNAL); each counted under its reason.
#[tokio::test]
async fn grpc_errors_are_counted_with_non_retryable_codes() {
    let mut r = start().await;
    let (code, message) = grpc_raw(r.grpc, LOGS, None, &vec![0; 2 << 20], &[]).await;
    assert_eq!(code, tonic::Code::ResourceExhausted as i32, "{message}");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&record_flood(500_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let flood = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    let (code, message) = grpc_raw(r.grpc, LOGS, Some("gzip"), &flood, &[]).await;
    assert_eq!(code, tonic::Code::ResourceExhausted as i32, "{message}");
    assert!(message.contains("once decoded"), "{message}");
    assert_eq!(r.rejected("grpc", "too_large"), 2);

    let (code, message) = grpc_raw(r.grpc, LOGS, Some("deflate"), b"x", &[]).await;
    assert_eq!(code, tonic::Code::Unimplemented as i32, "{message}");
    assert_eq!(r.rejected("grpc", "unsupported_encoding"), 1);

    let (code, message) =
        grpc_raw(r.grpc, LOGS, Some("gzip"), b"\x1f\x8b\x08\x00garbage", &[]).await;
    assert_eq!(code, tonic::Code::InvalidArgument as i32, "{message}");
    assert_eq!(r.rejected("grpc", "bad_compression"), 1);

    let (code, message) = grpc_raw(r.grpc, LOGS, None, &[0xff, 0x00, 0x13, 0x37], &[]).await;
    assert_eq!(code, tonic::Code::InvalidArgument as i32, "{message}");
    let (code, message) = grpc_raw(r.grpc, LOGS, None, &nested_protobuf(5_000), &[]).await;
    assert_eq!(code, tonic::Code::InvalidArgument as i32, "{message}");
    assert!(message.contains("levels deep"), "{message}");
    assert_eq!(r.rejected("grpc", "malformed"), 2);
    r.nothing_passed();

    // The same connection type still serves a good request.
    let (code, message) = grpc_raw(r.grpc, LOGS, None, &request("ok").encode_to_vec(), &[]).await;
    assert_eq!(code, 0, "{message}");
    assert!(r.rx.recv().await.is_some());
    r.stop.cancel();
}

/// Scenario: 1 MiB of HTTP/1.1 headers, and 1 MiB of gRPC metadata.
/// Guarantees: both are refused by the servers' header limits (hyper:
/// about 400 KiB for HTTP/1.1, 16 KiB of HTTP/2 header list) and the
/// receiver keeps serving.
#[tokio::test]
async fn oversized_headers_are_refused() {
    let mut r = start().await;
    let big = "a".repeat(1 << 20);
    let sent = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/v1/logs", r.http))
        .header("content-type", "application/x-protobuf")
        .header("x-big", big.as_str())
        .body(request("x").encode_to_vec())
        .send()
        .await;
    match sent {
        Ok(resp) => assert_eq!(resp.status().as_u16(), 431),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    let (code, message) = grpc_raw(
        r.grpc,
        LOGS,
        None,
        &request("x").encode_to_vec(),
        &[("x-big", big)],
    )
    .await;
    assert_ne!(code, 0, "{message}");
    r.nothing_passed();
    let (status, message) = post(
        r.http,
        "application/x-protobuf",
        None,
        request("ok").encode_to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{message}");
    assert!(r.rx.recv().await.is_some());
    r.stop.cancel();
}

/// Scenario: three malformed JSON requests whose values hold a fake API
/// key, over HTTP, then one over gRPC and a corrupt gzip body.
/// Guarantees: the sender's answer explains the error; the log has one
/// warning per transport and reason (the other malformed requests are only
/// counted) and never contains the key.
#[tokio::test]
async fn rejections_are_logged_once_per_reason_without_content() {
    let (captured, _guard) = capture_logs();
    let mut r = start().await;
    let json = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{FAKE_KEY}"}}]}}]}}]}}"#
    );
    for _ in 0..3 {
        let (status, message) =
            post(r.http, "application/json", None, json.clone().into_bytes()).await;
        assert_eq!(status, 400);
        assert!(message.contains("invalid OTLP JSON"), "{message}");
    }
    let mut garbage = vec![0x0a, 0x40];
    garbage.extend_from_slice(FAKE_KEY.as_bytes());
    let (code, _) = grpc_raw(r.grpc, LOGS, None, &garbage, &[]).await;
    assert_eq!(code, tonic::Code::InvalidArgument as i32);
    let (status, _) = post(
        r.http,
        "application/x-protobuf",
        Some("gzip"),
        FAKE_KEY.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(r.rejected("http", "malformed"), 3);
    r.nothing_passed();
    r.stop.cancel();

    let log = captured.text();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("rejected an OTLP request"))
        .collect();
    assert_eq!(warnings.len(), 3, "{log}");
    assert!(
        warnings[0].contains("transport=\"http\"") || warnings[0].contains("transport=http"),
        "{log}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("reason=\"malformed\"") || w.contains("reason=malformed")),
        "{log}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("bad_compression")),
        "{log}"
    );
    assert!(!log.contains("HOSTILEFAKEKEY"), "{log}");
    assert!(!log.contains("sk-proj"), "{log}");
}
