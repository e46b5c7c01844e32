//! Connection lifecycle and bounds: idle expiry, the connection limit, the
//! per-connection byte limit, close-delimited bodies ending on close, a
//! connection first seen mid-stream, and process exit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capture_support;

use capture_support::*;
use oispd_receiver::capture::{DecoderConfig, Direction};
use oispd_semconv::Completeness;
use serde_json::json;

fn body() -> Vec<u8> {
    serde_json::to_vec(&json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]})).unwrap()
}

fn request() -> Vec<u8> {
    h1_request("api.openai.com", "/v1/chat/completions", &[], &body())
}

/// A non-streamed chat request.
fn plain_request() -> Vec<u8> {
    h1_json_request(
        "api.openai.com",
        "/v1/chat/completions",
        &[],
        &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    )
}

fn first_event() -> Vec<u8> {
    let event =
        b"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    wire.extend(format!("{:x}\r\n", event.len()).into_bytes());
    wire.extend_from_slice(event);
    wire.extend_from_slice(b"\r\n");
    wire
}

/// Scenario: a streamed response stops arriving; time passes beyond the
/// idle timeout.
/// Guarantees: tick emits the ai.response as partial (connection_idle) with
/// what was assembled, and forgets the connection.
#[test]
fn idle_connection_expires_with_partial_response() {
    let mut d = decoder(DecoderConfig {
        idle_timeout_ns: 1_000_000_000,
        ..DecoderConfig::default()
    });
    let p = procs(1, "node");
    d.push(chunk(1, 1, Direction::Write, 0, &request()), &p);
    let ev = d.push(chunk(1, 1, Direction::Read, 100, &first_event()), &p);
    assert!(ev.is_empty());
    assert!(d.tick(900_000_000, &p).is_empty());
    let events = d.tick(2_000_000_000, &p);
    check(&events, &[]);
    let e = one(&events, "ai.response");
    assert_eq!(e.confidence.completeness, Completeness::Partial);
    assert!(has_reason(e, "connection_idle"));
    let rs = resp(e);
    assert_eq!(rs.latency_ms, Some(100));
    assert_eq!(rs.time_to_first_token_ms, Some(100));
    assert_eq!(d.connections(), 0);
    assert_eq!(d.stats().connections_expired, 1);
    assert_eq!(d.stats().exchanges_incomplete, 1);
}

/// Scenario: more connections than the limit.
/// Guarantees: the least recently active one is evicted and counted; an
/// unfinished call on it is reported partial.
#[test]
fn connection_limit_evicts_oldest() {
    let mut d = decoder(DecoderConfig {
        max_connections: 2,
        ..DecoderConfig::default()
    });
    let p = procs(1, "node");
    d.push(chunk(1, 1, Direction::Write, 0, &request()), &p);
    d.push(
        chunk(
            1,
            2,
            Direction::Write,
            1,
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
        &p,
    );
    let events = d.push(
        chunk(
            1,
            3,
            Direction::Write,
            2,
            b"GET / HTTP/1.1\r\nHost: b\r\n\r\n",
        ),
        &p,
    );
    assert_eq!(d.connections(), 2);
    assert_eq!(d.stats().connections_evicted, 1);
    let e = one(&events, "ai.response");
    assert!(has_reason(e, "connection_evicted"));
    assert_eq!(resp(e).success, Some(false));
}

/// Scenario: a streamed response larger than the per-connection limit
/// while its body is buffered (a non-streamed response body).
/// Guarantees: memory stays bounded: the body is cut at max_body_bytes and
/// marked truncated; held bytes never exceed the limits.
#[test]
fn bodies_and_connections_stay_bounded() {
    let mut d = decoder(DecoderConfig {
        max_body_bytes: 4096,
        max_connection_bytes: 64 * 1024,
        ..DecoderConfig::default()
    });
    let p = procs(1, "python3");
    d.push(chunk(1, 1, Direction::Write, 0, &plain_request()), &p);
    let huge = vec![b'a'; 1 << 20];
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        huge.len()
    );
    let mut events = d.push(chunk(1, 1, Direction::Read, 1, head.as_bytes()), &p);
    for piece in huge.chunks(16 * 1024) {
        events.extend(d.push(chunk(1, 1, Direction::Read, 2, piece), &p));
        assert!(d.held_bytes() <= 64 * 1024);
    }
    let e = one(&events, "ai.response");
    assert_eq!(e.confidence.completeness, Completeness::Partial);
    assert!(has_reason(e, "body_truncated"));
    assert_eq!(d.stats().bodies_truncated, 1);
    assert_eq!(d.held_bytes(), 0);
}

/// Scenario: a response without Content-Length or chunking (delimited by
/// the connection's end), then the capture source reports the close.
/// Guarantees: the body ends at the close and the response is complete.
#[test]
fn close_delimited_body_ends_on_close() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(1, "python3");
    d.push(chunk(1, 1, Direction::Write, 0, &plain_request()), &p);
    let answer = json!({"id": "c9", "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]});
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".to_vec();
    wire.extend(serde_json::to_vec(&answer).unwrap());
    assert!(d
        .push(chunk(1, 1, Direction::Read, 30, &wire), &p)
        .is_empty());
    let events = d.close(1, 1, 31_000_000, &p);
    check(&events, &[]);
    let e = one(&events, "ai.response");
    assert_eq!(e.confidence.completeness, Completeness::Full);
    assert_eq!(resp(e).provider_request_id.as_deref(), Some("c9"));
    assert_eq!(d.stats().connections_closed, 1);
}

/// Scenario: the decoder starts while a response is mid-body on a
/// keep-alive connection; then a new exchange starts on it.
/// Guarantees: the stray bytes are skipped and counted, no event comes
/// from the half-seen exchange, the next exchange is decoded in full.
#[test]
fn mid_stream_start() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(1, "python3");
    let mut events = d.push(
        chunk(
            1,
            1,
            Direction::Read,
            0,
            b"\"content\":\"tail of an old answer\"}}]}",
        ),
        &p,
    );
    events.extend(d.push(chunk(1, 1, Direction::Read, 1, b"0\r\n\r\n"), &p));
    assert!(events.is_empty());
    events.extend(d.push(chunk(1, 1, Direction::Write, 2, &plain_request()), &p));
    let answer = serde_json::to_vec(&json!({"id": "c", "model": "gpt-4o", "choices": []})).unwrap();
    events.extend(d.push(
        chunk(
            1,
            1,
            Direction::Read,
            3,
            &h1_response(200, "application/json", &answer),
        ),
        &p,
    ));
    assert_eq!(types(&events), vec!["ai.request", "ai.response"]);
    assert_eq!(events[1].confidence.completeness, Completeness::Full);
    assert!(d.stats().bytes_skipped >= 40);
}

/// Scenario: the process exits with a call in flight.
/// Guarantees: the call is reported partial and the connection is gone.
#[test]
fn process_exit_ends_connections() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(5, "python3");
    d.push(chunk(5, 1, Direction::Write, 0, &request()), &p);
    d.push(chunk(6, 1, Direction::Write, 0, &request()), &p);
    let events = d.process_exited(5, 50_000_000, &p);
    assert_eq!(types(&events), vec!["ai.response"]);
    assert_eq!(events[0].process.as_ref().unwrap().pid, Some(5));
    assert_eq!(d.connections(), 1);
}
