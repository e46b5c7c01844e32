//! OTLP/gRPC front end: the collector's `LogsService` and `TraceService`,
//! gzip and zstd accepted.

use super::{GrpcSettings, Intake, IntakeError};
use oispd_component::Batch;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

struct Logs(Intake);
struct Traces(Intake);

fn refusal(e: IntakeError) -> Status {
    match e {
        IntakeError::Unavailable => Status::unavailable(
            "oispd is shutting down and accepts no more records; retry against another instance or later",
        ),
        IntakeError::MemoryPressure => Status::unavailable(
            "data refused due to high memory usage (memory_limiter); retry later",
        ),
        IntakeError::Refused(why) => {
            Status::unavailable(format!("an exporter's queue did not take the records ({why}); retry later"))
        }
    }
}

#[tonic::async_trait]
impl LogsService for Logs {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let req = request.into_inner();
        self.0
            .accept(Batch::Logs(req.resource_logs))
            .await
            .map_err(refusal)?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Traces {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let req = request.into_inner();
        self.0
            .accept(Batch::Traces(req.resource_spans))
            .await
            .map_err(refusal)?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown`.
pub(super) fn serve(
    listener: TcpListener,
    settings: GrpcSettings,
    intake: Intake,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let max = settings.max_recv_msg_size_mib.saturating_mul(1024 * 1024);
    let logs = LogsServiceServer::new(Logs(intake.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(max);
    let traces = TraceServiceServer::new(Traces(intake))
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(max);
    tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let served = tonic::transport::Server::builder()
            .add_service(logs)
            .add_service(traces)
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "OTLP/gRPC server stopped");
        }
    })
}
