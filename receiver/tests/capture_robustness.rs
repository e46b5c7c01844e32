//! Bad input never panics and never grows memory without bound: valid
//! fixtures (HTTP/1.1 with gzip and chunked SSE, HTTP/2 with HPACK and
//! padding) with bytes flipped, cut at random places, fed in random
//! pieces with random holes, plus plain noise. Deterministic (a fixed LCG seed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capture_support;

use std::io::Write;

use capture_support::*;
use oispd_receiver::capture::{DecoderConfig, Direction};

/// A small deterministic generator (no dependency needed for this).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn fixtures() -> Vec<(Direction, Vec<u8>)> {
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]
    }))
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n",
    )
    .unwrap();
    let gz = gz.finish().unwrap();
    let mut gz_resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    )
    .into_bytes();
    gz_resp.extend(gz);
    let mut enc = loona_hpack::Encoder::new();
    let block = enc.encode(vec![
        (&b":method"[..], &b"POST"[..]),
        (b":path", b"/v1/messages"),
        (b":authority", b"api.anthropic.com"),
        (b"content-type", b"application/json"),
    ]);
    let mut h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    let mut frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
        h2.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        h2.push(kind);
        h2.push(flags);
        h2.extend_from_slice(&stream.to_be_bytes());
        h2.extend_from_slice(payload);
    };
    frame(4, 0, 0, &[]);
    frame(1, 0x4, 1, &block);
    let mut padded = vec![3u8];
    padded.extend_from_slice(&body);
    padded.extend_from_slice(&[0, 0, 0]);
    frame(0, 0x8 | 0x1, 1, &padded);
    vec![
        (
            Direction::Write,
            h1_request("api.openai.com", "/v1/chat/completions", &[], &body),
        ),
        (Direction::Read, gz_resp),
        (
            Direction::Read,
            h1_chunked_response(
                "text/event-stream",
                &[b"data: {\"a\":".as_slice(), b"1}\n\n"],
            ),
        ),
        (Direction::Write, h2),
    ]
}

/// Scenario: 1,500 mutated replays of the fixtures and of noise.
/// Guarantees: no panic, held bytes within the configured limits, and
/// every event produced still serializes.
#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Lcg(0x5eed);
    let base = fixtures();
    let p = procs(1, "fuzz");
    for round in 0..1500u64 {
        let mut d = decoder(DecoderConfig {
            max_body_bytes: 4096,
            max_connection_bytes: 32 * 1024,
            max_total_bytes: 64 * 1024,
            ..DecoderConfig::default()
        });
        let conn = round % 3;
        for (dir, data) in &base {
            let mut data = data.clone();
            if round % 7 == 0 {
                data = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
            }
            for _ in 0..rng.below(4) {
                if !data.is_empty() {
                    let i = rng.below(data.len() as u64) as usize;
                    data[i] = rng.next() as u8;
                }
            }
            if rng.below(5) == 0 {
                let cut = rng.below(data.len() as u64 + 1) as usize;
                data.truncate(cut);
            }
            let mut pos = 0;
            while pos < data.len() {
                let n = 1 + rng.below(64) as usize;
                let end = (pos + n).min(data.len());
                let mut c = chunk(1, conn, *dir, round, &data[pos..end]);
                if rng.below(20) == 0 {
                    c.full_len += rng.below(100);
                }
                for ev in d.push(c, &p) {
                    let _ = ev.to_json();
                }
                assert!(d.held_bytes() <= 64 * 1024 + 32 * 1024);
                pos = end;
            }
        }
        for ev in d.tick(u64::MAX, &p) {
            let _ = ev.to_json();
        }
        assert_eq!(d.connections(), 0);
    }
}

/// Scenario: a hostile process reports `full_len = u64::MAX` for its TLS
/// calls (the count of an `SSL_*_ex` call is read from its memory): 42
/// bytes that are no message, then the same lie at every decoding state of
/// HTTP/1.1 (head, fixed body, chunked body) and HTTP/2 (preface, DATA),
/// on several connections, both directions.
/// Guarantees: no overflow panic (tests run with overflow checks); each
/// chunk counts exactly `MAX_UNCAPTURED_BYTES` as not captured, so the
/// counter reflects the number of lies instead of wrapping or saturating
/// at the first one; bytes_skipped only grows.
#[test]
fn hostile_full_len_is_capped_and_counted() {
    use oispd_receiver::capture::MAX_UNCAPTURED_BYTES;
    let p = procs(1, "liar");
    let mut d = decoder(DecoderConfig::default());
    let chunked = h1_chunked_response("text/event-stream", &[b"data: {}\n\n".as_slice()]);
    let fixed = h1_request("api.openai.com", "/v1/chat/completions", &[], b"{\"a\":1}");
    let h2 = fixtures().pop().unwrap().1;
    let streams: Vec<(Direction, Vec<u8>)> = vec![
        (Direction::Write, vec![0x42; 42]),
        (Direction::Write, fixed),
        (Direction::Read, chunked),
        (Direction::Write, h2),
    ];
    let mut lies = 0u64;
    let mut skipped = 0u64;
    for (conn, (dir, bytes)) in streams.iter().enumerate() {
        for piece in bytes.chunks(7) {
            let mut c = chunk(1, conn as u64, *dir, 1, piece);
            c.full_len = u64::MAX;
            d.push(c, &p);
            lies += 1;
            assert!(d.stats().bytes_skipped >= skipped);
            skipped = d.stats().bytes_skipped;
        }
    }
    assert_eq!(d.stats().bytes_not_captured, lies * MAX_UNCAPTURED_BYTES);
    assert!(d.stats().bytes_skipped > 0);
    d.tick(u64::MAX, &p);
    assert_eq!(d.connections(), 0);
}
