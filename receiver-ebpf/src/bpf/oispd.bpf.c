// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * oispd.bpf.c: the one eBPF object oispd loads. The programs live in the
 * headers by concern: tls.bpf.h (SSL_* uprobes), aead.bpf.h (aws-lc AEAD
 * uprobes: rustls with aws-lc-rs), process.bpf.h (exec, exit,
 * fork, executable mappings), net.bpf.h (connect, accept, DNS, socket
 * syscalls that tie SSL* to sockets), files.bpf.h (openat, read, write,
 * unlink, rename). The record layout is records.h.
 *
 * Build (receiver-ebpf/build.rs):
 *   clang -O2 -g -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -c oispd.bpf.c
 */
#include "common.bpf.h"
#include "tls.bpf.h"
#include "aead.bpf.h"
#include "net.bpf.h"
#include "process.bpf.h"
#include "files.bpf.h"

/* bpf_probe_read_user and friends are GPL-only helpers. */
char LICENSE[] SEC("license") = "GPL";

/* BTF anchors: every record type and constant set appears in the object's BTF, where the
 * layout test (receiver-ebpf/tests/layout.rs) compares it with the Rust
 * mirror. Read-only pointers that join the knobs in .rodata; never used. */
#define LAYOUT_ANCHOR(type) const volatile struct type *const layout_anchor_##type __attribute__((used)) = 0;
LAYOUT_ANCHOR(oisp_hdr)
LAYOUT_ANCHOR(oisp_addr)
LAYOUT_ANCHOR(oisp_tls_data)
LAYOUT_ANCHOR(oisp_tls_bind)
LAYOUT_ANCHOR(oisp_tls_free)
LAYOUT_ANCHOR(oisp_exec)
LAYOUT_ANCHOR(oisp_exit)
LAYOUT_ANCHOR(oisp_fork)
LAYOUT_ANCHOR(oisp_connect)
LAYOUT_ANCHOR(oisp_accept)
LAYOUT_ANCHOR(oisp_dns)
LAYOUT_ANCHOR(oisp_file_open)
LAYOUT_ANCHOR(oisp_file_write)
LAYOUT_ANCHOR(oisp_file_read)
LAYOUT_ANCHOR(oisp_file_delete)
LAYOUT_ANCHOR(oisp_file_rename)
LAYOUT_ANCHOR(oisp_exec_map)
LAYOUT_ANCHOR(oisp_file_key)
#define ENUM_ANCHOR(type) const volatile enum type layout_anchor_##type __attribute__((used)) = 0;
ENUM_ANCHOR(oisp_limits)
ENUM_ANCHOR(oisp_record_kind)
ENUM_ANCHOR(oisp_record_flags)
ENUM_ANCHOR(oisp_drop_counter)
ENUM_ANCHOR(oisp_pid_flags)
ENUM_ANCHOR(oisp_activity_mode)
