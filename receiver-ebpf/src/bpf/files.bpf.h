/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * files.bpf.h: file activity of the processes activity_mode selects
 * (file_activity_wanted): openat at its return with the path as passed, and
 * write(2) calls on regular files. Every write syscall also gives the TLS
 * side its chance to bind a socket (tls_bind_from_syscall).
 */
#ifndef OISPD_FILES_BPF_H
#define OISPD_FILES_BPF_H

#include "common.bpf.h"
#include "tls.bpf.h"
#include "net.bpf.h"

/* openat(dfd, filename, flags, mode) */
SEC("tracepoint/syscalls/sys_enter_openat")
int oisp_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!file_activity_wanted(pid_tgid >> 32))
		return 0;
	struct sys_args a = {
		.kind = SYS_OPENAT,
		.fd = (int)ctx->args[0],
		.ptr = ctx->args[1],
		.flags = (int)ctx->args[2],
		.mode = (u32)ctx->args[3],
	};
	bpf_map_update_elem(&sys_args, &pid_tgid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int oisp_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args a;
	if (!sys_args_take(pid_tgid, SYS_OPENAT, &a))
		return 0;
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct oisp_file_open *r = (struct oisp_file_open *)s->buf;
	long n = bpf_probe_read_user_str(s->buf + sizeof(*r), OISP_PATH_MAX, (const void *)a.ptr);
	u32 path_len = n > 1 ? (u32)n - 1 : 0;
	if (path_len > OISP_PATH_MAX)
		path_len = OISP_PATH_MAX;
	fill_hdr(&r->hdr, pid_tgid, OISP_REC_FILE_OPEN, 0, path_len);
	r->dfd = a.fd;
	r->ret = ctx->ret;
	r->flags = a.flags;
	r->mode = a.mode;
	scratch_emit(s, sizeof(*r) + path_len);
	return 0;
}

/* write(fd, buf, count) */
SEC("tracepoint/syscalls/sys_enter_write")
int oisp_write(struct trace_event_raw_sys_enter *ctx)
{
	long fd = (int)ctx->args[0];
	tls_bind_from_syscall(fd, true);
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!file_activity_wanted(pid_tgid >> 32))
		return 0;
	struct file *f = file_of_fd(fd);
	if (!f || (file_mode(f) & S_IFMT) != S_IFREG)
		return 0;
	struct oisp_file_write r = { .fd = fd, .count = ctx->args[2] };
	fill_hdr(&r.hdr, pid_tgid, OISP_REC_FILE_WRITE, 0, 0);
	emit_fixed(&r, sizeof(r));
	return 0;
}

#endif /* OISPD_FILES_BPF_H */
