/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * process.bpf.h: process lifecycle. exec (with argv, read from the new mm
 * while it is certainly there), exit of the last thread of a process, fork
 * of a new process (threads are skipped), and executable file mappings that
 * user space has not examined yet (how it finds libssl copies and static
 * OpenSSL executables that appear after start-up). Always attached: user
 * space needs them whatever the activity setting.
 */
#ifndef OISPD_PROCESS_BPF_H
#define OISPD_PROCESS_BPF_H

#include "common.bpf.h"
#include "net.bpf.h"

SEC("tracepoint/sched/sched_process_exec")
int oisp_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (ignored_tgid(pid_tgid >> 32))
		return 0;
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct oisp_exec *r = (struct oisp_exec *)s->buf;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u64 ug = bpf_get_current_uid_gid();

	r->ppid = BPF_CORE_READ(task, real_parent, tgid);
	r->old_tid = ctx->old_pid;
	r->uid = (u32)ug;
	r->gid = ug >> 32;
	r->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(r->comm, sizeof(r->comm));

	u8 *filename = s->buf + sizeof(*r);
	u32 loc = ctx->__data_loc_filename;
	long flen = bpf_probe_read_kernel_str(filename, OISP_EXEC_FILENAME_MAX,
					      (void *)ctx + (loc & 0xffff));
	if (flen < 1)
		flen = 1;
	/* drop the NUL */
	u64 fname_len = bounded(flen - 1, OISP_EXEC_FILENAME_MAX);

	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	u64 args_len = arg_end > arg_start ? arg_end - arg_start : 0;
	r->args_truncated = 0;
	if (args_len > OISP_EXEC_ARGS_MAX) {
		args_len = OISP_EXEC_ARGS_MAX;
		r->args_truncated = 1;
	}
	args_len = bounded(args_len, OISP_EXEC_ARGS_MAX);
	u8 *args = filename + fname_len;
	if (args_len && bpf_probe_read_user(args, args_len, (const void *)arg_start))
		args_len = 0;

	r->filename_len = fname_len;
	r->args_len = args_len;
	fill_hdr(&r->hdr, pid_tgid, OISP_REC_EXEC, 0, fname_len + args_len);
	scratch_emit(s, sizeof(*r) + fname_len + args_len);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int oisp_exit(void *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u32 tgid = pid_tgid >> 32;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	/* signal->live dropped to 0 before the tracepoint: the group is dead. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	bpf_map_delete_elem(&pid_flags, &tgid);
	if (ignored_tgid(tgid))
		return 0;
	struct oisp_exit r = {};
	fill_hdr(&r.hdr, pid_tgid, OISP_REC_EXIT, 0, 0);
	r.exit_status = BPF_CORE_READ(task, exit_code);
	bpf_get_current_comm(r.comm, sizeof(r.comm));
	emit_fixed(&r, sizeof(r));
	return 0;
}

/* raw tracepoint: args are (struct task_struct *parent, struct task_struct *child). */
SEC("raw_tracepoint/sched_process_fork")
int oisp_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	u32 ptgid = BPF_CORE_READ(parent, tgid);
	u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid || ignored_tgid(ptgid))
		return 0;
	u32 *flags = bpf_map_lookup_elem(&pid_flags, &ptgid);
	if (flags) {
		u32 inherited = *flags;
		bpf_map_update_elem(&pid_flags, &ctgid, &inherited, BPF_ANY);
	}
	struct oisp_fork r = { .child_pid = ctgid };
	fill_hdr(&r.hdr, bpf_get_current_pid_tgid(), OISP_REC_FORK, 0, 0);
	r.hdr.pid = ptgid;
	emit_fixed(&r, sizeof(r));
	return 0;
}

/* mmap(addr, len, prot, flags, fd, off) with PROT_EXEC of an unseen file:
 * remember the file until the call returns. */
SEC("tracepoint/syscalls/sys_enter_mmap")
int oisp_mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!(ctx->args[2] & PROT_EXEC))
		return 0;
	long fd = (int)ctx->args[4];
	if (fd < 0)
		return 0;
	u64 pid_tgid = bpf_get_current_pid_tgid();
	if (ignored_tgid(pid_tgid >> 32))
		return 0;
	struct file *f = file_of_fd(fd);
	if (!f)
		return 0;
	struct oisp_file_key key = {
		.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev),
		.ino = BPF_CORE_READ(f, f_inode, i_ino),
	};
	if (bpf_map_lookup_elem(&seen_files, &key))
		return 0;
	struct sys_args a = { .kind = SYS_MMAP, .fd = fd, .ptr = key.dev, .aux = key.ino };
	bpf_map_update_elem(&sys_args, &pid_tgid, &a, BPF_ANY);
	return 0;
}

/* The mapping exists once mmap returns: now user space can find it. */
SEC("tracepoint/syscalls/sys_exit_mmap")
int oisp_mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct sys_args a;
	if (!sys_args_take(pid_tgid, SYS_MMAP, &a))
		return 0;
	/* MAP_FAILED: -4095..-1 */
	if ((unsigned long)ctx->ret >= (unsigned long)-4095)
		return 0;
	struct oisp_exec_map r = { .dev = a.ptr, .ino = a.aux };
	fill_hdr(&r.hdr, pid_tgid, OISP_REC_EXEC_MAP, 0, 0);
	emit_fixed(&r, sizeof(r));
	return 0;
}

#endif /* OISPD_PROCESS_BPF_H */
