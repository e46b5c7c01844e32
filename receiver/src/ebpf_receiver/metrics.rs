//! The `ebpf` receiver's loss accounting: every record or byte lost on
//! the way from the kernel to the pipelines is counted under a reason, in
//! `oispd_receiver_ebpf_dropped_records{receiver, reason}` and
//! `oispd_receiver_ebpf_dropped_bytes{receiver, reason}`. The kernel's and
//! the decoder's counters are cumulative; [`DropMetrics::sync`] adds what
//! grew since the last call.

use oispd_component::Telemetry;
use prometheus::IntCounter;

use crate::capture::DecoderStats;
use crate::ebpf::CaptureDrops;

/// Name of the record-loss family.
pub const DROPPED_RECORDS: &str = "oispd_receiver_ebpf_dropped_records";
/// Name of the byte-loss family.
pub const DROPPED_BYTES: &str = "oispd_receiver_ebpf_dropped_bytes";

/// Where records were lost, as the `reason` label says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordLoss {
    /// TLS plaintext records: kernel ring buffer full.
    RingBufferFullTls,
    /// Activity records: kernel ring buffer full.
    RingBufferFullActivity,
    /// `SSL_*` calls not tracked: in-flight call map full.
    CallMapFull,
    /// Activity skipped: per-CPU scratch buffer busy.
    ScratchBusy,
    /// TLS calls whose plaintext could not be read.
    ReadFault,
    /// aws-lc AEAD calls that were not a TLS record's (not captured).
    AeadNotTlsRecord,
    /// Ring buffer records that did not parse.
    MalformedRecord,
    /// Connections the decoder evicted (limits), unfinished calls emitted partial.
    ConnectionEvicted,
    /// HTTP/1.x heads that did not parse.
    Http1Error,
    /// HTTP/2 connections given up on a framing error.
    Http2Error,
    /// HPACK header blocks that did not decode.
    HpackError,
    /// WebSocket connections whose frames could not be decoded.
    WebSocketError,
    /// Bodies whose content coding did not decode.
    DecompressError,
    /// AI bodies that were not valid JSON.
    PayloadError,
    /// Responses seen without their request.
    ResponseWithoutRequest,
    /// Server-side exchanges skipped (`capture_server_side: false`).
    ServerSide,
    /// File reads and writes whose file could not be named.
    FilePathUnknown,
    /// Events refused because a memory limiter was above its limit.
    MemoryLimit,
    /// Events not taken because every pipeline was closed.
    PipelineClosed,
    /// Spans not made because their request waited too long for its response.
    SpanRequestEvicted,
}

impl RecordLoss {
    const ALL: [RecordLoss; 20] = [
        RecordLoss::RingBufferFullTls,
        RecordLoss::RingBufferFullActivity,
        RecordLoss::CallMapFull,
        RecordLoss::ScratchBusy,
        RecordLoss::ReadFault,
        RecordLoss::AeadNotTlsRecord,
        RecordLoss::MalformedRecord,
        RecordLoss::ConnectionEvicted,
        RecordLoss::Http1Error,
        RecordLoss::Http2Error,
        RecordLoss::HpackError,
        RecordLoss::WebSocketError,
        RecordLoss::DecompressError,
        RecordLoss::PayloadError,
        RecordLoss::ResponseWithoutRequest,
        RecordLoss::ServerSide,
        RecordLoss::FilePathUnknown,
        RecordLoss::MemoryLimit,
        RecordLoss::PipelineClosed,
        RecordLoss::SpanRequestEvicted,
    ];

    fn label(self) -> &'static str {
        match self {
            RecordLoss::RingBufferFullTls => "ring_buffer_full_tls",
            RecordLoss::RingBufferFullActivity => "ring_buffer_full_activity",
            RecordLoss::CallMapFull => "call_map_full",
            RecordLoss::ScratchBusy => "scratch_busy",
            RecordLoss::ReadFault => "read_fault",
            RecordLoss::AeadNotTlsRecord => "aead_not_tls_record",
            RecordLoss::MalformedRecord => "malformed_record",
            RecordLoss::ConnectionEvicted => "connection_evicted",
            RecordLoss::Http1Error => "http1_error",
            RecordLoss::Http2Error => "http2_error",
            RecordLoss::HpackError => "hpack_error",
            RecordLoss::WebSocketError => "websocket_error",
            RecordLoss::DecompressError => "decompress_error",
            RecordLoss::PayloadError => "payload_error",
            RecordLoss::ResponseWithoutRequest => "response_without_request",
            RecordLoss::ServerSide => "server_side",
            RecordLoss::FilePathUnknown => "file_path_unknown",
            RecordLoss::MemoryLimit => "memory_limit",
            RecordLoss::PipelineClosed => "pipeline_closed",
            RecordLoss::SpanRequestEvicted => "span_request_evicted",
        }
    }
}

/// Where bytes were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ByteLoss {
    /// Plaintext of TLS records lost in the kernel (ring buffer full).
    RingBufferFull,
    /// Plaintext beyond `max_body_bytes` of one call, not captured.
    NotCaptured,
    /// Bytes skipped while looking for a message boundary.
    Skipped,
    /// Bytes over a connection's buffer limit.
    OverBufferLimit,
}

impl ByteLoss {
    const ALL: [ByteLoss; 4] = [
        ByteLoss::RingBufferFull,
        ByteLoss::NotCaptured,
        ByteLoss::Skipped,
        ByteLoss::OverBufferLimit,
    ];

    fn label(self) -> &'static str {
        match self {
            ByteLoss::RingBufferFull => "ring_buffer_full",
            ByteLoss::NotCaptured => "not_captured",
            ByteLoss::Skipped => "skipped",
            ByteLoss::OverBufferLimit => "over_buffer_limit",
        }
    }
}

/// A counter that follows a cumulative source value.
#[derive(Clone)]
struct Follower {
    counter: IntCounter,
    seen: u64,
}

impl Follower {
    fn follow(&mut self, total: u64) {
        if total > self.seen {
            self.counter.inc_by(total - self.seen);
            self.seen = total;
        }
    }
}

/// Handles on both families for one receiver.
#[derive(Clone)]
pub(crate) struct DropMetrics {
    records: Vec<(RecordLoss, Follower)>,
    bytes: Vec<(ByteLoss, Follower)>,
}

impl DropMetrics {
    /// Registers (or finds) the families and takes handles for receiver `id`.
    pub(crate) fn new(telemetry: &Telemetry, id: &str) -> Result<DropMetrics, prometheus::Error> {
        let labels = ["receiver", "reason"];
        let mut records = Vec::new();
        for r in RecordLoss::ALL {
            let counter = telemetry.component_counter_with(
                DROPPED_RECORDS,
                "Records the ebpf receiver lost, by reason (kernel ring buffer, decoder, pipelines).",
                &labels,
                &[id, r.label()],
            )?;
            records.push((r, Follower { counter, seen: 0 }));
        }
        let mut bytes = Vec::new();
        for b in ByteLoss::ALL {
            let counter = telemetry.component_counter_with(
                DROPPED_BYTES,
                "TLS plaintext bytes the ebpf receiver did not capture or decode, by reason.",
                &labels,
                &[id, b.label()],
            )?;
            bytes.push((b, Follower { counter, seen: 0 }));
        }
        Ok(DropMetrics { records, bytes })
    }

    /// Adds `n` records lost for a reason the receiver itself sees.
    pub(crate) fn add(&self, reason: RecordLoss, n: u64) {
        if let Some((_, f)) = self.records.iter().find(|(r, _)| *r == reason) {
            f.counter.inc_by(n);
        }
    }

    /// Brings the counters up to the kernel's and the decoder's totals.
    pub(crate) fn sync(
        &mut self,
        kernel: &CaptureDrops,
        decoder: &DecoderStats,
        spans_evicted: u64,
    ) {
        for (reason, f) in &mut self.records {
            let total = match reason {
                RecordLoss::RingBufferFullTls => kernel.tls_records,
                RecordLoss::RingBufferFullActivity => kernel.activity_records,
                RecordLoss::CallMapFull => kernel.untracked_calls,
                RecordLoss::ScratchBusy => kernel.scratch_busy,
                RecordLoss::ReadFault => kernel.read_faults,
                RecordLoss::AeadNotTlsRecord => kernel.aead_not_tls_records,
                RecordLoss::MalformedRecord => kernel.malformed_records,
                RecordLoss::ConnectionEvicted => decoder.connections_evicted,
                RecordLoss::Http1Error => decoder.http1_errors,
                RecordLoss::Http2Error => decoder.http2_errors,
                RecordLoss::HpackError => decoder.hpack_errors,
                RecordLoss::WebSocketError => decoder.websocket_errors,
                RecordLoss::DecompressError => decoder.decompress_errors,
                RecordLoss::PayloadError => decoder.payload_errors,
                RecordLoss::ResponseWithoutRequest => decoder.responses_without_request,
                RecordLoss::ServerSide => decoder.server_side_dropped,
                RecordLoss::SpanRequestEvicted => spans_evicted,
                // Counted as they happen, with `add`.
                RecordLoss::FilePathUnknown
                | RecordLoss::MemoryLimit
                | RecordLoss::PipelineClosed => continue,
            };
            f.follow(total);
        }
        for (reason, f) in &mut self.bytes {
            f.follow(match reason {
                ByteLoss::RingBufferFull => kernel.tls_bytes,
                ByteLoss::NotCaptured => decoder.bytes_not_captured,
                ByteLoss::Skipped => decoder.bytes_skipped,
                ByteLoss::OverBufferLimit => decoder.bytes_over_buffer_limit,
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: kernel and decoder totals grow over two syncs; a receiver-side loss.
    /// Guarantees: the families show the totals once (no double counting), by reason.
    #[test]
    fn follows_cumulative_totals() {
        let t = Telemetry::new().unwrap();
        let mut m = DropMetrics::new(&t, "ebpf").unwrap();
        let mut k = CaptureDrops {
            tls_records: 3,
            tls_bytes: 3000,
            aead_not_tls_records: 7,
            ..Default::default()
        };
        let mut d = DecoderStats {
            http2_errors: 1,
            ..Default::default()
        };
        m.sync(&k, &d, 0);
        k.tls_records = 5;
        d.bytes_not_captured = 10;
        m.sync(&k, &d, 2);
        m.sync(&k, &d, 2);
        m.add(RecordLoss::PipelineClosed, 4);
        let text = t.render();
        for line in [
            "oispd_receiver_ebpf_dropped_records{reason=\"ring_buffer_full_tls\",receiver=\"ebpf\"} 5",
            "oispd_receiver_ebpf_dropped_records{reason=\"http2_error\",receiver=\"ebpf\"} 1",
            "oispd_receiver_ebpf_dropped_records{reason=\"aead_not_tls_record\",receiver=\"ebpf\"} 7",
            "oispd_receiver_ebpf_dropped_records{reason=\"pipeline_closed\",receiver=\"ebpf\"} 4",
            "oispd_receiver_ebpf_dropped_records{reason=\"span_request_evicted\",receiver=\"ebpf\"} 2",
            "oispd_receiver_ebpf_dropped_records{reason=\"memory_limit\",receiver=\"ebpf\"} 0",
            "oispd_receiver_ebpf_dropped_bytes{reason=\"ring_buffer_full\",receiver=\"ebpf\"} 3000",
            "oispd_receiver_ebpf_dropped_bytes{reason=\"not_captured\",receiver=\"ebpf\"} 10",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        // A second receiver gets its own series in the same families.
        DropMetrics::new(&t, "ebpf/2").unwrap();
    }
}
