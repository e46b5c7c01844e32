//! Shared helpers of the capture decoding tests: building TLS chunks,
//! HTTP/1.1 messages, a process table, and checks every test wants (schema
//! validity, no credential anywhere in the output).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use oispd_receiver::capture::{
    CaptureDecoder, DecoderConfig, Direction, ProcInfo, ProcessLookup, TlsChunk,
};
use oispd_semconv::ai::{AiResponse, Content};
use oispd_semconv::providers::ProviderCatalog;
use oispd_semconv::schema::OispSchema;
use oispd_semconv::{EventData, OispEvent};

/// The process table tests use.
#[derive(Default)]
pub struct Procs(pub HashMap<u32, ProcInfo>);

impl ProcessLookup for Procs {
    fn lookup(&self, pid: u32) -> Option<ProcInfo> {
        self.0.get(&pid).cloned()
    }
}

/// A table with one process `pid` named `name`.
pub fn procs(pid: u32, name: &str) -> Procs {
    let mut m = HashMap::new();
    m.insert(
        pid,
        ProcInfo {
            pid,
            ppid: Some(1),
            exe: Some(format!("/usr/bin/{name}")),
            name: Some(name.to_string()),
            cmdline: Some(format!("{name} agent.py")),
            uid: Some(1000),
            user: Some("alice".into()),
            ..ProcInfo::default()
        },
    );
    Procs(m)
}

/// A decoder with the built-in catalogue.
pub fn decoder(config: DecoderConfig) -> CaptureDecoder {
    CaptureDecoder::new(config, ProviderCatalog::builtin())
}

/// A decoder with the official catalogue (and so its model prices).
pub fn priced_decoder(config: DecoderConfig) -> CaptureDecoder {
    let path = spec_dir().join("semconv/providers/_generated/models.json");
    let catalog = ProviderCatalog::load_models_json(&path)
        .unwrap_or_else(|e| panic!("the official catalogue at {}: {e}", path.display()));
    CaptureDecoder::new(config, catalog)
}

/// One chunk.
pub fn chunk(pid: u32, conn: u64, direction: Direction, ts_ms: u64, data: &[u8]) -> TlsChunk {
    TlsChunk {
        pid,
        tid: pid + 1,
        conn,
        ts_mono_ns: ts_ms * 1_000_000,
        direction,
        data: data.to_vec(),
        full_len: data.len() as u64,
        local: None,
        peer: None,
    }
}

/// An HTTP/1.1 request with a Content-Length body.
pub fn h1_request(host: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// An HTTP/1.1 request whose Content-Length body is `body` as JSON.
pub fn h1_json_request(
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> Vec<u8> {
    h1_request(host, path, headers, &serde_json::to_vec(body).unwrap())
}

/// An HTTP/1.1 `application/json` response whose body is `body`.
pub fn h1_json_response(status: u16, body: &serde_json::Value) -> Vec<u8> {
    h1_response(
        status,
        "application/json",
        &serde_json::to_vec(body).unwrap(),
    )
}

/// An HTTP/1.1 response with a Content-Length body.
pub fn h1_response(status: u16, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// An HTTP/1.1 response with a chunked body, one chunk per piece.
pub fn h1_chunked_response<P: AsRef<[u8]>>(content_type: &str, pieces: &[P]) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for p in pieces {
        let p = p.as_ref();
        bytes.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
        bytes.extend_from_slice(p);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

/// Events of one type.
pub fn of_type<'a>(events: &'a [OispEvent], kind: &str) -> Vec<&'a OispEvent> {
    events.iter().filter(|e| e.event_type == kind).collect()
}

/// The one event of a type.
pub fn one<'a>(events: &'a [OispEvent], kind: &str) -> &'a OispEvent {
    let v = of_type(events, kind);
    assert_eq!(
        v.len(),
        1,
        "expected one {kind}, got {}: {:#?}",
        v.len(),
        types(events)
    );
    v[0]
}

/// The event types, in order.
pub fn types(events: &[OispEvent]) -> Vec<String> {
    events.iter().map(|e| e.event_type.clone()).collect()
}

/// `ai.request` data.
pub fn req(ev: &OispEvent) -> &oispd_semconv::ai::AiRequest {
    match &ev.data {
        Some(EventData::AiRequest(d)) => d,
        other => panic!("not an ai.request: {other:?}"),
    }
}

/// Whether the event's confidence lists `reason` (it must list some).
pub fn has_reason(ev: &OispEvent, reason: &str) -> bool {
    ev.confidence
        .reasons
        .as_ref()
        .unwrap()
        .contains(&reason.to_string())
}

/// The content of the first choice's message of a response.
pub fn first_content(rs: &AiResponse) -> Option<Content> {
    rs.choices.as_ref().unwrap()[0]
        .message
        .as_ref()
        .unwrap()
        .content
        .clone()
}

/// `ai.response` data.
pub fn resp(ev: &OispEvent) -> &AiResponse {
    match &ev.data {
        Some(EventData::AiResponse(d)) => d,
        other => panic!("not an ai.response: {other:?}"),
    }
}

fn spec_dir() -> PathBuf {
    match std::env::var_os("OISP_SPEC_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/oisp-spec"),
    }
}

fn schema() -> &'static OispSchema {
    static SCHEMA: OnceLock<OispSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| OispSchema::load(spec_dir()).expect("OISP schemas under spec/oisp-spec"))
}

/// Every event validates against the OISP schema and carries none of `secrets`.
pub fn check(events: &[OispEvent], secrets: &[&str]) {
    for ev in events {
        let v = ev.to_value();
        if let Err(errors) = schema().validate(&v) {
            panic!("{} does not validate: {errors:#?}\n{v:#}", ev.event_type);
        }
        let text = v.to_string();
        for s in secrets {
            assert!(!text.contains(s), "secret {s} in {text}");
        }
    }
}
