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
