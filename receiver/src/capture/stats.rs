//! Counters of the capture decoder: what it saw, what it turned into events
//! and, above all, what it had to drop and why. Nothing is dropped without
//! being counted here; the receiver exports these as telemetry.
//!
//! Byte counts come from lengths a probed process controls (the `full_len`
//! of a kernel record, HTTP framing), so the byte counters saturate instead
//! of wrapping: [`DecoderStats::skipped`] and [`DecoderStats::not_captured`].

/// Monotonic counters of one [`super::CaptureDecoder`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// TLS chunks pushed.
    pub chunks: u64,
    /// Plaintext bytes pushed.
    pub bytes: u64,
    /// Bytes the probe reported moved but did not capture (`full_len - data.len()`).
    pub bytes_not_captured: u64,
    /// Connections opened (first chunk of a `(pid, conn)`).
    pub connections_opened: u64,
    /// Connections closed by the capture source.
    pub connections_closed: u64,
    /// Connections dropped for being idle longer than the idle timeout.
    pub connections_expired: u64,
    /// Connections evicted because the connection limit or the total buffer
    /// limit was reached.
    pub connections_evicted: u64,
    /// Connections whose bytes are not HTTP (or whose start was missed in a
    /// way that cannot be recovered, such as HTTP/2 without its preface).
    pub connections_not_http: u64,
    /// Bytes discarded while looking for a message boundary (the start of a
    /// connection was missed, or the decoder lost sync).
    pub bytes_skipped: u64,
    /// Bytes discarded because a connection's buffer limit was reached.
    pub bytes_over_buffer_limit: u64,
    /// HTTP/1.x heads that failed to parse.
    pub http1_errors: u64,
    /// HTTP/2 framing errors (the connection is given up).
    pub http2_errors: u64,
    /// HPACK header blocks that failed to decode, or decoded to a header
    /// list over 1 MiB.
    pub hpack_errors: u64,
    /// Bodies cut at `max_body_bytes`.
    pub bodies_truncated: u64,
    /// Bodies whose content coding failed to decode.
    pub decompress_errors: u64,
    /// Responses seen without their request.
    pub responses_without_request: u64,
    /// Exchanges that ended incomplete (reset, desync, expired).
    pub exchanges_incomplete: u64,
    /// AI bodies that were not valid JSON.
    pub payload_errors: u64,
    /// Server-side exchanges dropped because `capture_server_side` is off.
    pub server_side_dropped: u64,
    /// Connections upgraded to WebSocket (a `101` to an `Upgrade: websocket`
    /// request) whose frames are decoded.
    pub websocket_connections: u64,
    /// WebSocket data messages decoded.
    pub websocket_messages: u64,
    /// WebSocket messages cut at `max_body_bytes` (or whose inflation was
    /// stopped as a decompression bomb).
    pub websocket_messages_truncated: u64,
    /// WebSocket connections given up because their frames could not be
    /// parsed (protocol error, oversized frame claim, corrupt deflate data).
    pub websocket_errors: u64,
    /// Events produced.
    pub events: u64,
}

impl DecoderStats {
    /// Counts `n` bytes discarded while looking for a message boundary.
    pub(crate) fn skipped(&mut self, n: u64) {
        self.bytes_skipped = self.bytes_skipped.saturating_add(n);
    }

    /// Counts `n` bytes the probe reported but did not capture.
    pub(crate) fn not_captured(&mut self, n: u64) {
        self.bytes_not_captured = self.bytes_not_captured.saturating_add(n);
    }
}
