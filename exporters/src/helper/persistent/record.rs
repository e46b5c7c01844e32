//! The on-disk record format of the persistent queue: one accepted batch per
//! record, appended to segment files.
//!
//! A segment file starts with the 8-byte magic [`SEGMENT_MAGIC`] (which
//! carries the format version) and then holds records back to back:
//!
//! ```text
//! u32 LE  body length N
//! u32 LE  CRC-32 (IEEE) of the body
//! N bytes body: u64 LE sequence number | u8 signal (1 logs, 2 traces, 3 metrics)
//!               | u32 LE record count | payload
//! ```
//!
//! The payload is the batch as the OTLP request message of its signal
//! (`ExportLogsServiceRequest` / `ExportTraceServiceRequest` /
//! `ExportMetricsServiceRequest`, prost-encoded),
//! so a segment can be inspected with any protobuf tool. The record count and
//! signal sit outside the payload so eviction and recovery can count records
//! without decoding them. A record whose length runs past the end of the file
//! or whose CRC does not match is torn (a crash during the write) or damaged.

use oispd_component::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use oispd_component::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use oispd_component::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use oispd_component::{Batch, Signal};
use prost::Message;

/// The first bytes of every segment file: name and format version.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"OISPQ\x00\x00\x01";
/// Bytes before the body: length and CRC.
pub(crate) const HEADER_LEN: usize = 8;
/// Bytes of the body before the payload: sequence, signal, record count.
const FIXED_LEN: usize = 8 + 1 + 4;
/// The largest body accepted when reading (a length above it is damage).
pub(crate) const MAX_BODY_LEN: usize = 1 << 30;

/// What a record says about itself, without its payload decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Position in the queue, increasing by one per accepted batch.
    pub(crate) seq: u64,
    /// The batch's signal.
    pub(crate) signal: Signal,
    /// Log records or spans in the batch.
    pub(crate) records: u32,
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum RecordError {
    /// The CRC does not match the body.
    #[error("checksum mismatch")]
    Checksum,
    /// The body is too short or has an unknown signal.
    #[error("malformed record header")]
    Malformed,
    /// The payload is not the OTLP message it should be.
    #[error("payload does not decode: {0}")]
    Payload(String),
}

/// A batch encoded as a record, its sequence number not yet assigned.
pub(crate) struct Frame {
    bytes: Vec<u8>,
    payload_crc: crc32fast::Hasher,
    signal: Signal,
    records: u32,
}

impl Frame {
    /// Encodes `batch`; the CRC of the payload is computed here, outside any
    /// lock, and combined with the fixed fields once the sequence is known.
    pub(crate) fn encode(batch: Batch) -> Frame {
        let signal = batch.signal();
        let records = u32::try_from(batch.record_count()).unwrap_or(u32::MAX);
        let mut bytes = vec![0u8; HEADER_LEN + FIXED_LEN];
        // Encoding into a Vec cannot fail: it grows as needed.
        let _ = match batch {
            Batch::Logs(resource_logs) => {
                let request = ExportLogsServiceRequest { resource_logs };
                bytes.reserve_exact(request.encoded_len());
                request.encode(&mut bytes)
            }
            Batch::Traces(resource_spans) => {
                let request = ExportTraceServiceRequest { resource_spans };
                bytes.reserve_exact(request.encoded_len());
                request.encode(&mut bytes)
            }
            Batch::Metrics(resource_metrics) => {
                let request = ExportMetricsServiceRequest { resource_metrics };
                bytes.reserve_exact(request.encoded_len());
                request.encode(&mut bytes)
            }
        };
        let mut payload_crc = crc32fast::Hasher::new();
        payload_crc.update(&bytes[HEADER_LEN + FIXED_LEN..]);
        let body_len = u32::try_from(bytes.len() - HEADER_LEN).unwrap_or(u32::MAX);
        bytes[0..4].copy_from_slice(&body_len.to_le_bytes());
        bytes[HEADER_LEN + 8] = signal_byte(signal);
        bytes[HEADER_LEN + 9..HEADER_LEN + 13].copy_from_slice(&records.to_le_bytes());
        Frame {
            bytes,
            payload_crc,
            signal,
            records,
        }
    }

    /// Total bytes on disk.
    pub(crate) fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The signal of the batch.
    pub(crate) fn signal(&self) -> Signal {
        self.signal
    }

    /// Records in the batch.
    pub(crate) fn records(&self) -> u32 {
        self.records
    }

    /// Stamps `seq` and the CRC; returns the bytes to append.
    pub(crate) fn seal(&mut self, seq: u64) -> &[u8] {
        self.bytes[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&seq.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.bytes[HEADER_LEN..HEADER_LEN + FIXED_LEN]);
        crc.combine(&self.payload_crc);
        self.bytes[4..8].copy_from_slice(&crc.finalize().to_le_bytes());
        &self.bytes
    }
}

fn signal_byte(signal: Signal) -> u8 {
    match signal {
        Signal::Logs => 1,
        Signal::Traces => 2,
        Signal::Metrics => 3,
    }
}

/// Splits a record header into body length and CRC.
pub(crate) fn parse_header(header: &[u8; HEADER_LEN]) -> (usize, u32) {
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    (len, crc)
}

/// Checks `body` against `crc` and reads its fixed fields.
pub(crate) fn check_body(body: &[u8], crc: u32) -> Result<Meta, RecordError> {
    if crc32fast::hash(body) != crc {
        return Err(RecordError::Checksum);
    }
    if body.len() < FIXED_LEN {
        return Err(RecordError::Malformed);
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&body[0..8]);
    let signal = match body[8] {
        1 => Signal::Logs,
        2 => Signal::Traces,
        3 => Signal::Metrics,
        _ => return Err(RecordError::Malformed),
    };
    let mut records = [0u8; 4];
    records.copy_from_slice(&body[9..13]);
    Ok(Meta {
        seq: u64::from_le_bytes(seq),
        signal,
        records: u32::from_le_bytes(records),
    })
}

/// Checks a whole record (header and body) and decodes its batch.
pub(crate) fn decode(record: &[u8]) -> Result<(Meta, Batch), RecordError> {
    let header: &[u8; HEADER_LEN] = record
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(RecordError::Malformed)?;
    let (len, crc) = parse_header(header);
    let body = record
        .get(HEADER_LEN..HEADER_LEN + len)
        .ok_or(RecordError::Malformed)?;
    let meta = check_body(body, crc)?;
    let payload = &body[FIXED_LEN..];
    let batch = match meta.signal {
        Signal::Logs => ExportLogsServiceRequest::decode(payload)
            .map(|r| Batch::Logs(r.resource_logs))
            .map_err(|e| RecordError::Payload(e.to_string()))?,
        Signal::Traces => ExportTraceServiceRequest::decode(payload)
            .map(|r| Batch::Traces(r.resource_spans))
            .map_err(|e| RecordError::Payload(e.to_string()))?,
        Signal::Metrics => ExportMetricsServiceRequest::decode(payload)
            .map(|r| Batch::Metrics(r.resource_metrics))
            .map_err(|e| RecordError::Payload(e.to_string()))?,
    };
    Ok((meta, batch))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::helper::testing::{logs, metrics, spans};

    /// Scenario: a log batch and a span batch are framed and read back.
    /// Guarantees: the batch, sequence, signal and record count survive.
    #[test]
    fn round_trips_both_signals() {
        for (seq, batch) in [(7u64, logs(3)), (u64::MAX - 1, spans(2)), (9, metrics(4))] {
            let mut frame = Frame::encode(batch.clone());
            assert_eq!(frame.records() as usize, batch.record_count());
            let bytes = frame.seal(seq).to_vec();
            assert_eq!(bytes.len() as u64, frame.len());
            let (meta, back) = decode(&bytes).unwrap();
            assert_eq!(back, batch);
            assert_eq!(meta.seq, seq);
            assert_eq!(meta.signal, batch.signal());
        }
    }

    /// Scenario: one bit of a sealed record flips, or the record is cut.
    /// Guarantees: the damage is reported, never decoded as a batch.
    #[test]
    fn detects_flipped_bits_and_truncation() {
        let mut frame = Frame::encode(logs(4));
        let good = frame.seal(1).to_vec();
        for i in HEADER_LEN..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert_eq!(decode(&bad).err(), Some(RecordError::Checksum), "byte {i}");
        }
        assert_eq!(
            decode(&good[..good.len() - 1]).err(),
            Some(RecordError::Malformed)
        );
    }
}
