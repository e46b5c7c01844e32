//! Encoding cost of one 1000-record batch of OISP `ai.request` events, the
//! exporters' per-batch CPU work before any I/O:
//!
//! - `oisp_jsonl`: the file exporter's OISP JSONL format (each record's OISP
//!   JSON rebuilt from the OTel log record, one line each);
//! - `otlp_json`: one OTLP/JSON request line (file `json`, the default;
//!   `otlp_http` with `encoding: json`);
//! - `otlp_proto`: the protobuf `ExportLogsServiceRequest` that
//!   `otlp_grpc` and `otlp_http` send;
//! - `otlp_proto_gzip`: the same, gzip-compressed as by default on the wire;
//! - `batch_clone`: what copying a batch costs, the copy the helper spares
//!   exporters that implement `export_ref`.
//!
//! Encoders read the batch by reference; output buffers are dropped
//! outside the timing. Throughput is in records. Run: `cargo bench -p oispd-exporters --bench encode`. Reads the
//! spec example from `$OISP_SPEC_DIR` or `spec/oisp-spec` (the copy in this repository).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use oispd_component::Batch;
use oispd_exporters::file::config::Format;
use oispd_exporters::file::encode::encode_records;
use oispd_exporters::otlp::encode::request_proto;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

const RECORDS: usize = 1000;

fn batch() -> Batch {
    let dir = match std::env::var_os("OISP_SPEC_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/oisp-spec"),
    };
    let path = dir.join("examples/ai-request-openai.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set OISP_SPEC_DIR)", path.display()));
    let base: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = (0..RECORDS)
        .map(|i| {
            let mut e = base.clone();
            e["event_id"] = serde_json::Value::String(format!("01JBENCH{i:018}"));
            oispd_semconv::OispEvent::from_value(e).unwrap()
        })
        .collect();
    Batch::Logs(oispd_semconv::otel::events_to_resource_logs(events))
}

fn encode(c: &mut Criterion) {
    let template = batch();
    let mut group = c.benchmark_group("encode_1000_records");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(5));
    for (name, format) in [
        ("oisp_jsonl", Format::OispJsonl),
        ("otlp_json", Format::Json),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || Vec::with_capacity(4 << 20),
                |mut out| {
                    encode_records(&template, format, &mut out).unwrap();
                    out
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.bench_function("otlp_proto", |b| b.iter(|| request_proto(&template)));
    group.bench_function("otlp_proto_gzip", |b| {
        b.iter(|| {
            let body = request_proto(&template);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&body).unwrap();
            gz.finish().unwrap()
        })
    });
    group.bench_function("batch_clone", |b| {
        b.iter_batched(|| (), |()| template.clone(), BatchSize::LargeInput)
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
