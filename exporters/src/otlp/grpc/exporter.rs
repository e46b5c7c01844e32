//! The `otlp_grpc` exporter: OTLP over gRPC with tonic on one lazily
//! connected channel, calling `LogsService/Export`, `TraceService/Export`
//! and `MetricsService/Export`.
//! Requests are encoded straight from the borrowed batch
//! ([`request_proto`]) and sent through a pass-through codec, so the helper
//! never copies a batch to retry it. TLS goes through our own rustls
//! connector so that every `tls` option (custom CA, client certificates,
//! `insecure_skip_verify`) is honoured.

use super::config::{OtlpGrpcConfig, Target};
use crate::otlp::encode::request_proto;
use crate::otlp::{
    error_chain, partial_success, spawn_reachability_probe, warning_limiter, Compression,
    SharedLogLimiter,
};
use async_trait::async_trait;
use bytes::{BufMut, Bytes};
use hyper_util::rt::TokioIo;
use oispd_component::telemetry::ExporterHealth;
use oispd_component::{Batch, ComponentError, ConcurrentExport, ExportError, Exporter, Signal};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use std::marker::PhantomData;
use std::sync::Arc;
use tonic::client::Grpc;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// gRPC method of the logs service.
const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
/// gRPC method of the trace service.
const TRACES_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// gRPC method of the metrics service.
const METRICS_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// The largest answer decoded, after decompression: grpc-go's default
/// receive limit, which the collector's exporters keep. An OTLP answer is a
/// few bytes; a hostile or broken server's compressed 16 MiB one is refused
/// by tonic before it is inflated past this.
const MAX_RESPONSE_MESSAGE: usize = 4 * 1024 * 1024;

/// Sends already encoded request bytes and decodes the response as `R`.
struct PassThroughCodec<R>(PhantomData<R>);

impl<R> Default for PassThroughCodec<R> {
    fn default() -> Self {
        PassThroughCodec(PhantomData)
    }
}

struct BytesEncoder;

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

struct ProstDecoder<R>(PhantomData<R>);

impl<R: Message + Default> Decoder for ProstDecoder<R> {
    type Item = R;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, Status> {
        R::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("undecodable response: {e}")))
    }
}

impl<R: Message + Default + Send + 'static> Codec for PassThroughCodec<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = BytesEncoder;
    type Decoder = ProstDecoder<R>;

    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> ProstDecoder<R> {
        ProstDecoder(PhantomData)
    }
}

/// Sends batches to an OTLP/gRPC server. Clones share the channel, which
/// multiplexes concurrent requests over HTTP/2, so the helper sends through
/// a clone from several tasks at once.
#[derive(Clone)]
pub struct OtlpGrpcExporter {
    id: String,
    config: OtlpGrpcConfig,
    target: Target,
    metadata: MetadataMap,
    health: Arc<ExporterHealth>,
    grpc: Option<Grpc<Channel>>,
    warnings: SharedLogLimiter,
}

impl OtlpGrpcExporter {
    /// An exporter for `config` (already validated), reporting as `id`.
    pub fn new(
        id: String,
        config: OtlpGrpcConfig,
        health: Arc<ExporterHealth>,
    ) -> Result<OtlpGrpcExporter, ComponentError> {
        let target = config.target().map_err(ComponentError::Config)?;
        let mut metadata = MetadataMap::new();
        for (name, value) in &config.headers {
            let key = AsciiMetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(
                |_| ComponentError::Config(format!("'headers' has an invalid name {name:?}")),
            )?;
            let value = AsciiMetadataValue::try_from(value.as_str()).map_err(|_| {
                ComponentError::Config(format!("'headers' {name:?} has an invalid value"))
            })?;
            metadata.insert(key, value);
        }
        Ok(OtlpGrpcExporter {
            id,
            config,
            target,
            metadata,
            health,
            grpc: None,
            warnings: warning_limiter(),
        })
    }

    fn channel(&self) -> Result<Channel, ComponentError> {
        let uri = format!("http://{}", self.target.authority());
        let mut endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| ComponentError::Config(format!("'endpoint' {uri:?}: {e}")))?
            .user_agent(concat!("oispd/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| ComponentError::Config(e.to_string()))?;
        if !self.config.timeout.is_zero() {
            endpoint = endpoint.connect_timeout(self.config.timeout);
        }
        if !self.target.tls {
            return Ok(endpoint.connect_lazy());
        }
        let origin: Uri = format!("https://{}", self.target.authority())
            .parse()
            .map_err(|e| ComponentError::Config(format!("'endpoint': {e}")))?;
        let tls = Arc::new(self.config.tls.client_config(&[b"h2"])?);
        let server_name = self.config.tls.server_name(&self.target.host)?;
        let connector = tower::service_fn(move |uri: Uri| {
            let tls = tls.clone();
            let server_name = server_name.clone();
            async move {
                let host = uri.host().unwrap_or_default();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let port = uri.port_u16().unwrap_or(super::config::DEFAULT_PORT);
                let tcp = tokio::net::TcpStream::connect((host, port)).await?;
                tcp.set_nodelay(true)?;
                let stream = tokio_rustls::TlsConnector::from(tls)
                    .connect(server_name, tcp)
                    .await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        Ok(endpoint
            .origin(origin)
            .connect_with_connector_lazy(connector))
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata.clone();
        request
    }

    fn classify(&self, status: &Status) -> ExportError {
        let endpoint = self.target.display();
        let text = status.message();
        let mut detail = match std::error::Error::source(status) {
            Some(source) => {
                let chain = error_chain(source);
                if chain.contains(text) {
                    chain
                } else if text.contains(&chain) {
                    text.to_string()
                } else {
                    format!("{text}: {chain}")
                }
            }
            None => text.to_string(),
        };
        if self.target.tls && detail.contains("InvalidContentType") {
            detail.push_str(
                " (the server does not speak TLS: set tls.insecure: true or use an http:// endpoint)",
            );
        }
        let message = format!(
            "OTLP/gRPC export to {endpoint} failed: {}: {detail}",
            code_name(status.code())
        );
        let retry_after = status
            .get_details_retry_info()
            .and_then(|info| info.retry_delay);
        match status.code() {
            Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss => ExportError::Retryable {
                message,
                retry_after,
            },
            // Only a throttling answer (with RetryInfo) is worth retrying;
            // otherwise the message is too large or a quota is exhausted.
            Code::ResourceExhausted if retry_after.is_some() => ExportError::Retryable {
                message,
                retry_after,
            },
            _ => ExportError::Permanent { message },
        }
    }
}

/// The gRPC name of `code` (`UNAVAILABLE`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[async_trait]
impl Exporter for OtlpGrpcExporter {
    async fn start(&mut self) -> Result<(), ComponentError> {
        let mut grpc = Grpc::new(self.channel()?).max_decoding_message_size(MAX_RESPONSE_MESSAGE);
        let encoding = match self.config.compression {
            Compression::Gzip => Some(CompressionEncoding::Gzip),
            Compression::Zstd => Some(CompressionEncoding::Zstd),
            Compression::None => None,
        };
        if let Some(encoding) = encoding {
            grpc = grpc.send_compressed(encoding).accept_compressed(encoding);
        }
        self.grpc = Some(grpc);
        spawn_reachability_probe(
            self.id.clone(),
            self.target.display(),
            self.target.host.clone(),
            self.target.port,
            self.health.clone(),
        );
        Ok(())
    }

    async fn export(&mut self, batch: Batch) -> Result<(), ExportError> {
        self.send(&batch).await
    }

    async fn export_ref(&mut self, batch: &Batch) -> Result<(), ExportError> {
        self.send(batch).await
    }

    fn concurrent_sender(&self) -> Option<Arc<dyn ConcurrentExport>> {
        Some(Arc::new(self.clone()))
    }
}

#[async_trait]
impl ConcurrentExport for OtlpGrpcExporter {
    async fn export_ref(&self, batch: &Batch) -> Result<(), ExportError> {
        self.send(batch).await
    }
}

impl OtlpGrpcExporter {
    /// One export call; any number may run at once.
    async fn send(&self, batch: &Batch) -> Result<(), ExportError> {
        let Some(mut grpc) = self.grpc.clone() else {
            return Err(ExportError::permanent("exporter used before start"));
        };
        let request = self.request(Bytes::from(request_proto(batch)));
        if let Err(e) = grpc.ready().await {
            let status = Status::unavailable(format!("channel not ready: {}", error_chain(&e)));
            return Err(self.classify(&status));
        }
        let (rejected, message) = match batch.signal() {
            Signal::Logs => {
                let path = PathAndQuery::from_static(LOGS_EXPORT);
                let codec = PassThroughCodec::<ExportLogsServiceResponse>::default();
                match grpc.unary(request, path, codec).await {
                    Ok(response) => match response.into_inner().partial_success {
                        Some(p) => (p.rejected_log_records, p.error_message),
                        None => return Ok(()),
                    },
                    Err(status) => return Err(self.classify(&status)),
                }
            }
            Signal::Traces => {
                let path = PathAndQuery::from_static(TRACES_EXPORT);
                let codec = PassThroughCodec::<ExportTraceServiceResponse>::default();
                match grpc.unary(request, path, codec).await {
                    Ok(response) => match response.into_inner().partial_success {
                        Some(p) => (p.rejected_spans, p.error_message),
                        None => return Ok(()),
                    },
                    Err(status) => return Err(self.classify(&status)),
                }
            }
            Signal::Metrics => {
                let path = PathAndQuery::from_static(METRICS_EXPORT);
                let codec = PassThroughCodec::<ExportMetricsServiceResponse>::default();
                match grpc.unary(request, path, codec).await {
                    Ok(response) => match response.into_inner().partial_success {
                        Some(p) => (p.rejected_data_points, p.error_message),
                        None => return Ok(()),
                    },
                    Err(status) => return Err(self.classify(&status)),
                }
            }
        };
        let endpoint = self.target.display();
        partial_success(rejected, &message, &self.warnings, &self.id, &endpoint)
    }
}
