//! The protocol-neutral view of HTTP that the HTTP/1.1 and HTTP/2 decoders
//! produce and the exchange layer consumes: message heads, body bytes (with
//! transfer framing removed, content coding still applied), gaps, message
//! ends and aborted streams, and the messages of a connection upgraded to
//! WebSocket.

/// Which half of an exchange a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    /// Sent by the client.
    Request,
    /// Sent by the server.
    Response,
}

/// The way bytes flow on a connection, independent of which side the probed
/// process is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Flow {
    /// Client to server: requests.
    ToServer,
    /// Server to client: responses.
    ToClient,
}

impl Flow {
    /// The role of messages flowing this way.
    pub(crate) fn role(self) -> Role {
        match self {
            Flow::ToServer => Role::Request,
            Flow::ToClient => Role::Response,
        }
    }
}

/// Start line of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StartLine {
    /// A request: method and request target (path and query).
    Request { method: String, path: String },
    /// A response: status code.
    Response { status: u16 },
}

/// A message head: start line and header fields (names lower-cased, in
/// order, pseudo-headers removed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// Start line.
    pub start: StartLine,
    /// Header fields, names lower-case.
    pub headers: Vec<(String, String)>,
    /// `Host` (HTTP/1.1) or `:authority` (HTTP/2).
    pub authority: Option<String>,
    /// `:scheme` of an HTTP/2 request.
    pub scheme: Option<String>,
    /// `2` for HTTP/2, `1` for HTTP/1.x.
    pub http_version: u8,
}

impl Head {
    /// The first value of header `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the HTTP decoders report, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HttpEvent {
    /// A message head was decoded.
    Head {
        /// Exchange id on this connection (HTTP/2 stream id, or the ordinal
        /// of the exchange on an HTTP/1.1 connection).
        stream: u64,
        /// Request or response.
        role: Role,
        /// The head.
        head: Head,
        /// Capture time of the chunk that completed the head.
        ts: u64,
    },
    /// Body bytes (transfer framing removed).
    Data {
        /// Exchange id.
        stream: u64,
        /// Request or response.
        role: Role,
        /// The bytes.
        data: Vec<u8>,
        /// Capture time.
        ts: u64,
    },
    /// Body bytes that were not captured (the probe truncated a call).
    Gap {
        /// Exchange id.
        stream: u64,
        /// Request or response.
        role: Role,
        /// Number of bytes missing.
        len: u64,
    },
    /// The message is complete.
    End {
        /// Exchange id.
        stream: u64,
        /// Request or response.
        role: Role,
        /// Capture time.
        ts: u64,
    },
    /// The exchange was aborted (HTTP/2 `RST_STREAM`).
    Reset {
        /// Exchange id.
        stream: u64,
        /// Capture time.
        ts: u64,
    },
    /// A whole WebSocket data message (reassembled from its frames and
    /// inflated) on an upgraded connection.
    Message {
        /// `Request` for client-to-server, `Response` for server-to-client.
        role: Role,
        /// The message payload (at most the body cap).
        data: Vec<u8>,
        /// A text message (opcode 1) rather than binary.
        text: bool,
        /// The payload was cut at the body cap.
        truncated: bool,
        /// Capture time of the chunk that completed it.
        ts: u64,
    },
    /// The decoder lost track of this flow: every unfinished exchange is
    /// incomplete.
    Desync {
        /// Capture time.
        ts: u64,
    },
}
