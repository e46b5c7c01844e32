//! The Rust mirror of `src/bpf/records.h`: the ring-buffer records, the map
//! keys user space writes, and the constants both sides share.
//!
//! `records.h` is the definition; `tests/layout.rs` compares every struct
//! here (size and each field's offset, by name) with the BTF that clang
//! emitted for it into the embedded object, so a change on one side only
//! fails the tests. All structs are plain old data without implicit padding,
//! so they can be read from ring-buffer bytes with [`bytemuck`].

use bytemuck::{Pod, Zeroable};

/// Length of a kernel task name (`comm`).
pub const COMM_LEN: usize = 16;
/// Largest plaintext captured from one `SSL_*` call (upper bound of `max_body_bytes`).
pub const MAX_BODY_LIMIT: u32 = 4 << 20;
/// Longest exec filename kept.
pub const EXEC_FILENAME_MAX: usize = 512;
/// Longest argv kept (NUL separated).
pub const EXEC_ARGS_MAX: usize = 2048;
/// Longest path kept (`openat`, `unlink*`, each side of `rename*`).
pub const PATH_MAX: usize = 1024;
/// Longest DNS message kept.
pub const DNS_PAYLOAD_MAX: usize = 512;

/// `oisp_hdr.kind` values.
pub mod kind {
    /// [`super::TlsData`]
    pub const TLS_DATA: u16 = 1;
    /// [`super::TlsFree`]
    pub const TLS_FREE: u16 = 2;
    /// [`super::TlsBind`]
    pub const TLS_BIND: u16 = 3;
    /// [`super::Exec`]
    pub const EXEC: u16 = 4;
    /// [`super::Exit`]
    pub const EXIT: u16 = 5;
    /// [`super::Fork`]
    pub const FORK: u16 = 6;
    /// [`super::Connect`]
    pub const CONNECT: u16 = 7;
    /// [`super::Accept`]
    pub const ACCEPT: u16 = 8;
    /// [`super::Dns`]
    pub const DNS: u16 = 9;
    /// [`super::FileOpen`]
    pub const FILE_OPEN: u16 = 10;
    /// [`super::FileWrite`]
    pub const FILE_WRITE: u16 = 11;
    /// [`super::ExecMap`]
    pub const EXEC_MAP: u16 = 12;
    /// [`super::FileRead`]
    pub const FILE_READ: u16 = 13;
    /// [`super::FileDelete`]
    pub const FILE_DELETE: u16 = 14;
    /// [`super::FileRename`]
    pub const FILE_RENAME: u16 = 15;
}

/// `oisp_hdr.flags` bits.
pub mod flags {
    /// TLS_DATA: `SSL_write` (else `SSL_read`).
    pub const WRITE: u16 = 1;
    /// TLS_DATA: the plaintext could not be read; `data_len` is 0.
    pub const READ_FAULT: u16 = 2;
    /// TLS_BIND: socket inferred from the first socket write after the call.
    pub const INFERRED: u16 = 4;
    /// TLS_DATA: an `SSL_*_ex` call.
    pub const EX: u16 = 8;
    /// TLS_DATA: the `SSL*` has no socket yet; a TLS_BIND record inferred
    /// from the thread's next socket write usually follows.
    pub const BIND_PENDING: u16 = 16;
    /// TLS_DATA: the plaintext of one whole TLS record, captured at aws-lc's
    /// AEAD functions (`conn` is the `EVP_AEAD_CTX *` of one direction); in
    /// TLS 1.3 the inner content type and any padding still end it.
    /// TLS_BIND: the binding of such a context.
    pub const AEAD: u16 = 32;
    /// TLS_DATA with [`AEAD`]: a TLS 1.2 application data record (no inner
    /// content type).
    pub const TLS12: u16 = 64;
}

/// Indexes of the per-CPU `drops` counter map.
pub mod drop_counter {
    /// TLS_DATA records lost, ring buffer full.
    pub const TLS_RECORDS: u32 = 0;
    /// Plaintext bytes in those records.
    pub const TLS_BYTES: u32 = 1;
    /// Activity records lost, ring buffer full.
    pub const ACTIVITY: u32 = 2;
    /// `SSL_*` calls not tracked, in-flight call map full.
    pub const CALL_MAP_FULL: u32 = 3;
    /// Activity records skipped, per-CPU scratch buffer busy.
    pub const SCRATCH_BUSY: u32 = 4;
    /// TLS_DATA records whose plaintext could not be read.
    pub const READ_FAULTS: u32 = 5;
    /// AEAD calls whose arguments are not a TLS record's (not captured).
    pub const AEAD_SHAPE: u32 = 6;
    /// Number of counters.
    pub const COUNT: u32 = 7;
}

/// Values of the `pid_flags` map.
pub mod pid_flags {
    /// Excluded: no TLS capture, no file activity.
    pub const SKIP: u32 = 1;
    /// Traced: file activity captured (activity `agents`); inherited on fork.
    pub const TRACE: u32 = 2;
    /// Uses aws-lc's AEAD functions for TLS (set by the kernel): its
    /// threads' socket reads are noted for binding.
    pub const AEAD: u32 = 4;
}

/// Values of the `activity_mode` knob.
pub mod activity_mode {
    /// No network or file activity records.
    pub const OFF: u32 = 0;
    /// File activity only for processes flagged `TRACE`.
    pub const AGENTS: u32 = 1;
    /// File activity for every process.
    pub const ALL: u32 = 2;
}

/// Common header of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Hdr {
    /// `bpf_ktime_get_ns()`.
    pub ts_ns: u64,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// One of [`kind`].
    pub kind: u16,
    /// Bits of [`flags`].
    pub flags: u16,
    /// Bytes of variable data after the fixed record.
    pub data_len: u32,
}

/// A socket address as the kernel holds it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Addr {
    /// `AF_INET` (2), `AF_INET6` (10), 0 when unknown.
    pub family: u16,
    /// Port, host byte order.
    pub port: u16,
    /// Address, network order; IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
}

/// Plaintext of one `SSL_write`/`SSL_read(_ex)` call; `hdr.data_len` bytes follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct TlsData {
    /// Header.
    pub hdr: Hdr,
    /// The `SSL*`.
    pub conn: u64,
    /// Bytes the call moved (> `data_len` when capped).
    pub full_len: u64,
    /// Bytes of this connection and direction lost before this record.
    pub gap_bytes: u64,
    /// Socket fd when known, else -1.
    pub fd: i32,
    /// Padding.
    pub _pad: u32,
}

/// The socket of an `SSL*` became known.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct TlsBind {
    /// Header.
    pub hdr: Hdr,
    /// The `SSL*`.
    pub conn: u64,
    /// Socket fd.
    pub fd: i32,
    /// IP protocol (6 = TCP).
    pub protocol: u16,
    /// Padding.
    pub _pad: u16,
    /// Local address.
    pub local: Addr,
    /// Peer address.
    pub peer: Addr,
}

/// `SSL_free` of a connection that carried data.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct TlsFree {
    /// Header.
    pub hdr: Hdr,
    /// The `SSL*`.
    pub conn: u64,
}

/// `sched_process_exec`; data = filename then argv (NUL separated).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Exec {
    /// Header.
    pub hdr: Hdr,
    /// Parent tgid.
    pub ppid: u32,
    /// Thread id that called execve (differs from pid when a thread exec'd).
    pub old_tid: u32,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// cgroup v2 id.
    pub cgroup_id: u64,
    /// Task name after exec.
    pub comm: [u8; COMM_LEN],
    /// Filename bytes in the data.
    pub filename_len: u16,
    /// argv bytes in the data.
    pub args_len: u16,
    /// 1 when argv was cut at [`EXEC_ARGS_MAX`].
    pub args_truncated: u32,
}

/// The last thread of a process exited.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Exit {
    /// Header.
    pub hdr: Hdr,
    /// wait(2) status: `code << 8 | signal`.
    pub exit_status: i32,
    /// Padding.
    pub _pad: u32,
    /// Task name.
    pub comm: [u8; COMM_LEN],
}

/// A new process; `hdr.pid` is the parent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Fork {
    /// Header.
    pub hdr: Hdr,
    /// The child's pid.
    pub child_pid: u32,
    /// Padding.
    pub _pad: u32,
}

/// `connect(2)` of an inet socket, at its return.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Connect {
    /// Header.
    pub hdr: Hdr,
    /// Socket fd.
    pub fd: i32,
    /// 0 or -errno.
    pub ret: i32,
    /// IP protocol.
    pub protocol: u16,
    /// Padding.
    pub _pad0: u16,
    /// Padding.
    pub _pad1: u32,
    /// Local address (from the socket).
    pub local: Addr,
    /// Destination asked for.
    pub peer: Addr,
}

/// `accept(2)`/`accept4(2)` of an inet connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Accept {
    /// Header.
    pub hdr: Hdr,
    /// Listening socket fd.
    pub listen_fd: i32,
    /// New connection's fd.
    pub fd: i32,
    /// IP protocol.
    pub protocol: u16,
    /// Padding.
    pub _pad0: u16,
    /// Padding.
    pub _pad1: u32,
    /// Local address.
    pub local: Addr,
    /// Peer address.
    pub peer: Addr,
}

/// A UDP datagram to port 53; data = the DNS message (capped).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Dns {
    /// Header.
    pub hdr: Hdr,
    /// Socket fd.
    pub fd: i32,
    /// Datagram length.
    pub full_len: u32,
    /// Resolver address.
    pub peer: Addr,
    /// Padding.
    pub _pad: u32,
}

/// `openat(2)` at its return; data = the path as passed (capped).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FileOpen {
    /// Header.
    pub hdr: Hdr,
    /// Directory fd (`AT_FDCWD` = -100).
    pub dfd: i32,
    /// New fd or -errno.
    pub ret: i32,
    /// `O_*` flags.
    pub flags: i32,
    /// Creation mode.
    pub mode: u32,
}

/// `write(2)` to a regular file.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FileWrite {
    /// Header.
    pub hdr: Hdr,
    /// File descriptor.
    pub fd: i32,
    /// Padding.
    pub _pad: u32,
    /// Bytes asked to write.
    pub count: u64,
}

/// A successful `read(2)` of a regular file, at its return.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FileRead {
    /// Header.
    pub hdr: Hdr,
    /// File descriptor.
    pub fd: i32,
    /// Padding.
    pub _pad: u32,
    /// Bytes read (more than 0).
    pub bytes: u64,
    /// File position before the read.
    pub offset: u64,
    /// File size before the read (0 for most pseudo files).
    pub size: u64,
}

/// A successful `unlink(2)`/`unlinkat(2)`; data = the path as passed (capped).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FileDelete {
    /// Header.
    pub hdr: Hdr,
    /// Directory fd a relative path is resolved against (`AT_FDCWD` = -100).
    pub dfd: i32,
    /// `unlinkat` flags (`AT_REMOVEDIR` = 0x200).
    pub flags: i32,
}

/// A successful `rename(2)`/`renameat(2)`/`renameat2(2)`; data = the old
/// path (`old_len` bytes) then the new path, both as passed (each capped).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FileRename {
    /// Header.
    pub hdr: Hdr,
    /// Directory fd of the old path (`AT_FDCWD` = -100).
    pub old_dfd: i32,
    /// Directory fd of the new path.
    pub new_dfd: i32,
    /// `renameat2` flags (`RENAME_NOREPLACE` = 1, `RENAME_EXCHANGE` = 2).
    pub flags: u32,
    /// Bytes of the old path in the data.
    pub old_len: u16,
    /// Padding.
    pub _pad: u16,
}

/// A successful executable mapping of a file user space has not examined.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct ExecMap {
    /// Header.
    pub hdr: Hdr,
    /// Kernel `dev_t` (`major << 20 | minor`).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

/// Key of the `seen_files` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct FileKey {
    /// Kernel `dev_t` (`major << 20 | minor`).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}
