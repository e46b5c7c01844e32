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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Addrs {
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

#[derive(Debug)]
struct Held {
    chunks: Vec<TlsChunk>,
    deadline: Instant,
}

/// Connection addresses and chunks waiting for them.
#[derive(Debug, Default)]
pub(crate) struct Conns {
    addrs: HashMap<u32, HashMap<u64, Addrs>>,
    held: HashMap<(u32, u64), Held>,
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

    /// `SSL_free`: forget the connection; returns its held chunks.
    pub(crate) fn free(&mut self, pid: u32, conn: u64) -> Vec<TlsChunk> {
        let out = self.release(pid, conn);
        if let Some(m) = self.addrs.get_mut(&pid) {
            m.remove(&conn);
        }
        out
    }

    /// The process exited: forget its connections; returns its held chunks.
    pub(crate) fn exit(&mut self, pid: u32) -> Vec<TlsChunk> {
        let keys: Vec<(u32, u64)> = self.held.keys().filter(|k| k.0 == pid).copied().collect();
        let mut out = Vec::new();
        for (p, c) in keys {
            out.extend(self.release(p, c));
        }
        self.addrs.remove(&pid);
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

    fn release(&mut self, pid: u32, conn: u64) -> Vec<TlsChunk> {
        let Some(held) = self.held.remove(&(pid, conn)) else {
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
        assert_eq!(c.free(2, 20).len(), 1);
        take(&mut c, chunk(3, 30, b"e"), true, t0);
        assert_eq!(c.exit(3).len(), 1);
        assert!(c.next_deadline().is_none());
    }
}
