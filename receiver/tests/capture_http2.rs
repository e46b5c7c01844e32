//! HTTP/2 capture decoding from real h2 bytes: the `h2` crate's client and
//! server talk over an in-memory duplex, every write of each side is
//! recorded as one TLS chunk, and the chunks are fed to the decoder in the
//! order they happened. Several concurrent streams share the connection,
//! so HPACK's dynamic table is reused across requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capture_support;

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use capture_support::*;
use oispd_receiver::capture::{DecoderConfig, Direction, ATTR_PROTOCOL_VERSION};
use oispd_semconv::ai::Content;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

type Log = Arc<Mutex<Vec<(Direction, Vec<u8>)>>>;

/// Records every successful write as one chunk in `log`.
struct Recorder<T> {
    inner: T,
    dir: Direction,
    log: Log,
}

impl<T: AsyncRead + Unpin> AsyncRead for Recorder<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Recorder<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let dir = self.dir;
            self.log.lock().unwrap().push((dir, buf[..*n].to_vec()));
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

const KEY: &str = "sk-proj-H2SECRETH2SECRETH2SECRET";

fn sse_body() -> Vec<Bytes> {
    let events = [
        r#"{"id":"chatcmpl-h2","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Bon"}}]}"#,
        r#"{"id":"chatcmpl-h2","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"jour"}}]}"#,
        r#"{"id":"chatcmpl-h2","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
    ];
    let mut v: Vec<Bytes> = events
        .iter()
        .map(|e| Bytes::from(format!("data: {e}\n\n")))
        .collect();
    v.push(Bytes::from_static(b"data: [DONE]\n\n"));
    v
}

/// Runs `n` concurrent chat calls (`i`-th uses model `model-i`; odd ones
/// stream) over one h2 connection and returns the recorded chunks.
fn record_h2(n: usize) -> Vec<(Direction, Vec<u8>)> {
    let log: Log = Arc::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (c, s) = tokio::io::duplex(1 << 16);
        let client_io = Recorder { inner: c, dir: Direction::Write, log: log.clone() };
        let server_io = Recorder { inner: s, dir: Direction::Read, log: log.clone() };
        let server = tokio::spawn(async move {
            let mut conn = h2::server::handshake(server_io).await.unwrap();
            let mut handlers = Vec::new();
            while let Some(req) = conn.accept().await {
                let (req, mut respond) = req.unwrap();
                handlers.push(tokio::spawn(async move {
                    let mut body = req.into_body();
                    let mut data = Vec::new();
                    while let Some(chunk) = body.data().await {
                        let chunk = chunk.unwrap();
                        body.flow_control().release_capacity(chunk.len()).unwrap();
                        data.extend_from_slice(&chunk);
                    }
                    let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
                    let model = v["model"].as_str().unwrap().to_string();
                    if v["stream"].as_bool() == Some(true) {
                        let resp = http::Response::builder()
                            .status(200)
                            .header("content-type", "text/event-stream")
                            .body(())
                            .unwrap();
                        let mut send = respond.send_response(resp, false).unwrap();
                        let parts = sse_body();
                        let last = parts.len() - 1;
                        for (i, p) in parts.into_iter().enumerate() {
                            send.send_data(p, i == last).unwrap();
                            tokio::task::yield_now().await;
                        }
                    } else {
                        let body = serde_json::json!({
                            "id": format!("chatcmpl-{model}"), "model": model,
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("answer from {model}")}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
                        });
                        let resp = http::Response::builder()
                            .status(200)
                            .header("content-type", "application/json")
                            .header("x-request-id", format!("req-{model}"))
                            .body(())
                            .unwrap();
                        let mut send = respond.send_response(resp, false).unwrap();
                        send.send_data(Bytes::from(serde_json::to_vec(&body).unwrap()), true).unwrap();
                    }
                }));
            }
            for h in handlers {
                h.await.unwrap();
            }
        });
        let (client, conn) = h2::client::handshake(client_io).await.unwrap();
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut calls = Vec::new();
        for i in 0..n {
            let mut client = client.clone().ready().await.unwrap();
            let stream = i % 2 == 1;
            let body = serde_json::json!({
                "model": format!("model-{i}"), "stream": stream,
                "messages": [{"role": "user", "content": format!("question {i}")}]
            });
            let req = http::Request::builder()
                .method("POST")
                .uri("https://api.openai.com/v1/chat/completions")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {KEY}"))
                .header("user-agent", "OpenAI/Python 1.99.0")
                .body(())
                .unwrap();
            let (resp, mut send) = client.send_request(req, false).unwrap();
            send.send_data(Bytes::from(serde_json::to_vec(&body).unwrap()), true).unwrap();
            calls.push(tokio::spawn(async move {
                let resp = resp.await.unwrap();
                let mut body = resp.into_body();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    body.flow_control().release_capacity(chunk.len()).unwrap();
                }
            }));
        }
        for c in calls {
            c.await.unwrap();
        }
        drop(client);
        driver.await.unwrap();
        server.await.unwrap();
    });
    let chunks = log.lock().unwrap().clone();
    chunks
}

/// Scenario: three concurrent calls on one HTTP/2 connection (one streamed),
/// as curl or Go would make them.
/// Guarantees: three request/response pairs, each matched by stream to its
/// own model; the streamed one assembled; HTTP/2 noted; no key in output.
#[test]
fn concurrent_streams_with_hpack_reuse() {
    let chunks = record_h2(3);
    let mut d = decoder(DecoderConfig::default());
    let p = procs(77, "curl");
    let mut events = Vec::new();
    for (i, (dir, data)) in chunks.iter().enumerate() {
        events.extend(d.push(chunk(77, 5, *dir, i as u64, data), &p));
    }
    check(&events, &[KEY, "H2SECRET"]);
    assert_eq!(d.stats().http2_errors, 0);
    assert_eq!(d.stats().hpack_errors, 0);
    let reqs = of_type(&events, "ai.request");
    let resps = of_type(&events, "ai.response");
    assert_eq!((reqs.len(), resps.len()), (3, 3), "{:?}", types(&events));
    for r in &reqs {
        let attrs = r.attrs.as_ref().unwrap();
        assert_eq!(attrs[ATTR_PROTOCOL_VERSION], "2");
        let rq = req(r);
        assert_eq!(
            rq.provider.as_ref().unwrap().name.as_deref(),
            Some("openai")
        );
        assert_eq!(
            rq.auth.as_ref().unwrap().key_prefix.as_deref(),
            Some("sk-proj-")
        );
    }
    for e in resps {
        let rs = resp(e);
        let rq = reqs
            .iter()
            .map(|r| req(r))
            .find(|r| r.request_id == rs.request_id)
            .unwrap();
        let model = rq.model.as_ref().unwrap().id.clone().unwrap();
        let i: usize = model.trim_start_matches("model-").parse().unwrap();
        let msg = rs.choices.as_ref().unwrap()[0].message.as_ref().unwrap();
        if i % 2 == 1 {
            assert_eq!(rq.streaming, Some(true));
            assert_eq!(msg.content, Some(Content::Text("Bonjour".into())));
            assert_eq!(rs.usage.as_ref().unwrap().total_tokens, Some(7));
            assert!(rs.time_to_first_token_ms.is_some());
        } else {
            assert_eq!(
                msg.content,
                Some(Content::Text(format!("answer from {model}")))
            );
            assert_eq!(
                rs.provider_request_id.as_deref(),
                Some(format!("chatcmpl-{model}").as_str())
            );
        }
    }
}

/// Scenario: the recorded HTTP/2 connection replayed one byte per chunk.
/// Guarantees: frame and HPACK decoding survive any split.
#[test]
fn bytewise_h2() {
    let chunks = record_h2(2);
    let mut d = decoder(DecoderConfig::default());
    let p = procs(1, "go");
    let mut events = Vec::new();
    for (dir, data) in &chunks {
        for b in data {
            events.extend(d.push(chunk(1, 1, *dir, 0, &[*b]), &p));
        }
    }
    assert_eq!(
        types(&events)
            .iter()
            .filter(|t| *t == "ai.response")
            .count(),
        2
    );
    assert_eq!(d.stats().http2_errors, 0);
}

/// Scenario: the same request headers sent on later streams.
/// Guarantees: the h2 encoder did index them (later HEADERS frames are
/// smaller), so the decoder really exercised the dynamic table.
#[test]
fn later_header_blocks_use_the_dynamic_table() {
    let chunks = record_h2(3);
    let client: Vec<u8> = chunks
        .iter()
        .filter(|(d, _)| *d == Direction::Write)
        .flat_map(|(_, b)| b.clone())
        .collect();
    let mut pos = 24; // preface
    let mut header_sizes = Vec::new();
    while pos + 9 <= client.len() {
        let len = u32::from_be_bytes([0, client[pos], client[pos + 1], client[pos + 2]]) as usize;
        if client[pos + 3] == 1 {
            header_sizes.push(len);
        }
        pos += 9 + len;
    }
    assert_eq!(header_sizes.len(), 3);
    assert!(
        header_sizes[1] * 3 < header_sizes[0] * 2,
        "{header_sizes:?}"
    );
}

/// A Responses API server event as an SSE record.
fn responses_sse(v: serde_json::Value) -> String {
    format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap())
}

/// Codex's fallback transport over HTTP/2: two `POST /v1/responses` on one
/// connection, zstd request bodies, gzip SSE answers in several DATA
/// frames. The first turn gets a `function_call` to `exec_command`, the
/// second (which carries the `function_call_output`) a text answer.
fn record_h2_responses() -> Vec<(Direction, Vec<u8>)> {
    use std::io::Write;
    let log: Log = Arc::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (c, s) = tokio::io::duplex(1 << 16);
        let client_io = Recorder { inner: c, dir: Direction::Write, log: log.clone() };
        let server_io = Recorder { inner: s, dir: Direction::Read, log: log.clone() };
        let server = tokio::spawn(async move {
            let mut conn = h2::server::handshake(server_io).await.unwrap();
            let mut turn = 0;
            while let Some(req) = conn.accept().await {
                let (req, mut respond) = req.unwrap();
                assert_eq!(req.headers()["content-encoding"], "zstd");
                let mut body = req.into_body();
                let mut data = Vec::new();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    body.flow_control().release_capacity(chunk.len()).unwrap();
                    data.extend_from_slice(&chunk);
                }
                let v: serde_json::Value =
                    serde_json::from_slice(&zstd::decode_all(data.as_slice()).unwrap()).unwrap();
                turn += 1;
                let id = format!("resp_h2_{turn}");
                let base = serde_json::json!({"id": id, "object": "response", "model": v["model"]});
                let mut sse = responses_sse(serde_json::json!({"type": "response.created", "response": base}));
                let answered = v["input"][0]["type"] == "function_call_output";
                let (output, usage) = if answered {
                    for d in ["Done", ": ok"] {
                        sse += &responses_sse(serde_json::json!({"type": "response.output_text.delta", "output_index": 0, "delta": d}));
                    }
                    (
                        serde_json::json!([{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done: ok"}]}]),
                        serde_json::json!({"input_tokens": 90, "output_tokens": 3, "total_tokens": 93}),
                    )
                } else {
                    let item = serde_json::json!({"type": "function_call", "call_id": "call_h2_1", "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"});
                    sse += &responses_sse(serde_json::json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "function_call", "call_id": "call_h2_1", "name": "exec_command", "arguments": ""}}));
                    sse += &responses_sse(serde_json::json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"cmd\":\"ls\"}"}));
                    sse += &responses_sse(serde_json::json!({"type": "response.output_item.done", "output_index": 0, "item": item}));
                    (
                        serde_json::json!([item]),
                        serde_json::json!({"input_tokens": 80, "output_tokens": 11, "total_tokens": 91, "input_tokens_details": {"cached_tokens": 64}}),
                    )
                };
                let mut done = base.clone();
                done["status"] = "completed".into();
                done["output"] = output;
                done["usage"] = usage;
                sse += &responses_sse(serde_json::json!({"type": "response.completed", "response": done}));
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(sse.as_bytes()).unwrap();
                let gz = gz.finish().unwrap();
                let resp = http::Response::builder()
                    .status(200)
                    .header("content-type", "text/event-stream")
                    .header("content-encoding", "gzip")
                    .body(())
                    .unwrap();
                let mut send = respond.send_response(resp, false).unwrap();
                let third = gz.len() / 3;
                let parts = [&gz[..third], &gz[third..2 * third], &gz[2 * third..]];
                for (i, p) in parts.iter().enumerate() {
                    send.send_data(Bytes::copy_from_slice(p), i == 2).unwrap();
                    tokio::task::yield_now().await;
                }
            }
        });
        let (client, conn) = h2::client::handshake(client_io).await.unwrap();
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let tools = serde_json::json!([{"type": "function", "name": "exec_command"}]);
        let bodies = [
            serde_json::json!({"model": "gpt-5.1-codex", "stream": true, "tools": tools,
                "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}]}),
            serde_json::json!({"model": "gpt-5.1-codex", "stream": true, "tools": tools,
                "input": [{"type": "function_call_output", "call_id": "call_h2_1", "output": "a.txt\nb.txt\n"}]}),
        ];
        for body in bodies {
            let mut client = client.clone().ready().await.unwrap();
            let req = http::Request::builder()
                .method("POST")
                .uri("https://api.openai.com/v1/responses")
                .header("content-type", "application/json")
                .header("content-encoding", "zstd")
                .header("accept-encoding", "zstd,gzip")
                .header("authorization", format!("Bearer {KEY}"))
                .body(())
                .unwrap();
            let (resp, mut send) = client.send_request(req, false).unwrap();
            let zbody = zstd::encode_all(serde_json::to_vec(&body).unwrap().as_slice(), 3).unwrap();
            send.send_data(Bytes::from(zbody), true).unwrap();
            let mut body = resp.await.unwrap().into_body();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                body.flow_control().release_capacity(chunk.len()).unwrap();
            }
        }
        drop(client);
        driver.await.unwrap();
        server.await.unwrap();
    });
    let chunks = log.lock().unwrap().clone();
    chunks
}

/// Scenario: the Responses API over HTTP/2 + SSE as Codex falls back to it:
/// zstd request bodies, gzip event streams, a function call in the first
/// turn and its output in the second.
/// Guarantees: two streamed calls with exact usage (cached tokens too),
/// finish reasons and text; one agent.tool_call (exec_command, its id and
/// arguments) and one agent.tool_result linked to it; HTTP/2 noted; no key.
#[test]
fn responses_api_tool_turns_over_h2() {
    let chunks = record_h2_responses();
    let mut d = decoder(DecoderConfig::default());
    let p = procs(88, "codex");
    let mut events = Vec::new();
    for (i, (dir, data)) in chunks.iter().enumerate() {
        events.extend(d.push(chunk(88, 3, *dir, i as u64, data), &p));
    }
    check(&events, &[KEY, "H2SECRET"]);
    assert_eq!(d.stats().decompress_errors, 0);
    assert_eq!(
        types(&events),
        [
            "ai.request",
            "ai.response",
            "agent.tool_call",
            "ai.request",
            "agent.tool_result",
            "ai.response"
        ]
    );
    assert_eq!(
        events[0].attrs.as_ref().unwrap()[ATTR_PROTOCOL_VERSION],
        "2"
    );
    assert_eq!(req(&events[0]).streaming, Some(true));
    let first = resp(&events[1]);
    assert_eq!(first.finish_reason.as_deref(), Some("tool_calls"));
    let u = first.usage.as_ref().unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.total_tokens,
            u.cached_tokens
        ),
        (Some(80), Some(11), Some(91), Some(64))
    );
    let Some(oispd_semconv::EventData::AgentToolCall(call)) = &events[2].data else {
        panic!("{:?}", events[2].data)
    };
    assert_eq!(call.tool.name.as_deref(), Some("exec_command"));
    assert_eq!(call.call_id.as_deref(), Some("call_h2_1"));
    assert_eq!(call.arguments.as_ref().unwrap()["cmd"], "ls");
    let Some(oispd_semconv::EventData::AgentToolResult(result)) = &events[4].data else {
        panic!("{:?}", events[4].data)
    };
    assert_eq!(result.call_id, "call_h2_1");
    assert_eq!(result.result, Some(Content::Text("a.txt\nb.txt\n".into())));
    assert_eq!(
        events[4].related_events.as_ref().unwrap()[0].event_id,
        events[2].event_id
    );
    let second = resp(&events[5]);
    assert_eq!(second.finish_reason.as_deref(), Some("stop"));
    assert_eq!(second.usage.as_ref().unwrap().total_tokens, Some(93));
    assert_eq!(
        second.choices.as_ref().unwrap()[0]
            .message
            .as_ref()
            .unwrap()
            .content,
        Some(Content::Text("Done: ok".into()))
    );
}
