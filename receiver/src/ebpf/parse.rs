//! Ring-buffer bytes to typed records. Every record starts with the common
//! header (`records.h`); the fixed part is read with `bytemuck` (the layouts
//! are checked against the compiled object), the variable part is
//! `hdr.data_len` bytes after it. Short or unknown records are errors that
//! the capture counts; nothing here panics on bad input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytemuck::Pod;
use oispd_receiver_ebpf::records::{self, flags, kind, Addr, Hdr};

use super::activity::{dns_question, Protocol, RawActivity};
use crate::capture::{Direction, TlsChunk, MAX_UNCAPTURED_BYTES};

/// A record as the kernel wrote it, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KernelRecord {
    /// Plaintext of one SSL_* call.
    TlsData {
        /// The fixed part.
        rec: records::TlsData,
        /// The captured plaintext.
        data: Vec<u8>,
    },
    /// An SSL* got its socket.
    TlsBind(records::TlsBind),
    /// SSL_free of a connection that carried data.
    TlsFree(records::TlsFree),
    /// A new executable mapping of an unexamined file.
    ExecMap(records::ExecMap),
    /// Process, network or file activity.
    Activity(RawActivity),
    /// A record that carries nothing to report (a DNS message without a
    /// parsable question).
    Nothing,
}

impl KernelRecord {
    /// Part of a TLS connection's capture (data, socket, close).
    pub(crate) fn is_tls(&self) -> bool {
        matches!(
            self,
            KernelRecord::TlsData { .. } | KernelRecord::TlsBind(_) | KernelRecord::TlsFree(_)
        )
    }
}

/// Why a record could not be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Shorter than its header says.
    #[error("record of kind {kind} is {len} bytes, shorter than its layout")]
    Short {
        /// Record kind.
        kind: u16,
        /// Bytes received.
        len: usize,
    },
    /// A kind this build does not know.
    #[error("unknown record kind {0}")]
    UnknownKind(u16),
}

/// The fixed part `T` and the variable data after it.
fn split<T: Pod>(bytes: &[u8], hdr: &Hdr) -> Result<(T, Vec<u8>), ParseError> {
    let fixed = std::mem::size_of::<T>();
    let end = fixed.saturating_add(hdr.data_len as usize);
    if bytes.len() < end {
        return Err(ParseError::Short {
            kind: hdr.kind,
            len: bytes.len(),
        });
    }
    Ok((
        bytemuck::pod_read_unaligned(&bytes[..fixed]),
        bytes[fixed..end].to_vec(),
    ))
}

fn fixed<T: Pod>(bytes: &[u8], hdr: &Hdr) -> Result<T, ParseError> {
    let size = std::mem::size_of::<T>();
    if bytes.len() < size {
        return Err(ParseError::Short {
            kind: hdr.kind,
            len: bytes.len(),
        });
    }
    Ok(bytemuck::pod_read_unaligned(&bytes[..size]))
}

/// A kernel socket address, `None` when the family is not IPv4/IPv6.
/// IPv4-mapped IPv6 addresses come out as IPv4.
pub(crate) fn socket_addr(a: &Addr) -> Option<SocketAddr> {
    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    let ip = match a.family {
        AF_INET => IpAddr::V4(Ipv4Addr::new(a.addr[0], a.addr[1], a.addr[2], a.addr[3])),
        AF_INET6 => {
            let v6 = Ipv6Addr::from(a.addr);
            match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            }
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, a.port))
}

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn argv(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The chunks a TLS_DATA record stands for, each with whether it waits for
/// its connection's socket (`BIND_PENDING`): first, when bytes of this
/// connection and direction were lost before it, an empty chunk whose
/// `full_len` is the loss; then the record's own plaintext.
///
/// Both lengths are clamped: the count of an `SSL_*_ex` call is read from
/// the probed process's memory, so a hostile process can report any `u64`
/// (and the kernel adds it into the next record's gap). A call is believed
/// to have moved at least what was captured and at most
/// [`MAX_UNCAPTURED_BYTES`] more; a loss at most that much.
pub(crate) fn tls_chunks(
    rec: &records::TlsData,
    data: Vec<u8>,
) -> impl Iterator<Item = (TlsChunk, bool)> {
    let direction = if rec.hdr.flags & flags::WRITE != 0 {
        Direction::Write
    } else {
        Direction::Read
    };
    let chunk = |data: Vec<u8>, full_len: u64| TlsChunk {
        pid: rec.hdr.pid,
        tid: rec.hdr.tid,
        conn: rec.conn,
        ts_mono_ns: rec.hdr.ts_ns,
        direction,
        data,
        full_len,
        local: None,
        peer: None,
    };
    let captured = data.len() as u64;
    let full_len = rec
        .full_len
        .clamp(captured, captured.saturating_add(MAX_UNCAPTURED_BYTES));
    let lost = rec.gap_bytes.min(MAX_UNCAPTURED_BYTES);
    let gap = (lost > 0).then(|| (chunk(Vec::new(), lost), false));
    let pending = rec.hdr.flags & flags::BIND_PENDING != 0;
    gap.into_iter()
        .chain(std::iter::once((chunk(data, full_len), pending)))
}

/// Parses one ring-buffer record.
pub(crate) fn parse(bytes: &[u8]) -> Result<KernelRecord, ParseError> {
    let hdr: Hdr = fixed(
        bytes,
        &Hdr {
            kind: 0,
            ..Hdr::default()
        },
    )?;
    let ts_mono_ns = hdr.ts_ns;
    let (pid, tid) = (hdr.pid, hdr.tid);
    Ok(match hdr.kind {
        kind::TLS_DATA => {
            let (rec, data) = split::<records::TlsData>(bytes, &hdr)?;
            KernelRecord::TlsData { rec, data }
        }
        kind::TLS_BIND => KernelRecord::TlsBind(fixed(bytes, &hdr)?),
        kind::TLS_FREE => KernelRecord::TlsFree(fixed(bytes, &hdr)?),
        kind::EXEC_MAP => KernelRecord::ExecMap(fixed(bytes, &hdr)?),
        kind::EXEC => {
            let (rec, data) = split::<records::Exec>(bytes, &hdr)?;
            let flen = usize::from(rec.filename_len).min(data.len());
            KernelRecord::Activity(RawActivity::Exec {
                pid,
                ppid: rec.ppid,
                uid: rec.uid,
                gid: rec.gid,
                cgroup_id: rec.cgroup_id,
                comm: text(&rec.comm),
                filename: text(&data[..flen]),
                argv: argv(&data[flen..]),
                argv_truncated: rec.args_truncated != 0,
                ts_mono_ns,
            })
        }
        kind::EXIT => {
            let rec: records::Exit = fixed(bytes, &hdr)?;
            let signal = rec.exit_status & 0x7f;
            KernelRecord::Activity(RawActivity::Exit {
                pid,
                comm: text(&rec.comm),
                exit_code: (rec.exit_status >> 8) & 0xff,
                signal: (signal != 0).then_some(signal),
                ts_mono_ns,
            })
        }
        kind::FORK => {
            let rec: records::Fork = fixed(bytes, &hdr)?;
            KernelRecord::Activity(RawActivity::Fork {
                parent: pid,
                child: rec.child_pid,
                ts_mono_ns,
            })
        }
        kind::CONNECT => {
            let rec: records::Connect = fixed(bytes, &hdr)?;
            KernelRecord::Activity(RawActivity::Connect {
                pid,
                tid,
                fd: rec.fd,
                protocol: Protocol::from_number(rec.protocol),
                local: socket_addr(&rec.local),
                peer: socket_addr(&rec.peer),
                result: rec.ret,
                ts_mono_ns,
            })
        }
        kind::ACCEPT => {
            let rec: records::Accept = fixed(bytes, &hdr)?;
            KernelRecord::Activity(RawActivity::Accept {
                pid,
                tid,
                listen_fd: rec.listen_fd,
                fd: rec.fd,
                protocol: Protocol::from_number(rec.protocol),
                local: socket_addr(&rec.local),
                peer: socket_addr(&rec.peer),
                ts_mono_ns,
            })
        }
        kind::DNS => {
            let (rec, data) = split::<records::Dns>(bytes, &hdr)?;
            match dns_question(&data) {
                Some((name, query_type)) => KernelRecord::Activity(RawActivity::DnsQuery {
                    pid,
                    tid,
                    resolver: socket_addr(&rec.peer),
                    name,
                    query_type,
                    ts_mono_ns,
                }),
                None => KernelRecord::Nothing,
            }
        }
        kind::FILE_OPEN => {
            let (rec, data) = split::<records::FileOpen>(bytes, &hdr)?;
            KernelRecord::Activity(RawActivity::FileOpen {
                pid,
                tid,
                path: text(&data),
                dirfd: rec.dfd,
                flags: rec.flags,
                mode: rec.mode,
                result: rec.ret,
                ts_mono_ns,
            })
        }
        kind::FILE_WRITE => {
            let rec: records::FileWrite = fixed(bytes, &hdr)?;
            KernelRecord::Activity(RawActivity::FileWrite {
                pid,
                tid,
                fd: rec.fd,
                bytes: rec.count,
                path: None,
                ts_mono_ns,
            })
        }
        kind::FILE_READ => {
            let rec: records::FileRead = fixed(bytes, &hdr)?;
            KernelRecord::Activity(RawActivity::FileRead {
                pid,
                tid,
                fd: rec.fd,
                bytes: rec.bytes,
                offset: rec.offset,
                size: rec.size,
                path: None,
                ts_mono_ns,
            })
        }
        kind::FILE_DELETE => {
            const AT_REMOVEDIR: i32 = 0x200;
            let (rec, data) = split::<records::FileDelete>(bytes, &hdr)?;
            KernelRecord::Activity(RawActivity::FileDelete {
                pid,
                tid,
                path: text(&data),
                dirfd: rec.dfd,
                directory: rec.flags & AT_REMOVEDIR != 0,
                ts_mono_ns,
            })
        }
        kind::FILE_RENAME => {
            let (rec, data) = split::<records::FileRename>(bytes, &hdr)?;
            let (old, new) = data.split_at(usize::from(rec.old_len).min(data.len()));
            KernelRecord::Activity(RawActivity::FileRename {
                pid,
                tid,
                old_path: text(old),
                new_path: text(new),
                old_dirfd: rec.old_dfd,
                new_dirfd: rec.new_dfd,
                flags: rec.flags,
                ts_mono_ns,
            })
        }
        other => return Err(ParseError::UnknownKind(other)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn hdr(kind: u16, data_len: u32) -> Hdr {
        Hdr {
            ts_ns: 42,
            pid: 100,
            tid: 101,
            kind,
            flags: 0,
            data_len,
        }
    }

    fn bytes_of<T: Pod>(rec: &T, data: &[u8]) -> Vec<u8> {
        let mut b = bytemuck::bytes_of(rec).to_vec();
        b.extend_from_slice(data);
        // ring records are padded to 8 bytes, plus size-class slack
        b.resize(b.len() + 13, 0xAA);
        b
    }

    /// Scenario: a TLS_DATA record with slack bytes after its data.
    /// Guarantees: exactly data_len bytes of plaintext, the fixed fields intact.
    #[test]
    fn tls_data_takes_exactly_data_len() {
        let mut h = hdr(kind::TLS_DATA, 5);
        h.flags = flags::WRITE;
        let rec = records::TlsData {
            hdr: h,
            conn: 0xdead,
            full_len: 9,
            gap_bytes: 0,
            fd: 3,
            _pad: 0,
        };
        let parsed = parse(&bytes_of(&rec, b"hello")).unwrap();
        assert_eq!(
            parsed,
            KernelRecord::TlsData {
                rec,
                data: b"hello".to_vec()
            }
        );
    }

    /// Scenario: a read record after 700 lost bytes of its direction, a write
    /// record waiting for its socket, and a read whose memory faulted.
    /// Guarantees: the loss comes first as an empty chunk with full_len 700;
    /// directions and pending flags as recorded; the fault is an empty chunk
    /// with the call's full length.
    #[test]
    fn tls_records_become_chunks() {
        let rec = records::TlsData {
            hdr: hdr(kind::TLS_DATA, 3),
            conn: 7,
            full_len: 3,
            gap_bytes: 700,
            fd: 4,
            _pad: 0,
        };
        let out: Vec<_> = tls_chunks(&rec, b"abc".to_vec()).collect();
        assert_eq!(out.len(), 2);
        let (gap, data) = (&out[0], &out[1]);
        assert_eq!((gap.0.data.len(), gap.0.full_len, gap.1), (0, 700, false));
        assert_eq!((data.0.data.as_slice(), data.0.full_len), (&b"abc"[..], 3));
        assert!(out
            .iter()
            .all(|(c, _)| c.direction == Direction::Read && c.conn == 7));

        let mut w = rec;
        w.gap_bytes = 0;
        w.hdr.flags = flags::WRITE | flags::BIND_PENDING;
        let out: Vec<_> = tls_chunks(&w, b"req".to_vec()).collect();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].0.direction, out[0].1), (Direction::Write, true));

        let mut fault = rec;
        fault.gap_bytes = 0;
        fault.full_len = 5000;
        fault.hdr.flags = flags::READ_FAULT;
        let out: Vec<_> = tls_chunks(&fault, Vec::new()).collect();
        assert_eq!((out[0].0.data.len(), out[0].0.full_len), (0, 5000));
    }

    /// Scenario: a hostile process's TLS_DATA record: 42 bytes captured,
    /// `full_len = u64::MAX` (read from its memory by an `SSL_*_ex` probe)
    /// and a `u64::MAX` loss before it; then one claiming fewer bytes than
    /// were captured.
    /// Guarantees: the loss chunk and the data chunk claim at most
    /// MAX_UNCAPTURED_BYTES beyond what they carry; a call moved at least
    /// what was captured.
    #[test]
    fn hostile_lengths_are_clamped() {
        let rec = records::TlsData {
            hdr: hdr(kind::TLS_DATA, 42),
            conn: 7,
            full_len: u64::MAX,
            gap_bytes: u64::MAX,
            fd: 4,
            _pad: 0,
        };
        let out: Vec<_> = tls_chunks(&rec, vec![b'x'; 42]).collect();
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].0.data.len(), out[0].0.full_len),
            (0, MAX_UNCAPTURED_BYTES)
        );
        assert_eq!(
            (out[1].0.data.len(), out[1].0.full_len),
            (42, 42 + MAX_UNCAPTURED_BYTES)
        );
        let mut short = rec;
        short.full_len = 3;
        short.gap_bytes = 0;
        let out: Vec<_> = tls_chunks(&short, vec![b'x'; 42]).collect();
        assert_eq!((out.len(), out[0].0.full_len), (1, 42));
    }

    /// Scenario: records cut short, and an unknown kind.
    /// Guarantees: errors, no panic.
    #[test]
    fn short_and_unknown_records_are_errors() {
        let rec = records::TlsData {
            hdr: hdr(kind::TLS_DATA, 100),
            ..Default::default()
        };
        let b = bytes_of(&rec, b"abc");
        assert!(matches!(parse(&b), Err(ParseError::Short { kind: 1, .. })));
        assert!(matches!(parse(&b[..10]), Err(ParseError::Short { .. })));
        assert!(matches!(parse(&[]), Err(ParseError::Short { .. })));
        let unknown = bytes_of(&hdr(999, 0), b"");
        assert_eq!(parse(&unknown), Err(ParseError::UnknownKind(999)));
    }

    /// Scenario: an exec record with filename and NUL-separated argv.
    /// Guarantees: the Exec activity with each argument.
    #[test]
    fn exec_record() {
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"curl");
        // the kernel writes the filename (without its NUL), then argv
        let filename = b"/usr/bin/curl";
        let args = b"curl\0-s\0https://x/\0";
        let payload = [&filename[..], &args[..]].concat();
        let r = records::Exec {
            hdr: hdr(kind::EXEC, payload.len() as u32),
            ppid: 1,
            old_tid: 100,
            uid: 0,
            gid: 0,
            cgroup_id: 7,
            comm,
            filename_len: filename.len() as u16,
            args_len: args.len() as u16,
            args_truncated: 0,
        };
        match parse(&bytes_of(&r, &payload)).unwrap() {
            KernelRecord::Activity(RawActivity::Exec {
                pid,
                ppid,
                comm,
                filename,
                argv,
                ..
            }) => {
                assert_eq!((pid, ppid), (100, 1));
                assert_eq!(comm, "curl");
                assert_eq!(filename, "/usr/bin/curl");
                assert_eq!(argv, vec!["curl", "-s", "https://x/"]);
            }
            other => panic!("{other:?}"),
        }
    }

    /// Scenario: a file read record, an unlinkat of a directory, a rename
    /// with both paths in the data, and a rename whose old_len overstates
    /// the data.
    /// Guarantees: the fields as the kernel wrote them, the paths split at
    /// old_len, a lying old_len cut to the data instead of a panic.
    #[test]
    fn file_read_delete_rename() {
        let read = records::FileRead {
            hdr: hdr(kind::FILE_READ, 0),
            fd: 7,
            bytes: 4096,
            offset: 8192,
            size: 10000,
            ..Default::default()
        };
        assert_eq!(
            parse(&bytes_of(&read, b"")).unwrap(),
            KernelRecord::Activity(RawActivity::FileRead {
                pid: 100,
                tid: 101,
                fd: 7,
                bytes: 4096,
                offset: 8192,
                size: 10000,
                path: None,
                ts_mono_ns: 42,
            })
        );
        let path = b"build/out";
        let del = records::FileDelete {
            hdr: hdr(kind::FILE_DELETE, path.len() as u32),
            dfd: 5,
            flags: 0x200,
        };
        assert_eq!(
            parse(&bytes_of(&del, path)).unwrap(),
            KernelRecord::Activity(RawActivity::FileDelete {
                pid: 100,
                tid: 101,
                path: "build/out".into(),
                dirfd: 5,
                directory: true,
                ts_mono_ns: 42,
            })
        );
        let paths = b"notes.tmp/tmp/notes.md";
        let mut ren = records::FileRename {
            hdr: hdr(kind::FILE_RENAME, paths.len() as u32),
            old_dfd: -100,
            new_dfd: -100,
            flags: 1,
            old_len: 9,
            _pad: 0,
        };
        match parse(&bytes_of(&ren, paths)).unwrap() {
            KernelRecord::Activity(RawActivity::FileRename {
                old_path,
                new_path,
                flags,
                ..
            }) => {
                assert_eq!(
                    (old_path.as_str(), new_path.as_str()),
                    ("notes.tmp", "/tmp/notes.md")
                );
                assert_eq!(flags, 1);
            }
            other => panic!("{other:?}"),
        }
        ren.old_len = 500;
        match parse(&bytes_of(&ren, paths)).unwrap() {
            KernelRecord::Activity(RawActivity::FileRename {
                old_path, new_path, ..
            }) => {
                assert_eq!(
                    (old_path.as_str(), new_path.as_str()),
                    ("notes.tmp/tmp/notes.md", "")
                );
            }
            other => panic!("{other:?}"),
        }
        let short = bytes_of(&read, b"");
        assert!(matches!(
            parse(&short[..40]),
            Err(ParseError::Short {
                kind: kind::FILE_READ,
                ..
            })
        ));
    }

    /// Scenario: exit statuses of exit(3) and of a SIGKILL.
    /// Guarantees: code and signal are split as wait(2) defines them.
    #[test]
    fn exit_status_decoding() {
        for (status, code, signal) in [(3 << 8, 3, None), (9, 0, Some(9))] {
            let rec = records::Exit {
                hdr: hdr(kind::EXIT, 0),
                exit_status: status,
                ..Default::default()
            };
            match parse(&bytes_of(&rec, b"")).unwrap() {
                KernelRecord::Activity(RawActivity::Exit {
                    exit_code,
                    signal: s,
                    ..
                }) => {
                    assert_eq!(exit_code, code);
                    assert_eq!(s, signal);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    /// Scenario: IPv4, IPv6, v4-mapped IPv6 and unknown-family addresses.
    /// Guarantees: the socket addresses, v4-mapped as IPv4.
    #[test]
    fn addresses() {
        let mut v4 = Addr {
            family: 2,
            port: 443,
            addr: [0; 16],
        };
        v4.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(socket_addr(&v4), Some("127.0.0.1:443".parse().unwrap()));
        let mapped = Addr {
            family: 10,
            port: 8443,
            addr: Ipv4Addr::new(10, 0, 0, 2).to_ipv6_mapped().octets(),
        };
        assert_eq!(socket_addr(&mapped), Some("10.0.0.2:8443".parse().unwrap()));
        let v6 = Addr {
            family: 10,
            port: 53,
            addr: Ipv6Addr::LOCALHOST.octets(),
        };
        assert_eq!(socket_addr(&v6), Some("[::1]:53".parse().unwrap()));
        assert_eq!(socket_addr(&Addr::default()), None);
    }
}
