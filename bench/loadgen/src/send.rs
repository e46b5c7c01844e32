//! `send`: drives an OTLP/gRPC logs endpoint with pre-encoded
//! `ExportLogsServiceRequest` batches over several HTTP/2 connections, each
//! with several requests in flight, either as fast as the server
//! acknowledges (saturation) or at a fixed record rate, and summarizes what
//! was acknowledged, rejected and failed.
//!
//! Requests are encoded once before the clock starts and the same bytes are
//! sent again and again, so the generator's cost per record is a memcpy and
//! a few syscalls; it is never the bottleneck of the collector under test.

use crate::codec::PreEncoded;
use crate::records::{encode_request, PromptKind, RecordBuilder, TARGET_RECORD_BYTES};
use anyhow::Context as _;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::client::Grpc;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

/// The gRPC method every request goes to.
const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// Pause after a failed request, so that a dead server is not spun on.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// How long to keep trying to reach the server before giving up.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// What to send, where, and how hard.
#[derive(Clone, Debug, clap::Args)]
pub struct SendArgs {
    /// `host:port` of the OTLP/gRPC server (plaintext HTTP/2).
    #[arg(long)]
    pub endpoint: String,
    /// HTTP/2 connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Requests in flight on each connection.
    #[arg(long, default_value_t = 4)]
    pub inflight: usize,
    /// Log records per request.
    #[arg(long, default_value_t = 512)]
    pub batch_size: usize,
    /// Target records per second over all connections; 0 sends as fast as
    /// the server acknowledges.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Measured time.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "15s")]
    pub duration: Duration,
    /// Unmeasured time before the measured window.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    pub warmup: Duration,
    /// Prompt text: repetitive (compressible) or random (incompressible).
    #[arg(long, value_enum, default_value_t = PromptKind::Repetitive)]
    pub prompt: PromptKind,
    /// Encoded size of one OTLP log record the prompt is sized for.
    #[arg(long, default_value_t = TARGET_RECORD_BYTES)]
    pub record_bytes: usize,
    /// Distinct pre-encoded requests, sent in turn.
    #[arg(long, default_value_t = 8)]
    pub distinct: usize,
    /// Deadline of one request.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub timeout: Duration,
    /// Seed of the random prompt text.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Counters shared by the workers.
#[derive(Default)]
struct Counters {
    requests_ok: AtomicU64,
    requests_failed: AtomicU64,
    records_sent: AtomicU64,
    records_acked: AtomicU64,
    records_rejected: AtomicU64,
    records_failed: AtomicU64,
    window_acked: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn error(&self, what: String) {
        if let Ok(mut map) = self.errors.lock() {
            *map.entry(what).or_default() += 1;
        }
    }
}

/// Hands out send times `interval` apart, shared by all workers.
struct Pacer {
    start: Instant,
    interval_ns: u64,
    next_ns: AtomicU64,
}

impl Pacer {
    /// Waits for the next send slot; false when it falls after `deadline`.
    async fn wait(&self, deadline: Instant) -> bool {
        let slot = self.next_ns.fetch_add(self.interval_ns, Ordering::Relaxed);
        let at = self.start + Duration::from_nanos(slot);
        if at >= deadline {
            return false;
        }
        tokio::time::sleep_until(at.into()).await;
        true
    }
}

/// The clock of one run.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    deadline: Instant,
}

/// Runs the load and returns the JSON summary.
pub async fn run(args: SendArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(
        args.connections > 0 && args.inflight > 0,
        "connections and inflight must be positive"
    );
    anyhow::ensure!(
        args.batch_size > 0 && args.distinct > 0,
        "batch-size and distinct must be positive"
    );
    let mut builder = RecordBuilder::new(args.prompt, args.seed, args.record_bytes);
    let batches: Arc<Vec<Bytes>> = Arc::new(
        (0..args.distinct)
            .map(|_| encode_request(builder.events(args.batch_size)))
            .collect(),
    );
    let request_bytes = batches.iter().map(Bytes::len).sum::<usize>() / batches.len();

    let mut channels = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        channels.push(connect(&args).await?);
    }

    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let window = Window {
        measure_from: start + args.warmup,
        deadline: start + args.warmup + args.duration,
    };
    let pacer = (args.rate > 0.0).then(|| {
        Arc::new(Pacer {
            start,
            interval_ns: (args.batch_size as f64 / args.rate * 1e9) as u64,
            next_ns: AtomicU64::new(0),
        })
    });
    let mut workers = Vec::new();
    for (c, channel) in channels.iter().enumerate() {
        for k in 0..args.inflight {
            workers.push(tokio::spawn(worker(
                Grpc::new(channel.clone()),
                batches.clone(),
                c * args.inflight + k,
                args.batch_size as u64,
                window,
                pacer.clone(),
                counters.clone(),
            )));
        }
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.context("worker panicked")?);
    }
    let end = Instant::now();
    let measured = end
        .saturating_duration_since(window.measure_from)
        .as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| -> Value {
        if latencies.is_empty() {
            return Value::Null;
        }
        let i = ((latencies.len() - 1) as f64 * p).round() as usize;
        json!(latencies[i] as f64 / 1000.0)
    };
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let window_acked = load(&counters.window_acked);
    let errors = counters
        .errors
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    Ok(json!({
        "endpoint": args.endpoint,
        "connections": args.connections,
        "inflight_per_connection": args.inflight,
        "batch_size": args.batch_size,
        "prompt": format!("{:?}", args.prompt).to_lowercase(),
        "prompt_chars": builder.prompt_len(),
        "request_bytes": request_bytes,
        "record_bytes": request_bytes / args.batch_size,
        "target_rate": args.rate,
        "warmup_s": args.warmup.as_secs_f64(),
        "measured_s": measured,
        "requests_ok": load(&counters.requests_ok),
        "requests_failed": load(&counters.requests_failed),
        "records_sent": load(&counters.records_sent),
        "records_acked": load(&counters.records_acked),
        "records_rejected": load(&counters.records_rejected),
        "records_failed": load(&counters.records_failed),
        "window_records_acked": window_acked,
        "acked_per_s": if measured > 0.0 { window_acked as f64 / measured } else { 0.0 },
        "latency_ms": {"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
        "errors": errors,
    }))
}

/// One HTTP/2 connection, retried until the server answers.
async fn connect(args: &SendArgs) -> anyhow::Result<Channel> {
    let endpoint = Endpoint::from_shared(format!("http://{}", args.endpoint))
        .context("bad endpoint")?
        .tcp_nodelay(true)
        .timeout(args.timeout)
        .connect_timeout(Duration::from_secs(2));
    let give_up = Instant::now() + CONNECT_PATIENCE;
    loop {
        match endpoint.connect().await {
            Ok(ch) => return Ok(ch),
            Err(_) if Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e).context(format!("connecting to {}", args.endpoint)),
        }
    }
}

/// Sends requests until the deadline; returns the latencies (microseconds)
/// of the requests that completed inside the measured window.
async fn worker(
    mut grpc: Grpc<Channel>,
    batches: Arc<Vec<Bytes>>,
    first: usize,
    batch_records: u64,
    window: Window,
    pacer: Option<Arc<Pacer>>,
    counters: Arc<Counters>,
) -> Vec<u64> {
    let path = PathAndQuery::from_static(LOGS_EXPORT);
    let mut latencies = Vec::new();
    let mut i = first;
    while Instant::now() < window.deadline {
        if let Some(p) = &pacer {
            if !p.wait(window.deadline).await {
                break;
            }
        }
        let body = batches[i % batches.len()].clone();
        i += 1;
        counters
            .records_sent
            .fetch_add(batch_records, Ordering::Relaxed);
        let sent_at = Instant::now();
        let result = match grpc.ready().await {
            Ok(()) => grpc
                .unary(tonic::Request::new(body), path.clone(), PreEncoded)
                .await
                .map_err(|s| format!("grpc {:?}", s.code())),
            Err(e) => Err(format!("transport: {e}")),
        };
        let done = Instant::now();
        match result {
            Ok(resp) => {
                let rejected = resp
                    .into_inner()
                    .partial_success
                    .map_or(0, |p| p.rejected_log_records.max(0) as u64);
                let acked = batch_records.saturating_sub(rejected);
                counters.requests_ok.fetch_add(1, Ordering::Relaxed);
                counters.records_acked.fetch_add(acked, Ordering::Relaxed);
                counters
                    .records_rejected
                    .fetch_add(rejected, Ordering::Relaxed);
                if done >= window.measure_from {
                    counters.window_acked.fetch_add(acked, Ordering::Relaxed);
                    latencies.push(done.duration_since(sent_at).as_micros() as u64);
                }
            }
            Err(what) => {
                counters.requests_failed.fetch_add(1, Ordering::Relaxed);
                counters
                    .records_failed
                    .fetch_add(batch_records, Ordering::Relaxed);
                counters.error(what);
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
    latencies
}
