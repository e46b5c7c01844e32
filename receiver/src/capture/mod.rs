//! Turning captured TLS plaintext into OISP events: per-connection stream
//! reassembly, HTTP/1.1 and HTTP/2 decoding, server-sent events, provider
//! detection and payload decoding.
//!
//! The input is a sequence of [`TlsChunk`]s, whatever produced them (the eBPF
//! ring buffer in production, a fake source in tests). [`CaptureDecoder`]
//! turns them into OISP events:
//!
//! ```text
//! TlsChunk -> stream (per (pid, SSL*): protocol and side detection, resync)
//!          -> http1 / http2 (+HPACK) / websocket (after a 101: frames, permessage-deflate)
//!          -> exchange (bodies, content coding, caps; ws_calls: calls carried by messages)
//!          -> call (provider catalogue, providers/ payload decoders, sse framing)
//!          -> events (envelope, enrichment, confidence) -> Vec<OispEvent>
//! ```
//!
//! The capture source calls [`CaptureDecoder::push`] for each chunk,
//! [`CaptureDecoder::close`] when it sees a connection end,
//! [`CaptureDecoder::process_exited`] when a process exits and
//! [`CaptureDecoder::tick`] periodically; it supplies process facts through
//! [`ProcessLookup`] and reads [`DecoderStats`] for its telemetry.

use std::net::SocketAddr;

mod auth;
mod body;
mod call;
mod config;
mod decoder;
mod events;
mod exchange;
mod http1;
mod http2;
mod message;
mod process;
mod providers;
mod sse;
mod stats;
mod stream;
mod tools;
mod websocket;
mod ws_calls;

pub use config::DecoderConfig;
pub use decoder::CaptureDecoder;
pub use events::{ATTR_CAPTURE_SIDE, ATTR_PROTOCOL_VERSION, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT};
pub use process::{NoProcessLookup, PodIdentity, ProcInfo, ProcessLookup};
pub use stats::DecoderStats;
pub use stream::Side;

/// The most bytes one chunk is believed to have moved beyond what it
/// captured (`full_len - data.len()`), 4 GiB. `full_len` comes from the
/// probed process (the count of an `SSL_*_ex` call is read from its memory),
/// so a larger claim is capped rather than trusted: no single TLS call
/// moves that much, and one lying record must not swamp the loss counters.
pub const MAX_UNCAPTURED_BYTES: u64 = 1 << 32;

/// Which way plaintext went through the TLS library, from the probed process's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `SSL_write`: the process sent these bytes.
    Write,
    /// `SSL_read`: the process received these bytes.
    Read,
}

/// One `SSL_read`/`SSL_write` worth of plaintext.
#[derive(Clone, Debug)]
pub struct TlsChunk {
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id that made the call.
    pub tid: u32,
    /// The `SSL*` pointer: with `pid`, the key of one TLS connection.
    pub conn: u64,
    /// Monotonic capture time in nanoseconds (`bpf_ktime_get_ns`).
    pub ts_mono_ns: u64,
    /// Direction of the bytes.
    pub direction: Direction,
    /// The plaintext captured (at most `max_body_bytes` of the call).
    pub data: Vec<u8>,
    /// How many bytes the call really moved (>= `data.len()`); a difference
    /// means the capture was truncated. The decoder believes at most
    /// [`MAX_UNCAPTURED_BYTES`] of difference.
    pub full_len: u64,
    /// Local and remote socket address when known.
    pub local: Option<SocketAddr>,
    /// Remote peer address when known.
    pub peer: Option<SocketAddr>,
}
