//! Record encoding of the file exporter. Every function appends complete
//! records in the framing of their format ([`Framing`]): newline-terminated
//! lines for the JSON formats (serde_json's compact output escapes control
//! characters, so a record can never span two lines), length-prefixed
//! frames for `proto`.

use super::config::Format;
use crate::oisp_view::write_record_json;
use crate::otlp::encode::{request_json, request_proto};
use oispd_component::Batch;

/// Bytes of the length that precedes each `proto` record.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// How records are delimited in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Each record is one line, ending in `\n`.
    Lines,
    /// Each record is preceded by its length, a big-endian `u32` (the
    /// collector's `proto` format).
    LengthPrefixed,
}

impl Format {
    /// How records of this format are delimited.
    pub fn framing(self) -> Framing {
        match self {
            Format::Json | Format::OispJsonl => Framing::Lines,
            Format::Proto => Framing::LengthPrefixed,
        }
    }
}

/// Why a batch could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// JSON serialisation failed.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A protobuf request does not fit the 32-bit length prefix.
    #[error("a {0}-byte request exceeds the 4 GiB limit of the proto format's length prefix")]
    TooLarge(usize),
}

/// Appends the records of `batch` in `format` to `out`.
pub fn encode_records(batch: &Batch, format: Format, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match (format, batch) {
        (Format::OispJsonl, Batch::Logs(resource_logs)) => {
            for rl in resource_logs {
                let resource = rl.resource.as_ref();
                for sl in &rl.scope_logs {
                    for record in &sl.log_records {
                        write_record_json(resource, sl.scope.as_ref(), record, out)?;
                        out.push(b'\n');
                    }
                }
            }
        }
        (Format::OispJsonl, Batch::Traces(resource_spans)) => {
            for span in resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|ss| &ss.spans)
            {
                serde_json::to_writer(&mut *out, span)?;
                out.push(b'\n');
            }
        }
        (Format::OispJsonl, Batch::Metrics(resource_metrics)) => {
            for metric in resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
            {
                serde_json::to_writer(&mut *out, metric)?;
                out.push(b'\n');
            }
        }
        (Format::Json, batch) => {
            request_json(batch, out)?;
            out.push(b'\n');
        }
        (Format::Proto, batch) => {
            let request = request_proto(batch);
            let len =
                u32::try_from(request.len()).map_err(|_| EncodeError::TooLarge(request.len()))?;
            out.reserve(LENGTH_PREFIX_BYTES + request.len());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&request);
        }
    }
    Ok(())
}

impl Framing {
    /// The end of the last whole record of `data` (which starts at a record
    /// boundary) that ends within its first `limit` bytes; 0 when none does.
    pub(crate) fn last_end_within(self, data: &[u8], limit: usize) -> usize {
        let limit = limit.min(data.len());
        match self {
            Framing::Lines => data[..limit]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1),
            Framing::LengthPrefixed => {
                let mut end = 0;
                while let Some(next) = next_frame_end(data, end) {
                    if next > limit {
                        break;
                    }
                    end = next;
                }
                end
            }
        }
    }

    /// The end of the first record of `data`, or its length when the
    /// record is cut short.
    pub(crate) fn first_end(self, data: &[u8]) -> usize {
        match self {
            Framing::Lines => data
                .iter()
                .position(|b| *b == b'\n')
                .map_or(data.len(), |i| i + 1),
            Framing::LengthPrefixed => next_frame_end(data, 0).unwrap_or(data.len()),
        }
    }
}

/// The end of the length-prefixed frame starting at `start`, if `data`
/// holds all of it.
fn next_frame_end(data: &[u8], start: usize) -> Option<usize> {
    let header = data.get(start..start.checked_add(LENGTH_PREFIX_BYTES)?)?;
    let len = u32::from_be_bytes(header.try_into().ok()?);
    let end = (start + LENGTH_PREFIX_BYTES).checked_add(usize::try_from(len).ok()?)?;
    (end <= data.len()).then_some(end)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn frames(lens: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, len) in lens.iter().enumerate() {
            out.extend_from_slice(&(*len as u32).to_be_bytes());
            out.extend(std::iter::repeat_n(i as u8, *len));
        }
        out
    }

    /// Scenario: frames of 3, 0 and 5 bytes, then the same cut short.
    /// Guarantees: boundaries fall only after whole frames (header and
    /// body), never inside one, for every limit.
    #[test]
    fn length_prefixed_boundaries_are_whole_frames() {
        let data = frames(&[3, 0, 5]);
        let f = Framing::LengthPrefixed;
        assert_eq!(data.len(), 7 + 4 + 9);
        for (limit, want) in [
            (0, 0),
            (6, 0),
            (7, 7),
            (10, 7),
            (11, 11),
            (19, 11),
            (20, 20),
            (99, 20),
        ] {
            assert_eq!(f.last_end_within(&data, limit), want, "limit {limit}");
        }
        assert_eq!(f.first_end(&data), 7);
        assert_eq!(f.first_end(&data[..5]), 5);
        assert_eq!(f.last_end_within(&data[..15], 99), 11);
    }

    /// Scenario: two lines, the second without its newline.
    /// Guarantees: the same rules for lines.
    #[test]
    fn line_boundaries_are_whole_lines() {
        let f = Framing::Lines;
        assert_eq!(f.last_end_within(b"ab\ncd\nef", 99), 6);
        assert_eq!(f.last_end_within(b"ab\ncd\nef", 5), 3);
        assert_eq!(f.last_end_within(b"ab\ncd\nef", 2), 0);
        assert_eq!(f.first_end(b"ab\ncd\n"), 3);
        assert_eq!(f.first_end(b"abc"), 3);
    }
}
