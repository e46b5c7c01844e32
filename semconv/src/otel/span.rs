//! The GenAI CLIENT span of one AI call, built from its `ai.request` and
//! `ai.response` events as the OTel GenAI conventions describe: named
//! `{gen_ai.operation.name} {gen_ai.request.model}` (`chat gpt-4o`),
//! lasting from the request to the response, with `gen_ai.*` attributes and
//! an error status for a failed call.
//!
//! Ids are deterministic so that replaying the same events gives the same
//! span: the trace id comes from the request's `trace_context` when it has
//! one (the span then joins the caller's trace, as a child of its span),
//! else from a SHA-256 of the request id (or the request event id); the
//! span id from a SHA-256 of the request event id.

use super::decode_hex_id;
use super::flatten::{ai_request, ai_response, request_operation, Attrs};
use crate::attributes::{oisp, otel};
use crate::event::{EventData, OispEvent};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use sha2::{Digest, Sha256};

fn derived_id(domain: &str, id: &str, len: usize) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(domain.as_bytes());
    h.update([0u8]);
    h.update(id.as_bytes());
    let mut out = h.finalize()[..len].to_vec();
    if out.iter().all(|b| *b == 0) {
        out[len - 1] = 1;
    }
    out
}

/// Host and port of an endpoint URL (`https://api.openai.com/v1/...` ->
/// (`api.openai.com`, 443)).
fn server_of(endpoint: &str) -> Option<(String, Option<u16>)> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':').and_then(|p| p.parse().ok()))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()),
            None => (authority, None),
        }
    };
    let port = port.or(match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    });
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// The GenAI CLIENT span of a call; `None` unless `request` is an
/// `ai.request` and `response` an `ai.response`.
///
/// Start is the request's `ts`; end is the response's `ts`, or the start
/// plus `latency_ms` when the response time is missing or earlier than the
/// start.
pub fn span_from_exchange(request: &OispEvent, response: &OispEvent) -> Option<Span> {
    let Some(EventData::AiRequest(req)) = &request.data else {
        return None;
    };
    let Some(EventData::AiResponse(resp)) = &response.data else {
        return None;
    };
    let start = request.ts_unix_nanos()?;
    let latency_end = resp
        .latency_ms
        .map(|ms| start.saturating_add(ms.saturating_mul(1_000_000)));
    let end = match response.ts_unix_nanos() {
        Some(t) if t >= start => t,
        _ => latency_end.unwrap_or(start),
    };

    let operation = request_operation(req);
    let model = req
        .model
        .as_ref()
        .and_then(|m| m.id.as_deref())
        .or_else(|| resp.model.as_ref().and_then(|m| m.id.as_deref()));
    let name = match model {
        Some(m) => format!("{operation} {m}"),
        None => operation.to_string(),
    };

    let tc = request.trace_context.as_ref();
    let caller_trace = tc
        .and_then(|t| t.trace_id.as_deref())
        .and_then(|h| decode_hex_id(h, 16));
    let caller_span = tc
        .and_then(|t| t.span_id.as_deref())
        .and_then(|h| decode_hex_id(h, 8));
    let (trace_id, parent_span_id) = match caller_trace {
        Some(t) => (t, caller_span.unwrap_or_default()),
        None => {
            let key = req.request_id.as_deref().unwrap_or(&request.event_id);
            (derived_id("oispd/trace", key, 16), Vec::new())
        }
    };
    let span_id = derived_id("oispd/span", &request.event_id, 8);

    let mut a = Attrs::default();
    ai_request(&mut a, req);
    let mut r = Attrs::default();
    ai_response(&mut r, resp);
    for kv in r.0 {
        // The request's provider, request id and conversation win; the
        // response adds what only it knows.
        if !a.0.iter().any(|x| x.key == kv.key) {
            a.0.push(kv);
        }
    }
    if let Some((host, port)) = req
        .provider
        .as_ref()
        .and_then(|p| p.endpoint.as_deref())
        .and_then(server_of)
    {
        a.str(otel::SERVER_ADDRESS, Some(&host));
        a.int(otel::SERVER_PORT, port);
    }
    a.str(oisp::OISP_EVENT_ID, Some(&request.event_id));
    a.0.retain(|kv| kv.key != oisp::OISP_EVENT_TYPE);

    let status = if resp.is_error() {
        let message = resp
            .error
            .as_ref()
            .and_then(|e| e.message.clone())
            .or_else(|| resp.status_code.map(|s| format!("HTTP {s}")))
            .unwrap_or_default();
        Some(Status {
            message,
            code: StatusCode::Error as i32,
        })
    } else {
        None
    };
    Some(Span {
        trace_id,
        span_id,
        trace_state: String::new(),
        parent_span_id,
        flags: 0,
        name,
        kind: SpanKind::Client as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: a.0,
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::server_of;

    /// Scenario: endpoint URLs with and without ports, IPv6, credentials.
    /// Guarantees: host and port as a client would connect.
    #[test]
    fn server_of_endpoints() {
        assert_eq!(
            server_of("https://api.openai.com/v1/chat/completions"),
            Some(("api.openai.com".into(), Some(443)))
        );
        assert_eq!(
            server_of("http://localhost:11434/api/chat"),
            Some(("localhost".into(), Some(11434)))
        );
        assert_eq!(
            server_of("http://[::1]:8000/v1"),
            Some(("::1".into(), Some(8000)))
        );
        assert_eq!(server_of("api.openai.com"), None);
    }
}
