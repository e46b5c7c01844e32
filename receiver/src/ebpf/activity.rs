//! Process, network and file activity as the kernel reported it, typed:
//! what the capture hands on besides TLS plaintext. Turning these into OISP
//! `process.*`, `network.*` and `file.*` events (and deciding which
//! processes are agents) happens downstream.

use std::net::SocketAddr;

/// IP protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP
    Tcp,
    /// UDP
    Udp,
    /// Any other IP protocol number (0 when unknown).
    Other(u16),
}

impl Protocol {
    /// From the kernel's `sk_protocol`.
    pub fn from_number(n: u16) -> Protocol {
        match n {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            other => Protocol::Other(other),
        }
    }
}

/// One activity record. Every variant carries the process id (`pid`, the
/// tgid) and the monotonic capture time (`ts_mono_ns`, `bpf_ktime_get_ns`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawActivity {
    /// A process replaced its program (`execve`).
    Exec {
        /// Process id.
        pid: u32,
        /// Parent process id.
        ppid: u32,
        /// Real user id.
        uid: u32,
        /// Real group id.
        gid: u32,
        /// cgroup v2 id.
        cgroup_id: u64,
        /// Task name after exec.
        comm: String,
        /// The executed file as passed to execve.
        filename: String,
        /// Arguments (argv), at most 2 KiB in total.
        argv: Vec<String>,
        /// Whether argv was longer and cut.
        argv_truncated: bool,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// The last thread of a process exited.
    Exit {
        /// Process id.
        pid: u32,
        /// Task name.
        comm: String,
        /// Exit code (`exit(n)`), 0 when killed by a signal.
        exit_code: i32,
        /// The signal that killed it, if one did.
        signal: Option<i32>,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// A process created a child process (threads are not reported).
    Fork {
        /// Parent process id.
        parent: u32,
        /// Child process id.
        child: u32,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// `connect(2)` on an IPv4/IPv6 socket.
    Connect {
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// Socket fd.
        fd: i32,
        /// Socket protocol.
        protocol: Protocol,
        /// Local address after the call, when bound.
        local: Option<SocketAddr>,
        /// Destination.
        peer: Option<SocketAddr>,
        /// 0, or -errno (`-115` EINPROGRESS for non-blocking sockets).
        result: i32,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// `accept(2)`/`accept4(2)` of an IPv4/IPv6 connection.
    Accept {
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// Listening socket fd.
        listen_fd: i32,
        /// The new connection's fd.
        fd: i32,
        /// Socket protocol.
        protocol: Protocol,
        /// Local address.
        local: Option<SocketAddr>,
        /// Remote address.
        peer: Option<SocketAddr>,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// A DNS question sent over UDP to port 53.
    DnsQuery {
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// The resolver it was sent to.
        resolver: Option<SocketAddr>,
        /// The question name, lower case, without the final dot.
        name: String,
        /// The question type (1 A, 28 AAAA, ...).
        query_type: u16,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// `openat(2)`, at its return.
    FileOpen {
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// The path, made absolute with the process's cwd or dirfd when possible.
        path: String,
        /// The directory fd a relative path was given against (-100: the cwd).
        dirfd: i32,
        /// `O_*` flags.
        flags: i32,
        /// Creation mode.
        mode: u32,
        /// The new fd, or -errno.
        result: i32,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// `write(2)` to a regular file.
    FileWrite {
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// File descriptor.
        fd: i32,
        /// Bytes asked to write.
        bytes: u64,
        /// The file's path when known.
        path: Option<String>,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// `read(2)` of a regular file that read something, at its return.
    FileRead {
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// File descriptor.
        fd: i32,
        /// Bytes read (more than 0).
        bytes: u64,
        /// File position before the read.
        offset: u64,
        /// File size before the read (0 for most pseudo files).
        size: u64,
        /// The file's path when known.
        path: Option<String>,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// A successful `unlink(2)`/`unlinkat(2)`.
    FileDelete {
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// The path, made absolute with the process's cwd or dirfd when possible.
        path: String,
        /// The directory fd a relative path was given against (-100: the cwd).
        dirfd: i32,
        /// An empty directory was removed (`AT_REMOVEDIR`).
        directory: bool,
        /// Capture time.
        ts_mono_ns: u64,
    },
    /// A successful `rename(2)`/`renameat(2)`/`renameat2(2)`.
    FileRename {
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// The old path, made absolute when possible.
        old_path: String,
        /// The new path, made absolute when possible.
        new_path: String,
        /// The directory fd of a relative old path (-100: the cwd).
        old_dirfd: i32,
        /// The directory fd of a relative new path.
        new_dirfd: i32,
        /// `renameat2` flags (`RENAME_NOREPLACE` 1, `RENAME_EXCHANGE` 2).
        flags: u32,
        /// Capture time.
        ts_mono_ns: u64,
    },
}

impl RawActivity {
    /// The process the activity belongs to (the parent for [`RawActivity::Fork`]).
    pub fn pid(&self) -> u32 {
        match self {
            RawActivity::Exec { pid, .. }
            | RawActivity::Exit { pid, .. }
            | RawActivity::Connect { pid, .. }
            | RawActivity::Accept { pid, .. }
            | RawActivity::DnsQuery { pid, .. }
            | RawActivity::FileOpen { pid, .. }
            | RawActivity::FileWrite { pid, .. }
            | RawActivity::FileRead { pid, .. }
            | RawActivity::FileDelete { pid, .. }
            | RawActivity::FileRename { pid, .. } => *pid,
            RawActivity::Fork { parent, .. } => *parent,
        }
    }

    /// Monotonic capture time in nanoseconds.
    pub fn ts_mono_ns(&self) -> u64 {
        match self {
            RawActivity::Exec { ts_mono_ns, .. }
            | RawActivity::Exit { ts_mono_ns, .. }
            | RawActivity::Fork { ts_mono_ns, .. }
            | RawActivity::Connect { ts_mono_ns, .. }
            | RawActivity::Accept { ts_mono_ns, .. }
            | RawActivity::DnsQuery { ts_mono_ns, .. }
            | RawActivity::FileOpen { ts_mono_ns, .. }
            | RawActivity::FileWrite { ts_mono_ns, .. }
            | RawActivity::FileRead { ts_mono_ns, .. }
            | RawActivity::FileDelete { ts_mono_ns, .. }
            | RawActivity::FileRename { ts_mono_ns, .. } => *ts_mono_ns,
        }
    }
}

/// The first question of a DNS query message: (name, type). `None` for
/// responses, messages without a question, and malformed names.
pub(crate) fn dns_question(msg: &[u8]) -> Option<(String, u16)> {
    let be16 =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?])) };
    let flags = be16(2)?;
    if flags & 0x8000 != 0 || be16(4)? == 0 {
        return None;
    }
    let mut pos = 12;
    let mut name = String::new();
    loop {
        let len = usize::from(*msg.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        // No compression pointers in a question's name.
        if len & 0xc0 != 0 {
            return None;
        }
        let label = msg.get(pos..pos + len)?;
        if !name.is_empty() {
            name.push('.');
        }
        for &b in label {
            if !b.is_ascii_graphic() || b == b'.' {
                return None;
            }
            name.push(char::from(b.to_ascii_lowercase()));
        }
        if name.len() > 253 {
            return None;
        }
        pos += len;
    }
    Some((name, be16(pos)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m
    }

    /// Scenario: an A query for a mixed-case name.
    /// Guarantees: the lower-case name and the type.
    #[test]
    fn parses_a_query() {
        assert_eq!(
            dns_question(&query("API.OpenAI.com", 1)),
            Some(("api.openai.com".into(), 1))
        );
        assert_eq!(
            dns_question(&query("example.org", 28)),
            Some(("example.org".into(), 28))
        );
    }

    /// Scenario: a response, a truncated message, a compression pointer,
    /// a label with a dot or control byte.
    /// Guarantees: none of them yields a name.
    #[test]
    fn rejects_non_queries_and_garbage() {
        let mut response = query("a.b", 1);
        response[2] |= 0x80;
        assert_eq!(dns_question(&response), None);
        let q = query("api.openai.com", 1);
        assert_eq!(dns_question(&q[..q.len() - 3]), None);
        assert_eq!(dns_question(&q[..5]), None);
        let mut ptr = q[..12].to_vec();
        ptr.extend_from_slice(&[0xc0, 0x0c, 0, 1]);
        assert_eq!(dns_question(&ptr), None);
        let mut bad = q[..12].to_vec();
        bad.extend_from_slice(&[3, b'a', b'.', b'b', 0, 0, 1]);
        assert_eq!(dns_question(&bad), None);
        let mut ctl = q[..12].to_vec();
        ctl.extend_from_slice(&[2, b'a', 0x07, 0, 0, 1]);
        assert_eq!(dns_question(&ctl), None);
    }
}
