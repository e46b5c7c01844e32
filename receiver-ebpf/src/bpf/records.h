/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * records.h: the layout of every record oispd's eBPF programs put in the
 * `events` ring buffer, and of the maps user space reads or writes.
 *
 * This is the one definition. receiver-ebpf/src/records.rs mirrors it with
 * #[repr(C)] structs, and a test (receiver-ebpf/tests/layout.rs) compares
 * every struct's size and field offsets with the BTF that clang emits for
 * this header into the committed object, so the two cannot drift.
 *
 * Rules: only fixed-width integers and byte arrays, no implicit padding
 * (explicit _pad fields), every struct a multiple of 8 bytes. Variable data
 * (plaintext, paths, argv, DNS payload) follows the fixed part of a record;
 * its length is hdr.data_len.
 */
#ifndef OISPD_RECORDS_H
#define OISPD_RECORDS_H

/* Sizes and caps. */
enum oisp_limits {
	OISP_COMM_LEN = 16,
	/* Largest plaintext captured from one SSL_* call (max_body_bytes upper bound). */
	OISP_MAX_BODY_LIMIT = 4194304,
	/* Caps of the variable parts of activity records. */
	OISP_EXEC_FILENAME_MAX = 512,
	OISP_EXEC_ARGS_MAX = 2048,
	OISP_PATH_MAX = 1024,
	OISP_DNS_PAYLOAD_MAX = 512,
};

/* hdr.kind */
enum oisp_record_kind {
	OISP_REC_TLS_DATA = 1,
	OISP_REC_TLS_FREE = 2,
	OISP_REC_TLS_BIND = 3,
	OISP_REC_EXEC = 4,
	OISP_REC_EXIT = 5,
	OISP_REC_FORK = 6,
	OISP_REC_CONNECT = 7,
	OISP_REC_ACCEPT = 8,
	OISP_REC_DNS = 9,
	OISP_REC_FILE_OPEN = 10,
	OISP_REC_FILE_WRITE = 11,
	OISP_REC_EXEC_MAP = 12,
	OISP_REC_FILE_READ = 13,
	OISP_REC_FILE_DELETE = 14,
	OISP_REC_FILE_RENAME = 15,
};

/* hdr.flags */
enum oisp_record_flags {
	/* TLS_DATA: SSL_write (else SSL_read). */
	OISP_F_WRITE = 1,
	/* TLS_DATA: the plaintext could not be read (page not resident); data_len is 0. */
	OISP_F_READ_FAULT = 2,
	/* TLS_BIND: socket inferred from the first socket write after the call
	 * (memory-BIO users such as node), not seen inside the call. */
	OISP_F_INFERRED = 4,
	/* TLS_DATA: SSL_*_ex variant. */
	OISP_F_EX = 8,
	/* TLS_DATA: the SSL* has no socket yet and the kernel expects it on the
	 * thread's next socket write: a TLS_BIND record usually follows soon. */
	OISP_F_BIND_PENDING = 16,
	/* TLS_DATA: the plaintext of one whole TLS record at aws-lc's AEAD
	 * boundary (EVP_AEAD_CTX_seal/open; conn is the EVP_AEAD_CTX *, one per
	 * connection and direction); TLS 1.3: the inner content type and any
	 * zero padding are still at its end. TLS_BIND: the binding of such a
	 * context. */
	OISP_F_AEAD = 32,
	/* TLS_DATA with OISP_F_AEAD: a TLS 1.2 record (no inner content type;
	 * the kernel only sends application data records of TLS 1.2). */
	OISP_F_TLS12 = 64,
};

/* Indexes of the per-CPU `drops` counters. */
enum oisp_drop_counter {
	/* TLS_DATA records lost because the ring buffer was full. */
	OISP_DROP_TLS_RECORDS = 0,
	/* Plaintext bytes in those records. */
	OISP_DROP_TLS_BYTES = 1,
	/* Activity records (exec, connect, file, ...) lost, ring buffer full. */
	OISP_DROP_ACTIVITY = 2,
	/* SSL_* calls not tracked because the in-flight call map was full. */
	OISP_DROP_CALL_MAP_FULL = 3,
	/* Activity records skipped because the per-CPU scratch buffer was busy
	 * (a preempted program on the same CPU held it). */
	OISP_DROP_SCRATCH_BUSY = 4,
	/* TLS_DATA records whose plaintext could not be read from user memory. */
	OISP_DROP_READ_FAULTS = 5,
	/* EVP_AEAD_CTX_seal/open calls whose arguments do not have a TLS
	 * record's shape (another AEAD user such as QUIC or a token cipher, or
	 * a probe on the wrong function): not captured. */
	OISP_DROP_AEAD_SHAPE = 6,
	OISP_DROP_COUNTERS = 7,
};

/* Values of the `pid_flags` map (key: tgid), written by user space. */
enum oisp_pid_flags {
	/* Excluded: no TLS capture, no file activity. */
	OISP_PID_SKIP = 1,
	/* Traced (activity: agents): file activity is captured; inherited on fork. */
	OISP_PID_TRACE = 2,
	/* Uses aws-lc's AEAD functions for TLS records: the read-type socket
	 * syscalls of its threads note their fd (set by the AEAD probes at the
	 * process's first TLS record; inherited on fork). */
	OISP_PID_AEAD = 4,
};

/* Values of the `activity_mode` knob. */
enum oisp_activity_mode {
	OISP_ACTIVITY_OFF = 0,
	OISP_ACTIVITY_AGENTS = 1,
	OISP_ACTIVITY_ALL = 2,
};

/* Common header of every record (24 bytes). */
struct oisp_hdr {
	__u64 ts_ns;     /* bpf_ktime_get_ns() */
	__u32 pid;       /* tgid */
	__u32 tid;       /* thread id */
	__u16 kind;      /* enum oisp_record_kind */
	__u16 flags;     /* enum oisp_record_flags */
	__u32 data_len;  /* bytes of variable data after the fixed record */
};

/* A socket address as the kernel holds it (20 bytes). */
struct oisp_addr {
	__u16 family;    /* AF_INET, AF_INET6, 0 when unknown */
	__u16 port;      /* host byte order */
	__u8 addr[16];   /* network order; IPv4 in the first 4 bytes */
};

/* Plaintext of one SSL_write/SSL_read(_ex) call; data follows. */
struct oisp_tls_data {
	struct oisp_hdr hdr;
	__u64 conn;       /* SSL* */
	__u64 full_len;   /* bytes the call moved; > data_len when capped */
	__u64 gap_bytes;  /* bytes of this connection and direction lost before this record */
	__s32 fd;         /* socket fd when known, else -1 */
	__u32 _pad;
};

/* The socket of an SSL* became known. */
struct oisp_tls_bind {
	struct oisp_hdr hdr;
	__u64 conn;
	__s32 fd;
	__u16 protocol;   /* IPPROTO_TCP, ... */
	__u16 _pad;
	struct oisp_addr local;
	struct oisp_addr peer;
};

/* SSL_free on a connection that carried data. */
struct oisp_tls_free {
	struct oisp_hdr hdr;
	__u64 conn;
};

/* sched_process_exec; data = filename (filename_len bytes) then argv
 * (args_len bytes, NUL separated). */
struct oisp_exec {
	struct oisp_hdr hdr;
	__u32 ppid;
	__u32 old_tid;
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	char comm[OISP_COMM_LEN];
	__u16 filename_len;
	__u16 args_len;
	__u32 args_truncated; /* 1 when argv was longer than OISP_EXEC_ARGS_MAX */
};

/* The last thread of a process exited. */
struct oisp_exit {
	struct oisp_hdr hdr;
	__s32 exit_status; /* wait(2) status: code << 8 | signal */
	__u32 _pad;
	char comm[OISP_COMM_LEN];
};

/* A new process (not a thread). hdr.pid is the parent. */
struct oisp_fork {
	struct oisp_hdr hdr;
	__u32 child_pid;
	__u32 _pad;
};

/* connect(2) on an AF_INET/AF_INET6 socket, at its return. */
struct oisp_connect {
	struct oisp_hdr hdr;
	__s32 fd;
	__s32 ret;        /* 0, or -errno (-EINPROGRESS for non-blocking) */
	__u16 protocol;
	__u16 _pad0;
	__u32 _pad1;
	struct oisp_addr local;
	struct oisp_addr peer;
};

/* accept(2)/accept4(2) of an AF_INET/AF_INET6 connection. */
struct oisp_accept {
	struct oisp_hdr hdr;
	__s32 listen_fd;
	__s32 fd;
	__u16 protocol;
	__u16 _pad0;
	__u32 _pad1;
	struct oisp_addr local;
	struct oisp_addr peer;
};

/* A UDP datagram to port 53; data = the DNS message (capped). */
struct oisp_dns {
	struct oisp_hdr hdr;
	__s32 fd;
	__u32 full_len;
	struct oisp_addr peer;
	__u32 _pad;
};

/* openat(2) at its return; data = the path as passed (capped). */
struct oisp_file_open {
	struct oisp_hdr hdr;
	__s32 dfd;
	__s32 ret;        /* fd, or -errno */
	__s32 flags;
	__u32 mode;
};

/* write(2) to a regular file. */
struct oisp_file_write {
	struct oisp_hdr hdr;
	__s32 fd;
	__u32 _pad;
	__u64 count;      /* bytes asked to write */
};

/* A successful read(2) of a regular file, at its return. Offset and size
 * are read at entry: where the read started and the file's size then. */
struct oisp_file_read {
	struct oisp_hdr hdr;
	__s32 fd;
	__u32 _pad;
	__u64 bytes;      /* bytes read (> 0) */
	__u64 offset;     /* file position before the read */
	__u64 size;       /* i_size before the read (0 for most pseudo files) */
};

/* A successful unlink(2)/unlinkat(2); data = the path as passed (capped). */
struct oisp_file_delete {
	struct oisp_hdr hdr;
	__s32 dfd;        /* AT_FDCWD (-100) for unlink and cwd-relative paths */
	__s32 flags;      /* unlinkat flags (AT_REMOVEDIR 0x200) */
};

/* A successful rename(2)/renameat(2)/renameat2(2); data = the old path
 * (old_len bytes) then the new path, both as passed (each capped). */
struct oisp_file_rename {
	struct oisp_hdr hdr;
	__s32 old_dfd;
	__s32 new_dfd;
	__u32 flags;      /* renameat2 flags (RENAME_NOREPLACE 1, RENAME_EXCHANGE 2) */
	__u16 old_len;
	__u16 _pad;
};

/* A successful mmap(2) with PROT_EXEC of a file not in `seen_files` (the
 * mapping exists when the record is written): a library or executable user
 * space may need to probe. */
struct oisp_exec_map {
	struct oisp_hdr hdr;
	__u64 dev;        /* kernel dev_t: major << 20 | minor */
	__u64 ino;
};

/* Key of the `seen_files` map. */
struct oisp_file_key {
	__u64 dev;
	__u64 ino;
};

#endif /* OISPD_RECORDS_H */
