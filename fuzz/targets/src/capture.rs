//! `capture_decoder`: TLS plaintext as the eBPF capture delivers it, through
//! the whole capture decoder (stream detection, HTTP/1.1, HTTP/2 + HPACK,
//! content coding, SSE, provider bodies) and the OISP -> OTel mapping of
//! every event it emits.
//!
//! Input: one config byte, then operations until the input ends. Each
//! operation is a control byte and, for data, a u16 length and that many
//! bytes, so the fuzzer chooses the chunking, the direction and the
//! connection of every piece:
//!
//! | control bits | meaning |
//! |---|---|
//! | 0 | direction: 0 `SSL_write`, 1 `SSL_read` |
//! | 1-2 | connection 0-3 (pid 100 holds 0-1, pid 101 holds 2-3) |
//! | 3-5 | 0-4 data chunk; 5 data chunk whose call moved a fuzzer-chosen u64 more than captured; 6 close; 7 tick past the idle timeout, or (bit 0) the process exits |
//!
//! Config byte: bit 0 streaming chunks, bit 1 capture the server side,
//! bit 2 no content capture, bit 3 tiny limits (bodies, connections,
//! totals) so the limit paths run.
//!
//! WebSocket: frames reach the decoder the same way (an HTTP/1.1 `Upgrade`
//! followed by frames on the same connection), so this target needs no
//! change when the decoder learns them; add WebSocket seeds to
//! `fuzz/corpus/capture_decoder/` (see `fuzz/seeds.py`, `ws_*`).

use std::sync::OnceLock;

use oispd_receiver::capture::{
    CaptureDecoder, DecoderConfig, Direction, NoProcessLookup, TlsChunk,
};
use oispd_semconv::otel::event_to_log_record;
use oispd_semconv::providers::ProviderCatalog;
use oispd_semconv::OispEvent;

use crate::input::Input;

/// Compiles the catalogue's host patterns once per process, not per input.
fn catalog() -> ProviderCatalog {
    static CATALOG: OnceLock<ProviderCatalog> = OnceLock::new();
    CATALOG.get_or_init(ProviderCatalog::builtin).clone()
}

/// Runs one input through a fresh decoder.
pub fn capture_decoder(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let mut config = DecoderConfig {
        streaming_chunks: flags & 1 != 0,
        capture_server_side: flags & 2 != 0,
        capture_content: flags & 4 == 0,
        ..DecoderConfig::default()
    };
    if flags & 8 != 0 {
        config.max_body_bytes = 64;
        config.max_connection_bytes = 512;
        config.max_total_bytes = 1024;
        config.max_connections = 2;
        config.max_pending_tool_calls = 2;
    }
    let idle = config.idle_timeout_ns;
    let mut decoder = CaptureDecoder::new(config, catalog());
    let procs = NoProcessLookup;
    let mut ts: u64 = 1_000_000_000;
    while !input.is_empty() {
        let ctl = input.byte();
        let direction = if ctl & 1 == 0 {
            Direction::Write
        } else {
            Direction::Read
        };
        let conn = u64::from((ctl >> 1) & 3);
        let pid = 100 + (conn >> 1) as u32;
        ts += 1_000_000;
        let events = match ctl >> 3 {
            op @ 0..=5 => {
                let len = usize::from(input.u16());
                let bytes = input.take(len).to_vec();
                let extra = if op == 5 { input.u64() } else { 0 };
                let chunk = TlsChunk {
                    pid,
                    tid: pid,
                    conn,
                    ts_mono_ns: ts,
                    direction,
                    full_len: (bytes.len() as u64).saturating_add(extra),
                    data: bytes,
                    local: None,
                    peer: None,
                };
                decoder.push(chunk, &procs)
            }
            6 => decoder.close(pid, conn, ts, &procs),
            _ if ctl & 1 == 0 => {
                ts += idle + 1;
                decoder.tick(ts, &procs)
            }
            _ => decoder.process_exited(pid, ts, &procs),
        };
        map(&events);
    }
    map(&decoder.process_exited(100, ts + 1, &procs));
    map(&decoder.process_exited(101, ts + 1, &procs));
}

/// The mapping every captured event goes through on its way to exporters.
fn map(events: &[OispEvent]) {
    for event in events {
        let _ = event_to_log_record(event);
    }
}
