//! OTLP/HTTP front end: `POST /v1/logs` and `/v1/traces` with protobuf or
//! JSON bodies in any content coding the collector accepts
//! ([`super::decompress`]); answers in the request's encoding, with a
//! `google.rpc.Status` body on errors as the spec asks. Before anything is
//! decoded a request must pass three limits, each answered with 413: the
//! body as sent, the body decompressed (both `max_request_body_size_mib`),
//! and the memory its records would take ([`super::budget`]). Every
//! request turned away is counted and logged without its content
//! ([`super::rejections`]).

use super::budget::{self, BudgetError};
use super::decompress::{self, ContentCoding, DecompressError};
use super::rejections::{Reason, Rejections};
use super::{HttpSettings, Intake, IntakeError};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use oispd_component::Batch;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Proto,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Proto => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

struct Shared {
    intake: Intake,
    max_body: usize,
    budget: u64,
    rejections: Rejections,
}

/// Serves OTLP/HTTP on `listener` until `shutdown`.
pub(super) fn serve(
    listener: TcpListener,
    settings: HttpSettings,
    intake: Intake,
    rejections: Rejections,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let max_body = settings
        .max_request_body_size_mib
        .saturating_mul(1024 * 1024);
    let shared = Arc::new(Shared {
        intake,
        max_body,
        budget: budget::decoded_budget(max_body),
        rejections,
    });
    let app = Router::new()
        .route(&settings.logs_url_path, post(logs))
        .route(&settings.traces_url_path, post(traces))
        .with_state(shared);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "OTLP/HTTP server stopped");
        }
    })
}

/// A google.rpc.Status, the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A request turned away before it reached the pipelines: the answer to
/// the sender, and what is counted and logged.
struct Rejection {
    status: StatusCode,
    code: i32,
    encoding: Encoding,
    /// For the sender, who may see their own request quoted.
    message: String,
    reason: Reason,
    /// For the log: never quotes the request.
    detail: String,
}

impl Rejection {
    /// 400 INVALID_ARGUMENT (gRPC code 3).
    fn bad_request(encoding: Encoding, reason: Reason, message: String, detail: String) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            code: 3,
            encoding,
            message,
            reason,
            detail,
        }
    }

    /// 413 RESOURCE_EXHAUSTED (gRPC code 8); the message quotes nothing.
    fn too_large(encoding: Encoding, message: String) -> Self {
        Rejection {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: 8,
            encoding,
            detail: message.clone(),
            message,
            reason: Reason::TooLarge,
        }
    }

    fn decompress(encoding: Encoding, e: DecompressError) -> Self {
        match e {
            DecompressError::TooLarge(_) => Rejection::too_large(encoding, e.to_string()),
            DecompressError::Corrupt { .. } => Rejection::bad_request(
                encoding,
                Reason::BadCompression,
                e.to_string(),
                e.to_string(),
            ),
        }
    }

    fn budget(encoding: Encoding, e: BudgetError) -> Self {
        match e {
            BudgetError::TooLarge { .. } => Rejection::too_large(encoding, e.to_string()),
            BudgetError::TooDeep(_) | BudgetError::Malformed(_) => {
                let message = format!("invalid OTLP request: {e}");
                Rejection::bad_request(encoding, Reason::Malformed, message.clone(), message)
            }
        }
    }
}

fn error(status: StatusCode, code: i32, encoding: Encoding, message: String) -> Response {
    let body = match encoding {
        Encoding::Proto => RpcStatus { code, message }.encode_to_vec(),
        Encoding::Json => serde_json::json!({"code": code, "message": message})
            .to_string()
            .into_bytes(),
    };
    (
        status,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

/// The request's encoding, from its `Content-Type`.
fn encoding(headers: &HeaderMap) -> Result<Encoding, Rejection> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Proto),
        "application/json" => Ok(Encoding::Json),
        _ => {
            let message =
                "unsupported Content-Type: send application/x-protobuf or application/json"
                    .to_string();
            Err(Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: 3,
                encoding: Encoding::Json,
                detail: message.clone(),
                message,
                reason: Reason::UnsupportedMediaType,
            })
        }
    }
}

/// Reads the body as sent, up to `max` bytes.
async fn read_body(body: Body, max: usize, encoding: Encoding) -> Result<Bytes, Rejection> {
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(Rejection::too_large(
            encoding,
            format!("request body exceeds {max} bytes"),
        )),
        Err(e) => {
            let message = format!("reading the request body failed: {e}");
            Err(Rejection::bad_request(
                encoding,
                Reason::Malformed,
                message,
                "reading the request body failed".to_string(),
            ))
        }
    }
}

/// The request decoded from its headers and body: content type, content
/// coding, the size limits and the decoded-memory budget, then protobuf or
/// JSON.
async fn decode<T: Message + Default + serde::de::DeserializeOwned>(
    s: &Shared,
    kind: budget::Request,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Encoding, T), Rejection> {
    let encoding = encoding(headers)?;
    let coding =
        ContentCoding::from_header(headers.get(header::CONTENT_ENCODING)).ok_or_else(|| {
            let message = format!(
                "unsupported Content-Encoding: send one of {} or none",
                decompress::SUPPORTED
            );
            Rejection::bad_request(
                encoding,
                Reason::UnsupportedEncoding,
                message.clone(),
                message,
            )
        })?;
    let body = read_body(body, s.max_body, encoding).await?;
    let raw = decompress::decompress(coding, &body, s.max_body)
        .map_err(|e| Rejection::decompress(encoding, e))?;
    budget::check(kind, encoding == Encoding::Proto, &raw, s.budget)
        .map_err(|e| Rejection::budget(encoding, e))?;
    let parsed = match encoding {
        Encoding::Proto => T::decode(&raw[..]).map_err(|e| {
            // prost names fields and wire types, never values.
            let message = format!("invalid OTLP protobuf: {e}");
            Rejection::bad_request(encoding, Reason::Malformed, message.clone(), message)
        }),
        Encoding::Json => serde_json::from_slice(&raw).map_err(|e| {
            // serde_json's message quotes the offending value: the sender
            // may see it, the log only gets where and what kind.
            Rejection::bad_request(
                encoding,
                Reason::Malformed,
                format!("invalid OTLP JSON: {e}"),
                json_error(&e),
            )
        }),
    }?;
    Ok((encoding, parsed))
}

/// A serde_json error without the input it quotes: its kind and position.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "an I/O error",
        serde_json::error::Category::Syntax => "a JSON syntax error",
        serde_json::error::Category::Data => "a value of the wrong type or shape",
        serde_json::error::Category::Eof => "an unexpected end of input",
    };
    format!(
        "invalid OTLP JSON: {kind} at line {} column {}",
        e.line(),
        e.column()
    )
}

fn ok<T: Message + serde::Serialize>(encoding: Encoding, response: T) -> Response {
    let body = match encoding {
        Encoding::Proto => response.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

fn unavailable(encoding: Encoding, why: IntakeError) -> Response {
    let message = match why {
        IntakeError::Unavailable => {
            "oispd is shutting down and accepts no more records".to_string()
        }
        IntakeError::MemoryPressure => {
            "data refused due to high memory usage (memory_limiter); retry later".to_string()
        }
        IntakeError::Refused(why) => {
            format!("an exporter's queue did not take the records ({why}); retry later")
        }
    };
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, 14, encoding, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    r
}

impl Shared {
    /// Counts and logs a rejection, and renders its answer.
    fn reject(&self, r: Rejection) -> Response {
        self.rejections.reject(r.reason, &r.detail);
        error(r.status, r.code, r.encoding, r.message)
    }
}

async fn logs(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let (encoding, req) =
        match decode::<ExportLogsServiceRequest>(&s, budget::Request::Logs, &headers, body).await {
            Ok(v) => v,
            Err(r) => return s.reject(r),
        };
    match s.intake.accept(Batch::Logs(req.resource_logs)).await {
        Ok(()) => ok(
            encoding,
            ExportLogsServiceResponse {
                partial_success: None,
            },
        ),
        Err(why) => unavailable(encoding, why),
    }
}

async fn traces(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let (encoding, req) = match decode::<ExportTraceServiceRequest>(
        &s,
        budget::Request::Traces,
        &headers,
        body,
    )
    .await
    {
        Ok(v) => v,
        Err(r) => return s.reject(r),
    };
    match s.intake.accept(Batch::Traces(req.resource_spans)).await {
        Ok(()) => ok(
            encoding,
            ExportTraceServiceResponse {
                partial_success: None,
            },
        ),
        Err(why) => unavailable(encoding, why),
    }
}
