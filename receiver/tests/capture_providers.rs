//! Provider payloads through the whole decoder into exact OISP fields:
//! Anthropic Messages (plain, streamed with tool use), OpenAI Responses
//! API, embeddings, Gemini (JSON array stream and `alt=sse`), Ollama
//! NDJSON, an OpenAI-compatible body on an unknown host, the tool call ->
//! tool result link across requests, and server-side deduplication.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capture_support;

use capture_support::*;
use oispd_receiver::capture::{CaptureDecoder, DecoderConfig, Direction, ATTR_CAPTURE_SIDE};
use oispd_semconv::agent::{AgentToolCall, AgentToolResult};
use oispd_semconv::ai::{AiEmbedding, Content};
use oispd_semconv::{ConfidenceLevel, EventData, OispEvent, Relationship};
use serde_json::json;

const ANT_KEY: &str = "sk-ant-api03-TOPSECRETTOPSECRET";

/// One exchange on a fresh connection: request, then the response in `pieces`.
fn exchange(
    d: &mut CaptureDecoder,
    p: &Procs,
    pid: u32,
    conn: u64,
    request: Vec<u8>,
    pieces: Vec<Vec<u8>>,
) -> Vec<OispEvent> {
    let mut events = d.push(chunk(pid, conn, Direction::Write, 0, &request), p);
    for (i, piece) in pieces.iter().enumerate() {
        events.extend(d.push(
            chunk(pid, conn, Direction::Read, 10 * (i as u64 + 1), piece),
            p,
        ));
    }
    events
}

fn sse(events: &[(&str, serde_json::Value)]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\r\ndata: {data}\r\n\r\n").into_bytes())
        .collect()
}

fn tool_call(ev: &OispEvent) -> &AgentToolCall {
    match &ev.data {
        Some(EventData::AgentToolCall(d)) => d,
        _ => panic!("not a tool call"),
    }
}

fn tool_result(ev: &OispEvent) -> &AgentToolResult {
    match &ev.data {
        Some(EventData::AgentToolResult(d)) => d,
        _ => panic!("not a tool result"),
    }
}

/// Scenario: an Anthropic streamed answer that asks for a tool (input as
/// input_json_delta pieces), then the agent's next request carrying the
/// tool_result.
/// Guarantees: one ai.response with usage and tool call, one
/// agent.tool_call with parsed arguments, one agent.tool_result linked to
/// it by call id and related event; the x-api-key never appears.
#[test]
fn anthropic_stream_tool_use_and_result() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(11, "claude");
    let body = json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
        "system": "You are Claude Code.",
        "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "list files"}]
    });
    let request = h1_json_request(
        "api.anthropic.com",
        "/v1/messages",
        &[("x-api-key", ANT_KEY), ("anthropic-version", "2023-06-01")],
        &body,
    );
    let stream = sse(&[
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929", "content": [], "usage": {"input_tokens": 120, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Listing."}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_01A", "name": "Bash", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"command\": \"l"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "s -la\"}"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 33}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    let response = h1_chunked_response("text/event-stream", &stream);
    // Deliver the response in 7-byte reads: SSE events split everywhere.
    let pieces: Vec<Vec<u8>> = response.chunks(7).map(<[u8]>::to_vec).collect();
    let mut events = exchange(&mut d, &p, 11, 1, request, pieces);
    let rs = resp(one(&events, "ai.response"));
    assert_eq!(
        rs.model.as_ref().unwrap().id.as_deref(),
        Some("claude-sonnet-4-5-20250929")
    );
    assert_eq!(
        rs.provider.as_ref().unwrap().name.as_deref(),
        Some("anthropic")
    );
    assert_eq!(rs.finish_reason.as_deref(), Some("tool_calls"));
    let u = rs.usage.as_ref().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (Some(120), Some(33), Some(153))
    );
    assert_eq!(rs.tool_calls_count, Some(1));
    let call_ev = one(&events, "agent.tool_call");
    let call = tool_call(call_ev);
    assert_eq!(call.call_id.as_deref(), Some("toolu_01A"));
    assert_eq!(call.tool.name.as_deref(), Some("Bash"));
    assert_eq!(call.tool.kind.as_deref(), Some("shell"));
    assert_eq!(call.arguments.as_ref().unwrap()["command"], "ls -la");
    let r = req(one(&events, "ai.request"));
    assert_eq!(
        r.auth.as_ref().unwrap().key_prefix.as_deref(),
        Some("sk-ant-")
    );
    assert_eq!(r.has_system_prompt, Some(true));
    assert_eq!(r.tools_count, Some(1));

    // The next request carries the result (and the earlier turns).
    let next = json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1024,
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01A", "name": "Bash", "input": {"command": "ls -la"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "a.txt\nb.txt"}]}
        ]
    });
    let req2 = h1_json_request(
        "api.anthropic.com",
        "/v1/messages",
        &[("x-api-key", ANT_KEY)],
        &next,
    );
    let mut c = chunk(11, 1, Direction::Write, 2000, &req2);
    c.tid = 99;
    let more = d.push(c, &p);
    let result_ev = one(&more, "agent.tool_result");
    let result = tool_result(result_ev);
    assert_eq!(result.call_id, "toolu_01A");
    assert_eq!(result.tool.as_ref().unwrap().name.as_deref(), Some("Bash"));
    assert_eq!(result.result, Some(Content::Text("a.txt\nb.txt".into())));
    assert_eq!(result.result_size_bytes, Some(11));
    let rel = &result_ev.related_events.as_ref().unwrap()[0];
    assert_eq!(rel.event_id, call_ev.event_id);
    assert_eq!(rel.relationship, Relationship::Parent);
    // A third request repeating the same history reports no second result.
    let again = d.push(
        chunk(
            11,
            1,
            Direction::Write,
            3000,
            &h1_json_request("api.anthropic.com", "/v1/messages", &[], &next),
        ),
        &p,
    );
    assert!(of_type(&again, "agent.tool_result").is_empty());
    events.extend(more);
    events.extend(again);
    check(&events, &[ANT_KEY, "TOPSECRET"]);
}

/// Scenario: a plain Anthropic response with text and a tool_use block.
/// Guarantees: the response and tool call fields are exact.
#[test]
fn anthropic_plain() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(12, "python3");
    let body = json!({"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "weather?"}]});
    let answer = json!({
        "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "Checking"}, {"type": "tool_use", "id": "toolu_02", "name": "get_weather", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 10}
    });
    let events = exchange(
        &mut d,
        &p,
        12,
        1,
        h1_json_request(
            "api.anthropic.com",
            "/v1/messages",
            &[("x-api-key", ANT_KEY)],
            &body,
        ),
        vec![h1_json_response(200, &answer)],
    );
    check(&events, &[ANT_KEY]);
    let rs = resp(one(&events, "ai.response"));
    assert_eq!(rs.provider_request_id.as_deref(), Some("msg_02"));
    assert_eq!(rs.usage.as_ref().unwrap().total_tokens, Some(30));
    let tc = &rs.tool_calls.as_ref().unwrap()[0];
    assert_eq!(tc.arguments, Some(Content::Json(json!({"city": "Paris"}))));
    assert_eq!(
        tool_call(one(&events, "agent.tool_call"))
            .call_id
            .as_deref(),
        Some("toolu_02")
    );
}

/// Scenario: an Anthropic answer with cache reads and writes, an OpenAI
/// answer from a dated model the catalogue lists undated, an unknown model,
/// all decoded with the official catalogue; then one without it.
/// Guarantees: the exact `usage.*_cost_usd` and `ai.cost.total_usd` of each
/// priced call, no cost for the unknown model or without prices, and
/// schema-valid events.
#[test]
fn responses_are_priced_from_the_catalogue() {
    let p = procs(13, "python3");
    let anthropic = |d: &mut CaptureDecoder| {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
        let answer = json!({
            "id": "msg_03", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Hello"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 100, "output_tokens": 300, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 500}
        });
        let request = h1_json_request(
            "api.anthropic.com",
            "/v1/messages",
            &[("x-api-key", ANT_KEY)],
            &body,
        );
        exchange(d, &p, 13, 1, request, vec![h1_json_response(200, &answer)])
    };
    let openai = |d: &mut CaptureDecoder, conn: u64, model: &str| {
        let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        let answer = json!({
            "id": "chatcmpl-9", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1234, "completion_tokens": 56, "total_tokens": 1290}
        });
        let request = h1_json_request(
            "api.openai.com",
            "/v1/chat/completions",
            &[("authorization", "Bearer sk-proj-TOPSECRET")],
            &body,
        );
        exchange(
            d,
            &p,
            13,
            conn,
            request,
            vec![h1_json_response(200, &answer)],
        )
    };
    let costs = |events: &[OispEvent]| {
        let ev = one(events, "ai.response");
        let u = resp(ev).usage.clone().unwrap();
        let text = |n: Option<serde_json::Number>| n.map(|n| n.to_string());
        let attr = oispd_semconv::otel::event_attributes(ev)
            .into_iter()
            .find(|kv| kv.key == "ai.cost.total_usd")
            .and_then(|kv| kv.value)
            .map(|v| format!("{:?}", v.value));
        (
            text(u.input_cost_usd),
            text(u.output_cost_usd),
            text(u.total_cost_usd),
            attr,
        )
    };
    let s = |v: &str| Some(v.to_string());

    let mut d = priced_decoder(DecoderConfig::default());
    let events = anthropic(&mut d);
    check(&events, &[ANT_KEY]);
    let u = resp(one(&events, "ai.response")).usage.clone().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.cached_tokens, u.cache_creation_tokens),
        (Some(2600), Some(2000), Some(500))
    );
    assert_eq!(
        costs(&events),
        (
            s("0.002775"),
            s("0.0045"),
            s("0.007275"),
            s("Some(DoubleValue(0.007275))")
        )
    );
    let events = openai(&mut d, 2, "gpt-4o-mini-2024-07-18");
    check(&events, &["TOPSECRET"]);
    assert_eq!(
        costs(&events),
        (
            s("0.0001851"),
            s("0.0000336"),
            s("0.0002187"),
            s("Some(DoubleValue(0.0002187))")
        )
    );
    let events = openai(&mut d, 3, "my-finetune-7b");
    assert_eq!(costs(&events), (None, None, None, None));

    let mut unpriced = decoder(DecoderConfig::default());
    assert_eq!(costs(&anthropic(&mut unpriced)), (None, None, None, None));
}

/// Scenario: an Anthropic error response (HTTP 429).
/// Guarantees: success false, status, error type and message from the body.
#[test]
fn error_response() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(12, "python3");
    let body = json!({"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
    let err =
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}});
    let events = exchange(
        &mut d,
        &p,
        12,
        1,
        h1_json_request("api.anthropic.com", "/v1/messages", &[], &body),
        vec![h1_json_response(429, &err)],
    );
    check(&events, &[]);
    let rs = resp(one(&events, "ai.response"));
    assert_eq!(rs.status_code, Some(429));
    assert_eq!(rs.success, Some(false));
    assert_eq!(rs.finish_reason.as_deref(), Some("error"));
    let e = rs.error.as_ref().unwrap();
    assert_eq!(
        (e.kind.as_deref(), e.message.as_deref()),
        (Some("rate_limit_error"), Some("slow down"))
    );
}

/// Scenario: OpenAI Responses API streamed, closing with response.completed.
/// Guarantees: usage (cached, reasoning), function call and its tool call event.
#[test]
fn openai_responses_stream() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(13, "python3");
    let body = json!({"model": "gpt-5", "stream": true, "input": "weather in Oslo?", "tools": [{"type": "function", "name": "get_weather"}]});
    let done = json!({
        "id": "resp_9", "object": "response", "status": "completed", "model": "gpt-5-2025-08-07",
        "output": [{"type": "function_call", "id": "fc_1", "call_id": "call_oslo", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}],
        "usage": {"input_tokens": 50, "output_tokens": 20, "total_tokens": 70, "input_tokens_details": {"cached_tokens": 10}, "output_tokens_details": {"reasoning_tokens": 8}}
    });
    let stream: Vec<Vec<u8>> = [
        json!({"type": "response.created", "response": {"id": "resp_9", "model": "gpt-5-2025-08-07", "status": "in_progress"}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "call_id": "call_oslo", "name": "get_weather", "arguments": ""}}),
        json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"city\":\"Oslo\"}"}),
        json!({"type": "response.completed", "response": done}),
    ]
    .iter()
    .map(|v| format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap()).into_bytes())
    .collect();
    let events = exchange(
        &mut d,
        &p,
        13,
        1,
        h1_json_request("api.openai.com", "/v1/responses", &[], &body),
        vec![h1_chunked_response("text/event-stream", &stream)],
    );
    check(&events, &[]);
    let rs = resp(one(&events, "ai.response"));
    assert_eq!(rs.finish_reason.as_deref(), Some("tool_calls"));
    let u = rs.usage.as_ref().unwrap();
    assert_eq!(
        (u.total_tokens, u.cached_tokens, u.reasoning_tokens),
        (Some(70), Some(10), Some(8))
    );
    let call = tool_call(one(&events, "agent.tool_call"));
    assert_eq!(call.call_id.as_deref(), Some("call_oslo"));
    assert_eq!(call.arguments.as_ref().unwrap()["city"], "Oslo");
}

/// Scenario: an OpenAI embeddings call.
/// Guarantees: an ai.request of type embedding and one ai.embedding with
/// inputs, dimensions, tokens and latency (no ai.response).
#[test]
fn openai_embeddings() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(14, "python3");
    let body = json!({"model": "text-embedding-3-small", "input": ["one", "two", "three"]});
    let answer = json!({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3, 0.4]}, {"object": "embedding", "index": 1, "embedding": [0.1, 0.2, 0.3, 0.4]}, {"object": "embedding", "index": 2, "embedding": [0.1, 0.2, 0.3, 0.4]}],
        "usage": {"prompt_tokens": 6, "total_tokens": 6}
    });
    let events = exchange(
        &mut d,
        &p,
        14,
        1,
        h1_json_request("api.openai.com", "/v1/embeddings", &[], &body),
        vec![h1_json_response(200, &answer)],
    );
    check(&events, &[]);
    assert_eq!(types(&events), vec!["ai.request", "ai.embedding"]);
    assert_eq!(req(&events[0]).request_type.as_deref(), Some("embedding"));
    let Some(EventData::AiEmbedding(e)) = &events[1].data else {
        panic!()
    };
    let expected = AiEmbedding {
        provider: e.provider.clone(),
        model: e.model.clone(),
        input_count: Some(3),
        total_tokens: Some(6),
        dimensions: Some(4),
        latency_ms: Some(10),
        ..AiEmbedding::default()
    };
    assert_eq!(e, &expected);
    assert_eq!(
        e.model.as_ref().unwrap().id.as_deref(),
        Some("text-embedding-3-small")
    );
}

/// Scenario: Gemini streamGenerateContent without alt=sse (a JSON array
/// sent element by element) and with alt=sse; the key in the query.
/// Guarantees: the same assembled answer both ways; the key never appears
/// (not even in the endpoint).
#[test]
fn gemini_array_and_sse_streams() {
    let key = "AIzaSyTESTKEYTESTKEYTESTKEY1234";
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 50}});
    let frags = [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}], "modelVersion": "gemini-2.5-flash", "responseId": "g1"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2, "totalTokenCount": 4}, "modelVersion": "gemini-2.5-flash"}),
    ];
    let array_body = format!("[{},\r\n{}]", frags[0], frags[1]).into_bytes();
    let sse_body: Vec<u8> = frags
        .iter()
        .flat_map(|f| format!("data: {f}\r\n\r\n").into_bytes())
        .collect();
    for (path, ctype, wire) in [
        (
            format!("/v1beta/models/gemini-2.5-flash:streamGenerateContent?key={key}"),
            "application/json; charset=UTF-8",
            array_body,
        ),
        (
            format!("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key={key}"),
            "text/event-stream",
            sse_body,
        ),
    ] {
        let mut d = decoder(DecoderConfig::default());
        let p = procs(15, "gemini");
        let refs: Vec<&[u8]> = wire.chunks(5).collect();
        let events = exchange(
            &mut d,
            &p,
            15,
            1,
            h1_json_request("generativelanguage.googleapis.com", &path, &[], &body),
            vec![h1_chunked_response(ctype, &refs)],
        );
        check(&events, &[key, "TESTKEY"]);
        let r = req(one(&events, "ai.request"));
        assert_eq!(
            r.model.as_ref().unwrap().id.as_deref(),
            Some("gemini-2.5-flash")
        );
        assert_eq!(r.streaming, Some(true));
        assert_eq!(r.provider.as_ref().unwrap().name.as_deref(), Some("google"));
        assert_eq!(r.auth.as_ref().unwrap().key_prefix.as_deref(), Some("AIza"));
        let rs = resp(one(&events, "ai.response"));
        assert_eq!(rs.usage.as_ref().unwrap().total_tokens, Some(4), "{path}");
        assert_eq!(rs.finish_reason.as_deref(), Some("stop"));
        assert_eq!(first_content(rs), Some(Content::Text("Hello".into())));
    }
}

/// Scenario: Ollama /api/chat streamed as NDJSON on localhost:11434.
/// Guarantees: provider ollama, streaming by default, counts from the last record.
#[test]
fn ollama_ndjson() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(16, "ollama-client");
    let body = json!({"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]});
    let lines = [
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": "Hi"}, "done": false}),
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": " you"}, "done": false}),
        json!({"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop", "prompt_eval_count": 8, "eval_count": 3}),
    ];
    let pieces: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| format!("{l}\n").into_bytes())
        .collect();
    let events = exchange(
        &mut d,
        &p,
        16,
        1,
        h1_json_request("localhost:11434", "/api/chat", &[], &body),
        vec![h1_chunked_response("application/x-ndjson", &pieces)],
    );
    check(&events, &[]);
    let r = req(one(&events, "ai.request"));
    assert_eq!(r.provider.as_ref().unwrap().name.as_deref(), Some("ollama"));
    assert_eq!(r.streaming, Some(true));
    assert_eq!(r.auth.as_ref().unwrap().kind.as_deref(), Some("none"));
    let rs = resp(one(&events, "ai.response"));
    let u = rs.usage.as_ref().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (Some(8), Some(3), Some(11))
    );
    assert_eq!(first_content(rs), Some(Content::Text("Hi you".into())));
}

/// Scenario: an OpenAI-compatible chat body on a host no catalogue knows.
/// Guarantees: recognised by path and body shape, provider `other`,
/// medium confidence, payload_inspection detection.
#[test]
fn openai_compatible_unknown_host() {
    let mut d = decoder(DecoderConfig::default());
    let p = procs(17, "python3");
    let body = json!({"model": "my-local-model", "messages": [{"role": "user", "content": "hi"}]});
    let answer = json!({"id": "x1", "model": "my-local-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "yo"}, "finish_reason": "stop"}]});
    let events = exchange(
        &mut d,
        &p,
        17,
        1,
        h1_json_request(
            "llm.internal.example:8443",
            "/v1/chat/completions",
            &[],
            &body,
        ),
        vec![h1_json_response(200, &answer)],
    );
    check(&events, &[]);
    let ev = one(&events, "ai.request");
    assert_eq!(
        req(ev).provider.as_ref().unwrap().name.as_deref(),
        Some("other")
    );
    assert_eq!(ev.confidence.level, ConfidenceLevel::Medium);
    assert_eq!(
        ev.confidence.ai_detection_method.as_deref(),
        Some("payload_inspection")
    );
    assert_eq!(
        resp(one(&events, "ai.response"))
            .choices
            .as_ref()
            .unwrap()
            .len(),
        1
    );
}

/// Scenario: a local gateway terminates TLS: it reads the client's request
/// and writes the response (the server side), while the client process
/// captures the same call on its own connection.
/// Guarantees: by default only the client's events come out; with
/// capture_server_side the gateway's events come too, marked server-side
/// with the capture points swapped.
#[test]
fn server_side_dedupe() {
    let body = serde_json::to_vec(
        &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .unwrap();
    let answer = serde_json::to_vec(&json!({"id": "c", "model": "gpt-4o", "choices": []})).unwrap();
    let request = h1_request("api.openai.com", "/v1/chat/completions", &[], &body);
    let response = h1_response(200, "application/json", &answer);
    let run = |config: DecoderConfig| {
        let mut d = decoder(config);
        let mut p = procs(1, "python3");
        p.0.extend(procs(2, "gateway").0);
        let mut events = Vec::new();
        events.extend(d.push(chunk(1, 10, Direction::Write, 0, &request), &p));
        events.extend(d.push(chunk(2, 20, Direction::Read, 1, &request), &p));
        events.extend(d.push(chunk(2, 20, Direction::Write, 2, &response), &p));
        events.extend(d.push(chunk(1, 10, Direction::Read, 3, &response), &p));
        (events, d.stats().server_side_dropped)
    };
    let (events, dropped) = run(DecoderConfig::default());
    assert_eq!(types(&events), vec!["ai.request", "ai.response"]);
    assert!(events
        .iter()
        .all(|e| e.process.as_ref().unwrap().pid == Some(1)));
    assert_eq!(dropped, 1);
    let (events, _) = run(DecoderConfig {
        capture_server_side: true,
        ..DecoderConfig::default()
    });
    check(&events, &[]);
    let server: Vec<_> = events
        .iter()
        .filter(|e| e.process.as_ref().unwrap().pid == Some(2))
        .collect();
    assert_eq!(server.len(), 2);
    for e in &server {
        assert_eq!(e.attrs.as_ref().unwrap()[ATTR_CAPTURE_SIDE], "server");
    }
    assert_eq!(server[0].event_type, "ai.request");
    assert_eq!(server[0].source.capture_point.as_deref(), Some("ssl_read"));
    assert_eq!(server[1].source.capture_point.as_deref(), Some("ssl_write"));
}

/// Scenario: capture_content off.
/// Guarantees: lengths and hashes stay, text and arguments go.
#[test]
fn content_capture_off() {
    let mut d = decoder(DecoderConfig {
        capture_content: false,
        ..DecoderConfig::default()
    });
    let p = procs(18, "python3");
    let body =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "my secret plan"}]});
    let answer = json!({"id": "c", "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": "the plan is", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":\"hidden\"}"}}]}, "finish_reason": "tool_calls"}]});
    let events = exchange(
        &mut d,
        &p,
        18,
        1,
        h1_json_request("api.openai.com", "/v1/chat/completions", &[], &body),
        vec![h1_json_response(200, &answer)],
    );
    check(&events, &["my secret plan", "the plan is", "hidden"]);
    let m = &req(one(&events, "ai.request")).messages.as_ref().unwrap()[0];
    assert_eq!(m.content_length, Some(14));
    assert!(m.content_hash.is_some());
    assert!(tool_call(one(&events, "agent.tool_call"))
        .arguments_hash
        .is_some());
}

/// Scenario: a request whose Host has no port, on a socket whose peer is
/// 127.0.0.1:11434 as the capture source reported it.
/// Guarantees: the socket's port identifies Ollama; the server address
/// and port are attributes of the events.
#[test]
fn port_from_socket_and_server_address() {
    use oispd_receiver::capture::{ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT};
    let mut d = decoder(DecoderConfig::default());
    let p = procs(19, "python3");
    let body =
        json!({"model": "qwen3", "stream": false, "messages": [{"role": "user", "content": "hi"}]});
    let mut c = chunk(
        19,
        1,
        Direction::Write,
        0,
        &h1_json_request("localhost", "/api/chat", &[], &body),
    );
    c.peer = Some("127.0.0.1:11434".parse().unwrap());
    c.local = Some("127.0.0.1:50000".parse().unwrap());
    let events = d.push(c, &p);
    let ev = one(&events, "ai.request");
    assert_eq!(
        req(ev).provider.as_ref().unwrap().name.as_deref(),
        Some("ollama")
    );
    let attrs = ev.attrs.as_ref().unwrap();
    assert_eq!(attrs[ATTR_SERVER_ADDRESS], "127.0.0.1");
    assert_eq!(attrs[ATTR_SERVER_PORT], 11434);
}
