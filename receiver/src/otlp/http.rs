//! OTLP/HTTP front end: `POST /v1/logs` and `/v1/traces` with protobuf or
//! JSON bodies, optionally gzip-compressed; answers in the request's
//! encoding, with a `google.rpc.Status` body on errors as the spec asks.

use super::{HttpSettings, Intake, IntakeError};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use oispd_component::Batch;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::io::Read;
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
}

/// Serves OTLP/HTTP on `listener` until `shutdown`.
pub(super) fn serve(
    listener: TcpListener,
    settings: HttpSettings,
    intake: Intake,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let max_body = settings
        .max_request_body_size_mib
        .saturating_mul(1024 * 1024);
    let shared = Arc::new(Shared { intake, max_body });
    let app = Router::new()
        .route(&settings.logs_url_path, post(logs))
        .route(&settings.traces_url_path, post(traces))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
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

/// A request turned away before it reached the pipelines; small, so that
/// decoding helpers can return it cheaply and the handler renders it.
struct Rejection {
    status: StatusCode,
    code: i32,
    encoding: Encoding,
    message: String,
}

impl Rejection {
    fn bad_request(encoding: Encoding, message: String) -> Rejection {
        // gRPC code 3 = INVALID_ARGUMENT.
        Rejection {
            status: StatusCode::BAD_REQUEST,
            code: 3,
            encoding,
            message,
        }
    }

    fn too_large(encoding: Encoding, max: usize) -> Rejection {
        // gRPC code 8 = RESOURCE_EXHAUSTED.
        Rejection {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: 8,
            encoding,
            message: format!("decompressed body exceeds {max} bytes"),
        }
    }

    fn into_response(self) -> Response {
        error(self.status, self.code, self.encoding, self.message)
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

/// Decodes the body per headers; the error is a ready response.
fn decode_body(
    headers: &HeaderMap,
    body: &Bytes,
    max: usize,
) -> Result<(Encoding, Vec<u8>), Rejection> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = match content_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Proto,
        "application/json" => Encoding::Json,
        other => {
            return Err(Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: 3,
                encoding: Encoding::Json,
                message: format!(
                    "unsupported content type {other:?}: send application/x-protobuf or application/json"
                ),
            })
        }
    };
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let raw = match content_encoding.as_str() {
        "" | "identity" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            let decoder = flate2::read::GzDecoder::new(&body[..]);
            match decoder.take(max as u64 + 1).read_to_end(&mut out) {
                Ok(_) if out.len() > max => return Err(Rejection::too_large(encoding, max)),
                Ok(_) => out,
                Err(e) => {
                    return Err(Rejection::bad_request(
                        encoding,
                        format!("invalid gzip body: {e}"),
                    ))
                }
            }
        }
        "zstd" => match zstd::stream::decode_all(&body[..]) {
            Ok(out) if out.len() <= max => out,
            Ok(_) => return Err(Rejection::too_large(encoding, max)),
            Err(e) => {
                return Err(Rejection::bad_request(
                    encoding,
                    format!("invalid zstd body: {e}"),
                ))
            }
        },
        other => {
            return Err(Rejection::bad_request(
                encoding,
                format!("unsupported content encoding {other:?}: use gzip, zstd or none"),
            ))
        }
    };
    Ok((encoding, raw))
}

fn parse<T: Message + Default + serde::de::DeserializeOwned>(
    encoding: Encoding,
    raw: &[u8],
) -> Result<T, String> {
    match encoding {
        Encoding::Proto => T::decode(raw).map_err(|e| format!("invalid OTLP protobuf: {e}")),
        Encoding::Json => {
            serde_json::from_slice(raw).map_err(|e| format!("invalid OTLP JSON: {e}"))
        }
    }
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

async fn logs(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (encoding, raw) = match decode_body(&headers, &body, s.max_body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let req: ExportLogsServiceRequest = match parse(encoding, &raw) {
        Ok(r) => r,
        Err(m) => return Rejection::bad_request(encoding, m).into_response(),
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

async fn traces(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (encoding, raw) = match decode_body(&headers, &body, s.max_body) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let req: ExportTraceServiceRequest = match parse(encoding, &raw) {
        Ok(r) => r,
        Err(m) => return Rejection::bad_request(encoding, m).into_response(),
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
