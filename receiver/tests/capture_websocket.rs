//! Capture decoding of AI traffic over WebSocket: the OpenAI Responses
//! API's WebSocket mode as Codex CLI speaks it (wire fixtures recorded from
//! Codex 0.171.0, see `fixtures/codex/README.md`), and Codex's HTTP + SSE
//! fallback after a refused upgrade.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capture_support;

use std::io::Write;
use std::path::PathBuf;

use capture_support::*;
use oispd_receiver::capture::{DecoderConfig, Direction};
use oispd_semconv::agent::{AgentToolCall, AgentToolResult};
use oispd_semconv::ai::Content;
use oispd_semconv::{EventData, OispEvent, Relationship};
use serde_json::{json, Value};

const PID: u32 = 4242;
const KEY: &str = "sk-REDACTED";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/codex")
        .join(name)
}

/// The chunks of a wire fixture in wire order, as (direction, bytes), 1 ms apart.
fn wire(name: &str) -> Vec<(Direction, Vec<u8>)> {
    let v: Value = serde_json::from_slice(&std::fs::read(fixture(name)).unwrap()).unwrap();
    let hex_list = |k: &str| -> Vec<Vec<u8>> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
            .collect()
    };
    let (mut c2s, mut s2c) = (hex_list("c2s").into_iter(), hex_list("s2c").into_iter());
    // The upgrade request and the 101 come first.
    let mut out = vec![
        (Direction::Write, c2s.next().unwrap()),
        (Direction::Read, s2c.next().unwrap()),
    ];
    for m in v["messages"].as_array().unwrap() {
        out.push(match m["dir"].as_str().unwrap() {
            "c2s" => (Direction::Write, c2s.next().unwrap()),
            _ => (Direction::Read, s2c.next().unwrap()),
        });
    }
    assert!(c2s.next().is_none() && s2c.next().is_none());
    out
}

/// Feeds the chunks, each cut into pieces of `piece` bytes, then closes.
fn decode(chunks: &[(Direction, Vec<u8>)], piece: usize) -> Vec<OispEvent> {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(PID, "codex");
    let mut events = Vec::new();
    for (i, (dir, bytes)) in chunks.iter().enumerate() {
        for part in bytes.chunks(piece) {
            events.extend(d.push(chunk(PID, 7, *dir, 1000 + i as u64, part), &p));
        }
    }
    assert_eq!(d.stats().websocket_connections, 1);
    assert_eq!(d.stats().websocket_errors, 0);
    events.extend(d.close(PID, 7, 10_000_000_000, &p));
    events
}

fn tool_call(ev: &OispEvent) -> &AgentToolCall {
    match &ev.data {
        Some(EventData::AgentToolCall(d)) => d,
        other => panic!("not an agent.tool_call: {other:?}"),
    }
}

fn tool_result(ev: &OispEvent) -> &AgentToolResult {
    match &ev.data {
        Some(EventData::AgentToolResult(d)) => d,
        other => panic!("not an agent.tool_result: {other:?}"),
    }
}

fn parent_of(ev: &OispEvent) -> Option<String> {
    ev.related_events
        .iter()
        .flatten()
        .find(|r| r.relationship == Relationship::Parent)
        .map(|r| r.event_id.clone())
}

/// Scenario: Codex 0.171.0's plain turn over the Responses WebSocket
/// (permessage-deflate with context takeover, masked client frames): a
/// `generate: false` prewarm, then a turn chained by previous_response_id
/// streaming text and closing with usage.
/// Guarantees: the prewarm is reported as an ai.request flagged
/// `generate: false` with its empty ai.response; the turn is an ai.request
/// (openai, gpt-5.1-codex, streaming, wss endpoint, hashed key) and an
/// ai.response with the exact usage, text, finish reason and a time to
/// first token; every event is schema-valid and the key is nowhere.
#[test]
fn codex_plain_turn() {
    let events = decode(&wire("codex-0.171.0-ws-plain.wire.json"), usize::MAX);
    check(&events, &[KEY]);
    assert_eq!(
        types(&events),
        ["ai.request", "ai.response", "ai.request", "ai.response"]
    );
    let prewarm = req(&events[0]);
    assert_eq!(
        prewarm.parameters.as_ref().unwrap().extra.get("generate"),
        Some(&json!(false))
    );
    let turn = req(&events[2]);
    assert!(turn
        .parameters
        .as_ref()
        .unwrap()
        .extra
        .get("generate")
        .is_none());
    assert_eq!(
        turn.parameters
            .as_ref()
            .unwrap()
            .extra
            .get("previous_response_id"),
        Some(&json!("resp_oispd_0001"))
    );
    let provider = turn.provider.as_ref().unwrap();
    assert_eq!(provider.name.as_deref(), Some("openai"));
    assert_eq!(
        provider.endpoint.as_deref(),
        Some("wss://api.openai.com/v1/responses")
    );
    assert_eq!(
        turn.model.as_ref().unwrap().id.as_deref(),
        Some("gpt-5.1-codex")
    );
    assert_eq!(turn.streaming, Some(true));
    let auth = turn.auth.as_ref().unwrap();
    assert_eq!(auth.kind.as_deref(), Some("api_key"));
    assert!(auth.key_hash.as_deref().unwrap().starts_with("sha256:"));

    let rs = resp(&events[3]);
    assert_eq!(rs.provider_request_id.as_deref(), Some("resp_oispd_0002"));
    assert_eq!(rs.success, Some(true));
    assert_eq!(rs.finish_reason.as_deref(), Some("stop"));
    let u = rs.usage.as_ref().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (Some(1200), Some(9), Some(1209))
    );
    assert!(rs.time_to_first_token_ms.is_some());
    assert!(
        matches!(first_content(rs), Some(Content::Text(t)) if t == "Hello from the fake Responses API.")
    );
    assert_eq!(parent_of(&events[3]), Some(events[2].event_id.clone()));
    let empty = resp(&events[1]);
    assert_eq!(empty.usage.as_ref().unwrap().total_tokens, Some(0));
    assert_eq!(empty.time_to_first_token_ms, None);
}

/// Scenario: Codex 0.171.0's tool-call turn over the WebSocket: the model
/// asks for `exec_command`, Codex runs it and sends the output as a
/// `function_call_output` item alone in the next response.create; fed
/// whole, and cut into 7-byte pieces across every frame.
/// Guarantees: one agent.tool_call (exec_command, call_oispd_0001, the
/// exact arguments) caused by the turn's ai.response (finish tool_calls,
/// exact usage), one agent.tool_result for that call id whose parent is
/// the tool call, with the tool's output; the same events whatever the
/// chunking; no key anywhere.
#[test]
fn codex_tool_call_turn() {
    let chunks = wire("codex-0.171.0-ws-tool-call.wire.json");
    for piece in [usize::MAX, 7] {
        let events = decode(&chunks, piece);
        check(&events, &[KEY]);
        assert_eq!(
            types(&events),
            [
                "ai.request",
                "ai.response",
                "ai.request",
                "ai.response",
                "agent.tool_call",
                "ai.request",
                "agent.tool_result",
                "ai.response"
            ],
            "piece {piece}"
        );
        let asked = resp(&events[3]);
        assert_eq!(asked.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(asked.tool_calls_count, Some(1));
        let u = asked.usage.as_ref().unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.total_tokens,
                u.cached_tokens
            ),
            (Some(1300), Some(21), Some(1321), Some(1024))
        );
        let call = tool_call(&events[4]);
        assert_eq!(call.tool.name.as_deref(), Some("exec_command"));
        assert_eq!(call.tool.kind.as_deref(), Some("shell"));
        assert_eq!(call.call_id.as_deref(), Some("call_oispd_0001"));
        assert_eq!(
            call.arguments.as_ref().unwrap().get("cmd"),
            Some(&json!("echo oispd-tool-test"))
        );
        let result = tool_result(&events[6]);
        assert_eq!(result.call_id, "call_oispd_0001");
        assert_eq!(
            result.tool.as_ref().unwrap().name.as_deref(),
            Some("exec_command")
        );
        assert!(
            matches!(&result.result, Some(Content::Text(t)) if t.ends_with("Output:\noispd-tool-test\n"))
        );
        assert_eq!(parent_of(&events[6]), Some(events[4].event_id.clone()));
        let last = req(&events[5]);
        assert_eq!(
            last.parameters
                .as_ref()
                .unwrap()
                .extra
                .get("previous_response_id"),
            Some(&json!("resp_oispd_0002"))
        );
        let done = resp(&events[7]);
        assert_eq!(done.finish_reason.as_deref(), Some("stop"));
        assert!(
            matches!(first_content(done), Some(Content::Text(t)) if t == "The tool printed oispd-tool-test.")
        );
    }
}

/// Scenario: the socket drops (no close frame, as Codex does) while a turn
/// is streaming.
/// Guarantees: the turn's ai.response is still emitted, marked partial.
#[test]
fn socket_lost_mid_turn() {
    let chunks = wire("codex-0.171.0-ws-plain.wire.json");
    let mut d = decoder(DecoderConfig::default());
    let p = procs(PID, "codex");
    let mut events = Vec::new();
    // Without the last three server messages (up to response.completed).
    let upto = chunks.len() - 3;
    for (i, (dir, bytes)) in chunks[..upto].iter().enumerate() {
        events.extend(d.push(chunk(PID, 7, *dir, 1000 + i as u64, bytes), &p));
    }
    events.extend(d.close(PID, 7, 5_000_000_000, &p));
    check(&events, &[KEY]);
    assert_eq!(
        types(&events),
        ["ai.request", "ai.response", "ai.request", "ai.response"]
    );
    assert!(has_reason(&events[3], "connection_closed"));
    assert_eq!(d.stats().exchanges_incomplete, 1);
}

/// Scenario: the socket stays quiet longer than the idle timeout between
/// the prewarm and the turn (a user thinking), then the turn goes on the
/// same socket; and a socket that goes quiet while a turn is in flight.
/// Guarantees: between turns the connection is kept, so the next turn
/// (whose frames continue the deflate context) decodes whole; with a turn
/// in flight it expires and the turn's ai.response is emitted partial.
#[test]
fn idle_between_turns_keeps_the_socket() {
    let chunks = wire("codex-0.171.0-ws-plain.wire.json");
    let p = procs(PID, "codex");
    let idle = DecoderConfig::default().idle_timeout_ns;
    // Upgrade, 101, prewarm create, created, completed: the prewarm is done.
    for (split, kept) in [(5, true), (7, false)] {
        let mut d = decoder(DecoderConfig::default());
        let mut events = Vec::new();
        for (i, (dir, bytes)) in chunks[..split].iter().enumerate() {
            events.extend(d.push(chunk(PID, 7, *dir, 1000 + i as u64, bytes), &p));
        }
        events.extend(d.tick(1_000_000_000 + 3 * idle, &p));
        assert_eq!(d.connections(), usize::from(kept), "split {split}");
        for (i, (dir, bytes)) in chunks[split..].iter().enumerate() {
            let ts = 1_000 + 3 * idle / 1_000_000 + i as u64;
            events.extend(d.push(chunk(PID, 7, *dir, ts, bytes), &p));
        }
        check(&events, &[KEY]);
        assert_eq!(
            types(&events),
            ["ai.request", "ai.response", "ai.request", "ai.response"],
            "split {split}"
        );
        let turn = resp(&events[3]);
        if kept {
            assert_eq!(turn.usage.as_ref().unwrap().total_tokens, Some(1209));
            assert_eq!(d.stats().connections_expired, 0);
        } else {
            assert!(has_reason(&events[3], "connection_idle"));
            assert_eq!(d.stats().connections_expired, 1);
        }
    }
}

/// Scenario: the plain turn with `streaming_chunks` on.
/// Guarantees: the server's messages become ai.streaming_chunk events of
/// the turn's request, as SSE records do on the HTTP path; their deltas
/// join to the answer.
#[test]
fn streaming_chunks_from_messages() {
    let mut d = decoder(DecoderConfig {
        streaming_chunks: true,
        ..DecoderConfig::default()
    });
    let p = procs(PID, "codex");
    let mut events = Vec::new();
    for (i, (dir, bytes)) in wire("codex-0.171.0-ws-plain.wire.json").iter().enumerate() {
        events.extend(d.push(chunk(PID, 7, *dir, 1000 + i as u64, bytes), &p));
    }
    check(&events, &[KEY]);
    let turn = of_type(&events, "ai.request")[1];
    let chunks: Vec<_> = of_type(&events, "ai.streaming_chunk")
        .into_iter()
        .filter_map(|e| match &e.data {
            Some(EventData::AiStreamingChunk(c)) => Some(c),
            _ => None,
        })
        .filter(|c| c.request_id == req(turn).request_id)
        .collect();
    assert!(!chunks.is_empty());
    let text: String = chunks
        .iter()
        .filter_map(|c| c.delta.as_ref().and_then(|d| d.content.clone()))
        .collect();
    assert_eq!(text, "Hello from the fake Responses API.");
}

/// Scenario: Codex's fallback: the upgrade is refused with 426, then the
/// turn goes as `POST /v1/responses` with a zstd request body
/// (`accept-encoding: zstd,gzip`) and a gzip SSE response, headers and
/// events from the recorded transcript.
/// Guarantees: the refused upgrade yields nothing; the POST yields one
/// ai.request (openai, gpt-5.1-codex, streaming, https endpoint) and one
/// ai.response with the transcript's usage, text and finish reason.
#[test]
fn codex_http_sse_fallback() {
    let text = std::fs::read_to_string(fixture("codex-0.171.0-ws-refused-http-sse-fallback.jsonl"))
        .unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let head = |r: &Value, skip: &[&str]| -> String {
        let mut s = format!(
            "{} {} HTTP/1.1\r\n",
            r["method"].as_str().unwrap(),
            r["path"].as_str().unwrap()
        );
        for h in r["headers"].as_array().unwrap() {
            let (n, v) = (h[0].as_str().unwrap(), h[1].as_str().unwrap());
            if !skip.contains(&n.to_ascii_lowercase().as_str()) {
                s.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        s.replace("localhost:28744", "api.openai.com")
    };
    let get = records
        .iter()
        .find(|r| r["kind"] == "http_request" && r["method"] == "GET")
        .unwrap();
    let post = records
        .iter()
        .find(|r| r["kind"] == "http_request" && r["method"] == "POST")
        .unwrap();
    let mut upgrade = head(get, &[]);
    upgrade.push_str("\r\n");
    let refusal = h1_json_response(
        426,
        &json!({"error": {"message": "websocket refused by test server"}}),
    );
    let body = zstd::encode_all(serde_json::to_vec(&post["body"]).unwrap().as_slice(), 3).unwrap();
    let mut request = head(post, &["content-length"]).into_bytes();
    request.extend_from_slice(
        format!(
            "content-encoding: zstd\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(&body);
    let mut sse = Vec::new();
    for r in records.iter().filter(|r| r["kind"] == "sse") {
        let m = &r["message"];
        sse.extend_from_slice(
            format!("event: {}\ndata: {}\n\n", m["type"].as_str().unwrap(), m).as_bytes(),
        );
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&sse).unwrap();
    let gz = gz.finish().unwrap();
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
        gz.len()
    )
    .into_bytes();
    response.extend_from_slice(&gz);
    response.extend_from_slice(b"\r\n0\r\n\r\n");

    let mut d = decoder(DecoderConfig::default());
    let p = procs(PID, "codex");
    let mut events = Vec::new();
    for (i, (dir, bytes)) in [
        (Direction::Write, upgrade.into_bytes()),
        (Direction::Read, refusal),
        (Direction::Write, request),
        (Direction::Read, response),
    ]
    .into_iter()
    .enumerate()
    {
        for part in bytes.chunks(1000) {
            events.extend(d.push(chunk(PID, 9, dir, 10 + i as u64, part), &p));
        }
    }
    check(&events, &[KEY]);
    assert_eq!(types(&events), ["ai.request", "ai.response"]);
    assert_eq!(d.stats().websocket_connections, 0);
    let rq = req(&events[0]);
    assert_eq!(
        rq.model.as_ref().unwrap().id.as_deref(),
        Some("gpt-5.1-codex")
    );
    assert_eq!(rq.streaming, Some(true));
    assert_eq!(
        rq.provider.as_ref().unwrap().endpoint.as_deref(),
        Some("https://api.openai.com/v1/responses")
    );
    let rs = resp(&events[1]);
    assert_eq!(rs.status_code, Some(200));
    assert_eq!(rs.finish_reason.as_deref(), Some("stop"));
    let u = rs.usage.as_ref().unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            u.cached_tokens
        ),
        (Some(1200), Some(9), Some(1209), Some(0))
    );
    assert!(
        matches!(first_content(rs), Some(Content::Text(t)) if t == "Hello from the fake Responses API.")
    );
}
