//! The `otlp` receiver: OTLP/gRPC and OTLP/HTTP (protobuf and JSON, in the
//! content codings the collector accepts) for logs and traces, with the
//! collector's config and defaults
//! (`protocols.grpc.endpoint: localhost:4317`, `protocols.http.endpoint:
//! localhost:4318`, bound to localhost). A request is answered only once
//! every pipeline has handed its records to the exporters' sending queues
//! (`Output::send_acked`): a record acknowledged to a sender is queued (on
//! disk, with a persistent queue), and a slow exporter with a blocking queue
//! slows the senders down instead of letting requests pile up in memory.
//! A queue that refuses the records is answered with UNAVAILABLE / 503, so
//! the sender retries. Records that carry OISP events are OISP events from here on; other
//! records pass through untouched.
//!
//! The receiver is reachable by any local user while oispd runs as root, so
//! every request is bounded before it is decoded: its size as sent and
//! decompressed (`max_recv_msg_size_mib`, `max_request_body_size_mib`), the
//! zstd window, and the memory its records would take ([`budget`]).
//! Requests turned away are counted and logged without their content
//! ([`rejections`]).

mod budget;
mod decompress;
mod grpc;
mod http;
mod rejections;

use async_trait::async_trait;
use oispd_component::telemetry::{MemoryPressure, ReceiverMetrics};
use oispd_component::{
    parse_config, Batch, BuildContext, ComponentConfig, ComponentError, ComponentInfo, ConfigError,
    ConsumeError, Output, Receiver, ReceiverFactory, Signal, Stability,
};
use rejections::{Rejections, Transport};
use serde::{Deserialize, Deserializer};
use serde_yaml_ng::Value;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// `protocols.grpc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcSettings {
    /// `host:port` (default `localhost:4317`).
    pub endpoint: String,
    /// Largest request message accepted, in MiB, as sent and once
    /// decompressed (default 4).
    pub max_recv_msg_size_mib: usize,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        GrpcSettings {
            endpoint: "localhost:4317".to_string(),
            max_recv_msg_size_mib: 4,
        }
    }
}

/// `protocols.http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// `host:port` (default `localhost:4318`).
    pub endpoint: String,
    /// Path for logs (default `/v1/logs`).
    pub logs_url_path: String,
    /// Path for traces (default `/v1/traces`).
    pub traces_url_path: String,
    /// Largest request body accepted after decompression, in MiB (default 20).
    pub max_request_body_size_mib: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            endpoint: "localhost:4318".to_string(),
            logs_url_path: "/v1/logs".to_string(),
            traces_url_path: "/v1/traces".to_string(),
            max_request_body_size_mib: 20,
        }
    }
}

/// `protocols`: a protocol key present with an empty body is enabled with
/// its defaults, as in the collector.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// OTLP/gRPC.
    #[serde(deserialize_with = "enabled_with_defaults")]
    pub grpc: Option<GrpcSettings>,
    /// OTLP/HTTP.
    #[serde(deserialize_with = "enabled_with_defaults")]
    pub http: Option<HttpSettings>,
}

fn enabled_with_defaults<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// `receivers: {otlp: ...}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// Which protocols to serve.
    pub protocols: Protocols,
}

fn endpoint_problem(field: &str, endpoint: &str) -> Option<String> {
    match endpoint.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => None,
        _ => Some(format!("'{field}' must be host:port, got {endpoint:?}")),
    }
}

impl ComponentConfig for OtlpConfig {
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            problems.push(
                "must specify at least one protocol when using the OTLP receiver".to_string(),
            );
        }
        if let Some(g) = &self.protocols.grpc {
            problems.extend(endpoint_problem("protocols.grpc.endpoint", &g.endpoint));
        }
        if let Some(h) = &self.protocols.http {
            problems.extend(endpoint_problem("protocols.http.endpoint", &h.endpoint));
        }
        problems
    }
}

/// Builds `otlp` receivers.
pub struct OtlpFactory;

impl ReceiverFactory for OtlpFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            type_name: "otlp",
            aliases: &[],
            stability: Stability::Beta,
            signals: &[Signal::Logs, Signal::Traces],
            description: "OTLP/gRPC and OTLP/HTTP (protobuf, JSON; gzip, zstd, deflate, snappy, lz4) for logs and traces",
        }
    }

    fn validate(&self, config: &Value) -> Result<(), Vec<ConfigError>> {
        parse_config::<OtlpConfig>(config).map(|_| ())
    }

    fn create(
        &self,
        ctx: &BuildContext,
        config: &Value,
    ) -> Result<Box<dyn Receiver>, ComponentError> {
        let config = parse_config::<OtlpConfig>(config).map_err(crate::config_error)?;
        let id = ctx.id.to_string();
        let rejections = |transport| {
            Rejections::new(&ctx.telemetry, &id, transport)
                .map_err(|e| ComponentError::Config(format!("metrics: {e}")))
        };
        Ok(Box::new(OtlpReceiver {
            grpc_rejections: rejections(Transport::Grpc)?,
            http_rejections: rejections(Transport::Http)?,
            logs: ctx.telemetry.receiver(&id, Signal::Logs),
            traces: ctx.telemetry.receiver(&id, Signal::Traces),
            pressure: ctx.telemetry.memory_pressure(),
            id,
            config,
        }))
    }
}

struct OtlpReceiver {
    id: String,
    config: OtlpConfig,
    grpc_rejections: Rejections,
    http_rejections: Rejections,
    logs: ReceiverMetrics,
    traces: ReceiverMetrics,
    pressure: MemoryPressure,
}

/// What the protocol front ends share: the output and the counters.
#[derive(Clone)]
pub(crate) struct Intake {
    output: Output,
    logs: ReceiverMetrics,
    traces: ReceiverMetrics,
    pressure: MemoryPressure,
}

/// Why the intake did not take a request.
pub(crate) enum IntakeError {
    /// Pipelines are shutting down.
    Unavailable,
    /// A memory limiter is refusing data: the sender should retry later.
    MemoryPressure,
    /// An exporter's queue did not take the records (why).
    Refused(String),
}

impl Intake {
    /// Pushes a decoded request into the pipelines and waits until they
    /// handed it to the exporters' queues.
    pub(crate) async fn accept(&self, batch: Batch) -> Result<(), IntakeError> {
        let count = batch.record_count() as u64;
        if count == 0 {
            return Ok(());
        }
        let metrics = match batch.signal() {
            Signal::Logs => &self.logs,
            Signal::Traces => &self.traces,
            // The gRPC and HTTP services decode logs and traces only.
            Signal::Metrics => {
                return Err(IntakeError::Refused(
                    "the otlp receiver does not take metrics".into(),
                ))
            }
        };
        if self.pressure.is_refusing() {
            metrics.refused.inc_by(count);
            return Err(IntakeError::MemoryPressure);
        }
        match self.output.send_acked(batch).await {
            Ok(()) => {
                metrics.accepted.inc_by(count);
                Ok(())
            }
            Err(ConsumeError::Closed) => {
                metrics.refused.inc_by(count);
                Err(IntakeError::Unavailable)
            }
            Err(ConsumeError::Refused(why)) => {
                metrics.refused.inc_by(count);
                Err(IntakeError::Refused(why))
            }
        }
    }
}

/// Binds `endpoint` (resolving `localhost`), with an error that says what to do.
pub(crate) async fn bind(
    id: &str,
    field: &str,
    endpoint: &str,
) -> Result<TcpListener, ComponentError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(endpoint)
        .await
        .map_err(|e| {
            ComponentError::Environment(format!(
                "cannot resolve {endpoint}: {e}; check receivers::{id}::{field}"
            ))
        })?
        .collect();
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| {
            ComponentError::Environment(format!(
                "{endpoint} resolves to no address; check receivers::{id}::{field}"
            ))
        })?;
    TcpListener::bind(addr).await.map_err(|e| {
        ComponentError::Environment(format!(
            "cannot listen on {endpoint} ({addr}): {e}; stop whatever uses the port or change receivers::{id}::{field}"
        ))
    })
}

#[async_trait]
impl Receiver for OtlpReceiver {
    async fn start(
        self: Box<Self>,
        output: Output,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, ComponentError> {
        let OtlpReceiver {
            id,
            config,
            grpc_rejections,
            http_rejections,
            logs,
            traces,
            pressure,
        } = *self;
        let intake = Intake {
            output,
            logs,
            traces,
            pressure,
        };
        let mut servers = Vec::new();
        if let Some(g) = config.protocols.grpc {
            let listener = bind(&id, "protocols::grpc::endpoint", &g.endpoint).await?;
            tracing::info!(receiver = %id, endpoint = %g.endpoint, "OTLP/gRPC listening");
            servers.push(grpc::serve(
                listener,
                g,
                intake.clone(),
                grpc_rejections,
                shutdown.clone(),
            ));
        }
        if let Some(h) = config.protocols.http {
            let listener = bind(&id, "protocols::http::endpoint", &h.endpoint).await?;
            tracing::info!(receiver = %id, endpoint = %h.endpoint, "OTLP/HTTP listening");
            servers.push(http::serve(
                listener,
                h,
                intake.clone(),
                http_rejections,
                shutdown.clone(),
            ));
        }
        drop(intake);
        Ok(tokio::spawn(async move {
            for s in servers {
                let _ = s.await;
            }
        }))
    }
}
