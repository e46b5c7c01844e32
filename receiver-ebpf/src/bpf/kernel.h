/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * kernel.h: the few kernel types oispd's eBPF programs touch, declared by
 * hand instead of a generated 2.8 MB vmlinux.h.
 *
 * Every kernel struct carries preserve_access_index, so each field access is
 * a CO-RE relocation that the loader (aya) resolves by field name against the
 * running kernel's BTF (/sys/kernel/btf/vmlinux): the local layout below is
 * only a list of names and types, never trusted for offsets. Fields that live
 * in anonymous unions/structs in the kernel are declared flat; the relocation
 * finds them by name. Tracepoint context layouts are stable ABI
 * (/sys/kernel/tracing/events/.../format) and are declared without CO-RE.
 */
#ifndef OISPD_KERNEL_H
#define OISPD_KERNEL_H

/* bpf_tracing.h: use the kernel's pt_regs field names (di, si, ...). */
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

/* The UAPI constants used (include/uapi/linux/bpf.h). */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

/* Ring buffer submit flags and query. */
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
};

/* x86-64 kernel register frame: the context of uprobes and uretprobes. */
struct pt_regs {
	unsigned long r15;
	unsigned long r14;
	unsigned long r13;
	unsigned long r12;
	unsigned long bp;
	unsigned long bx;
	unsigned long r11;
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long ax;
	unsigned long cx;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
	unsigned long ip;
	unsigned long cs;
	unsigned long flags;
	unsigned long sp;
	unsigned long ss;
};

/* Tracepoint contexts (stable format files). */
struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

/* Every syscalls:sys_enter_* tracepoint. */
struct trace_event_raw_sys_enter {
	struct trace_entry ent;
	long id;
	unsigned long args[6];
};

/* Every syscalls:sys_exit_* tracepoint. */
struct trace_event_raw_sys_exit {
	struct trace_entry ent;
	long id;
	long ret;
};

/* sched:sched_process_exec */
struct trace_event_raw_sched_process_exec {
	struct trace_entry ent;
	u32 __data_loc_filename;
	int pid;
	int old_pid;
};

/* sched:sched_process_exit */
struct trace_event_raw_sched_process_exit {
	struct trace_entry ent;
	char comm[16];
	int pid;
	int prio;
	bool group_dead;
};

/* Raw tracepoints get the tracepoint's C arguments. */
struct bpf_raw_tracepoint_args {
	u64 args[0];
};

/* CO-RE relocated kernel structs: names only, offsets come from kernel BTF. */
#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
	u8 s6_addr[16];
};

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	u16 sk_protocol;
	u16 sk_type;
};

struct socket {
	struct sock *sk;
};

struct super_block {
	unsigned int s_dev;
};

struct inode {
	unsigned short i_mode;
	struct super_block *i_sb;
	unsigned long i_ino;
	long long i_size;
};

struct file {
	void *private_data;
	struct inode *f_inode;
	long long f_pos;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
};

typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live;
};

struct task_struct {
	int pid;
	int tgid;
	int exit_code;
	struct task_struct *real_parent;
	struct files_struct *files;
	struct mm_struct *mm;
	struct signal_struct *signal;
};

#pragma clang attribute pop

/* User-space structs read with bpf_probe_read_user (stable UAPI layouts). */
struct iovec {
	void *iov_base;
	unsigned long iov_len;
};

struct user_msghdr {
	void *msg_name;
	int msg_namelen;
	struct iovec *msg_iov;
	unsigned long msg_iovlen;
	void *msg_control;
	unsigned long msg_controllen;
	unsigned int msg_flags;
};

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define PROT_EXEC 0x4
#define AT_FDCWD -100

#endif /* OISPD_KERNEL_H */
