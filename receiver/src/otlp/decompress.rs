//! OTLP/HTTP request bodies: the `Content-Encoding`s the collector's
//! confighttp accepts (gzip, zstd, deflate / zlib, snappy,
//! x-snappy-framed, lz4), each decoded as a stream into a buffer that stops
//! at the size limit, so a small compressed body (a "bomb") cannot expand in
//! memory before the limit is checked. The zstd decoder also refuses frames
//! whose window is over [`ZSTD_WINDOW_LOG_MAX`], so a frame header cannot
//! make it reserve a large window either.

use axum::http::HeaderValue;
use std::borrow::Cow;
use std::io::Read;

/// Largest zstd window accepted: 2^23 = 8 MiB, the bound RFC 9659 sets for
/// the `zstd` content coding (every compression level up to 19 stays
/// within it; libzstd's own default would allow 128 MiB).
pub(crate) const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// A request body's content coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentCoding {
    /// No `Content-Encoding`, or `identity`.
    Identity,
    /// `gzip` (several members are read as one body, as Go's reader does).
    Gzip,
    /// `zstd`.
    Zstd,
    /// `deflate` or `zlib`: zlib-wrapped deflate, as in the collector.
    Zlib,
    /// `snappy`: the snappy block format.
    Snappy,
    /// `x-snappy-framed`: the snappy framing format.
    SnappyFramed,
    /// `lz4`: the LZ4 frame format.
    Lz4,
}

/// The codings listed in the answer to an unsupported `Content-Encoding`.
pub(crate) const SUPPORTED: &str = "gzip, zstd, deflate, zlib, snappy, x-snappy-framed, lz4";

impl ContentCoding {
    /// The coding named by a `Content-Encoding` header (case-insensitive, as
    /// HTTP says); `None` for a coding oispd does not decode, including a
    /// list of several.
    pub(crate) fn from_header(value: Option<&HeaderValue>) -> Option<ContentCoding> {
        let Some(value) = value else {
            return Some(ContentCoding::Identity);
        };
        let value = value.to_str().ok()?.trim();
        let codings = [
            ("", ContentCoding::Identity),
            ("identity", ContentCoding::Identity),
            ("gzip", ContentCoding::Gzip),
            ("zstd", ContentCoding::Zstd),
            ("deflate", ContentCoding::Zlib),
            ("zlib", ContentCoding::Zlib),
            ("snappy", ContentCoding::Snappy),
            ("x-snappy-framed", ContentCoding::SnappyFramed),
            ("lz4", ContentCoding::Lz4),
        ];
        codings
            .iter()
            .find(|(name, _)| value.eq_ignore_ascii_case(name))
            .map(|(_, coding)| *coding)
    }

    /// The coding's name in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ContentCoding::Identity => "identity",
            ContentCoding::Gzip => "gzip",
            ContentCoding::Zstd => "zstd",
            ContentCoding::Zlib => "deflate",
            ContentCoding::Snappy => "snappy",
            ContentCoding::SnappyFramed => "x-snappy-framed",
            ContentCoding::Lz4 => "lz4",
        }
    }
}

/// Why a body could not be decompressed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum DecompressError {
    /// The decompressed body would exceed the limit (given in bytes).
    #[error("decompressed body exceeds {0} bytes")]
    TooLarge(usize),
    /// The body is not valid in its coding. The detail is the decoder's own
    /// message, which never quotes the body.
    #[error("invalid {coding} body: {detail}")]
    Corrupt {
        /// The coding's name.
        coding: &'static str,
        /// What the decoder said.
        detail: String,
    },
}

/// Decompresses `body` per `coding`, keeping at most `max` decoded bytes.
pub(crate) fn decompress(
    coding: ContentCoding,
    body: &[u8],
    max: usize,
) -> Result<Cow<'_, [u8]>, DecompressError> {
    let corrupt = |e: &dyn std::fmt::Display| DecompressError::Corrupt {
        coding: coding.name(),
        detail: e.to_string(),
    };
    let decoded = match coding {
        ContentCoding::Identity => {
            if body.len() > max {
                return Err(DecompressError::TooLarge(max));
            }
            return Ok(Cow::Borrowed(body));
        }
        ContentCoding::Gzip => read_capped(flate2::read::MultiGzDecoder::new(body), max, coding)?,
        ContentCoding::Zlib => read_capped(flate2::read::ZlibDecoder::new(body), max, coding)?,
        ContentCoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(body).map_err(|e| corrupt(&e))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| corrupt(&e))?;
            read_capped(decoder, max, coding)?
        }
        ContentCoding::Snappy => {
            // The block format states its decoded length up front: check it
            // before allocating anything.
            let len = snap::raw::decompress_len(body).map_err(|e| corrupt(&e))?;
            if len > max {
                return Err(DecompressError::TooLarge(max));
            }
            snap::raw::Decoder::new()
                .decompress_vec(body)
                .map_err(|e| corrupt(&e))?
        }
        ContentCoding::SnappyFramed => {
            read_capped(snap::read::FrameDecoder::new(body), max, coding)?
        }
        ContentCoding::Lz4 => read_capped(lz4_flex::frame::FrameDecoder::new(body), max, coding)?,
    };
    Ok(Cow::Owned(decoded))
}

/// Reads a decoder to its end, or fails as soon as it yields more than
/// `max` bytes: the decoder never runs further than one read past the limit.
fn read_capped(
    decoder: impl Read,
    max: usize,
    coding: ContentCoding,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    match decoder.take(limit).read_to_end(&mut out) {
        Ok(_) if out.len() > max => Err(DecompressError::TooLarge(max)),
        Ok(_) => Ok(out),
        Err(e) => Err(DecompressError::Corrupt {
            coding: coding.name(),
            detail: e.to_string(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;

    const ORIGINAL: &[u8] = b"an OTLP request body, an OTLP request body, an OTLP request body";

    fn encode(coding: ContentCoding, data: &[u8]) -> Vec<u8> {
        match coding {
            ContentCoding::Identity => data.to_vec(),
            ContentCoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            ContentCoding::Zlib => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            ContentCoding::Zstd => zstd::encode_all(data, 3).unwrap(),
            ContentCoding::Snappy => snap::raw::Encoder::new().compress_vec(data).unwrap(),
            ContentCoding::SnappyFramed => {
                let mut e = snap::write::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.into_inner().unwrap()
            }
            ContentCoding::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    const ALL: [ContentCoding; 7] = [
        ContentCoding::Identity,
        ContentCoding::Gzip,
        ContentCoding::Zstd,
        ContentCoding::Zlib,
        ContentCoding::Snappy,
        ContentCoding::SnappyFramed,
        ContentCoding::Lz4,
    ];

    /// Scenario: a body in each supported coding, with room to spare.
    /// Guarantees: it decodes to the original.
    #[test]
    fn decodes_every_coding() {
        for coding in ALL {
            let body = encode(coding, ORIGINAL);
            let out = decompress(coding, &body, 1024).unwrap_or_else(|e| panic!("{coding:?}: {e}"));
            assert_eq!(&out[..], ORIGINAL, "{coding:?}");
        }
    }

    /// Scenario: 16 MiB of zeros in each coding, with a 1 MiB limit.
    /// Guarantees: TooLarge for every coding.
    #[test]
    fn a_bomb_in_every_coding_stops_at_the_limit() {
        let zeros = vec![0u8; 16 << 20];
        for coding in ALL {
            let body = encode(coding, &zeros);
            assert_eq!(
                decompress(coding, &body, 1 << 20).map(|b| b.len()),
                Err(DecompressError::TooLarge(1 << 20)),
                "{coding:?}"
            );
        }
    }

    /// Scenario: a zstd frame whose header declares a 128 MiB window (what
    /// libzstd accepts by default) around a tiny payload, and one with an
    /// 8 MiB window.
    /// Guarantees: the first is refused as corrupt before any window is
    /// reserved; the second decodes.
    #[test]
    fn zstd_window_is_capped() {
        let frame = |window_log: u32| {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            e.set_parameter(zstd::stream::raw::CParameter::WindowLog(window_log))
                .unwrap();
            e.write_all(ORIGINAL).unwrap();
            e.finish().unwrap()
        };
        match decompress(ContentCoding::Zstd, &frame(27), 1 << 30) {
            Err(DecompressError::Corrupt { coding, .. }) => assert_eq!(coding, "zstd"),
            other => panic!("a 128 MiB window was accepted: {other:?}"),
        }
        let eight_mib = frame(ZSTD_WINDOW_LOG_MAX);
        let out = decompress(ContentCoding::Zstd, &eight_mib, 1 << 30).unwrap();
        assert_eq!(&out[..], ORIGINAL);
    }

    /// Scenario: a snappy block whose header claims 1 GiB.
    /// Guarantees: TooLarge from the header alone.
    #[test]
    fn snappy_length_is_checked_before_decoding() {
        // Varint 2^30 followed by nothing.
        let body = [0x80, 0x80, 0x80, 0x80, 0x04];
        assert_eq!(
            decompress(ContentCoding::Snappy, &body, 1 << 20).map(|b| b.len()),
            Err(DecompressError::TooLarge(1 << 20))
        );
    }

    /// Scenario: garbage labelled with each coding.
    /// Guarantees: a Corrupt error naming the coding, whose text does not
    /// quote the body.
    #[test]
    fn garbage_is_corrupt_without_quoting_it() {
        let garbage = b"sk-proj-SECRETSECRETSECRET not compressed at all";
        for coding in ALL.into_iter().skip(1) {
            match decompress(coding, garbage, 1024) {
                Err(e @ DecompressError::Corrupt { .. }) => {
                    let text = e.to_string();
                    assert!(text.contains(coding.name()), "{text}");
                    assert!(!text.contains("SECRET"), "{text}");
                }
                other => panic!("{coding:?}: {other:?}"),
            }
        }
    }

    /// Scenario: the header values senders use, and some oispd refuses.
    /// Guarantees: names are matched case-insensitively; `br`, lists and
    /// unknown names are unsupported.
    #[test]
    fn header_names() {
        let h = |s: &str| ContentCoding::from_header(Some(&HeaderValue::from_str(s).unwrap()));
        assert_eq!(
            ContentCoding::from_header(None),
            Some(ContentCoding::Identity)
        );
        assert_eq!(h("GZIP"), Some(ContentCoding::Gzip));
        assert_eq!(h(" zstd "), Some(ContentCoding::Zstd));
        assert_eq!(h("deflate"), Some(ContentCoding::Zlib));
        assert_eq!(h("zlib"), Some(ContentCoding::Zlib));
        assert_eq!(h("snappy"), Some(ContentCoding::Snappy));
        assert_eq!(h("x-snappy-framed"), Some(ContentCoding::SnappyFramed));
        assert_eq!(h("lz4"), Some(ContentCoding::Lz4));
        assert_eq!(h("identity"), Some(ContentCoding::Identity));
        assert_eq!(h("br"), None);
        assert_eq!(h("gzip, identity"), None);
        assert_eq!(h("compress"), None);
    }
}
