//! Incremental HTTP/1.x decoding of one connection: heads (parsed with
//! `httparse`), `Content-Length`, chunked transfer coding, keep-alive and
//! pipelined exchanges, responses without a body (HEAD, 1xx, 204, 304),
//! close-delimited bodies and upgrades.
//!
//! Bytes arrive in whatever pieces `SSL_read`/`SSL_write` moved them, so
//! every state survives a split at any byte. A flow that loses sync (a head
//! that does not parse, a hole in the capture that crosses a message
//! boundary, the start of the connection missed) discards bytes until a
//! captured chunk starts with a start line again; what it discards is counted.

use std::collections::VecDeque;

use super::message::{Flow, Head, HttpEvent, Role, StartLine};
use super::stats::DecoderStats;

/// Largest message head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields in one head.
const MAX_HEADERS: usize = 128;
/// Longest chunk-size or trailer line.
const MAX_LINE_BYTES: usize = 4096;

/// Request methods recognised at the start of a request.
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"PATCH ",
    b"HEAD ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
];
/// Start of every HTTP/1.x status line.
const STATUS_PREFIX: &[u8] = b"HTTP/1.";

/// Whether some bytes can begin a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StartMatch {
    /// They do.
    Yes,
    /// Too few bytes to tell; they are a prefix of a start line.
    Maybe,
    /// They do not.
    No,
}

fn prefix_match(data: &[u8], pattern: &[u8]) -> StartMatch {
    let n = data.len().min(pattern.len());
    if data[..n] != pattern[..n] {
        StartMatch::No
    } else if n == pattern.len() {
        StartMatch::Yes
    } else {
        StartMatch::Maybe
    }
}

/// Whether `data` can begin an HTTP/1.x request.
pub(crate) fn request_start(data: &[u8]) -> StartMatch {
    let mut best = StartMatch::No;
    for m in METHODS {
        match prefix_match(data, m) {
            StartMatch::Yes => return StartMatch::Yes,
            StartMatch::Maybe => best = StartMatch::Maybe,
            StartMatch::No => {}
        }
    }
    best
}

/// Whether `data` can begin an HTTP/1.x response.
pub(crate) fn response_start(data: &[u8]) -> StartMatch {
    prefix_match(data, STATUS_PREFIX)
}

fn start_for(role: Role, data: &[u8]) -> StartMatch {
    match role {
        Role::Request => request_start(data),
        Role::Response => response_start(data),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting a start line.
    Start,
    /// Lost: skipping captured chunks until one begins with a start line.
    Resync,
    /// Body of known length.
    Fixed { stream: u64, remaining: u64 },
    /// Expecting a chunk-size line.
    ChunkSize { stream: u64 },
    /// Inside a chunk.
    ChunkData { stream: u64, remaining: u64 },
    /// Expecting the CRLF after a chunk.
    ChunkDataEnd { stream: u64 },
    /// Reading trailer lines after the last chunk.
    Trailers { stream: u64 },
    /// Body delimited by the end of the connection.
    UntilClose { stream: u64 },
    /// After an upgrade or CONNECT: the bytes are no longer HTTP/1.
    Tunnel,
}

impl State {
    fn stream(self) -> Option<u64> {
        match self {
            State::Fixed { stream, .. }
            | State::ChunkSize { stream }
            | State::ChunkData { stream, .. }
            | State::ChunkDataEnd { stream }
            | State::Trailers { stream }
            | State::UntilClose { stream } => Some(stream),
            State::Start | State::Resync | State::Tunnel => None,
        }
    }
}

/// One direction of an HTTP/1 connection.
#[derive(Debug)]
struct H1Flow {
    state: State,
    buf: Vec<u8>,
}

/// What the response side needs to know about a request it answers.
#[derive(Clone, Debug)]
struct Pending {
    stream: u64,
    head: bool,
    connect: bool,
    /// The request asked for `Upgrade: websocket`: its path.
    websocket: Option<String>,
}

/// A connection that a `101` switched to WebSocket: what the decoder after
/// HTTP/1 needs.
#[derive(Debug, Default)]
pub(crate) struct Upgrade {
    /// The upgrade request's path.
    pub path: String,
    /// The 101's `Sec-WebSocket-Extensions`.
    pub extensions: Option<String>,
    /// Bytes each flow held or received after the switch.
    pub to_server: Vec<u8>,
    /// Bytes after the 101 head.
    pub to_client: Vec<u8>,
}

/// HTTP/1.x decoding state of one connection (both directions).
#[derive(Debug)]
pub(crate) struct Http1Conn {
    to_server: H1Flow,
    to_client: H1Flow,
    /// Requests waiting for their response, oldest first.
    pending: VecDeque<Pending>,
    next_request: u64,
    next_orphan: u64,
    /// Set by a 101 or a successful CONNECT: both flows become tunnels.
    tunnel: bool,
    /// Set by a 101 answering a WebSocket upgrade, until taken.
    upgrade: Option<Upgrade>,
}

/// Stream ids given to responses whose request was not seen; the exchange
/// layer knows no such stream and counts them.
const ORPHAN_BASE: u64 = 1 << 62;

impl Default for Http1Conn {
    fn default() -> Self {
        Http1Conn::new()
    }
}

impl Http1Conn {
    /// A connection whose first bytes in each direction are expected at a
    /// message boundary.
    pub(crate) fn new() -> Http1Conn {
        Http1Conn {
            to_server: H1Flow {
                state: State::Start,
                buf: Vec::new(),
            },
            to_client: H1Flow {
                state: State::Start,
                buf: Vec::new(),
            },
            pending: VecDeque::new(),
            next_request: 1,
            next_orphan: ORPHAN_BASE,
            tunnel: false,
            upgrade: None,
        }
    }

    /// Starts `flow` in resync mode: its first bytes were missed.
    pub(crate) fn resync(&mut self, flow: Flow) {
        let f = self.flow_mut(flow);
        f.state = State::Resync;
        f.buf.clear();
    }

    fn flow_mut(&mut self, flow: Flow) -> &mut H1Flow {
        match flow {
            Flow::ToServer => &mut self.to_server,
            Flow::ToClient => &mut self.to_client,
        }
    }

    /// Bytes held waiting for more input.
    pub(crate) fn buffered(&self) -> usize {
        self.to_server.buf.len() + self.to_client.buf.len()
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
        if data.is_empty() {
            return;
        }
        let role = flow.role();
        {
            let f = self.flow_mut(flow);
            match f.state {
                State::Tunnel => return,
                State::Resync => {
                    if start_for(role, data) == StartMatch::No {
                        stats.skipped(data.len() as u64);
                        return;
                    }
                    f.state = State::Start;
                }
                _ => {}
            }
        }
        let mut buf = std::mem::take(&mut self.flow_mut(flow).buf);
        let consumed = if buf.is_empty() {
            self.decode(flow, data, ts, out, stats)
        } else {
            buf.extend_from_slice(data);
            self.decode(flow, &buf, ts, out, stats)
        };
        let f = self.flow_mut(flow);
        if f.state == State::Resync || f.state == State::Tunnel {
            buf.clear();
        } else if buf.is_empty() {
            buf.extend_from_slice(&data[consumed..]);
        } else {
            buf.drain(..consumed);
        }
        f.buf = buf;
        if self.tunnel {
            if let Some(u) = self.upgrade.as_mut() {
                u.to_server.append(&mut self.to_server.buf);
            }
            self.to_server.state = State::Tunnel;
            self.to_client.state = State::Tunnel;
            self.to_server.buf.clear();
            self.to_client.buf.clear();
        }
    }

    /// Decodes as much of `input` as possible; returns the bytes consumed.
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
        loop {
            let rest = &input[pos..];
            let state = self.flow_mut(flow).state;
            let step = match state {
                State::Tunnel => {
                    if let Some(u) = self.upgrade.as_mut() {
                        match flow {
                            Flow::ToServer => u.to_server.extend_from_slice(rest),
                            Flow::ToClient => u.to_client.extend_from_slice(rest),
                        }
                    }
                    return input.len();
                }
                State::Resync => return input.len(),
                State::Start => {
                    // Empty lines between messages are allowed.
                    let skip = rest
                        .iter()
                        .take_while(|b| **b == b'\r' || **b == b'\n')
                        .count();
                    if skip > 0 {
                        pos += skip;
                        continue;
                    }
                    if rest.is_empty() {
                        return pos;
                    }
                    match self.parse_head(role, rest, ts, out, stats) {
                        HeadStep::Consumed(n) => n,
                        HeadStep::Partial => {
                            if rest.len() > MAX_HEAD_BYTES {
                                stats.http1_errors += 1;
                                self.lose(flow, out, ts, stats, rest.len());
                                return input.len();
                            }
                            return pos;
                        }
                        HeadStep::Invalid => {
                            stats.http1_errors += 1;
                            self.lose(flow, out, ts, stats, rest.len());
                            return input.len();
                        }
                    }
                }
                State::Fixed { stream, remaining } => {
                    if rest.is_empty() {
                        return pos;
                    }
                    let (n, left) = body_data(stream, role, rest, remaining, ts, out);
                    if left == 0 {
                        out.push(HttpEvent::End { stream, role, ts });
                        self.flow_mut(flow).state = State::Start;
                    } else {
                        self.flow_mut(flow).state = State::Fixed {
                            stream,
                            remaining: left,
                        };
                    }
                    n
                }
                State::UntilClose { stream } => {
                    if rest.is_empty() {
                        return pos;
                    }
                    out.push(HttpEvent::Data {
                        stream,
                        role,
                        data: rest.to_vec(),
                        ts,
                    });
                    rest.len()
                }
                State::ChunkSize { stream } => {
                    let Some((line, n)) = take_line(rest) else {
                        if rest.len() > MAX_LINE_BYTES {
                            self.lose(flow, out, ts, stats, rest.len());
                            return input.len();
                        }
                        return pos;
                    };
                    match parse_chunk_size(line) {
                        Some(0) => {
                            self.flow_mut(flow).state = State::Trailers { stream };
                        }
                        Some(size) => {
                            self.flow_mut(flow).state = State::ChunkData {
                                stream,
                                remaining: size,
                            };
                        }
                        None => {
                            stats.http1_errors += 1;
                            self.lose(flow, out, ts, stats, rest.len());
                            return input.len();
                        }
                    }
                    n
                }
                State::ChunkData { stream, remaining } => {
                    if rest.is_empty() {
                        return pos;
                    }
                    let (n, left) = body_data(stream, role, rest, remaining, ts, out);
                    self.flow_mut(flow).state = if left == 0 {
                        State::ChunkDataEnd { stream }
                    } else {
                        State::ChunkData {
                            stream,
                            remaining: left,
                        }
                    };
                    n
                }
                State::ChunkDataEnd { stream } => {
                    let Some((line, n)) = take_line(rest) else {
                        if rest.len() > 2 {
                            stats.http1_errors += 1;
                            self.lose(flow, out, ts, stats, rest.len());
                            return input.len();
                        }
                        return pos;
                    };
                    if !line.is_empty() {
                        stats.http1_errors += 1;
                        self.lose(flow, out, ts, stats, rest.len());
                        return input.len();
                    }
                    self.flow_mut(flow).state = State::ChunkSize { stream };
                    n
                }
                State::Trailers { stream } => {
                    let Some((line, n)) = take_line(rest) else {
                        if rest.len() > MAX_LINE_BYTES {
                            self.lose(flow, out, ts, stats, rest.len());
                            return input.len();
                        }
                        return pos;
                    };
                    if line.is_empty() {
                        out.push(HttpEvent::End { stream, role, ts });
                        self.flow_mut(flow).state = State::Start;
                    }
                    n
                }
            };
            pos += step;
        }
    }

    /// Gives up on the current message of `flow`: an unfinished exchange is
    /// reported reset and the flow waits for the next start line.
    fn lose(
        &mut self,
        flow: Flow,
        out: &mut Vec<HttpEvent>,
        ts: u64,
        stats: &mut DecoderStats,
        discarded: usize,
    ) {
        let f = self.flow_mut(flow);
        if let Some(stream) = f.state.stream() {
            out.push(HttpEvent::Reset { stream, ts });
        }
        f.state = State::Resync;
        stats.skipped(discarded as u64);
    }

    fn parse_head(
        &mut self,
        role: Role,
        rest: &[u8],
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) -> HeadStep {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        match role {
            Role::Request => {
                let mut req = httparse::Request::new(&mut fields);
                let n = match req.parse(rest) {
                    Ok(httparse::Status::Complete(n)) => n,
                    Ok(httparse::Status::Partial) => return HeadStep::Partial,
                    Err(_) => return HeadStep::Invalid,
                };
                let method = req.method.unwrap_or_default().to_string();
                let path = req.path.unwrap_or_default().to_string();
                let headers = collect_headers(req.headers);
                let framing = body_framing(&headers);
                let stream = self.next_request;
                self.next_request += 1;
                self.pending.push_back(Pending {
                    stream,
                    head: method.eq_ignore_ascii_case("HEAD"),
                    connect: method.eq_ignore_ascii_case("CONNECT"),
                    websocket: find(&headers, "upgrade")
                        .is_some_and(|u| u.to_ascii_lowercase().contains("websocket"))
                        .then(|| path.clone()),
                });
                let authority = find(&headers, "host").map(str::to_string);
                out.push(HttpEvent::Head {
                    stream,
                    role,
                    head: Head {
                        start: StartLine::Request { method, path },
                        headers,
                        authority,
                        scheme: None,
                        http_version: 1,
                    },
                    ts,
                });
                let state = match framing {
                    Framing::Chunked => State::ChunkSize { stream },
                    Framing::Length(0) | Framing::None => {
                        out.push(HttpEvent::End { stream, role, ts });
                        State::Start
                    }
                    Framing::Length(len) => State::Fixed {
                        stream,
                        remaining: len,
                    },
                    Framing::Invalid => return HeadStep::Invalid,
                };
                self.to_server.state = state;
                HeadStep::Consumed(n)
            }
            Role::Response => {
                let mut resp = httparse::Response::new(&mut fields);
                let n = match resp.parse(rest) {
                    Ok(httparse::Status::Complete(n)) => n,
                    Ok(httparse::Status::Partial) => return HeadStep::Partial,
                    Err(_) => return HeadStep::Invalid,
                };
                let status = resp.code.unwrap_or_default();
                if (100..200).contains(&status) && status != 101 {
                    // Interim response: the final one follows.
                    return HeadStep::Consumed(n);
                }
                let headers = collect_headers(resp.headers);
                let ws_extensions = find(&headers, "sec-websocket-extensions").map(str::to_string);
                let framing = body_framing(&headers);
                let pending = match self.pending.pop_front() {
                    Some(p) => p,
                    None => {
                        stats.responses_without_request += 1;
                        let stream = self.next_orphan;
                        self.next_orphan += 1;
                        Pending {
                            stream,
                            head: false,
                            connect: false,
                            websocket: None,
                        }
                    }
                };
                let stream = pending.stream;
                out.push(HttpEvent::Head {
                    stream,
                    role,
                    head: Head {
                        start: StartLine::Response { status },
                        headers,
                        authority: None,
                        scheme: None,
                        http_version: 1,
                    },
                    ts,
                });
                let upgrade = status == 101 || (pending.connect && (200..300).contains(&status));
                let no_body = pending.head || status == 204 || status == 304 || upgrade;
                let state = if no_body {
                    out.push(HttpEvent::End { stream, role, ts });
                    if upgrade {
                        self.tunnel = true;
                        if let (101, Some(path)) = (status, pending.websocket) {
                            self.upgrade = Some(Upgrade {
                                path,
                                extensions: ws_extensions,
                                ..Upgrade::default()
                            });
                        }
                        State::Tunnel
                    } else {
                        State::Start
                    }
                } else {
                    match framing {
                        Framing::Chunked => State::ChunkSize { stream },
                        Framing::Length(0) => {
                            out.push(HttpEvent::End { stream, role, ts });
                            State::Start
                        }
                        Framing::Length(len) => State::Fixed {
                            stream,
                            remaining: len,
                        },
                        Framing::None => State::UntilClose { stream },
                        Framing::Invalid => return HeadStep::Invalid,
                    }
                };
                self.to_client.state = state;
                HeadStep::Consumed(n)
            }
        }
    }

    /// The WebSocket upgrade a 101 just completed, with the bytes that
    /// followed it; the caller decodes the rest of the connection.
    pub(crate) fn take_upgrade(&mut self) -> Option<Upgrade> {
        self.upgrade.take()
    }

    /// `len` bytes of `flow` went uncaptured.
    pub(crate) fn gap(
        &mut self,
        flow: Flow,
        len: u64,
        ts: u64,
        out: &mut Vec<HttpEvent>,
        stats: &mut DecoderStats,
    ) {
        if len == 0 {
            return;
        }
        let role = flow.role();
        let f = self.flow_mut(flow);
        match f.state {
            State::Tunnel | State::Resync => {}
            State::UntilClose { stream } => out.push(HttpEvent::Gap { stream, role, len }),
            State::Fixed { stream, remaining } => {
                let n = len.min(remaining);
                out.push(HttpEvent::Gap {
                    stream,
                    role,
                    len: n,
                });
                if n == remaining {
                    out.push(HttpEvent::End { stream, role, ts });
                    f.state = if len > remaining {
                        stats.skipped(len - remaining);
                        State::Resync
                    } else {
                        State::Start
                    };
                } else {
                    f.state = State::Fixed {
                        stream,
                        remaining: remaining - n,
                    };
                }
            }
            State::ChunkData { stream, remaining } if len <= remaining => {
                out.push(HttpEvent::Gap { stream, role, len });
                f.state = if len == remaining {
                    State::ChunkDataEnd { stream }
                } else {
                    State::ChunkData {
                        stream,
                        remaining: remaining - len,
                    }
                };
            }
            State::ChunkData { stream, remaining } => {
                out.push(HttpEvent::Gap {
                    stream,
                    role,
                    len: remaining,
                });
                out.push(HttpEvent::Reset { stream, ts });
                stats.skipped(len - remaining);
                f.state = State::Resync;
            }
            State::Start
            | State::ChunkSize { .. }
            | State::ChunkDataEnd { .. }
            | State::Trailers { .. } => {
                let held = f.buf.len() as u64;
                f.buf.clear();
                self.lose(flow, out, ts, stats, 0);
                stats.skipped(len);
                stats.skipped(held);
            }
        }
    }

    /// The connection ended: a close-delimited body is complete, anything
    /// else unfinished is not.
    pub(crate) fn close(&mut self, ts: u64, out: &mut Vec<HttpEvent>) {
        for flow in [Flow::ToServer, Flow::ToClient] {
            let role = flow.role();
            let f = self.flow_mut(flow);
            match f.state {
                State::UntilClose { stream } => out.push(HttpEvent::End { stream, role, ts }),
                s => {
                    if let Some(stream) = s.stream() {
                        out.push(HttpEvent::Reset { stream, ts });
                    }
                }
            }
            f.state = State::Resync;
            f.buf.clear();
        }
    }
}

enum HeadStep {
    Consumed(usize),
    Partial,
    Invalid,
}

enum Framing {
    None,
    Length(u64),
    Chunked,
    Invalid,
}

fn collect_headers(raw: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    raw.iter()
        .filter(|h| !h.name.is_empty())
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect()
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn body_framing(headers: &[(String, String)]) -> Framing {
    let chunked = headers.iter().any(|(n, v)| {
        n == "transfer-encoding"
            && v.rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    });
    if chunked {
        return Framing::Chunked;
    }
    let mut length = None;
    for (n, v) in headers {
        if n == "content-length" {
            match v.trim().parse::<u64>() {
                Ok(l) if length.is_none() || length == Some(l) => length = Some(l),
                _ => return Framing::Invalid,
            }
        }
    }
    length.map_or(Framing::None, Framing::Length)
}

/// Emits up to `remaining` bytes of `rest` as body data of `stream`;
/// returns how many bytes were taken and how many of `remaining` are left.
fn body_data(
    stream: u64,
    role: Role,
    rest: &[u8],
    remaining: u64,
    ts: u64,
    out: &mut Vec<HttpEvent>,
) -> (usize, u64) {
    let n = usize::try_from(remaining)
        .unwrap_or(usize::MAX)
        .min(rest.len());
    out.push(HttpEvent::Data {
        stream,
        role,
        data: rest[..n].to_vec(),
        ts,
    });
    (n, remaining - n as u64)
}

/// One line ending in LF (CR before it removed) and the bytes it spans.
fn take_line(data: &[u8]) -> Option<(&[u8], usize)> {
    let lf = data.iter().position(|b| *b == b'\n')?;
    let line = &data[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, lf + 1))
}

fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let end = line.iter().position(|b| *b == b';').unwrap_or(line.len());
    let hex = line[..end].trim_ascii();
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    let mut size: u64 = 0;
    for b in hex {
        let d = (*b as char).to_digit(16)?;
        size = size.checked_mul(16)?.checked_add(u64::from(d))?;
    }
    Some(size)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn run(conn: &mut Http1Conn, flow: Flow, data: &[u8]) -> Vec<HttpEvent> {
        let mut out = Vec::new();
        let mut stats = DecoderStats::default();
        conn.push(flow, data, 7, &mut out, &mut stats);
        out
    }

    fn body_of(events: &[HttpEvent], stream: u64, role: Role) -> Vec<u8> {
        events
            .iter()
            .filter_map(|e| match e {
                HttpEvent::Data {
                    stream: s,
                    role: r,
                    data,
                    ..
                } if *s == stream && *r == role => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Scenario: a chunked response with a chunk extension and a trailer.
    /// Guarantees: the body is the concatenation of the chunks and the
    /// message ends after the trailer section.
    #[test]
    fn chunked_with_extension_and_trailer() {
        let mut c = Http1Conn::new();
        run(&mut c, Flow::ToServer, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let ev = run(
            &mut c,
            Flow::ToClient,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
        );
        assert_eq!(body_of(&ev, 1, Role::Response), b"abcde");
        assert!(matches!(ev.last(), Some(HttpEvent::End { stream: 1, .. })));
    }

    /// Scenario: a HEAD request's response carries Content-Length but no body.
    /// Guarantees: the response ends at its head and the next response parses.
    #[test]
    fn head_response_has_no_body() {
        let mut c = Http1Conn::new();
        run(
            &mut c,
            Flow::ToServer,
            b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
        );
        let ev = run(
            &mut c,
            Flow::ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
        );
        assert_eq!(body_of(&ev, 1, Role::Response), b"");
        assert_eq!(body_of(&ev, 2, Role::Response), b"hi");
    }

    /// Scenario: a 100-continue interim response precedes the final one.
    /// Guarantees: the interim head is skipped and the final one is matched to the request.
    #[test]
    fn interim_response_is_skipped() {
        let mut c = Http1Conn::new();
        run(
            &mut c,
            Flow::ToServer,
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        );
        let ev = run(
            &mut c,
            Flow::ToClient,
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        );
        let heads: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                HttpEvent::Head { head, stream, .. } => Some((*stream, head.start.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(heads, vec![(1, StartLine::Response { status: 201 })]);
    }

    /// Scenario: a gap inside a Content-Length body.
    /// Guarantees: the gap is reported, the message still ends, and the next
    /// exchange decodes.
    #[test]
    fn gap_inside_fixed_body() {
        let mut c = Http1Conn::new();
        let mut out = Vec::new();
        let mut stats = DecoderStats::default();
        c.push(
            Flow::ToServer,
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
            1,
            &mut out,
            &mut stats,
        );
        c.gap(Flow::ToServer, 7, 2, &mut out, &mut stats);
        c.push(
            Flow::ToServer,
            b"GET / HTTP/1.1\r\n\r\n",
            3,
            &mut out,
            &mut stats,
        );
        assert!(out.contains(&HttpEvent::Gap {
            stream: 1,
            role: Role::Request,
            len: 7
        }));
        assert!(out.contains(&HttpEvent::End {
            stream: 1,
            role: Role::Request,
            ts: 2
        }));
        assert!(out.contains(&HttpEvent::End {
            stream: 2,
            role: Role::Request,
            ts: 3
        }));
    }

    /// Scenario: garbage where a head should be, then a chunk that starts a request.
    /// Guarantees: the garbage is counted as skipped and decoding resumes.
    #[test]
    fn resyncs_on_next_chunk_start() {
        let mut c = Http1Conn::new();
        let mut out = Vec::new();
        let mut stats = DecoderStats::default();
        c.push(
            Flow::ToServer,
            b"\x00\x01garbage\r\n\r\n",
            1,
            &mut out,
            &mut stats,
        );
        assert_eq!(stats.http1_errors, 1);
        c.push(Flow::ToServer, b"more garbage", 1, &mut out, &mut stats);
        c.push(
            Flow::ToServer,
            b"GET / HTTP/1.1\r\n\r\n",
            2,
            &mut out,
            &mut stats,
        );
        assert!(stats.bytes_skipped >= 12);
        assert!(out.iter().any(|e| matches!(
            e,
            HttpEvent::End {
                role: Role::Request,
                ..
            }
        )));
    }

    /// Scenario: a 101 upgrade.
    /// Guarantees: later bytes in both directions are ignored, not parsed as HTTP.
    #[test]
    fn upgrade_turns_into_tunnel() {
        let mut c = Http1Conn::new();
        run(
            &mut c,
            Flow::ToServer,
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        );
        run(
            &mut c,
            Flow::ToClient,
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        );
        assert!(run(&mut c, Flow::ToServer, b"GET / HTTP/1.1\r\n\r\n").is_empty());
        assert!(run(&mut c, Flow::ToClient, b"\x81\x05hello").is_empty());
    }

    #[test]
    fn start_matching() {
        assert_eq!(request_start(b"PO"), StartMatch::Maybe);
        assert_eq!(request_start(b"POST /"), StartMatch::Yes);
        assert_eq!(request_start(b"PRI * HTTP/2.0"), StartMatch::No);
        assert_eq!(response_start(b"HTTP/1.1 200"), StartMatch::Yes);
        assert_eq!(response_start(b"HTTP/2"), StartMatch::No);
        assert_eq!(parse_chunk_size(b"1A ; ext"), Some(26));
        assert_eq!(parse_chunk_size(b"zz"), None);
    }
}
