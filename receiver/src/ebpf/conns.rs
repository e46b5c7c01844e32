//! Socket addresses of TLS connections, keyed by (pid, `SSL*`), filled into
//! each [`TlsChunk`].
//!
//! The kernel reports a connection's socket once (a TLS_BIND record). For
//! libssl on a socket BIO that record comes before the call's plaintext. For
//! memory-BIO users (node) it comes just after the first `SSL_write`, whose
//! record is flagged `BIND_PENDING`: such chunks (and later ones of the same
//! connection) are held until the bind arrives, the connection is freed, its
//! process exits, or [`HOLD_FOR`] passes, so the first chunk of a request
//! carries the peer address too. Held chunks keep their order.
//!
//! Records captured at aws-lc's AEAD functions carry a context per
//! direction instead of one `SSL*` (and a new one when the keys change).
//! Their TLS_BIND records name the socket, so the contexts bound to the
//! same socket (pid, fd, local and peer address) are paired into one
//! connection, and every chunk of its contexts carries the connection's id,
//! so the decoders see one connection with both directions. The id is
//! oispd's own ([`PAIRED_CONN`] and a counter), not a context's address: a
//! freed context's address comes back for a later connection. The end of
//! any of them (close of the socket, close_notify) ends the connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::capture::TlsChunk;

/// How long a chunk waits for its connection's socket at most.
pub(crate) const HOLD_FOR: Duration = Duration::from_millis(5);
/// Chunks held per connection at most (a burst beyond is released unbound).
const MAX_HELD_PER_CONN: usize = 64;
/// Connections remembered per process at most.
const MAX_CONNS_PER_PID: usize = 65_536;
/// The bit that marks the id of a connection paired from AEAD contexts
/// (above every user-space address, so never an `SSL*` or a context).
pub(crate) const PAIRED_CONN: u64 = 1 << 63;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Addrs {
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

#[derive(Debug)]
struct Held {
    chunks: Vec<TlsChunk>,
    deadline: Instant,
}

/// The socket AEAD contexts are bound to, within one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Socket {
    fd: i32,
    addrs: Addrs,
}

/// One process's AEAD contexts paired by socket.
#[derive(Debug, Default)]
struct Pairs {
    /// Socket -> connection id.
    by_socket: HashMap<Socket, u64>,
    /// Context -> its socket and connection id.
    by_context: HashMap<u64, (Socket, u64)>,
}

/// Connection addresses and chunks waiting for them.
#[derive(Debug, Default)]
pub(crate) struct Conns {
    addrs: HashMap<u32, HashMap<u64, Addrs>>,
    held: HashMap<(u32, u64), Held>,
    pairs: HashMap<u32, Pairs>,
    /// The counter of paired connection ids.
    paired: u64,
}

impl Conns {
    /// A connection's socket became known; returns its held chunks, filled.
    pub(crate) fn bind(
        &mut self,
        pid: u32,
        conn: u64,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
    ) -> Vec<TlsChunk> {
        let per_pid = self.addrs.entry(pid).or_default();
        if per_pid.len() >= MAX_CONNS_PER_PID {
            per_pid.clear();
        }
        per_pid.insert(conn, Addrs { local, peer });
        self.release(pid, conn)
    }

    /// An AEAD context `ctx` is bound to the socket `fd` with these
    /// addresses: it joins that socket's connection (or starts it); returns
    /// its held chunks, filled.
    pub(crate) fn bind_aead(
        &mut self,
        pid: u32,
        ctx: u64,
        fd: i32,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
    ) -> Vec<TlsChunk> {
        let addrs = Addrs { local, peer };
        let socket = Socket { fd, addrs };
        let pairs = self.pairs.entry(pid).or_default();
        if pairs.by_context.len() >= MAX_CONNS_PER_PID {
            *pairs = Pairs::default();
        }
        let conn = match pairs.by_socket.get(&socket) {
            Some(conn) => *conn,
            None => {
                self.paired += 1;
                let conn = PAIRED_CONN | self.paired;
                pairs.by_socket.insert(socket, conn);
                conn
            }
        };
        pairs.by_context.insert(ctx, (socket, conn));
        let per_pid = self.addrs.entry(pid).or_default();
        if per_pid.len() >= MAX_CONNS_PER_PID {
            per_pid.clear();
        }
        per_pid.insert(conn, addrs);
        self.release(pid, ctx)
    }

    /// The connection id of a chunk's `conn`: its paired connection for an
    /// AEAD context, else itself.
    fn connection_of(&self, pid: u32, conn: u64) -> u64 {
        self.pairs
            .get(&pid)
            .and_then(|p| p.by_context.get(&conn))
            .map_or(conn, |(_, c)| *c)
    }

    /// Takes a chunk and hands on, in order, the chunks that are ready
    /// (none when it is held).
    pub(crate) fn chunk(
        &mut self,
        mut chunk: TlsChunk,
        bind_pending: bool,
        now: Instant,
        out: &mut impl FnMut(TlsChunk),
    ) {
        let key = (chunk.pid, chunk.conn);
        if let Some(held) = self.held.get_mut(&key) {
            held.chunks.push(chunk);
            if held.chunks.len() >= MAX_HELD_PER_CONN {
                self.release(key.0, key.1).into_iter().for_each(out);
            }
            return;
        }
        chunk.conn = self.connection_of(chunk.pid, chunk.conn);
        match self.addrs.get(&chunk.pid).and_then(|m| m.get(&chunk.conn)) {
            Some(a) => {
                chunk.local = a.local;
                chunk.peer = a.peer;
                out(chunk);
            }
            None if bind_pending => {
                self.held.insert(
                    key,
                    Held {
                        chunks: vec![chunk],
                        deadline: now + HOLD_FOR,
                    },
                );
            }
            None => out(chunk),
        }
    }

    /// `SSL_free`, the close of a bound socket, or a close_notify of `conn`
    /// (an `SSL*` or an AEAD context): forget its connection (for an AEAD
    /// context, the pair); returns the connection's id and its held chunks.
    pub(crate) fn free(&mut self, pid: u32, conn: u64) -> (u64, Vec<TlsChunk>) {
        let mut out = Vec::new();
        let mut ended = conn;
        if let Some(pairs) = self.pairs.get_mut(&pid) {
            if let Some((socket, paired)) = pairs.by_context.remove(&conn) {
                ended = paired;
                if pairs.by_socket.get(&socket) == Some(&paired) {
                    pairs.by_socket.remove(&socket);
                }
                let mut contexts: Vec<u64> = pairs
                    .by_context
                    .iter()
                    .filter(|(_, (_, c))| *c == paired)
                    .map(|(ctx, _)| *ctx)
                    .collect();
                contexts.sort_unstable();
                for ctx in &contexts {
                    pairs.by_context.remove(ctx);
                }
                for ctx in contexts {
                    out.extend(self.release_as(pid, ctx, paired));
                }
            }
        }
        let mut own = self.release_as(pid, conn, ended);
        own.append(&mut out);
        if let Some(m) = self.addrs.get_mut(&pid) {
            m.remove(&ended);
        }
        (ended, own)
    }

    /// The process exited: forget its connections; returns its held chunks.
    pub(crate) fn exit(&mut self, pid: u32) -> Vec<TlsChunk> {
        let keys: Vec<(u32, u64)> = self.held.keys().filter(|k| k.0 == pid).copied().collect();
        let mut out = Vec::new();
        for (p, c) in keys {
            out.extend(self.release(p, c));
        }
        self.addrs.remove(&pid);
        self.pairs.remove(&pid);
        out
    }

    /// When the next held chunk must be released.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.held.values().map(|h| h.deadline).min()
    }

    /// Releases chunks whose wait is over, oldest connection first.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<TlsChunk> {
        let mut due: Vec<((u32, u64), Instant)> = self
            .held
            .iter()
            .filter(|(_, h)| h.deadline <= now)
            .map(|(k, h)| (*k, h.deadline))
            .collect();
        due.sort_by_key(|(_, d)| *d);
        let mut out = Vec::new();
        for ((pid, conn), _) in due {
            out.extend(self.release(pid, conn));
        }
        out
    }

    /// Releases the chunks held for (pid, conn), as chunks of its connection.
    fn release(&mut self, pid: u32, conn: u64) -> Vec<TlsChunk> {
        let paired = self.connection_of(pid, conn);
        self.release_as(pid, conn, paired)
    }

    /// Releases the chunks held for (pid, held_as) as chunks of `conn`.
    fn release_as(&mut self, pid: u32, held_as: u64, conn: u64) -> Vec<TlsChunk> {
        let Some(held) = self.held.remove(&(pid, held_as)) else {
            return Vec::new();
        };
        let addrs = self
            .addrs
            .get(&pid)
            .and_then(|m| m.get(&conn))
            .copied()
            .unwrap_or_default();
        held.chunks
            .into_iter()
            .map(|mut c| {
                c.conn = conn;
                c.local = addrs.local;
                c.peer = addrs.peer;
                c
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::capture::Direction;

    fn chunk(pid: u32, conn: u64, data: &[u8]) -> TlsChunk {
        TlsChunk {
            pid,
            tid: pid,
            conn,
            ts_mono_ns: 0,
            direction: Direction::Write,
            data: data.to_vec(),
            full_len: data.len() as u64,
            local: None,
            peer: None,
        }
    }

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    /// `Conns::chunk`, collecting what it hands on.
    fn take(c: &mut Conns, chunk: TlsChunk, bind_pending: bool, now: Instant) -> Vec<TlsChunk> {
        let mut out = Vec::new();
        c.chunk(chunk, bind_pending, now, &mut |x| out.push(x));
        out
    }

    /// Scenario: bind before data (socket BIO), data of an unknown conn
    /// without the pending flag.
    /// Guarantees: passed on at once, with addresses when known.
    #[test]
    fn bound_and_unbound_chunks_pass() {
        let mut c = Conns::default();
        let now = Instant::now();
        assert!(c
            .bind(1, 10, addr("127.0.0.1:5000"), addr("127.0.0.1:443"))
            .is_empty());
        let out = take(&mut c, chunk(1, 10, b"a"), false, now);
        assert_eq!(out[0].peer, addr("127.0.0.1:443"));
        let out = take(&mut c, chunk(1, 11, b"b"), false, now);
        assert_eq!((out.len(), out[0].peer), (1, None));
    }

    /// Scenario: node: first write flagged BIND_PENDING, a second chunk of the
    /// same conn, a chunk of another conn, then the bind.
    /// Guarantees: the conn's chunks wait, then come out in order with the
    /// addresses; the other conn is not held up.
    #[test]
    fn pending_chunks_wait_for_their_bind() {
        let mut c = Conns::default();
        let now = Instant::now();
        assert!(take(&mut c, chunk(1, 10, b"req"), true, now).is_empty());
        assert!(take(&mut c, chunk(1, 10, b"more"), false, now).is_empty());
        assert_eq!(take(&mut c, chunk(1, 20, b"x"), false, now).len(), 1);
        assert!(c.next_deadline().is_some());
        let out = c.bind(1, 10, addr("127.0.0.1:5000"), addr("127.0.0.1:443"));
        assert_eq!(
            out.iter().map(|c| c.data.clone()).collect::<Vec<_>>(),
            vec![b"req".to_vec(), b"more".to_vec()]
        );
        assert!(out.iter().all(|c| c.peer == addr("127.0.0.1:443")));
        assert!(c.next_deadline().is_none());
    }

    /// Scenario: a pending chunk whose bind never comes; another freed; another
    /// whose process exits.
    /// Guarantees: each is released (without addresses) by the deadline, the
    /// free, or the exit; nothing is lost.
    #[test]
    fn held_chunks_are_always_released() {
        let mut c = Conns::default();
        let t0 = Instant::now();
        take(&mut c, chunk(1, 10, b"a"), true, t0);
        take(&mut c, chunk(2, 20, b"b"), true, t0);
        take(&mut c, chunk(3, 30, b"c"), true, t0);
        assert!(c.expire(t0).is_empty());
        let out = c.expire(t0 + HOLD_FOR);
        assert_eq!(out.len(), 3);
        take(&mut c, chunk(2, 20, b"d"), true, t0);
        let (conn, released) = c.free(2, 20);
        assert_eq!((conn, released.len()), (20, 1));
        take(&mut c, chunk(3, 30, b"e"), true, t0);
        assert_eq!(c.exit(3).len(), 1);
        assert!(c.next_deadline().is_none());
    }

    fn bound_chunk(conn: u64, direction: Direction, data: &[u8]) -> TlsChunk {
        TlsChunk {
            direction,
            ..chunk(1, conn, data)
        }
    }

    /// Scenario: rustls over aws-lc: the write context (0xa) sealed a
    /// request before its socket was known (BIND_PENDING), then was bound
    /// to fd 6 by the next write; the read context (0xb) was bound to the
    /// same socket and opened the response; a second connection on fd 7
    /// with its own contexts; then a new write context (a KeyUpdate) on fd
    /// 6; then the socket of the first connection closed; then the freed
    /// context 0xa bound to a new socket.
    /// Guarantees: both directions of a socket come out as one connection
    /// (an id of oispd's, marked PAIRED_CONN) with its addresses, the other
    /// socket's as another; the key change stays in the connection; the
    /// close ends the pair under the connection's id; contexts of the ended
    /// pair are unpaired, and a freed context's address bound anew starts
    /// a new connection.
    #[test]
    fn aead_contexts_of_one_socket_are_one_connection() {
        let mut c = Conns::default();
        let now = Instant::now();
        let (local, peer) = (addr("127.0.0.1:40000"), addr("127.0.0.1:443"));
        let write = |c: &mut Conns, ctx: u64, data: &[u8]| {
            take(c, bound_chunk(ctx, Direction::Write, data), false, now)
        };
        assert!(take(
            &mut c,
            bound_chunk(0xa, Direction::Write, b"POST"),
            true,
            now
        )
        .is_empty());
        let out = c.bind_aead(1, 0xa, 6, local, peer);
        assert_eq!((out.len(), out[0].peer), (1, peer));
        let first = out[0].conn;
        assert_eq!(first & PAIRED_CONN, PAIRED_CONN);
        assert!(c.bind_aead(1, 0xb, 6, local, peer).is_empty());
        let out = take(
            &mut c,
            bound_chunk(0xb, Direction::Read, b"HTTP"),
            false,
            now,
        );
        assert_eq!(
            (out[0].conn, out[0].local, out[0].peer),
            (first, local, peer)
        );

        let other = addr("127.0.0.1:40001");
        c.bind_aead(1, 0xc, 7, other, peer);
        c.bind_aead(1, 0xd, 7, other, peer);
        let out = take(&mut c, bound_chunk(0xd, Direction::Read, b"x"), false, now);
        let second = out[0].conn;
        assert_eq!(out[0].local, other);
        assert_ne!(second, first);

        c.bind_aead(1, 0xe, 6, local, peer);
        assert_eq!(write(&mut c, 0xe, b"more")[0].conn, first);

        let (ended, released) = c.free(1, 0xb);
        assert_eq!((ended, released.len()), (first, 0));
        for ctx in [0xa, 0xb, 0xe] {
            let out = write(&mut c, ctx, b"later");
            assert_eq!((out[0].conn, out[0].peer), (ctx, None), "{ctx:#x}");
        }
        assert_eq!(write(&mut c, 0xc, b"y")[0].conn, second);

        c.bind_aead(1, 0xa, 8, addr("127.0.0.1:40002"), peer);
        let again = write(&mut c, 0xa, b"new")[0].conn;
        assert!(again != first && again != second && again & PAIRED_CONN != 0);
    }

    /// Scenario: an AEAD context bound to a socket of one process, another
    /// context at the same fd and addresses in another process, then the
    /// first process exits.
    /// Guarantees: processes never share a connection; the exit forgets
    /// the process's pairs.
    #[test]
    fn aead_pairs_are_per_process() {
        let mut c = Conns::default();
        let now = Instant::now();
        let (local, peer) = (addr("127.0.0.1:40000"), addr("127.0.0.1:443"));
        c.bind_aead(1, 0xa, 6, local, peer);
        c.bind_aead(2, 0xb, 6, local, peer);
        let first = take(&mut c, bound_chunk(0xa, Direction::Write, b"w"), false, now)[0].conn;
        let mut other = bound_chunk(0xb, Direction::Read, b"r");
        other.pid = 2;
        let second = take(&mut c, other, false, now)[0].conn;
        assert_ne!(first, second);
        c.exit(1);
        let out = take(&mut c, bound_chunk(0xa, Direction::Write, b"w"), false, now);
        assert_eq!((out[0].conn, out[0].peer), (0xa, None));
    }
}
