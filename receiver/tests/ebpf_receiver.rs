//! The `ebpf` receiver as a pipeline component, on the real kernel: built
//! by its factory, started with an [`Output`] feeding a logs and a traces
//! channel, it turns a Python client's HTTPS call to a local TLS server
//! into OISP events (with the client's earlier exec and connect, kept until
//! the call made it an agent) and a GenAI span, counts its losses under
//! `oispd_receiver_ebpf_dropped_records`, and stops on cancellation.
//!
//! Needs root with BPF (as in CI), python3 and openssl. Where BPF is
//! unavailable the test FAILS with the reason, unless `OISPD_NO_BPF=1` is
//! set, which makes it skip (and say so).
//!
//! ```text
//! cargo test -p oispd-receiver --test ebpf_receiver
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use oispd_component::{
    Batch, BuildContext, ComponentId, Output, PipelineSender, ReceiverFactory, Signal, Telemetry,
};
use oispd_receiver::ebpf_receiver::EbpfFactory;
use oispd_semconv::otel::log_record_to_event;
use oispd_semconv::{EventData, OispEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(40);

/// A TLS server on 127.0.0.1 answering every request like an OpenAI chat
/// completion (prints its port first).
const SERVER: &str = r#"
import json, socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(8)
print(ls.getsockname()[1], flush=True)
body = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20}}).encode()
def serve(c):
    s = ctx.wrap_socket(c, server_side=True)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(rest) < n:
        rest += s.recv(65536)
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    s.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// A client posting one chat completion to 127.0.0.1:PORT.
const CLIENT: &str = r#"
import json, os, ssl, sys, urllib.request
ctx = ssl._create_unverified_context()
req = urllib.request.Request("https://127.0.0.1:%s/v1/chat/completions" % sys.argv[1],
    data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}).encode(),
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["TEST_KEY"]})
print(urllib.request.urlopen(req, context=ctx).read().decode())
"#;

fn events_of(batch: &Batch) -> Vec<OispEvent> {
    match batch {
        Batch::Logs(rl) => rl
            .iter()
            .flat_map(|r| r.scope_logs.iter())
            .flat_map(|s| s.log_records.iter())
            .filter_map(log_record_to_event)
            .collect(),
        Batch::Traces(_) | Batch::Metrics(_) => Vec::new(),
    }
}

/// Scenario: the receiver runs with logs and traces pipelines; a client
/// execs, connects and makes one AI call to a local TLS server; then the
/// receiver is cancelled.
/// Guarantees: the call's ai.request/ai.response carry the client's pid,
/// name and usage; its exec and connect (from before the call) and its
/// exit are reported with its pid; one span comes out on the traces side;
/// no key appears; accepted records and the loss families are in the
/// metrics; the task ends on cancellation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_turns_a_real_call_into_events_and_a_span() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());

    let telemetry = Arc::new(Telemetry::new().unwrap());
    let ctx = BuildContext {
        id: ComponentId::parse("ebpf").unwrap(),
        telemetry: telemetry.clone(),
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str("{activity: agents, batch: {max_events: 64, timeout: 2ms}}")
            .unwrap();
    let receiver = EbpfFactory.create(&ctx, &config).unwrap();
    let (logs_tx, mut logs_rx) = mpsc::channel(1024);
    let (traces_tx, mut traces_rx) = mpsc::channel(1024);
    let output = Output::new(vec![
        (
            Signal::Logs,
            PipelineSender {
                pipeline: "logs".into(),
                tx: logs_tx,
            },
        ),
        (
            Signal::Traces,
            PipelineSender {
                pipeline: "traces".into(),
                tx: traces_tx,
            },
        ),
    ]);
    let stop = CancellationToken::new();
    let handle = match receiver.start(output, stop.clone()).await {
        Ok(h) => h,
        Err(e) if std::env::var("OISPD_NO_BPF").as_deref() == Ok("1") => {
            eprintln!("SKIPPED: OISPD_NO_BPF=1 and the ebpf receiver cannot start: {e}");
            return;
        }
        Err(e) => panic!(
            "the ebpf receiver test needs root with BPF (set OISPD_NO_BPF=1 to skip it): {e}"
        ),
    };

    let mut server = Command::new("python3")
        .args(["-c", SERVER])
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port: u16 = port.trim().parse().unwrap();
    let client = Command::new("python3")
        .args(["-c", CLIENT, &port.to_string()])
        .env("TEST_KEY", "sk-proj-RUSTTESTKEY0123456789abcdefghij")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = client.id();
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success());

    let mut events: Vec<OispEvent> = Vec::new();
    let mut spans = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    let of_pid = |events: &[OispEvent], t: &str| {
        events
            .iter()
            .filter(|e| e.event_type == t && e.process.as_ref().and_then(|p| p.pid) == Some(pid))
            .cloned()
            .collect::<Vec<_>>()
    };
    while !([
        "process.exec",
        "network.connect",
        "ai.request",
        "ai.response",
        "process.exit",
    ]
    .iter()
    .all(|t| !of_pid(&events, t).is_empty())
        && spans >= 1)
    {
        tokio::select! {
            Some(e) = logs_rx.recv() => events.extend(events_of(&e.batch)),
            Some(e) = traces_rx.recv() => spans += e.batch.record_count(),
            () = tokio::time::sleep_until(deadline) => {
                let kinds: Vec<_> = events.iter().map(|e| (e.event_type.clone(), e.process.as_ref().and_then(|p| p.pid))).collect();
                panic!("timed out; client pid {pid}; spans {spans}; events {kinds:?}");
            }
        }
    }
    let _ = server.kill();
    let _ = server.wait();

    let order: Vec<String> = events
        .iter()
        .filter(|e| e.process.as_ref().and_then(|p| p.pid) == Some(pid))
        .map(|e| e.event_type.clone())
        .collect();
    let at = |t: &str| order.iter().position(|x| x == t).unwrap();
    assert!(at("process.exec") < at("ai.request"), "{order:?}");
    assert!(at("network.connect") < at("ai.request"), "{order:?}");
    let connect = &of_pid(&events, "network.connect")[0];
    let Some(EventData::NetworkConnect(c)) = &connect.data else {
        panic!()
    };
    assert_eq!(c.dest.port, Some(port));
    let req = &of_pid(&events, "ai.request")[0];
    let Some(EventData::AiRequest(r)) = &req.data else {
        panic!()
    };
    assert_eq!(
        r.model.as_ref().and_then(|m| m.id.as_deref()),
        Some("gpt-4o-mini")
    );
    assert_eq!(
        req.process.as_ref().unwrap().name.as_deref(),
        Some("python3")
    );
    assert!(req.host.as_ref().unwrap().kernel_version.is_some());
    let resp = &of_pid(&events, "ai.response")[0];
    let Some(EventData::AiResponse(r)) = &resp.data else {
        panic!()
    };
    let usage = r.usage.as_ref().unwrap();
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (Some(13), Some(7))
    );
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("RUSTTESTKEY0123456789abcdefghij"));

    stop.cancel();
    tokio::time::timeout(WAIT, handle).await.unwrap().unwrap();
    let metrics = telemetry.render();
    assert!(
        metrics.contains("oispd_receiver_ebpf_dropped_records{reason=\"ring_buffer_full_tls\",receiver=\"ebpf\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("otelcol_receiver_accepted_log_records{receiver=\"ebpf\"}"));
    assert!(metrics.contains("otelcol_receiver_accepted_spans{receiver=\"ebpf\"} "));
}
