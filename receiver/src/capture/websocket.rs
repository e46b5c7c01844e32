//! WebSocket decoding of one connection after an HTTP/1.1 `101 Switching
//! Protocols`: RFC 6455 frames in both directions (masking, 7/16/64-bit
//! lengths, fragmentation with interleaved control frames, close, ping,
//! pong) and RFC 7692 `permessage-deflate` as the 101's
//! `Sec-WebSocket-Extensions` negotiated it. Whole data messages come out
//! as [`HttpEvent::Message`]s.
//!
//! Everything is bounded before it is decoded. A frame header claiming
//! more than [`MAX_FRAME_BYTES`] is refused without allocating it; frame
//! payloads stream through (nothing holds a whole frame); a message keeps
//! at most `max_message_bytes` (the decoder's `max_body_bytes`) and is cut
//! beyond that, counted. A compressed message is inflated by a streaming
//! raw-deflate inflater per direction that keeps its window across messages
//! when context takeover is on (the RFC's default) and is reset after each
//! message when the 101 says `client_no_context_takeover` /
//! `server_no_context_takeover`; inflation stops at
//! [`INFLATE_LIMIT_FACTOR`] times the message cap (a decompression bomb),
//! which ends the direction when its context can no longer be followed.
//! The inflater always uses a 15-bit window, which decodes any stream made
//! with the smaller `*_max_window_bits` a peer may have negotiated.
//!
//! Frames that cannot be parsed (reserved bits or opcodes, a continuation
//! without a message, a fragmented or oversized control frame, a corrupt
//! deflate stream) end decoding of the whole connection: counted in
//! `websocket_errors`, never a panic. A hole in the capture (bytes the
//! probe did not copy) drops the message it falls in and, when it breaks a
//! shared deflate context or the frame boundaries, the rest of that
//! direction.

use flate2::{Decompress, FlushDecompress, Status};

use super::message::{Flow, HttpEvent, Role};
use super::stats::DecoderStats;

/// Largest frame payload a header may claim (64 MiB); a larger claim is a
/// protocol error.
pub(crate) const MAX_FRAME_BYTES: u64 = 64 * 1024 * 1024;
/// Inflation of one message stops at this many times the message cap.
pub(crate) const INFLATE_LIMIT_FACTOR: u64 = 8;
/// Largest control frame payload (RFC 6455 5.5).
const MAX_CONTROL_BYTES: u64 = 125;
/// The tail RFC 7692 removes from each compressed message, appended back
/// before the message's end is inflated.
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// `permessage-deflate` parameters from a 101 response (RFC 7692 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Deflate {
    /// The client resets its compression context after each message.
    pub client_no_context_takeover: bool,
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    /// LZ77 window of the client's compressor (8 to 15).
    pub client_max_window_bits: u8,
    /// LZ77 window of the server's compressor (8 to 15).
    pub server_max_window_bits: u8,
}

impl Default for Deflate {
    fn default() -> Self {
        Deflate {
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            client_max_window_bits: 15,
            server_max_window_bits: 15,
        }
    }
}

/// What the 101's `Sec-WebSocket-Extensions` agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extensions {
    /// No extension: frames carry no reserved bits.
    None,
    /// `permessage-deflate` with these parameters.
    Deflate(Deflate),
    /// An extension oispd does not know (or a malformed answer): frames
    /// with reserved bits set cannot be decoded.
    Unsupported,
}

/// Reads the extensions a 101 response agreed on.
pub(crate) fn negotiate(header: Option<&str>) -> Extensions {
    let Some(header) = header.filter(|h| !h.trim().is_empty()) else {
        return Extensions::None;
    };
    let mut found = None;
    for ext in header.split(',') {
        let mut parts = ext.split(';');
        let name = parts.next().unwrap_or("").trim();
        if !name.eq_ignore_ascii_case("permessage-deflate") || found.is_some() {
            return Extensions::Unsupported;
        }
        let mut d = Deflate::default();
        for param in parts {
            let (key, value) = match param.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                None => (param.trim(), None),
            };
            let bits = || {
                value
                    .and_then(|v| v.parse::<u8>().ok())
                    .filter(|b| (8..=15).contains(b))
            };
            match key.to_ascii_lowercase().as_str() {
                "client_no_context_takeover" if value.is_none() => {
                    d.client_no_context_takeover = true;
                }
                "server_no_context_takeover" if value.is_none() => {
                    d.server_no_context_takeover = true;
                }
                // A response may leave the client's window unsaid (15).
                "client_max_window_bits" if value.is_none() => {}
                "client_max_window_bits" => match bits() {
                    Some(b) => d.client_max_window_bits = b,
                    None => return Extensions::Unsupported,
                },
                "server_max_window_bits" => match bits() {
                    Some(b) => d.server_max_window_bits = b,
                    None => return Extensions::Unsupported,
                },
                _ => return Extensions::Unsupported,
            }
        }
        found = Some(d);
    }
    found.map_or(Extensions::None, Extensions::Deflate)
}

/// Why a connection's frames cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WsError {
    /// A frame header breaks RFC 6455 (or the negotiated extensions).
    Protocol,
    /// A frame claims more than [`MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// A compressed message is not valid deflate data.
    Inflate,
}

/// A data message being assembled.
#[derive(Debug)]
struct Msg {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
    /// Decoded bytes so far, kept or not.
    decoded: u64,
    truncated: bool,
    /// A capture hole fell inside it: it is not emitted.
    broken: bool,
    /// Inflation stopped (bomb): the rest of its payload is skipped.
    skip: bool,
}

impl Msg {
    fn take(&mut self, bytes: &[u8], cap: usize) {
        self.decoded = self.decoded.saturating_add(bytes.len() as u64);
        let room = cap.saturating_sub(self.data.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.data.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// What the payload of the current frame is.
#[derive(Debug)]
enum Payload {
    /// A data frame: its bytes go to the message.
    Data,
    /// A control frame (opcode), collected whole (at most 125 bytes).
    Control(u8, Vec<u8>),
}

/// Where a direction is in its frames.
#[derive(Debug)]
enum FrameState {
    /// Expecting a frame header; `head` holds its first bytes.
    Header,
    /// Inside a frame's payload.
    Payload {
        remaining: u64,
        mask: Option<[u8; 4]>,
        /// Offset into the masking key of the next byte.
        mask_pos: usize,
        fin: bool,
        kind: Payload,
    },
    /// After a close frame: nothing more is expected.
    Closed,
    /// Lost (a capture hole broke the framing or the deflate context).
    Lost,
}

/// One direction of a WebSocket connection.
#[derive(Debug)]
struct WsFlow {
    state: FrameState,
    head: Vec<u8>,
    msg: Option<Msg>,
    /// The direction's inflater, when `permessage-deflate` is on.
    inflater: Option<Decompress>,
    /// Reset the inflater after each message.
    no_takeover: bool,
}

impl WsFlow {
    fn new(deflate: Option<(bool, u8)>) -> WsFlow {
        WsFlow {
            state: FrameState::Header,
            head: Vec::new(),
            msg: None,
            inflater: deflate.map(|_| Decompress::new(false)),
            no_takeover: deflate.is_some_and(|(no, _)| no),
        }
    }

    fn held(&self) -> usize {
        let control = match &self.state {
            FrameState::Payload {
                kind: Payload::Control(_, b),
                ..
            } => b.len(),
            _ => 0,
        };
        self.head.len() + self.msg.as_ref().map_or(0, |m| m.data.len()) + control
    }
}

/// The parsed fixed part of a frame header.
struct FrameHead {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    len: u64,
    mask: Option<[u8; 4]>,
    size: usize,
}

/// Parses a frame header from the start of `b`: `Ok(None)` when more bytes
/// are needed.
fn parse_head(b: &[u8]) -> Result<Option<FrameHead>, WsError> {
    if b.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (b[0], b[1]);
    if b0 & 0x30 != 0 {
        // RSV2 / RSV3: no negotiated extension uses them.
        return Err(WsError::Protocol);
    }
    let masked = b1 & 0x80 != 0;
    let (len, mut size) = match b1 & 0x7f {
        126 => {
            let Some(l) = b.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([l[0], l[1]])), 4)
        }
        127 => {
            let Some(l) = b.get(2..10) else {
                return Ok(None);
            };
            let mut a = [0u8; 8];
            a.copy_from_slice(l);
            let len = u64::from_be_bytes(a);
            if len >> 63 != 0 {
                return Err(WsError::Protocol);
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    if len > MAX_FRAME_BYTES {
        return Err(WsError::FrameTooLarge);
    }
    let mask = if masked {
        let Some(k) = b.get(size..size + 4) else {
            return Ok(None);
        };
        size += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Ok(Some(FrameHead {
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        opcode: b0 & 0x0f,
        len,
        mask,
        size,
    }))
}

/// Inflates `input` into `msg`; stops at `limit` decoded bytes.
fn inflate(
    d: &mut Decompress,
    mut input: &[u8],
    msg: &mut Msg,
    cap: usize,
    limit: u64,
) -> Result<(), WsError> {
    let mut scratch = [0u8; 16 * 1024];
    loop {
        let (in0, out0) = (d.total_in(), d.total_out());
        let status = d
            .decompress(input, &mut scratch, FlushDecompress::None)
            .map_err(|_| WsError::Inflate)?;
        let used = usize::try_from(d.total_in().saturating_sub(in0)).unwrap_or(input.len());
        let made = usize::try_from(d.total_out().saturating_sub(out0)).unwrap_or(0);
        input = input.get(used..).unwrap_or(&[]);
        msg.take(scratch.get(..made).unwrap_or(&[]), cap);
        if msg.decoded > limit {
            msg.truncated = true;
            msg.skip = true;
            return Ok(());
        }
        if status == Status::StreamEnd {
            // A final deflate block: the next bytes start a new stream.
            d.reset(false);
            if input.is_empty() {
                return Ok(());
            }
            continue;
        }
        if (input.is_empty() && made < scratch.len()) || (used == 0 && made == 0) {
            return Ok(());
        }
    }
}

/// WebSocket decoding state of one connection (both directions).
#[derive(Debug)]
pub(crate) struct WsConn {
    extensions: Extensions,
    to_server: WsFlow,
    to_client: WsFlow,
    max_message_bytes: usize,
    /// Decoding stopped for good (a protocol error).
    failed: bool,
}

impl WsConn {
    /// A connection whose 101 agreed on `extensions`; messages keep at
    /// most `max_message_bytes`.
    pub(crate) fn new(extensions: Extensions, max_message_bytes: usize) -> WsConn {
        let (client, server) = match extensions {
            Extensions::Deflate(d) => (
                Some((d.client_no_context_takeover, d.client_max_window_bits)),
                Some((d.server_no_context_takeover, d.server_max_window_bits)),
            ),
            Extensions::None | Extensions::Unsupported => (None, None),
        };
        WsConn {
            extensions,
            to_server: WsFlow::new(client),
            to_client: WsFlow::new(server),
            max_message_bytes: max_message_bytes.max(1),
            failed: false,
        }
    }

    /// Bytes held waiting for more input.
    pub(crate) fn buffered(&self) -> usize {
        self.to_server.held() + self.to_client.held()
    }

    fn flow_mut(&mut self, flow: Flow) -> &mut WsFlow {
        match flow {
            Flow::ToServer => &mut self.to_server,
            Flow::ToClient => &mut self.to_client,
        }
    }

    fn inflate_limit(&self) -> u64 {
        (self.max_message_bytes as u64).saturating_mul(INFLATE_LIMIT_FACTOR)
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
        if self.failed {
            stats.bytes_skipped = stats.bytes_skipped.saturating_add(data.len() as u64);
            return;
        }
        if let Err(e) = self.decode(flow, data, ts, out, stats) {
            self.fail(e, ts, out, stats);
        }
    }

    /// Stops decoding the connection: counted, unfinished calls end.
    fn fail(&mut self, _why: WsError, ts: u64, out: &mut Vec<HttpEvent>, stats: &mut DecoderStats) {
        self.failed = true;
        stats.websocket_errors = stats.websocket_errors.saturating_add(1);
        let held = self.buffered() as u64;
        stats.bytes_skipped = stats.bytes_skipped.saturating_add(held);
        for f in [&mut self.to_server, &mut self.to_client] {
            f.head = Vec::new();
            f.msg = None;
            f.state = FrameState::Lost;
        }
        out.push(HttpEvent::Desync { ts });
    }

    fn decode(
        &mut self,
        flow: Flow,
        mut data: &[u8],
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) -> Result<(), WsError> {
        let cap = self.max_message_bytes;
        let limit = self.inflate_limit();
        let deflate = matches!(self.extensions, Extensions::Deflate(_));
        let role = flow.role();
        let f = self.flow_mut(flow);
        while !data.is_empty() {
            match &mut f.state {
                FrameState::Closed | FrameState::Lost => {
                    stats.bytes_skipped = stats.bytes_skipped.saturating_add(data.len() as u64);
                    return Ok(());
                }
                FrameState::Header => {
                    // Take header bytes one frame at a time: at most 14.
                    let had = f.head.len();
                    let want = 14usize.saturating_sub(had).min(data.len());
                    f.head.extend_from_slice(&data[..want]);
                    let Some(h) = parse_head(&f.head)? else {
                        data = &data[want..];
                        continue;
                    };
                    // Bytes of this chunk that belong to the header.
                    let used = h.size.saturating_sub(had);
                    data = &data[used..];
                    f.head.clear();
                    start_frame(f, &h, deflate)?;
                    if h.len == 0 {
                        end_frame(f, role, cap, limit, ts, out, stats)?;
                    }
                }
                FrameState::Payload {
                    remaining,
                    mask,
                    mask_pos,
                    kind,
                    ..
                } => {
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    let mut bytes = data[..n].to_vec();
                    data = &data[n..];
                    if let Some(k) = mask {
                        for b in &mut bytes {
                            *b ^= k[*mask_pos & 3];
                            *mask_pos = (*mask_pos + 1) & 3;
                        }
                    }
                    *remaining -= n as u64;
                    let done = *remaining == 0;
                    match kind {
                        Payload::Control(_, buf) => buf.extend_from_slice(&bytes),
                        Payload::Data => {
                            if let Some(m) = f.msg.as_mut() {
                                if m.broken || m.skip {
                                } else if m.compressed {
                                    if let Some(d) = f.inflater.as_mut() {
                                        inflate(d, &bytes, m, cap, limit)?;
                                    }
                                } else {
                                    m.take(&bytes, cap);
                                }
                            }
                        }
                    }
                    if done {
                        end_frame(f, role, cap, limit, ts, out, stats)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `len` bytes of `flow` went uncaptured.
    pub(crate) fn gap(&mut self, flow: Flow, len: u64, stats: &mut DecoderStats) {
        if len == 0 || self.failed {
            return;
        }
        let f = self.flow_mut(flow);
        let lose = match &mut f.state {
            FrameState::Closed | FrameState::Lost => false,
            FrameState::Payload {
                remaining,
                mask_pos,
                kind: Payload::Data,
                ..
            } if len < *remaining => {
                *remaining -= len;
                *mask_pos = ((*mask_pos as u64 + len) & 3) as usize;
                match f.msg.as_mut() {
                    // A shared deflate context cannot be followed past a hole.
                    Some(m) if m.compressed && !f.no_takeover => true,
                    Some(m) => {
                        m.broken = true;
                        false
                    }
                    None => false,
                }
            }
            FrameState::Header | FrameState::Payload { .. } => true,
        };
        if lose {
            let held = f.held() as u64;
            stats.bytes_skipped = stats.bytes_skipped.saturating_add(held);
            f.head = Vec::new();
            f.msg = None;
            f.state = FrameState::Lost;
        }
    }

    /// The connection ended; a message still being assembled is lost.
    pub(crate) fn close(&mut self) {
        for f in [&mut self.to_server, &mut self.to_client] {
            f.head = Vec::new();
            f.msg = None;
            f.state = FrameState::Closed;
        }
    }
}

/// Checks a frame header against the message state and enters its payload.
fn start_frame(f: &mut WsFlow, h: &FrameHead, deflate: bool) -> Result<(), WsError> {
    let kind = match h.opcode {
        0x0 => {
            // Continuation: RSV1 only on a message's first frame.
            if f.msg.is_none() || h.rsv1 {
                return Err(WsError::Protocol);
            }
            Payload::Data
        }
        0x1 | 0x2 => {
            if f.msg.is_some() || (h.rsv1 && !deflate) {
                return Err(WsError::Protocol);
            }
            f.msg = Some(Msg {
                text: h.opcode == 0x1,
                compressed: h.rsv1,
                data: Vec::new(),
                decoded: 0,
                truncated: false,
                broken: false,
                skip: false,
            });
            Payload::Data
        }
        0x8..=0xa => {
            if !h.fin || h.rsv1 || h.len > MAX_CONTROL_BYTES {
                return Err(WsError::Protocol);
            }
            Payload::Control(h.opcode, Vec::new())
        }
        _ => return Err(WsError::Protocol),
    };
    f.state = FrameState::Payload {
        remaining: h.len,
        mask: h.mask,
        mask_pos: 0,
        fin: h.fin,
        kind,
    };
    Ok(())
}

/// A frame's payload is complete: a close ends the direction, a final data
/// frame completes its message.
fn end_frame(
    f: &mut WsFlow,
    role: Role,
    cap: usize,
    limit: u64,
    ts: u64,
    out: &mut Vec<HttpEvent>,
    stats: &mut DecoderStats,
) -> Result<(), WsError> {
    let state = std::mem::replace(&mut f.state, FrameState::Header);
    let FrameState::Payload { fin, kind, .. } = state else {
        return Ok(());
    };
    match kind {
        // Ping and pong carry nothing of interest.
        Payload::Control(0x8, _) => f.state = FrameState::Closed,
        Payload::Control(..) => {}
        Payload::Data if fin => {
            let Some(mut m) = f.msg.take() else {
                return Ok(());
            };
            if m.compressed && !m.broken && !m.skip {
                if let Some(d) = f.inflater.as_mut() {
                    inflate(d, &DEFLATE_TAIL, &mut m, cap, limit)?;
                }
            }
            if m.skip && !f.no_takeover {
                // The shared context stopped mid-message: later messages
                // of this direction cannot be inflated.
                f.state = FrameState::Lost;
            }
            if f.no_takeover {
                if let Some(d) = f.inflater.as_mut() {
                    d.reset(false);
                }
            }
            if m.broken {
                return Ok(());
            }
            if m.truncated {
                stats.websocket_messages_truncated =
                    stats.websocket_messages_truncated.saturating_add(1);
            }
            stats.websocket_messages = stats.websocket_messages.saturating_add(1);
            out.push(HttpEvent::Message {
                role,
                data: m.data,
                text: m.text,
                truncated: m.truncated,
                ts,
            });
        }
        Payload::Data => {}
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::capture::stream::HttpStream;
    use crate::capture::Direction;
    use flate2::{Compress, Compression, FlushCompress};

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// One frame: FIN, RSV1, opcode, payload, masked with `KEY` when `mask`.
    fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], mask: bool) -> Vec<u8> {
        let mut f = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
        let m = if mask { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => f.push(m | n as u8),
            n if n <= 0xffff => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if mask {
            f.extend_from_slice(&KEY);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        f
    }

    /// Compresses one message as permessage-deflate does (sync flush, tail removed).
    fn deflate(c: &mut Compress, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(msg.len() + 64);
        c.compress_vec(msg, &mut out, FlushCompress::Sync).unwrap();
        while out.len() == out.capacity() {
            out.reserve(1024);
            c.compress_vec(&[], &mut out, FlushCompress::Sync).unwrap();
        }
        assert!(out.ends_with(&DEFLATE_TAIL));
        out.truncate(out.len() - 4);
        out
    }

    fn raw() -> Compress {
        Compress::new(Compression::default(), false)
    }

    /// Decodes `chunks` of `flow` on `conn`; returns the messages and the stats.
    fn run(conn: &mut WsConn, flow: Flow, chunks: &[Vec<u8>]) -> (Vec<HttpEvent>, DecoderStats) {
        let mut out = Vec::new();
        let mut stats = DecoderStats::default();
        for c in chunks {
            conn.push(flow, c, 5, &mut out, &mut stats);
        }
        (out, stats)
    }

    fn texts(events: &[HttpEvent]) -> Vec<Vec<u8>> {
        events
            .iter()
            .filter_map(|e| match e {
                HttpEvent::Message { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn deflate_both() -> Extensions {
        negotiate(Some("permessage-deflate"))
    }

    /// Scenario: a masked client text frame and an unmasked server binary frame.
    /// Guarantees: the client payload is unmasked; each message keeps its
    /// direction and text/binary kind.
    #[test]
    fn masking_and_directions() {
        let mut c = WsConn::new(Extensions::None, 1 << 20);
        let (out, _) = run(
            &mut c,
            Flow::ToServer,
            &[frame(
                true,
                false,
                1,
                b"{\"type\":\"response.create\"}",
                true,
            )],
        );
        assert_eq!(
            out,
            vec![HttpEvent::Message {
                role: Role::Request,
                data: b"{\"type\":\"response.create\"}".to_vec(),
                text: true,
                truncated: false,
                ts: 5
            }]
        );
        let (out, _) = run(
            &mut c,
            Flow::ToClient,
            &[frame(true, false, 2, b"\x00\x01", false)],
        );
        assert!(matches!(
            &out[..],
            [HttpEvent::Message { role: Role::Response, text: false, data, .. }] if data == b"\x00\x01"
        ));
    }

    /// Scenario: payloads at each length form's edges (7-bit 0 and 125,
    /// 16-bit 126 and 65535, 64-bit 65536), masked and not.
    /// Guarantees: every payload comes back exactly.
    #[test]
    fn each_length_form() {
        for len in [0usize, 125, 126, 65535, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for mask in [false, true] {
                let mut c = WsConn::new(Extensions::None, 1 << 20);
                let (out, st) = run(
                    &mut c,
                    Flow::ToServer,
                    &[frame(true, false, 1, &payload, mask)],
                );
                assert_eq!(texts(&out), vec![payload.clone()], "len {len} mask {mask}");
                assert_eq!(st.websocket_messages, 1);
            }
        }
    }

    /// Scenario: a message in three fragments with a ping and a pong
    /// between them, then a close.
    /// Guarantees: one message with the fragments joined; control frames
    /// emit nothing; bytes after the close are skipped, not decoded.
    #[test]
    fn fragmentation_with_interleaved_control() {
        let mut c = WsConn::new(Extensions::None, 1 << 20);
        let chunks = vec![
            frame(false, false, 1, b"Hel", true),
            frame(true, false, 9, b"ping", true),
            frame(false, false, 0, b"lo ", true),
            frame(true, false, 10, b"", true),
            frame(true, false, 0, b"world", true),
            frame(true, false, 8, b"\x03\xe8", true),
            frame(true, false, 1, b"after close", true),
        ];
        let (out, st) = run(&mut c, Flow::ToServer, &chunks);
        assert_eq!(texts(&out), vec![b"Hello world".to_vec()]);
        assert_eq!(st.websocket_errors, 0);
        assert!(st.bytes_skipped > 0);
    }

    /// Scenario: permessage-deflate with context takeover: the second
    /// message is compressed against the first one's window; fragmented
    /// compressed message (RSV1 on the first frame only).
    /// Guarantees: each message inflates to its text; the second decodes
    /// only because the inflater kept its context (alone it does not).
    #[test]
    fn deflate_context_takeover() {
        let first = br#"{"type":"response.output_text.delta","delta":"context takeover"}"#;
        let second = br#"{"type":"response.output_text.delta","delta":"context takeover!"}"#;
        let mut comp = raw();
        let a = deflate(&mut comp, first);
        let b = deflate(&mut comp, second);
        assert!(
            b.len() < second.len() / 2,
            "second message reuses the window"
        );
        let mut c = WsConn::new(deflate_both(), 1 << 20);
        let (out, st) = run(
            &mut c,
            Flow::ToClient,
            &[
                frame(false, true, 1, &a[..3], false),
                frame(true, false, 0, &a[3..], false),
                frame(true, true, 1, &b, false),
            ],
        );
        assert_eq!(texts(&out), vec![first.to_vec(), second.to_vec()]);
        assert_eq!(st.websocket_errors, 0);
        // Without the first message's window the second cannot be inflated.
        let mut fresh = WsConn::new(deflate_both(), 1 << 20);
        let (out, _) = run(
            &mut fresh,
            Flow::ToClient,
            &[frame(true, true, 1, &b, false)],
        );
        assert_ne!(texts(&out), vec![second.to_vec()]);
    }

    /// Scenario: `client_no_context_takeover` / `server_no_context_takeover`
    /// negotiated; each message compressed on its own; an uncompressed
    /// message in between (RSV1 clear).
    /// Guarantees: every message decodes and the parameters are read.
    #[test]
    fn deflate_no_context_takeover() {
        let ext = negotiate(Some(
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
        ));
        let Extensions::Deflate(d) = ext else {
            panic!("{ext:?}")
        };
        assert!(d.client_no_context_takeover && d.server_no_context_takeover);
        let msgs: [&[u8]; 3] = [b"one message", b"one message again", b"one message again!"];
        let mut c = WsConn::new(ext, 1 << 20);
        let chunks = vec![
            frame(true, true, 1, &deflate(&mut raw(), msgs[0]), true),
            frame(true, false, 1, msgs[1], true),
            frame(true, true, 1, &deflate(&mut raw(), msgs[2]), true),
        ];
        let (out, _) = run(&mut c, Flow::ToServer, &chunks);
        assert_eq!(
            texts(&out),
            msgs.iter().map(|m| m.to_vec()).collect::<Vec<_>>()
        );
    }

    /// Scenario: the server compresses with a 9-bit window
    /// (`server_max_window_bits=9`, made with Python's zlib, wbits=-9),
    /// two messages sharing context.
    /// Guarantees: the parameters are read and both messages inflate.
    #[test]
    fn deflate_small_window() {
        let ext = negotiate(Some(
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=\"10\"",
        ));
        assert_eq!(
            ext,
            Extensions::Deflate(Deflate {
                server_max_window_bits: 9,
                client_max_window_bits: 10,
                ..Deflate::default()
            })
        );
        let a = hex::decode("aa562aa92c4855b2522a4a2d2ec8cf2b4ed5cb2f2d29282d892f49ad28d14b49cd294954d25182d0564ae5997929f9e50a499925c50a799979a94ab50000").unwrap();
        let b = hex::decode("aaa648bf42627a62669e522d00").unwrap();
        let mut c = WsConn::new(ext, 1 << 20);
        let (out, _) = run(
            &mut c,
            Flow::ToClient,
            &[
                frame(true, true, 1, &a, false),
                frame(true, true, 1, &b, false),
            ],
        );
        assert_eq!(
            texts(&out),
            vec![
                br#"{"type":"response.output_text.delta","delta":"window bits nine"}"#.to_vec(),
                br#"{"type":"response.output_text.delta","delta":"window bits nine again"}"#
                    .to_vec()
            ]
        );
    }

    /// Scenario: extension answers a 101 may carry.
    /// Guarantees: none, deflate with defaults, and anything oispd cannot
    /// follow (other extensions, bad window bits, unknown parameters) told apart.
    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None), Extensions::None);
        assert_eq!(negotiate(Some(" ")), Extensions::None);
        assert_eq!(
            negotiate(Some("Permessage-Deflate; client_max_window_bits")),
            Extensions::Deflate(Deflate::default())
        );
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; mystery",
            "permessage-deflate, permessage-deflate",
        ] {
            assert_eq!(negotiate(Some(bad)), Extensions::Unsupported, "{bad}");
        }
    }

    /// Scenario: a decompression bomb: a few KB of deflate that inflate to
    /// 4 MiB, with a 4 KiB message cap; with and without context takeover;
    /// then a normal message.
    /// Guarantees: the message is cut at the cap and counted, never held
    /// whole; with takeover the direction stops (its context is lost),
    /// without it the next message decodes.
    #[test]
    fn decompression_bomb_is_cut() {
        let zeros = vec![b'0'; 4 * 1024 * 1024];
        let cap = 4096;
        for no_takeover in [false, true] {
            let ext = if no_takeover {
                negotiate(Some("permessage-deflate; server_no_context_takeover"))
            } else {
                deflate_both()
            };
            let mut comp = raw();
            let bomb = deflate(&mut comp, &zeros);
            assert!(bomb.len() < 16 * 1024);
            let next = deflate(&mut raw(), b"after the bomb");
            let mut c = WsConn::new(ext, cap);
            let mut out = Vec::new();
            let mut st = DecoderStats::default();
            let f = frame(true, true, 1, &bomb, false);
            for piece in f.chunks(16 * 1024) {
                c.push(Flow::ToClient, piece, 1, &mut out, &mut st);
                assert!(c.buffered() <= cap + 14);
            }
            c.push(
                Flow::ToClient,
                &frame(true, true, 1, &next, false),
                2,
                &mut out,
                &mut st,
            );
            let got = texts(&out);
            assert_eq!(got[0], vec![b'0'; cap]);
            assert_eq!(st.websocket_messages_truncated, 1);
            if no_takeover {
                assert_eq!(got[1], b"after the bomb");
            } else {
                assert_eq!(got.len(), 1);
            }
            assert_eq!(st.websocket_errors, 0);
        }
    }

    /// Scenario: an uncompressed message longer than the cap.
    /// Guarantees: it is kept up to the cap, marked truncated and counted.
    #[test]
    fn long_message_is_cut() {
        let mut c = WsConn::new(Extensions::None, 10);
        let (out, st) = run(
            &mut c,
            Flow::ToClient,
            &[frame(true, false, 1, &[b'a'; 100], false)],
        );
        assert!(matches!(
            &out[..],
            [HttpEvent::Message { truncated: true, data, .. }] if data.len() == 10
        ));
        assert_eq!(st.websocket_messages_truncated, 1);
    }

    /// Scenario: a frame header claiming 2^40 bytes (and one with the
    /// 64-bit length's top bit set).
    /// Guarantees: refused before anything is allocated: counted once, the
    /// connection's calls are ended (desync) and later bytes are skipped.
    #[test]
    fn huge_length_claim_refused() {
        for len in [1u64 << 40, 1u64 << 63] {
            let mut f = vec![0x81, 127];
            f.extend_from_slice(&len.to_be_bytes());
            f.extend_from_slice(b"payload");
            let mut c = WsConn::new(Extensions::None, 1 << 20);
            let (out, st) = run(
                &mut c,
                Flow::ToClient,
                &[f, frame(true, false, 1, b"x", false)],
            );
            assert_eq!(out, vec![HttpEvent::Desync { ts: 5 }]);
            assert_eq!(st.websocket_errors, 1);
            assert_eq!(c.buffered(), 0);
        }
    }

    /// Scenario: frames that break RFC 6455: RSV2 set, a reserved opcode,
    /// a continuation with no message, a new message inside a fragmented
    /// one, a fragmented ping, a 126-byte close, RSV1 without deflate,
    /// RSV1 on a continuation, random bytes, corrupt deflate data.
    /// Guarantees: each is counted as one websocket error and nothing panics.
    #[test]
    fn garbage_is_counted_never_panics() {
        let cases: Vec<(Extensions, Vec<Vec<u8>>)> = vec![
            (Extensions::None, vec![vec![0xa1, 0x00]]),
            (Extensions::None, vec![vec![0x83, 0x00]]),
            (Extensions::None, vec![frame(true, false, 0, b"x", false)]),
            (
                Extensions::None,
                vec![
                    frame(false, false, 1, b"x", false),
                    frame(true, false, 1, b"y", false),
                ],
            ),
            (Extensions::None, vec![frame(false, false, 9, b"x", false)]),
            (
                Extensions::None,
                vec![frame(true, false, 8, &[0u8; 126], false)],
            ),
            (Extensions::None, vec![frame(true, true, 1, b"x", false)]),
            (
                deflate_both(),
                vec![
                    frame(false, true, 1, b"\x02\x00", false),
                    frame(true, true, 0, b"x", false),
                ],
            ),
            (
                deflate_both(),
                vec![frame(true, true, 1, b"\xff\xff\xff\xff\xff", false)],
            ),
            (Extensions::None, vec![b"\x8f\xfe\x00\x00garbage".to_vec()]),
        ];
        for (i, (ext, chunks)) in cases.into_iter().enumerate() {
            let mut c = WsConn::new(ext, 1 << 20);
            let (out, st) = run(&mut c, Flow::ToClient, &chunks);
            assert_eq!(st.websocket_errors, 1, "case {i}");
            assert!(texts(&out).is_empty(), "case {i}");
        }
        // Pseudo-random input: counted or skipped, never a panic.
        let mut x: u32 = 7;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..64)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let mut c = WsConn::new(deflate_both(), 1024);
            run(&mut c, Flow::ToServer, &[bytes]);
        }
    }

    /// Scenario: a stream of frames (masked, compressed with takeover,
    /// fragmented, a ping between fragments) cut in two at every byte, and
    /// fed one byte per chunk.
    /// Guarantees: the same messages come out whatever the cut.
    #[test]
    fn split_at_every_boundary() {
        let mut comp = raw();
        let m1 = br#"{"type":"response.create","model":"gpt-5","input":"hi"}"#;
        let m2 = br#"{"type":"response.create","model":"gpt-5","input":"hi again"}"#;
        let a = deflate(&mut comp, m1);
        let b = deflate(&mut comp, m2);
        let mut wire = Vec::new();
        wire.extend(frame(false, true, 1, &a[..a.len() / 2], true));
        wire.extend(frame(true, false, 9, b"p", true));
        wire.extend(frame(true, false, 0, &a[a.len() / 2..], true));
        wire.extend(frame(true, true, 1, &b, true));
        let want = vec![m1.to_vec(), m2.to_vec()];
        for cut in 0..=wire.len() {
            let mut c = WsConn::new(deflate_both(), 1 << 20);
            let (out, st) = run(
                &mut c,
                Flow::ToServer,
                &[wire[..cut].to_vec(), wire[cut..].to_vec()],
            );
            assert_eq!(texts(&out), want, "cut at {cut}");
            assert_eq!(st.websocket_errors, 0);
        }
        let mut c = WsConn::new(deflate_both(), 1 << 20);
        let bytes: Vec<Vec<u8>> = wire.iter().map(|b| vec![*b]).collect();
        let (out, _) = run(&mut c, Flow::ToServer, &bytes);
        assert_eq!(texts(&out), want);
    }

    /// Scenario: the probe missed bytes inside an uncompressed message, then
    /// a whole message follows; and a hole inside a compressed message with
    /// context takeover.
    /// Guarantees: the damaged message is dropped and the next one decodes;
    /// with shared deflate context the direction stops instead.
    #[test]
    fn capture_gap() {
        let mut c = WsConn::new(Extensions::None, 1 << 20);
        let mut out = Vec::new();
        let mut st = DecoderStats::default();
        let f = frame(true, false, 1, b"0123456789", true);
        c.push(Flow::ToServer, &f[..8], 1, &mut out, &mut st);
        c.gap(Flow::ToServer, 4, &mut st);
        c.push(Flow::ToServer, &f[12..], 1, &mut out, &mut st);
        c.push(
            Flow::ToServer,
            &frame(true, false, 1, b"next", true),
            2,
            &mut out,
            &mut st,
        );
        assert_eq!(texts(&out), vec![b"next".to_vec()]);

        let mut comp = raw();
        let z = deflate(&mut comp, &[b'z'; 300]);
        let mut c = WsConn::new(deflate_both(), 1 << 20);
        let mut out = Vec::new();
        let f = frame(true, true, 1, &z, false);
        c.push(Flow::ToClient, &f[..3], 1, &mut out, &mut st);
        c.gap(Flow::ToClient, 2, &mut st);
        c.push(Flow::ToClient, &f[5..], 1, &mut out, &mut st);
        c.push(
            Flow::ToClient,
            &frame(true, true, 1, &deflate(&mut comp, b"x"), false),
            2,
            &mut out,
            &mut st,
        );
        assert!(texts(&out).is_empty());
    }

    /// Scenario: a WebSocket upgrade to a path no AI API uses (a chat app's
    /// socket), answered 101, then frames.
    /// Guarantees: its frames are not decoded at all (no message, nothing counted).
    #[test]
    fn other_websockets_are_not_decoded() {
        let mut s = HttpStream::with_message_limit(1 << 20);
        let mut out = Vec::new();
        let mut st = DecoderStats::default();
        s.push(
            Direction::Write,
            b"GET /socket.io/?EIO=4 HTTP/1.1\r\nHost: chat.example\r\nUpgrade: websocket\r\n\r\n",
            0,
            1,
            &mut out,
            &mut st,
        );
        let mut read = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        read.extend(frame(
            true,
            false,
            1,
            b"{\"type\":\"response.created\"}",
            false,
        ));
        s.push(Direction::Read, &read, 0, 2, &mut out, &mut st);
        s.push(
            Direction::Write,
            &frame(true, false, 1, b"{}", true),
            0,
            3,
            &mut out,
            &mut st,
        );
        assert!(!s.is_websocket());
        assert_eq!(st.websocket_connections, 0);
        assert!(!out.iter().any(|e| matches!(e, HttpEvent::Message { .. })));
    }

    /// Scenario: a WebSocket upgrade whose 101 arrives in the same captured
    /// chunk as the server's first (compressed) frame.
    /// Guarantees: the HTTP/1 decoder hands the bytes after the 101 to the
    /// frame decoder with the negotiated extension; the upgrade is counted.
    #[test]
    fn upgrade_hands_over_to_frames() {
        let mut s = HttpStream::with_message_limit(1 << 20);
        let mut out = Vec::new();
        let mut st = DecoderStats::default();
        s.push(
            Direction::Write,
            b"GET /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            0,
            1,
            &mut out,
            &mut st,
        );
        let mut read = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n".to_vec();
        read.extend(frame(
            true,
            true,
            1,
            &deflate(&mut raw(), b"{\"type\":\"response.created\"}"),
            false,
        ));
        s.push(Direction::Read, &read, 0, 2, &mut out, &mut st);
        s.push(
            Direction::Write,
            &frame(true, false, 1, b"{}", true),
            0,
            3,
            &mut out,
            &mut st,
        );
        assert_eq!(st.websocket_connections, 1);
        let msgs: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                HttpEvent::Message { role, data, .. } => Some((*role, data.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            msgs,
            vec![
                (Role::Response, b"{\"type\":\"response.created\"}".to_vec()),
                (Role::Request, b"{}".to_vec())
            ]
        );
    }
}
