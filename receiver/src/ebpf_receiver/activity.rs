//! Process, network and file activity as OISP events: `process.exec`,
//! `process.exit`, `process.fork`, `network.connect`, `network.accept`,
//! `network.dns`, `file.open`, `file.read` (one per run of reads, see
//! `reads`), `file.write`, `file.delete` and `file.rename`
//! (`schema/v0.1/events/{process,network,file}.schema.json`), and the
//! enrichment every event of the receiver gets (host, process, actor,
//! container, pod).
//!
//! Provenance is what was really used: `ebpf_tracepoint` with the
//! tracepoint or syscall as capture point. Confidence is `high` (the kernel
//! reported the fact for this very process); completeness is `full` for
//! process events (`partial` when the kernel cut argv) and `metadata_only`
//! for network and file events, whose content is not captured.

use std::net::{IpAddr, SocketAddr};

use oispd_semconv::common::{Container, Host, ProcessInfo};
use oispd_semconv::file::{FileDelete, FileInfo, FileOpen, FileRead, FileRename, FileWrite};
use oispd_semconv::network::{Endpoint, NetworkAccept, NetworkConnect, NetworkDns};
use oispd_semconv::process::{ProcessExec, ProcessExit, ProcessFork};
use oispd_semconv::{
    format_ts_nanos, CaptureMethod, Completeness, Confidence, ConfidenceLevel, EventData,
    OispEvent, Source,
};

use super::reads::ReadRun;
use crate::capture::ProcInfo;
use crate::ebpf::{Protocol, RawActivity};

/// `-EINPROGRESS`: a non-blocking connect that is under way.
const EINPROGRESS: i32 = 115;

/// Converts the kernel's monotonic time (`bpf_ktime_get_ns`) to Unix time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MonoClock {
    offset_ns: i128,
}

impl MonoClock {
    /// The offset read now.
    pub(crate) fn system() -> MonoClock {
        let mono = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let real = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
        let ns = |t: rustix::time::Timespec| {
            i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
        };
        MonoClock {
            offset_ns: ns(real) - ns(mono),
        }
    }

    /// Monotonic time now, in nanoseconds.
    pub(crate) fn now_mono() -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        u64::try_from(i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)).unwrap_or(0)
    }

    /// RFC 3339 time of monotonic `ts`.
    fn ts(self, mono_ns: u64) -> String {
        u64::try_from(i128::from(mono_ns) + self.offset_ns)
            .ok()
            .and_then(format_ts_nanos)
            .unwrap_or_else(oispd_semconv::now_ts)
    }
}

/// The OISP event of one activity record, without enrichment; `None` for
/// records that are no event (a failed `openat`, a write whose file is
/// unknown) and for reads, which become events as runs ([`read_event`]).
pub(crate) fn activity_event(a: &RawActivity, clock: MonoClock) -> Option<OispEvent> {
    let (data, point, completeness, reasons): (EventData, &str, Completeness, Vec<&str>) = match a {
        RawActivity::Exec {
            filename,
            argv,
            argv_truncated,
            ..
        } => {
            let shell = filename.rsplit('/').next().is_some_and(|b| {
                matches!(b, "sh" | "bash" | "dash" | "zsh" | "ksh" | "fish" | "ash")
            });
            let mut reasons = vec!["kernel_tracepoint"];
            reasons.push(if *argv_truncated {
                "argv_truncated"
            } else {
                "full_cmdline_captured"
            });
            (
                EventData::ProcessExec(ProcessExec {
                    exe: filename.clone(),
                    args: (!argv.is_empty()).then(|| argv.clone()),
                    is_shell: Some(shell),
                    ..Default::default()
                }),
                "sched_process_exec",
                if *argv_truncated {
                    Completeness::Partial
                } else {
                    Completeness::Full
                },
                reasons,
            )
        }
        RawActivity::Exit {
            exit_code, signal, ..
        } => (
            EventData::ProcessExit(ProcessExit {
                exit_code: i64::from(*exit_code),
                signal: signal.map(i64::from),
                signal_name: signal.and_then(signal_name).map(str::to_string),
                termination_type: Some(
                    if signal.is_some() {
                        "signaled"
                    } else {
                        "normal"
                    }
                    .into(),
                ),
                ..Default::default()
            }),
            "sched_process_exit",
            Completeness::Full,
            vec!["kernel_tracepoint"],
        ),
        RawActivity::Fork { child, .. } => (
            EventData::ProcessFork(ProcessFork {
                child_pid: *child,
                is_thread: Some(false),
                ..Default::default()
            }),
            "sched_process_fork",
            Completeness::Full,
            vec!["kernel_tracepoint"],
        ),
        RawActivity::Connect {
            protocol,
            local,
            peer,
            result,
            ..
        } => {
            let (success, error) = match *result {
                0 => (Some(true), None),
                r if r == -EINPROGRESS => (None, None),
                r => (Some(false), Some(errno_text(-r))),
            };
            (
                EventData::NetworkConnect(NetworkConnect {
                    dest: peer.map(endpoint).unwrap_or_default(),
                    src: local.map(endpoint),
                    protocol: Some(protocol_name(*protocol).into()),
                    success,
                    error,
                    ..Default::default()
                }),
                "connect",
                Completeness::MetadataOnly,
                vec!["kernel_tracepoint", "syscall_result"],
            )
        }
        RawActivity::Accept {
            protocol,
            local,
            peer,
            ..
        } => (
            EventData::NetworkAccept(NetworkAccept {
                src: peer.map(endpoint).unwrap_or_default(),
                dest: local.map(endpoint),
                protocol: Some(protocol_name(*protocol).into()),
                ..Default::default()
            }),
            "accept",
            Completeness::MetadataOnly,
            vec!["kernel_tracepoint", "syscall_result"],
        ),
        RawActivity::DnsQuery {
            resolver,
            name,
            query_type,
            ..
        } => (
            EventData::NetworkDns(NetworkDns {
                query_name: name.clone(),
                query_type: dns_type(*query_type).into(),
                resolver: resolver.map(|r| r.ip().to_string()),
                ..Default::default()
            }),
            "sendto",
            Completeness::MetadataOnly,
            vec!["kernel_tracepoint", "dns_question_parsed"],
        ),
        RawActivity::FileOpen {
            path,
            flags,
            result,
            ..
        } => {
            if *result < 0 {
                return None;
            }
            (
                EventData::FileOpen(FileOpen {
                    path: path.clone(),
                    flags: open_flags(*flags),
                    fd: Some(i64::from(*result)),
                    file: Some(file_info(path)),
                    ..Default::default()
                }),
                "openat",
                Completeness::MetadataOnly,
                vec!["kernel_tracepoint", "syscall_result"],
            )
        }
        RawActivity::FileWrite { bytes, path, .. } => {
            let path = path.as_ref()?;
            (
                EventData::FileWrite(FileWrite {
                    path: path.clone(),
                    bytes_written: Some(*bytes),
                    file: Some(file_info(path)),
                    ..Default::default()
                }),
                "write",
                Completeness::MetadataOnly,
                vec!["kernel_tracepoint"],
            )
        }
        RawActivity::FileRead { .. } => return None,
        RawActivity::FileDelete {
            path, directory, ..
        } => {
            let mut file = file_info(path);
            file.is_directory = directory.then_some(true);
            (
                EventData::FileDelete(FileDelete {
                    path: path.clone(),
                    file: Some(file),
                    ..Default::default()
                }),
                "unlink",
                Completeness::MetadataOnly,
                vec!["kernel_tracepoint", "syscall_result"],
            )
        }
        RawActivity::FileRename {
            old_path,
            new_path,
            flags,
            ..
        } => {
            const RENAME_NOREPLACE: u32 = 1;
            const RENAME_EXCHANGE: u32 = 2;
            (
                EventData::FileRename(FileRename {
                    old_path: old_path.clone(),
                    new_path: new_path.clone(),
                    // Only these flags tell: the call succeeded without
                    // replacing anything.
                    overwrote: (flags & (RENAME_NOREPLACE | RENAME_EXCHANGE) != 0).then_some(false),
                    file: Some(file_info(new_path)),
                    ..Default::default()
                }),
                "rename",
                Completeness::MetadataOnly,
                vec!["kernel_tracepoint", "syscall_result"],
            )
        }
    };
    Some(tracepoint_event(
        data,
        point,
        completeness,
        reasons,
        a.ts_mono_ns(),
        clock,
    ))
}

/// The `file.read` of a run of reads, without enrichment: the bytes of all
/// its calls, the offset of the first, whether the whole file was read when
/// that can be told, and the fd (a key beyond the schema's, which allows
/// it) that ties the read to its `file.open`.
pub(crate) fn read_event(run: &ReadRun, clock: MonoClock) -> OispEvent {
    let mut file = file_info(&run.path);
    file.size = (run.size > 0).then_some(run.size);
    let mut extra = oispd_semconv::common::Extra::new();
    extra.insert("fd".into(), run.fd.into());
    let mut reasons = vec!["kernel_tracepoint", "syscall_result"];
    if run.reads > 1 {
        reasons.push("reads_merged");
    }
    tracepoint_event(
        EventData::FileRead(FileRead {
            path: run.path.clone(),
            bytes_read: Some(run.bytes),
            offset: i64::try_from(run.offset).ok(),
            complete: run.complete(),
            file: Some(file),
            extra,
            ..Default::default()
        }),
        "read",
        Completeness::MetadataOnly,
        reasons,
        run.first_ts,
        clock,
    )
}

/// An event the kernel reported through a tracepoint at monotonic `ts`.
fn tracepoint_event(
    data: EventData,
    point: &str,
    completeness: Completeness,
    reasons: Vec<&str>,
    ts: u64,
    clock: MonoClock,
) -> OispEvent {
    let mut confidence = Confidence::new(ConfidenceLevel::High, completeness);
    confidence.reasons = Some(reasons.into_iter().map(str::to_string).collect());
    confidence.process_attribution = Some("direct".into());
    confidence.content_source = Some("none".into());
    let mut ev = OispEvent::new(
        data,
        Source::oispd(CaptureMethod::EbpfTracepoint, point),
        confidence,
    );
    ev.ts = clock.ts(ts);
    ev.ts_mono = Some(ts);
    ev
}

/// The thread of an activity record (the process for records without one).
pub(crate) fn activity_tid(a: &RawActivity) -> u32 {
    match a {
        RawActivity::Connect { tid, .. }
        | RawActivity::Accept { tid, .. }
        | RawActivity::DnsQuery { tid, .. }
        | RawActivity::FileOpen { tid, .. }
        | RawActivity::FileWrite { tid, .. }
        | RawActivity::FileRead { tid, .. }
        | RawActivity::FileDelete { tid, .. }
        | RawActivity::FileRename { tid, .. } => *tid,
        other => other.pid(),
    }
}

/// Stamps host, process, actor, container and pod on an event of `pid`.
pub(crate) fn enrich(ev: &mut OispEvent, pid: u32, tid: u32, info: Option<&ProcInfo>, host: &Host) {
    let mut host = host.clone();
    match info {
        Some(p) => {
            ev.process = Some(p.to_process(tid));
            ev.actor = p.to_actor();
            if let Some(id) = &p.container_id {
                host.container.get_or_insert_with(Container::default).id = Some(id.clone());
            }
            p.fill_k8s(&mut host.k8s);
        }
        None => {
            ev.actor = None;
            ev.process = Some(ProcessInfo {
                pid: Some(pid),
                thread_id: Some(tid),
                ..ProcessInfo::default()
            });
        }
    }
    ev.host = Some(host);
}

fn endpoint(addr: SocketAddr) -> Endpoint {
    Endpoint {
        ip: Some(addr.ip().to_string()),
        port: Some(addr.port()),
        is_private: Some(is_private(addr.ip())),
        ..Default::default()
    }
}

/// Loopback, RFC 1918, link-local, CGNAT and IPv6 unique-local addresses.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (s[0] & 0xfe00) == 0xfc00
                    || (s[0] & 0xffc0) == 0xfe80
            }
        },
    }
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Other(_) => "other",
    }
}

fn dns_type(t: u16) -> &'static str {
    match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        _ => "other",
    }
}

/// The schema's open flags of `O_*` flags.
fn open_flags(flags: i32) -> Vec<String> {
    const O_WRONLY: i32 = 0o1;
    const O_RDWR: i32 = 0o2;
    const O_CREAT: i32 = 0o100;
    const O_EXCL: i32 = 0o200;
    const O_TRUNC: i32 = 0o1000;
    const O_APPEND: i32 = 0o2000;
    let mut out = Vec::new();
    match flags & 0o3 {
        O_WRONLY => out.push("write"),
        O_RDWR => out.extend(["read", "write"]),
        _ => out.push("read"),
    }
    for (bit, name) in [
        (O_APPEND, "append"),
        (O_CREAT, "create"),
        (O_TRUNC, "truncate"),
        (O_EXCL, "exclusive"),
    ] {
        if flags & bit != 0 {
            out.push(name);
        }
    }
    out.into_iter().map(str::to_string).collect()
}

fn file_info(path: &str) -> FileInfo {
    let name = path.rsplit('/').next().filter(|n| !n.is_empty());
    let extension = name
        .and_then(|n| n.rsplit_once('.'))
        .filter(|(stem, ext)| !stem.is_empty() && !ext.is_empty())
        .map(|(_, ext)| ext.to_string());
    FileInfo {
        path: Some(path.to_string()),
        name: name.map(str::to_string),
        extension,
        ..Default::default()
    }
}

/// The C library's text for an errno, without Rust's "(os error N)".
fn errno_text(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rsplit_once(" (os error") {
        Some((t, _)) => t.to_lowercase(),
        None => text,
    }
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::capture::PodIdentity;
    use serde_json::json;

    fn data(a: &RawActivity) -> serde_json::Value {
        let ev = activity_event(a, MonoClock::system()).unwrap();
        assert_eq!(ev.ts_mono, Some(a.ts_mono_ns()));
        serde_json::to_value(&ev).unwrap()
    }

    /// Scenario: an exec with a truncated argv, an exit by signal, a fork.
    /// Guarantees: the process event data, provenance and honest completeness.
    #[test]
    fn process_events() {
        let v = data(&RawActivity::Exec {
            pid: 9,
            ppid: 1,
            uid: 0,
            gid: 0,
            cgroup_id: 1,
            comm: "bash".into(),
            filename: "/usr/bin/bash".into(),
            argv: vec!["bash".into(), "-c".into()],
            argv_truncated: true,
            ts_mono_ns: 5,
        });
        assert_eq!(v["event_type"], "process.exec");
        assert_eq!(
            v["data"],
            json!({"exe": "/usr/bin/bash", "args": ["bash", "-c"], "is_shell": true})
        );
        assert_eq!(v["source"]["capture_method"], "ebpf_tracepoint");
        assert_eq!(v["source"]["capture_point"], "sched_process_exec");
        assert_eq!(v["confidence"]["completeness"], "partial");
        let v = data(&RawActivity::Exit {
            pid: 9,
            comm: "bash".into(),
            exit_code: 0,
            signal: Some(9),
            ts_mono_ns: 6,
        });
        assert_eq!(
            v["data"],
            json!({"exit_code": 0, "signal": 9, "signal_name": "SIGKILL", "termination_type": "signaled"})
        );
        let v = data(&RawActivity::Fork {
            parent: 9,
            child: 10,
            ts_mono_ns: 7,
        });
        assert_eq!(v["data"], json!({"child_pid": 10, "is_thread": false}));
    }

    /// Scenario: connects that succeed, are in progress and are refused; an accept; a DNS question.
    /// Guarantees: endpoints with privacy, protocol, success/error as the syscall said.
    #[test]
    fn network_events() {
        let conn = |result| RawActivity::Connect {
            pid: 1,
            tid: 2,
            fd: 3,
            protocol: Protocol::Tcp,
            local: Some("10.0.0.2:40000".parse().unwrap()),
            peer: Some("104.18.7.192:443".parse().unwrap()),
            result,
            ts_mono_ns: 1,
        };
        let v = data(&conn(0));
        assert_eq!(
            v["data"]["dest"],
            json!({"ip": "104.18.7.192", "port": 443, "is_private": false})
        );
        assert_eq!(v["data"]["src"]["is_private"], true);
        assert_eq!(
            (&v["data"]["protocol"], &v["data"]["success"]),
            (&json!("tcp"), &json!(true))
        );
        assert_eq!(v["confidence"]["completeness"], "metadata_only");
        assert!(data(&conn(-115))["data"].get("success").is_none());
        let refused = data(&conn(-111));
        assert_eq!(refused["data"]["success"], false);
        assert_eq!(refused["data"]["error"], "connection refused");
        let v = data(&RawActivity::Accept {
            pid: 1,
            tid: 1,
            listen_fd: 3,
            fd: 4,
            protocol: Protocol::Tcp,
            local: Some("[::1]:443".parse().unwrap()),
            peer: Some("[::1]:5555".parse().unwrap()),
            ts_mono_ns: 1,
        });
        assert_eq!(
            v["data"]["src"],
            json!({"ip": "::1", "port": 5555, "is_private": true})
        );
        let v = data(&RawActivity::DnsQuery {
            pid: 1,
            tid: 1,
            resolver: Some("127.0.0.53:53".parse().unwrap()),
            name: "api.openai.com".into(),
            query_type: 28,
            ts_mono_ns: 1,
        });
        assert_eq!(
            v["data"],
            json!({"query_name": "api.openai.com", "query_type": "AAAA", "resolver": "127.0.0.53"})
        );
    }

    /// Scenario: an open for append+create, a failed open, writes with and without a known path.
    /// Guarantees: schema flags and file info; no event where there is no file.
    #[test]
    fn file_events() {
        let open = |result| RawActivity::FileOpen {
            pid: 1,
            tid: 1,
            path: "/tmp/out/notes.md".into(),
            dirfd: -100,
            flags: 0o1 | 0o100 | 0o2000,
            mode: 0o644,
            result,
            ts_mono_ns: 1,
        };
        let v = data(&open(5));
        assert_eq!(v["data"]["flags"], json!(["write", "append", "create"]));
        assert_eq!(v["data"]["fd"], 5);
        assert_eq!(
            v["data"]["file"],
            json!({"path": "/tmp/out/notes.md", "name": "notes.md", "extension": "md"})
        );
        assert!(activity_event(&open(-2), MonoClock::system()).is_none());
        let write = |path: Option<&str>| RawActivity::FileWrite {
            pid: 1,
            tid: 1,
            fd: 5,
            bytes: 20,
            path: path.map(str::to_string),
            ts_mono_ns: 1,
        };
        assert_eq!(data(&write(Some("/tmp/x")))["data"]["bytes_written"], 20);
        assert!(activity_event(&write(None), MonoClock::system()).is_none());
        assert_eq!(open_flags(0), vec!["read"]);
        assert_eq!(
            open_flags(0o2 | 0o1000 | 0o200),
            vec!["read", "write", "truncate", "exclusive"]
        );
    }

    fn schema() -> oispd_semconv::schema::OispSchema {
        let dir = std::env::var_os("OISP_SPEC_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/oisp-spec")
            });
        oispd_semconv::schema::OispSchema::load(dir).unwrap()
    }

    /// Scenario: a run of three reads from the start of a 10,000-byte file,
    /// a single read of a pseudo file, an unlinkat of a directory, a plain
    /// rename and a renameat2 with RENAME_NOREPLACE.
    /// Guarantees: file.read carries the run's bytes, offset, completeness,
    /// size, fd and the time of its first read; file.delete and file.rename
    /// carry their paths (overwrote only where the flags tell); every one
    /// validates against the OISP schema.
    #[test]
    fn read_delete_rename_events() {
        let schema = schema();
        let clock = MonoClock::system();
        let mut reads = super::super::reads::FileReads::default();
        let read = |offset, bytes, size, ts| super::super::reads::Read {
            pid: 1,
            tid: 2,
            fd: 7,
            path: "/w/src/main.rs".into(),
            bytes,
            offset,
            size,
            ts_mono_ns: ts,
        };
        reads.read(read(0, 4096, 10_000, 5));
        reads.read(read(4096, 4096, 10_000, 6));
        reads.read(read(8192, 1808, 10_000, 7));
        let run = reads.drain().pop().unwrap();
        let ev = read_event(&run, clock);
        assert_eq!(ev.ts_mono, Some(5));
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["event_type"], "file.read");
        assert_eq!(
            v["data"],
            json!({"path": "/w/src/main.rs", "bytes_read": 10000, "offset": 0, "complete": true, "fd": 7,
                   "file": {"path": "/w/src/main.rs", "name": "main.rs", "extension": "rs", "size": 10000}})
        );
        assert_eq!(v["source"]["capture_point"], "read");
        assert_eq!(v["confidence"]["completeness"], "metadata_only");
        assert_eq!(
            v["confidence"]["reasons"],
            json!(["kernel_tracepoint", "syscall_result", "reads_merged"])
        );
        schema.validate(&v).unwrap();

        let mut pseudo = read(0, 900, 0, 9);
        pseudo.path = "/proc/self/status".into();
        reads.read(pseudo);
        let v = serde_json::to_value(read_event(&reads.drain()[0], clock)).unwrap();
        assert!(v["data"].get("complete").is_none());
        assert!(v["data"]["file"].get("size").is_none());
        assert_eq!(
            v["confidence"]["reasons"],
            json!(["kernel_tracepoint", "syscall_result"])
        );
        schema.validate(&v).unwrap();

        let v = data(&RawActivity::FileDelete {
            pid: 1,
            tid: 1,
            path: "/w/build".into(),
            dirfd: -100,
            directory: true,
            ts_mono_ns: 1,
        });
        assert_eq!(v["event_type"], "file.delete");
        assert_eq!(
            v["data"],
            json!({"path": "/w/build", "file": {"path": "/w/build", "name": "build", "is_directory": true}})
        );
        assert_eq!(v["source"]["capture_point"], "unlink");
        schema.validate(&v).unwrap();

        let rename = |flags| RawActivity::FileRename {
            pid: 1,
            tid: 1,
            old_path: "/w/notes.tmp".into(),
            new_path: "/w/notes.md".into(),
            old_dirfd: -100,
            new_dirfd: -100,
            flags,
            ts_mono_ns: 1,
        };
        let v = data(&rename(0));
        assert_eq!(v["event_type"], "file.rename");
        assert_eq!(
            v["data"],
            json!({"old_path": "/w/notes.tmp", "new_path": "/w/notes.md",
                   "file": {"path": "/w/notes.md", "name": "notes.md", "extension": "md"}})
        );
        schema.validate(&v).unwrap();
        assert_eq!(data(&rename(1))["data"]["overwrote"], false);
        assert!(activity_event(
            &RawActivity::FileRead {
                pid: 1,
                tid: 1,
                fd: 3,
                bytes: 1,
                offset: 0,
                size: 1,
                path: Some("/x".into()),
                ts_mono_ns: 1,
            },
            clock
        )
        .is_none());
    }

    /// Scenario: enrichment with a containerised process, and with an unknown one.
    /// Guarantees: process, actor, container and pod are set; the unknown keeps pid and tid.
    #[test]
    fn enrichment() {
        let host = Host {
            hostname: Some("h".into()),
            ..Default::default()
        };
        let info = ProcInfo {
            pid: 7,
            ppid: Some(1),
            name: Some("node".into()),
            uid: Some(1000),
            user: Some("alice".into()),
            container_id: Some("c".repeat(64)),
            pod_uid: Some("p".into()),
            pod: Some(PodIdentity {
                namespace: "ai-team".into(),
                pod_name: "agent-7d9f".into(),
                container_name: Some("agent".into()),
            }),
            ..Default::default()
        };
        let mut ev = activity_event(
            &RawActivity::Fork {
                parent: 7,
                child: 8,
                ts_mono_ns: 1,
            },
            MonoClock::system(),
        )
        .unwrap();
        enrich(&mut ev, 7, 7, Some(&info), &host);
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["process"]["pid"], 7);
        assert_eq!(v["process"]["ppid"], 1);
        assert_eq!(v["process"]["name"], "node");
        assert_eq!(v["actor"], json!({"uid": 1000, "user": "alice"}));
        assert_eq!(v["host"]["hostname"], "h");
        assert_eq!(v["host"]["container"]["id"], "c".repeat(64));
        assert_eq!(
            v["host"]["k8s"],
            json!({"namespace": "ai-team", "pod_name": "agent-7d9f", "pod_uid": "p",
                   "container_name": "agent"})
        );
        enrich(&mut ev, 9, 10, None, &host);
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["process"], json!({"pid": 9, "thread_id": 10}));
        assert!(v.get("actor").is_none());
    }
}
