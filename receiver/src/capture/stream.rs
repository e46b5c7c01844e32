//! Per-connection stream reassembly: which protocol a TLS connection
//! speaks, which side of it the probed process is on, and the HTTP decoder
//! that its bytes go through.
//!
//! A connection is keyed by `(pid, SSL*)`, never by thread: node and asyncio
//! drive many connections from one thread. Until the protocol is known,
//! each direction's bytes are held only while they are a prefix of a start
//! line (a request line, a status line or the HTTP/2 preface); a captured
//! chunk that cannot begin a message is skipped and counted, which is how a
//! connection whose start was missed finds the next message boundary.
//! An HTTP/1.1 connection that a `101` switches to WebSocket continues in
//! the WebSocket frame decoder when its path is one an AI API speaks
//! WebSocket on; other WebSockets are not decoded at all.

use super::config::DEFAULT_MAX_BODY_BYTES;
use super::http1::{request_start, response_start, Http1Conn, StartMatch};
use super::http2::{preface_start, Http2Conn};
use super::message::{Flow, HttpEvent};
use super::providers::Api;
use super::stats::DecoderStats;
use super::websocket::{negotiate, WsConn};
use super::Direction;

/// How long a connection may look for a message boundary before it is
/// declared not HTTP: bytes and chunks.
const DETECT_MAX_BYTES: u64 = 4 * 1024 * 1024;
const DETECT_MAX_CHUNKS: u64 = 1024;

/// Which side of the connection the probed process is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// It sends requests.
    Client,
    /// It receives requests (a local server or gateway terminating TLS).
    Server,
}

impl Side {
    /// The flow of bytes moving in `direction` for a process on this side.
    pub(crate) fn flow(self, direction: Direction) -> Flow {
        match (self, direction) {
            (Side::Client, Direction::Write) | (Side::Server, Direction::Read) => Flow::ToServer,
            (Side::Client, Direction::Read) | (Side::Server, Direction::Write) => Flow::ToClient,
        }
    }
}

/// What the first bytes of a direction say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Preface,
    Request,
    Response,
    Maybe,
    No,
}

fn classify(data: &[u8]) -> Class {
    let mut maybe = false;
    for (m, class) in [
        (preface_start(data), Class::Preface),
        (request_start(data), Class::Request),
        (response_start(data), Class::Response),
    ] {
        match m {
            StartMatch::Yes => return class,
            StartMatch::Maybe => maybe = true,
            StartMatch::No => {}
        }
    }
    if maybe {
        Class::Maybe
    } else {
        Class::No
    }
}

/// Held bytes of one direction while the protocol is unknown.
#[derive(Debug, Default)]
struct Pending {
    /// Bytes that may begin a message, starting at a chunk boundary.
    bytes: Vec<u8>,
}

/// The protocol state of a connection.
#[derive(Debug)]
enum Proto {
    Detecting {
        write: Pending,
        read: Pending,
        bytes: u64,
        chunks: u64,
    },
    Http1(Http1Conn),
    Http2(Box<Http2Conn>),
    WebSocket(Box<WsConn>),
    NotHttp,
}

/// HTTP decoding of one TLS connection.
#[derive(Debug)]
pub(crate) struct HttpStream {
    proto: Proto,
    side: Option<Side>,
    /// Most bytes a WebSocket message keeps.
    max_message_bytes: usize,
}

impl Default for HttpStream {
    fn default() -> Self {
        HttpStream::new()
    }
}

impl HttpStream {
    /// A connection that has seen no bytes yet.
    pub(crate) fn new() -> HttpStream {
        HttpStream::with_message_limit(DEFAULT_MAX_BODY_BYTES)
    }

    /// A connection that has seen no bytes yet, whose WebSocket messages
    /// (if it is upgraded) keep at most `max_message_bytes`.
    pub(crate) fn with_message_limit(max_message_bytes: usize) -> HttpStream {
        HttpStream {
            max_message_bytes,
            proto: Proto::Detecting {
                write: Pending::default(),
                read: Pending::default(),
                bytes: 0,
                chunks: 0,
            },
            side: None,
        }
    }

    /// The process's side, once known.
    pub(crate) fn side(&self) -> Option<Side> {
        self.side
    }

    /// `2` for HTTP/2, `1` for HTTP/1.x, `None` while unknown or not HTTP.
    pub(crate) fn http_version(&self) -> Option<u8> {
        match self.proto {
            Proto::Http1(_) | Proto::WebSocket(_) => Some(1),
            Proto::Http2(_) => Some(2),
            Proto::Detecting { .. } | Proto::NotHttp => None,
        }
    }

    /// Whether the connection is a decoded WebSocket.
    pub(crate) fn is_websocket(&self) -> bool {
        matches!(self.proto, Proto::WebSocket(_))
    }

    /// Bytes held by the decoders.
    pub(crate) fn held(&self) -> usize {
        match &self.proto {
            Proto::Detecting { write, read, .. } => write.bytes.len() + read.bytes.len(),
            Proto::Http1(c) => c.buffered(),
            Proto::Http2(c) => c.buffered(),
            Proto::WebSocket(c) => c.buffered(),
            Proto::NotHttp => 0,
        }
    }

    /// Feeds one captured chunk: `data`, then `gap` bytes the probe did not capture.
    pub(crate) fn push(
        &mut self,
        direction: Direction,
        data: &[u8],
        gap: u64,
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) {
        if let Proto::Detecting {
            write,
            read,
            bytes,
            chunks,
        } = &mut self.proto
        {
            *bytes += data.len() as u64;
            *chunks += 1;
            let pending = match direction {
                Direction::Write => &mut *write,
                Direction::Read => &mut *read,
            };
            let class = if pending.bytes.is_empty() {
                classify(data)
            } else {
                pending.bytes.extend_from_slice(data);
                match classify(&pending.bytes) {
                    Class::No => {
                        // The held prefix was a false start; this chunk may
                        // still begin a message on its own.
                        stats.skipped((pending.bytes.len() - data.len()) as u64);
                        pending.bytes.clear();
                        classify(data)
                    }
                    c => c,
                }
            };
            let decided = match class {
                Class::No => {
                    stats.skipped(data.len() as u64);
                    stats.skipped(gap);
                    pending.bytes.clear();
                    if *bytes > DETECT_MAX_BYTES || *chunks > DETECT_MAX_CHUNKS {
                        stats.connections_not_http += 1;
                        self.proto = Proto::NotHttp;
                    }
                    return;
                }
                Class::Maybe => {
                    if pending.bytes.is_empty() {
                        pending.bytes.extend_from_slice(data);
                    }
                    if gap > 0 {
                        stats.skipped(pending.bytes.len() as u64);
                        stats.skipped(gap);
                        pending.bytes.clear();
                    }
                    return;
                }
                decided => decided,
            };
            let mut deciding = std::mem::take(&mut pending.bytes);
            if deciding.is_empty() {
                deciding.extend_from_slice(data);
            }
            let (write_bytes, read_bytes) = match direction {
                Direction::Write => (deciding, std::mem::take(&mut read.bytes)),
                Direction::Read => (std::mem::take(&mut write.bytes), deciding),
            };
            self.start(
                direction,
                decided,
                write_bytes,
                read_bytes,
                gap,
                ts,
                out,
                stats,
            );
            return;
        }
        let Some(side) = self.side else {
            stats.skipped(data.len() as u64);
            stats.skipped(gap);
            return;
        };
        let flow = side.flow(direction);
        match &mut self.proto {
            Proto::Http1(c) => {
                c.push(flow, data, ts, out, stats);
                c.gap(flow, gap, ts, out, stats);
                self.check_upgrade(ts, out, stats);
            }
            Proto::WebSocket(c) => {
                c.push(flow, data, ts, out, stats);
                c.gap(flow, gap, stats);
            }
            Proto::Http2(c) => {
                c.push(flow, data, ts, out, stats);
                c.gap(flow, gap, ts, out, stats);
            }
            Proto::NotHttp | Proto::Detecting { .. } => {
                stats.skipped(data.len() as u64);
                stats.skipped(gap);
            }
        }
    }

    /// The protocol became known from `class` seen in `direction`: set up
    /// the decoder and replay what both directions held.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        direction: Direction,
        class: Class,
        write_bytes: Vec<u8>,
        read_bytes: Vec<u8>,
        gap: u64,
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) {
        let side = match (class, direction) {
            (Class::Preface | Class::Request, Direction::Write)
            | (Class::Response, Direction::Read) => Side::Client,
            _ => Side::Server,
        };
        self.side = Some(side);
        let (to_server, to_client) = match side {
            Side::Client => (write_bytes, read_bytes),
            Side::Server => (read_bytes, write_bytes),
        };
        let gap_flow = side.flow(direction);
        if class == Class::Preface {
            let mut c = Box::new(Http2Conn::new());
            c.push(Flow::ToServer, &to_server, ts, out, stats);
            c.push(Flow::ToClient, &to_client, ts, out, stats);
            c.gap(gap_flow, gap, ts, out, stats);
            self.proto = Proto::Http2(c);
            return;
        }
        let mut c = Http1Conn::new();
        if class == Class::Response {
            c.resync(Flow::ToServer);
        }
        c.push(Flow::ToServer, &to_server, ts, out, stats);
        c.push(Flow::ToClient, &to_client, ts, out, stats);
        c.gap(gap_flow, gap, ts, out, stats);
        self.proto = Proto::Http1(c);
        self.check_upgrade(ts, out, stats);
    }

    /// Switches to WebSocket decoding when a 101 just answered a WebSocket
    /// upgrade, and decodes the bytes that followed it.
    fn check_upgrade(&mut self, ts: u64, out: &mut Vec<HttpEvent>, stats: &mut DecoderStats) {
        let Proto::Http1(c) = &mut self.proto else {
            return;
        };
        let Some(up) = c.take_upgrade() else {
            return;
        };
        if Api::classify_websocket(&up.path).is_none() {
            return;
        }
        stats.websocket_connections = stats.websocket_connections.saturating_add(1);
        let mut ws = Box::new(WsConn::new(
            negotiate(up.extensions.as_deref()),
            self.max_message_bytes,
        ));
        ws.push(Flow::ToServer, &up.to_server, ts, out, stats);
        ws.push(Flow::ToClient, &up.to_client, ts, out, stats);
        self.proto = Proto::WebSocket(ws);
    }

    /// The connection ended.
    pub(crate) fn close(&mut self, ts: u64, out: &mut Vec<HttpEvent>) {
        match &mut self.proto {
            Proto::Http1(c) => c.close(ts, out),
            Proto::Http2(c) => c.close(ts, out),
            Proto::WebSocket(c) => c.close(),
            Proto::Detecting { .. } | Proto::NotHttp => {}
        }
        self.proto = Proto::NotHttp;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::capture::message::{Role, StartLine};

    fn heads(out: &[HttpEvent]) -> Vec<(u64, Role)> {
        out.iter()
            .filter_map(|e| match e {
                HttpEvent::Head { stream, role, .. } => Some((*stream, *role)),
                _ => None,
            })
            .collect()
    }

    /// Scenario: a process reads a request and writes a response.
    /// Guarantees: it is the server side and the exchange decodes.
    #[test]
    fn server_side_detected() {
        let mut s = HttpStream::new();
        let mut out = Vec::new();
        let mut st = DecoderStats::default();
        s.push(
            Direction::Read,
            b"GET / HTTP/1.1\r\n\r\n",
            0,
            1,
            &mut out,
            &mut st,
        );
        s.push(
            Direction::Write,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            0,
            2,
            &mut out,
            &mut st,
        );
        assert_eq!(s.side(), Some(Side::Server));
        assert_eq!(heads(&out), vec![(1, Role::Request), (1, Role::Response)]);
    }

    /// Scenario: the connection is first seen in the middle of a response
    /// body, then a new exchange starts.
    /// Guarantees: the tail is skipped and counted, the start is marked
    /// missed, the next exchange decodes.
    #[test]
    fn mid_stream_start_resyncs() {
        let mut s = HttpStream::new();
        let mut out = Vec::new();
        let mut st = DecoderStats::default();
        s.push(Direction::Read, b"ody tail...", 0, 1, &mut out, &mut st);
        s.push(
            Direction::Write,
            b"POST /v1/x HTTP/1.1\r\n",
            0,
            2,
            &mut out,
            &mut st,
        );
        s.push(
            Direction::Write,
            b"Content-Length: 2\r\n\r\n{}",
            0,
            2,
            &mut out,
            &mut st,
        );
        assert_eq!(st.bytes_skipped, 11);
        assert_eq!(s.side(), Some(Side::Client));
        let h = out
            .iter()
            .find_map(|e| match e {
                HttpEvent::Head { head, .. } => Some(head.start.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            h,
            StartLine::Request {
                method: "POST".into(),
                path: "/v1/x".into()
            }
        );
    }

    /// Scenario: the request line arrives one byte per chunk.
    /// Guarantees: detection waits on the prefix and decodes the request.
    #[test]
    fn bytewise_detection() {
        let mut s = HttpStream::new();
        let mut out = Vec::new();
        let mut st = DecoderStats::default();
        for b in b"PATCH /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n" {
            s.push(Direction::Write, &[*b], 0, 1, &mut out, &mut st);
        }
        assert_eq!(st.bytes_skipped, 0);
        assert_eq!(heads(&out), vec![(1, Role::Request)]);
    }

    /// Scenario: the skip counter is near its top when a chunk that is no
    /// message and a huge gap arrive (on a fresh connection, and on HTTP/1
    /// and HTTP/2 connections at a state where a gap loses sync).
    /// Guarantees: the counter saturates at u64::MAX, no overflow panic.
    #[test]
    fn skip_counter_saturates() {
        for start in [
            &b"\x16\x03"[..],
            b"GET / HTTP/1.1\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00",
        ] {
            let mut s = HttpStream::new();
            let mut out = Vec::new();
            let mut st = DecoderStats {
                bytes_skipped: u64::MAX - 1,
                ..DecoderStats::default()
            };
            s.push(Direction::Write, start, u64::MAX, 1, &mut out, &mut st);
            s.push(Direction::Write, b"x", u64::MAX, 2, &mut out, &mut st);
            assert_eq!(st.bytes_skipped, u64::MAX, "{start:?}");
        }
    }

    /// Scenario: a TLS connection carrying something that is not HTTP.
    /// Guarantees: after the detection budget it is declared not HTTP, once.
    #[test]
    fn not_http_gives_up() {
        let mut s = HttpStream::new();
        let mut out = Vec::new();
        let mut st = DecoderStats::default();
        for _ in 0..(DETECT_MAX_CHUNKS + 10) {
            s.push(Direction::Write, b"\x16\x03binary", 0, 1, &mut out, &mut st);
        }
        assert_eq!(st.connections_not_http, 1);
        assert!(out.is_empty());
    }
}
