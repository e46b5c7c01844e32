//! [`CaptureDecoder`]: the entry point of capture decoding. It owns the
//! connection table keyed by `(pid, SSL*)`, bounds what connections hold
//! (per connection, in total, in number, in idle time), and runs each
//! captured chunk through stream reassembly, HTTP decoding and the call
//! layer, returning the OISP events that came out.

use std::collections::HashMap;
use std::net::SocketAddr;

use oispd_semconv::providers::ProviderCatalog;
use oispd_semconv::OispEvent;

use super::call::CallEnv;
use super::config::DecoderConfig;
use super::events::{Clock, Origin};
use super::exchange::Exchanges;
use super::message::HttpEvent;
use super::process::{ProcInfo, ProcessLookup};
use super::stats::DecoderStats;
use super::stream::{HttpStream, Side};
use super::tools::ToolTracker;
use super::{TlsChunk, MAX_UNCAPTURED_BYTES};

/// State of one TLS connection.
#[derive(Debug)]
struct Connection {
    stream: HttpStream,
    exchanges: Exchanges,
    last_seen: u64,
    /// Thread of the latest chunk.
    last_tid: u32,
    /// Socket addresses, as the capture source last reported them.
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    held: usize,
    /// The process lookup's answer, asked once per connection.
    proc_info: Option<Option<ProcInfo>>,
}

impl Connection {
    /// The server's address: the peer of a client, our own address as a server.
    fn server_addr(&self, side: Side) -> Option<SocketAddr> {
        match side {
            Side::Client => self.peer,
            Side::Server => self.local,
        }
    }
}

/// Decodes TLS plaintext chunks into OISP events.
///
/// Feed chunks in capture order with [`CaptureDecoder::push`], call
/// [`CaptureDecoder::tick`] now and then to expire idle connections, and
/// [`CaptureDecoder::close`] / [`CaptureDecoder::process_exited`] when the
/// capture source sees a connection or a process end.
pub struct CaptureDecoder {
    config: DecoderConfig,
    catalog: ProviderCatalog,
    conns: HashMap<(u32, u64), Connection>,
    tools: ToolTracker,
    stats: DecoderStats,
    clock: Clock,
    total_held: usize,
    scratch: Vec<HttpEvent>,
}

impl std::fmt::Debug for CaptureDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureDecoder")
            .field("connections", &self.conns.len())
            .field("held", &self.total_held)
            .field("stats", &self.stats)
            .finish()
    }
}

/// Why a connection is being let go.
#[derive(Clone, Copy)]
enum Ending {
    Closed,
    Idle,
    Evicted,
}

impl CaptureDecoder {
    /// A decoder with `config`, recognising providers with `catalog`.
    pub fn new(config: DecoderConfig, catalog: ProviderCatalog) -> CaptureDecoder {
        let tools = ToolTracker::new(config.max_pending_tool_calls);
        CaptureDecoder {
            config,
            catalog,
            conns: HashMap::new(),
            tools,
            stats: DecoderStats::default(),
            clock: Clock::system(),
            total_held: 0,
            scratch: Vec::new(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecoderStats {
        &self.stats
    }

    /// Connections tracked now.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Bytes held by all connections now.
    pub fn held_bytes(&self) -> usize {
        self.total_held
    }

    /// Decodes one chunk; returns the events it completed.
    pub fn push(&mut self, chunk: TlsChunk, procs: &dyn ProcessLookup) -> Vec<OispEvent> {
        let mut out = Vec::new();
        self.push_into(chunk, procs, &mut out);
        out
    }

    /// Decodes one chunk, appending the events it completed to `out`.
    pub fn push_into(
        &mut self,
        chunk: TlsChunk,
        procs: &dyn ProcessLookup,
        out: &mut Vec<OispEvent>,
    ) {
        let before = out.len();
        self.stats.chunks += 1;
        self.stats.bytes = self.stats.bytes.saturating_add(chunk.data.len() as u64);
        let gap = chunk
            .full_len
            .saturating_sub(chunk.data.len() as u64)
            .min(MAX_UNCAPTURED_BYTES);
        self.stats.not_captured(gap);
        let key = (chunk.pid, chunk.conn);
        if !self.conns.contains_key(&key) {
            while self.conns.len() >= self.config.max_connections.max(1) {
                if !self.evict_oldest(None, procs, out) {
                    break;
                }
            }
            self.stats.connections_opened += 1;
            self.conns.insert(
                key,
                Connection {
                    stream: HttpStream::with_message_limit(self.config.max_body_bytes),
                    exchanges: Exchanges::default(),
                    last_seen: chunk.ts_mono_ns,
                    last_tid: chunk.tid,
                    local: None,
                    peer: None,
                    held: 0,
                    proc_info: None,
                },
            );
        }
        let CaptureDecoder {
            config,
            catalog,
            conns,
            tools,
            stats,
            clock,
            total_held,
            scratch,
        } = self;
        let Some(conn) = conns.get_mut(&key) else {
            return;
        };
        conn.last_seen = chunk.ts_mono_ns;
        conn.last_tid = chunk.tid;
        conn.local = chunk.local.or(conn.local);
        conn.peer = chunk.peer.or(conn.peer);
        scratch.clear();
        conn.stream.push(
            chunk.direction,
            &chunk.data,
            gap,
            chunk.ts_mono_ns,
            scratch,
            stats,
        );
        if !scratch.is_empty() {
            let side = conn.stream.side().unwrap_or(Side::Client);
            let http_version = match conn.stream.http_version() {
                Some(2) => "2",
                _ => "1.1",
            };
            let server_addr = conn.server_addr(side);
            let proc_cache = &mut conn.proc_info;
            let catalog: &ProviderCatalog = catalog;
            let mut env = CallEnv {
                config,
                tools,
                stats,
                out,
                clock: *clock,
                prices: catalog.prices(),
            };
            let server_side_ok = config.capture_server_side;
            let mut dropped_server = 0;
            let mut origin = || {
                if side == Side::Server && !server_side_ok {
                    dropped_server += 1;
                    return None;
                }
                let proc_info = proc_cache
                    .get_or_insert_with(|| procs.lookup(chunk.pid))
                    .clone();
                Some(Origin {
                    pid: chunk.pid,
                    tid: chunk.tid,
                    side,
                    proc_info,
                    http_version,
                    server_addr,
                })
            };
            for ev in scratch.drain(..) {
                conn.exchanges.handle(ev, catalog, &mut origin, &mut env);
            }
            env.stats.server_side_dropped += dropped_server;
        }
        let held = conn.stream.held() + conn.exchanges.held();
        *total_held = total_held.saturating_sub(conn.held) + held;
        conn.held = held;
        if held > self.config.max_connection_bytes {
            self.end_connection(key, Ending::Evicted, procs, out);
        }
        while self.total_held > self.config.max_total_bytes {
            if !self.evict_oldest(Some(key), procs, out) {
                break;
            }
        }
        self.stats.events += (out.len() - before) as u64;
    }

    /// The capture source saw connection `conn` of `pid` close (`SSL_free`,
    /// `close`): a close-delimited body ends, anything unfinished is
    /// emitted as partial.
    pub fn close(
        &mut self,
        pid: u32,
        conn: u64,
        ts_mono_ns: u64,
        procs: &dyn ProcessLookup,
    ) -> Vec<OispEvent> {
        let mut out = Vec::new();
        if let Some(c) = self.conns.get_mut(&(pid, conn)) {
            c.last_seen = c.last_seen.max(ts_mono_ns);
            self.end_connection((pid, conn), Ending::Closed, procs, &mut out);
        }
        self.stats.events += out.len() as u64;
        out
    }

    /// Process `pid` exited: its connections end and its pending tool calls
    /// are forgotten.
    pub fn process_exited(
        &mut self,
        pid: u32,
        ts_mono_ns: u64,
        procs: &dyn ProcessLookup,
    ) -> Vec<OispEvent> {
        let mut out = Vec::new();
        let mut keys: Vec<_> = self.conns.keys().filter(|k| k.0 == pid).copied().collect();
        keys.sort_unstable();
        for key in keys {
            if let Some(c) = self.conns.get_mut(&key) {
                c.last_seen = c.last_seen.max(ts_mono_ns);
            }
            self.end_connection(key, Ending::Closed, procs, &mut out);
        }
        self.tools.forget(pid);
        self.stats.events += out.len() as u64;
        out
    }

    /// Expires connections idle for longer than the idle timeout at
    /// monotonic time `now_mono_ns`; a WebSocket with no call in flight is
    /// kept (it ends with its close, its process or an eviction).
    pub fn tick(&mut self, now_mono_ns: u64, procs: &dyn ProcessLookup) -> Vec<OispEvent> {
        let mut out = Vec::new();
        let timeout = self.config.idle_timeout_ns;
        let mut idle: Vec<_> = self
            .conns
            .iter()
            .filter(|(_, c)| now_mono_ns.saturating_sub(c.last_seen) > timeout)
            // A WebSocket between turns is kept: its next turn continues the
            // frames and deflate context that a new connection could not.
            .filter(|(_, c)| !(c.stream.is_websocket() && c.exchanges.between_turns()))
            .map(|(k, _)| *k)
            .collect();
        idle.sort_unstable();
        for key in idle {
            self.end_connection(key, Ending::Idle, procs, &mut out);
        }
        self.stats.events += out.len() as u64;
        out
    }

    /// Drops the least recently active connection other than `keep`.
    fn evict_oldest(
        &mut self,
        keep: Option<(u32, u64)>,
        procs: &dyn ProcessLookup,
        out: &mut Vec<OispEvent>,
    ) -> bool {
        let oldest = self
            .conns
            .iter()
            .filter(|(k, _)| Some(**k) != keep)
            .min_by_key(|(k, c)| (c.last_seen, **k))
            .map(|(k, _)| *k);
        match oldest {
            Some(key) => {
                self.end_connection(key, Ending::Evicted, procs, out);
                true
            }
            None => false,
        }
    }

    fn end_connection(
        &mut self,
        key: (u32, u64),
        ending: Ending,
        procs: &dyn ProcessLookup,
        out: &mut Vec<OispEvent>,
    ) {
        let Some(mut conn) = self.conns.remove(&key) else {
            return;
        };
        self.total_held = self.total_held.saturating_sub(conn.held);
        let (reason, counter) = match ending {
            Ending::Closed => ("connection_closed", &mut self.stats.connections_closed),
            Ending::Idle => ("connection_idle", &mut self.stats.connections_expired),
            Ending::Evicted => ("connection_evicted", &mut self.stats.connections_evicted),
        };
        *counter += 1;
        let ts = conn.last_seen;
        let tid = conn.last_tid;
        let mut events = Vec::new();
        conn.stream.close(ts, &mut events);
        let side = conn.stream.side().unwrap_or(Side::Client);
        let http_version = match conn.stream.http_version() {
            Some(2) => "2",
            _ => "1.1",
        };
        let mut env = CallEnv {
            config: &self.config,
            tools: &mut self.tools,
            stats: &mut self.stats,
            out,
            clock: self.clock,
            prices: self.catalog.prices(),
        };
        let server_addr = conn.server_addr(side);
        let proc_cache = &mut conn.proc_info;
        let mut origin = || {
            let proc_info = proc_cache
                .get_or_insert_with(|| procs.lookup(key.0))
                .clone();
            Some(Origin {
                pid: key.0,
                tid,
                side,
                proc_info,
                http_version,
                server_addr,
            })
        };
        for ev in events {
            // Unfinished exchanges end below, with the connection's reason.
            if !matches!(ev, HttpEvent::Reset { .. } | HttpEvent::Desync { .. }) {
                conn.exchanges
                    .handle(ev, &self.catalog, &mut origin, &mut env);
            }
        }
        conn.exchanges.abort_all(reason, ts, &mut env);
    }
}
