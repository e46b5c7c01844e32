//! Counting the records of an encoded OTLP export request without decoding
//! it, so that the blackhole sink spends next to no CPU per record and does
//! not compete with the collector under test for the machine's cores.
//!
//! Logs and traces share one shape on the wire: the request's field 1 holds
//! resource entries, whose field 2 holds scope entries, whose field 2 holds
//! the records (`ExportLogsServiceRequest.resource_logs` ->
//! `ResourceLogs.scope_logs` -> `ScopeLogs.log_records`, and
//! `resource_spans` -> `scope_spans` -> `spans`). Only those length-delimited
//! fields are entered; everything else is skipped by its wire type. The walk
//! is the product here (a generic protobuf decoder would allocate every
//! record), so it is written out rather than taken from a crate.

/// A request that is not valid protobuf.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed OTLP export request")
    }
}

impl std::error::Error for Malformed {}

/// The number of log records (or spans) in an encoded export request.
pub fn count_records(request: &[u8]) -> Result<u64, Malformed> {
    let mut total = 0;
    for_each_len_field(request, 1, |resource| {
        for_each_len_field(resource, 2, |scope| {
            for_each_len_field(scope, 2, |_| {
                total += 1;
                Ok(())
            })
        })
    })?;
    Ok(total)
}

/// Calls `f` with the payload of every length-delimited field `number` of
/// `msg`, skipping all other fields.
fn for_each_len_field(
    msg: &[u8],
    number: u64,
    mut f: impl FnMut(&[u8]) -> Result<(), Malformed>,
) -> Result<(), Malformed> {
    let mut rest = msg;
    while !rest.is_empty() {
        let tag = varint(&mut rest)?;
        let field = tag >> 3;
        match tag & 7 {
            0 => {
                varint(&mut rest)?;
            }
            1 => rest = rest.get(8..).ok_or(Malformed)?,
            2 => {
                let len = usize::try_from(varint(&mut rest)?).map_err(|_| Malformed)?;
                let payload = rest.get(..len).ok_or(Malformed)?;
                rest = &rest[len..];
                if field == number {
                    f(payload)?;
                }
            }
            5 => rest = rest.get(4..).ok_or(Malformed)?,
            _ => return Err(Malformed),
        }
    }
    Ok(())
}

/// Reads one base-128 varint from the front of `buf`.
fn varint(buf: &mut &[u8]) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or(Malformed)?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Malformed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::records::{encode_request, PromptKind, RecordBuilder, TARGET_RECORD_BYTES};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    /// Scenario: log requests of several sizes, as the load generator builds them.
    /// Guarantees: the walk counts exactly the records prost would decode.
    #[test]
    fn counts_log_records() {
        let mut b = RecordBuilder::new(PromptKind::Random, 5, TARGET_RECORD_BYTES);
        for n in [0, 1, 7, 64] {
            let bytes = encode_request(b.events(n));
            assert_eq!(count_records(&bytes), Ok(n as u64));
        }
    }

    /// Scenario: a trace request with two resources of 2 + 3 spans.
    /// Guarantees: spans are counted like log records.
    #[test]
    fn counts_spans() {
        let scope = |n| ScopeSpans {
            spans: vec![Span::default(); n],
            ..Default::default()
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    scope_spans: vec![scope(2)],
                    ..Default::default()
                },
                ResourceSpans {
                    scope_spans: vec![scope(1), scope(2)],
                    ..Default::default()
                },
            ],
        };
        assert_eq!(count_records(&req.encode_to_vec()), Ok(5));
    }

    /// Scenario: a truncated request and one with a group wire type.
    /// Guarantees: an error, never a panic or a wrong count.
    #[test]
    fn rejects_malformed() {
        let mut b = RecordBuilder::new(PromptKind::Repetitive, 5, TARGET_RECORD_BYTES);
        let bytes = encode_request(b.events(3));
        assert_eq!(count_records(&bytes[..bytes.len() - 10]), Err(Malformed));
        assert_eq!(count_records(&[0x0b]), Err(Malformed));
        assert_eq!(count_records(&[0x80]), Err(Malformed));
    }
}
