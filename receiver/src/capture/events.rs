//! Building OISP envelopes for captured calls: timestamps (monotonic
//! capture time converted to wall time), host, process and actor
//! enrichment, provenance (`tls_boundary`, `ssl_write` / `ssl_read`),
//! the server-side marker, and confidence set from what was really seen.

use oispd_semconv::common::{Container, Host};
use oispd_semconv::{
    format_ts_nanos, CaptureMethod, Completeness, Confidence, ConfidenceLevel, EventData,
    OispEvent, Source,
};
use std::net::SocketAddr;

use serde_json::{Map, Value};

use super::process::ProcInfo;
use super::stream::Side;

/// Attribute marking events decoded from the server side of a connection.
pub const ATTR_CAPTURE_SIDE: &str = "oispd.capture.side";
/// Attribute with the HTTP version of the connection (`1.1` or `2`).
pub const ATTR_PROTOCOL_VERSION: &str = "network.protocol.version";
/// Attribute with the server's IP address, when known.
pub const ATTR_SERVER_ADDRESS: &str = "server.address";
/// Attribute with the server's port, when known.
pub const ATTR_SERVER_PORT: &str = "server.port";

/// Converts monotonic capture time to Unix time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    /// Unix ns minus monotonic ns.
    offset: i128,
}

impl Clock {
    /// The offset between the wall clock and `CLOCK_MONOTONIC` (the clock of
    /// `bpf_ktime_get_ns`), read now.
    pub(crate) fn system() -> Clock {
        let mono = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let mono_ns = i128::from(mono.tv_sec) * 1_000_000_000 + i128::from(mono.tv_nsec);
        let unix_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        Clock {
            offset: unix_ns - mono_ns,
        }
    }

    /// RFC 3339 time of a monotonic timestamp.
    pub(crate) fn ts(self, mono_ns: u64) -> String {
        u64::try_from(i128::from(mono_ns) + self.offset)
            .ok()
            .and_then(format_ts_nanos)
            .unwrap_or_else(oispd_semconv::now_ts)
    }
}

/// Who made a call and where it was seen; fixed when the call starts.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    /// Process id.
    pub pid: u32,
    /// Thread that sent the request.
    pub tid: u32,
    /// The process's side of the connection.
    pub side: Side,
    /// Process facts, if the lookup knew them.
    pub proc_info: Option<ProcInfo>,
    /// `1.1` or `2`.
    pub http_version: &'static str,
    /// The server's socket address (the peer of a client, the local
    /// address of a server), when the capture source knows it.
    pub server_addr: Option<SocketAddr>,
}

/// Whether an event comes from what the client sent or what it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Point {
    /// Bytes of the request (`ai.request`, `agent.tool_result`).
    Request,
    /// Bytes of the response.
    Response,
}

/// How the call was recognised as AI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detection {
    /// The host is a known provider endpoint.
    KnownEndpoint,
    /// An unknown host, recognised by path and body shape.
    PayloadShape,
}

/// What went into an event, for its confidence.
#[derive(Clone, Debug)]
pub(crate) struct Quality {
    /// How the call was recognised.
    pub detection: Detection,
    /// The body parsed as the API's JSON.
    pub parsed: bool,
    /// Why the event is incomplete (empty when it is complete).
    pub partial: Vec<&'static str>,
}

impl Quality {
    fn confidence(&self) -> Confidence {
        let level = match (self.parsed, self.detection) {
            (false, _) => ConfidenceLevel::Low,
            (true, Detection::KnownEndpoint) => ConfidenceLevel::High,
            (true, Detection::PayloadShape) => ConfidenceLevel::Medium,
        };
        let completeness = if self.partial.is_empty() {
            Completeness::Full
        } else {
            Completeness::Partial
        };
        let mut reasons = vec![
            "tls_boundary_capture".to_string(),
            match self.detection {
                Detection::KnownEndpoint => "known_endpoint",
                Detection::PayloadShape => "payload_shape",
            }
            .to_string(),
        ];
        if self.parsed {
            reasons.push("payload_parsed".into());
        }
        reasons.extend(self.partial.iter().map(|r| (*r).to_string()));
        let mut c = Confidence::new(level, completeness);
        c.reasons = Some(reasons);
        c.content_source = Some("tls_boundary".into());
        c.process_attribution = Some("direct".into());
        c.ai_detection_method = Some(
            match self.detection {
                Detection::KnownEndpoint => "known_endpoint",
                Detection::PayloadShape => "payload_inspection",
            }
            .into(),
        );
        c
    }
}

/// Builds one event.
pub(crate) fn build(
    data: EventData,
    ts_mono: u64,
    point: Point,
    quality: &Quality,
    origin: &Origin,
    host: Option<&Host>,
    clock: Clock,
) -> OispEvent {
    let capture_point = match (origin.side, point) {
        (Side::Client, Point::Request) | (Side::Server, Point::Response) => "ssl_write",
        (Side::Client, Point::Response) | (Side::Server, Point::Request) => "ssl_read",
    };
    let mut ev = OispEvent::new(
        data,
        Source::oispd(CaptureMethod::TlsBoundary, capture_point),
        quality.confidence(),
    );
    ev.ts = clock.ts(ts_mono);
    ev.ts_mono = Some(ts_mono);
    let mut host = host.cloned();
    match &origin.proc_info {
        Some(p) => {
            ev.process = Some(p.to_process(origin.tid));
            ev.actor = p.to_actor();
            if let Some(id) = &p.container_id {
                let h = host.get_or_insert_with(Host::default);
                h.container.get_or_insert_with(Container::default).id = Some(id.clone());
            }
            if p.pod_uid.is_some() {
                p.fill_k8s(&mut host.get_or_insert_with(Host::default).k8s);
            }
        }
        None => {
            ev.process = Some(oispd_semconv::common::ProcessInfo {
                pid: Some(origin.pid),
                thread_id: Some(origin.tid),
                ..Default::default()
            });
        }
    }
    ev.host = host;
    let mut attrs = Map::new();
    attrs.insert(
        ATTR_PROTOCOL_VERSION.into(),
        Value::String(origin.http_version.into()),
    );
    if origin.side == Side::Server {
        attrs.insert(ATTR_CAPTURE_SIDE.into(), Value::String("server".into()));
    }
    if let Some(addr) = origin.server_addr {
        attrs.insert(
            ATTR_SERVER_ADDRESS.into(),
            Value::String(addr.ip().to_string()),
        );
        attrs.insert(ATTR_SERVER_PORT.into(), Value::from(addr.port()));
    }
    ev.attrs = Some(attrs);
    ev
}
