/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * aead.bpf.h: plaintext capture at aws-lc's AEAD functions, where rustls
 * with the aws-lc-rs provider (Codex CLI, Copilot CLI's runtime) seals and
 * opens every TLS record. No SSL_* API exists there, so the programs sit one
 * layer lower, on aws-lc's stable C ABI (receiver/src/ebpf/aead_probes.rs
 * places them):
 *
 *   EVP_AEAD_CTX_seal          entry            (TLS 1.3 writes, TLS 1.2 ChaCha20)
 *   EVP_AEAD_CTX_seal_scatter  entry            (TLS 1.2 AES-GCM writes)
 *   EVP_AEAD_CTX_open          entry + return   (every read)
 *
 *   int EVP_AEAD_CTX_seal/open(const EVP_AEAD_CTX *ctx, uint8_t *out,
 *       size_t *out_len, size_t max_out_len, const uint8_t *nonce,
 *       size_t nonce_len, const uint8_t *in, size_t in_len,
 *       const uint8_t *ad, size_t ad_len);
 *   int EVP_AEAD_CTX_seal_scatter(ctx, out, out_tag, out_tag_len,
 *       max_out_tag_len, nonce, nonce_len, in, in_len, extra_in,
 *       extra_in_len, ad, ad_len);
 *
 * The first six arguments are in registers, the rest on the stack above the
 * return address (seal/open: in, in_len, ad, ad_len at sp+8..sp+32;
 * seal_scatter: in, in_len at sp+16/24, ad, ad_len at sp+48/56).
 *
 * One call is one TLS record, and its additional data (AD) is the record
 * header, so every call is checked before anything is reserved or sent:
 * TLS 1.3: ad_len 5, `17 03 03 LL LL` with LL = in_len + 16 (seal: in is
 * the plaintext) or in_len (open: in is ciphertext + tag); TLS 1.2: ad_len
 * 13, seq(8) type(1) `03 03` len(2) with len = in_len (seal) or in_len - 16
 * (open); a record length within TLS's bounds. Any other call (QUIC, other
 * AEAD users, a probe on the wrong function) is counted in
 * OISP_DROP_AEAD_SHAPE and ignored. TLS 1.2 records other than application
 * data (type byte 0x17) are ignored without counting; TLS 1.3 hides the
 * type inside the plaintext, so user space drops its handshake records.
 *
 * The record goes out through tls_emit (size classes, gap accounting), with
 * conn = the EVP_AEAD_CTX *, which stands for one connection and direction
 * (and one key: the handshake keys and each KeyUpdate make a new context):
 * seal at entry, where the plaintext is complete; open at return, only when
 * it returns 1 (the tag authenticated), *out_len bytes of out.
 *
 * Binding a context to its socket, as measured on tokio-rustls (and so
 * Codex): a sealed record is written by the thread's next socket write (the
 * memory-BIO rule of tls.bpf.h, OISP_F_INFERRED); an opened record was read
 * by the thread's last read-type socket syscall, which the read tracepoints
 * note per thread for processes flagged OISP_PID_AEAD (set here at a
 * process's first TLS record). Contexts live in heap memory whose addresses
 * are reused, so the binding is checked on every record: an open compares
 * the last read's fd with the bound one, a seal makes the next socket write
 * compare; a TLS_BIND (flag OISP_F_AEAD) goes out only when it differs. User
 * space pairs a connection's two contexts by that socket.
 */
#ifndef OISPD_AEAD_BPF_H
#define OISPD_AEAD_BPF_H

#include "common.bpf.h"
#include "tls.bpf.h"

/* TLS limits: a TLS 1.3 inner plaintext is at most 2^14 + 1 bytes plus
 * padding up to 2^14 + 256 in all; the AEAD tag of aws-lc's TLS ciphers is
 * 16 bytes. */
#define AEAD_TAG_LEN 16
#define TLS_MAX_INNER_PLAINTEXT (16384 + 256)
#define TLS_APPLICATION_DATA 0x17

/* What an AEAD call's arguments say. */
enum aead_shape {
	AEAD_NOT_TLS = 0,  /* not a TLS record (counted) */
	AEAD_NOT_DATA = 1, /* a TLS 1.2 record that is not application data */
	AEAD_TLS13 = 2,
	AEAD_TLS12 = 3,
};

/* Checks the additional data of a seal (open = false) or open call of
 * `in_len` input bytes against a TLS record header; *plain_len gets the
 * record's plaintext bytes. */
static __always_inline enum aead_shape aead_record_shape(u64 ad, u64 ad_len, u64 in_len,
							 bool open, u64 *plain_len)
{
	u64 plain = in_len;
	if (open) {
		if (in_len < AEAD_TAG_LEN)
			return AEAD_NOT_TLS;
		plain = in_len - AEAD_TAG_LEN;
	}
	if (plain > TLS_MAX_INNER_PLAINTEXT)
		return AEAD_NOT_TLS;
	*plain_len = plain;
	u8 h[13] = {};
	if (ad_len == 5) {
		if (bpf_probe_read_user(h, 5, (const void *)ad))
			return AEAD_NOT_TLS;
		u64 len = (u64)h[3] << 8 | h[4];
		if (h[0] != TLS_APPLICATION_DATA || h[1] != 3 || h[2] != 3 ||
		    len != plain + AEAD_TAG_LEN || plain == 0)
			return AEAD_NOT_TLS;
		return AEAD_TLS13;
	}
	if (ad_len == 13) {
		if (bpf_probe_read_user(h, 13, (const void *)ad))
			return AEAD_NOT_TLS;
		u64 len = (u64)h[11] << 8 | h[12];
		if (h[9] != 3 || h[10] != 3 || len != plain)
			return AEAD_NOT_TLS;
		return h[8] == TLS_APPLICATION_DATA ? AEAD_TLS12 : AEAD_NOT_DATA;
	}
	return AEAD_NOT_TLS;
}

/* The common checks of every AEAD probe: the process is captured and the
 * call is a TLS record's. Flags the process OISP_PID_AEAD at its first
 * record, so its threads' reads are noted from then on. */
static __always_inline enum aead_shape aead_admit(u64 pid_tgid, u64 ad, u64 ad_len, u64 in_len,
						  bool open, u64 *plain_len)
{
	u32 tgid = pid_tgid >> 32;
	if (ignored_tgid(tgid))
		return AEAD_NOT_DATA;
	u32 flags = pid_flags_of(tgid);
	if (flags & OISP_PID_SKIP)
		return AEAD_NOT_DATA;
	enum aead_shape shape = aead_record_shape(ad, ad_len, in_len, open, plain_len);
	if (shape == AEAD_NOT_TLS) {
		count_drop(OISP_DROP_AEAD_SHAPE, 1);
		return shape;
	}
	if (!(flags & OISP_PID_AEAD)) {
		u32 marked = flags | OISP_PID_AEAD;
		bpf_map_update_elem(&pid_flags, &tgid, &marked, BPF_ANY);
	}
	if (!aead_in_use)
		aead_in_use = 1;
	return shape;
}

/* The thread's slot, created when missing (NULL, counted, when the map is full). */
static __always_inline struct ssl_call *aead_thread_slot(u64 pid_tgid)
{
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
	if (c)
		return c;
	struct ssl_call fresh = { .last_read_fd = -1 };
	if (bpf_map_update_elem(&ssl_calls, &pid_tgid, &fresh, BPF_NOEXIST))
		count_drop(OISP_DROP_CALL_MAP_FULL, 1);
	return bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
}

/* The state of the connection (tgid, conn), created unbound when missing. */
static __always_inline struct conn_state *conn_state_of(u64 pid_tgid, u64 conn)
{
	struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = conn };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
	if (st)
		return st;
	struct conn_state fresh = { .fd = -1 };
	bpf_map_update_elem(&conns, &key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&conns, &key);
}

/* A seal of one record: emit its plaintext now, and leave the context to
 * the thread's next socket write (bind, or check the binding). */
static __always_inline int aead_seal(u64 actx, u64 in, u64 in_len, u64 ad, u64 ad_len)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u64 plain_len = 0;
	enum aead_shape shape = aead_admit(pid_tgid, ad, ad_len, in_len, false, &plain_len);
	if (shape != AEAD_TLS13 && shape != AEAD_TLS12)
		return 0;
	struct ssl_call *c = aead_thread_slot(pid_tgid);
	if (!c)
		return 0;
	struct conn_state *st = conn_state_of(pid_tgid, actx);
	if (!st)
		return 0;
	c->ssl = actx;
	c->buf = in;
	c->in_call = 0;
	c->write = 1;
	c->ex = 0;
	c->aead = 1;
	c->tls12 = shape == AEAD_TLS12;
	c->need_bind = st->fd < 0;
	tls_emit(pid_tgid, c, st, plain_len);
	c->pending_ssl = actx;
	c->pending_check = !c->need_bind;
	return 0;
}

/* EVP_AEAD_CTX_seal: in, in_len, ad, ad_len on the stack (sp+8..sp+32). */
SEC("uprobe")
int BPF_KPROBE(aead_seal_enter, void *actx)
{
	u64 args[4] = {};
	if (bpf_probe_read_user(args, sizeof(args), (const void *)(PT_REGS_SP(ctx) + 8)))
		return 0;
	return aead_seal((u64)actx, args[0], args[1], args[2], args[3]);
}

/* EVP_AEAD_CTX_seal_scatter: in, in_len, extra_in, extra_in_len, ad, ad_len
 * on the stack (sp+16..sp+56); extra_in is not used by rustls. */
SEC("uprobe")
int BPF_KPROBE(aead_seal_scatter_enter, void *actx)
{
	u64 args[6] = {};
	if (bpf_probe_read_user(args, sizeof(args), (const void *)(PT_REGS_SP(ctx) + 16)))
		return 0;
	return aead_seal((u64)actx, args[0], args[1], args[4], args[5]);
}

/* EVP_AEAD_CTX_open entry: check the record, bind the context to the
 * thread's last read when that differs from its binding, and keep where
 * the plaintext will be for the return. */
SEC("uprobe")
int BPF_KPROBE(aead_open_enter, void *actx, void *out, void *out_len)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u64 args[4] = {};
	if (bpf_probe_read_user(args, sizeof(args), (const void *)(PT_REGS_SP(ctx) + 8)))
		return 0;
	u64 plain_len = 0;
	enum aead_shape shape = aead_admit(pid_tgid, args[2], args[3], args[1], true, &plain_len);
	struct ssl_call *c;
	if (shape != AEAD_TLS13 && shape != AEAD_TLS12) {
		c = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
		if (c && c->aead)
			c->in_call = 0;
		return 0;
	}
	c = aead_thread_slot(pid_tgid);
	if (!c)
		return 0;
	c->ssl = (u64)actx;
	c->buf = (u64)out;
	c->len_ptr = (u64)out_len;
	c->open_len = plain_len;
	c->in_call = 1;
	c->write = 0;
	c->ex = 0;
	c->need_bind = 0;
	c->aead = 1;
	c->tls12 = shape == AEAD_TLS12;

	s32 fd = c->last_read_fd;
	if (fd < 0)
		return 0;
	struct conn_key key = { .tgid = pid_tgid >> 32, .ssl = (u64)actx };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);
	if (st && st->fd == fd)
		return 0;
	tls_bind(pid_tgid, (u64)actx, fd, OISP_F_AEAD, BIND_AEAD_READ);
	return 0;
}

/* EVP_AEAD_CTX_open return: 1 when the record authenticated; its plaintext
 * is out[0..*out_len]. */
SEC("uretprobe")
int BPF_KRETPROBE(aead_open_ret, int ret)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &pid_tgid);
	if (!c || !c->in_call || !c->aead)
		return 0;
	u64 len = 0;
	if (ret == 1 && c->len_ptr)
		bpf_probe_read_user(&len, sizeof(len), (const void *)c->len_ptr);
	if (len > c->open_len)
		len = c->open_len;
	ssl_finish(pid_tgid, c, len);
	return 0;
}

#endif /* OISPD_AEAD_BPF_H */
