//! OTLP/gRPC front end: the collector's `LogsService/Export` and
//! `TraceService/Export`, gzip and zstd accepted.
//!
//! The services are written out here rather than taken from the generated
//! `*ServiceServer`s so that requests go through [`OtlpCodec`], which checks
//! a message against the decoded-memory budget ([`super::budget`]) before
//! prost decodes it. tonic itself bounds the rest: a message whose frame is
//! over `max_recv_msg_size_mib` is refused before it is read, and a
//! compressed one is decompressed into a buffer that stops at that size
//! (tonic 0.14 `codec/decode.rs` hands `decompress` a
//! `BytesMut::limit(max)`), whatever it would expand to. Its zstd decoder
//! keeps libzstd's default window limit (128 MiB of address space), of
//! which only what is decoded, at most the message limit, is ever touched.
//!
//! A request refused before it reaches [`Export`] is counted and logged
//! without its content ([`super::rejections`]), and answered with a status
//! a sender does not retry: tonic's OUT_OF_RANGE for an oversized frame
//! (retryable in OTLP) becomes RESOURCE_EXHAUSTED, its INTERNAL for a
//! message that does not decompress becomes INVALID_ARGUMENT.

use super::budget::{self, BudgetError};
use super::rejections::{Reason, Rejections};
use super::{GrpcSettings, Intake, IntakeError};
use oispd_component::Batch;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::bytes::Buf;
use prost::Message;
use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Request, Response, Status};

/// The one method of the logs service.
const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
/// The one method of the trace service.
const TRACES_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

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

/// Encodes responses with prost, and decodes requests once they fit the
/// decoded-memory budget.
struct OtlpCodec<Req, Resp> {
    request: budget::Request,
    budget: u64,
    types: PhantomData<fn(Req) -> Resp>,
}

struct ResponseEncoder<Resp>(PhantomData<Resp>);

impl<Resp: Message> Encoder for ResponseEncoder<Resp> {
    type Item = Resp;
    type Error = Status;

    fn encode(&mut self, item: Resp, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response: {e}")))
    }
}

struct RequestDecoder<Req> {
    request: budget::Request,
    budget: u64,
    types: PhantomData<Req>,
}

impl<Req: Message + Default> Decoder for RequestDecoder<Req> {
    type Item = Req;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Req>, Status> {
        // The message is one contiguous buffer in tonic; copy it if not.
        // prost decodes from the slice, not through `DecodeBuf`: a slice's
        // `Buf` is a pointer bump per read, `DecodeBuf`'s goes through the
        // `BytesMut` behind it.
        if src.chunk().len() == src.remaining() {
            budget::check(self.request, true, src.chunk(), self.budget)?;
            let decoded = decode_message(src.chunk());
            src.advance(src.remaining());
            decoded
        } else {
            let all = src.copy_to_bytes(src.remaining());
            budget::check(self.request, true, &all, self.budget)?;
            decode_message(all)
        }
    }
}

fn decode_message<Req: Message + Default>(src: impl Buf) -> Result<Option<Req>, Status> {
    // prost names fields and wire types, never values.
    Req::decode(src)
        .map(Some)
        .map_err(|e| Status::invalid_argument(format!("invalid OTLP protobuf: {e}")))
}

impl From<BudgetError> for Status {
    fn from(e: BudgetError) -> Status {
        match e {
            BudgetError::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
            BudgetError::TooDeep(_) | BudgetError::Malformed(_) => {
                Status::invalid_argument(format!("invalid OTLP request: {e}"))
            }
        }
    }
}

impl<Req, Resp> Codec for OtlpCodec<Req, Resp>
where
    Req: Message + Default + Send + 'static,
    Resp: Message + Send + 'static,
{
    type Encode = Resp;
    type Decode = Req;
    type Encoder = ResponseEncoder<Resp>;
    type Decoder = RequestDecoder<Req>;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder {
            request: self.request,
            budget: self.budget,
            types: PhantomData,
        }
    }
}

/// The handler of both methods; `reached` tells the service that the
/// request was decoded (so any error after that is not a rejection).
struct Export {
    intake: Intake,
    reached: Arc<AtomicBool>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl UnaryService<ExportLogsServiceRequest> for Export {
    type Response = ExportLogsServiceResponse;
    type Future = BoxFuture<Result<Response<ExportLogsServiceResponse>, Status>>;

    fn call(&mut self, request: Request<ExportLogsServiceRequest>) -> Self::Future {
        self.reached.store(true, Ordering::Relaxed);
        let intake = self.intake.clone();
        Box::pin(async move {
            let req = request.into_inner();
            intake
                .accept(Batch::Logs(req.resource_logs))
                .await
                .map_err(refusal)?;
            Ok(Response::new(ExportLogsServiceResponse {
                partial_success: None,
            }))
        })
    }
}

impl UnaryService<ExportTraceServiceRequest> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<Result<Response<ExportTraceServiceResponse>, Status>>;

    fn call(&mut self, request: Request<ExportTraceServiceRequest>) -> Self::Future {
        self.reached.store(true, Ordering::Relaxed);
        let intake = self.intake.clone();
        Box::pin(async move {
            let req = request.into_inner();
            intake
                .accept(Batch::Traces(req.resource_spans))
                .await
                .map_err(refusal)?;
            Ok(Response::new(ExportTraceServiceResponse {
                partial_success: None,
            }))
        })
    }
}

/// What both services share.
struct Shared {
    intake: Intake,
    max: usize,
    budget: u64,
    rejections: Rejections,
}

impl Shared {
    /// Serves one call of `path` (the service's method) as `Req` -> `Resp`.
    async fn call<Req, Resp>(
        &self,
        path: &str,
        request: budget::Request,
        req: http::Request<Body>,
    ) -> http::Response<Body>
    where
        Req: Message + Default + Send + 'static,
        Resp: Message + Send + 'static,
        Export: UnaryService<Req, Response = Resp>,
        <Export as UnaryService<Req>>::Future: Send,
    {
        if req.uri().path() != path {
            return Status::unimplemented(format!("unknown method; this service has {path}"))
                .into_http();
        }
        let codec = OtlpCodec::<Req, Resp> {
            request,
            budget: self.budget,
            types: PhantomData,
        };
        let mut grpc = Grpc::new(codec)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(self.max);
        let reached = Arc::new(AtomicBool::new(false));
        let export = Export {
            intake: self.intake.clone(),
            reached: reached.clone(),
        };
        let mut response = grpc.unary(export, req).await;
        if !reached.load(Ordering::Relaxed) {
            self.rejected(&mut response);
        }
        response
    }

    /// A request that never reached the handler: counts and logs it, and
    /// turns tonic's retryable or internal codes into the ones that say
    /// what is wrong with the request.
    fn rejected(&self, response: &mut http::Response<Body>) {
        let Some(status) = Status::from_header_map(response.headers()) else {
            return;
        };
        let (reason, code, detail) = match status.code() {
            Code::Ok => return,
            Code::OutOfRange | Code::ResourceExhausted => (
                Reason::TooLarge,
                Code::ResourceExhausted,
                status.message().to_string(),
            ),
            // The grpc-encoding is not one oispd decodes; tonic's message
            // quotes the header, so the log does not.
            Code::Unimplemented => (
                Reason::UnsupportedEncoding,
                Code::Unimplemented,
                "grpc-encoding other than gzip, zstd or identity".to_string(),
            ),
            Code::Internal if status.message().starts_with("Error decompressing") => (
                Reason::BadCompression,
                Code::InvalidArgument,
                status.message().to_string(),
            ),
            _ => (
                Reason::Malformed,
                Code::InvalidArgument,
                status.message().to_string(),
            ),
        };
        self.rejections.reject(reason, &detail);
        if code != status.code() {
            response
                .headers_mut()
                .insert(Status::GRPC_STATUS, http::HeaderValue::from(code as i32));
        }
    }
}

/// A gRPC export service: `$name` answers `$service`'s Export at `$path`,
/// decoding `$req` within the `$budget` budget and answering `$resp`.
macro_rules! export_service {
    ($(#[$doc:meta])* $name:ident, $service:literal, $path:expr, $budget:expr, $req:ty, $resp:ty) => {
        $(#[$doc])*
        #[derive(Clone)]
        struct $name(Arc<Shared>);

        impl NamedService for $name {
            const NAME: &'static str = $service;
        }

        impl tonic::codegen::Service<http::Request<Body>> for $name {
            type Response = http::Response<Body>;
            type Error = Infallible;
            type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

            fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, req: http::Request<Body>) -> Self::Future {
                let shared = self.0.clone();
                Box::pin(async move { Ok(shared.call::<$req, $resp>($path, $budget, req).await) })
            }
        }
    };
}

export_service!(
    /// `LogsService`.
    LogsGrpc,
    "opentelemetry.proto.collector.logs.v1.LogsService",
    LOGS_EXPORT,
    budget::Request::Logs,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse
);

export_service!(
    /// `TraceService`.
    TracesGrpc,
    "opentelemetry.proto.collector.trace.v1.TraceService",
    TRACES_EXPORT,
    budget::Request::Traces,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse
);

/// Serves OTLP/gRPC on `listener` until `shutdown`.
pub(super) fn serve(
    listener: TcpListener,
    settings: GrpcSettings,
    intake: Intake,
    rejections: Rejections,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let max = settings.max_recv_msg_size_mib.saturating_mul(1024 * 1024);
    let shared = Arc::new(Shared {
        intake,
        max,
        budget: budget::decoded_budget(max),
        rejections,
    });
    tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let served = tonic::transport::Server::builder()
            .add_service(LogsGrpc(shared.clone()))
            .add_service(TracesGrpc(shared))
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "OTLP/gRPC server stopped");
        }
    })
}
