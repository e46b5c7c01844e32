//! The file exporter end to end on real files: formats, rotation, append,
//! flushing, failures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::config::FileConfig;
use super::exporter::FileExporter;
use super::writer::backups;
use crate::helper::testing::{logs, metrics, spans};
use crate::testing::{oisp_batch, spec_examples};
use oispd_component::{parse_config, Batch, ExportError, Exporter};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use prost::Message;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn config(yaml: &str) -> FileConfig {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    parse_config(&v).unwrap()
}

async fn started(yaml: &str) -> FileExporter {
    let mut e = FileExporter::new(config(yaml));
    e.start().await.unwrap();
    e
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Scenario: the spec's example events go through the exporter in
/// `oisp_jsonl`.
/// Guarantees: one line per event, each exactly the original OISP JSON.
#[tokio::test]
async fn oisp_jsonl_writes_each_event_as_its_oisp_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let mut e = started(&format!(
        "path: {}\nformat: oisp_jsonl\nflush_interval: 0s",
        path.display()
    ))
    .await;
    let examples = spec_examples();
    e.export(oisp_batch(&examples)).await.unwrap();
    e.shutdown().await.unwrap();
    let mut got = read_lines(&path);
    let mut want = examples.clone();
    let id = |v: &Value| v["event_id"].as_str().unwrap().to_string();
    got.sort_by_key(id);
    want.sort_by_key(id);
    assert_eq!(got, want);
}

/// Scenario: a log record without an OISP event, spans and metrics, in
/// `oisp_jsonl`.
/// Guarantees: the record becomes a generic object with its body; each
/// span becomes one OTLP/JSON line with hex ids, each metric one line.
#[tokio::test]
async fn oisp_jsonl_writes_generic_records_and_spans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let mut e = started(&format!(
        "path: {}\nformat: oisp_jsonl\nflush_interval: 0s",
        path.display()
    ))
    .await;
    let mut batch = logs(1);
    if let Batch::Logs(rl) = &mut batch {
        rl[0].scope_logs[0].log_records[0].body = Some(AnyValue {
            value: Some(any_value::Value::StringValue("hello\nworld".into())),
        });
    }
    e.export(batch).await.unwrap();
    let mut s = spans(2);
    if let Batch::Traces(rs) = &mut s {
        rs[0].scope_spans[0].spans[0].trace_id = vec![0x0f; 16];
    }
    e.export(s).await.unwrap();
    e.export(metrics(2)).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    let lines = read_lines(&path);
    assert_eq!(lines[0]["body"], "hello\nworld");
    assert_eq!(lines[0]["resource"]["host.name"], "h");
    assert_eq!(lines[1]["traceId"], "0f".repeat(16));
    assert_eq!(
        (&lines[3]["name"], &lines[4]["name"]),
        (&"g0".into(), &"g1".into())
    );
}

/// Scenario: no `format` (the collector's default, `json`), a logs batch,
/// an OISP batch, a traces batch and a metrics batch.
/// Guarantees: one OTLP/JSON `Export*ServiceRequest` per line (camelCase,
/// string int64), each decoding to exactly the batch exported.
#[tokio::test]
async fn json_is_the_default_one_request_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otlp.json");
    let mut e = started(&format!("path: {}\nflush_interval: 0s", path.display())).await;
    let batches = [
        logs(3),
        oisp_batch(&spec_examples()[..2]),
        spans(2),
        metrics(2),
    ];
    for b in &batches {
        e.export(b.clone()).await.unwrap();
    }
    e.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("{\"resourceLogs\":[{"), "{}", lines[0]);
    assert!(lines[0].contains("\"timeUnixNano\":\"2\""), "{}", lines[0]);
    for (line, batch) in lines.iter().zip(&batches) {
        match batch {
            Batch::Logs(rl) => {
                let req: ExportLogsServiceRequest = serde_json::from_str(line).unwrap();
                assert_eq!(&req.resource_logs, rl);
            }
            Batch::Traces(rs) => {
                let req: ExportTraceServiceRequest = serde_json::from_str(line).unwrap();
                assert_eq!(&req.resource_spans, rs);
            }
            Batch::Metrics(rm) => {
                let req: ExportMetricsServiceRequest = serde_json::from_str(line).unwrap();
                assert_eq!(&req.resource_metrics, rm);
            }
        }
    }
}

/// The protobuf requests of a `proto` file: read a big-endian u32 length,
/// then that many bytes, as the collector's documentation says to.
fn read_frames(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut rest = bytes.as_slice();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_at(4);
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        let (frame, tail) = tail.split_at(len);
        out.push(frame.to_vec());
        rest = tail;
    }
    out
}

/// Scenario: `format: proto` with a logs batch, an OISP batch, a traces
/// batch and a metrics batch.
/// Guarantees: the file is exactly four length-prefixed frames, each the
/// protobuf `Export*ServiceRequest` of one batch.
#[tokio::test]
async fn proto_writes_length_prefixed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otlp.binpb");
    let mut e = started(&format!(
        "path: {}\nformat: proto\nflush_interval: 0s",
        path.display()
    ))
    .await;
    let batches = [
        logs(3),
        oisp_batch(&spec_examples()[..2]),
        spans(2),
        metrics(2),
    ];
    for b in &batches {
        e.export(b.clone()).await.unwrap();
    }
    e.shutdown().await.unwrap();
    let frames = read_frames(&path);
    assert_eq!(frames.len(), 4);
    for (frame, batch) in frames.iter().zip(&batches) {
        match batch {
            Batch::Logs(rl) => {
                let req = ExportLogsServiceRequest::decode(frame.as_slice()).unwrap();
                assert_eq!(&req.resource_logs, rl);
            }
            Batch::Traces(rs) => {
                let req = ExportTraceServiceRequest::decode(frame.as_slice()).unwrap();
                assert_eq!(&req.resource_spans, rs);
            }
            Batch::Metrics(rm) => {
                let req = ExportMetricsServiceRequest::decode(frame.as_slice()).unwrap();
                assert_eq!(&req.resource_metrics, rm);
            }
        }
    }
}

fn event_with_id(base: &Value, i: usize) -> Value {
    let mut e = base.clone();
    e["event_id"] = Value::String(format!("01JROTATION{i:015}"));
    e
}

async fn write_many(yaml: &str, count: usize) {
    let base = spec_examples()
        .into_iter()
        .find(|e| e["event_type"] == "ai.request")
        .unwrap();
    let mut e = started(yaml).await;
    let events: Vec<Value> = (0..count).map(|i| event_with_id(&base, i)).collect();
    for chunk in events.chunks(100) {
        e.export(oisp_batch(chunk)).await.unwrap();
    }
    e.shutdown().await.unwrap();
}

fn ids_in(path: &Path) -> (Vec<u64>, usize) {
    let mut files = backups(path).unwrap();
    let n_backups = files.len();
    files.push(path.to_path_buf());
    let mut ids = Vec::new();
    for f in files {
        assert!(std::fs::metadata(&f).unwrap().len() <= 1024 * 1024);
        for line in read_lines(&f) {
            let id = line["event_id"].as_str().unwrap();
            ids.push(id[id.len() - 15..].parse().unwrap());
        }
    }
    (ids, n_backups)
}

/// Scenario: ~3.5 MB of events with rotation at 1 MiB and room for 10 backups.
/// Guarantees: every file <= 1 MiB of whole lines; every event exactly once,
/// in order, over all files.
#[tokio::test]
async fn rotation_loses_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    write_many(
        &format!(
            "path: {}\nformat: oisp_jsonl\nrotation: {{max_megabytes: 1, max_backups: 10}}",
            path.display()
        ),
        1500,
    )
    .await;
    let (ids, n_backups) = ids_in(&path);
    assert!(n_backups >= 2, "{n_backups}");
    assert_eq!(ids, (0..1500).collect::<Vec<u64>>());
}

/// Scenario: more rotations than max_backups: 2.
/// Guarantees: exactly 2 backups remain and the newest events are all
/// there in one contiguous run.
#[tokio::test]
async fn rotation_keeps_max_backups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    write_many(
        &format!(
            "path: {}\nformat: oisp_jsonl\nflush_interval: 0s\nrotation: {{max_megabytes: 1, max_backups: 2}}",
            path.display()
        ),
        3000,
    )
    .await;
    let (ids, n_backups) = ids_in(&path);
    assert_eq!(n_backups, 2);
    let first = ids[0];
    assert!(first > 0);
    assert_eq!(ids, (first..3000).collect::<Vec<u64>>());
}

/// Scenario: two runs on one path without `append`, two with `append:
/// true`, then one with `append: false`.
/// Guarantees: as in the collector, a start truncates the file unless
/// `append` is true: the default keeps only the last run's lines, append
/// keeps every run's.
#[tokio::test]
async fn truncates_by_default_appends_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    let run = |extra: &'static str| {
        let path = path.clone();
        async move {
            let mut e = started(&format!("path: {}{extra}", path.display())).await;
            e.export(logs(1)).await.unwrap();
            e.shutdown().await.unwrap();
        }
    };
    run("").await;
    run("").await;
    assert_eq!(read_lines(&path).len(), 1);
    run("\nappend: true").await;
    run("\nappend: true").await;
    assert_eq!(read_lines(&path).len(), 3);
    run("\nappend: false").await;
    assert_eq!(read_lines(&path).len(), 1);
}

/// Scenario: flush_interval 0, 1h, and 20ms.
/// Guarantees: 0 writes before export returns; 1h holds lines until
/// shutdown, which writes them; 20ms writes them without shutdown.
#[tokio::test]
async fn flush_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let now = dir.path().join("now.jsonl");
    let mut e = started(&format!(
        "path: {}\nformat: oisp_jsonl\nflush_interval: 0s",
        now.display()
    ))
    .await;
    e.export(logs(2)).await.unwrap();
    assert_eq!(read_lines(&now).len(), 2);

    let held = dir.path().join("held.jsonl");
    let mut e = started(&format!(
        "path: {}\nformat: oisp_jsonl\nflush_interval: 1h",
        held.display()
    ))
    .await;
    e.export(logs(2)).await.unwrap();
    assert_eq!(read_lines(&held).len(), 0);
    e.shutdown().await.unwrap();
    assert_eq!(read_lines(&held).len(), 2);

    let ticked = dir.path().join("ticked.jsonl");
    let mut e = started(&format!(
        "path: {}\nformat: oisp_jsonl\nflush_interval: 20ms",
        ticked.display()
    ))
    .await;
    e.export(logs(3)).await.unwrap();
    for _ in 0..250 {
        if read_lines(&ticked).len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(read_lines(&ticked).len(), 3);
}

/// Scenario: the path is a directory; the parent is missing, with no
/// `create_directory` (the collector's default, false), then with
/// `create_directory: true`.
/// Guarantees: start fails with one line naming the path and what to do;
/// only `create_directory: true` creates the directories.
#[tokio::test]
async fn start_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = FileExporter::new(config(&format!("path: {}", dir.path().display())));
    let msg = e.start().await.unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("cannot open {}: ", dir.path().display())),
        "{msg}"
    );
    let missing = dir.path().join("no/such/dir/x.jsonl");
    let mut e = FileExporter::new(config(&format!("path: {}", missing.display())));
    let msg = e.start().await.unwrap_err().to_string();
    assert!(msg.contains("No such file or directory"), "{msg}");
    assert!(msg.contains("create_directory: true"), "{msg}");
    assert!(!msg.contains('\n'));
    assert!(!dir.path().join("no").exists());
    let mut e = started(&format!(
        "path: {}\ncreate_directory: true",
        missing.display()
    ))
    .await;
    e.shutdown().await.unwrap();
    assert!(missing.exists());
}

/// Scenario: the device is full (/dev/full) with write-through.
/// Guarantees: the export fails as retryable, naming the path.
#[tokio::test]
async fn disk_full_is_retryable() {
    let mut e = started("path: /dev/full\nflush_interval: 0s\ncreate_directory: false").await;
    match e.export(logs(1)).await {
        Err(ExportError::Retryable { message, .. }) => {
            assert!(message.starts_with("cannot write /dev/full: "), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
