//! What one TLS record's plaintext, captured at aws-lc's AEAD functions
//! (records flagged `AEAD`), holds for the HTTP decoders.
//!
//! The OpenSSL probes see what the application wrote or read; the AEAD
//! probes see every record the connection protected, handshake included.
//! In TLS 1.3 (RFC 8446, 5.2) the plaintext of a record is `content ||
//! content type (1 byte) || zero padding`: the content type is the last
//! non-zero byte; only application data (23) is the application's bytes,
//! handshake messages (22: the server's certificate, Finished, session
//! tickets) are dropped, and an alert (21) `01 00` (warning,
//! close_notify) ends the connection, as `SSL_free` would. The kernel sends
//! only the application data records of TLS 1.2, whose type travels in the
//! record header, so those pass as they are.

use crate::capture::{TlsChunk, MAX_UNCAPTURED_BYTES};

/// TLS content type of application data.
const APPLICATION_DATA: u8 = 23;
/// TLS content type of an alert.
const ALERT: u8 = 21;
/// A warning-level close_notify alert.
const CLOSE_NOTIFY: [u8; 2] = [1, 0];

/// What a captured record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordContent {
    /// The application's bytes (the chunk now holds only them), or a loss
    /// of them (an empty chunk whose `full_len` says how many).
    ApplicationData,
    /// A close_notify alert: the connection is over.
    CloseNotify,
    /// Anything else (handshake, other alerts, malformed): nothing for the
    /// decoders.
    Other,
}

/// Turns `chunk`, one record's plaintext, into the application's bytes
/// when it holds them, and says what it was (`tls12`: the record's flag).
///
/// A record captured only in part (`max_body_bytes` below the record's
/// size) has lost its type byte: it becomes a loss of its length, as
/// its content is unknown (a length bounded like every loss: the kernel
/// checked it against the record header, but user space does not take
/// that on trust). A chunk without bytes (a loss, or a record that could
/// not be read) stays a loss.
pub(crate) fn record_content(chunk: &mut TlsChunk, tls12: bool) -> RecordContent {
    if tls12 || chunk.data.is_empty() {
        return RecordContent::ApplicationData;
    }
    if (chunk.data.len() as u64) < chunk.full_len {
        chunk.data.clear();
        chunk.full_len = chunk.full_len.min(MAX_UNCAPTURED_BYTES);
        return RecordContent::ApplicationData;
    }
    let Some(type_at) = chunk.data.iter().rposition(|&b| b != 0) else {
        return RecordContent::Other;
    };
    let content_type = chunk.data[type_at];
    chunk.data.truncate(type_at);
    chunk.full_len = type_at as u64;
    match content_type {
        APPLICATION_DATA if !chunk.data.is_empty() => RecordContent::ApplicationData,
        ALERT if chunk.data == CLOSE_NOTIFY => RecordContent::CloseNotify,
        _ => RecordContent::Other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::capture::Direction;

    fn chunk(data: &[u8]) -> TlsChunk {
        TlsChunk {
            pid: 1,
            tid: 1,
            conn: 10,
            ts_mono_ns: 0,
            direction: Direction::Read,
            data: data.to_vec(),
            full_len: data.len() as u64,
            local: None,
            peer: None,
        }
    }

    fn content(data: &[u8], tls12: bool) -> (RecordContent, Vec<u8>, u64) {
        let mut c = chunk(data);
        let what = record_content(&mut c, tls12);
        (what, c.data, c.full_len)
    }

    /// Scenario: TLS 1.3 application data records without and with zero
    /// padding, and one whose content ends in zero bytes itself.
    /// Guarantees: the type byte and the padding are stripped, the
    /// content's own bytes (zeros included) kept, full_len follows.
    #[test]
    fn application_data_loses_type_and_padding() {
        assert_eq!(
            content(b"GET / HTTP/1.1\r\n\r\n\x17", false),
            (
                RecordContent::ApplicationData,
                b"GET / HTTP/1.1\r\n\r\n".to_vec(),
                18
            )
        );
        assert_eq!(
            content(b"{}\x17\0\0\0\0", false),
            (RecordContent::ApplicationData, b"{}".to_vec(), 2)
        );
        // HTTP/2 frames end in zero bytes often (a SETTINGS ack's flags...).
        assert_eq!(
            content(b"\0\0\0\x04\x01\0\0\0\0\x17", false),
            (
                RecordContent::ApplicationData,
                b"\0\0\0\x04\x01\0\0\0\0".to_vec(),
                9
            )
        );
    }

    /// Scenario: TLS 1.3 handshake records (Finished, a session ticket), an
    /// all-zero record, an empty application data record, a fatal alert.
    /// Guarantees: none of them reaches the decoders.
    #[test]
    fn handshake_and_malformed_records_are_dropped() {
        for data in [
            &b"\x14\0\0\x20finished-verify-data-0123456789ab\x16"[..],
            b"\x04\0\0\x10ticket\x16\0\0",
            b"\0\0\0",
            b"\x17",
            b"\x02\x28\x15",
        ] {
            assert_eq!(content(data, false).0, RecordContent::Other, "{data:?}");
        }
    }

    /// Scenario: a TLS 1.3 close_notify alert, padded and not.
    /// Guarantees: recognised as the end of the connection.
    #[test]
    fn close_notify_ends_the_connection() {
        assert_eq!(
            content(b"\x01\x00\x15", false).0,
            RecordContent::CloseNotify
        );
        assert_eq!(
            content(b"\x01\x00\x15\0\0", false).0,
            RecordContent::CloseNotify
        );
    }

    /// Scenario: a TLS 1.2 record ending in 0x16 and zeros; a TLS 1.3
    /// record captured in part; a loss chunk.
    /// Guarantees: TLS 1.2 passes unchanged; the partial record becomes a
    /// loss of its full length; the loss stays a loss.
    #[test]
    fn tls12_partial_records_and_losses() {
        assert_eq!(
            content(b"data\x16\0", true),
            (RecordContent::ApplicationData, b"data\x16\0".to_vec(), 6)
        );
        let mut partial = chunk(b"POST /v1/chat");
        partial.full_len = 400;
        assert_eq!(
            record_content(&mut partial, false),
            RecordContent::ApplicationData
        );
        assert_eq!((partial.data.len(), partial.full_len), (0, 400));
        let mut loss = chunk(b"");
        loss.full_len = 99;
        assert_eq!(
            record_content(&mut loss, false),
            RecordContent::ApplicationData
        );
        assert_eq!(loss.full_len, 99);
    }

    /// A partial record whose claimed length is beyond any loss oispd
    /// accepts (the kernel_record fuzz target's find): the loss it
    /// becomes is bounded.
    #[test]
    fn partial_record_with_a_huge_claimed_length_is_a_bounded_loss() {
        let mut partial = chunk(b"\x01");
        partial.full_len = MAX_UNCAPTURED_BYTES + 1;
        assert_eq!(
            record_content(&mut partial, false),
            RecordContent::ApplicationData
        );
        assert_eq!(
            (partial.data.len(), partial.full_len),
            (0, MAX_UNCAPTURED_BYTES)
        );
    }
}
