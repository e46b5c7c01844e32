//! Capture decoding throughput, through the public `CaptureDecoder` API:
//!
//! - `http1_plain`: an HTTP/1.1 chat call with a 64 KiB request body and a
//!   JSON response (head parsing, Content-Length bodies, payload decoding);
//! - `http2_concurrent`: 16 interleaved HTTP/2 streams on one connection
//!   (frames, HPACK with dynamic-table reuse, stream correlation);
//! - `sse_assembly`: a streamed answer of 500 SSE events in chunked
//!   transfer, each its own read (SSE framing and stream assembly);
//! - `payload_decoding`: a 200-message conversation with tools, in one
//!   request (provider request decoding dominates).
//!
//! Each iteration decodes a fresh connection; building the chunks is
//! untimed. Throughput is in captured bytes. Run with
//! `cargo bench -p oispd-receiver --bench decode`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use oispd_receiver::capture::{
    CaptureDecoder, DecoderConfig, Direction, NoProcessLookup, TlsChunk,
};
use oispd_semconv::providers::ProviderCatalog;
use serde_json::json;

fn chunk(conn: u64, direction: Direction, ts: u64, data: Vec<u8>) -> TlsChunk {
    TlsChunk {
        pid: 1,
        tid: 1,
        conn,
        ts_mono_ns: ts,
        direction,
        full_len: data.len() as u64,
        data,
        local: None,
        peer: None,
    }
}

fn h1_request(body: &[u8]) -> Vec<u8> {
    let mut w = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer sk-proj-benchbenchbenchbench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    w.extend_from_slice(body);
    w
}

fn h1_response(body: &[u8]) -> Vec<u8> {
    let mut w = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    w.extend_from_slice(body);
    w
}

fn answer() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "chatcmpl-1", "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok ".repeat(200)}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 200, "total_tokens": 300}
    }))
    .unwrap_or_default()
}

fn plain_call() -> Vec<TlsChunk> {
    let body = serde_json::to_vec(&json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "x".repeat(64 * 1024)}]
    }))
    .unwrap_or_default();
    let req = h1_request(&body);
    let mut chunks: Vec<TlsChunk> = req
        .chunks(16 * 1024)
        .map(|c| chunk(1, Direction::Write, 1, c.to_vec()))
        .collect();
    chunks.push(chunk(1, Direction::Read, 2, h1_response(&answer())));
    chunks
}

fn sse_call() -> Vec<TlsChunk> {
    let body = serde_json::to_vec(&json!({
        "model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]
    }))
    .unwrap_or_default();
    let mut chunks = vec![
        chunk(1, Direction::Write, 1, h1_request(&body)),
        chunk(
            1,
            Direction::Read,
            2,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        ),
    ];
    for i in 0..500u64 {
        let event = format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": format!("token{i} ")}}]})
        );
        let mut w = format!("{:x}\r\n", event.len()).into_bytes();
        w.extend(event.into_bytes());
        w.extend_from_slice(b"\r\n");
        chunks.push(chunk(1, Direction::Read, 3 + i, w));
    }
    chunks.push(chunk(
        1,
        Direction::Read,
        600,
        b"f\r\ndata: [DONE]\n\n\r\n0\r\n\r\n".to_vec(),
    ));
    chunks
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn h2_call() -> Vec<TlsChunk> {
    let mut client = loona_hpack::Encoder::new();
    let mut server = loona_hpack::Encoder::new();
    let mut chunks = vec![chunk(
        1,
        Direction::Write,
        0,
        [
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            frame(4, 0, 0, &[]),
        ]
        .concat(),
    )];
    chunks.push(chunk(1, Direction::Read, 0, frame(4, 0, 0, &[])));
    let body = serde_json::to_vec(&json!({
        "model": "gpt-4o", "messages": [{"role": "user", "content": "y".repeat(2048)}]
    }))
    .unwrap_or_default();
    let answer = answer();
    for s in 0..16u32 {
        let id = 2 * s + 1;
        let block = client.encode(vec![
            (&b":method"[..], &b"POST"[..]),
            (b":scheme", b"https"),
            (b":authority", b"api.openai.com"),
            (b":path", b"/v1/chat/completions"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer sk-proj-benchbenchbenchbench"),
        ]);
        chunks.push(chunk(
            1,
            Direction::Write,
            1,
            [frame(1, 4, id, &block), frame(0, 1, id, &body)].concat(),
        ));
    }
    for s in 0..16u32 {
        let id = 2 * s + 1;
        let block = server.encode(vec![
            (&b":status"[..], &b"200"[..]),
            (b"content-type", b"application/json"),
        ]);
        chunks.push(chunk(
            1,
            Direction::Read,
            2,
            [frame(1, 4, id, &block), frame(0, 1, id, &answer)].concat(),
        ));
    }
    chunks
}

fn payload_call() -> Vec<TlsChunk> {
    let messages: Vec<_> = (0..200)
        .map(|i| {
            if i % 2 == 0 {
                json!({"role": "user", "content": format!("question number {i} about the codebase")})
            } else {
                json!({"role": "assistant", "content": format!("answer number {i} with some detail"),
                       "tool_calls": [{"id": format!("call_{i}"), "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"src/main.rs\"}"}}]})
            }
        })
        .collect();
    let tools: Vec<_> = (0..20)
        .map(|i| json!({"type": "function", "function": {"name": format!("tool_{i}"), "description": "does things", "parameters": {"type": "object"}}}))
        .collect();
    let body = serde_json::to_vec(&json!({
        "model": "gpt-4o", "temperature": 0.2, "tools": tools, "messages": messages
    }))
    .unwrap_or_default();
    vec![
        chunk(1, Direction::Write, 1, h1_request(&body)),
        chunk(1, Direction::Read, 2, h1_response(&answer())),
    ]
}

fn bench(c: &mut Criterion) {
    let catalog = ProviderCatalog::builtin();
    let mut group = c.benchmark_group("capture_decode");
    group.sample_size(30);
    for (name, make) in [
        ("http1_plain", plain_call as fn() -> Vec<TlsChunk>),
        ("http2_concurrent", h2_call),
        ("sse_assembly", sse_call),
        ("payload_decoding", payload_call),
    ] {
        let chunks = make();
        let bytes: u64 = chunks.iter().map(|c| c.data.len() as u64).sum();
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    (
                        CaptureDecoder::new(DecoderConfig::default(), catalog.clone()),
                        chunks.clone(),
                    )
                },
                |(mut d, chunks)| {
                    let mut out = Vec::new();
                    for c in chunks {
                        d.push_into(c, &NoProcessLookup, &mut out);
                    }
                    assert!(!out.is_empty());
                    black_box(out)
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
