//! The `otlp_grpc` exporter: OTLP over gRPC with tonic's generated
//! `LogsService` / `TraceService` clients on one lazily connected channel.
//! TLS goes through our own rustls connector so that every `tls` option
//! (custom CA, client certificates, `insecure_skip_verify`) is honoured.

use super::config::{OtlpGrpcConfig, Target};
use crate::helper::log_limit::LogLimiter;
use crate::otlp::{
    error_chain, partial_success, spawn_reachability_probe, warning_limiter, Compression,
};
use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use oispd_component::telemetry::ExporterHealth;
use oispd_component::{Batch, ComponentError, ExportError, Exporter};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use std::sync::Arc;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The connected clients, built at start.
struct Clients {
    logs: LogsServiceClient<Channel>,
    traces: TraceServiceClient<Channel>,
}

/// Sends batches to an OTLP/gRPC server.
pub struct OtlpGrpcExporter {
    id: String,
    config: OtlpGrpcConfig,
    target: Target,
    metadata: MetadataMap,
    health: Arc<ExporterHealth>,
    clients: Option<Clients>,
    warnings: LogLimiter,
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
            clients: None,
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
        let detail = match std::error::Error::source(status) {
            Some(source) => format!("{}: {}", status.message(), error_chain(source)),
            None => status.message().to_string(),
        };
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
        let channel = self.channel()?;
        let mut logs =
            LogsServiceClient::new(channel.clone()).max_decoding_message_size(usize::MAX);
        let mut traces = TraceServiceClient::new(channel).max_decoding_message_size(usize::MAX);
        let encoding = match self.config.compression {
            Compression::Gzip => Some(CompressionEncoding::Gzip),
            Compression::Zstd => Some(CompressionEncoding::Zstd),
            Compression::None => None,
        };
        if let Some(encoding) = encoding {
            logs = logs.send_compressed(encoding).accept_compressed(encoding);
            traces = traces.send_compressed(encoding).accept_compressed(encoding);
        }
        self.clients = Some(Clients { logs, traces });
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
        let Some(clients) = self.clients.as_ref() else {
            return Err(ExportError::permanent("exporter used before start"));
        };
        let (rejected, message) = match batch {
            Batch::Logs(resource_logs) => {
                let mut client = clients.logs.clone();
                let request = self.request(ExportLogsServiceRequest { resource_logs });
                match client.export(request).await {
                    Ok(response) => match response.into_inner().partial_success {
                        Some(p) => (p.rejected_log_records, p.error_message),
                        None => return Ok(()),
                    },
                    Err(status) => return Err(self.classify(&status)),
                }
            }
            Batch::Traces(resource_spans) => {
                let mut client = clients.traces.clone();
                let request = self.request(ExportTraceServiceRequest { resource_spans });
                match client.export(request).await {
                    Ok(response) => match response.into_inner().partial_success {
                        Some(p) => (p.rejected_spans, p.error_message),
                        None => return Ok(()),
                    },
                    Err(status) => return Err(self.classify(&status)),
                }
            }
        };
        let endpoint = self.target.display();
        partial_success(rejected, &message, &mut self.warnings, &self.id, &endpoint)
    }
}
