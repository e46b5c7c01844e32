//! Incremental HTTP/2 decoding of one connection, as a passive observer of
//! both directions: the client connection preface, the frame layer (DATA,
//! HEADERS, CONTINUATION, PUSH_PROMISE, RST_STREAM and the frames that only
//! matter to the endpoints: SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY),
//! PADDED and PRIORITY flags, and HPACK with one dynamic table per direction
//! (decoded with `loona-hpack`; every header block is decoded in order so the
//! table stays in step with the encoder, including trailers and pushes).
//!
//! DATA payloads are passed on as they arrive, so a large body never sits
//! in the frame buffer. Any framing or HPACK error means the dynamic table
//! can no longer be trusted: the connection is given up and every open
//! exchange on it reported incomplete.

use std::collections::HashSet;

use loona_hpack::Decoder as HpackDecoder;

use super::http1::StartMatch;
use super::message::{Flow, Head, HttpEvent, Role, StartLine};
use super::stats::DecoderStats;

/// The client connection preface (RFC 9113, section 3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Largest non-DATA frame buffered.
const MAX_CONTROL_FRAME: usize = 1024 * 1024;
/// Largest header block (HEADERS plus CONTINUATIONs).
const MAX_HEADER_BLOCK: usize = 1024 * 1024;
/// Largest dynamic table size an encoder may announce.
const MAX_TABLE_SIZE: usize = 1024 * 1024;
/// Largest decoded header list (RFC 9113 section 6.5.2: name + value + 32
/// per field). HPACK lets one octet stand for a whole dynamic table entry,
/// so a 1 MiB block could otherwise decode to a million copies of a 1 MiB
/// entry.
const MAX_HEADER_LIST: usize = 1024 * 1024;
/// Most streams tracked at once per connection.
const MAX_OPEN_STREAMS: usize = 4096;

const FRAME_DATA: u8 = 0x0;
const FRAME_HEADERS: u8 = 0x1;
const FRAME_RST_STREAM: u8 = 0x3;
const FRAME_PUSH_PROMISE: u8 = 0x5;
const FRAME_CONTINUATION: u8 = 0x9;

const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const FLAG_PADDED: u8 = 0x8;
const FLAG_PRIORITY: u8 = 0x20;

/// Whether `data` can begin the client connection preface.
pub(crate) fn preface_start(data: &[u8]) -> StartMatch {
    let n = data.len().min(PREFACE.len());
    if data[..n] != PREFACE[..n] {
        StartMatch::No
    } else if n == PREFACE.len() {
        StartMatch::Yes
    } else {
        StartMatch::Maybe
    }
}

#[derive(Clone, Copy, Debug)]
enum FrameState {
    /// Waiting for a 9-byte frame header.
    Header,
    /// Inside a DATA frame's payload.
    Data {
        stream: u32,
        /// Payload bytes left, padding included; `None` until the pad
        /// length octet of a PADDED frame is read.
        data_left: Option<u32>,
        pad_left: u32,
        total: u32,
        end_stream: bool,
    },
}

/// A header block waiting for its CONTINUATION frames.
#[derive(Debug)]
struct PendingBlock {
    stream: u32,
    end_stream: bool,
    push: bool,
    fragment: Vec<u8>,
}

/// One direction of an HTTP/2 connection.
struct H2Flow {
    role: Role,
    buf: Vec<u8>,
    preface_left: usize,
    state: FrameState,
    hpack: HpackDecoder<'static>,
    block: Option<PendingBlock>,
}

impl std::fmt::Debug for H2Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Flow")
            .field("role", &self.role)
            .field("buffered", &self.buf.len())
            .field("state", &self.state)
            .finish()
    }
}

impl H2Flow {
    fn new(role: Role, preface: bool) -> H2Flow {
        let mut hpack = HpackDecoder::new();
        hpack.set_max_allowed_table_size(MAX_TABLE_SIZE);
        H2Flow {
            role,
            buf: Vec::new(),
            preface_left: if preface { PREFACE.len() } else { 0 },
            state: FrameState::Header,
            hpack,
            block: None,
        }
    }
}

/// HTTP/2 decoding state of one connection (both directions).
#[derive(Debug)]
pub(crate) struct Http2Conn {
    to_server: H2Flow,
    to_client: H2Flow,
    /// `(stream, role)` whose final head has been reported and whose message
    /// has not ended.
    open: HashSet<(u32, Role)>,
    broken: bool,
}

impl Http2Conn {
    /// A connection whose client flow starts with the connection preface.
    pub(crate) fn new() -> Http2Conn {
        Http2Conn {
            to_server: H2Flow::new(Role::Request, true),
            to_client: H2Flow::new(Role::Response, false),
            open: HashSet::new(),
            broken: false,
        }
    }

    /// Bytes held waiting for more input.
    pub(crate) fn buffered(&self) -> usize {
        let blocks = |f: &H2Flow| f.block.as_ref().map_or(0, |b| b.fragment.len());
        self.to_server.buf.len()
            + self.to_client.buf.len()
            + blocks(&self.to_server)
            + blocks(&self.to_client)
    }

    fn flow_mut(&mut self, flow: Flow) -> &mut H2Flow {
        match flow {
            Flow::ToServer => &mut self.to_server,
            Flow::ToClient => &mut self.to_client,
        }
    }

    /// Decodes captured bytes of `flow`.
    pub(crate) fn push(
        &mut self,
        flow: Flow,
        data: &[u8],
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) {
        if self.broken {
            stats.skipped(data.len() as u64);
            return;
        }
        let mut buf = std::mem::take(&mut self.flow_mut(flow).buf);
        let consumed = if buf.is_empty() {
            self.decode(flow, data, ts, out, stats)
        } else {
            buf.extend_from_slice(data);
            self.decode(flow, &buf, ts, out, stats)
        };
        if self.broken {
            buf.clear();
        } else if buf.is_empty() {
            buf.extend_from_slice(&data[consumed..]);
        } else {
            buf.drain(..consumed);
        }
        self.flow_mut(flow).buf = buf;
    }

    /// `len` bytes of `flow` went uncaptured: survivable only inside a DATA payload.
    pub(crate) fn gap(
        &mut self,
        flow: Flow,
        len: u64,
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) {
        if self.broken || len == 0 {
            return;
        }
        let role = flow.role();
        let f = self.flow_mut(flow);
        if f.buf.is_empty() {
            if let FrameState::Data {
                stream,
                data_left: Some(left),
                pad_left,
                total,
                end_stream,
            } = f.state
            {
                if len <= u64::from(left) {
                    let len32 = len as u32;
                    out.push(HttpEvent::Gap {
                        stream: u64::from(stream),
                        role,
                        len,
                    });
                    f.state = FrameState::Data {
                        stream,
                        data_left: Some(left - len32),
                        pad_left,
                        total,
                        end_stream,
                    };
                    if left == len32 && pad_left == 0 {
                        f.state = FrameState::Header;
                        if end_stream {
                            self.end(stream, role, ts, out);
                        }
                    }
                    return;
                }
            }
        }
        stats.skipped(len);
        self.fail(ts, out, stats);
    }

    /// The connection ended: every unfinished exchange is incomplete.
    pub(crate) fn close(&mut self, ts: u64, out: &mut Vec<HttpEvent>) {
        if !self.broken && !self.open.is_empty() {
            out.push(HttpEvent::Desync { ts });
        }
        self.open.clear();
        self.broken = true;
    }

    fn fail(&mut self, ts: u64, out: &mut Vec<HttpEvent>, stats: &mut DecoderStats) {
        stats.http2_errors += 1;
        self.broken = true;
        self.open.clear();
        self.to_server.buf.clear();
        self.to_client.buf.clear();
        self.to_server.block = None;
        self.to_client.block = None;
        out.push(HttpEvent::Desync { ts });
    }

    fn end(&mut self, stream: u32, role: Role, ts: u64, out: &mut Vec<HttpEvent>) {
        self.open.remove(&(stream, role));
        out.push(HttpEvent::End {
            stream: u64::from(stream),
            role,
            ts,
        });
    }

    fn decode(
        &mut self,
        flow: Flow,
        input: &[u8],
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) -> usize {
        let role = flow.role();
        let mut pos = 0;
        // The client preface.
        let preface_left = self.flow_mut(flow).preface_left;
        if preface_left > 0 {
            let done = PREFACE.len() - preface_left;
            let n = preface_left.min(input.len());
            if input[..n] != PREFACE[done..done + n] {
                self.fail(ts, out, stats);
                return input.len();
            }
            self.flow_mut(flow).preface_left -= n;
            pos = n;
        }
        while !self.broken {
            let rest = &input[pos..];
            match self.flow_mut(flow).state {
                FrameState::Data {
                    stream,
                    data_left,
                    pad_left,
                    total,
                    end_stream,
                } => {
                    let Some(left) = data_left else {
                        let Some(&pad) = rest.first() else {
                            return pos;
                        };
                        let pad = u32::from(pad);
                        if pad + 1 > total {
                            self.fail(ts, out, stats);
                            return input.len();
                        }
                        self.flow_mut(flow).state = FrameState::Data {
                            stream,
                            data_left: Some(total - 1 - pad),
                            pad_left: pad,
                            total,
                            end_stream,
                        };
                        pos += 1;
                        continue;
                    };
                    let n = (left as usize).min(rest.len());
                    if n > 0 {
                        out.push(HttpEvent::Data {
                            stream: u64::from(stream),
                            role,
                            data: rest[..n].to_vec(),
                            ts,
                        });
                    }
                    let pad_n = (pad_left as usize).min(rest.len() - n);
                    pos += n + pad_n;
                    let (left, pad_left) = (left - n as u32, pad_left - pad_n as u32);
                    if left == 0 && pad_left == 0 {
                        self.flow_mut(flow).state = FrameState::Header;
                        if end_stream {
                            self.end(stream, role, ts, out);
                        }
                        continue;
                    }
                    self.flow_mut(flow).state = FrameState::Data {
                        stream,
                        data_left: Some(left),
                        pad_left,
                        total,
                        end_stream,
                    };
                    return pos;
                }
                FrameState::Header => {
                    if rest.len() < 9 {
                        return pos;
                    }
                    let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]);
                    let kind = rest[3];
                    let flags = rest[4];
                    let stream =
                        u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]) & 0x7fff_ffff;
                    let awaiting_continuation = self.flow_mut(flow).block.is_some();
                    if awaiting_continuation && kind != FRAME_CONTINUATION {
                        self.fail(ts, out, stats);
                        return input.len();
                    }
                    if kind == FRAME_DATA {
                        pos += 9;
                        let padded = flags & FLAG_PADDED != 0;
                        let end_stream = flags & FLAG_END_STREAM != 0;
                        if len == 0 {
                            if end_stream {
                                self.end(stream, role, ts, out);
                            }
                            continue;
                        }
                        self.flow_mut(flow).state = FrameState::Data {
                            stream,
                            data_left: if padded { None } else { Some(len) },
                            pad_left: 0,
                            total: len,
                            end_stream,
                        };
                        continue;
                    }
                    let len = len as usize;
                    if len > MAX_CONTROL_FRAME {
                        self.fail(ts, out, stats);
                        return input.len();
                    }
                    if rest.len() < 9 + len {
                        return pos;
                    }
                    let payload = &rest[9..9 + len];
                    pos += 9 + len;
                    self.frame(flow, kind, flags, stream, payload, ts, out, stats);
                }
            }
        }
        input.len()
    }

    #[allow(clippy::too_many_arguments)]
    fn frame(
        &mut self,
        flow: Flow,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) {
        match kind {
            FRAME_HEADERS | FRAME_PUSH_PROMISE => {
                let Some(mut fragment) = strip_padding(payload, flags) else {
                    self.fail(ts, out, stats);
                    return;
                };
                let push = kind == FRAME_PUSH_PROMISE;
                let skip = if push {
                    4
                } else if flags & FLAG_PRIORITY != 0 {
                    5
                } else {
                    0
                };
                if fragment.len() < skip {
                    self.fail(ts, out, stats);
                    return;
                }
                fragment = &fragment[skip..];
                let block = PendingBlock {
                    stream,
                    end_stream: !push && flags & FLAG_END_STREAM != 0,
                    push,
                    fragment: fragment.to_vec(),
                };
                if flags & FLAG_END_HEADERS != 0 {
                    self.header_block(flow, block, ts, out, stats);
                } else {
                    self.flow_mut(flow).block = Some(block);
                }
            }
            FRAME_CONTINUATION => {
                let Some(mut block) = self.flow_mut(flow).block.take() else {
                    self.fail(ts, out, stats);
                    return;
                };
                if block.stream != stream || block.fragment.len() + payload.len() > MAX_HEADER_BLOCK
                {
                    self.fail(ts, out, stats);
                    return;
                }
                block.fragment.extend_from_slice(payload);
                if flags & FLAG_END_HEADERS != 0 {
                    self.header_block(flow, block, ts, out, stats);
                } else {
                    self.flow_mut(flow).block = Some(block);
                }
            }
            FRAME_RST_STREAM => {
                let had = self.open.remove(&(stream, Role::Request))
                    | self.open.remove(&(stream, Role::Response));
                if had || stream != 0 {
                    out.push(HttpEvent::Reset {
                        stream: u64::from(stream),
                        ts,
                    });
                }
            }
            // SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY and unknown
            // frame types carry nothing the observer needs.
            _ => {}
        }
    }

    fn header_block(
        &mut self,
        flow: Flow,
        block: PendingBlock,
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) {
        let role = flow.role();
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut list_size = 0usize;
        let decoded = self
            .flow_mut(flow)
            .hpack
            .decode_with_cb(&block.fragment, |name, value| {
                // Every field is still decoded (the dynamic table must stay
                // in step), but past the limit none is kept.
                list_size = list_size.saturating_add(name.len() + value.len() + 32);
                if list_size <= MAX_HEADER_LIST {
                    fields.push((
                        String::from_utf8_lossy(&name).to_ascii_lowercase(),
                        String::from_utf8_lossy(&value).into_owned(),
                    ));
                }
            });
        if decoded.is_err() || list_size > MAX_HEADER_LIST {
            stats.hpack_errors += 1;
            self.fail(ts, out, stats);
            return;
        }
        if block.push {
            return;
        }
        let stream = block.stream;
        if self.open.contains(&(stream, role)) {
            // Trailers.
            if block.end_stream {
                self.end(stream, role, ts, out);
            }
            return;
        }
        let Some(head) = build_head(role, fields) else {
            // An interim (1xx) response or a head without its pseudo-headers.
            if block.end_stream {
                self.end(stream, role, ts, out);
            }
            return;
        };
        if self.open.len() >= MAX_OPEN_STREAMS {
            self.fail(ts, out, stats);
            return;
        }
        self.open.insert((stream, role));
        out.push(HttpEvent::Head {
            stream: u64::from(stream),
            role,
            head,
            ts,
        });
        if block.end_stream {
            self.end(stream, role, ts, out);
        }
    }
}

/// Removes the pad length octet and the padding of a PADDED frame.
fn strip_padding(payload: &[u8], flags: u8) -> Option<&[u8]> {
    if flags & FLAG_PADDED == 0 {
        return Some(payload);
    }
    let (&pad, rest) = payload.split_first()?;
    rest.len()
        .checked_sub(usize::from(pad))
        .map(|end| &rest[..end])
}

/// A head from decoded fields; `None` for interim responses and heads
/// missing the pseudo-headers of their role.
fn build_head(role: Role, fields: Vec<(String, String)>) -> Option<Head> {
    let mut method = None;
    let mut path = None;
    let mut status = None;
    let mut authority = None;
    let mut scheme = None;
    let mut headers = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        match name.as_str() {
            ":method" => method = Some(value),
            ":path" => path = Some(value),
            ":status" => status = value.parse::<u16>().ok(),
            ":authority" => authority = Some(value),
            ":scheme" => scheme = Some(value),
            n if n.starts_with(':') => {}
            _ => headers.push((name, value)),
        }
    }
    if authority.is_none() {
        authority = headers
            .iter()
            .find(|(n, _)| n == "host")
            .map(|(_, v)| v.clone());
    }
    let start = match role {
        Role::Request => StartLine::Request {
            method: method?,
            path: path.unwrap_or_else(|| "/".to_string()),
        },
        Role::Response => {
            let status = status?;
            if (100..200).contains(&status) {
                return None;
            }
            StartLine::Response { status }
        }
    };
    Some(Head {
        start,
        headers,
        authority,
        scheme,
        http_version: 2,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use loona_hpack::Encoder;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.push(kind);
        f.push(flags);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// Scenario: a request split over HEADERS + CONTINUATION with PADDED and
    /// PRIORITY flags, then a padded DATA frame, fed one byte at a time.
    /// Guarantees: the head, the body without padding and the end come out.
    #[test]
    fn padded_priority_continuation_bytewise() {
        let mut enc = Encoder::new();
        let block = enc.encode(vec![
            (&b":method"[..], &b"POST"[..]),
            (b":path", b"/v1/chat/completions"),
            (b":authority", b"api.openai.com"),
            (b":scheme", b"https"),
            (b"content-type", b"application/json"),
        ]);
        let (a, b) = block.split_at(block.len() / 2);
        let mut headers_payload = vec![2u8]; // pad length
        headers_payload.extend_from_slice(&[0, 0, 0, 0, 16]); // priority
        headers_payload.extend_from_slice(a);
        headers_payload.extend_from_slice(&[0, 0]);
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(4, 0, 0, &[]));
        bytes.extend(frame(1, FLAG_PADDED | FLAG_PRIORITY, 1, &headers_payload));
        bytes.extend(frame(9, FLAG_END_HEADERS, 1, b));
        bytes.extend(frame(0, FLAG_PADDED | FLAG_END_STREAM, 1, b"\x03{}xyz"));
        let mut c = Http2Conn::new();
        let mut out = Vec::new();
        let mut stats = DecoderStats::default();
        for byte in &bytes {
            c.push(Flow::ToServer, &[*byte], 1, &mut out, &mut stats);
        }
        assert_eq!(stats.http2_errors, 0);
        let head = out
            .iter()
            .find_map(|e| match e {
                HttpEvent::Head { head, .. } => Some(head.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            head.start,
            StartLine::Request {
                method: "POST".into(),
                path: "/v1/chat/completions".into()
            }
        );
        assert_eq!(head.authority.as_deref(), Some("api.openai.com"));
        let body: Vec<u8> = out
            .iter()
            .filter_map(|e| match e {
                HttpEvent::Data { data, .. } => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(body, b"{}");
        assert!(matches!(out.last(), Some(HttpEvent::End { stream: 1, .. })));
    }

    /// Scenario: a header block that references a dynamic-table entry that
    /// was never defined.
    /// Guarantees: counted as an HPACK error, the connection is given up
    /// with a desync, and later bytes are skipped.
    #[test]
    fn hpack_error_gives_up_connection() {
        let mut c = Http2Conn::new();
        let mut out = Vec::new();
        let mut stats = DecoderStats::default();
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(1, FLAG_END_HEADERS, 1, &[0xff, 0x20]));
        c.push(Flow::ToServer, &bytes, 1, &mut out, &mut stats);
        assert_eq!(stats.hpack_errors, 1);
        assert_eq!(out, vec![HttpEvent::Desync { ts: 1 }]);
        c.push(Flow::ToClient, b"abc", 2, &mut out, &mut stats);
        assert_eq!(stats.bytes_skipped, 3);
    }

    /// Scenario: an HPACK bomb: a 4,000-byte header value enters the
    /// dynamic table, then a block of 300 one-octet references to it
    /// (1.2 MB of headers from 300 bytes).
    /// Guarantees: the decoded list is cut at its limit and refused (an
    /// HPACK error, the connection given up); below the limit, the same
    /// references decode.
    #[test]
    fn hpack_bomb_is_refused() {
        let run = |refs: usize| {
            let mut enc = Encoder::new();
            let big = vec![b'a'; 4000];
            let first = enc.encode(vec![
                (&b":method"[..], &b"GET"[..]),
                (b":path", b"/"),
                (b"x-big", &big[..]),
            ]);
            let mut bytes = PREFACE.to_vec();
            bytes.extend(frame(1, FLAG_END_HEADERS | FLAG_END_STREAM, 1, &first));
            let mut second = enc.encode(vec![(&b":method"[..], &b"GET"[..]), (b":path", b"/")]);
            // Index 62 is the newest dynamic entry: x-big.
            second.extend(std::iter::repeat_n(0x80 | 62, refs));
            bytes.extend(frame(1, FLAG_END_HEADERS | FLAG_END_STREAM, 3, &second));
            let mut c = Http2Conn::new();
            let mut out = Vec::new();
            let mut stats = DecoderStats::default();
            c.push(Flow::ToServer, &bytes, 1, &mut out, &mut stats);
            let fields: usize = out
                .iter()
                .map(|e| match e {
                    HttpEvent::Head { head, .. } => head.headers.len(),
                    _ => 0,
                })
                .sum();
            (stats.hpack_errors, fields)
        };
        assert_eq!(run(200), (0, 1 + 200));
        assert_eq!(run(300).0, 1);
    }

    /// Scenario: RST_STREAM after a request head.
    /// Guarantees: the stream is reported reset.
    #[test]
    fn rst_stream_resets() {
        let mut enc = Encoder::new();
        let block = enc.encode(vec![(&b":method"[..], &b"GET"[..]), (b":path", b"/")]);
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(1, FLAG_END_HEADERS, 3, &block));
        let mut c = Http2Conn::new();
        let mut out = Vec::new();
        let mut stats = DecoderStats::default();
        c.push(Flow::ToServer, &bytes, 1, &mut out, &mut stats);
        c.push(
            Flow::ToClient,
            &frame(3, 0, 3, &[0, 0, 0, 8]),
            2,
            &mut out,
            &mut stats,
        );
        assert_eq!(out.last(), Some(&HttpEvent::Reset { stream: 3, ts: 2 }));
    }

    #[test]
    fn preface_matching() {
        assert_eq!(preface_start(b"PRI * "), StartMatch::Maybe);
        assert_eq!(preface_start(PREFACE), StartMatch::Yes);
        assert_eq!(preface_start(b"POST /"), StartMatch::No);
    }
}
