/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * tls.bpf.h: plaintext capture at the OpenSSL API.
 *
 * Probes (attached by user space to every libssl, every executable that
 * exports SSL_write, and BoringSSL's SSL_write/SSL_read located by structure
 * in stripped binaries such as Bun, receiver/src/ebpf/boringssl.rs):
 *   SSL_write, SSL_read         entry + return
 *   SSL_write_ex, SSL_read_ex   entry + return
 *   SSL_free                    entry
 *   close(2)                    tracepoint: the end of a bound connection
 * Where a function starts with an instruction the kernel cannot emulate
 * (every probe hit would then cost a second, single-step trap), user space
 * moves the _ex probes to the internal function the _ex function forwards
 * its arguments to, and leaves out SSL_write/SSL_read when they call it
 * (receiver/src/ebpf/probe_points.rs). The programs do not care which
 * function they sit on: the _ex ones see (SSL*, buf, num, size_t *count)
 * either way and treat a result > 0 as success.
 *
 * Why both entry and return on the data calls: the buffer is known at entry,
 * but how many bytes the call moved is known only at return (SSL_write may
 * fail with WANT_READ/WANT_WRITE and be retried with the same buffer, or
 * write partially; SSL_read fills the buffer during the call). The entry
 * probe only saves (SSL*, buf, out-length pointer) per thread; the return
 * probe copies exactly the bytes moved, capped at max_body_bytes, straight
 * into a ring-buffer record of a size class that fits them (reserve needs a
 * constant size, so sizes go in steps of 1x and 1.5x powers of two: at most
 * a third of a record is slack). Nested calls (an SSL_write implemented on
 * SSL_write_ex) capture once: the inner call overwrites the thread's entry
 * and consumes it, the outer return finds nothing.
 *
 * Tying SSL* to its socket without kprobes: while a call is in flight, the
 * first socket syscall the thread makes (write/writev/sendto/sendmsg,
 * read/readv/recvfrom/recvmsg; see net.bpf.h) is the call's socket: this is
 * exact for libssl on a socket BIO (curl, Python, ...). Memory-BIO users
 * (node) do their socket I/O outside the SSL_* call: after a successful
 * SSL_write on a still unbound SSL*, the thread's next socket write (before
 * an SSL_* call on another SSL*) is taken as the connection's socket, and the
 * TLS_BIND record is flagged OISP_F_INFERRED. Each SSL* is bound once.
 *
 * The end of a connection: SSL_free where it is probed; and, for every
 * bound connection, the close() of its socket. BoringSSL's SSL_free cannot
 * be located in stripped binaries (it raises no error), and Bun's allocator
 * hands a freed SSL*'s address to the next connection, which would inherit
 * the old socket binding. Each binding is also recorded as (tgid, fd) ->
 * SSL*; close(fd) looks it up (one hash lookup per close on the host), and
 * on a hit forgets the connection and emits TLS_FREE as SSL_free does.
 */
#ifndef OISPD_TLS_BPF_H
#define OISPD_TLS_BPF_H

#include "common.bpf.h"

/* Per thread: the SSL_* call in progress and/or the SSL* awaiting its socket
 * (or, for aws-lc's AEAD functions, aead.bpf.h: the EVP_AEAD_CTX_open in
 * progress, the sealed context awaiting its socket write, and the thread's
 * last read-type socket syscall). A thread's slot lives as long as the LRU
 * map keeps it. */
struct ssl_call {
	u64 ssl;         /* SSL* (or AEAD context) of the call in progress (in_call) */
	u64 buf;         /* plaintext buffer */
	u64 len_ptr;     /* SSL_*_ex: size_t *written / *readbytes; open: size_t *out_len */
	u64 pending_ssl; /* SSL* whose socket is expected on the next socket write */
	u64 open_len;    /* EVP_AEAD_CTX_open: the record's plaintext bytes (with the inner type) */
	s32 last_read_fd; /* OISP_PID_AEAD processes: fd of the thread's last read-type syscall, else -1 */
	u8 in_call;
	u8 write;
	u8 ex;
	u8 need_bind;    /* the SSL* has no socket yet */
	u8 aead;         /* the call (or pending_ssl) is an AEAD context: record flag OISP_F_AEAD */
	u8 tls12;        /* with aead: a TLS 1.2 record (OISP_F_TLS12) */
	u8 pending_check; /* pending_ssl is an AEAD context already bound: its next socket
			   * write only checks the binding, rebinding when the socket differs */
	u8 _pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u64); /* pid_tgid */
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

struct conn_key {
	u32 tgid;
	u32 _pad;
	u64 ssl;
};

/* Per connection (tgid, SSL*): its socket and the bytes lost per direction. */
struct conn_state {
	s32 fd;
	u32 _pad;
	u64 gap_read;
	u64 gap_write;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

struct fd_key {
	u32 tgid;
	s32 fd;
};

/* What is bound to a socket: an SSL* (both directions), or aws-lc's AEAD
 * contexts, one per direction. */
struct sock_conns {
	u64 conn;       /* the SSL*, or the AEAD write (seal) context */
	u64 aead_read;  /* the AEAD read (open) context, 0 */
};

/* Per bound socket (tgid, fd): the connections bound to it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fd_key);
	__type(value, struct sock_conns);
} fd_conns SEC(".maps");

/* How a connection is bound to a socket (sock_conns slot). */
enum bind_role {
	BIND_SSL = 0,
	BIND_AEAD_WRITE = 1,
	BIND_AEAD_READ = 2,
};

/* Forgets the connection (tgid, ssl) and tells user space its stream is
 * over; nothing when the connection is unknown. */
static __always_inline void tls_forget(u64 pid_tgid, u64 ssl)
{
	struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = ssl };
	if (!bpf_map_lookup_elem(&conns, &key))
		return;
	bpf_map_delete_elem(&conns, &key);

	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
	if (c && c->pending_ssl == ssl)
		c->pending_ssl = 0;

	struct oisp_tls_free r = { .conn = ssl };
	fill_hdr(&r.hdr, pid_tgid, OISP_REC_TLS_FREE, 0, 0);
	emit_fixed(&r, sizeof(r));
}

static __always_inline int ssl_enter(void *ssl, const void *buf, void *len_ptr, u8 write, u8 ex)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u32 tgid = pid_tgid >> 32;
	if (ignored_tgid(tgid) || (pid_flags_of(tgid) & OISP_PID_SKIP))
		return 0;

	struct conn_key key = { .tgid = tgid, .ssl = (u64)ssl };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
	struct ssl_call *old = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
	struct ssl_call call = {
		.ssl = (u64)ssl,
		.buf = (u64)buf,
		.len_ptr = (u64)len_ptr,
		.pending_ssl = (old && old->pending_ssl == (u64)ssl) ? (u64)ssl : 0,
		.last_read_fd = old ? old->last_read_fd : -1,
		.in_call = 1,
		.write = write,
		.ex = ex,
		.need_bind = !(st && st->fd >= 0),
	};
	if (old) {
		*old = call;
		return 0;
	}
	if (bpf_map_update_elem(&ssl_calls, &pid_tgid, &call, BPF_ANY))
		count_drop(OISP_DROP_CALL_MAP_FULL, 1);
	return 0;
}

/* Reserves a record with room for `cap` bytes of plaintext, fills it with
 * `n` (<= cap) bytes from `buf` and submits it. `cap` is a constant at every
 * call site, as bpf_ringbuf_reserve requires. */
static __always_inline bool tls_emit_cap(const u32 cap, u64 pid_tgid, u32 n, const void *buf,
					 u16 flags, u64 conn, u64 full_len, u64 gap, s32 fd)
{
	struct oisp_tls_data *r = bpf_ringbuf_reserve(&events, sizeof(*r) + cap, 0);
	if (!r)
		return false;
	u64 len = bounded(n, cap);
	if (bpf_probe_read_user((u8 *)(r + 1), len, buf)) {
		flags |= OISP_F_READ_FAULT;
		len = 0;
		count_drop(OISP_DROP_READ_FAULTS, 1);
	}
	fill_hdr(&r->hdr, pid_tgid, OISP_REC_TLS_DATA, flags, len);
	r->conn = conn;
	r->full_len = full_len;
	r->gap_bytes = gap;
	r->fd = fd;
	r->_pad = 0;
	bpf_ringbuf_submit(r, wakeup_flags(ring_avail(), sizeof(*r) + cap));
	return true;
}

/* Plaintext size classes: 2^k and 1.5 * 2^k from 32 bytes to 4 MiB. */
#define TLS_SIZE_CLASSES(X)                                                                        \
	X(32) X(48) X(64) X(96) X(128) X(192) X(256) X(384) X(512) X(768) X(1024) X(1536)          \
	X(2048) X(3072) X(4096) X(6144) X(8192) X(12288) X(16384) X(24576) X(32768) X(49152)       \
	X(65536) X(98304) X(131072) X(196608) X(262144) X(393216) X(524288) X(786432)              \
	X(1048576) X(1572864) X(2097152) X(3145728) X(4194304)

/* Emits one TLS_DATA record for a call that moved `full_len` bytes; keeps
 * the connection's gap counters. A subprogram: verified once, shared by the
 * two return probes. */
static __noinline void tls_emit(u64 pid_tgid, struct ssl_call *c, struct conn_state *st,
				u64 full_len)
{
	u64 cap_body = max_body_bytes;
	if (cap_body > OISP_MAX_BODY_LIMIT)
		cap_body = OISP_MAX_BODY_LIMIT;
	u32 n = full_len > cap_body ? (u32)cap_body : (u32)full_len;
	u16 flags = (c->write ? OISP_F_WRITE : 0) | (c->ex ? OISP_F_EX : 0) |
		    (c->write && c->need_bind ? OISP_F_BIND_PENDING : 0) |
		    (c->aead ? OISP_F_AEAD : 0) | (c->tls12 ? OISP_F_TLS12 : 0);
	u64 gap = c->write ? st->gap_write : st->gap_read;
	const void *buf = (const void *)c->buf;
	bool ok = false;

#define TLS_TRY_CLASS(cap)                                                                         \
	if (n <= (cap)) {                                                                          \
		ok = tls_emit_cap((cap), pid_tgid, n, buf, flags, c->ssl, full_len, gap, st->fd);  \
		goto done;                                                                         \
	}
	TLS_SIZE_CLASSES(TLS_TRY_CLASS)
#undef TLS_TRY_CLASS

done:
	if (ok) {
		if (c->write)
			st->gap_write = 0;
		else
			st->gap_read = 0;
		return;
	}
	if (c->write)
		st->gap_write += full_len;
	else
		st->gap_read += full_len;
	count_drop(OISP_DROP_TLS_RECORDS, 1);
	count_drop(OISP_DROP_TLS_BYTES, full_len);
}

/* Common return path: emit the plaintext, then close the thread's slot (it
 * stays in the map for the thread's next call: a write in place, not an
 * insert and a delete per call). */
static __always_inline void ssl_finish(u64 pid_tgid, struct ssl_call *c, u64 len)
{
	if (len > 0) {
		struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = c->ssl };
		struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
		if (!st) {
			struct conn_state fresh = { .fd = -1 };
			bpf_map_update_elem(&conns, &key, &fresh, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&conns, &key);
		}
		if (st)
			tls_emit(pid_tgid, c, st, len);
		if (c->write && c->need_bind)
			c->pending_ssl = c->ssl;
	}
	c->in_call = 0;
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf)
{
	return ssl_enter(ssl, buf, NULL, 1, 0);
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf)
{
	return ssl_enter(ssl, buf, NULL, 0, 0);
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, u64 num, void *written)
{
	return ssl_enter(ssl, buf, written, 1, 1);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, u64 num, void *readbytes)
{
	return ssl_enter(ssl, buf, readbytes, 0, 1);
}

/* Return of SSL_write / SSL_read: the result is the byte count. */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_ret, int ret)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
	if (!c || !c->in_call || c->ex || c->aead)
		return 0;
	ssl_finish(pid_tgid, c, ret > 0 ? (u64)ret : 0);
	return 0;
}

/* Return of SSL_write_ex / SSL_read_ex, or of the internal function they
 * forward to: > 0 on success (1 for the API functions), count in *len_ptr. */
SEC("uretprobe")
int BPF_KRETPROBE(ssl_ex_ret, int ret)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
	if (!c || !c->in_call || !c->ex || c->aead)
		return 0;
	u64 len = 0;
	if (ret > 0 && c->len_ptr)
		bpf_probe_read_user(&len, sizeof(len), (const void *)c->len_ptr);
	ssl_finish(pid_tgid, c, len);
	return 0;
}

/* void SSL_free(SSL *ssl): forget the connection and its socket's
 * binding, tell user space. */
SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = (u64)ssl };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
	if (!st)
		return 0;
	if (st->fd >= 0) {
		struct fd_key fk = { .tgid = pid_tgid >> 32, .fd = st->fd };
		struct sock_conns *bound = bpf_map_lookup_elem(&fd_conns, &fk);
		if (bound && bound->conn == (u64)ssl)
			bpf_map_delete_elem(&fd_conns, &fk);
	}
	tls_forget(pid_tgid, (u64)ssl);
	return 0;
}

/* Forgets `conn` when it is still bound to the socket `fd` (a connection
 * rebound elsewhere keeps its new socket). */
static __always_inline void tls_forget_on(u64 pid_tgid, u64 conn, s32 fd)
{
	if (!conn)
		return;
	struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = conn };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
	if (st && st->fd == fd)
		tls_forget(pid_tgid, conn);
}

/* close(fd): when fd is the socket of a bound connection, that connection
 * is over (see the top of this file): the SSL*, or both AEAD contexts. */
SEC("tracepoint/syscalls/sys_enter_close")
int oisp_close(struct trace_event_raw_sys_enter *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fd_key fk = { .tgid = pid_tgid >> 32, .fd = (int)ctx->args[0] };
	struct sock_conns *bound = bpf_map_lookup_elem(&fd_conns, &fk);
	if (!bound)
		return 0;
	struct sock_conns was = *bound;
	bpf_map_delete_elem(&fd_conns, &fk);
	tls_forget_on(pid_tgid, was.conn, fk.fd);
	tls_forget_on(pid_tgid, was.aead_read, fk.fd);
	return 0;
}

/* Records `conn` as bound to the socket `fk` in its role. An AEAD context
 * replaces the earlier context of its direction, which is forgotten without
 * a record: a connection uses one context per direction at a time (the
 * handshake keys are dropped after the handshake, old keys after a
 * KeyUpdate), and a later context allocated at the old one's address must
 * not inherit its socket. */
static __always_inline void sock_conns_set(struct fd_key *fk, u64 conn, enum bind_role role)
{
	struct sock_conns *sc = bpf_map_lookup_elem(&fd_conns, fk);
	if (!sc) {
		struct sock_conns fresh = {};
		if (role == BIND_AEAD_READ)
			fresh.aead_read = conn;
		else
			fresh.conn = conn;
		bpf_map_update_elem(&fd_conns, fk, &fresh, BPF_ANY);
		return;
	}
	if (role == BIND_SSL) {
		sc->conn = conn;
		sc->aead_read = 0;
		return;
	}
	u64 old = role == BIND_AEAD_READ ? sc->aead_read : sc->conn;
	if (old && old != conn) {
		struct conn_key gone = { .tgid = fk->tgid, .ssl = old };
		bpf_map_delete_elem(&conns, &gone);
	}
	if (role == BIND_AEAD_READ)
		sc->aead_read = conn;
	else
		sc->conn = conn;
}

/* Binds `conn` to `fd` when `fd` is an inet socket: its state, the
 * socket's connections, and a TLS_BIND record with both addresses. */
static __always_inline bool tls_bind(u64 pid_tgid, u64 conn, long fd, u16 flags,
				     enum bind_role role)
{
	struct sock *sk = sock_of_fd(fd);
	if (!sk)
		return false;
	struct oisp_tls_bind r = {};
	if (!sock_addrs(sk, &r.local, &r.peer, &r.protocol))
		return false;

	struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = conn };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
	if (st) {
		st->fd = fd;
	} else {
		struct conn_state fresh = { .fd = fd };
		bpf_map_update_elem(&conns, &key, &fresh, BPF_NOEXIST);
	}
	struct fd_key fk = { .tgid = key.tgid, .fd = (s32)fd };
	sock_conns_set(&fk, conn, role);

	fill_hdr(&r.hdr, pid_tgid, OISP_REC_TLS_BIND, flags, 0);
	r.conn = conn;
	r.fd = fd;
	emit_fixed(&r, sizeof(r));
	return true;
}

/* Set (never cleared) at the first TLS record seen at aws-lc's AEAD
 * functions: until then the read-type syscalls of threads without a slot
 * skip the process-flag lookup (aead.bpf.h). */
volatile u32 aead_in_use = 0;

/* A read-type syscall on `fd` by a thread of an OISP_PID_AEAD process:
 * noted as the thread's last read, the socket its next EVP_AEAD_CTX_open
 * is bound to. Threads without a slot get one when their process is
 * flagged; other processes pay one global load. */
static __always_inline void aead_note_read(u64 pid_tgid, struct ssl_call *c, long fd)
{
	if (c) {
		c->last_read_fd = fd;
		return;
	}
	if (!aead_in_use || !(pid_flags_of(pid_tgid >> 32) & OISP_PID_AEAD))
		return;
	struct ssl_call fresh = { .last_read_fd = fd };
	bpf_map_update_elem(&ssl_calls, &pid_tgid, &fresh, BPF_NOEXIST);
}

/* Called from the socket syscall tracepoints: binds the thread's in-flight
 * (or pending) SSL* to `fd` when `fd` is an inet socket; for an AEAD
 * context already bound, checks that `fd` is still its socket. Reads are
 * noted for EVP_AEAD_CTX_open (aead_note_read). */
static __always_inline void tls_bind_from_syscall(long fd, bool is_write)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
	if (!is_write)
		aead_note_read(pid_tgid, c, fd);
	if (!c)
		return;
	u64 ssl;
	u16 flags = 0;
	enum bind_role role = BIND_SSL;
	if (c->in_call) {
		if (!c->need_bind)
			return;
		ssl = c->ssl;
	} else if (c->pending_ssl && is_write) {
		ssl = c->pending_ssl;
		flags = OISP_F_INFERRED;
		if (c->aead) {
			flags |= OISP_F_AEAD;
			role = BIND_AEAD_WRITE;
		}
	} else {
		return;
	}

	if (c->pending_check) {
		struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = ssl };
		struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
		if (st && st->fd == fd) {
			c->pending_ssl = 0;
			c->pending_check = 0;
			return;
		}
	}
	if (!tls_bind(pid_tgid, ssl, fd, flags, role))
		return;
	if (c->pending_ssl == ssl) {
		c->pending_ssl = 0;
		c->pending_check = 0;
	}
	if (c->in_call)
		c->need_bind = 0;
}

#endif /* OISPD_TLS_BPF_H */
