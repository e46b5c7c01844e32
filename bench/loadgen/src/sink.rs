//! `sink`: a blackhole OTLP/gRPC server for logs and traces. It acknowledges
//! every export at once with an empty (full-success) response and counts
//! requests, records and bytes by walking the wire format
//! ([`crate::wire`]), so that what a collector under test delivers can be
//! measured without the sink taking CPU from it.
//!
//! Counts are printed as one JSON line on exit (SIGINT / SIGTERM) and
//! returned, as one JSON line, to every TCP connection to the control
//! address.

use crate::codec::{Counted, Counting, EmptyResponse};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{http, Body, BoxFuture, Context, Poll, Service, StdError};
use tonic::server::{NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

/// Largest request the sink accepts.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Where to listen.
#[derive(Clone, Debug, clap::Args)]
pub struct SinkArgs {
    /// `host:port` of the OTLP/gRPC server.
    #[arg(long)]
    pub listen: SocketAddr,
    /// `host:port` where each TCP connection receives the counts as JSON.
    #[arg(long)]
    pub control: Option<SocketAddr>,
}

/// Counts of one signal.
#[derive(Default)]
pub struct SignalCounts {
    requests: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
}

impl SignalCounts {
    fn add(&self, c: Counted) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(c.records, Ordering::Relaxed);
        self.bytes.fetch_add(c.bytes, Ordering::Relaxed);
    }

    fn json(&self) -> Value {
        json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "records": self.records.load(Ordering::Relaxed),
            "bytes": self.bytes.load(Ordering::Relaxed),
        })
    }
}

/// Everything the sink has counted since it started.
pub struct Counts {
    started: Instant,
    logs: SignalCounts,
    traces: SignalCounts,
}

impl Counts {
    /// Zero counts, starting the uptime clock now.
    pub fn new() -> Counts {
        Counts {
            started: Instant::now(),
            logs: SignalCounts::default(),
            traces: SignalCounts::default(),
        }
    }

    /// The counts as JSON: `{"uptime_s", "logs": {requests, records, bytes}, "traces": {...}}`.
    pub fn json(&self) -> Value {
        json!({
            "uptime_s": self.started.elapsed().as_secs_f64(),
            "logs": self.logs.json(),
            "traces": self.traces.json(),
        })
    }
}

impl Default for Counts {
    fn default() -> Counts {
        Counts::new()
    }
}

/// The signal a [`SinkService`] serves.
pub trait Signal: Send + Sync + 'static {
    /// The gRPC service name.
    const NAME: &'static str;
    /// This signal's counters.
    fn counts(counts: &Counts) -> &SignalCounts;
}

/// Logs (`LogsService`).
pub struct Logs;

/// Traces (`TraceService`).
pub struct Traces;

impl Signal for Logs {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    fn counts(counts: &Counts) -> &SignalCounts {
        &counts.logs
    }
}

impl Signal for Traces {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    fn counts(counts: &Counts) -> &SignalCounts {
        &counts.traces
    }
}

/// The counting gRPC service of one signal.
pub struct SinkService<S> {
    counts: Arc<Counts>,
    _signal: std::marker::PhantomData<fn() -> S>,
}

impl<S> Clone for SinkService<S> {
    fn clone(&self) -> Self {
        SinkService {
            counts: self.counts.clone(),
            _signal: std::marker::PhantomData,
        }
    }
}

impl<S: Signal> NamedService for SinkService<S> {
    const NAME: &'static str = S::NAME;
}

/// The `Export` method: counts and answers.
struct Export<S> {
    counts: Arc<Counts>,
    _signal: std::marker::PhantomData<fn() -> S>,
}

impl<S: Signal> UnaryService<Counted> for Export<S> {
    type Response = EmptyResponse;
    type Future = std::future::Ready<Result<Response<EmptyResponse>, Status>>;

    fn call(&mut self, request: Request<Counted>) -> Self::Future {
        S::counts(&self.counts).add(*request.get_ref());
        std::future::ready(Ok(Response::new(EmptyResponse)))
    }
}

impl<S: Signal, B> Service<http::Request<B>> for SinkService<S>
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req
            .uri()
            .path()
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(S::NAME))
            != Some("/Export")
        {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let export = Export::<S> {
            counts: self.counts.clone(),
            _signal: std::marker::PhantomData,
        };
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(Counting)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(MAX_MESSAGE_BYTES);
            Ok(grpc.unary(export, req).await)
        })
    }
}

/// Runs the sink until SIGINT or SIGTERM; returns the final counts.
pub async fn run(args: SinkArgs) -> anyhow::Result<Value> {
    let counts = Arc::new(Counts::new());
    if let Some(addr) = args.control {
        let listener = TcpListener::bind(addr).await?;
        tokio::spawn(serve_control(listener, counts.clone()));
    }
    let listener = TcpListener::bind(args.listen).await?;
    serve(listener, counts.clone(), crate::shutdown_signal()).await?;
    Ok(counts.json())
}

/// Serves the sink on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    counts: Arc<Counts>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let logs = SinkService::<Logs> {
        counts: counts.clone(),
        _signal: std::marker::PhantomData,
    };
    let traces = SinkService::<Traces> {
        counts,
        _signal: std::marker::PhantomData,
    };
    Server::builder()
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(16 << 20)
        .add_service(logs)
        .add_service(traces)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}

/// Answers every control connection with the current counts.
async fn serve_control(listener: TcpListener, counts: Arc<Counts>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let line = format!("{}\n", counts.json());
        tokio::spawn(async move {
            let _ = stream.write_all(line.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::records::PromptKind;
    use crate::send::{self, SendArgs};

    /// Scenario: the load generator sends to the sink over 2 connections with
    /// 2 requests in flight each, at a modest fixed rate.
    /// Guarantees: every request is acknowledged, and the sink counted
    /// exactly the records the generator saw acknowledged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sink_counts_what_send_sent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::new());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, counts.clone(), async {
            let _ = stopped.await;
        }));
        let summary = send::run(SendArgs {
            endpoint: addr.to_string(),
            connections: 2,
            inflight: 2,
            batch_size: 16,
            rate: 2000.0,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(0),
            prompt: PromptKind::Random,
            record_bytes: 2048,
            distinct: 2,
            timeout: Duration::from_secs(10),
            seed: 9,
        })
        .await
        .unwrap();
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        let acked = summary["records_acked"].as_u64().unwrap();
        assert!(acked > 0, "{summary}");
        assert_eq!(summary["requests_failed"], 0, "{summary}");
        assert_eq!(acked % 16, 0);
        let json = counts.json();
        assert_eq!(json["logs"]["records"], acked, "{json} vs {summary}");
        assert_eq!(json["logs"]["requests"], acked / 16);
        assert_eq!(json["traces"]["records"], 0);
    }
}
