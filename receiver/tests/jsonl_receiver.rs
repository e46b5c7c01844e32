//! The `jsonl` receiver in-process: replay to the end, malformed lines
//! counted, follow mode picking up appended lines and a rotated file.

mod log_support;

use log_support::capture_logs;
use oispd_component::{
    Batch, BuildContext, ComponentId, Envelope, Output, PipelineSender, ReceiverFactory, Signal,
    Telemetry,
};
use oispd_receiver::jsonl::JsonlFactory;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn event(id: &str) -> String {
    format!(
        r#"{{"oisp_version":"0.1","event_id":"{id}","event_type":"process.exec","ts":"2025-12-22T14:30:16.345678Z","source":{{"collector":"test"}},"confidence":{{"level":"high","completeness":"full"}},"process":{{"pid":42}},"data":{{"exe":"/bin/sh"}}}}"#
    )
}

fn ids(batch: &Batch) -> Vec<String> {
    let Batch::Logs(rl) = batch else {
        panic!("not logs")
    };
    rl.iter()
        .flat_map(|r| r.scope_logs.iter())
        .flat_map(|s| s.log_records.iter())
        .filter_map(oispd_semconv::otel::log_record_event_json)
        .map(|v| v["event_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn start(
    path: &Path,
    extra: &str,
) -> (
    mpsc::Receiver<Envelope>,
    CancellationToken,
    Arc<Telemetry>,
    tokio::task::JoinHandle<()>,
) {
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&format!("{{path: '{}', {extra}}}", path.display()))
            .unwrap_or_else(|e| panic!("{e}"));
    let telemetry = Arc::new(Telemetry::new().unwrap_or_else(|e| panic!("{e}")));
    let ctx = BuildContext {
        id: ComponentId::parse("jsonl").unwrap_or_else(|e| panic!("{e}")),
        telemetry: telemetry.clone(),
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let receiver = JsonlFactory
        .create(&ctx, &config)
        .unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = mpsc::channel(64);
    let output = Output::new(vec![(
        Signal::Logs,
        PipelineSender {
            pipeline: "logs".into(),
            tx,
        },
    )]);
    let stop = CancellationToken::new();
    let handle = receiver
        .start(output, stop.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (rx, stop, telemetry, handle)
}

async fn collect(rx: &mut mpsc::Receiver<Envelope>, want: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < want {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(e)) => got.extend(ids(&e.batch)),
            _ => break,
        }
    }
    got
}

/// Scenario: a finite replay with one malformed line and no final newline.
/// Guarantees: every valid event arrives in order, the bad line is counted,
/// and the receiver finishes on its own.
#[tokio::test]
async fn replay_reads_to_the_end_and_counts_malformed_lines() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, format!("{}\n{{oops\n\n{}", event("e1"), event("e2")))
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut rx, _stop, telemetry, handle) = start(&path, "follow: false").await;
    tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .unwrap_or_else(|_| panic!("replay did not finish"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(collect(&mut rx, 2).await, vec!["e1", "e2"]);
    let metrics = telemetry.render();
    assert!(
        metrics.contains("oispd_receiver_malformed_records{receiver=\"jsonl\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("otelcol_receiver_accepted_log_records{receiver=\"jsonl\"} 2"));
}

/// Scenario: follow mode; lines are appended, then the file is rotated
/// (renamed and recreated). Guarantees: appended and new-file lines arrive.
#[tokio::test]
async fn follow_sees_appends_and_rotation() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, format!("{}\n", event("a1"))).unwrap_or_else(|e| panic!("{e}"));
    let (mut rx, stop, _t, handle) = start(&path, "follow: true, poll_interval: 10ms").await;
    assert_eq!(collect(&mut rx, 1).await, vec!["a1"]);

    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{e}"));
    // A line written in two pieces is read once, whole.
    let line = format!("{}\n", event("a2"));
    let (first, second) = line.split_at(40);
    f.write_all(first.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    f.flush().unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    f.write_all(second.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    drop(f);
    assert_eq!(collect(&mut rx, 1).await, vec!["a2"]);

    std::fs::rename(&path, dir.path().join("in.jsonl.1")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, format!("{}\n", event("b1"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(collect(&mut rx, 1).await, vec!["b1"]);

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .unwrap_or_else(|_| panic!("receiver did not stop"))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Scenario: the file does not exist. Guarantees: start fails naming the path.
#[tokio::test]
async fn missing_file_is_a_start_error() {
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str("{path: /nonexistent/in.jsonl}").unwrap_or_else(|e| panic!("{e}"));
    let ctx = BuildContext {
        id: ComponentId::parse("jsonl").unwrap_or_else(|e| panic!("{e}")),
        telemetry: Arc::new(Telemetry::new().unwrap_or_else(|e| panic!("{e}"))),
        admin_routes: Default::default(),
        redaction_key: oispd_component::RedactionKey::from_bytes([7; 32]),
    };
    let receiver = JsonlFactory
        .create(&ctx, &config)
        .unwrap_or_else(|e| panic!("{e}"));
    match receiver
        .start(Output::default(), CancellationToken::new())
        .await
    {
        Ok(_) => panic!("started without a file"),
        Err(e) => assert!(e.to_string().contains("/nonexistent/in.jsonl"), "{e}"),
    }
}

/// Scenario: a replay of one valid event and lines that are not OISP v0.1
/// events: no `data`, an unknown `event_type`, an unparsable `ts`, a fake
/// API key where a number belongs, a fake key as an unknown top-level
/// property, a key as a bare JSON string, and broken JSON around a key.
/// Guarantees: only the valid event is exported; each other line is
/// counted in oispd_receiver_malformed_records and logged with its line
/// number and what is wrong, and no log line contains the key.
#[tokio::test]
async fn events_against_the_schema_are_rejected_without_quoting_them() {
    const KEY: &str = "sk-proj-JSONLFAKEKEY0123456789abcdef";
    let (captured, _guard) = capture_logs();

    let good: serde_json::Value =
        serde_json::from_str(&event("ok")).unwrap_or_else(|e| panic!("{e}"));
    let variant = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let lines = [
        event("ok"),
        variant(&|v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("data");
            }
        }),
        variant(&|v| v["event_type"] = KEY.into()),
        variant(&|v| v["ts"] = KEY.into()),
        variant(&|v| v["process"]["pid"] = KEY.into()),
        variant(&|v| v[KEY] = KEY.into()),
        format!("\"{KEY}\""),
        format!("{{\"event_id\": {KEY}}}"),
    ];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let (mut rx, _stop, telemetry, handle) = start(&path, "follow: false").await;
    tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .unwrap_or_else(|_| panic!("replay did not finish"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(collect(&mut rx, 1).await, vec!["ok"]);
    let metrics = telemetry.render();
    assert!(
        metrics.contains("oispd_receiver_malformed_records{receiver=\"jsonl\"} 7"),
        "{metrics}"
    );

    let log = captured.text();
    for (line, what) in [
        (2, "/data: missing"),
        (3, "/event_type: not an OISP v0.1 event type"),
        (4, "/ts: fails the schema's \"format\" rule"),
        (5, "/process/pid: fails the schema's \"type\" rule"),
        (6, "/: fails the schema's \"additionalProperties\" rule"),
        (7, "/: not a JSON object"),
        (8, "not JSON at column"),
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("line={line} ")) && l.contains(what)),
            "line {line} ({what}):\n{log}"
        );
    }
    assert!(!log.contains("JSONLFAKEKEY"), "{log}");
    assert!(!log.contains("sk-proj"), "{log}");
}
