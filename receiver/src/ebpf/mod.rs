//! The kernel capture: loads oispd's eBPF object (`oispd-receiver-ebpf`),
//! attaches its tracepoints and the `SSL_*` uprobes to every OpenSSL on the
//! host (and the AEAD uprobes to every aws-lc that rustls uses), drains the ring buffer and hands on typed records: TLS plaintext as
//! [`TlsChunk`]s (for `crate::capture` to decode) and process, network and
//! file activity as [`RawActivity`].
//!
//! ```no_run
//! # async fn run() -> Result<(), oispd_receiver::ebpf::CaptureError> {
//! use oispd_receiver::ebpf::{CaptureRecord, EbpfCapture, EbpfCaptureConfig};
//! let mut capture = EbpfCapture::start(&EbpfCaptureConfig::default())?;
//! while let Some(record) = capture.next().await {
//!     match record {
//!         CaptureRecord::Tls(chunk) => { /* decode */ }
//!         CaptureRecord::TlsClosed { .. } => { /* end of a connection */ }
//!         CaptureRecord::Activity(activity) => { /* process / network / file */ }
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Module map: [`config`] (settings), `preflight` (capabilities, BTF,
//! tracefs), `loader` (aya load and tracepoints), `probes` + `elf` +
//! `exam_cache` + `probe_points` + [`boringssl`] + `aws_lc` + `tls_stack` (which files to uprobe, and where), `parse` (ring bytes
//! to records), `aead_records` (what a TLS record captured at aws-lc's
//! AEAD functions holds), `conns` (socket addresses per connection, and
//! the pairing of AEAD contexts into connections), `filter`
//! (include/exclude, file paths), `procfs` (/proc reading), [`activity`]
//! (the activity types).

pub mod activity;
mod aead_records;
mod aws_lc;
pub mod boringssl;
pub mod config;
mod conns;
mod elf;
mod error;
mod exam_cache;
mod filter;
mod loader;
mod pace;
mod parse;
mod preflight;
mod probe_points;
mod probes;
mod procfs;
mod tls_stack;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Instant;

use aya::maps::{MapData, RingBuf};
use oispd_component::ComponentConfig;
use oispd_receiver_ebpf::records::{drop_counter, flags};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub use activity::{Protocol, RawActivity};
pub use config::{ActivityMode, EbpfCaptureConfig, ProcessMatch};
pub use error::CaptureError;
pub use preflight::CAPABILITIES as REQUIRED_CAPABILITIES;

use crate::capture::TlsChunk;
use aead_records::{record_content, RecordContent};
use conns::Conns;
pub use exam_cache::ProbeMethod;
use filter::{basename, PathFilter, ProcessFilter, ProcessInfo};
use loader::{KernelMaps, SKIP, TRACE};
use pace::PollPace;
use parse::{parse, socket_addr, tls_chunks, KernelRecord, ParseError};
use probes::LibraryProbes;
pub use probes::{ProbedBinary, UnhookedBinary};
pub use tls_stack::TlsStack;

/// Parses one ring-buffer record as the capture does and, for TLS
/// plaintext, returns the chunks it would hand to the decoder (a loss
/// chunk first when bytes were lost). `None` when the record does not
/// parse; no chunks for a record that is not TLS data. What the fuzz
/// targets (`fuzz/`) drive without a kernel; the bytes are whatever a ring
/// buffer could hold, and the lengths in them are a probed process's word.
#[doc(hidden)]
pub fn parse_ring_record(bytes: &[u8]) -> Option<Vec<TlsChunk>> {
    Some(match parse(bytes).ok()? {
        KernelRecord::TlsData { rec, data } => tls_chunks(&rec, data)
            .filter_map(|(mut chunk, _)| {
                let aead = rec.hdr.flags & flags::AEAD != 0;
                let tls12 = rec.hdr.flags & flags::TLS12 != 0;
                let keep =
                    !aead || record_content(&mut chunk, tls12) == RecordContent::ApplicationData;
                keep.then_some(chunk)
            })
            .collect(),
        KernelRecord::TlsBind(b) => {
            // The addresses a bind record carries, parsed as the capture does.
            let _ = (socket_addr(&b.local), socket_addr(&b.peer));
            Vec::new()
        }
        _ => Vec::new(),
    })
}

/// One record of the capture.
#[derive(Clone, Debug)]
pub enum CaptureRecord {
    /// Plaintext of one `SSL_read`/`SSL_write` call. A chunk with empty
    /// `data` and `full_len > 0` stands for bytes of that connection and
    /// direction that were lost (ring buffer full) before the next chunk.
    Tls(TlsChunk),
    /// `SSL_free` of a connection that carried data: its stream is over (the
    /// `SSL*` value may be reused by a new connection afterwards).
    TlsClosed {
        /// Process id.
        pid: u32,
        /// The `SSL*`.
        conn: u64,
        /// Monotonic capture time (`bpf_ktime_get_ns`).
        ts_mono_ns: u64,
    },
    /// Process, network or file activity.
    Activity(RawActivity),
}

/// Records lost so far, by where they were lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureDrops {
    /// TLS plaintext records lost because the ring buffer was full.
    pub tls_records: u64,
    /// Plaintext bytes in those records.
    pub tls_bytes: u64,
    /// Activity records (exec, connect, file, ...) lost, ring buffer full.
    pub activity_records: u64,
    /// `SSL_*` calls not tracked because the in-flight call map was full.
    pub untracked_calls: u64,
    /// Activity records skipped because the per-CPU scratch buffer was busy.
    pub scratch_busy: u64,
    /// TLS calls whose plaintext could not be read from the process's memory.
    pub read_faults: u64,
    /// Calls of aws-lc's AEAD functions whose arguments were not a TLS
    /// record's (another user of the cipher, or a misplaced probe): not
    /// captured.
    pub aead_not_tls_records: u64,
    /// Records user space could not parse.
    pub malformed_records: u64,
}

/// Paths of open files per process, for file read and write records.
const MAX_FD_PATHS_PER_PID: usize = 4096;

/// The running kernel capture. Dropping it detaches every probe.
pub struct EbpfCapture {
    ring: AsyncFd<RingBuf<MapData>>,
    ebpf: aya::Ebpf,
    maps: KernelMaps,
    probes: LibraryProbes,
    filter: ProcessFilter,
    paths: PathFilter,
    conns: Conns,
    fd_paths: HashMap<u32, HashMap<i32, String>>,
    ready: VecDeque<CaptureRecord>,
    poll: PollPace,
    malformed: u64,
    mono_to_unix_ns: i128,
}

impl EbpfCapture {
    /// Checks the machine, loads and attaches everything, and probes every
    /// OpenSSL found. Must be called inside a tokio runtime.
    ///
    /// Errors say what to do: not root, no kernel BTF, no tracefs (mounted
    /// here when missing and possible), BPF refused, a configured library
    /// that is not an OpenSSL.
    pub fn start(config: &EbpfCaptureConfig) -> Result<EbpfCapture, CaptureError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(CaptureError::Config(problems.join("; ")));
        }
        let filter = ProcessFilter::new(&config.include, &config.exclude)?;
        let paths = PathFilter::new(&config.file_paths)?;
        preflight::check()?;

        let loader::Loaded {
            mut ebpf,
            ring,
            mut maps,
        } = loader::load(config, std::process::id(), single_target(config))?;

        let mut probes = LibraryProbes::default();
        for lib in &config.libraries {
            probes.examine_required(&mut ebpf, &mut maps, lib)?;
        }
        probes.scan_standard_locations(&mut ebpf, &mut maps);
        probes.scan_all_processes(&mut ebpf, &mut maps);
        tracing::info!(
            probed_files = probes.attached().len(),
            ring_buffer_size = config.ring_buffer_size,
            max_body_bytes = config.max_body_bytes,
            "ebpf capture started"
        );

        if tokio::runtime::Handle::try_current().is_err() {
            return Err(CaptureError::Io {
                context: "EbpfCapture::start must run inside a tokio runtime".into(),
                source: std::io::Error::other("no tokio runtime"),
            });
        }
        // SAFETY: the RingBuf owns the map's fd (an OwnedFd in MapData); it
        // stays open and as_raw_fd returns that same fd until the AsyncFd,
        // which owns the RingBuf, is dropped.
        let ring =
            unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }.map_err(|e| {
                CaptureError::Io {
                    context: "registering the ring buffer with tokio".into(),
                    source: e.into(),
                }
            })?;
        Ok(EbpfCapture {
            ring,
            ebpf,
            maps,
            probes,
            filter,
            paths,
            conns: Conns::default(),
            fd_paths: HashMap::new(),
            ready: VecDeque::new(),
            poll: PollPace::new(Instant::now()),
            malformed: 0,
            mono_to_unix_ns: mono_to_unix_offset(),
        })
    }

    /// The next record; `None` only when the ring buffer fails. Cancel safe
    /// (no record is lost when the future is dropped, e.g. in `select!`).
    pub async fn next(&mut self) -> Option<CaptureRecord> {
        loop {
            if let Some(record) = self.try_next() {
                return Some(record);
            }
            let deadline = self.conns.next_deadline();
            let record = {
                let ring = &mut self.ring;
                let poll = &mut self.poll;
                tokio::select! {
                    guard = ring.readable_mut() => match guard {
                        Ok(mut guard) => {
                            let record = guard.get_inner_mut().next().map(|item| parse(&item));
                            if record.is_none() {
                                guard.clear_ready();
                            }
                            record
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "ebpf ring buffer failed");
                            return None;
                        }
                    },
                    () = sleep_until(deadline) => None,
                    () = poll.tick() => None,
                }
            };
            if let Some(record) = record {
                self.handle(record);
            }
            let expired = self.conns.expire(Instant::now());
            self.ready
                .extend(expired.into_iter().map(CaptureRecord::Tls));
        }
    }

    /// The next record if one is ready now, without waiting: a consumer
    /// that got a record from [`EbpfCapture::next`] takes what else the
    /// ring holds with this, instead of a trip through its event loop per
    /// record.
    pub fn try_next(&mut self) -> Option<CaptureRecord> {
        loop {
            if let Some(record) = self.ready.pop_front() {
                return Some(record);
            }
            let record = self.ring.get_mut().next().map(|item| parse(&item))?;
            self.handle(record);
        }
    }

    /// Records lost so far.
    pub fn dropped(&self) -> CaptureDrops {
        let k = |c| self.maps.drop_count(c);
        CaptureDrops {
            tls_records: k(drop_counter::TLS_RECORDS),
            tls_bytes: k(drop_counter::TLS_BYTES),
            activity_records: k(drop_counter::ACTIVITY),
            untracked_calls: k(drop_counter::CALL_MAP_FULL),
            scratch_busy: k(drop_counter::SCRATCH_BUSY),
            read_faults: k(drop_counter::READ_FAULTS),
            aead_not_tls_records: k(drop_counter::AEAD_SHAPE),
            malformed_records: self.malformed,
        }
    }

    /// Marks a process as an AI agent: with `activity: agents`, its file
    /// activity (and that of children it forks from now on) is captured.
    pub fn trace_pid(&mut self, pid: u32) {
        self.maps.set_pid_flag(pid, TRACE, true);
    }

    /// The files whose `SSL_*` functions are probed, with the method.
    pub fn probed_binaries(&self) -> &[ProbedBinary] {
        self.probes.attached()
    }

    /// Binaries found doing TLS that oispd cannot hook (the first ones;
    /// [`Self::unhooked_counts`] counts them all).
    pub fn unhooked_binaries(&self) -> &[UnhookedBinary] {
        self.probes.unhooked()
    }

    /// Distinct binaries found doing TLS that oispd cannot hook, per library.
    pub fn unhooked_counts(&self) -> Vec<(TlsStack, u64)> {
        self.probes.unhooked_counts()
    }

    /// Probes one more library or executable (like a `libraries` entry).
    pub fn probe_library(&mut self, path: &Path) -> Result<(), CaptureError> {
        self.probes
            .examine_required(&mut self.ebpf, &mut self.maps, path)
    }

    /// Converts a record's monotonic time to Unix time in nanoseconds.
    pub fn unix_time_ns(&self, ts_mono_ns: u64) -> u64 {
        u64::try_from(i128::from(ts_mono_ns) + self.mono_to_unix_ns).unwrap_or(0)
    }

    /// Whether `pid` is captured; a new exclusion is also pushed to the kernel.
    fn admit(&mut self, pid: u32) -> bool {
        let d = self.filter.check(pid);
        if d.new && !d.captured {
            self.maps.set_pid_flag(pid, SKIP, true);
        }
        d.captured
    }

    fn handle(&mut self, record: Result<KernelRecord, ParseError>) {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                self.malformed += 1;
                tracing::debug!(error = %e, "malformed ring buffer record");
                return;
            }
        };
        if record.is_tls() {
            self.poll.record_seen();
        }
        match record {
            KernelRecord::TlsData { rec, data } => self.tls_data(rec, data),
            KernelRecord::TlsBind(b) => {
                let (local, peer) = (socket_addr(&b.local), socket_addr(&b.peer));
                let released = if b.hdr.flags & flags::AEAD != 0 {
                    self.conns.bind_aead(b.hdr.pid, b.conn, b.fd, local, peer)
                } else {
                    self.conns.bind(b.hdr.pid, b.conn, local, peer)
                };
                self.ready
                    .extend(released.into_iter().map(CaptureRecord::Tls));
            }
            KernelRecord::TlsFree(f) => self.tls_closed(f.hdr.pid, f.conn, f.hdr.ts_ns),
            KernelRecord::ExecMap(m) => {
                self.probes
                    .scan_process(&mut self.ebpf, &mut self.maps, m.hdr.pid);
                // Marked only once examined: if the process was gone, the
                // next mapping of the file reports it again.
                if self.probes.is_examined(m.dev, m.ino) {
                    self.maps.mark_seen(m.dev, m.ino);
                }
            }
            KernelRecord::Activity(a) => self.activity(a),
            KernelRecord::Nothing => {}
        }
    }

    /// The connection `conn` of `pid` is over: its held chunks, then the
    /// close, under the connection's id.
    fn tls_closed(&mut self, pid: u32, conn: u64, ts_mono_ns: u64) {
        let (conn, released) = self.conns.free(pid, conn);
        self.ready
            .extend(released.into_iter().map(CaptureRecord::Tls));
        if self.admit(pid) {
            self.ready.push_back(CaptureRecord::TlsClosed {
                pid,
                conn,
                ts_mono_ns,
            });
        }
    }

    fn tls_data(&mut self, rec: oispd_receiver_ebpf::records::TlsData, data: Vec<u8>) {
        if !self.admit(rec.hdr.pid) {
            return;
        }
        let aead = rec.hdr.flags & flags::AEAD != 0;
        let tls12 = rec.hdr.flags & flags::TLS12 != 0;
        let now = Instant::now();
        for (mut chunk, bind_pending) in tls_chunks(&rec, data) {
            if aead {
                match record_content(&mut chunk, tls12) {
                    RecordContent::ApplicationData => {}
                    RecordContent::CloseNotify => {
                        self.tls_closed(chunk.pid, chunk.conn, chunk.ts_mono_ns);
                        continue;
                    }
                    RecordContent::Other => continue,
                }
            }
            let ready = &mut self.ready;
            self.conns.chunk(chunk, bind_pending, now, &mut |c| {
                ready.push_back(CaptureRecord::Tls(c));
            });
        }
    }

    fn activity(&mut self, mut a: RawActivity) {
        match &mut a {
            RawActivity::Exec {
                pid,
                comm,
                filename,
                ..
            } => {
                let pid = *pid;
                let info = ProcessInfo {
                    comm: Some(comm.clone()),
                    exe_name: basename(Path::new(filename.as_str())),
                    cgroups: procfs::cgroups(pid),
                };
                let captured = self.filter.redecide(pid, &info);
                if !self.filter.captures_all() {
                    self.maps.set_pid_flag(pid, SKIP, !captured);
                }
                self.probes.scan_exe(&mut self.ebpf, &mut self.maps, pid);
                if !captured {
                    return;
                }
            }
            RawActivity::Exit { pid, .. } => {
                let pid = *pid;
                let released = self.conns.exit(pid);
                self.ready
                    .extend(released.into_iter().map(CaptureRecord::Tls));
                self.fd_paths.remove(&pid);
                let captured = self.admit(pid);
                self.filter.forget(pid);
                if !captured {
                    return;
                }
            }
            RawActivity::FileOpen {
                pid,
                path,
                dirfd,
                result,
                ..
            } => {
                let pid = *pid;
                if !self.admit(pid) {
                    return;
                }
                *path = procfs::resolve_at(pid, *dirfd, path);
                if *result >= 0 {
                    let per_pid = self.fd_paths.entry(pid).or_default();
                    if per_pid.len() >= MAX_FD_PATHS_PER_PID {
                        per_pid.clear();
                    }
                    per_pid.insert(*result, path.clone());
                }
                if !self.paths.matches(path) {
                    return;
                }
            }
            RawActivity::FileWrite { pid, fd, path, .. }
            | RawActivity::FileRead { pid, fd, path, .. } => {
                let (pid, fd) = (*pid, *fd);
                if !self.admit(pid) {
                    return;
                }
                let resolved = self.fd_path(pid, fd);
                if let Some(p) = &resolved {
                    if !self.paths.matches(p) {
                        return;
                    }
                }
                *path = resolved;
            }
            RawActivity::FileDelete {
                pid, path, dirfd, ..
            } => {
                let pid = *pid;
                if !self.admit(pid) {
                    return;
                }
                *path = procfs::resolve_at(pid, *dirfd, path);
                if !self.paths.matches(path) {
                    return;
                }
            }
            RawActivity::FileRename {
                pid,
                old_path,
                new_path,
                old_dirfd,
                new_dirfd,
                ..
            } => {
                let pid = *pid;
                if !self.admit(pid) {
                    return;
                }
                *old_path = procfs::resolve_at(pid, *old_dirfd, old_path);
                *new_path = procfs::resolve_at(pid, *new_dirfd, new_path);
                if !self.paths.matches(old_path) && !self.paths.matches(new_path) {
                    return;
                }
            }
            other => {
                if !self.admit(other.pid()) {
                    return;
                }
            }
        }
        self.ready.push_back(CaptureRecord::Activity(a));
    }

    /// The path of `fd` of `pid`: as its `openat` gave it, else from
    /// `/proc` (kept, so a file read in many calls costs one readlink).
    fn fd_path(&mut self, pid: u32, fd: i32) -> Option<String> {
        let per_pid = self.fd_paths.entry(pid).or_default();
        if let Some(p) = per_pid.get(&fd) {
            return Some(p.clone());
        }
        let found = procfs::fd_target(pid, fd)?.to_string_lossy().into_owned();
        if per_pid.len() >= MAX_FD_PATHS_PER_PID {
            per_pid.clear();
        }
        per_pid.insert(fd, found.clone());
        Some(found)
    }
}

/// A single included pid with nothing else to match lets the kernel filter.
fn single_target(config: &EbpfCaptureConfig) -> u32 {
    let inc = &config.include;
    match (
        inc.pids.as_slice(),
        inc.names.is_empty() && inc.cgroups.is_empty(),
    ) {
        ([pid], true) if config.exclude.is_empty() => *pid,
        _ => 0,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// Unix time minus monotonic time, in nanoseconds.
fn mono_to_unix_offset() -> i128 {
    let now = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; both clocks always exist.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    };
    now(libc::CLOCK_REALTIME) - now(libc::CLOCK_MONOTONIC)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: the capture is moved into a spawned task.
    /// Guarantees: it is Send.
    #[test]
    fn capture_is_send() {
        fn send<T: Send>() {}
        send::<EbpfCapture>();
    }

    /// Scenario: include by exactly one pid; by a pid and a name; with excludes.
    /// Guarantees: only the first lets the kernel filter by tgid.
    #[test]
    fn single_target_only_for_a_lone_pid() {
        let mut c = EbpfCaptureConfig::default();
        c.include.pids = vec![42];
        assert_eq!(single_target(&c), 42);
        c.include.names = vec!["x".into()];
        assert_eq!(single_target(&c), 0);
        c.include.names.clear();
        c.exclude.pids = vec![1];
        assert_eq!(single_target(&c), 0);
        assert_eq!(single_target(&EbpfCaptureConfig::default()), 0);
    }
}
