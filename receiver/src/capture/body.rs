//! Message bodies: `Content-Encoding` decoding (gzip, deflate, br, zstd)
//! as the bytes arrive, with the decoded size capped. A body cut at the cap,
//! one with a hole in the capture, or one whose coding fails to decode is
//! marked incomplete rather than dropped.

use std::io::{self, Write};

/// The largest zstd window a body may ask for: 8 MiB, the bound RFC 9659
/// sets for `Content-Encoding: zstd`. A frame header asking for more (zstd
/// itself would reserve up to 128 MiB per stream) is undecodable rather
/// than a reason to allocate. Brotli's window is 16 MiB at most (the
/// large-window extension is never enabled); gzip and deflate need 32 KiB.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// A content coding of a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    /// No coding.
    Identity,
    /// `gzip` / `x-gzip`.
    Gzip,
    /// `deflate` (zlib-wrapped, or raw as some servers send it).
    Deflate,
    /// `br`.
    Brotli,
    /// `zstd`.
    Zstd,
    /// A coding oispd does not decode (or a chain of codings).
    Unsupported,
}

impl Coding {
    /// The coding named by a `Content-Encoding` value.
    pub(crate) fn from_header(value: Option<&str>) -> Coding {
        let Some(value) = value else {
            return Coding::Identity;
        };
        let codings: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
            .collect();
        match codings.as_slice() {
            [] => Coding::Identity,
            [one] => match one.to_ascii_lowercase().as_str() {
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                "br" => Coding::Brotli,
                "zstd" => Coding::Zstd,
                _ => Coding::Unsupported,
            },
            _ => Coding::Unsupported,
        }
    }
}

/// Collects decoded bytes up to a limit; writing past it fails, which stops
/// a decompressor from doing further work.
#[derive(Debug)]
struct Sink {
    out: Vec<u8>,
    limit: usize,
    over: bool,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.out.len());
        if buf.len() > room {
            self.out.extend_from_slice(&buf[..room]);
            self.over = true;
            return Err(io::Error::other("decoded body over the size limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Inner {
    Identity(Sink),
    Gzip(Box<flate2::write::GzDecoder<Sink>>),
    /// Waiting for two bytes to tell zlib from raw deflate.
    DeflateStart(Sink, Vec<u8>),
    Zlib(Box<flate2::write::ZlibDecoder<Sink>>),
    RawDeflate(Box<flate2::write::DeflateDecoder<Sink>>),
    Brotli(Box<brotli::DecompressorWriter<Sink>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Sink>>),
    /// Decoding was given up; the sink keeps what was decoded before.
    Stopped(Sink),
}

impl Inner {
    fn sink(&mut self) -> &mut Sink {
        match self {
            Inner::Identity(s) | Inner::DeflateStart(s, _) | Inner::Stopped(s) => s,
            Inner::Gzip(d) => d.get_mut(),
            Inner::Zlib(d) => d.get_mut(),
            Inner::RawDeflate(d) => d.get_mut(),
            Inner::Brotli(d) => d.get_mut(),
            Inner::Zstd(d) => d.get_mut(),
        }
    }

    fn sink_ref(&self) -> &Sink {
        match self {
            Inner::Identity(s) | Inner::DeflateStart(s, _) | Inner::Stopped(s) => s,
            Inner::Gzip(d) => d.get_ref(),
            Inner::Zlib(d) => d.get_ref(),
            Inner::RawDeflate(d) => d.get_ref(),
            Inner::Brotli(d) => d.get_ref(),
            Inner::Zstd(d) => d.get_ref(),
        }
    }
}

/// Why a body is not complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BodyFlaws {
    /// Cut at the size limit.
    pub truncated: bool,
    /// Bytes missing from the capture.
    pub gap: bool,
    /// The content coding failed to decode (or is not supported).
    pub undecodable: bool,
}

impl BodyFlaws {
    /// True when nothing is wrong.
    pub(crate) fn is_clean(self) -> bool {
        !self.truncated && !self.gap && !self.undecodable
    }
}

/// Decodes one body incrementally.
pub(crate) struct BodyDecoder {
    inner: Inner,
    flaws: BodyFlaws,
}

impl std::fmt::Debug for BodyDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyDecoder")
            .field("decoded", &self.inner.sink_ref().out.len())
            .field("flaws", &self.flaws)
            .finish()
    }
}

impl BodyDecoder {
    /// A decoder for `coding` that keeps at most `limit` decoded bytes.
    pub(crate) fn new(coding: Coding, limit: usize) -> BodyDecoder {
        let sink = Sink {
            out: Vec::new(),
            limit,
            over: false,
        };
        let mut flaws = BodyFlaws::default();
        let inner = match coding {
            Coding::Identity => Inner::Identity(sink),
            Coding::Gzip => Inner::Gzip(Box::new(flate2::write::GzDecoder::new(sink))),
            Coding::Deflate => Inner::DeflateStart(sink, Vec::new()),
            Coding::Brotli => Inner::Brotli(Box::new(brotli::DecompressorWriter::new(sink, 4096))),
            Coding::Zstd => match zstd::stream::write::Decoder::new(sink).and_then(|mut d| {
                d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
                Ok(d)
            }) {
                Ok(d) => Inner::Zstd(Box::new(d)),
                Err(_) => {
                    flaws.undecodable = true;
                    Inner::Stopped(Sink {
                        out: Vec::new(),
                        limit,
                        over: false,
                    })
                }
            },
            Coding::Unsupported => {
                flaws.undecodable = true;
                Inner::Stopped(sink)
            }
        };
        BodyDecoder { inner, flaws }
    }

    /// Feeds encoded bytes.
    pub(crate) fn write(&mut self, data: &[u8]) {
        let result = match &mut self.inner {
            Inner::Stopped(_) => return,
            Inner::Identity(s) => s.write_all(data),
            Inner::Gzip(d) => d.write_all(data),
            Inner::Zlib(d) => d.write_all(data),
            Inner::RawDeflate(d) => d.write_all(data),
            Inner::Brotli(d) => d.write_all(data),
            Inner::Zstd(d) => d.write_all(data),
            Inner::DeflateStart(_, head) => {
                head.extend_from_slice(data);
                if head.len() < 2 {
                    return;
                }
                let head = std::mem::take(head);
                let zlib =
                    head[0] & 0x0f == 8 && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
                let sink = self.take_sink();
                self.inner = if zlib {
                    Inner::Zlib(Box::new(flate2::write::ZlibDecoder::new(sink)))
                } else {
                    Inner::RawDeflate(Box::new(flate2::write::DeflateDecoder::new(sink)))
                };
                return self.write(&head);
            }
        };
        if result.is_err() {
            self.stop();
        }
    }

    /// `len` encoded bytes were not captured.
    pub(crate) fn gap(&mut self, len: u64) {
        if len == 0 {
            return;
        }
        self.flaws.gap = true;
        if !matches!(self.inner, Inner::Identity(_)) {
            // A compressed stream cannot continue past a hole.
            self.stop();
        }
    }

    /// The body ended: flushes what the decompressor still holds.
    pub(crate) fn finish(&mut self) {
        let result = match &mut self.inner {
            Inner::Identity(_) | Inner::Stopped(_) => Ok(()),
            Inner::DeflateStart(_, head) => {
                if head.is_empty() {
                    Ok(())
                } else {
                    Err(io::Error::other("deflate body too short"))
                }
            }
            Inner::Gzip(d) => d.try_finish(),
            Inner::Zlib(d) => d.try_finish(),
            Inner::RawDeflate(d) => d.try_finish(),
            Inner::Brotli(d) => d.flush(),
            Inner::Zstd(d) => d.flush(),
        };
        if result.is_err() {
            self.stop();
        }
    }

    fn stop(&mut self) {
        if matches!(self.inner, Inner::Stopped(_)) {
            return;
        }
        let sink = self.take_sink();
        if sink.over {
            self.flaws.truncated = true;
        } else if !self.flaws.gap {
            self.flaws.undecodable = true;
        }
        self.inner = Inner::Stopped(sink);
    }

    fn take_sink(&mut self) -> Sink {
        let s = self.inner.sink();
        Sink {
            out: std::mem::take(&mut s.out),
            limit: s.limit,
            over: s.over,
        }
    }

    /// Decoded bytes so far.
    pub(crate) fn output(&self) -> &[u8] {
        &self.inner.sink_ref().out
    }

    /// Takes the decoded bytes so far (for bodies decoded as a stream); the
    /// limit then applies to what accumulates again.
    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.inner.sink().out)
    }

    /// What is wrong with the body so far.
    pub(crate) fn flaws(&self) -> BodyFlaws {
        let mut f = self.flaws;
        f.truncated |= self.inner.sink_ref().over;
        f
    }

    /// Memory held by the decoded buffer.
    pub(crate) fn held(&self) -> usize {
        self.inner.sink_ref().out.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn encode(coding: &Coding, data: &[u8]) -> Vec<u8> {
        match coding {
            Coding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Coding::Deflate => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Coding::Brotli => {
                let mut out = Vec::new();
                {
                    let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    e.write_all(data).unwrap();
                }
                out
            }
            Coding::Zstd => zstd::encode_all(data, 3).unwrap(),
            _ => data.to_vec(),
        }
    }

    /// Scenario: each supported coding, fed in 7-byte pieces.
    /// Guarantees: the decoded body equals the original and is clean.
    #[test]
    fn decodes_every_coding_in_pieces() {
        let original: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for coding in [
            Coding::Identity,
            Coding::Gzip,
            Coding::Deflate,
            Coding::Brotli,
            Coding::Zstd,
        ] {
            let encoded = encode(&coding, &original);
            let mut d = BodyDecoder::new(coding.clone(), 1 << 20);
            for piece in encoded.chunks(7) {
                d.write(piece);
            }
            d.finish();
            assert_eq!(d.output(), &original[..], "{coding:?}");
            assert!(d.flaws().is_clean(), "{coding:?}");
        }
    }

    /// Scenario: raw deflate without the zlib wrapper.
    /// Guarantees: it is recognised and decoded.
    #[test]
    fn raw_deflate() {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"hello hello hello").unwrap();
        let encoded = e.finish().unwrap();
        let mut d = BodyDecoder::new(Coding::Deflate, 1024);
        d.write(&encoded);
        d.finish();
        assert_eq!(d.output(), b"hello hello hello");
    }

    /// Scenario: a bomb in every coding (16 MiB of zeros) with a 64 KiB
    /// limit, fed in 64 KiB pieces.
    /// Guarantees: decoding stops at the limit and the body is marked
    /// truncated.
    #[test]
    fn limit_stops_a_bomb_in_every_coding() {
        let zeros = vec![0u8; 16 << 20];
        for coding in [Coding::Gzip, Coding::Deflate, Coding::Brotli, Coding::Zstd] {
            let encoded = encode(&coding, &zeros);
            assert!(encoded.len() < 1 << 20, "{coding:?}: {}", encoded.len());
            let mut d = BodyDecoder::new(coding.clone(), 64 * 1024);
            for piece in encoded.chunks(64 * 1024) {
                d.write(piece);
            }
            d.finish();
            assert_eq!(d.output().len(), 64 * 1024, "{coding:?}");
            assert!(d.flaws().truncated, "{coding:?}");
        }
    }

    /// A zstd frame of `blocks` RLE blocks of 128 KiB zeros whose header
    /// asks for a window of `1 << window_log` bytes.
    fn zstd_rle_frame(window_log: u8, blocks: usize) -> Vec<u8> {
        let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (window_log - 10) << 3];
        for i in 0..blocks {
            let last = u32::from(i + 1 == blocks);
            let header = (128 * 1024) << 3 | 1 << 1 | last;
            out.extend_from_slice(&header.to_le_bytes()[..3]);
            out.push(0);
        }
        out
    }

    /// Scenario: zstd frames asking for a 128 MiB window (which zstd's own
    /// default limit allows) and for an 8 MiB one.
    /// Guarantees: the 128 MiB one is undecodable, nothing decoded (no
    /// window reserved); the 8 MiB one decodes.
    #[test]
    fn zstd_window_is_capped() {
        let mut d = BodyDecoder::new(Coding::Zstd, 1 << 20);
        d.write(&zstd_rle_frame(27, 2));
        d.finish();
        assert!(d.flaws().undecodable);
        assert!(d.output().is_empty());

        let mut d = BodyDecoder::new(Coding::Zstd, 1 << 20);
        d.write(&zstd_rle_frame(23, 2));
        d.finish();
        assert_eq!(d.output(), &vec![0u8; 256 * 1024][..]);
        assert!(d.flaws().is_clean());
    }

    /// Scenario: corrupt gzip, and an unknown coding.
    /// Guarantees: both are marked undecodable, never panic.
    #[test]
    fn corrupt_and_unknown() {
        let mut d = BodyDecoder::new(Coding::Gzip, 1024);
        d.write(b"\x1f\x8b\x08\x00garbage garbage garbage");
        d.finish();
        assert!(d.flaws().undecodable);
        assert_eq!(Coding::from_header(Some("gzip, br")), Coding::Unsupported);
        assert_eq!(Coding::from_header(Some("identity")), Coding::Identity);
        assert_eq!(Coding::from_header(Some("X-Gzip")), Coding::Gzip);
    }
}
