//! oispd's kernel side: the eBPF object (built from `src/bpf/*.bpf.c` by
//! `build.rs`, or the committed prebuilt `src/bpf/oispd.bpf.o` without
//! clang), the names of its programs, maps and knobs, and the record layout
//! shared with user space ([`records`]).
//!
//! Loading and attaching is `oispd-receiver`'s job (`receiver/src/ebpf/`).

pub mod records;

/// 8-byte aligned storage for the embedded object (ELF parsers read it in place).
#[repr(C, align(8))]
struct Aligned<Bytes: ?Sized> {
    bytes: Bytes,
}

static OBJECT: &Aligned<[u8]> = &Aligned {
    bytes: *include_bytes!(concat!(env!("OUT_DIR"), "/oispd.bpf.o")),
};

/// The compiled eBPF object (ELF, BTF and CO-RE relocations included), 8-byte aligned.
pub fn object() -> &'static [u8] {
    &OBJECT.bytes
}

/// Program names (the C function names) and what each is attached to.
pub mod programs {
    /// uprobe on `SSL_write`.
    pub const SSL_WRITE_ENTER: &str = "ssl_write_enter";
    /// uprobe on `SSL_read`.
    pub const SSL_READ_ENTER: &str = "ssl_read_enter";
    /// uprobe on `SSL_write_ex`.
    pub const SSL_WRITE_EX_ENTER: &str = "ssl_write_ex_enter";
    /// uprobe on `SSL_read_ex`.
    pub const SSL_READ_EX_ENTER: &str = "ssl_read_ex_enter";
    /// uretprobe on `SSL_write` and `SSL_read`.
    pub const SSL_RET: &str = "ssl_ret";
    /// uretprobe on `SSL_write_ex` and `SSL_read_ex`.
    pub const SSL_EX_RET: &str = "ssl_ex_ret";
    /// uprobe on `SSL_free`.
    pub const SSL_FREE_ENTER: &str = "ssl_free_enter";
    /// uprobe on aws-lc's `EVP_AEAD_CTX_seal` (one TLS record written).
    pub const AEAD_SEAL_ENTER: &str = "aead_seal_enter";
    /// uprobe on aws-lc's `EVP_AEAD_CTX_seal_scatter` (one TLS 1.2 AES-GCM
    /// record written).
    pub const AEAD_SEAL_SCATTER_ENTER: &str = "aead_seal_scatter_enter";
    /// uprobe on aws-lc's `EVP_AEAD_CTX_open` (one TLS record read).
    pub const AEAD_OPEN_ENTER: &str = "aead_open_enter";
    /// uretprobe on aws-lc's `EVP_AEAD_CTX_open`.
    pub const AEAD_OPEN_RET: &str = "aead_open_ret";

    /// Tracepoint programs: (program, category, tracepoint).
    pub mod tracepoints {
        /// Always attached: process lifecycle and executable mappings.
        pub const PROCESS: &[(&str, &str, &str)] = &[
            ("oisp_exec", "sched", "sched_process_exec"),
            ("oisp_exit", "sched", "sched_process_exit"),
            ("oisp_mmap_enter", "syscalls", "sys_enter_mmap"),
            ("oisp_mmap_exit", "syscalls", "sys_exit_mmap"),
        ];
        /// Always attached: the socket syscalls that tie `SSL*` to sockets
        /// (read and write also note file reads and report file writes,
        /// sendto/sendmsg DNS questions), and close, which ends the
        /// connection bound to the socket it closes.
        pub const SOCKET_IO: &[(&str, &str, &str)] = &[
            ("oisp_close", "syscalls", "sys_enter_close"),
            ("oisp_write", "syscalls", "sys_enter_write"),
            ("oisp_writev", "syscalls", "sys_enter_writev"),
            ("oisp_sendto", "syscalls", "sys_enter_sendto"),
            ("oisp_sendmsg", "syscalls", "sys_enter_sendmsg"),
            ("oisp_read", "syscalls", "sys_enter_read"),
            ("oisp_readv", "syscalls", "sys_enter_readv"),
            ("oisp_recvfrom", "syscalls", "sys_enter_recvfrom"),
            ("oisp_recvmsg", "syscalls", "sys_enter_recvmsg"),
        ];
        /// Attached unless activity is off: connect, accept, DNS, openat,
        /// the return of file reads, unlink and rename.
        pub const ACTIVITY: &[(&str, &str, &str)] = &[
            ("oisp_connect_enter", "syscalls", "sys_enter_connect"),
            ("oisp_connect_exit", "syscalls", "sys_exit_connect"),
            ("oisp_accept_enter", "syscalls", "sys_enter_accept"),
            ("oisp_accept_exit", "syscalls", "sys_exit_accept"),
            ("oisp_accept4_enter", "syscalls", "sys_enter_accept4"),
            ("oisp_accept4_exit", "syscalls", "sys_exit_accept4"),
            ("oisp_sendmmsg", "syscalls", "sys_enter_sendmmsg"),
            ("oisp_openat_enter", "syscalls", "sys_enter_openat"),
            ("oisp_openat_exit", "syscalls", "sys_exit_openat"),
            ("oisp_read_exit", "syscalls", "sys_exit_read"),
            ("oisp_unlink_enter", "syscalls", "sys_enter_unlink"),
            ("oisp_unlink_exit", "syscalls", "sys_exit_unlink"),
            ("oisp_unlinkat_enter", "syscalls", "sys_enter_unlinkat"),
            ("oisp_unlinkat_exit", "syscalls", "sys_exit_unlinkat"),
            ("oisp_rename_enter", "syscalls", "sys_enter_rename"),
            ("oisp_rename_exit", "syscalls", "sys_exit_rename"),
            ("oisp_renameat_enter", "syscalls", "sys_enter_renameat"),
            ("oisp_renameat_exit", "syscalls", "sys_exit_renameat"),
            ("oisp_renameat2_enter", "syscalls", "sys_enter_renameat2"),
            ("oisp_renameat2_exit", "syscalls", "sys_exit_renameat2"),
        ];
    }

    /// Raw tracepoint on `sched_process_fork` (gives the child task, so
    /// threads can be told from processes).
    pub const FORK: (&str, &str) = ("oisp_fork", "sched_process_fork");
}

/// Map names.
pub mod maps {
    /// The ring buffer (`BPF_MAP_TYPE_RINGBUF`), sized at load.
    pub const EVENTS: &str = "events";
    /// Per-CPU drop counters, indexed by [`crate::records::drop_counter`].
    pub const DROPS: &str = "drops";
    /// tgid -> [`crate::records::pid_flags`].
    pub const PID_FLAGS: &str = "pid_flags";
    /// Files user space has examined: [`crate::records::FileKey`] -> u8.
    pub const SEEN_FILES: &str = "seen_files";
}

/// `volatile const` knobs, set at load time.
pub mod knobs {
    /// u32: plaintext bytes captured per `SSL_*` call at most.
    pub const MAX_BODY_BYTES: &str = "max_body_bytes";
    /// u32: oispd's own tgid, never captured.
    pub const OWN_TGID: &str = "own_tgid";
    /// u32: when non-zero, the only tgid captured.
    pub const TARGET_TGID: &str = "target_tgid";
    /// u32: [`crate::records::activity_mode`].
    pub const ACTIVITY_MODE: &str = "activity_mode";
    /// u32: unconsumed ring bytes at which a record wakes the reader (0:
    /// the kernel's default, a wakeup whenever the reader has caught up);
    /// below it the reader must poll.
    pub const WAKEUP_BYTES: &str = "wakeup_bytes";
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Scenario: the embedded object is read by an ELF parser in place.
    /// Guarantees: it is an ELF file for the BPF machine, 8-byte aligned.
    #[test]
    fn object_is_aligned_bpf_elf() {
        let obj = object();
        assert_eq!(obj.as_ptr() as usize % 8, 0);
        assert_eq!(&obj[..4], b"\x7fELF");
        // e_machine at offset 18, little endian: EM_BPF = 247.
        assert_eq!(u16::from_le_bytes([obj[18], obj[19]]), 247);
    }
}
