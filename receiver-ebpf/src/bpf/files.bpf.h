/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * files.bpf.h: file activity of the processes activity_mode selects
 * (file_activity_wanted): openat at its return with the path as passed;
 * write(2) calls on regular files; read(2) calls on regular files at their
 * return with the bytes read (one record per call: user space merges a
 * file's reads into one file.read); successful unlink/unlinkat and
 * rename/renameat/renameat2 with the paths as passed. Every read and write
 * syscall also gives the TLS side its chance to bind a socket
 * (tls_bind_from_syscall).
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

/* read(fd, buf, count): enter keeps a wanted regular file's position and
 * size, exit reports the bytes read. */
SEC("tracepoint/syscalls/sys_enter_read")
int oisp_read(struct trace_event_raw_sys_enter *ctx)
{
	long fd = (int)ctx->args[0];
	tls_bind_from_syscall(fd, false);
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!file_activity_wanted(pid_tgid >> 32))
		return 0;
	struct file *f = file_of_fd(fd);
	if (!f)
		return 0;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	if (!inode || (BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFREG)
		return 0;
	struct sys_args a = {
		.kind = SYS_READ,
		.fd = fd,
		.ptr = BPF_CORE_READ(f, f_pos),
		.aux = BPF_CORE_READ(inode, i_size),
	};
	bpf_map_update_elem(&sys_args, &pid_tgid, &a, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int oisp_read_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args a;
	if (!sys_args_take(pid_tgid, SYS_READ, &a) || ctx->ret <= 0)
		return 0;
	struct oisp_file_read r = {
		.fd = a.fd,
		.bytes = ctx->ret,
		.offset = a.ptr,
		.size = a.aux,
	};
	fill_hdr(&r.hdr, pid_tgid, OISP_REC_FILE_READ, 0, 0);
	emit_fixed(&r, sizeof(r));
	return 0;
}

/* unlink(pathname) and unlinkat(dfd, pathname, flag) */
static __always_inline int unlink_enter(long dfd, u64 path, long flags)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!file_activity_wanted(pid_tgid >> 32))
		return 0;
	struct sys_args a = { .kind = SYS_UNLINK, .fd = dfd, .ptr = path, .flags = flags };
	bpf_map_update_elem(&sys_args, &pid_tgid, &a, BPF_ANY);
	return 0;
}

static __always_inline int unlink_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args a;
	if (!sys_args_take(pid_tgid, SYS_UNLINK, &a) || ctx->ret != 0)
		return 0;
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct oisp_file_delete *r = (struct oisp_file_delete *)s->buf;
	long n = bpf_probe_read_user_str(s->buf + sizeof(*r), OISP_PATH_MAX, (const void *)a.ptr);
	u32 path_len = n > 1 ? (u32)n - 1 : 0;
	if (path_len > OISP_PATH_MAX)
		path_len = OISP_PATH_MAX;
	fill_hdr(&r->hdr, pid_tgid, OISP_REC_FILE_DELETE, 0, path_len);
	r->dfd = a.fd;
	r->flags = a.flags;
	scratch_emit(s, sizeof(*r) + path_len);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int oisp_unlink_enter(struct trace_event_raw_sys_enter *ctx)
{
	return unlink_enter(AT_FDCWD, ctx->args[0], 0);
}

SEC("tracepoint/syscalls/sys_exit_unlink")
int oisp_unlink_exit(struct trace_event_raw_sys_exit *ctx)
{
	return unlink_exit(ctx);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int oisp_unlinkat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return unlink_enter((int)ctx->args[0], ctx->args[1], (int)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_unlinkat")
int oisp_unlinkat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return unlink_exit(ctx);
}

/* rename(old, new), renameat(olddfd, old, newdfd, new) and
 * renameat2(olddfd, old, newdfd, new, flags). The saved arguments: fd and
 * ptr the old side, flags and aux the new side, mode the flags. */
static __always_inline int rename_enter(long old_dfd, u64 old_path, long new_dfd, u64 new_path,
					u32 flags)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!file_activity_wanted(pid_tgid >> 32))
		return 0;
	struct sys_args a = {
		.kind = SYS_RENAME,
		.fd = old_dfd,
		.ptr = old_path,
		.flags = new_dfd,
		.aux = new_path,
		.mode = flags,
	};
	bpf_map_update_elem(&sys_args, &pid_tgid, &a, BPF_ANY);
	return 0;
}

static __always_inline int rename_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args a;
	if (!sys_args_take(pid_tgid, SYS_RENAME, &a) || ctx->ret != 0)
		return 0;
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct oisp_file_rename *r = (struct oisp_file_rename *)s->buf;
	long n = bpf_probe_read_user_str(s->buf + sizeof(*r), OISP_PATH_MAX, (const void *)a.ptr);
	/* the new path overwrites the old one's NUL */
	u64 old_len = bounded(n > 1 ? n - 1 : 0, OISP_PATH_MAX - 1);
	n = bpf_probe_read_user_str(s->buf + sizeof(*r) + old_len, OISP_PATH_MAX,
				    (const void *)a.aux);
	u64 new_len = bounded(n > 1 ? n - 1 : 0, OISP_PATH_MAX - 1);
	fill_hdr(&r->hdr, pid_tgid, OISP_REC_FILE_RENAME, 0, old_len + new_len);
	r->old_dfd = a.fd;
	r->new_dfd = a.flags;
	r->flags = a.mode;
	r->old_len = old_len;
	r->_pad = 0;
	scratch_emit(s, sizeof(*r) + old_len + new_len);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_rename")
int oisp_rename_enter(struct trace_event_raw_sys_enter *ctx)
{
	return rename_enter(AT_FDCWD, ctx->args[0], AT_FDCWD, ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_rename")
int oisp_rename_exit(struct trace_event_raw_sys_exit *ctx)
{
	return rename_exit(ctx);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int oisp_renameat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return rename_enter((int)ctx->args[0], ctx->args[1], (int)ctx->args[2], ctx->args[3], 0);
}

SEC("tracepoint/syscalls/sys_exit_renameat")
int oisp_renameat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return rename_exit(ctx);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int oisp_renameat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	return rename_enter((int)ctx->args[0], ctx->args[1], (int)ctx->args[2], ctx->args[3],
			    (u32)ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_exit_renameat2")
int oisp_renameat2_exit(struct trace_event_raw_sys_exit *ctx)
{
	return rename_exit(ctx);
}

#endif /* OISPD_FILES_BPF_H */
