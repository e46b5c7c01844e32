//! Settings of the capture decoder, with the defaults a user of the `ebpf`
//! receiver gets. The receiver's own config (YAML, `deny_unknown_fields`)
//! maps onto this struct.

use oispd_semconv::common::Host;

/// Default cap on a decoded body kept for decoding (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default cap on the bytes one connection may hold (8 MiB).
pub const DEFAULT_MAX_CONNECTION_BYTES: usize = 8 * 1024 * 1024;
/// Default cap on the bytes all connections together may hold (64 MiB).
pub const DEFAULT_MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;
/// Default number of connections tracked at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default idle time after which a connection is forgotten (5 minutes).
pub const DEFAULT_IDLE_TIMEOUT_NS: u64 = 300 * 1_000_000_000;
/// Default number of tool calls remembered per process while waiting for
/// their results.
pub const DEFAULT_MAX_PENDING_TOOL_CALLS: usize = 256;

/// Settings of a [`super::CaptureDecoder`].
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderConfig {
    /// Largest decoded body (request or non-streamed response) kept for
    /// payload decoding, in bytes; a longer body is decoded from its first
    /// `max_body_bytes` and its events are marked partial. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Most bytes one connection may hold (unparsed input and bodies), in
    /// bytes; a connection over it is dropped (its unfinished calls are
    /// emitted as partial) and counted. Default 8 MiB.
    pub max_connection_bytes: usize,
    /// Most bytes all connections together may hold; the least recently
    /// active connections are dropped first. Default 64 MiB.
    pub max_total_bytes: usize,
    /// Most connections tracked at once; the least recently active one is
    /// dropped for a new one. Default 4096.
    pub max_connections: usize,
    /// A connection with no traffic for this long (monotonic nanoseconds)
    /// is forgotten at the next `tick`. Default 5 minutes.
    pub idle_timeout_ns: u64,
    /// Emit one `ai.streaming_chunk` per streamed record. Default false.
    pub streaming_chunks: bool,
    /// Decode the server side of connections (a process that reads
    /// requests, such as a local gateway terminating TLS); its events are
    /// marked with the `oispd.capture.side: server` attribute. Default false,
    /// so that a gateway does not duplicate its clients' calls.
    pub capture_server_side: bool,
    /// Keep message text, tool arguments and tool results in events (their
    /// length and SHA-256 are kept either way). Default true; the redaction
    /// processor still removes secrets before export.
    pub capture_content: bool,
    /// Tool calls remembered per process until their result is seen.
    pub max_pending_tool_calls: usize,
    /// Host context stamped on every event.
    pub host: Option<Host>,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_connection_bytes: DEFAULT_MAX_CONNECTION_BYTES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout_ns: DEFAULT_IDLE_TIMEOUT_NS,
            streaming_chunks: false,
            capture_server_side: false,
            capture_content: true,
            max_pending_tool_calls: DEFAULT_MAX_PENDING_TOOL_CALLS,
            host: None,
        }
    }
}
