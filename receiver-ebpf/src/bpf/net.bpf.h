/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * net.bpf.h: network activity and the socket syscalls that tie SSL* to
 * sockets.
 *
 * connect/accept: enter saves the arguments per thread, exit reports the
 * result with both addresses (the local one read from the socket). DNS: UDP
 * datagrams to port 53 (sendto, sendmsg, sendmmsg; connected sockets too),
 * the raw message for user space to parse. The read/write family enters only
 * call tls_bind_from_syscall (read and write, which also report file
 * activity, live in files.bpf.h).
 */
#ifndef OISPD_NET_BPF_H
#define OISPD_NET_BPF_H

#include "common.bpf.h"
#include "tls.bpf.h"

enum sys_args_kind {
	SYS_CONNECT = 1,
	SYS_ACCEPT = 2,
	SYS_OPENAT = 3,
	SYS_MMAP = 4,
	SYS_READ = 5,
	SYS_UNLINK = 6,
	SYS_RENAME = 7,
};

/* Arguments of the syscall a thread is in, kept from enter to exit. */
struct sys_args {
	u32 kind;
	s32 fd;
	u64 ptr;
	s32 flags;
	u32 mode;
	struct oisp_addr addr;
	u32 _pad;
	u64 aux;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u64); /* pid_tgid */
	__type(value, struct sys_args);
} sys_args SEC(".maps");

/* Takes (and removes) the saved arguments of `kind` for this thread. */
static __always_inline bool sys_args_take(u64 pid_tgid, u32 kind, struct sys_args *out)
{
	struct sys_args *a = bpf_map_lookup_elem(&sys_args, &pid_tgid);
	if (!a)
		return false;
	bool ok = a->kind == kind;
	if (ok)
		*out = *a;
	bpf_map_delete_elem(&sys_args, &pid_tgid);
	return ok;
}

/* connect(fd, uservaddr, addrlen) */
SEC("tracepoint/syscalls/sys_enter_connect")
int oisp_connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!net_activity_wanted(pid_tgid >> 32))
		return 0;
	struct sys_args a = { .kind = SYS_CONNECT, .fd = (int)ctx->args[0] };
	if (!user_sockaddr((const void *)ctx->args[1], &a.addr))
		return 0;
	bpf_map_update_elem(&sys_args, &pid_tgid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int oisp_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args a;
	if (!sys_args_take(pid_tgid, SYS_CONNECT, &a))
		return 0;
	struct oisp_connect r = {};
	fill_hdr(&r.hdr, pid_tgid, OISP_REC_CONNECT, 0, 0);
	r.fd = a.fd;
	r.ret = ctx->ret;
	struct sock *sk = sock_of_fd(a.fd);
	struct oisp_addr sock_peer = {};
	if (sk)
		sock_addrs(sk, &r.local, &sock_peer, &r.protocol);
	r.peer = a.addr;
	emit_fixed(&r, sizeof(r));
	return 0;
}

/* accept(fd, upeer_sockaddr, upeer_addrlen) and accept4(..., flags) */
static __always_inline int accept_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!net_activity_wanted(pid_tgid >> 32))
		return 0;
	struct sys_args a = { .kind = SYS_ACCEPT, .fd = (int)ctx->args[0] };
	bpf_map_update_elem(&sys_args, &pid_tgid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_accept")
int oisp_accept_enter(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter(ctx);
}

SEC("tracepoint/syscalls/sys_enter_accept4")
int oisp_accept4_enter(struct trace_event_raw_sys_enter *ctx)
{
	return accept_enter(ctx);
}

static __always_inline int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args a;
	if (!sys_args_take(pid_tgid, SYS_ACCEPT, &a) || ctx->ret < 0)
		return 0;
	struct sock *sk = sock_of_fd(ctx->ret);
	if (!sk)
		return 0;
	struct oisp_accept r = {};
	if (!sock_addrs(sk, &r.local, &r.peer, &r.protocol))
		return 0;
	fill_hdr(&r.hdr, pid_tgid, OISP_REC_ACCEPT, 0, 0);
	r.listen_fd = a.fd;
	r.fd = ctx->ret;
	emit_fixed(&r, sizeof(r));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int oisp_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int oisp_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return accept_exit(ctx);
}

/* Reports a UDP datagram to port 53. `uaddr` is the destination given to the
 * call, NULL on a connected socket. */
static __noinline void dns_check(u64 pid_tgid, long fd, const void *uaddr, const void *payload,
				 u64 len)
{
	struct oisp_addr peer = {};
	struct oisp_addr local = {};
	u16 protocol = 0;
	struct sock *sk;
	if (uaddr) {
		if (!user_sockaddr(uaddr, &peer) || peer.port != 53)
			return;
		sk = sock_of_fd(fd);
		if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
			return;
	} else {
		sk = sock_of_fd(fd);
		if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
			return;
		if (!sock_addrs(sk, &local, &peer, &protocol) || peer.port != 53)
			return;
	}
	struct scratch *s = scratch_get();
	if (!s)
		return;
	struct oisp_dns *r = (struct oisp_dns *)s->buf;
	u64 n = bounded(len, OISP_DNS_PAYLOAD_MAX);
	if (bpf_probe_read_user(s->buf + sizeof(*r), n, payload))
		n = 0;
	fill_hdr(&r->hdr, pid_tgid, OISP_REC_DNS, 0, n);
	r->fd = fd;
	r->full_len = len;
	r->peer = peer;
	r->_pad = 0;
	scratch_emit(s, sizeof(*r) + n);
}

/* The destination and first buffer of a user msghdr. */
static __always_inline void dns_check_msghdr(u64 pid_tgid, long fd, const struct user_msghdr *um)
{
	struct user_msghdr m = {};
	if (bpf_probe_read_user(&m, sizeof(m), um) || !m.msg_iov || m.msg_iovlen < 1)
		return;
	struct iovec iov = {};
	if (bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov))
		return;
	dns_check(pid_tgid, fd, m.msg_name, iov.iov_base, iov.iov_len);
}

/* sendto(fd, buff, len, flags, addr, addr_len) */
SEC("tracepoint/syscalls/sys_enter_sendto")
int oisp_sendto(struct trace_event_raw_sys_enter *ctx)
{
	long fd = (int)ctx->args[0];
	tls_bind_from_syscall(fd, true);
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (net_activity_wanted(pid_tgid >> 32))
		dns_check(pid_tgid, fd, (const void *)ctx->args[4], (const void *)ctx->args[1],
			  ctx->args[2]);
	return 0;
}

/* sendmsg(fd, msg, flags) */
SEC("tracepoint/syscalls/sys_enter_sendmsg")
int oisp_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	long fd = (int)ctx->args[0];
	tls_bind_from_syscall(fd, true);
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (net_activity_wanted(pid_tgid >> 32))
		dns_check_msghdr(pid_tgid, fd, (const struct user_msghdr *)ctx->args[1]);
	return 0;
}

/* sendmmsg(fd, mmsg, vlen, flags): the first message (glibc sends the A and
 * AAAA questions for one name together). */
SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int oisp_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (ctx->args[2] < 1 || !net_activity_wanted(pid_tgid >> 32))
		return 0;
	dns_check_msghdr(pid_tgid, (int)ctx->args[0], (const struct user_msghdr *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int oisp_writev(struct trace_event_raw_sys_enter *ctx)
{
	tls_bind_from_syscall((int)ctx->args[0], true);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_readv")
int oisp_readv(struct trace_event_raw_sys_enter *ctx)
{
	tls_bind_from_syscall((int)ctx->args[0], false);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int oisp_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	tls_bind_from_syscall((int)ctx->args[0], false);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int oisp_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	tls_bind_from_syscall((int)ctx->args[0], false);
	return 0;
}

#endif /* OISPD_NET_BPF_H */
