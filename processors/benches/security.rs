//! Redaction and the sentinel's detectors on a realistic OISP record: an
//! `ai.request` from a coding agent whose body (system prompt, user
//! message with code and prose, tool definitions, envelope) is about 2 KB,
//! as the capture receiver emits it through `oispd-semconv`'s mapping.
//!
//! - `redaction/*`: the always-on redactor on the clean request (the common
//!   case: nothing to replace), on the same request with a fake AWS key
//!   pasted in, with PII masking, and with the public gitleaks rules loaded
//!   (`tests/data/gitleaks/gitleaks.toml`);
//! - `sentinel/all` and `sentinel/SEC-NN`: every detector, then each alone;
//! - `pipeline/*`: a batch of 100 such records through the sentinel
//!   processor and the always-on redactor, against one deep copy of the
//!   batch (the yardstick for "touching every record once").
//!
//! Throughput is in records; building the records and cloning them for the
//! in-place redaction happen in untimed setup (`iter_batched`). Noise:
//! 3 s measurement, 100 samples, 1 s warm-up. Run with
//! `cargo bench -p oispd-processors --bench security`.

#![allow(clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use oispd_component::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use oispd_component::{Batch, Processor};
use oispd_processors::audit::AuditLog;
use oispd_processors::redaction::{
    always_on_redactor, gitleaks, PiiConfig, RedactionConfig, RedactionKey, Redactor,
};
use oispd_processors::sentinel::{
    DetectorConfig, DetectorId, Sentinel, SentinelConfig, SentinelProcessor,
};
use oispd_semconv::otel::json_to_any_value;
use serde_json::json;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fixed redaction key (the binary loads one from its state directory).
const KEY: RedactionKey = RedactionKey::from_bytes([0x42; 32]);

const SYSTEM: &str = "You are a senior software engineer helping with a Python web service. \
Answer concisely, show code in fenced blocks, and explain trade-offs. Prefer the standard library. \
When you call tools, explain why. Never run destructive commands without asking.";

const USER: &str = "Our FastAPI service started returning 502s after the last deploy. Here is the handler:\n\n\
```python\n@app.post(\"/orders\")\nasync def create_order(order: OrderIn, db: Session = Depends(get_db)):\n    \
customer = db.get(Customer, order.customer_id)\n    if customer is None:\n        raise HTTPException(status_code=404)\n    \
total = sum(item.price * item.quantity for item in order.items)\n    record = Order(customer_id=customer.id, total=total)\n    \
db.add(record)\n    await notify(customer.email_address, record.id)\n    db.commit()\n    return {\"id\": record.id, \"total\": total}\n```\n\n\
The logs show `asyncio.TimeoutError` in notify() roughly every tenth request, and the load balancer gives up after 30 seconds. \
We run four uvicorn workers behind nginx on two VMs; the notification service is a separate container that sends e-mail through a \
queue. I think the problem is that we await the notification inside the request, but I am not sure whether moving it to a \
background task is safe, because we need the commit to happen before the e-mail goes out, and if the worker restarts we could lose \
the notification. What is the cleanest way to restructure this so the request returns quickly, the order is always committed \
first, and notifications are retried if they fail? Please also suggest how to add a timeout and a metric for the notification call, \
and whether we should switch to an outbox table. Keep the answer focused on this handler; the rest of the service is fine.";

fn request(user: &str) -> LogRecord {
    let body = json!({
        "oisp_version": "0.1",
        "event_id": "01JFWK8X4J5K6L7M8N9O0P1Q2R",
        "event_type": "ai.request",
        "ts": "2025-12-22T14:30:16.345678Z",
        "host": {"hostname": "dev-laptop", "os": "linux", "arch": "x86_64"},
        "actor": {"uid": 1000, "user": "alice"},
        "process": {"pid": 12345, "ppid": 1234, "exe": "/usr/bin/node", "name": "node"},
        "source": {"collector": "oispd", "collector_version": "0.1.0", "capture_method": "ebpf_uprobe", "capture_point": "ssl_write"},
        "confidence": {"level": "high", "completeness": "full", "content_source": "tls_boundary"},
        "data": {
            "request_id": "req_01JFWK8X4J5K6L7M",
            "provider": {"name": "openai", "endpoint": "https://api.openai.com/v1/chat/completions"},
            "model": {"id": "gpt-4o", "family": "gpt-4o"},
            "auth": {"type": "api_key", "key_prefix": "sk-proj-"},
            "request_type": "chat",
            "streaming": true,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": user}
            ],
            "messages_count": 2,
            "tools": [{"name": "read_file", "type": "function"}, {"name": "run_tests", "type": "function"}],
            "parameters": {"temperature": 0.2, "max_tokens": 2048}
        }
    });
    LogRecord {
        time_unix_nano: 1_766_413_816_345_678_000,
        body: Some(json_to_any_value(&body)),
        event_name: "ai.request".into(),
        ..Default::default()
    }
}

fn with_secret() -> LogRecord {
    request(&format!(
        "{USER}\n\nAlso boto3 fails with aws_access_key_id=AKIAQ3EGUNXZ7RBLKM4T aws_secret_access_key=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"
    ))
}

fn batch_of(rec: &LogRecord, n: usize) -> Batch {
    Batch::Logs(vec![ResourceLogs {
        scope_logs: vec![ScopeLogs {
            log_records: vec![rec.clone(); n],
            ..Default::default()
        }],
        ..Default::default()
    }])
}

fn only(id: DetectorId) -> SentinelConfig {
    let mut cfg = SentinelConfig {
        allowed_providers: vec!["anthropic".into()],
        ..Default::default()
    };
    for d in DetectorId::ALL {
        cfg.detectors.insert(
            d.code().to_string(),
            DetectorConfig {
                enabled: d == id,
                ..Default::default()
            },
        );
    }
    cfg
}

fn redaction(c: &mut Criterion) {
    let clean = request(USER);
    let secret = with_secret();
    let mut g = c.benchmark_group("redaction");
    g.throughput(Throughput::Elements(1));
    let always = always_on_redactor(&KEY).expect("built-in rules compile");
    g.bench_function("always_on/clean_2kb", |b| {
        b.iter_batched_ref(
            || clean.clone(),
            |r| always.redact_log_record(black_box(r)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("always_on/aws_key_2kb", |b| {
        b.iter_batched_ref(
            || secret.clone(),
            |r| always.redact_log_record(black_box(r)),
            BatchSize::SmallInput,
        )
    });
    let pii = Redactor::new(&RedactionConfig::default(), &KEY).expect("redactor");
    g.bench_function("default_pii/clean_2kb", |b| {
        b.iter_batched_ref(
            || clean.clone(),
            |r| pii.redact_log_record(black_box(r)),
            BatchSize::SmallInput,
        )
    });
    let public =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/gitleaks/gitleaks.toml");
    if let Ok(rules) = gitleaks::load(&public) {
        let all = Redactor::with_rules(Some(rules), PiiConfig::OFF, &KEY).expect("redactor");
        g.bench_function("gitleaks_rules/clean_2kb", |b| {
            b.iter_batched_ref(
                || clean.clone(),
                |r| all.redact_log_record(black_box(r)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn sentinel(c: &mut Criterion) {
    let clean = request(USER);
    let mut g = c.benchmark_group("sentinel");
    g.throughput(Throughput::Elements(1));
    let mut all = Sentinel::new(
        &SentinelConfig {
            allowed_providers: vec!["anthropic".into()],
            ..Default::default()
        },
        &KEY,
    )
    .expect("sentinel");
    g.bench_function("all/clean_2kb", |b| {
        b.iter(|| all.inspect(black_box(&clean)))
    });
    for id in DetectorId::ALL {
        let mut s = Sentinel::new(&only(id), &KEY).expect("sentinel");
        g.bench_function(format!("{}/clean_2kb", id.code()), |b| {
            b.iter(|| s.inspect(black_box(&clean)))
        });
    }
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    const N: usize = 100;
    let input = batch_of(&request(USER), N);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("clone_batch", |b| b.iter(|| black_box(&input).clone()));
    let redactor = always_on_redactor(&KEY).expect("redactor");
    let mut sentinel = SentinelProcessor::new(
        Sentinel::new(&SentinelConfig::default(), &KEY).expect("sentinel"),
        Arc::new(Mutex::new(AuditLog::in_memory())),
        None,
    );
    g.bench_function("sentinel+redaction", |b| {
        b.iter_batched(
            || input.clone(),
            |batch| {
                let mut out = sentinel.process(batch).expect("batch");
                redactor.redact_batch(&mut out);
                out
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(100);
    targets = redaction, sentinel, pipeline
}
criterion_main!(benches);
