/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * common.bpf.h: knobs, maps and helpers shared by all of oispd's programs:
 * the ring buffer, drop counters, the process filter, the per-CPU scratch
 * record for variable-size activity records, and fd -> file/socket lookups.
 */
#ifndef OISPD_COMMON_BPF_H
#define OISPD_COMMON_BPF_H

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "records.h"

/* Knobs, set by user space at load time (aya EbpfLoader::override_global). */
/* Plaintext bytes captured per SSL_* call at most (<= OISP_MAX_BODY_LIMIT). */
const volatile u32 max_body_bytes = 1u << 20;
/* oispd's own tgid: never captured. */
const volatile u32 own_tgid = 0;
/* When non-zero, only this tgid is captured. */
const volatile u32 target_tgid = 0;
/* enum oisp_activity_mode: which processes get file activity records. */
const volatile u32 activity_mode = OISP_ACTIVITY_AGENTS;
/* Unconsumed bytes at which a record wakes the reader; 0: wake whenever
 * the reader has caught up (the kernel's default, one wakeup per record
 * when the reader keeps up). Below it the reader finds records on its own
 * short poll. */
const volatile u32 wakeup_bytes = 0;

/* The one ring buffer; user space sets its size (map_max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8u << 20);
} events SEC(".maps");

/* enum oisp_drop_counter, per CPU, summed by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OISP_DROP_COUNTERS);
	__type(key, u32);
	__type(value, u64);
} drops SEC(".maps");

/* tgid -> enum oisp_pid_flags; user space sets, fork inherits, exit clears. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, u32);
} pid_flags SEC(".maps");

/* Files already examined by user space (no EXEC_MAP record for them). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct oisp_file_key);
	__type(value, u8);
} seen_files SEC(".maps");

/* Room for the largest variable-size activity record. */
#define SCRATCH_SIZE 4096

/* Per-CPU staging area for activity records whose size is known only after
 * reading (paths, argv); copied out with bpf_ringbuf_output at its exact
 * size. `busy` guards against a preempted program on the same CPU. */
struct scratch {
	u32 busy;
	u32 _pad;
	u8 buf[SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct scratch);
} scratch_buf SEC(".maps");

/* `v` clamped to `max` in a way the verifier can follow: a 64-bit register
 * that the compiler may not replace by an earlier, unbounded copy. */
static __always_inline u64 bounded(u64 v, u64 max)
{
	asm volatile("" : "+r"(v));
	if (v > max)
		v = max;
	return v;
}

static __always_inline void count_drop(u32 counter, u64 n)
{
	u64 *v = bpf_map_lookup_elem(&drops, &counter);
	if (v)
		*v += n;
}

/* Submit flags for a record of `size` bytes when `avail` unconsumed bytes
 * are in the ring with it: a wakeup only when this record made the
 * unconsumed data cross wakeup_bytes. A wakeup costs an IPI and a reader
 * context switch, more than all the rest of a TLS record's work. */
static __always_inline u64 wakeup_flags(u64 avail, u64 size)
{
	if (!wakeup_bytes)
		return 0;
	if (avail >= wakeup_bytes && avail < wakeup_bytes + size + 16)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline u64 ring_avail(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
}

/* Exec and new executable mappings wake the reader whatever is waiting: it
 * probes the new program's OpenSSL on them, and may be polling slowly on a
 * quiet host. They are rare next to TLS records, so the wakeups cost little. */
static __always_inline bool wakes_reader_now(u16 kind)
{
	return kind == OISP_REC_EXEC || kind == OISP_REC_EXEC_MAP;
}

/* bpf_ringbuf_output of a record of `size` bytes, counted when the ring is
 * full. */
static __always_inline void ring_output(void *data, u64 size)
{
	u64 flags = wakes_reader_now(((struct oisp_hdr *)data)->kind)
			    ? BPF_RB_FORCE_WAKEUP
			    : wakeup_flags(ring_avail() + size + 8, size);
	if (bpf_ringbuf_output(&events, data, size, flags))
		count_drop(OISP_DROP_ACTIVITY, 1);
}

static __always_inline void fill_hdr(struct oisp_hdr *h, u64 pid_tgid, u16 kind, u16 flags,
				     u32 data_len)
{
	h->ts_ns = bpf_ktime_get_ns();
	h->pid = pid_tgid >> 32;
	h->tid = (u32)pid_tgid;
	h->kind = kind;
	h->flags = flags;
	h->data_len = data_len;
}

/* Claims this CPU's scratch record, or NULL (counted) when it is in use. */
static __always_inline struct scratch *scratch_get(void)
{
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!s)
		return NULL;
	if (__sync_lock_test_and_set(&s->busy, 1)) {
		count_drop(OISP_DROP_SCRATCH_BUSY, 1);
		return NULL;
	}
	return s;
}

/* Copies `size` bytes of the scratch record to the ring and releases it. */
static __always_inline void scratch_emit(struct scratch *s, u32 size)
{
	ring_output(s->buf, bounded(size, SCRATCH_SIZE));
	*(volatile u32 *)&s->busy = 0;
}

static __always_inline void scratch_release(struct scratch *s)
{
	*(volatile u32 *)&s->busy = 0;
}

/* Sends a fixed-size record, counting it when the ring is full. */
static __always_inline void emit_fixed(void *rec, u32 size)
{
	ring_output(rec, size);
}

/* True when the current process must not be looked at at all. */
static __always_inline bool ignored_tgid(u32 tgid)
{
	if (tgid == own_tgid)
		return true;
	if (target_tgid && tgid != target_tgid)
		return true;
	return false;
}

static __always_inline u32 pid_flags_of(u32 tgid)
{
	u32 *f = bpf_map_lookup_elem(&pid_flags, &tgid);
	return f ? *f : 0;
}

/* Whether file activity of this process is wanted (activity knob + flags). */
static __always_inline bool file_activity_wanted(u32 tgid)
{
	if (activity_mode == OISP_ACTIVITY_OFF || ignored_tgid(tgid))
		return false;
	u32 flags = pid_flags_of(tgid);
	if (flags & OISP_PID_SKIP)
		return false;
	if (activity_mode == OISP_ACTIVITY_ALL)
		return true;
	return flags & OISP_PID_TRACE;
}

/* Whether network and DNS activity of this process is wanted. */
static __always_inline bool net_activity_wanted(u32 tgid)
{
	if (activity_mode == OISP_ACTIVITY_OFF || ignored_tgid(tgid))
		return false;
	return !(pid_flags_of(tgid) & OISP_PID_SKIP);
}

/* The current task's open file at `fd`, or NULL. */
static __always_inline struct file *file_of_fd(long fd)
{
	if (fd < 0)
		return NULL;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return NULL;
	unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned long)fd >= max_fds)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

static __always_inline unsigned short file_mode(struct file *f)
{
	return BPF_CORE_READ(f, f_inode, i_mode);
}

/* The socket behind `fd`, or NULL when `fd` is not a socket. */
static __always_inline struct sock *sock_of_fd(long fd)
{
	struct file *f = file_of_fd(fd);
	if (!f || (file_mode(f) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *so = BPF_CORE_READ(f, private_data);
	if (!so)
		return NULL;
	return BPF_CORE_READ(so, sk);
}

/* Fills the local and peer address of an inet socket; false for other families. */
static __always_inline bool sock_addrs(struct sock *sk, struct oisp_addr *local,
				       struct oisp_addr *peer, u16 *protocol)
{
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return false;
	local->family = family;
	peer->family = family;
	local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	peer->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 p = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(local->addr, &l, 4);
		__builtin_memcpy(peer->addr, &p, 4);
	} else {
		BPF_CORE_READ_INTO(&local->addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&peer->addr, sk, __sk_common.skc_v6_daddr);
	}
	*protocol = BPF_CORE_READ(sk, sk_protocol);
	return true;
}

/* Reads a user sockaddr_in/sockaddr_in6 into `out`; false for other families. */
static __always_inline bool user_sockaddr(const void *uaddr, struct oisp_addr *out)
{
	u16 family = 0;
	if (!uaddr || bpf_probe_read_user(&family, sizeof(family), uaddr))
		return false;
	__be16 port = 0;
	bpf_probe_read_user(&port, sizeof(port), (const u8 *)uaddr + 2);
	out->family = family;
	out->port = bpf_ntohs(port);
	if (family == AF_INET) {
		bpf_probe_read_user(out->addr, 4, (const u8 *)uaddr + 4);
		return true;
	}
	if (family == AF_INET6) {
		bpf_probe_read_user(out->addr, 16, (const u8 *)uaddr + 8);
		return true;
	}
	return false;
}

#endif /* OISPD_COMMON_BPF_H */
