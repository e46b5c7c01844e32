//! HTTP/1.1 capture decoding from byte-exact fixtures: Content-Length,
//! chunked SSE, gzip, keep-alive with two exchanges, a fixture split at
//! every byte boundary, a truncated body, and two connections of one
//! thread that must not mix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capture_support;

use std::io::Write;

use capture_support::*;
use oispd_receiver::capture::{DecoderConfig, Direction, TlsChunk};
use oispd_semconv::ai::Content;
use oispd_semconv::Completeness;

const KEY: &str = "sk-proj-SECRETSECRETSECRET0123456789";

fn chat_body(stream: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hi"}
        ],
        "temperature": 0.3
    }))
    .unwrap()
}

fn chat_response() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": "chatcmpl-abc", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    }))
    .unwrap()
}

fn auth() -> String {
    format!("Bearer {KEY}")
}

/// Scenario: a plain OpenAI chat call over HTTP/1.1 with Content-Length.
/// Guarantees: one ai.request and one ai.response with the exact model,
/// provider, process, usage, latency; the key appears only as prefix/hash.
#[test]
fn openai_plain_content_length() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(100, "python3");
    let a = auth();
    let mut events = d.push(
        chunk(
            100,
            1,
            Direction::Write,
            1000,
            &h1_request(
                "api.openai.com",
                "/v1/chat/completions",
                &[("Authorization", &a)],
                &chat_body(false),
            ),
        ),
        &p,
    );
    assert_eq!(types(&events), vec!["ai.request"]);
    events.extend(d.push(
        chunk(
            100,
            1,
            Direction::Read,
            1250,
            &h1_response(200, "application/json", &chat_response()),
        ),
        &p,
    ));
    check(&events, &[KEY, "SECRETSECRET"]);
    let r = req(one(&events, "ai.request"));
    assert_eq!(r.model.as_ref().unwrap().id.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(r.provider.as_ref().unwrap().name.as_deref(), Some("openai"));
    assert_eq!(
        r.provider.as_ref().unwrap().endpoint.as_deref(),
        Some("https://api.openai.com/v1/chat/completions")
    );
    assert_eq!(r.streaming, Some(false));
    assert_eq!(r.has_system_prompt, Some(true));
    assert_eq!(r.messages_count, Some(2));
    let auth = r.auth.as_ref().unwrap();
    assert_eq!(auth.kind.as_deref(), Some("api_key"));
    assert_eq!(auth.key_prefix.as_deref(), Some("sk-proj-"));
    let ev = one(&events, "ai.response");
    assert_eq!(
        ev.process.as_ref().unwrap().name.as_deref(),
        Some("python3")
    );
    assert_eq!(ev.actor.as_ref().unwrap().user.as_deref(), Some("alice"));
    assert_eq!(ev.source.capture_point.as_deref(), Some("ssl_read"));
    assert_eq!(ev.confidence.completeness, Completeness::Full);
    let rs = resp(ev);
    assert_eq!(rs.request_id, r.request_id);
    assert_eq!(rs.status_code, Some(200));
    assert_eq!(rs.success, Some(true));
    assert_eq!(rs.latency_ms, Some(250));
    assert_eq!(rs.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        rs.model.as_ref().unwrap().id.as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    let u = rs.usage.as_ref().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (Some(12), Some(3), Some(15))
    );
    assert_eq!(first_content(rs), Some(Content::Text("Hi!".into())));
}

fn sse_pieces() -> Vec<Vec<u8>> {
    let chunks = [
        r#"{"id":"chatcmpl-s","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        r#"{"id":"chatcmpl-s","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
        r#"{"id":"chatcmpl-s","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"lo"}}]}"#,
        r#"{"id":"chatcmpl-s","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"id":"chatcmpl-s","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#,
    ];
    let mut v: Vec<Vec<u8>> = chunks
        .iter()
        .map(|c| format!("data: {c}\n\n").into_bytes())
        .collect();
    v.push(b"data: [DONE]\n\n".to_vec());
    v
}

/// Scenario: a streamed chat over chunked transfer, each SSE event in its
/// own HTTP chunk and its own SSL_read, arriving over time.
/// Guarantees: one assembled ai.response with text, usage from the
/// include_usage chunk, time to first token from the first content chunk.
#[test]
fn openai_streaming_chunked_sse() {
    let mut d = decoder(DecoderConfig {
        streaming_chunks: true,
        ..DecoderConfig::default()
    });
    let p = procs(7, "node");
    let mut events = d.push(
        chunk(
            7,
            9,
            Direction::Write,
            0,
            &h1_request(
                "api.openai.com",
                "/v1/chat/completions",
                &[("Authorization", &auth())],
                &chat_body(true),
            ),
        ),
        &p,
    );
    let pieces = sse_pieces();
    let wire = h1_chunked_response("text/event-stream; charset=utf-8", &pieces);
    // Head and first event at 100 ms, then the rest one event each 50 ms.
    let head_len = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut pos = 0;
    let mut t = 100;
    let mut cut = head_len;
    for p_ in &pieces {
        cut += format!("{:x}\r\n", p_.len()).len() + p_.len() + 2;
        events.extend(d.push(chunk(7, 9, Direction::Read, t, &wire[pos..cut]), &p));
        pos = cut;
        t += 50;
    }
    events.extend(d.push(chunk(7, 9, Direction::Read, t, &wire[pos..]), &p));
    check(&events, &[KEY]);
    assert_eq!(req(one(&events, "ai.request")).streaming, Some(true));
    let rs = resp(one(&events, "ai.response"));
    assert_eq!(rs.provider_request_id.as_deref(), Some("chatcmpl-s"));
    assert_eq!(rs.finish_reason.as_deref(), Some("stop"));
    assert_eq!(rs.time_to_first_token_ms, Some(150));
    assert_eq!(rs.latency_ms, Some(400));
    assert_eq!(rs.usage.as_ref().unwrap().total_tokens, Some(11));
    assert_eq!(first_content(rs), Some(Content::Text("Hello".into())));
    let chunks = of_type(&events, "ai.streaming_chunk");
    assert_eq!(chunks.len(), 5);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Scenario: keep-alive connection with two exchanges, the second
/// response gzip-encoded and both requests written in one SSL_write
/// (pipelined).
/// Guarantees: two request/response pairs, matched in order, the gzip body decoded.
#[test]
fn keep_alive_pipelined_and_gzip() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(5, "curl");
    let mut both = h1_request(
        "api.openai.com",
        "/v1/chat/completions",
        &[],
        &chat_body(false),
    );
    let second_body = serde_json::to_vec(&serde_json::json!({
        "model": "gpt-4.1", "messages": [{"role": "user", "content": "again"}]
    }))
    .unwrap();
    both.extend(h1_request(
        "api.openai.com",
        "/v1/chat/completions",
        &[],
        &second_body,
    ));
    let mut events = d.push(chunk(5, 1, Direction::Write, 10, &both), &p);
    assert_eq!(of_type(&events, "ai.request").len(), 2);
    events.extend(d.push(
        chunk(
            5,
            1,
            Direction::Read,
            20,
            &h1_response(200, "application/json", &chat_response()),
        ),
        &p,
    ));
    let second_resp = serde_json::to_vec(&serde_json::json!({
        "id": "chatcmpl-2", "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "again!"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    }))
    .unwrap();
    let gz = gzip(&second_resp);
    let mut wire = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    wire.extend_from_slice(&gz);
    events.extend(d.push(chunk(5, 1, Direction::Read, 30, &wire), &p));
    check(&events, &[]);
    let reqs = of_type(&events, "ai.request");
    let resps = of_type(&events, "ai.response");
    assert_eq!(resps.len(), 2);
    assert_eq!(resp(resps[0]).request_id, req(reqs[0]).request_id);
    assert_eq!(resp(resps[1]).request_id, req(reqs[1]).request_id);
    assert_eq!(resp(resps[1]).finish_reason.as_deref(), Some("length"));
    assert_eq!(resp(resps[1]).usage.as_ref().unwrap().total_tokens, Some(3));
    assert_eq!(
        req(reqs[1]).model.as_ref().unwrap().id.as_deref(),
        Some("gpt-4.1")
    );
}

/// Scenario: the whole streamed exchange (request, then chunked SSE
/// response) is split at every byte boundary into two SSL calls.
/// Guarantees: the same assembled events come out for every split.
#[test]
fn every_byte_boundary() {
    let request = h1_request(
        "api.openai.com",
        "/v1/chat/completions",
        &[],
        &chat_body(true),
    );
    let pieces = sse_pieces();
    let response = h1_chunked_response("text/event-stream", &pieces);
    let p = procs(1, "python3");
    for (dir, wire) in [(Direction::Write, &request), (Direction::Read, &response)] {
        for cut in 1..wire.len() {
            let mut d = decoder(DecoderConfig::default());
            let mut events = Vec::new();
            if dir == Direction::Write {
                events.extend(d.push(chunk(1, 1, Direction::Write, 0, &wire[..cut]), &p));
                events.extend(d.push(chunk(1, 1, Direction::Write, 0, &wire[cut..]), &p));
                events.extend(d.push(chunk(1, 1, Direction::Read, 1, &response), &p));
            } else {
                events.extend(d.push(chunk(1, 1, Direction::Write, 0, &request), &p));
                events.extend(d.push(chunk(1, 1, Direction::Read, 1, &wire[..cut]), &p));
                events.extend(d.push(chunk(1, 1, Direction::Read, 1, &wire[cut..]), &p));
            }
            assert_eq!(
                types(&events),
                vec!["ai.request", "ai.response"],
                "cut {cut} of {dir:?}"
            );
            let rs = resp(&events[1]);
            assert_eq!(
                rs.usage.as_ref().unwrap().total_tokens,
                Some(11),
                "cut {cut}"
            );
            assert_eq!(
                first_content(rs),
                Some(Content::Text("Hello".into())),
                "cut {cut}"
            );
            assert_eq!(d.stats().bytes_skipped, 0);
        }
    }
}

/// Scenario: a request body larger than what the probe captured (the
/// chunk's full_len exceeds its data), then the response.
/// Guarantees: the request is still reported, marked partial, with the
/// model recovered from the captured prefix; the next exchange decodes.
#[test]
fn truncated_request_is_partial() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(3, "python3");
    let big = "x".repeat(100_000);
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "gpt-4o", "stream": false, "messages": [{"role": "user", "content": big}]
    }))
    .unwrap();
    let wire = h1_request("api.openai.com", "/v1/chat/completions", &[], &body);
    let mut c = chunk(3, 1, Direction::Write, 0, &wire[..4096]);
    c.full_len = wire.len() as u64;
    let mut events = d.push(c, &p);
    events.extend(d.push(
        chunk(
            3,
            1,
            Direction::Read,
            5,
            &h1_response(200, "application/json", &chat_response()),
        ),
        &p,
    ));
    check(&events, &[]);
    let ev = one(&events, "ai.request");
    assert_eq!(ev.confidence.completeness, Completeness::Partial);
    assert!(has_reason(ev, "capture_gap"));
    assert_eq!(
        req(ev).model.as_ref().unwrap().id.as_deref(),
        Some("gpt-4o")
    );
    assert_eq!(
        resp(one(&events, "ai.response"))
            .usage
            .as_ref()
            .unwrap()
            .total_tokens,
        Some(15)
    );
    assert_eq!(d.stats().bytes_not_captured, (wire.len() - 4096) as u64);
}

/// Scenario: a body above max_body_bytes that was fully captured.
/// Guarantees: the event is marked partial (body_truncated) and counted.
#[test]
fn body_over_limit_is_partial() {
    let mut d = decoder(DecoderConfig {
        max_body_bytes: 1024,
        ..DecoderConfig::default()
    });
    let p = procs(3, "python3");
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "gpt-4o", "messages": [{"role": "user", "content": "y".repeat(5000)}]
    }))
    .unwrap();
    let events = d.push(
        chunk(
            3,
            1,
            Direction::Write,
            0,
            &h1_request("api.openai.com", "/v1/chat/completions", &[], &body),
        ),
        &p,
    );
    let ev = one(&events, "ai.request");
    assert_eq!(ev.confidence.completeness, Completeness::Partial);
    assert!(has_reason(ev, "body_truncated"));
    assert_eq!(d.stats().bodies_truncated, 1);
}

/// Scenario: one thread of one process drives two connections, their
/// chunks interleaved (as node and asyncio do).
/// Guarantees: each connection's request pairs with its own response.
#[test]
fn interleaved_connections_on_one_thread() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(42, "node");
    let body_a = serde_json::to_vec(
        &serde_json::json!({"model": "model-a", "messages": [{"role": "user", "content": "a"}]}),
    )
    .unwrap();
    let body_b = serde_json::to_vec(
        &serde_json::json!({"model": "model-b", "messages": [{"role": "user", "content": "b"}]}),
    )
    .unwrap();
    let ra = h1_request("api.openai.com", "/v1/chat/completions", &[], &body_a);
    let rb = h1_request("api.openai.com", "/v1/chat/completions", &[], &body_b);
    let resp_for = |model: &str| {
        h1_response(200, "application/json", &serde_json::to_vec(&serde_json::json!({
            "id": format!("id-{model}"), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": model}, "finish_reason": "stop"}]
        })).unwrap())
    };
    let (sa, sb) = (resp_for("model-a"), resp_for("model-b"));
    let mk = |conn: u64, dir, t, data: &[u8]| TlsChunk {
        tid: 42,
        ..chunk(42, conn, dir, t, data)
    };
    let mut events = Vec::new();
    events.extend(d.push(mk(1, Direction::Write, 0, &ra[..20]), &p));
    events.extend(d.push(mk(2, Direction::Write, 1, &rb[..30]), &p));
    events.extend(d.push(mk(1, Direction::Write, 2, &ra[20..]), &p));
    events.extend(d.push(mk(2, Direction::Write, 3, &rb[30..]), &p));
    events.extend(d.push(mk(2, Direction::Read, 4, &sb[..10]), &p));
    events.extend(d.push(mk(1, Direction::Read, 5, &sa[..50]), &p));
    events.extend(d.push(mk(2, Direction::Read, 6, &sb[10..]), &p));
    events.extend(d.push(mk(1, Direction::Read, 7, &sa[50..]), &p));
    let reqs = of_type(&events, "ai.request");
    let resps = of_type(&events, "ai.response");
    assert_eq!((reqs.len(), resps.len()), (2, 2));
    for rs in resps {
        let rs = resp(rs);
        let rq = reqs
            .iter()
            .map(|e| req(e))
            .find(|r| r.request_id == rs.request_id)
            .unwrap();
        assert_eq!(rq.model.as_ref().unwrap().id, rs.model.as_ref().unwrap().id);
    }
}

/// Scenario: requests that are not AI calls, and a TLS connection that is
/// not HTTP at all.
/// Guarantees: no events, nothing held.
#[test]
fn non_ai_traffic_is_ignored() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(9, "git");
    let mut events = d.push(
        chunk(
            9,
            1,
            Direction::Write,
            0,
            b"GET /repo/info/refs HTTP/1.1\r\nHost: github.com\r\n\r\n",
        ),
        &p,
    );
    events.extend(d.push(
        chunk(
            9,
            1,
            Direction::Read,
            1,
            &h1_response(200, "text/plain", b"refs"),
        ),
        &p,
    ));
    events.extend(d.push(
        chunk(
            9,
            2,
            Direction::Write,
            0,
            &h1_request("example.com", "/upload", &[], b"{\"a\":1}"),
        ),
        &p,
    ));
    events.extend(d.push(
        chunk(
            9,
            3,
            Direction::Write,
            0,
            &h1_request(
                "example.com",
                "/v1/chat/completions",
                &[],
                b"{\"not\":\"ai\"}",
            ),
        ),
        &p,
    ));
    events.extend(d.push(
        chunk(
            9,
            3,
            Direction::Read,
            1,
            &h1_response(200, "application/json", b"{}"),
        ),
        &p,
    ));
    assert!(events.is_empty(), "{events:#?}");
    assert_eq!(d.held_bytes(), 0);
}
